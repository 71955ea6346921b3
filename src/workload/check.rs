//! Validation of one raw scenario (a variant) into a [`Scenario`]: every value in range, every
//! name known, every combination possible; each problem reported with its line and key.

use super::problems::Problems;
use super::raw::RawScenario;
use super::scenario::{BigFirst, Content, KeyShape, Scores};
use super::*;
use crate::jemalloc::{AllocatorConfig, SizeClasses, PRESET_NAMES};
use crate::redis::profile::{RedisProfile, ServerState, DEFAULT_COMMANDS_PER_SECOND};

/// The longest idle time after a test, and the longest TTL, in seconds; and the most simulated
/// time a variant may span (the model's clock counts nanoseconds in 64 bits: 584 years).
const MAX_TEST_SECONDS: f64 = 1e7;
const MAX_TTL_SECONDS: f64 = 1e9;
const MAX_SIMULATED_SECONDS: f64 = 1e10;
/// The longest Lua script body modelled (its text is built for real).
const MAX_SCRIPT_BYTES: u64 = 16 << 20;
/// The most elements one key of a list, set or sorted set may be given (Redis's own limit is
/// 2^32 - 1 members; a billion is well past any machine's memory).
const MAX_ELEMENTS: f64 = 1e9;
/// The most elements one command carries.
const MAX_BATCH: i64 = 1_000_000;
/// The longest key or field name a group may ask for (Redis takes up to proto-max-bulk-len).
const MAX_NAME_BYTES: i64 = 1 << 20;

/// The sizes of `d` over `limit` bytes: a choice's values over it, with their weights; a
/// uniform's range above it; a fixed size over it; else (no such size, or a normal or
/// log-normal) `limit + 1`.
/// The largest `growth`: a hundred times `count` added per test.
const MAX_GROWTH: f64 = 100.0;

fn big_values(d: &SizeDist, limit: u64) -> SizeDist {
    match d {
        SizeDist::Choice { values, weights } => {
            let (v, w): (Vec<u64>, Vec<f64>) = values
                .iter()
                .zip(weights)
                .filter(|(v, _)| **v > limit)
                .map(|(v, w)| (*v, *w))
                .unzip();
            if v.is_empty() {
                SizeDist::Fixed { bytes: limit + 1 }
            } else {
                SizeDist::Choice {
                    values: v,
                    weights: w,
                }
            }
        }
        SizeDist::Uniform { min, max } if *max > limit => SizeDist::Uniform {
            min: (*min).max(limit + 1),
            max: *max,
        },
        SizeDist::Fixed { bytes } if *bytes > limit => d.clone(),
        _ => SizeDist::Fixed { bytes: limit + 1 },
    }
}

/// The draws of a group held in its large encoding (see [`BigFirst`]): `d`'s sizes over
/// `limit` for a key's first value, when the key has at most `entries` values (`counts` says
/// how many keys do); for the rest, `d` with its large sizes' weights lowered by what those
/// first values take (a choice's; other distributions stay as they are).
fn big_first(d: &SizeDist, limit: u64, entries: u64, counts: &SizeDist) -> BigFirst {
    let big = big_values(d, limit);
    let rest = match d {
        SizeDist::Choice { values, weights } => {
            let total: f64 = weights.iter().sum();
            let large: f64 = values
                .iter()
                .zip(weights)
                .filter(|(v, _)| **v > limit)
                .map(|(_, w)| w)
                .sum();
            // Per key: mean values n, a share p of them large; a share f of keys gets its first
            // value large. The other n - f values keep (n p - f) large ones.
            let n = counts.mean().max(1.0);
            let grid = 1000;
            let f = (0..grid)
                .filter(|i| counts.quantile((*i as f64 + 0.5) / grid as f64) <= entries)
                .count() as f64
                / grid as f64;
            let p = if total > 0.0 { large / total } else { 0.0 };
            let left = ((n * p - f) / (n - f).max(1e-9)).clamp(0.0, 1.0);
            let scale = if p > 0.0 && p < 1.0 {
                // New large share `left` among the same small weights.
                let small = total - large;
                left / (1.0 - left).max(1e-9) * small / large
            } else {
                1.0
            };
            let weights: Vec<f64> = values
                .iter()
                .zip(weights)
                .map(|(v, w)| if *v > limit { w * scale } else { *w })
                .collect();
            if weights.iter().sum::<f64>() > 0.0 {
                SizeDist::Choice {
                    values: values.clone(),
                    weights,
                }
            } else {
                d.clone()
            }
        }
        _ => d.clone(),
    };
    BigFirst { big, rest }
}

