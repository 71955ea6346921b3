//! Hashes, sets and sorted sets on Valkey 8.1 and 9.1's hashtable against live servers of those
//! versions (`$FRAGSIM_SERVERS/valkey-8.1`, `valkey-9.1`; skipped with a notice where absent),
//! command by command (see `common::exact`): growth through the listpack/intset → hashtable
//! conversion and several table resizes, overwrites, deletions shrinking the table, DEL,
//! FLUSHALL, and `MEMORY USAGE` at each stage.
//!
//! A collection's hashtable (`src/redis/server/vktable.rs`) hashes its members with the
//! server's own seed, read from its memory (`Exact::start_version`), so the child buckets a
//! bucket chain grows are the server's: every delta is compared whole, collection tables
//! included (only the keyspace's own child buckets are left out, as in `valkey_live`). The
//! servers run with `activerehashing no`, and a collection's table is rehashed only by the
//! commands on it on either side.

use crate::common::exact::{cmd, named, show, with_members, Exact};
use crate::common::live_lock;

/// The versions compared.
const VERSIONS: &[&str] = &["valkey-8.1", "valkey-9.1"];

/// Runs `body` on a fresh server of each version (and its model), skipping absent binaries.
fn per_version(mut body: impl FnMut(&str, &mut Exact)) {
    let live = live_lock();
    for v in VERSIONS {
        let Some(mut e) = Exact::start_version(&live, v, &[], true) else {
            continue;
        };
        assert!(e.dict_key_known, "{v}: the server's hash seed could not be read");
        eprintln!("== {v}");
        body(v, &mut e);
    }
}

/// Each command's `used_memory` delta equal on both sides (the keyspace's child buckets left
/// out); settled first where the keyspace table has a resize due (see `valkey_live`).
fn same(e: &mut Exact, version: &str, script: &[Vec<Vec<u8>>]) {
    for argv in script {
        let mut d = e.run(argv);
        if e.model().keyspace_resize_due() {
            let s = e.settle();
            d += s;
        }
        let head = show(&argv[..argv.len().min(4)]);
        eprintln!(
            "{version} {head}{}: {} / {}",
            if argv.len() > 4 { " ..." } else { "" },
            d.live,
            d.model
        );
        assert_eq!(d.model, d.live, "{version}: used_memory delta of {}", show(argv));
        assert_eq!(
            d.model_tables,
            d.live_tables,
            "{version}: keyspace tables' delta of {}",
            show(argv)
        );
    }
}

/// `MEMORY USAGE key SAMPLES 0` equal on both sides.
fn same_usage(e: &mut Exact, version: &str, key: &str) {
    let (live, model) = e.memory_usage(key.as_bytes());
    eprintln!("{version} MEMORY USAGE {key}: live {live:?}, model {model:?}");
    assert_eq!(model, live, "{version}: MEMORY USAGE {key}");
}

/// `verb key` and members `prefix` + 4 digits for `range`, 50 to a command.
fn batches(verb: &str, key: &str, prefix: &str, range: std::ops::Range<u32>) -> Vec<Vec<Vec<u8>>> {
    let v: Vec<u32> = range.collect();
    v.chunks(50)
        .map(|c| with_members(verb, key, named(prefix, c[0]..c[c.len() - 1] + 1)))
        .collect()
}

