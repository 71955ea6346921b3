//! The shape every value type of the keyspace shares, after the life of a value object in
//! Redis (object.c): a write creates it (`createStringObject` and `tryObjectEncoding` for a
//! string, `createHashObject` for a hash), later writes grow it and convert it from its compact
//! encoding to the large one when it outgrows a limit (`hashTypeConvert`), and `decrRefCount`
//! frees it (`freeStringObject`, `freeHashObject`) when its key is deleted, expires, is flushed
//! or is overwritten.
//!
//! [`ValueType`] is what every type implements; [`Aggregate`] is what a type whose writes
//! change the value in place adds (hashes, lists, sets, sorted sets), which the keyspace's
//! generic [`super::keyspace::Keyspace::write`] drives. A new type is a module with its value
//! struct, these impls, a variant of [`Value`] and its commands in the dispatcher's table.

use crate::jemalloc::Arena;
use crate::redis::heap::{Alloc, Heap};
use crate::redis::profile::RedisProfile;

use super::dispatch::Cmd;
use super::hash::HashValue;
use super::keytable::NameHasher;
use super::list::ListValue;
use super::set::SetValue;
use super::string::StringValue;
use super::zset::ZsetValue;

/// The server's own random draws (`random()` in Redis: a sorted-set node's level, the member
/// SPOP takes), from a stream seeded by the run's seed, so that each run draws differently and
/// the same run the same. SplitMix64.
#[derive(Debug, Clone)]
pub(super) struct Draws(u64);

impl Draws {
    pub(super) fn new(seed: u64) -> Self {
        Draws(seed ^ 0x7261_6e64_6f6d_2829)
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        crate::units::mix64(self.0)
    }

    /// A number below `n` (> 0), uniformly (Lemire's multiply-shift, bias below 2^-32 for the
    /// sizes drawn here).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// What a value's allocations depend on: the heap they come from, the profile's sizes and
/// limits, the seed of the dict hash function (which decides the order a dict is walked,
/// hence the order of frees), and the server's random draws.
pub(super) struct Mem<'a> {
    pub heap: &'a mut Heap,
    pub profile: &'a RedisProfile,
    pub hash_seed: u64,
    /// Redis's own dict hash key, when known (see `Server::set_dict_hash_key`).
    pub dict_key: Option<[u8; 16]>,
    pub draws: &'a mut Draws,
}

impl Mem<'_> {
    /// The hash that decides a collection member's bucket in a dict that follows its buckets
    /// exactly: `dictSdsHash` (SipHash-1-2 of the member's bytes under the server's key) when
    /// the key is known, else the model's stand-in under the run's seed (as random from run to
    /// run as Redis's seed is from process to process).
    pub fn member_hash(&self, bytes: &[u8]) -> u64 {
        match &self.dict_key {
            Some(k) => crate::redis::siphash::siphash12(bytes, k),
            None => NameHasher::new(self.hash_seed).hash(bytes),
        }
    }

    /// `names` in the order a dict walk meets them: by bucket, and buckets follow the keys'
    /// SipHash under the seed Redis draws at startup (`dictSetHashFunctionSeed` with random
    /// bytes), so the order is random from one server process to the next. The model draws
    /// its own seed from the run's: each run frees in a different order, as each real process
    /// does (which objects end in the thread cache after a FLUSHALL depends on it).
    pub fn walk_order(&self, mut names: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let hasher = NameHasher::new(self.hash_seed);
        // A stable sort: names that hash alike keep the map's (deterministic) order.
        names.sort_by_cached_key(|n| hasher.hash(n));
        names
    }
}

/// What every value type does with memory once it exists.
pub(super) trait ValueType {
    /// Frees every block the value holds (`decrRefCount` of a key's value): when its key is
    /// deleted, expires or is flushed, or when SET replaces it.
    fn free(self, mem: &mut Mem<'_>);

    /// Bytes of `stats.active` taken by the blocks that hold the value's bytes as the client
    /// sent them (usable size plus pad pages; the robj and the type's bookkeeping left out).
    fn footprint(&self, arena: &Arena) -> u64;

    /// The value's size as `objectComputeSize` (object.c) counts it with every element
    /// sampled, the value part of `MEMORY USAGE key SAMPLES 0`: a mix of `sizeof`s and the
    /// usable sizes (`zmalloc_size`) of the value's blocks, with Redis's own arithmetic
    /// (an average per element times the element count, in floating point).
    fn object_size(&self, arena: &Arena, profile: &RedisProfile) -> u64;

    /// What `OBJECT ENCODING` replies for the value ("quicklist", "intset", "skiplist", ...).
    fn encoding(&self) -> &'static str {
        ""
    }

