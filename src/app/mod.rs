//! The commands, as a library: one module per command, each with an options struct (which the
//! command line parses with clap; a library caller fills it in), a function that does the work
//! and a typed outcome whose `text()` is what the command prints. Everything a command writes
//! to disk is staged and moved into place together ([`crate::report::Staging`]).
//!
//! The top layer of the library: it uses every module below it and nothing uses it but the
//! command line ([`crate::cli`]), which maps outcomes and [`AppError`]s to output and exit codes.
pub mod bench;
pub mod calibrate;
pub mod check;
pub mod estimate;
pub mod explain;
pub mod generate;
pub mod import;
pub mod merge;
pub mod progress;
pub mod report;
pub mod run;
pub mod shard;
pub mod sweep;
pub mod validate;

use std::path::{Path, PathBuf};

use clap::Args;

use crate::jemalloc::AllocError;
use crate::redis::server::ServerError;
use crate::redis::ProfileError;
use crate::report::output::CommitError;
use crate::report::Staging;
use crate::sim::SimError;
use crate::validate::bench::BenchError;
use crate::validate::live_redis::LiveError;
use crate::workload::{ScenarioError, ScenarioFile};

pub use progress::{Progress, Quiet, TerminalProgress};

/// Why a command could not do its job. `Display` is the message, one problem per line, naming
/// the file, argument or server it is about and what to do.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An argument the command cannot use, named as it was given.
    #[error("{0}")]
    Usage(String),
    /// A scenario file that cannot be read, or is invalid (every problem, each on its line).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A Redis profile named on the command line that cannot be loaded, or that has no baseline
    /// of the scenario's server state; the message starts with `flag` (`--profile: ...`) when
    /// there is one.
    #[error("{}{source}", .flag.map(|f| format!("{f}: ")).unwrap_or_default())]
    Profile {
        /// The argument that named the profile, when the message names it.
        flag: Option<&'static str>,
        source: ProfileError,
    },
    /// The work would take more memory or time than this machine allows without `--force`.
    #[error("{0}")]
    TooBig(String),
    /// The Monte Carlo runs or a sweep could not be done: the worker threads did not start, or
    /// a sweep point is not a valid scenario.
    #[error(transparent)]
    Model(#[from] SimError),
    /// The Redis model refused: a key to explain that Redis would not store or that is too wide
    /// to simulate, or a profile whose allocator the model does not have.
    #[error(transparent)]
    Redis(#[from] ServerError),
    /// The allocator model refused a request to explain: larger than jemalloc's largest size
    /// class.
    #[error(transparent)]
    Allocator(#[from] AllocError),
    /// `bench` could not measure the simulator's memory per live object.
    #[error(transparent)]
    Bench(#[from] BenchError),
    /// A live server: unreachable, not Redis, or answering what Redis would not.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// A user's data that could not be imported: an unreadable or corrupt dump file, a server
    /// that refused to be read.
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    /// Shard files that cannot be merged: missing, duplicated, of different runs, unreadable.
    #[error(transparent)]
    Merge(#[from] merge::MergeError),
    /// An output that could not be written; nothing was changed unless the message says so.
    #[error("{0}")]
    Output(String),
    /// Standard output was closed by its reader (`fragsim ... | head -1`).
    #[error("standard output closed")]
    StdoutClosed,
}

/// The Monte Carlo options of run, sweep, report and check.
#[derive(Debug, Clone, Default, Args)]
pub struct McOptions {
    /// Monte Carlo runs per variant (default: the scenario's `runs`, else 32); a sweep runs this
    /// many at each point.
    #[arg(long)]
    pub runs: Option<u64>,
    /// Master seed; run i uses a seed derived from (seed, i) (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). The output does not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run even when the scenario looks too big for this machine.
    #[arg(long)]
    pub force: bool,
}

/// Monte Carlo settings resolved against a scenario: what a run actually uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct McSettings {
    /// Runs per variant (at least 1).
    pub runs: u64,
    /// The master seed.
    pub seed: u64,
    /// Worker threads (1 to [`MAX_THREADS`]).
    pub threads: usize,
}

/// The most worker threads accepted: more than this only adds overhead on any machine.
pub const MAX_THREADS: usize = 256;

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl McOptions {
    /// The command line's settings, else the scenario's runs and seed and every core.
    pub fn settings(&self, sc: &ScenarioFile) -> Result<McSettings, AppError> {
        let runs = self.runs.unwrap_or(sc.runs);
        if runs == 0 {
            return Err(AppError::Usage("--runs must be at least 1".into()));
        }
        Ok(McSettings {
            runs,
            seed: self.seed.unwrap_or(sc.seed),
            threads: thread_count(self.threads)?,
        })
    }
}

/// `--threads`, else every core; refused outside 1 to [`MAX_THREADS`].
fn thread_count(threads: Option<usize>) -> Result<usize, AppError> {
    let threads = threads.unwrap_or_else(cores);
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(AppError::Usage(format!(
            "--threads {threads}: give 1 to {MAX_THREADS} (this machine has {} cores)",
            cores()
        )));
    }
    Ok(threads)
}

/// Reads and validates a scenario file.
pub fn load_scenario(file: &Path) -> Result<ScenarioFile, AppError> {
    Ok(crate::workload::load(file)?)
}

/// Pretty JSON with a final newline, as every JSON output is written.
pub fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("serialisable") + "\n"
}

/// The output directory: `out`, else output/<file stem><suffix>.
pub fn out_dir(out: Option<&Path>, file: &Path, suffix: &str) -> PathBuf {
    out.map(Path::to_path_buf).unwrap_or_else(|| {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        PathBuf::from("output").join(format!("{stem}{suffix}"))
    })
}

/// Writes one file (not staged with others) atomically.
fn write_out(path: &Path, text: &str, what: &str) -> Result<(), AppError> {
    crate::report::write_atomic(path, text.as_bytes())
        .map_err(|e| AppError::Output(format!("{}: cannot write the {what}: {e}", path.display())))
}

/// Fails before a long measurement, not after it, when `path`'s directory does not exist.
fn check_writable(path: &Path, what: &str) -> Result<(), AppError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if dir.is_dir() {
        Ok(())
    } else {
        Err(AppError::Output(format!(
            "{}: cannot write the {what}: {} is not a directory",
            path.display(),
            dir.display()
        )))
    }
}

