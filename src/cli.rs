//! Command-line interface: parses arguments and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::jemalloc::{AllocatorConfig, SizeClasses, PRESET_NAMES};
use crate::redis::explain::{self as redis_explain, explain_key, KeySpec};
use crate::redis::RedisProfile;
use crate::report::{explain, run as run_report, write_atomic};
use crate::sim::montecarlo;
use crate::units::parse_bytes;
use crate::validate::live_redis;
use std::io::IsTerminal;

/// The message of a closed standard output (`fragsim ... | head -1`): the program ends quietly.
const STDOUT_CLOSED: &str = "\u{0}standard output closed";

/// Writes to standard output; a closed pipe ends the program quietly, any other failure (a
/// full disk) is an error with exit code 2.
fn stdout_write(args: std::fmt::Arguments) -> Result<(), UsageError> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    o.write_fmt(args).and_then(|()| o.flush()).map_err(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            UsageError(STDOUT_CLOSED.into())
        } else {
            UsageError(format!("cannot write to standard output: {e}"))
        }
    })
}

macro_rules! out {
    ($($t:tt)*) => { stdout_write(format_args!($($t)*)) };
}

macro_rules! outln {
    ($($t:tt)*) => { stdout_write(format_args!("{}\n", format_args!($($t)*))) };
}

