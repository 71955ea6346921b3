//! An imported keyspace written as a scenario: one key group per pattern, type and encoding,
//! its counts and sizes the distributions the import measured, loaded in one test; a comment
//! header says where it came from and how much of it was read.

use super::dataset::{GroupKey, Kind, Stats};
use super::pattern::{group_name, key_pattern};
use crate::units::group;
use crate::workload::SizeDist;

/// Where the data came from, for the header and the profile.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// One line: "dump.rdb (RDB 10, written by Redis 7.0.15)" or "redis at 10.0.0.5:6379".
    pub what: String,
    /// The server that wrote it: `redis` or `valkey`, and its version, when known.
    pub server: Option<(String, String)>,
    /// The allocator it reported (`mem_allocator`), when known.
    pub allocator: Option<String>,
    /// How much was read: "every key and element", "a sample of 10,000 of 1,000,000 keys".
    pub coverage: String,
    /// Further lines for the header (the source's own memory figures, keys not modelled).
    pub notes: Vec<String>,
}

/// How the scenario is written.
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenario's name.
    pub name: String,
    /// The profile to predict with; `None`: the one closest to the source's server.
    pub profile: Option<String>,
    /// Keep small groups' own patterns instead of lumping them (see [`MIN_GROUP_KEYS`]).
    pub keep_names: bool,
    /// The most key groups written; the smallest beyond it are lumped per type.
    pub max_groups: usize,
    /// Monte Carlo runs.
    pub runs: u64,
}

/// A pattern of fewer keys than this keeps only its first piece (`rate:limit:alice` becomes
/// `rate:*`), unless names are kept: a pattern of so few keys is likely to be a name.
pub const MIN_GROUP_KEYS: f64 = 3.0;

