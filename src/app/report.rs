//! `fragsim report`: the design-review report of a scenario, as HTML (charts inlined) and
//! Markdown (charts beside it).

use std::path::PathBuf;

use clap::Args;

use super::estimate::check_size;
use super::{load_scenario, monte_carlo, out_dir, to_json, AppError, McOptions, Outputs, Progress};
use crate::sim::claims::ClaimResult;
use crate::workload::ScenarioFile;

/// Write the design-review report of a scenario: report.html (self-contained, charts inlined
/// as SVG) and report.md (for pull requests, charts beside it), with the scenario in words,
/// the summary table, the charts, where the bytes go, the claims and the model's limits.
///
/// Example: fragsim report scenarios/seed-claims.toml
#[derive(Debug, Clone, Args)]
pub struct ReportOptions {
    /// Scenario file (TOML).
    pub file: PathBuf,
    #[command(flatten)]
    pub mc: McOptions,
    /// Refused with a message (not in --help): only run and sweep shard.
    #[arg(long, hide = true, value_name = "K/N", allow_hyphen_values = true)]
    pub shard: Option<String>,
    /// Output directory (default: output/<scenario file name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Add the section on memory by key pattern: each key group's part of used_memory,
    /// allocator_active and RSS, as a chart (patterns.svg) and a table per variant, and with
    /// variants each pattern's change from the first.
    #[arg(long)]
    pub by_pattern: bool,
}

/// What `report` did.
pub struct ReportOutcome {
    pub scenario: ScenarioFile,
    /// Runs per variant.
    pub runs: u64,
    /// The verdict on each claim of the scenario.
    pub verdicts: Vec<ClaimResult>,
    /// The output directory.
    pub out_dir: PathBuf,
}

/// Runs the scenario and writes report.html, report.md, result.json and the charts (all or
/// none).
pub fn report(o: &ReportOptions, progress: &dyn Progress) -> Result<ReportOutcome, AppError> {
    super::shard::refuse_shard("report", o.shard.as_deref())?;
    let mut sc = load_scenario(&o.file)?;
    if o.by_pattern {
        sc = sc.with_by_pattern();
    }
    let mc = o.mc.settings(&sc)?;
    check_size(&o.file, &sc, mc, o.mc.force)?;
    let out_dir = out_dir(o.out.as_deref(), &o.file, "");
    let out = Outputs::new(&out_dir)?;
    let result = monte_carlo(&sc, mc, progress)?;
    let verdicts = crate::sim::claims::evaluate(&sc.claims, &result);
    let by_pattern = o.by_pattern && sc.first().redis.is_some();
    let charts = super::draw_charts(&result, by_pattern, &out_dir)?;
    out.charts(&charts)?;
    let doc = crate::report::document::html(&sc, &result, &verdicts, &charts, by_pattern);
    out.write("report.html", doc.as_bytes())?;
    let md = crate::report::document::markdown(&sc, &result, &verdicts, by_pattern);
    out.write("report.md", md.as_bytes())?;
    out.write("result.json", to_json(&result).as_bytes())?;
    out.commit()?;
    Ok(ReportOutcome {
        scenario: sc,
        runs: mc.runs,
        verdicts,
        out_dir,
    })
}

impl ReportOutcome {
    /// The text `fragsim report` prints: where the report went, and how many claims hold.
    pub fn text(&self) -> String {
        let mut o = format!(
            "{}: {} runs per variant; report written: {} and {} (charts beside them)\n",
            self.scenario.name,
            self.runs,
            self.out_dir.join("report.html").display(),
            self.out_dir.join("report.md").display()
        );
        if !self.verdicts.is_empty() {
            let passed = self.verdicts.iter().filter(|v| v.pass).count();
            o += &format!("  claims: {passed} of {} hold\n", self.verdicts.len());
        }
        o
    }
}
