//! Sorted sets against a live redis-server, command by command (see `common::exact`).
//!
//! A listpack-encoded sorted set allocates nothing random: each command's `used_memory` delta
//! and `MEMORY USAGE` are compared exactly. A skiplist's nodes take `24 + 16 × level` bytes
//! with the level drawn at random (p = 1/4), by the server's `random()` on one side and the
//! model's draws on the other, so the nodes' size classes (48, 64, 80, 96, ...) differ from one
//! side to the other. Everything else a skiplist holds is the same on both sides, and
//! `MEMORY USAGE key SAMPLES 0` counts every node's usable size exactly as `used_memory` does:
//! so what a command leaves in `used_memory` beside what it changes in `MEMORY USAGE` is
//! compared exactly ([`same_beside_nodes`]). It is what the command did to the blocks that
//! `MEMORY USAGE` counts otherwise than `used_memory` (dict entries: 32-byte blocks against
//! `sizeof(dictEntry)` 24; the dict struct: 64 against 56; the robj, the key's name and main
//! dict entry when the key comes or goes; transient blocks and latency histograms), whatever
//! the levels. It also holds whichever command finishes a dict's rehash on either side: both
//! figures count both tables while a rehash is under way. `MEMORY USAGE` multiplies an
//! average back in floating point, exact when the member count is a power of two: the scripts
//! keep skiplists at such counts, but for one command (the 129th member), compared within that
//! rounding (1 byte a side). The node bytes themselves are then read from `MEMORY USAGE` on
//! each side and checked for what p = 1/4 gives (53.3 bytes a node on average).

use crate::common::exact::{cmd, show, Exact};
use crate::common::live_lock;

/// `ZADD key` (then `opts`) with members `m:NNN` for `range`, member `i` scored by `score(i)`.
fn zadd(
    key: &str,
    opts: &[&str],
    range: std::ops::Range<u32>,
    score: impl Fn(u32) -> String,
) -> Vec<Vec<u8>> {
    let mut argv = cmd(&["ZADD", key]);
    argv.extend(opts.iter().map(|o| o.as_bytes().to_vec()));
    for i in range {
        argv.push(score(i).into_bytes());
        argv.push(member(i).into_bytes());
    }
    argv
}

/// `ZREM key` members `m:NNN` for `range`.
fn zrem(key: &str, range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
    let mut argv = cmd(&["ZREM", key]);
    argv.extend(range.map(|i| member(i).into_bytes()));
    argv
}

/// Member `i`: 5 bytes up to 999 (a 7-byte sds, 8-byte block).
fn member(i: u32) -> String {
    format!("m:{i:03}")
}

/// `used_memory` since the start and `MEMORY USAGE` of a key (0 when it does not exist), on
/// one side.
#[derive(Debug, Clone, Copy)]
struct Reading {
    used: i64,
    usage: i64,
}

/// The readings of both sides: (live, model).
fn read(e: &mut Exact, key: &str) -> (Reading, Reading) {
    let (live, model) = e.memory_usage(key.as_bytes());
    let s = e.since_start();
    (
        Reading {
            used: s.live,
            usage: live.map_or(0, |u| u as i64),
        },
        Reading {
            used: s.model,
            usage: model.map_or(0, |u| u as i64),
        },
    )
}

/// What a command left in `used_memory` beside what it changed in `MEMORY USAGE` of `key`:
/// (live, model).
fn beside_nodes(e: &mut Exact, key: &str, argv: &[Vec<u8>]) -> (i64, i64) {
    let (l0, m0) = read(e, key);
    e.run(argv);
    let (l1, m1) = read(e, key);
    let d = |a: Reading, b: Reading| (b.used - a.used) - (b.usage - a.usage);
    (d(l0, l1), d(m0, m1))
}

/// Runs each command on `key` (a listpack, or a skiplist of a power-of-two length before and
/// after) and asserts it left the same in `used_memory` beside `MEMORY USAGE` on both sides.
pub(crate) fn same_beside_nodes(e: &mut Exact, key: &str, script: &[Vec<Vec<u8>>]) {
    for argv in script {
        let (live, model) = beside_nodes(e, key, argv);
        assert_eq!(
            model,
            live,
            "used_memory beside MEMORY USAGE {key}, {}",
            show(argv)
        );
    }
}

