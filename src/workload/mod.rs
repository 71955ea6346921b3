//! Scenario files: the TOML a user writes to describe a workload, parsed in two stages (the raw
//! file with serde, then a validated scenario), every problem reported with the file, the
//! position or key path, and a hint.
//!
//! This version covers allocator-only scenarios (`[server] profile = "none"`): objects allocated
//! and freed directly through the jemalloc model, test after test.

use std::path::Path;

use serde::Deserialize;

use crate::jemalloc::{AllocatorConfig, PRESET_NAMES};
use crate::units::parse_bytes;

/// A byte count written as a number (`30000`) or a string with a unit (`"30KB"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawBytes {
    Number(i64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default = "default_seed")]
    seed: u64,
    server: RawServer,
    workload: RawWorkload,
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    profile: String,
    #[serde(default)]
    allocator: Option<String>,
    #[serde(default)]
    dirty_decay_ms: Option<i64>,
    #[serde(default)]
    background_thread: Option<bool>,
    #[serde(default)]
    tcache: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    tests: i64,
    #[serde(default = "default_flush")]
    flush: String,
    #[serde(default = "default_test_seconds")]
    test_seconds: f64,
    keys: Vec<RawKeys>,
}

fn default_flush() -> String {
    "none".into()
}
fn default_test_seconds() -> f64 {
    2.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    name: String,
    count: i64,
    value_size: RawBytes,
    #[serde(default)]
    cleanup: Option<f64>,
}

/// When the whole data set is flushed (freed, then jemalloc purged, like `FLUSHALL SYNC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flush {
    None,
    BeforeEach,
    AfterEach,
}

/// One group of objects a test writes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KeyGroup {
    pub name: String,
    /// Objects written per test.
    pub count: u64,
    /// Bytes per object.
    pub value_size: u64,
    /// Share of its objects a test frees itself before it ends (the rest stay until a flush).
    pub cleanup: f64,
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    /// Allocator configuration (preset plus overrides).
    #[serde(skip)]
    pub allocator: AllocatorConfig,
    pub allocator_preset: String,
    pub tests: u64,
    pub flush: Flush,
    /// Simulated seconds per test (drives decay).
    pub test_seconds: f64,
    pub keys: Vec<KeyGroup>,
}

