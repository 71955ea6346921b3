//! `fragsim bench` and its workloads: the Redis heap traces it replays are checked against the
//! real jemalloc like the churn traces, and the command's JSON has the documented shape.

use crate::common::*;

use fragsim::jemalloc::trace::TraceOp;
use fragsim::jemalloc::AllocatorConfig;
use fragsim::validate::bench::{workload, WORKLOADS};
use fragsim::validate::compare::ReplayOptions;

/// Every workload's trace is well formed: each free names an earlier allocation, once.
#[test]
fn workload_traces_are_well_formed() {
    for name in WORKLOADS {
        let w = workload(name, 20_000).unwrap();
        let expected = if name == "large-churn" { 2_000 } else { 20_000 };
        assert_eq!(w.trace.len(), expected, "{name}");
        let mut freed = vec![false; w.trace.len()];
        let (mut allocs, mut frees, mut purges) = (0, 0, 0);
        for (i, op) in w.trace.iter().enumerate() {
            match *op {
                TraceOp::Alloc { size } => {
                    assert!(size > 0, "{name}: op {i}");
                    allocs += 1;
                }
                TraceOp::Free { op } => {
                    let op = op as usize;
                    assert!(op < i, "{name}: op {i} frees a later op {op}");
                    assert!(
                        matches!(w.trace[op], TraceOp::Alloc { .. } | TraceOp::Realloc { .. }),
                        "{name}: op {i}"
                    );
                    assert!(!std::mem::replace(&mut freed[op], true), "{name}: double free");
                    frees += 1;
                }
                TraceOp::Purge => purges += 1,
                TraceOp::Realloc { op, size } => {
                    assert!(size > 0 && (op as usize) < i, "{name}: op {i}");
                    assert!(
                        !std::mem::replace(&mut freed[op as usize], true),
                        "{name}: realloc of a freed op"
                    );
                    allocs += 1;
                }
            }
        }
        assert!(allocs > 0 && frees > 0, "{name}: {allocs} allocs, {frees} frees");
        // The seed suite flushes (FLUSHALL SYNC purges) before each test.
        if name.starts_with("seed-") {
            assert!(purges > 0, "{name}: no purge");
        }
    }
}

/// The Redis heap traces through the model and through a real dedicated arena: allocated,
/// active, dirty and retained pages equal at every checkpoint, as for the churn traces.
#[test]
fn redis_heap_traces_match_the_real_jemalloc() {
    let cfg = AllocatorConfig::preset("jemalloc-5.3").unwrap();
    for name in ["seed-30k", "seed-2k", "cache"] {
        let w = workload(name, 50_000).unwrap();
        let opts = ReplayOptions {
            dirty_decay_ms: -1,
            muzzy_decay_ms: -1,
            tcache: false,
            every: 5_000,
            write: false,
        };
        let cps = replay_real(&cfg, &w.trace, opts);
        assert!(cps.len() >= 10, "{name}");
        for c in &cps {
            let (m, r) = (&c.model, &c.real);
            let at = format!("{name} event {}", c.event);
            assert_eq!(m.allocated, r.allocated, "allocated at {at}");
            assert_eq!(m.active_pages, r.active_pages, "active at {at}");
            assert_eq!(m.dirty_pages, r.dirty_pages, "dirty at {at}");
            assert_eq!(m.retained_pages, r.retained_pages, "retained at {at}");
            assert_eq!(c.bins_model, c.bins_real, "bins at {at}");
        }
        let last = cps.last().unwrap();
        println!(
            "{name}: {} events, real allocated {} active pages {} dirty {} retained {}",
            last.event,
            last.real.allocated,
            last.real.active_pages,
            last.real.dirty_pages,
            last.real.retained_pages
        );
    }
}

