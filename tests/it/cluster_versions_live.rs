//! Cluster mode's keyspace in Redis 7.4+ and Valkey 8.0, one dict per hash slot (`kvstore`),
//! against live one-node clusters of those versions, command by command (see `common::exact`):
//! each test runs per version on `$FRAGSIM_SERVERS/<profile>` started with
//! `--cluster-enabled yes` and all 16,384 slots assigned, with the built-in profile of that
//! version in cluster mode (its `[cluster_baseline]`), and skips a version whose binary is
//! absent. Every command that adds or deletes keys is compared settled (`Exact::settle`: the
//! cron finishes the slots' rehashes on both sides); every `used_memory` delta and `MEMORY
//! USAGE` must be equal.
//!
//! Redis 8.0 keeps a client's argv array from one command to the next (see
//! `types_versions_live`), which the model does not: the commands here have at most five
//! arguments, as many as the `MEMORY USAGE` that `Exact::start` warms both sides with, so the
//! array the server keeps is never grown.
//!
//! The cron's upkeep looks at 16 slots per tick from a cursor that starts at slot 0 when the
//! server starts (`kvstoreTryResizeDicts`), and grows a slot's dict whose keys have reached its
//! buckets. When it reaches a slot depends on how long the server has run, which the two sides
//! do not share; the slot grown here through its rehashes is one the cursor does not reach
//! within a test (past 14,000: about 87 s of cron ticks at hz 10).

use fragsim::redis::cluster::key_hash_slot;

use crate::common::exact::{cmd, Exact};
use crate::common::live_lock;

/// The versions whose keyspace is a dict per slot in cluster mode (Valkey 8.1+ keep a
/// hashtable per slot, not modelled yet).
const VERSIONS: [&str; 3] = ["redis-7.4", "redis-8.0", "valkey-8.0"];

/// Runs `body` on a fresh one-node cluster of each version (and its model), skipping absent
/// binaries. A body runs fewer than 200 commands on its server (each reading is a connection;
/// past 256 client ids the server's `clients_index` rax grows by a node, not modelled).
fn per_version(mut body: impl FnMut(&str, &mut Exact)) {
    let live = live_lock();
    for v in VERSIONS {
        let Some(mut e) = Exact::start_cluster_version(&live, v) else {
            continue;
        };
        eprintln!("== {v} (cluster mode, dict key known: {})", e.dict_key_known);
        body(v, &mut e);
    }
}

/// Each command, settled, leaves the same `used_memory` on both sides.
fn same_settled(e: &mut Exact, script: &[Vec<Vec<u8>>]) {
    for argv in script {
        eprintln!("{} (settled)", crate::common::exact::show(argv));
        e.same_settled_deltas(std::slice::from_ref(argv));
    }
}

/// `MEMORY USAGE key SAMPLES 0` equal on both sides.
fn same_memory_usage(e: &mut Exact, key: &str) {
    let (live, model) = e.memory_usage(key.as_bytes());
    eprintln!("MEMORY USAGE {key}: live {live:?}, model {model:?}");
    assert!(live.is_some(), "{key} exists");
    assert_eq!(model, live, "MEMORY USAGE {key}");
}

/// A hash tag whose slot is at least `from`, and the slot.
fn tag_from(from: u64, prefix: &str) -> (String, u64) {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .map(|t| {
            let s = key_hash_slot(t.as_bytes());
            (t, s)
        })
        .find(|&(_, s)| s >= from)
        .expect("some tag hashes there")
}

/// `n` key names in `n` different slots, none at or past 14,000.
fn spread_keys(prefix: &str, n: usize) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .filter(|k| {
            let s = key_hash_slot(k.as_bytes());
            s < 14_000 && seen.insert(s)
        })
        .take(n)
        .collect()
}

/// The keys' slots are what `CLUSTER KEYSLOT` says on every version.
#[test]
fn key_slots_are_the_servers() {
    per_version(|_, e| {
        for k in ["foo", "bar", "{user1000}.following", "key:17", "a{}b"] {
            let live = e.call_int(&["CLUSTER", "KEYSLOT", k]);
            assert_eq!(key_hash_slot(k.as_bytes()) as i64, live, "{k}");
        }
    });
}

