//! Sets against a live redis-server, command by command (see `common::exact`): intsets growing,
//! widening and converting, dict sets growing, shrinking and emptied, SPOP's cases, MEMORY
//! USAGE of each encoding, DEL and FLUSHALL of a large set.
//!
//! A dict set's table doubles when its entries reach its buckets and is rehashed by the
//! operations on it, the old table freed once every bucket has moved; which operation that is
//! depends on Redis's random hash seed, and the model follows it by expected value. So the
//! scripts add members in batches that end at a power of two: a batch that doubles the table
//! at its member `s + 1` goes on for `s - 1` more members, each a rehash step, enough to move
//! the old table's (at most `s`, about 0.63 s) non-empty buckets on both sides, so each batch
//! ends with no rehash under way. Where a command leaves a rehash under way (a shrink, a new
//! set built by SPOP), the next commands compared are ones whose delta does not depend on it
//! (the key's deletion frees both tables).

use crate::common::exact::{cmd, named, show, with_members, Exact};
use crate::common::live_lock;

/// A command as text for the printed deltas: its first four words, and how many more.
fn brief(argv: &[Vec<u8>]) -> String {
    let head = show(&argv[..argv.len().min(4)]);
    match argv.len() {
        0..=4 => head,
        n => format!("{head} ... ({} more)", n - 4),
    }
}

/// `MEMORY USAGE key SAMPLES 0` equal on both sides (printed, for `--nocapture`).
fn same_memory_usage(e: &mut Exact, key: &str) {
    let (live, model) = e.memory_usage(key.as_bytes());
    eprintln!("MEMORY USAGE {key}: live {live:?}, model {model:?}");
    assert_eq!(model, live, "MEMORY USAGE {key}");
}

/// Each command leaves the same `used_memory` on both sides (`Exact::same_deltas`: a command
/// with a reply longer than the reply buffer is settled first).
fn same_deltas(e: &mut Exact, script: &[Vec<Vec<u8>>]) {
    for argv in script {
        eprintln!("{}", brief(argv));
        e.same_deltas(std::slice::from_ref(argv));
    }
}

/// Each command, settled, leaves the same `used_memory` on both sides
/// (`Exact::same_settled_deltas`, each delta printed).
fn same_settled_deltas(e: &mut Exact, script: &[Vec<Vec<u8>>]) {
    for argv in script {
        let d = e.run(argv);
        let s = e.settle();
        let (live, model) = (d.live + s.live, d.model + s.model);
        eprintln!("{} (settled): live {live}, model {model}", brief(argv));
        assert_eq!(model, live, "used_memory delta of {}, settled", show(argv));
    }
}

/// An intset created by an integer, grown member by member (a realloc each), widened to 32 and
/// 64 bits (a narrower member after that still takes 8 bytes), a member already there
/// changing nothing, members removed (the width stays); then one converted by a string member
/// (the dict presized for its 4 integers, then doubled by the fifth member) and one by its
/// 513th integer (SADD in batches); each key's MEMORY USAGE.
#[test]
fn intsets_grow_widen_shrink_and_convert() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    same_settled_deltas(&mut e, &[cmd(&["SADD", "i", "1"])]);
    same_deltas(
        &mut e,
        &[
            cmd(&["SADD", "i", "2", "3"]),
            cmd(&["SADD", "i", "100000"]),
            cmd(&["SADD", "i", "5000000000"]),
            cmd(&["SADD", "i", "-7"]),
            cmd(&["SADD", "i", "1"]),
            cmd(&["SADD", "i", "-40000", "40000", "12"]),
        ],
    );
    same_memory_usage(&mut e, "i");
    same_deltas(
        &mut e,
        &[
            cmd(&["SREM", "i", "5000000000"]),
            cmd(&["SREM", "i", "absent", "999"]),
            cmd(&["SREM", "i", "1", "2", "3"]),
        ],
    );
    same_memory_usage(&mut e, "i");

    // Converted by a string: 4 integers in a 4-bucket table, the string doubles it.
    same_settled_deltas(&mut e, &[cmd(&["SADD", "c", "1", "2", "3", "4"])]);
    same_deltas(&mut e, &[cmd(&["SADD", "c", "abc"])]);
    same_memory_usage(&mut e, "c");
    // Four more members: the 8-bucket rehash ends, the ninth member doubles again.
    same_deltas(&mut e, &[cmd(&["SADD", "c", "x1", "x2", "x3", "x4"])]);

    // Converted by the 513th integer: a 1,024-bucket table at once.
    same_settled_deltas(
        &mut e,
        &[with_members("SADD", "n", (0..256).map(|i| (i * 7).to_string()))],
    );
    same_deltas(
        &mut e,
        &[
            with_members("SADD", "n", (256..512).map(|i| (i * 7).to_string())),
            with_members("SADD", "n", (0..512).map(|i| (i * 7).to_string())),
        ],
    );
    same_memory_usage(&mut e, "n");
    same_deltas(&mut e, &[cmd(&["SADD", "n", "100000"])]);
    same_memory_usage(&mut e, "n");
    // The 1,024-bucket table holds 513 members: no resize until they fall below 103.
    same_deltas(
        &mut e,
        &[with_members("SREM", "n", (0..300).map(|i| (i * 7).to_string()))],
    );
    same_memory_usage(&mut e, "n");
    for key in ["i", "c", "n"] {
        same_deltas(&mut e, &[cmd(&["DEL", key])]);
    }
}

