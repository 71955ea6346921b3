//! The dump's structure: the header, the opcodes, and each value type (`rdbLoadObject`).

use std::io::{Read, Write as _};

use super::encoded::{self, int_len, string2ll, Bad, Entry};
use super::input::{Input, Str, BUF};
use super::{Checksum, ErrorKind, Item, KeyKind, KeyRecord, RdbError, RdbSummary, ReadError, Res};
use crate::redis::lzf;

// Value types (`RDB_TYPE_*`).
const T_STRING: u8 = 0;
const T_LIST: u8 = 1;
const T_SET: u8 = 2;
const T_ZSET: u8 = 3;
const T_HASH: u8 = 4;
const T_ZSET_2: u8 = 5;
const T_MODULE_PRE_GA: u8 = 6;
const T_MODULE_2: u8 = 7;
const T_HASH_ZIPMAP: u8 = 9;
const T_LIST_ZIPLIST: u8 = 10;
const T_SET_INTSET: u8 = 11;
const T_ZSET_ZIPLIST: u8 = 12;
const T_HASH_ZIPLIST: u8 = 13;
const T_LIST_QUICKLIST: u8 = 14;
const T_STREAM_LISTPACKS: u8 = 15;
const T_HASH_LISTPACK: u8 = 16;
const T_ZSET_LISTPACK: u8 = 17;
const T_LIST_QUICKLIST_2: u8 = 18;
const T_STREAM_LISTPACKS_2: u8 = 19;
const T_SET_LISTPACK: u8 = 20;
const T_STREAM_LISTPACKS_3: u8 = 21;
/// Redis: `HASH_METADATA_PRE_GA`; Valkey 9: `HASH_2`.
const T_22: u8 = 22;
const T_HASH_LISTPACK_EX_PRE_GA: u8 = 23;
const T_HASH_METADATA: u8 = 24;
const T_HASH_LISTPACK_EX: u8 = 25;
const T_STREAM_LISTPACKS_4: u8 = 26;

// Opcodes (`RDB_OPCODE_*`).
/// Valkey 9: `SLOT_IMPORT`; Redis 8.2+ (RDB 13): `KEY_META`.
const OP_243: u8 = 243;
const OP_SLOT_INFO: u8 = 244;
const OP_FUNCTION2: u8 = 245;
const OP_FUNCTION_PRE_GA: u8 = 246;
const OP_MODULE_AUX: u8 = 247;
const OP_IDLE: u8 = 248;
const OP_FREQ: u8 = 249;
const OP_AUX: u8 = 250;
const OP_RESIZEDB: u8 = 251;
const OP_EXPIRETIME_MS: u8 = 252;
const OP_EXPIRETIME: u8 = 253;
const OP_SELECTDB: u8 = 254;
const OP_EOF: u8 = 255;

/// Quicklist node containers.
const NODE_PLAIN: u64 = 1;
const NODE_PACKED: u64 = 2;

/// The latest field expiry Redis accepts (`EB_EXPIRE_TIME_MAX`, 2^48 - 1 ms).
const EB_EXPIRE_TIME_MAX: u64 = (1 << 48) - 1;

/// How a value's elements went: none (an empty collection, which servers drop), or the number
/// of hash fields with a TTL.
enum Value {
    Empty,
    Done { fields_with_ttl: u64 },
}

const DONE: Value = Value::Done { fields_with_ttl: 0 };

/// An element as an [`Item`].
#[inline]
fn item_of(e: Entry<'_>) -> Item {
    match e {
        Entry::Int(v) => Item {
            len: int_len(v),
            int: Some(v),
        },
        Entry::Str(s) => Item {
            len: s.len() as u64,
            int: string2ll(s),
        },
    }
}