/// fragsim predicts how much memory a jemalloc-backed program (first of all Redis) really uses
/// for a workload, without running it: size classes, slabs, pad pages, the thread cache,
/// dirty-page decay, Redis's per-key overhead, and the INFO memory figures that follow.
#[derive(Debug, Parser)]
#[command(name = "fragsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The Monte Carlo options of run, sweep, report and check.
#[derive(Debug, Args)]
pub struct McArgs {
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay a scenario file through the model, Monte Carlo over seeds, and print the INFO
    /// memory figures it predicts (p5 / p50 / p95 per variant) and the OOM verdicts.
    ///
    /// Writes result.json, timeline.csv and the charts (timeline, peaks, bytes, ratios, oom; PNG
    /// and SVG) to the output directory (default output/<scenario file name>/), and gives the
    /// smallest maxmemory and memory_limit with an OOM in under 1% of runs.
    /// Example: fragsim run scenarios/seed-suite.toml
    Run {
        /// Scenario file (TOML).
        file: PathBuf,
        #[command(flatten)]
        mc: McArgs,
        /// Also write the JSON result to this file.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
        /// Also write the timeline CSV to this file.
        #[arg(long, value_name = "PATH")]
        csv: Option<PathBuf>,
        /// Output directory (default: output/<scenario file name>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Also print the per-bin table (slabs, regions, utilisation) after the first run.
        #[arg(long)]
        bins: bool,
    },
    /// Run a scenario over a range of one parameter and chart the peak figures against it.
    ///
    /// The parameter is a path as a variant's `set` names it (workload.keys.storm.value_size) or
    /// a short name: value_size, count, fields, cleanup, ttl_seconds (of the only key group),
    /// tests, parallel, test_seconds, maxmemory, memory_limit. The swept value overrides every
    /// variant's own; each variant's own setting is marked on its curve. Writes sweep.json,
    /// sweep.csv and the sweep chart (PNG and SVG) to output/<scenario>-sweep/ (or --out DIR).
    /// Example (the size-class sawtooth): fragsim sweep scenarios/seed-suite.toml --param
    /// value_size --from 1KB --to 64KB --steps 64
    Sweep {
        /// Scenario file (TOML).
        file: PathBuf,
        /// The parameter to vary.
        #[arg(long, value_name = "KEY")]
        param: String,
        /// First value (sizes take units: 1KB, 64KiB).
        #[arg(long, allow_hyphen_values = true)]
        from: Option<String>,
        /// Last value.
        #[arg(long, allow_hyphen_values = true)]
        to: Option<String>,
        /// Number of evenly spaced values from --from to --to, both included.
        #[arg(long)]
        steps: Option<u64>,
        /// The values to run, instead of --from/--to/--steps (comma-separated: 1KB,2KB,30KB).
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
        values: Option<Vec<String>>,
        #[command(flatten)]
        mc: McArgs,
        /// Output directory (default: output/<scenario file name>-sweep).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write the design-review report of a scenario: report.html (self-contained, charts inlined
    /// as SVG) and report.md (for pull requests, charts beside it), with the scenario in words,
    /// the summary table, the charts, where the bytes go, the claims and the model's limits.
    ///
    /// Example: fragsim report scenarios/seed-claims.toml
    Report {
        /// Scenario file (TOML).
        file: PathBuf,
        #[command(flatten)]
        mc: McArgs,
        /// Output directory (default: output/<scenario file name>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Measure the simulator: events per second through the model and through the real jemalloc
    /// on the same allocation traces (side by side, every byte written on the real side), and
    /// the simulator's memory per live simulated object. Takes well under a minute.
    ///
    /// Workloads: small-churn (8 B-14 KiB), large-churn (16 KiB-4 MiB), seed-30k and seed-2k
    /// (the seed suite's Redis heap), cache (the cache scenario's heap, TTLs expiring).
    /// Example: fragsim bench --json output/bench.json
    Bench {
        /// Events per workload trace (mallocs, frees and purges), 1 to 10,000,000 (5,000,000
        /// took 1 min and 6 GB here).
        #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        events: u64,
        /// Live objects for the memory measurement (0 skips it); at about 100 B of simulator
        /// memory each, as many as 80% of the available memory holds.
        #[arg(long, default_value_t = 50_000_000)]
        live: u64,
        /// Only these workloads (comma-separated).
        #[arg(long, value_delimiter = ',')]
        workload: Option<Vec<String>>,
        /// Also write the results as JSON to this file.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
    },
    /// Check the claims of a scenario file against the Monte Carlo distribution: each claim's
    /// predicted value with its p5-p95 band, PASS or FAIL. Exit code 1 when a claim fails.
    ///
    /// Example: fragsim check scenarios/seed-claims.toml
    Check {
        /// Scenario file (TOML) with [[claim]] tables.
        file: PathBuf,
        #[command(flatten)]
        mc: McArgs,
    },
    /// Print jemalloc's size classes with slab geometry.
    ///
    /// Small classes live in slabs of 1-7 pages; large classes get their own extent, one pad
    /// page larger when the build is cache-oblivious.
    Sizeclasses {
        /// Allocator preset: jemalloc-5.3, redis-7.0-bundled, redis-7.2-bundled, jemalloc-5.3.1.
        #[arg(long, default_value = "jemalloc-5.3")]
        preset: String,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Largest class to list (a byte count such as 64MiB).
        #[arg(long, default_value = "64MiB", allow_hyphen_values = true)]
        max: String,
    },
    /// Show what one request of SIZE bytes really costs: size class, slab or extent, pad page,
    /// and the bytes seen by malloc_usable_size, stats.active and RSS. With --redis, what one
    /// key costs in that Redis build.
    ///
    /// Try: fragsim explain 30000, then fragsim explain 2000, then
    /// fragsim explain --redis redis-7.0-debian --string 30000.
    Explain {
        /// Request size: bytes, or a count with a unit (30000, 30KB, 2MiB).
        #[arg(allow_hyphen_values = true)]
        size: Option<String>,
        /// Allocator preset: jemalloc-5.3, redis-7.0-bundled, redis-7.2-bundled, jemalloc-5.3.1.
        #[arg(long, default_value = "jemalloc-5.3")]
        preset: String,
        /// A Redis profile (redis-7.0-debian, redis-7.0, redis-7.2, or a calibrated file):
        /// explain one key instead of one allocation.
        #[arg(long, value_name = "PROFILE")]
        redis: Option<String>,
        /// With --redis: a string key whose value has this size.
        #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
        string: Option<String>,
        /// With --redis: a hash key, FIELDSxSIZE (e.g. 20x1500).
        #[arg(long, value_name = "FIELDSxSIZE", allow_hyphen_values = true)]
        hash: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Read a live Redis server and print its profile (TOML) for scenarios to use.
    ///
    /// Its first command, INFO memory, records the server as a workload finds it after a fresh
    /// start (the fresh baseline; commands the server had already run stay in it, and calibrate
    /// says so). Then INFO, CONFIG GET, MEMORY MALLOC-STATS and 2,000 PINGs (the command rate of
    /// one client); then it lets the server settle and measures it again as it leaves it (the
    /// as_found baseline). Use a freshly started server that no other client is using.
    Calibrate {
        /// The server, HOST:PORT.
        #[arg(long, value_name = "HOST:PORT")]
        redis: String,
        /// Write the profile to this file instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write scenarios drawn at random from the whole scenario grammar (strings and hashes, every
    /// size distribution, TTLs, cleanup, flush modes, scripts, parallel processes, command
    /// rates, maxmemory), small enough to validate against a live server in seconds each.
    ///
    /// For checking the model on workloads nobody tuned it on: `fragsim validate` each file.
    Generate {
        /// Number of scenarios.
        #[arg(long, default_value_t = 40)]
        count: u64,
        /// First scenario number (the same number always gives the same scenario).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// The Redis profile the scenarios name.
        #[arg(long, default_value = "redis-7.0-debian")]
        profile: String,
        /// Directory to write generated-N.toml into.
        #[arg(long, value_name = "DIR", default_value = "output/generated")]
        out: PathBuf,
    },
    /// Replay a scenario into a live Redis server and compare its INFO memory with the model's
    /// after each test.
    ///
    /// The server must hold no keys (or pass --flush) and be otherwise idle. Without --profile it
    /// is calibrated first and predicted as calibration leaves it; with --profile (a profile
    /// calibrated on another freshly started server) it is predicted from that profile, the way
    /// a fresh server in a test pipeline meets the workload. Each test's commands go over one
    /// connection per test process, closed before measuring. Afterwards the keys and scripts it
    /// wrote are removed and maxmemory restored.
    Validate {
        /// The server, HOST:PORT.
        #[arg(long, value_name = "HOST:PORT")]
        redis: String,
        /// Predict with this profile (a file from `fragsim calibrate`, or a built-in name) in the
        /// scenario's server state, instead of calibrating the server itself.
        #[arg(long, value_name = "PROFILE")]
        profile: Option<String>,
        /// Empty a server that holds keys (FLUSHALL SYNC) instead of refusing it.
        #[arg(long)]
        flush: bool,
        /// Scenario file (TOML) with a Redis profile.
        scenario: PathBuf,
        /// Seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Also write the checkpoints (model and real INFO per test) as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Which variant to replay (default: the first).
        #[arg(long)]
        variant: Option<String>,
        /// Replay only the first N tests.
        #[arg(long)]
        tests: Option<u64>,
        /// Also replay the same commands, at the same moments, into N-1 more model servers that
        /// differ only in what Redis draws at random when it starts (its dict hash seed: the
        /// order FLUSHALL and active expiry meet keys), and show the model's p5-p95 band beside
        /// each figure. Two fresh servers differ the same way.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
        runs: u64,
    },
}

/// A hidden progress bar over `total` runs (each variant's Monte Carlo runs and the replay of its
/// median run that splits RSS into layers): shown on stderr once the work has lasted over a
/// second when stderr is a terminal (redrawn every second, so a long run shows it is alive);
/// otherwise (a log, a pipe) a line every 10 s says how many runs are done.
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::hidden());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed} so far, {eta} left")
    {
        bar.set_style(style);
    }
    let b = bar.clone();
    std::thread::spawn(move || {
        let start = std::time::Instant::now();
        let mut last = start;
        let mut shown = false;
        loop {
            std::thread::sleep(std::time::Duration::from_millis(200));
            if b.is_finished() {
                return;
            }
            let now = std::time::Instant::now();
            if std::io::stderr().is_terminal() {
                if !shown && now - start > std::time::Duration::from_secs(1) {
                    b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    b.enable_steady_tick(std::time::Duration::from_secs(1));
                    shown = true;
                }
            } else if now - last >= std::time::Duration::from_secs(10) {
                last = now;
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "fragsim: {} of {} runs done, {} so far",
                    b.position(),
                    b.length().unwrap_or(0),
                    human_duration((now - start).as_secs_f64())
                );
            }
        }
    });
    bar
}