/// `MEMORY USAGE` of `key` on both sides, asserted equal.
fn same_usage(e: &mut Exact, key: &str) -> Option<u64> {
    let (live, model) = e.memory_usage(key.as_bytes());
    assert_eq!(model, live, "MEMORY USAGE {key}");
    live
}

/// The bytes of a skiplist's nodes on each side, from `MEMORY USAGE` of `key` (`n` members
/// `m:NNN`, a 2-byte key name, the dict `slots` buckets, no rehash under way): the usage
/// less the robj 16, `sizeof` zset 16, zskiplist 32 and dict 56, the buckets, the header's
/// 640-byte block, the key's 8-byte sds and entry 24, and per member its 8-byte sds and a
/// `sizeof(dictEntry)`. Asserted whole multiples of the 16-byte quantum, about 53.3 bytes a
/// node (48 for a level-1 node three times in four, 64, 80, ...: within 5 standard deviations
/// for 256 nodes and more).
fn node_bytes(e: &mut Exact, key: &str, n: i64, slots: i64) -> (i64, i64) {
    let (live, model) = e.memory_usage(key.as_bytes());
    let nodes = |u: Option<u64>| {
        let u = u.expect("the key exists") as i64;
        u - (16 + 16 + 32 + 56 + 8 * slots + 640) - (8 + 24) - n * (8 + 24)
    };
    let (live, model) = (nodes(live), nodes(model));
    for (side, b) in [("live", live), ("model", model)] {
        let per = b as f64 / n as f64;
        eprintln!("{key}: {side} nodes {b} B, {per:.2} B a node");
        assert_eq!(b % 16, 0, "{side}: {b}");
        assert!((50.0..57.0).contains(&per), "{side}: {per}");
    }
    (live, model)
}

/// Runs each command the tests use once on a scratch key, FLUSHALL too, and `MEMORY USAGE` a
/// few times, then lets the cron run: the commands' latency histograms are made on both sides
/// before anything is compared. The `MEMORY USAGE` calls also finish, on the live side, the
/// rehash of `MEMORY`'s subcommand table: its 6 subcommands grew it from 4 to 8 buckets at
/// startup, each lookup of a subcommand is a rehash step (`dictFind`), and the step that
/// finishes frees the 4-bucket table, 32 bytes, after one to four calls depending on the hash
/// seed. The model does not model the command table; past this point the two agree.
fn warm_up(e: &mut Exact) {
    for argv in [
        cmd(&["ZADD", "w", "1", "a"]),
        cmd(&["ZINCRBY", "w", "1", "a"]),
        cmd(&["ZREMRANGEBYRANK", "w", "5", "6"]),
        cmd(&["ZREM", "w", "a"]),
        cmd(&["ZADD", "w", "1", "a"]),
        cmd(&["DEL", "w"]),
        cmd(&["FLUSHALL"]),
    ] {
        e.run(&argv);
    }
    for _ in 0..6 {
        e.memory_usage(b"w");
    }
    e.settle();
}

/// Asserts that everything since `base` (a [`Exact::since_start`] taken after [`warm_up`])
/// left the same `used_memory` on both sides.
fn same_since(e: &Exact, base: crate::common::exact::Delta, what: &str) {
    let s = e.since_start();
    assert_eq!(
        s.model - base.model,
        s.live - base.live,
        "everything since the warm-up, {what}"
    );
}

