//! `import::rdb`, the dump reader: the committed dumps (`tests/corpus/rdb`, written by Redis
//! 7.0, Redis 7.4 and Valkey 9.1 from `dataset.py`) read to exact numbers; live servers of every
//! available version checked key by key against their own dumps; a differential test against
//! the `rdb` crate on its dump files; and fuzzing (cut and bit-flipped dumps, random bytes)
//! that must end in an error with an offset, never a panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fragsim::import::rdb::{self, Checksum, ErrorKind, Item, KeyKind, RdbError, RdbSummary, ReadError};
use fragsim::redis::encoding::as_integer;
use fragsim::redis::resp::{Connection, Resp};

use crate::common::{live_lock, live_server_with, repo_path, version_server};

/// One key as read, owned.
#[derive(Debug, Clone, PartialEq)]
struct Key {
    db: u64,
    key: Vec<u8>,
    kind: KeyKind,
    rdb_type: u8,
    expire_ms: Option<i64>,
    items: Vec<Item>,
    scores: Vec<f64>,
    fields_with_ttl: u64,
}

/// Reads a dump from bytes: the summary and every key, or the error.
fn read_bytes(b: &[u8]) -> Result<(RdbSummary, Vec<Key>), RdbError> {
    let mut keys = Vec::new();
    let r = rdb::read(b, |k| -> Result<(), std::convert::Infallible> {
        keys.push(Key {
            db: k.db,
            key: k.key.to_vec(),
            kind: k.kind,
            rdb_type: k.rdb_type,
            expire_ms: k.expire_ms,
            items: k.items.to_vec(),
            scores: k.scores.to_vec(),
            fields_with_ttl: k.fields_with_ttl,
        });
        Ok(())
    });
    match r {
        Ok(s) => Ok((s, keys)),
        Err(ReadError::Rdb(e)) => Err(e),
        Err(ReadError::Visit(never)) => match never {},
    }
}