/// Refuses scenarios whose work would exceed this machine, unless forced.
fn check_size(
    file: &std::path::Path,
    sc: &crate::workload::ScenarioFile,
    runs: u64,
    threads: usize,
    force: bool,
) -> Result<(), UsageError> {
    check_size_all(file, &[sc], runs, threads, force)
}

/// The most points a sweep takes.
const MAX_SWEEP_POINTS: u64 = 1000;

/// [`check_size`] over several scenarios run one after the other (a sweep's points): their
/// time adds up, their memory does not.
fn check_size_all(
    file: &std::path::Path,
    scs: &[&crate::workload::ScenarioFile],
    runs: u64,
    threads: usize,
    force: bool,
) -> Result<(), UsageError> {
    let mut e = crate::workload::Estimate {
        events: 0.0,
        peak_live: 0.0,
        memory_bytes: 0.0,
        cpu_seconds: 0.0,
    };
    let each: Vec<crate::workload::Estimate> = scs.iter().map(|sc| sc.estimate(runs, threads)).collect();
    for x in &each {
        e.events += x.events;
        e.cpu_seconds += x.cpu_seconds;
        e.peak_live = e.peak_live.max(x.peak_live);
        e.memory_bytes = e.memory_bytes.max(x.memory_bytes);
    }
    let avail = crate::units::available_memory();
    let parallel = threads.min(runs as usize).max(1);
    let wall = e.cpu_seconds / parallel as f64;
    /// Longest run, in estimated seconds of wall time, started without --force.
    const MAX_WALL_SECONDS: f64 = 3600.0;
    let too_big = e.memory_bytes > avail * 0.8;
    if !force && (too_big || wall > MAX_WALL_SECONDS) {
        // The costliest scenario (a sweep's points differ) names its costliest field.
        let key = |e: &crate::workload::Estimate| if too_big { e.memory_bytes } else { e.cpu_seconds };
        let costliest = scs.iter().zip(&each).max_by(|a, b| key(a.1).total_cmp(&key(b.1)));
        let largest = costliest.map_or_else(String::new, |(sc, _)| sc.largest_cost(too_big, runs));
        return Err(UsageError(format!(
            "{}: this scenario needs about {} of simulator memory ({} live keys per run, {} at once) and about {} on {} ({} operations); fragsim starts at most 80% of the {} this machine has available and at most {} without --force; the largest cost: {}; lower it (or runs, tests, counts, test_seconds), or pass --force to run it anyway",
            file.display(),
            crate::units::human(e.memory_bytes),
            count_text(e.peak_live),
            run_report::plural(parallel as u64, "run", "runs"),
            human_duration(wall),
            run_report::plural(parallel as u64, "thread", "threads"),
            count_text(e.events),
            crate::units::human(avail),
            human_duration(MAX_WALL_SECONDS),
            largest,
        )));
    }
    Ok(())
}

