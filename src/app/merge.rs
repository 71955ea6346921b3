//! `fragsim merge`: the shard files of a sharded run or sweep (`--shard K/N`), checked to be
//! every shard of one run exactly once, merged into the outputs and the text the command would
//! have written and printed on one machine, byte for byte.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::run::{Extra, RunOutcome};
use super::shard::{fingerprint, ShardFile, ShardHeader, ShardedCommand, FORMAT};
use super::sweep::SweepOutcome;
use super::{load_scenario, out_dir, thread_count, AppError, Outputs, Progress};
use crate::sim::montecarlo::{self, Shard};
use crate::sim::RunResult;

/// Merge the partial results of a sharded run or sweep (--shard K/N) into the files and the
/// text the command writes and prints on one machine, byte for byte.
///
/// Takes the shard files (shard-K-of-N.json) or the directories holding them; checks that
/// every shard 1 to N of one run is there exactly once (same scenario, options and fragsim
/// version), replays each variant's median run for "where the bytes go", and writes the
/// outputs (all or none). Exit code 2, and nothing written, when a shard is missing, given
/// twice, of another run, or unreadable.
///
/// Example, a run in two shards (on two machines, with a shared shards/ directory):
///
///   fragsim run scenarios/seed-suite.toml --shard 1/2 --out shards
///
///   fragsim run scenarios/seed-suite.toml --shard 2/2 --out shards
///
///   fragsim merge shards --out output/seed-suite (writes and prints what fragsim run
///   scenarios/seed-suite.toml does)
///
/// From a Kubernetes Indexed Job or a Slurm job array: see deploy/README.md.
#[derive(Debug, Clone, Args)]
pub struct MergeOptions {
    /// Shard files (shard-K-of-N.json), or directories holding them.
    #[arg(required = true, value_name = "SHARDS")]
    pub shards: Vec<PathBuf>,
    /// The scenario file the shards ran (default: the path their command lines named).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Output directory (default: the command's own, output/<scenario file name> for run,
    /// output/<scenario file name>-sweep for sweep).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Shards of run: also write the JSON result to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Shards of run: also write the timeline CSV to this file.
    #[arg(long, value_name = "PATH")]
    pub csv: Option<PathBuf>,
    /// Shards of run: also print the per-bin table after the first run.
    #[arg(long)]
    pub bins: bool,
    /// Shards of run: also print memory by key pattern and draw it (as `run --by-pattern`; each
    /// variant's median run is replayed for it).
    #[arg(long)]
    pub by_pattern: bool,
    /// Worker threads for the replays (default: all cores). The output does not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Why shard files cannot be merged. `Display` names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A directory given with no shard file in it.
    #[error("{}: no shard files (shard-K-of-N.json) in this directory; give the directory the shards wrote to (their --out DIR) or the files", .0.display())]
    NoShards(PathBuf),
    /// A file that cannot be read.
    #[error("{}: cannot read the shard file: {source}", .path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    /// A file that is not a whole shard file of this fragsim.
    #[error("{}: not a complete fragsim shard file ({detail}); run its shard again (or remove the file if it is not one)", .path.display())]
    Corrupt { path: PathBuf, detail: String },
    /// Two files that are not shards of the same run.
    #[error("{} has {what} = {theirs} but {} has {what} = {ours}: these are shards of different runs; merge the shard files of one run (the same scenario, options, N and fragsim), and remove the others from the directory", .path.display(), .first.display())]
    Mismatch {
        path: PathBuf,
        first: PathBuf,
        what: &'static str,
        theirs: String,
        ours: String,
    },
    /// One shard given twice.
    #[error("shard {k} of {n} is given twice: {} and {}; give each shard once", .a.display(), .b.display())]
    Duplicate { k: u64, n: u64, a: PathBuf, b: PathBuf },
    /// Shards not given.
    #[error("{} of {n} missing ({}); run {} and merge again", if .ks.len() == 1 { format!("shard {}", .ks[0]) } else { format!("shards {}", list(.ks)) }, .ks.iter().take(3).map(|&k| format!("shard-{k}-of-{n}.json")).collect::<Vec<_>>().join(", ") + if .ks.len() > 3 { ", ..." } else { "" }, if .ks.len() == 1 { format!("it (--shard {}/{n})", .ks[0]) } else { format!("them (--shard K/{n} for each)") })]
    Missing { ks: Vec<u64>, n: u64 },
    /// The scenario file the shards recorded is not here, and `--scenario` was not given.
    #[error("{}: the scenario file the shards ran is not here; give it with --scenario FILE", .0.display())]
    NoScenario(PathBuf),
    /// The scenario file is not the one the shards ran.
    #[error("{}: not the scenario the shards ran (it has changed, or is another file: its fingerprint is {ours}, theirs {theirs}; they ran {recorded}); give that scenario file with --scenario FILE", .path.display())]
    OtherScenario {
        path: PathBuf,
        ours: String,
        theirs: String,
        recorded: String,
    },
}