/// A listpack sorted set growing one member at a time with scores of every kind (integer
/// entries of 1, 2, 3, 4 and 9 bytes, fractional texts, 17-digit texts, ±inf), updates that
/// move members and change their score's text, options that change nothing, ZINCRBY, ZADD
/// INCR, ties ordered by member; then ZREM and ZREMRANGEBYRANK shrinking it until the key
/// goes: every command's delta and `MEMORY USAGE` exactly.
#[test]
fn a_listpack_sorted_set_leaves_what_the_server_leaves() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    warm_up(&mut e);
    let scores = [
        "1",
        "-1",
        "127",
        "128",
        "-4096",
        "4095",
        "40000",
        "-8388608",
        "2147483648",
        "1e18",
        "0.5",
        "3.14159",
        "0.1",
        "-2.75",
        "1e20",
        "1e-7",
        "inf",
        "-inf",
        "123456.789",
        "-0",
        "7",
    ];
    let grow: Vec<Vec<Vec<u8>>> = scores
        .iter()
        .enumerate()
        .map(|(i, s)| cmd(&["ZADD", "z", s, &member(i as u32)]))
        .collect();
    e.same_deltas(&grow);
    same_usage(&mut e, "z");
    e.same_deltas(&[
        cmd(&["ZADD", "z", "3", "m:000"]),
        cmd(&["ZADD", "z", "1.5", "m:006"]),
        cmd(&["ZADD", "z", "1.5", "m:006"]),
        cmd(&["ZADD", "z", "NX", "9", "m:000"]),
        cmd(&["ZADD", "z", "XX", "9", "new"]),
        cmd(&["ZADD", "z", "XX", "CH", "-5", "m:002"]),
        cmd(&["ZADD", "z", "GT", "0", "m:000"]),
        cmd(&["ZADD", "z", "LT", "-10", "m:003", "11", "new2"]),
        cmd(&["ZADD", "z", "INCR", "2", "m:010"]),
        cmd(&["ZINCRBY", "z", "1e20", "m:001"]),
        cmd(&["ZINCRBY", "z", "-0.5", "new3"]),
        cmd(&["ZINCRBY", "z", "100", "m:016"]),
        cmd(&["ZADD", "z", "1", "A", "1", "aa", "1", "B", "1", "12345", "1", "a"]),
    ]);
    same_usage(&mut e, "z");
    e.same_deltas(&[
        cmd(&["ZREM", "z", "m:000", "nosuch", "B"]),
        cmd(&["ZREMRANGEBYRANK", "z", "-3", "-2"]),
        cmd(&["ZREMRANGEBYRANK", "z", "5", "2"]),
        cmd(&["ZREMRANGEBYRANK", "z", "100", "200"]),
        cmd(&["ZREMRANGEBYRANK", "z", "-100", "1"]),
        cmd(&["ZREM", "z", "m:005", "m:006", "m:007"]),
    ]);
    same_usage(&mut e, "z");
    e.same_deltas(&[
        cmd(&["ZREMRANGEBYRANK", "z", "0", "-1"]),
        cmd(&["ZADD", "y", "XX", "1", "a"]),
        cmd(&["ZADD", "y", "1", "a", "2", "b"]),
        cmd(&["ZREM", "y", "a", "b", "c"]),
    ]);
    assert_eq!(same_usage(&mut e, "z"), None);
    assert_eq!(same_usage(&mut e, "y"), None);
    assert_eq!(e.model().dbsize(), 0);
}

/// Conversions: a 128-member listpack (compared exactly) takes a 129th member, which converts
/// it (compared within `MEMORY USAGE`'s rounding), then 127 more (exactly); a 63-member
/// listpack takes a 65-byte member (64 members: exactly); a new key whose first member is
/// longer than 64 bytes is a skiplist from the start. The node bytes of the 256 nodes are read
/// on both sides.
#[test]
fn listpacks_convert_by_count_and_by_length() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    warm_up(&mut e);
    let score = |i: u32| {
        if i % 3 == 0 {
            format!("{i}.5")
        } else {
            format!("{}", i * 7)
        }
    };
    e.same_deltas(&[zadd("c1", &[], 0..128, score)]);
    same_usage(&mut e, "c1");
    let (live, model) = beside_nodes(&mut e, "c1", &zadd("c1", &[], 128..129, score));
    eprintln!("the 129th member, beside MEMORY USAGE: live {live}, model {model}");
    assert!(
        (live - model).abs() <= 2,
        "the 129th member: live {live}, model {model}"
    );
    same_beside_nodes(&mut e, "c1", &[zadd("c1", &[], 129..256, score)]);
    node_bytes(&mut e, "c1", 256, 256);

    let long = "x".repeat(65);
    e.same_deltas(&[zadd("c2", &[], 0..63, score)]);
    same_usage(&mut e, "c2");
    same_beside_nodes(&mut e, "c2", &[cmd(&["ZADD", "c2", "1.25", &long])]);

    // One node: `MEMORY USAGE` less the robj 16, `sizeof` zset 16, zskiplist 32 and dict 56,
    // 4 buckets, the header's 640-byte block, the member's sds (3 + 65 + 1: 80), an entry 24,
    // the key's 8-byte sds and entry 24 is the node's block, a size class of 24 + 16 × level.
    same_beside_nodes(&mut e, "c3", &[cmd(&["ZADD", "c3", "1", &long])]);
    let (live, model) = e.memory_usage(b"c3");
    let classes = [
        48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640,
    ];
    for (side, u) in [("live", live), ("model", model)] {
        let node = u.expect("the key exists") - (16 + 16 + 32 + 56 + 32 + 640 + 80 + 24 + 8 + 24);
        assert!(classes.contains(&node), "{side}: a node of {node} bytes");
    }
    same_beside_nodes(
        &mut e,
        "c3",
        &[
            cmd(&["ZADD", "c3", "2", "b"]),
            cmd(&["ZADD", "c3", "3", "c", "0", "d"]),
        ],
    );
}

