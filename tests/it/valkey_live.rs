//! Valkey 8.1 and 9.1 against live servers of those versions (`$FRAGSIM_SERVERS/valkey-8.1`,
//! `valkey-9.1`; skipped with a notice where absent), command by command (see
//! `common::exact`): strings of many sizes and key lengths around the embedding limits,
//! integers, overwrites between encodings, TTLs set, changed and removed, DEL, the keyspace
//! growing through several hashtable resizes and shrinking back, FLUSHALL.
//!
//! The keyspace is Valkey's hashtable (`src/redis/hashtable.rs`): which bucket a key lands in
//! follows the hash seed each server process draws, so the child buckets (64 B each) a bucket
//! chain grows are the one thing the two sides may not share; every delta is compared without
//! them, and the tables' own bytes (`MEMORY STATS`' `overhead.db.hashtable.lut`) too, while
//! their counts are printed. Valkey 8.1's incremental rehash moves one bucket index per
//! lookup, empty or not, so when an old table goes is the same on both sides; Valkey 9.1's
//! ends once the old table is empty, which after a growth (the old table full, 7 keys per
//! bucket) is at its last bucket as well, but after a shrink follows the hash: deletions are
//! compared settled (both crons finish the rehash).

use crate::common::exact::{cmd, show, Delta, Exact};
use crate::common::live_lock;

/// The versions compared.
const VERSIONS: &[&str] = &["valkey-8.1", "valkey-9.1"];

/// `SET key value` with a value of `len` bytes of `x`.
fn set(key: &str, len: usize) -> Vec<Vec<u8>> {
    vec![b"SET".to_vec(), key.as_bytes().to_vec(), vec![b'x'; len]]
}

/// A key name of `len` bytes (`k` then `:` padding then a tag).
fn key(len: usize, tag: usize) -> String {
    let t = format!("k{tag}:");
    let mut s = t.clone();
    while s.len() < len {
        s.push('n');
    }
    s.truncate(len.max(t.len()));
    s
}

/// Runs `script` on both sides of `e`, each command's delta (without child buckets) equal;
/// prints them. The server's cron runs every 100 ms of wall-clock time while the model's
/// clock stands still between commands, and its table upkeep (`kvstoreTryResizeHashtables`)
/// grows a table filled to exactly 100 % and shrinks one whose shrink a deletion skipped
/// because a rehash was under way: after a command that leaves a table so, whether the next
/// command meets the resized table depends on when the cron ticks, so both sides are settled
/// (both crons run) first, and the settling compared too.
fn same(e: &mut Exact, version: &str, script: &[Vec<Vec<u8>>]) {
    for argv in script {
        let mut d = e.run(argv);
        print_delta(version, argv, &d);
        if e.model().keyspace_resize_due() {
            let s = e.settle();
            d += s;
            eprintln!("  settled (a resize due): {} / {}", d.live, d.model);
        }
        assert_eq!(d.model, d.live, "{version}: used_memory delta of {}", show(argv));
        assert_eq!(
            d.model_tables,
            d.live_tables,
            "{version}: keyspace tables' delta of {}",
            show(argv)
        );
    }
}

/// Runs `script`, then settles both sides; the whole batch's delta (without child buckets)
/// equal.
fn same_batch(e: &mut Exact, version: &str, what: &str, script: &[Vec<Vec<u8>>]) {
    let mut sum = Delta::default();
    for argv in script {
        let d = e.run(argv);
        sum += d;
    }
    let s = e.settle();
    sum += s;
    eprintln!(
        "{version} {what}: live {} model {} (tables {} / {}, children {:+} / {:+})",
        sum.live, sum.model, sum.live_tables, sum.model_tables, sum.live_children, sum.model_children
    );
    assert_eq!(
        sum.model, sum.live,
        "{version}: used_memory delta of {what}, settled"
    );
    assert_eq!(
        sum.model_tables, sum.live_tables,
        "{version}: keyspace tables' delta of {what}, settled"
    );
}

fn print_delta(version: &str, argv: &[Vec<u8>], d: &Delta) {
    let children = if d.live_children != 0 || d.model_children != 0 {
        format!(
            " (child buckets {:+} live, {:+} model)",
            d.live_children, d.model_children
        )
    } else {
        String::new()
    };
    let tables = if d.live_tables != 0 || d.model_tables != 0 {
        format!(" [tables {} / {}]", d.live_tables, d.model_tables)
    } else {
        String::new()
    };
    eprintln!(
        "{version} {}: {} / {}{tables}{children}",
        show(argv),
        d.live,
        d.model
    );
}

