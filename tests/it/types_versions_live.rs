//! Redis 7.2, 7.4 and 8.0's collection layouts against live servers of those versions,
//! command by command (see `common::exact`): each test runs per version on
//! `$FRAGSIM_SERVERS/<profile>` with the built-in profile of that version, and skips a version
//! whose binary is absent. The model hashes members with the live server's own dict key
//! (`Exact::start_version`), so a hashtable set's `dictEntryNoValue`s (members sharing a
//! bucket) and its rehash steps fall where the server's do; every `used_memory` delta and
//! every `MEMORY USAGE` must be equal.

use crate::common::exact::{cmd, named, show, with_members, Exact};
use crate::common::live_lock;
use crate::types_zset_live::same_beside_nodes;

/// The versions whose collection layouts differ from 7.0's and which the model follows
/// command by command. Redis 8.0 has the same set layouts as 7.4 (its `setDictType` is still
/// `keys_are_odd`; `ENTRY_PTR_IS_EVEN_KEY` serves only a dict of client pointers, redis
/// 8.0.6 `src/server.c`), and keeps a client's argv array from one command to the next
/// (`processMultibulkBuffer`, freed by the cron over 128 slots: `clientsCronFreeArgvIfIdle`,
/// redis 8.0.6 `src/networking.c`, `src/server.c`), which its profile's `client_keeps_argv`
/// follows.
const VERSIONS: [&str; 3] = ["redis-7.2", "redis-7.4", "redis-8.0"];

/// Each command leaves the same `used_memory` on both sides (printed, for `--nocapture`).
fn same_deltas(e: &mut Exact, script: &[Vec<Vec<u8>>]) {
    for argv in script {
        let head = show(&argv[..argv.len().min(4)]);
        eprintln!("{head}{}", if argv.len() > 4 { " ..." } else { "" });
        e.same_deltas(std::slice::from_ref(argv));
    }
}

/// Each command, settled (the keyspace's own rehash finished by the cron on both sides: see
/// `Exact::settle`), leaves the same `used_memory` on both sides: for commands that add or
/// delete keys.
fn same_settled(e: &mut Exact, script: &[Vec<Vec<u8>>]) {
    for argv in script {
        let head = show(&argv[..argv.len().min(4)]);
        eprintln!("{head}{} (settled)", if argv.len() > 4 { " ..." } else { "" });
        e.same_settled_deltas(std::slice::from_ref(argv));
    }
}

/// `MEMORY USAGE key SAMPLES 0` equal on both sides.
fn same_memory_usage(e: &mut Exact, key: &str) {
    let (live, model) = e.memory_usage(key.as_bytes());
    eprintln!("MEMORY USAGE {key}: live {live:?}, model {model:?}");
    assert_eq!(model, live, "MEMORY USAGE {key}");
}

/// Runs `body` on a fresh server of each version (and its model), skipping absent binaries.
/// A body runs fewer than 200 commands on its server: each reading is a connection, and when
/// the client ids reach 256 the server's `clients_index` rax (not modelled) grows by a node.
fn per_version(mut body: impl FnMut(&str, &mut Exact)) {
    let live = live_lock();
    for v in VERSIONS {
        let Some(mut e) = Exact::start_version(&live, v, &[], false) else {
            continue;
        };
        eprintln!("== {v} (dict key known: {})", e.dict_key_known);
        body(v, &mut e);
    }
}

