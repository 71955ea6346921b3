//! Claims from a design review, written in a scenario file (`[[claim]]`): what figure, whose,
//! which statistic over the runs, compared with what. Every name is checked where it is
//! written: a misspelt metric, phase or statistic is an error naming its line.

use serde::{Deserialize, Serialize};

use super::Problems;
use crate::redis::info::Field;

/// An OOM rule whose probability a claim is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OomRule {
    /// Redis refused a write (`used_memory` over `maxmemory`): `oom.maxmemory`.
    Maxmemory,
    /// RSS went over the container's limit (the kernel kills): `oom.memory_limit`.
    MemoryLimit,
}

/// What a claim is about: an INFO memory figure, or the probability of an OOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Info(Field),
    Oom(OomRule),
}

impl Metric {
    /// The metric a scenario file names: an INFO field runs report, `oom.maxmemory` or
    /// `oom.memory_limit`.
    pub fn from_name(name: &str) -> Option<Metric> {
        match name {
            "oom.maxmemory" => Some(Metric::Oom(OomRule::Maxmemory)),
            "oom.memory_limit" => Some(Metric::Oom(OomRule::MemoryLimit)),
            _ => Field::from_name(name).filter(|f| f.reported()).map(Metric::Info),
        }
    }

    /// Its name in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Info(f) => f.name(),
            Metric::Oom(OomRule::Maxmemory) => "oom.maxmemory",
            Metric::Oom(OomRule::MemoryLimit) => "oom.memory_limit",
        }
    }

    /// Whether it is a byte count (not a ratio, percentage, count or probability).
    pub fn is_bytes(self) -> bool {
        matches!(self, Metric::Info(f) if f.is_bytes())
    }

    /// Whether it relates two figures at one moment (its peak is its value at peak RSS).
    pub fn is_momentary(self) -> bool {
        matches!(self, Metric::Info(f) if f.is_momentary())
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// When in a run a claim's figure is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Byte figures at their maximum over the tests, ratios at the moment of peak RSS.
    Peak,
    /// Every field at its own maximum.
    MaxOverTime,
    /// After the last test.
    End,
}

impl Phase {
    /// The phase a scenario file names.
    pub fn from_name(name: &str) -> Option<Phase> {
        [Phase::Peak, Phase::MaxOverTime, Phase::End]
            .into_iter()
            .find(|p| p.name() == name)
    }

    /// Its name in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Peak => "peak",
            Phase::MaxOverTime => "max_over_time",
            Phase::End => "end",
        }
    }
}

impl Serialize for Phase {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Which statistic of a figure over the Monte Carlo runs a claim judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    P5,
    P50,
    P95,
    Min,
    Max,
    Mean,
    /// The share of runs in which an OOM rule struck (OOM metrics only).
    Probability,
}

impl Statistic {
    /// The statistics of a figure (every metric but the OOM probabilities).
    pub const OF_FIGURES: &'static [Statistic] = &[
        Statistic::P5,
        Statistic::P50,
        Statistic::P95,
        Statistic::Min,
        Statistic::Max,
        Statistic::Mean,
    ];

    /// Its name in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            Statistic::P5 => "p5",
            Statistic::P50 => "p50",
            Statistic::P95 => "p95",
            Statistic::Min => "min",
            Statistic::Max => "max",
            Statistic::Mean => "mean",
            Statistic::Probability => "probability",
        }
    }
}

impl std::fmt::Display for Statistic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for Statistic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClaim {
    text: String,
    metric: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<Vec<String>>,
    stat: String,
    compare: String,
    value: toml::Value,
}

/// Which figure a claim is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimSubject {
    /// One variant's figure.
    Variant(String),
    /// The figure of the first variant divided by that of the second, run by run.
    Ratio(String, String),
}

/// How a claim compares its figure with its value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    Lt(f64),
    Le(f64),
    Gt(f64),
    Ge(f64),
    /// Within `[lo, hi]`.
    Between(f64, f64),
}

impl Compare {
    pub fn holds(&self, x: f64) -> bool {
        match *self {
            Compare::Lt(v) => x < v,
            Compare::Le(v) => x <= v,
            Compare::Gt(v) => x > v,
            Compare::Ge(v) => x >= v,
            Compare::Between(lo, hi) => (lo..=hi).contains(&x),
        }
    }

    /// The comparison in words, with `fmt` formatting values.
    pub fn describe(&self, fmt: impl Fn(f64) -> String) -> String {
        match *self {
            Compare::Lt(v) => format!("< {}", fmt(v)),
            Compare::Le(v) => format!("<= {}", fmt(v)),
            Compare::Gt(v) => format!("> {}", fmt(v)),
            Compare::Ge(v) => format!(">= {}", fmt(v)),
            Compare::Between(lo, hi) => format!("in [{}, {}]", fmt(lo), fmt(hi)),
        }
    }
}

/// A claim from a design review, to be checked against the Monte Carlo distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    /// The original wording.
    pub text: String,
    /// The figure the claim is about.
    pub metric: Metric,
    /// When in a run the figure is taken.
    pub phase: Phase,
    pub subject: ClaimSubject,
    /// Which statistic of the figure over the runs (a probability for OOM metrics).
    pub stat: Statistic,
    pub compare: Compare,
}

