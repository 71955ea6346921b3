//! `fragsim explain --redis PROFILE --string SIZE | --hash FIELDS x SIZE | --list, --set,
//! --zset ELEMENTS x SIZE`: what one key costs in a Redis build, allocation by allocation, and in
//! `used_memory`, `allocator_active` and RSS. A string's and a hash's allocations are worked out
//! here; a list's, set's or sorted set's are read from the model after it has written the key,
//! with the encoding Redis picks and where it would convert.

use serde::Serialize;

use super::encoding::{embstr_request, listpack_entry, LISTPACK_OVERHEAD};
use super::profile::{RedisProfile, TableKind};
use super::server::{Server, ServerError};
use crate::jemalloc::SizeClasses;
use crate::redis::argv::{push_integer, push_member, value_bytes, Arg};
use crate::units::group;

/// The key to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KeySpec {
    /// A string of this many bytes.
    String(u64),
    /// A hash of this many fields, each value this many bytes.
    Hash(u64, u64),
    /// A list, set or sorted set of `elements` elements of `size` bytes each (digits, when
    /// `integers`), written 100 at a time (RPUSH, SADD, ZADD with integer scores).
    Collection {
        kind: Collection,
        elements: u64,
        size: u64,
        integers: bool,
    },
}

/// The collection types `explain` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Collection {
    List,
    Set,
    Zset,
}

impl Collection {
    /// The type's name ("list", "set", "zset").
    pub fn name(self) -> &'static str {
        match self {
            Collection::List => "list",
            Collection::Set => "set",
            Collection::Zset => "zset",
        }
    }

    /// Where a value of this type converts, in words, with the profile's limits.
    pub fn conversions(self, p: &RedisProfile) -> String {
        let t = &p.types;
        match self {
            Collection::List => {
                let fill = if t.list_max_listpack_size < 0 {
                    format!(
                        "{} KiB",
                        4u64 << (t.list_max_listpack_size.unsigned_abs().clamp(1, 5) - 1)
                    )
                } else {
                    format!("{} elements", t.list_max_listpack_size)
                };
                let quicklist = format!(
                    "a quicklist: a chain of listpack nodes, a new node when a listpack would pass {fill} \
                     (list-max-listpack-size {})",
                    t.list_max_listpack_size
                );
                if p.layout.list_listpack {
                    // Redis 7.2+ `listTypeTryConvertListpack`, `listTypeTryConvertQuicklist`.
                    format!(
                        "a bare listpack while it stays within one node's limit ({fill}), else {quicklist}; \
                         a listpack again when one node is left within half that limit"
                    )
                } else {
                    quicklist
                }
            }
            Collection::Set => {
                let valkey = p.layout.table == TableKind::Hashtable;
                let table = if valkey {
                    "a hashtable (Valkey's: 64-B buckets of 7 slots) holding each member's sds"
                } else if p.layout.set_dict_no_value {
                    "a hashtable: an sds per member, in its bucket, a 16-B dictEntryNoValue only \
                     where members share one"
                } else {
                    "a hashtable: an sds and a dictEntry per member"
                };
                let listpack = if p.layout.set_listpack {
                    format!(
                        ", else a listpack while it has at most {} members (set-max-listpack-entries) \
                         of at most {} B (set-max-listpack-value)",
                        t.set_max_listpack_entries, t.set_max_listpack_value
                    )
                } else {
                    String::new()
                };
                format!(
                    "an intset while every member is an integer and there are at most {} \
                     (set-max-intset-entries){listpack}, else {table}",
                    t.set_max_intset_entries
                )
            }
            Collection::Zset => {
                let rest = if p.layout.table == TableKind::Hashtable {
                    if p.layout.zset_node_embeds_member {
                        "a skiplist and a hashtable (Valkey's): a node holding its member, its \
                         pointer in a bucket slot"
                    } else {
                        "a skiplist and a hashtable (Valkey's): a node and an sds per member, the \
                         node's pointer in a bucket slot"
                    }
                } else {
                    "a skiplist and a dict: a node, an sds and a dictEntry per member"
                };
                format!(
                    "a listpack while it has at most {} members (zset-max-listpack-entries) of at \
                     most {} B (zset-max-listpack-value), else {rest}",
                    t.zset_max_listpack_entries, t.zset_max_listpack_value
                )
            }
        }
    }
}