fn corpus(name: &str) -> Vec<u8> {
    let p = repo_path(&format!("tests/corpus/rdb/{name}.rdb"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const CORPUS: [&str; 3] = ["redis-7.0", "redis-7.4", "valkey-9.1"];

fn item(text: &[u8]) -> Item {
    Item {
        len: text.len() as u64,
        int: as_integer(text),
    }
}

fn int(v: i64) -> Item {
    Item {
        len: v.to_string().len() as u64,
        int: Some(v),
    }
}

fn find<'a>(keys: &'a [Key], name: &str) -> &'a Key {
    keys.iter()
        .find(|k| k.key == name.as_bytes())
        .unwrap_or_else(|| panic!("no key {name}"))
}

/// The committed dumps, to exact numbers: the keys, types and encodings, the strings' lengths
/// and integer flags (string2ll's edge cases), intsets, zset scores, TTLs, hash field TTLs.
#[test]
fn corpus_dumps_read_exactly() {
    for name in CORPUS {
        let (s, keys) = read_bytes(&corpus(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let hfe = name != "redis-7.0";
        assert!(matches!(s.checksum, Checksum::Verified(_)), "{name}");
        assert_eq!(s.keys, if hfe { 72 } else { 70 }, "{name}");
        assert_eq!(
            (s.streams, s.modules, s.expires, s.empty_skipped),
            (1, 0, 10, 0),
            "{name}"
        );
        assert_eq!(s.dbs, [(0, s.keys + 1 - 2), (3, 2)], "{name}");
        assert_eq!(s.bytes, corpus(name).len() as u64);
        assert_eq!(
            (s.valkey, s.version),
            (
                name == "valkey-9.1",
                if name == "valkey-9.1" {
                    80
                } else if hfe {
                    12
                } else {
                    10
                }
            )
        );
        assert_eq!(keys.len() as u64, s.keys + s.streams);
        let texts: [&[u8]; 13] = [
            b"0",
            b"-0",
            b"007",
            b"12",
            b"-123",
            b"9223372036854775807",
            b"9223372036854775808",
            b"1.5",
            b" 1",
            b"hello",
            b"",
            b"xxxxxxxxxxxxxxxxxxxx",
            b"yyyyyyyyyyyyyyyyyyyyy",
        ];
        for (i, t) in texts.iter().enumerate() {
            let k = find(&keys, &format!("s:{i}"));
            assert_eq!((k.kind, k.rdb_type), (KeyKind::String, 0));
            assert_eq!(k.items, [item(t)], "{name} s:{i}");
        }
        assert_eq!(find(&keys, "s:0").items, [Item { len: 1, int: Some(0) }]);
        assert_eq!(find(&keys, "s:2").items, [Item { len: 3, int: None }]);
        assert_eq!(find(&keys, "s:6").items, [Item { len: 19, int: None }]);
        assert_eq!(find(&keys, "bin").items, [Item { len: 256, int: None }]);
        assert_eq!(find(&keys, &"k".repeat(40)).items[0].len, 37);
        // Integer sets: 2-byte and 8-byte widths.
        let wide = find(&keys, "intset:wide");
        assert_eq!(wide.rdb_type, 11);
        assert_eq!(wide.items, [int(-(1 << 40)), int(5), int(1 << 40)]);
        assert_eq!(wide.items[0].len, 14);
        let many = find(&keys, "set:manyints");
        assert_eq!((many.rdb_type, many.items.len()), (2, 600));
        assert!(many.items.iter().all(|i| i.int.is_some()));
        // A list of 0..299, in order; a long list of 700 in several (compressed) nodes.
        let ints = find(&keys, "list:ints");
        assert_eq!(ints.rdb_type, 18);
        assert_eq!(ints.items, (0..300).map(int).collect::<Vec<_>>());
        let big = find(&keys, "list:big");
        let want: Vec<Item> = (0..700)
            .map(|j| item(format!("item-{j}-{}", "q".repeat(j % 50)).as_bytes()))
            .collect();
        assert_eq!(big.items, want);
        // Sorted sets: scores in the listpack's (score) order, and a skiplist of 200.
        let z = find(&keys, "zset:small");
        assert_eq!(z.rdb_type, 17);
        assert_eq!(
            z.scores,
            [f64::NEG_INFINITY, -3.0, 0.1, 1.0, 2.5, 1e300, f64::INFINITY]
        );
        assert_eq!(
            z.items,
            [
                item(b"e"),
                item(b"c"),
                item(b"f"),
                item(b"a"),
                item(b"b"),
                int(12),
                item(b"d")
            ]
        );
        let zb = find(&keys, "zset:big");
        assert_eq!((zb.rdb_type, zb.items.len(), zb.scores.len()), (5, 200, 200));
        // Hashes: a listpack of 150 pairs, a table for a long value.
        let hb = find(&keys, "hash:big");
        assert_eq!((hb.kind, hb.rdb_type, hb.items.len()), (KeyKind::Hash, 16, 300));
        assert_eq!(hb.items[0], item(b"field:0"));
        assert_eq!(hb.items[1], item(b""));
        assert_eq!(
            find(&keys, "hash:longval").items,
            [item(b"a"), item(&[b'z'; 100])]
        );
        // Expiries.
        for i in 0..10 {
            assert!(find(&keys, &format!("ttl:{i}")).expire_ms.is_some());
        }
        assert_eq!(find(&keys, "hash:big").expire_ms, None);
        // The stream, and db 3.
        let st = find(&keys, "stream");
        assert_eq!((st.kind, st.items.len()), (KeyKind::Stream, 0));
        assert_eq!(find(&keys, "other:h").db, 3);
        // Field TTLs: 2 of 3 and 3 of 201.
        if hfe {
            let (small, big) = (find(&keys, "hfe:small"), find(&keys, "hfe:big"));
            let (ts, tb) = if name == "valkey-9.1" { (22, 22) } else { (25, 24) };
            assert_eq!(
                (small.rdb_type, small.items.len(), small.fields_with_ttl),
                (ts, 6, 2)
            );
            assert_eq!((big.rdb_type, big.items.len(), big.fields_with_ttl), (tb, 402, 3));
            // Fields with a TTL may come last (Redis keeps them ordered by expiry).
            assert!(small.items.chunks(2).any(|p| p == [item(b"a"), int(1)]));
        }
    }
}

/// The dataset written to live servers: every type and encoding (as `dataset.py`, and a hash
/// past 512 fields), expiries, a second db, a stream with a consumer group; hashes with field
/// TTLs where the server has HPEXPIRE. Deterministic.
fn dataset(hfe: bool) -> Vec<Vec<Vec<u8>>> {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut c: Vec<Vec<Vec<u8>>> = Vec::new();
    let cmd = |c: &mut Vec<Vec<Vec<u8>>>, words: Vec<String>| {
        c.push(words.into_iter().map(String::into_bytes).collect())
    };
    let s = |x: &str| x.to_string();
    for (i, v) in [
        "0",
        "-0",
        "007",
        "12",
        "-123",
        "9223372036854775807",
        "9223372036854775808",
        "1.5",
        " 1",
        "",
        "x",
    ]
    .iter()
    .enumerate()
    {
        cmd(&mut c, vec![s("SET"), format!("s:{i}"), s(v)]);
    }
    for i in 0..60 {
        let v = match i % 4 {
            0 => "abc".repeat(8 + rnd(300) as usize),
            1 => (rnd(2_000_000_000) as i64 - 1_000_000_000).to_string(),
            2 => "v".repeat(rnd(40) as usize),
            _ => format!("{}", rnd(100_000)),
        };
        cmd(&mut c, vec![s("SET"), format!("str:{i}"), v]);
    }
    for i in 0..15 {
        cmd(
            &mut c,
            vec![
                s("SET"),
                format!("ttl:{i}"),
                s("v"),
                s("PX"),
                (100_000_000 + i).to_string(),
            ],
        );
    }
    cmd(
        &mut c,
        vec![
            s("SET"),
            "k".repeat(50),
            s("a key name long enough to be compressed"),
        ],
    );
    for i in 0..20 {
        let mut w = vec![s("HSET"), format!("hash:{i}")];
        for f in 0..1 + rnd(20) {
            w.push(format!("f{f}"));
            w.push(if rnd(2) == 0 {
                "v".repeat(rnd(30) as usize)
            } else {
                (rnd(200_000) as i64 - 100_000).to_string()
            });
        }
        cmd(&mut c, w);
    }
    let mut w = vec![s("HSET"), s("hash:huge")];
    for f in 0..600 {
        w.push(format!("field:{f}"));
        w.push(if f % 3 == 0 {
            f.to_string()
        } else {
            "w".repeat(f % 50)
        });
    }
    cmd(&mut c, w);
    cmd(
        &mut c,
        vec![
            s("HSET"),
            s("hash:longval"),
            s("a"),
            "z".repeat(100),
            s("n"),
            s("42"),
        ],
    );
    cmd(&mut c, vec![s("EXPIRE"), s("hash:longval"), s("100000")]);
    for i in 0..15 {
        let mut w = vec![s("RPUSH"), format!("list:{i}")];
        for _ in 0..1 + rnd(25) {
            w.push(if rnd(2) == 0 {
                "job".repeat(1 + rnd(9) as usize)
            } else {
                rnd(100_000).to_string()
            });
        }
        cmd(&mut c, w);
    }
    let mut w = vec![s("RPUSH"), s("list:big")];
    w.extend((0..1500).map(|j| format!("item-{j}-{}", "q".repeat(j % 60))));
    cmd(&mut c, w);
    let mut w = vec![s("RPUSH"), s("list:ints")];
    w.extend((0..400).map(|j| (j * 7919 - 1_000_000i64).to_string()));
    cmd(&mut c, w);
    cmd(
        &mut c,
        vec![s("RPUSH"), s("list:plainish"), "p".repeat(5000), s("1")],
    );
    for i in 0..10 {
        let mut w = vec![s("SADD"), format!("tags:{i}")];
        w.extend((0..1 + rnd(40)).map(|_| (rnd(10_000_000) as i64 - 5_000_000).to_string()));
        cmd(&mut c, w);
    }
    cmd(
        &mut c,
        vec![
            s("SADD"),
            s("intset:wide"),
            (-(1i64 << 40)).to_string(),
            s("5"),
            (1i64 << 40).to_string(),
        ],
    );
    for i in 0..10 {
        let mut w = vec![s("SADD"), format!("names:{i}")];
        w.extend((0..1 + rnd(150)).map(|_| format!("m{}", rnd(1_000_000_000))));
        cmd(&mut c, w);
    }
    let mut w = vec![s("SADD"), s("set:manyints")];
    w.extend((0..700).map(|j| j.to_string()));
    cmd(&mut c, w);
    for i in 0..12 {
        let mut w = vec![s("ZADD"), format!("board:{i}")];
        for m in 0..1 + rnd(200) {
            w.push(if rnd(2) == 0 {
                rnd(1000).to_string()
            } else {
                format!("{:.17}", rnd(1 << 30) as f64 / (1u64 << 30) as f64)
            });
            w.push(format!("player{m}"));
        }
        cmd(&mut c, w);
    }
    cmd(
        &mut c,
        vec![
            s("ZADD"),
            s("zset:edges"),
            s("-inf"),
            s("a"),
            s("inf"),
            s("b"),
            s("0"),
            s("12"),
            s("-0.5"),
            s("-7"),
        ],
    );
    for j in 0..40 {
        cmd(
            &mut c,
            vec![
                s("XADD"),
                s("events"),
                s("*"),
                s("a"),
                j.to_string(),
                s("b"),
                s("hello"),
            ],
        );
    }
    cmd(
        &mut c,
        vec![s("XGROUP"), s("CREATE"), s("events"), s("g1"), s("0")],
    );
    cmd(
        &mut c,
        vec![
            s("XREADGROUP"),
            s("GROUP"),
            s("g1"),
            s("c1"),
            s("COUNT"),
            s("5"),
            s("STREAMS"),
            s("events"),
            s(">"),
        ],
    );
    if hfe {
        cmd(
            &mut c,
            vec![
                s("HSET"),
                s("hfe:small"),
                s("a"),
                s("1"),
                s("b"),
                s("two"),
                s("c"),
                s("3"),
            ],
        );
        cmd(
            &mut c,
            vec![
                s("HPEXPIRE"),
                s("hfe:small"),
                s("100000000"),
                s("FIELDS"),
                s("2"),
                s("a"),
                s("c"),
            ],
        );
        let mut w = vec![s("HSET"), s("hfe:big"), s("long"), "L".repeat(100)];
        for f in 0..300 {
            w.push(format!("f{f}"));
            w.push(format!("v{f}"));
        }
        cmd(&mut c, w);
        cmd(
            &mut c,
            vec![
                s("HPEXPIRE"),
                s("hfe:big"),
                s("100000000"),
                s("FIELDS"),
                s("3"),
                s("f1"),
                s("f2"),
                s("long"),
            ],
        );
    }
    cmd(&mut c, vec![s("SELECT"), s("3")]);
    cmd(&mut c, vec![s("SET"), s("other:db"), s("v")]);
    cmd(&mut c, vec![s("HSET"), s("other:h"), s("a"), s("1")]);
    cmd(&mut c, vec![s("SELECT"), s("0")]);
    c
}

fn bulk_list(r: Resp) -> Vec<Vec<u8>> {
    match r {
        Resp::Array(Some(v)) => v
            .into_iter()
            .map(|x| match x {
                Resp::Bulk(Some(b)) => b,
                other => panic!("expected a bulk string, got {}", other.describe()),
            })
            .collect(),
        other => panic!("expected an array, got {}", other.describe()),
    }
}

fn int_reply(r: Resp) -> i64 {
    match r {
        Resp::Int(n) => n,
        other => panic!("expected an integer, got {}", other.describe()),
    }
}

fn call(c: &mut Connection, words: &[&[u8]]) -> Resp {
    c.call(words).expect("a reply")
}

fn key_of(i: &Item) -> (u64, Option<i64>) {
    (i.len, i.int)
}

/// Writes the dataset to a fresh server, saves, reads the dump, and checks every key against
/// the server: the same keys per db, TYPE, the length (STRLEN, LLEN, HLEN, SCARD, ZCARD), PTTL
/// present or not (and the expiry within 10 s of now + PTTL), every element's length and
/// integer flag (GET, LRANGE, HGETALL, SMEMBERS, ZRANGE WITHSCORES: lists in order, the others
/// as multisets), zset scores, and hash field TTLs (HPTTL). The stream is counted apart.
fn check_live(label: &str, server: &fragsim::validate::live_redis::RedisProcess) {
    let mut c = Connection::open(&server.addr).expect("connect");
    let hfe = !matches!(
        c.call_str(&["HPEXPIRE", "probe", "1000", "FIELDS", "1", "f"]),
        Ok(Resp::Error(_))
    );
    let replies = c.pipeline(&dataset(hfe)).expect("the dataset");
    for r in &replies {
        assert!(!matches!(r, Resp::Error(_)), "{label}: {r:?}");
    }
    assert!(matches!(c.call_str(&["SAVE"]).unwrap(), Resp::Simple(_)));
    let bytes = std::fs::read(server.dir().join("dump.rdb")).expect("the dump");
    let t = std::time::Instant::now();
    let (sum, keys) = read_bytes(&bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
    eprintln!(
        "{label}: RDB {} ({} B) read in {:?}: {} keys, {} stream, types {:?}",
        sum.version,
        bytes.len(),
        t.elapsed(),
        sum.keys,
        sum.streams,
        keys.iter()
            .map(|k| k.rdb_type)
            .collect::<std::collections::BTreeSet<_>>()
    );
    assert!(matches!(sum.checksum, Checksum::Verified(_)), "{label}");
    assert_eq!(sum.streams, 1, "{label}");
    assert_eq!(sum.keys + sum.streams, keys.len() as u64);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut checked_elements = 0usize;
    for db in [0u64, 3] {
        call(&mut c, &[b"SELECT", db.to_string().as_bytes()]);
        let mut live: Vec<Vec<u8>> = bulk_list(call(&mut c, &[b"KEYS", b"*"]));
        live.sort();
        let mut ours: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| k.db == db)
            .map(|k| k.key.clone())
            .collect();
        ours.sort();
        assert_eq!(ours, live, "{label}: db {db}'s keys");
        for k in keys.iter().filter(|k| k.db == db) {
            let name = &k.key[..];
            let what = format!("{label}: {}", String::from_utf8_lossy(name));
            let ty = call(&mut c, &[b"TYPE", name]).text().unwrap();
            assert_eq!(ty, k.kind.type_name(), "{what}");
            let pttl = int_reply(call(&mut c, &[b"PTTL", name]));
            assert_eq!(k.expire_ms.is_some(), pttl >= 0, "{what}: PTTL {pttl}");
            if let Some(e) = k.expire_ms {
                assert!(
                    (e - (now_ms + pttl)).abs() < 10_000,
                    "{what}: expiry {e}, PTTL {pttl}"
                );
            }
            let got: Vec<(u64, Option<i64>)> = k.items.iter().map(key_of).collect();
            match k.kind {
                KeyKind::String => {
                    let v = match call(&mut c, &[b"GET", name]) {
                        Resp::Bulk(Some(b)) => b,
                        other => panic!("{what}: {other:?}"),
                    };
                    assert_eq!(int_reply(call(&mut c, &[b"STRLEN", name])) as u64, k.items[0].len);
                    assert_eq!(k.items, [item(&v)], "{what}");
                }
                KeyKind::List => {
                    assert_eq!(
                        int_reply(call(&mut c, &[b"LLEN", name])) as usize,
                        k.items.len(),
                        "{what}"
                    );
                    let v = bulk_list(call(&mut c, &[b"LRANGE", name, b"0", b"-1"]));
                    let want: Vec<_> = v.iter().map(|b| key_of(&item(b))).collect();
                    assert_eq!(got, want, "{what}");
                }
                KeyKind::Set => {
                    assert_eq!(
                        int_reply(call(&mut c, &[b"SCARD", name])) as usize,
                        k.items.len(),
                        "{what}"
                    );
                    let v = bulk_list(call(&mut c, &[b"SMEMBERS", name]));
                    let mut want: Vec<_> = v.iter().map(|b| key_of(&item(b))).collect();
                    let mut got = got.clone();
                    want.sort();
                    got.sort();
                    assert_eq!(got, want, "{what}");
                }
                KeyKind::Hash => {
                    assert_eq!(
                        int_reply(call(&mut c, &[b"HLEN", name])) as usize * 2,
                        k.items.len(),
                        "{what}"
                    );
                    let v = bulk_list(call(&mut c, &[b"HGETALL", name]));
                    let mut want: Vec<_> = v
                        .chunks(2)
                        .map(|p| (key_of(&item(&p[0])), key_of(&item(&p[1]))))
                        .collect();
                    let mut pairs: Vec<_> = got.chunks(2).map(|p| (p[0], p[1])).collect();
                    want.sort();
                    pairs.sort();
                    assert_eq!(pairs, want, "{what}");
                    if hfe {
                        let mut argv: Vec<&[u8]> = vec![b"HPTTL", name, b"FIELDS"];
                        let n = (v.len() / 2).to_string();
                        argv.push(n.as_bytes());
                        argv.extend(v.chunks(2).map(|p| &p[0][..]));
                        let ttls = match call(&mut c, &argv) {
                            Resp::Array(Some(a)) => a.into_iter().map(int_reply).collect::<Vec<_>>(),
                            other => panic!("{what}: {other:?}"),
                        };
                        let with = ttls.iter().filter(|&&t| t >= 0).count() as u64;
                        assert_eq!(k.fields_with_ttl, with, "{what}: fields with a TTL");
                    } else {
                        assert_eq!(k.fields_with_ttl, 0);
                    }
                }
                KeyKind::Zset => {
                    assert_eq!(
                        int_reply(call(&mut c, &[b"ZCARD", name])) as usize,
                        k.items.len(),
                        "{what}"
                    );
                    let v = bulk_list(call(&mut c, &[b"ZRANGE", name, b"0", b"-1", b"WITHSCORES"]));
                    let mut want: Vec<_> = v
                        .chunks(2)
                        .map(|p| {
                            let score: f64 = std::str::from_utf8(&p[1]).unwrap().parse().unwrap();
                            (key_of(&item(&p[0])), score.to_bits())
                        })
                        .collect();
                    let mut ours: Vec<_> = got
                        .iter()
                        .zip(&k.scores)
                        .map(|(i, s)| (*i, s.to_bits()))
                        .collect();
                    want.sort();
                    ours.sort();
                    assert_eq!(ours, want, "{what}");
                }
                KeyKind::Stream => {
                    assert!(int_reply(call(&mut c, &[b"XLEN", name])) > 0);
                    assert!(k.items.is_empty());
                }
                KeyKind::Module => panic!("{what}: no module keys were written"),
            }
            checked_elements += k.items.len();
        }
    }
    call(&mut c, &[b"SELECT", b"0"]);
    assert!(
        checked_elements > 6_000,
        "{label}: only {checked_elements} elements checked"
    );
    // The measured keys: all but the stream.
    let streams = keys.iter().filter(|k| k.kind == KeyKind::Stream).count() as u64;
    assert_eq!((streams, sum.keys), (1, keys.len() as u64 - 1), "{label}");
}

/// Live servers: the Debian redis-server on PATH (always, in CI), and each version binary in
/// `$FRAGSIM_SERVERS` that is there (skipped with a notice otherwise); all with
/// `list-compress-depth 1`, so long lists have LZF-compressed nodes.
#[test]
fn live_servers_agree_with_their_dumps() {
    let live = live_lock();
    let extra = ["--list-compress-depth", "1"];
    if let Some(server) = live_server_with(&live, &extra) {
        check_live("redis-server (PATH)", &server);
    }
    // Every built-in profile's version built from source (Debian's 7.0 is the one above).
    for v in fragsim::redis::PROFILE_NAMES
        .iter()
        .filter(|p| !p.ends_with("-debian"))
    {
        if let Some(server) = version_server(&live, v, &extra) {
            check_live(v, &server);
        }
    }
}

/// The `rdb` crate's package directory (its dump files), if cargo has it unpacked.
fn rdb_crate_dumps() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let src = home.join("registry/src");
    for e in std::fs::read_dir(src).ok()?.flatten() {
        let d = e.path().join("rdb-0.4.0/tests/dumps");
        if d.is_dir() {
            return Some(d);
        }
    }
    None
}

/// A dump of an RDB version below 9 re-labelled as RDB 9 (the value encodings are the same),
/// with a CRC-64 computed for it: what both readers then read.
fn relabel_as_9(b: &[u8]) -> Vec<u8> {
    let version: u32 = std::str::from_utf8(&b[5..9]).unwrap().parse().unwrap();
    let mut v = b.to_vec();
    if version >= 5 {
        v.truncate(v.len() - 8);
    }
    v[5..9].copy_from_slice(b"0009");
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

/// The `rdb` crate's keys: (db, key, kind, elements' texts, scores, expiry).
type Theirs = Vec<(u64, Vec<u8>, KeyKind, Vec<Vec<u8>>, Vec<f64>, Option<u64>)>;

fn read_theirs(b: &[u8]) -> Result<Theirs, String> {
    let dec = ::rdb::RdbDecoder::new(b, ::rdb::Simple::new()).map_err(|e| e.to_string())?;
    let mut db = 0u64;
    let mut out = Vec::new();
    for v in dec {
        match v.map_err(|e| e.to_string())? {
            ::rdb::RdbValue::SelectDb(d) => db = u64::from(d),
            ::rdb::RdbValue::String { key, value, expiry } => {
                out.push((db, key, KeyKind::String, vec![value], vec![], expiry))
            }
            ::rdb::RdbValue::List { key, values, expiry } => {
                out.push((db, key, KeyKind::List, values, vec![], expiry))
            }
            ::rdb::RdbValue::Set { key, members, expiry } => {
                out.push((db, key, KeyKind::Set, members, vec![], expiry))
            }
            ::rdb::RdbValue::Hash { key, values, expiry } => {
                let flat = values.into_iter().flat_map(|(f, v)| [f, v]).collect();
                out.push((db, key, KeyKind::Hash, flat, vec![], expiry))
            }
            ::rdb::RdbValue::SortedSet { key, values, expiry } => {
                let scores = values.iter().map(|(s, _)| *s).collect();
                let members = values.into_iter().map(|(_, m)| m).collect();
                out.push((db, key, KeyKind::Zset, members, scores, expiry))
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Differential: every dump of the `rdb` crate's package that both readers accept (those of
/// RDB 9+ as they are, the older ones re-labelled as RDB 9), read by both: the same keys in
/// the same order, dbs, kinds, expiries, element counts, each element's length and integer
/// flag, and scores. Streams and module values are skipped by the crate; we count them.
#[test]
fn the_rdb_crate_reads_the_same() {
    let Some(dir) = rdb_crate_dumps() else {
        eprintln!(
            "SKIPPED: the rdb crate's package (rdb-0.4.0/tests/dumps) is not under $CARGO_HOME/registry/src"
        );
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|x| x == "rdb"));
    files.sort();
    let (mut compared, mut keys_compared, mut ours_only) = (0, 0, 0);
    for p in &files {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let raw = std::fs::read(p).unwrap();
        let version: u32 = std::str::from_utf8(&raw[5..9]).unwrap().parse().unwrap();
        let bytes = if version < 9 {
            relabel_as_9(&raw)
        } else {
            raw.clone()
        };
        if version < 9 {
            // As it is, the version is refused, naming it.
            let e = read_bytes(&raw).unwrap_err();
            assert!(
                matches!(e.kind, ErrorKind::UnsupportedVersion { version: v, .. } if v == version),
                "{name}: {e}"
            );
            assert!(e.to_string().contains(&format!("RDB version {version} ")), "{e}");
        }
        let ours = read_bytes(&bytes);
        let theirs = read_theirs(&bytes);
        let (Ok((sum, ours)), Ok(theirs)) = (&ours, &theirs) else {
            eprintln!(
                "{name}: not compared (ours: {:?}, theirs: {:?})",
                ours.as_ref().err().map(|e| e.to_string()),
                theirs.as_ref().err()
            );
            assert!(ours.is_ok(), "{name}: {}", ours.as_ref().unwrap_err());
            continue;
        };
        let measured: Vec<&Key> = ours
            .iter()
            .filter(|k| !matches!(k.kind, KeyKind::Stream | KeyKind::Module))
            .collect();
        ours_only += ours.len() - measured.len();
        assert_eq!(measured.len(), theirs.len(), "{name}: keys");
        assert_eq!(sum.keys as usize, theirs.len());
        for (a, b) in measured.iter().zip(theirs) {
            let what = format!("{name}: {}", String::from_utf8_lossy(&a.key));
            assert_eq!((a.db, &a.key, a.kind), (b.0, &b.1, b.2), "{what}");
            assert_eq!(a.expire_ms.map(|e| e as u64), b.5, "{what}: expiry");
            let want: Vec<Item> = b.3.iter().map(|t| item(t)).collect();
            if a.kind == KeyKind::Set || a.kind == KeyKind::Hash {
                // Same multiset (the crate may reorder nothing, but hashes dedupe fields).
                let mut x: Vec<_> = a.items.iter().map(key_of).collect();
                let mut y: Vec<_> = want.iter().map(key_of).collect();
                x.sort();
                y.sort();
                assert_eq!(x, y, "{what}");
            } else {
                assert_eq!(a.items, want, "{what}");
            }
            let bits = |v: &[f64]| v.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a.scores), bits(&b.4), "{what}: scores");
            keys_compared += 1;
        }
        eprintln!(
            "{name} (RDB {version}): {} keys the same, {} streams/modules ours only",
            theirs.len(),
            ours.len() - measured.len()
        );
        compared += 1;
    }
    eprintln!(
        "{compared} dumps, {keys_compared} keys compared; {ours_only} streams and module keys only we report"
    );
    assert!(compared >= 25, "only {compared} dumps compared");
    assert!(ours_only >= 5);
}

/// Every prefix (cut) and 1-3-bit flip of the committed dumps is an error with an offset within
/// the file, never Ok and never a panic (the CRC-64 guarantees the flips are caught); and with
/// the CRC recomputed after the flip, so that only the parser's own checks can catch it, still
/// never a panic. Prints the numbers.
#[test]
fn cut_and_flipped_dumps_are_errors() {
    let _heavy = crate::common::heavy_work();
    let t = std::time::Instant::now();
    let (mut cases, mut errors, mut panics) = (0u64, 0u64, 0u64);
    let (mut fixed_cases, mut fixed_errors) = (0u64, 0u64);
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let crc = crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS);
    for name in CORPUS {
        let good = corpus(name);
        let len = good.len() as u64;
        let mut check = |b: &[u8], must_fail: bool, what: &str| -> bool {
            match std::panic::catch_unwind(|| read_bytes(b)) {
                Err(_) => {
                    panics += 1;
                    panic!("{name}: {what}: the reader panicked");
                }
                Ok(Ok(_)) => {
                    assert!(!must_fail, "{name}: {what}: accepted");
                    false
                }
                Ok(Err(e)) => {
                    assert!(
                        e.offset <= len,
                        "{name}: {what}: offset {} past the end: {e}",
                        e.offset
                    );
                    let k = match e.kind {
                        ErrorKind::Truncated { .. } => "truncated",
                        ErrorKind::ChecksumMismatch { .. } => "checksum",
                        ErrorKind::Corrupt { .. } => "corrupt",
                        ErrorKind::UnknownType { .. } => "unknown type",
                        ErrorKind::Trailing { .. } => "trailing",
                        ErrorKind::NotRdb { .. } | ErrorKind::UnsupportedVersion { .. } => "header",
                        _ => "other",
                    };
                    *kinds.entry(k).or_default() += 1;
                    true
                }
            }
        };
        // Every cut.
        for cut in 0..good.len() {
            cases += 1;
            errors += u64::from(check(&good[..cut], true, &format!("cut at {cut}")));
        }
        // Bit flips.
        for _ in 0..4000 {
            let mut b = good.clone();
            for _ in 0..1 + rnd(3) {
                let i = rnd(len) as usize;
                b[i] ^= 1 << rnd(8);
            }
            if b == good {
                continue;
            }
            cases += 1;
            errors += u64::from(check(&b, true, "flip"));
            // The same flip with the CRC made right (when the flips left the trailer alone).
            let body = b.len() - 8;
            if b[body..] == good[body..] {
                let c = crc.checksum(&b[..body]);
                b[body..].copy_from_slice(&c.to_le_bytes());
                fixed_cases += 1;
                fixed_errors += u64::from(check(&b, false, "flip, CRC fixed"));
            }
        }
    }
    eprintln!(
        "fuzz: {cases} cut or flipped dumps, {errors} errors, {panics} panics ({kinds:?}); \
         {fixed_cases} flips with the CRC fixed: {fixed_errors} errors, {} read; {:?}",
        fixed_cases - fixed_errors,
        t.elapsed()
    );
    assert!(cases >= 10_000);
    assert_eq!((errors, panics), (cases, 0));
    // Most flips with the CRC fixed still break the structure somewhere.
    assert!(fixed_errors * 4 > fixed_cases, "{fixed_errors} of {fixed_cases}");
}

/// Lengths from the file are checked before anything is allocated: a 2^40-byte string, an LZF
/// string claiming 2^40 bytes from 10, a set of 2^60 members, a listpack whose header claims
/// 4 GiB; each an error at once, naming what was read.
#[test]
fn huge_claimed_lengths_are_errors_not_allocations() {
    let head = b"REDIS0011".to_vec();
    let cases: [(&[u8], &str); 5] = [
        // SET "k" with an 81 (64-bit) length of 2^40.
        (
            &[0, 1, b'k', 0x81, 0, 0, 1, 0, 0, 0, 0, 0],
            "the file ends inside a string value",
        ),
        // SET "k" LZF: clen 10, ulen 2^40 (32-bit length).
        (
            &[0, 1, b'k', 0xC3, 10, 0x81, 0, 0, 1, 0, 0, 0, 0, 0],
            "more than LZF can expand",
        ),
        // SADD "k" with 2^60 members, then one.
        (
            &[2, 1, b'k', 0x81, 0x10, 0, 0, 0, 0, 0, 0, 0, 1, b'a'],
            "the file ends inside a set",
        ),
        // A set listpack of 10 bytes whose header claims 4 GiB.
        (
            &[20, 1, b'k', 10, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0x05, 1, 0xFF, 0],
            "another total size",
        ),
        // A key name of 2^32 - 1 bytes.
        (
            &[0, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, b'k'],
            "the file ends inside a key's name",
        ),
    ];
    for (body, want) in cases {
        let mut b = head.clone();
        b.extend_from_slice(body);
        let e = read_bytes(&b).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(want), "{text}");
        assert!(e.offset <= b.len() as u64, "{text}");
    }
}

/// Error texts: a byte offset with thousands separators, what was read, a hint.
#[test]
fn errors_say_where_and_what() {
    let good = corpus("redis-7.0");
    // Cut inside the big list's quicklist.
    let (_, keys) = read_bytes(&good).unwrap();
    assert!(keys.iter().any(|k| k.key == b"list:big"));
    let at = good.windows(8).position(|w| w == b"list:big").unwrap() + 20;
    let e = read_bytes(&good[..at]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "byte {}: the file ends inside a list's quicklist (truncated? a dump still being written?)",
            fmt_group(at)
        )
    );
    // A wrong checksum.
    let mut b = good.clone();
    let n = b.len();
    b[n - 1] ^= 0x80;
    let e = read_bytes(&b).unwrap_err();
    assert_eq!(e.offset, n as u64 - 8);
    assert!(
        e.to_string()
            .contains("the checksum does not match: the file is corrupt"),
        "{e}"
    );
    // A stored zero: no checksum, said so.
    let mut b = good.clone();
    b[n - 8..].fill(0);
    assert_eq!(read_bytes(&b).unwrap().0.checksum, Checksum::Absent);
    // Bytes after the checksum; the checksum cut short.
    let mut b = good.clone();
    b.extend_from_slice(b"xyz");
    let e = read_bytes(&b).unwrap_err();
    assert_eq!(
        (e.offset, e.to_string().contains("3 bytes after the checksum")),
        (n as u64, true),
        "{e}"
    );
    let e = read_bytes(&good[..n - 3]).unwrap_err();
    assert!(e.to_string().contains("ends inside the checksum"), "{e}");
    // Versions and magic.
    let mut b = good.clone();
    b[5..9].copy_from_slice(b"0014");
    let e = read_bytes(&b).unwrap_err();
    assert_eq!(
        e.to_string(),
        "byte 5: RDB version 14 (REDIS0014) is not supported: this reader handles RDB 9 to 13 \
         (REDIS0009 to REDIS0013: Redis 5.0 to 8.x, Valkey 7 and 8) and RDB 80 (VALKEY080: Valkey 9)"
    );
    b[..9].copy_from_slice(b"VALKEY081");
    assert!(matches!(
        read_bytes(&b).unwrap_err().kind,
        ErrorKind::UnsupportedVersion {
            version: 81,
            valkey: true
        }
    ));
    b[..9].copy_from_slice(b"GIF89a...");
    assert!(read_bytes(&b)
        .unwrap_err()
        .to_string()
        .starts_with("byte 0: not an RDB dump"));
    assert!(read_bytes(b"")
        .unwrap_err()
        .to_string()
        .contains("ends inside the header"));
    // Valkey's type 22 is no type in a Redis 7.0 dump.
    let mut b = b"REDIS0010".to_vec();
    b.extend_from_slice(&[22, 1, b'k', 0, 0xFF]);
    let e = read_bytes(&b).unwrap_err();
    assert_eq!(e.offset, 9);
    assert!(
        e.to_string()
            .contains("unknown value type or opcode 22 in a REDIS0010 dump"),
        "{e}"
    );
}

fn fmt_group(n: usize) -> String {
    let d = n.to_string();
    let mut s = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            s.push(',');
        }
        s.push(c);
    }
    s
}