/// Sizes where Redis changes how it holds a value or element (a bin of a distribution never
/// crosses one): integers up to 20 bytes, embedded strings up to 44, listpack entries up to 64,
/// sds headers at 32, 256 and 65,536 bytes; and every length where a string's allocation
/// (its length plus 2, 4, 6, 10 or 20 bytes of sds header, terminator or object) moves to the
/// next jemalloc size class, so that every value of a bin lands in the class it had.
fn value_cuts() -> Vec<u64> {
    let mut cuts = vec![21, 32, 33, 45, 65, 129, 256, 257, 4097, 65_536, 65_537];
    let sc = crate::jemalloc::SizeClasses::new(3, 12);
    for c in sc.classes().iter().take_while(|c| c.size <= 64 << 20) {
        for overhead in [2, 4, 6, 10, 20] {
            if c.size >= overhead {
                cuts.push(c.size - overhead + 1);
            }
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Counts where a hash, set or sorted set converts (128 listpack entries, 512 intset members)
/// or a hash table doubles (a power of two).
fn count_cuts() -> Vec<u64> {
    let mut cuts = vec![129, 513];
    cuts.extend((1..40).map(|k| (1u64 << k) + 1));
    cuts.sort_unstable();
    cuts
}

/// The built-in profile closest to the server that wrote the data.
pub fn profile_for(server: Option<&(String, String)>, allocator: Option<&str>) -> (String, Option<String>) {
    let Some((name, version)) = server else {
        return (
            "redis-7.0".into(),
            Some("the writing server is unknown: predicting with redis-7.0".into()),
        );
    };
    let mut v = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    let p = match (name.as_str(), major, minor) {
        ("valkey", 8, 0) => "valkey-8.0",
        ("valkey", 8, _) => "valkey-8.1",
        ("valkey", _, _) => "valkey-9.1",
        (_, 7, 0) if allocator.is_some_and(|a| a.starts_with("jemalloc-5.3")) => "redis-7.0-debian",
        (_, 7, 0) => "redis-7.0",
        (_, 7, 2) => "redis-7.2",
        (_, 7, _) => "redis-7.4",
        (_, 8, _) => "redis-8.0",
        _ => {
            return (
                "redis-7.0".into(),
                Some(format!(
                    "{name} {version} has no profile of its own: predicting with redis-7.0"
                )),
            )
        }
    };
    (p.into(), None)
}

/// Lumps small and surplus groups (see [`MIN_GROUP_KEYS`], [`Options::max_groups`]).
fn lump(groups: Vec<(GroupKey, Stats)>, opts: &Options) -> Vec<(GroupKey, Stats)> {
    let mut out: Vec<(GroupKey, Stats)> = Vec::new();
    let add = |k: GroupKey, s: Stats, out: &mut Vec<(GroupKey, Stats)>| {
        if let Some((_, t)) = out.iter_mut().find(|(o, _)| *o == k) {
            t.merge(&s);
        } else {
            out.push((k, s));
        }
    };
    for (k, s) in groups {
        if !opts.keep_names
            && s.keys < MIN_GROUP_KEYS
            && k.pattern.contains(|c: char| c.is_ascii_alphabetic())
        {
            let first = k
                .pattern
                .split([':', '/', '|', '#', ',', ';', '=', '@', '.', ' '])
                .next()
                .unwrap_or("");
            let pattern = if first.is_empty() || first == k.pattern {
                "*".to_string()
            } else {
                format!("{first}:*")
            };
            add(GroupKey { pattern, ..k }, s, &mut out);
        } else {
            add(k, s, &mut out);
        }
    }
    out.sort_by(|a, b| b.1.payload.total_cmp(&a.1.payload).then_with(|| a.0.cmp(&b.0)));
    if out.len() > opts.max_groups {
        let rest = out.split_off(opts.max_groups.saturating_sub(5));
        for (k, s) in rest {
            add(
                GroupKey {
                    pattern: "*".into(),
                    ..k
                },
                s,
                &mut out,
            );
        }
    }
    out
}

/// A distribution as TOML: a number, or an inline table.
fn dist_toml(d: &SizeDist) -> String {
    match d {
        SizeDist::Fixed { bytes } => bytes.to_string(),
        SizeDist::Choice { values, weights } => format!(
            "{{ dist = \"choice\", values = [{}], weights = [{}] }}",
            values.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
            weights
                .iter()
                .map(|w| format!("{w}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => toml::Value::try_from(other)
            .map(|v| v.to_string())
            .unwrap_or_default(),
    }
}

/// The scenario text.
pub fn scenario_text(groups: Vec<(GroupKey, Stats)>, source: &Source, opts: &Options) -> String {
    let (modelled, unmodelled): (Vec<_>, Vec<_>) = groups
        .into_iter()
        .partition(|(k, _)| !matches!(k.kind, Kind::Stream | Kind::Module));
    let groups = lump(modelled, opts);
    let (profile, profile_note) = match &opts.profile {
        Some(p) => (p.clone(), None),
        None => profile_for(source.server.as_ref(), source.allocator.as_deref()),
    };
    let keys: f64 = groups.iter().map(|(_, s)| s.keys).sum();
    let mut t = String::new();
    t += &format!("# Imported by `fragsim import` from {}.\n", source.what);
    t += &format!(
        "# {} keys in {} key groups (pattern, type and encoding); read: {}.\n",
        group(keys.round() as u64),
        groups.len(),
        source.coverage
    );
    t += "# Key names are patterns (identifiers masked as *), their lengths distributions; no value\n\
          # and no full key name is kept. Sizes are what the import measured, as distributions.\n";
    for n in &source.notes {
        t += &format!("# {n}\n");
    }
    for (k, s) in &unmodelled {
        t += &format!(
            "# Not modelled: {} {} key{} '{}' (left out of the scenario).\n",
            group(s.keys.round() as u64),
            k.kind.name(),
            if s.keys.round() == 1.0 { "" } else { "s" },
            k.pattern
        );
    }
    if let Some(n) = profile_note {
        t += &format!("# {n}; set [server] profile to the server you run.\n");
    }
    t += &format!(
        "name = {}\nseed = 1\nruns = {}\n\n[server]\nprofile = \"{profile}\"\n\n\
         [workload]\ntests = 1              # one test loads the whole data set\nflush = \"none\"\ntest_seconds = 2.0\n",
        toml::Value::String(opts.name.clone()),
        opts.runs
    );
    // Names: the pattern, with the type or encoding after a slash where a pattern has several
    // groups (the largest keeps the bare pattern).
    let mut used = std::collections::HashSet::new();
    let mut patterns: std::collections::HashMap<String, u64> = Default::default();
    for (k, s) in &groups {
        let base = group_name(&k.pattern);
        let name = if used.insert(base.clone()) {
            base
        } else {
            let suffix = if k.encoding.is_empty() {
                k.kind.name()
            } else {
                k.encoding
            };
            let mut n = format!("{base}/{suffix}");
            if !used.insert(n.clone()) {
                n = format!("{base}/{}-{suffix}", k.kind.name());
                used.insert(n.clone());
            }
            n
        };
        // Groups of one pattern (split by type or encoding) must not name the same keys, in
        // any variant (counts scaled, growth): group i of m numbers its keys i, i + m, ...
        let p = key_pattern(&k.pattern);
        let m = groups
            .iter()
            .filter(|(g, _)| key_pattern(&g.pattern) == p)
            .count() as u64;
        let i = patterns.entry(p).or_insert(0u64);
        t += &group_toml(&name, (*i, m), k, s);
        *i += 1;
    }
    t += &format!(
        "\n# What if? Uncomment variants to compare with the data as it is (`fragsim run` shows each):\n\
         # [[variant]]\n# name = \"as imported\"\n\
         # [[variant]]\n# name = \"values halved\"\n\
         # set = {{ \"workload.keys.*.value_size\" = \"x0.5\", \"workload.keys.*.element_size\" = \"x0.5\" }}\n\
         # [[variant]]\n# name = \"twice the keys\"\n# set = {{ \"workload.keys.*.count\" = \"x2\" }}\n\
         # [[variant]]\n# name = \"90 days at +1% a day\"     # one test a day, each adding 1% of the keys\n\
         # set = {{ \"workload.tests\" = 91, \"workload.keys.*.growth\" = 0.01 }}\n\
         # [[variant]]\n# name = \"on {other}\"\n# set = {{ \"server.profile\" = \"{other}\" }}\n",
        other = if profile == "valkey-9.1" { "redis-8.0" } else { "valkey-9.1" }
    );
    t
}

/// One `[[workload.keys]]` table, its keys numbered `first_key`, `first_key + key_step`, ...
fn group_toml(name: &str, (first_key, key_step): (u64, u64), k: &GroupKey, s: &Stats) -> String {
    let mut t = format!(
        "\n[[workload.keys]]\nname = {}\ncount = {}\n",
        toml::Value::String(name.into()),
        (s.keys.round() as u64).max(1)
    );
    if k.kind != Kind::String {
        t += &format!("type = \"{}\"\n", k.kind.name());
    }
    let mut comment = format!("# {}", crate::units::plural(s.keys.round() as u64, "key", "keys"));
    if !k.encoding.is_empty() {
        comment += &format!(", {} on the source", k.encoding);
    }
    if s.seen as f64 != s.keys.round() {
        comment += &format!(", {} of them read", group(s.seen));
    }
    t += &format!("{comment}\n");
    t += &format!("key_pattern = {}\n", toml::Value::String(key_pattern(&k.pattern)));
    if key_step > 1 {
        t += &format!(
            "first_key = {first_key}\nkey_step = {key_step}                  # {key_step} groups share the pattern: each names its own keys\n"
        );
    }
    if let Some(d) = s.key_len.to_dist(&value_cuts(), 1) {
        t += &format!("key_size = {}\n", dist_toml(&d));
    }
    let size_field = match k.kind {
        Kind::String | Kind::Hash => "value_size",
        _ => "element_size",
    };
    match k.kind {
        Kind::Hash => {
            if let Some(d) = s.elements.to_dist(&count_cuts(), 1) {
                t += &format!("fields = {}\n", dist_toml(&d));
            }
            if let Some(d) = s.field_len.to_dist(&value_cuts(), 1) {
                t += &format!("field_size = {}\n", dist_toml(&d));
            }
        }
        Kind::List | Kind::Set | Kind::Zset => {
            if let Some(d) = s.elements.to_dist(&count_cuts(), 1) {
                t += &format!("elements = {}\n", dist_toml(&d));
            }
            t += "batch = 50\n";
        }
        _ => {}
    }
    let ints = s.integer_share();
    let bytes = s.bytes.to_dist(&value_cuts(), 1);
    let digits = s.int_digits.to_dist(&[], 1);
    match (bytes, digits) {
        (None, Some(d)) => {
            t += "content = \"integer\"\n";
            t += &format!("{size_field} = {}\n", dist_toml(&d));
        }
        (Some(b), Some(d)) => {
            t += &format!("{size_field} = {}\n", dist_toml(&b));
            t += &format!("integers = {}\ninteger_digits = {}\n", share(ints), dist_toml(&d));
        }
        (Some(b), None) => t += &format!("{size_field} = {}\n", dist_toml(&b)),
        (None, None) => t += &format!("{size_field} = 1\n"),
    }
    if k.kind == Kind::Zset && s.scores > 0.0 {
        let fractional = 1.0 - s.whole_scores / s.scores;
        if fractional >= 0.9995 {
            t += "scores = \"fractional\"\n";
        } else {
            if fractional > 0.0005 {
                t += &format!("fractional_scores = {}\n", share(fractional));
            }
            if let Some(d) = s.score_digits.to_dist(&[], 1) {
                t += &format!("score_digits = {}\n", dist_toml(&d));
            }
        }
    }
    if matches!(k.encoding, "hashtable" | "skiplist") {
        t += &format!(
            "encoding = \"{}\"               # as the source holds them (see the scenario grammar)\n",
            k.encoding
        );
    }
    if s.ttl_keys > 0.0 {
        let pts = s.ttl_secs.points();
        let half = s.ttl_keys / 2.0;
        let mut acc = 0.0;
        let median = pts
            .iter()
            .find(|(_, w)| {
                acc += w;
                acc >= half
            })
            .map_or(1, |p| p.0);
        t += &format!("ttl_seconds = {median}\n");
        let sh = s.ttl_keys / s.keys;
        if sh < 0.9995 {
            t += &format!("ttl_share = {}\n", share(sh));
        }
    }
    t
}

/// A share with four decimals, trailing zeros dropped.
fn share(x: f64) -> String {
    let s = format!("{:.4}", x.clamp(0.0, 1.0));
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
