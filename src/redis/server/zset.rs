//! Sorted sets (t_zset.c, object.c), allocation by allocation as Redis 7.0 makes them.
//!
//! - A new key (`zaddGenericCommand`) is an empty listpack (`createZsetListpackObject`: `lpNew`,
//!   then the robj), or a skiplist from the start (`createZsetObject`: the `zset` struct,
//!   `dictCreate`, `zslCreate` with its 32-level header node, then the robj) when
//!   `zset-max-listpack-entries` is 0 or the command's first member is longer than
//!   `zset-max-listpack-value`. ZADD first allocates its array of parsed scores and frees it
//!   when done.
//! - `zsetAdd` on a listpack (`zzlFind`, `zzlInsert`/`zzlInsertAt`, `zzlDelete`): the member's
//!   entry then the score's (an integer entry when `double2ll` takes the score, else the
//!   `d2string` text), the block reallocated by `lpInsert` when it outgrows its usable size; a
//!   score update deletes the pair (`lpDeleteRangeWithEntry`, which shrinks the block to fit)
//!   and inserts it again. A new member that would make the listpack hold more than
//!   `zset-max-listpack-entries`, or one longer than `zset-max-listpack-value`, first converts
//!   it (`zsetConvert`: the `zset` struct, the dict struct, the skiplist and its header, then
//!   per member in order an sds, a node of `zslRandomLevel` levels and a dict entry, the dict
//!   growing as `dictAdd` grows it; then the listpack freed). 7.0 never converts back on
//!   removals.
//! - `zsetAdd` on a skiplist: `dictFind`, then for a new member an sds (`sdsdup`), a node
//!   (`zslInsert`, `zslCreateNode`) and a dict entry (`dictAdd`) whose key is that same sds;
//!   for a new score `zslUpdateScore`: in place when the node keeps its place, else a new node
//!   of a new level and the old one freed (its sds kept).
//! - ZREM (`zremCommand`, `zsetDel`, `zsetRemoveFromSkiplist`) and ZREMRANGEBYRANK
//!   (`zremrangeGenericCommand`, `zzlDeleteRangeByRank`/`lpDeleteRange`,
//!   `zslDeleteRangeByRank`): a listpack shrinks to fit; a skiplist frees per member its dict
//!   entry, then its sds and node (`zslFreeNode`), and shrinks its dict (`htNeedsResize`,
//!   `dictResize`) after each ZREM member and after a ZREMRANGEBYRANK. A sorted set left empty
//!   loses its key.
//! - `freeZsetObject`: `dictRelease` (the entries bucket by bucket, the tables, the dict
//!   struct; the keys are the nodes' sds, not freed there), `zslFree` (the header, then each
//!   node's sds and the node, in order, then the `zskiplist`), the `zset` struct; then the robj.
//! - `objectComputeSize`'s sorted-set case for `MEMORY USAGE`.
//!
//! The payload a sorted set holds is its members' bytes and their scores' texts as the client
//! sent them (a score an increment made: its text as the reply gives it); the blocks holding
//! them (the footprint) are the listpack, or each member's sds and node.
//!
//! The model keeps each member's bytes, score, and (skiplist) its three blocks and level; a
//! listpack's members in one packed buffer in listpack order, a skiplist's in a record table
//! with a name index and an order of record numbers kept in blocks (`Skiplist`): no allocation
//! per member.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use crate::jemalloc::{Arena, ObjId};
use crate::redis::dict::Dict;
use crate::redis::encoding::{
    as_integer, format_g17, listpack_entry, listpack_score_entry, LISTPACK_OVERHEAD,
};
use crate::redis::heap::Alloc;
use crate::redis::profile::{RedisProfile, TableKind};

use super::dispatch::{unsupported, Cmd, Reply};
use super::keytable::NameHasher;
use super::tagindex::TagIndex;
use super::value::{
    add_sampled, listpack_structure, Aggregate, BlockKind, Blocks, Draws, Mem, Value, ValueType,
};
use super::vktable::{Kind, VkTable};
use super::Server;

/// `ZSKIPLIST_MAXLEVEL` (server.h): the most levels a node gets, and the header node's levels.
const MAX_LEVEL: u64 = 32;

/// What `zslRandomLevel` compares `random()` (31 bits) with: `ZSKIPLIST_P * RAND_MAX` as an
/// int, 0.25 × (2^31 − 1) truncated. Each draw below it adds a level.
const LEVEL_THRESHOLD: u64 = 536_870_911;

/// `LISTPACK_MAX_SAFETY_SIZE` (listpack.c): `lpSafeToAdd` refuses to grow a listpack past
/// 1 GiB, and the sorted set converts instead.
const LISTPACK_SAFETY: u64 = 1 << 30;

/// The options of a ZADD (or ZINCRBY: INCR) and where its score/member pairs start among the
/// arguments after the key.
#[derive(Debug, Clone, Copy, Default)]
struct ZaddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    incr: bool,
    pairs_at: usize,
}

impl ZaddFlags {
    /// What a member's score `cur` becomes under these flags given `score` (`zsetAdd` on an
    /// existing member): `None` (the command fails: an increment made NaN); `Some(None)` when
    /// the member stays as it is (NX, a GT or LT not met, or the same score); else the new
    /// score.
    fn updated(&self, cur: f64, score: f64) -> Option<Option<f64>> {
        if self.nx {
            return Some(None);
        }
        let score = if self.incr { score + cur } else { score };
        if score.is_nan() {
            return None;
        }
        if (self.lt && score >= cur) || (self.gt && score <= cur) || score == cur {
            return Some(None);
        }
        Some(Some(score))
    }
}

/// `zaddGenericCommand`'s option parsing and checks on `args` (after the key).
fn parse_zadd(cmd: Cmd, args: &[&[u8]]) -> Result<ZaddFlags, &'static str> {
    let mut f = ZaddFlags {
        incr: cmd == Cmd::Zincrby,
        ..ZaddFlags::default()
    };
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let is = |w: &[u8]| a.eq_ignore_ascii_case(w);
        if is(b"nx") {
            f.nx = true;
        } else if is(b"xx") {
            f.xx = true;
        } else if is(b"incr") {
            f.incr = true;
        } else if is(b"gt") {
            f.gt = true;
        } else if is(b"lt") {
            f.lt = true;
        } else if !is(b"ch") {
            break;
        }
        i += 1;
    }
    let elements = args.len() - i;
    if elements == 0 || elements % 2 != 0 {
        return Err("ZADD needs score/member pairs");
    }
    if f.nx && f.xx {
        return Err("XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err("GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && elements > 2 {
        return Err("INCR option supports a single increment-element pair");
    }
    f.pairs_at = i;
    Ok(f)
}

/// A score argument as `getDoubleFromObject` reads it (`string2d`: `strtod` over the whole
/// argument, no leading space, no NaN, no overflow to ±HUGE_VAL, no underflow to zero).
/// Hexadecimal floats, which `strtod` also takes, are refused.
fn parse_score(s: &[u8]) -> Option<f64> {
    let first = *s.first()?;
    if first.is_ascii_whitespace() || first == 0x0b {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    let body = text.trim_start_matches(['+', '-']);
    if v.is_infinite() && !(body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity")) {
        return None; // ERANGE, overflow
    }
    let mantissa = body.split(['e', 'E']).next().unwrap_or("");
    if v == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        return None; // ERANGE, underflow to zero
    }
    Some(v)
}

/// The longest member among score/member `pairs` (`zaddGenericCommand`'s `maxelelen`).
fn longest(pairs: &[&[u8]]) -> u64 {
    pairs
        .chunks(2)
        .filter_map(|p| p.get(1))
        .map(|m| m.len() as u64)
        .max()
        .unwrap_or(0)
}

/// The length of a score's text kept for payload accounting, saturated.
fn text_len(n: usize) -> u16 {
    n.min(u16::MAX as usize) as u16
}

/// `zslRandomLevel`: one more level per `random()` below [`LEVEL_THRESHOLD`], at most
/// [`MAX_LEVEL`].
fn random_level(draws: &mut Draws) -> u8 {
    #[cfg(test)]
    if let Some(l) = tests::fixed_level() {
        return l;
    }
    let mut level = 1u64;
    // random(): 31 random bits.
    while draws.below(1 << 31) < LEVEL_THRESHOLD {
        level += 1;
    }
    level.min(MAX_LEVEL) as u8
}

/// Bytes `zslCreateNode` asks for a node of `level` levels holding a member of `len` bytes:
/// `sizeof(zskiplistNode)` and a `zskiplistLevel` per level (24 + 16 × level on x86-64); on
/// Valkey 9.1 (`zset_node_embeds_member`: valkey 9.1.2 `src/t_zset.c` `zslCreateNode`),
/// `zslGetNodeAllocSize(level)` (16 + 16 × level), a header-size byte and the member's sds
/// (`sdsReqSize(len, sdsReqType(len))`: type 5, 1 byte of header, below 32 B, even when empty).
fn node_request(profile: &RedisProfile, level: u64, len: u64) -> u64 {
    let node = profile.types.zskiplist_node + level * profile.types.zskiplist_level;
    if profile.layout.zset_node_embeds_member {
        let header = if len == 0 {
            profile.sds_types.first().map_or(1, |t| t.1)
        } else {
            profile.sds_header(len)
        };
        node + 1 + header + len + 1
    } else {
        node
    }
}

/// Bytes `zslCreate` asks for the header node (Redis, Valkey 8.1: [`MAX_LEVEL`] levels, no
/// member: 24 + 32 × 16 = 536).
fn header_request(profile: &RedisProfile) -> u64 {
    profile.types.zskiplist_node + MAX_LEVEL * profile.types.zskiplist_level
}

fn put_varint(buf: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        buf.push(x as u8 | 0x80);
        x >>= 7;
    }
    buf.push(x as u8);
}

fn get_varint(buf: &[u8], at: &mut usize) -> u64 {
    let mut x = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*at];
        *at += 1;
        x |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return x;
        }
        shift += 7;
    }
}

fn varint_len(mut x: u64) -> u64 {
    let mut n = 1;
    while x >= 0x80 {
        x >>= 7;
        n += 1;
    }
    n
}

/// The order of the skiplist: by score, ties by member bytes (`sdscmp`: `memcmp`, then the
/// shorter first). Scores are never NaN; -0 and 0 compare equal, as C's `<` and `==` have them.
fn order_of(a_score: f64, a_name: &[u8], b_score: f64, b_name: &[u8]) -> Ordering {
    a_score
        .partial_cmp(&b_score)
        .expect("scores are never NaN")
        .then_with(|| a_name.cmp(b_name))
}

// ---------------------------------------------------------------------------------------------
// The listpack encoding's members.

/// The members of a listpack-encoded sorted set, in listpack order, packed in one buffer: per
/// member the name's length (a LEB128 varint), the name, the score (8 bytes, as the listpack
/// reads it back) and the length of its text as the client sent it (2 bytes). One allocation
/// per sorted set, 11 bytes and the name per member.
#[derive(Debug, Clone, Default)]
struct LpItems {
    buf: Vec<u8>,
    n: usize,
}

/// One member of a listpack, as [`LpItems::iter`] reads it.
#[derive(Debug, Clone, Copy)]
struct LpItem<'a> {
    name: &'a [u8],
    score: f64,
    slen: u16,
    /// Where its bytes start and end in the buffer.
    start: usize,
    end: usize,
}

