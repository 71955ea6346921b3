//! Every server version, the way users meet it: a freshly started server of that version
//! (`$FRAGSIM_SERVERS/<profile>`, built by `.ci/build-server`) is calibrated, and the shipped
//! scenarios and the collections scenario of the data-types tests (`validate_version`), and
//! scenarios drawn at random from the grammar (`validate_generated`), are predicted from that
//! profile on other freshly started servers of the same version, compared at every
//! checkpoint: used_memory within 1 % (issue 15's bar); allocator_active and RSS within 10 %,
//! where issue 15 asks for 3 % and 5 %, not reached yet on every version of these 1-40 MB heaps
//! (Redis 8.0's RSS after a flush was 7.6 % under once in CI: RSS outside the allocator the
//! model does not follow, README "Server versions"). Each build's startup thread cache is known (its profile's
//! `[baseline.tcache]`, from a trace of a fresh start); the largest errors seen on 2026-12-04,
//! on a busy machine, were allocator_active 7.9 % (Valkey 8.0, a seed suite's 2 KB variant)
//! and RSS 6.8 % (Redis 7.4, likewise); README "Server versions" has the table. A version whose binary is absent
//! is skipped with a notice.

use crate::common::*;
use crate::redis_live::{collections, model_err, RUNS, SHIPPED};

use fragsim::redis::info::Field;
use fragsim::validate::live_redis::{calibrate, render_checkpoints, validate, ValidateOptions};
use fragsim::workload;

/// The fields compared at every checkpoint, with their tolerances;
/// used_memory_overhead as each version counts it (Redis 8.0 adds the Lua VMs, 66 KB, 9.6 %
/// of an idle server's): within 5 %, where a client's buffers (16-20 KB) counted on the other
/// side of the overhead/dataset line at a checkpoint, a matter of timing, moved it by up to
/// 2.7 % (Redis 8.0, Valkey 8.0; used_memory itself agreeing).
const TOLERANCES: &[(Field, f64)] = &[
    (Field::UsedMemory, 0.01),
    (Field::UsedMemoryOverhead, 0.05),
    (Field::AllocatorActive, 0.10),
    (Field::UsedMemoryRss, 0.10),
];

/// A fresh server of `profile`'s version, calibrated: its profile, or `None` (with a notice)
/// when the binary is absent.
fn calibrated(live: &LiveGuard, profile: &str) -> Option<fragsim::redis::RedisProfile> {
    let cal_server = version_server(live, profile, &[])?;
    let cal = calibrate(&cal_server.addr).expect("calibration");
    assert!(
        cal.profile.name.starts_with("calibrated-"),
        "{profile}: {}",
        cal.profile.name
    );
    // A fresh server of a known build: no note (commands run before, an unknown startup
    // thread cache, another version).
    assert!(cal.notes.is_empty(), "{profile}, fresh: {:?}", cal.notes);
    Some(cal.profile)
}

/// Predicts each of `scenarios` from `cal` on a fresh server of `profile`'s version, printing
/// every checkpoint's table; returns the checkpoints over [`TOLERANCES`], in words.
fn predict_each(
    live: &LiveGuard,
    profile: &str,
    cal: &fragsim::redis::RedisProfile,
    scenarios: &[(String, workload::Scenario)],
) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, sc) in scenarios {
        let server = version_server(live, profile, &[]).expect("the binary was there");
        let opts = ValidateOptions {
            profile: Some(cal.clone().with_state(sc.state).expect("state")),
            runs: RUNS,
            ..Default::default()
        };
        let cps = validate(&server.addr, sc, sc.seed, &opts, |_| {}).expect("live validation");
        println!("== {profile}: {name}\n{}", render_checkpoints(&cps));
        for c in &cps {
            for &(field, tol) in TOLERANCES {
                let e = model_err(c, field);
                if e.abs() > tol {
                    failures.push(format!(
                        "{name} test {}: {field} model {} real {} error {:+.2}%",
                        c.test,
                        c.model.get(field),
                        c.real.get(field),
                        e * 100.0
                    ));
                }
            }
        }
    }
    failures
}