/// A score's text as a double (`strtod`), not NaN.
fn parse_score(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    let t = if t.starts_with(|c: char| c.is_ascii_whitespace()) {
        t.trim_start()
    } else {
        t
    };
    let v: f64 = t.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// A sorted set's score entry.
#[inline]
fn score_of(e: Entry<'_>) -> Result<f64, &'static str> {
    match e {
        Entry::Int(v) => Ok(v as f64),
        Entry::Str(s) => parse_score(s).ok_or("a score is not a number"),
    }
}

/// The name of a module type from its id (`moduleTypeNameByID`): 9 characters of 6 bits.
fn module_name(id: u64) -> String {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = id >> 10;
    let mut name = [0u8; 9];
    for c in name.iter_mut().rev() {
        *c = CHARSET[(id & 63) as usize];
        id >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

/// Reads a string whole into `out` (decompressed; an integer as its decimal text), with
/// `scratch` for compressed bytes too large for the input buffer.
fn read_whole<R: Read>(input: &mut Input<R>, scratch: &mut Vec<u8>, out: &mut Vec<u8>) -> Res<()> {
    out.clear();
    let start = input.offset();
    match input.str_header()? {
        Str::Raw(n) => input.append(n, out),
        Str::Int(v) => {
            let _ = write!(out, "{v}");
            Ok(())
        }
        Str::Lzf { clen, ulen } => {
            let data: &[u8] = if clen <= BUF as u64 {
                input.take(clen as usize)?
            } else {
                scratch.clear();
                input.append(clen, scratch)?;
                scratch
            };
            if lzf::decompress_exact(data, ulen as usize, out) {
                Ok(())
            } else {
                Err(input.corrupt_at(
                    start,
                    format!("its LZF compression is invalid or does not give the {ulen} bytes it claims"),
                ))
            }
        }
    }
}

/// What a value of type `t` is called in errors.
fn describe(t: u8, valkey: bool) -> &'static str {
    match t {
        T_STRING => "a string value",
        T_LIST => "a list",
        T_SET => "a set",
        T_ZSET | T_ZSET_2 => "a sorted set",
        T_HASH => "a hash",
        T_MODULE_2 => "a module value",
        T_HASH_ZIPMAP => "a hash's zipmap",
        T_LIST_ZIPLIST => "a list's ziplist",
        T_SET_INTSET => "a set's intset",
        T_ZSET_ZIPLIST => "a sorted set's ziplist",
        T_HASH_ZIPLIST => "a hash's ziplist",
        T_LIST_QUICKLIST => "a list's quicklist of ziplists",
        T_HASH_LISTPACK => "a hash's listpack",
        T_ZSET_LISTPACK => "a sorted set's listpack",
        T_LIST_QUICKLIST_2 => "a list's quicklist",
        T_SET_LISTPACK => "a set's listpack",
        T_STREAM_LISTPACKS | T_STREAM_LISTPACKS_2 | T_STREAM_LISTPACKS_3 | T_STREAM_LISTPACKS_4 => "a stream",
        T_22 if valkey => "a hash with field TTLs",
        T_22 | T_HASH_METADATA => "a hash with field TTLs",
        T_HASH_LISTPACK_EX_PRE_GA | T_HASH_LISTPACK_EX => "a hash's listpack with field TTLs",
        _ => "a value",
    }
}

/// The parser: the input, the dump's version, and the buffers reused from key to key.
pub(super) struct Parser<R> {
    input: Input<R>,
    version: u32,
    valkey: bool,
    /// The current key's name.
    key: Vec<u8>,
    items: Vec<Item>,
    scores: Vec<f64>,
    /// A value that must be whole but is larger than the input buffer (or its compressed
    /// bytes).
    blob: Vec<u8>,
    /// A decompressed value.
    unpacked: Vec<u8>,
    /// An AUX field's value.
    text: Vec<u8>,
    /// The dump's `ctime`, in ms, once read.
    saved_ms: Option<i64>,
    sum: RdbSummary,
}

impl<R: Read> Parser<R> {
    pub fn new(r: R) -> Self {
        Parser {
            input: Input::new(r),
            version: 0,
            valkey: false,
            key: Vec::new(),
            items: Vec::new(),
            scores: Vec::new(),
            blob: Vec::new(),
            unpacked: Vec::new(),
            text: Vec::new(),
            saved_ms: None,
            sum: RdbSummary {
                version: 0,
                valkey: false,
                aux: Vec::new(),
                keys: 0,
                streams: 0,
                modules: 0,
                expires: 0,
                empty_skipped: 0,
                dbs: Vec::new(),
                resize_hints: Vec::new(),
                module_types: Vec::new(),
                module_aux: 0,
                functions: 0,
                bytes: 0,
                checksum: Checksum::Absent,
            },
        }
    }

    /// Reads the whole dump.
    pub fn run<F, E>(mut self, mut visit: F) -> Result<RdbSummary, ReadError<E>>
    where
        F: FnMut(&KeyRecord<'_>) -> Result<(), E>,
    {
        self.header()?;
        let mut db = 0u64;
        let mut expire: Option<i64> = None;
        loop {
            self.input.ctx = "an opcode or a key's type";
            let t = self.input.u8()?;
            match t {
                OP_EOF => break,
                OP_SELECTDB => {
                    self.input.ctx = "a SELECTDB opcode";
                    db = self.input.len()?;
                }
                OP_EXPIRETIME => {
                    self.input.ctx = "an expiry";
                    expire = Some(i64::from(i32::from_le_bytes(self.input.array()?)) * 1000);
                }
                OP_EXPIRETIME_MS => {
                    self.input.ctx = "an expiry";
                    expire = Some(i64::from_le_bytes(self.input.array()?));
                }
                OP_RESIZEDB => {
                    self.input.ctx = "a RESIZEDB opcode";
                    let keys = self.input.len()?;
                    let expires = self.input.len()?;
                    self.sum.resize_hints.push((db, keys, expires));
                }
                OP_AUX => {
                    self.input.ctx = "an AUX field";
                    read_whole(&mut self.input, &mut self.blob, &mut self.key)?;
                    read_whole(&mut self.input, &mut self.blob, &mut self.text)?;
                    if self.key == b"ctime" {
                        self.saved_ms = std::str::from_utf8(&self.text)
                            .ok()
                            .and_then(|t| t.parse::<i64>().ok())
                            .map(|s| s.saturating_mul(1000));
                    }
                    self.sum.aux.push((
                        String::from_utf8_lossy(&self.key).into_owned(),
                        String::from_utf8_lossy(&self.text).into_owned(),
                    ));
                }
                OP_FREQ => {
                    self.input.ctx = "an LFU frequency";
                    self.input.u8()?;
                }
                OP_IDLE => {
                    self.input.ctx = "an LRU idle time";
                    self.input.len()?;
                }
                OP_MODULE_AUX => {
                    self.input.ctx = "module AUX data";
                    self.input.len()?;
                    let when_opcode = self.input.len()?;
                    if when_opcode != 2 {
                        return Err(self
                            .input
                            .corrupt(format!("its 'when' opcode is {when_opcode}, not 2 (UINT)"))
                            .into());
                    }
                    self.input.len()?;
                    self.module_values()?;
                    self.sum.module_aux += 1;
                }
                OP_FUNCTION_PRE_GA => {
                    return Err(ReadError::Rdb(self.error_before(ErrorKind::Unsupported {
                        what: "Redis 7.0 RC function data (opcode 246)",
                    })))
                }
                OP_FUNCTION2 => {
                    self.input.ctx = "a function library";
                    self.input.skip_string()?;
                    self.sum.functions += 1;
                }
                OP_SLOT_INFO => {
                    self.input.ctx = "a SLOT_INFO opcode";
                    for _ in 0..3 {
                        self.input.len()?;
                    }
                }
                OP_243 if self.valkey => {
                    self.input.ctx = "a SLOT_IMPORT opcode";
                    self.input.skip_string()?;
                    let ranges = self.input.len()?;
                    for _ in 0..ranges {
                        self.input.len()?;
                        self.input.len()?;
                    }
                }
                OP_243 if self.version >= 13 => {
                    // KEY_META: module metadata classes, each a 4-byte class spec and a module
                    // value; then the key's type.
                    self.input.ctx = "a key's metadata (KEY_META)";
                    let classes = self.input.len()?;
                    for _ in 0..classes {
                        self.input.skip(4)?;
                        self.module_values()?;
                    }
                }
                _ => {
                    self.key_value(t, db, expire, &mut visit)?;
                    expire = None;
                }
            }
        }
        self.input.ctx = "the checksum";
        let computed = self.input.checksum();
        let at = self.input.offset();
        let stored = u64::from_le_bytes(self.input.array()?);
        self.sum.checksum = if stored == 0 {
            Checksum::Absent
        } else if stored != computed {
            return Err(ReadError::Rdb(RdbError {
                offset: at,
                kind: ErrorKind::ChecksumMismatch { stored, computed },
            }));
        } else {
            Checksum::Verified(stored)
        };
        let extra = self.input.rest()?;
        if extra > 0 {
            return Err(ReadError::Rdb(RdbError {
                offset: at + 8,
                kind: ErrorKind::Trailing { extra },
            }));
        }
        self.sum.bytes = at + 8;
        Ok(self.sum)
    }

    /// An error about the byte just read.
    #[cold]
    fn error_before(&self, kind: ErrorKind) -> RdbError {
        RdbError {
            offset: self.input.offset() - 1,
            kind,
        }
    }

    /// The magic string and version.
    fn header(&mut self) -> Res<()> {
        self.input.ctx = "the header (magic string and version)";
        let h: [u8; 9] = self.input.array()?;
        let (valkey, digits) = if &h[..5] == b"REDIS" {
            (false, &h[5..])
        } else if &h[..6] == b"VALKEY" {
            (true, &h[6..])
        } else {
            return Err(Box::new(RdbError {
                offset: 0,
                kind: ErrorKind::NotRdb { start: h.to_vec() },
            }));
        };
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(Box::new(RdbError {
                offset: 0,
                kind: ErrorKind::NotRdb { start: h.to_vec() },
            }));
        }
        let version = digits.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        let supported = if valkey {
            version == 80
        } else {
            (9..=13).contains(&version)
        };
        if !supported {
            return Err(Box::new(RdbError {
                offset: 9 - digits.len() as u64,
                kind: ErrorKind::UnsupportedVersion { version, valkey },
            }));
        }
        self.version = version;
        self.valkey = valkey;
        self.sum.version = version;
        self.sum.valkey = valkey;
        Ok(())
    }

    /// The kind of value type `t` in this dump's version, if it has that type.
    fn kind_of(&self, t: u8) -> Option<KeyKind> {
        let v = if self.valkey { 11 } else { self.version };
        let redis = !self.valkey;
        Some(match t {
            T_STRING => KeyKind::String,
            T_LIST | T_LIST_ZIPLIST | T_LIST_QUICKLIST => KeyKind::List,
            T_LIST_QUICKLIST_2 if v >= 10 => KeyKind::List,
            T_SET | T_SET_INTSET => KeyKind::Set,
            T_SET_LISTPACK if v >= 11 => KeyKind::Set,
            T_ZSET | T_ZSET_2 | T_ZSET_ZIPLIST => KeyKind::Zset,
            T_ZSET_LISTPACK if v >= 10 => KeyKind::Zset,
            T_HASH | T_HASH_ZIPMAP | T_HASH_ZIPLIST => KeyKind::Hash,
            T_HASH_LISTPACK if v >= 10 => KeyKind::Hash,
            T_22 if self.valkey => KeyKind::Hash,
            T_22..=T_HASH_LISTPACK_EX if redis && v >= 12 => KeyKind::Hash,
            T_STREAM_LISTPACKS => KeyKind::Stream,
            T_STREAM_LISTPACKS_2 if v >= 10 => KeyKind::Stream,
            T_STREAM_LISTPACKS_3 if v >= 11 => KeyKind::Stream,
            T_STREAM_LISTPACKS_4 if redis && v >= 13 => KeyKind::Stream,
            T_MODULE_2 => KeyKind::Module,
            _ => return None,
        })
    }

    /// A key of type `t` (already read), its name and value; given to `visit`.
    fn key_value<F, E>(
        &mut self,
        t: u8,
        db: u64,
        expire_ms: Option<i64>,
        visit: &mut F,
    ) -> Result<(), ReadError<E>>
    where
        F: FnMut(&KeyRecord<'_>) -> Result<(), E>,
    {
        let Some(kind) = self.kind_of(t) else {
            let kind = if t == T_MODULE_PRE_GA {
                ErrorKind::Unsupported {
                    what: "a Redis 4.0 RC module value (type 6)",
                }
            } else {
                ErrorKind::UnknownType {
                    byte: t,
                    version: self.version,
                    valkey: self.valkey,
                }
            };
            return Err(ReadError::Rdb(self.error_before(kind)));
        };
        self.input.ctx = "a key's name";
        read_whole(&mut self.input, &mut self.blob, &mut self.key)?;
        self.items.clear();
        self.scores.clear();
        self.input.ctx = describe(t, self.valkey);
        let fields_with_ttl = match self.value(t)? {
            Value::Empty => {
                self.sum.empty_skipped += 1;
                return Ok(());
            }
            Value::Done { fields_with_ttl } => fields_with_ttl,
        };
        match kind {
            KeyKind::Stream => self.sum.streams += 1,
            KeyKind::Module => self.sum.modules += 1,
            _ => self.sum.keys += 1,
        }
        self.sum.expires += u64::from(expire_ms.is_some());
        match self.sum.dbs.iter_mut().rev().find(|(d, _)| *d == db) {
            Some((_, n)) => *n += 1,
            None => self.sum.dbs.push((db, 1)),
        }
        let rec = KeyRecord {
            db,
            key: &self.key,
            kind,
            rdb_type: t,
            expire_ms,
            items: &self.items,
            scores: &self.scores,
            fields_with_ttl,
            saved_ms: self.saved_ms,
        };
        visit(&rec).map_err(ReadError::Visit)
    }

    /// A string element, measured: its length, and up to 20 bytes whether it is an integer.
    /// Longer strings are skipped, compressed or not.
    #[inline]
    fn item(&mut self) -> Res<Item> {
        if let Some(s) = self.input.short_str() {
            return Ok(Item {
                len: s.len() as u64,
                int: string2ll(s),
            });
        }
        self.item_slow()
    }

    fn item_slow(&mut self) -> Res<Item> {
        match self.input.str_header()? {
            Str::Raw(n) => {
                if n <= 20 {
                    let s = self.input.take(n as usize)?;
                    Ok(Item {
                        len: n,
                        int: string2ll(s),
                    })
                } else {
                    self.input.skip(n)?;
                    Ok(Item { len: n, int: None })
                }
            }
            Str::Int(v) => Ok(Item {
                len: int_len(v),
                int: Some(v),
            }),
            Str::Lzf { clen, ulen } => {
                if ulen > 20 {
                    self.input.skip(clen)?;
                    return Ok(Item { len: ulen, int: None });
                }
                // Servers compress only longer strings; a short one must be looked at. 20
                // bytes take at most 40 (a control byte each).
                let at = self.input.offset();
                if clen > 40 {
                    return Err(self
                        .input
                        .corrupt_at(at, format!("{clen} LZF bytes cannot stand for only {ulen}")));
                }
                let mut out = [0u8; 20];
                let data = self.input.take(clen as usize)?;
                if lzf::decompress_to(data, &mut out[..ulen as usize]) != Some(ulen as usize) {
                    return Err(self
                        .input
                        .corrupt_at(at, "a string's LZF compression is invalid".to_string()));
                }
                Ok(Item {
                    len: ulen,
                    int: string2ll(&out[..ulen as usize]),
                })
            }
        }
    }

    /// `n` string elements into `items`.
    fn items(&mut self, n: u64) -> Res<()> {
        for _ in 0..n {
            let it = self.item()?;
            self.items.push(it);
        }
        Ok(())
    }

    /// A value that must be whole to be decoded (a listpack, ziplist, intset or zipmap, maybe
    /// LZF-compressed), given to `f` with the element buffers; a [`Bad`] becomes an error at
    /// its byte in the file (at the string when it was compressed).
    fn with_blob<T>(
        &mut self,
        f: impl FnOnce(&[u8], &mut Vec<Item>, &mut Vec<f64>) -> Result<T, Bad>,
    ) -> Res<T> {
        let Parser {
            input,
            blob,
            unpacked,
            items,
            scores,
            ..
        } = self;
        let start = input.offset();
        let header = input.str_header()?;
        let data_at = input.offset();
        let (data, compressed): (&[u8], bool) = match header {
            Str::Raw(n) => {
                if n <= BUF as u64 {
                    (input.take(n as usize)?, false)
                } else {
                    blob.clear();
                    input.append(n, blob)?;
                    (&blob[..], false)
                }
            }
            Str::Int(v) => {
                return Err(input.corrupt_at(
                    start,
                    format!("it is the integer {v} where an encoded value was expected"),
                ))
            }
            Str::Lzf { clen, ulen } => {
                let c: &[u8] = if clen <= BUF as u64 {
                    input.take(clen as usize)?
                } else {
                    blob.clear();
                    input.append(clen, blob)?;
                    blob
                };
                if !lzf::decompress_exact(c, ulen as usize, unpacked) {
                    return Err(input.corrupt_at(
                        start,
                        format!(
                            "its LZF compression is invalid or does not give the {ulen} bytes it \
                             claims"
                        ),
                    ));
                }
                (&unpacked[..], true)
            }
        };
        f(data, items, scores).map_err(|b| {
            if compressed {
                input.corrupt_at(start, format!("{} (at byte {} of it, decompressed)", b.why, b.at))
            } else {
                input.corrupt_at(data_at + b.at as u64, b.why.to_string())
            }
        })
    }

    /// A listpack's (or, with `ziplist`, a ziplist's) entries as items; `pairs`: an even
    /// number is required.
    fn encoded_items(&mut self, ziplist: bool, pairs: bool) -> Res<usize> {
        self.with_blob(|b, items, _| {
            let push = |e| {
                items.push(item_of(e));
                Ok(())
            };
            let n = if ziplist {
                encoded::ziplist(b, push)?
            } else {
                encoded::listpack(b, push)?
            };
            if pairs && n % 2 != 0 {
                return Err(Bad {
                    at: 0,
                    why: if ziplist {
                        "a ziplist of pairs has an odd number of entries"
                    } else {
                        "a listpack of pairs has an odd number of entries"
                    },
                });
            }
            Ok(n)
        })
    }

    /// A sorted set's listpack or ziplist: member, score, member, score, ...
    fn zset_pairs(&mut self, ziplist: bool) -> Res<usize> {
        self.with_blob(|b, items, scores| {
            let mut member = true;
            let each = |e: Entry<'_>| {
                if member {
                    items.push(item_of(e));
                } else {
                    scores.push(score_of(e)?);
                }
                member = !member;
                Ok(())
            };
            let n = if ziplist {
                encoded::ziplist(b, each)?
            } else {
                encoded::listpack(b, each)?
            };
            if n % 2 != 0 {
                return Err(Bad {
                    at: 0,
                    why: "a sorted set's entries are not member-score pairs",
                });
            }
            Ok(n)
        })
    }

    /// A hash's listpack with TTLs: field, value, TTL (0: none); the number of entries and of
    /// fields with a TTL.
    fn hash_listpack_ex(&mut self) -> Res<(usize, u64)> {
        self.with_blob(|lp, items, _| {
            let (mut k, mut with_ttl) = (0u64, 0u64);
            let n = encoded::listpack(lp, |e| {
                if k % 3 < 2 {
                    items.push(item_of(e));
                } else {
                    let ttl = match e {
                        Entry::Int(v) => v,
                        Entry::Str(s) => string2ll(s).ok_or("a field's TTL is not an integer")?,
                    };
                    with_ttl += u64::from(ttl != 0);
                }
                k += 1;
                Ok(())
            })?;
            if n % 3 != 0 {
                return Err(Bad {
                    at: 0,
                    why: "a hash's listpack with TTLs is not field-value-TTL triplets",
                });
            }
            Ok((n, with_ttl))
        })
    }

    /// A score in text (`rdbLoadDoubleValue`): a length byte (253 NaN, 254 +inf, 255 -inf)
    /// and that many characters.
    fn text_score(&mut self) -> Res<f64> {
        let at = self.input.offset();
        let l = self.input.u8()?;
        match l {
            253 => Err(self.input.corrupt_at(at, "a score is NaN".to_string())),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let s = self.input.take(usize::from(l))?;
                match parse_score(s) {
                    Some(v) => Ok(v),
                    None => Err(self.input.corrupt_at(at, "a score is not a number".to_string())),
                }
            }
        }
    }

    /// A module value's opcodes up to its EOF (`rdbLoadCheckModuleValue`).
    fn module_values(&mut self) -> Res<()> {
        loop {
            let at = self.input.offset();
            match self.input.len()? {
                0 => return Ok(()),
                1 | 2 => {
                    self.input.len()?;
                }
                3 => self.input.skip(4)?,
                4 => self.input.skip(8)?,
                5 => self.input.skip_string()?,
                op => {
                    return Err(self
                        .input
                        .corrupt_at(at, format!("a module value has the unknown opcode {op}")))
                }
            }
        }
    }

    /// Walks a stream (`RDB_TYPE_STREAM_LISTPACKS` 1 to 4) without keeping anything.
    fn stream(&mut self, t: u8) -> Res<()> {
        let i = &mut self.input;
        let nodes = i.len()?;
        for _ in 0..nodes {
            let at = i.offset();
            match i.str_header()? {
                Str::Raw(16) => i.skip(16)?,
                _ => return Err(i.corrupt_at(at, "a stream node's master ID is not 16 bytes".to_string())),
            }
            i.skip_string()?;
        }
        // Length, last ID; then first ID, max deleted ID, entries added.
        let n = if t >= T_STREAM_LISTPACKS_2 { 8 } else { 3 };
        for _ in 0..n {
            i.len()?;
        }
        let groups = i.len()?;
        for _ in 0..groups {
            i.skip_string()?;
            i.len()?;
            i.len()?;
            if t >= T_STREAM_LISTPACKS_2 {
                i.len()?;
            }
            // The group's pending entries: a raw ID, a delivery time, a delivery count.
            let pel = i.len()?;
            for _ in 0..pel {
                i.skip(16 + 8)?;
                i.len()?;
            }
            let consumers = i.len()?;
            for _ in 0..consumers {
                i.skip_string()?;
                i.skip(if t >= T_STREAM_LISTPACKS_3 { 16 } else { 8 })?;
                let pel = i.len()?;
                i.skip(pel.saturating_mul(16))?;
            }
        }
        if t == T_STREAM_LISTPACKS_4 {
            // IDMP: duration, max entries, producers (a name and IID, ID entries), IIDs added
            // and duplicates.
            i.len()?;
            i.len()?;
            let producers = i.len()?;
            for _ in 0..producers {
                i.skip_string()?;
                let entries = i.len()?;
                for _ in 0..entries {
                    i.skip_string()?;
                    i.len()?;
                    i.len()?;
                }
            }
            i.len()?;
            i.len()?;
        }
        Ok(())
    }

    /// A hash with field TTLs in plain form: Redis's `HASH_METADATA` (`min_expire`: a minimum
    /// expiry first, TTLs relative to it) or `HASH_METADATA_PRE_GA` (absolute TTLs), each
    /// field as (TTL, field, value); the number of fields with a TTL.
    fn hash_metadata(&mut self, min_expire: bool) -> Res<Option<u64>> {
        if min_expire {
            self.input.skip(8)?;
        }
        let n = self.input.len()?;
        let mut with_ttl = 0;
        for _ in 0..n {
            let at = self.input.offset();
            let ttl = self.input.len()?;
            if !min_expire && ttl > EB_EXPIRE_TIME_MAX {
                return Err(self
                    .input
                    .corrupt_at(at, format!("a field's expiry {ttl} is out of range")));
            }
            with_ttl += u64::from(ttl != 0);
            let f = self.item()?;
            let v = self.item()?;
            self.items.push(f);
            self.items.push(v);
        }
        Ok((n > 0).then_some(with_ttl))
    }

    /// The value of a key of type `t`.
    fn value(&mut self, t: u8) -> Res<Value> {
        let nonempty = |n: usize| if n == 0 { Value::Empty } else { DONE };
        Ok(match t {
            T_STRING => {
                let it = self.item()?;
                self.items.push(it);
                DONE
            }
            T_LIST | T_SET => {
                let n = self.input.len()?;
                self.items(n)?;
                nonempty(n as usize)
            }
            T_HASH => {
                let n = self.input.len()?;
                self.items(n.saturating_mul(2))?;
                nonempty(n as usize)
            }
            T_ZSET | T_ZSET_2 => {
                let n = self.input.len()?;
                for _ in 0..n {
                    let it = self.item()?;
                    self.items.push(it);
                    let score = if t == T_ZSET {
                        self.text_score()?
                    } else {
                        let at = self.input.offset();
                        let v = f64::from_le_bytes(self.input.array()?);
                        if v.is_nan() {
                            return Err(self.input.corrupt_at(at, "a score is NaN".to_string()));
                        }
                        v
                    };
                    self.scores.push(score);
                }
                nonempty(n as usize)
            }
            T_MODULE_2 => {
                let id = self.input.len()?;
                self.module_values()?;
                let name = module_name(id);
                match self.sum.module_types.iter_mut().find(|(m, _)| *m == name) {
                    Some((_, n)) => *n += 1,
                    None => self.sum.module_types.push((name, 1)),
                }
                DONE
            }
            T_HASH_ZIPMAP => {
                let n = self.with_blob(|zm, items, _| {
                    encoded::zipmap(zm, |s| {
                        items.push(Item {
                            len: s.len() as u64,
                            int: string2ll(s),
                        })
                    })
                })?;
                nonempty(n)
            }
            T_LIST_ZIPLIST => nonempty(self.encoded_items(true, false)?),
            T_HASH_ZIPLIST => nonempty(self.encoded_items(true, true)?),
            T_SET_INTSET => {
                let n = self.with_blob(|is, items, _| {
                    encoded::intset(is, |v| {
                        items.push(Item {
                            len: int_len(v),
                            int: Some(v),
                        })
                    })
                })?;
                nonempty(n)
            }
            T_ZSET_ZIPLIST => nonempty(self.zset_pairs(true)?),
            T_ZSET_LISTPACK => nonempty(self.zset_pairs(false)?),
            T_HASH_LISTPACK => nonempty(self.encoded_items(false, true)?),
            T_SET_LISTPACK => nonempty(self.encoded_items(false, false)?),
            T_LIST_QUICKLIST => {
                let nodes = self.input.len()?;
                for _ in 0..nodes {
                    self.encoded_items(true, false)?;
                }
                nonempty(self.items.len())
            }
            T_LIST_QUICKLIST_2 => {
                let nodes = self.input.len()?;
                for _ in 0..nodes {
                    let at = self.input.offset();
                    match self.input.len()? {
                        NODE_PLAIN => {
                            let it = self.item()?;
                            if it.len == 0 {
                                return Err(self.input.corrupt_at(at, "a plain node is empty".to_string()));
                            }
                            self.items.push(it);
                        }
                        NODE_PACKED => {
                            self.encoded_items(false, false)?;
                        }
                        c => {
                            return Err(self.input.corrupt_at(
                                at,
                                format!(
                                    "a quicklist node's container is {c}, neither 1 (plain) nor 2 (packed)"
                                ),
                            ))
                        }
                    }
                }
                nonempty(self.items.len())
            }
            T_STREAM_LISTPACKS | T_STREAM_LISTPACKS_2 | T_STREAM_LISTPACKS_3 | T_STREAM_LISTPACKS_4 => {
                self.stream(t)?;
                DONE
            }
            T_22 if self.valkey => {
                // HASH_2: field, value, and an absolute expiry in ms (-1: none).
                let n = self.input.len()?;
                let mut with_ttl = 0;
                for _ in 0..n {
                    let f = self.item()?;
                    let v = self.item()?;
                    self.items.push(f);
                    self.items.push(v);
                    let at = self.input.offset();
                    let e = i64::from_le_bytes(self.input.array()?);
                    if e < -1 {
                        return Err(self
                            .input
                            .corrupt_at(at, format!("a field's expiry {e} is out of range")));
                    }
                    with_ttl += u64::from(e != -1);
                }
                if n == 0 {
                    Value::Empty
                } else {
                    Value::Done {
                        fields_with_ttl: with_ttl,
                    }
                }
            }
            T_22 | T_HASH_METADATA => match self.hash_metadata(t == T_HASH_METADATA)? {
                None => Value::Empty,
                Some(fields_with_ttl) => Value::Done { fields_with_ttl },
            },
            T_HASH_LISTPACK_EX_PRE_GA | T_HASH_LISTPACK_EX => {
                if t == T_HASH_LISTPACK_EX {
                    self.input.skip(8)?;
                }
                let (n, fields_with_ttl) = self.hash_listpack_ex()?;
                if n == 0 {
                    Value::Empty
                } else {
                    Value::Done { fields_with_ttl }
                }
            }
            _ => unreachable!("kind_of admits only the types handled here"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_from_ids() {
        // "ReJSON-RL" at encoding version 3, as RedisJSON registers it.
        let cs = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let id = b"ReJSON-RL".iter().fold(0u64, |v, c| {
            (v << 6) | cs.iter().position(|x| x == c).unwrap() as u64
        });
        assert_eq!(module_name((id << 10) | 3), "ReJSON-RL");
    }

    #[test]
    fn scores_parse_like_strtod() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0.10000000000000001"), Some(0.1));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b"x"), None);
    }
}
