//! Sets (t_set.c, intset.c; object.c and dict.c for their blocks), as Redis 7.0 keeps them:
//!
//! - a new set is an intset when its first member is an integer (`setTypeCreate`,
//!   `createIntsetObject`: `intsetNew`, then the robj), else a dict without values
//!   (`createSetObject`: `dictCreate`, then the robj);
//! - SADD (`saddCommand`, `setTypeAdd`) grows an intset by a `zrealloc` per new member
//!   (`intsetAdd`, `intsetResize`), widening every member when a wider integer comes
//!   (`intsetUpgradeAndAdd`), and converts it to a dict (`setTypeConvert`) when a member is not
//!   an integer or when it holds more than `set-max-intset-entries`; a dict set takes a
//!   `dictEntry` and a copy of the member (`dictAddRaw`, `sdsdup`) per new member, its table
//!   doubling as the dict model grows it;
//! - SREM (`sremCommand`, `setTypeRemove`) shrinks an intset by a `zrealloc` (`intsetRemove`)
//!   and deletes a dict's entries (`dictDelete`), shrinking its table when it is filled below
//!   `HASHTABLE_MIN_FILL` (`htNeedsResize`, `dictResize`); a dict set never goes back to an
//!   intset;
//! - SPOP (`spopCommand`, `spopWithCountCommand`) takes random members, with the string objects
//!   it makes for the reply and for propagation, the argv it rewrites (`SREM key member`,
//!   `DEL key`) and, for counts, its three strategies: the whole set (`sunionDiffGenericCommand`
//!   builds and frees a copy, then the key is deleted), members taken one by one, or a new set
//!   built from the members that stay (`dbOverwrite`);
//! - the key is deleted when a removal leaves the set empty; `freeSetObject` (`dictRelease`:
//!   each member's sds and entry in the dict's walk order, its tables, the dict) or the intset,
//!   then the robj, when the key goes;
//! - `MEMORY USAGE` is `objectComputeSize`'s set case.
//!
//! The model keeps no member's bytes: an intset's members as a sorted vector of integers (8 B
//! a member), a dict set's as 24-byte records (a hash of the bytes, the integer or a second
//! hash and the length, the objects of the member's sds and entry) in a dense vector, found
//! through an open-addressing index of 8-byte slots filled 3/32 to 3/4 (about 35-45 B a
//! member in all, against Redis's 56 B or more).

use std::cell::Cell;

use crate::jemalloc::{Arena, ObjId};
use crate::redis::dict::Dict;
use crate::redis::encoding::{as_integer, decimal_len, intset_width, listpack_entry, listpack_string_entry};
use crate::redis::heap::Alloc;
use crate::redis::profile::{RedisProfile, TableKind};

use super::dispatch::{unsupported, Cmd, Reply};
use super::keytable::NameHasher;
use super::nvdict::{NvDict, Rules, ENTRY_NO_VALUE};
use super::query::{array_reply_len, bulk_reply_len, resp_header};
use super::string::StringValue;
use super::tagindex::TagIndex;
use super::value::{add_sampled, listpack_structure, Aggregate, BlockKind, Blocks, Mem, Value, ValueType};
use super::vktable::{Kind, VkTable};
use super::Server;

/// `sizeof(setTypeIterator)` (subject, encoding, intset position, dict iterator): what
/// `setTypeInitIterator` allocates for a walk over a set.
const SET_TYPE_ITERATOR: u64 = 24;
/// `sizeof(dictIterator)`: what `dictGetIterator` allocates for a walk over a dict set.
const DICT_ITERATOR: u64 = 48;
/// `GETFAIR_NUM_ENTRIES`: `dictGetFairRandomKey` samples this many entries, with as many
/// rehash steps (at most the dict's size) while the dict is rehashing.
const FAIR_RANDOM_SAMPLE: u64 = 15;
/// `SPOP_MOVE_STRATEGY_MUL`: SPOP with a count builds a new set of the members that stay when
/// they are at most a fifth of those it takes.
const SPOP_MOVE_STRATEGY_MUL: u64 = 5;
/// `setTypeAdd` caps `set-max-intset-entries` at 2^30.
const INTSET_MAX_ENTRIES_CAP: u64 = 1 << 30;
/// `sizeof(robj*)`: a slot of an argument vector.
const POINTER: u64 = 8;
/// RESP2's empty set reply (`*0\r\n`) and null bulk reply (`$-1\r\n`).
const EMPTY_SET_REPLY: u64 = 4;
const NULL_REPLY: u64 = 5;

/// The internal phases of SPOP without a count, as arguments of the value's write (see
/// [`Server::set_type_command`]): draw the member, remove it, then let the key go if the set
/// is empty.
const SPOP_PICK: &[u8] = b"\0pick";
const SPOP_TAKE: &[u8] = b"\0take";
const SPOP_DONE: &[u8] = b"\0done";
/// SPOP with a count: the next argument is the count.
const SPOP_COUNT: &[u8] = b"\0count";

/// A member of a dict set as the model knows it, without its bytes. `h` is the member's
/// walk-order hash (the dict model's stand-in for Redis's SipHash of the sds, see
/// [`Mem::walk_order`]) with its lowest bit replaced by whether `string2ll` reads the member
/// as an integer. For an integer, `x` is its value (its bytes are its decimal form); for any
/// other string, a second 32-bit hash of another function (high half) and its length (low
/// half). Two strings are taken for one member only if they agree on the 63 bits of the first
/// hash, the 32 of the second and the length (about once in 10^11 sets of 10^7 members);
/// integers never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    h: u64,
    x: u64,
}

/// A 32-bit hash of `b` by another function than SipHash (multiply-xorshift over 8-byte
/// words, then a final mix).
fn check_hash(b: &[u8]) -> u32 {
    let mut x = 0x243f_6a88_85a3_08d3u64 ^ b.len() as u64;
    for c in b.chunks(8) {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        x = (x ^ u64::from_le_bytes(w)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 29;
    }
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    (x ^ (x >> 32)) as u32
}

/// `v` in decimal (what `sdsll2str` writes), at the end of `buf`.
fn decimal(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

impl Key {
    /// The member whose bytes are the decimal form of `v`.
    fn of_int(hasher: &NameHasher, v: i64) -> Key {
        let mut buf = [0u8; 20];
        Key {
            h: hasher.hash(decimal(v, &mut buf)) | 1,
            x: v as u64,
        }
    }

    /// The member `b`, which `string2ll` does not read as an integer.
    fn of_str(hasher: &NameHasher, b: &[u8]) -> Key {
        Key {
            h: hasher.hash(b) & !1,
            x: (check_hash(b) as u64) << 32 | b.len() as u64,
        }
    }

    /// The member's value, if it is an integer.
    fn int(self) -> Option<i64> {
        (self.h & 1 == 1).then_some(self.x as i64)
    }

    /// Bytes of the member.
    fn len(self) -> u64 {
        match self.int() {
            Some(v) => decimal_len(v),
            None => self.x & 0xffff_ffff,
        }
    }
}

/// A member as a set operation receives it.
#[derive(Debug, Clone, Copy)]
enum Elem<'a> {
    /// A member `string2ll` reads as this integer.
    Int(i64),
    /// Any other member, by its bytes.
    Str(&'a [u8]),
    /// A member of a set, by its key and its bucket hash (copied from one set to another).
    Known(Key, u64),
}

impl Elem<'_> {
    /// The member a client sent.
    fn of_bytes(b: &[u8]) -> Elem<'_> {
        match as_integer(b) {
            Some(v) => Elem::Int(v),
            None => Elem::Str(b),
        }
    }

    fn int(&self) -> Option<i64> {
        match *self {
            Elem::Int(v) => Some(v),
            Elem::Str(_) => None,
            Elem::Known(k, _) => k.int(),
        }
    }

    fn key(&self, hasher: &NameHasher) -> Key {
        match *self {
            Elem::Int(v) => Key::of_int(hasher, v),
            Elem::Str(b) => Key::of_str(hasher, b),
            Elem::Known(k, _) => k,
        }
    }

    fn len(&self) -> u64 {
        match *self {
            Elem::Int(v) => decimal_len(v),
            Elem::Str(b) => b.len() as u64,
            Elem::Known(k, _) => k.len(),
        }
    }

    /// The member's bucket hash in a dict that follows its buckets exactly
    /// ([`Mem::member_hash`] of its bytes).
    fn bucket_hash(&self, mem: &Mem<'_>) -> u64 {
        match *self {
            Elem::Int(v) => {
                let mut buf = [0u8; 20];
                mem.member_hash(decimal(v, &mut buf))
            }
            Elem::Str(b) => mem.member_hash(b),
            Elem::Known(_, bh) => bh,
        }
    }

    /// Bytes of the member's listpack entry (an integer's in its integer encoding).
    fn lp_entry(&self) -> u64 {
        match *self {
            Elem::Str(b) => listpack_entry(b),
            _ => {
                let k_int = self.int();
                match k_int {
                    Some(v) => {
                        let mut buf = [0u8; 20];
                        listpack_entry(decimal(v, &mut buf))
                    }
                    None => listpack_string_entry(self.len()),
                }
            }
        }
    }
}

/// One member of a dict set: its key (as 4-byte halves, so that the record is 24 bytes) and
/// the objects of its sds and its `dictEntry`.
#[derive(Debug, Clone, Copy)]
struct Member {
    h: [u32; 2],
    x: [u32; 2],
    /// The bucket hash: the walk-order hash without its integer bit in a Redis 7.0 dict set,
    /// [`Mem::member_hash`] in a Redis 7.2+ one.
    bh: u64,
    sds: ObjId,
    entry: ObjId,
}

impl Member {
    fn key(&self) -> Key {
        Key {
            h: (self.h[0] as u64) << 32 | self.h[1] as u64,
            x: (self.x[0] as u64) << 32 | self.x[1] as u64,
        }
    }

    /// The index's tag: the high half of the walk-order hash.
    fn tag(&self) -> u32 {
        self.h[0]
    }
}

/// The members of a dict set: records in a dense vector (a random member is a random
/// position), found by key through the index.
#[derive(Debug, Clone, Default)]
struct Members {
    recs: Vec<Member>,
    index: TagIndex,
}

impl Members {
    fn len(&self) -> usize {
        self.recs.len()
    }

    fn get(&self, pos: usize) -> &Member {
        &self.recs[pos]
    }

    fn find(&self, k: Key) -> Option<usize> {
        let recs = &self.recs;
        self.index
            .find((k.h >> 32) as u32, |p| recs[p as usize].key() == k)
            .map(|p| p as usize)
    }

    /// Adds member `k` (not in the set) of bucket hash `bh`, held in objects `sds` and `entry`.
    fn insert(&mut self, k: Key, bh: u64, sds: ObjId, entry: ObjId) {
        let pos = u32::try_from(self.recs.len()).expect("fewer than 4 Gi members");
        self.recs.push(Member {
            h: [(k.h >> 32) as u32, k.h as u32],
            x: [(k.x >> 32) as u32, k.x as u32],
            bh,
            sds,
            entry,
        });
        self.index.insert((k.h >> 32) as u32, pos);
    }