/// A dict set grown over five table doublings (batches ending at powers of two, see the
/// module's comment), its MEMORY USAGE, members removed down to the 10% fill that shrinks its
/// table, then the rest removed in one command, which deletes the key.
#[test]
fn dict_sets_grow_shrink_and_go() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    same_settled_deltas(&mut e, &[with_members("SADD", "h", named("member:", 0..16))]);
    same_deltas(
        &mut e,
        &[
            with_members("SADD", "h", named("member:", 16..32)),
            with_members("SADD", "h", named("member:", 32..64)),
            with_members("SADD", "h", named("member:", 64..128)),
            // Members already there: a rehash step and the expand check each, nothing more.
            with_members("SADD", "h", named("member:", 0..4)),
        ],
    );
    same_memory_usage(&mut e, "h");
    // 128 members in 128 buckets: the shrink comes as the 12th last member stays
    // (12 x 100 / 128 < 10): a 16-bucket table, the rehash just begun.
    same_deltas(&mut e, &[with_members("SREM", "h", named("member:", 12..128))]);
    same_memory_usage(&mut e, "h");
    same_deltas(&mut e, &[with_members("SREM", "h", named("member:", 0..12))]);
    assert_eq!(e.model().memory_usage(b"h"), None);
}

/// SPOP on an intset and on a dict set of members of one length (which members a side takes
/// is its own draw; their sizes are the same): without a count (an INT object, an embedded
/// string, a raw string), and with a count in each of `spopWithCountCommand`'s cases — one by
/// one, a new set of the members that stay, the whole set (the key deleted) — and a count of
/// 0.
#[test]
fn spop_in_every_case() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    // An intset of 30 five-digit members (16-bit): 8 + 30 x 2 = 68 B.
    same_settled_deltas(
        &mut e,
        &[with_members(
            "SADD",
            "i",
            (0..30).map(|i| (10_000 + i).to_string()),
        )],
    );
    same_deltas(
        &mut e,
        &[
            cmd(&["SPOP", "i"]),
            cmd(&["SPOP", "i"]),
            cmd(&["SPOP", "i", "0"]),
            // 28 members: 3 taken one by one (25 x 5 > 3).
            cmd(&["SPOP", "i", "3"]),
            // 25: 21 taken, the 4 that stay make a new intset (4 x 5 <= 21).
            cmd(&["SPOP", "i", "21"]),
        ],
    );
    same_memory_usage(&mut e, "i");
    // 4 members: the whole set, the key deleted.
    same_deltas(
        &mut e,
        &[
            cmd(&["SPOP", "i", "10"]),
            cmd(&["SPOP", "i"]),
            cmd(&["SPOP", "i", "2"]),
        ],
    );

    // A dict set of 128 members of 11 bytes.
    same_settled_deltas(&mut e, &[with_members("SADD", "h", named("member:", 0..16))]);
    same_deltas(
        &mut e,
        &[
            with_members("SADD", "h", named("member:", 16..32)),
            with_members("SADD", "h", named("member:", 32..64)),
            with_members("SADD", "h", named("member:", 64..128)),
            cmd(&["SPOP", "h"]),
            cmd(&["SPOP", "h"]),
            // 126 members: 20 taken one by one.
            cmd(&["SPOP", "h", "20"]),
            // 106: 90 taken, the 16 that stay make a new dict set (16 x 5 <= 90), which ends
            // with 16 members in 16 buckets, no rehash under way.
            cmd(&["SPOP", "h", "90"]),
        ],
    );
    same_memory_usage(&mut e, "h");
    same_deltas(&mut e, &[cmd(&["SPOP", "h", "16"])]);

    // Members longer than 44 bytes: each popped one becomes a raw string (sds and robj).
    let long = |i: u32| format!("{}{i:04}", "l".repeat(60));
    same_settled_deltas(&mut e, &[with_members("SADD", "r", (0..16).map(long))]);
    same_deltas(
        &mut e,
        &[
            cmd(&["SPOP", "r"]),
            // 15 members: 2 one by one, then 11 of 13 (the 2 that stay make a new set).
            cmd(&["SPOP", "r", "2"]),
            cmd(&["SPOP", "r", "11"]),
        ],
    );
    same_memory_usage(&mut e, "r");
    same_deltas(&mut e, &[cmd(&["SPOP", "r", "1"]), cmd(&["SPOP", "r", "1"])]);
}

/// A dict set of 2,048 members (batches of 256), its MEMORY USAGE, DEL; built again, then
/// FLUSHALL.
#[test]
fn a_large_set_deleted_and_flushed() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    let batch = |b: u32| with_members("SADD", "big", named("element:", b * 256..(b + 1) * 256));
    same_settled_deltas(&mut e, &[batch(0)]);
    for b in 1..8 {
        same_deltas(&mut e, &[batch(b)]);
    }
    same_memory_usage(&mut e, "big");
    same_deltas(&mut e, &[cmd(&["DEL", "big"])]);
    // Built again (the harness's own comparisons, not printed), then flushed.
    e.same_settled_deltas(&[batch(0)]);
    e.same_deltas(&(1..8).map(batch).collect::<Vec<_>>());
    same_deltas(&mut e, &[cmd(&["FLUSHALL"])]);
    let all = e.since_start();
    assert_eq!(all.model, all.live, "everything since the start");
}
