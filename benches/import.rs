//! `fragsim import` of a live server and of its dump, end to end (read, measure, group by
//! pattern, write the scenario), on the tests' data set (`tests/it/common/dataset.rs`: ten
//! patterns of every type) written into a fresh Debian redis-server 7.0.15 on loopback: about
//! 202,500 keys, or `FRAGSIM_IMPORT_SCALE` times that (5: about 1,012,500 keys). Goals: a
//! million keys imported from a live server in under a minute; a dump read at a million keys
//! per second or more (`benches/rdb.rs` has the reader alone). Skipped, with a note, when no
//! redis-server can be started.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fragsim::import::dump::import_dump;
use fragsim::import::live::{import_live, LiveOptions};
use fragsim::import::scenario::{scenario_text, Options};
use fragsim::redis::resp::Connection;
use fragsim::validate::live_redis::RedisProcess;

#[allow(dead_code)]
#[path = "../tests/it/common/dataset.rs"]
mod dataset;

fn options() -> Options {
    Options {
        name: "bench".into(),
        profile: None,
        keep_names: false,
        max_groups: 64,
        runs: 1,
    }
}

fn bench(c: &mut Criterion) {
    let scale: f64 = std::env::var("FRAGSIM_IMPORT_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let mut server = match RedisProcess::start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("import bench skipped: no redis-server ({e})");
            return;
        }
    };
    let cmds = dataset::commands(scale, 42);
    let keys = cmds.len() as u64;
    let mut conn = Connection::open(&server.addr).expect("the bench server");
    dataset::write(&mut conn, &cmds);
    drop(cmds);
    assert_eq!(conn.call_str(&["SAVE"]).unwrap().text().as_deref(), Some("OK"));
    let dump = server.dir().join("dump.rdb");
    let live = LiveOptions {
        addr: server.addr.clone(),
        sample: None,
        pattern: None,
        elements: 64,
        password: None,
    };
    let mut g = c.benchmark_group("import");
    g.sample_size(10);
    g.throughput(Throughput::Elements(keys));
    g.bench_function(format!("live-{keys}-keys"), |b| {
        b.iter(|| {
            let (data, source) = import_live(&live, &mut |_, _| {}).expect("import");
            scenario_text(data.finish(), &source, &options())
        })
    });
    g.bench_function(format!("dump-{keys}-keys"), |b| {
        b.iter(|| {
            let (data, source) = import_dump(&dump, &mut |_, _| {}).expect("import");
            scenario_text(data.finish(), &source, &options())
        })
    });
    g.finish();
    let _ = server.terminate();
}

criterion_group!(benches, bench);
criterion_main!(benches);