/// `1, 2, 5` (the first 10, then how many more).
fn list(ks: &[u64]) -> String {
    let mut s: Vec<String> = ks.iter().take(10).map(u64::to_string).collect();
    if ks.len() > 10 {
        s.push(format!("and {} more", ks.len() - 10));
    }
    s.join(", ")
}

/// What `merge` did: the outcome of the command the shards were shares of.
pub enum MergeOutcome {
    Run(RunOutcome),
    Sweep(SweepOutcome),
}

impl MergeOutcome {
    /// The text the command prints on one machine.
    pub fn text(&self) -> String {
        match self {
            MergeOutcome::Run(r) => r.text(),
            MergeOutcome::Sweep(s) => s.text(),
        }
    }
}

/// The shard files among `args`: files as given, directories' `shard-K-of-N.json` files (sorted).
fn shard_paths(args: &[PathBuf]) -> Result<Vec<PathBuf>, MergeError> {
    let mut paths = Vec::new();
    for a in args {
        if !a.is_dir() {
            paths.push(a.clone());
            continue;
        }
        let unreadable = |source| MergeError::Unreadable {
            path: a.clone(),
            source,
        };
        let mut found: Vec<PathBuf> = std::fs::read_dir(a)
            .map_err(unreadable)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("shard-") && n.ends_with(".json") && n.contains("-of-"))
            })
            .collect();
        if found.is_empty() {
            return Err(MergeError::NoShards(a.clone()));
        }
        found.sort();
        paths.append(&mut found);
    }
    Ok(paths)
}

/// Reads one shard file and checks that it is whole: its format, and its runs exactly its
/// share of the jobs, in order.
fn read_shard(path: &Path) -> Result<ShardFile, MergeError> {
    let corrupt = |detail: String| MergeError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let file = std::fs::File::open(path).map_err(|source| MergeError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let f: ShardFile =
        serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| corrupt(e.to_string()))?;
    let h = &f.header;
    if h.format != FORMAT {
        return Err(corrupt(format!("format '{}', not '{FORMAT}'", h.format)));
    }
    let shard =
        Shard::new(h.shard, h.shards).ok_or_else(|| corrupt(format!("shard {} of {}", h.shard, h.shards)))?;
    let mine = (0..h.jobs).filter(|&j| shard.owns(j));
    if f.results.len() as u64 != shard.share(h.jobs) || !f.results.iter().map(|r| r.job).eq(mine) {
        return Err(corrupt(format!(
            "its runs are not the {} jobs of shard {} of {}",
            shard.share(h.jobs),
            h.shard,
            h.shards
        )));
    }
    Ok(f)
}

/// Checks that `b` is a shard of the same run as `a`.
fn same_run(a: (&Path, &ShardHeader), b: (&Path, &ShardHeader)) -> Result<(), MergeError> {
    let (ha, hb) = (a.1, b.1);
    let sweep = |h: &ShardHeader| {
        h.sweep.as_ref().map_or("none".into(), |s| {
            format!(
                "--param {} over {} values {:?}",
                s.param,
                s.values.len(),
                s.values
            )
        })
    };
    let checks: [(&'static str, String, String); 8] = [
        ("fragsim version", hb.fragsim.clone(), ha.fragsim.clone()),
        ("command", hb.command.name().into(), ha.command.name().into()),
        (
            "scenario",
            format!("'{}' ({})", hb.scenario, hb.fingerprint),
            format!("'{}' ({})", ha.scenario, ha.fingerprint),
        ),
        ("N", hb.shards.to_string(), ha.shards.to_string()),
        ("runs", hb.runs.to_string(), ha.runs.to_string()),
        ("seed", hb.seed.to_string(), ha.seed.to_string()),
        ("sweep", sweep(hb), sweep(ha)),
        ("jobs", hb.jobs.to_string(), ha.jobs.to_string()),
    ];
    match checks.into_iter().find(|(_, x, y)| x != y) {
        Some((what, theirs, ours)) => Err(MergeError::Mismatch {
            path: b.0.to_path_buf(),
            first: a.0.to_path_buf(),
            what,
            theirs,
            ours,
        }),
        None => Ok(()),
    }
}

/// Reads and checks every shard; returns the header and every run, in job order.
fn read_all(args: &[PathBuf]) -> Result<(ShardHeader, Vec<RunResult>), MergeError> {
    let paths = shard_paths(args)?;
    let mut by_k: BTreeMap<u64, (PathBuf, ShardFile)> = BTreeMap::new();
    let mut first: Option<(PathBuf, ShardHeader)> = None;
    for p in paths {
        let f = read_shard(&p)?;
        match &first {
            Some((fp, fh)) => same_run((fp, fh), (&p, &f.header))?,
            None => first = Some((p.clone(), f.header.clone())),
        }
        if let Some((a, _)) = by_k.get(&f.header.shard) {
            return Err(MergeError::Duplicate {
                k: f.header.shard,
                n: f.header.shards,
                a: a.clone(),
                b: p,
            });
        }
        by_k.insert(f.header.shard, (p, f));
    }
    let (_, header) = first.expect("at least one shard file: the argument is required");
    let n = header.shards;
    let missing: Vec<u64> = (1..=n).filter(|k| !by_k.contains_key(k)).collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { ks: missing, n });
    }
    // Job j is shard (j mod N) + 1's, its (j div N)th run.
    let mut shards: Vec<std::vec::IntoIter<montecarlo::JobRun>> =
        by_k.into_values().map(|(_, f)| f.results.into_iter()).collect();
    let runs = (0..header.jobs)
        .map(|j| shards[(j % n) as usize].next().expect("checked share").run)
        .collect();
    Ok((header, runs))
}