/// Sets: an intset, a listpack, the 129th member converting it to a hashtable presized for
/// 129 (`setTypeConvertAndExpand`, `hashtableExpand`), growth to 1,200 members through four
/// resizes (with lookups between: SREM of a member not there, SADD of one already there), an
/// intset past 512 integers, a new key of 200 members made a presized hashtable at once, SREM down
/// through shrinks, DEL, FLUSHALL; MEMORY USAGE at each stage.
#[test]
fn sets_on_valkeys_hashtable() {
    per_version(|v, e| {
        same(e, v, &[cmd(&["SADD", "s", "1", "2", "3"])]);
        same_usage(e, v, "s");
        same(e, v, &[cmd(&["SADD", "s", "abc"])]);
        same_usage(e, v, "s");
        let mut script = batches("SADD", "s", "member:", 0..124);
        script.push(cmd(&["SADD", "s", "member:0124"]));
        script.push(cmd(&["SADD", "s", "member:0125"]));
        same(e, v, &script);
        same_usage(e, v, "s");
        for chunk in batches("SADD", "s", "member:", 126..1200).chunks(4) {
            same(e, v, chunk);
            same(
                e,
                v,
                &[cmd(&["SREM", "s", "absent"]), cmd(&["SADD", "s", "member:0004"])],
            );
            same_usage(e, v, "s");
        }
        // An intset past 512 members: a hashtable presized for 513.
        let ints: Vec<String> = (0..512).map(|i| (i * 7).to_string()).collect();
        same(e, v, &[with_members("SADD", "i", ints[..300].iter().cloned())]);
        same(e, v, &[with_members("SADD", "i", ints[300..].iter().cloned())]);
        same_usage(e, v, "i");
        same(
            e,
            v,
            &[cmd(&["SADD", "i", "100000"]), cmd(&["SADD", "i", "100001"])],
        );
        same_usage(e, v, "i");
        // A new key of 200 members.
        same(e, v, &[with_members("SADD", "n", named("new:", 0..200))]);
        same_usage(e, v, "n");
        // Removals down through the shrinks.
        for chunk in batches("SREM", "s", "member:", 0..1200).chunks(3) {
            same(e, v, chunk);
            same_usage(e, v, "s");
        }
        same_usage(e, v, "n");
        same(
            e,
            v,
            &[cmd(&["DEL", "n"]), cmd(&["DEL", "i"]), cmd(&["FLUSHALL", "SYNC"])],
        );
    });
}

/// Hashes: a listpack grown to 512 fields and converted by the 513th (`hashTypeConvertListpack`:
/// a hashtable presized for 513, each field/value pair one `hashTypeEntry`), a value over 64
/// bytes converting a small hash, an HSET of more than 512 pairs making a presized hashtable
/// at once; entries with embedded values and with value pointers (field and value past 128
/// B), overwrites between them (in place, reallocated, re-encoded), growth through resizes,
/// HDEL down through shrinks, DEL, FLUSHALL; MEMORY USAGE at each stage.
#[test]
fn hashes_on_valkeys_hashtable() {
    per_version(|v, e| {
        let pairs = |range: std::ops::Range<u32>, vlen: usize| -> Vec<String> {
            range
                .flat_map(|i| [format!("field:{i:04}"), format!("{i:0w$}", w = vlen)])
                .collect()
        };
        same(e, v, &[with_members("HSET", "h", pairs(0..10, 8))]);
        same_usage(e, v, "h");
        for c in (10..510).step_by(50) {
            same(e, v, &[with_members("HSET", "h", pairs(c..c + 50, 8))]);
        }
        same(e, v, &[with_members("HSET", "h", pairs(510..512, 8))]);
        same_usage(e, v, "h");
        same(e, v, &[with_members("HSET", "h", pairs(512..513, 8))]);
        same_usage(e, v, "h");
        for c in (513..1500).step_by(50) {
            same(
                e,
                v,
                &[
                    with_members("HSET", "h", pairs(c..c + 50, 8)),
                    cmd(&["HDEL", "h", "absent"]),
                ],
            );
        }
        same_usage(e, v, "h");
        // Overwrites: the same size (in place), longer (a new entry), a value pointer (past
        // 128 B) and back, shorter by more than a quarter.
        let long = "v".repeat(200);
        let mid = "m".repeat(90);
        same(
            e,
            v,
            &[
                cmd(&["HSET", "h", "field:0002", "abcdefgh"]),
                cmd(&["HSET", "h", "field:0003", "abcdefghijklmnopqrstuvwxyz"]),
                cmd(&["HSET", "h", "field:0004", &long]),
                cmd(&["HSET", "h", "field:0004", &long[..150]]),
                cmd(&["HSET", "h", "field:0004", "x"]),
                cmd(&["HSET", "h", "field:0005", &mid]),
                cmd(&["HSET", "h", "field:0005", "y"]),
                cmd(&["HSET", "h", &"f".repeat(130), "z"]),
                cmd(&["HSET", "h", &"f".repeat(130), &long]),
            ],
        );
        same_usage(e, v, "h");
        // A long value converts a small hash; a big HSET makes a presized table at once.
        same(
            e,
            v,
            &[
                cmd(&["HSET", "small", "a", "1", "b", "2"]),
                cmd(&["HSET", "small", "c", &long]),
            ],
        );
        same_usage(e, v, "small");
        same(e, v, &[with_members("HSET", "big", pairs(0..600, 4))]);
        same_usage(e, v, "big");
        // Deletions down through the shrinks.
        let fields: Vec<String> = (0..1500).map(|i| format!("field:{i:04}")).collect();
        for c in fields.chunks(100) {
            same(e, v, &[with_members("HDEL", "h", c.iter().cloned())]);
            same_usage(e, v, "h");
        }
        // The big hash emptied by HDEL (the key goes with its last field); a DEL of a hash
        // this large is freed lazily (`lazyfree-lazy-user-del`), which is not compared here.
        let big: Vec<String> = (0..600).map(|i| format!("field:{i:04}")).collect();
        for c in big.chunks(200) {
            same(e, v, &[with_members("HDEL", "big", c.iter().cloned())]);
        }
        same(e, v, &[cmd(&["DEL", "small"]), cmd(&["FLUSHALL", "SYNC"])]);
    });
}

