//! The table of a hashtable-encoded hash, set or sorted set on Valkey 8.1+ (`table =
//! "hashtable"`): a [`Hashtable`] of its own, made by `hashtableCreate(&hashHashtableType)`,
//! `(&setHashtableType)` or `(&zsetHashtableType)` (valkey 8.1.1 and 9.1.2 `src/server.c`).
//!
//! Those types differ from the keyspace's (`kvstoreKeysHashtableType`) in what matters here:
//! no `rehashingStarted`/`rehashingCompleted` callbacks (no list node while a rehash runs), no
//! `resizeAllowed` callback (resizes always allowed while no child process runs), no
//! `instant_rehashing`; and the struct: `sizeof(hashtable)`, 72 B in 8.1.1 and 80 B in 9.1.2,
//! plus, for 9.1.2's hashes only, one pointer of metadata (`hashHashtableTypeMetadataSize`: the
//! volatile-fields set). The server's cron rehashes only the keyspace's kvstores
//! (`databasesCron`: `kvstoreIncrementallyRehash`), so a collection's table moves on only with
//! the lookups, adds and deletions of the commands on it (`findBucket`'s
//! `rehashStepOnReadIfNeeded`). Elements hash by `dictSdsHash`: SipHash-1-2 of the member's
//! bytes under the seed startup draws ([`super::value::Mem::member_hash`]).
//!
//! The model gives each element an id of its own (reused once freed) and keeps its hash and
//! the caller's key for it.

use crate::redis::hashtable::{AsHeap, Hashtable};
use crate::redis::heap::Heap;
use crate::redis::profile::RedisProfile;

/// Which collection's table: the struct's size depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Hash,
    Set,
    Zset,
}

/// `sizeof(hashtable)` plus the type's metadata (`hashtableCreate`): 72 B in Valkey 8.1.1; 80
/// B in 9.1.2 (a safe-iterator list head added), 88 B for a hash (`hashHashtableTypeMetadataSize`:
/// a pointer). What `hashtableMemUsage` counts for the struct.
pub(super) fn struct_bytes(p: &RedisProfile, kind: Kind) -> u64 {
    if p.layout.hashtable_v9 {
        80 + if kind == Kind::Hash { 8 } else { 0 }
    } else {
        72
    }
}

/// A collection's table: the table (its struct's block with it), and per element id its hash
/// and key.
#[derive(Debug, Clone)]
pub(super) struct VkTable<K> {
    pub ht: Hashtable,
    slots: Vec<Option<(u64, K)>>,
    free: Vec<u32>,
}

/// The heap and the table's slots, as [`Hashtable::empty`]'s context.
struct Ctx<'a, K> {
    heap: &'a mut Heap,
    slots: &'a [Option<(u64, K)>],
}

impl<K> AsHeap for Ctx<'_, K> {
    fn heap(&mut self) -> &mut Heap {
        self.heap
    }
}

impl<K: Copy> VkTable<K> {
    /// `hashtableCreate`: the struct's block; no table until the first element or an expand.
    pub fn new(heap: &mut Heap, p: &RedisProfile, kind: Kind) -> Self {
        let bytes = struct_bytes(p, kind);
        let mut ht = Hashtable::new(p.hashtable_flavor(), bytes, false);
        ht.create(heap);
        VkTable {
            ht,
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Elements.
    pub fn len(&self) -> u64 {
        self.ht.size()
    }

    /// `hashtableMemUsage`: the struct, 64 B per bucket and child bucket.
    pub fn mem_usage(&self) -> u64 {
        self.ht.mem_usage()
    }

    /// `hashtableExpand(size)`.
    pub fn expand(&mut self, heap: &mut Heap, size: u64) {
        let slots = &self.slots;
        self.ht.expand(heap, size, &|id| hash_at(slots, id));
    }

    /// A lookup (`findBucket`: a find, an add of an element already there, a deletion of one
    /// that is not, a random draw): one rehash step while rehashing.
    pub fn lookup(&mut self, heap: &mut Heap) {
        let slots = &self.slots;
        self.ht.find_step(heap, &|id| hash_at(slots, id));
    }

    /// `hashtableFindPositionForInsert` then `hashtableInsertAtPosition` of a new element of
    /// hash `hash`: the lookup's rehash step, growth when due, a child bucket when the chain is
    /// full. Returns its id.
    pub fn insert(&mut self, heap: &mut Heap, hash: u64, key: K) -> u32 {
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some((hash, key));
                id
            }
            None => {
                self.slots.push(Some((hash, key)));
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.ht.add(heap, id, hash, &|i| hash_at(slots, i));
        id
    }

    /// `hashtablePop` of element `id` (the lookup's step, the slot cleared, the chain
    /// compacted, `hashtableShrinkIfNeeded`). Returns its key.
    pub fn remove(&mut self, heap: &mut Heap, id: u32) -> K {
        let (hash, key) = self.slots[id as usize].expect("a live element");
        let slots = &self.slots;
        let found = self.ht.remove(heap, id, hash, &|i| hash_at(slots, i));
        debug_assert!(found, "the element is in its table");
        self.slots[id as usize] = None;
        self.free.push(id);
        key
    }

    /// `hashtablePauseAutoShrink`, where the build's command pauses it around its deletions
    /// (valkey 9.1.2 `sremCommand`, `hdelCommand`; not 8.1.1).
    pub fn pause_shrink(&mut self, p: &RedisProfile) {
        if p.layout.hashtable_v9 {
            self.ht.pause_auto_shrink();
        }
    }

    /// `hashtableResumeAutoShrink` after [`VkTable::pause_shrink`]: a shrink when due.
    pub fn resume_shrink(&mut self, heap: &mut Heap, p: &RedisProfile) {
        if p.layout.hashtable_v9 {
            let slots = &self.slots;
            self.ht.resume_auto_shrink(heap, &|id| hash_at(slots, id));
        }
    }

    /// `hashtablePauseAutoShrink` on every build (valkey 8.1.1 and 9.1.2
    /// `zremrangeGenericCommand`).
    pub fn pause_shrink_always(&mut self) {
        self.ht.pause_auto_shrink();
    }

    /// `hashtableResumeAutoShrink` after [`VkTable::pause_shrink_always`]: a shrink when due.
    pub fn resume_shrink_always(&mut self, heap: &mut Heap) {
        let slots = &self.slots;
        self.ht.resume_auto_shrink(heap, &|id| hash_at(slots, id));
    }

    /// The key of element `id`.
    pub fn key(&self, id: u32) -> K {
        self.slots[id as usize].expect("a live element").1
    }

    /// The elements' ids in the order an iterator meets them.
    pub fn ids(&self) -> Vec<u32> {
        self.ht.ids()
    }

    /// `hashtableRelease`: each element's key handed to `each` bucket by bucket (the entry
    /// destructor), the tables, the struct.
    pub fn release(mut self, heap: &mut Heap, mut each: impl FnMut(&mut Heap, K)) {
        let mut ctx = Ctx {
            heap,
            slots: &self.slots,
        };
        self.ht.release(&mut ctx, |c, id| {
            let k = c.slots[id as usize].expect("a live element").1;
            each(c.heap, k)
        });
    }
}

impl VkTable<()> {
    /// [`VkTable::release`] handing over each element's id.
    pub fn release_ids(mut self, heap: &mut Heap, mut each: impl FnMut(&mut Heap, u32)) {
        self.ht.release(heap, |h, id| each(h, id));
    }
}

fn hash_at<K>(slots: &[Option<(u64, K)>], id: u32) -> u64 {
    slots[id as usize].as_ref().expect("a live element").0
}