    /// Removes the member at `pos` (the last one takes its place) and returns it.
    fn remove(&mut self, pos: usize) -> Member {
        let m = self.recs[pos];
        self.index.remove(m.tag(), pos as u32);
        let last = self.recs.len() - 1;
        if pos != last {
            let moved = self.recs[last];
            self.index.repoint(moved.tag(), last as u32, pos as u32);
        }
        self.index.shrink_if_sparse();
        self.recs.swap_remove(pos);
        if self.recs.capacity() > 64 && self.recs.len() * 4 < self.recs.capacity() {
            self.recs.shrink_to(self.recs.len() * 2);
        }
        m
    }

    /// Positions in the order a walk over the dict meets the members (by walk-order hash).
    fn walk(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.recs.len() as u32).collect();
        order.sort_unstable_by_key(|&p| self.recs[p as usize].key());
        order
    }

    /// Every member, in walk order, the set emptied.
    fn drain_in_walk_order(&mut self) -> Vec<Member> {
        let mut recs = std::mem::take(&mut self.recs);
        self.index = TagIndex::default();
        recs.sort_unstable_by_key(Member::key);
        recs
    }
}

/// An intset: its block, the bytes per member (`encoding`: 2, 4 or 8, never narrowing) and
/// the members in order.
#[derive(Debug, Clone)]
struct Intset {
    block: Alloc,
    width: u64,
    values: Vec<i64>,
}

impl Intset {
    /// `intsetAdd`: a wider value upgrades every member and goes first or last; another one
    /// goes in order; either way the block is reallocated to the new length (`intsetResize`).
    /// An existing value changes nothing. Returns whether `v` was added.
    fn add(&mut self, mem: &mut Mem<'_>, v: i64) -> bool {
        let header = mem.profile.types.intset_header;
        let w = intset_width(v);
        let n = self.values.len() as u64;
        if w > self.width {
            self.width = w;
            self.block = mem.heap.zrealloc(self.block, header + (n + 1) * w);
            if v < 0 {
                self.values.insert(0, v);
            } else {
                self.values.push(v);
            }
            return true;
        }
        match self.values.binary_search(&v) {
            Ok(_) => false,
            Err(pos) => {
                self.block = mem.heap.zrealloc(self.block, header + (n + 1) * self.width);
                self.values.insert(pos, v);
                true
            }
        }
    }

    /// `intsetRemove`: a member found is removed and the block reallocated to the new length.
    /// Returns whether `v` was a member.
    fn remove(&mut self, mem: &mut Mem<'_>, v: i64) -> bool {
        if intset_width(v) > self.width {
            return false;
        }
        match self.values.binary_search(&v) {
            Ok(pos) => {
                let n = self.values.len() as u64;
                let size = mem.profile.types.intset_header + (n - 1) * self.width;
                self.block = mem.heap.zrealloc(self.block, size);
                self.values.remove(pos);
                true
            }
            Err(_) => false,
        }
    }
}

/// A dict set: the dict struct, its tables, its members.
#[derive(Debug, Clone)]
struct Table {
    d: Alloc,
    dict: Dict,
    members: Members,
}

impl Members {
    /// The members' bucket hashes (their walk-order hash without the bit that tells integers
    /// from strings), for the dict to follow its buckets exactly.
    fn bucket_hashes(&self) -> Vec<u64> {
        self.recs.iter().map(|m| m.bh).collect()
    }
}

impl Table {
    /// `_dictExpandIfNeeded`: the first table, or a doubling once the entries reach the
    /// buckets (not while rehashing).
    fn expand_if_needed(&mut self, mem: &mut Mem<'_>) {
        let initial = mem.profile.dict_initial_size;
        if self.dict.table_size() == 0 {
            self.dict.expand(mem.heap, initial, initial);
        } else if !self.dict.is_rehashing() && self.dict.used >= self.dict.table_size() {
            let members = &self.members;
            self.dict
                .expand_hashed(mem.heap, self.dict.used + 1, initial, || members.bucket_hashes());
        }
    }

    /// Adds member `k`: `dictAddRaw` (a rehash step, the expand check, then the entry, or
    /// nothing when `k` is a member), and the member's sds, copied after the entry
    /// (`setTypeAdd`'s `sdsdup`) or, `sds_first`, made before it (`setTypeConvert`'s
    /// `sdsfromlonglong`, the `sdsdup` after a conversion). Returns whether `k` was added.
    fn add(&mut self, mem: &mut Mem<'_>, k: Key, sds_first: bool) -> bool {
        if self.members.find(k).is_some() {
            self.dict.rehash_steps(mem.heap, 1);
            self.expand_if_needed(mem);
            return false;
        }
        let p = mem.profile;
        let sds_request = p.sds_request(k.len());
        let members = &self.members;
        let hashes = || members.bucket_hashes();
        let (sds, entry) = if sds_first {
            let sds = mem.heap.zmalloc(sds_request);
            self.dict.add_hashed(mem.heap, p.dict_initial_size, hashes);
            (sds, mem.heap.zmalloc(p.dict_entry))
        } else {
            self.dict.add_hashed(mem.heap, p.dict_initial_size, hashes);
            let entry = mem.heap.zmalloc(p.dict_entry);
            (mem.heap.zmalloc(sds_request), entry)
        };
        self.members.insert(k, k.h >> 1, sds.id, entry.id);
        true
    }

    /// `dictDelete` of the member at `pos` (a rehash step, its sds, its entry), then
    /// `htNeedsResize` and `dictResize`: a table filled below `HASHTABLE_MIN_FILL` percent
    /// starts shrinking to the smallest power of two that holds the members (not while
    /// rehashing). Returns the member's length.
    fn remove_at(&mut self, mem: &mut Mem<'_>, pos: usize) -> u64 {
        let p = mem.profile;
        let bucket_hash = self.members.get(pos).bh;
        self.dict.delete_hashed(mem.heap, bucket_hash);
        let m = self.members.remove(pos);
        let k = m.key();
        mem.heap.zfree(mem.heap.alloc_of(m.sds, p.sds_request(k.len())));
        mem.heap.zfree(mem.heap.alloc_of(m.entry, p.dict_entry));
        let slots = self.dict.slots();
        let used = self.dict.used;
        if p.dict_needs_shrink(used, slots) && !self.dict.is_rehashing() {
            let initial = p.dict_initial_size;
            let members = &self.members;
            self.dict
                .expand_hashed(mem.heap, used.max(initial), initial, || members.bucket_hashes());
        }
        k.len()
    }

    /// `dictDelete` of member `k`: a rehash step even when `k` is not a member. Returns the
    /// member's length if it was one.
    fn remove(&mut self, mem: &mut Mem<'_>, k: Key) -> Option<u64> {
        match self.members.find(k) {
            Some(pos) => Some(self.remove_at(mem, pos)),
            None => {
                self.dict.rehash_steps(mem.heap, 1);
                None
            }
        }
    }

    /// `dictGetFairRandomKey`: `dictGetSomeKeys`' rehash steps (one per sampled entry, at
    /// most [`FAIR_RANDOM_SAMPLE`]), then a member drawn at random; its position.
    fn random(&mut self, mem: &mut Mem<'_>) -> usize {
        let n = self.members.len() as u64;
        self.dict.rehash_steps(mem.heap, FAIR_RANDOM_SAMPLE.min(n) as u32);
        mem.draws.below(n) as usize
    }
}

/// A member of a Redis 7.2+ listpack set: its key, its bucket hash (for a conversion to a
/// dict) and the bytes of its listpack entry.
#[derive(Debug, Clone, Copy)]
struct LpMember {
    key: Key,
    bh: u64,
    entry: u64,
}

/// A Redis 7.2+ listpack set (`OBJ_ENCODING_LISTPACK`, redis 7.2.6 `src/t_set.c`): its block,
/// its bytes in use (`lpBytes`) and its members in listpack order.
#[derive(Debug, Clone)]
struct SetLp {
    block: Alloc,
    bytes: u64,
    members: Vec<LpMember>,
}

/// `LP_HDR_SIZE` plus the end byte: an empty listpack.
const LP_EMPTY: u64 = 7;

impl SetLp {
    /// `lpNew(capacity)`: a block of `capacity` bytes (at least the empty listpack's 7).
    fn new(mem: &mut Mem<'_>, capacity: u64) -> SetLp {
        SetLp {
            block: mem.heap.zmalloc(capacity.max(LP_EMPTY)),
            bytes: LP_EMPTY,
            members: Vec::new(),
        }
    }

    /// `lpFind`: the member's position.
    fn find(&self, k: Key) -> Option<usize> {
        self.members.iter().position(|m| m.key == k)
    }

    /// `lpAppend` / `lpAppendInteger` (`lpInsert`): the block reallocated to the new length
    /// only when it outgrows its usable size.
    fn append(&mut self, mem: &mut Mem<'_>, key: Key, bh: u64, entry: u64) {
        self.bytes += entry;
        if self.bytes > self.block.usable {
            self.block = mem.heap.zrealloc(self.block, self.bytes);
        }
        self.members.push(LpMember { key, bh, entry });
    }

    /// `lpDelete` of the member at `pos`: `lpInsert` reallocates to the new length.
    fn delete(&mut self, mem: &mut Mem<'_>, pos: usize) -> LpMember {
        let m = self.members.remove(pos);
        self.bytes -= m.entry;
        self.block = mem.heap.zrealloc(self.block, self.bytes);
        m
    }

    /// `lpShrinkToFit`: a reallocation to the bytes in use when the block is larger.
    fn shrink_to_fit(&mut self, mem: &mut Mem<'_>) {
        if self.bytes < self.block.usable {
            self.block = mem.heap.zrealloc(self.block, self.bytes);
        }
    }

    /// `lpBatchDelete` of the members at `positions` (ascending), then `lpShrinkToFit`.
    fn batch_delete(&mut self, mem: &mut Mem<'_>, positions: &[usize]) -> Vec<LpMember> {
        let mut out = Vec::with_capacity(positions.len());
        for &p in positions.iter().rev() {
            let m = self.members.remove(p);
            self.bytes -= m.entry;
            out.push(m);
        }
        out.reverse();
        self.shrink_to_fit(mem);
        out
    }
}

/// A Redis 7.2+ hashtable set: the dict struct, its `no_value` dict (see
/// [`super::nvdict`]) and its members (their sds blocks, for random draws and lookups). On
/// Valkey 8.1+ (`table = "hashtable"`), Valkey's hashtable instead (`setHashtableType`, valkey
/// 8.1.1 and 9.1.2 `src/server.c`: each member's sds pointer in a bucket slot, no entry; see
/// [`super::vktable`]), each member's record holding its element id in `entry`.
#[derive(Debug, Clone)]
struct NvTable {
    d: Alloc,
    dict: NvDict<Key>,
    members: Members,
    vk: Option<Box<VkTable<Key>>>,
}

impl NvTable {
    /// `dictCreate(&setDictType)`: the dict struct, no table yet; Valkey 8.1+'s
    /// `hashtableCreate(&setHashtableType)`: the hashtable struct.
    fn new(mem: &mut Mem<'_>) -> NvTable {
        if mem.profile.layout.table == TableKind::Hashtable {
            let vk = Box::new(VkTable::new(mem.heap, mem.profile, Kind::Set));
            return NvTable {
                d: Alloc {
                    id: 0,
                    requested: 0,
                    usable: 0,
                },
                dict: NvDict::default(),
                members: Members::default(),
                vk: Some(vk),
            };
        }
        NvTable {
            d: mem.heap.zmalloc(mem.profile.dict),
            dict: NvDict::default(),
            members: Members::default(),
            vk: None,
        }
    }