/// Member lengths the sorted-set test cycles through: on 9.1 the node embeds the member (its
/// sds type 5 below 32 B, type 8 from 32), so the length moves a node between size classes.
const ZLENS: [usize; 7] = [5, 9, 24, 31, 32, 40, 64];

/// Sorted-set member `i`: its decimal digits, a dash, `x`s up to a length from [`ZLENS`].
fn zmember(i: u32) -> String {
    let w = ZLENS[i as usize % ZLENS.len()];
    let mut m = format!("{i}-");
    while m.len() < w {
        m.push('x');
    }
    m
}

/// `ZADD key` with members [`zmember`] of `range`, member `i` scored `i` (every fifth `i.5`).
fn zadd(key: &str, range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
    let mut argv = cmd(&["ZADD", key]);
    for i in range {
        let score = if i % 5 == 0 {
            format!("{i}.5")
        } else {
            i.to_string()
        };
        argv.push(score.into_bytes());
        argv.push(zmember(i).into_bytes());
    }
    argv
}

/// `MEMORY USAGE key SAMPLES 0` on both sides, rounded up to a multiple of 8 (0 when the key
/// is gone): `objectComputeSize` adds an average times the count in floating point, which may
/// truncate a byte below the exact sum, and every block it counts is a multiple of 8.
fn usage8(e: &mut Exact, key: &str) -> (i64, i64) {
    let (live, model) = e.memory_usage(key.as_bytes());
    let up = |u: Option<u64>| u.map_or(0, |u| u.div_ceil(8) * 8) as i64;
    (up(live), up(model))
}

/// Each command's `used_memory` delta beside its change of `MEMORY USAGE key` (which counts
/// every skiplist node's usable size as `used_memory` does, whatever the random levels) equal
/// on both sides, and the keyspace tables' deltas equal (see [`same`]).
fn same_beside_nodes(e: &mut Exact, version: &str, key: &str, script: &[Vec<Vec<u8>>]) {
    for argv in script {
        let (lu0, mu0) = usage8(e, key);
        let mut d = e.run(argv);
        if e.model().keyspace_resize_due() {
            let s = e.settle();
            d += s;
        }
        let (lu1, mu1) = usage8(e, key);
        let (live, model) = (d.live - (lu1 - lu0), d.model - (mu1 - mu0));
        let head = show(&argv[..argv.len().min(4)]);
        eprintln!(
            "{version} {head}{}: {} / {} (beside nodes {live} / {model})",
            if argv.len() > 4 { " ..." } else { "" },
            d.live,
            d.model
        );
        assert_eq!(
            model,
            live,
            "{version}: used_memory beside MEMORY USAGE {key}, {}",
            show(argv)
        );
        assert_eq!(
            d.model_tables,
            d.live_tables,
            "{version}: keyspace tables' delta of {}",
            show(argv)
        );
    }
}

/// jemalloc's size class of `size` (quantum 8: 8-byte steps to 64, then four classes per
/// doubling).
fn class(size: u64) -> u64 {
    if size <= 64 {
        return size.div_ceil(8) * 8;
    }
    let spacing = (size - 1).next_power_of_two() / 8;
    size.div_ceil(spacing) * spacing
}

/// What `MEMORY USAGE` counts per member of `len` bytes whose node has `level` levels: 8.1 its
/// node (24 + 16 × level) and its sds (type 5 below 32 B, else type 8); 9.1 its node alone
/// (16 + 16 × level, a byte, the embedded sds).
fn element_bytes(version: &str, level: u64, len: u64) -> u64 {
    let sds = if len < 32 { 1 } else { 3 } + len + 1;
    if version == "valkey-9.1" {
        class(16 + 16 * level + 1 + sds)
    } else {
        class(24 + 16 * level) + class(sds)
    }
}

