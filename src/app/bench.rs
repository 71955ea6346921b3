//! `fragsim bench`: the simulator's speed against the real jemalloc, and its memory per live
//! simulated object.

use std::path::PathBuf;

use clap::Args;

use super::{check_writable, to_json, write_out, AppError};
use crate::units::{available_memory, human};
use crate::validate::bench;
use crate::validate::redis_bench;

/// Measure the simulator: events per second through the allocator model and through the real
/// jemalloc on the same allocation traces (side by side, every byte written on the real side);
/// Redis commands per second through the Redis model (and, with --redis, through a live server
/// on the same commands, pipelined); the simulator's memory per live object and per live
/// string key. Takes about a minute.
///
/// Allocator workloads: small-churn (8 B-14 KiB), large-churn (16 KiB-4 MiB), seed-30k and
/// seed-2k (the seed suite's Redis heap), cache (the cache scenario's heap, TTLs expiring).
/// Redis workloads: redis-set-10b (SET of 10-B values), redis-seed-30k (30 KB values, FLUSHALL
/// before each test), redis-hash (HSET of 4 x 16 B), redis-churn (TTLs and DEL).
/// Examples: fragsim bench --json output/bench.json
///           fragsim bench --workload redis-set-10b,redis-hash --redis 127.0.0.1:6379
#[derive(Debug, Clone, Args)]
pub struct BenchOptions {
    /// Events per workload trace (mallocs, frees and purges), 1 to 10,000,000 (5,000,000
    /// took 1 min and 6 GB here).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub events: u64,
    /// Live objects for the memory measurement (0 skips it); at about 100 B of simulator
    /// memory each, as many as 80% of the available memory holds.
    #[arg(long, default_value_t = 50_000_000)]
    pub live: u64,
    /// Keys (about as many commands) per Redis workload, 1 to 100,000,000.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub keys: u64,
    /// Live string keys for the memory measurement per key (0 skips it); the simulator needs
    /// under 100 B each.
    #[arg(long, default_value_t = 10_000_000)]
    pub live_keys: u64,
    /// Only these workloads (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub workload: Option<Vec<String>>,
    /// A live Redis server, holding no keys, to run the Redis workloads' commands on as well
    /// (pipelined, 1,000 at a time) for its own commands per second; it is emptied after each
    /// (FLUSHALL SYNC). A server you can empty, not a production one.
    #[arg(long, value_name = "HOST:PORT")]
    pub redis: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

/// Measures each workload, handing each line of the table to `emit` as soon as it is known
/// (a measurement takes seconds), and writes the JSON report when asked.
pub fn bench(
    o: &BenchOptions,
    emit: &mut dyn FnMut(&str) -> Result<(), AppError>,
) -> Result<bench::BenchReport, AppError> {
    let avail = available_memory();
    // Traces are built up front; with the real side's live bytes, measured at 1.2 KB of peak
    // memory per event (6.2 GB for 5,000,000).
    let need_events = o.events as f64 * 1250.0;
    if need_events > avail * 0.8 {
        return Err(AppError::TooBig(format!(
            "--events {} needs about {} of memory (traces and the real side's live objects); this machine has {} available: lower --events",
            o.events,
            human(need_events),
            human(avail)
        )));
    }
    // The memory measurements: the simulator's own cost of what they hold.
    let measurements = [
        ("--live", o.live, crate::workload::SIM_BYTES_PER_OBJECT, "object"),
        (
            "--live-keys",
            o.live_keys,
            crate::workload::SIM_BYTES_PER_SMALL_KEY,
            "key",
        ),
    ];
    for (flag, n, per, what) in measurements {
        let need = n as f64 * per;
        if need > avail * 0.8 {
            return Err(AppError::TooBig(format!(
                "{flag} {n} needs about {} of simulator memory ({per} B per {what}); this machine has {} available: lower {flag} (0 skips the measurement)",
                human(need),
                human(avail)
            )));
        }
    }
    let names: Vec<String> = o.workload.clone().unwrap_or_else(|| {
        bench::WORKLOADS
            .iter()
            .chain(redis_bench::REDIS_WORKLOADS.iter())
            .map(|s| s.to_string())
            .collect()
    });
    let mut workloads = Vec::new();
    let mut redis_workloads = Vec::new();
    for n in &names {
        if let Some(w) = bench::workload(n, o.events as usize) {
            workloads.push(w);
        } else if let Some(w) = redis_bench::redis_workload(n, o.keys) {
            redis_workloads.push(w);
        } else {
            return Err(AppError::Usage(format!(
                "--workload '{n}' is not a workload (known: {}, {})",
                bench::WORKLOADS.join(", "),
                redis_bench::REDIS_WORKLOADS.join(", ")
            )));
        }
    }
    if let Some(path) = &o.json {
        check_writable(path, "JSON output")?;
    }
    let machine = bench::machine();
    emit(&bench::render_machine(&machine))?;
    if !workloads.is_empty() {
        emit(&bench::render_table_header())?;
    }
    let mut measured = Vec::new();
    for w in &workloads {
        let m = bench::measure(w, std::time::Duration::from_millis(1500));
        emit(&bench::render_row(&m))?;
        measured.push(m);
    }
    let mut redis_measured = Vec::new();
    if !redis_workloads.is_empty() {
        emit(&redis_bench::render_redis_header())?;
    }
    for w in &redis_workloads {
        let m = redis_bench::measure_redis(w, std::time::Duration::from_millis(1500), o.redis.as_deref())
            .map_err(AppError::Live)?;
        emit(&redis_bench::render_redis_row(&m))?;
        redis_measured.push(m);
    }
    let per_object = if o.live > 0 {
        let (b, grown, secs) = bench::bytes_per_live_object(o.live)?;
        emit(&bench::render_memory(b, o.live, grown, secs))?;
        b
    } else {
        0.0
    };
    let per_key = if o.live_keys > 0 {
        let (b, grown, secs) = redis_bench::bytes_per_live_key(o.live_keys)?;
        emit(&redis_bench::render_key_memory(b, o.live_keys, grown, secs))?;
        b
    } else {
        0.0
    };
    emit(bench::FOOTER)?;
    let report = bench::BenchReport {
        workloads: measured,
        bytes_per_live_object: per_object,
        live_objects: o.live,
        redis: redis_measured,
        bytes_per_live_key: per_key,
        live_keys: o.live_keys,
        machine,
    };
    if let Some(path) = &o.json {
        write_out(path, &to_json(&report), "JSON output")?;
    }
    Ok(report)
}
