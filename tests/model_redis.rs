//! The Redis model in a run: the two OOM rules, judged separately.

use fragsim::redis::RedisProfile;
use fragsim::sim::run;
use fragsim::workload::parse;

fn scenario(maxmemory: u64, memory_limit: u64) -> String {
    format!(
        r#"name = "growing 30 KB"
[server]
profile = "redis-7.0-debian"
maxmemory = {maxmemory}
memory_limit = {memory_limit}
[workload]
tests = 8
test_seconds = 1.0
[[workload.keys]]
name = "k"
count = 30
value_size = 30000
"#
    )
}

/// Each test adds 30 keys of 32,824 B (984,720 B). With 200,000 B of headroom over five tests'
/// data, tests 1 to 5 fit, even with the transient cost of a SET (the client's 81,920 B query
/// buffer after a 30 KB argument, the argv, the `set` histogram and the client itself); in test
/// 6 two more SETs fit and the third is refused. Only SET is refused, and RSS is not involved.
#[test]
fn maxmemory_refusals_start_where_used_memory_says() {
    let base = RedisProfile::builtin("redis-7.0-debian").unwrap().baseline;
    let limit = base.used_memory + 5 * 30 * 32_824 + 200_000;
    let sc = parse(&scenario(limit, 1 << 40), "t.toml").unwrap();
    let r = run(sc.first(), 1, |_| {});
    let oom = r.oom_maxmemory.unwrap();
    assert_eq!(oom.first_test, Some(6));
    assert_eq!(oom.refused_commands.keys().collect::<Vec<_>>(), ["set"]);
    // 2 of test 6's SETs and none of tests 7 and 8 get through: 28 + 30 + 30 refusals.
    assert_eq!(oom.events, 28 + 30 + 30);
    assert_eq!(r.timeline[7].keys, 5 * 30 + 2);
    assert_eq!(r.oom_memory_limit.unwrap().first_test, None);
}

/// The kernel's limit is judged on RSS alone: a limit below the baseline RSS is hit at once,
/// whatever maxmemory says.
#[test]
fn the_memory_limit_is_judged_on_rss() {
    let base = RedisProfile::builtin("redis-7.0-debian").unwrap().baseline;
    let sc = parse(&scenario(1 << 40, base.rss - 1), "t.toml").unwrap();
    let r = run(sc.first(), 1, |_| {});
    assert_eq!(r.oom_memory_limit.unwrap().first_test, Some(1));
    assert_eq!(r.oom_maxmemory.unwrap().first_test, None);
}

/// The capacity `fragsim run` reports is the boundary: with maxmemory (or memory_limit) at it no
/// run is refused (killed), one byte below it some run is.
#[test]
fn capacity_is_the_smallest_safe_limit() {
    use fragsim::sim::montecarlo::run_all;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/seed-suite-leaky.toml"
    ))
    .unwrap()
    .replace("tests = 92", "tests = 20");
    let with_limits = |mm: u64, ml: u64| {
        let t = text
            .replace("maxmemory = \"512MB\"", &format!("maxmemory = {mm}"))
            .replace("memory_limit = \"1GB\"", &format!("memory_limit = {ml}"));
        let f = parse(&t, "leaky.toml").unwrap();
        run_all(&f, 8, 1, 2, &|| {}).unwrap()
    };
    let base = with_limits(1 << 40, 1 << 40);
    let v = &base.variants[0];
    let (mm, ml) = (v.capacity.maxmemory.unwrap(), v.capacity.memory_limit);
    assert!(mm > 1_000_000 && ml > mm, "{mm} {ml}");
    let at = with_limits(mm, ml);
    assert_eq!(at.variants[0].oom.maxmemory.as_ref().unwrap().probability, 0.0);
    assert_eq!(at.variants[0].oom.memory_limit.as_ref().unwrap().probability, 0.0);
    let below = with_limits(mm - 1, ml - 1);
    assert!(below.variants[0].oom.maxmemory.as_ref().unwrap().probability > 0.0);
    assert!(below.variants[0].oom.memory_limit.as_ref().unwrap().probability > 0.0);
}
