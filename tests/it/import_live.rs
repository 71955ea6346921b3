//! `fragsim import` judged against a live Redis 7.0.15 (Debian's): a data set of about 202,000
//! keys of ten patterns and every type and encoding (`common::dataset`) is written into a fresh
//! server; the scenario imported from the live server, and the one imported from the dump it
//! then SAVEs, must each predict the server's own `used_memory` within 1 %, `allocator_active`
//! within 3 % and `used_memory_rss` within 5 % (the model's median over three seeds).
//!
//! Memory by key pattern: the model's rows sum to its figures exactly, and each pattern's
//! `used_memory` is within 3 % of what the live server frees when every key of the pattern is
//! deleted (its drop in `used_memory`, less the change of the keyspace's tables, which
//! `MEMORY STATS` gives).

use std::collections::{BTreeMap, HashMap};

use fragsim::import::dump::import_dump;
use fragsim::import::live::{import_live, LiveOptions};
use fragsim::import::scenario::{scenario_text, Options};
use fragsim::redis::resp::{Connection, Resp};

use crate::common::{dataset, live_lock, live_server};

fn info(c: &mut Connection) -> HashMap<String, u64> {
    let r = c.call_str(&["INFO", "memory"]).expect("INFO");
    r.text()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter_map(|(k, v)| v.trim().parse().ok().map(|v| (k.to_string(), v)))
        .collect()
}

/// The model's end-of-load figures for `text` (profile redis-7.0-debian): used_memory,
/// allocator_active, used_memory_rss, each the median of three seeds; and its `used_memory` by
/// key pattern (`key_pattern`, the groups of one pattern summed), each the median of the
/// seeds'. Each seed's rows by pattern must sum to its figures.
fn predict(text: &str) -> ([f64; 3], BTreeMap<String, f64>) {
    let file = fragsim::workload::parse(text, "imported.toml")
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .with_by_pattern();
    let sc = file.first();
    let runs: Vec<_> = (1..=3).map(|seed| fragsim::sim::run(sc, seed, |_| {})).collect();
    let median = |f: &dyn Fn(&fragsim::sim::RunResult) -> u64| {
        let mut v: Vec<u64> = runs.iter().map(f).collect();
        v.sort_unstable();
        v[1] as f64
    };
    let mut by_pattern: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in &runs {
        let b = fragsim::sim::breakdown_of(sc, r);
        let rows = &b.by_pattern;
        assert_eq!(rows.iter().filter(|s| !s.shared).count(), sc.keys.len());
        assert_eq!(rows.iter().map(|s| s.used_memory).sum::<u64>(), b.used_memory);
        assert_eq!(
            rows.iter().map(|s| s.allocator_active).sum::<u64>(),
            b.allocator_active
        );
        assert_eq!(rows.iter().map(|s| s.rss).sum::<u64>(), b.rss);
        assert_eq!(
            rows.iter().map(|s| s.keys).sum::<u64>(),
            r.timeline.iter().map(|t| t.keys).sum::<u64>(),
            "every key in one group"
        );
        let mut sums: BTreeMap<String, u64> = BTreeMap::new();
        for s in rows.iter().filter(|s| !s.shared) {
            *sums
                .entry(s.pattern.clone().expect("an imported pattern"))
                .or_default() += s.used_memory;
        }
        for (p, v) in sums {
            by_pattern.entry(p).or_default().push(v);
        }
    }
    let patterns = by_pattern
        .into_iter()
        .map(|(p, mut v)| {
            v.sort_unstable();
            (p, v[1] as f64)
        })
        .collect();
    (
        [
            median(&|r| r.end.used_memory),
            median(&|r| r.end.allocator_active),
            median(&|r| r.end.used_memory_rss),
        ],
        patterns,
    )
}