    /// For a hash, list, set or sorted set: (the bytes its blocks were requested at, a
    /// listpack counted at its bytes in use where it grew in place; the part of those that is
    /// such growth, which the allocator sees as size-class rounding). (0, 0) for a string.
    fn structure(&self, _profile: &RedisProfile) -> (u64, u64) {
        (0, 0)
    }

    /// The value's blocks by kind, for `fragsim explain`: each kind's count and the bytes
    /// requested and usable over all of them (the robj included).
    fn blocks(&self, _arena: &Arena, _profile: &RedisProfile) -> Vec<BlockKind> {
        Vec::new()
    }
}

/// One kind of block a value holds (the robj, a quicklist node, a listpack, a skiplist node
/// of some level, a member's sds, ...): how many, and the bytes requested from the allocator
/// and usable (what `used_memory` counts) over all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockKind {
    pub what: String,
    pub count: u64,
    pub requested: u64,
    pub usable: u64,
}

impl BlockKind {
    /// `count` blocks of `requested` bytes each, `usable` bytes each.
    pub fn each(what: &str, count: u64, requested: u64, usable: u64) -> Self {
        BlockKind {
            what: what.into(),
            count,
            requested: count * requested,
            usable: count * usable,
        }
    }
}

/// A listpack block `lp` holding `bytes` bytes: (its request, counted at `bytes` where the
/// listpack grew in place past it; that growth).
pub(super) fn listpack_structure(lp: Alloc, bytes: u64) -> (u64, u64) {
    let req = lp.requested as u64;
    (req.max(bytes), bytes.saturating_sub(req))
}

/// A value's blocks gathered by kind and size class, the kinds in the order they first come:
/// what [`ValueType::blocks`] returns. Blocks of one kind in different classes (listpacks of
/// several sizes, sds of several lengths) stay apart, so each line's class is exact.
#[derive(Debug, Default)]
pub(super) struct Blocks {
    kinds: Vec<(BlockKind, u64)>,
}

impl Blocks {
    /// One block of kind `what`: `requested` bytes asked for, `usable` given (its class).
    pub(super) fn add(&mut self, what: &str, requested: u64, usable: u64) {
        match self
            .kinds
            .iter_mut()
            .find(|(k, class)| *class == usable && k.what == what)
        {
            Some((k, _)) => {
                k.count += 1;
                k.requested += requested;
                k.usable += usable;
            }
            None => self
                .kinds
                .push((BlockKind::each(what, 1, requested, usable), usable)),
        }
    }

    /// One block of kind `what` that the value holds as an [`Alloc`].
    pub(super) fn alloc(&mut self, what: &str, a: Alloc) {
        self.add(what, a.requested as u64, a.usable);
    }

    pub(super) fn into_vec(self) -> Vec<BlockKind> {
        self.kinds.into_iter().map(|(k, _)| k).collect()
    }
}

/// `asize += (double)elesize/samples*count`, as objectComputeSize adds a sampled average to a
/// `size_t` (converted to double and back, truncated).
pub(super) fn add_sampled(asize: u64, elesize: u64, samples: u64, count: u64) -> u64 {
    if samples == 0 {
        return asize;
    }
    (asize as f64 + elesize as f64 / samples as f64 * count as f64) as u64
}

