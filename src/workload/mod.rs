//! Scenario files: the TOML a user writes to describe a workload, parsed in two stages (the raw
//! file with serde, then validated scenarios, one per variant), every problem reported at once
//! with the file, the line, the key path and a hint.
//!
//! `[server] profile` names a Redis server profile (built-in or a calibrated file): keys are then
//! written with Redis commands into the Redis model. `profile = "none"` is a plain allocator
//! workload: objects allocated and freed directly through the jemalloc model.

pub mod claim;
pub mod dist;
pub mod generate;
mod locate;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::jemalloc::{AllocatorConfig, SizeClasses, PRESET_NAMES};
use crate::redis::profile::{RedisProfile, ServerState, DEFAULT_COMMANDS_PER_SECOND};
use crate::units::parse_bytes;
use claim::{check_claims, RawClaim};
pub use claim::{Claim, ClaimSubject, Compare, Metric, OomRule, Phase, Statistic};
pub use dist::SizeDist;
use locate::{line_col, Lines};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default = "default_seed")]
    seed: u64,
    runs: Option<i64>,
    server: RawServer,
    workload: RawWorkload,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    variant: Vec<RawVariant>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    claim: Vec<RawClaim>,
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    profile: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    allocator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maxmemory: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_limit: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dirty_decay_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    background_thread: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcache: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    tests: i64,
    #[serde(default = "default_flush")]
    flush: String,
    #[serde(default = "default_test_seconds")]
    test_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commands_per_second: Option<f64>,
    keys: Vec<RawKeys>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scripts: Vec<RawScript>,
}

fn default_flush() -> String {
    "none".into()
}
fn default_test_seconds() -> f64 {
    2.0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    name: String,
    count: i64,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    value_size: toml::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cleanup: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    name: String,
    size: toml::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    name: String,
    #[serde(default)]
    set: toml::Table,
}

/// When the whole data set is flushed: `FLUSHALL SYNC` with a Redis profile (free everything,
/// then purge jemalloc); free everything, then purge, without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flush {
    None,
    BeforeEach,
    AfterEach,
}

impl Flush {
    /// In words: "kept between tests", "flushed before each test", "flushed after each test".
    pub fn describe(self) -> &'static str {
        match self {
            Flush::None => "kept between tests",
            Flush::BeforeEach => "flushed before each test",
            Flush::AfterEach => "flushed after each test",
        }
    }
}

/// The Redis type of a key group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    String,
    Hash,
}

/// One group of keys each test writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyGroup {
    pub name: String,
    /// Keys (or objects) written per test, per test process.
    pub count: u64,
    pub kind: KeyType,
    /// Bytes per value (a string's value, or each field's value of a hash), drawn per value.
    pub value_size: SizeDist,
    /// Hash fields per key (1 for strings).
    pub fields: u64,
    /// TTL set on each key (Redis profiles only).
    pub ttl_seconds: Option<f64>,
    /// Share of its keys a test deletes itself before it ends; the rest stay until a flush.
    pub cleanup: f64,
}

/// A script each test runs with `EVAL`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptSpec {
    pub name: String,
    /// Bytes of the script body.
    pub size: u64,
    /// `EVAL` calls per test and process.
    pub count: u64,
    /// A new script body in every test (the script cache grows) instead of the same one.
    pub unique: bool,
}

/// One validated variant of a scenario: everything a run needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub name: String,
    /// The variant's name ("default" without `[[variant]]` tables).
    pub variant: String,
    pub seed: u64,
    /// Monte Carlo runs.
    pub runs: u64,
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
    /// Tests (rounds); each test process runs each of them.
    pub tests: u64,
    pub flush: Flush,
    /// Simulated seconds per test (drives decay, expiry, idle clients).
    pub test_seconds: f64,
    /// Test processes sharing the server, their commands interleaved.
    pub parallel: u64,
    /// Commands each test process sends per second (one client, no pipelining): the simulated
    /// clock advances by `1 / (parallel x commands_per_second)` per command, so the server's
    /// cron, jemalloc's decay and its background thread run during a test.
    pub commands_per_second: f64,
    /// The state of the server the workload meets (Redis profiles): freshly started, or as
    /// calibration left it.
    pub state: ServerState,
    pub keys: Vec<KeyGroup>,
    pub scripts: Vec<ScriptSpec>,
}

