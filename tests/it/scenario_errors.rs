//! Malformed scenarios: each problem is reported with the file, the line and the key path.

use fragsim::workload::parse;

use crate::common::fresh_dir;

const BASE: &str = r#"name = "base"
seed = 1
runs = 4

[server]
profile = "redis-7.0-debian"
maxmemory = "512MB"
memory_limit = "1GB"

[workload]
tests = 5
flush = "before_each"
test_seconds = 1.0
parallel = 2

[[workload.keys]]
name = "storm"
count = 30
value_size = 30000

[[workload.keys]]
name = "meta"
count = 10
type = "hash"
fields = 5
value_size = 100
ttl_seconds = 60

[[workload.scripts]]
name = "check"
size = 200

[[variant]]
name = "big"

[[variant]]
name = "small"
set = { "workload.keys.storm.value_size" = 2000 }
"#;

/// Replaces line `n` (1-based) of the base scenario.
fn with_line(n: usize, content: &str) -> String {
    BASE.lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == n {
                content.to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_base_scenario_is_valid() {
    let f = parse(BASE, "base.toml").unwrap();
    assert_eq!(f.variants.len(), 2);
}

#[test]
fn every_malformed_scenario_names_its_line_and_key() {
    // (line to replace, new content, line reported, text the message must contain)
    let cases: Vec<(usize, &str, usize, &str)> = vec![
        (3, "runs = 0", 3, "runs: 0: need at least 1 run"),
        (
            8,
            r#"state = "warm""#,
            8,
            "server.state: 'warm' is not a server state: use \"fresh\"",
        ),
        (
            14,
            "commands_per_second = 0",
            14,
            "workload.commands_per_second: 0: need a rate of 1 to 1e9",
        ),
        (5, "[servr]", 5, "servr"),
        (
            6,
            r#"profile = "redis-6""#,
            6,
            "server.profile: 'redis-6' is neither",
        ),
        (
            7,
            r#"maxmemory = "-1GB""#,
            7,
            "server.maxmemory: expected a byte count",
        ),
        (
            8,
            r#"memory_limit = "1 parsec""#,
            8,
            "server.memory_limit: expected a byte count",
        ),
        (
            9,
            r#"allocator = "jemalloc-5.3""#,
            9,
            "server.allocator: a Redis profile brings its own allocator",
        ),
        (11, "tests = 0", 11, "workload.tests: 0 tests"),
        (11, r#"tests = "five""#, 11, "workload.tests: invalid type"),
        (11, "testz = 5", 11, "testz"),
        (
            12,
            r#"flush = "sometimes""#,
            12,
            "workload.flush: 'sometimes' is not one of",
        ),
        (13, "test_seconds = -1.0", 13, "workload.test_seconds: -1"),
        (14, "parallel = 0", 14, "workload.parallel: 0: need 1 to 1024"),
        (
            18,
            "count = -3",
            18,
            "workload.keys[0].count: -3: a key group needs at least 1 key",
        ),
        (
            18,
            "count = 0",
            18,
            "workload.keys[0].count: 0: a key group needs at least 1 key",
        ),
        (
            18,
            "count = 10000000000000000000",
            18,
            "workload.keys[0].count: invalid value: integer `10000000000000000000`, expected i64",
        ),
        (
            17,
            "name = \"st\\u0000orm\"",
            17,
            "workload.keys[0].name: \"st\\0orm\": use a non-empty name",
        ),
        (
            19,
            "value_size = \"4GiB\"",
            19,
            "workload.keys[0].value_size: values up to 4.0 GiB are larger than the 512.0 MiB Redis accepts",
        ),
        (
            19,
            r#"value_size = { dist = "lognormal", median = 1000000, sigma = 1.5 }"#,
            19,
            "proto-max-bulk-len",
        ),
        (
            19,
            r#"value_size = { dist = "uniform", min = 1.5, max = 1.7 }"#,
            19,
            "workload.keys[0].value_size: uniform needs whole byte counts",
        ),
        (
            19,
            r#"value_size = { dist = "choice", values = [1, 2], weights = [nan, 1] }"#,
            19,
            "finite, non-negative weights",
        ),
        (
            19,
            r#"value_size = { dist = "choice", values = [1, 2], weights = [inf, 1] }"#,
            19,
            "finite, non-negative weights",
        ),
        (
            30,
            r#"name = "" "#,
            30,
            "workload.scripts[0].name: \"\": use a non-empty name",
        ),
        (19, "value_size = 0", 19, "workload.keys[0].value_size: 0 bytes"),
        (
            19,
            r#"value_size = "lots""#,
            19,
            "workload.keys[0].value_size: expected a byte count",
        ),
        (
            19,
            r#"value_size = { dist = "uniform", min = 10 }"#,
            19,
            "workload.keys[0].value_size: a uniform distribution needs `max`",
        ),
        (
            19,
            r#"value_size = { dist = "gauss", mean = 1 }"#,
            19,
            "workload.keys[0].value_size.dist: 'gauss' is not one of",
        ),
        (
            19,
            r#"value_size = { dist = "normal", mean = 100, sd = -1 }"#,
            19,
            "workload.keys[0].value_size: normal needs",
        ),
        (
            19,
            r#"value_size = { dist = "choice", values = [1, 2], weights = [1] }"#,
            19,
            "workload.keys[0].value_size.weights: 1 weights for 2 values",
        ),
        (
            19,
            r#"value_size = { dist = "lognormal", median = 100, sigma = 0.5, mode = 3 }"#,
            19,
            "workload.keys[0].value_size.mode: not a parameter",
        ),
        (
            19,
            r#"value_size = "1000TB""#,
            19,
            "workload.keys[0].value_size: larger than the 128 TiB",
        ),
        (
            20,
            "cleanup = 1.5",
            20,
            "workload.keys[0].cleanup: 1.5 is not a share",
        ),
        (
            20,
            "fields = 3",
            20,
            "workload.keys[0].fields: only hashes have fields",
        ),
        (
            22,
            r#"name = "storm""#,
            22,
            "workload.keys[1].name: 'storm' names two key groups",
        ),
        (
            24,
            r#"type = "stream""#,
            24,
            "workload.keys[1].type: 'stream' is not one of string, hash, list, set, zset",
        ),
        (
            24,
            r#"type = "list""#,
            26,
            "workload.keys[1].value_size: a list holds elements: give element_size (bytes per element) instead",
        ),
        (
            25,
            "fields = 0",
            25,
            "workload.keys[1].fields: 0: a hash needs at least 1 field",
        ),
        (27, "ttl_seconds = -5.0", 27, "workload.keys[1].ttl_seconds: -5"),
        (31, "size = 0", 31, "workload.scripts[0].size: 0 bytes"),
        (
            37,
            r#"name = "big""#,
            37,
            "variant[1].name: 'big' is used by an earlier variant",
        ),
        (
            38,
            r#"set = { "workload.keys.strom.value_size" = 2000 }"#,
            38,
            "variant[1].set: \"workload.keys.strom.value_size\": no [[workload.keys]] named 'strom'",
        ),
        (
            38,
            r#"set = { "workload.keys.storm.value_size" = "huge" }"#,
            38,
            "variant[1].set: workload.keys[0].value_size: expected a byte count",
        ),
        (
            38,
            r#"set = { "seed" = 3 }"#,
            38,
            "variant[1].set: 'seed' cannot differ between variants",
        ),
        (38, r#"set = { "workload.tests" = "many" }"#, 38, "variant[1].set"),
    ];
    assert!(cases.len() >= 25);
    for (n, content, line, needle) in cases {
        let text = with_line(n, content);
        let err = match parse(&text, "bad.toml") {
            Ok(_) => panic!("{content}: accepted"),
            Err(e) => e.to_string(),
        };
        let first = err
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{content}: no problem mentions {needle:?} in:\n{err}"));
        assert!(first.starts_with("bad.toml: "), "{first}");
        assert!(
            first.contains(&format!("line {line}")),
            "{content}: expected line {line} in {first}"
        );
    }
}

/// Two scripts of one name, and keys that could not fit in a 64-bit address space.
#[test]
fn duplicate_scripts_and_impossible_totals_are_refused() {
    let text = BASE.replace(
        "[[variant]]\nname = \"big\"",
        "[[workload.scripts]]\nname = \"check\"\nsize = 10\n\n[[variant]]\nname = \"big\"",
    );
    let err = parse(&text, "d.toml").unwrap_err().to_string();
    assert!(
        err.contains("workload.scripts[1].name: 'check' names two scripts"),
        "{err}"
    );
    // 1,000,000 objects of 10 TiB alive at once: 9.5 EiB.
    let text = "name = \"t\"\n[server]\nprofile = \"none\"\n[workload]\ntests = 2\n\
                [[workload.keys]]\nname = \"k\"\ncount = 1000000\nvalue_size = \"10TiB\"\n";
    let err = parse(text, "t.toml").unwrap_err().to_string();
    assert!(
        err.contains("past the 128 TiB a 64-bit process can address"),
        "{err}"
    );
}

/// A seed beyond TOML's signed integers is a valid u64 seed (variants are built from it).
#[test]
fn the_largest_seed_is_accepted() {
    let text = BASE.replace("seed = 1", "seed = 18446744073709551615");
    let f = parse(&text, "s.toml").unwrap();
    assert_eq!(f.seed, u64::MAX);
    assert!(f.variants.iter().all(|v| v.seed == u64::MAX));
}

#[test]
fn several_problems_are_reported_at_once() {
    let text = with_line(11, "tests = 0")
        .replace("count = 30", "count = -1")
        .replace("\"before_each\"", "\"often\"");
    let err = parse(&text, "multi.toml").unwrap_err();
    assert!(err.problems.len() >= 3, "{err}");
}

/// `state = "as_found"` needs a profile that measured that state: the built-in profiles did;
/// a profile file without it is refused, saying how to get one.
#[test]
fn the_as_found_state_needs_a_measured_baseline() {
    let text = BASE.replace(
        "memory_limit = \"1GB\"",
        "memory_limit = \"1GB\"\nstate = \"as_found\"",
    );
    let f = parse(&text, "s.toml").unwrap();
    let b = &f.first().redis.as_ref().unwrap().baseline;
    assert_eq!(b.state, fragsim::redis::profile::ServerState::AsFound);
    assert!(b.commands_seen.contains(&"info".to_string()));
    let mut fresh_only = fragsim::redis::RedisProfile::builtin("redis-7.2").unwrap();
    fresh_only.as_found = None;
    let path = fresh_dir("fresh-only").join("p.toml");
    std::fs::write(&path, fresh_only.to_toml()).unwrap();
    let text = text.replace(
        "\"redis-7.0-debian\"",
        &format!("{:?}", path.display().to_string()),
    );
    let err = parse(&text, "s.toml").unwrap_err().to_string();
    assert!(
        err.contains("server.profile")
            && err.contains("no \"as_found\" baseline")
            && err.contains("fragsim calibrate"),
        "{err}"
    );
}

/// A file that is not UTF-8 is refused with the line and column of the first bad byte.
#[test]
fn a_file_that_is_not_utf8_names_its_line() {
    let dir = fresh_dir("nonutf8");
    let path = dir.join("s.toml");
    std::fs::write(&path, b"name = \"x\"\n[server]\nprofile = \"none\"\n\xff\xfe\n").unwrap();
    let err = fragsim::workload::load(&path).unwrap_err().to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        err.contains("line 4, column 1: not UTF-8 text (byte 0xff)"),
        "{err}"
    );
}

/// A scenario of every collection type and name shape, for the errors of their keys.
const TYPES: &str = r#"name = "types"
[server]
profile = "redis-7.0-debian"
[workload]
tests = 2
[[workload.keys]]
name = "queue"
count = 3
type = "list"
elements = 100
element_size = 64
batch = 10
pop = 0.5
[[workload.keys]]
name = "tags"
count = 2
type = "set"
elements = { dist = "uniform", min = 10, max = 600 }
element_size = 6
content = "integer"
remove = 0.1
key_pattern = "tag:{test}:{n}"
[[workload.keys]]
name = "board"
count = 1
type = "zset"
elements = 200
element_size = 12
scores = "fractional"
key_size = 24
[[workload.keys]]
name = "profile"
count = 5
type = "hash"
fields = 20
value_size = 8
field_size = 6
"#;

/// Replaces line `n` (1-based) of `base`.
fn replace_line(base: &str, n: usize, content: &str) -> String {
    base.lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == n { content } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_malformed_collection_or_name_shape_names_its_line_and_key() {
    parse(TYPES, "types.toml").unwrap();
    let cases: &[(usize, &str, &str)] = &[
        (9, r#"type = "stream""#, "workload.keys[0].type: 'stream' is not one of string, hash, list, set, zset"),
        (10, "elementz = 100", "unknown field `elementz`"),
        (10, "elements = 0", "workload.keys[0].elements"),
        (10, "elements = 2000000000", "workload.keys[0].elements: give at most 1000000000 elements per key"),
        (11, "value_size = 64", "workload.keys[0].value_size: a list holds elements: give element_size"),
        (12, "batch = 0", "workload.keys[0].batch: 0: give 1 to 1000000 elements per command"),
        (13, "pop = 1.5", "workload.keys[0].pop: 1.5 is not a share between 0 and 1"),
        (13, "remove = 0.5", "workload.keys[0].remove: only sets and zsets remove members (lists take `pop`); this group is a list"),
        (13, "scores = \"integer\"", "workload.keys[0].scores: only zsets have scores; this group is a list"),
        (13, "fields = 3", "workload.keys[0].fields: only hashes have fields"),
        (20, r#"content = "text""#, "workload.keys[1].content: 'text' is not one of bytes, integer"),
        (19, "element_size = 25", "workload.keys[1].element_size: integer content is sized in digits: give 1 to 19"),
        (21, "pop = 0.1", "workload.keys[1].pop: only lists pop (sets and zsets take `remove`); this group is a set"),
        (22, r#"key_pattern = "tag:{test}""#, "workload.keys[1].key_pattern: \"tag:{test}\": needs {n}"),
        (22, r#"key_pattern = "tag:{id}:{n}""#, "workload.keys[1].key_pattern: \"tag:{id}:{n}\": {id} is not a placeholder"),
        (22, r#"key_pattern = "tag:{n""#, "a '{' without its '}'"),
        (29, r#"scores = "random""#, "workload.keys[2].scores: 'random' is not one of integer, fractional"),
        (30, "key_size = 4", "workload.keys[2].key_size: 4: the group's longest key name needs 9 bytes; give at least 9"),
        (30, "key_size = 0", "workload.keys[2].key_size: 0: give a key-name length of 1 to 1048576 bytes"),
        (37, "elements = 4", "workload.keys[3].elements: only lists, sets and zsets have elements; this group is a hash"),
        (36, "element_size = 8", "workload.keys[3].element_size: only lists, sets and zsets have elements; a hash takes value_size"),
        // The grammar of imported data sets.
        (36, "integers = 1.5", "workload.keys[3].integers: 1.5 is not a share between 0 and 1"),
        (36, "integer_digits = 3", "workload.keys[3].integer_digits: sizes the `integers` share of values: give `integers` too"),
        (37, "integers = 0.5", "workload.keys[3].integers: needs `integer_digits`"),
        (21, "integers = 0.5", "workload.keys[1].integers: content = \"integer\" makes every value an integer"),
        (36, "ttl_share = 0.5", "workload.keys[3].ttl_share: is the share of keys given ttl_seconds: give ttl_seconds too"),
        (36, "growth = -1", "workload.keys[3].growth: -1 is not a share of `count` from 0 to 100"),
        (36, r#"encoding = "listpack""#, "workload.keys[3].encoding: 'listpack': give \"hashtable\""),
        (29, r#"encoding = "hashtable""#, "workload.keys[2].encoding: 'hashtable': give \"skiplist\""),
        (13, r#"encoding = "hashtable""#, "workload.keys[0].encoding: only hashes, sets and zsets have a large encoding to hold; this group is a list"),
        (28, "fractional_scores = 0.5", "workload.keys[2].fractional_scores: mixes fractional and integer scores: give it or `scores`, not both"),
        (29, "fractional_scores = 2", "workload.keys[2].fractional_scores: 2 is not a share between 0 and 1"),
        (30, "score_digits = 20", "workload.keys[2].score_digits: give 1 to 15 digits"),
        (36, "score_digits = 5", "workload.keys[3].score_digits: only zsets have scores; this group is a hash"),
        (35, "fields = 0", "workload.keys[3].fields: 0: a hash needs at least 1 field"),
        (30, r#"key_size = { dist = "uniform", min = 1, max = 2000000 }"#, "workload.keys[2].key_size: give key-name lengths of at most 1048576 bytes"),
    ];
    for (line, content, want) in cases {
        let text = replace_line(TYPES, *line, content);
        let e = parse(&text, "types.toml").expect_err(content);
        let all = e.problems.join("\n");
        assert!(all.contains(want), "{content}: {all}");
        assert!(all.contains(&format!("line {line}")), "{content}: {all}");
    }
    // A group without its size field, or a collection without its elements.
    let text = TYPES.replace("element_size = 64\n", "");
    let e = parse(&text, "types.toml").unwrap_err();
    assert!(
        e.problems
            .join("\n")
            .contains("workload.keys[0]: a list group needs `element_size` (bytes per element)"),
        "{:?}",
        e.problems
    );
    let text = TYPES.replace("elements = 200\n", "");
    let e = parse(&text, "types.toml").unwrap_err();
    assert!(
        e.problems
            .join("\n")
            .contains("workload.keys[2].elements: a zset group needs `elements`"),
        "{:?}",
        e.problems
    );
    // Collections and name shapes are Redis's.
    let text = TYPES.replace("redis-7.0-debian", "none");
    let e = parse(&text, "types.toml").unwrap_err();
    assert!(
        e.problems
            .join("\n")
            .contains("lists, sets and zsets need a Redis profile"),
        "{:?}",
        e.problems
    );
}

/// Cluster mode needs a profile that knows a cluster node's baseline, and a Redis profile.
#[test]
fn cluster_mode_needs_a_cluster_baseline() {
    let base = "name = \"c\"\n[server]\nprofile = \"redis-7.0-debian\"\ncluster = true\n[workload]\ntests = 1\n[[workload.keys]]\nname = \"k\"\ncount = 1\nvalue_size = 10\n";
    let f = parse(base, "c.toml").unwrap();
    let p = f.first().redis.as_ref().unwrap();
    assert!(p.cluster);
    assert_eq!(p.key_entry(), 40);
    assert_eq!(p.baseline.used_memory, 1_687_808, "the cluster node's baseline");
    let e = parse(&base.replace("redis-7.0-debian", "redis-7.0"), "c.toml").unwrap_err();
    assert_eq!(
        e.problems,
        ["c.toml: line 4: server.cluster: profile 'redis-7.0' has no cluster-mode baseline; run `fragsim calibrate` against a cluster node (cluster-enabled yes, its slots assigned) and name the profile file it writes"]
    );
    let e = parse(&base.replace("redis-7.0-debian", "none"), "c.toml").unwrap_err();
    assert!(
        e.problems
            .join("\n")
            .contains("line 4: server.cluster: cluster mode is Redis's: it needs a Redis profile"),
        "{:?}",
        e.problems
    );
    let plain = parse(&base.replace("cluster = true\n", ""), "c.toml").unwrap();
    assert_eq!(plain.first().redis.as_ref().unwrap().key_entry(), 24);
}

/// A profile calibrated on a server that compresses lists (list-compress-depth > 0) runs list
/// key groups: the scenario parses, and its run keeps the lists' interior nodes compressed (a
/// list's values are zero bytes, which LZF shrinks to almost nothing), so it ends with less
/// `used_memory` than the same scenario on the uncompressed profile.
#[test]
fn compressed_lists_run() {
    let dir = fresh_dir("compressed-lists");
    let text = include_str!("../../src/redis/profiles/redis-7.0-debian.toml")
        .replace("list_compress_depth = 0", "list_compress_depth = 2");
    let profile = dir.join("compressing.toml");
    std::fs::write(&profile, text).unwrap();
    let scenario = |profile: &str| {
        format!(
            "name = \"q\"\n[server]\nprofile = \"{profile}\"\n[workload]\ntests = 1\n[[workload.keys]]\nname = \"q\"\ncount = 20\ntype = \"list\"\nelements = 1000\nelement_size = 100\n",
        )
    };
    let compressed = parse(&scenario(&profile.display().to_string()), "q.toml").unwrap();
    assert_eq!(
        compressed
            .first()
            .redis
            .as_ref()
            .unwrap()
            .types
            .list_compress_depth,
        2
    );
    let plain = parse(&scenario("redis-7.0-debian"), "q.toml").unwrap();
    let used = |f: &fragsim::workload::ScenarioFile| fragsim::sim::run(f.first(), 1, |_| {}).end.used_memory;
    let (c, p) = (used(&compressed), used(&plain));
    // 20 lists of 1,000 x 100 B: about 2 MB of listpacks uncompressed; at depth 2 all but
    // 4 of each list's 13 nodes are LZF blocks of a few hundred bytes.
    assert!(p > c + 1_000_000, "compressed {c}, plain {p}");
}

/// Growth adds keys beside those of the tests before: a flush between tests would wipe them.
#[test]
fn growth_needs_the_keys_of_the_tests_before() {
    let text = "name = \"g\"\n[server]\nprofile = \"redis-7.0-debian\"\n[workload]\ntests = 3\nflush = \"before_each\"\n\
                [[workload.keys]]\nname = \"a\"\ncount = 10\nvalue_size = 5\ngrowth = 0.1\n";
    let err = fragsim::workload::parse(text, "g.toml").unwrap_err().to_string();
    assert!(
        err.contains(
            "workload.keys[0].growth: adds keys to those the tests before wrote: it needs flush = \"none\""
        ),
        "{err}"
    );
}