/// Runs `body` on a fresh server of each version and its model (`Exact::start_version`, the
/// hash seed read from the server), skipping absent binaries with a notice.
fn per_version(mut body: impl FnMut(&str, &mut Exact)) {
    let live = live_lock();
    for version in VERSIONS {
        let Some(mut e) = Exact::start_version(&live, version, &[], true) else {
            continue;
        };
        body(version, &mut e);
    }
}

/// `MEMORY USAGE` of each key equal on both sides.
fn same_usage(e: &mut Exact, version: &str, keys: &[String]) {
    for k in keys {
        let (live, model) = e.memory_usage(k.as_bytes());
        assert_eq!(model, live, "{version}: MEMORY USAGE {k}");
    }
}

/// Strings: values of every length around the embedding limits (44 B with a short key in
/// 8.1's 64-B object, 116 B in 9.1's 128-B one) with keys of 1 to 200 bytes (sds types 5 and
/// 8, the 128-B key that always gets an expire field), integers (no shared ones in 8.1+),
/// raw strings up to 5 KB (larger arguments meet Valkey's shared query buffer, which the
/// model does not follow yet); each SET's delta and each key's MEMORY
/// USAGE.
#[test]
fn strings_of_many_sizes_and_key_lengths() {
    per_version(|version, e| {
        let mut script = Vec::new();
        let mut keys = Vec::new();
        let mut tag = 0;
        for klen in [1, 8, 16, 31, 32, 40, 100, 127, 128, 200] {
            for vlen in [
                0, 1, 5, 10, 17, 20, 25, 30, 36, 44, 45, 60, 100, 112, 116, 117, 200, 2000,
            ] {
                tag += 1;
                let k = key(klen, tag);
                script.push(set(&k, vlen));
                keys.push(k);
            }
            for v in [
                "0",
                "42",
                "9999",
                "10000",
                "-7",
                "123456789012",
                "-9223372036854775808",
            ] {
                tag += 1;
                let k = key(klen, tag);
                script.push(cmd(&["SET", &k, v]));
                keys.push(k);
            }
        }
        for vlen in [3_000, 5_000] {
            tag += 1;
            let k = key(16, tag);
            script.push(set(&k, vlen));
            keys.push(k);
        }
        same(e, version, &script);
        same_usage(e, version, &keys);
    });
}

/// Overwrites between every pair of encodings (embedded, raw, INT), on keys with and without
/// a TTL (SET without a TTL removes it; the new object still gets the old one's expire field),
/// and SET with EX over a key that has one.
#[test]
fn overwrites_between_encodings() {
    per_version(|version, e| {
        let values: Vec<Vec<u8>> = vec![
            b"hello".to_vec(),
            vec![b'y'; 40],
            vec![b'z'; 100],
            vec![b'w'; 3000],
            b"12345".to_vec(),
            b"7".to_vec(),
        ];
        let mut script = Vec::new();
        let mut keys = Vec::new();
        for (i, from) in values.iter().enumerate() {
            for (j, to) in values.iter().enumerate() {
                for ttl in [false, true] {
                    let k = format!("over:{i}:{j}:{}", u8::from(ttl));
                    script.push(vec![b"SET".to_vec(), k.clone().into_bytes(), from.clone()]);
                    if ttl {
                        script.push(cmd(&["EXPIRE", &k, "1000"]));
                    }
                    script.push(vec![b"SET".to_vec(), k.clone().into_bytes(), to.clone()]);
                    keys.push(k);
                }
                let k = format!("overex:{i}:{j}");
                script.push(vec![
                    b"SET".to_vec(),
                    k.clone().into_bytes(),
                    from.clone(),
                    b"EX".to_vec(),
                    b"1000".to_vec(),
                ]);
                script.push(vec![
                    b"SET".to_vec(),
                    k.clone().into_bytes(),
                    to.clone(),
                    b"EX".to_vec(),
                    b"2000".to_vec(),
                ]);
                keys.push(k);
            }
        }
        same(e, version, &script);
        same_usage(e, version, &keys);
    });
}