impl LpItem<'_> {
    /// Bytes of the member's and the score's listpack entries.
    fn entries(&self) -> u64 {
        listpack_entry(self.name) + listpack_score_entry(self.score)
    }
}

impl LpItems {
    fn iter(&self) -> impl Iterator<Item = LpItem<'_>> {
        let buf = &self.buf[..];
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= buf.len() {
                return None;
            }
            let start = at;
            let len = get_varint(buf, &mut at) as usize;
            let name = &buf[at..at + len];
            at += len;
            let score = f64::from_le_bytes(buf[at..at + 8].try_into().expect("8 bytes"));
            let slen = u16::from_le_bytes([buf[at + 8], buf[at + 9]]);
            at += 10;
            Some(LpItem {
                name,
                score,
                slen,
                start,
                end: at,
            })
        })
    }

    /// `zzlFind`.
    fn find(&self, name: &[u8]) -> Option<LpItem<'_>> {
        self.iter().find(|i| i.name == name)
    }

    /// `zzlInsert`'s place: before the first member ordered after this one.
    fn insert(&mut self, name: &[u8], score: f64, slen: u16) {
        let at = self
            .iter()
            .find(|i| order_of(i.score, i.name, score, name) == Ordering::Greater)
            .map_or(self.buf.len(), |i| i.start);
        let mut item = Vec::with_capacity(name.len() + 12);
        put_varint(&mut item, name.len() as u64);
        item.extend_from_slice(name);
        item.extend_from_slice(&score.to_le_bytes());
        item.extend_from_slice(&slen.to_le_bytes());
        self.buf.splice(at..at, item);
        self.n += 1;
    }

    /// Removes the `count` members whose bytes are `range`.
    fn remove(&mut self, range: std::ops::Range<usize>, count: usize) {
        self.buf.drain(range);
        self.n -= count;
    }
}

// ---------------------------------------------------------------------------------------------
// The skiplist encoding's members.

/// One member of a skiplist-encoded sorted set: 32 bytes.
#[derive(Debug, Clone, Copy)]
struct Rec {
    score: f64,
    /// Where the member's name is in [`Skiplist::names`] (its length as a varint, then its
    /// bytes); [`FREE`] for a free record.
    at: u64,
    /// The node, the member's sds (the dict entry's key too) and the dict entry; a free
    /// record's `node` is the next free record.
    node: ObjId,
    sds: ObjId,
    entry: ObjId,
    /// The length of the score's text as the client sent it (payload accounting).
    slen: u16,
    /// The node's levels.
    level: u8,
}

/// [`Rec::at`] of a free record.
const FREE: u64 = u64::MAX;
/// No record.
const NONE: u32 = u32::MAX;

/// The name `names` holds at `at`.
fn name_at(names: &[u8], at: u64) -> &[u8] {
    let mut i = at as usize;
    let len = get_varint(names, &mut i) as usize;
    &names[i..i + len]
}

/// The tag a member's name is indexed under: the top half of its SipHash-1-3 (fixed keys).
fn name_tag(name: &[u8]) -> u32 {
    (std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(name)
        >> 32) as u32
}

/// Most record numbers in one block of an [`Order`].
const BLOCK: usize = 512;

/// Record numbers in skiplist order, in blocks of at most [`BLOCK`]: a search is a binary
/// search over the blocks' last members then within a block, an insertion moves at most a
/// block; ranks are counted block by block from the nearer end.
#[derive(Debug, Clone, Default)]
struct Order {
    blocks: Vec<Vec<u32>>,
    len: usize,
}

impl Order {
    /// Where the member `cmp` compares records with is, or belongs: (block, index, found).
    fn locate(&self, cmp: impl Fn(u32) -> Ordering) -> (usize, usize, bool) {
        let Some(last) = self.blocks.len().checked_sub(1) else {
            return (0, 0, false);
        };
        let b = self
            .blocks
            .partition_point(|blk| cmp(blk[blk.len() - 1]) == Ordering::Less)
            .min(last);
        match self.blocks[b].binary_search_by(|&x| cmp(x)) {
            Ok(i) => (b, i, true),
            Err(i) => (b, i, false),
        }
    }

    fn insert_at(&mut self, b: usize, i: usize, r: u32) {
        if self.blocks.is_empty() {
            self.blocks.push(vec![r]);
        } else {
            let blk = &mut self.blocks[b];
            blk.insert(i, r);
            if blk.len() > BLOCK {
                let tail = blk.split_off(BLOCK / 2);
                blk.shrink_to_fit();
                self.blocks.insert(b + 1, tail);
            }
        }
        self.len += 1;
    }

    fn remove_at(&mut self, b: usize, i: usize) -> u32 {
        let r = self.blocks[b].remove(i);
        self.len -= 1;
        self.tidy(b);
        r
    }

    /// Drops block `b` when empty, or merges it with the next one when both are small.
    fn tidy(&mut self, b: usize) {
        if b >= self.blocks.len() {
            return;
        }
        if self.blocks[b].is_empty() {
            self.blocks.remove(b);
        } else if b + 1 < self.blocks.len() && self.blocks[b].len() + self.blocks[b + 1].len() <= BLOCK / 2 {
            let next = self.blocks.remove(b + 1);
            self.blocks[b].extend_from_slice(&next);
        }
    }

    /// The records before and after the one at (`b`, `i`).
    fn neighbours(&self, b: usize, i: usize) -> (Option<u32>, Option<u32>) {
        let blk = &self.blocks[b];
        let prev = if i > 0 {
            Some(blk[i - 1])
        } else if b > 0 {
            self.blocks[b - 1].last().copied()
        } else {
            None
        };
        let next = if i + 1 < blk.len() {
            Some(blk[i + 1])
        } else {
            self.blocks.get(b + 1).map(|n| n[0])
        };
        (prev, next)
    }

    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.blocks.iter().flatten().copied()
    }

    /// Removes the records of ranks `start..=end` (0-based, within the length) and returns
    /// them in order.
    fn drain_ranks(&mut self, start: usize, end: usize) -> Vec<u32> {
        let mut b;
        let mut before;
        if start > self.len / 2 {
            b = self.blocks.len();
            before = self.len;
            while before > start {
                b -= 1;
                before -= self.blocks[b].len();
            }
        } else {
            b = 0;
            before = 0;
            while before + self.blocks[b].len() <= start {
                before += self.blocks[b].len();
                b += 1;
            }
        }
        let mut out = Vec::with_capacity(end - start + 1);
        let mut i = start - before;
        let mut left = end - start + 1;
        while left > 0 {
            let blk = &mut self.blocks[b];
            let take = (blk.len() - i).min(left);
            out.extend(blk.drain(i..i + take));
            left -= take;
            if blk.is_empty() {
                self.blocks.remove(b);
            } else if left > 0 {
                b += 1;
            }
            i = 0;
        }
        self.len -= out.len();
        if b > 0 {
            self.tidy(b - 1);
        }
        self.tidy(b);
        out
    }
}

/// A skiplist-encoded sorted set: the `zset` struct, the dict struct and its tables, the
/// `zskiplist` struct and its header node; and the members, each a [`Rec`] (32 bytes) in a
/// table whose free records are chained, its name in a shared byte buffer (compacted when half
/// of it is garbage), its record number in a [`TagIndex`] (8 bytes a slot, filled 3/8 to 3/4)
/// and in an [`Order`] (4 bytes, blocks filled a quarter to all): about 55 bytes and the name
/// per member, no allocation of its own (measured at 1 M members of 14 bytes: 34 B of records
/// with the table's growth slack, 17 B of index, 4.3 B of order, 15 B of names).
///
/// On Valkey 8.1+ (`table = "hashtable"`) the member table is Valkey's hashtable instead
/// (`zsetHashtableType`, valkey 8.1.1 and 9.1.2 `src/server.c`: each bucket slot the pointer
/// of a member's skiplist node, whose member the table hashes; no entry), each record's
/// `entry` its element id there; on 9.1 the node embeds the member (no sds block: `sds` is
/// unused) and the `zskiplist` is the header node's own block (`header` is `None`).
#[derive(Debug, Clone)]
struct Skiplist {
    zs: Alloc,
    dict_struct: Alloc,
    dict: Dict,
    vk: Option<Box<VkTable<()>>>,
    zsl: Alloc,
    header: Option<Alloc>,
    recs: Vec<Rec>,
    /// The first free record, or [`NONE`].
    free: u32,
    names: Vec<u8>,
    /// Bytes of `names` no member uses any more.
    garbage: u64,
    index: TagIndex,
    order: Order,
}

impl Skiplist {
    /// `zs = zmalloc(sizeof(zset))`, `dictCreate` (the struct; its first table comes with the
    /// first entry) or Valkey's `hashtableCreate(&zsetHashtableType)` (the struct), `zslCreate`
    /// (the `zskiplist`, then the header node of [`MAX_LEVEL`] levels: 24 + 32 × 16 = 536
    /// bytes; Valkey 9.1: one `zcalloc(zslGetAllocSize())`, 528 bytes).
    fn create(mem: &mut Mem<'_>) -> Self {
        let t = &mem.profile.types;
        let zs = mem.heap.zmalloc(t.zset);
        let (dict_struct, vk) = if mem.profile.layout.table == TableKind::Hashtable {
            let vk = VkTable::new(mem.heap, mem.profile, Kind::Zset);
            (
                Alloc {
                    id: 0,
                    requested: 0,
                    usable: 0,
                },
                Some(Box::new(vk)),
            )
        } else {
            (mem.heap.zmalloc(mem.profile.dict), None)
        };
        let zsl = mem.heap.zmalloc(t.zskiplist);
        let header = (!mem.profile.layout.zset_node_embeds_member)
            .then(|| mem.heap.zmalloc(header_request(mem.profile)));
        Skiplist {
            zs,
            dict_struct,
            dict: Dict::default(),
            vk,
            zsl,
            header,
            recs: Vec::new(),
            free: NONE,
            names: Vec::new(),
            garbage: 0,
            index: TagIndex::default(),
            order: Order::default(),
        }
    }

    /// Redis 7.2+'s presizing (`dictExpand(zs->dict, cap)` in `zsetTypeCreate` and
    /// `zsetConvertAndExpand`): the dict's first table sized for `cap` members at once, so
    /// filling it to `cap` rehashes nothing. Nothing on 7.0, whose dict grows from 4 buckets.
    /// Valkey: `hashtableExpand(zs->ht, cap)`.
    fn presize(&mut self, mem: &mut Mem<'_>, cap: u64) {
        if let Some(vk) = &mut self.vk {
            vk.expand(mem.heap, cap);
        } else if mem.profile.layout.zset_presize && cap > 0 {
            self.dict.expand(mem.heap, cap, mem.profile.dict_initial_size);
        }
    }

    fn len(&self) -> usize {
        self.order.len
    }

    fn name(&self, r: u32) -> &[u8] {
        name_at(&self.names, self.recs[r as usize].at)
    }

    fn find(&self, name: &[u8]) -> Option<u32> {
        self.index.find(name_tag(name), |r| {
            name_at(&self.names, self.recs[r as usize].at) == name
        })
    }

