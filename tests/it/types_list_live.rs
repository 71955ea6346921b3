//! Lists against a live redis-server, command by command (see `common::exact`): the
//! `used_memory` each command leaves behind equal on the model and the server, and
//! `MEMORY USAGE key SAMPLES 0` equal. A list has no dict of its own, so every command matches
//! as it runs; the few that are settled first are those after which the server's cron changes
//! something of the client's (a reply too long for the reply buffer makes the cron double it),
//! and those that create a fifth key.

use crate::common::exact::{cmd, show, Exact};
use crate::common::live_lock;

/// `verb key` and then the elements.
fn push(verb: &str, key: &str, elems: impl IntoIterator<Item = String>) -> Vec<Vec<u8>> {
    let mut c = cmd(&[verb, key]);
    c.extend(elems.into_iter().map(String::into_bytes));
    c
}

/// A string element of `len` bytes, distinct for each `i` (no integer: it starts with a letter).
fn text(i: usize, len: usize) -> String {
    let mut s = format!("e{i}-");
    while s.len() < len {
        s.push((b'a' + (s.len() % 26) as u8) as char);
    }
    s.truncate(len);
    s
}

/// Integers of every listpack width: 7-bit, 13-bit, 16-bit, 24-bit, 32-bit and 64-bit, both
/// signs, shared ones (below 10,000) among them.
fn integer(i: usize) -> String {
    let i = i as i64;
    match i % 7 {
        0 => (i % 128).to_string(),
        1 => (-(i % 4000) - 1).to_string(),
        2 => (i * 7 % 30_000 + 5000).to_string(),
        3 => (-i * 1013 - 40_000).to_string(),
        4 => (i * 104_729 + 9_000_000).to_string(),
        5 => (i * 1_000_000_007 + 5_000_000_000).to_string(),
        _ => (i % 10_000).to_string(),
    }
}

/// `MEMORY USAGE` of each key, equal on both sides.
fn same_usage(e: &mut Exact, keys: &[&str]) {
    for key in keys {
        let (live, model) = e.memory_usage(key.as_bytes());
        assert_eq!(model, live, "MEMORY USAGE {key}");
    }
}

/// Lists of one node: strings around the listpack's header widths (63/64 bytes), integers of
/// every width, pops at both ends with and without a count (a string popped into an embedded
/// and a raw object, integers into shared and unshared objects), until the key disappears.
#[test]
fn small_lists_leave_what_the_server_leaves() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    let s63 = text(1, 63);
    let s64 = text(2, 64);
    let s130 = text(3, 130);
    e.same_deltas(&[
        cmd(&["RPUSH", "s", "a", "b", "c"]),
        cmd(&["LPUSH", "s", "1", "-1", "1000", "12345678901"]),
        cmd(&["RPUSH", "s", &s63, &s64]),
        cmd(&["LPUSH", "s", &s130, "-70000", "9999", "10000"]),
    ]);
    same_usage(&mut e, &["s"]);
    e.same_deltas(&[
        cmd(&["LPOP", "s"]),
        cmd(&["LPOP", "s"]),
        cmd(&["LPOP", "s"]),
        cmd(&["RPOP", "s"]),
        cmd(&["LPOP", "s"]),
        cmd(&["RPOP", "s", "2"]),
        cmd(&["LPOP", "s", "0"]),
        cmd(&["LPOP", "s", "3"]),
    ]);
    same_usage(&mut e, &["s"]);
    e.same_deltas(&[
        cmd(&["RPOP", "s"]),
        cmd(&["LPOP", "s", "10"]),
        cmd(&["LPOP", "s"]),
        cmd(&["RPUSH", "t", "x"]),
        cmd(&["RPOP", "t"]),
        cmd(&["RPOP", "t"]),
    ]);
    assert_eq!(e.model().dbsize(), 0);
    same_usage(&mut e, &["s", "t"]);
}