/// A count as people read it: digits grouped up to a billion, then in powers of ten.
fn count_text(n: f64) -> String {
    if n < 1e9 {
        crate::units::group(n.round() as u64)
    } else {
        format!("{n:.2e}")
    }
}

/// A duration as people say it: "42 s", "12 min", "3.5 h", "12 days".
fn human_duration(s: f64) -> String {
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 90.0 * 60.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 48.0 * 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.0} days", s / 86400.0)
    }
}

/// A usage problem: printed as one line, exit code 2.
struct UsageError(String);

fn preset(name: &str) -> Result<AllocatorConfig, UsageError> {
    AllocatorConfig::preset(name).ok_or_else(|| {
        UsageError(format!(
            "unknown preset '{name}' (known: {})",
            PRESET_NAMES.join(", ")
        ))
    })
}

fn size_arg(s: &str, what: &str) -> Result<u64, UsageError> {
    match parse_bytes(s) {
        Ok(0) => Err(UsageError(format!("{what} must be at least 1 byte, got '{s}'"))),
        Ok(v) => Ok(v),
        Err(e) => Err(UsageError(format!("{what}: {e}"))),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("serialisable") + "\n"
}

fn write_out(path: &std::path::Path, text: &str, what: &str) -> Result<(), UsageError> {
    write_atomic(path, text.as_bytes())
        .map_err(|e| UsageError(format!("{}: cannot write the {what}: {e}", path.display())))
}

/// The output directory: `--out`, else output/<file stem><suffix>.
fn out_dir(out: Option<PathBuf>, file: &std::path::Path, suffix: &str) -> PathBuf {
    out.unwrap_or_else(|| {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        PathBuf::from("output").join(format!("{stem}{suffix}"))
    })
}

/// Opens the staging area of an output directory, or says why it cannot be written.
fn staging(dir: &std::path::Path) -> Result<crate::report::Staging, UsageError> {
    crate::report::Staging::new(dir).map_err(|e| {
        UsageError(format!(
            "{}: cannot write to the output directory: {e}; choose a writable one with --out DIR",
            dir.display()
        ))
    })
}

fn stage_write(st: &crate::report::Staging, name: &str, text: &str) -> Result<(), UsageError> {
    st.write(name, text.as_bytes()).map_err(|e| {
        UsageError(format!(
            "{}: cannot write {name}: {e}; nothing was changed",
            st.out().display()
        ))
    })
}

/// Stages a file named outside the output directory (`--json`, `--csv`), moved into place
/// with the rest.
fn stage_elsewhere(
    st: &mut crate::report::Staging,
    path: &std::path::Path,
    text: &str,
    what: &str,
) -> Result<(), UsageError> {
    st.write_elsewhere(path, text.as_bytes()).map_err(|e| {
        UsageError(format!(
            "{}: cannot write the {what}: {e}; nothing was changed",
            path.display()
        ))
    })
}

fn commit(st: crate::report::Staging, dir: &std::path::Path) -> Result<Vec<PathBuf>, UsageError> {
    st.commit().map_err(|e| match e {
        crate::report::output::CommitError::Move(_) => UsageError(format!("{}: {e}", dir.display())),
        other => UsageError(other.to_string()),
    })
}

/// The most worker threads accepted: more than this only adds overhead on any machine.
const MAX_THREADS: usize = 256;

fn threads_arg(threads: Option<usize>) -> Result<usize, UsageError> {
    let t = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if !(1..=MAX_THREADS).contains(&t) {
        return Err(UsageError(format!(
            "--threads {t}: give 1 to {MAX_THREADS} (this machine has {} cores)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )));
    }
    Ok(t)
}

/// The Monte Carlo settings of run, report and sweep: the command line's, else the scenario's
/// runs and seed and every core.
fn mc_settings(sc: &crate::workload::ScenarioFile, a: &McArgs) -> Result<(u64, u64, usize), UsageError> {
    let runs = a.runs.unwrap_or(sc.runs);
    if runs == 0 {
        return Err(UsageError("--runs must be at least 1".into()));
    }
    Ok((runs, a.seed.unwrap_or(sc.seed), threads_arg(a.threads)?))
}

/// Runs every variant `runs` times, with a progress bar on a terminal.
fn monte_carlo(
    sc: &crate::workload::ScenarioFile,
    runs: u64,
    seed: u64,
    threads: usize,
) -> Result<montecarlo::McResult, UsageError> {
    let bar = progress_bar(runs.saturating_add(1).saturating_mul(sc.variants.len() as u64));
    let result = montecarlo::run_all(sc, runs, seed, threads, &ticker(&bar)).map_err(UsageError)?;
    bar.finish_and_clear();
    Ok(result)
}

/// Draws a run's charts into the staging directory of `out_dir`.
fn stage_charts(
    st: &crate::report::Staging,
    out_dir: &std::path::Path,
    r: &montecarlo::McResult,
) -> Result<Vec<PathBuf>, UsageError> {
    crate::report::charts::write_all(st.dir(), r)
        .map_err(|e| UsageError(format!("{}: cannot draw the charts: {e}", out_dir.display())))
}

/// A progress callback: one run done (see [`progress_bar`]).
fn ticker(bar: &indicatif::ProgressBar) -> impl Fn() + Sync + '_ {
    move || bar.inc(1)
}

/// A swept value given on the command line, parsed by the parameter's kind.
fn sweep_value(p: &crate::sim::sweep::Param, s: &str, flag: &str) -> Result<f64, UsageError> {
    use crate::sim::sweep::ParamKind;
    let bad = |why: &str| UsageError(format!("{flag} '{s}': {why} for {}", p.path));
    match p.kind {
        ParamKind::Bytes => parse_bytes(s).map(|b| b as f64).map_err(|e| bad(&e)),
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

fn key_spec(string: Option<String>, hash: Option<String>) -> Result<KeySpec, UsageError> {
    match (string, hash) {
        (Some(s), None) => Ok(KeySpec::String(size_arg(&s, "--string")?)),
        (None, Some(h)) => {
            let (f, s) = h
                .split_once(['x', 'X', '*'])
                .ok_or_else(|| UsageError(format!("--hash '{h}': expected FIELDSxSIZE, e.g. 20x1500")))?;
            let fields: u64 =
                f.trim().parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
                    UsageError(format!("--hash '{h}': '{f}' is not a number of fields >= 1"))
                })?;
            Ok(KeySpec::Hash(fields, size_arg(s.trim(), "--hash value size")?))
        }
        _ => Err(UsageError(
            "with --redis give exactly one of --string SIZE or --hash FIELDSxSIZE".into(),
        )),
    }
}

fn execute(cli: Cli) -> Result<(), UsageError> {
    match cli.command {
        Command::Sizeclasses { preset: p, json, max } => {
            let cfg = preset(&p)?;
            let max = size_arg(&max, "--max")?;
            let sc = SizeClasses::new(cfg.lg_quantum, cfg.lg_page);
            let rows = explain::class_rows(&sc, max);
            if json {
                out!("{}", to_json(&rows))?;
            } else {
                out!("{}", explain::render_classes(&cfg, &rows))?;
            }
        }
        Command::Explain {
            size,
            preset: p,
            redis: Some(prof),
            string,
            hash,
            json,
        } => {
            if size.is_some() {
                return Err(UsageError(
                    "with --redis give --string SIZE or --hash FIELDSxSIZE, not a bare SIZE".into(),
                ));
            }
            let profile = RedisProfile::load(&prof).map_err(UsageError)?;
            if p != "jemalloc-5.3" {
                return Err(UsageError(
                    "--preset does not apply with --redis: the profile brings its allocator".into(),
                ));
            }
            let cost = explain_key(&profile, key_spec(string, hash)?, 1000).map_err(UsageError)?;
            if json {
                out!("{}", to_json(&cost))?;
            } else {
                out!("{}", redis_explain::render(&cost))?;
            }
        }
        Command::Explain {
            size,
            preset: p,
            redis: None,
            string,
            hash,
            json,
        } => {
            if string.is_some() || hash.is_some() {
                return Err(UsageError("--string and --hash need --redis PROFILE".into()));
            }
            let size = size.ok_or_else(|| UsageError("give a SIZE, e.g. fragsim explain 30000".into()))?;
            let cfg = preset(&p)?;
            let size = size_arg(&size, "SIZE")?;
            let cost = explain::request_cost(&cfg, size).map_err(|e| UsageError(e.to_string()))?;
            if json {
                out!("{}", to_json(&cost))?;
            } else {
                out!("{}", explain::render_explain(&cfg, &cost))?;
            }
        }
        Command::Run {
            file,
            mc,
            json,
            csv,
            out,
            bins,
        } => {
            let sc = crate::workload::load(&file).map_err(|e| UsageError(e.to_string()))?;
            let (runs, seed, threads) = mc_settings(&sc, &mc)?;
            check_size(&file, &sc, runs, threads, mc.force)?;
            let out_dir = out_dir(out, &file, "");
            let st = staging(&out_dir)?;
            let result = monte_carlo(&sc, runs, seed, threads)?;
            let json_text = to_json(&result);
            let csv_text = run_report::timeline_csv(&result);
            stage_write(&st, "result.json", &json_text)?;
            stage_write(&st, "timeline.csv", &csv_text)?;
            let charts = stage_charts(&st, &out_dir, &result)?;
            let mut st = st;
            if let Some(path) = json {
                stage_elsewhere(&mut st, &path, &json_text, "JSON output")?;
            }
            if let Some(path) = csv {
                stage_elsewhere(&mut st, &path, &csv_text, "CSV output")?;
            }
            commit(st, &out_dir)?;
            out!("{}", run_report::render_mc(&sc, &result))?;
            outln!(
                "  Written: {}, {} and {} charts (PNG and SVG) in {}",
                out_dir.join("result.json").display(),
                out_dir.join("timeline.csv").display(),
                charts.len() / 2,
                out_dir.display()
            )?;
            if bins {
                let first = crate::sim::run(sc.first(), montecarlo::run_seed(seed, 0), |_| {});
                out!("{}", run_report::render_bins(&first))?;
            }
        }
        Command::Sweep {
            file,
            param,
            from,
            to,
            steps,
            values,
            mc,
            out,
        } => {
            let sc = crate::workload::load(&file).map_err(|e| UsageError(e.to_string()))?;
            let p = crate::sim::sweep::resolve(sc.first(), &param)
                .map_err(|e| UsageError(format!("{}: {e}", file.display())))?;
            let xs: Vec<f64> = match (values, from, to, steps) {
                (Some(vs), None, None, None) => vs
                    .iter()
                    .map(|v| sweep_value(&p, v, "--values"))
                    .collect::<Result<_, _>>()?,
                (None, Some(a), Some(b), Some(n)) => {
                    if !(1..=MAX_SWEEP_POINTS).contains(&n) {
                        return Err(UsageError(format!(
                            "--steps {n}: give 1 to {MAX_SWEEP_POINTS} points"
                        )));
                    }
                    let (a, b) = (sweep_value(&p, &a, "--from")?, sweep_value(&p, &b, "--to")?);
                    crate::sim::sweep::steps(&p, a, b, n)
                }
                _ => {
                    return Err(UsageError(
                        "give either --from A --to B --steps N, or --values V1,V2,...".into(),
                    ))
                }
            };
            if xs.is_empty() {
                return Err(UsageError("--values: give at least one value".into()));
            }
            if xs.len() as u64 > MAX_SWEEP_POINTS {
                return Err(UsageError(format!(
                    "--values: {} values; give at most {MAX_SWEEP_POINTS}",
                    xs.len()
                )));
            }
            // The curves run left to right.
            let mut xs = xs;
            xs.sort_by(|a, b| a.total_cmp(b));
            xs.dedup();
            let (runs, seed, threads) = mc_settings(&sc, &mc)?;
            // Every point must be a valid scenario: load them all before running any.
            let points = crate::sim::sweep::load_points(&file, &p, &xs).map_err(UsageError)?;
            let files: Vec<&crate::workload::ScenarioFile> = points.iter().map(|pt| &pt.file).collect();
            check_size_all(&file, &files, runs, threads, mc.force)?;
            let out_dir = out_dir(out, &file, "-sweep");
            let st = staging(&out_dir)?;
            let bar = progress_bar(
                runs.saturating_add(1)
                    .saturating_mul(sc.variants.len() as u64 * (xs.len() as u64 + 1)),
            );
            let result = crate::sim::sweep::sweep(&sc, &p, &points, runs, seed, threads, &ticker(&bar))
                .map_err(UsageError)?;
            bar.finish_and_clear();
            stage_write(&st, "sweep.json", &to_json(&result))?;
            stage_write(&st, "sweep.csv", &crate::sim::sweep::csv(&result))?;
            crate::report::charts::write_sweep(st.dir(), &result)
                .map_err(|e| UsageError(format!("{}: cannot draw the chart: {e}", out_dir.display())))?;
            commit(st, &out_dir)?;
            out!("{}", run_report::render_sweep(&result))?;
            outln!(
                "  Written: sweep.json, sweep.csv, sweep.png and sweep.svg in {}",
                out_dir.display()
            )?;
        }
        Command::Report { file, mc, out } => {
            let sc = crate::workload::load(&file).map_err(|e| UsageError(e.to_string()))?;
            let (runs, seed, threads) = mc_settings(&sc, &mc)?;
            check_size(&file, &sc, runs, threads, mc.force)?;
            let out_dir = out_dir(out, &file, "");
            let st = staging(&out_dir)?;
            let result = monte_carlo(&sc, runs, seed, threads)?;
            let verdicts = crate::sim::claims::evaluate(&sc.claims, &result);
            stage_charts(&st, &out_dir, &result)?;
            let svg = |name: &str| {
                std::fs::read_to_string(st.dir().join(format!("{name}.svg"))).unwrap_or_default()
            };
            let doc = crate::report::document::html(&sc, &result, &verdicts, &svg);
            stage_write(&st, "report.html", &doc)?;
            stage_write(
                &st,
                "report.md",
                &crate::report::document::markdown(&sc, &result, &verdicts),
            )?;
            stage_write(&st, "result.json", &to_json(&result))?;
            commit(st, &out_dir)?;
            outln!(
                "{}: {} runs per variant; report written: {} and {} (charts beside them)",
                sc.name,
                runs,
                out_dir.join("report.html").display(),
                out_dir.join("report.md").display()
            )?;
            if !verdicts.is_empty() {
                let passed = verdicts.iter().filter(|v| v.pass).count();
                outln!("  claims: {passed} of {} hold", verdicts.len())?;
            }
        }
        Command::Bench {
            events,
            live,
            workload,
            json,
        } => {
            use crate::validate::bench;
            let avail = crate::units::available_memory();
            // Traces are built up front; with the real side's live bytes, measured at 1.2 KB of
            // peak memory per event (6.2 GB for 5,000,000).
            let need_events = events as f64 * 1250.0;
            if need_events > avail * 0.8 {
                return Err(UsageError(format!(
                    "--events {events} needs about {} of memory (traces and the real side's live objects); this machine has {} available: lower --events",
                    crate::units::human(need_events),
                    crate::units::human(avail)
                )));
            }
            let need = live as f64 * crate::workload::SIM_BYTES_PER_OBJECT;
            if need > avail * 0.8 {
                return Err(UsageError(format!(
                    "--live {live} needs about {} of simulator memory ({} B per object); this machine has {} available: lower --live (0 skips the measurement)",
                    crate::units::human(need),
                    crate::workload::SIM_BYTES_PER_OBJECT,
                    crate::units::human(avail)
                )));
            }
            let names: Vec<String> =
                workload.unwrap_or_else(|| bench::WORKLOADS.iter().map(|s| s.to_string()).collect());
            let mut workloads = Vec::new();
            for n in &names {
                let w = bench::workload(n, events as usize).ok_or_else(|| {
                    UsageError(format!(
                        "--workload '{n}' is not a workload (known: {})",
                        bench::WORKLOADS.join(", ")
                    ))
                })?;
                workloads.push(w);
            }
            if let Some(path) = &json {
                // Fail before measuring, not after.
                let dir = path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                if !dir.is_dir() {
                    return Err(UsageError(format!(
                        "{}: cannot write the JSON output: {} is not a directory",
                        path.display(),
                        dir.display()
                    )));
                }
            }
            let machine = bench::machine();
            outln!("fragsim bench on {machine}")?;
            outln!(
                "  {:<12} {:>9} {:>16} {:>16} {:>8}",
                "workload",
                "events",
                "model ev/s",
                "real ev/s",
                "ratio"
            )?;
            let mut measured = Vec::new();
            for w in &workloads {
                let m = bench::measure(w, std::time::Duration::from_millis(1500));
                outln!(
                    "  {:<12} {:>9} {:>16} {:>16} {:>7.2}x",
                    m.name,
                    crate::units::group(m.events),
                    crate::units::group(m.model_events_per_sec as u64),
                    crate::units::group(m.real_events_per_sec as u64),
                    m.ratio
                )?;
                measured.push(m);
            }
            let per_object = if live > 0 {
                let (b, grown, secs) = bench::bytes_per_live_object(live).map_err(UsageError)?;
                outln!(
                    "  simulator memory: {b:.1} B per live object ({} live objects, peak growth {}, {secs:.1} s)",
                    crate::units::group(live),
                    crate::units::human(grown as f64)
                )?;
                b
            } else {
                0.0
            };
            outln!("  ratio = model / real on the same trace; the real side writes every requested byte.")?;
            if let Some(path) = json {
                let report = bench::BenchReport {
                    workloads: measured,
                    bytes_per_live_object: per_object,
                    live_objects: live,
                    machine,
                };
                write_out(&path, &to_json(&report), "JSON output")?;
            }
        }
        Command::Check { file, mc } => {
            let sc = crate::workload::load(&file).map_err(|e| UsageError(e.to_string()))?;
            if sc.claims.is_empty() {
                return Err(UsageError(format!(
                    "{}: no [[claim]] tables to check",
                    file.display()
                )));
            }
            let (runs, seed, threads) = mc_settings(&sc, &mc)?;
            check_size(&file, &sc, runs, threads, mc.force)?;
            let result = monte_carlo(&sc, runs, seed, threads)?;
            let verdicts = crate::sim::claims::evaluate(&sc.claims, &result);
            outln!(
                "{}
  {} runs per variant, seed {seed}
",
                sc.name,
                runs
            )?;
            out!("{}", crate::sim::claims::render(&verdicts))?;
            if verdicts.iter().any(|v| !v.pass) {
                return Err(UsageError(String::new()));
            }
        }
        Command::Generate {
            count,
            from,
            profile,
            out,
        } => {
            crate::redis::RedisProfile::load(&profile).map_err(|e| UsageError(format!("--profile: {e}")))?;
            const MAX_GENERATED: u64 = 10_000;
            if !(1..=MAX_GENERATED).contains(&count) {
                return Err(UsageError(format!(
                    "--count {count}: give 1 to {MAX_GENERATED} scenarios"
                )));
            }
            let st = staging(&out)?;
            for n in from..from.saturating_add(count) {
                stage_write(
                    &st,
                    &format!("generated-{n}.toml"),
                    &crate::workload::generate::scenario_toml(n, &profile),
                )?;
            }
            commit(st, &out)?;
            outln!(
                "Written: {count} scenario{} in {}",
                if count == 1 { "" } else { "s" },
                out.display()
            )?;
        }
        Command::Calibrate { redis, out } => {
            let beat = crate::redis::resp::heartbeat(&redis, "calibrate");
            let cal = live_redis::calibrate(&redis).map_err(|e| UsageError(e.to_string()))?;
            drop(beat);
            let mut text = format!(
                "# Calibrated by fragsim {} from {redis}\n",
                env!("CARGO_PKG_VERSION")
            );
            for n in &cal.notes {
                eprintln!("note: {n}");
                text += &format!("# Note: {n}\n");
            }
            text += &cal.profile.to_toml();
            match out {
                Some(path) => write_out(&path, &text, "profile")?,
                None => out!("{text}")?,
            }
        }
        Command::Validate {
            redis,
            profile,
            flush,
            scenario,
            seed,
            json,
            variant,
            tests,
            runs,
        } => {
            let file = crate::workload::load(&scenario).map_err(|e| UsageError(e.to_string()))?;
            let mut sc = match &variant {
                None => file.first().clone(),
                Some(name) => file
                    .variants
                    .iter()
                    .find(|v| &v.variant == name)
                    .cloned()
                    .ok_or_else(|| {
                        let known: Vec<&str> = file.variants.iter().map(|v| v.variant.as_str()).collect();
                        UsageError(format!("no variant '{name}' (known: {})", known.join(", ")))
                    })?,
            };
            if let Some(t) = tests {
                sc.tests = t.clamp(1, sc.tests);
            }
            if sc.redis.is_none() {
                return Err(UsageError(format!(
                    "{}: server.profile is \"none\"; validate needs a scenario with a Redis profile",
                    scenario.display()
                )));
            }
            let seed = seed.unwrap_or(sc.seed);
            let total = sc.tests;
            let _beat = crate::redis::resp::heartbeat(&redis, "validate");
            let profile = match profile {
                None => None,
                Some(name) => Some(
                    crate::redis::RedisProfile::load(&name)
                        .and_then(|p| p.with_state(sc.state))
                        .map_err(|e| UsageError(format!("--profile: {e}")))?,
                ),
            };
            let opts = live_redis::ValidateOptions { profile, flush, runs };
            let cps = live_redis::validate(&redis, &sc, seed, &opts, |t| {
                eprintln!("test {t}/{total} replayed")
            })
            .map_err(|e| UsageError(e.to_string()))?;
            out!("{}", live_redis::render_checkpoints(&cps))?;
            if let Some(path) = json {
                write_out(&path, &to_json(&cps), "JSON output")?;
            }
        }
    }
    Ok(())
}

/// Runs the command line; returns the process exit code.
/// `text` with every run of more than `max` non-blank characters cut to its first 60 and a note
/// of how many more there were (an argument echoed back in an error).
fn shorten_long_words(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let n = word.chars().count();
        if n > max {
            out.extend(word.chars().take(60));
            out.push_str(&format!("...({} more characters)", n - 60));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

pub fn main() -> ExitCode {
    // A file-size limit (`ulimit -f`) makes a write fail with an error fragsim reports, instead
    // of killing the process half-way through.
    // SAFETY: setting a signal's disposition to "ignore" has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            // clap repeats the offending argument: a 100 KB one is cut short.
            eprint!("{}", shorten_long_words(&e.render().to_string(), 200));
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // An empty message: the command ran and reported failing claims.
        Err(UsageError(msg)) if msg.is_empty() => ExitCode::from(1),
        Err(UsageError(msg)) if msg == STDOUT_CLOSED => ExitCode::SUCCESS,
        Err(UsageError(msg)) => {
            for line in shorten_long_words(&msg, 1000).lines() {
                eprintln!("error: {line}");
            }
            ExitCode::from(2)
        }
    }
}