    /// Where record `r` is in the order.
    fn locate(&self, r: u32) -> (usize, usize) {
        let rec = self.recs[r as usize];
        let name = self.name(r);
        let (b, i, found) = self.order.locate(|x| {
            let o = self.recs[x as usize];
            order_of(o.score, name_at(&self.names, o.at), rec.score, name)
        });
        debug_assert!(found, "a live member is in the order");
        (b, i)
    }

    /// Puts record `r` (its score set) in the order.
    fn order_insert(&mut self, r: u32) {
        let rec = self.recs[r as usize];
        let name = self.name(r);
        let (b, i, _) = self.order.locate(|x| {
            let o = self.recs[x as usize];
            order_of(o.score, name_at(&self.names, o.at), rec.score, name)
        });
        self.order.insert_at(b, i, r);
    }

    /// A new member's record (its blocks already allocated), indexed and in the order.
    fn insert(&mut self, name: &[u8], mut rec: Rec) -> u32 {
        rec.at = self.names.len() as u64;
        put_varint(&mut self.names, name.len() as u64);
        self.names.extend_from_slice(name);
        let r = if self.free == NONE {
            self.recs.push(rec);
            u32::try_from(self.recs.len() - 1).expect("fewer than 2^32 - 1 members")
        } else {
            let r = self.free;
            self.free = self.recs[r as usize].node;
            self.recs[r as usize] = rec;
            r
        };
        self.index.insert(name_tag(name), r);
        self.order_insert(r);
        r
    }

    /// Forgets record `r`, already out of the order: out of the index, its record free.
    fn forget(&mut self, r: u32) {
        let name = self.name(r);
        let len = name.len() as u64;
        self.index.remove(name_tag(name), r);
        self.garbage += varint_len(len) + len;
        let rec = &mut self.recs[r as usize];
        rec.at = FREE;
        rec.node = self.free;
        self.free = r;
        if self.garbage > 4096 && self.garbage * 2 > self.names.len() as u64 {
            let mut names = Vec::with_capacity(self.names.len() - self.garbage as usize);
            for rec in self.recs.iter_mut().filter(|r| r.at != FREE) {
                let name = name_at(&self.names, rec.at);
                rec.at = names.len() as u64;
                put_varint(&mut names, name.len() as u64);
                names.extend_from_slice(name);
            }
            self.names = names;
            self.garbage = 0;
        }
    }

    /// A new member's blocks, as `zsetAdd` (and `zsetConvert`) make them: the sds, the node
    /// (`zslInsert`: the level drawn, then `zslCreateNode`), then `dictAdd` (a rehash step, the
    /// table grown or made, the entry). Valkey: `hashtableAdd` of the node (a rehash step, the
    /// table grown or made, a child bucket when the chain is full); 9.1 copies the member into
    /// the node, so `zsetAdd` makes no sds, and `zsetConvertAndExpand` frees the sds it made
    /// from the listpack entry once the node holds it (`converting`).
    fn add_member(&mut self, mem: &mut Mem<'_>, name: &[u8], score: f64, slen: u16, converting: bool) {
        let len = name.len() as u64;
        let embeds = mem.profile.layout.zset_node_embeds_member;
        let sds = (!embeds || converting).then(|| mem.heap.zmalloc(mem.profile.sds_request(len)));
        let level = random_level(mem.draws);
        let node = mem.heap.zmalloc(node_request(mem.profile, level as u64, len));
        if let Some(vk) = &mut self.vk {
            let sds = match sds {
                Some(s) if embeds => {
                    mem.heap.zfree(s);
                    0
                }
                Some(s) => s.id,
                None => 0,
            };
            let hash = mem.member_hash(name);
            let entry = vk.insert(mem.heap, hash, ());
            let rec = Rec {
                score,
                at: 0,
                node: node.id,
                sds,
                entry,
                slen,
                level,
            };
            self.insert(name, rec);
            return;
        }
        let sds = sds.expect("an sds of its own on a dict");
        let (dict, seed) = (&mut self.dict, mem.hash_seed);
        let (order, recs, names) = (&self.order, &self.recs, &self.names);
        dict.add_hashed(mem.heap, mem.profile.dict_initial_size, || {
            bucket_hashes(seed, order, recs, names)
        });
        let entry = mem.heap.zmalloc(mem.profile.dict_entry);
        let rec = Rec {
            score,
            at: 0,
            node: node.id,
            sds: sds.id,
            entry: entry.id,
            slen,
            level,
        };
        self.insert(name, rec);
    }

    /// The three blocks of record `r`: (dict entry, sds, node); on Valkey the first is
    /// meaningless (an element id), and on 9.1 the second too (the node holds the member).
    fn blocks_of(&self, mem: &Mem<'_>, r: u32) -> (Alloc, Alloc, Alloc) {
        let rec = self.recs[r as usize];
        let len = self.name(r).len() as u64;
        let none = |id| Alloc {
            id,
            requested: 0,
            usable: 0,
        };
        (
            match self.vk {
                Some(_) => none(rec.entry),
                None => mem.heap.alloc_of(rec.entry, mem.profile.dict_entry),
            },
            match self.embedded() {
                true => none(0),
                false => mem.heap.alloc_of(rec.sds, mem.profile.sds_request(len)),
            },
            mem.heap
                .alloc_of(rec.node, node_request(mem.profile, rec.level as u64, len)),
        )
    }

    /// Whether the nodes hold their members (Valkey 9.1: no header block of its own).
    fn embedded(&self) -> bool {
        self.header.is_none()
    }

    /// `dictFind`/`dictUnlink` on the dict: a rehash step when it holds anything. Valkey's
    /// `hashtableFindRef`/`hashtablePop`: the same (`findBucket`).
    fn dict_lookup(&mut self, mem: &mut Mem<'_>) {
        if let Some(vk) = &mut self.vk {
            vk.lookup(mem.heap);
        } else if self.dict.used > 0 {
            self.dict.rehash_steps(mem.heap, 1);
        }
    }

    /// A member's removal once its record is out of the order: `dictDelete` (a rehash step,
    /// the entry freed), then `zslFreeNode` (the sds, the node). Valkey: `hashtablePop` or
    /// `hashtableDelete` (the step, the slot, the chain compacted, a shrink when due and not
    /// paused), then `zslFreeNode` (8.1: the sds, the node; 9.1: the node).
    fn free_member(&mut self, mem: &mut Mem<'_>, r: u32) {
        let (entry, sds, node) = self.blocks_of(mem, r);
        if let Some(vk) = &mut self.vk {
            vk.remove(mem.heap, entry.id);
            if !mem.profile.layout.zset_node_embeds_member {
                mem.heap.zfree(sds);
            }
            mem.heap.zfree(node);
            self.forget(r);
            return;
        }
        let hash = NameHasher::new(mem.hash_seed).hash(self.name(r));
        self.dict.delete_hashed(mem.heap, hash);
        mem.heap.zfree(entry);
        mem.heap.zfree(sds);
        mem.heap.zfree(node);
        self.forget(r);
    }

    /// `if (htNeedsResize(dict)) dictResize(dict)`: a table with more than the initial buckets
    /// filled below `HASHTABLE_MIN_FILL` starts shrinking to the power of two that holds its
    /// entries, unless a rehash is under way (the rehash then proceeds step by step).
    fn resize_if_needed(&mut self, mem: &mut Mem<'_>) {
        if self.vk.is_some() {
            return;
        }
        let initial = mem.profile.dict_initial_size;
        let slots = self.dict.slots();
        if mem.profile.dict_needs_shrink(self.dict.used, slots) && !self.dict.is_rehashing() {
            let size = self.dict.used.max(initial);
            let (dict, seed) = (&mut self.dict, mem.hash_seed);
            let (order, recs, names) = (&self.order, &self.recs, &self.names);
            dict.expand_hashed(mem.heap, size, initial, || {
                bucket_hashes(seed, order, recs, names)
            });
        }
    }
}

