//! Scenario files: the TOML a user writes to describe a workload, parsed in two stages (the raw
//! file with serde, then a validated scenario), every problem reported with the file, the
//! position or key path, and a hint.
//!
//! `[server] profile` names a Redis server profile (built-in or a calibrated file): keys are then
//! written with Redis commands into the Redis model. `profile = "none"` is a plain allocator
//! workload: objects allocated and freed directly through the jemalloc model.

use std::path::Path;

use serde::Deserialize;

use crate::jemalloc::{AllocatorConfig, SizeClasses, PRESET_NAMES};
use crate::redis::profile::RedisProfile;
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
    allocator: Option<String>,
    maxmemory: Option<RawBytes>,
    memory_limit: Option<RawBytes>,
    dirty_decay_ms: Option<i64>,
    background_thread: Option<bool>,
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
    #[serde(rename = "type")]
    kind: Option<String>,
    value_size: RawBytes,
    fields: Option<i64>,
    ttl_seconds: Option<f64>,
    cleanup: Option<f64>,
}

/// When the whole data set is flushed: `FLUSHALL SYNC` with a Redis profile (free everything,
/// then purge jemalloc); free everything, then purge, without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flush {
    None,
    BeforeEach,
    AfterEach,
}

/// The Redis type of a key group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    String,
    Hash,
}

/// One group of objects a test writes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KeyGroup {
    pub name: String,
    /// Keys (or objects) written per test.
    pub count: u64,
    pub kind: KeyType,
    /// Bytes per value: a string's value, or each field's value of a hash.
    pub value_size: u64,
    /// Hash fields per key (1 for strings).
    pub fields: u64,
    /// TTL set on each key (Redis profiles only).
    pub ttl_seconds: Option<f64>,
    /// Share of its keys a test deletes itself before it ends (the rest stay until a flush).
    pub cleanup: f64,
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    /// Allocator configuration (the Redis profile's, or a preset plus overrides).
    #[serde(skip)]
    pub allocator: AllocatorConfig,
    pub allocator_preset: String,
    /// The Redis server profile; `None` for a plain allocator workload.
    #[serde(skip)]
    pub redis: Option<RedisProfile>,
    /// `maxmemory` (Redis's own OOM rule), bytes.
    pub maxmemory: Option<u64>,
    /// Container or cgroup limit on RSS, bytes.
    pub memory_limit: Option<u64>,
    pub tests: u64,
    pub flush: Flush,
    /// Simulated seconds per test (drives decay, expiry, idle clients).
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
        problems: vec![format!("{}: cannot read the scenario file: {e}", path.display())],
    })?;
    parse(&text, &path.display().to_string())
}

/// Collects problems, each prefixed with the file and the key.
struct Problems<'a> {
    file: &'a str,
    list: Vec<String>,
}

