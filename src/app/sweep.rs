//! `fragsim sweep`: a scenario over a range of one parameter, with sweep.json, sweep.csv and
//! the sweep chart on disk.

use std::path::PathBuf;

use clap::Args;

use super::estimate::check_size_all;
use super::{load_scenario, out_dir, to_json, AppError, McOptions, McSettings, Outputs, Progress};
use crate::sim::sweep::{Param, ParamKind, Point, SweepResult};
use crate::units::parse_bytes;
use crate::workload::ScenarioFile;

/// The most points a sweep takes.
pub const MAX_SWEEP_POINTS: u64 = 1000;

/// Run a scenario over a range of one parameter and chart the peak figures against it.
///
/// The parameter is a path as a variant's `set` names it (workload.keys.storm.value_size) or
/// a short name: value_size, count, fields, cleanup, ttl_seconds (of the only key group),
/// tests, parallel, test_seconds, maxmemory, memory_limit. The swept value overrides every
/// variant's own; each variant's own setting is marked on its curve. Writes sweep.json,
/// sweep.csv and the sweep chart (PNG and SVG) to output/<scenario>-sweep/ (or --out DIR).
/// Example (the size-class sawtooth): fragsim sweep scenarios/seed-suite.toml --param
/// value_size --from 1KB --to 64KB --steps 64
///
/// Over several machines: each runs one shard with the same options and --shard K/N (every
/// Nth run over all points; see deploy/), then `fragsim merge` writes, byte for byte, what one
/// machine would have written. Example, the sawtooth in 7 shards:
///
///   fragsim sweep scenarios/seed-suite.toml --param value_size --from 1KB --to 64KB --steps 64
///   --shard 3/7 --out shards (and 1/7 ... 7/7 likewise)
///
///   fragsim merge shards --out output/seed-suite-sweep
#[derive(Debug, Clone, Args)]
pub struct SweepOptions {
    /// Scenario file (TOML).
    pub file: PathBuf,
    /// The parameter to vary.
    #[arg(long, value_name = "KEY")]
    pub param: String,
    /// First value (sizes take units: 1KB, 64KiB).
    #[arg(long, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Last value.
    #[arg(long, allow_hyphen_values = true)]
    pub to: Option<String>,
    /// Number of evenly spaced values from --from to --to, both included.
    #[arg(long)]
    pub steps: Option<u64>,
    /// The values to run, instead of --from/--to/--steps (comma-separated: 1KB,2KB,30KB).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub values: Option<Vec<String>>,
    #[command(flatten)]
    pub mc: McOptions,
    /// Output directory (default: output/<scenario file name>-sweep).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run only shard K of N (K from 1 to N: the runs whose number is K-1 modulo N, numbered
    /// over all points) and write its partial result, shard-K-of-N.json, to --out DIR
    /// (default: output/<scenario file name>-sweep-shards) for `fragsim merge`. From a
    /// Kubernetes Indexed Job: --shard $((JOB_COMPLETION_INDEX + 1))/N; from a Slurm job array
    /// (--array=1-N): --shard $SLURM_ARRAY_TASK_ID/N.
    #[arg(long, value_name = "K/N", allow_hyphen_values = true)]
    pub shard: Option<String>,
}

/// What `sweep` did.
pub struct SweepOutcome {
    pub scenario: ScenarioFile,
    pub result: SweepResult,
    /// The output directory.
    pub out_dir: PathBuf,
}

/// A swept value given on the command line, parsed by the parameter's kind.
fn sweep_value(p: &Param, s: &str, flag: &str) -> Result<f64, AppError> {
    let bad = |why: &str| AppError::Usage(format!("{flag} '{s}': {why} for {}", p.path));
    match p.kind {
        ParamKind::Bytes => parse_bytes(s).map(|b| b as f64).map_err(|e| bad(&e.to_string())),
        ParamKind::Count => s
            .trim()
            .parse::<u64>()
            .map(|n| n as f64)
            .map_err(|_| bad("expected a whole number")),
        ParamKind::Real => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| bad("expected a number")),
    }
}