/// The visitor stops the read with its own error.
#[test]
fn the_visitor_can_stop() {
    let good = corpus("valkey-9.1");
    let mut seen = 0;
    let r = rdb::read(&good[..], |_| {
        seen += 1;
        if seen == 5 {
            Err("enough")
        } else {
            Ok(())
        }
    });
    assert!(matches!(r, Err(ReadError::Visit("enough"))));
    assert_eq!(seen, 5);
}

mod random_bytes {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Random bytes after a valid header: never a panic; an error's offset within the
        /// input.
        #[test]
        fn never_panic(head in 0usize..4, body in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let mut b = [&b"REDIS0010"[..], b"REDIS0012", b"REDIS0013", b"VALKEY080"][head].to_vec();
            b.extend_from_slice(&body);
            if let Err(fragsim::import::rdb::ReadError::Rdb(e)) =
                fragsim::import::rdb::read(&b[..], |_| Ok::<(), ()>(()))
            {
                prop_assert!(e.offset <= b.len() as u64);
            }
        }

        /// Random bytes with opcodes and value types common: still never a panic.
        #[test]
        fn never_panic_on_typed_noise(parts in proptest::collection::vec((0u8..30, proptest::collection::vec(any::<u8>(), 0..40)), 0..60)) {
            let mut b = b"REDIS0013".to_vec();
            for (t, bytes) in parts {
                b.push(t);
                b.push(1);
                b.push(b'k');
                b.extend_from_slice(&bytes);
            }
            let _ = fragsim::import::rdb::read(&b[..], |_| Ok::<(), ()>(()));
        }
    }
}