/// Keys in many slots: the first key of a slot makes its dict (the struct with the kvstore's
/// metadata: 64 B on Redis 7.4, 2,464 B on 8.0 with its key-size histogram, 72 B on Valkey
/// 8.0) and its 4-bucket table, with no slot links in the entry; overwriting a key touches no
/// table; deleting a slot's only key frees its dict and table.
#[test]
fn keys_over_many_slots_make_and_free_their_slots_dicts() {
    per_version(|_, e| {
        let keys = spread_keys("key:", 24);
        let script: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let value = if i % 3 == 2 {
                    "v".repeat(60 + i)
                } else {
                    format!("{i}")
                };
                cmd(&["SET", k, &value])
            })
            .collect();
        same_settled(e, &script);
        same_memory_usage(e, &keys[0]);
        same_memory_usage(e, &keys[2]);
        same_settled(e, &[cmd(&["SET", &keys[0], "another value"])]);
        same_memory_usage(e, &keys[0]);
        let script: Vec<_> = keys.iter().step_by(2).map(|k| cmd(&["DEL", k])).collect();
        same_settled(e, &script);
        // A slot emptied and refilled: its dict made again.
        same_settled(
            e,
            &[cmd(&["SET", &keys[0], "back"]), cmd(&["SET", &keys[2], "1"])],
        );
        let d = e.since_start();
        assert_eq!(d.model, d.live, "all of it");
    });
}

/// One slot (hash-tagged keys) grown through three rehashes (4, 8, 16 and 32 buckets), its
/// rehashing list node taken while each runs; the keys deleted: the table shrinks to 4
/// buckets at 1/8 fill, and the last key frees the dict; then refilled. A hash in the same
/// slot, and `MEMORY USAGE`.
#[test]
fn one_slot_grows_through_rehashes_empties_and_refills() {
    per_version(|_, e| {
        let (tag, slot) = tag_from(14_000, "t");
        eprintln!("tag {tag}: slot {slot}");
        let key = |i: u32| format!("{{{tag}}}:{i}");
        let script: Vec<_> = (0..20)
            .map(|i| cmd(&["SET", &key(i), &format!("value {i}")]))
            .collect();
        same_settled(e, &script);
        same_memory_usage(e, &key(3));
        same_settled(e, &[cmd(&["HSET", &format!("{{{tag}}}:h"), "field", "value"])]);
        same_memory_usage(e, &format!("{{{tag}}}:h"));
        let mut script: Vec<_> = (0..20).map(|i| cmd(&["DEL", &key(i)])).collect();
        script.push(cmd(&["DEL", &format!("{{{tag}}}:h")]));
        same_settled(e, &script);
        let script: Vec<_> = (0..6).map(|i| cmd(&["SET", &key(i), "again"])).collect();
        same_settled(e, &script);
        let d = e.since_start();
        assert_eq!(d.model, d.live, "all of it");
    });
}

/// TTLs: the first TTL of a slot makes the slot's dict in the expires' kvstore; a slot of
/// six keys with TTLs grows it to 8 buckets; a key overwritten (its TTL removed) or deleted
/// takes its expires entry, and the slot's expires dict when it was the last.
#[test]
fn ttls_make_expires_dicts_per_slot() {
    per_version(|_, e| {
        let keys = spread_keys("ttl:", 6);
        let mut script: Vec<_> = keys.iter().map(|k| cmd(&["SET", k, "x"])).collect();
        script.extend(keys.iter().map(|k| cmd(&["EXPIRE", k, "10000"])));
        same_settled(e, &script);
        let (tag, _) = tag_from(15_000, "x");
        let key = |i: u32| format!("{{{tag}}}:{i}");
        let mut script: Vec<_> = (0..6).map(|i| cmd(&["SET", &key(i), "y"])).collect();
        script.extend((0..6).map(|i| cmd(&["PEXPIRE", &key(i), "10000000"])));
        same_settled(e, &script);
        same_settled(
            e,
            &[
                cmd(&["SET", &keys[0], "no ttl now"]),
                cmd(&["DEL", &keys[1]]),
                cmd(&["SET", &key(0), "no ttl"]),
                cmd(&["DEL", &key(1)]),
            ],
        );
        let d = e.since_start();
        assert_eq!(d.model, d.live, "all of it");
    });
}

/// FLUSHALL SYNC and ASYNC with keys and TTLs in many slots and one slot of many keys: every
/// slot's dicts go, in both kvstores; the keyspace filled again after each.
#[test]
fn flushall_frees_every_slots_dicts() {
    per_version(|_, e| {
        let (tag, _) = tag_from(14_500, "f");
        for flush in ["SYNC", "ASYNC"] {
            let keys = spread_keys(&format!("{flush}:"), 10);
            let mut script: Vec<_> = keys.iter().map(|k| cmd(&["SET", k, "1"])).collect();
            script.extend(keys.iter().take(4).map(|k| cmd(&["EXPIRE", k, "1000"])));
            script.extend((0..7).map(|i| cmd(&["SET", &format!("{{{tag}}}:{i}"), "abc"])));
            same_settled(e, &script);
            same_settled(e, &[cmd(&["FLUSHALL", flush])]);
        }
        same_settled(
            e,
            &[cmd(&["SET", "after", "1"]), cmd(&["EXPIRE", "after", "100"])],
        );
        let d = e.since_start();
        assert_eq!(d.model, d.live, "all of it");
    });
}