/// A skiplist grown to 512 members, 128 updated in place and 64 moved (new nodes), ZINCRBY,
/// then ZREM and ZREMRANGEBYRANK down to nothing (the dict shrinking on the way), at
/// power-of-two counts; the key gone, both sides hold the same again.
#[test]
fn a_skiplist_grows_updates_and_shrinks_until_the_key_goes() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    warm_up(&mut e);
    let base = e.since_start();
    let int = |i: u32| format!("{i}");
    same_beside_nodes(
        &mut e,
        "s",
        &[zadd("s", &[], 0..256, int), zadd("s", &[], 256..512, int)],
    );
    node_bytes(&mut e, "s", 512, 512);
    same_beside_nodes(
        &mut e,
        "s",
        &[
            // Between their neighbours: in place.
            zadd("s", &["XX"], 0..128, |i| format!("{i}.25")),
            // Past the end: new nodes.
            zadd("s", &["XX", "CH"], 200..264, |i| format!("{}", 10_000 + i)),
            cmd(&["ZINCRBY", "s", "0.5", "m:300"]),
            cmd(&["ZINCRBY", "s", "-20000", "m:301"]),
            cmd(&["ZADD", "s", "NX", "1", "m:302"]),
        ],
    );
    same_beside_nodes(
        &mut e,
        "s",
        &[
            zrem("s", 0..256),
            // 51 members left in 512 buckets: under 10 %, the dict starts shrinking to 64.
            zrem("s", 256..480),
            cmd(&["ZREMRANGEBYRANK", "s", "0", "15"]),
            cmd(&["ZREMRANGEBYRANK", "s", "-8", "-1"]),
            zrem("s", 496..500),
            cmd(&["ZREMRANGEBYRANK", "s", "1", "2"]),
            cmd(&["ZREM", "s", "nosuch", "m:500", "m:501", "m:502"]),
        ],
    );
    assert_eq!(e.model().dbsize(), 1);
    same_beside_nodes(&mut e, "s", &[cmd(&["ZREMRANGEBYRANK", "s", "0", "-1"])]);
    assert_eq!(same_usage(&mut e, "s"), None);
    same_since(&e, base, "the key gone");
}

/// DEL and FLUSHALL of a 512-member skiplist (with a listpack key beside it for FLUSHALL):
/// what they free beside `MEMORY USAGE` exactly, and the same `used_memory` as at the start
/// (plus the commands' histograms) on both sides afterwards.
#[test]
fn del_and_flushall_free_a_big_skiplist() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    warm_up(&mut e);
    let base = e.since_start();
    let frac = |i: u32| format!("{}.{}", i / 7, i % 7);
    same_beside_nodes(
        &mut e,
        "b",
        &[zadd("b", &[], 0..256, frac), zadd("b", &[], 256..512, frac)],
    );
    same_beside_nodes(&mut e, "b", &[cmd(&["DEL", "b"])]);
    same_since(&e, base, "after DEL");

    same_beside_nodes(
        &mut e,
        "b",
        &[zadd("b", &[], 0..256, frac), zadd("b", &[], 256..512, frac)],
    );
    e.same_deltas(&[cmd(&["ZADD", "l", "1", "a", "2", "b"])]);
    let (l0, m0) = read(&mut e, "b");
    let lp = same_usage(&mut e, "l").expect("the listpack key") as i64;
    let d = e.run(&cmd(&["FLUSHALL"]));
    let (live, model) = (d.live + l0.usage + lp, d.model + m0.usage + lp);
    assert_eq!(model, live, "FLUSHALL beside MEMORY USAGE");
    same_since(&e, base, "after FLUSHALL");
}