/// A skiplist's `MEMORY USAGE` on both sides, beside its nodes: the model's structures (the
/// usage less its nodes' and members' blocks) are the live server's too when `MEMORY USAGE key
/// SAMPLES 1` (the structures plus the first member's element bytes times the count, exact) less
/// them is the count times what some member length of [`ZLENS`] at some level takes. Also
/// asserts the element bytes on each side are about what p = 1/4 levels give.
fn same_skiplist_usage(e: &mut Exact, version: &str, key: &str) {
    let (live, model) = usage8(e, key);
    let (enc, blocks) = e.model().describe_key(key.as_bytes()).expect("a sorted set");
    assert_eq!(enc, "skiplist");
    let count: u64 = blocks
        .iter()
        .filter(|b| b.what.starts_with("skiplist node"))
        .map(|b| b.count)
        .sum();
    let elements: i64 = blocks
        .iter()
        .filter(|b| b.what.starts_with("skiplist node") || b.what == "member sds")
        .map(|b| b.usable as i64)
        .sum();
    let structures = model - elements;
    let one = e.live_memory_usage_sampled(key.as_bytes(), 1).expect("the key") as i64;
    let n = count as i64;
    let first = (one - structures) / n;
    let valid: Vec<i64> = ZLENS
        .iter()
        .flat_map(|&len| (1..=32).map(move |l| element_bytes(version, l, len as u64) as i64))
        .collect();
    eprintln!(
        "{version} MEMORY USAGE {key}: live {live}, model {model} ({n} members, structures \
         {structures}, first member {first} B live)"
    );
    assert_eq!((one - structures) % n, 0, "{version}: {key}'s structures differ");
    assert!(
        valid.contains(&first),
        "{version}: {key}'s first member takes {first} B"
    );
    let min: i64 = ZLENS
        .iter()
        .map(|&l| element_bytes(version, 1, l as u64) as i64)
        .min()
        .unwrap();
    for (side, total) in [("live", live - structures), ("model", elements)] {
        let per = total as f64 / n as f64;
        assert_eq!(total % 8, 0, "{version} {side}: {total}");
        assert!(
            per >= min as f64 && per < 2.0 * min as f64 + 80.0,
            "{version} {side}: {per} B a member"
        );
    }
}

