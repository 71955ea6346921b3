//! Monte Carlo throughput on 1 and 2 threads: the seed suite's two variants, 32 runs each
//! (criterion reports runs per second; the goal is 2 threads at 1.8x or more of 1 thread).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fragsim::sim::montecarlo::run_all;

fn bench(c: &mut Criterion) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/seed-suite.toml");
    let file = fragsim::workload::load(&path).expect("shipped scenario");
    let runs = 32;
    let mut g = c.benchmark_group("montecarlo-seed-suite");
    g.throughput(Throughput::Elements(runs * file.variants.len() as u64));
    g.sample_size(10);
    for threads in [1, 2] {
        g.bench_function(format!("{threads}-thread"), |b| {
            b.iter(|| run_all(&file, runs, 1, threads, &|| {}).expect("runs"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
