//! What `validate` returns and prints: model and server after each test ([`Checkpoint`]), the
//! fields compared ([`COMPARED`]) and the table of their errors.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::redis::info::Field;
use crate::redis::InfoMemory;
use crate::validate::lockstep::Band;

/// Model and server after one test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checkpoint {
    /// The test just finished, from 1.
    pub test: u64,
    /// The model run with the replay's seed, in lockstep with the server.
    pub model: InfoMemory,
    /// The server's `INFO memory`, measured as every measurement is (see [`super::measure`]).
    pub real: InfoMemory,
    /// With `runs > 1`: per compared field, the model's p5 / p50 / p95 over runs that differ
    /// only in what the server draws at random when it starts (see
    /// [`Lockstep`](crate::validate::lockstep::Lockstep)).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub band: BTreeMap<String, Band>,
}

/// Relative error of the model for one INFO field: `(model - real) / real`.
pub fn rel_err(model: f64, real: f64) -> f64 {
    if real == 0.0 {
        if model == 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        (model - real) / real
    }
}

/// The fields `validate` reports.
pub const COMPARED: &[Field] = &[
    Field::UsedMemory,
    Field::UsedMemoryPeak,
    Field::UsedMemoryOverhead,
    Field::UsedMemoryDataset,
    Field::AllocatorAllocated,
    Field::AllocatorActive,
    Field::AllocatorResident,
    Field::UsedMemoryRss,
    Field::AllocatorFragRatio,
    Field::MemFragmentationRatio,
    Field::UsedMemoryScriptsEval,
];

/// The table `validate` prints: per checkpoint, each compared field's model, real and error;
/// with a band (`--runs`), the model's p5 and p95 and whether the real figure lies between them.
pub fn render_checkpoints(cps: &[Checkpoint]) -> String {
    let banded = cps.iter().any(|c| !c.band.is_empty());
    let mut o = format!(
        "{:>5}  {:<26} {:>14} {:>14} {:>9}",
        "test", "field", "model", "real", "error"
    );
    if banded {
        o += &format!(" {:>14} {:>14}  {}", "model p5", "model p95", "real in band");
    }
    o.push('\n');
    let fmt = |v: f64| {
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        }
    };
    for c in cps {
        for f in COMPARED {
            let (m, r) = (c.model.get(*f), c.real.get(*f));
            let e = rel_err(m, r);
            let shown = if e.is_finite() {
                format!("{:+.2}%", e * 100.0)
            } else {
                "-".into()
            };
            o += &format!(
                "{:>5}  {:<26} {:>14} {:>14} {:>9}",
                c.test,
                f,
                fmt(m),
                fmt(r),
                shown
            );
            if let Some(b) = c.band.get(f.name()) {
                let inside = if (b.p5..=b.p95).contains(&r) { "yes" } else { "no" };
                o += &format!(" {:>14} {:>14}  {}", fmt(b.p5), fmt(b.p95), inside);
            }
            o.push('\n');
        }
    }
    o
}
