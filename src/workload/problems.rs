//! The problem collector of scenario validation: each problem prefixed with the file, the line
//! (from [`super::locate`]) and the key path; and the parsers of byte counts and size
//! distributions that report into it.

use super::locate::Lines;
use super::overrides::key_matches;
use super::SizeDist;
use crate::units::parse_bytes;

/// Collects problems, each prefixed with the file, the line and the key.
pub(super) struct Problems<'a> {
    pub(super) file: &'a str,
    pub(super) lines: &'a Lines,
    /// For a variant: its index and the paths it sets (problems there point at its `set` line).
    pub(super) variant: Option<(usize, Vec<String>)>,
    /// The key groups' names in order (to tell which group a `set` path names).
    pub(super) groups: Vec<String>,
    pub(super) list: Vec<String>,
}

impl Problems<'_> {
    pub(super) fn add(&mut self, key: &str, msg: impl Into<String>) {
        let (shown, line) = match &self.variant {
            Some((i, paths)) if paths.iter().any(|p| key_matches(key, p, &self.groups)) => (
                format!("variant[{i}].set: {key}"),
                self.lines.locate(&format!("variant[{i}].set")),
            ),
            _ => (key.to_string(), self.lines.locate(key)),
        };
        let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
        self.list
            .push(format!("{}: {at}{shown}: {}", self.file, msg.into()));
    }

    /// A byte count that must be at least 1.
    pub(super) fn bytes(&mut self, key: &str, v: &toml::Value) -> Option<u64> {
        let parsed = match v {
            toml::Value::Integer(n) => u64::try_from(*n).map_err(|_| format!("{n} is negative")),
            toml::Value::String(t) => parse_bytes(t).map_err(|e| e.to_string()),
            other => Err(format!("{other} is not a byte count")),
        };
        match parsed {
            Ok(0) => {
                self.add(key, "0 bytes: expected at least 1 byte");
                None
            }
            Ok(b) => Some(b),
            Err(e) => {
                self.add(
                    key,
                    format!("expected a byte count (e.g. 30000 or \"30KB\"): {e}"),
                );
                None
            }
        }
    }

    /// A value size: a byte count or a distribution table.
    pub(super) fn size(&mut self, key: &str, v: &toml::Value) -> Option<SizeDist> {
        let toml::Value::Table(t) = v else {
            return self.bytes(key, v).map(|bytes| SizeDist::Fixed { bytes });
        };
        let Some(kind) = t.get("dist").and_then(|d| d.as_str()) else {
            self.add(
                key,
                "a distribution table needs dist = \"uniform\" | \"normal\" | \"lognormal\" | \"choice\"",
            );
            return None;
        };
        let allowed: &[&str] = match kind {
            "uniform" => &["dist", "min", "max"],
            "normal" => &["dist", "mean", "sd"],
            "lognormal" => &["dist", "median", "sigma"],
            "choice" => &["dist", "values", "weights"],
            other => {
                self.add(
                    &format!("{key}.dist"),
                    format!("'{other}' is not one of uniform, normal, lognormal, choice"),
                );
                return None;
            }
        };
        for k in t.keys() {
            if !allowed.contains(&k.as_str()) {
                self.add(
                    &format!("{key}.{k}"),
                    format!(
                        "not a parameter of a {kind} distribution (it takes {})",
                        allowed[1..].join(", ")
                    ),
                );
                return None;
            }
        }
        let num = |p: &mut Self, name: &str| -> Option<f64> {
            match t.get(name) {
                Some(toml::Value::Integer(i)) => Some(*i as f64),
                Some(toml::Value::Float(f)) if f.is_finite() => Some(*f),
                Some(toml::Value::String(s)) => match parse_bytes(s) {
                    Ok(b) => Some(b as f64),
                    Err(e) => {
                        p.add(&format!("{key}.{name}"), e.to_string());
                        None
                    }
                },
                Some(other) => {
                    p.add(&format!("{key}.{name}"), format!("{other} is not a number"));
                    None
                }
                None => {
                    p.add(key, format!("a {kind} distribution needs `{name}`"));
                    None
                }
            }
        };
        match kind {
            "uniform" => {
                let (min, max) = (num(self, "min")?, num(self, "max")?);
                if min < 1.0 || max < min || min.fract() != 0.0 || max.fract() != 0.0 {
                    self.add(
                        key,
                        format!("uniform needs whole byte counts 1 <= min <= max, got min {min}, max {max}"),
                    );
                    return None;
                }
                Some(SizeDist::Uniform {
                    min: min as u64,
                    max: max as u64,
                })
            }
            "normal" => {
                let (mean, sd) = (num(self, "mean")?, num(self, "sd")?);
                if mean < 1.0 || sd < 0.0 {
                    self.add(
                        key,
                        format!("normal needs mean >= 1 and sd >= 0, got mean {mean}, sd {sd}"),
                    );
                    return None;
                }
                Some(SizeDist::Normal { mean, sd })
            }
            "lognormal" => {
                let (median, sigma) = (num(self, "median")?, num(self, "sigma")?);
                if median < 1.0 || sigma < 0.0 {
                    self.add(
                        key,
                        format!("lognormal needs median >= 1 and sigma >= 0, got {median}, {sigma}"),
                    );
                    return None;
                }
                Some(SizeDist::Lognormal { median, sigma })
            }
            _ => {
                let list = |p: &mut Self, name: &str| -> Option<Vec<f64>> {
                    match t.get(name) {
                        Some(toml::Value::Array(a)) if !a.is_empty() => a
                            .iter()
                            .map(|x| match x {
                                toml::Value::Integer(i) => Some(*i as f64),
                                toml::Value::Float(f) => Some(*f),
                                _ => None,
                            })
                            .collect::<Option<Vec<f64>>>()
                            .or_else(|| {
                                p.add(&format!("{key}.{name}"), "expected an array of numbers");
                                None
                            }),
                        _ => {
                            p.add(&format!("{key}.{name}"), "a choice needs a non-empty array");
                            None
                        }
                    }
                };
                let values = list(self, "values")?;
                let weights = match t.get("weights") {
                    None => vec![1.0; values.len()],
                    Some(_) => list(self, "weights")?,
                };
                if weights.len() != values.len() {
                    self.add(
                        &format!("{key}.weights"),
                        format!("{} weights for {} values", weights.len(), values.len()),
                    );
                    return None;
                }
                if values
                    .iter()
                    .any(|&v| !(v >= 1.0 && v.fract() == 0.0 && v < 1.8e19))
                    || weights.iter().any(|&w| !(w >= 0.0 && w.is_finite()))
                    || weights.iter().sum::<f64>() <= 0.0
                {
                    self.add(
                        key,
                        "choice needs whole byte counts >= 1 and finite, non-negative weights with a positive sum",
                    );
                    return None;
                }
                Some(SizeDist::Choice {
                    values: values.iter().map(|&v| v as u64).collect(),
                    weights,
                })
            }
        }
    }
}