/// A scenario that could not be read; `Display` gives every problem, one per line, each naming
/// the file and the position or key.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct ScenarioError {
    pub problems: Vec<String>,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        problems: vec![format!(
            "{}: cannot read the scenario file: {e}",
            path.display()
        )],
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses and validates scenario text; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let (l, c) = line_col(text, s.start);
                format!("line {l}, column {c}: ")
            })
            .unwrap_or_default();
        ScenarioError {
            problems: vec![format!("{file}: {at}{}", e.message().trim())],
        }
    })?;
    let mut problems = Vec::new();
    let mut bad = |key: &str, msg: String| problems.push(format!("{file}: {key}: {msg}"));

    if raw.server.profile != "none" {
        bad(
            "server.profile",
            format!(
                "'{}' is not available yet; this version simulates allocator-only workloads: use profile = \"none\"",
                raw.server.profile
            ),
        );
    }
    let preset = raw
        .server
        .allocator
        .clone()
        .unwrap_or_else(|| "jemalloc-5.3".into());
    let mut allocator = match AllocatorConfig::preset(&preset) {
        Some(c) => c,
        None => {
            bad(
                "server.allocator",
                format!(
                    "unknown preset '{preset}'; known presets: {}",
                    PRESET_NAMES.join(", ")
                ),
            );
            AllocatorConfig::jemalloc_5_3()
        }
    };
    if let Some(ms) = raw.server.dirty_decay_ms {
        if ms < -1 {
            bad(
                "server.dirty_decay_ms",
                format!(
                    "{ms} is not allowed: use -1 (never), 0 (at once) or a positive number of ms"
                ),
            );
        }
        allocator.dirty_decay_ms = ms;
    }
    if let Some(bg) = raw.server.background_thread {
        allocator.background_thread = bg;
    }
    if let Some(tc) = raw.server.tcache {
        allocator.tcache.enabled = tc;
    }
    if raw.workload.tests < 1 {
        bad(
            "workload.tests",
            format!("{} tests: need at least 1", raw.workload.tests),
        );
    }
    let flush = match raw.workload.flush.as_str() {
        "none" => Flush::None,
        "before_each" => Flush::BeforeEach,
        "after_each" => Flush::AfterEach,
        other => {
            bad(
                "workload.flush",
                format!("'{other}' is not one of none, before_each, after_each"),
            );
            Flush::None
        }
    };
    if !(raw.workload.test_seconds >= 0.0 && raw.workload.test_seconds.is_finite()) {
        bad(
            "workload.test_seconds",
            "must be a number of seconds >= 0".into(),
        );
    }
    if raw.workload.keys.is_empty() {
        bad(
            "workload.keys",
            "at least one [[workload.keys]] table is needed".into(),
        );
    }
    let sc = crate::jemalloc::SizeClasses::new(allocator.lg_quantum, allocator.lg_page);
    let mut keys = Vec::new();
    for (i, k) in raw.workload.keys.iter().enumerate() {
        let p = format!("workload.keys[{i}]");
        if k.count < 0 {
            bad(&format!("{p}.count"), format!("{} is negative", k.count));
        }
        let size = match &k.value_size {
            RawBytes::Number(n) if *n >= 1 => Some(*n as u64),
            RawBytes::Number(n) => {
                bad(
                    &format!("{p}.value_size"),
                    format!("{n} bytes: a value needs at least 1 byte"),
                );
                None
            }
            RawBytes::Text(s) => match parse_bytes(s) {
                Ok(0) => {
                    bad(
                        &format!("{p}.value_size"),
                        "0 bytes: a value needs at least 1 byte".into(),
                    );
                    None
                }
                Ok(v) => Some(v),
                Err(e) => {
                    bad(
                        &format!("{p}.value_size"),
                        format!("expected a byte count: {e}"),
                    );
                    None
                }
            },
        };
        if let Some(v) = size {
            if v > sc.large_maxclass() {
                bad(
                    &format!("{p}.value_size"),
                    format!("{v} bytes is larger than jemalloc's largest size class"),
                );
            }
        }
        let cleanup = k.cleanup.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&cleanup) {
            bad(
                &format!("{p}.cleanup"),
                format!("{cleanup} is not a share between 0 and 1"),
            );
        }
        keys.push(KeyGroup {
            name: k.name.clone(),
            count: k.count.max(0) as u64,
            value_size: size.unwrap_or(1),
            cleanup,
        });
    }
    if !problems.is_empty() {
        return Err(ScenarioError { problems });
    }
    Ok(Scenario {
        name: raw.name,
        seed: raw.seed,
        allocator,
        allocator_preset: preset,
        tests: raw.workload.tests as u64,
        flush,
        test_seconds: raw.workload.test_seconds,
        keys,
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
        let s = parse(GOOD, "good.toml").unwrap();
        assert_eq!(s.keys[0].value_size, 30 * 1024);
        assert_eq!(s.flush, Flush::BeforeEach);
        assert_eq!(s.allocator_preset, "jemalloc-5.3");
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let text = GOOD
            .replace("tests = 3", "tests = 0")
            .replace("\"30KB\"", "0")
            .replace("before_each", "sometimes");
        let e = parse(&text, "bad.toml").unwrap_err();
        assert_eq!(e.problems.len(), 3, "{e}");
        assert!(e.to_string().contains("bad.toml: workload.tests:"));
        assert!(e
            .to_string()
            .contains("bad.toml: workload.keys[0].value_size:"));
        assert!(e.to_string().contains("bad.toml: workload.flush:"));
    }

    #[test]
    fn unknown_keys_are_rejected_with_a_position() {
        let text = GOOD.replace("tests = 3", "tests = 3\ntestz = 4");
        let e = parse(&text, "typo.toml").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("typo.toml: line 7, column 1:"), "{msg}");
        assert!(msg.contains("testz"), "{msg}");
    }
}