/// The bytes of the main and expires dicts' bucket tables of db 0 (`MEMORY STATS`'s
/// `overhead.hashtable.main` and `.expires`, less what they count per key and per TTL).
fn table_bytes(c: &mut Connection) -> u64 {
    let Resp::Array(Some(stats)) = c.call_str(&["MEMORY", "STATS"]).unwrap() else {
        panic!("MEMORY STATS is an array");
    };
    let i = stats
        .iter()
        .position(|r| r.text().as_deref() == Some("db.0"))
        .expect("db.0 in MEMORY STATS");
    let Resp::Array(Some(db)) = &stats[i + 1] else {
        panic!("db.0 is an array");
    };
    let field = |name: &str| {
        let j = db
            .iter()
            .position(|r| r.text().as_deref() == Some(name))
            .expect(name);
        match db[j + 1] {
            Resp::Int(v) => v as u64,
            ref r => panic!("{name}: {r:?}"),
        }
    };
    let keyspace = c
        .call_str(&["INFO", "keyspace"])
        .unwrap()
        .text()
        .unwrap_or_default();
    let count = |what: &str| -> u64 {
        keyspace
            .split([',', ':', '\n', '\r'])
            .find_map(|w| w.strip_prefix(what).and_then(|v| v.parse().ok()))
            .unwrap_or(0)
    };
    // Redis 7.0 counts a dictEntry (24 B) and an robj (16 B) per key in the main dict's
    // figure, a dictEntry per TTL in the expires'.
    let entries = count("keys=") * (24 + 16) + count("expires=") * 24;
    field("overhead.hashtable.main") + field("overhead.hashtable.expires") - entries
}

/// What the server frees when every key matching `glob` is deleted: its drop in
/// `used_memory`, less the change of its tables'.
fn freed_by(c: &mut Connection, glob: &str) -> (u64, f64) {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let Resp::Array(Some(r)) = c
            .call_str(&["SCAN", &cursor, "MATCH", glob, "COUNT", "1000"])
            .unwrap()
        else {
            panic!("SCAN");
        };
        cursor = r[0].text().unwrap();
        if let Resp::Array(Some(ks)) = &r[1] {
            keys.extend(ks.iter().filter_map(|k| match k {
                Resp::Bulk(Some(b)) => Some(b.clone()),
                _ => None,
            }));
        }
        if cursor == "0" {
            break;
        }
    }
    let (used0, tables0) = (info(c)["used_memory"] as f64, table_bytes(c) as f64);
    for batch in keys.chunks(1000) {
        let cmds: Vec<Vec<Vec<u8>>> = batch.iter().map(|k| vec![b"DEL".to_vec(), k.clone()]).collect();
        c.pipeline(&cmds).unwrap();
    }
    let (used1, tables1) = (info(c)["used_memory"] as f64, table_bytes(c) as f64);
    (keys.len() as u64, (used0 - used1) - (tables0 - tables1))
}

fn options() -> Options {
    Options {
        name: "imported".into(),
        profile: Some("redis-7.0-debian".into()),
        keep_names: false,
        max_groups: 64,
        runs: 3,
    }
}