/// Intsets, listpacks, and the conversions between them and to a hashtable (Redis 7.2+'s
/// `setTypeAdd`, `setTypeMaybeConvert`, `setTypeConvertAndExpand`): an intset widened, a
/// string member making it a listpack (`lpNew` of the estimate, the integers appended, the
/// string, `lpShrinkToFit`), a listpack grown to 128 members and converted by the 129th (a
/// dict presized for 129), by a member over 64 bytes, and by an SADD of more members than a
/// listpack holds; an intset past 512 members; a new key of 200 members made a presized
/// dict at once. SREM from each encoding, DEL, FLUSHALL.
#[test]
fn sets_convert_between_intset_listpack_and_hashtable() {
    per_version(|v, e| {
        same_settled(e, &[cmd(&["SADD", "s", "1", "2", "3"])]);
        same_deltas(
            e,
            &[
                cmd(&["SADD", "s", "100000"]),
                cmd(&["SADD", "s", "abc"]),
                cmd(&["SADD", "s", "de", "-7", "5000000000"]),
                cmd(&["SREM", "s", "2", "abc", "zz"]),
            ],
        );
        same_memory_usage(e, "s");
        let mut script = vec![];
        same_settled(e, &[with_members("SADD", "l", named("member:", 0..16))]);
        for b in 1..8 {
            script.push(with_members("SADD", "l", named("member:", b * 16..(b + 1) * 16)));
        }
        same_deltas(e, &script);
        same_memory_usage(e, "l");
        // The 129th member: a dict presized for 129 (256 buckets).
        same_deltas(e, &[with_members("SADD", "l", named("member:", 128..129))]);
        same_memory_usage(e, "l");
        // A member over 64 bytes converts a small listpack.
        same_settled(e, &[cmd(&["SADD", "v", "a", "b"])]);
        same_deltas(e, &[with_members("SADD", "v", ["x".repeat(65)])]);
        same_memory_usage(e, "v");
        // More members than a listpack holds in one SADD: converted first (`setTypeMaybeConvert`).
        same_settled(e, &[cmd(&["SADD", "w", "a", "b"])]);
        same_deltas(e, &[with_members("SADD", "w", named("w", 0..130))]);
        same_memory_usage(e, "w");
        // A new key of 200 members: a dict presized for them.
        same_settled(e, &[with_members("SADD", "h", named("element:", 0..200))]);
        same_memory_usage(e, "h");
        // An intset past 512 members.
        same_settled(e, &[with_members("SADD", "n", (1..=128).map(|i| i.to_string()))]);
        same_deltas(
            e,
            &[
                with_members("SADD", "n", (129..=256).map(|i| i.to_string())),
                with_members("SADD", "n", (257..=384).map(|i| i.to_string())),
                with_members("SADD", "n", (385..=512).map(|i| i.to_string())),
                cmd(&["SADD", "n", "513"]),
            ],
        );
        same_memory_usage(e, "n");
        same_settled(e, &[cmd(&["DEL", "l"]), cmd(&["DEL", "n"])]);
        if v == "redis-7.2" {
            // 7.4's FLUSHALL frees 64 B more than the model's keyspace (its kvstore, not the
            // sets': see the report).
            same_settled(e, &[cmd(&["FLUSHALL"])]);
        }
    });
}

/// A hashtable set grown a few members at a time, then shrunk by SREM: each member's
/// bucket decides whether it takes a `dictEntryNoValue`, each table doubling and each rehash
/// step converts entries, each shrink (7.2: below 10% from `dictResize`; 7.4+: at 1/8 inside
/// the deletion) starts a rehash the next removals carry on.
#[test]
fn hashtable_sets_follow_their_buckets() {
    per_version(|_, e| {
        if !e.dict_key_known {
            eprintln!("SKIPPED: the server's dict key is not known");
            return;
        }
        same_settled(e, &[with_members("SADD", "h", named("m", 0..129))]);
        let mut script = vec![];
        for i in (129..300).step_by(4) {
            script.push(with_members("SADD", "h", named("m", i..(i + 4).min(300))));
        }
        same_deltas(e, &script);
        same_memory_usage(e, "h");
        let script: Vec<_> = (0..290)
            .step_by(3)
            .map(|i| with_members("SREM", "h", named("m", i..(i + 3).min(290))))
            .collect();
        same_deltas(e, &script);
        same_memory_usage(e, "h");
        same_settled(e, &[cmd(&["DEL", "h"])]);
    });
}