/// One allocation a key makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub what: String,
    /// How many of them per key.
    pub count: u64,
    /// Bytes requested from the allocator.
    pub request: u64,
    /// Bytes the allocator gives (the size class), what `used_memory` counts.
    pub usable: u64,
}

/// The cost of one key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyCost {
    pub profile: String,
    pub key: KeySpec,
    /// Key name length used for the breakdown ("key:NNNNN").
    pub key_len: u64,
    pub items: Vec<Item>,
    /// Bytes per key in `used_memory`, measured on the model over `keys` keys (dict buckets
    /// included, amortised).
    pub used_memory: f64,
    /// Bytes per key in `allocator_active`.
    pub allocator_active: f64,
    /// Bytes per key in RSS (pages written).
    pub rss: f64,
    /// Keys written to measure the per-key figures.
    pub keys: u64,
    /// Encoding Redis picks (`OBJECT ENCODING`).
    pub encoding: String,
    /// For a list, set or sorted set: where its encoding converts, in words, with the
    /// profile's limits (empty for strings and hashes).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub conversions: String,
}

fn item(sc: &SizeClasses, what: &str, count: u64, request: u64) -> Item {
    Item {
        what: what.into(),
        count,
        request,
        usable: sc.usable(request).unwrap_or(request),
    }
}

/// The allocations of one key (without the amortised dict buckets). Fails when the profile names
/// an allocator preset the model does not have ([`ServerError::Profile`]). A list's, set's or
/// sorted set's value depends on how it was written (node fill, levels drawn): only its key's
/// allocations are given here, with no encoding; [`explain_key`] reads the rest from the model.
pub fn key_items(p: &RedisProfile, key: KeySpec, key_len: u64) -> Result<(Vec<Item>, String), ServerError> {
    let cfg = p.allocator_config()?;
    let sc = SizeClasses::new(cfg.lg_quantum, cfg.lg_page);
    // Valkey 8.1+: the value's object carries the key; a short string is one block with both.
    if p.layout.object_embeds_key {
        return Ok(match key {
            KeySpec::String(n) if p.key_object_embeds(key_len, false, n) => (
                vec![item(
                    &sc,
                    "object with key and string",
                    1,
                    p.key_object_request(key_len, false, Some(n)),
                )],
                "embstr".into(),
            ),
            _ => {
                let (mut rest, enc) = key_items(&without_embedding(p), key, key_len)?;
                // The keyspace's dict entry and name, and the value's own robj, become one
                // object carrying the key.
                rest.retain(|i| !matches!(i.what.as_str(), "dictEntry in the keyspace" | "key sds" | "robj"));
                let object = item(
                    &sc,
                    "object with the key",
                    1,
                    p.key_object_request(key_len, false, None),
                );
                (std::iter::once(object).chain(rest).collect(), enc)
            }
        });
    }
    let mut v = match p.key_name_request(key_len) {
        Some(name) => vec![
            item(&sc, "dictEntry in the keyspace", 1, p.key_entry()),
            item(&sc, "key sds", 1, name),
        ],
        None => vec![item(
            &sc,
            "dictEntry holding the key name",
            1,
            p.key_entry_request(key_len),
        )],
    };
    let enc = match key {
        KeySpec::Collection { .. } => "",
        KeySpec::String(n) if n <= p.embstr_limit => {
            v.push(item(
                &sc,
                "embedded string (robj + sds)",
                1,
                embstr_request(p.robj, n),
            ));
            "embstr"
        }
        KeySpec::String(n) => {
            v.push(item(&sc, "robj", 1, p.robj));
            let req = if n >= p.big_arg {
                p.sds_request(n + 2).max(p.sds_request(n))
            } else {
                p.sds_request(n)
            };
            v.push(item(&sc, "value sds", 1, req));
            "raw"
        }
        KeySpec::Hash(fields, n) => {
            v.push(item(&sc, "robj", 1, p.robj));
            let value = value_bytes(n);
            if fields <= p.hash_max_listpack_entries && n <= p.hash_max_listpack_value {
                let bytes: u64 = LISTPACK_OVERHEAD
                    + (0..fields)
                        .map(|f| listpack_entry(format!("f{f}").as_bytes()) + listpack_entry(&value))
                        .sum::<u64>();
                v.push(item(&sc, "listpack", 1, bytes));
                "listpack"
            } else {
                v.push(item(&sc, "dict struct", 1, p.dict));
                let buckets = fields.max(p.dict_initial_size).next_power_of_two();
                v.push(item(&sc, "field table (8 B buckets)", 1, buckets * 8));
                v.push(item(&sc, "field dictEntry", fields, p.dict_entry));
                let name_req: u64 = (0..fields)
                    .map(|f| p.sds_request(format!("f{f}").len() as u64))
                    .sum();
                v.push(Item {
                    what: "field name sds".into(),
                    count: fields,
                    request: name_req / fields,
                    usable: (0..fields)
                        .map(|f| sc.usable(p.sds_request(format!("f{f}").len() as u64)).unwrap())
                        .sum::<u64>()
                        / fields,
                });
                v.push(item(&sc, "field value sds", fields, p.sds_request(n)));
                "hashtable"
            }
        }
    };
    Ok((v, enc.into()))
}

