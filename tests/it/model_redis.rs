//! The Redis model in a run: the two OOM rules, judged separately.

use fragsim::redis::RedisProfile;
use fragsim::sim::run;
use fragsim::workload::parse;

use crate::common::{heavy_work, scenario_text};

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
/// data (and the baseline's measuring client, 38,080 B, not connected while a test runs), tests
/// 1 to 5 fit, even with the transient cost of a SET (the client's 65,536 B query buffer after
/// a 30 KB argument, the argv, the `set` histogram and the client itself); in test 6 three more
/// SETs fit and the fourth is refused. Only SET is refused, and RSS is not involved.
#[test]
fn maxmemory_refusals_start_where_used_memory_says() {
    let base = RedisProfile::builtin("redis-7.0-debian").unwrap().baseline;
    let limit = base.used_memory + 5 * 30 * 32_824 + 200_000;
    let sc = parse(&scenario(limit, 1 << 40), "t.toml").unwrap();
    let r = run(sc.first(), 1, |_| {});
    let oom = r.oom_maxmemory.unwrap();
    assert_eq!(oom.first_test, Some(6));
    assert_eq!(oom.refused_commands.keys().collect::<Vec<_>>(), ["set"]);
    // 3 of test 6's SETs and none of tests 7 and 8 get through: 27 + 30 + 30 refusals.
    assert_eq!(oom.events, 27 + 30 + 30);
    assert_eq!(r.timeline[7].keys, 5 * 30 + 3);
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
    let _heavy = heavy_work();
    let text = scenario_text("seed-suite-leaky.toml").replace("tests = 92", "tests = 20");
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

/// A fresh server: the baseline's used_memory was read by a measuring client (its 17,600 B of
/// connection and client structures, as an allocation trace of the build shows them, and a
/// 20,480 B query buffer: 38,080 B) before any histogram existed. While
/// a test runs, that client is not there; the first SET makes the `set` histogram (24,688 B);
/// the measurement after the test counts its own client again, and its `INFO` makes the `info`
/// histogram only after replying, so it shows from the second measurement on.
#[test]
fn a_fresh_server_leaves_out_the_measuring_client_and_calibrations_histograms() {
    use fragsim::redis::Server;
    let p = RedisProfile::builtin("redis-7.0-debian").unwrap();
    assert!(p.baseline.commands_seen.is_empty());
    let base = p.baseline.used_memory;
    let mut s = Server::new(p, 1).unwrap();
    assert_eq!(s.measured_info().used_memory, base);
    assert_eq!(s.used_memory(), base - 38_080);
    let before = s.used_memory();
    let c = s.connect();
    s.exec(c, &[b"SET".as_slice(), b"a:1", &[b'x'; 100]]).unwrap();
    s.disconnect(c);
    // Key: dictEntry 32 + sds 8 + robj 16 + sds 112 + the first table 32 = 200; the histogram.
    assert_eq!(s.used_memory() - before, 200 + 24_688);
    assert_eq!(s.measured_info().used_memory, base + 200 + 24_688);
    s.measurement_traffic();
    assert_eq!(s.measured_info().used_memory, base + 200 + 2 * 24_688);
    // used_memory_peak: raised by the SET's call() (argv still held), by INFO to what it saw.
    assert!(s.measured_info().used_memory_peak >= base + 200 + 2 * 24_688);
}

/// Commands take time: at 10,000 commands per second, the cron (every 100 ms) finishes the
/// keyspace table's rehash long before 200,000 SETs end, while at one command per nanosecond
/// the 131,072-bucket table (1 MiB) is still held at the end, next to the 262,144-bucket one:
/// 68,928 SETs after the expand advance the rehash by about 1.58 buckets each (131,072 buckets
/// of which 1 - 1/e are non-empty), about 109,000 of 131,072. The peak differs by exactly that
/// table.
#[test]
fn the_command_rate_lets_the_cron_finish_a_rehash_within_a_test() {
    let at = |rate: &str| {
        let text = format!(
            r#"name = "200k keys"
[server]
profile = "redis-7.0-debian"
[workload]
tests = 1
test_seconds = 1
commands_per_second = {rate}
[[workload.keys]]
name = "k"
count = 200000
value_size = 10
"#
        );
        let sc = parse(&text, "t.toml").unwrap();
        run(sc.first(), 1, |_| {})
    };
    let instant = at("1e9");
    let timed = at("10000");
    assert_eq!(
        instant.timeline[0].peak.used_memory - timed.timeline[0].peak.used_memory,
        1_048_576
    );
    // Both end with the same keyspace once the idle cron has run.
    assert_eq!(instant.end.used_memory, timed.end.used_memory);
}

/// A run's peak ratios are the ratios at the moment of its peak RSS: the replay step the run
/// names, where RSS and used_memory are the decomposition's figures. Their maximum over time
/// is kept apart: in the seed suite it comes right after a FLUSHALL, when the server is nearly
/// empty and RSS / used_memory is at its highest, not at the peak.
#[test]
fn peak_ratios_are_taken_at_the_moment_of_peak_rss() {
    use fragsim::sim::breakdown_at;
    let text = scenario_text("seed-suite.toml").replace("tests = 92", "tests = 12");
    let f = parse(&text, "seed-suite.toml").unwrap();
    let sc = f.first();
    let r = run(sc, 7, |_| {});
    let b = breakdown_at(sc, 7, r.peak_rss_step);
    assert_eq!(b.rss, r.peak.used_memory_rss);
    let two = |x: f64| (x * 100.0).round() / 100.0;
    assert_eq!(
        r.peak.mem_fragmentation_ratio,
        two(b.rss as f64 / b.used_memory as f64)
    );
    // Byte figures stay at their maximum; ratios have their own maxima elsewhere in time.
    assert_eq!(r.peak.used_memory, r.max_over_time.used_memory);
    assert!(
        r.max_over_time.mem_fragmentation_ratio > r.peak.mem_fragmentation_ratio + 1.0,
        "{} vs {}",
        r.max_over_time.mem_fragmentation_ratio,
        r.peak.mem_fragmentation_ratio
    );
}
