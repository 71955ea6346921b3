//! Speed and scale: the same allocation traces replayed through the model and through the real
//! jemalloc (a dedicated arena, every requested byte written as the application would), timed
//! side by side, and the simulator's own memory per live simulated object.
//!
//! Workloads: `small-churn` (8 B to 14 KiB) and `large-churn` (16 KiB to 4 MiB) random churn;
//! `seed-30k` and `seed-2k` (the seed suite's Redis heap: every zmalloc and zfree the Redis
//! model makes, FLUSHALL's purges included); `cache` (the shipped cache scenario: sessions with
//! TTLs expiring, hashes, a script). An event is one malloc, free or purge.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::real_jemalloc::RealArena;
use crate::jemalloc::trace::{churn, SizeMix, TraceOp};
use crate::jemalloc::{AllocatorConfig, Arena, ArenaOptions, ObjId};
use crate::units::proc_kib;
use crate::workload::ScenarioError;

const SEED_SUITE: &str = include_str!("../../scenarios/seed-suite.toml");
const CACHE: &str = include_str!("../../scenarios/cache.toml");

/// Why [`bytes_per_live_object`] could not measure.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The allocator-only scenario it runs is not valid (a count of live objects the scenario
    /// format refuses).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// `/proc/self/status` cannot be read or lacks the field (`VmRSS`, `VmHWM`): not Linux.
    #[error("no {0} in /proc/self/status")]
    NoProcField(&'static str),
}

/// One workload: a name and its trace.
pub struct Workload {
    pub name: &'static str,
    pub trace: Vec<TraceOp>,
}

fn redis_workload(text: &str, file: &str, variant: usize, events: usize) -> Vec<TraceOp> {
    let f = crate::workload::parse(text, file).expect("shipped scenarios are valid");
    crate::sim::redis_trace(&f.variants[variant], f.seed, events)
}

/// The named workload with `events` events, or `None` for an unknown name.
pub fn workload(name: &str, events: usize) -> Option<Workload> {
    let trace = match name {
        "small-churn" => churn(1, events, SizeMix::Small, false),
        // Each event writes up to 4 MiB on the real side: a tenth of the events.
        "large-churn" => churn(1, (events / 10).max(1), SizeMix::Large, false),
        "seed-30k" => redis_workload(SEED_SUITE, "seed-suite.toml", 0, events),
        "seed-2k" => redis_workload(SEED_SUITE, "seed-suite.toml", 1, events),
        "cache" => redis_workload(CACHE, "cache.toml", 0, events),
        _ => return None,
    };
    let name = WORKLOADS.iter().find(|w| **w == name).copied()?;
    Some(Workload { name, trace })
}

/// Every workload's name.
pub const WORKLOADS: [&str; 5] = ["small-churn", "large-churn", "seed-30k", "seed-2k", "cache"];

/// The allocator configuration both sides run: jemalloc 5.3 defaults without the thread cache
/// and with decay off (`-1`), so that the real arena's wall-clock decay does not differ from the
/// model's simulated clock.
pub fn config() -> AllocatorConfig {
    let mut cfg = AllocatorConfig::preset("jemalloc-5.3").expect("preset");
    cfg.tcache.enabled = false;
    cfg.dirty_decay_ms = -1;
    cfg.muzzy_decay_ms = -1;
    cfg
}

/// Replays `trace` through the model (objects written in full, as [`Arena::malloc`] records);
/// returns `stats.active` at the end.
pub fn replay_model(cfg: &AllocatorConfig, trace: &[TraceOp]) -> u64 {
    let mut a = Arena::new(
        cfg,
        ArenaOptions {
            dedicated: true,
            seed: 1,
        },
    );
    let mut ids = vec![ObjId::MAX; trace.len()];
    for (i, op) in trace.iter().enumerate() {
        match *op {
            TraceOp::Alloc { size } => ids[i] = a.malloc(size).expect("modelable size"),
            TraceOp::Free { op } => a.free(ids[op as usize]),
            TraceOp::Purge => a.purge(),
            TraceOp::Realloc { op, size } => {
                let id = a.realloc(ids[op as usize], size).expect("modelable size");
                a.write(id, 0, size);
                ids[i] = id;
            }
        }
    }
    a.stats().active
}