/// `p` without Valkey's object-embedded keys: the value's own blocks as a dict layout makes
/// them, for [`key_items`] to keep beside the key's object.
fn without_embedding(p: &RedisProfile) -> RedisProfile {
    let mut q = p.clone();
    q.layout.object_embeds_key = false;
    q.layout.object_embeds_value = false;
    q
}

/// The most elements one explained list, set or sorted set may have, and the most simulated in
/// all (keys x elements).
const MAX_ELEMENTS: u64 = 1_000_000;
const MAX_TOTAL_ELEMENTS: u64 = 2_000_000;

/// The commands that write `key` under `name`: one SET or HSET, or a collection's elements 100
/// at a time.
fn commands(key: KeySpec, name: &[u8]) -> Vec<Vec<Arg>> {
    match key {
        KeySpec::String(n) => vec![vec![
            Arg::Borrowed(b"SET"),
            Arg::Owned(name.to_vec()),
            value_bytes(n),
        ]],
        KeySpec::Hash(fields, n) => {
            let value = value_bytes(n);
            let mut a = vec![Arg::Borrowed(b"HSET"), Arg::Owned(name.to_vec())];
            for f in 0..fields {
                a.push(Arg::Owned(format!("f{f}").into_bytes()));
                a.push(value.clone());
            }
            vec![a]
        }
        KeySpec::Collection {
            kind,
            elements,
            size,
            integers,
        } => {
            let verb: &'static [u8] = match kind {
                Collection::List => b"RPUSH",
                Collection::Set => b"SADD",
                Collection::Zset => b"ZADD",
            };
            let mut out = Vec::new();
            let mut e = 0;
            while e < elements {
                let mut a = vec![Arg::Borrowed(verb), Arg::Owned(name.to_vec())];
                for e in e..(e + 100).min(elements) {
                    if kind == Collection::Zset {
                        a.push(Arg::Owned(e.to_string().into_bytes()));
                    }
                    let mut v = Vec::new();
                    match (integers, kind) {
                        (true, _) => push_integer(&mut v, size, e),
                        (false, Collection::List) => {
                            a.push(value_bytes(size));
                            continue;
                        }
                        (false, _) => push_member(&mut v, size, e),
                    }
                    a.push(Arg::Owned(v));
                }
                out.push(a);
                e += 100;
            }
            out
        }
    }
}

