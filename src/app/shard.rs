//! Sharded runs and sweeps (`--shard K/N`): one process runs its share of the Monte Carlo's
//! jobs ([`crate::sim::montecarlo::Shard`]) and writes its runs to one partial-result file,
//! `shard-K-of-N.json`, which `fragsim merge` reads back with the other shards'.
//!
//! The file is JSON: a `header` saying what it is a share of (the command, the options that
//! affect results, the scenario's fingerprint, fragsim's version, K and N) and `results`, the
//! shard's runs in job order, each `{"job": J, "run": {...}}` (a [`crate::sim::RunResult`]).
//! Floats are written in their shortest exact form and read back exactly.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::estimate::{check_size, check_size_all};
use super::run::RunOptions;
use super::sweep::{prepare, SweepOptions};
use super::{load_scenario, out_dir, AppError, McSettings, Outputs, Progress};
use crate::sim::montecarlo::{self, JobRun, Shard};
use crate::workload::ScenarioFile;

/// The `format` of a shard file this fragsim writes and reads.
pub const FORMAT: &str = "fragsim-shard-1";

/// The most shards a run splits into.
pub const MAX_SHARDS: u64 = 1_000_000;

/// The commands that shard: which one a shard file is a share of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardedCommand {
    Run,
    Sweep,
}

impl ShardedCommand {
    /// The command's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ShardedCommand::Run => "run",
            ShardedCommand::Sweep => "sweep",
        }
    }
}

/// What a sweep varies, as its shards record it: the parameter's full path and the values, in
/// the order they run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    pub param: String,
    pub values: Vec<f64>,
}

/// What a shard file is a share of: everything a merge checks before it trusts the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardHeader {
    /// [`FORMAT`].
    pub format: String,
    /// The fragsim version that ran the shard.
    pub fragsim: String,
    pub command: ShardedCommand,
    /// The scenario file as the shard's command line named it (the merge's default).
    pub scenario_file: String,
    /// The scenario's name.
    pub scenario: String,
    /// [`fingerprint`] of the scenario as loaded.
    pub fingerprint: String,
    /// Runs per variant (and per point of a sweep).
    pub runs: u64,
    pub seed: u64,
    /// A sweep's parameter and values.
    pub sweep: Option<SweepSpec>,
    /// K, 1 to `shards`.
    pub shard: u64,
    /// N.
    pub shards: u64,
    /// The jobs of the whole run, all shards together.
    pub jobs: u64,
}

/// A shard file: its header, and its runs in job order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    pub header: ShardHeader,
    pub results: Vec<JobRun>,
}

/// The fingerprint of a scenario as loaded (every variant, resolved: its allocator
/// configuration and Redis profile included): a SHA-1 of its full description, the same on
/// every machine for the same file and fragsim version.
pub fn fingerprint(sc: &ScenarioFile) -> String {
    format!("sha1:{}", sha1_smol::Sha1::from(format!("{sc:?}")).digest())
}

/// The name of shard `k` of `n`'s file.
pub fn file_name(shard: Shard) -> String {
    format!("shard-{}-of-{}.json", shard.k(), shard.n())
}

/// Parses `--shard K/N`.
pub fn parse_shard(text: &str) -> Result<Shard, AppError> {
    let how = "shard K of N is --shard K/N, K from 1 to N (from a Kubernetes Indexed Job: \
               --shard $((JOB_COMPLETION_INDEX + 1))/N; from a Slurm job array --array=1-N: \
               --shard $SLURM_ARRAY_TASK_ID/N)";
    let bad = |why: &str| AppError::Usage(format!("--shard '{text}': {why}; {how}"));
    let (k, n) = text.trim().split_once('/').ok_or_else(|| bad("expected K/N"))?;
    let num = |s: &str| s.trim().parse::<u64>().ok();
    let (Some(k), Some(n)) = (num(k), num(n)) else {
        return Err(bad("K and N must be whole numbers"));
    };
    if !(1..=MAX_SHARDS).contains(&n) {
        return Err(bad(&format!("N must be 1 to {MAX_SHARDS}")));
    }
    Shard::new(k, n).ok_or_else(|| {
        bad(&format!(
            "K must be 1 to {n} (shards count from 1; an Indexed Job's index counts from 0: add 1)"
        ))
    })
}

/// What one shard did.
pub struct ShardOutcome {
    pub command: ShardedCommand,
    pub scenario: ScenarioFile,
    pub shard: Shard,
    /// The jobs it ran, and those of the whole run.
    pub ran: u64,
    pub jobs: u64,
    /// The file written.
    pub path: PathBuf,
}

impl ShardOutcome {
    /// The text a shard prints: what it ran, where it went, and how to merge.
    pub fn text(&self) -> String {
        let (k, n) = (self.shard.k(), self.shard.n());
        let dir = self.path.parent().unwrap_or(Path::new("."));
        format!(
            "{}: shard {k} of {n} of `fragsim {}`: {} of its {} runs\n  Written: {}\n  \
             Once all {n} shards are done: fragsim merge {}\n",
            self.scenario.name,
            self.command.name(),
            self.ran,
            self.jobs,
            self.path.display(),
            dir.display()
        )
    }
}

