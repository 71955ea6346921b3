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

use crate::common::exact::{cmd, named, show, with_members, Delta, Exact};
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
            add(&mut d, &s);
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

fn add(sum: &mut Delta, d: &Delta) {
    sum.live += d.live;
    sum.model += d.model;
    sum.live_tables += d.live_tables;
    sum.model_tables += d.model_tables;
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