/// A key pattern's problem: it needs `{n}`, and knows `{test}` and `{process}`; no other
/// braces, no spaces or control characters.
fn check_key_pattern(pattern: &str) -> Result<(), String> {
    if pattern.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!(
            "{pattern:?}: use a pattern without spaces or control characters"
        ));
    }
    let mut rest = pattern;
    let mut has_n = false;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("{pattern:?}: a '{{' without its '}}'"));
        };
        match &rest[open + 1..open + close] {
            "n" => has_n = true,
            "test" | "process" => {}
            other => {
                return Err(format!(
                    "{pattern:?}: {{{other}}} is not a placeholder; use {{n}} (the key's number), {{test}} and {{process}}"
                ))
            }
        }
        rest = &rest[open + close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("{pattern:?}: a '}}' without its '{{'"));
    }
    if !has_n {
        return Err(format!(
            "{pattern:?}: needs {{n}} (the key's number), or every key of the group has the same name"
        ));
    }
    Ok(())
}

/// Validates one raw scenario (a variant); problems go to `p`.
pub(super) fn check(raw: &RawScenario, variant: &str, p: &mut Problems) -> Option<Scenario> {
    let before = p.list.len();
    p.groups = raw.workload.keys.iter().map(|k| k.name.clone()).collect();
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
        let cluster = raw.server.cluster;
        let loaded = RedisProfile::load(&raw.server.profile).and_then(|prof| match cluster {
            Some(true) => prof
                .with_cluster()
                .inspect_err(|e| p.add("server.cluster", e.to_string())),
            _ => Ok(prof),
        });
        match loaded.and_then(|prof| prof.with_state(state)) {
            Err(crate::redis::ProfileError::NoClusterBaseline { .. }) => None,
            Ok(prof) if cluster == Some(false) && prof.cluster => {
                p.add(
                    "server.cluster",
                    format!(
                        "profile '{}' was calibrated on a cluster node; remove cluster = false, or use a profile of a server without cluster mode",
                        prof.name
                    ),
                );
                None
            }
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
    if raw.server.profile == "none" && raw.server.cluster.is_some() {
        p.add(
            "server.cluster",
            "cluster mode is Redis's: it needs a Redis profile",
        );
    }
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
        let kind = match k.kind.as_deref().unwrap_or("string") {
            "string" => KeyType::String,
            "hash" => KeyType::Hash,
            "list" => KeyType::List,
            "set" => KeyType::Set,
            "zset" => KeyType::Zset,
            other => {
                p.add(
                    &format!("{key}.type"),
                    format!("'{other}' is not one of string, hash, list, set, zset"),
                );
                KeyType::String
            }
        };
        let tname = kind.name();
        // Which size field the type takes: values for strings and hashes, elements for the rest.
        let (size_field, size_value) = if kind.is_collection() {
            if k.value_size.is_some() {
                p.add(
                    &format!("{key}.value_size"),
                    format!("a {tname} holds elements: give element_size (bytes per element) instead"),
                );
            }
            ("element_size", k.element_size.as_ref())
        } else {
            if k.element_size.is_some() {
                p.add(
                    &format!("{key}.element_size"),
                    format!("only lists, sets and zsets have elements; a {tname} takes value_size"),
                );
            }
            ("value_size", k.value_size.as_ref())
        };
        let size = match size_value {
            Some(v) => p.size(&format!("{key}.{size_field}"), v),
            None => {
                p.add(
                    &key,
                    format!(
                        "a {tname} group needs `{size_field}` (bytes per {})",
                        if kind.is_collection() { "element" } else { "value" }
                    ),
                );
                None
            }
        };
        let content = match k.content.as_deref().unwrap_or("bytes") {
            "bytes" => Content::Bytes,
            "integer" => Content::Integer,
            other => {
                p.add(
                    &format!("{key}.content"),
                    format!("'{other}' is not one of bytes, integer"),
                );
                Content::Bytes
            }
        };
        if let Some(d) = &size {
            // x86-64 user space is 128 TiB (47 bits); jemalloc's classes go further.
            let limit = (sc.large_maxclass() as f64).min((1u64 << 47) as f64);
            if content == Content::Integer && d.practical_max() > 19.0 {
                p.add(
                    &format!("{key}.{size_field}"),
                    "integer content is sized in digits: give 1 to 19 (an integer Redis keeps as a number has at most 19 digits)",
                );
            } else if d.practical_max() > limit {
                p.add(
                    &format!("{key}.{size_field}"),
                    "larger than the 128 TiB a 64-bit process can address",
                );
            } else if let Some(r) = redis
                .as_ref()
                .filter(|r| d.practical_max() > r.proto_max_bulk_len as f64)
            {
                p.add(
                    &format!("{key}.{size_field}"),
                    format!(
                        "{}s up to {} are larger than the {} Redis accepts in one string (proto-max-bulk-len of profile '{}'); Redis refuses them",
                        if kind.is_collection() { "element" } else { "value" },
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
        let fields = match (kind, &k.fields) {
            (KeyType::Hash, Some(toml::Value::Integer(f))) if *f < 1 => {
                p.add(
                    &format!("{key}.fields"),
                    format!("{f}: a hash needs at least 1 field"),
                );
                SizeDist::Fixed { bytes: 1 }
            }
            (KeyType::Hash, Some(v)) => {
                let d = p.size(&format!("{key}.fields"), v);
                if d.as_ref().is_some_and(|d| d.practical_max() > MAX_ELEMENTS) {
                    p.add(
                        &format!("{key}.fields"),
                        format!("give at most {MAX_ELEMENTS:.0} fields per key"),
                    );
                }
                d.unwrap_or(SizeDist::Fixed { bytes: 1 })
            }
            (KeyType::Hash, None) => {
                p.add(&format!("{key}.fields"), "hashes need `fields` (fields per key)");
                SizeDist::Fixed { bytes: 1 }
            }
            (_, Some(_)) => {
                p.add(
                    &format!("{key}.fields"),
                    "only hashes have fields; remove it or set type = \"hash\"",
                );
                SizeDist::Fixed { bytes: 1 }
            }
            (_, None) => SizeDist::Fixed { bytes: 1 },
        };
        let mut only = |field: &str, given: bool, types: &[KeyType], what: &str| {
            if given && !types.contains(&kind) {
                p.add(
                    &format!("{key}.{field}"),
                    format!("{what}; this group is a {tname}"),
                );
            }
        };
        only(
            "elements",
            k.elements.is_some(),
            &[KeyType::List, KeyType::Set, KeyType::Zset],
            "only lists, sets and zsets have elements",
        );
        only(
            "batch",
            k.batch.is_some(),
            &[KeyType::List, KeyType::Set, KeyType::Zset],
            "only lists, sets and zsets are written in batches of elements",
        );
        only(
            "pop",
            k.pop.is_some(),
            &[KeyType::List],
            "only lists pop (sets and zsets take `remove`)",
        );
        only(
            "remove",
            k.remove.is_some(),
            &[KeyType::Set, KeyType::Zset],
            "only sets and zsets remove members (lists take `pop`)",
        );
        only(
            "scores",
            k.scores.is_some(),
            &[KeyType::Zset],
            "only zsets have scores",
        );
        only(
            "field_size",
            k.field_size.is_some(),
            &[KeyType::Hash],
            "only hashes have field names",
        );
        only(
            "fractional_scores",
            k.fractional_scores.is_some(),
            &[KeyType::Zset],
            "only zsets have scores",
        );
        only(
            "score_digits",
            k.score_digits.is_some(),
            &[KeyType::Zset],
            "only zsets have scores",
        );
        only(
            "encoding",
            k.encoding.is_some(),
            &[KeyType::Hash, KeyType::Set, KeyType::Zset],
            "only hashes, sets and zsets have a large encoding to hold",
        );
        let elements = if kind.is_collection() {
            match &k.elements {
                Some(v) => p.size(&format!("{key}.elements"), v),
                None => {
                    p.add(
                        &format!("{key}.elements"),
                        format!(
                            "a {tname} group needs `elements` (elements per key: a count or a distribution)"
                        ),
                    );
                    None
                }
            }
        } else {
            None
        };
        let elements = elements.unwrap_or(SizeDist::Fixed { bytes: 1 });
        if kind.is_collection() && elements.practical_max() > MAX_ELEMENTS {
            p.add(
                &format!("{key}.elements"),
                format!("give at most {MAX_ELEMENTS:.0} elements per key"),
            );
        }
        let batch = match k.batch {
            None => 1,
            Some(b) if (1..=MAX_BATCH).contains(&b) => b as u64,
            Some(b) => {
                p.add(
                    &format!("{key}.batch"),
                    format!("{b}: give 1 to {MAX_BATCH} elements per command"),
                );
                1
            }
        };
        let churn = k.pop.or(k.remove).unwrap_or(0.0);
        if !(0.0..=1.0).contains(&churn) {
            let field = if k.pop.is_some() { "pop" } else { "remove" };
            p.add(
                &format!("{key}.{field}"),
                format!("{churn} is not a share between 0 and 1"),
            );
        }
        let scores = match k.scores.as_deref().unwrap_or("integer") {
            "integer" => Scores::Integer,
            "fractional" => Scores::Fractional,
            other => {
                p.add(
                    &format!("{key}.scores"),
                    format!("'{other}' is not one of integer, fractional"),
                );
                Scores::Integer
            }
        };
        let fractional_scores = k.fractional_scores;
        if let Some(f) = fractional_scores.filter(|f| !(0.0..=1.0).contains(f)) {
            p.add(
                &format!("{key}.fractional_scores"),
                format!("{f} is not a share between 0 and 1"),
            );
        }
        let score_digits = match &k.score_digits {
            Some(v) => {
                let d = p.size(&format!("{key}.score_digits"), v);
                if d.as_ref().is_some_and(|d| d.practical_max() > 15.0) {
                    p.add(
                        &format!("{key}.score_digits"),
                        "give 1 to 15 digits (a score is a double: integers past 15 digits lose precision)",
                    );
                }
                d
            }
            None => None,
        };
        if k.scores.is_some() && fractional_scores.is_some() {
            p.add(
                &format!("{key}.fractional_scores"),
                "mixes fractional and integer scores: give it or `scores`, not both",
            );
        }
        let big_first = match (kind, k.encoding.as_deref()) {
            (_, None) => None,
            (KeyType::Hash, Some("hashtable"))
            | (KeyType::Set, Some("hashtable"))
            | (KeyType::Zset, Some("skiplist")) => {
                match (&size, redis.as_ref()) {
                    (Some(d), Some(r)) => {
                        let (limit, entries) = match kind {
                            KeyType::Hash => (r.hash_max_listpack_value, r.hash_max_listpack_entries),
                            // Without listpack sets (Redis 7.0), any member that is not an
                            // integer makes a hash table.
                            KeyType::Set if !r.layout.set_listpack => (0, r.types.set_max_intset_entries),
                            KeyType::Set => (r.types.set_max_listpack_value, r.types.set_max_intset_entries),
                            _ => (r.types.zset_max_listpack_value, r.types.zset_max_listpack_entries),
                        };
                        let counts = if kind == KeyType::Hash { &fields } else { &elements };
                        Some(big_first(d, limit, entries, counts))
                    }
                    _ => None,
                }
            }
            (_, Some(other)) => {
                let want = match kind {
                    KeyType::Zset => "\"skiplist\"",
                    _ => "\"hashtable\"",
                };
                p.add(
                    &format!("{key}.encoding"),
                    format!("'{other}': give {want} (the large encoding; the small one is what Redis picks for small keys anyway)"),
                );
                None
            }
        };
        if let Some(pattern) = &k.key_pattern {
            if let Err(e) = check_key_pattern(pattern) {
                p.add(&format!("{key}.key_pattern"), e);
            }
        }
        let key_shape = KeyShape {
            pattern: k.key_pattern.clone(),
            size: None,
            first: k.first_key.unwrap_or(0),
            step: k.key_step.unwrap_or(1).max(1),
        };
        let name_size = |p: &mut Problems, field: &str, v: &Option<toml::Value>| -> Option<SizeDist> {
            let what = if field == "key_size" {
                "key-name"
            } else {
                "field-name"
            };
            if let Some(toml::Value::Integer(n)) = v {
                if !(1..=MAX_NAME_BYTES).contains(n) {
                    p.add(
                        &format!("{key}.{field}"),
                        format!("{n}: give a {what} length of 1 to {MAX_NAME_BYTES} bytes"),
                    );
                    return None;
                }
            }
            let d = p.size(&format!("{key}.{field}"), v.as_ref()?)?;
            if d.practical_max() > MAX_NAME_BYTES as f64 {
                p.add(
                    &format!("{key}.{field}"),
                    format!("give {what} lengths of at most {MAX_NAME_BYTES} bytes"),
                );
                return None;
            }
            Some(d)
        };
        let key_size = name_size(p, "key_size", &k.key_size);
        if let Some(SizeDist::Fixed { bytes: n }) = key_size {
            // The longest name the group makes must fit a fixed length: with its number in
            // digits, or, where shorter, in letters (see `scenario::letters`).
            let count = k.count.max(1) as u64;
            let longest = key_shape.longest(&k.name, count, w.tests.max(1) as u64, parallel);
            let last = key_shape
                .first
                .saturating_add((count - 1).saturating_mul(key_shape.step));
            let fixed = longest - super::scenario::decimal_digits(last);
            let mut width = 1;
            while 52u64.saturating_pow(width as u32) <= last {
                width += 1;
            }
            let least = (fixed + width).min(longest);
            if n < least {
                let letters = if least < longest {
                    format!(" in digits, {least} with its number in letters")
                } else {
                    String::new()
                };
                p.add(
                    &format!("{key}.key_size"),
                    format!(
                        "{n}: the group's longest key name needs {longest} bytes{letters}; give at least {least}"
                    ),
                );
            }
        }
        // A field name shorter than `f` and its number is the number in letters; one too short
        // for that too keeps its digits, so any length is valid.
        let field_size = name_size(p, "field_size", &k.field_size);
        let integers = k.integers.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&integers) {
            p.add(
                &format!("{key}.integers"),
                format!("{integers} is not a share between 0 and 1"),
            );
        }
        if k.integers.is_some() && content == Content::Integer {
            p.add(
                &format!("{key}.integers"),
                "content = \"integer\" makes every value an integer; `integers` is the share for bytes content",
            );
        }
        let integer_digits = match (&k.integer_digits, k.integers) {
            (Some(v), Some(_)) => {
                let d = p.size(&format!("{key}.integer_digits"), v);
                if d.as_ref().is_some_and(|d| d.practical_max() > 19.0) {
                    p.add(
                        &format!("{key}.integer_digits"),
                        "give 1 to 19 digits (an integer Redis keeps as a number has at most 19 digits)",
                    );
                }
                d.unwrap_or(SizeDist::Fixed { bytes: 1 })
            }
            (Some(_), None) => {
                p.add(
                    &format!("{key}.integer_digits"),
                    "sizes the `integers` share of values: give `integers` too",
                );
                SizeDist::Fixed { bytes: 1 }
            }
            (None, Some(i)) if i > 0.0 => {
                p.add(
                    &format!("{key}.integers"),
                    "needs `integer_digits` (the integers' digits: a count or a distribution)",
                );
                SizeDist::Fixed { bytes: 1 }
            }
            (None, _) => SizeDist::Fixed { bytes: 1 },
        };
        let growth = k.growth.unwrap_or(0.0);
        if !(0.0..=MAX_GROWTH).contains(&growth) {
            p.add(
                &format!("{key}.growth"),
                format!("{growth} is not a share of `count` from 0 to {MAX_GROWTH:.0} (keys added per test after the first)"),
            );
        } else if growth > 0.0 && flush != Flush::None {
            p.add(
                &format!("{key}.growth"),
                "adds keys to those the tests before wrote: it needs flush = \"none\"",
            );
        }
        let ttl_share = k.ttl_share.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&ttl_share) {
            p.add(
                &format!("{key}.ttl_share"),
                format!("{ttl_share} is not a share between 0 and 1"),
            );
        }
        if k.ttl_share.is_some() && k.ttl_seconds.is_none() {
            p.add(
                &format!("{key}.ttl_share"),
                "is the share of keys given ttl_seconds: give ttl_seconds too",
            );
        }
        if let Some(t) = k.ttl_seconds.filter(|t| !(*t > 0.0 && *t <= MAX_TTL_SECONDS)) {
            p.add(
                &format!("{key}.ttl_seconds"),
                format!("{t}: a TTL must be a positive number of seconds, at most {MAX_TTL_SECONDS:.0} (31 years)"),
            );
        }
        if redis.is_none() && (k.ttl_seconds.is_some() || kind != KeyType::String) {
            p.add(
                &key,
                "TTLs, hashes, lists, sets and zsets need a Redis profile (server.profile)",
            );
        }
        if redis.is_none() && (k.content.is_some() || k.key_size.is_some() || k.key_pattern.is_some()) {
            p.add(
                &key,
                "content and key names are Redis's: they need a Redis profile (server.profile)",
            );
        }
        keys.push(KeyGroup {
            name: k.name.clone(),
            count: k.count.max(0) as u64,
            kind,
            value_size: size.unwrap_or(SizeDist::Fixed { bytes: 1 }),
            fields,
            ttl_seconds: k.ttl_seconds,
            ttl_share,
            cleanup,
            growth,
            elements,
            batch,
            churn,
            content,
            integers,
            integer_digits,
            scores,
            fractional_scores,
            score_digits,
            big_first,
            key_shape: KeyShape {
                size: key_size,
                ..key_shape
            },
            field_size,
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
        by_pattern: false,
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