#[test]
fn bench_cli_prints_and_writes_json() {
    let dir = fresh_dir("bench");
    let json = dir.join("bench.json");
    let (rc, out, err) = fragsim(&[
        "bench",
        "--events",
        "5000",
        "--live",
        "200000",
        "--workload",
        "small-churn,seed-30k,redis-set-10b",
        "--keys",
        "20000",
        "--live-keys",
        "100000",
        "--json",
        arg(&json),
    ]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("small-churn") && out.contains("seed-30k"), "{out}");
    assert!(out.contains("B per live object (200,000 live objects"), "{out}");
    assert!(
        out.contains("B per live string key (100,000 keys of 10 B"),
        "{out}"
    );
    let v = read_json(&json);
    let ws = v["workloads"].as_array().unwrap();
    let names: Vec<&str> = ws.iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["small-churn", "seed-30k"]);
    for w in ws {
        let (m, r) = (
            w["model_events_per_sec"].as_f64().unwrap(),
            w["real_events_per_sec"].as_f64().unwrap(),
        );
        assert!(m > 0.0 && r > 0.0, "{w}");
        let ratio = w["ratio"].as_f64().unwrap();
        assert!((ratio - m / r).abs() < 1e-9 * ratio, "{w}");
    }
    let b = v["bytes_per_live_object"].as_f64().unwrap();
    assert!(b > 0.0 && b < 1000.0, "{b}");
    // The Redis workload: one key per command, no live server to compare with.
    let r = &v["redis"][0];
    assert_eq!(r["name"], "redis-set-10b");
    assert_eq!(r["commands"], 20_000);
    assert!(r["model_commands_per_sec"].as_f64().unwrap() > 0.0, "{r}");
    assert!(
        r["real_commands_per_sec"].is_null() && r["ratio"].is_null(),
        "{r}"
    );
    assert_eq!(v["live_keys"], 100_000);
    let k = v["bytes_per_live_key"].as_f64().unwrap();
    assert!(k > 0.0 && k < 1000.0, "{k}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With `--redis`, each Redis workload's commands also go to the live server, pipelined: its
/// commands per second beside the model's, the server emptied after each workload; a server
/// that holds keys is refused before anything is sent.
#[test]
fn bench_runs_the_redis_workloads_on_a_live_server_too() {
    let live = live_lock();
    let Some(server) = live_server(&live) else {
        return;
    };
    let dir = fresh_dir("bench-live");
    let json = dir.join("bench.json");
    let (rc, out, err) = fragsim(&[
        "bench",
        "--workload",
        "redis-set-10b,redis-hash,redis-churn",
        "--keys",
        "20000",
        "--live",
        "0",
        "--live-keys",
        "0",
        "--redis",
        &server.addr,
        "--json",
        arg(&json),
    ]);
    assert_eq!(rc, 0, "{out}{err}");
    let v = read_json(&json);
    let ws = v["redis"].as_array().unwrap();
    assert_eq!(ws.len(), 3);
    for w in ws {
        let (m, r) = (
            w["model_commands_per_sec"].as_f64().unwrap(),
            w["real_commands_per_sec"].as_f64().unwrap(),
        );
        assert!(m > 0.0 && r > 0.0, "{w}");
        assert!((w["ratio"].as_f64().unwrap() - m / r).abs() < 1e-9 * m / r, "{w}");
    }
    let mut c = fragsim::redis::resp::Connection::open(&server.addr).unwrap();
    assert_eq!(
        c.call_str(&["DBSIZE"]).unwrap(),
        fragsim::redis::resp::Resp::Int(0)
    );
    // Every command reached the server: SETs, HSETs, the churn's SETs and DELs.
    let stats = c.call_str(&["INFO", "commandstats"]).unwrap().text().unwrap();
    let calls = |cmd: &str| -> u64 {
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:calls=")))
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let plan = |name: &str| {
        fragsim::validate::redis_bench::redis_workload(name, 20_000)
            .unwrap()
            .commands
    };
    assert_eq!(calls("hset"), plan("redis-hash"));
    assert_eq!(
        calls("set") + calls("del"),
        plan("redis-set-10b") + plan("redis-churn")
    );
    c.call_str(&["SET", "k", "v"]).unwrap();
    let (rc, _, err) = fragsim(&[
        "bench",
        "--workload",
        "redis-set-10b",
        "--keys",
        "10",
        "--live",
        "0",
        "--live-keys",
        "0",
        "--redis",
        &server.addr,
    ]);
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("holds 1 key"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_cli_refuses_bad_arguments() {
    for (args, expect) in [
        (
            vec!["bench", "--workload", "tiny-churn"],
            "--workload 'tiny-churn' is not a workload (known: small-churn, large-churn, seed-30k, seed-2k, cache, redis-set-10b",
        ),
        (vec!["bench", "--events", "0"], "0 is not in 1..=10000000"),
        // The fuzz round's panic: a trace of 2^64 events.
        (
            vec!["bench", "--events", "18446744073709551615", "--live", "0"],
            "18446744073709551615 is not in 1..=10000000",
        ),
        (
            vec!["bench", "--live", "18446744073709551615"],
            "--live 18446744073709551615 needs about",
        ),
        (
            vec!["bench", "--live", "0", "--live-keys", "18446744073709551615"],
            "--live-keys 18446744073709551615 needs about",
        ),
        (
            vec!["bench", "--keys", "0"],
            "0 is not in 1..=100000000",
        ),
        (
            vec!["bench", "--live", "0", "--json", "/nonexistent-dir/x.json"],
            "/nonexistent-dir/x.json: cannot write the JSON output",
        ),
    ] {
        let (rc, out, err) = fragsim(&args);
        assert_eq!(rc, 2, "{args:?}: {out}{err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
}