/// Checks the shards, merges them and writes the outputs of the command they were shares of.
pub fn merge(o: &MergeOptions, progress: &dyn Progress) -> Result<MergeOutcome, AppError> {
    let threads = thread_count(o.threads)?;
    let (h, runs) = read_all(&o.shards)?;
    if h.command != ShardedCommand::Run {
        if let Some(flag) = [
            ("--json", o.json.is_some()),
            ("--csv", o.csv.is_some()),
            ("--bins", o.bins),
            ("--by-pattern", o.by_pattern),
        ]
        .iter()
        .find_map(|(f, given)| given.then_some(f))
        {
            return Err(AppError::Usage(format!(
                "{flag}: only for the shards of fragsim run; these are of fragsim {}",
                h.command.name()
            )));
        }
    }
    let file = o
        .scenario
        .clone()
        .unwrap_or_else(|| PathBuf::from(&h.scenario_file));
    if o.scenario.is_none() && !file.exists() {
        return Err(MergeError::NoScenario(file).into());
    }
    let sc = load_scenario(&file)?;
    let print = fingerprint(&sc);
    if print != h.fingerprint {
        return Err(MergeError::OtherScenario {
            path: file,
            ours: print,
            theirs: h.fingerprint,
            recorded: h.scenario_file,
        }
        .into());
    }
    let pool = montecarlo::pool(threads)?;
    let tick = || progress.tick();
    match (h.command, &h.sweep) {
        (ShardedCommand::Run, _) => {
            let sc = if o.by_pattern { sc.with_by_pattern() } else { sc };
            let out = Outputs::new(&out_dir(o.out.as_deref(), &file, ""))?;
            progress.start(sc.variants.len() as u64);
            let result = pool.install(|| montecarlo::summarise_all(&sc, h.runs, h.seed, &runs, &tick));
            progress.finish();
            let extra = Extra {
                json: o.json.as_deref(),
                csv: o.csv.as_deref(),
                bins: o.bins,
                by_pattern: o.by_pattern,
            };
            Ok(MergeOutcome::Run(super::run::write_outputs(
                sc, result?, out, extra,
            )?))
        }
        (ShardedCommand::Sweep, spec) => {
            let spec = spec.as_ref().ok_or_else(|| MergeError::Corrupt {
                path: PathBuf::from(&h.scenario_file),
                detail: "a sweep's shards without the sweep's parameter".into(),
            })?;
            let p = crate::sim::sweep::resolve(sc.first(), &spec.param)
                .map_err(|e| AppError::Usage(format!("{}: {e}", file.display())))?;
            let points = crate::sim::sweep::load_points(&file, &p, &spec.values)?;
            let plan = crate::sim::sweep::plan(&sc, &p, &points)?;
            let out = Outputs::new(&out_dir(o.out.as_deref(), &file, "-sweep"))?;
            progress.start(plan.replays());
            let result = pool.install(|| plan.summarise(h.runs, h.seed, &runs, &tick));
            progress.finish();
            Ok(MergeOutcome::Sweep(super::sweep::write_outputs(
                sc, result?, out,
            )?))
        }
    }
}