/// The values to run, sorted and without repeats.
fn values(o: &SweepOptions, p: &Param) -> Result<Vec<f64>, AppError> {
    let xs: Vec<f64> = match (&o.values, &o.from, &o.to, o.steps) {
        (Some(vs), None, None, None) => vs
            .iter()
            .map(|v| sweep_value(p, v, "--values"))
            .collect::<Result<_, _>>()?,
        (None, Some(a), Some(b), Some(n)) => {
            if !(1..=MAX_SWEEP_POINTS).contains(&n) {
                return Err(AppError::Usage(format!(
                    "--steps {n}: give 1 to {MAX_SWEEP_POINTS} points"
                )));
            }
            let (a, b) = (sweep_value(p, a, "--from")?, sweep_value(p, b, "--to")?);
            crate::sim::sweep::steps(p, a, b, n)
        }
        _ => {
            return Err(AppError::Usage(
                "give either --from A --to B --steps N, or --values V1,V2,...".into(),
            ))
        }
    };
    if xs.is_empty() {
        return Err(AppError::Usage("--values: give at least one value".into()));
    }
    if xs.len() as u64 > MAX_SWEEP_POINTS {
        return Err(AppError::Usage(format!(
            "--values: {} values; give at most {MAX_SWEEP_POINTS}",
            xs.len()
        )));
    }
    // The curves run left to right.
    let mut xs = xs;
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.dedup();
    Ok(xs)
}

/// The scenario, the parameter, the settings and the points of a sweep, each point a valid
/// scenario (checked before any runs).
pub(super) fn prepare(o: &SweepOptions) -> Result<(ScenarioFile, Param, McSettings, Vec<Point>), AppError> {
    let sc = load_scenario(&o.file)?;
    let p = crate::sim::sweep::resolve(sc.first(), &o.param)
        .map_err(|e| AppError::Usage(format!("{}: {e}", o.file.display())))?;
    let xs = values(o, &p)?;
    let mc = o.mc.settings(&sc)?;
    let points = crate::sim::sweep::load_points(&o.file, &p, &xs)?;
    Ok((sc, p, mc, points))
}

/// Runs every point, writes the outputs (all or none) and returns the curves. With `shard`
/// set, see [`super::shard::sweep_shard`] instead (this refuses it).
pub fn sweep(o: &SweepOptions, progress: &dyn Progress) -> Result<SweepOutcome, AppError> {
    if let Some(s) = &o.shard {
        return Err(AppError::Usage(format!(
            "--shard {s}: a shard writes a partial result (app::shard::sweep_shard)"
        )));
    }
    let (sc, p, mc, points) = prepare(o)?;
    let files: Vec<&ScenarioFile> = points.iter().map(|pt| &pt.file).collect();
    check_size_all(&o.file, &files, mc, o.mc.force)?;
    let out = Outputs::new(&out_dir(o.out.as_deref(), &o.file, "-sweep"))?;
    progress.start(
        mc.runs
            .saturating_add(1)
            .saturating_mul(sc.variants.len() as u64 * (points.len() as u64 + 1)),
    );
    let result = crate::sim::sweep::sweep(&sc, &p, &points, mc.runs, mc.seed, mc.threads, &|| {
        progress.tick()
    })
    .map_err(AppError::from);
    progress.finish();
    write_outputs(sc, result?, out)
}

/// Writes a sweep's outputs (all or none): what `sweep` and a merge of its shards end with.
pub(super) fn write_outputs(
    sc: ScenarioFile,
    result: SweepResult,
    out: Outputs,
) -> Result<SweepOutcome, AppError> {
    let out_dir = out.dir().to_path_buf();
    out.write("sweep.json", to_json(&result).as_bytes())?;
    out.write("sweep.csv", crate::sim::sweep::csv(&result).as_bytes())?;
    let chart = crate::report::charts::draw_sweep(&result)
        .map_err(|e| AppError::Output(format!("{}: cannot draw the chart: {e}", out_dir.display())))?;
    out.charts(&[chart])?;
    out.commit()?;
    Ok(SweepOutcome {
        scenario: sc,
        result,
        out_dir,
    })
}

impl SweepOutcome {
    /// The text `fragsim sweep` prints: the peaks at each value, and the files written.
    pub fn text(&self) -> String {
        crate::report::run::render_sweep(&self.result)
            + &format!(
                "  Written: sweep.json, sweep.csv, sweep.png and sweep.svg in {}\n",
                self.out_dir.display()
            )
    }
}