/// A type whose write commands change the value in place, the key's value created first when
/// a command that adds to it finds no key (`lookupKeyWrite`, then `createXObject` and
/// `dbAdd`), and the key deleted when a command that removes from it leaves it empty (`dbDelete`
/// after `LPOP`, `SREM`, `ZREM`, ...): hashes, lists, sets and sorted sets.
pub(super) trait Aggregate: ValueType + Sized {
    /// The empty value a write to a missing key creates, in its compact encoding, for the
    /// first command `cmd` with arguments `args` after the key (a set of integers starts as an
    /// intset, of other members as a hash table; a sorted set's first element may be too long
    /// for a listpack).
    fn create(mem: &mut Mem<'_>, cmd: Cmd, args: &[&[u8]]) -> Self;

    /// Applies command `cmd`'s arguments after the key (HSET: field/value pairs; RPUSH:
    /// elements; ZADD: score/member pairs; ...): the value grows or shrinks, and converts
    /// between its encodings where Redis converts. Returns the change in the bytes the client
    /// sent that the value holds (the key's payload).
    fn write(&mut self, mem: &mut Mem<'_>, cmd: Cmd, args: &[&[u8]]) -> i64;

    /// Whether the value holds no element (its key is then deleted).
    fn is_empty(&self) -> bool;

    /// The value as the keyspace holds it.
    fn into_value(self) -> Value;

    /// The value a key holds as this type, or `None` when it holds another type (Redis replies
    /// WRONGTYPE; the model leaves the key as it is).
    fn of_value(value: &mut Value) -> Option<&mut Self>;
}

/// A value the keyspace holds, one variant per type. The aggregates are boxed: their
/// bookkeeping is large, and most keys are strings.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Str(StringValue),
    Hash(Box<HashValue>),
    List(Box<ListValue>),
    Set(Box<SetValue>),
    Zset(Box<ZsetValue>),
}

impl ValueType for Value {
    fn free(self, mem: &mut Mem<'_>) {
        match self {
            Value::Str(s) => s.free(mem),
            Value::Hash(h) => (*h).free(mem),
            Value::List(l) => (*l).free(mem),
            Value::Set(s) => (*s).free(mem),
            Value::Zset(z) => (*z).free(mem),
        }
    }

    fn footprint(&self, arena: &Arena) -> u64 {
        match self {
            Value::Str(s) => s.footprint(arena),
            Value::Hash(h) => h.footprint(arena),
            Value::List(l) => l.footprint(arena),
            Value::Set(s) => s.footprint(arena),
            Value::Zset(z) => z.footprint(arena),
        }
    }

    fn object_size(&self, arena: &Arena, profile: &RedisProfile) -> u64 {
        match self {
            Value::Str(s) => s.object_size(arena, profile),
            Value::Hash(h) => h.object_size(arena, profile),
            Value::List(l) => l.object_size(arena, profile),
            Value::Set(s) => s.object_size(arena, profile),
            Value::Zset(z) => z.object_size(arena, profile),
        }
    }

    fn structure(&self, profile: &RedisProfile) -> (u64, u64) {
        match self {
            Value::Str(_) => (0, 0),
            Value::Hash(h) => h.structure(profile),
            Value::List(l) => l.structure(profile),
            Value::Set(s) => s.structure(profile),
            Value::Zset(z) => z.structure(profile),
        }
    }

    fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::List(l) => l.encoding(),
            Value::Set(s) => s.encoding(),
            Value::Zset(z) => z.encoding(),
        }
    }

    fn blocks(&self, arena: &Arena, profile: &RedisProfile) -> Vec<BlockKind> {
        match self {
            Value::Str(s) => s.blocks(arena, profile),
            Value::Hash(h) => h.blocks(arena, profile),
            Value::List(l) => l.blocks(arena, profile),
            Value::Set(s) => s.blocks(arena, profile),
            Value::Zset(z) => z.blocks(arena, profile),
        }
    }
}

impl Value {
    /// The block of the value's object (`robj`): an INT or raw string's robj, a collection's;
    /// an embedded string's one block. Where objects carry their key (Valkey 8.1+) it is the
    /// block that holds the key. `None` for a shared integer.
    pub(super) fn robj(&self) -> Option<Alloc> {
        match self {
            Value::Str(StringValue::Shared) => None,
            Value::Str(StringValue::Int(a) | StringValue::Embstr(a) | StringValue::Raw(a, _)) => Some(*a),
            Value::Hash(h) => Some(h.robj),
            Value::List(l) => Some(l.robj),
            Value::Set(s) => Some(s.robj),
            Value::Zset(z) => Some(z.robj),
        }
    }

    /// The value with its object's block replaced by `robj` (what `objectSetKeyAndExpire` and
    /// `dbSetValue` do when they move a value's contents into another object); a shared integer
    /// becomes an INT object of that block.
    pub(super) fn with_robj(self, robj: Alloc) -> Value {
        match self {
            Value::Str(StringValue::Shared | StringValue::Int(_) | StringValue::Embstr(_)) => {
                Value::Str(StringValue::Int(robj))
            }
            Value::Str(StringValue::Raw(_, s)) => Value::Str(StringValue::Raw(robj, s)),
            Value::Hash(mut h) => {
                h.robj = robj;
                Value::Hash(h)
            }
            Value::List(mut l) => {
                l.robj = robj;
                Value::List(l)
            }
            Value::Set(mut s) => {
                s.robj = robj;
                Value::Set(s)
            }
            Value::Zset(mut z) => {
                z.robj = robj;
                Value::Zset(z)
            }
        }
    }
}
