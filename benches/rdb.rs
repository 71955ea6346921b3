//! The dump reader's speed (`import::rdb::read`), one thread, on the committed dumps
//! (`tests/corpus/rdb`: Redis 7.0, Redis 7.4 and Valkey 9.1, ~70 keys and ~2,500 elements each,
//! every type and encoding), in keys per second; and on `$FRAGSIM_RDB_BENCH` (a dump file of
//! your own) when set. Goal: 1,000,000 keys per second or more on a mixed dump.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn count(b: &[u8]) -> (u64, u64) {
    let mut elements = 0u64;
    let s = fragsim::import::rdb::read(b, |k| {
        elements += k.items.len() as u64;
        Ok::<(), ()>(())
    })
    .expect("a readable dump");
    (s.keys + s.streams + s.modules, elements)
}

fn bench(c: &mut Criterion) {
    let mut dumps: Vec<(String, Vec<u8>)> = ["redis-7.0", "redis-7.4", "valkey-9.1"]
        .iter()
        .map(|n| {
            let p = format!("{}/tests/corpus/rdb/{n}.rdb", env!("CARGO_MANIFEST_DIR"));
            (n.to_string(), std::fs::read(&p).expect("the committed dump"))
        })
        .collect();
    if let Some(p) = std::env::var_os("FRAGSIM_RDB_BENCH") {
        dumps.push((
            "FRAGSIM_RDB_BENCH".into(),
            std::fs::read(&p).expect("$FRAGSIM_RDB_BENCH"),
        ));
    }
    let mut g = c.benchmark_group("rdb-read");
    for (name, bytes) in &dumps {
        let (keys, elements) = count(bytes);
        g.throughput(Throughput::Elements(keys));
        g.bench_function(format!("{name}-keys"), |b| b.iter(|| count(bytes)));
        g.throughput(Throughput::Elements(elements));
        g.bench_function(format!("{name}-elements"), |b| b.iter(|| count(bytes)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