/// The members' hashes under the process's dict seed, for the dict to follow its buckets
/// exactly (the members in `order`, their names in `names`).
fn bucket_hashes(seed: u64, order: &Order, recs: &[Rec], names: &[u8]) -> Vec<u64> {
    let hasher = NameHasher::new(seed);
    order
        .iter()
        .map(|r| hasher.hash(name_at(names, recs[r as usize].at)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The value.

#[derive(Debug, Clone)]
enum Encoding {
    /// The listpack block, its byte length, and its members.
    Listpack(Alloc, u64, LpItems),
    Skiplist(Box<Skiplist>),
}

/// A sorted set: its robj and its encoding.
#[derive(Debug, Clone)]
pub(super) struct ZsetValue {
    pub(super) robj: Alloc,
    enc: Encoding,
}

/// `lpInsert` making room for `add` more bytes: a `realloc` to the exact new length when it
/// outgrows the block's usable size.
fn lp_grow(mem: &mut Mem<'_>, lp: &mut Alloc, bytes: &mut u64, add: u64) {
    *bytes += add;
    if *bytes > lp.usable {
        *lp = mem.heap.zrealloc(*lp, *bytes);
    }
}

/// A deletion of `sub` bytes of entries, then `lpShrinkToFit`: a `realloc` to the exact new
/// length when it is below the block's usable size.
fn lp_shrink(mem: &mut Mem<'_>, lp: &mut Alloc, bytes: &mut u64, sub: u64) {
    *bytes -= sub;
    if *bytes < lp.usable {
        *lp = mem.heap.zrealloc(*lp, *bytes);
    }
}

/// The score a listpack reads back for `score` (`zzlGetScore`): -0 is stored as the integer 0.
fn lp_score(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

impl ZsetValue {
    fn len(&self) -> usize {
        match &self.enc {
            Encoding::Listpack(_, _, items) => items.n,
            Encoding::Skiplist(z) => z.len(),
        }
    }

    /// `zsetConvert` to a skiplist: the structures (the dict presized for `cap` members on
    /// Redis 7.2+, `zsetConvertAndExpand`), then per member in listpack order its sds, node and
    /// dict entry; the listpack freed last.
    fn convert(&mut self, mem: &mut Mem<'_>, cap: u64) {
        let Encoding::Listpack(lp, _, items) = &self.enc else {
            return;
        };
        let mut z = Skiplist::create(mem);
        z.presize(mem, cap);
        for it in items.iter() {
            z.add_member(mem, it.name, it.score, it.slen, true);
        }
        mem.heap.zfree(*lp);
        self.enc = Encoding::Skiplist(Box::new(z));
    }

    /// `zsetAdd` of one score/member pair under options `f`; `arg_len` is the score
    /// argument's length. Returns the payload's change, or `None` when an increment makes the
    /// score NaN (the command stops with an error).
    fn add(
        &mut self,
        mem: &mut Mem<'_>,
        score: f64,
        name: &[u8],
        f: ZaddFlags,
        arg_len: usize,
    ) -> Option<i64> {
        // The score's text as the client has it: the argument, or the result of an increment
        // as the reply gives it.
        let slen_of = |s: f64| text_len(if f.incr { format_g17(s).len() } else { arg_len });
        let profile: &RedisProfile = mem.profile;
        let types = &profile.types;
        if let Encoding::Listpack(lp, bytes, items) = &mut self.enc {
            if let Some(it) = items.find(name) {
                let score = match f.updated(it.score, score)? {
                    Some(s) => s,
                    None => return Some(0),
                };
                // zzlDelete, then zzlInsert: the member's entry, then the score's.
                let (old_slen, range, old) = (it.slen, it.start..it.end, it.entries());
                items.remove(range, 1);
                lp_shrink(mem, lp, bytes, old);
                let score = lp_score(score);
                lp_grow(mem, lp, bytes, listpack_entry(name));
                lp_grow(mem, lp, bytes, listpack_score_entry(score));
                let slen = slen_of(score);
                items.insert(name, score, slen);
                return Some(slen as i64 - old_slen as i64);
            }
            if f.xx {
                return Some(0);
            }
            let len = name.len() as u64;
            if items.n as u64 + 1 > types.zset_max_listpack_entries
                || len > types.zset_max_listpack_value
                || *bytes + len > LISTPACK_SAFETY
            {
                let cap = items.n as u64 + 1;
                self.convert(mem, cap);
            } else {
                let score = lp_score(score);
                lp_grow(mem, lp, bytes, listpack_entry(name));
                lp_grow(mem, lp, bytes, listpack_score_entry(score));
                let slen = slen_of(score);
                items.insert(name, score, slen);
                return Some((name.len() + slen as usize) as i64);
            }
        }
        let Encoding::Skiplist(z) = &mut self.enc else {
            unreachable!("converted above");
        };
        z.dict_lookup(mem);
        if let Some(r) = z.find(name) {
            let score = match f.updated(z.recs[r as usize].score, score)? {
                Some(s) => s,
                None => return Some(0),
            };
            // zslUpdateScore: in place when the node stays between its neighbours, else
            // unlinked and inserted again as a new node of a new level.
            let (b, i) = z.locate(r);
            let (prev, next) = z.order.neighbours(b, i);
            let stays = prev.is_none_or(|p| z.recs[p as usize].score < score)
                && next.is_none_or(|n| z.recs[n as usize].score > score);
            if stays {
                z.recs[r as usize].score = score;
            } else if mem.profile.layout.zset_node_embeds_member {
                // Valkey 9.1: the same node, unlinked and inserted again.
                z.order.remove_at(b, i);
                z.recs[r as usize].score = score;
                z.order_insert(r);
            } else {
                z.order.remove_at(b, i);
                z.recs[r as usize].score = score;
                let level = random_level(mem.draws);
                let len = name.len() as u64;
                let node = mem.heap.zmalloc(node_request(mem.profile, level as u64, len));
                let (_, _, old) = z.blocks_of(mem, r);
                mem.heap.zfree(old);
                let rec = &mut z.recs[r as usize];
                rec.node = node.id;
                rec.level = level;
                z.order_insert(r);
            }
            let slen = slen_of(score);
            let old_slen = std::mem::replace(&mut z.recs[r as usize].slen, slen);
            return Some(slen as i64 - old_slen as i64);
        }
        if f.xx {
            return Some(0);
        }
        let slen = slen_of(score);
        z.add_member(mem, name, score, slen, false);
        Some((name.len() + slen as usize) as i64)
    }

    /// `zremCommand`: `zsetDel` per member until the sorted set is empty. Returns the
    /// payload's change. Valkey 9.1 pauses a skiplist's table auto-shrink meanwhile and
    /// resumes it (a shrink when due) unless the key went (valkey 9.1.2 `zremCommand`).
    fn remove_members(&mut self, mem: &mut Mem<'_>, names: &[&[u8]]) -> i64 {
        if let Encoding::Skiplist(z) = &mut self.enc {
            if let Some(vk) = &mut z.vk {
                vk.pause_shrink(mem.profile);
            }
        }
        let delta = self.remove_each(mem, names);
        if let Encoding::Skiplist(z) = &mut self.enc {
            if let (Some(vk), false) = (&mut z.vk, z.order.len == 0) {
                vk.resume_shrink(mem.heap, mem.profile);
            }
        }
        delta
    }

    /// [`ZsetValue::remove_members`]' deletions.
    fn remove_each(&mut self, mem: &mut Mem<'_>, names: &[&[u8]]) -> i64 {
        let mut delta = 0i64;
        for name in names {
            match &mut self.enc {
                Encoding::Listpack(lp, bytes, items) => {
                    if let Some(it) = items.find(name) {
                        let (range, entries) = (it.start..it.end, it.entries());
                        delta -= (it.name.len() + it.slen as usize) as i64;
                        items.remove(range, 1);
                        lp_shrink(mem, lp, bytes, entries);
                    }
                }
                Encoding::Skiplist(z) => match z.find(name) {
                    Some(r) => {
                        delta -= (name.len() + z.recs[r as usize].slen as usize) as i64;
                        let (b, i) = z.locate(r);
                        z.order.remove_at(b, i);
                        z.free_member(mem, r);
                        z.resize_if_needed(mem);
                    }
                    // dictUnlink of a member it does not hold: the rehash step only.
                    None => z.dict_lookup(mem),
                },
            }
            if self.len() == 0 {
                break;
            }
        }
        delta
    }

    /// `zremrangeGenericCommand` by rank, `start` and `stop` as the client sent them (negative:
    /// from the end). Returns the payload's change.
    fn remove_ranks(&mut self, mem: &mut Mem<'_>, start: i64, stop: i64) -> i64 {
        let llen = self.len() as i64;
        let mut start = if start < 0 { llen + start } else { start };
        let mut end = if stop < 0 { llen + stop } else { stop };
        start = start.max(0);
        if start > end || start >= llen {
            return 0;
        }
        end = end.min(llen - 1);
        let (start, end) = (start as usize, end as usize);
        let mut delta = 0i64;
        match &mut self.enc {
            Encoding::Listpack(lp, bytes, items) => {
                // lpDeleteRange: the pairs' bytes at once, then shrunk to fit.
                let mut entries = 0;
                let mut range = 0..0;
                for (k, it) in items.iter().enumerate().skip(start).take(end - start + 1) {
                    if k == start {
                        range.start = it.start;
                    }
                    range.end = it.end;
                    entries += it.entries();
                    delta -= (it.name.len() + it.slen as usize) as i64;
                }
                items.remove(range, end - start + 1);
                lp_shrink(mem, lp, bytes, entries);
            }
            Encoding::Skiplist(z) => {
                // Valkey (8.1 and 9.1): the table's auto-shrink paused meanwhile, resumed
                // (a shrink when due) even when the sorted set is left empty.
                if let Some(vk) = &mut z.vk {
                    vk.pause_shrink_always();
                }
                for r in z.order.drain_ranks(start, end) {
                    delta -= (z.name(r).len() + z.recs[r as usize].slen as usize) as i64;
                    z.free_member(mem, r);
                }
                match &mut z.vk {
                    Some(vk) => vk.resume_shrink_always(mem.heap),
                    None => z.resize_if_needed(mem),
                }
            }
        }
        delta
    }
}

impl ValueType for ZsetValue {
    /// `freeZsetObject`, then the robj. Valkey: `hashtableRelease` (no entry destructor: the
    /// tables and the struct), `zslFree` (8.1: the header, then each node's sds and the node
    /// in order, the `zskiplist`; 9.1: each node in order, then the header block), the `zset`.
    fn free(self, mem: &mut Mem<'_>) {
        match self.enc {
            Encoding::Listpack(lp, _, _) => mem.heap.zfree(lp),
            Encoding::Skiplist(mut z) if z.vk.is_some() => {
                let members: Vec<(Alloc, Alloc)> = z
                    .order
                    .iter()
                    .map(|r| {
                        let (_, sds, node) = z.blocks_of(mem, r);
                        (sds, node)
                    })
                    .collect();
                let vk = z.vk.take().expect("checked");
                vk.release_ids(mem.heap, |_, _| {});
                if let Some(h) = z.header {
                    mem.heap.zfree(h);
                }
                let embeds = z.embedded();
                for (sds, node) in members {
                    if !embeds {
                        mem.heap.zfree(sds);
                    }
                    mem.heap.zfree(node);
                }
                mem.heap.zfree(z.zsl);
                mem.heap.zfree(z.zs);
            }
            Encoding::Skiplist(mut z) => {
                let in_order: Vec<u32> = z.order.iter().collect();
                // dictRelease: the entries bucket by bucket — the order `Mem::walk_order`
                // gives the names listed in skiplist order (the same hash, a stable sort) —
                // then the tables and the struct.
                let hasher = NameHasher::new(mem.hash_seed);
                let mut by_bucket = in_order.clone();
                by_bucket.sort_by_cached_key(|&r| hasher.hash(z.name(r)));
                for &r in &by_bucket {
                    let (entry, _, _) = z.blocks_of(mem, r);
                    mem.heap.zfree(entry);
                }
                z.dict.clear(mem.heap);
                mem.heap.zfree(z.dict_struct);
                // zslFree: the header, each node's sds and the node in order, the zskiplist.
                mem.heap.zfree(z.header.expect("a header node of its own"));
                for &r in &in_order {
                    let (_, sds, node) = z.blocks_of(mem, r);
                    mem.heap.zfree(sds);
                    mem.heap.zfree(node);
                }
                mem.heap.zfree(z.zsl);
                mem.heap.zfree(z.zs);
            }
        }
        mem.heap.zfree(self.robj);
    }

    /// The blocks holding the members and their scores: the listpack; or each member's sds
    /// and node.
    fn footprint(&self, arena: &Arena) -> u64 {
        match &self.enc {
            Encoding::Listpack(lp, _, _) => arena.footprint(lp.id),
            Encoding::Skiplist(z) => z
                .order
                .iter()
                .map(|r| {
                    let rec = z.recs[r as usize];
                    let sds = if z.embedded() { 0 } else { arena.footprint(rec.sds) };
                    sds + arena.footprint(rec.node)
                })
                .sum(),
        }
    }

    /// `objectComputeSize`: listpack, the robj and the listpack's usable size; skiplist,
    /// `sizeof` the robj, `zset`, `zskiplist` and `dict`, 8 bytes per bucket of both tables,
    /// the header's usable size, and per member (all sampled) its sds's usable size, a
    /// `sizeof(dictEntry)` and its node's usable size, averaged and multiplied back in floating
    /// point. Valkey 8.1: `sizeof` the robj, `zset` and `zskiplist`, `hashtableMemUsage` (the
    /// struct, 64 B per bucket and child bucket), the header's usable size, and per member its
    /// sds's and its node's usable sizes; 9.1: the same with `zslGetAllocSize()` (528) for the
    /// `zskiplist` and its header, and per member its node's usable size (the member inside).
    fn object_size(&self, arena: &Arena, profile: &RedisProfile) -> u64 {
        match &self.enc {
            Encoding::Listpack(lp, _, _) => profile.robj + arena.usable_size(lp.id),
            Encoding::Skiplist(z) if z.vk.is_some() => {
                let vk = z.vk.as_ref().expect("checked");
                let t = &profile.types;
                let header = z.header.map_or(0, |h| arena.usable_size(h.id));
                let asize = profile.robj + t.zset + t.zskiplist + vk.mem_usage() + header;
                let embedded = z.embedded();
                let elesize: u64 = z
                    .order
                    .iter()
                    .map(|r| {
                        let rec = z.recs[r as usize];
                        let sds = if embedded { 0 } else { arena.usable_size(rec.sds) };
                        sds + arena.usable_size(rec.node)
                    })
                    .sum();
                let n = z.len() as u64;
                add_sampled(asize, elesize, n, vk.len())
            }
            Encoding::Skiplist(z) => {
                let t = &profile.types;
                let asize = profile.robj
                    + t.zset
                    + t.zskiplist
                    + profile.dict
                    + 8 * z.dict.slots()
                    + z.header.map_or(0, |h| arena.usable_size(h.id));
                let elesize: u64 = z
                    .order
                    .iter()
                    .map(|r| {
                        let rec = z.recs[r as usize];
                        arena.usable_size(rec.sds) + profile.dict_entry + arena.usable_size(rec.node)
                    })
                    .sum();
                let n = z.len() as u64;
                add_sampled(asize, elesize, n, z.dict.used)
            }
        }
    }

    fn structure(&self, profile: &RedisProfile) -> (u64, u64) {
        let robj = self.robj.requested as u64;
        match &self.enc {
            Encoding::Listpack(lp, bytes, _) => {
                let (req, grown) = listpack_structure(*lp, *bytes);
                (robj + req, grown)
            }
            Encoding::Skiplist(z) => {
                let fixed = [z.zs, z.dict_struct, z.zsl]
                    .into_iter()
                    .chain(z.header)
                    .chain(z.dict.tables())
                    .map(|a| a.requested as u64)
                    .sum::<u64>()
                    + z.vk.as_ref().map_or(0, |vk| vk.mem_usage());
                let (embedded, entry) = match z.vk {
                    Some(_) => (z.embedded(), 0),
                    None => (false, profile.dict_entry),
                };
                let members: u64 = z
                    .order
                    .iter()
                    .map(|r| {
                        let rec = z.recs[r as usize];
                        let len = z.name(r).len() as u64;
                        let sds = if embedded { 0 } else { profile.sds_request(len) };
                        node_request(profile, rec.level as u64, len) + sds + entry
                    })
                    .sum();
                (robj + fixed + members, 0)
            }
        }
    }

    fn encoding(&self) -> &'static str {
        match self.enc {
            Encoding::Listpack(..) => "listpack",
            Encoding::Skiplist(_) => "skiplist",
        }
    }

    /// The robj, then the listpack; or the zset, the dict struct and its bucket tables, the
    /// zskiplist and its header node, and per member its node (by level), its sds and its
    /// `dictEntry`.
    fn blocks(&self, arena: &Arena, profile: &RedisProfile) -> Vec<BlockKind> {
        let mut b = Blocks::default();
        b.alloc("robj", self.robj);
        match &self.enc {
            Encoding::Listpack(lp, _, _) => b.alloc("listpack", *lp),
            Encoding::Skiplist(z) => {
                b.alloc("zset struct", z.zs);
                match &z.vk {
                    Some(vk) => {
                        let bytes = vk.mem_usage();
                        b.add("hashtable struct and buckets (64 B)", bytes, bytes);
                    }
                    None => {
                        b.alloc("dict struct", z.dict_struct);
                        for table in z.dict.tables() {
                            b.alloc("member table (8 B buckets)", table);
                        }
                    }
                }
                match z.header {
                    Some(header) => {
                        b.alloc("zskiplist", z.zsl);
                        b.alloc(&format!("skiplist header ({MAX_LEVEL} levels)"), header);
                    }
                    None => b.alloc(&format!("zskiplist: its header node ({MAX_LEVEL} levels)"), z.zsl),
                }
                let mut levels: Vec<(u8, u32)> =
                    z.order.iter().map(|r| (z.recs[r as usize].level, r)).collect();
                levels.sort_by_key(|&(l, _)| l);
                let what_member = if z.embedded() { ", its member inside" } else { "" };
                for (level, r) in levels {
                    let what = format!(
                        "skiplist node, {level} level{}{what_member}",
                        if level == 1 { "" } else { "s" }
                    );
                    let len = z.name(r).len() as u64;
                    let request = node_request(profile, level as u64, len);
                    b.add(&what, request, arena.usable_size(z.recs[r as usize].node));
                }
                if z.embedded() {
                    return b.into_vec();
                }
                for r in z.order.iter() {
                    let len = z.name(r).len() as u64;
                    let sds = z.recs[r as usize].sds;
                    b.add("member sds", profile.sds_request(len), arena.usable_size(sds));
                }
                if z.vk.is_some() {
                    return b.into_vec();
                }
                for r in z.order.iter() {
                    let entry = z.recs[r as usize].entry;
                    b.add("member dictEntry", profile.dict_entry, arena.usable_size(entry));
                }
            }
        }
        b.into_vec()
    }
}

impl Aggregate for ZsetValue {
    /// `createZsetListpackObject` (`lpNew`: 7 bytes, then the robj), or `createZsetObject`
    /// when listpacks are off or the first member is too long for one; Redis 7.2+
    /// (`zsetTypeCreate`) also when the command brings more members than a listpack holds, the
    /// dict then presized for them. Valkey 8.0+ (`zset_convert_by_longest`) judges by the
    /// command's longest member rather than its first.
    fn create(mem: &mut Mem<'_>, cmd: Cmd, args: &[&[u8]]) -> Self {
        let parsed = parse_zadd(cmd, args).ok();
        let first = match parsed {
            Some(f) if mem.profile.layout.zset_convert_by_longest => longest(&args[f.pairs_at..]),
            _ => parsed
                .as_ref()
                .and_then(|f| args.get(f.pairs_at + 1))
                .map_or(0, |m| m.len() as u64),
        };
        let pairs = parsed.map_or(0, |f| (args.len() - f.pairs_at) as u64 / 2);
        let t = &mem.profile.types;
        let too_many = mem.profile.layout.zset_presize && pairs > t.zset_max_listpack_entries;
        if t.zset_max_listpack_entries == 0 || t.zset_max_listpack_value < first || too_many {
            let mut z = Skiplist::create(mem);
            let robj = mem.heap.zmalloc(mem.profile.robj);
            z.presize(mem, pairs);
            ZsetValue {
                robj,
                enc: Encoding::Skiplist(Box::new(z)),
            }
        } else {
            let lp = mem.heap.zmalloc(LISTPACK_OVERHEAD);
            let robj = mem.heap.zmalloc(mem.profile.robj);
            ZsetValue {
                robj,
                enc: Encoding::Listpack(lp, LISTPACK_OVERHEAD, LpItems::default()),
            }
        }
    }

    /// ZADD/ZINCRBY: `zsetAdd` per pair; ZREM; ZREMRANGEBYRANK. The payload is the members'
    /// bytes and their scores' texts as the client sent them (a score an increment made: its
    /// text as the reply gives it).
    fn write(&mut self, mem: &mut Mem<'_>, cmd: Cmd, args: &[&[u8]]) -> i64 {
        match cmd {
            Cmd::Zadd | Cmd::Zincrby => {
                let Ok(f) = parse_zadd(cmd, args) else {
                    return 0;
                };
                // Redis 7.2+ `zsetTypeMaybeConvert`: a listpack converts before a command that
                // brings more members than it may hold, presized for them; Valkey 8.0+ also
                // before one that brings a member too long for it.
                let pairs = (args.len() - f.pairs_at) as u64 / 2;
                let layout = &mem.profile.layout;
                let too_long = layout.zset_convert_by_longest
                    && longest(&args[f.pairs_at..]) > mem.profile.types.zset_max_listpack_value;
                if layout.zset_presize
                    && matches!(self.enc, Encoding::Listpack(..))
                    && (pairs > mem.profile.types.zset_max_listpack_entries || too_long)
                {
                    self.convert(mem, pairs);
                }
                let mut delta = 0;
                for p in args[f.pairs_at..].chunks(2) {
                    let Some(score) = parse_score(p[0]) else {
                        break;
                    };
                    match self.add(mem, score, p[1], f, p[0].len()) {
                        Some(d) => delta += d,
                        None => break,
                    }
                }
                delta
            }
            Cmd::Zrem => self.remove_members(mem, args),
            Cmd::Zremrangebyrank => match (as_integer(args[0]), as_integer(args[1])) {
                (Some(start), Some(stop)) => self.remove_ranks(mem, start, stop),
                _ => 0,
            },
            _ => 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn into_value(self) -> Value {
        Value::Zset(Box::new(self))
    }

    fn of_value(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Zset(v) => Some(&mut **v),
            _ => None,
        }
    }
}

impl Server {
    /// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ...`, `ZINCRBY key increment
    /// member`, `ZREM key member ...`, `ZREMRANGEBYRANK key start stop`. Arguments Redis
    /// rejects with an error are refused as unsupported.
    pub(super) fn zset_command(&mut self, cmd: Cmd, argv: &[&[u8]]) -> Result<(), Reply> {
        match cmd {
            Cmd::Zadd | Cmd::Zincrby => {
                if (cmd == Cmd::Zadd && argv.len() < 4) || (cmd == Cmd::Zincrby && argv.len() != 4) {
                    return unsupported("wrong number of arguments");
                }
                let args = &argv[2..];
                let f = parse_zadd(cmd, args).map_err(|e| Reply::Unsupported(e.into()))?;
                // The parsed scores' array, held while the command runs.
                let pairs = (args.len() - f.pairs_at) / 2;
                let scores = self.heap.zmalloc(8 * pairs as u64);
                let valid = args[f.pairs_at..].chunks(2).all(|p| parse_score(p[0]).is_some());
                if valid {
                    let (keyspace, mut mem) = self.keyspace_mem();
                    keyspace.write::<ZsetValue>(&mut mem, argv[1], cmd, args, !f.xx);
                }
                self.heap.zfree(scores);
                if !valid {
                    return unsupported("value is not a valid float");
                }
                Ok(())
            }
            Cmd::Zrem => {
                if argv.len() < 3 {
                    return unsupported("wrong number of arguments");
                }
                let (keyspace, mut mem) = self.keyspace_mem();
                keyspace.write::<ZsetValue>(&mut mem, argv[1], cmd, &argv[2..], false);
                Ok(())
            }
            Cmd::Zremrangebyrank => {
                if argv.len() != 4 {
                    return unsupported("wrong number of arguments");
                }
                if as_integer(argv[2]).is_none() || as_integer(argv[3]).is_none() {
                    return unsupported("value is not an integer or out of range");
                }
                let (keyspace, mut mem) = self.keyspace_mem();
                keyspace.write::<ZsetValue>(&mut mem, argv[1], cmd, &argv[2..], false);
                Ok(())
            }
            _ => unsupported("not a sorted set command"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    thread_local! {
        /// Levels new nodes take in turn, when set (tests only).
        static FIXED_LEVELS: RefCell<(Vec<u8>, usize)> = const { RefCell::new((Vec::new(), 0)) };
    }

    /// The next fixed level, when a test has set them.
    pub(super) fn fixed_level() -> Option<u8> {
        FIXED_LEVELS.with(|f| {
            let (levels, next) = &mut *f.borrow_mut();
            let l = *levels.get(*next % levels.len().max(1))?;
            *next += 1;
            Some(l)
        })
    }

    /// New nodes take `levels` in turn (empty: drawn).
    fn fix_levels(levels: &[u8]) {
        FIXED_LEVELS.with(|f| *f.borrow_mut() = (levels.to_vec(), 0));
    }

    use crate::jemalloc::trace::TraceOp;
    use crate::redis::encoding::{d2string, double2ll};
    use crate::redis::server::testing::{argv, recorded_allocs, server};

    /// A recorded allocator call: malloc, realloc (moved or resized) and free, by size (a
    /// free by the size its block was last asked for).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Op {
        A(u64),
        R(u64),
        F(u64),
    }
    use Op::{A, F, R};

    /// The calls recorded since `from` (an index into the trace).
    fn ops_since(s: &Server, from: usize) -> Vec<Op> {
        let ops = &s.heap.recorder.as_ref().expect("recording").ops;
        let size = |i: u32| match ops[i as usize] {
            TraceOp::Alloc { size } | TraceOp::Realloc { size, .. } => size,
            _ => unreachable!("a block"),
        };
        ops[from..]
            .iter()
            .filter_map(|o| match *o {
                TraceOp::Alloc { size } => Some(A(size)),
                TraceOp::Realloc { size, .. } => Some(R(size)),
                TraceOp::Free { op } => Some(F(size(op))),
                TraceOp::Purge => None,
            })
            .collect()
    }

    fn trace_len(s: &Server) -> usize {
        s.heap.recorder.as_ref().expect("recording").ops.len()
    }

    /// A value-level run: a server recording, a sorted set made by a first ZADD's arguments.
    fn start(args: &[&[u8]]) -> (Server, ZsetValue) {
        let mut s = server(&[]);
        s.heap.record();
        let z = ZsetValue::create(&mut s.mem(), Cmd::Zadd, args);
        (s, z)
    }

    fn write(s: &mut Server, z: &mut ZsetValue, cmd: Cmd, args: &[&[u8]]) -> i64 {
        z.write(&mut s.mem(), cmd, args)
    }

    /// The members in order, with their scores.
    fn members(z: &ZsetValue) -> Vec<(String, f64)> {
        let show = |n: &[u8]| String::from_utf8_lossy(n).into_owned();
        match &z.enc {
            Encoding::Listpack(_, _, items) => items.iter().map(|i| (show(i.name), i.score)).collect(),
            Encoding::Skiplist(sk) => sk
                .order
                .iter()
                .map(|r| (show(sk.name(r)), sk.recs[r as usize].score))
                .collect(),
        }
    }

    fn lp_bytes(z: &ZsetValue) -> u64 {
        match &z.enc {
            Encoding::Listpack(_, b, _) => *b,
            Encoding::Skiplist(_) => panic!("a listpack"),
        }
    }

    /// Scores as `d2string` writes them and the listpack entries they take.
    #[test]
    fn score_texts_and_entries() {
        for (v, text) in [
            (0.1, "0.10000000000000001"),
            (1.5, "1.5"),
            (2.7, "2.7000000000000002"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (1e20, "1e+20"),
            (-0.000123, "-0.00012300000000000001"),
            (2f64.powi(63), "9.2233720368547758e+18"),
            (1.0 / 3.0, "0.33333333333333331"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(format_g17(v), text, "{v:e}");
            assert_eq!(d2string(v), text);
        }
        // %.17g and d2string differ on integers of 18 digits and more: ll2string there.
        assert_eq!(format_g17(1e17), "1e+17");
        assert_eq!(d2string(1e17), "100000000000000000");
        assert_eq!(format_g17(-0.0), "-0");
        // double2ll: integers within ±2^62 only.
        assert_eq!(double2ll(2f64.powi(62)), Some(1 << 62));
        assert_eq!(double2ll(2f64.powi(63)), None);
        assert_eq!(double2ll(-0.0), Some(0));
        assert_eq!(double2ll(1.5), None);
        // Entries: 7-bit uint 1 + backlen 1; 13-bit 2 + 1; 24-bit 4 + 1; 64-bit 9 + 1;
        // strings 1 + text + 1.
        assert_eq!(listpack_score_entry(1.0), 2);
        assert_eq!(listpack_score_entry(-1.0), 3);
        assert_eq!(listpack_score_entry(100_000.0), 5);
        assert_eq!(listpack_score_entry(2f64.powi(62)), 10);
        assert_eq!(listpack_score_entry(0.1), 21);
        assert_eq!(listpack_score_entry(2.5), 5);
        assert_eq!(listpack_score_entry(f64::INFINITY), 5);
        assert_eq!(listpack_score_entry(1e20), 7);
        assert_eq!(listpack_score_entry(2f64.powi(63)), 24);
    }

    /// A skiplist member's record is 32 bytes.
    #[test]
    fn a_record_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Rec>(), 32);
    }

    /// Score arguments as `string2d` takes or refuses them.
    #[test]
    fn scores_parse_as_strtod_does() {
        for (t, v) in [
            ("1", 1.0),
            ("-2.5", -2.5),
            ("+.5", 0.5),
            ("1e3", 1000.0),
            ("inf", f64::INFINITY),
            ("-INF", f64::NEG_INFINITY),
            ("+Infinity", f64::INFINITY),
            ("0e7", 0.0),
            ("4.9e-324", 5e-324),
        ] {
            assert_eq!(parse_score(t.as_bytes()), Some(v), "{t}");
        }
        for t in [
            "", " 1", "1 ", "nan", "abc", "1e400", "-1e400", "1e-400", "1.5x", "0x10",
        ] {
            assert_eq!(parse_score(t.as_bytes()), None, "{t}");
        }
    }

    /// `zslRandomLevel` with p = 1/4: three nodes in four have one level, and the draws
    /// repeat with the seed.
    #[test]
    fn levels_are_drawn_with_a_quarter_chance_each() {
        let mut d = Draws::new(7);
        let levels: Vec<u8> = (0..100_000).map(|_| random_level(&mut d)).collect();
        let share = |l: u8| levels.iter().filter(|&&x| x == l).count() as f64 / 1e5;
        assert!((share(1) - 0.75).abs() < 0.01, "{}", share(1));
        assert!((share(2) - 0.1875).abs() < 0.01, "{}", share(2));
        assert!((share(3) - 0.046875).abs() < 0.005, "{}", share(3));
        let mut again = Draws::new(7);
        assert!(levels.iter().take(1000).all(|&l| l == random_level(&mut again)));
        assert!(levels.iter().all(|&l| (1..=32).contains(&l)));
    }

    /// A listpack grows entry by entry: lpNew's 7 bytes (8-byte block), then per member its
    /// entry and its score's, each `lpInsert` reallocating to the exact length when it
    /// outgrows the block; a new score deletes the pair (shrunk to fit) and inserts it again.
    #[test]
    fn a_listpack_grows_entry_by_entry() {
        let (mut s, mut z) = start(&[b"1", b"a"]);
        // "a" (1 + 1 + 1 = 3): 10 B > 8 → realloc(10); score 1 (int, 2 B): 12 B.
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"1", b"a"]), 2);
        // "b" (3): 15 B; "2.5" (1 + 3 + 1 = 5): 20 B > 16 → realloc(20).
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"2.5", b"b"]), 4);
        // "ccc" (5): 25 B; 100000 (24-bit int, 4 + 1): 30 B.
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"100000", b"ccc"]), 9);
        // "d" (3): 33 B > 32 → realloc(33); 0.1 as "0.10000000000000001" (21): 54 B > 48.
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"0.1", b"d"]), 4);
        assert_eq!(ops_since(&s, 0), [A(7), A(16), R(10), R(20), R(33), R(54)]);
        assert_eq!(lp_bytes(&z), 54);
        // MEMORY USAGE's value part: robj 16 + the 64-byte block.
        assert_eq!(z.object_size(&s.heap.arena, &s.profile), 80);
        // ccc 100000 → 1.5: the pair (10 B) out, 44 B → realloc(44) into the 48 class; "ccc"
        // back, 49 B → realloc(49); "1.5" (5 B): 54 B again.
        let t = trace_len(&s);
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"1.5", b"ccc"]), 3 - 6);
        assert_eq!(ops_since(&s, t), [R(44), R(49)]);
        assert_eq!(
            members(&z),
            [
                ("d".into(), 0.1),
                ("a".into(), 1.0),
                ("ccc".into(), 1.5),
                ("b".into(), 2.5)
            ]
        );
        // The same score again, NX, XX of a new member, GT with a lower score, LT with a
        // higher one: nothing changes.
        let t = trace_len(&s);
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"1.50", b"ccc"]), 0);
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"NX", b"9", b"a"]), 0);
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"xx", b"9", b"new"]), 0);
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"GT", b"0", b"b"]), 0);
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"LT", b"7", b"b"]), 0);
        assert_eq!(ops_since(&s, t), []);
        assert_eq!(lp_bytes(&z), 54);
        // Ties in score order by member bytes.
        write(&mut s, &mut z, Cmd::Zadd, &[b"1", b"A", b"1", b"aa", b"1", b"B"]);
        let names: Vec<String> = members(&z).into_iter().map(|m| m.0).collect();
        assert_eq!(names, ["d", "A", "B", "a", "aa", "ccc", "b"]);
    }

    /// ZINCRBY adds to the score (a missing member starts from 0); an increment that makes it
    /// NaN changes nothing. The payload counts the result's text.
    #[test]
    fn increments_move_members() {
        let (mut s, mut z) = start(&[b"1", b"a"]);
        write(&mut s, &mut z, Cmd::Zadd, &[b"1", b"a", b"inf", b"b"]);
        // a: 1 + 1.5 = 2.5 ("2.5": 3 bytes of text instead of 1).
        assert_eq!(write(&mut s, &mut z, Cmd::Zincrby, &[b"1.5", b"a"]), 2);
        assert_eq!(members(&z)[0], ("a".into(), 2.5));
        // A new member: "c" and "-3".
        assert_eq!(write(&mut s, &mut z, Cmd::Zincrby, &[b"-3", b"c"]), 3);
        // inf + -inf is NaN: an error, nothing changes.
        let bytes = lp_bytes(&z);
        assert_eq!(write(&mut s, &mut z, Cmd::Zincrby, &[b"-inf", b"b"]), 0);
        assert_eq!(lp_bytes(&z), bytes);
        // ZADD INCR GT with a negative increment: no update.
        assert_eq!(
            write(&mut s, &mut z, Cmd::Zadd, &[b"GT", b"INCR", b"-1", b"a"]),
            0
        );
        assert_eq!(
            members(&z),
            [("c".into(), -3.0), ("a".into(), 2.5), ("b".into(), f64::INFINITY)]
        );
        // 7 + c (3 + 3) + a (3 + 5) + b (3 + "inf" 5).
        assert_eq!(lp_bytes(&z), 7 + 6 + 8 + 8);
    }

    /// The 129th member (here the 5th, the limit lowered to 4) converts the listpack: the
    /// `zset` struct (16), the dict struct (56), the `zskiplist` (32), the header node (24 +
    /// 32 × 16 = 536), then per member in order its sds ("a": 1 + 1 + 1 = 3), its node
    /// (24 + 16 × level) and its dict entry (24), the dict's first table (4 × 8) with the first
    /// entry; the listpack (last asked 17 B) freed; then the new member, whose entry finds 4
    /// entries in 4 buckets and doubles the table to 8 × 8 = 64.
    #[test]
    fn the_member_past_the_limit_converts_the_listpack() {
        let (mut s, mut z) = start(&[b"1", b"a"]);
        s.profile.types.zset_max_listpack_entries = 4;
        write(
            &mut s,
            &mut z,
            Cmd::Zadd,
            &[b"1", b"a", b"2", b"b", b"3", b"c", b"4", b"d"],
        );
        // a: 10 > 8 → realloc(10), 12; b: 15, 17 > 16 → realloc(17); c: 20, 22; d: 25, 27.
        assert_eq!(ops_since(&s, 0), [A(7), A(16), R(10), R(17)]);
        assert_eq!(lp_bytes(&z), 27);
        let used = s.heap.zmalloc_used;
        fix_levels(&[1, 2, 3, 1, 4]);
        let t = trace_len(&s);
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"5", b"e"]), 2);
        fix_levels(&[]);
        #[rustfmt::skip]
        let want = [
            A(16), A(56), A(32), A(536),
            A(3), A(40), A(32), A(24),
            A(3), A(56), A(24),
            A(3), A(72), A(24),
            A(3), A(40), A(24),
            F(17),
            A(3), A(88), A(64), A(24),
        ];
        assert_eq!(ops_since(&s, t), want);
        // Held now: robj 16, zset 16, dict 64, zskiplist 32, header 640 (536's class), both
        // tables (32 + 64, the rehash just started), 5 sds of 8, 5 entries of 32, nodes
        // 48 + 64 + 80 + 48 + 96 = 336: 1,400 bytes, where the listpack's robj and 32-byte
        // block were 48.
        assert_eq!(s.heap.zmalloc_used - used, 1400 - 48);
        // objectComputeSize: 16 + 16 + 32 + 56 + 8 × (4 + 8) + 640 = 856, and per member
        // 8 + 24 + node: 160 + 336 = 496.
        assert_eq!(z.object_size(&s.heap.arena, &s.profile), 856 + 496);
        // The footprint: the 5 sds blocks and the nodes.
        assert_eq!(z.footprint(&s.heap.arena), 40 + 336);
        let names: Vec<String> = members(&z).into_iter().map(|m| m.0).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
    }

    /// The 129th member of a sorted set passes `zset-max-listpack-entries` (128): the listpack
    /// becomes a skiplist. Levels fixed: every fourth member at level 2, the rest at 1 (97
    /// nodes of 24 + 16 = 40 -> 48 B, 32 of 56 -> 64 B). The dict grew 4, 8, ..., 128 buckets
    /// while the 128 were copied (each rehash finished by the adds that followed it), and the
    /// 129th doubled it to 256 (the rehash just started: both tables held). Names "m000".."m128"
    /// are sds of 1 + 4 + 1 = 6 -> 8 B, entries 24 -> 32 B.
    #[test]
    fn a_129_member_skiplist_to_the_byte() {
        let mut s = server(&[]);
        let base = s.heap.zmalloc_used;
        let names: Vec<Vec<u8>> = (0..129).map(|i| format!("m{i:03}").into_bytes()).collect();
        let scores: Vec<Vec<u8>> = (0..129).map(|i| i.to_string().into_bytes()).collect();
        let mut args: Vec<&[u8]> = Vec::new();
        for (sc, n) in scores.iter().zip(&names) {
            args.push(sc);
            args.push(n);
        }
        let mut z = ZsetValue::create(&mut s.mem(), Cmd::Zadd, &args);
        let levels: Vec<u8> = (0..129).map(|i| if i % 4 == 3 { 2 } else { 1 }).collect();
        fix_levels(&levels);
        assert_eq!(
            write(&mut s, &mut z, Cmd::Zadd, &args),
            129 * 4 + 10 + 90 * 2 + 29 * 3
        );
        fix_levels(&[]);
        assert!(matches!(z.enc, Encoding::Skiplist(_)));
        let nodes = 97 * 48 + 32 * 64;
        // robj, zset, dict struct (56 -> 64), zskiplist, header (24 + 32 x 16 = 536 -> 640),
        // tables of 128 and 256 buckets, and per member its sds, entry and node.
        let held = 16 + 16 + 64 + 32 + 640 + 128 * 8 + 256 * 8 + 129 * (8 + 32) + nodes;
        assert_eq!(s.heap.zmalloc_used - base, held);
        assert_eq!(held, 15_704);
        // objectComputeSize: 16 + 16 + 32 + 56 + 8 x 384 + 640 = 3,832, then per member
        // 8 + 24 + its node.
        assert_eq!(
            z.object_size(&s.heap.arena, &s.profile),
            3_832 + 129 * (8 + 24) + nodes
        );
    }

    /// A member longer than `zset-max-listpack-value` (64) converts a listpack, and makes a new
    /// key a skiplist from the start (`createZsetObject`) when it comes first; later in the
    /// command it converts the listpack just made.
    #[test]
    fn a_long_member_converts() {
        let long = [b'x'; 65];
        fix_levels(&[1, 2]);
        let (mut s, mut z) = start(&[b"1", b"a"]);
        write(&mut s, &mut z, Cmd::Zadd, &[b"1", b"a"]);
        let t = trace_len(&s);
        // The 65-byte member's sds: type 8, 3 + 65 + 1 = 69.
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"2", &long]), 66);
        assert_eq!(
            ops_since(&s, t),
            [
                A(16),
                A(56),
                A(32),
                A(536),
                A(3),
                A(40),
                A(32),
                A(24),
                F(10),
                A(69),
                A(56),
                A(24)
            ]
        );

        fix_levels(&[1]);
        let (mut s, mut z) = start(&[b"1", &long]);
        write(&mut s, &mut z, Cmd::Zadd, &[b"1", &long]);
        // zset, dict, zskiplist, header, robj; then sds, node, table, entry.
        assert_eq!(
            ops_since(&s, 0),
            [A(16), A(56), A(32), A(536), A(16), A(69), A(40), A(32), A(24)]
        );

        // NX before the pairs: the first member is still the one looked at.
        let (s, z) = start(&[b"NX", b"1", b"a", b"2", &long]);
        assert!(matches!(z.enc, Encoding::Listpack(..)));
        assert_eq!(ops_since(&s, 0), [A(7), A(16)]);
        fix_levels(&[]);
    }

    /// `zslUpdateScore`: a new score that keeps the node between its neighbours updates it in
    /// place; one that moves it makes a node of a new level and frees the old one (the sds
    /// stays).
    #[test]
    fn a_skiplist_score_update_moves_or_stays() {
        fix_levels(&[1, 1, 1, 3]);
        let mut s = server(&[]);
        // `zset-max-listpack-entries 0`: every sorted set is a skiplist.
        s.profile.types.zset_max_listpack_entries = 0;
        s.heap.record();
        let mut z = ZsetValue::create(&mut s.mem(), Cmd::Zadd, &[b"1", b"a"]);
        assert_eq!(ops_since(&s, 0), [A(16), A(56), A(32), A(536), A(16)]);
        let t = trace_len(&s);
        write(&mut s, &mut z, Cmd::Zadd, &[b"1", b"a", b"2", b"b", b"3", b"c"]);
        #[rustfmt::skip]
        assert_eq!(ops_since(&s, t), [
            A(3), A(40), A(32), A(24),
            A(3), A(40), A(24),
            A(3), A(40), A(24),
        ]);
        let t = trace_len(&s);
        // b: 2 → 2.5 stays between a (1) and c (3): no allocation; the text grows by 2.
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"2.5", b"b"]), 2);
        assert_eq!(ops_since(&s, t), []);
        // b: 2.5 → 5 passes c: a level-3 node (72), the level-1 one (40) freed.
        assert_eq!(write(&mut s, &mut z, Cmd::Zadd, &[b"5", b"b"]), -2);
        assert_eq!(ops_since(&s, t), [A(72), F(40)]);
        // a: 1 → 0.5, first still: in place. Then 4: passes c, a level-1 node again.
        let t = trace_len(&s);
        write(&mut s, &mut z, Cmd::Zadd, &[b"0.5", b"a"]);
        assert_eq!(ops_since(&s, t), []);
        write(&mut s, &mut z, Cmd::Zadd, &[b"4", b"a"]);
        assert_eq!(ops_since(&s, t), [A(40), F(40)]);
        // Equal scores do not keep a node in place: c to 4 ties with a ("a" < "c": c stays
        // after a, but a's score is not below 4) → moved.
        let t = trace_len(&s);
        write(&mut s, &mut z, Cmd::Zadd, &[b"4", b"c"]);
        assert_eq!(ops_since(&s, t), [A(40), F(40)]);
        assert_eq!(
            members(&z),
            [("a".into(), 4.0), ("c".into(), 4.0), ("b".into(), 5.0)]
        );
        fix_levels(&[]);
    }

    /// ZREM on a skiplist: per member its dict entry, then its sds and its node; the dict
    /// shrinks once filled below 10 %. Nine members grow the table 4 → 8 → 16 (the 8-bucket
    /// one freed by the rehash steps of the removals), the eighth removal leaves 1 entry in 16
    /// buckets (6 %) and starts a 4-bucket table; removing the last empties the sorted set,
    /// and freeing it frees both tables, the dict struct, the header, the `zskiplist`, the
    /// `zset` struct and the robj.
    #[test]
    fn removals_free_entry_sds_node_and_shrink_the_dict() {
        fix_levels(&[1]);
        let mut s = server(&[]);
        s.profile.types.zset_max_listpack_entries = 0;
        s.heap.record();
        let mut z = ZsetValue::create(&mut s.mem(), Cmd::Zadd, &[b"1", b"m1"]);
        let names: Vec<Vec<u8>> = (1..=9).map(|i| format!("m{i}").into_bytes()).collect();
        for (i, n) in names.iter().enumerate() {
            write(&mut s, &mut z, Cmd::Zadd, &[format!("{}", i + 1).as_bytes(), n]);
        }
        let sizes = |s: &Server| recorded_allocs(s);
        // Tables made: 4, 8 and 16 buckets.
        assert_eq!(
            sizes(&s)
                .iter()
                .filter(|&&a| a == 32 || a == 64 || a == 128)
                .count(),
            4
        );
        for n in &names[..7] {
            assert_eq!(write(&mut s, &mut z, Cmd::Zrem, &[n]), -3);
        }
        assert!(ops_since(&s, 0).contains(&F(64)));
        let t = trace_len(&s);
        // "m8": the entry, the sds (1 + 2 + 1 = 4), the node; then the 4-bucket table.
        assert_eq!(write(&mut s, &mut z, Cmd::Zrem, &[b"absent", &names[7]]), -3);
        assert_eq!(ops_since(&s, t), [F(24), F(4), F(40), A(32)]);
        let t = trace_len(&s);
        assert_eq!(write(&mut s, &mut z, Cmd::Zrem, &[&names[8], b"never"]), -3);
        assert!(z.is_empty());
        z.free(&mut s.mem());
        // "m9" is the old table's only entry: `dictUnlink`'s rehash step moves its bucket when
        // it is among the first 10 (then the 16-bucket table goes at once, the rehash done),
        // else it visits 10 empty buckets and stops, and the table goes with the dict.
        let bucket = NameHasher::new(s.mem().hash_seed).hash(&names[8]) & 15;
        let member = [F(24), F(4), F(40)];
        let rest = [F(32), F(56), F(536), F(32), F(16), F(16)];
        let expected: Vec<_> = if bucket < 10 {
            [&[F(128)][..], &member, &rest].concat()
        } else {
            [&member[..], &[F(128)], &rest].concat()
        };
        assert_eq!(ops_since(&s, t), expected, "m9 in bucket {bucket}");
        assert_eq!(s.heap.zmalloc_used, 0);
        fix_levels(&[]);
    }

    /// ZREMRANGEBYRANK: negative ranks count from the end; a listpack loses the pairs' bytes at
    /// once and shrinks to fit; a skiplist frees each node in order (its entry, sds and node),
    /// then shrinks its dict if it is sparse.
    #[test]
    fn ranges_by_rank_leave_either_encoding() {
        let (mut s, mut z) = start(&[b"1", b"aaaa"]);
        let pairs: [&[u8]; 10] = [
            b"1", b"aaaa", b"2", b"bbbb", b"3", b"cccc", b"4", b"dddd", b"5", b"eeee",
        ];
        write(&mut s, &mut z, Cmd::Zadd, &pairs);
        // 7 + 5 × (6 + 2) = 47 bytes in a 48-byte block.
        assert_eq!(lp_bytes(&z), 47);
        let t = trace_len(&s);
        // An empty range, and one past the end: nothing.
        assert_eq!(write(&mut s, &mut z, Cmd::Zremrangebyrank, &[b"3", b"1"]), 0);
        assert_eq!(write(&mut s, &mut z, Cmd::Zremrangebyrank, &[b"5", b"9"]), 0);
        assert_eq!(write(&mut s, &mut z, Cmd::Zremrangebyrank, &[b"-9", b"-6"]), 0);
        // -3..-2: cccc and dddd, 31 bytes → realloc(31) into the 32 class.
        assert_eq!(write(&mut s, &mut z, Cmd::Zremrangebyrank, &[b"-3", b"-2"]), -10);
        assert_eq!(ops_since(&s, t), [R(31)]);
        let names: Vec<String> = members(&z).into_iter().map(|m| m.0).collect();
        assert_eq!(names, ["aaaa", "bbbb", "eeee"]);
        // -100..0: the first; then everything: 7 bytes → realloc(7) into the 8 class.
        assert_eq!(write(&mut s, &mut z, Cmd::Zremrangebyrank, &[b"-100", b"0"]), -5);
        assert_eq!(write(&mut s, &mut z, Cmd::Zremrangebyrank, &[b"0", b"-1"]), -10);
        assert!(z.is_empty());
        assert_eq!(lp_bytes(&z), 7);
        assert_eq!(ops_since(&s, t), [R(31), R(7)]);

        // Six skiplist members of levels 1 to 6; ranks 1..3 go in order. The dict, doubled
        // to 8 buckets by the fifth member, is still rehashing (the sixth member's `dictFind`
        // and `dictAdd` made two steps of 4 / 2.73 buckets): the first removal's step
        // finishes it (the model's expected pace) and frees the 4-bucket table first.
        fix_levels(&[1, 2, 3, 4, 5, 6]);
        let mut s = server(&[]);
        s.profile.types.zset_max_listpack_entries = 0;
        s.heap.record();
        let mut z = ZsetValue::create(&mut s.mem(), Cmd::Zadd, &[b"1", b"m1"]);
        let args: Vec<Vec<u8>> = (1..=6)
            .flat_map(|i| [format!("{i}").into_bytes(), format!("m{i}").into_bytes()])
            .collect();
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        write(&mut s, &mut z, Cmd::Zadd, &args);
        let t = trace_len(&s);
        assert_eq!(write(&mut s, &mut z, Cmd::Zremrangebyrank, &[b"1", b"-3"]), -9);
        #[rustfmt::skip]
        assert_eq!(ops_since(&s, t), [
            F(32), F(24), F(4), F(56),
            F(24), F(4), F(72),
            F(24), F(4), F(88),
        ]);
        let names: Vec<String> = members(&z).into_iter().map(|m| m.0).collect();
        assert_eq!(names, ["m1", "m5", "m6"]);
        fix_levels(&[]);
    }

    /// `freeZsetObject`: the dict's entries in the walk order of their names, its table and
    /// struct; the header; each node's sds then node, in score order; the `zskiplist`, the
    /// `zset` struct; then the robj.
    #[test]
    fn a_skiplist_is_freed_dict_first_then_in_order() {
        fix_levels(&[1, 2, 3]);
        let long = [b'z'; 70];
        let mut s = server(&[]);
        s.heap.record();
        let mut z = ZsetValue::create(&mut s.mem(), Cmd::Zadd, &[b"0", &long]);
        // Members by insertion: long (score 0, level 1, sds 74), a (3, level 2, sds 3),
        // bb (1, level 3, sds 4).
        write(&mut s, &mut z, Cmd::Zadd, &[b"0", &long, b"3", b"a", b"1", b"bb"]);
        let entries: Vec<u32> = {
            let ops = &s.heap.recorder.as_ref().unwrap().ops;
            (0..ops.len() as u32)
                .filter(|&i| matches!(ops[i as usize], TraceOp::Alloc { size: 24 }))
                .collect()
        };
        assert_eq!(entries.len(), 3);
        let t = trace_len(&s);
        let expected_walk = s
            .mem()
            .walk_order(vec![long.to_vec(), b"bb".to_vec(), b"a".to_vec()]);
        z.free(&mut s.mem());
        let ops = s.heap.recorder.as_ref().unwrap().ops[t..].to_vec();
        let freed_entries: Vec<Vec<u8>> = ops[..3]
            .iter()
            .map(|o| match *o {
                TraceOp::Free { op } => {
                    let k = entries.iter().position(|&e| e == op).expect("an entry");
                    [long.to_vec(), b"a".to_vec(), b"bb".to_vec()][k].clone()
                }
                _ => panic!("an entry's free"),
            })
            .collect();
        assert_eq!(freed_entries, expected_walk);
        #[rustfmt::skip]
        assert_eq!(ops_since(&s, t + 3), [
            F(32), F(56), F(536),
            F(74), F(40), F(4), F(72), F(3), F(56),
            F(32), F(16), F(16),
        ]);
        assert_eq!(s.heap.zmalloc_used, 0);
        fix_levels(&[]);
    }

    /// Through the server: ZADD XX on a missing key creates nothing; a sorted set emptied by
    /// ZREM or ZREMRANGEBYRANK loses its key, and everything it held is freed (the keyspace's
    /// 4-bucket table stays); `MEMORY USAGE` of a listpack key: robj 16 + its block, the key's
    /// sds block (8) and a dict entry (24).
    #[test]
    fn emptied_sorted_sets_lose_their_keys() {
        let mut s = server(&[
            "zadd",
            "zrem",
            "zremrangebyrank",
            "zincrby",
            "memory|usage",
            "ping",
        ]);
        let c = s.connect();
        // The client's first read makes its query buffer.
        s.exec(c, &argv(&[b"PING"])).unwrap();
        let base = s.used_memory();
        s.exec(c, &argv(&[b"ZADD", b"z", b"XX", b"1", b"a"])).unwrap();
        assert_eq!((s.dbsize(), s.used_memory()), (0, base));
        s.exec(c, &argv(&[b"ZADD", b"z", b"1", b"a", b"2", b"b"]))
            .unwrap();
        // 7 + 2 × (3 + 2) = 17 bytes: a 32-byte block.
        assert_eq!(s.memory_usage(b"z"), Some(16 + 32 + 8 + 24));
        assert_eq!(s.payload_bytes(), 1 + 4);
        s.exec(c, &argv(&[b"ZINCRBY", b"z", b"0.5", b"a"])).unwrap();
        assert_eq!(s.payload_bytes(), 1 + 6);
        s.exec(c, &argv(&[b"ZREM", b"z", b"a", b"b", b"c"])).unwrap();
        assert_eq!((s.dbsize(), s.used_memory()), (0, base + 32));
        assert_eq!(s.payload_bytes(), 0);
        let long = [b'q'; 100];
        s.exec(c, &argv(&[b"ZADD", b"z", b"1", &long, b"2", b"b"]))
            .unwrap();
        assert!(s.memory_usage(b"z").unwrap() > 16 + 16 + 32 + 56 + 640);
        s.exec(c, &argv(&[b"ZREMRANGEBYRANK", b"z", b"0", b"-1"]))
            .unwrap();
        assert_eq!((s.dbsize(), s.used_memory()), (0, base + 32));
        // Errors are refused: a bad score, a bad rank, incompatible options.
        for bad in [
            argv(&[b"ZADD", b"z", b"x", b"a"]),
            argv(&[b"ZADD", b"z", b"NX", b"XX", b"1", b"a"]),
            argv(&[b"ZADD", b"z", b"INCR", b"1", b"a", b"2", b"b"]),
            argv(&[b"ZADD", b"z", b"1"]),
            argv(&[b"ZREMRANGEBYRANK", b"z", b"0", b"x"]),
        ] {
            assert!(matches!(s.exec(c, &bad), Ok(Reply::Unsupported(_))));
        }
        assert_eq!((s.dbsize(), s.used_memory()), (0, base + 32));
    }

    /// Many members in random order, updates and removals (by name and by rank, blocks split
    /// and merged): the skiplist's order, index and blocks agree with a sorted list, and
    /// freeing it frees every block.
    #[test]
    fn the_member_order_follows_a_sorted_list() {
        let mut s = server(&[]);
        s.profile.types.zset_max_listpack_entries = 0;
        let mut z = ZsetValue::create(&mut s.mem(), Cmd::Zadd, &[b"0", b"x"]);
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        let mut d = Draws::new(3);
        for step in 0..20_000u32 {
            let name = format!("m{}", d.below(5000)).into_bytes();
            let score = d.below(50) as f64 / 2.0;
            match d.below(40) {
                0..=29 => {
                    write(&mut s, &mut z, Cmd::Zadd, &[format!("{score}").as_bytes(), &name]);
                    model.retain(|m| m.1 != name);
                    model.push((score, name));
                }
                30..=37 => {
                    write(&mut s, &mut z, Cmd::Zrem, &[&name]);
                    model.retain(|m| m.1 != name);
                }
                _ => {
                    let a = d.below(40) as i64 - 20;
                    let b = a + d.below(5) as i64;
                    let (sa, sb) = (a.to_string(), b.to_string());
                    write(
                        &mut s,
                        &mut z,
                        Cmd::Zremrangebyrank,
                        &[sa.as_bytes(), sb.as_bytes()],
                    );
                    model.sort_by(|x, y| order_of(x.0, &x.1, y.0, &y.1));
                    let n = model.len() as i64;
                    let (mut st, mut en) = (if a < 0 { n + a } else { a }, if b < 0 { n + b } else { b });
                    st = st.max(0);
                    if st <= en && st < n {
                        en = en.min(n - 1);
                        model.drain(st as usize..=en as usize);
                    }
                }
            }
            if z.is_empty() {
                break;
            }
            if step % 997 == 0 || step == 19_999 {
                model.sort_by(|x, y| order_of(x.0, &x.1, y.0, &y.1));
                let got: Vec<(String, f64)> = members(&z);
                let want: Vec<(String, f64)> = model
                    .iter()
                    .map(|m| (String::from_utf8_lossy(&m.1).into_owned(), m.0))
                    .collect();
                assert_eq!(got, want, "step {step}");
                let Encoding::Skiplist(sk) = &z.enc else { panic!() };
                for m in &model {
                    let r = sk.find(&m.1).expect("indexed");
                    assert_eq!(sk.name(r), m.1.as_slice());
                }
                assert!(sk.order.blocks.iter().all(|b| !b.is_empty() && b.len() <= BLOCK));
            }
        }
        assert!(model.len() > 2000, "{}", model.len());
        z.free(&mut s.mem());
        assert_eq!(s.heap.zmalloc_used, 0);
    }
}
