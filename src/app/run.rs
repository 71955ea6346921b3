//! `fragsim run`: a scenario's Monte Carlo runs, the figures INFO memory would show, the OOM
//! verdicts, and result.json, timeline.csv and the charts on disk.

use std::path::{Path, PathBuf};

use clap::Args;

use super::estimate::check_size;
use super::{load_scenario, monte_carlo, out_dir, to_json, AppError, McOptions, Outputs, Progress};
use crate::sim::montecarlo::{self, McResult};
use crate::workload::ScenarioFile;

/// Replay a scenario file through the model, Monte Carlo over seeds, and print the INFO
/// memory figures it predicts (p5 / p50 / p95 per variant) and the OOM verdicts.
///
/// Writes result.json, timeline.csv and the charts (timeline, peaks, bytes, ratios, oom; PNG
/// and SVG) to the output directory (default output/<scenario file name>/), and gives the
/// smallest maxmemory and memory_limit with an OOM in under 1% of runs.
/// Example: fragsim run scenarios/seed-suite.toml
///
/// Over several machines: each runs one shard (--shard K/N, every Nth run; a plain process
/// for a Kubernetes Indexed Job or a Slurm job array, see deploy/), then `fragsim merge`
/// writes, byte for byte, what one machine would have written. Example, two shards:
///
///   fragsim run scenarios/seed-suite.toml --shard 1/2 --out shards
///
///   fragsim run scenarios/seed-suite.toml --shard 2/2 --out shards
///
///   fragsim merge shards --out output/seed-suite
#[derive(Debug, Clone, Args)]
pub struct RunOptions {
    /// Scenario file (TOML).
    pub file: PathBuf,
    #[command(flatten)]
    pub mc: McOptions,
    /// Also write the JSON result to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Also write the timeline CSV to this file.
    #[arg(long, value_name = "PATH")]
    pub csv: Option<PathBuf>,
    /// Output directory (default: output/<scenario file name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also print the per-bin table (slabs, regions, utilisation) after the first run.
    #[arg(long)]
    pub bins: bool,
    /// Also print memory by key pattern (each key group's part of used_memory,
    /// allocator_active and RSS at the peak of the median run, with the allocator's rounding,
    /// pad pages and slab holes counted to the pattern whose blocks cause them) and draw it
    /// (patterns.png and .svg); result.json then has it too (`breakdown.by_pattern`). The
    /// model then tags every block with its owner: a few percent slower.
    #[arg(long)]
    pub by_pattern: bool,
    /// Run only shard K of N (K from 1 to N: the runs whose number is K-1 modulo N) and write
    /// its partial result, shard-K-of-N.json, to --out DIR (default:
    /// output/<scenario file name>-shards) for `fragsim merge`. From a Kubernetes Indexed Job:
    /// --shard $((JOB_COMPLETION_INDEX + 1))/N; from a Slurm job array (--array=1-N): --shard
    /// $SLURM_ARRAY_TASK_ID/N.
    #[arg(long, value_name = "K/N", allow_hyphen_values = true)]
    pub shard: Option<String>,
}

/// What `run` did: the scenario, its Monte Carlo result and where the files went.
pub struct RunOutcome {
    pub scenario: ScenarioFile,
    pub result: McResult,
    /// The output directory.
    pub out_dir: PathBuf,
    /// How many charts were written (each as PNG and SVG).
    pub charts: usize,
    /// With `bins`: the per-bin table of the first run.
    pub bins: Option<String>,
    /// With `by_pattern` (a Redis scenario): the memory by key pattern of each variant.
    pub by_pattern: Option<String>,
}

/// Runs the scenario, writes its outputs (all or none) and returns what it predicted. With
/// `shard` set, see [`super::shard::run_shard`] instead (this refuses it).
pub fn run(o: &RunOptions, progress: &dyn Progress) -> Result<RunOutcome, AppError> {
    if let Some(s) = &o.shard {
        return Err(AppError::Usage(format!(
            "--shard {s}: a shard writes a partial result (app::shard::run_shard)"
        )));
    }
    let mut sc = load_scenario(&o.file)?;
    if o.by_pattern {
        sc = sc.with_by_pattern();
    }
    let mc = o.mc.settings(&sc)?;
    check_size(&o.file, &sc, mc, o.mc.force)?;
    let out_dir = out_dir(o.out.as_deref(), &o.file, "");
    let out = Outputs::new(&out_dir)?;
    let result = monte_carlo(&sc, mc, progress)?;
    let extra = Extra {
        json: o.json.as_deref(),
        csv: o.csv.as_deref(),
        bins: o.bins,
        by_pattern: o.by_pattern,
    };
    write_outputs(sc, result, out, extra)
}

/// What `run` writes or prints beside its output directory.
pub(super) struct Extra<'a> {
    pub json: Option<&'a Path>,
    pub csv: Option<&'a Path>,
    pub bins: bool,
    pub by_pattern: bool,
}

/// Writes a run's outputs (all or none): what `run` and a merge of its shards end with.
pub(super) fn write_outputs(
    sc: ScenarioFile,
    result: McResult,
    mut out: Outputs,
    extra: Extra,
) -> Result<RunOutcome, AppError> {
    let out_dir = out.dir().to_path_buf();
    let json_text = to_json(&result);
    let csv_text = crate::report::run::timeline_csv(&result);
    out.write("result.json", json_text.as_bytes())?;
    out.write("timeline.csv", csv_text.as_bytes())?;
    let by_pattern = extra.by_pattern && sc.first().redis.is_some();
    let charts = out.charts(&super::draw_charts(&result, by_pattern, &out_dir)?)?;
    if let Some(path) = extra.json {
        out.write_elsewhere(path, &json_text, "JSON output")?;
    }
    if let Some(path) = extra.csv {
        out.write_elsewhere(path, &csv_text, "CSV output")?;
    }
    out.commit()?;
    let bins = extra.bins.then(|| {
        let first = crate::sim::run(sc.first(), montecarlo::run_seed(result.seed, 0), |_| {});
        crate::report::run::render_bins(&first)
    });
    Ok(RunOutcome {
        by_pattern: by_pattern.then(|| crate::report::patterns::text(&result)),
        scenario: sc,
        result,
        out_dir,
        charts,
        bins,
    })
}

impl RunOutcome {
    /// The text `fragsim run` prints: the tables per variant, the files written, the bins.
    pub fn text(&self) -> String {
        let mut o = crate::report::run::render_mc(&self.scenario, &self.result);
        if let Some(p) = &self.by_pattern {
            o += p;
        }
        o += &format!(
            "  Written: {}, {} and {} charts (PNG and SVG) in {}\n",
            self.out_dir.join("result.json").display(),
            self.out_dir.join("timeline.csv").display(),
            self.charts,
            self.out_dir.display()
        );
        if let Some(b) = &self.bins {
            o += b;
        }
        o
    }
}