/// Calibrates a fresh server of `profile`'s version and predicts every shipped scenario's
/// variants and the collections scenario on other fresh servers of it; fails naming every
/// checkpoint over its tolerance.
fn validate_version(profile: &str) {
    let live = live_lock();
    let Some(cal) = calibrated(&live, profile) else {
        return;
    };
    let mut scenarios: Vec<(String, workload::Scenario)> = Vec::new();
    for &(file, tests) in SHIPPED {
        for v in &load_scenario(file).variants {
            let mut sc = v.clone();
            sc.tests = tests;
            sc.test_seconds = sc.test_seconds.min(0.3);
            scenarios.push((format!("{file} / {}", v.variant), sc));
        }
    }
    for flush in ["none", "before_each"] {
        let sc = workload::parse(&collections(flush, false), "collections")
            .expect("the collections scenario parses")
            .first()
            .clone();
        scenarios.push((format!("collections, flush {flush}"), sc));
    }
    let failures = predict_each(&live, profile, &cal, &scenarios);
    assert!(failures.is_empty(), "{profile}:\n{}", failures.join("\n"));
}

/// Scenarios drawn at random from the whole grammar for `profile`
/// (`fragsim::workload::generate`), the workloads nobody tuned the model on: the first `n`
/// (`$FRAGSIM_GENERATED`, default 3) whose workload holds at least 2 MiB at every checkpoint (by the model; on a smaller heap
/// the allocator figures measure mostly how a fresh server's thread cache gives back what
/// startup left in it, see `redis_live::check_generated`), each predicted on a fresh server
/// of that version from one calibration. Numbered from 0, the same numbers on every version.
fn validate_generated(profile: &str) {
    let n: usize = std::env::var("FRAGSIM_GENERATED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let live = live_lock();
    let Some(cal) = calibrated(&live, profile) else {
        return;
    };
    let mut scenarios = Vec::new();
    for seed in 0.. {
        if scenarios.len() == n {
            break;
        }
        let text = fragsim::workload::generate::scenario_toml(seed, profile);
        let f = workload::parse(&text, "generated.toml").expect("generated scenarios parse");
        let sc = f.first().clone();
        let empty = sc.redis.as_ref().expect("a Redis scenario").baseline.used_memory;
        let run = fragsim::sim::run(&sc, sc.seed, |_| {});
        let least = run.timeline.iter().map(|t| t.end.used_memory).min().unwrap_or(0);
        if least < empty + 2 * 1024 * 1024 {
            continue;
        }
        println!("{text}");
        scenarios.push((format!("generated {seed}"), sc));
    }
    let failures = predict_each(&live, profile, &cal, &scenarios);
    assert!(failures.is_empty(), "{profile}:\n{}", failures.join("\n"));
}

#[test]
fn redis_7_0_bundled() {
    validate_version("redis-7.0");
}

#[test]
fn redis_7_2() {
    validate_version("redis-7.2");
}

#[test]
fn redis_7_4() {
    validate_version("redis-7.4");
}

#[test]
fn redis_8_0() {
    validate_version("redis-8.0");
}

#[test]
fn valkey_8_0() {
    validate_version("valkey-8.0");
}

#[test]
fn valkey_8_1() {
    validate_version("valkey-8.1");
}

#[test]
fn valkey_9_1() {
    validate_version("valkey-9.1");
}

#[test]
fn generated_redis_7_0_bundled() {
    validate_generated("redis-7.0");
}

#[test]
fn generated_redis_7_2() {
    validate_generated("redis-7.2");
}

#[test]
fn generated_redis_7_4() {
    validate_generated("redis-7.4");
}

#[test]
fn generated_redis_8_0() {
    validate_generated("redis-8.0");
}

#[test]
fn generated_valkey_8_0() {
    validate_generated("valkey-8.0");
}

#[test]
fn generated_valkey_8_1() {
    validate_generated("valkey-8.1");
}

#[test]
fn generated_valkey_9_1() {
    validate_generated("valkey-9.1");
}