/// A dump written by hand, for what the servers here do not write: a few bytes at a time,
/// ended with the EOF opcode and its CRC-64.
struct Writer(Vec<u8>);

impl Writer {
    fn new(magic: &[u8]) -> Writer {
        Writer(magic.to_vec())
    }
    fn b(&mut self, x: &[u8]) -> &mut Self {
        self.0.extend_from_slice(x);
        self
    }
    fn len(&mut self, n: u64) -> &mut Self {
        if n < 64 {
            self.0.push(n as u8);
        } else if n < 16384 {
            self.b(&[0x40 | (n >> 8) as u8, n as u8]);
        } else if n <= u64::from(u32::MAX) {
            self.0.push(0x80);
            self.b(&(n as u32).to_be_bytes());
        } else {
            self.0.push(0x81);
            self.b(&n.to_be_bytes());
        }
        self
    }
    fn s(&mut self, x: &[u8]) -> &mut Self {
        self.len(x.len() as u64).b(x)
    }
    /// A listpack of short strings and small integers.
    fn lp(&mut self, entries: &[Result<&[u8], i64>]) -> &mut Self {
        let mut b = vec![0; 6];
        for e in entries {
            let enc: Vec<u8> = match e {
                Ok(s) => [&[0x80 | s.len() as u8][..], s].concat(),
                Err(v) => vec![*v as u8],
            };
            b.extend_from_slice(&enc);
            b.push(enc.len() as u8);
        }
        b.push(0xFF);
        let n = b.len() as u32;
        b[..4].copy_from_slice(&n.to_le_bytes());
        b[4..6].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        self.s(&b)
    }
    fn done(&mut self) -> Vec<u8> {
        self.0.push(0xFF);
        let c = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&self.0);
        self.b(&c.to_le_bytes());
        std::mem::take(&mut self.0)
    }
}

