//! Why a Monte Carlo run or a sweep could not be done.

use crate::workload::ScenarioError;

/// What stopped [`super::montecarlo::run_all`] or a sweep ([`super::sweep`]) before or while it
/// ran. `Display` is the message a user reads; the sweep's parameter errors name `--param` as
/// the command line gives it.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// [`super::montecarlo::run_all`] asked for 0 runs.
    #[error("runs must be at least 1")]
    NoRuns,
    /// The worker threads could not be started.
    #[error("cannot start {threads} threads: {source}")]
    ThreadPool {
        threads: usize,
        source: rayon::ThreadPoolBuildError,
    },
    /// A parameter to sweep named by a field that several key groups have
    /// ([`super::sweep::resolve`]); `paths` are the full paths to choose from.
    #[error(
        "--param '{key}' is ambiguous: the scenario has {} key groups; name one: {}",
        .paths.len(),
        .paths.join(", ")
    )]
    AmbiguousParam { key: String, paths: Vec<String> },
    /// A parameter to sweep that the scenario does not have ([`super::sweep::resolve`]);
    /// `paths` are every sweepable full path of the scenario.
    #[error(
        "--param '{key}' is not a parameter of this scenario; sweepable: {} (or a full path: {})",
        super::sweep::short_names().join(", "),
        .paths.join(", ")
    )]
    UnknownParam { key: String, paths: Vec<String> },
    /// The scenario with the swept parameter set to `value` is not a valid scenario
    /// ([`super::sweep::load_points`]): every problem, each on its line, after a line naming the
    /// point.
    #[error("with {param} = {value}:\n{source}")]
    BadPoint {
        /// The parameter's full path.
        param: String,
        value: f64,
        source: ScenarioError,
    },
    /// [`super::montecarlo::summarise_all`] given another number of runs than the scenario's
    /// jobs.
    #[error("{got} runs given for {expected} jobs")]
    JobCount { expected: u64, got: u64 },
    /// [`super::sweep::sweep`] given no point to run.
    #[error("a sweep needs at least one value")]
    NoPoints,
}