/// Lists of many 8 KiB nodes: 100-byte strings and integers pushed 100 to a command at the
/// tail, then more at the head; elements long enough for a node of their own (5,000 and
/// 9,000 bytes); MEMORY USAGE after each phase.
#[test]
fn lists_grow_across_nodes_as_on_the_server() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    let strings: Vec<_> = (0..25)
        .map(|b| push("RPUSH", "big", (0..100).map(|i| text(b * 100 + i, 100))))
        .collect();
    e.same_deltas(&strings);
    let ints: Vec<_> = (0..25)
        .map(|b| push("RPUSH", "ints", (0..100).map(|i| integer(b * 100 + i))))
        .collect();
    e.same_deltas(&ints);
    same_usage(&mut e, &["big", "ints"]);
    let head: Vec<_> = (0..10)
        .map(|b| {
            push(
                "LPUSH",
                "big",
                (0..100).map(|i| text(9000 + b * 100 + i, 37 + i % 50)),
            )
        })
        .chain((0..10).map(|b| push("LPUSH", "ints", (0..100).map(|i| integer(5000 + b * 100 + i)))))
        .collect();
    e.same_deltas(&head);
    same_usage(&mut e, &["big", "ints"]);
    e.same_deltas(&[
        push(
            "RPUSH",
            "big",
            [text(1, 5000), text(2, 9000), "7".into(), text(3, 5000)],
        ),
        push("LPUSH", "big", [text(4, 9000), "8".into(), text(5, 3000)]),
    ]);
    same_usage(&mut e, &["big", "ints"]);
    // The insert limit to the byte: a node of 79 strings of 100 bytes holds 7 + 79 * 103 =
    // 8,144 bytes. An element of n bytes still goes in while 8,144 + entries + n + 8 <= 8,192:
    // twenty 1-digit integers (2 bytes each: 8,184), the 21st opens a node; one 40-byte
    // string (8,144 + 40 + 8 = 8,192: it goes in), then a 1-byte one opens a node.
    let node = |key: &str| push("RPUSH", key, (0..79).map(|i| text(i, 100)));
    let mut edge = vec![node("edge")];
    edge.extend((0..21).map(|_| cmd(&["RPUSH", "edge", "5"])));
    edge.extend([
        node("edge2"),
        push("RPUSH", "edge2", [text(1, 40)]),
        cmd(&["RPUSH", "edge2", "z"]),
    ]);
    e.same_deltas(&edge);
    same_usage(&mut e, &["edge", "edge2"]);
}

/// Pops at both ends of a multi-node list, a node's worth and more at a time and one by one,
/// until the key disappears: entries deleted from the end nodes, nodes freed whole or emptied
/// by a range that starts at their first entry. Replies too long for the client's reply
/// buffer are settled (the cron doubles the buffer after them, on both sides).
#[test]
fn pops_free_what_the_server_frees() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    let fill: Vec<_> = (0..10)
        .map(|b| push("RPUSH", "p", (0..100).map(|i| text(b * 100 + i, 100))))
        .chain((0..5).map(|b| push("RPUSH", "p", (0..100).map(|i| integer(b * 100 + i)))))
        .collect();
    e.same_deltas(&fill);
    same_usage(&mut e, &["p"]);
    // Replies of integers and of a few strings fit in the reply buffer.
    let mut pops = vec![cmd(&["RPOP", "p", "7"]), cmd(&["RPOP", "p", "300"])];
    pops.extend((0..30).map(|_| cmd(&["RPOP", "p"])));
    pops.extend((0..90).map(|_| cmd(&["LPOP", "p"])));
    pops.extend([cmd(&["LPOP", "p", "3"]), cmd(&["LPOP", "p", "5"])]);
    e.same_deltas(&pops);
    same_usage(&mut e, &["p"]);
    // Replies of many strings: settled.
    e.same_settled_deltas(&[
        cmd(&["LPOP", "p", "70"]),
        cmd(&["RPOP", "p", "150"]),
        cmd(&["LPOP", "p", "79"]),
    ]);
    same_usage(&mut e, &["p"]);
    e.same_settled_deltas(&[cmd(&["RPOP", "p", "100000"])]);
    assert_eq!(e.model().dbsize(), 0);
    same_usage(&mut e, &["p"]);
}

