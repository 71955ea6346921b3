//! Importing a live keyspace, read-only and politely: `SCAN` with `COUNT`, then per batch of
//! keys one pipeline of `TYPE`, `OBJECT ENCODING` and `PTTL`, and one of the size commands
//! (`STRLEN`, `HLEN`, `LLEN`, `SCARD`, `ZCARD`) with the elements: all of a small collection's
//! (a listpack or intset holds at most a few hundred), a sample of a large one's
//! (`HRANDFIELD`, `SRANDMEMBER`, `ZRANDMEMBER`, `LRANGE` of both ends). `MEMORY USAGE` of every
//! tenth key is read only as a cross-check. No `DEBUG`, no `CONFIG SET`, no writes: it works on
//! managed services that allow `SCAN`.

use super::dataset::{Dataset, Item, Kind, Observation};
use super::rdb::string2ll;
use super::scenario::Source;
use super::ImportError;
use crate::redis::resp::{Connection, Resp};
use crate::units::group;

/// What to read.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// `host:port`.
    pub addr: String,
    /// Read this many keys, drawn at random from the whole keyspace (every key when `None`).
    pub sample: Option<u64>,
    /// Only keys matching this glob (`SCAN ... MATCH`).
    pub pattern: Option<String>,
    /// Elements read from a large collection.
    pub elements: usize,
    /// A password (`AUTH`), if the server needs one.
    pub password: Option<String>,
}

/// Keys per `SCAN` call and per pipeline.
const BATCH: usize = 1000;

