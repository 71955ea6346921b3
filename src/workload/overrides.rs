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

/// Applies one `set` override to the raw scenario: `section.field`, or
/// `workload.keys.<name>.<field>` / `workload.scripts.<name>.<field>` for a named group.
pub(super) fn apply_override(doc: &mut toml::Value, path: &str, value: &toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut cur = doc;
    let mut i = 0;
    while i < parts.len() {
        let last = i == parts.len() - 1;
        let table = cur
            .as_table_mut()
            .ok_or_else(|| format!("'{}' is not a table", parts[..i].join(".")))?;
        if last {
            table.insert(parts[i].to_string(), value.clone());
            return Ok(());
        }
        let seg = parts[i];
        let next = table
            .get_mut(seg)
            .ok_or_else(|| format!("no '{}' in the scenario", parts[..=i].join(".")))?;
        if let toml::Value::Array(items) = next {
            let name = parts
                .get(i + 1)
                .ok_or_else(|| format!("'{path}' names no group"))?;
            let found = items
                .iter_mut()
                .find(|it| it.get("name").and_then(|n| n.as_str()) == Some(name))
                .ok_or_else(|| format!("no [[{}]] named '{name}'", parts[..=i].join(".")))?;
            cur = found;
            i += 2;
        } else {
            cur = next;
            i += 1;
        }
    }
    Err(format!("'{path}' names no value"))
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