/// A scenario file: its variants, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioFile {
    pub name: String,
    pub seed: u64,
    pub runs: u64,
    pub variants: Vec<Scenario>,
    /// Claims to check (`fragsim check`).
    pub claims: Vec<Claim>,
}

impl ScenarioFile {
    /// The first variant (the base when there are no `[[variant]]` tables).
    pub fn first(&self) -> &Scenario {
        &self.variants[0]
    }
}

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

/// Collects problems, each prefixed with the file, the line and the key.
struct Problems<'a> {
    file: &'a str,
    lines: &'a Lines,
    /// For a variant: its index and the paths it sets (problems there point at its `set` line).
    variant: Option<(usize, Vec<String>)>,
    list: Vec<String>,
}

impl Problems<'_> {
    fn add(&mut self, key: &str, msg: impl Into<String>) {
        let (shown, line) = match &self.variant {
            Some((i, paths)) if paths.iter().any(|p| key_matches(key, p)) => (
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
    fn bytes(&mut self, key: &str, v: &toml::Value) -> Option<u64> {
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
    fn size(&mut self, key: &str, v: &toml::Value) -> Option<SizeDist> {
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

/// Whether a problem at `key` (`workload.keys[0].value_size`) is about the override `path`
/// (`workload.keys.storm.value_size`): same last segment and same section.
fn key_matches(key: &str, path: &str) -> bool {
    let last = |s: &str| s.rsplit('.').next().unwrap_or("").to_string();
    let first = |s: &str| s.split('.').next().unwrap_or("").to_string();
    last(key) == last(path) && first(key) == first(path)
}

/// Applies one `set` override to the raw scenario: `section.field`, or
/// `workload.keys.<name>.<field>` / `workload.scripts.<name>.<field>` for a named group.
fn apply_override(doc: &mut toml::Value, path: &str, value: &toml::Value) -> Result<(), String> {
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

/// Parses and validates scenario text; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<ScenarioFile, ScenarioError> {
    parse_with(text, file, &[])
}

/// The scenario as a TOML document, for variants and overrides to edit. TOML integers are
/// signed 64-bit; the seed (any u64) is left out and put back by [`from_doc`], and any other
/// number too large for TOML is refused.
fn to_doc(raw: &RawScenario) -> Result<toml::Value, String> {
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

fn from_doc(doc: toml::Value, seed: u64) -> Result<RawScenario, toml::de::Error> {
    RawScenario::deserialize(doc).map(|r| RawScenario { seed, ..r })
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
    };
    let names: Vec<String> = if base_variants.is_empty() {
        vec!["default".into()]
    } else {
        base_variants.iter().map(|v| v.name.clone()).collect()
    };
    let claims = check_claims(&raw.claim, &names, &mut p);
    problems.extend(p.list);
    if !problems.is_empty() {
        problems.dedup();
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

/// The longest idle time after a test, and the longest TTL, in seconds; and the most simulated
/// time a variant may span (the model's clock counts nanoseconds in 64 bits: 584 years).
const MAX_TEST_SECONDS: f64 = 1e7;
const MAX_TTL_SECONDS: f64 = 1e9;
const MAX_SIMULATED_SECONDS: f64 = 1e10;
/// The longest Lua script body modelled (its text is built for real).
const MAX_SCRIPT_BYTES: u64 = 16 << 20;

/// Validates one raw scenario (a variant); problems go to `p`.
fn check(raw: &RawScenario, variant: &str, p: &mut Problems) -> Option<Scenario> {
    let before = p.list.len();
    if raw.name.trim().is_empty() || raw.name.chars().any(char::is_control) {
        p.add(
            "name",
            format!(
                "{:?}: give the scenario a name without control characters",
                raw.name
            ),
        );
    }
    let runs = match raw.runs {
        None => 32,
        Some(r) if r >= 1 => r as u64,
        Some(r) => {
            p.add("runs", format!("{r}: need at least 1 run"));
            1
        }
    };
    let state = match raw.server.state.as_deref() {
        None | Some("fresh") => ServerState::Fresh,
        Some("as_found") => ServerState::AsFound,
        Some(other) => {
            p.add(
                "server.state",
                format!(
                    "'{other}' is not a server state: use \"fresh\" (a freshly started server, the \
                     default) or \"as_found\" (as calibration left it)"
                ),
            );
            ServerState::Fresh
        }
    };
    let redis = if raw.server.profile == "none" {
        if raw.server.state.is_some() {
            p.add("server.state", "the server's state needs a Redis profile");
        }
        None
    } else {
        match RedisProfile::load(&raw.server.profile).and_then(|prof| prof.with_state(state)) {
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

    let w = &raw.workload;
    if w.tests < 1 {
        p.add("workload.tests", format!("{} tests: need at least 1", w.tests));
    }
    let flush = match w.flush.as_str() {
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
    if !(0.0..=MAX_TEST_SECONDS).contains(&w.test_seconds) {
        p.add(
            "workload.test_seconds",
            format!(
                "{}: give a number of seconds from 0 to {MAX_TEST_SECONDS:.0} (115 days)",
                w.test_seconds
            ),
        );
    } else if w.tests > 0 && w.tests as f64 * w.test_seconds > MAX_SIMULATED_SECONDS {
        p.add(
            "workload.test_seconds",
            format!(
                "{} tests x {} s is more simulated time than the model's clock holds ({MAX_SIMULATED_SECONDS:.0} s, about 300 years)",
                w.tests, w.test_seconds
            ),
        );
    }
    let parallel = match w.parallel {
        None => 1,
        Some(n) if (1..=1024).contains(&n) => n as u64,
        Some(n) => {
            p.add("workload.parallel", format!("{n}: need 1 to 1024 test processes"));
            1
        }
    };
    let commands_per_second = match w.commands_per_second {
        None => redis
            .as_ref()
            .map_or(DEFAULT_COMMANDS_PER_SECOND, |r| r.commands_per_second),
        Some(r) if (1.0..=1e9).contains(&r) => r,
        Some(r) => {
            p.add(
                "workload.commands_per_second",
                format!("{r}: need a rate of 1 to 1e9 commands per second"),
            );
            DEFAULT_COMMANDS_PER_SECOND
        }
    };
    if w.commands_per_second.is_some() && redis.is_none() {
        p.add(
            "workload.commands_per_second",
            "a command rate needs a Redis profile",
        );
    }
    if parallel > 1 && redis.is_none() {
        p.add(
            "workload.parallel",
            "parallel test processes need a Redis profile",
        );
    }
    if w.keys.is_empty() {
        p.add("workload.keys", "at least one [[workload.keys]] table is needed");
    }
    let sc = SizeClasses::new(allocator.lg_quantum, allocator.lg_page);
    let mut keys = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, k) in w.keys.iter().enumerate() {
        let key = format!("workload.keys[{i}]");
        if !names.insert(k.name.clone()) {
            p.add(
                &format!("{key}.name"),
                format!("'{}' names two key groups", k.name),
            );
        }
        if k.name.is_empty() || k.name.contains([' ', '.']) || k.name.chars().any(char::is_control) {
            p.add(
                &format!("{key}.name"),
                format!(
                    "{:?}: use a non-empty name without spaces, dots or control characters",
                    k.name
                ),
            );
        }
        if k.count < 1 {
            p.add(
                &format!("{key}.count"),
                format!(
                    "{}: a key group needs at least 1 key (remove the group instead)",
                    k.count
                ),
            );
        }
        let size = p.size(&format!("{key}.value_size"), &k.value_size);
        if let Some(d) = &size {
            // x86-64 user space is 128 TiB (47 bits); jemalloc's classes go further.
            let limit = (sc.large_maxclass() as f64).min((1u64 << 47) as f64);
            if d.practical_max() > limit {
                p.add(
                    &format!("{key}.value_size"),
                    "larger than the 128 TiB a 64-bit process can address",
                );
            } else if let Some(r) = redis
                .as_ref()
                .filter(|r| d.practical_max() > r.proto_max_bulk_len as f64)
            {
                p.add(
                    &format!("{key}.value_size"),
                    format!(
                        "values up to {} are larger than the {} Redis accepts in one string (proto-max-bulk-len of profile '{}'); Redis refuses them",
                        crate::units::human(d.practical_max()),
                        crate::units::human(r.proto_max_bulk_len as f64),
                        r.name
                    ),
                );
            }
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
        if let Some(t) = k.ttl_seconds.filter(|t| !(*t > 0.0 && *t <= MAX_TTL_SECONDS)) {
            p.add(
                &format!("{key}.ttl_seconds"),
                format!("{t}: a TTL must be a positive number of seconds, at most {MAX_TTL_SECONDS:.0} (31 years)"),
            );
        }
        if redis.is_none() && (k.ttl_seconds.is_some() || kind == KeyType::Hash) {
            p.add(&key, "TTLs and hashes need a Redis profile (server.profile)");
        }
        keys.push(KeyGroup {
            name: k.name.clone(),
            count: k.count.max(0) as u64,
            kind,
            value_size: size.unwrap_or(SizeDist::Fixed { bytes: 1 }),
            fields,
            ttl_seconds: k.ttl_seconds,
            cleanup,
        });
    }
    let mut scripts = Vec::new();
    let mut script_names = std::collections::HashSet::new();
    for (i, s) in w.scripts.iter().enumerate() {
        let key = format!("workload.scripts[{i}]");
        if redis.is_none() {
            p.add(&key, "scripts need a Redis profile");
        }
        if s.name.is_empty() || s.name.chars().any(char::is_control) {
            p.add(
                &format!("{key}.name"),
                format!("{:?}: use a non-empty name without control characters", s.name),
            );
        } else if !script_names.insert(s.name.clone()) {
            p.add(&format!("{key}.name"), format!("'{}' names two scripts", s.name));
        }
        let size = p.bytes(&format!("{key}.size"), &s.size).unwrap_or(1);
        if size > MAX_SCRIPT_BYTES {
            p.add(
                &format!("{key}.size"),
                format!(
                    "{}: scripts of up to {} are modelled (Redis takes up to proto-max-bulk-len, but a Lua body that size is no workload)",
                    crate::units::human(size as f64),
                    crate::units::human(MAX_SCRIPT_BYTES as f64)
                ),
            );
        }
        let count = match s.count {
            None => 1,
            Some(c) if c >= 0 => c as u64,
            Some(c) => {
                p.add(&format!("{key}.count"), format!("{c} is negative"));
                0
            }
        };
        scripts.push(ScriptSpec {
            name: s.name.clone(),
            size,
            count,
            unique: s.unique.unwrap_or(false),
        });
    }
    if p.list.len() > before {
        return None;
    }
    let sc = Scenario {
        name: raw.name.clone(),
        variant: variant.into(),
        seed: raw.seed,
        runs,
        allocator,
        allocator_preset: preset,
        redis,
        maxmemory,
        memory_limit,
        tests: w.tests as u64,
        flush,
        test_seconds: w.test_seconds,
        parallel,
        commands_per_second,
        state,
        keys,
        scripts,
    };
    let live = sc.live_payload_bytes();
    if live > (1u64 << 47) as f64 {
        p.add(
            "workload.keys",
            format!(
                "the keys alive at once hold about {} of values, past the 128 TiB a 64-bit process can address: lower counts, sizes, tests or parallel, or flush between tests",
                crate::units::human(live)
            ),
        );
        return None;
    }
    Some(sc)
}

/// What a scenario asks of the machine, estimated before running it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Operations replayed over all variants and runs: commands, plus the server cron's ticks
    /// (10 per simulated second, each counted as a tenth of a command).
    pub events: f64,
    /// Keys or objects alive at once in one run, at most (a test's keys all exist before its
    /// cleanup deletes some).
    pub peak_live: f64,
    /// Bytes of simulator memory the runs need at once (live objects × per-object cost × runs in
    /// flight), and the results they leave (per test of each variant, and of each run).
    pub memory_bytes: f64,
    /// CPU seconds the runs take, about (all threads together).
    pub cpu_seconds: f64,
}

/// Simulator bytes per live string key in the Redis model, per hash field, and per object of a
/// plain allocator workload (peak RSS of one run measured on this project's machine: 1,000,000
/// SETs of 100 B 681 MiB, 1,000,000 hash fields 149-235 MiB, 1,000,000 allocator objects of
/// 100 B 39 MiB, the 33.5 M objects of 32 KiB of `scenarios/terabyte.toml` 2.82 GiB, 90 B each).
const SIM_BYTES_PER_KEY: f64 = 700.0;
const SIM_BYTES_PER_FIELD: f64 = 250.0;
pub const SIM_BYTES_PER_OBJECT: f64 = 100.0;
/// Memory the results take per test of a variant (the Monte Carlo summary of every INFO field at
/// the test's peak and end, and its JSON and CSV as they are written), and per test of each run
/// (measured: 10,000 tests took 197 MB with 3 runs and 798 MB with 100; 100,000 tests with 3
/// runs 1.9 GB, writing a 966 MB result.json).
const RESULT_BYTES_PER_TEST: f64 = 20_000.0;
const RESULT_BYTES_PER_TEST_RUN: f64 = 640.0;
/// Commands per CPU second through the Redis model and objects through the allocator model
/// (measured on this project's machine, with room).
const REDIS_EVENTS_PER_SECOND: f64 = 1.0e5;
const ALLOCATOR_EVENTS_PER_SECOND: f64 = 2.0e6;

impl Scenario {
    /// Payload bytes alive at once, at most, on average draws: every key of every test that is
    /// not flushed, in every test process.
    pub fn live_payload_bytes(&self) -> f64 {
        let tests_alive = if self.flush == Flush::None {
            self.tests as f64
        } else {
            1.0
        };
        self.keys
            .iter()
            .map(|k| k.count as f64 * k.fields as f64 * k.value_size.mean())
            .sum::<f64>()
            * tests_alive
            * self.parallel as f64
    }
}

/// One field's share of a variant's cost, for the estimate to add up and a refusal to name.
struct Cost {
    /// The field as the scenario writes it, with its value.
    what: String,
    /// Simulator bytes one run holds at once for it.
    memory: f64,
    /// Bytes of results it leaves, whatever the runs in flight.
    results: f64,
    /// Operations one run replays for it.
    events: f64,
}

impl Scenario {
    /// What each field of this variant costs (see [`Cost`]); `runs` per variant.
    fn costs(&self, runs: u64, of: &str) -> Vec<Cost> {
        let tests = self.tests as f64;
        let parallel = self.parallel as f64;
        let tests_text = crate::units::plural(self.tests, "test", "tests");
        let tests_alive = if self.flush == Flush::None { tests } else { 1.0 };
        let (per_key, per_field) = if self.redis.is_some() {
            (SIM_BYTES_PER_KEY, SIM_BYTES_PER_FIELD)
        } else {
            (SIM_BYTES_PER_OBJECT, 0.0)
        };
        let mut out = Vec::new();
        for k in &self.keys {
            let hash = k.kind == KeyType::Hash;
            let alive = k.count as f64 * tests_alive * parallel;
            let commands =
                k.count as f64 * if hash { 1.0 + k.fields as f64 / 8.0 } else { 1.0 } * (1.0 + k.cleanup);
            out.push(Cost {
                what: format!(
                    "workload.keys.{}.count = {} per test over {tests_text}{of}",
                    k.name,
                    crate::units::group(k.count),
                ),
                memory: alive
                    * if hash {
                        per_key + k.fields as f64 * per_field
                    } else {
                        per_key
                    },
                results: 0.0,
                events: commands * parallel * tests,
            });
        }
        // A test's commands are built before they run: every EVAL carries its own copy of the
        // script body (measured peaks: 2,000,000 EVALs of 300 B 1.93 GB, 960 B each; 100,000 of
        // 3,000 B 311 MB, 3,100 B each); unique bodies stay in the script cache, one per test and
        // process.
        for sc in &self.scripts {
            let unique = if sc.unique {
                parallel * tests * (sc.size as f64 + 300.0)
            } else {
                0.0
            };
            out.push(Cost {
                what: format!(
                    "workload.scripts.{}.count = {} per test (size {} B){of}",
                    sc.name,
                    crate::units::group(sc.count),
                    crate::units::group(sc.size)
                ),
                memory: parallel * sc.count as f64 * (sc.size as f64 + 700.0) + unique,
                results: 0.0,
                events: sc.count as f64 * parallel * tests,
            });
        }
        // The server cron's ticks: 10 per simulated second, each a tenth of a command.
        out.push(Cost {
            what: format!(
                "workload.test_seconds = {} over {tests_text}{of}",
                self.test_seconds
            ),
            memory: 0.0,
            results: 0.0,
            events: self.test_seconds * tests,
        });
        out.push(Cost {
            what: format!(
                "workload.tests = {} (the results of every test are kept){of}",
                crate::units::group(self.tests)
            ),
            memory: 0.0,
            results: tests * (RESULT_BYTES_PER_TEST + runs as f64 * RESULT_BYTES_PER_TEST_RUN),
            events: 0.0,
        });
        out
    }
}

impl ScenarioFile {
    /// Every variant's costs, each field named with its variant when there are several.
    fn costs(&self, runs: u64) -> Vec<(&Scenario, Vec<Cost>)> {
        self.variants
            .iter()
            .map(|v| {
                let of = if self.variants.len() > 1 {
                    format!(" (variant \"{}\")", v.variant)
                } else {
                    String::new()
                };
                (v, v.costs(runs, &of))
            })
            .collect()
    }

    /// Estimates the work of `runs` runs per variant and the replay of each variant's median run
    /// that decomposes it; `threads` runs are in flight at once.
    pub fn estimate(&self, runs: u64, threads: usize) -> Estimate {
        let mut events = 0.0;
        let mut cpu_seconds = 0.0;
        let mut peak_live: f64 = 0.0;
        let mut memory: f64 = 0.0;
        let mut results = 0.0;
        for (v, costs) in self.costs(runs) {
            let e = costs.iter().map(|c| c.events).sum::<f64>() * (runs as f64 + 1.0);
            events += e;
            cpu_seconds += e / if v.redis.is_some() {
                REDIS_EVENTS_PER_SECOND
            } else {
                ALLOCATOR_EVENTS_PER_SECOND
            };
            memory = memory.max(costs.iter().map(|c| c.memory).sum());
            results += costs.iter().map(|c| c.results).sum::<f64>();
            let tests_alive = if v.flush == Flush::None {
                v.tests as f64
            } else {
                1.0
            };
            let live: f64 = v
                .keys
                .iter()
                .map(|k| k.count as f64 * tests_alive * v.parallel as f64 * k.fields as f64)
                .sum();
            peak_live = peak_live.max(live);
        }
        Estimate {
            events,
            peak_live,
            memory_bytes: memory * threads.min(runs as usize).max(1) as f64 + results,
            cpu_seconds,
        }
    }

    /// The field that costs the most, for a refusal to name, with the variant that sets it: by
    /// simulator memory (`by_memory`: what a run holds, and the results it leaves), or by the
    /// operations it replays.
    pub fn largest_cost(&self, by_memory: bool, runs: u64) -> String {
        let weight = |c: &Cost| if by_memory { c.memory + c.results } else { c.events };
        self.costs(runs)
            .into_iter()
            .flat_map(|(_, costs)| costs)
            .reduce(|best, c| if weight(&c) > weight(&best) { c } else { best })
            .map(|c| c.what)
            .unwrap_or_default()
    }
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
    fn locate_follows_headers() {
        let lines = Lines::new(GOOD);
        assert_eq!(lines.locate("workload.keys[0].value_size"), Some(11));
        assert_eq!(lines.locate("server.profile"), Some(4));
        assert_eq!(lines.locate("workload.tests"), Some(6));
    }
}
