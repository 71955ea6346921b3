//! The Redis model's speed in commands per second, one thread, on the workloads `fragsim bench`
//! runs (`redis-set-10b`, `redis-seed-30k`, `redis-hash`, `redis-churn`; see
//! `fragsim::validate::redis_bench`), at about 200,000 commands each: one Monte Carlo run of
//! each (`sim::run`), without the "where the bytes go" replay. Goals: SET of 10-B values at
//! 3,000,000 commands per second or more, the 30 KB and hash workloads at 2,000,000.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fragsim::validate::redis_bench::{redis_workload, REDIS_WORKLOADS};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("redis-model");
    g.sample_size(10);
    for name in REDIS_WORKLOADS {
        let w = redis_workload(name, 200_000).expect("a known workload");
        g.throughput(Throughput::Elements(w.commands));
        g.bench_function(name, |b| b.iter(|| fragsim::sim::run(&w.scenario, 1, |_| {})));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