/// Replays `trace` through a fresh dedicated real arena, writing every requested byte after
/// each malloc; frees what is left at the end. Returns the bytes written.
pub fn replay_real(trace: &[TraceOp]) -> u64 {
    let real = RealArena::create(-1, -1).expect("arenas.create");
    let mut ptrs = vec![std::ptr::null_mut(); trace.len()];
    let mut written = 0u64;
    for (i, op) in trace.iter().enumerate() {
        match *op {
            TraceOp::Alloc { size } => {
                let p = real.malloc(size as usize);
                assert!(!p.is_null(), "mallocx({size}) failed");
                // SAFETY: p points to at least `size` writable bytes.
                unsafe { std::ptr::write_bytes(p, b'v', size as usize) };
                written += size;
                ptrs[i] = p;
            }
            // SAFETY: each pointer is freed once, in the arena it came from.
            TraceOp::Free { op } => unsafe {
                real.free(std::mem::replace(&mut ptrs[op as usize], std::ptr::null_mut()))
            },
            TraceOp::Purge => real.purge().expect("arena.purge"),
            TraceOp::Realloc { op, size } => {
                let old = std::mem::replace(&mut ptrs[op as usize], std::ptr::null_mut());
                // SAFETY: a live pointer of this arena, replaced by the result.
                let p = unsafe { real.realloc(old, size as usize) };
                assert!(!p.is_null(), "rallocx({size}) failed");
                // SAFETY: p points to at least `size` writable bytes.
                unsafe { std::ptr::write_bytes(p, b'v', size as usize) };
                written += size;
                ptrs[i] = p;
            }
        }
    }
    for p in ptrs.into_iter().filter(|p| !p.is_null()) {
        // SAFETY: still-live pointers of this arena.
        unsafe { real.free(p) };
    }
    written
}

/// One workload's measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    pub name: String,
    pub events: u64,
    /// Trace events per second through the model (best of the repetitions).
    pub model_events_per_sec: f64,
    /// Trace events per second through the real jemalloc, bytes written.
    pub real_events_per_sec: f64,
    /// model / real: above 1, the model is faster.
    pub ratio: f64,
}

/// Times `model` and `real` alternately until each has run `min_reps` times and `budget` has
/// passed (at most 50 repetitions); returns each one's best time.
fn best_of(
    budget: Duration,
    min_reps: u32,
    mut model: impl FnMut(),
    mut real: impl FnMut(),
) -> (Duration, Duration) {
    let start = Instant::now();
    let (mut bm, mut br) = (Duration::MAX, Duration::MAX);
    let mut reps = 0;
    while reps < min_reps || (start.elapsed() < budget && reps < 50) {
        let t = Instant::now();
        model();
        bm = bm.min(t.elapsed());
        let t = Instant::now();
        real();
        br = br.min(t.elapsed());
        reps += 1;
    }
    (bm, br)
}

/// Measures one workload: the model and the real allocator on the same trace, side by side.
pub fn measure(w: &Workload, budget: Duration) -> Measurement {
    let cfg = config();
    let (tm, tr) = best_of(
        budget,
        2,
        || {
            std::hint::black_box(replay_model(&cfg, &w.trace));
        },
        || {
            std::hint::black_box(replay_real(&w.trace));
        },
    );
    let n = w.trace.len() as f64;
    let (m, r) = (n / tm.as_secs_f64(), n / tr.as_secs_f64());
    Measurement {
        name: w.name.to_string(),
        events: w.trace.len() as u64,
        model_events_per_sec: m,
        real_events_per_sec: r,
        ratio: m / r,
    }
}