#[test]
fn imported_data_sets_predict_the_server_they_came_from() {
    let live = live_lock();
    let Some(server) = live_server(&live) else {
        return;
    };
    let mut c = Connection::open(&server.addr).unwrap();
    let cmds = dataset::commands(1.0, 42);
    let sent = cmds.len();
    assert!(sent >= 200_000, "{sent} keys");
    dataset::write(&mut c, &cmds);
    // The server settles as a loaded server does (the model's test ends with 2 s of idle).
    std::thread::sleep(std::time::Duration::from_secs(3));
    let before = info(&mut c);
    drop(c);
    let (data, source) = import_live(
        &LiveOptions {
            addr: server.addr.clone(),
            sample: None,
            pattern: None,
            elements: 64,
            password: None,
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(data.seen as usize, sent, "every key read");
    let from_live = scenario_text(data.finish(), &source, &options());
    let mut c = Connection::open(&server.addr).unwrap();
    assert_eq!(c.call_str(&["SAVE"]).unwrap().text().as_deref(), Some("OK"));
    let dump = server.dir().join("dump.rdb");
    let (data, source) = import_dump(&dump, &mut |_, _| {}).unwrap();
    assert_eq!(data.seen as usize, sent, "every key of the dump");
    let from_dump = scenario_text(data.finish(), &source, &options());
    // Patterns only: no key name and no value of the data set is in either scenario.
    for text in [&from_live, &from_dump] {
        for p in [
            "user:*:session",
            "profile:*",
            "board:*",
            "session:*",
            "tags:*/hashtable",
        ] {
            assert!(text.contains(&format!("name = \"{p}\"")), "{p} in\n{text}");
        }
        for c in cmds.iter().step_by(1000) {
            let key = String::from_utf8_lossy(&c[1]);
            assert!(!text.contains(&*key), "{key} leaked into\n{text}");
        }
        assert!(!text.contains("example.com") && !text.contains("lorem"));
    }
    let real = [
        before["used_memory"] as f64,
        before["allocator_active"] as f64,
        before["used_memory_rss"] as f64,
    ];
    let tolerance = [0.01, 0.03, 0.05];
    let names = ["used_memory", "allocator_active", "used_memory_rss"];
    let mut failures = Vec::new();
    let mut patterns = BTreeMap::new();
    for (source, text) in [("live", &from_live), ("dump", &from_dump)] {
        let (model, by_pattern) = predict(text);
        patterns.insert(source, by_pattern);
        for i in 0..3 {
            let off = model[i] / real[i] - 1.0;
            println!(
                "import from {source}: {} model {:.0} real {:.0} ({:+.2} %)",
                names[i],
                model[i],
                real[i],
                off * 100.0
            );
            if off.abs() > tolerance[i] {
                failures.push(format!("{source}: {} {:+.2} %", names[i], off * 100.0));
            }
        }
    }
    // Pattern by pattern: what deleting its keys frees in a live server. Another fresh server
    // holds the data set for it: the import's reads change the first (ZRANDMEMBER and the like
    // finish the rehash a collection's dict was left in, freeing its old table).
    drop(c);
    let Some(server) = live_server(&live) else {
        return;
    };
    let mut c = Connection::open(&server.addr).unwrap();
    dataset::write(&mut c, &cmds);
    std::thread::sleep(std::time::Duration::from_secs(3));
    drop(c);
    let mut c = Connection::open(&server.addr).unwrap();
    for (glob, model_pattern) in [
        ("user:*:session", "user:{n}:session"),
        ("counter:*", "counter:{n}"),
        ("page:*", "page:{n}"),
        ("profile:*", "profile:{n}"),
        ("events:*", "events:{n}"),
        ("queue:*", "queue:{n}"),
        ("tags:*", "tags:{n}"),
        ("followers:*", "followers:{n}"),
        ("board:*", "board:{n}"),
        ("session:*", "session:{n}"),
    ] {
        let (n, real) = freed_by(&mut c, glob);
        assert!(n > 0, "{glob}: no keys");
        for (source, by_pattern) in &patterns {
            let model = *by_pattern
                .get(model_pattern)
                .unwrap_or_else(|| panic!("{model_pattern} among {:?}", by_pattern.keys()));
            let off = model / real - 1.0;
            println!(
                "by pattern, from {source}: {glob} ({n} keys) model {model:.0} real {real:.0} ({:+.2} %)",
                off * 100.0
            );
            // The model draws each key's sizes from the pattern's measured distributions: a
            // pattern of a few thousand large values (the 2,000 pages of 1-8 KB) moves by
            // 1-2 % from seed to seed, more than the whole data set does.
            if off.abs() > 0.03 {
                failures.push(format!("{source}: {glob} {:+.2} %", off * 100.0));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:?}\n{from_dump}");
}