/// LTRIM cutting across nodes from both ends, within one node, to nothing (the key deleted);
/// LREM of repeated values from the head, from the tail and everywhere, emptying nodes in the
/// middle of the list, until the key disappears.
#[test]
fn trims_and_removals_free_what_the_server_frees() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    let fill: Vec<_> = (0..12)
        .map(|b| push("RPUSH", "t", (0..100).map(|i| text(b * 100 + i, 60 + i % 60))))
        .collect();
    e.same_deltas(&fill);
    same_usage(&mut e, &["t"]);
    e.same_deltas(&[
        cmd(&["LTRIM", "t", "150", "-170"]),
        cmd(&["LTRIM", "t", "3", "-1"]),
        cmd(&["LTRIM", "t", "0", "-5"]),
        cmd(&["LTRIM", "t", "0", "100000"]),
        cmd(&["LTRIM", "t", "-700", "-200"]),
        cmd(&["LTRIM", "t", "10", "20"]),
    ]);
    same_usage(&mut e, &["t"]);
    e.same_deltas(&[cmd(&["LTRIM", "t", "5", "2"])]);
    assert_eq!(e.model().dbsize(), 0);
    // Repeated values: "a" (short), a 90-byte string, "42" (a shared integer) among others.
    let long = "r".repeat(90);
    let values = |b: usize| {
        let long = long.clone();
        (0..100).map(move |i| match (b * 100 + i) % 5 {
            0 => "a".to_string(),
            1 => long.clone(),
            2 => "42".to_string(),
            _ => text(b * 100 + i, 70),
        })
    };
    let fill: Vec<_> = (0..8).map(|b| push("RPUSH", "r", values(b))).collect();
    e.same_deltas(&fill);
    same_usage(&mut e, &["r"]);
    e.same_deltas(&[
        cmd(&["LREM", "r", "3", "a"]),
        cmd(&["LREM", "r", "-5", &long]),
        cmd(&["LREM", "r", "0", "42"]),
        cmd(&["LREM", "r", "0", "absent"]),
        cmd(&["LREM", "r", "-100", "a"]),
        cmd(&["LREM", "r", "0", &long]),
    ]);
    same_usage(&mut e, &["r"]);
    // Only the distinct strings are left; remove every "a" left, then trim to a few and remove
    // them one by one.
    e.same_deltas(&[cmd(&["LREM", "r", "0", "a"]), cmd(&["LTRIM", "r", "0", "2"])]);
    same_usage(&mut e, &["r"]);
    let left: Vec<_> = (0..800)
        .filter(|n| n % 5 >= 3)
        .take(3)
        .map(|n| cmd(&["LREM", "r", "1", &text(n, 70)]))
        .collect();
    e.same_deltas(&left);
    assert_eq!(e.model().dbsize(), 0, "{}", show(&left[2]));
    // A run of one value over whole nodes between distinct strings: LREM from the head, then
    // from the tail, empties nodes in the middle of the list; what the two directions take
    // differs (the run's first node shares its listpack with 40 distinct strings, its last
    // with 70).
    let v = "v".repeat(100);
    let run = |n: usize| (0..n).map(|_| v.clone()).collect::<Vec<_>>();
    e.same_deltas(&[
        push("RPUSH", "m", (0..40).map(|i| text(i, 100))),
        push("RPUSH", "m", run(100)),
        push("RPUSH", "m", run(100)),
        push(
            "RPUSH",
            "m",
            run(40).into_iter().chain((0..70).map(|i| text(100 + i, 100))),
        ),
    ]);
    same_usage(&mut e, &["m"]);
    e.same_deltas(&[cmd(&["LREM", "m", "60", &v])]);
    same_usage(&mut e, &["m"]);
    e.same_deltas(&[cmd(&["LREM", "m", "-100", &v])]);
    same_usage(&mut e, &["m"]);
    e.same_deltas(&[
        cmd(&["LREM", "m", "0", &v]),
        cmd(&["LREM", "m", "0", &text(0, 100)]),
    ]);
    same_usage(&mut e, &["m"]);
}