    /// `dictExpand` / `hashtableExpand` to `cap` members.
    fn expand(&mut self, mem: &mut Mem<'_>, cap: u64) {
        match &mut self.vk {
            Some(vk) => vk.expand(mem.heap, cap),
            None => {
                self.dict.expand(mem.heap, cap, Rules::of(mem.profile));
            }
        }
    }

    /// `setTypeAddAux` into a hashtable: `dictFindPositionForInsert` (a lookup step, the
    /// expand check), then the member's sds (`sdsdup`) and `dictInsertAtPosition`; or, for a
    /// member that is not an sds already (an integer, a listpack's string), the sds made
    /// before the lookup (`sdsnewlen`, `sdsfromlonglong`; freed again if it is a member).
    /// Valkey's `hashtableFindPositionForInsert` likewise: the lookup's step, growth, a child
    /// bucket when the chain is full, then the `sdsdup`.
    fn add(&mut self, mem: &mut Mem<'_>, k: Key, bh: u64, sds_first: bool) -> bool {
        let request = mem.profile.sds_request(k.len());
        let early = sds_first.then(|| mem.heap.zmalloc(request));
        if let Some(vk) = &mut self.vk {
            if self.members.find(k).is_some() {
                vk.lookup(mem.heap);
                if let Some(s) = early {
                    mem.heap.zfree(s);
                }
                return false;
            }
            let id = vk.insert(mem.heap, bh, k);
            let sds = early.unwrap_or_else(|| mem.heap.zmalloc(request));
            self.members.insert(k, bh, sds.id, id);
            return true;
        }
        let rules = Rules::of(mem.profile);
        if !self.dict.position(mem.heap, bh, k, rules) {
            if let Some(s) = early {
                mem.heap.zfree(s);
            }
            return false;
        }
        let sds = early.unwrap_or_else(|| mem.heap.zmalloc(request));
        self.dict.insert(mem.heap, bh, k);
        self.members.insert(k, bh, sds.id, 0);
        true
    }

    /// `dictDelete` of the member at `pos` (its sds, then its entry if it has one), then
    /// Redis 7.2's `htNeedsResize`/`dictResize` (7.4 shrinks inside the deletion); Valkey's
    /// `hashtableDelete` (`hashtablePop`: the step, the slot, the chain compacted, a shrink
    /// when due; then the sds). Returns the member's length.
    fn remove_at(&mut self, mem: &mut Mem<'_>, pos: usize) -> u64 {
        let m = *self.members.get(pos);
        let k = m.key();
        let sds = mem.heap.alloc_of(m.sds, mem.profile.sds_request(k.len()));
        if let Some(vk) = &mut self.vk {
            vk.remove(mem.heap, m.entry);
            mem.heap.zfree(sds);
            self.members.remove(pos);
            return k.len();
        }
        let rules = Rules::of(mem.profile);
        self.dict.delete(mem.heap, m.bh, k, rules, |h| h.zfree(sds));
        self.members.remove(pos);
        self.dict.resize_after_delete(mem.heap, rules);
        k.len()
    }

    /// `dictDelete` of `k`: a lookup step even when it is not a member.
    fn remove(&mut self, mem: &mut Mem<'_>, k: Key, bh: u64) -> Option<u64> {
        match self.members.find(k) {
            Some(pos) => Some(self.remove_at(mem, pos)),
            None => {
                match &mut self.vk {
                    Some(vk) => vk.lookup(mem.heap),
                    None => {
                        self.dict.delete(mem.heap, bh, k, Rules::of(mem.profile), |_| {});
                    }
                }
                None
            }
        }
    }

    /// `dictGetFairRandomKey`: its rehash steps, then a member drawn at random. Valkey's
    /// `hashtableFairRandomEntry`: a scan (no step), then one rehash step.
    fn random(&mut self, mem: &mut Mem<'_>) -> usize {
        let n = self.members.len() as u64;
        match &mut self.vk {
            Some(vk) => vk.lookup(mem.heap),
            None => self.dict.random_steps(mem.heap, FAIR_RANDOM_SAMPLE.min(n)),
        }
        mem.draws.below(n) as usize
    }

    /// The members in a walk's order.
    fn walk(&self) -> Vec<Elem<'static>> {
        match &self.vk {
            Some(vk) => vk
                .ids()
                .into_iter()
                .map(|id| {
                    let k = vk.key(id);
                    let m = self.members.get(self.members.find(k).expect("a member"));
                    Elem::Known(k, m.bh)
                })
                .collect(),
            None => self
                .dict
                .walk()
                .into_iter()
                .map(|s| Elem::Known(s.key, s.bh))
                .collect(),
        }
    }

    /// `dictRelease`: each member's sds and entry in walk order, the tables, the dict struct;
    /// Valkey's `hashtableRelease`: each member's sds bucket by bucket, each child bucket after
    /// its members, the tables, the struct.
    fn release(self, mem: &mut Mem<'_>) {
        let p = mem.profile;
        let members = &self.members;
        if let Some(vk) = self.vk {
            (*vk).release(mem.heap, |h, k| {
                let m = members.get(members.find(k).expect("a member"));
                h.zfree(h.alloc_of(m.sds, p.sds_request(k.len())));
            });
            return;
        }
        self.dict.release(mem.heap, |h, s| {
            let m = members.get(members.find(s.key).expect("a member"));
            h.zfree(h.alloc_of(m.sds, p.sds_request(s.key.len())));
        });
        mem.heap.zfree(self.d);
    }
}

#[derive(Debug, Clone)]
enum Encoding {
    Intset(Intset),
    /// Redis 7.0's dict set (a `dictEntry` per member).
    Table(Table),
    /// Redis 7.2+: a listpack set.
    Listpack(SetLp),
    /// Redis 7.2+: a `no_value` dict set.
    NvTable(NvTable),
}

/// Where an SPOP stands between its phases (see [`Server::set_type_command`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// No SPOP under way: the set is empty when it has no member.
    None,
    /// SPOP drew the member at this position (intset or dict record).
    Picked(usize),
    /// SPOP removed its member; the key stays until the command has rewritten its argv.
    Taken,
    /// SPOP with a count took every member: the key is deleted with the set as it is.
    All,
}

/// A set value: its robj and its encoding.
#[derive(Debug, Clone)]
pub(super) struct SetValue {
    pub(super) robj: Alloc,
    enc: Encoding,
    pending: Pending,
}

/// What an SPOP's write found, for [`Server::set_type_command`] to finish the command with:
/// the value's write goes through the keyspace, which hands back only the payload change.
#[derive(Debug, Clone, Copy)]
struct PopNote {
    /// Bytes of the reply (RESP2).
    reply: u64,
    /// The member drawn by SPOP without a count.
    drawn: Option<Drawn>,
    /// Whether SPOP with a count took the whole set (propagated as `DEL key`).
    whole: bool,
}

/// A member SPOP without a count drew: an intset's integer, or a dict member's length.
#[derive(Debug, Clone, Copy)]
enum Drawn {
    Int(i64),
    Str(u64),
}

thread_local! {
    /// The note of the SPOP write that just ran on this thread: how the value's write hands
    /// what it drew to the command (set just before, read just after, on the same thread),
    /// since [`Aggregate::write`] returns only the payload change.
    static POP_NOTE: Cell<Option<PopNote>> = const { Cell::new(None) };
}

/// The string object Redis makes of a member it replies with and propagates
/// (`createStringObjectFromLongLong` for an intset's integer: a shared object or an INT robj;
/// `createStringObject` for a dict member's bytes).
fn member_object(mem: &mut Mem<'_>, int: Option<i64>, len: u64) -> StringValue {
    match int {
        Some(v) if (0..mem.profile.shared_integers).contains(&v) => StringValue::Shared,
        Some(_) => StringValue::Int(mem.heap.zmalloc(mem.profile.robj)),
        None => StringValue::create(mem, len),
    }
}