/// SPOP from a listpack (one member; a few of many, walked once; most, a new listpack of those
/// that stay; all), from an intset, and from a hashtable set whose members each sit alone in
/// their bucket (so whichever members the server draws, the same blocks go).
#[test]
fn spop_in_every_encoding() {
    per_version(|_, e| {
        same_settled(e, &[with_members("SADD", "p", named("pop:", 0..100))]);
        same_deltas(
            e,
            &[
                cmd(&["SPOP", "p"]),
                cmd(&["SPOP", "p", "3"]),
                cmd(&["SPOP", "p", "90"]),
            ],
        );
        same_settled(
            e,
            &[
                cmd(&["SPOP", "p", "10"]),
                with_members("SADD", "q", (10_000..10_040).map(|i| i.to_string())),
            ],
        );
        same_deltas(
            e,
            &[
                cmd(&["SPOP", "q"]),
                cmd(&["SPOP", "q", "4"]),
                cmd(&["SPOP", "q", "33"]),
            ],
        );
        same_memory_usage(e, "q");
        if !e.dict_key_known {
            return;
        }
        // 200 members in distinct buckets of the 256 a set presized for 200 has.
        let key = e.model().dict_hash_key().expect("known");
        let mut taken = std::collections::HashSet::new();
        let members: Vec<String> = (0..)
            .map(|i| format!("solo:{i:05}"))
            .filter(|m| taken.insert(fragsim::redis::siphash::siphash12(m.as_bytes(), &key) & 255))
            .take(200)
            .collect();
        same_settled(e, &[with_members("SADD", "t", members)]);
        same_deltas(e, &[cmd(&["SPOP", "t"]), cmd(&["SPOP", "t", "10"])]);
        same_memory_usage(e, "t");
        same_settled(e, &[cmd(&["SPOP", "t", "500"])]);
    });
}

/// `score member` pairs for `range`: scores the numbers themselves, members of one length.
fn scored(range: std::ops::Range<u32>) -> impl Iterator<Item = String> {
    range.flat_map(|i| [i.to_string(), format!("player:{i:04}")])
}

/// Sorted sets' presized dicts (Redis 7.2+ `zsetTypeCreate`, `zsetTypeMaybeConvert`,
/// `zsetConvertAndExpand`): a new key of 256 members is a skiplist at once, its dict of 256
/// buckets taking them all with no rehash; a listpack of 16 given 240 more in one ZADD
/// converts first, presized for 240 (256 buckets); one grown to 128 and converted by the
/// 129th member is presized for 129 (256 buckets) and filled to 256. The tables never grow, so
/// no delta depends on the members' buckets; the skiplist nodes' random levels differ between
/// the sides, so each command is compared beside what it changed in `MEMORY USAGE` (see
/// `types_zset_live`), at member counts that are powers of two.
#[test]
fn sorted_sets_presize_their_dicts() {
    per_version(|_, e| {
        same_settled(e, &[cmd(&["SET", "warm", "1"])]);
        same_beside_nodes(e, "big", &[with_members("ZADD", "big", scored(0..256))]);
        same_beside_nodes(
            e,
            "lp",
            &[
                with_members("ZADD", "lp", scored(0..16)),
                with_members("ZADD", "lp", scored(16..256)),
            ],
        );
        same_beside_nodes(
            e,
            "grown",
            &[
                with_members("ZADD", "grown", scored(0..64)),
                with_members("ZADD", "grown", scored(64..128)),
                with_members("ZADD", "grown", scored(128..256)),
            ],
        );
    });
}

/// The versions the list tests run on: those of [`VERSIONS`] and Valkey 8.0 to 9.1, whose list
/// code is Redis 7.2's (valkey 8.0.1, 8.1.1, 9.1.2 `src/t_list.c`: formatting and accessors
/// aside, the same allocations).
const LIST_VERSIONS: [&str; 6] = [
    "redis-7.2",
    "redis-7.4",
    "redis-8.0",
    "valkey-8.0",
    "valkey-8.1",
    "valkey-9.1",
];

/// Runs `body` on a fresh server of each version of [`LIST_VERSIONS`] started with `extra`,
/// its model's profile changed by `adjust` to match (see [`per_version`]).
fn per_list_version(
    extra: &[&str],
    adjust: impl Fn(&mut fragsim::redis::profile::RedisProfile),
    mut body: impl FnMut(&str, &mut Exact),
) {
    let live = live_lock();
    for v in LIST_VERSIONS {
        let Some(mut e) = Exact::start_version_with(&live, v, extra, false, &adjust) else {
            continue;
        };
        eprintln!("== {v} (dict key known: {})", e.dict_key_known);
        body(v, &mut e);
    }
}

