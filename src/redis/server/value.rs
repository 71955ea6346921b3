//! The shape every value type of the keyspace shares, after the life of a value object in
//! Redis (object.c): a write creates it (`createStringObject` and `tryObjectEncoding` for a
//! string, `createHashObject` for a hash), later writes grow it and convert it from its compact
//! encoding to the large one when it outgrows a limit (`hashTypeConvert`), and `decrRefCount`
//! frees it (`freeStringObject`, `freeHashObject`) when its key is deleted, expires, is flushed
//! or is overwritten.
//!
//! [`ValueType`] is what every type implements; [`Aggregate`] is what a type whose writes
//! change the value in place adds (hashes; lists, sets and sorted sets to come), which the
//! keyspace's generic [`super::keyspace::Keyspace::write`] drives. A new type is a module with
//! its value struct, these impls, a variant of [`Value`] and its commands in the dispatcher's
//! table.

use crate::jemalloc::Arena;
use crate::redis::heap::Heap;
use crate::redis::profile::RedisProfile;

use super::hash::HashValue;
use super::keytable::NameHasher;
use super::string::StringValue;

/// What a value's allocations depend on: the heap they come from, the profile's sizes and
/// limits, and the seed of the dict hash function (which decides the order a dict is walked,
/// hence the order of frees).
pub(super) struct Mem<'a> {
    pub heap: &'a mut Heap,
    pub profile: &'a RedisProfile,
    pub hash_seed: u64,
}

impl Mem<'_> {
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
}

/// A type whose write commands change the value in place, the key's value created first when
/// the key does not exist (`lookupKeyWrite`, then `createXObject` and `dbAdd`): a hash; lists,
/// sets and sorted sets later.
pub(super) trait Aggregate: ValueType + Sized {
    /// The empty value a write to a missing key creates, in its compact encoding.
    fn create(mem: &mut Mem<'_>) -> Self;

    /// Applies one write command's arguments after the key (HSET: field/value pairs): the value
    /// grows, and converts to its large encoding when an element or the element count passes
    /// the profile's limit. Returns the change in the bytes the client sent that the value
    /// holds (the key's payload).
    fn write(&mut self, mem: &mut Mem<'_>, args: &[&[u8]]) -> i64;

    /// The value as the keyspace holds it.
    fn into_value(self) -> Value;

    /// The value a key holds as this type, or `None` when it holds another type (Redis replies
    /// WRONGTYPE; the model leaves the key as it is).
    fn of_value(value: &mut Value) -> Option<&mut Self>;
}

/// A value the keyspace holds, one variant per type.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Str(StringValue),
    /// Boxed: a hash's bookkeeping is large, and most keys are strings.
    Hash(Box<HashValue>),
}

impl ValueType for Value {
    fn free(self, mem: &mut Mem<'_>) {
        match self {
            Value::Str(s) => s.free(mem),
            Value::Hash(h) => (*h).free(mem),
        }
    }

    fn footprint(&self, arena: &Arena) -> u64 {
        match self {
            Value::Str(s) => s.footprint(arena),
            Value::Hash(h) => h.footprint(arena),
        }
    }
}