/// DEL and FLUSHALL of lists of many nodes, and of one of a single node.
#[test]
fn del_and_flushall_free_big_lists() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    let fill: Vec<_> = (0..15)
        .map(|b| push("RPUSH", "d1", (0..100).map(|i| text(b * 100 + i, 100))))
        .chain((0..15).map(|b| push("LPUSH", "d2", (0..100).map(|i| integer(b * 100 + i)))))
        .chain([cmd(&["RPUSH", "d3", "x", "y", "1"])])
        .collect();
    e.same_deltas(&fill);
    same_usage(&mut e, &["d1", "d2", "d3"]);
    e.same_deltas(&[cmd(&["DEL", "d1"]), cmd(&["DEL", "d3"])]);
    e.same_deltas(&[cmd(&["FLUSHALL"])]);
    assert_eq!(e.model().dbsize(), 0);
}

/// A string element of `len` bytes that LZF cannot shrink: bytes of a xorshift generator after
/// an `n` (so never an integer), distinct for each `i`.
fn noise(i: usize, len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64 + 1).wrapping_mul(0x0100_0000_01B3);
    let mut b = vec![b'n'];
    while b.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        b.push((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8);
    }
    b.truncate(len);
    b
}

/// `verb key` and then byte elements.
fn push_bytes(verb: &str, key: &str, elems: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    let mut c = cmd(&[verb, key]);
    c.extend(elems);
    c
}

/// A server started with `--list-compress-depth depth`, and the model with the same depth.
fn compressing(live: &crate::common::LiveGuard, depth: u64) -> Option<Exact> {
    let d = depth.to_string();
    Exact::start_with(live, &["--list-compress-depth", &d], |p| {
        p.types.list_compress_depth = depth
    })
}

