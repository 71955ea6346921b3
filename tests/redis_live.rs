//! The Redis model against a live redis-server started for each scenario on a free loopback
//! port (no persistence, its own directory, stopped even when a test fails).
//!
//! Required after calibration, at every checkpoint: used_memory within 1%, allocator_allocated
//! and allocator_active within 3%, used_memory_rss within 10%. With FRAGSIM_REQUIRE_REDIS=1 (set
//! by .ci/run) a server that cannot be started fails the tests; without it they are skipped with
//! a notice.

mod common;
use common::*;

use fragsim::validate::live_redis::{rel_err, render_checkpoints, validate, RedisProcess};
use fragsim::workload;

fn check(name: &str, toml: &str) {
    let Some(p) = live_server() else { return };
    let sc = workload::parse(toml, name)
        .expect("test scenario parses")
        .first()
        .clone();
    check_scenario(&p, name, &sc);
}

fn check_scenario(p: &RedisProcess, name: &str, sc: &workload::Scenario) {
    let cps = validate(&p.addr, sc, sc.seed, |_| {}).expect("live validation");
    println!("== {name}\n{}", render_checkpoints(&cps));
    for c in &cps {
        for (field, tol) in [
            ("used_memory", 0.01),
            ("allocator_allocated", 0.03),
            ("allocator_active", 0.03),
            ("used_memory_rss", 0.10),
        ] {
            let (m, r) = (c.model.get(field).unwrap(), c.real.get(field).unwrap());
            let e = rel_err(m, r);
            assert!(
                e.abs() <= tol,
                "{name} test {}: {field} model {m} real {r} error {:+.2}%",
                c.test,
                e * 100.0
            );
        }
    }
}

fn strings(size: &str, count: u64, flush: &str) -> String {
    format!(
        r#"name = "strings"
seed = 3
[server]
profile = "redis-7.0-debian"
[workload]
tests = 6
flush = "{flush}"
test_seconds = 0.3
[[workload.keys]]
name = "s"
count = {count}
value_size = {size}
"#
    )
}

#[test]
fn strings_of_100_bytes_growing() {
    check("100 B strings, growing", &strings("100", 400, "none"));
}

#[test]
fn strings_of_2000_bytes_flushed() {
    check(
        "2,000 B strings, FLUSHALL SYNC before each",
        &strings("2000", 100, "before_each"),
    );
}

#[test]
fn strings_of_30000_bytes_flushed() {
    check(
        "30,000 B strings, FLUSHALL SYNC before each",
        &strings("30000", 30, "before_each"),
    );
}

#[test]
fn strings_of_30000_bytes_growing() {
    check("30,000 B strings, growing", &strings("30000", 30, "none"));
}

#[test]
fn strings_of_100_kb_growing() {
    check("100 KB strings, growing", &strings("\"100KiB\"", 10, "none"));
}

#[test]
fn hashes_that_stay_listpack() {
    check(
        "listpack hashes",
        r#"name = "listpack hashes"
[server]
profile = "redis-7.0-debian"
[workload]
tests = 5
test_seconds = 0.3
[[workload.keys]]
name = "h"
count = 200
type = "hash"
fields = 20
value_size = 20
"#,
    );
}

#[test]
fn hashes_that_convert_to_hashtables() {
    check(
        "hashtable hashes",
        r#"name = "hashtable hashes"
[server]
profile = "redis-7.0-debian"
[workload]
tests = 5
flush = "after_each"
test_seconds = 0.3
[[workload.keys]]
name = "h"
count = 30
type = "hash"
fields = 20
value_size = 1500
"#,
    );
}

#[test]
fn keys_with_ttls() {
    check(
        "keys with TTLs",
        r#"name = "ttl"
[server]
profile = "redis-7.0-debian"
[workload]
tests = 5
test_seconds = 0.3
[[workload.keys]]
name = "t"
count = 200
value_size = 500
ttl_seconds = 3600
[[workload.keys]]
name = "th"
count = 50
type = "hash"
fields = 5
value_size = 30
ttl_seconds = 3600
"#,
    );
}

/// The shipped scenarios, each variant, fewer tests per run (the live server runs in real
/// time): `validate` accepts any scenario file.
#[test]
fn shipped_scenarios_validate_against_a_live_live_server() {
    for (file, tests) in [
        ("seed-suite.toml", 4),
        ("seed-suite-leaky.toml", 4),
        ("seed-suite-parallel.toml", 3),
        ("cache.toml", 2),
    ] {
        let path = scenario_path(file);
        let f = workload::load(std::path::Path::new(&path)).expect("shipped scenario parses");
        for v in &f.variants {
            let Some(p) = live_server() else { return };
            let mut sc = v.clone();
            sc.tests = tests;
            sc.test_seconds = sc.test_seconds.min(0.3);
            check_scenario(&p, &format!("{file} / {}", v.variant), &sc);
        }
    }
}