impl SetValue {
    fn of(mem: &mut Mem<'_>, enc: impl FnOnce(&mut Mem<'_>) -> Encoding) -> Self {
        let enc = enc(mem);
        let robj = mem.heap.zmalloc(mem.profile.robj);
        SetValue {
            robj,
            enc,
            pending: Pending::None,
        }
    }

    /// `createIntsetObject`: `intsetNew` (the 8-byte header), then the robj.
    fn new_intset(mem: &mut Mem<'_>) -> Self {
        Self::of(mem, |mem| {
            Encoding::Intset(Intset {
                block: mem.heap.zmalloc(mem.profile.types.intset_header),
                width: 2,
                values: Vec::new(),
            })
        })
    }

    /// `createSetListpackObject` (Redis 7.2+): `lpNew(0)`, then the robj.
    fn new_listpack(mem: &mut Mem<'_>) -> Self {
        Self::of(mem, |mem| Encoding::Listpack(SetLp::new(mem, 0)))
    }

    /// The dict of a hashtable set, empty: Redis 7.0's, or 7.2's without values.
    fn empty_table(mem: &mut Mem<'_>) -> Encoding {
        if mem.profile.layout.set_dict_no_value {
            Encoding::NvTable(NvTable::new(mem))
        } else {
            Encoding::Table(Table {
                d: mem.heap.zmalloc(mem.profile.dict),
                dict: Dict::default(),
                members: Members::default(),
            })
        }
    }

    /// `dictExpand` of a hashtable set's dict to `cap` entries.
    fn presize(mem: &mut Mem<'_>, enc: &mut Encoding, cap: u64) {
        match enc {
            Encoding::Table(t) => t.dict.expand(mem.heap, cap, mem.profile.dict_initial_size),
            Encoding::NvTable(t) => t.expand(mem, cap),
            _ => {}
        }
    }

    /// `createSetObject`: `dictCreate` (the dict struct; no table yet), then the robj; Redis
    /// 7.2+'s `setTypeCreate` then presizes it for `hint` members.
    fn new_table(mem: &mut Mem<'_>, hint: Option<u64>) -> Self {
        let mut s = Self::of(mem, Self::empty_table);
        if let Some(cap) = hint {
            Self::presize(mem, &mut s.enc, cap);
        }
        s
    }

    /// `setTypeCreate`: Redis 7.0, an intset when the first member is an integer, else a
    /// dict; Redis 7.2+, with the number of members the command brings (`hint`): an intset
    /// when the first is an integer and they fit one, a listpack when they fit one, else a
    /// dict presized for them.
    fn create_for(mem: &mut Mem<'_>, first: Elem<'_>, hint: u64) -> Self {
        let p = mem.profile;
        if !p.layout.set_listpack {
            return match first.int() {
                Some(_) => Self::new_intset(mem),
                None => Self::new_table(mem, None),
            };
        }
        if first.int().is_some() && hint <= p.types.set_max_intset_entries {
            Self::new_intset(mem)
        } else if hint <= p.types.set_max_listpack_entries {
            Self::new_listpack(mem)
        } else {
            Self::new_table(mem, Some(hint))
        }
    }

    /// Members.
    fn len(&self) -> u64 {
        match &self.enc {
            Encoding::Intset(is) => is.values.len() as u64,
            Encoding::Table(t) => t.members.len() as u64,
            Encoding::Listpack(lp) => lp.members.len() as u64,
            Encoding::NvTable(t) => t.members.len() as u64,
        }
    }

    /// Bytes of the members, as the client sent them.
    fn payload(&self) -> u64 {
        match &self.enc {
            Encoding::Intset(is) => is.values.iter().map(|&v| decimal_len(v)).sum(),
            Encoding::Table(t) => t.members.recs.iter().map(|m| m.key().len()).sum(),
            Encoding::Listpack(lp) => lp.members.iter().map(|m| m.key.len()).sum(),
            Encoding::NvTable(t) => t.members.recs.iter().map(|m| m.key().len()).sum(),
        }
    }

    /// `setTypeConvert` of an intset (Redis 7.0): a dict presized for its members
    /// (`dictExpand`), an iterator, per member an sds of its decimal form and a `dictAdd`, the
    /// iterator and the intset freed. Redis 7.2+ (`setTypeConvertAndExpand` to a hashtable):
    /// the same from an intset or a listpack, presized for `cap` members.
    fn convert(&mut self, mem: &mut Mem<'_>, hasher: &NameHasher, cap: u64) {
        let members: Vec<Elem<'static>> = match &self.enc {
            Encoding::Intset(_) | Encoding::Listpack(_) => self.members_in_order(),
            _ => return,
        };
        let mut enc = Self::empty_table(mem);
        Self::presize(mem, &mut enc, cap);
        let si = mem.heap.zmalloc(SET_TYPE_ITERATOR);
        for e in members {
            match &mut enc {
                Encoding::Table(t) => {
                    t.add(mem, e.key(hasher), true);
                }
                Encoding::NvTable(t) => {
                    let bh = e.bucket_hash(mem);
                    t.add(mem, e.key(hasher), bh, true);
                }
                _ => unreachable!("a hashtable"),
            }
        }
        mem.heap.zfree(si);
        match std::mem::replace(&mut self.enc, enc) {
            Encoding::Intset(is) => mem.heap.zfree(is.block),
            Encoding::Listpack(lp) => mem.heap.zfree(lp.block),
            _ => unreachable!("converted from a compact encoding"),
        }
    }

    /// Redis 7.2+'s `setTypeConvertAndExpand` of an intset to a listpack for `cap` members:
    /// `lpNew` of the larger of `lpEstimateBytesRepeatedInteger` of the smallest and the
    /// largest member, an iterator, each integer appended, the iterator and the intset freed.
    fn intset_to_listpack(&mut self, mem: &mut Mem<'_>, hasher: &NameHasher, cap: u64) {
        let Encoding::Intset(is) = &self.enc else {
            return;
        };
        let estimate = |v: i64| LP_EMPTY + Elem::Int(v).lp_entry() * cap;
        let estcap = match (is.values.first(), is.values.last()) {
            (Some(&lo), Some(&hi)) => estimate(lo).max(estimate(hi)),
            _ => cap * 2,
        };
        let values = is.values.clone();
        let mut lp = SetLp::new(mem, estcap);
        let si = mem.heap.zmalloc(SET_TYPE_ITERATOR);
        for v in values {
            let e = Elem::Int(v);
            let bh = e.bucket_hash(mem);
            lp.append(mem, e.key(hasher), bh, e.lp_entry());
        }
        mem.heap.zfree(si);
        if let Encoding::Intset(is) = std::mem::replace(&mut self.enc, Encoding::Listpack(lp)) {
            mem.heap.zfree(is.block);
        }
    }

    /// Redis 7.2+'s `setTypeMaybeConvert` before SADD adds `hint` members to an existing set:
    /// a listpack or an intset that they would take past its limit becomes a dict presized
    /// for `hint`.
    fn maybe_convert(&mut self, mem: &mut Mem<'_>, hasher: &NameHasher, hint: u64) {
        let t = &mem.profile.types;
        let over = match &self.enc {
            Encoding::Listpack(_) => hint > t.set_max_listpack_entries,
            Encoding::Intset(_) => hint > t.set_max_intset_entries,
            _ => false,
        };
        if over {
            self.convert(mem, hasher, hint);
        }
    }

    /// `setTypeAdd`: returns whether `e` was added. `is_sds` says whether Redis holds the
    /// member as an sds already (a command's argument, a dict set's member), which a dict set
    /// copies only once it knows it is new.
    fn add(&mut self, mem: &mut Mem<'_>, hasher: &NameHasher, e: Elem<'_>) -> bool {
        let is_sds = !matches!(e, Elem::Known(..)) || matches!(self.enc, Encoding::Table(_));
        self.add_aux(mem, hasher, e, is_sds)
    }

    fn add_aux(&mut self, mem: &mut Mem<'_>, hasher: &NameHasher, e: Elem<'_>, is_sds: bool) -> bool {
        let max_intset = mem
            .profile
            .types
            .set_max_intset_entries
            .min(INTSET_MAX_ENTRIES_CAP);
        let v72 = mem.profile.layout.set_listpack;
        match &mut self.enc {
            Encoding::Table(t) => t.add(mem, e.key(hasher), false),
            Encoding::NvTable(t) => {
                let bh = e.bucket_hash(mem);
                t.add(mem, e.key(hasher), bh, !is_sds)
            }
            Encoding::Listpack(lp) => {
                let k = e.key(hasher);
                if lp.find(k).is_some() {
                    return false;
                }
                let t = &mem.profile.types;
                if (lp.members.len() as u64) < t.set_max_listpack_entries
                    && e.len() <= t.set_max_listpack_value
                {
                    let bh = e.bucket_hash(mem);
                    lp.append(mem, k, bh, e.lp_entry());
                } else {
                    let cap = lp.members.len() as u64 + 1;
                    self.convert(mem, hasher, cap);
                    let Encoding::NvTable(t) = &mut self.enc else {
                        unreachable!("converted to a dict without values")
                    };
                    let bh = e.bucket_hash(mem);
                    t.add(mem, k, bh, true);
                }
                true
            }
            Encoding::Intset(is) => match e.int() {
                Some(v) => {
                    if !is.add(mem, v) {
                        return false;
                    }
                    if is.values.len() as u64 > max_intset {
                        let cap = is.values.len() as u64;
                        self.convert(mem, hasher, cap);
                    }
                    true
                }
                None if !v72 => {
                    let cap = is.values.len() as u64;
                    self.convert(mem, hasher, cap);
                    let Encoding::Table(t) = &mut self.enc else {
                        unreachable!("converted")
                    };
                    t.add(mem, e.key(hasher), true)
                }
                None => {
                    // Whether a listpack would hold every member: the longest integer's digits
                    // and the new member within `set-max-listpack-value`, fewer members than
                    // `set-max-listpack-entries`.
                    let t = &mem.profile.types;
                    let n = is.values.len() as u64;
                    let maxelelen = match (is.values.first(), is.values.last()) {
                        (Some(&lo), Some(&hi)) => decimal_len(lo).max(decimal_len(hi)),
                        _ => 0,
                    };
                    if n < t.set_max_listpack_entries
                        && e.len() <= t.set_max_listpack_value
                        && maxelelen <= t.set_max_listpack_value
                    {
                        self.intset_to_listpack(mem, hasher, n + 1);
                        let Encoding::Listpack(lp) = &mut self.enc else {
                            unreachable!("converted to a listpack")
                        };
                        let bh = e.bucket_hash(mem);
                        lp.append(mem, e.key(hasher), bh, e.lp_entry());
                        lp.shrink_to_fit(mem);
                    } else {
                        self.convert(mem, hasher, n + 1);
                        let Encoding::NvTable(t) = &mut self.enc else {
                            unreachable!("converted to a dict without values")
                        };
                        let bh = e.bucket_hash(mem);
                        t.add(mem, e.key(hasher), bh, true);
                    }
                    true
                }
            },
        }
    }

    /// `setTypeRemove`: returns the member's length if `e` was one.
    fn remove(&mut self, mem: &mut Mem<'_>, hasher: &NameHasher, e: Elem<'_>) -> Option<u64> {
        match &mut self.enc {
            Encoding::Table(t) => t.remove(mem, e.key(hasher)),
            Encoding::NvTable(t) => {
                let bh = e.bucket_hash(mem);
                t.remove(mem, e.key(hasher), bh)
            }
            Encoding::Listpack(lp) => {
                let pos = lp.find(e.key(hasher))?;
                Some(lp.delete(mem, pos).key.len())
            }
            Encoding::Intset(is) => {
                let v = e.int()?;
                is.remove(mem, v).then(|| decimal_len(v))
            }
        }
    }

    /// `setTypeRandomElement`: an intset's or a listpack's `rand() % length`, a dict's fair
    /// random key; the member's position.
    fn random(&mut self, mem: &mut Mem<'_>) -> usize {
        match &mut self.enc {
            Encoding::Intset(is) => mem.draws.below(is.values.len() as u64) as usize,
            Encoding::Listpack(lp) => mem.draws.below(lp.members.len() as u64) as usize,
            Encoding::Table(t) => t.random(mem),
            Encoding::NvTable(t) => t.random(mem),
        }
    }

    /// The member at `pos`.
    fn elem_at(&self, pos: usize) -> Elem<'static> {
        match &self.enc {
            Encoding::Intset(is) => Elem::Int(is.values[pos]),
            Encoding::Listpack(lp) => {
                let m = lp.members[pos];
                Elem::Known(m.key, m.bh)
            }
            Encoding::Table(t) => {
                let m = t.members.get(pos);
                Elem::Known(m.key(), m.bh)
            }
            Encoding::NvTable(t) => {
                let m = t.members.get(pos);
                Elem::Known(m.key(), m.bh)
            }
        }
    }

    /// Removes the member at `pos`; returns its length.
    fn remove_at(&mut self, mem: &mut Mem<'_>, pos: usize) -> u64 {
        match &mut self.enc {
            Encoding::Intset(is) => {
                let v = is.values[pos];
                is.remove(mem, v);
                decimal_len(v)
            }
            Encoding::Listpack(lp) => lp.delete(mem, pos).key.len(),
            Encoding::Table(t) => t.remove_at(mem, pos),
            Encoding::NvTable(t) => t.remove_at(mem, pos),
        }
    }

    /// The members in the order a set iterator meets them (an intset's or a listpack's
    /// order, a dict's walk).
    fn members_in_order(&self) -> Vec<Elem<'static>> {
        match &self.enc {
            Encoding::Intset(is) => is.values.iter().map(|&v| Elem::Int(v)).collect(),
            Encoding::Listpack(lp) => lp.members.iter().map(|m| Elem::Known(m.key, m.bh)).collect(),
            Encoding::Table(t) => t
                .members
                .walk()
                .into_iter()
                .map(|p| {
                    let m = t.members.get(p as usize);
                    Elem::Known(m.key(), m.bh)
                })
                .collect(),
            Encoding::NvTable(t) => t.walk(),
        }
    }

    /// Whether the set is a dict (of either version).
    fn is_table(&self) -> bool {
        matches!(self.enc, Encoding::Table(_) | Encoding::NvTable(_))
    }

    /// Whether a member SPOP draws from this set is an integer to Redis (an intset's, or a
    /// listpack's integer entry): it becomes `createStringObjectFromLongLong`'s object.
    fn pops_integers(&self) -> bool {
        matches!(self.enc, Encoding::Intset(_) | Encoding::Listpack(_))
    }

    /// `setTypeInitIterator`: the iterator, and a dict iterator for a dict set; the blocks, to
    /// free in `setTypeReleaseIterator`'s order.
    fn iterator(&self, mem: &mut Mem<'_>) -> (Alloc, Option<Alloc>) {
        let si = mem.heap.zmalloc(SET_TYPE_ITERATOR);
        let di = self.is_table().then(|| mem.heap.zmalloc(DICT_ITERATOR));
        (si, di)
    }

    fn release_iterator(mem: &mut Mem<'_>, (si, di): (Alloc, Option<Alloc>)) {
        if let Some(di) = di {
            mem.heap.zfree(di);
        }
        mem.heap.zfree(si);
    }

    /// `setTypeNextObject`'s copy of a member (`sdsfromlonglong` of an intset's integer,
    /// `sdsdup` of a dict member).
    fn member_copy(mem: &mut Mem<'_>, e: Elem<'_>) -> Alloc {
        mem.heap.zmalloc(mem.profile.sds_request(e.len()))
    }

    /// SPOP without a count, phase by phase; returns the payload change.
    fn spop_phase(&mut self, mem: &mut Mem<'_>, phase: &[u8]) -> i64 {
        match (phase, self.pending) {
            (SPOP_PICK, _) => {
                let pos = self.random(mem);
                let e = self.elem_at(pos);
                let drawn = match e.int() {
                    Some(v) if self.pops_integers() => Drawn::Int(v),
                    _ => Drawn::Str(e.len()),
                };
                self.pending = Pending::Picked(pos);
                POP_NOTE.set(Some(PopNote {
                    reply: bulk_reply_len(e.len()),
                    drawn: Some(drawn),
                    whole: false,
                }));
                0
            }
            (SPOP_TAKE, Pending::Picked(pos)) => {
                self.pending = Pending::Taken;
                -(self.remove_at(mem, pos) as i64)
            }
            (SPOP_DONE, _) => {
                self.pending = Pending::None;
                0
            }
            _ => 0,
        }
    }

    /// `count` distinct positions of `n`, ascending, drawn at random (`lpNextRandom`'s
    /// selection sampling).
    fn random_positions(mem: &mut Mem<'_>, n: usize, count: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(count);
        let mut need = count;
        for i in 0..n {
            if need == 0 {
                break;
            }
            if mem.draws.below((n - i) as u64) < need as u64 {
                out.push(i);
                need -= 1;
            }
        }
        out
    }

    /// `spopWithCountCommand` after its count is read; returns the payload change.
    fn spop_count(&mut self, mem: &mut Mem<'_>, hasher: &NameHasher, count: u64) -> i64 {
        let size = self.len();
        if count == 0 {
            POP_NOTE.set(Some(PopNote {
                reply: EMPTY_SET_REPLY,
                drawn: None,
                whole: false,
            }));
            return 0;
        }
        if count >= size {
            let reply = self.union_reply(mem, hasher);
            self.pending = Pending::All;
            POP_NOTE.set(Some(PopNote {
                reply,
                drawn: None,
                whole: true,
            }));
            return -(self.payload() as i64);
        }
        if mem.profile.layout.set_listpack {
            return self.spop_count_72(mem, hasher, count);
        }
        let remaining = size - count;
        let mut reply = resp_header(count);
        let mut taken = 0u64;
        if remaining * SPOP_MOVE_STRATEGY_MUL > count {
            // Member by member: drawn, replied, its object made and propagated, removed.
            for _ in 0..count {
                let pos = self.random(mem);
                let e = self.elem_at(pos);
                let intset = matches!(self.enc, Encoding::Intset(_));
                let obj = member_object(mem, e.int().filter(|_| intset), e.len());
                let len = self.remove_at(mem, pos);
                obj.free(mem);
                reply += bulk_reply_len(len);
                taken += len;
            }
        } else {
            // The members that stay drawn into a new set; the rest replied; the new set
            // replaces the old one.
            let mut newset: Option<SetValue> = None;
            for _ in 0..remaining {
                let pos = self.random(mem);
                let e = self.elem_at(pos);
                let copy = Self::member_copy(mem, e);
                let new = newset.get_or_insert_with(|| SetValue::create_for(mem, e, 1));
                new.add(mem, hasher, e);
                self.remove_at(mem, pos);
                mem.heap.zfree(copy);
            }
            let it = self.iterator(mem);
            let intset = matches!(self.enc, Encoding::Intset(_));
            for e in self.members_in_order() {
                let obj = member_object(mem, e.int().filter(|_| intset), e.len());
                obj.free(mem);
                reply += bulk_reply_len(e.len());
                taken += e.len();
            }
            Self::release_iterator(mem, it);
            // dbOverwrite: the key's value replaced, the old one freed.
            let new = newset.expect("at least one member stays");
            let old = std::mem::replace(self, new);
            old.free(mem);
        }
        POP_NOTE.set(Some(PopNote {
            reply,
            drawn: None,
            whole: false,
        }));
        -(taken as i64)
    }

    /// Redis 7.2+'s `spopWithCountCommand` for fewer members than the set holds: the
    /// propagation vector (`2 + min(count, 1024)` slots) and the string objects it holds for
    /// the members taken, freed at the end; a listpack walked once (`lpNextRandom`, the
    /// positions kept in an array, `lpBatchDelete`), any other set popped member by member;
    /// or, when at most a fifth stay, a new set built of those (a listpack, or an intset for an
    /// intset's integers) that replaces the old one.
    fn spop_count_72(&mut self, mem: &mut Mem<'_>, hasher: &NameHasher, count: u64) -> i64 {
        let size = self.len();
        let remaining = size - count;
        let propargv = mem.heap.zmalloc(POINTER * (2 + count.min(1024)));
        let mut objects: Vec<StringValue> = Vec::new();
        let mut reply = resp_header(count);
        let mut taken = 0u64;
        let ints = self.pops_integers();
        let object_of =
            |mem: &mut Mem<'_>, e: &Elem<'_>| member_object(mem, e.int().filter(|_| ints), e.len());
        let lp_case = matches!(self.enc, Encoding::Listpack(_));
        if remaining * SPOP_MOVE_STRATEGY_MUL > count && lp_case {
            let ps = mem.heap.zmalloc(POINTER * count);
            let picks = Self::random_positions(mem, size as usize, count as usize);
            for &p in &picks {
                let e = self.elem_at(p);
                objects.push(object_of(mem, &e));
                reply += bulk_reply_len(e.len());
                taken += e.len();
            }
            if let Encoding::Listpack(lp) = &mut self.enc {
                lp.batch_delete(mem, &picks);
            }
            mem.heap.zfree(ps);
        } else if remaining * SPOP_MOVE_STRATEGY_MUL > count {
            for _ in 0..count {
                let pos = self.random(mem);
                let e = self.elem_at(pos);
                objects.push(object_of(mem, &e));
                let len = self.remove_at(mem, pos);
                reply += bulk_reply_len(len);
                taken += len;
            }
        } else {
            let mut newset: Option<SetValue> = None;
            if lp_case {
                let mut new = SetValue::new_listpack(mem);
                let ps = mem.heap.zmalloc(POINTER * remaining);
                let picks = Self::random_positions(mem, size as usize, remaining as usize);
                for &p in &picks {
                    let e = self.elem_at(p);
                    new.add_aux(mem, hasher, e, false);
                }
                if let Encoding::Listpack(lp) = &mut self.enc {
                    lp.batch_delete(mem, &picks);
                }
                mem.heap.zfree(ps);
                newset = Some(new);
            } else {
                let from_table = self.is_table();
                for _ in 0..remaining {
                    let pos = self.random(mem);
                    let e = self.elem_at(pos);
                    let new = newset.get_or_insert_with(|| {
                        if e.int().is_some() && !from_table {
                            SetValue::new_intset(mem)
                        } else {
                            SetValue::new_listpack(mem)
                        }
                    });
                    new.add_aux(mem, hasher, e, from_table);
                    self.remove_at(mem, pos);
                }
            }
            let it = self.iterator(mem);
            for e in self.members_in_order() {
                objects.push(object_of(mem, &e));
                reply += bulk_reply_len(e.len());
                taken += e.len();
            }
            Self::release_iterator(mem, it);
            // dbReplaceValue: the key's value replaced, the old one freed.
            let new = newset.expect("at least one member stays");
            let old = std::mem::replace(self, new);
            old.free(mem);
        }
        for o in objects {
            o.free(mem);
        }
        mem.heap.zfree(propargv);
        POP_NOTE.set(Some(PopNote {
            reply,
            drawn: None,
            whole: false,
        }));
        -(taken as i64)
    }

    /// `sunionDiffGenericCommand` of this one set, for SPOP of the whole set: the array of
    /// sets, a new intset object, a copy of each member added to it (converting it as
    /// `setTypeAdd` does), then a copy of each of its members for the reply, the new set
    /// freed, the array freed. Returns the reply's bytes.
    fn union_reply(&self, mem: &mut Mem<'_>, hasher: &NameHasher) -> u64 {
        let sets = mem.heap.zmalloc(POINTER);
        let mut dst = SetValue::new_intset(mem);
        let it = self.iterator(mem);
        let from_table = self.is_table();
        for e in self.members_in_order() {
            if mem.profile.layout.set_listpack {
                dst.add_aux(mem, hasher, e, from_table);
            } else {
                let copy = Self::member_copy(mem, e);
                dst.add(mem, hasher, e);
                mem.heap.zfree(copy);
            }
        }
        Self::release_iterator(mem, it);
        let order = dst.members_in_order();
        let reply = array_reply_len(order.iter().map(|e| e.len()));
        let it = dst.iterator(mem);
        for e in order {
            let copy = Self::member_copy(mem, e);
            mem.heap.zfree(copy);
        }
        Self::release_iterator(mem, it);
        dst.free(mem);
        mem.heap.zfree(sets);
        reply
    }
}

