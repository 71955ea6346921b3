//! `fragsim bench`: the simulator's speed against the real jemalloc, and its memory per live
//! simulated object.

use std::path::PathBuf;

use clap::Args;

use super::{check_writable, to_json, write_out, AppError};
use crate::units::{available_memory, human};
use crate::validate::bench;

/// Measure the simulator: events per second through the model and through the real jemalloc
/// on the same allocation traces (side by side, every byte written on the real side), and
/// the simulator's memory per live simulated object. Takes well under a minute.
///
/// Workloads: small-churn (8 B-14 KiB), large-churn (16 KiB-4 MiB), seed-30k and seed-2k
/// (the seed suite's Redis heap), cache (the cache scenario's heap, TTLs expiring).
/// Example: fragsim bench --json output/bench.json
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
    /// Only these workloads (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub workload: Option<Vec<String>>,
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
    let need = o.live as f64 * crate::workload::SIM_BYTES_PER_OBJECT;
    if need > avail * 0.8 {
        return Err(AppError::TooBig(format!(
            "--live {} needs about {} of simulator memory ({} B per object); this machine has {} available: lower --live (0 skips the measurement)",
            o.live,
            human(need),
            crate::workload::SIM_BYTES_PER_OBJECT,
            human(avail)
        )));
    }
    let names: Vec<String> = o
        .workload
        .clone()
        .unwrap_or_else(|| bench::WORKLOADS.iter().map(|s| s.to_string()).collect());
    let mut workloads = Vec::new();
    for n in &names {
        let w = bench::workload(n, o.events as usize).ok_or_else(|| {
            AppError::Usage(format!(
                "--workload '{n}' is not a workload (known: {})",
                bench::WORKLOADS.join(", ")
            ))
        })?;
        workloads.push(w);
    }
    if let Some(path) = &o.json {
        check_writable(path, "JSON output")?;
    }
    let machine = bench::machine();
    emit(&bench::render_header(&machine))?;
    let mut measured = Vec::new();
    for w in &workloads {
        let m = bench::measure(w, std::time::Duration::from_millis(1500));
        emit(&bench::render_row(&m))?;
        measured.push(m);
    }
    let per_object = if o.live > 0 {
        let (b, grown, secs) = bench::bytes_per_live_object(o.live)?;
        emit(&bench::render_memory(b, o.live, grown, secs))?;
        b
    } else {
        0.0
    };
    emit(bench::FOOTER)?;
    let report = bench::BenchReport {
        workloads: measured,
        bytes_per_live_object: per_object,
        live_objects: o.live,
        machine,
    };
    if let Some(path) = &o.json {
        write_out(path, &to_json(&report), "JSON output")?;
    }
    Ok(report)
}