/// A string element of `len` bytes, distinct for each `i` (no integer: it starts with a letter).
fn item(i: u32, len: usize) -> String {
    let mut s = format!("e{i}-");
    while s.len() < len {
        s.push((b'a' + (s.len() % 26) as u8) as char);
    }
    s.truncate(len);
    s
}

/// `n` elements of `len` bytes from `from` on.
fn items(from: u32, n: u32, len: usize) -> impl Iterator<Item = String> {
    (from..from + n).map(move |i| item(i, len))
}

/// Redis 7.2+'s small lists (`OBJ_ENCODING_LISTPACK`, redis 7.2.6 `src/t_list.c`): a new list a
/// bare listpack (`lpNew(0)`), grown by pushes (strings of both header widths, integers of
/// several widths) until the bytes of the next push pass 8 KiB (`list-max-listpack-size -2`):
/// converted then (`listTypeTryConvertListpack`: the listpack a quicklist node as it is), the
/// rest pushed as a quicklist; pops with and without a count, LTRIM and LREM shrinking it to
/// one node, kept a quicklist while its listpack is over 4 KiB (half the limit), converted
/// back below it (`listTypeTryConvertQuicklist`); pops from a listpack (integers made string
/// objects), LREM and LTRIM on a listpack, the key going with its last element; elements
/// over 8 KiB (a new key converted before its first push, its empty listpack freed); DEL and
/// FLUSHALL. `MEMORY USAGE` at each stage.
#[test]
fn lists_are_listpacks_until_they_outgrow_a_node() {
    per_list_version(
        &[],
        |_| {},
        |v, e| {
            same_settled(e, &[cmd(&["RPUSH", "l", "a", "b", "c"])]);
            same_memory_usage(e, "l");
            same_deltas(
                e,
                &[
                    cmd(&["LPUSH", "l", "1", "-1", "1000", "12345678901", "9999", "-70000"]),
                    with_members("RPUSH", "l", [item(0, 63), item(1, 64), item(2, 130)]),
                ],
            );
            same_memory_usage(e, "l");
            // 100-byte strings, 30 to a command: the third passes 8 KiB.
            for b in 0..4 {
                same_deltas(e, &[with_members("RPUSH", "l", items(10 + b * 30, 30, 100))]);
                same_memory_usage(e, "l");
            }
            same_deltas(
                e,
                &[
                    cmd(&["LPUSH", "l", "x"]),
                    cmd(&["RPOP", "l", "40"]),
                    cmd(&["LPOP", "l"]),
                    cmd(&["RPOP", "l"]),
                ],
            );
            same_memory_usage(e, "l");
            // One node of about 5 KiB: still a quicklist; then under 4 KiB: a listpack.
            same_deltas(e, &[cmd(&["LTRIM", "l", "0", "49"])]);
            same_memory_usage(e, "l");
            same_deltas(e, &[cmd(&["LTRIM", "l", "1", "-2"])]);
            same_memory_usage(e, "l");
            same_deltas(e, &[cmd(&["LPOP", "l", "5"])]);
            same_memory_usage(e, "l");
            same_deltas(e, &[cmd(&["RPOP", "l", "3"])]);
            same_memory_usage(e, "l");
            same_deltas(e, &[cmd(&["RPOP", "l", "4"])]);
            same_memory_usage(e, "l");
            // LREM on a listpack (from both ends, an integer by content), pops of integers.
            same_settled(
                e,
                &[cmd(&["RPUSH", "r", "x", "1", "x", "22", "x", "70000", "x", "y"])],
            );
            same_memory_usage(e, "r");
            for c in [
                cmd(&["LREM", "r", "2", "x"]),
                cmd(&["LREM", "r", "-1", "x"]),
                cmd(&["LREM", "r", "0", "22"]),
                cmd(&["LPOP", "r"]),
                cmd(&["LPOP", "r"]),
                cmd(&["RPOP", "r", "0"]),
                cmd(&["LTRIM", "r", "0", "0"]),
            ] {
                same_deltas(e, &[c]);
                same_memory_usage(e, "r");
            }
            same_settled(e, &[cmd(&["LREM", "r", "0", "x"])]);
            // LREM on a quicklist that leaves one small node: converted back.
            same_settled(e, &[with_members("RPUSH", "q", items(0, 100, 100))]);
            same_memory_usage(e, "q");
            same_deltas(e, &[with_members("RPUSH", "q", ["tail".to_string()])]);
            for i in (0..100).step_by(10) {
                // A batch of LREMs on distinct elements.
                let script: Vec<_> = (i..i + 10)
                    .filter(|j| j % 10 != 3)
                    .map(|j| cmd(&["LREM", "q", "1", &item(j, 100)]))
                    .collect();
                same_deltas(e, &script);
                same_memory_usage(e, "q");
            }
            // Big elements: a new key converted before its first push; a big element pushed on a
            // listpack, popped from the quicklist (its node freed, the other converted back).
            same_settled(e, &[with_members("RPUSH", "big", [item(0, 9000)])]);
            same_memory_usage(e, "big");
            same_deltas(
                e,
                &[with_members("LPUSH", "big", [item(1, 20)]), cmd(&["RPOP", "big"])],
            );
            same_memory_usage(e, "big");
            same_deltas(
                e,
                &[
                    with_members("RPUSH", "big", [item(2, 5000), item(3, 5000)]),
                    cmd(&["LPOP", "big", "2"]),
                ],
            );
            same_memory_usage(e, "big");
            same_settled(e, &[cmd(&["RPOP", "big"]), cmd(&["DEL", "q"])]);
            if v == "redis-7.2" {
                // 7.4's FLUSHALL frees 64 B more than the model's keyspace (its kvstore); Valkey
                // 8.0's leaves 80 B more than the model's, with strings alone as well.
                same_settled(e, &[cmd(&["FLUSHALL"])]);
            }
        },
    );
}