impl ValueType for SetValue {
    /// `decrRefCount`: `freeSetObject` (the intset or the listpack; or `dictRelease`: each
    /// member's sds and entry in walk order, the tables, the dict struct), then the robj.
    fn free(self, mem: &mut Mem<'_>) {
        match self.enc {
            Encoding::Intset(is) => mem.heap.zfree(is.block),
            Encoding::Listpack(lp) => mem.heap.zfree(lp.block),
            Encoding::Table(mut t) => {
                let p = mem.profile;
                for m in t.members.drain_in_walk_order() {
                    let len = m.key().len();
                    mem.heap.zfree(mem.heap.alloc_of(m.sds, p.sds_request(len)));
                    mem.heap.zfree(mem.heap.alloc_of(m.entry, p.dict_entry));
                }
                t.dict.clear(mem.heap);
                mem.heap.zfree(t.d);
            }
            Encoding::NvTable(t) => t.release(mem),
        }
        mem.heap.zfree(self.robj);
    }

    /// The intset's or listpack's block, or each member's sds block.
    fn footprint(&self, arena: &Arena) -> u64 {
        match &self.enc {
            Encoding::Intset(is) => arena.footprint(is.block.id),
            Encoding::Listpack(lp) => arena.footprint(lp.block.id),
            Encoding::Table(t) => t.members.recs.iter().map(|m| arena.footprint(m.sds)).sum(),
            Encoding::NvTable(t) => t.members.recs.iter().map(|m| arena.footprint(m.sds)).sum(),
        }
    }

