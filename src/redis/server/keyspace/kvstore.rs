//! Cluster mode's keyspace where each hash slot has tables of its own: Redis 7.4+ and Valkey
//! 8.0's `kvstore` of dicts (redis 7.4.1 / 8.0.6, valkey 8.0.1 `src/kvstore.c`).
//!
//! A cluster node's database keeps two kvstores, the keys' and the expires', each an array of
//! 16,384 dict pointers (one per slot) with a binary indexed tree of the dicts' sizes
//! (`dict_size_index`) and a list of the dicts being rehashed. Those arrays are made at
//! startup (`initServer`, `kvstoreCreate`) and stay, so the baseline holds them; what the
//! model follows is what comes and goes with the keys (`used_memory`):
//!
//! - a slot's dict is made when its first key comes (`KVSTORE_ALLOCATE_DICTS_ON_DEMAND`,
//!   `createDictIfNeeded`): `sizeof(dict)` plus the kvstore's per-dict metadata
//!   ([`ServerLayout::kvstore_dict`](crate::redis::profile::ServerLayout::kvstore_dict)), and
//!   freed with its tables when its last key goes (`KVSTORE_FREE_EMPTY_DICTS`, which
//!   `initServer` sets in cluster mode only: `freeDictIfNeeded` after `kvstoreDictDelete` and
//!   `kvstoreDictTwoPhaseUnlinkFree`);
//! - while a dict rehashes, the kvstore's rehashing list holds a node for it (`listNode`,
//!   24 B: `kvstoreDictRehashingStarted`, freed by `kvstoreDictRehashingCompleted`); a table's
//!   first allocation, or a resize of an empty table, makes the node and frees it at once
//!   (`_dictResize` reports every resize as a rehash);
//! - each dict grows at load 1 and shrinks at 1/8 fill as keys are added and deleted (`dictAddRaw`,
//!   `dictDelete` with `_dictShrinkIfNeeded`), like any dict of the build;
//! - the cron's upkeep (`databasesCron`, `kvstoreTryResizeDicts(kvs, CRON_DICTS_PER_DB)`)
//!   looks at 16 slots per tick from a cursor that walks the 16,384 slots (about 102 s at
//!   hz 10), shrinking or growing the dicts found there, then finishes every rehash of the
//!   rehashing list (`kvstoreIncrementallyRehash`, a millisecond at most: a slot's table is
//!   small);
//! - a flush frees every slot's dict (`kvstoreEmpty`: `dictEmpty`, then `freeDictIfNeeded`;
//!   the asynchronous flush swaps in new kvstores of the same size, `emptyDbAsync`, and the
//!   lazy-free thread releases the old ones: the same blocks go) and sets the cursor back to
//!   slot 0.

use std::collections::BTreeMap;

use crate::jemalloc::ObjId;
use crate::redis::cluster::SLOTS;
use crate::redis::dict::Dict;
use crate::redis::heap::{Alloc, Heap};
use crate::redis::profile::RedisProfile;

/// `sizeof(listNode)` (`src/adlist.h`: previous, next, value).
const LIST_NODE: u64 = 24;

/// `CRON_DICTS_PER_DB` (`src/server.h`): the slots the cron's upkeep looks at per tick.
const CRON_DICTS_PER_DB: u64 = 16;

/// One slot's dict: its tables, its struct's block, and its node in the rehashing list.
#[derive(Debug, Clone)]
struct SlotDict {
    dict: Dict,
    block: Alloc,
    node: Option<Alloc>,
}

/// A dict's rehash and table before an operation, to see what the operation started or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    target: Option<ObjId>,
    table: u64,
}

impl SlotDict {
    fn shape(&self) -> Shape {
        Shape {
            target: self.dict.rehash_target(),
            table: self.dict.table_size(),
        }
    }

    /// The rehashing list's node after an operation that found the dict as `before`: a rehash
    /// that ended gives its node back, one that began takes one, and a resize that was done
    /// at once (the first table, or an empty one replaced) took one and gave it back.
    fn follow(&mut self, heap: &mut Heap, before: Shape) -> RehashChange {
        let after = self.shape();
        if after.target != before.target {
            let ended = before.target.is_some();
            if let Some(n) = self.node.take() {
                heap.zfree(n);
            }
            let began = after.target.is_some();
            if began {
                self.node = Some(heap.zmalloc(LIST_NODE));
            }
            return RehashChange { began, ended };
        }
        if after.target.is_none() && after.table != before.table {
            let n = heap.zmalloc(LIST_NODE);
            heap.zfree(n);
        }
        RehashChange::default()
    }