/// A command's set of output files, written together or not at all.
struct Outputs {
    staging: Staging,
}

impl Outputs {
    /// Opens the staging area of an output directory, or says why it cannot be written.
    fn new(dir: &Path) -> Result<Outputs, AppError> {
        let staging = Staging::new(dir).map_err(|e| {
            AppError::Output(format!(
                "{}: cannot write to the output directory: {e}; choose a writable one with --out DIR",
                dir.display()
            ))
        })?;
        Ok(Outputs { staging })
    }

    /// The output directory.
    fn dir(&self) -> &Path {
        self.staging.out()
    }

    /// Stages `name` in the output directory.
    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), AppError> {
        self.staging.write(name, bytes).map_err(|e| {
            AppError::Output(format!(
                "{}: cannot write {name}: {e}; nothing was changed",
                self.staging.out().display()
            ))
        })
    }

    /// Stages a file named outside the output directory (`--json`, `--csv`).
    fn write_elsewhere(&mut self, path: &Path, text: &str, what: &str) -> Result<(), AppError> {
        self.staging.write_elsewhere(path, text.as_bytes()).map_err(|e| {
            AppError::Output(format!(
                "{}: cannot write the {what}: {e}; nothing was changed",
                path.display()
            ))
        })
    }

    /// Stages every chart, PNG and SVG; returns how many charts.
    fn charts(&self, charts: &[crate::report::charts::Chart]) -> Result<usize, AppError> {
        for c in charts {
            self.write(&format!("{}.png", c.name), &c.png)?;
            self.write(&format!("{}.svg", c.name), c.svg.as_bytes())?;
        }
        Ok(charts.len())
    }

    /// Moves everything into place.
    fn commit(self) -> Result<(), AppError> {
        let dir = self.staging.out().to_path_buf();
        self.staging.commit().map(|_| ()).map_err(|e| match e {
            CommitError::Move(_) => AppError::Output(format!("{}: {e}", dir.display())),
            other => AppError::Output(other.to_string()),
        })
    }
}

/// The charts of a Monte Carlo result (see [`crate::report::charts::draw_all`]), and with
/// `by_pattern` the chart of memory by key pattern; `out_dir` names the output in an error.
fn draw_charts(
    result: &crate::sim::montecarlo::McResult,
    by_pattern: bool,
    out_dir: &Path,
) -> Result<Vec<crate::report::charts::Chart>, AppError> {
    let draw_error = |e: crate::report::charts::ChartError| {
        AppError::Output(format!("{}: cannot draw the charts: {e}", out_dir.display()))
    };
    let mut charts = crate::report::charts::draw_all(result).map_err(draw_error)?;
    if by_pattern {
        charts.push(crate::report::charts::draw_patterns(result).map_err(draw_error)?);
    }
    Ok(charts)
}

/// Runs every variant of `sc` with `mc`, showing progress over each variant's runs and the
/// replay of its median run.
fn monte_carlo(
    sc: &ScenarioFile,
    mc: McSettings,
    progress: &dyn Progress,
) -> Result<crate::sim::montecarlo::McResult, AppError> {
    progress.start(mc.runs.saturating_add(1).saturating_mul(sc.variants.len() as u64));
    let result = crate::sim::montecarlo::run_all(sc, mc.runs, mc.seed, mc.threads, &|| progress.tick())
        .map_err(AppError::from);
    progress.finish();
    result
}