/// Under `list-compress-depth` `depth`: lists of many nodes of text (which LZF shrinks) and of
/// noise (which it does not: each pass tries those nodes again), nodes too small to compress,
/// pushes at both ends, pops with and without a count, LTRIM cutting interior nodes, LREM
/// through compressed nodes in both directions, DEL and FLUSHALL; every `used_memory` delta
/// and MEMORY USAGE equal.
fn compressed_lists_leave_what_the_server_leaves(depth: u64) {
    let live = live_lock();
    let Some(mut e) = compressing(&live, depth) else {
        return;
    };
    // Text at the tail, noise at the head, then a mix, and integers.
    let mut fill: Vec<_> = (0..5)
        .map(|b| push("RPUSH", "c", (0..100).map(|i| text(b * 100 + i, 100))))
        .collect();
    fill.extend((0..3).map(|b| push_bytes("LPUSH", "c", (0..100).map(|i| noise(b * 100 + i, 100)))));
    fill.extend((0..3).map(|b| {
        push_bytes(
            "RPUSH",
            "c",
            (0..100).map(|i| match i % 3 {
                0 => noise(1000 + b * 100 + i, 60 + i),
                1 => text(1000 + b * 100 + i, 30 + i).into_bytes(),
                _ => integer(b * 100 + i).into_bytes(),
            }),
        )
    }));
    e.same_deltas(&fill);
    same_usage(&mut e, &["c"]);
    // A node too small to compress between big ones: a full node, one short string, then an
    // element too long to join it, then more full nodes.
    let mut small = vec![push("RPUSH", "s", (0..79).map(|i| text(i, 100)))];
    small.push(cmd(&["RPUSH", "s", "x", "y"]));
    small.push(push("RPUSH", "s", [text(7, 9000)]));
    small.extend((0..3).map(|b| push("RPUSH", "s", (0..100).map(|i| text(500 + b * 100 + i, 100)))));
    small.push(cmd(&["LPUSH", "s", "h"]));
    small.push(push("LPUSH", "s", (0..90).map(|i| text(900 + i, 100))));
    e.same_deltas(&small);
    same_usage(&mut e, &["c", "s"]);
    // Pops: single ones at both ends, then counts that reach into compressed nodes.
    let mut pops: Vec<_> = (0..5).map(|_| cmd(&["LPOP", "c"])).collect();
    pops.extend((0..5).map(|_| cmd(&["RPOP", "c"])));
    pops.extend([
        cmd(&["LPOP", "c", "3"]),
        cmd(&["RPOP", "c", "2"]),
        cmd(&["LPOP", "c", "150"]),
        cmd(&["RPOP", "c", "170"]),
        cmd(&["RPOP", "s", "95"]),
        cmd(&["LPOP", "s", "92"]),
    ]);
    e.same_deltas(&pops);
    same_usage(&mut e, &["c", "s"]);
    // Trims that cut nodes in the middle and from both ends.
    e.same_deltas(&[
        cmd(&["LTRIM", "c", "30", "-40"]),
        cmd(&["LTRIM", "c", "1", "-2"]),
        cmd(&["LTRIM", "s", "10", "-10"]),
    ]);
    same_usage(&mut e, &["c", "s"]);
    // Repeated values through compressed nodes, from the head, the tail and everywhere.
    let long = "r".repeat(90);
    let values = |b: usize| {
        let long = long.clone();
        (0..100).map(move |i| match (b * 100 + i) % 5 {
            0 => b"a".to_vec(),
            1 => long.clone().into_bytes(),
            2 => b"42".to_vec(),
            3 => noise(b * 100 + i, 70),
            _ => text(b * 100 + i, 70).into_bytes(),
        })
    };
    let fill: Vec<_> = (0..10).map(|b| push_bytes("RPUSH", "r", values(b))).collect();
    e.same_deltas(&fill);
    same_usage(&mut e, &["r"]);
    e.same_deltas(&[
        cmd(&["LREM", "r", "3", "a"]),
        cmd(&["LREM", "r", "-5", &long]),
        cmd(&["LREM", "r", "150", "42"]),
        cmd(&["LREM", "r", "0", "absent"]),
        cmd(&["LREM", "r", "-100", "a"]),
    ]);
    same_usage(&mut e, &["r"]);
    e.same_deltas(&[cmd(&["LREM", "r", "0", &long]), cmd(&["LREM", "r", "0", "a"])]);
    same_usage(&mut e, &["r"]);
    // Shrinking to a few nodes, where the depth covers them all, then single pops to nothing.
    e.same_deltas(&[
        cmd(&["LTRIM", "r", "0", "120"]),
        cmd(&["LTRIM", "r", "-90", "-1"]),
    ]);
    same_usage(&mut e, &["r"]);
    let last: Vec<_> = (0..90)
        .map(|k| cmd(&[if k % 2 == 0 { "LPOP" } else { "RPOP" }, "r"]))
        .collect();
    e.same_deltas(&last);
    assert_eq!(e.model().memory_usage(b"r"), None);
    // A whole list cleared by LREM, node by node.
    let fill: Vec<_> = (0..6)
        .map(|_| push("RPUSH", "v", (0..100).map(|_| "v".repeat(100))))
        .collect();
    e.same_deltas(&fill);
    same_usage(&mut e, &["v"]);
    e.same_deltas(&[cmd(&["LREM", "v", "250", &"v".repeat(100)])]);
    same_usage(&mut e, &["v"]);
    e.same_deltas(&[cmd(&["LREM", "v", "-1000", &"v".repeat(100)])]);
    assert_eq!(e.model().dbsize(), 2);
    e.same_deltas(&[cmd(&["DEL", "c"])]);
    e.same_deltas(&[cmd(&["FLUSHALL"])]);
    assert_eq!(e.model().dbsize(), 0);
}