/// The `field:value` lines of an INFO reply.
fn info_map(r: &Resp) -> std::collections::HashMap<String, String> {
    r.text()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// Reads the keyspace at `opts.addr` into a [`Dataset`]; `progress(done, total)` after each
/// batch.
pub fn import_live(
    opts: &LiveOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(Dataset, Source), ImportError> {
    let addr = opts.addr.clone();
    let mut c = Connection::open(&addr)?;
    let refused = |command: &str, r: &Resp| ImportError::Refused {
        addr: addr.clone(),
        command: command.into(),
        reply: match r {
            Resp::Error(e) => e.clone(),
            other => other.describe(),
        },
        hint: match r {
            Resp::Error(e) if e.starts_with("NOAUTH") || e.starts_with("WRONGPASS") => {
                " (give the password in FRAGSIM_REDIS_PASSWORD or REDISCLI_AUTH)"
            }
            Resp::Error(e) if e.starts_with("NOPERM") || e.contains("unknown command") => {
                " (the import needs SCAN, TYPE, OBJECT, PTTL and the read commands of each type)"
            }
            _ => "",
        },
    };
    if let Some(p) = &opts.password {
        let r = c.call(&[b"AUTH".as_slice(), p.as_bytes()])?;
        if matches!(r, Resp::Error(_)) {
            return Err(refused("AUTH", &r));
        }
    }
    let server = c.call(&[b"INFO".as_slice(), b"server"])?;
    if matches!(server, Resp::Error(_)) {
        return Err(refused("INFO server", &server));
    }
    let server = info_map(&server);
    let memory = info_map(&c.call(&[b"INFO".as_slice(), b"memory"])?);
    let dbsize = match c.call(&[b"DBSIZE".as_slice()])? {
        Resp::Int(n) => n.max(0) as u64,
        r => return Err(refused("DBSIZE", &r)),
    };
    // Every key name first (SCAN returns each key present throughout at least once; a key
    // returned twice is read once).
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut cursor = b"0".to_vec();
    loop {
        let mut argv: Vec<Vec<u8>> = vec![b"SCAN".to_vec(), cursor.clone()];
        if let Some(p) = &opts.pattern {
            argv.extend([b"MATCH".to_vec(), p.as_bytes().to_vec()]);
        }
        argv.extend([b"COUNT".to_vec(), BATCH.to_string().into_bytes()]);
        let r = c.call(&argv)?;
        let Resp::Array(Some(parts)) = &r else {
            return Err(refused("SCAN", &r));
        };
        let (Some(Resp::Bulk(Some(next))), Some(Resp::Array(Some(keys)))) = (parts.first(), parts.get(1))
        else {
            return Err(refused("SCAN", &r));
        };
        for k in keys {
            if let Resp::Bulk(Some(k)) = k {
                if seen.insert(k.clone()) {
                    names.push(k.clone());
                }
            }
        }
        progress(0, dbsize.max(names.len() as u64));
        if next.as_slice() == b"0" {
            break;
        }
        cursor = next.clone();
    }
    drop(seen);
    let total = names.len() as u64;
    // A sample: a partial Fisher-Yates shuffle with a fixed seed (the same server state gives
    // the same scenario).
    let weight = match opts.sample {
        Some(n) if n < total && n > 0 => {
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for i in 0..n as usize {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let j = i + (x % (names.len() - i) as u64) as usize;
                names.swap(i, j);
            }
            names.truncate(n as usize);
            names.sort();
            total as f64 / n as f64
        }
        _ => 1.0,
    };
    let mut data = Dataset::default();
    let mut usage_sum = 0.0;
    let mut usage_keys = 0u64;
    let mut streams_modules = 0u64;
    let mut done = 0u64;
    let mut items: Vec<Item> = Vec::new();
    let mut scores: Vec<f64> = Vec::new();
    for (b, batch) in names.chunks(BATCH).enumerate() {
        let mut first: Vec<Vec<&[u8]>> = Vec::with_capacity(batch.len() * 3);
        for k in batch {
            first.push(vec![b"TYPE", k]);
            first.push(vec![b"OBJECT", b"ENCODING", k]);
            first.push(vec![b"PTTL", k]);
        }
        let r1 = c.pipeline(&first)?;
        let mut second: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut plan = Vec::new();
        let elements = opts.elements.max(1).to_string().into_bytes();
        for (i, k) in batch.iter().enumerate() {
            let ty = r1[3 * i].text().unwrap_or_default();
            let enc = r1[3 * i + 1].text().unwrap_or_default();
            let ttl = match r1[3 * i + 2] {
                Resp::Int(ms) if ms >= 0 => Some(ms),
                _ => None,
            };
            let kind = match ty.as_str() {
                "string" => Kind::String,
                "hash" => Kind::Hash,
                "list" => Kind::List,
                "set" => Kind::Set,
                "zset" => Kind::Zset,
                "none" => continue, // gone since SCAN saw it
                "stream" => Kind::Stream,
                _ => Kind::Module,
            };
            let encoding = encoding_name(&enc);
            let small = matches!(encoding, "listpack" | "ziplist" | "intset");
            let at = second.len();
            let kv = k.to_vec();
            let cmds: Vec<Vec<Vec<u8>>> = match kind {
                Kind::String => vec![vec![b"STRLEN".to_vec(), kv.clone()]],
                Kind::Hash if small => vec![
                    vec![b"HLEN".to_vec(), kv.clone()],
                    vec![b"HGETALL".to_vec(), kv.clone()],
                ],
                Kind::Hash => vec![
                    vec![b"HLEN".to_vec(), kv.clone()],
                    vec![
                        b"HRANDFIELD".to_vec(),
                        kv.clone(),
                        elements.clone(),
                        b"WITHVALUES".to_vec(),
                    ],
                ],
                Kind::List => {
                    let half = (opts.elements / 2).max(1);
                    vec![
                        vec![b"LLEN".to_vec(), kv.clone()],
                        vec![
                            b"LRANGE".to_vec(),
                            kv.clone(),
                            b"0".to_vec(),
                            (half - 1).to_string().into_bytes(),
                        ],
                        vec![
                            b"LRANGE".to_vec(),
                            kv.clone(),
                            format!("-{half}").into_bytes(),
                            b"-1".to_vec(),
                        ],
                    ]
                }
                Kind::Set if small => vec![
                    vec![b"SCARD".to_vec(), kv.clone()],
                    vec![b"SMEMBERS".to_vec(), kv.clone()],
                ],
                Kind::Set => vec![
                    vec![b"SCARD".to_vec(), kv.clone()],
                    vec![b"SRANDMEMBER".to_vec(), kv.clone(), elements.clone()],
                ],
                Kind::Zset if small => vec![
                    vec![b"ZCARD".to_vec(), kv.clone()],
                    vec![
                        b"ZRANGE".to_vec(),
                        kv.clone(),
                        b"0".to_vec(),
                        b"-1".to_vec(),
                        b"WITHSCORES".to_vec(),
                    ],
                ],
                Kind::Zset => vec![
                    vec![b"ZCARD".to_vec(), kv.clone()],
                    vec![
                        b"ZRANDMEMBER".to_vec(),
                        kv.clone(),
                        elements.clone(),
                        b"WITHSCORES".to_vec(),
                    ],
                ],
                Kind::Stream => vec![vec![b"XLEN".to_vec(), kv.clone()]],
                Kind::Module => vec![],
            };
            second.extend(cmds);
            // Every tenth key read (by position in the keyspace) also says its MEMORY USAGE.
            let usage = (b * BATCH + i) % 10 == 0;
            if usage {
                second.push(vec![b"MEMORY".to_vec(), b"USAGE".to_vec(), kv]);
            }
            plan.push((i, kind, encoding, ttl, at, usage));
        }
        let r2 = c.pipeline(&second)?;
        for (pi, &(i, kind, encoding, ttl, at, usage)) in plan.iter().enumerate() {
            let end = plan.get(pi + 1).map_or(r2.len(), |p| p.4);
            let replies = &r2[at..end];
            let (replies, usage) = match (usage, replies.split_last()) {
                (true, Some((Resp::Int(u), rest))) => (rest, Some(*u)),
                (true, Some((_, rest))) => (rest, None),
                _ => (replies, None),
            };
            if let Some(u) = usage {
                usage_sum += u as f64;
                usage_keys += 1;
            }
            items.clear();
            scores.clear();
            let len = match replies.first() {
                Some(Resp::Int(n)) => *n.max(&0) as u64,
                _ => 0,
            };
            if kind == Kind::String {
                items.push(Item {
                    len,
                    int: encoding == "int",
                });
            }
            for r in replies.iter().skip(1) {
                let Resp::Array(Some(a)) = r else { continue };
                for (j, e) in a.iter().enumerate() {
                    let Resp::Bulk(Some(v)) = e else { continue };
                    if kind == Kind::Zset && j % 2 == 1 {
                        scores.push(
                            std::str::from_utf8(v)
                                .ok()
                                .and_then(|t| t.parse().ok())
                                .unwrap_or(0.0),
                        );
                        continue;
                    }
                    items.push(Item {
                        len: v.len() as u64,
                        int: string2ll(v).is_some(),
                    });
                }
            }
            if matches!(kind, Kind::Stream | Kind::Module) {
                streams_modules += 1;
            }
            data.add(&Observation {
                key: &batch[i],
                kind,
                encoding,
                ttl_ms: ttl,
                len: if kind == Kind::String { 1 } else { len },
                items: &items,
                scores: &scores,
                weight,
            });
        }
        done += batch.len() as u64;
        progress(done, names.len() as u64);
    }
    let name = if server.contains_key("valkey_version") {
        "valkey"
    } else {
        "redis"
    };
    let version = server
        .get("valkey_version")
        .or_else(|| server.get("redis_version"))
        .cloned()
        .unwrap_or_default();
    let mut notes = Vec::new();
    let fig = |k: &str| memory.get(k).and_then(|v| v.parse::<u64>().ok());
    if let (Some(u), Some(a), Some(r)) = (
        fig("used_memory"),
        fig("allocator_active"),
        fig("used_memory_rss"),
    ) {
        notes.push(format!(
            "The server said, before the import: used_memory {}, allocator_active {}, used_memory_rss {}.",
            group(u),
            group(a),
            group(r)
        ));
    }
    if usage_keys > 0 {
        let scaled = usage_sum * weight * (done as f64 / usage_keys as f64);
        let dataset = fig("used_memory_dataset")
            .map(|d| format!("; the server's used_memory_dataset: {}", group(d)))
            .unwrap_or_default();
        notes.push(format!(
            "Cross-check: MEMORY USAGE of {} keys, scaled to all: {}{dataset}.",
            group(usage_keys),
            group(scaled.round() as u64)
        ));
    }
    if streams_modules > 0 {
        notes.push(format!(
            "{} stream or module keys are counted but not modelled.",
            group(streams_modules)
        ));
    }
    let coverage = match opts.sample {
        Some(n) if n < total => format!(
            "a random sample of {} of {} keys{}, up to {} elements of each large collection",
            group(n),
            group(total),
            opts.pattern
                .as_ref()
                .map(|p| format!(" matching {p:?}"))
                .unwrap_or_default(),
            opts.elements
        ),
        _ => format!(
            "every key{}, every element of small collections, up to {} of each large one",
            opts.pattern
                .as_ref()
                .map(|p| format!(" matching {p:?}"))
                .unwrap_or_default(),
            opts.elements
        ),
    };
    let source = Source {
        what: format!("{name} {version} at {}", opts.addr),
        server: Some((name.into(), version)),
        allocator: memory.get("mem_allocator").cloned(),
        coverage,
        notes,
    };
    Ok((data, source))
}

/// `OBJECT ENCODING`'s word as a static name.
fn encoding_name(e: &str) -> &'static str {
    match e {
        "int" => "int",
        "embstr" => "embstr",
        "raw" => "raw",
        "listpack" => "listpack",
        "ziplist" => "listpack",
        "hashtable" => "hashtable",
        "intset" => "intset",
        "skiplist" => "skiplist",
        "quicklist" => "quicklist",
        "linkedlist" => "quicklist",
        "stream" => "stream",
        _ => "other",
    }
}
