//! `fragsim check`: a scenario's claims against the Monte Carlo distribution.

use std::path::PathBuf;

use clap::Args;

use super::estimate::check_size;
use super::{load_scenario, monte_carlo, AppError, McOptions, McSettings, Progress};
use crate::sim::claims::ClaimResult;
use crate::workload::ScenarioFile;

/// Check the claims of a scenario file against the Monte Carlo distribution: each claim's
/// predicted value with its p5-p95 band, PASS or FAIL. Exit code 1 when a claim fails.
///
/// Example: fragsim check scenarios/seed-claims.toml
#[derive(Debug, Clone, Args)]
pub struct CheckOptions {
    /// Scenario file (TOML) with [[claim]] tables.
    pub file: PathBuf,
    #[command(flatten)]
    pub mc: McOptions,
    /// Refused with a message (not in --help): only run and sweep shard.
    #[arg(long, hide = true, value_name = "K/N", allow_hyphen_values = true)]
    pub shard: Option<String>,
}

/// The verdict on every claim.
pub struct CheckOutcome {
    pub scenario: ScenarioFile,
    pub mc: McSettings,
    pub verdicts: Vec<ClaimResult>,
}

/// Runs the scenario and judges its claims; a scenario without claims is an error.
pub fn check(o: &CheckOptions, progress: &dyn Progress) -> Result<CheckOutcome, AppError> {
    super::shard::refuse_shard("check", o.shard.as_deref())?;
    let sc = load_scenario(&o.file)?;
    if sc.claims.is_empty() {
        return Err(AppError::Usage(format!(
            "{}: no [[claim]] tables to check",
            o.file.display()
        )));
    }
    let mc = o.mc.settings(&sc)?;
    check_size(&o.file, &sc, mc, o.mc.force)?;
    let result = monte_carlo(&sc, mc, progress)?;
    let verdicts = crate::sim::claims::evaluate(&sc.claims, &result);
    Ok(CheckOutcome {
        scenario: sc,
        mc,
        verdicts,
    })
}

impl CheckOutcome {
    /// Whether every claim holds.
    pub fn all_hold(&self) -> bool {
        self.verdicts.iter().all(|v| v.pass)
    }

    /// The text `fragsim check` prints: each claim, PASS or FAIL, with its band.
    pub fn text(&self) -> String {
        format!(
            "{}\n  {} runs per variant, seed {}\n\n{}",
            self.scenario.name,
            self.mc.runs,
            self.mc.seed,
            crate::sim::claims::render(&self.verdicts)
        )
    }
}
