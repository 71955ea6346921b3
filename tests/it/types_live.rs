//! The Redis data types against a live redis-server, command by command: the `used_memory`
//! each command leaves behind equal on the model and the server, and `MEMORY USAGE key
//! SAMPLES 0` equal (see `common::exact`).

use crate::common::exact::{cmd, Exact};
use crate::common::live_lock;

/// Strings and hashes, the types modelled first, through the same harness: a string in each
/// encoding, a listpack hash and one converted to a dict, then their `MEMORY USAGE`. The
/// fifth key doubles the keyspace's table: settled after each command, so that the old table
/// is gone on both sides.
#[test]
fn strings_and_hashes_leave_what_the_server_leaves() {
    let live = live_lock();
    let Some(mut e) = Exact::start(&live) else {
        return;
    };
    let long = "x".repeat(2000);
    let field = "v".repeat(100);
    e.same_settled_deltas(&[
        cmd(&["SET", "s:int", "12345678"]),
        cmd(&["SET", "s:shared", "42"]),
        cmd(&["SET", "s:embstr", "hello world"]),
        cmd(&["SET", "s:raw", &long]),
        cmd(&["HSET", "h:lp", "a", "1", "b", "two"]),
        cmd(&["HSET", "h:ht", "a", "1", "b", &field]),
        cmd(&["HSET", "h:ht", "c", "3"]),
    ]);
    for key in ["s:int", "s:shared", "s:embstr", "s:raw", "h:lp", "h:ht", "absent"] {
        let (live, model) = e.memory_usage(key.as_bytes());
        assert_eq!(model, live, "MEMORY USAGE {key}");
    }
}

/// Cluster mode (one node, every slot its own): each keyspace entry carries 16 B of slot links
/// (24 + 16 = 40 B -> 48), so each new key costs 16 B more than without cluster mode, and
/// `MEMORY USAGE` counts the 40 B.
#[test]
fn cluster_mode_keys_carry_their_slot_links() {
    let live = live_lock();
    let Some(mut e) = Exact::start_cluster(&live) else {
        return;
    };
    let long = "x".repeat(2000);
    e.same_settled_deltas(&[
        cmd(&["SET", "s:int", "12345678"]),
        cmd(&["SET", "s:embstr", "hello world"]),
        cmd(&["SET", "s:raw", &long]),
        cmd(&["HSET", "h:lp", "a", "1", "b", "two"]),
        cmd(&["SET", "s:ttl", "v", "EX", "1000"]),
        cmd(&["DEL", "s:int"]),
    ]);
    for key in ["s:embstr", "s:raw", "h:lp", "s:ttl"] {
        let (live, model) = e.memory_usage(key.as_bytes());
        assert_eq!(model, live, "MEMORY USAGE {key}");
    }
    let (_, embstr) = e.memory_usage(b"s:embstr");
    // embstr 16 + 3 + 11 + 1 = 31 -> 32, key "s:embstr" 1 + 8 + 1 = 10 -> 16, entry 24 + 16.
    assert_eq!(embstr, Some(32 + 16 + 40));
}