/// The simulator's memory per live simulated object: an allocator-only scenario holding `live`
/// objects (sizes 16-512 B, uniform; one test, nothing freed) is run with [`crate::sim::run`],
/// and the process's peak RSS growth (`VmHWM`, reset first through `/proc/self/clear_refs`) is
/// divided by `live`. Linux only (it reads `/proc/self/status`). Returns (bytes per object, peak growth in bytes, seconds the run took).
/// Fails when the scenario is invalid ([`BenchError::Scenario`]) or /proc cannot be read
/// ([`BenchError::NoProcField`]).
pub fn bytes_per_live_object(live: u64) -> Result<(f64, u64, f64), BenchError> {
    let text = format!(
        "name = \"{live} live objects\"\nruns = 1\n[server]\nprofile = \"none\"\n[workload]\ntests = 1\n\
         [[workload.keys]]\nname = \"objects\"\ncount = {live}\nvalue_size = {{ dist = \"uniform\", min = 16, max = 512 }}\n"
    );
    let f = crate::workload::parse(&text, "bench")?;
    let (grown, secs) = peak_growth(|| {
        let r = crate::sim::run(f.first(), 1, |_| {});
        assert_eq!(r.timeline[0].keys, live);
    })?;
    Ok((grown as f64 / live as f64, grown, secs))
}

/// Runs `f` and returns the process's peak RSS growth over it (bytes) and the seconds it took:
/// the memory freed before is given back first, the peak (`VmHWM`) reset to the current RSS
/// through `/proc/self/clear_refs`. Where the kernel refuses the reset, the earlier peak stands
/// (far below a measurement's in `fragsim bench`, which measures first what it can). Linux only.
pub fn peak_growth(f: impl FnOnce()) -> Result<(u64, f64), BenchError> {
    release_free_memory();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = proc_kib("/proc/self/status", "VmRSS").ok_or(BenchError::NoProcField("VmRSS"))?;
    let t = Instant::now();
    f();
    let secs = t.elapsed().as_secs_f64();
    let peak = proc_kib("/proc/self/status", "VmHWM").ok_or(BenchError::NoProcField("VmHWM"))?;
    Ok((peak.saturating_sub(before) * 1024, secs))
}

/// Gives the memory the process has freed back to the operating system (glibc's
/// `malloc_trim`), so that a measurement of RSS growth that follows is not hidden by the reuse
/// of memory an earlier measurement freed.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What `fragsim bench --json` writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    pub workloads: Vec<Measurement>,
    /// Simulator bytes per live simulated object (see [`bytes_per_live_object`]).
    pub bytes_per_live_object: f64,
    pub live_objects: u64,
    /// The Redis workloads (see [`super::redis_bench`]).
    pub redis: Vec<super::redis_bench::RedisMeasurement>,
    /// Simulator bytes per live string key (see [`super::redis_bench::bytes_per_live_key`]).
    pub bytes_per_live_key: f64,
    pub live_keys: u64,
    pub machine: String,
}

/// A line about this machine: CPU model and core count, memory.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = proc_kib("/proc/meminfo", "MemTotal").map_or(String::new(), |kb| {
        format!(", {:.0} GiB", kb as f64 / (1024.0 * 1024.0))
    });
    format!("{cpu}, {cores} cores{mem}")
}

/// The first line `fragsim bench` prints: the machine.
pub fn render_machine(machine: &str) -> String {
    format!("fragsim bench on {machine}\n")
}

/// The allocator table's heading line.
pub fn render_table_header() -> String {
    format!(
        "  {:<12} {:>9} {:>16} {:>16} {:>8}\n",
        "workload", "events", "model ev/s", "real ev/s", "ratio"
    )
}

/// One workload's line of the table.
pub fn render_row(m: &Measurement) -> String {
    format!(
        "  {:<12} {:>9} {:>16} {:>16} {:>7.2}x\n",
        m.name,
        crate::units::group(m.events),
        crate::units::group(m.model_events_per_sec as u64),
        crate::units::group(m.real_events_per_sec as u64),
        m.ratio
    )
}

/// The line on the simulator's memory per live object: `bytes` per object over `live` objects,
/// the peak growth `grown` and the `secs` it took.
pub fn render_memory(bytes: f64, live: u64, grown: u64, secs: f64) -> String {
    format!(
        "  simulator memory: {bytes:.1} B per live object ({} live objects, peak growth {}, {secs:.1} s)\n",
        crate::units::group(live),
        crate::units::human(grown as f64)
    )
}

/// The table's last line.
pub const FOOTER: &str =
    "  ratio = model / real on the same work: for allocator workloads the same trace (the real side \
writes every requested byte), for Redis workloads the same commands (the live server's pipelined).\n";