    /// Intset, listpack: `sizeof(robj)` and the block's usable size. Dict: `sizeof(robj)`,
    /// `sizeof(dict)` and 8 bytes per bucket of both tables, plus the members' average of
    /// `sizeof(dictEntry)` and their sds block's usable size times their number: also for
    /// Redis 7.2+'s dicts without entries, whose members `dictEntryMemUsage` still counts at
    /// 24 B (redis 7.2.6-8.0.6 `src/object.c`; the over-count of redis#15461).
    fn object_size(&self, arena: &Arena, profile: &RedisProfile) -> u64 {
        let table = |slots: u64, members: &Members| {
            let asize = profile.robj + profile.dict + 8 * slots;
            let elesize: u64 = members
                .recs
                .iter()
                .map(|m| profile.dict_entry + arena.usable_size(m.sds))
                .sum();
            let n = members.len() as u64;
            add_sampled(asize, elesize, n, n)
        };
        match &self.enc {
            Encoding::Intset(is) => profile.robj + arena.usable_size(is.block.id),
            Encoding::Listpack(lp) => profile.robj + arena.usable_size(lp.block.id),
            Encoding::Table(t) => table(t.dict.slots(), &t.members),
            Encoding::NvTable(t) => match &t.vk {
                Some(vk) => {
                    let elesize: u64 = t.members.recs.iter().map(|m| arena.usable_size(m.sds)).sum();
                    let n = t.members.len() as u64;
                    add_sampled(profile.robj + vk.mem_usage(), elesize, n, n)
                }
                None => table(t.dict.slots(), &t.members),
            },
        }
    }

    fn structure(&self, profile: &RedisProfile) -> (u64, u64) {
        let robj = self.robj.requested as u64;
        match &self.enc {
            Encoding::Intset(is) => (robj + is.block.requested as u64, 0),
            Encoding::Listpack(lp) => {
                let (r, g) = listpack_structure(lp.block, lp.bytes);
                (robj + r, g)
            }
            Encoding::Table(t) => {
                let tables: u64 = t.dict.tables().map(|x| x.requested as u64).sum();
                let members: u64 = t
                    .members
                    .recs
                    .iter()
                    .map(|m| profile.dict_entry + profile.sds_request(m.key().len()))
                    .sum();
                (robj + t.d.requested as u64 + tables + members, 0)
            }
            Encoding::NvTable(t) => {
                let tables: u64 = t.dict.tables().map(|x| x.requested as u64).sum();
                let sds: u64 = t
                    .members
                    .recs
                    .iter()
                    .map(|m| profile.sds_request(m.key().len()))
                    .sum();
                if let Some(vk) = &t.vk {
                    return (robj + vk.mem_usage() + sds, 0);
                }
                let entries = t.dict.entries() * ENTRY_NO_VALUE;
                (robj + t.d.requested as u64 + tables + sds + entries, 0)
            }
        }
    }

    fn encoding(&self) -> &'static str {
        match self.enc {
            Encoding::Intset(_) => "intset",
            Encoding::Listpack(_) => "listpack",
            Encoding::Table(_) | Encoding::NvTable(_) => "hashtable",
        }
    }

    /// The robj, then the intset or the listpack; or the dict struct, its bucket tables, and
    /// per member its `dictEntry` (Redis 7.2+: the members that share a bucket, their
    /// `dictEntryNoValue`) and its sds.
    fn blocks(&self, arena: &Arena, profile: &RedisProfile) -> Vec<BlockKind> {
        let mut b = Blocks::default();
        b.alloc("robj", self.robj);
        match &self.enc {
            Encoding::Intset(is) => b.alloc("intset", is.block),
            Encoding::Listpack(lp) => b.alloc("listpack", lp.block),
            Encoding::Table(t) => {
                b.alloc("dict struct", t.d);
                for table in t.dict.tables() {
                    b.alloc("member table (8 B buckets)", table);
                }
                for m in &t.members.recs {
                    b.add("member dictEntry", profile.dict_entry, arena.usable_size(m.entry));
                }
                for m in &t.members.recs {
                    let request = profile.sds_request(m.key().len());
                    b.add("member sds", request, arena.usable_size(m.sds));
                }
            }
            Encoding::NvTable(t) if t.vk.is_some() => {
                let vk = t.vk.as_ref().expect("checked");
                let bytes = vk.mem_usage();
                b.add("hashtable struct and buckets (64 B)", bytes, bytes);
                for m in &t.members.recs {
                    let request = profile.sds_request(m.key().len());
                    b.add("member sds", request, arena.usable_size(m.sds));
                }
            }
            Encoding::NvTable(t) => {
                b.alloc("dict struct", t.d);
                for table in t.dict.tables() {
                    b.alloc("member table (8 B buckets)", table);
                }
                for s in t.dict.walk() {
                    if let Some(e) = s.entry {
                        b.add(
                            "dictEntryNoValue (a shared bucket)",
                            ENTRY_NO_VALUE,
                            arena.usable_size(e),
                        );
                    }
                }
                for m in &t.members.recs {
                    let request = profile.sds_request(m.key().len());
                    b.add("member sds", request, arena.usable_size(m.sds));
                }
            }
        }
        b.into_vec()
    }
}

impl Aggregate for SetValue {
    /// `setTypeCreate` of SADD's first member.
    fn create(mem: &mut Mem<'_>, _cmd: Cmd, args: &[&[u8]]) -> Self {
        let first = Elem::of_bytes(args.first().copied().unwrap_or_default());
        Self::create_for(mem, first, args.len() as u64)
    }

    /// SADD: `setTypeAdd` per member. SREM: `setTypeRemove` per member, stopping once the set
    /// is empty. SPOP: the phases [`Server::set_type_command`] runs.
    fn write(&mut self, mem: &mut Mem<'_>, cmd: Cmd, args: &[&[u8]]) -> i64 {
        let hasher = NameHasher::new(mem.hash_seed);
        let mut delta = 0i64;
        match cmd {
            Cmd::Sadd => {
                if mem.profile.layout.set_listpack {
                    self.maybe_convert(mem, &hasher, args.len() as u64);
                }
                for a in args {
                    if self.add(mem, &hasher, Elem::of_bytes(a)) {
                        delta += a.len() as i64;
                    }
                }
            }
            Cmd::Srem => {
                if let Encoding::NvTable(NvTable { vk: Some(vk), .. }) = &mut self.enc {
                    vk.pause_shrink(mem.profile);
                }
                for a in args {
                    if let Some(len) = self.remove(mem, &hasher, Elem::of_bytes(a)) {
                        delta -= len as i64;
                        if self.len() == 0 {
                            break;
                        }
                    }
                }
                let left = self.len();
                if let Encoding::NvTable(NvTable { vk: Some(vk), .. }) = &mut self.enc {
                    if left > 0 {
                        vk.resume_shrink(mem.heap, mem.profile);
                    }
                }
            }
            Cmd::Spop => match args {
                [SPOP_COUNT, n] => {
                    let count = as_integer(n).and_then(|c| u64::try_from(c).ok()).unwrap_or(0);
                    delta = self.spop_count(mem, &hasher, count);
                }
                [phase] => delta = self.spop_phase(mem, phase),
                _ => {}
            },
            _ => {}
        }
        delta
    }

    fn is_empty(&self) -> bool {
        match self.pending {
            Pending::None => self.len() == 0,
            Pending::Picked(_) | Pending::Taken => false,
            Pending::All => true,
        }
    }

    fn into_value(self) -> Value {
        Value::Set(Box::new(self))
    }

    fn of_value(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Set(v) => Some(&mut **v),
            _ => None,
        }
    }
}

impl Server {
    /// `SADD key member [member ...]`, `SREM key member [member ...]`, `SPOP key [count]`.
    ///
    /// SPOP without a count runs in three writes of the value, so that the allocations fall
    /// in Redis's order: the member drawn; its string object (held by the rewritten argv)
    /// made; the member removed; the argv rewritten to `SREM key member` (a new 3-argument
    /// vector, the original kept); then the key deleted if the set is empty. SPOP with a count
    /// propagates each member it takes as an SREM (nothing allocated without AOF or
    /// replicas), or, when it takes the whole set, rewrites its argv to `DEL key` after the
    /// key is deleted.
    pub(super) fn set_type_command(&mut self, cmd: Cmd, argv: &[&[u8]]) -> Result<(), Reply> {
        if argv.len() < 2 || (cmd != Cmd::Spop && argv.len() < 3) {
            return unsupported("SADD and SREM need a key and members, SPOP a key");
        }
        if argv[2..].iter().any(|a| a.len() as u64 > u32::MAX as u64) {
            return unsupported("set members of 4 GiB or more are not modelled");
        }
        let key = argv[1];
        match (cmd, argv.len()) {
            (Cmd::Sadd, _) | (Cmd::Srem, _) => {
                let (keyspace, mut mem) = self.keyspace_mem();
                keyspace.write::<SetValue>(&mut mem, key, cmd, &argv[2..], cmd == Cmd::Sadd);
            }
            (Cmd::Spop, 2) => self.spop_one(argv),
            (Cmd::Spop, 3) => {
                let Some(count) = as_integer(argv[2]).filter(|&c| c >= 0) else {
                    return unsupported("SPOP's count must be a non-negative integer");
                };
                let count = count.to_string();
                let note = self.set_write(key, &[SPOP_COUNT, count.as_bytes()]);
                self.reply_bytes = Some(note.map_or(EMPTY_SET_REPLY, |n| n.reply));
                if note.is_some_and(|n| n.whole) {
                    self.rewrite.replace_vector(&mut self.heap, 2);
                    self.rewrite.retain_original(&mut self.heap, argv.len());
                }
            }
            _ => return unsupported("SPOP takes a key and at most a count"),
        }
        Ok(())
    }

    /// `spopCommand` without a count (see [`Server::set_type_command`]).
    fn spop_one(&mut self, argv: &[&[u8]]) {
        let key = argv[1];
        let Some(PopNote {
            reply,
            drawn: Some(drawn),
            ..
        }) = self.set_write(key, &[SPOP_PICK])
        else {
            self.reply_bytes = Some(NULL_REPLY);
            return;
        };
        let p = &self.profile;
        let (robj, shared) = (p.robj, p.shared_integers);
        match drawn {
            Drawn::Int(v) if (0..shared).contains(&v) => {}
            Drawn::Int(_) => self.rewrite.add_object(&mut self.heap, robj),
            Drawn::Str(len) if len <= p.embstr_limit => {
                let size = crate::redis::encoding::embstr_request(robj, len);
                self.rewrite.add_object(&mut self.heap, size);
            }
            Drawn::Str(len) => {
                let sds = p.sds_request(len);
                self.rewrite.add_object(&mut self.heap, sds);
                self.rewrite.add_object(&mut self.heap, robj);
            }
        }
        self.set_write(key, &[SPOP_TAKE]);
        self.rewrite.replace_vector(&mut self.heap, 3);
        self.rewrite.retain_original(&mut self.heap, argv.len());
        self.set_write(key, &[SPOP_DONE]);
        self.reply_bytes = Some(reply);
    }