/// Explains one key: its allocations, and the per-key figures measured by writing `keys` keys
/// into a fresh model server. Fails on a hash of more than a million fields
/// ([`ServerError::TooManyFields`]) or a collection of more than a million elements
/// ([`ServerError::TooManyElements`]), integers of more than 19 digits
/// ([`ServerError::IntegerTooLong`]), a value larger than Redis accepts
/// ([`ServerError::ValueTooLarge`]), or a profile whose allocator the model does not have
/// ([`ServerError::Profile`]).
pub fn explain_key(p: &RedisProfile, key: KeySpec, keys: u64) -> Result<KeyCost, ServerError> {
    let value = match key {
        KeySpec::String(n) | KeySpec::Hash(_, n) => n,
        KeySpec::Collection { size, .. } => size,
    };
    /// The most fields one explained key may have, and the most fields simulated in all.
    const MAX_FIELDS: u64 = 1_000_000;
    const MAX_TOTAL_FIELDS: u64 = 2_000_000;
    if let KeySpec::Hash(fields, _) = key {
        if fields > MAX_FIELDS {
            return Err(ServerError::TooManyFields {
                fields,
                max: MAX_FIELDS,
            });
        }
    }
    if let KeySpec::Collection {
        kind,
        elements,
        size,
        integers,
    } = key
    {
        if !(1..=MAX_ELEMENTS).contains(&elements) {
            return Err(ServerError::TooManyElements {
                kind: kind.name(),
                elements,
                max: MAX_ELEMENTS,
            });
        }
        if integers && !(1..=19).contains(&size) {
            return Err(ServerError::IntegerTooLong { digits: size });
        }
    }
    let keys = match key {
        // The cost per key is measured over `keys` keys; a wide hash or a long collection
        // needs fewer of them.
        KeySpec::Hash(fields, _) => keys.min((MAX_TOTAL_FIELDS / fields.max(1)).max(1)),
        KeySpec::Collection { elements, .. } => keys.min((MAX_TOTAL_ELEMENTS / elements).max(1)),
        KeySpec::String(_) => keys,
    };
    if value > p.proto_max_bulk_len {
        return Err(ServerError::ValueTooLarge {
            bytes: value,
            max: p.proto_max_bulk_len,
            profile: p.name.clone(),
        });
    }
    let key_len = format!("key:{}", keys.saturating_sub(1)).len() as u64;
    let mut s = Server::new(p.clone(), 1)?;
    let page = s.heap.arena.size_classes().page();
    let c = s.connect();
    let name = |i: u64| format!("key:{i:0width$}", width = (key_len - 4) as usize).into_bytes();
    // One key first, so that one-time costs (the command's latency histogram, the client's
    // buffers) are not spread over the keys.
    for cmd in commands(key, b"warm") {
        s.exec(c, &cmd)?;
    }
    s.advance(1_000_000_000);
    let before = s.info();
    let t0 = s.arena_stats().touched_pages;
    for i in 0..keys {
        for cmd in commands(key, &name(i)) {
            s.exec(c, &cmd)?;
        }
    }
    s.advance(1_000_000_000);
    let after = s.info();
    // A collection's blocks, and on Valkey 8.1+ a hash's (its own hashtable and entries), as
    // the model laid them out; a key object carrying the key stands for the robj.
    let from_model = match key {
        KeySpec::Collection { .. } => true,
        KeySpec::Hash(..) => p.layout.object_embeds_key,
        KeySpec::String(_) => false,
    };
    let (items, encoding) = match key {
        _ if from_model => {
            let (mut items, _) = key_items(p, key, key_len)?;
            if p.layout.object_embeds_key {
                items.retain(|i| i.what == "object with the key");
            }
            let (encoding, mut blocks) = s.describe_key(&name(0)).expect("the key just written");
            if p.layout.object_embeds_key {
                blocks.retain(|b| b.what != "robj");
            }
            items.extend(blocks.into_iter().map(|b| Item {
                what: b.what,
                count: b.count,
                request: b.requested / b.count.max(1),
                usable: b.usable / b.count.max(1),
            }));
            (items, encoding.to_string())
        }
        _ => key_items(p, key, key_len)?,
    };
    let n = keys as f64;
    Ok(KeyCost {
        profile: p.name.clone(),
        key,
        key_len,
        items,
        used_memory: (after.used_memory as f64 - before.used_memory as f64) / n,
        allocator_active: (after.allocator_active as f64 - before.allocator_active as f64) / n,
        rss: (s.arena_stats().touched_pages - t0) as f64 * page as f64 / n,
        keys,
        encoding,
        conversions: match key {
            KeySpec::Collection { kind, .. } => kind.conversions(p),
            _ => String::new(),
        },
    })
}

