//! Scenario files: the TOML a user writes to describe a workload, parsed in two stages (the raw
//! file with serde, then validated scenarios, one per variant), every problem reported at once
//! with the file, the line, the key path and a hint.
//!
//! `[server] profile` names a Redis server profile (built-in or a calibrated file): keys are then
//! written with Redis commands into the Redis model. `profile = "none"` is a plain allocator
//! workload: objects allocated and freed directly through the jemalloc model.

mod check;
pub mod claim;
pub mod dist;
pub mod estimate;
pub mod generate;
mod locate;
mod overrides;
mod problems;
mod raw;
pub mod scenario;

use std::path::Path;

use check::check;
use claim::check_claims;
pub use claim::{Claim, ClaimSubject, Compare, Metric, OomRule, Phase, Statistic};
pub use dist::SizeDist;
pub use estimate::{Estimate, SIM_BYTES_PER_OBJECT, SIM_BYTES_PER_SMALL_KEY};
use locate::{line_col, Lines};
use overrides::{apply_override, from_doc, to_doc};
use problems::Problems;
use raw::RawScenario;
pub use scenario::{
    BigFirst, Content, Flush, KeyGroup, KeyShape, KeyType, Scenario, ScenarioFile, Scores, ScriptSpec,
    INTEGER_VALUE,
};

/// A scenario that could not be read; `Display` gives every problem, one per line, each naming
/// the file, the line and the key.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct ScenarioError {
    pub problems: Vec<String>,
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<ScenarioFile, ScenarioError> {
    load_with(path, &[])
}

/// Like [`load`], with `extra` overrides (`set`-style paths and values) applied to every
/// variant after its own (what `fragsim sweep` uses to vary one parameter).
pub fn load_with(path: &Path, extra: &[(String, toml::Value)]) -> Result<ScenarioFile, ScenarioError> {
    let bytes = crate::units::read_input(path).map_err(|e| ScenarioError {
        problems: vec![format!("{}: cannot read the scenario file: {e}", path.display())],
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let good = &e.as_bytes()[..at];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = at - good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
        ScenarioError {
            problems: vec![format!(
                "{}: line {line}, column {column}: not UTF-8 text (byte 0x{:02x}); save the scenario as UTF-8",
                path.display(),
                e.as_bytes()[at]
            )],
        }
    })?;
    parse_with(&text, &path.display().to_string(), extra)
}

/// Parses and validates scenario text; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<ScenarioFile, ScenarioError> {
    parse_with(text, file, &[])
}

