//! Allocator-model throughput (events per second) on churn traces, with the real jemalloc
//! replaying the same trace in a dedicated arena beside it.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fragsim::jemalloc::{AllocatorConfig, Arena, ArenaOptions, ObjId};
use fragsim::validate::real_jemalloc::RealArena;
use fragsim::validate::trace::{churn, SizeMix, TraceOp};

fn replay_model(cfg: &AllocatorConfig, trace: &[TraceOp]) -> u64 {
    let mut a = Arena::new(
        cfg,
        ArenaOptions {
            dedicated: true,
            seed: 1,
        },
    );
    let mut ids = vec![ObjId::MAX; trace.len()];
    for (i, op) in trace.iter().enumerate() {
        match *op {
            TraceOp::Alloc { size } => ids[i] = a.malloc_written(size, 0).unwrap(),
            TraceOp::Free { op } => a.free(ids[op as usize]),
            TraceOp::Purge => a.purge(),
        }
    }
    a.stats().active
}

fn replay_real(trace: &[TraceOp]) -> usize {
    let real = RealArena::create(-1, -1).unwrap();
    let mut ptrs = vec![std::ptr::null_mut(); trace.len()];
    for (i, op) in trace.iter().enumerate() {
        match *op {
            TraceOp::Alloc { size } => ptrs[i] = real.malloc(size as usize),
            // SAFETY: each pointer is freed once, in the arena it came from.
            TraceOp::Free { op } => unsafe {
                real.free(std::mem::replace(&mut ptrs[op as usize], std::ptr::null_mut()))
            },
            TraceOp::Purge => real.purge().unwrap(),
        }
    }
    for p in ptrs.into_iter().filter(|p| !p.is_null()) {
        // SAFETY: still-live pointers of this arena.
        unsafe { real.free(p) };
    }
    trace.len()
}

fn bench(c: &mut Criterion) {
    let mut cfg = AllocatorConfig::preset("jemalloc-5.3").unwrap();
    cfg.tcache.enabled = false;
    cfg.dirty_decay_ms = -1;
    cfg.muzzy_decay_ms = -1;
    for (name, mix) in [("small-churn", SizeMix::Small), ("large-churn", SizeMix::Large)] {
        let trace = churn(1, 100_000, mix, false);
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(trace.len() as u64));
        g.sample_size(10);
        g.bench_function("model", |b| {
            b.iter_batched(|| (), |_| replay_model(&cfg, &trace), BatchSize::SmallInput)
        });
        g.bench_function("real-jemalloc", |b| b.iter(|| replay_real(&trace)));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