impl Problems<'_> {
    fn add(&mut self, key: &str, msg: impl Into<String>) {
        self.list.push(format!("{}: {key}: {}", self.file, msg.into()));
    }

    /// A byte count that must be at least 1.
    fn bytes(&mut self, key: &str, v: &RawBytes) -> Option<u64> {
        let parsed = match v {
            RawBytes::Number(n) => u64::try_from(*n).map_err(|_| format!("{n} is negative")),
            RawBytes::Text(t) => parse_bytes(t),
        };
        match parsed {
            Ok(0) => {
                self.add(key, "0 bytes: expected at least 1 byte");
                None
            }
            Ok(b) => Some(b),
            Err(e) => {
                self.add(key, format!("expected a byte count (e.g. 30000, \"30KB\"): {e}"));
                None
            }
        }
    }
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
    let mut p = Problems {
        file,
        list: Vec::new(),
    };

    let redis = if raw.server.profile == "none" {
        None
    } else {
        match RedisProfile::load(&raw.server.profile) {
            Ok(prof) => Some(prof),
            Err(e) => {
                p.add(
                    "server.profile",
                    format!("{e}; use \"none\" for a plain allocator workload"),
                );
                None
            }
        }
    };
    if redis.is_some() && raw.server.allocator.is_some() {
        p.add(
            "server.allocator",
            "a Redis profile brings its own allocator; set it only with profile = \"none\"",
        );
    }
    let (preset, mut allocator) = match &redis {
        Some(prof) => (
            prof.allocator.clone(),
            prof.allocator_config()
                .unwrap_or_else(|_| AllocatorConfig::jemalloc_5_3()),
        ),
        None => {
            let name = raw
                .server
                .allocator
                .clone()
                .unwrap_or_else(|| "jemalloc-5.3".into());
            let cfg = AllocatorConfig::preset(&name).unwrap_or_else(|| {
                p.add(
                    "server.allocator",
                    format!(
                        "unknown preset '{name}'; known presets: {}",
                        PRESET_NAMES.join(", ")
                    ),
                );
                AllocatorConfig::jemalloc_5_3()
            });
            (name, cfg)
        }
    };
    if let Some(ms) = raw.server.dirty_decay_ms {
        if ms < -1 {
            p.add(
                "server.dirty_decay_ms",
                format!("{ms}: use -1 (never), 0 (at once) or a positive number of ms"),
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
    let maxmemory = raw
        .server
        .maxmemory
        .as_ref()
        .and_then(|v| p.bytes("server.maxmemory", v));
    let memory_limit = raw
        .server
        .memory_limit
        .as_ref()
        .and_then(|v| p.bytes("server.memory_limit", v));
    if maxmemory.is_some() && redis.is_none() {
        p.add(
            "server.maxmemory",
            "maxmemory is Redis's rule: it needs a Redis profile",
        );
    }

    if raw.workload.tests < 1 {
        p.add(
            "workload.tests",
            format!("{} tests: need at least 1", raw.workload.tests),
        );
    }
    let flush = match raw.workload.flush.as_str() {
        "none" => Flush::None,
        "before_each" => Flush::BeforeEach,
        "after_each" => Flush::AfterEach,
        other => {
            p.add(
                "workload.flush",
                format!("'{other}' is not one of none, before_each, after_each"),
            );
            Flush::None
        }
    };
    if !(raw.workload.test_seconds >= 0.0 && raw.workload.test_seconds.is_finite()) {
        p.add("workload.test_seconds", "must be a number of seconds >= 0");
    }
    if raw.workload.keys.is_empty() {
        p.add("workload.keys", "at least one [[workload.keys]] table is needed");
    }
    let sc = SizeClasses::new(allocator.lg_quantum, allocator.lg_page);
    let mut keys = Vec::new();
    for (i, k) in raw.workload.keys.iter().enumerate() {
        let key = format!("workload.keys[{i}]");
        if k.count < 0 {
            p.add(&format!("{key}.count"), format!("{} is negative", k.count));
        }
        let size = p.bytes(&format!("{key}.value_size"), &k.value_size);
        if let Some(v) = size.filter(|&v| v > sc.large_maxclass()) {
            p.add(
                &format!("{key}.value_size"),
                format!("{v} bytes is larger than jemalloc's largest size class"),
            );
        }
        let cleanup = k.cleanup.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&cleanup) {
            p.add(
                &format!("{key}.cleanup"),
                format!("{cleanup} is not a share between 0 and 1"),
            );
        }
        let kind = match k.kind.as_deref().unwrap_or("string") {
            "string" => KeyType::String,
            "hash" => KeyType::Hash,
            other => {
                p.add(
                    &format!("{key}.type"),
                    format!("'{other}' is not one of string, hash"),
                );
                KeyType::String
            }
        };
        let fields = match (kind, k.fields) {
            (KeyType::Hash, Some(f)) if f >= 1 => f as u64,
            (KeyType::Hash, Some(f)) => {
                p.add(
                    &format!("{key}.fields"),
                    format!("{f}: a hash needs at least 1 field"),
                );
                1
            }
            (KeyType::Hash, None) => {
                p.add(&format!("{key}.fields"), "hashes need `fields` (fields per key)");
                1
            }
            (KeyType::String, Some(_)) => {
                p.add(
                    &format!("{key}.fields"),
                    "only hashes have fields; remove it or set type = \"hash\"",
                );
                1
            }
            (KeyType::String, None) => 1,
        };
        if let Some(t) = k.ttl_seconds.filter(|t| !(*t > 0.0 && t.is_finite())) {
            p.add(
                &format!("{key}.ttl_seconds"),
                format!("{t}: a TTL must be a positive number of seconds"),
            );
        }
        if redis.is_none() && (k.ttl_seconds.is_some() || kind == KeyType::Hash) {
            p.add(&key, "TTLs and hashes need a Redis profile (server.profile)");
        }
        keys.push(KeyGroup {
            name: k.name.clone(),
            count: k.count.max(0) as u64,
            kind,
            value_size: size.unwrap_or(1),
            fields,
            ttl_seconds: k.ttl_seconds,
            cleanup,
        });
    }
    if !p.list.is_empty() {
        return Err(ScenarioError { problems: p.list });
    }
    Ok(Scenario {
        name: raw.name,
        seed: raw.seed,
        allocator,
        allocator_preset: preset,
        redis,
        maxmemory,
        memory_limit,
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
        assert!(s.redis.is_none());
    }

    #[test]
    fn a_redis_profile_brings_its_allocator() {
        let text = GOOD.replace("\"none\"", "\"redis-7.0-debian\"\nmaxmemory = \"512MB\"");
        let s = parse(&text, "r.toml").unwrap();
        assert_eq!(s.redis.as_ref().unwrap().name, "redis-7.0-debian");
        assert_eq!(s.maxmemory, Some(512 << 20));
        assert!(s.allocator.background_thread);
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
        assert!(e.to_string().contains("bad.toml: workload.keys[0].value_size:"));
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

    #[test]
    fn unknown_profile_and_stray_fields() {
        let text = GOOD
            .replace("\"none\"", "\"redis-5\"")
            .replace("count = 30", "count = 30\nfields = 3");
        let e = parse(&text, "p.toml").unwrap_err().to_string();
        assert!(e.contains("p.toml: server.profile: 'redis-5' is neither"), "{e}");
        assert!(
            e.contains("p.toml: workload.keys[0].fields: only hashes have fields"),
            "{e}"
        );
    }
}