/// Depth 1: every node but the head and the tail compressed.
#[test]
fn compressed_lists_at_depth_1() {
    compressed_lists_leave_what_the_server_leaves(1);
}

/// Depth 2: the two nodes at each end kept raw.
#[test]
fn compressed_lists_at_depth_2() {
    compressed_lists_leave_what_the_server_leaves(2);
}

/// Nodes of at most 4 entries (`list-max-listpack-size 4`) at depth `depth`: many nodes, some
/// under the 48 bytes below which none is compressed, some of noise; pushes at both ends, pops
/// with and without a count, trims and removals walking through many compressed nodes.
fn small_compressed_nodes(depth: u64) {
    let live = live_lock();
    let d = depth.to_string();
    let Some(mut e) = Exact::start_with(
        &live,
        &["--list-compress-depth", &d, "--list-max-listpack-size", "4"],
        |p| {
            p.types.list_compress_depth = depth;
            p.types.list_max_listpack_size = 4;
        },
    ) else {
        return;
    };
    let elem = |i: usize| -> Vec<u8> {
        match i % 6 {
            0 | 1 => b"x".to_vec(),
            2 => text(i, 20).into_bytes(),
            3 => noise(i, 30),
            4 => integer(i).into_bytes(),
            _ => "t".repeat(40).into_bytes(),
        }
    };
    let mut script: Vec<_> = (0..4)
        .map(|b| push_bytes("RPUSH", "q", (0..50).map(|i| elem(b * 50 + i))))
        .collect();
    script.extend((0..2).map(|b| push_bytes("LPUSH", "q", (0..37).map(|i| elem(7 + b * 37 + i)))));
    script.extend((0..12).map(|i| push_bytes(if i % 2 == 0 { "LPUSH" } else { "RPUSH" }, "q", [elem(i)])));
    e.same_deltas(&script);
    same_usage(&mut e, &["q"]);
    let mut pops: Vec<_> = (0..6).map(|_| cmd(&["LPOP", "q"])).collect();
    pops.extend((0..6).map(|_| cmd(&["RPOP", "q"])));
    pops.extend([
        cmd(&["LPOP", "q", "9"]),
        cmd(&["RPOP", "q", "11"]),
        cmd(&["LPOP", "q", "1"]),
        cmd(&["RPOP", "q", "4"]),
    ]);
    e.same_deltas(&pops);
    same_usage(&mut e, &["q"]);
    e.same_deltas(&[
        cmd(&["LREM", "q", "0", "x"]),
        cmd(&["LREM", "q", "5", &"t".repeat(40)]),
        cmd(&["LREM", "q", "-5", &"t".repeat(40)]),
        cmd(&["LTRIM", "q", "7", "-9"]),
        cmd(&["LTRIM", "q", "2", "-3"]),
    ]);
    same_usage(&mut e, &["q"]);
    e.same_deltas(&[
        cmd(&["LREM", "q", "0", &"t".repeat(40)]),
        cmd(&["RPOP", "q", "20"]),
    ]);
    same_usage(&mut e, &["q"]);
    e.same_deltas(&[cmd(&["DEL", "q"])]);
    assert_eq!(e.model().dbsize(), 0);
}

/// Small nodes at depth 1.
#[test]
fn compressed_small_nodes_at_depth_1() {
    small_compressed_nodes(1);
}

/// Small nodes at depth 3.
#[test]
fn compressed_small_nodes_at_depth_3() {
    small_compressed_nodes(3);
}