    /// `dictRelease`: the rehash reported complete (its node freed), both tables, the struct.
    fn release(mut self, heap: &mut Heap) {
        if let Some(n) = self.node.take() {
            heap.zfree(n);
        }
        self.dict.clear(heap);
        heap.zfree(self.block);
    }
}

/// Whether an operation began a rehash, or ended one.
#[derive(Debug, Clone, Copy, Default)]
struct RehashChange {
    began: bool,
    ended: bool,
}

/// One kvstore (the keys' or the expires') of a cluster node: the slots' dicts that exist.
#[derive(Debug, Clone, Default)]
pub(super) struct Kvstore {
    dicts: BTreeMap<u16, SlotDict>,
    /// The slots whose dicts are rehashing, in the order their rehash began
    /// (`kvs->rehashing`).
    rehashing: Vec<u16>,
    /// `kvs->resize_cursor`: the next slot the cron's upkeep looks at.
    resize_cursor: u64,
}

impl Kvstore {
    /// `kvstoreDictAddRaw` of a new entry into `slot`'s dict: the dict made first if the slot
    /// has none (`dict_request` bytes), then the add (a rehash step, growth at load 1).
    pub(super) fn add(&mut self, heap: &mut Heap, profile: &RedisProfile, slot: u16, dict_request: u64) {
        let d = self.dicts.entry(slot).or_insert_with(|| SlotDict {
            dict: Dict::default(),
            block: heap.zmalloc(dict_request),
            node: None,
        });
        let before = d.shape();
        d.dict.add(heap, profile.dict_initial_size);
        let change = d.follow(heap, before);
        self.listed(slot, change);
    }

    /// `kvstoreDictDelete` / `kvstoreDictTwoPhaseUnlinkFree` of an entry of `slot`'s dict: a
    /// rehash step, the entry out, a shrink at 1/8 fill (`_dictShrinkIfNeeded`), and the dict
    /// freed if it is left empty (`freeDictIfNeeded`).
    pub(super) fn delete(&mut self, heap: &mut Heap, profile: &RedisProfile, slot: u16) {
        let d = self.dicts.get_mut(&slot).expect("a key's slot has a dict");
        let before = d.shape();
        d.dict.delete(heap);
        let mut change = d.follow(heap, before);
        let before = d.shape();
        d.dict.maybe_shrink(heap, profile.dict_initial_size, |u, s| {
            profile.dict_needs_shrink(u, s)
        });
        let c = d.follow(heap, before);
        change.began |= c.began;
        change.ended |= c.ended;
        let empty = d.dict.used == 0;
        self.listed(slot, change);
        if empty {
            let d = self.dicts.remove(&slot).expect("there");
            self.rehashing.retain(|&s| s != slot);
            d.release(heap);
        }
    }

    /// The rehashing list after an operation on `slot`'s dict.
    fn listed(&mut self, slot: u16, change: RehashChange) {
        if change.ended {
            self.rehashing.retain(|&s| s != slot);
        }
        if change.began {
            self.rehashing.push(slot);
        }
    }

    /// `databasesCron`'s upkeep of this kvstore: `kvstoreTryResizeDicts` over the next
    /// [`CRON_DICTS_PER_DB`] slots (a dict there shrinks if it can, else grows if full:
    /// `dictShrinkIfNeeded` answers `DICT_OK`, and nothing grows, for a dict of the initial
    /// size or one rehashing), then `kvstoreIncrementallyRehash`, modelled as finishing every
    /// rehash of the list within the tick.
    pub(super) fn cron(&mut self, heap: &mut Heap, profile: &RedisProfile) {
        let initial = profile.dict_initial_size;
        for _ in 0..CRON_DICTS_PER_DB {
            let slot = self.resize_cursor as u16;
            self.resize_cursor = (self.resize_cursor + 1) % SLOTS;
            let Some(d) = self.dicts.get_mut(&slot) else {
                continue;
            };
            if d.dict.is_rehashing() || d.dict.table_size() <= initial {
                continue;
            }
            let before = d.shape();
            if !d
                .dict
                .maybe_shrink(heap, initial, |u, s| profile.dict_needs_shrink(u, s))
            {
                d.dict.maybe_grow(heap, initial);
            }
            let change = d.follow(heap, before);
            self.listed(slot, change);
        }
        for slot in std::mem::take(&mut self.rehashing) {
            let d = self.dicts.get_mut(&slot).expect("a rehashing slot has a dict");
            let before = d.shape();
            d.dict.rehash_all(heap);
            d.follow(heap, before);
        }
    }

