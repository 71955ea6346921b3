//! `validate --runs`: the model run in lockstep with a live server writes its steps down, and
//! replaying them gives the same figures for the same seed, other figures for other startup
//! draws, and the same band whatever the thread count.

use fragsim::redis::RedisProfile;
use fragsim::validate::live_redis::COMPARED;
use fragsim::validate::lockstep::{bands, Lockstep};

use crate::common::heavy_work;

/// A FLUSHALL workload like the generated ones whose checkpoints two fresh servers disagree
/// on: 600 values of 100 B to 18 KB and 60 small hashes, flushed after each of three tests, with
/// the clock moving 20 us per command.
fn drive(l: &mut Lockstep) {
    let mut t = l.now_ns();
    for test in 0..3u64 {
        let c = l.connect();
        for k in 0..600u64 {
            let size = 100 + (k * 7919 + test * 131) % 18_000;
            let key = format!("k:{test}:{k}");
            let val = vec![b'v'; size as usize];
            t += 20_000;
            l.advance_to(t);
            l.exec(c, &[b"SET".as_slice(), key.as_bytes(), &val]);
        }
        for h in 0..60u64 {
            let key = format!("h:{test}:{h}");
            t += 20_000;
            l.advance_to(t);
            l.exec(c, &[b"HSET".as_slice(), key.as_bytes(), b"f", b"some value"]);
        }
        l.exec(c, &[b"FLUSHALL".as_slice()]);
        l.disconnect(c);
        t += 50_000_000;
        l.advance_to(t);
        l.measure();
        l.measurement_traffic();
    }
}

#[test]
fn replaying_the_steps_with_the_same_seed_gives_the_same_figures() {
    let _heavy = heavy_work();
    let p = RedisProfile::builtin("redis-7.0-debian").unwrap();
    let mut l = Lockstep::new(p, 7, true).unwrap();
    drive(&mut l);
    let own = l.replay_with(7);
    let runs = l.replays(7, 4);
    assert_eq!(runs.len(), 4);
    assert_eq!(own.len(), 3);
    assert_eq!(runs[0], own, "run 0 is the lockstep run");
    // used_memory does not depend on the order keys are freed in: every run agrees.
    for r in &runs {
        for (a, b) in r.iter().zip(&own) {
            assert_eq!(a.used_memory, b.used_memory);
        }
    }
}

#[test]
fn other_startup_draws_spread_the_allocator_figures() {
    let _heavy = heavy_work();
    let p = RedisProfile::builtin("redis-7.0-debian").unwrap();
    let mut l = Lockstep::new(p, 11, true).unwrap();
    drive(&mut l);
    let runs = l.replays(11, 24);
    let b = bands(&runs, COMPARED);
    assert_eq!(b.len(), 3);
    for cp in &b {
        let u = &cp["used_memory"];
        assert_eq!(u.p5, u.p95, "used_memory is the same in every run");
        let a = &cp["allocator_allocated"];
        assert!(a.p5 <= a.p50 && a.p50 <= a.p95);
    }
    // Which objects the thread cache still holds after a FLUSHALL depends on the order the
    // keys were freed in: the runs do not all agree.
    assert!(
        b.iter()
            .any(|cp| cp["allocator_allocated"].p5 < cp["allocator_allocated"].p95),
        "{b:?}"
    );
}

#[test]
fn the_band_does_not_depend_on_the_thread_count() {
    let _heavy = heavy_work();
    let p = RedisProfile::builtin("redis-7.0-debian").unwrap();
    let mut l = Lockstep::new(p, 5, true).unwrap();
    drive(&mut l);
    let on = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(|| l.replays(5, 6))
    };
    assert_eq!(on(1), on(2));
}
