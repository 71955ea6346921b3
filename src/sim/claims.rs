//! Claims checked against the Monte Carlo distribution: each claim's figure, its p5-p95 band,
//! and whether the claim holds at the stated statistic.

use serde::Serialize;

use super::montecarlo::{McResult, RunFigures, Stat, VariantResult};
use crate::redis::info::Field;
use crate::workload::{Claim, ClaimSubject, Metric, OomRule, Phase, Statistic};

/// The verdict on one claim.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimResult {
    pub text: String,
    pub metric: Metric,
    /// The claim's statistic of the metric over the runs (a probability for OOM metrics).
    pub predicted: f64,
    /// p5 and p95 of the metric over the runs.
    pub band: (f64, f64),
    pub pass: bool,
    /// What the claim requires, in words.
    pub expected: String,
    /// Whose figure it is: `variant "30 KB"` or `"2 KB" / "30 KB"`.
    pub subject: String,
    /// The figure in words (`peak used_memory`, `mem_fragmentation_ratio at peak RSS`).
    pub figure: String,
    /// `predicted` and the band as `fragsim check` prints them (bytes with units, ratios with
    /// two decimals, probabilities as percentages): every report shows these.
    pub predicted_text: String,
    pub band_text: (String, String),
    /// A warning about what the verdict means, when the claim's premise does not hold: a claim
    /// about one variant that holds just as well for every other variant (an OOM "eliminated"
    /// by a change when the other variants had none either).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn variant<'a>(r: &'a McResult, name: &str) -> &'a VariantResult {
    r.variants
        .iter()
        .find(|v| v.name == name)
        .expect("claims name validated variants")
}

fn figure(f: &RunFigures, phase: Phase, field: Field) -> f64 {
    let info = match phase {
        Phase::End => &f.end,
        Phase::MaxOverTime => &f.max_over_time,
        Phase::Peak => &f.peak,
    };
    info.get(field)
}

fn pick(s: &Stat, stat: Statistic) -> f64 {
    match stat {
        Statistic::P5 => s.p5,
        Statistic::P50 => s.p50,
        Statistic::P95 => s.p95,
        Statistic::Min => s.min,
        Statistic::Max => s.max,
        Statistic::Mean | Statistic::Probability => s.mean,
    }
}

/// A claim's figure for display: a percentage for OOM probabilities, two decimals for ratios,
/// a byte count otherwise.
pub fn fmt_value(c: &Claim, v: f64) -> String {
    if matches!(c.metric, Metric::Oom(_)) {
        format!("{:.0}%", v * 100.0)
    } else if matches!(c.subject, ClaimSubject::Ratio(..)) || !c.metric.is_bytes() {
        format!("{v:.2}")
    } else {
        crate::units::human(v)
    }
}

/// The claim's figure in every run of its subject.
fn values_of(c: &Claim, subject: &ClaimSubject, r: &McResult) -> Vec<f64> {
    let field = match c.metric {
        Metric::Info(f) => f,
        Metric::Oom(rule) => {
            let ClaimSubject::Variant(v) = subject else {
                unreachable!("a ratio claim names a figure, not an OOM probability (checked when the scenario is read)")
            };
            return variant(r, v)
                .per_run
                .iter()
                .map(|f| {
                    let hit = match rule {
                        OomRule::Maxmemory => f.maxmemory_hit,
                        OomRule::MemoryLimit => f.memory_limit_hit,
                    };
                    if hit {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect();
        }
    };
    match subject {
        ClaimSubject::Variant(v) => variant(r, v)
            .per_run
            .iter()
            .map(|f| figure(f, c.phase, field))
            .collect(),
        ClaimSubject::Ratio(a, b) => variant(r, a)
            .per_run
            .iter()
            .zip(&variant(r, b).per_run)
            .map(|(x, y)| {
                let d = figure(y, c.phase, field);
                if d == 0.0 {
                    f64::INFINITY
                } else {
                    figure(x, c.phase, field) / d
                }
            })
            .collect(),
    }
}

/// The claim's statistic over `values`, and the distribution.
fn statistic(c: &Claim, values: &[f64]) -> (f64, Stat) {
    let s = Stat::of(values);
    (pick(&s, c.stat), s)
}

/// Evaluates every claim on the result of `run_all`.
pub fn evaluate(claims: &[Claim], r: &McResult) -> Vec<ClaimResult> {
    claims
        .iter()
        .map(|c| {
            let (predicted, s) = statistic(c, &values_of(c, &c.subject, r));
            let pass = c.compare.holds(predicted);
            // The premise: a claim about one variant that every other variant meets as well
            // says nothing about what set that variant apart.
            let note = match &c.subject {
                ClaimSubject::Variant(name) if pass && r.variants.len() > 1 => {
                    let others: Vec<&str> = r
                        .variants
                        .iter()
                        .filter(|v| &v.name != name)
                        .map(|v| v.name.as_str())
                        .collect();
                    let all_hold = others.iter().all(|o| {
                        let (x, _) = statistic(c, &values_of(c, &ClaimSubject::Variant(o.to_string()), r));
                        c.compare.holds(x)
                    });
                    all_hold.then(|| {
                        format!(
                            "holds for {} as well, so it does not show a difference between the variants",
                            others
                                .iter()
                                .map(|o| format!("\"{o}\""))
                                .collect::<Vec<_>>()
                                .join(" and ")
                        )
                    })
                }
                _ => None,
            };
            let subject = match &c.subject {
                ClaimSubject::Variant(v) => format!("variant \"{v}\""),
                ClaimSubject::Ratio(a, b) => format!("\"{a}\" / \"{b}\""),
            };
            ClaimResult {
                text: c.text.clone(),
                metric: c.metric,
                predicted,
                band: (s.p5, s.p95),
                pass,
                expected: format!(
                    "{} {}{} {}",
                    c.stat,
                    c.metric,
                    if matches!(c.subject, ClaimSubject::Ratio(..)) {
                        " ratio"
                    } else {
                        ""
                    },
                    c.compare.describe(|v| fmt_value(c, v))
                ),
                subject,
                figure: figure_name(c),
                predicted_text: fmt_value(c, predicted),
                band_text: (fmt_value(c, s.p5), fmt_value(c, s.p95)),
                note,
            }
        })
        .collect()
}

/// What a claim's figure is, in words: `peak used_memory`, `mem_fragmentation_ratio at peak
/// RSS` (a ratio's peak is its value at that moment), `max_over_time ...`, `end ...`.
pub fn figure_name(c: &Claim) -> String {
    match c.phase {
        Phase::Peak if c.metric.is_momentary() => format!("{} at peak RSS", c.metric),
        phase => format!("{} {}", phase.name(), c.metric),
    }
}

/// The claims table `fragsim check` prints.
pub fn render(results: &[ClaimResult]) -> String {
    let mut o = String::new();
    for r in results {
        o += &format!("  {}  \"{}\"\n", if r.pass { "PASS" } else { "FAIL" }, r.text);
        o += &format!(
            "        {}, {}: predicted {} (p5-p95 {} - {}); claim needs {}\n",
            r.subject, r.figure, r.predicted_text, r.band_text.0, r.band_text.1, r.expected
        );
        if let Some(n) = &r.note {
            o += &format!("        note: {n}\n");
        }
    }
    let failed = results.iter().filter(|r| !r.pass).count();
    o += &format!(
        "\n  {} of {} claims hold.\n",
        results.len() - failed,
        results.len()
    );
    o
}