/// Sorted sets: a listpack grown to 128 members and converted by the 129th (a hashtable of
/// node pointers presized for 129, `zsetConvertAndExpand`), grown through several table
/// resizes with lookups between (ZREM of a member not there, ZADD of the same score), score
/// updates that keep or move nodes (8.1: a new node; 9.1: the same one relinked), ZINCRBY,
/// ZREMRANGEBYRANK and ZREM down through the shrinks (9.1's ZREM and both versions'
/// ZREMRANGEBYRANK pausing auto-shrink), a member over 64 B converting a small listpack (Valkey
/// sizes by the command's longest member: presized for the command's one pair), a ZADD of more
/// pairs than a listpack holds making a presized skiplist at once or converting a listpack,
/// DEL, FLUSHALL. Members of seven lengths ([`ZLENS`]). Each command compared beside the random
/// node levels ([`same_beside_nodes`]); `MEMORY USAGE` exactly for listpacks, beside the nodes
/// for skiplists ([`same_skiplist_usage`]).
#[test]
fn sorted_sets_on_valkeys_hashtable() {
    per_version(|v, e| {
        // Warm-up: the commands' latency histograms on both sides.
        for argv in [
            cmd(&["ZADD", "w", "1", "a"]),
            cmd(&["ZINCRBY", "w", "1", "a"]),
            cmd(&["ZREMRANGEBYRANK", "w", "5", "6"]),
            cmd(&["ZREM", "w", "a"]),
        ] {
            e.run(&argv);
        }
        for _ in 0..3 {
            e.memory_usage(b"w");
            e.live_memory_usage_sampled(b"w", 1);
        }
        e.settle();
        // A listpack to 128 members.
        let mut script = vec![zadd("z", 0..1)];
        for c in (1..121).step_by(30) {
            script.push(zadd("z", c..c + 30));
        }
        script.extend((121..128).map(|i| zadd("z", i..i + 1)));
        same(e, v, &script);
        same_usage(e, v, "z");
        // The 129th member converts it.
        same_beside_nodes(e, v, "z", &[zadd("z", 128..129)]);
        same_skiplist_usage(e, v, "z");
        // Growth through the resizes, lookups between.
        for c in (129..3000).step_by(50) {
            let end = (c + 50).min(3000);
            same_beside_nodes(
                e,
                v,
                "z",
                &[zadd("z", c..end), cmd(&["ZREM", "z", "absent"]), zadd("z", 7..8)],
            );
            if c % 500 == 129 {
                same_skiplist_usage(e, v, "z");
            }
        }
        same_skiplist_usage(e, v, "z");
        // Score updates: in place (between its neighbours), moved, ZINCRBY, ZADD INCR.
        let m = |i: u32| zmember(i);
        same_beside_nodes(
            e,
            v,
            "z",
            &[
                cmd(&["ZADD", "z", "11.25", &m(11)]),
                cmd(&["ZADD", "z", "5000", &m(12)]),
                cmd(&["ZADD", "z", "-1", &m(2999)]),
                cmd(&["ZINCRBY", "z", "10000", &m(13)]),
                cmd(&["ZINCRBY", "z", "0.125", &m(14)]),
                cmd(&["ZADD", "z", "INCR", "-20000", &m(15)]),
                cmd(&["ZADD", "z", "NX", "1", &m(16)]),
            ],
        );
        same_skiplist_usage(e, v, "z");
        // A member over 64 B converts a small listpack; a big ZADD converts another; a new key
        // of 200 pairs is a presized skiplist at once.
        let long = "L".repeat(70);
        same(e, v, &[zadd("small", 0..10)]);
        same_usage(e, v, "small");
        same_beside_nodes(e, v, "small", &[cmd(&["ZADD", "small", "3", &long])]);
        same_skiplist_usage_long(e, v, "small");
        same(e, v, &[zadd("lp", 0..10)]);
        same_beside_nodes(e, v, "lp", &[zadd("lp", 10..160)]);
        same_skiplist_usage(e, v, "lp");
        same_beside_nodes(e, v, "big", &[zadd("big", 0..200)]);
        same_skiplist_usage(e, v, "big");
        // Removals: ranges, then members, down through the shrinks.
        for _ in 0..3 {
            same_beside_nodes(e, v, "z", &[cmd(&["ZREMRANGEBYRANK", "z", "0", "299"])]);
            same_skiplist_usage(e, v, "z");
        }
        for c in (0..3000).step_by(100) {
            let mut argv = cmd(&["ZREM", "z"]);
            argv.extend((c..c + 100).map(|i| zmember(i).into_bytes()));
            same_beside_nodes(e, v, "z", &[argv]);
            if e.model().describe_key(b"z").is_some() {
                same_skiplist_usage(e, v, "z");
            }
        }
        // A small skiplist deleted (freed at once: 11 members), a ZREMRANGEBYRANK emptying a
        // key, then FLUSHALL freeing the big one.
        same_beside_nodes(e, v, "small", &[cmd(&["DEL", "small"])]);
        same_beside_nodes(e, v, "lp", &[cmd(&["ZREMRANGEBYRANK", "lp", "0", "-1"])]);
        same_beside_nodes(e, v, "big", &[cmd(&["FLUSHALL", "SYNC"])]);
    });
}

/// [`same_skiplist_usage`] for a skiplist holding one member outside [`ZLENS`] (70 B): the
/// element bytes' plausibility only, the first member being one of [`ZLENS`]'s.
fn same_skiplist_usage_long(e: &mut Exact, version: &str, key: &str) {
    let (live, model) = usage8(e, key);
    let (_, blocks) = e.model().describe_key(key.as_bytes()).expect("a sorted set");
    let elements: i64 = blocks
        .iter()
        .filter(|b| b.what.starts_with("skiplist node") || b.what == "member sds")
        .map(|b| b.usable as i64)
        .sum();
    let n: i64 = blocks
        .iter()
        .filter(|b| b.what.starts_with("skiplist node"))
        .map(|b| b.count as i64)
        .sum();
    let structures = model - elements;
    let one = e.live_memory_usage_sampled(key.as_bytes(), 1).expect("the key") as i64;
    eprintln!("{version} MEMORY USAGE {key}: live {live}, model {model}, SAMPLES 1 live {one}");
    let first = (one - structures) / n;
    assert_eq!((one - structures) % n, 0, "{version}: {key}'s structures differ");
    let valid: Vec<i64> = ZLENS
        .iter()
        .flat_map(|&len| (1..=32).map(move |l| element_bytes(version, l, len as u64) as i64))
        .collect();
    assert!(
        valid.contains(&first),
        "{version}: {key}'s first member takes {first} B"
    );
}
