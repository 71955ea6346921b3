//! Variants and overrides: a variant's `set` table (and a sweep's extra values) applied to the
//! raw scenario as a TOML document, by key path (`workload.keys.storm.value_size`).

use serde::Deserialize;

use super::raw::RawScenario;

/// Whether a problem at `key` (`workload.keys[0].value_size`) is about the override `path`
/// (`workload.keys.storm.value_size`): for a key group's field, the same field of the same
/// group (by `groups`, the groups' names in order); otherwise the same last segment and the
/// same section.
pub(super) fn key_matches(key: &str, path: &str, groups: &[String]) -> bool {
    let last = |s: &str| s.rsplit('.').next().unwrap_or("").to_string();
    let first = |s: &str| s.split('.').next().unwrap_or("").to_string();
    // A group's field: `workload.keys[I].FIELD` against `workload.keys.NAME.FIELD`, the same
    // group only.
    if let Some(rest) = key.strip_prefix("workload.keys[") {
        if let Some((i, _)) = rest.split_once(']') {
            if let (Ok(i), Some(named)) = (i.parse::<usize>(), path.strip_prefix("workload.keys.")) {
                if let Some(name) = groups.get(i) {
                    return named.split('.').next() == Some(name.as_str()) && last(key) == last(path);
                }
            }
        }
    }
    last(key) == last(path) && first(key) == first(path)
}

/// A factor asked for in place of a value: `"x0.5"` (or `"×0.5"`) scales what the scenario
/// has there.
fn scale_factor(value: &toml::Value) -> Option<Result<f64, String>> {
    let s = value.as_str()?;
    let f = s.strip_prefix('x').or_else(|| s.strip_prefix('×'))?;
    Some(match f.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!(
            "\"{s}\": a factor is x and a positive number, e.g. \"x0.5\""
        )),
    })
}

/// `v` scaled by `f`: a count or a byte count (rounded, at least 1), a number, or a size
/// distribution's sizes (its weights and sigma stay).
fn scale(v: &toml::Value, f: f64) -> Result<toml::Value, String> {
    let whole = |x: f64| toml::Value::Integer((x.round() as i64).max(1));
    Ok(match v {
        toml::Value::Integer(n) => whole(*n as f64 * f),
        toml::Value::Float(x) => toml::Value::Float(x * f),
        toml::Value::String(s) => match crate::units::parse_bytes(s) {
            Ok(b) => whole(b as f64 * f),
            Err(_) => return Err(format!("{v} is not a number to scale")),
        },
        toml::Value::Table(t) => {
            let mut t = t.clone();
            for (k, x) in t.iter_mut() {
                match k.as_str() {
                    "min" | "max" | "mean" | "sd" | "median" => *x = scale(x, f)?,
                    "values" => {
                        if let toml::Value::Array(items) = x {
                            for it in items.iter_mut() {
                                *it = scale(it, f)?;
                            }
                        }
                    }
                    _ => {}
                }
            }
            toml::Value::Table(t)
        }
        other => return Err(format!("{other} is not a number to scale")),
    })
}

/// Applies one `set` override to the raw scenario: `section.field`, or
/// `workload.keys.<name>.<field>` / `workload.scripts.<name>.<field>` for a named group (`*`:
/// every group that has the field). A value `"x<factor>"` scales the value there (`"x0.5"`
/// halves a size, a distribution's sizes or a count).
pub(super) fn apply_override(doc: &mut toml::Value, path: &str, value: &toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    set_at(doc, &parts, 0, path, value, false)
}

/// Sets (or scales) the value at `parts[i..]` under `cur`; `every`: reached through a `*`
/// group, where a group without the field to scale is skipped.
fn set_at(
    cur: &mut toml::Value,
    parts: &[&str],
    i: usize,
    path: &str,
    value: &toml::Value,
    every: bool,
) -> Result<(), String> {
    let table = cur
        .as_table_mut()
        .ok_or_else(|| format!("'{}' is not a table", parts[..i].join(".")))?;
    let seg = parts[i];
    if i == parts.len() - 1 {
        match scale_factor(value) {
            None => {
                table.insert(seg.to_string(), value.clone());
            }
            Some(f) => {
                let f = f?;
                match table.get(seg) {
                    Some(old) => {
                        let new = scale(old, f).map_err(|e| format!("'{path}': {e}"))?;
                        table.insert(seg.to_string(), new);
                    }
                    None if every => {}
                    None => return Err(format!("'{path}' has no value to scale")),
                }
            }
        }
        return Ok(());
    }
    let next = table
        .get_mut(seg)
        .ok_or_else(|| format!("no '{}' in the scenario", parts[..=i].join(".")))?;
    if let toml::Value::Array(items) = next {
        let name = parts
            .get(i + 1)
            .ok_or_else(|| format!("'{path}' names no group"))?;
        if i + 2 >= parts.len() {
            return Err(format!("'{path}' names no value"));
        }
        if *name == "*" {
            for it in items.iter_mut() {
                set_at(it, parts, i + 2, path, value, true)?;
            }
            return Ok(());
        }
        let found = items
            .iter_mut()
            .find(|it| it.get("name").and_then(|n| n.as_str()) == Some(name))
            .ok_or_else(|| format!("no [[{}]] named '{name}'", parts[..=i].join(".")))?;
        return set_at(found, parts, i + 2, path, value, every);
    }
    set_at(next, parts, i + 1, path, value, every)
}

/// The scenario as a TOML document, for variants and overrides to edit. TOML integers are
/// signed 64-bit; the seed (any u64) is left out and put back by [`from_doc`], and any other
/// number too large for TOML is refused.
pub(super) fn to_doc(raw: &RawScenario) -> Result<toml::Value, String> {
    toml::Value::try_from(RawScenario {
        seed: 0,
        ..raw.clone()
    })
    .map_err(|e| {
        format!(
            "{}; numbers in a scenario are at most {} (only `seed` may be larger)",
            e.to_string().trim(),
            i64::MAX
        )
    })
}

pub(super) fn from_doc(doc: toml::Value, seed: u64) -> Result<RawScenario, toml::de::Error> {
    RawScenario::deserialize(doc).map(|r| RawScenario { seed, ..r })
}