    /// A write of set `key` (not created when missing); the SPOP note it left, if any.
    fn set_write(&mut self, key: &[u8], args: &[&[u8]]) -> Option<PopNote> {
        POP_NOTE.set(None);
        let (keyspace, mut mem) = self.keyspace_mem();
        keyspace.write::<SetValue>(&mut mem, key, Cmd::Spop, args, false);
        POP_NOTE.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jemalloc::trace::TraceOp;
    use crate::redis::server::testing::{argv, recorded_allocs, server};
    use crate::redis::server::ClientId;

    /// A server whose set commands' latency histograms are made, with a client whose query
    /// buffer has grown (a first PING), so that a command's `used_memory` delta is what it
    /// leaves in the keyspace.
    fn fresh() -> (Server, ClientId) {
        let mut s = server(&["sadd", "srem", "spop", "del", "flushall", "ping", "memory|usage"]);
        let c = s.connect();
        s.exec(c, &argv(&[b"PING"])).unwrap();
        (s, c)
    }

    /// Runs `words`; returns the change in `used_memory`.
    fn run(s: &mut Server, c: ClientId, words: &[&[u8]]) -> i64 {
        let before = s.used_memory() as i64;
        assert_eq!(s.exec(c, &argv(words)).unwrap(), Reply::Ok);
        s.used_memory() as i64 - before
    }

    /// `SADD key` with the members `prefix` + 4 digits, for `range`.
    fn sadd_named(s: &mut Server, c: ClientId, key: &[u8], prefix: &str, range: std::ops::Range<u32>) -> i64 {
        let mut words: Vec<Vec<u8>> = vec![b"SADD".to_vec(), key.to_vec()];
        words.extend(range.map(|i| format!("{prefix}{i:04}").into_bytes()));
        let refs: Vec<&[u8]> = words.iter().map(|w| w.as_slice()).collect();
        run(s, c, &refs)
    }

    /// The sizes of the blocks freed since recording started, in order.
    fn recorded_frees(s: &Server) -> Vec<u64> {
        let ops = &s.heap.recorder.as_ref().expect("recording").ops;
        ops.iter()
            .filter_map(|o| match *o {
                TraceOp::Free { op } => match ops[op as usize] {
                    TraceOp::Alloc { size } | TraceOp::Realloc { size, .. } => Some(size),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// The recorded allocations (their size) and frees (minus the freed block's size), in
    /// order; a reallocation counts as an allocation of its new size.
    fn recorded_events(s: &Server) -> Vec<i64> {
        let ops = &s.heap.recorder.as_ref().expect("recording").ops;
        let size = |o: &TraceOp| match *o {
            TraceOp::Alloc { size } | TraceOp::Realloc { size, .. } => size as i64,
            _ => 0,
        };
        ops.iter()
            .map(|o| match *o {
                TraceOp::Free { op } => -size(&ops[op as usize]),
                _ => size(o),
            })
            .collect()
    }

    /// The sizes of the reallocations that changed a block's size class, in order.
    fn recorded_reallocs(s: &Server) -> Vec<u64> {
        let ops = &s.heap.recorder.as_ref().expect("recording").ops;
        ops.iter()
            .filter_map(|o| match *o {
                TraceOp::Realloc { size, .. } => Some(size),
                _ => None,
            })
            .collect()
    }

    /// A set created by an integer is an intset: `intsetNew` (8 B) then the robj, before the
    /// key's sds and entry; each member a realloc (8 + 2 n: 10, 12, 14, of which only the
    /// first leaves the 8 B class). Wider members widen every member; narrower ones after that
    /// take the wide width; removals shrink it but keep the width; the last removal deletes
    /// the key.
    #[test]
    fn an_intset_grows_widens_and_shrinks() {
        let (mut s, c) = fresh();
        s.heap.record();
        // Kept: intset 14 -> 16, robj 16, key sds "s" (1 + 1 + 1 = 3 -> 8), entry 24 -> 32, the
        // main dict's first table (4 x 8 = 32).
        assert_eq!(
            run(&mut s, c, &[b"SADD", b"s", b"1", b"2", b"3"]),
            16 + 16 + 8 + 32 + 32
        );
        // argv (5 x 8), the arguments' embedded strings (16 + 3 + len + 1), the intset, the
        // robj, the key's sds, the main table, the entry, the reply's pending-write node.
        assert_eq!(
            recorded_allocs(&s),
            [40, 24, 21, 21, 21, 21, 8, 16, 3, 32, 24, 24]
        );
        assert_eq!(recorded_reallocs(&s), [10]);
        // 100000 needs 32 bits: 8 + 4 x 4 = 24 -> 32 class (+16).
        assert_eq!(run(&mut s, c, &[b"SADD", b"s", b"100000"]), 16);
        // 5000000000 needs 64: 8 + 5 x 8 = 48 (+16).
        assert_eq!(run(&mut s, c, &[b"SADD", b"s", b"5000000000"]), 16);
        // -7 fits 16 bits but takes 8 bytes now: 56 -> 64 (+16); members already there
        // change nothing (no realloc).
        assert_eq!(run(&mut s, c, &[b"SADD", b"s", b"-7"]), 16);
        assert_eq!(run(&mut s, c, &[b"SADD", b"s", b"1", b"2"]), 0);
        // MEMORY USAGE: robj 16 + intset 64, key sds 8, sizeof(dictEntry) 24.
        assert_eq!(s.memory_usage(b"s"), Some(16 + 64 + 8 + 24));
        // Key and members as sent: "s", 1, 2, 3, 100000, 5000000000, -7.
        assert_eq!(s.payload_bytes(), 1 + 3 + 6 + 10 + 2);
        // 8 + 4 x 8 = 40 -> 48 (-16); members absent or not integers: nothing.
        assert_eq!(run(&mut s, c, &[b"SREM", b"s", b"5000000000"]), -16);
        assert_eq!(run(&mut s, c, &[b"SREM", b"s", b"abc", b"77", b"99999999999"]), 0);
        assert_eq!(s.payload_bytes(), 1 + 3 + 6 + 2);
        // Emptied: the key goes (intset 8 -> 8, robj 16, sds 8, entry 32; the table stays).
        assert_eq!(
            run(
                &mut s,
                c,
                &[b"SREM", b"s", b"1", b"2", b"3", b"100000", b"-7", b"8"]
            ),
            -(48 + 16 + 8 + 32)
        );
        assert_eq!(s.dbsize(), 0);
        assert_eq!(s.payload_bytes(), 0);
    }

    /// A string member converts an intset (`setTypeConvert`): the dict struct (56 -> 64), a
    /// table presized for the 4 integers (32), an iterator (24, freed), per integer its
    /// decimal sds (3 -> 8) and its entry (24 -> 32), the intset freed; then the string's sds
    /// (5 -> 8), which doubles the table (8 x 8 = 64; the old one kept while the rehash
    /// runs), and its entry.
    #[test]
    fn a_string_member_converts_an_intset() {
        let (mut s, c) = fresh();
        run(&mut s, c, &[b"SADD", b"c", b"1", b"2", b"3", b"4"]);
        s.heap.record();
        // 64 + 32 + 64 + 5 x (8 + 32) - the intset (8 + 4 x 2 = 16).
        assert_eq!(run(&mut s, c, &[b"SADD", b"c", b"abc"]), 64 + 32 + 64 + 200 - 16);
        assert_eq!(
            recorded_allocs(&s),
            [24, 24, 21, 23, 56, 32, 24, 3, 24, 3, 24, 3, 24, 3, 24, 5, 64, 24, 24]
        );
        // Both tables count while the rehash runs: robj 16 + dict 56 + 12 x 8, per member
        // 24 + 8, then the key's 8 + 24.
        assert_eq!(s.memory_usage(b"c"), Some(16 + 56 + 96 + 5 * 32 + 8 + 24));
        // Rehash steps (one per add) free the 4-bucket table; the ninth member doubles again.
        assert_eq!(
            run(&mut s, c, &[b"SADD", b"c", b"x1", b"x2", b"x3", b"x4"]),
            4 * (8 + 32) - 32 + 128
        );
        // A dict set stays one when its members go: 5 integers, each an sds (8) and a
        // `sizeof(dictEntry)`, in a 16-bucket table (the 8-bucket one freed by then).
        run(&mut s, c, &[b"SREM", b"c", b"abc", b"x1", b"x2", b"x3", b"x4"]);
        run(&mut s, c, &[b"SADD", b"c", b"5"]);
        assert_eq!(s.memory_usage(b"c"), Some(16 + 56 + 16 * 8 + 5 * 32 + 8 + 24));
    }

    /// `set-max-intset-entries` (512) integers stay an intset (8 + 512 x 2 = 1,032 -> 1,280);
    /// the 513th converts it: the realloc first (1,034, same class), then a dict presized to
    /// 1,024 buckets (8,192 B) and 513 sds of 1-3 digits (-> 8) and entries (-> 32).
    #[test]
    fn the_513th_integer_converts_an_intset() {
        let (mut s, c) = fresh();
        let mut words: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"n".to_vec()];
        words.extend((1..=512).map(|i: u32| i.to_string().into_bytes()));
        let refs: Vec<&[u8]> = words.iter().map(|w| w.as_slice()).collect();
        run(&mut s, c, &refs);
        assert_eq!(s.memory_usage(b"n"), Some(16 + 1280 + 8 + 24));
        assert_eq!(
            run(&mut s, c, &[b"SADD", b"n", b"513"]),
            64 + 8192 + 513 * 40 - 1280
        );
        assert_eq!(s.memory_usage(b"n"), Some(16 + 56 + 8192 + 513 * 32 + 8 + 24));
    }

    /// A dict set of 11-byte members (sds 1 + 11 + 1 = 13 -> 16, entry 32): its table doubles
    /// at 5, 9, 17, ... members; an existing member added to a full table doubles it too (the
    /// expand check comes before the lookup); removals shrink it once below 10% full, to the
    /// smallest power of two that holds the members, the old table kept while the rehash runs.
    #[test]
    fn a_dict_set_grows_and_shrinks_its_table() {
        let (mut s, c) = fresh();
        for (from, to) in [(0, 16), (16, 32), (32, 64), (64, 128)] {
            sadd_named(&mut s, c, b"h", "member:", from..to);
        }
        // robj 16 + dict 56 + 128 buckets x 8 + 128 x (24 + 16), key 8 + 24.
        assert_eq!(s.memory_usage(b"h"), Some(16 + 56 + 1024 + 128 * 40 + 32));
        // 128 members in 128 buckets: a member already there doubles the table (256 x 8).
        assert_eq!(sadd_named(&mut s, c, b"h", "member:", 0..1), 2048);
        // Down to 25 members (25 x 100 / 256 < 10): a 32-bucket table (256 B); the 128-bucket
        // one was freed by the steps of the removals before (1,024 B); each member 16 + 32.
        let mut srem: Vec<Vec<u8>> = vec![b"SREM".to_vec(), b"h".to_vec()];
        srem.extend((25..128).map(|i| format!("member:{i:04}").into_bytes()));
        let refs: Vec<&[u8]> = srem.iter().map(|w| w.as_slice()).collect();
        assert_eq!(run(&mut s, c, &refs), -103 * 48 - 1024 + 256);
        // Both tables while the rehash runs: 256 + 32 buckets.
        assert_eq!(s.memory_usage(b"h"), Some(16 + 56 + 288 * 8 + 25 * 40 + 32));
    }

    /// SPOP of an intset member of 32 bits: an INT robj for it (16 B, held by the rewritten
    /// argv), the intset reallocated (8 + 3 x 4 = 20 -> 8 + 2 x 4 = 16: a smaller class), the
    /// argv rewritten to SREM (a new 3-slot vector, 24 B, and the original 2-slot one kept,
    /// 16 B), then the reply's node.
    #[test]
    fn spop_of_an_intset_member() {
        let (mut s, c) = fresh();
        run(&mut s, c, &[b"SADD", b"s", b"100000", b"100001", b"100002"]);
        s.heap.record();
        assert_eq!(run(&mut s, c, &[b"SPOP", b"s"]), -16);
        // The realloc of the intset (made before recording: recorded as a new block) comes
        // after the member's object.
        assert_eq!(recorded_allocs(&s), [16, 24, 21, 16, 16, 24, 16, 24]);
        assert_eq!(s.payload_bytes(), 1 + 2 * 6);
        // A member below 10,000 is a shared object: nothing made for it.
        run(&mut s, c, &[b"SADD", b"t", b"7", b"8"]);
        s.heap.record();
        run(&mut s, c, &[b"SPOP", b"t"]);
        assert_eq!(recorded_allocs(&s), [16, 24, 21, 24, 16, 24]);
        // The last member: the key deleted after the rewrite's vectors are made.
        s.heap.record();
        assert_eq!(run(&mut s, c, &[b"SPOP", b"t"]), -(16 + 16 + 8 + 32));
        // argv and its strings; the intset's realloc to 8 bytes (a new block); the new vector
        // and the original one kept; then the key deleted (its intset; the other blocks were
        // made before recording); then the parsed vector freed, the reply's node, and the
        // strings, the original vector, the new one and the node freed after the command.
        assert_eq!(
            recorded_events(&s),
            [16, 24, 21, 8, 24, 16, -8, -16, 24, -24, -21, -16, -24, -24]
        );
        assert_eq!(s.dbsize(), 1);
        // A missing key: nothing but the arguments.
        s.heap.record();
        assert_eq!(run(&mut s, c, &[b"SPOP", b"absent"]), 0);
        assert_eq!(recorded_allocs(&s), [16, 24, 26, 24]);
    }

    /// SPOP of a dict member: an embedded string for an 11-byte member (16 + 3 + 11 + 1 = 31),
    /// an sds (3 + 64 + 1 = 68) and a robj for a 64-byte one.
    #[test]
    fn spop_of_a_dict_member() {
        let (mut s, c) = fresh();
        sadd_named(&mut s, c, b"h", "member:", 0..3);
        s.heap.record();
        // The member's sds (16) and entry (32).
        assert_eq!(run(&mut s, c, &[b"SPOP", b"h"]), -48);
        assert_eq!(recorded_allocs(&s), [16, 24, 21, 31, 24, 16, 24]);
        sadd_named(&mut s, c, b"l", &"l".repeat(60), 0..3);
        s.heap.record();
        // sds 68 -> 80, entry 32.
        assert_eq!(run(&mut s, c, &[b"SPOP", b"l"]), -112);
        assert_eq!(recorded_allocs(&s), [16, 24, 21, 68, 16, 24, 16, 24]);
    }

    /// SPOP with a count on an intset of 10 five-digit members (8 + 10 x 2 = 28 -> 32): a few
    /// taken one by one (an INT robj made and freed for each); most taken, the one that stays
    /// copied into a new intset (its sds copy 1 + 5 + 1 = 7, `intsetNew` 8, robj 16, realloc
    /// to 10 -> 16) while the old one's members get their objects, then the old set freed;
    /// the rest taken whole (a copy of the set built and freed, the key deleted, the argv
    /// rewritten to DEL).
    #[test]
    fn spop_with_a_count_on_an_intset() {
        let (mut s, c) = fresh();
        let mut words: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"s".to_vec()];
        words.extend((10_000..10_010).map(|i: u32| i.to_string().into_bytes()));
        let refs: Vec<&[u8]> = words.iter().map(|w| w.as_slice()).collect();
        run(&mut s, c, &refs);
        s.heap.record();
        // 7 x 5 > 3: one by one. 8 + 7 x 2 = 22: still 32.
        assert_eq!(run(&mut s, c, &[b"SPOP", b"s", b"3"]), 0);
        assert_eq!(recorded_allocs(&s), [24, 24, 21, 21, 16, 16, 16, 24]);
        s.heap.record();
        // 1 x 5 <= 6: a new set; intset 32 -> 16.
        assert_eq!(run(&mut s, c, &[b"SPOP", b"s", b"6"]), -16);
        assert_eq!(
            recorded_allocs(&s),
            [24, 24, 21, 21, 7, 8, 16, 24, 16, 16, 16, 16, 16, 16, 24]
        );
        assert_eq!(s.payload_bytes(), 1 + 5);
        s.heap.record();
        // The whole set: the array of sets (8), the copy (intset 8, robj 16), an iterator
        // (24) and a member copy (7) to build it, the same to reply; the key deleted; DEL's
        // 2-slot vector and the original 3-slot one.
        assert_eq!(run(&mut s, c, &[b"SPOP", b"s", b"5"]), -(16 + 16 + 8 + 32));
        assert_eq!(
            recorded_allocs(&s),
            [24, 24, 21, 21, 8, 8, 16, 24, 7, 24, 7, 16, 24, 24]
        );
        assert_eq!(s.dbsize(), 0);
        assert_eq!(s.payload_bytes(), 0);
    }

    /// SPOP with a count on a dict set of 8 members (dict 64, 8 buckets 64, 8 x (16 + 32),
    /// robj 16): 7 of 8 builds a new dict set of the one that stays (dict 64, robj 16, its
    /// first table 32, sds 16, entry 32) and frees the old one.
    #[test]
    fn spop_with_a_count_on_a_dict_set() {
        let (mut s, c) = fresh();
        sadd_named(&mut s, c, b"h", "member:", 0..8);
        assert_eq!(
            run(&mut s, c, &[b"SPOP", b"h", b"7"]),
            (64 + 16 + 32 + 48) - (64 + 64 + 8 * 48 + 16)
        );
        assert_eq!(s.memory_usage(b"h"), Some(16 + 56 + 32 + 40 + 32));
        assert_eq!(s.payload_bytes(), 1 + 11);
        // 1 of 1: the whole set; the key goes with its blocks.
        assert_eq!(run(&mut s, c, &[b"SPOP", b"h", b"1"]), -(160 + 8 + 32));
        assert_eq!(s.dbsize(), 0);
    }

    /// DEL of a dict set frees, member by member in the dict's walk order, its sds then its
    /// entry, then the table, the dict struct and the robj (`dictRelease`, `decrRefCount`),
    /// then the key's blocks; FLUSHALL frees the same blocks.
    #[test]
    fn del_and_flushall_free_every_block() {
        let (mut s, c) = fresh();
        run(&mut s, c, &[b"SADD", b"other", b"x"]);
        let u0 = s.used_memory();
        s.heap.record();
        for b in 0..4 {
            sadd_named(&mut s, c, b"big", "element:", b * 256..(b + 1) * 256);
        }
        assert_eq!(s.dbsize(), 2);
        let before = recorded_frees(&s).len();
        run(&mut s, c, &[b"DEL", b"big"]);
        assert_eq!(s.used_memory(), u0);
        let frees = recorded_frees(&s)[before..].to_vec();
        // 1,024 members (sds 1 + 12 + 1 = 14, entry 24), the table (1,024 x 8), the dict, the
        // robj, the key's sds ("big": 1 + 3 + 1 = 5) and entry; then, the command done, its
        // arguments ("DEL" and "big": 16 + 3 + 3 + 1 = 23) and argv (2 x 8), the reply's node.
        let members = &frees[..2048];
        assert!(members.chunks(2).all(|p| p == [14, 24]), "{:?}", &frees[..8]);
        assert_eq!(frees[2048..], [8192, 56, 16, 5, 24, 23, 23, 16, 24]);
        for b in 0..4 {
            sadd_named(&mut s, c, b"big", "element:", b * 256..(b + 1) * 256);
        }
        run(&mut s, c, &[b"FLUSHALL"]);
        assert_eq!(s.dbsize(), 0);
        assert_eq!(s.payload_bytes(), 0);
    }

    /// The same commands on servers of the same seed allocate and free alike; another seed
    /// frees a dict set's members in another order.
    #[test]
    fn frees_follow_the_seeds_walk_order() {
        let ops = |seed: u64| {
            let mut p = crate::redis::server::testing::debian_profile();
            p.baseline.commands_seen = vec!["sadd".into(), "spop".into(), "del".into()];
            let mut s = Server::new(p, seed).unwrap();
            let c = s.connect();
            s.heap.record();
            sadd_named(&mut s, c, b"h", "m", 0..100);
            run(&mut s, c, &[b"SPOP", b"h", b"10"]);
            run(&mut s, c, &[b"DEL", b"h"]);
            s.heap.recorder.take().unwrap().ops
        };
        assert_eq!(ops(1), ops(1));
        assert_ne!(ops(1), ops(2));
    }

    /// The members' index finds what a map finds, through random inserts and removals (the
    /// last member moving into the removed one's place), with keys that share the index's tag
    /// so that runs form, wrap around and close up.
    #[test]
    fn the_members_index_finds_what_a_map_finds() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut m = Members::default();
        let mut map: std::collections::HashMap<Key, (u32, u32)> = Default::default();
        for step in 0..30_000u32 {
            if next() % 3 == 0 && !map.is_empty() {
                let pos = (next() % m.len() as u64) as usize;
                let k = m.get(pos).key();
                let gone = m.remove(pos);
                assert_eq!(map.remove(&k), Some((gone.sds, gone.entry)));
                assert_eq!(m.find(k), None);
            } else {
                let tag = match next() % 16 {
                    0 => u32::MAX - (next() % 4) as u32,
                    1 => (next() % 4) as u32,
                    _ => next() as u32,
                };
                let k = Key {
                    h: (tag as u64) << 32 | next() & 0xffff_fffe,
                    x: next() % 64,
                };
                if m.find(k).is_some() {
                    continue;
                }
                m.insert(k, 0, step, step + 1);
                map.insert(k, (step, step + 1));
            }
            if step % 499 == 0 {
                assert_eq!(m.len(), map.len());
                for (&k, &(sds, entry)) in &map {
                    let p = m.find(k).expect("a member");
                    assert_eq!((m.get(p).sds, m.get(p).entry), (sds, entry));
                }
            }
        }
        // The walk order is the key order.
        let keys: Vec<Key> = m.walk().iter().map(|&p| m.get(p as usize).key()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    /// A member's key: integers by value (their length their decimal form's), other strings
    /// by a second hash and their length; the same bytes give the same key.
    #[test]
    fn member_keys() {
        let h = NameHasher::new(7);
        let k = Elem::of_bytes(b"-1234").key(&h);
        assert_eq!((k.int(), k.len()), (Some(-1234), 5));
        assert_eq!(k, Key::of_int(&h, -1234));
        assert_eq!(k.h & !1, h.hash(b"-1234") & !1);
        let s = Elem::of_bytes(b"0123").key(&h);
        assert_eq!((s.int(), s.len()), (None, 4));
        assert_ne!(s, Elem::of_bytes(b"0124").key(&h));
        let mut buf = [0u8; 20];
        assert_eq!(decimal(i64::MIN, &mut buf), b"-9223372036854775808");
        assert_eq!(Key::of_int(&h, i64::MIN).len(), 20);
    }

    /// The values' footprint: an intset's block; a dict set's member sds blocks (3 x 8 for
    /// "abc", "de", "f": 5, 4, 3 B), not its entries or tables.
    #[test]
    fn footprint_of_the_members() {
        let (mut s, c) = fresh();
        run(&mut s, c, &[b"SADD", b"a", b"abc", b"de", b"f"]);
        assert_eq!(s.value_footprint(), (6, 24));
        run(&mut s, c, &[b"SADD", b"i", b"1", b"2"]);
        assert_eq!(s.value_footprint(), (8, 24 + 16));
    }
}