    /// `kvstoreEmpty` (or the lazy-free thread's `kvstoreRelease` of the kvstore a flush
    /// swapped out): every slot's dict freed, in slot order; the cursor back at slot 0. The
    /// entries are the caller's.
    pub(super) fn release_all(&mut self, heap: &mut Heap) {
        for (_, d) in std::mem::take(&mut self.dicts) {
            d.release(heap);
        }
        self.rehashing.clear();
        self.resize_cursor = 0;
    }

    /// Entries over every slot (`kvstoreSize`).
    pub(super) fn size(&self) -> u64 {
        self.dicts.values().map(|d| d.dict.used).sum()
    }

    /// Buckets over every slot, both tables of a rehashing dict (`kvstoreBuckets`).
    pub(super) fn buckets(&self) -> u64 {
        self.dicts.values().map(|d| d.dict.slots()).sum()
    }

    /// Buckets of the tables being filled, over every slot.
    pub(super) fn table_size(&self) -> u64 {
        self.dicts.values().map(|d| d.dict.table_size()).sum()
    }

    /// Slots with a dict (`kvstoreNumAllocatedDicts`).
    pub(super) fn allocated_dicts(&self) -> u64 {
        self.dicts.len() as u64
    }

    /// `kvstoreMemUsage` without `sizeof(kvstore)`: each entry at `entry` bytes, the buckets,
    /// each dict's struct (`dict_request` bytes), the rehashing list's nodes, and the binary
    /// indexed tree of the slots' sizes (`8 x (16,384 + 1)`). `INFO`'s `mem_overhead_db`
    /// figures (`getMemoryOverheadData`).
    pub(super) fn mem_usage(&self, entry: u64, dict_request: u64) -> u64 {
        self.size() * entry
            + self.buckets() * 8
            + self.allocated_dicts() * dict_request
            + self.rehashing.len() as u64 * LIST_NODE
            + 8 * (SLOTS + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slot's dict comes with its first key (its struct, a 4-bucket table) and goes with its
    /// last (table and struct); a fifth key starts a rehash, which takes a list node until the
    /// cron finishes it.
    #[test]
    fn a_slots_dict_comes_and_goes_with_its_keys() {
        // Redis 7.4's bundled jemalloc: quantum 8, so the 24-B list node is a 24-B block.
        let p = RedisProfile::builtin("redis-7.4").unwrap();
        let mut h = Heap::new(&p.allocator_config().unwrap(), 1);
        let used0 = h.zmalloc_used;
        let mut k = Kvstore::default();
        k.add(&mut h, &p, 7, 64);
        assert_eq!(h.zmalloc_used - used0, 64 + 32);
        assert_eq!(k.allocated_dicts(), 1);
        for _ in 0..4 {
            k.add(&mut h, &p, 7, 64);
        }
        // Both tables (4 and 8 buckets) and the rehashing list's node.
        assert_eq!(h.zmalloc_used - used0, 64 + 32 + 64 + 24);
        assert_eq!(k.rehashing, vec![7]);
        k.cron(&mut h, &p);
        assert_eq!(h.zmalloc_used - used0, 64 + 64);
        assert!(k.rehashing.is_empty());
        k.add(&mut h, &p, 9, 64);
        assert_eq!(k.size(), 6);
        for _ in 0..5 {
            k.delete(&mut h, &p, 7);
        }
        assert_eq!(h.zmalloc_used - used0, 64 + 32);
        k.release_all(&mut h);
        assert_eq!(h.zmalloc_used, used0);
    }
}
