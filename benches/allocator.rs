//! Events per second through the allocator model and through the real jemalloc, side by side on
//! the same traces: small-object churn (8 B-14 KiB), large-object churn (16 KiB-4 MiB), the seed
//! suite's Redis heap (30 KB and 2 KB values) and the cache scenario's heap (TTLs expiring). The
//! real side is a dedicated arena (`arenas.create`) that writes every requested byte, as the
//! application would; the model never touches the bytes. Criterion reports each as
//! elements (events) per second; the ratio is model / real.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fragsim::validate::bench::{config, replay_model, replay_real, workload, WORKLOADS};

fn bench(c: &mut Criterion) {
    let cfg = config();
    for name in WORKLOADS {
        let w = workload(name, 100_000).expect("known workload");
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(w.trace.len() as u64));
        g.sample_size(10);
        g.bench_function("model", |b| b.iter(|| replay_model(&cfg, &w.trace)));
        g.bench_function("real-jemalloc", |b| b.iter(|| replay_real(&w.trace)));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