/// What the servers here do not write, by hand: Redis 8.2+'s KEY_META opcode and stream type
/// 26 (IDMP), module values and module AUX data, functions, SLOT_INFO, IDLE, FREQ, an expiry in
/// seconds, quicklist plain nodes, the text-score sorted set (type 3), Redis 7.4 RC's hashes
/// (22 and 23); Valkey 9's SLOT_IMPORT; and opcode 243 where the version has none.
#[test]
fn hand_made_dumps_cover_the_rest() {
    let mut w = Writer::new(b"REDIS0013");
    w.b(&[250]).s(b"redis-ver").s(b"8.2.1");
    w.b(&[245])
        .s(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)");
    // MODULE_AUX: id, when-opcode UINT, when, then UINT 5, STRING, FLOAT, DOUBLE, EOF.
    w.b(&[247]).len(0x1234_5678 << 10).len(2).len(1);
    w.len(2)
        .len(5)
        .len(5)
        .s(b"abc")
        .len(3)
        .b(&[0; 4])
        .len(4)
        .b(&[0; 8])
        .len(0);
    w.b(&[254]).len(0).b(&[251]).len(7).len(1);
    w.b(&[244]).len(5).len(7).len(1);
    w.b(&[248])
        .len(100)
        .b(&[249, 3])
        .b(&[253])
        .b(&2_000_000_000i32.to_le_bytes());
    // KEY_META: one class, its 4-byte spec, a module value (UINT 7).
    w.b(&[243]).len(1).b(&[1, 2, 3, 4]).len(2).len(7).len(0);
    w.b(&[0]).s(b"a").s(b"hello");
    w.b(&[18])
        .s(b"l")
        .len(2)
        .len(1)
        .s(b"a plain node's one element")
        .len(2)
        .lp(&[Ok(b"x"), Err(7)]);
    w.b(&[3])
        .s(b"z")
        .len(3)
        .s(b"m1")
        .b(&[3])
        .b(b"1.5")
        .s(b"m2")
        .b(&[254])
        .s(b"-7")
        .b(&[255]);
    w.b(&[22])
        .s(b"h22")
        .len(2)
        .len(0)
        .s(b"f")
        .s(b"1")
        .len(1_700_000_000_000)
        .s(b"g")
        .s(b"v");
    w.b(&[23])
        .s(b"h23")
        .lp(&[Ok(b"f"), Ok(b"v"), Err(0), Ok(b"g"), Ok(b"12"), Err(99)]);
    // A stream of type 26: one node, metadata, a group with a PEL entry and a consumer, IDMP.
    w.b(&[26])
        .s(b"st")
        .len(1)
        .s(&[0; 16])
        .s(&[7; 12])
        .len(1)
        .len(2)
        .len(3);
    w.len(1).len(0).len(0).len(0).len(1);
    w.len(1).s(b"g1").len(2).len(3).len(1).len(1).b(&[0; 24]).len(1);
    w.len(1).s(b"c1").b(&[0; 16]).len(1).b(&[0; 16]);
    w.len(100)
        .len(100)
        .len(1)
        .s(b"producer")
        .len(1)
        .s(b"iid-1")
        .len(5)
        .len(6)
        .len(1)
        .len(0);
    w.b(&[7])
        .s(b"json")
        .len((0x0ABC_DEF0 << 10) | 3)
        .len(5)
        .s(b"{}")
        .len(1)
        .len(9)
        .len(0);
    let dump = w.done();
    let (s, keys) = read_bytes(&dump).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (s.version, s.valkey, s.keys, s.streams, s.modules),
        (13, false, 5, 1, 1)
    );
    assert_eq!((s.module_aux, s.functions, s.expires), (1, 1, 1));
    assert_eq!(s.resize_hints, [(0, 7, 1)]);
    assert_eq!(s.aux, [("redis-ver".to_string(), "8.2.1".to_string())]);
    assert_eq!(s.module_types.len(), 1);
    let a = find(&keys, "a");
    assert_eq!(
        (a.expire_ms, &a.items[..]),
        (Some(2_000_000_000_000), &[item(b"hello")][..])
    );
    assert_eq!(
        find(&keys, "l").items,
        [item(b"a plain node's one element"), item(b"x"), int(7)]
    );
    let z = find(&keys, "z");
    assert_eq!(
        (z.rdb_type, &z.items[..]),
        (3, &[item(b"m1"), item(b"m2"), int(-7)][..])
    );
    assert_eq!(z.scores, [1.5, f64::INFINITY, f64::NEG_INFINITY]);
    let h = find(&keys, "h22");
    assert_eq!((h.rdb_type, h.items.len(), h.fields_with_ttl), (22, 4, 1));
    let h = find(&keys, "h23");
    assert_eq!(
        (h.rdb_type, &h.items[..], h.fields_with_ttl),
        (23, &[item(b"f"), item(b"v"), item(b"g"), int(12)][..], 1)
    );
    assert_eq!(find(&keys, "st").kind, KeyKind::Stream);
    assert_eq!(
        (find(&keys, "json").kind, find(&keys, "json").expire_ms),
        (KeyKind::Module, None)
    );
    assert_eq!(find(&keys, "l").expire_ms, None);

    // Valkey 9: SLOT_IMPORT, then HASH_2 with one field's expiry.
    let mut w = Writer::new(b"VALKEY080");
    w.b(&[243]).s(&[b'j'; 40]).len(1).len(0).len(100);
    w.b(&[22])
        .s(b"h")
        .len(2)
        .s(b"f")
        .s(b"v")
        .b(&(-1i64).to_le_bytes());
    w.s(b"g").s(b"123").b(&1_800_000_000_000i64.to_le_bytes());
    let (s, keys) = read_bytes(&w.done()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.version, s.valkey, s.keys), (80, true, 1));
    assert_eq!(
        (keys[0].fields_with_ttl, &keys[0].items[..]),
        (1, &[item(b"f"), item(b"v"), item(b"g"), int(123)][..])
    );
    // An expiry below -1 in HASH_2 is corrupt.
    let mut w = Writer::new(b"VALKEY080");
    w.b(&[22])
        .s(b"h")
        .len(1)
        .s(b"f")
        .s(b"v")
        .b(&(-2i64).to_le_bytes());
    assert!(read_bytes(&w.done())
        .unwrap_err()
        .to_string()
        .contains("a hash with field TTLs is corrupt"));
    // Opcode 243 in a Redis 7.4 dump (RDB 12): no such opcode there.
    let mut w = Writer::new(b"REDIS0012");
    w.b(&[243]).len(0).b(&[0]).s(b"a").s(b"b");
    let e = read_bytes(&w.done()).unwrap_err();
    assert!(
        matches!(
            e.kind,
            ErrorKind::UnknownType {
                byte: 243,
                version: 12,
                valkey: false
            }
        ),
        "{e}"
    );
    // A Redis 4.0 RC module value (type 6) and 7.0 RC functions (246): refused by name.
    let e = read_bytes(&Writer::new(b"REDIS0010").b(&[6]).s(b"m").done()).unwrap_err();
    assert!(e.to_string().contains("Redis 4.0 RC module value"), "{e}");
    let e = read_bytes(&Writer::new(b"REDIS0010").b(&[246]).done()).unwrap_err();
    assert!(e.to_string().contains("7.0 RC function data"), "{e}");
    // Empty collections are dropped (as servers do) and counted.
    let (s, keys) = read_bytes(&Writer::new(b"REDIS0011").b(&[2]).s(b"e").len(0).done()).unwrap();
    assert_eq!((s.keys, s.empty_skipped, keys.len()), (0, 1, 0));
}