/// [`parse`] with `extra` overrides applied to every variant after its own `set`.
pub fn parse_with(
    text: &str,
    file: &str,
    extra: &[(String, toml::Value)],
) -> Result<ScenarioFile, ScenarioError> {
    let lines = Lines::new(text);
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let (l, c) = line_col(text, s.start);
                let key = lines
                    .path_at(l)
                    .filter(|k| !k.is_empty())
                    .map(|k| format!("{k}: "))
                    .unwrap_or_default();
                format!("line {l}, column {c}: {key}")
            })
            .unwrap_or_default();
        ScenarioError {
            problems: vec![format!("{file}: {at}{}", e.message().trim())],
        }
    })?;
    let mut problems = Vec::new();
    let mut variants = Vec::new();
    let base_variants = raw.variant.clone();
    let with_extra = |doc: &mut toml::Value| -> Result<(), String> {
        for (path, value) in extra {
            apply_override(doc, path, value).map_err(|e| format!("\"{path}\": {e}"))?;
        }
        Ok(())
    };
    if base_variants.is_empty() {
        let mut p = Problems {
            file,
            lines: &lines,
            variant: None,
            list: Vec::new(),
            groups: Vec::new(),
        };
        let base = if extra.is_empty() {
            Ok(raw.clone())
        } else {
            to_doc(&raw).and_then(|mut doc| {
                with_extra(&mut doc)?;
                from_doc(doc, raw.seed).map_err(|e| e.message().trim().to_string())
            })
        };
        match base {
            Ok(r) => {
                if let Some(sc) = check(&r, "default", &mut p) {
                    variants.push(sc);
                }
            }
            Err(e) => p.list.push(format!("{file}: {e}")),
        }
        problems.extend(p.list);
    }
    let mut names = std::collections::HashSet::new();
    for (i, v) in base_variants.iter().enumerate() {
        let mut p = Problems {
            file,
            lines: &lines,
            variant: None,
            list: Vec::new(),
            groups: Vec::new(),
        };
        if !names.insert(v.name.clone()) {
            p.add(
                &format!("variant[{i}].name"),
                format!("'{}' is used by an earlier variant", v.name),
            );
        }
        if v.name.trim().is_empty() || v.name.chars().any(char::is_control) {
            p.add(
                &format!("variant[{i}].name"),
                format!("{:?}: use a non-empty name without control characters", v.name),
            );
        }
        let mut doc = match to_doc(&RawScenario {
            variant: Vec::new(),
            ..raw.clone()
        }) {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("{file}: {e}"));
                continue;
            }
        };
        for (path, value) in &v.set {
            if path == "name" || path == "seed" || path == "runs" || path.starts_with("variant") {
                p.add(
                    &format!("variant[{i}].set"),
                    format!("'{path}' cannot differ between variants"),
                );
                continue;
            }
            if let Err(e) = apply_override(&mut doc, path, value) {
                p.add(&format!("variant[{i}].set"), format!("\"{path}\": {e}"));
            }
        }
        if let Err(e) = with_extra(&mut doc) {
            p.list.push(format!("{file}: {e}"));
        }
        if !p.list.is_empty() {
            problems.extend(p.list);
            continue;
        }
        match from_doc(doc, raw.seed) {
            Ok(r) => {
                let mut p = Problems {
                    file,
                    lines: &lines,
                    variant: Some((i, v.set.keys().cloned().collect())),
                    list: Vec::new(),
                    groups: Vec::new(),
                };
                if let Some(sc) = check(&r, &v.name, &mut p) {
                    variants.push(sc);
                }
                problems.extend(p.list);
            }
            Err(e) => {
                let line = lines
                    .locate(&format!("variant[{i}].set"))
                    .map(|l| format!("line {l}: "))
                    .unwrap_or_default();
                problems.push(format!("{file}: {line}variant[{i}].set: {}", e.message().trim()));
            }
        }
    }
    let mut p = Problems {
        file,
        lines: &lines,
        variant: None,
        list: Vec::new(),
        groups: Vec::new(),
    };
    let names: Vec<String> = if base_variants.is_empty() {
        vec!["default".into()]
    } else {
        base_variants.iter().map(|v| v.name.clone()).collect()
    };
    let claims = check_claims(&raw.claim, &names, &mut p);
    problems.extend(p.list);
    if !problems.is_empty() {
        // A problem of the base scenario is found again in each variant: say it once.
        let mut seen = std::collections::HashSet::new();
        problems.retain(|p| seen.insert(p.clone()));
        return Err(ScenarioError { problems });
    }
    Ok(ScenarioFile {
        name: raw.name.clone(),
        seed: raw.seed,
        runs: variants[0].runs,
        variants,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
[server]
profile = "none"
[workload]
tests = 3
flush = "before_each"
[[workload.keys]]
name = "v"
count = 30
value_size = "30KB"
"#;

    #[test]
    fn parses_a_good_file() {
        let f = parse(GOOD, "good.toml").unwrap();
        let s = f.first();
        assert_eq!(s.keys[0].value_size, SizeDist::Fixed { bytes: 30 * 1024 });
        assert_eq!(s.flush, Flush::BeforeEach);
        assert_eq!(s.allocator_preset, "jemalloc-5.3");
        assert_eq!((s.variant.as_str(), s.runs, s.parallel), ("default", 32, 1));
        assert!(s.redis.is_none());
    }

    #[test]
    fn variants_override_named_groups() {
        let text = GOOD.replace("\"none\"", "\"redis-7.0-debian\"")
            + "[[variant]]\nname = \"30 KB\"\n[[variant]]\nname = \"2 KB\"\nset = { \"workload.keys.v.value_size\" = 2000, \"server.maxmemory\" = \"1GB\" }\n";
        let f = parse(&text, "v.toml").unwrap();
        assert_eq!(f.variants.len(), 2);
        assert_eq!(
            f.variants[0].keys[0].value_size,
            SizeDist::Fixed { bytes: 30 * 1024 }
        );
        assert_eq!(f.variants[1].keys[0].value_size, SizeDist::Fixed { bytes: 2000 });
        assert_eq!(f.variants[1].maxmemory, Some(1 << 30));
        assert_eq!(f.variants[1].variant, "2 KB");
    }

    /// What-if variants scale what the scenario has: a size, a distribution's sizes, a count;
    /// `*` is every group that has the field.
    #[test]
    fn variants_scale_values_by_a_factor() {
        let text = GOOD.replace("\"none\"", "\"redis-7.0-debian\"")
            + "[[workload.keys]]\nname = \"h\"\ncount = 10\ntype = \"hash\"\nfields = 8\n\
               value_size = { dist = \"choice\", values = [10, 101], weights = [3, 1] }\n\
               [[variant]]\nname = \"base\"\n\
               [[variant]]\nname = \"half\"\nset = { \"workload.keys.*.value_size\" = \"x0.5\", \"workload.keys.h.count\" = \"x2.5\" }\n";
        let f = parse(&text, "x.toml").unwrap();
        let half = &f.variants[1];
        assert_eq!(half.keys[0].value_size, SizeDist::Fixed { bytes: 15 * 1024 });
        assert_eq!(
            half.keys[1].value_size,
            SizeDist::Choice {
                values: vec![5, 51],
                weights: vec![3.0, 1.0]
            }
        );
        assert_eq!((half.keys[1].count, f.variants[0].keys[1].count), (25, 10));
        for (set, want) in [
            (
                "\"workload.keys.v.value_size\" = \"x-1\"",
                "a factor is x and a positive number",
            ),
            (
                "\"workload.keys.v.ttl_seconds\" = \"x2\"",
                "'workload.keys.v.ttl_seconds' has no value to scale",
            ),
            ("\"workload.keys.v.name\" = \"x2\"", "is not a number to scale"),
        ] {
            let t = text.replace(
                "set = { \"workload.keys.*.value_size\" = \"x0.5\", \"workload.keys.h.count\" = \"x2.5\" }",
                &format!("set = {{ {set} }}"),
            );
            let e = parse(&t, "x.toml").unwrap_err();
            assert!(e.problems.join("\n").contains(want), "{set}: {e}");
        }
    }

    #[test]
    fn distributions_parse() {
        let text = GOOD.replace("\"30KB\"", "{ dist = \"lognormal\", median = 2000, sigma = 0.5 }");
        let f = parse(&text, "d.toml").unwrap();
        assert_eq!(
            f.first().keys[0].value_size,
            SizeDist::Lognormal {
                median: 2000.0,
                sigma: 0.5
            }
        );
    }

    #[test]
    fn a_problem_every_variant_shares_is_reported_once() {
        let text = GOOD.replace(
            "value_size = \"30KB\"",
            "value_size = \"30KB\"\nfields = 3\ncleanup = 2.0",
        )
            + "[[variant]]\nname = \"a\"\n[[variant]]\nname = \"b\"\nset = { \"workload.tests\" = 4 }\n";
        let e = parse(&text, "d.toml").unwrap_err();
        assert_eq!(
            e.problems,
            [
                "d.toml: line 13: workload.keys[0].cleanup: 2 is not a share between 0 and 1",
                "d.toml: line 12: workload.keys[0].fields: only hashes have fields; remove it or set type = \"hash\""
            ]
        );
    }

    #[test]
    fn locate_follows_headers() {
        let lines = Lines::new(GOOD);
        assert_eq!(lines.locate("workload.keys[0].value_size"), Some(11));
        assert_eq!(lines.locate("server.profile"), Some(4));
        assert_eq!(lines.locate("workload.tests"), Some(6));
    }
}
