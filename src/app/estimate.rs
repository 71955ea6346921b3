//! The refusal of work too large for this machine: the size estimate of every scenario a command
//! would run ([`crate::workload::Estimate`]) against the memory available and an hour of wall
//! time, unless forced.

use std::path::Path;

use super::progress::human_duration;
use super::{AppError, McSettings};
use crate::units::{group, human, plural};
use crate::workload::{Estimate, ScenarioFile};

/// Longest run, in estimated seconds of wall time, started without `--force`.
const MAX_WALL_SECONDS: f64 = 3600.0;

/// Refuses a scenario whose work would exceed this machine, unless `force`.
pub fn check_size(file: &Path, sc: &ScenarioFile, mc: McSettings, force: bool) -> Result<(), AppError> {
    check_size_all(file, &[sc], mc, force)
}

/// [`check_size`] over several scenarios run one after the other (a sweep's points): their
/// time adds up, their memory does not.
pub fn check_size_all(
    file: &Path,
    scs: &[&ScenarioFile],
    mc: McSettings,
    force: bool,
) -> Result<(), AppError> {
    let (runs, threads) = (mc.runs, mc.threads);
    let mut e = Estimate {
        events: 0.0,
        peak_live: 0.0,
        memory_bytes: 0.0,
        cpu_seconds: 0.0,
    };
    let each: Vec<Estimate> = scs.iter().map(|sc| sc.estimate(runs, threads)).collect();
    for x in &each {
        e.events += x.events;
        e.cpu_seconds += x.cpu_seconds;
        e.peak_live = e.peak_live.max(x.peak_live);
        e.memory_bytes = e.memory_bytes.max(x.memory_bytes);
    }
    let avail = crate::units::available_memory();
    let parallel = threads.min(runs as usize).max(1);
    let wall = e.cpu_seconds / parallel as f64;
    let too_big = e.memory_bytes > avail * 0.8;
    if !force && (too_big || wall > MAX_WALL_SECONDS) {
        // The costliest scenario (a sweep's points differ) names its costliest field.
        let key = |e: &Estimate| if too_big { e.memory_bytes } else { e.cpu_seconds };
        let costliest = scs.iter().zip(&each).max_by(|a, b| key(a.1).total_cmp(&key(b.1)));
        let largest = costliest.map_or_else(String::new, |(sc, _)| sc.largest_cost(too_big, runs));
        return Err(AppError::TooBig(format!(
            "{}: this scenario needs about {} of simulator memory ({} live keys per run, {} at once) and about {} on {} ({} operations); fragsim starts at most 80% of the {} this machine has available and at most {} without --force; the largest cost: {}; lower it (or runs, tests, counts, test_seconds), or pass --force to run it anyway",
            file.display(),
            human(e.memory_bytes),
            count_text(e.peak_live),
            plural(parallel as u64, "run", "runs"),
            human_duration(wall),
            plural(parallel as u64, "thread", "threads"),
            count_text(e.events),
            human(avail),
            human_duration(MAX_WALL_SECONDS),
            largest,
        )));
    }
    Ok(())
}

/// A count as people read it: digits grouped up to a billion, then in powers of ten.
fn count_text(n: f64) -> String {
    if n < 1e9 {
        group(n.round() as u64)
    } else {
        format!("{n:.2e}")
    }
}