/// `list-max-listpack-size 5`: a listpack takes at most 5 entries (and 8 KiB): converted when
/// a push would pass them, nodes of 5 made, converted back once the one node left holds 2 (half
/// the limit, rounded down).
#[test]
fn lists_limited_by_entry_count() {
    per_list_version(
        &["--list-max-listpack-size", "5"],
        |p| p.types.list_max_listpack_size = 5,
        |_, e| {
            same_settled(e, &[cmd(&["RPUSH", "c", "a", "b", "c"])]);
            same_deltas(
                e,
                &[
                    cmd(&["RPUSH", "c", "d", "e"]),
                    cmd(&["RPUSH", "c", "f"]),
                    cmd(&["LPUSH", "c", "1", "2", "3", "4", "5", "6", "7"]),
                ],
            );
            same_memory_usage(e, "c");
            same_deltas(
                e,
                &[cmd(&["RPOP", "c", "6"]), cmd(&["LPOP", "c"]), cmd(&["LPOP", "c"])],
            );
            same_memory_usage(e, "c");
            same_deltas(e, &[cmd(&["LPOP", "c"])]);
            same_memory_usage(e, "c");
            same_deltas(
                e,
                &[
                    cmd(&["RPUSH", "c", "z", "y", "x"]),
                    cmd(&["LTRIM", "c", "0", "1"]),
                ],
            );
            same_memory_usage(e, "c");
            same_settled(e, &[cmd(&["DEL", "c"])]);
        },
    );
}

/// FLUSHALL without an argument on Valkey, where `lazyfree-lazy-user-flush` is yes by default
/// (valkey 8.0.1+ `src/config.c`): the keyspace handed to the lazy-free thread, the new one
/// with no dict yet, so the old one's dict (Valkey 8.0) goes with it; then the keyspace filled
/// again and flushed with SYNC. Each step's `used_memory` equal, settled.
#[test]
fn flushall_without_an_argument_is_asynchronous_on_valkey() {
    let live = live_lock();
    for v in ["valkey-8.0", "valkey-8.1", "valkey-9.1"] {
        let Some(mut e) = Exact::start_version(&live, v, &[], false) else {
            continue;
        };
        eprintln!("== {v}");
        let fill: Vec<Vec<Vec<u8>>> = (0..40)
            .map(|i| cmd(&["SET", &format!("key:{i:04}"), "some value"]))
            .collect();
        same_settled(&mut e, &fill);
        same_settled(&mut e, &[cmd(&["FLUSHALL"])]);
        same_settled(&mut e, &fill);
        same_settled(&mut e, &[cmd(&["FLUSHALL", "SYNC"])]);
        same_settled(&mut e, &fill);
    }
}