/// `text` in lines of at most `width` characters (words kept whole), every line after the
/// first starting with `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out += &line;
            out += "\n";
            out += indent;
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line += word;
    }
    out + &line
}

/// The text `explain --redis` prints.
pub fn render(k: &KeyCost) -> String {
    let what = match k.key {
        KeySpec::String(n) => format!("a string of {} B", group(n)),
        KeySpec::Hash(f, n) => format!("a hash of {} fields x {} B", group(f), group(n)),
        KeySpec::Collection {
            kind,
            elements,
            size,
            integers,
        } => format!(
            "a {} of {} {} x {} {}",
            kind.name(),
            group(elements),
            if kind == Collection::List {
                "elements"
            } else {
                "members"
            },
            group(size),
            if integers { "digits (integers)" } else { "B" }
        ),
    };
    let payload = match k.key {
        KeySpec::String(n) => n,
        KeySpec::Hash(f, n) => f * n,
        KeySpec::Collection { elements, size, .. } => elements * size,
    };
    let mut o = format!(
        "One key holding {what} on {} (encoding: {})\n\n",
        k.profile, k.encoding
    );
    o += &format!(
        "  {:<30} {:>6} {:>12} {:>12}\n",
        "allocation", "count", "requested B", "class B"
    );
    let mut total = 0;
    for i in &k.items {
        o += &format!(
            "  {:<30} {:>6} {:>12} {:>12}\n",
            i.what,
            group(i.count),
            group(i.request),
            group(i.usable)
        );
        total += i.count * i.usable;
    }
    o += &format!(
        "  {:<30} {:>6} {:>12} {:>12}\n",
        "total (without dict buckets)",
        "",
        "",
        group(total)
    );
    o += &format!(
        "\n  per key, measured over {} keys named like \"key:{}\" ({} B):\n",
        group(k.keys),
        "N".repeat((k.key_len - 4) as usize),
        k.key_len
    );
    let line = |name: &str, v: f64| {
        format!(
            "    {name:<18} {:>12.1} B   {:.2}x the payload\n",
            v,
            v / payload.max(1) as f64
        )
    };
    o += &line("used_memory", k.used_memory);
    o += &line("allocator_active", k.allocator_active);
    o += &line("RSS", k.rss);
    if let KeySpec::Collection { kind, .. } = k.key {
        let text = format!("Redis keeps a {} as {}.", kind.name(), k.conversions);
        o += &format!("\n  {}\n", wrap(&text, 92, "  "));
    }
    o += "\n  used_memory counts each allocation's size class (what maxmemory compares); allocator_active\n";
    o += "  adds slab holes and the pad page of large values; RSS counts the pages written.\n";
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::redis::ProfileProblem;

    fn debian() -> RedisProfile {
        RedisProfile::builtin("redis-7.0-debian").unwrap()
    }

    /// A 30,000-byte string under redis-7.0-debian: dictEntry 24 -> 32, key "key:NNN" (7 B,
    /// type 5: 1 + 7 + 1 = 9 -> 16), robj 16, value sds 5 + 30,000 + 1 = 30,006 -> 32,768:
    /// 32,832 B of used_memory per key before the bucket share.
    #[test]
    fn string_30000_debian() {
        let (items, enc) = key_items(&debian(), KeySpec::String(30_000), 7).unwrap();
        assert_eq!(enc, "raw");
        let usable: Vec<u64> = items.iter().map(|i| i.usable).collect();
        assert_eq!(usable, vec![32, 16, 16, 32_768]);
        assert_eq!(items[3].request, 30_006);
    }

    /// What explain refuses, typed, with the text users read.
    #[test]
    fn refusals() {
        let e = explain_key(&debian(), KeySpec::Hash(2_000_000, 10), 1000).unwrap_err();
        assert_eq!(
            e,
            ServerError::TooManyFields {
                fields: 2_000_000,
                max: 1_000_000
            }
        );
        assert_eq!(
            e.to_string(),
            "a hash of 2000000 fields: explain takes up to 1000000 fields per key"
        );
        let e = explain_key(&debian(), KeySpec::String(1 << 30), 1000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a value of 1.0 GiB is larger than the 512.0 MiB Redis accepts in one string \
             (proto-max-bulk-len of profile 'redis-7.0-debian'); Redis refuses it"
        );
        let mut p = debian();
        p.allocator = "tcmalloc".into();
        let e = explain_key(&p, KeySpec::String(10), 1000).unwrap_err();
        assert!(matches!(
            e,
            ServerError::Profile(ProfileProblem::UnknownAllocator { .. })
        ));
        assert_eq!(
            e.to_string(),
            "profile 'redis-7.0-debian': unknown allocator preset 'tcmalloc'"
        );
        assert!(Server::new(p, 1).is_err());
    }

    /// The same value on the 7.0 upstream build (quantum 8): the dictEntry is 24 B.
    #[test]
    fn string_30000_upstream() {
        let p = RedisProfile::builtin("redis-7.0").unwrap();
        let (items, _) = key_items(&p, KeySpec::String(30_000), 7).unwrap();
        let total: u64 = items.iter().map(|i| i.usable).sum();
        assert_eq!(total, 24 + 16 + 16 + 32_768);
    }

    /// Valkey 8.0 keeps the key name in its dict entry: value and next pointers, the header
    /// size byte, the name with an embedded-string argument's type-8 header (3 + 16 + 1):
    /// 17 + 20 = 37 -> 40, then the robj and the value's sds: Appendix M's 2,104 B.
    #[test]
    fn valkey_8_0_embeds_the_name_in_the_entry() {
        let p = RedisProfile::builtin("valkey-8.0").unwrap();
        let (items, enc) = key_items(&p, KeySpec::String(2000), 16).unwrap();
        assert_eq!(enc, "raw");
        let sizes: Vec<(u64, u64)> = items.iter().map(|i| (i.request, i.usable)).collect();
        assert_eq!(sizes, vec![(37, 40), (16, 16), (2006, 2048)]);
        assert_eq!(items[0].what, "dictEntry holding the key name");
    }

    /// Valkey 8.1 and 9.1 keep the key in the value's object: robj 16 + the key's header byte
    /// and sds (1 + 16 + 1 + 1) = 35 -> 40 beside a 2,000-B value's sds (2,088 in all,
    /// Appendix M); a 10-B string is one block with its key: 16 + 19 + 4 + 10 = 49 -> 56 on
    /// 8.1, and 8 + 19 + 14 = 41 -> 48 on 9.1 (the value in place of the pointer).
    #[test]
    fn valkey_objects_carry_their_keys() {
        for (profile, small) in [("valkey-8.1", (49, 56)), ("valkey-9.1", (41, 48))] {
            let p = RedisProfile::builtin(profile).unwrap();
            let (items, enc) = key_items(&p, KeySpec::String(2000), 16).unwrap();
            assert_eq!(enc, "raw");
            let sizes: Vec<(u64, u64)> = items.iter().map(|i| (i.request, i.usable)).collect();
            assert_eq!(sizes, vec![(35, 40), (2006, 2048)], "{profile}");
            assert_eq!(items[0].what, "object with the key");
            let (items, enc) = key_items(&p, KeySpec::String(10), 16).unwrap();
            assert_eq!(enc, "embstr");
            let sizes: Vec<(u64, u64)> = items.iter().map(|i| (i.request, i.usable)).collect();
            assert_eq!(sizes, vec![small], "{profile}");
        }
    }

    /// 2,000 B: sds 5 + 2,000 + 1 = 2,006 -> 2,048; with entry 32, key 16, robj 16: 2,112.
    /// Measured over 1,000 keys after one warm-up key, the bucket table grows from 4 buckets
    /// (32 B) to 1,024 (8 KiB): (8,192 - 32) / 1,000 = 8.16 B more per key.
    #[test]
    fn string_2000_per_key() {
        let k = explain_key(&debian(), KeySpec::String(2000), 1000).unwrap();
        let total: u64 = k.items.iter().map(|i| i.count * i.usable).sum();
        assert_eq!(total, 32 + 16 + 16 + 2048);
        assert_eq!(k.used_memory, 2112.0 + 8.16);
    }

    /// A 20-field hash of 1,500 B values converts to a hashtable: robj 16, dict 56 -> 64,
    /// 32 buckets (256 B), per field entry 32 + name "fN" (type 5, 4-5 B -> 8) + value 5 + 1,500 +
    /// 1 = 1,506 -> 1,536.
    #[test]
    fn valkey_hashes_are_entries_in_a_hashtable() {
        // 600 fields of 20 B: a hashtable; each field and value in one entry (field sds 3 + 3
        // + 1, value sds 3 + 20 + 1, a header byte: 29 -> 32), no dictEntry, no separate sds.
        let p = RedisProfile::builtin("valkey-9.1").unwrap();
        let k = explain_key(&p, KeySpec::Hash(600, 20), 50).unwrap();
        assert_eq!(k.encoding, "hashtable");
        let what: Vec<&str> = k.items.iter().map(|i| i.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "object with the key",
                "hashtable struct and buckets (64 B)",
                "entry: field and value"
            ]
        );
        let entry = &k.items[2];
        assert_eq!((entry.count, entry.request, entry.usable), (600, 29, 32));
        // The blocks listed are what a key costs, but for its share of the keyspace table.
        let listed: u64 = k.items.iter().map(|i| i.count * i.usable).sum();
        assert!(
            (k.used_memory - listed as f64).abs() < 64.0,
            "{} vs {listed}",
            k.used_memory
        );
    }

    #[test]
    fn hash_hashtable_items() {
        let (items, enc) = key_items(&debian(), KeySpec::Hash(20, 1500), 7).unwrap();
        assert_eq!(enc, "hashtable");
        let total: u64 = items.iter().map(|i| i.count * i.usable).sum();
        assert_eq!(total, 32 + 16 + 16 + 64 + 256 + 20 * (32 + 8 + 1536));
    }

    /// 20 fields of 20-byte values stay a listpack: 6 + 20 x (name "fN": 1 + 2..3 + 1, value
    /// 1 + 20 + 1) + 1 bytes.
    #[test]
    fn hash_listpack_items() {
        let (items, enc) = key_items(&debian(), KeySpec::Hash(20, 20), 7).unwrap();
        assert_eq!(enc, "listpack");
        let names: u64 = (0..20).map(|f| if f < 10 { 4 } else { 5 }).sum();
        assert_eq!(items[3].request, 7 + names + 20 * 22);
    }
}