/// Refuses `--shard` on the commands that do not shard (report, check).
pub(super) fn refuse_shard(command: &str, shard: Option<&str>) -> Result<(), AppError> {
    match shard {
        Some(s) => Err(AppError::Usage(format!(
            "--shard {s}: fragsim {command} does not shard; only run and sweep do (fragsim run \
             SCENARIO --shard K/N on each machine, then fragsim merge)"
        ))),
        None => Ok(()),
    }
}

/// Refuses the options that a shard does not write but a merge does.
fn refuse(flags: &[(&str, bool)]) -> Result<(), AppError> {
    match flags.iter().find(|(_, given)| *given) {
        Some((flag, _)) => Err(AppError::Usage(format!(
            "{flag}: a shard writes only its partial result; give {flag} to fragsim merge"
        ))),
        None => Ok(()),
    }
}

/// The Monte Carlo settings one shard's size is judged by: its share of the runs.
fn share_settings(mc: McSettings, shard: Shard) -> McSettings {
    McSettings {
        runs: mc.runs.div_ceil(shard.n()).max(1),
        ..mc
    }
}

/// Runs the shard of `fragsim run` that `o.shard` names and writes its file (default directory
/// output/<scenario file name>-shards).
pub fn run_shard(o: &RunOptions, progress: &dyn Progress) -> Result<ShardOutcome, AppError> {
    let shard = parse_shard(o.shard.as_deref().unwrap_or("1/1"))?;
    refuse(&[
        ("--json", o.json.is_some()),
        ("--csv", o.csv.is_some()),
        ("--bins", o.bins),
        ("--by-pattern", o.by_pattern),
    ])?;
    let sc = load_scenario(&o.file)?;
    let mc = o.mc.settings(&sc)?;
    check_size(&o.file, &sc, share_settings(mc, shard), o.mc.force)?;
    let out = Outputs::new(&out_dir(o.out.as_deref(), &o.file, "-shards"))?;
    let jobs = sc.variants.len() as u64 * mc.runs;
    progress.start(shard.share(jobs));
    let results = montecarlo::pool(mc.threads).map(|pool| {
        pool.install(|| montecarlo::run_jobs(&sc, mc.runs, mc.seed, shard, 0, &|| progress.tick()))
    });
    progress.finish();
    let header = header(ShardedCommand::Run, &o.file, &sc, mc, None, shard, jobs);
    write(out, sc, header, results?)
}

/// Runs the shard of `fragsim sweep` that `o.shard` names and writes its file (default
/// directory output/<scenario file name>-sweep-shards).
pub fn sweep_shard(o: &SweepOptions, progress: &dyn Progress) -> Result<ShardOutcome, AppError> {
    let shard = parse_shard(o.shard.as_deref().unwrap_or("1/1"))?;
    let (sc, p, mc, points) = prepare(o)?;
    let files: Vec<&ScenarioFile> = points.iter().map(|pt| &pt.file).collect();
    check_size_all(&o.file, &files, share_settings(mc, shard), o.mc.force)?;
    let out = Outputs::new(&out_dir(o.out.as_deref(), &o.file, "-sweep-shards"))?;
    let plan = crate::sim::sweep::plan(&sc, &p, &points)?;
    let jobs = plan.jobs(mc.runs);
    progress.start(shard.share(jobs));
    let results = montecarlo::pool(mc.threads)
        .map(|pool| pool.install(|| plan.run_shard(mc.runs, mc.seed, shard, &|| progress.tick())));
    progress.finish();
    let spec = SweepSpec {
        param: p.path.clone(),
        values: points.iter().map(|pt| pt.value).collect(),
    };
    let header = header(ShardedCommand::Sweep, &o.file, &sc, mc, Some(spec), shard, jobs);
    write(out, sc, header, results?)
}

fn header(
    command: ShardedCommand,
    file: &Path,
    sc: &ScenarioFile,
    mc: McSettings,
    sweep: Option<SweepSpec>,
    shard: Shard,
    jobs: u64,
) -> ShardHeader {
    ShardHeader {
        format: FORMAT.into(),
        fragsim: env!("CARGO_PKG_VERSION").into(),
        command,
        scenario_file: file.to_string_lossy().into_owned(),
        scenario: sc.name.clone(),
        fingerprint: fingerprint(sc),
        runs: mc.runs,
        seed: mc.seed,
        sweep,
        shard: shard.k(),
        shards: shard.n(),
        jobs,
    }
}

/// Writes the shard file (compact JSON and a final newline) into the output directory.
fn write(
    out: Outputs,
    scenario: ScenarioFile,
    header: ShardHeader,
    mut results: Vec<JobRun>,
) -> Result<ShardOutcome, AppError> {
    // The per-bin tables: a merge does not read them (`fragsim merge --bins` replays run 0).
    for j in &mut results {
        j.run.bins.clear();
    }
    let shard = Shard::new(header.shard, header.shards).expect("a parsed shard");
    let (command, jobs, ran) = (header.command, header.jobs, results.len() as u64);
    let mut bytes = serde_json::to_vec(&ShardFile { header, results }).expect("serialisable");
    bytes.push(b'\n');
    let name = file_name(shard);
    let path = out.dir().join(&name);
    out.write(&name, &bytes)?;
    out.commit()?;
    Ok(ShardOutcome {
        command,
        scenario,
        shard,
        ran,
        jobs,
        path,
    })
}