/// TTLs: SET with EX on new keys of sizes that have a spare expire field and sizes that do
/// not (the object made again, an embedded string possibly split from its key), EXPIRE on
/// existing keys, PEXPIRE changing a TTL, PERSIST-like removal by SET, and DEL of keys with
/// and without a TTL, of missing keys, several at once.
#[test]
fn ttls_added_changed_removed_and_deleted() {
    per_version(|version, e| {
        let mut script = Vec::new();
        let mut keys = Vec::new();
        for (i, vlen) in [0, 3, 10, 17, 18, 20, 30, 36, 44, 60, 100, 110, 2000]
            .into_iter()
            .enumerate()
        {
            for klen in [4, 16, 40, 128] {
                let k = key(klen, 1000 + i * 10 + klen);
                let mut c = set(&k, vlen);
                c.extend([b"PX".to_vec(), b"900000".to_vec()]);
                script.push(c);
                let k2 = key(klen, 5000 + i * 10 + klen);
                script.push(set(&k2, vlen));
                script.push(cmd(&["EXPIRE", &k2, "800"]));
                script.push(cmd(&["PEXPIRE", &k2, "700000"]));
                keys.push(k);
                keys.push(k2);
            }
            script.push(cmd(&["SET", &format!("int:{i}"), &format!("{}", 100_000 + i)]));
            script.push(cmd(&["EXPIRE", &format!("int:{i}"), "100"]));
            keys.push(format!("int:{i}"));
        }
        same(e, version, &script);
        same_usage(e, version, &keys);
        // SET without a TTL over keys that have one, then DEL of every other key (and of
        // missing ones), several at once.
        let mut script = Vec::new();
        for k in keys.iter().step_by(3) {
            script.push(set(k, 12));
        }
        for pair in keys.chunks(2) {
            script.push(cmd(&["DEL", &pair[0], "missing:key"]));
        }
        same(e, version, &script);
    });
}

/// The keyspace grows one key at a time through the hashtable's resizes (1, 2, 4, 8, ...
/// 64 buckets: at the 8th, 15th, 29th, 57th, 113th, 225th key), each SET's delta equal (the
/// old table freed at the same command on both sides); then deletions in batches shrink it
/// (at 13 % fill) back to one bucket, each batch compared settled; FLUSHALL SYNC and ASYNC.
#[test]
fn growth_and_shrinking_through_resizes_and_flushall() {
    per_version(|version, e| {
        let names: Vec<String> = (0..300).map(|i| format!("grow:{i:06}")).collect();
        let script: Vec<Vec<Vec<u8>>> = names.iter().map(|k| set(k, 10)).collect();
        same(e, version, &script);
        // Some TTLs, so that the expires table grows and shrinks too.
        let script: Vec<Vec<Vec<u8>>> = names
            .iter()
            .step_by(2)
            .map(|k| cmd(&["EXPIRE", k, "1000"]))
            .collect();
        same_batch(e, version, "EXPIRE of 150 keys", &script);
        // Deletions, 10 keys a command, settled every 5 commands.
        for (b, batch) in names.chunks(50).enumerate() {
            let script: Vec<Vec<Vec<u8>>> = batch
                .chunks(10)
                .map(|ks| {
                    let mut c = vec![b"DEL".to_vec()];
                    c.extend(ks.iter().map(|k| k.as_bytes().to_vec()));
                    c
                })
                .collect();
            same_batch(e, version, &format!("DEL batch {b}"), &script);
        }
        let script: Vec<Vec<Vec<u8>>> = names.iter().take(100).map(|k| set(k, 50)).collect();
        same_batch(e, version, "100 SETs again", &script);
        same_batch(e, version, "FLUSHALL SYNC", &[cmd(&["FLUSHALL", "SYNC"])]);
        let script: Vec<Vec<Vec<u8>>> = names.iter().take(60).map(|k| set(k, 500)).collect();
        same(e, version, &script);
        std::thread::sleep(std::time::Duration::from_millis(200));
        same_batch(
            e,
            version,
            "FLUSHALL (asynchronous by default)",
            &[cmd(&["FLUSHALL"])],
        );
        let script: Vec<Vec<Vec<u8>>> = names.iter().take(20).map(|k| set(k, 5)).collect();
        same(e, version, &script);
    });
}