pub(super) fn check_claims(raw: &[RawClaim], variants: &[String], p: &mut Problems) -> Vec<Claim> {
    let mut out = Vec::new();
    for (i, c) in raw.iter().enumerate() {
        let key = format!("claim[{i}]");
        let before = p.list.len();
        let oom = c.metric.starts_with("oom.");
        let metric = Metric::from_name(&c.metric);
        if metric.is_none() {
            p.add(
                &format!("{key}.metric"),
                format!("unknown metric '{}': use an INFO memory field (e.g. used_memory, used_memory_rss, mem_fragmentation_ratio) or oom.maxmemory / oom.memory_limit", c.metric),
            );
        }
        let phase_name = c.phase.as_deref().unwrap_or("peak");
        let phase = Phase::from_name(phase_name);
        if phase.is_none() {
            p.add(
                &format!("{key}.phase"),
                format!(
                    "'{phase_name}' is not one of peak (byte figures at their maximum, ratios at the \
                     moment of peak RSS), max_over_time (every field's own maximum), end"
                ),
            );
        }
        let stats: &[Statistic] = if oom {
            &[Statistic::Probability]
        } else {
            Statistic::OF_FIGURES
        };
        let stat = stats.iter().copied().find(|s| s.name() == c.stat);
        if stat.is_none() {
            let names: Vec<&str> = stats.iter().map(|s| s.name()).collect();
            p.add(
                &format!("{key}.stat"),
                format!("'{}' is not one of {} for this metric", c.stat, names.join(", ")),
            );
        }
        let known = |v: &str, p: &mut Problems, k: &str| {
            if !variants.iter().any(|n| n == v) {
                p.add(
                    k,
                    format!("unknown variant '{v}' (variants: {})", variants.join(", ")),
                );
            }
        };
        let subject = match (&c.variant, &c.ratio) {
            (Some(v), None) => {
                known(v, p, &format!("{key}.variant"));
                ClaimSubject::Variant(v.clone())
            }
            (None, Some(r)) if r.len() == 2 && !oom => {
                known(&r[0], p, &format!("{key}.ratio"));
                known(&r[1], p, &format!("{key}.ratio"));
                if r[0] == r[1] {
                    p.add(
                        &format!("{key}.ratio"),
                        format!(
                            "'{}' / '{}' is a variant against itself (always 1): name two different variants",
                            r[0], r[1]
                        ),
                    );
                }
                ClaimSubject::Ratio(r[0].clone(), r[1].clone())
            }
            (None, Some(_)) => {
                p.add(&format!("{key}.ratio"), "a ratio names two variants, [numerator, denominator], of a figure (not an OOM probability)");
                ClaimSubject::Variant(String::new())
            }
            _ => {
                p.add(&key, "name exactly one of `variant` or `ratio`");
                ClaimSubject::Variant(String::new())
            }
        };
        let num = |v: &toml::Value| -> Option<f64> {
            match v {
                toml::Value::Integer(i) => Some(*i as f64),
                toml::Value::Float(f) => Some(*f),
                toml::Value::String(s) => crate::units::parse_bytes_f64(s).ok(),
                _ => None,
            }
        };
        let compare = match (c.compare.as_str(), &c.value) {
            ("between", toml::Value::Array(a)) if a.len() == 2 => match (num(&a[0]), num(&a[1])) {
                (Some(lo), Some(hi)) if lo <= hi => Some(Compare::Between(lo, hi)),
                _ => None,
            },
            ("<", v) => num(v).map(Compare::Lt),
            ("<=", v) => num(v).map(Compare::Le),
            (">", v) => num(v).map(Compare::Gt),
            (">=", v) => num(v).map(Compare::Ge),
            _ => None,
        };
        if compare.is_none() {
            p.add(
                &format!("{key}.value"),
                format!("compare = \"{}\" with value {}: use <, <=, >, >= with a number or byte count, or between with [low, high]", c.compare, c.value),
            );
        }
        if let Some(cmp) = &compare {
            let values = match *cmp {
                Compare::Lt(v) | Compare::Le(v) | Compare::Gt(v) | Compare::Ge(v) => vec![v],
                Compare::Between(lo, hi) => vec![lo, hi],
            };
            let ratio = matches!(subject, ClaimSubject::Ratio(..));
            let bytes = !ratio && metric.is_some_and(|m| m.is_bytes());
            let shown = values
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let problem = if values.iter().any(|v| !v.is_finite()) {
                Some("a claim's value must be a finite number".to_string())
            } else if oom && values.iter().any(|v| !(0.0..=1.0).contains(v)) {
                Some(format!(
                    "{shown} is not a probability: give a share from 0 to 1 (0.05 for 5%)"
                ))
            } else if (bytes || ratio) && values.iter().any(|v| *v < 0.0) {
                Some(format!(
                    "{shown}: a {} is never negative",
                    if ratio { "ratio" } else { "byte count" }
                ))
            } else {
                None
            };
            if let Some(msg) = problem {
                p.add(&format!("{key}.value"), msg);
            }
        }
        if let (true, Some(metric), Some(phase), Some(stat), Some(compare)) =
            (p.list.len() == before, metric, phase, stat, compare)
        {
            out.push(Claim {
                text: c.text.clone(),
                metric,
                phase,
                subject,
                stat,
                compare,
            });
        }
    }
    out
}
