//! The dict of a Redis 7.2+ hashtable set, bucket by bucket: `setDictType` has `no_value = 1`
//! and `keys_are_odd = 1` (redis 7.2.6 `src/server.c`), so a bucket holding one member points
//! straight at the member's sds, and a `dictEntryNoValue` (key and next pointers, 16 B) is
//! allocated only for a member inserted into a bucket already taken (`dictInsertAtPosition`,
//! redis 7.2.6 `src/dict.c`). A rehash moves each bucket's chain head to tail and converts
//! as it goes (`dictRehash`; `rehashEntriesInBucketAtIndex` in 7.4): a member landing in an
//! empty bucket of the new table loses its entry (freed), one landing in a taken bucket gets
//! one (allocated). A deletion unlinks the member and frees its entry, if it has one; the
//! members left in its bucket keep theirs.
//!
//! Which members share a bucket follows their hashes: [`super::value::Mem::member_hash`],
//! Redis's own SipHash when the server's key is known. The chains are kept exactly, so every
//! entry, every table and every rehash step falls where the server's do.
//!
//! The resize rules of both versions: Redis 7.2's `_dictExpand` (a table of another size
//! whenever the entries fit it; `dictResize` after a deletion that leaves the table below
//! `HASHTABLE_MIN_FILL` percent, called by `setTypeRemoveAux`), and Redis 7.4's
//! (`_dictExpand` only to a larger table, `dictShrinkIfNeeded` inside every deletion at 1/8
//! fill, `_dictResize` swapping tables at once when the old one is empty, and a lookup
//! rehashing the key's own bucket when it has not been moved yet: `_dictBucketRehash`, redis
//! 7.4.1 `src/dict.c`).

use std::collections::BTreeMap;

use crate::jemalloc::ObjId;
use crate::redis::heap::{Alloc, Heap};
use crate::redis::profile::RedisProfile;

/// `sizeof(dictEntryNoValue)` (key and next pointers).
pub(super) const ENTRY_NO_VALUE: u64 = 16;

/// The resize rules of the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rules {
    /// `DICT_HT_INITIAL_SIZE`.
    pub initial: u64,
    /// `HASHTABLE_MIN_FILL` (percent) of Redis 7.2's `htNeedsResize`.
    pub min_fill_percent: u64,
    /// Redis 7.4's resize code (see the module's notes).
    pub v74: bool,
}

impl Rules {
    pub(super) fn of(p: &RedisProfile) -> Rules {
        Rules {
            initial: p.dict_initial_size,
            min_fill_percent: p.dict_min_fill_percent,
            v74: p.layout.dict_shrink_on_delete,
        }
    }
}

/// One member in a chain: its bucket hash, its key, and its `dictEntryNoValue` when it has one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot<K> {
    pub bh: u64,
    pub key: K,
    pub entry: Option<ObjId>,
}

/// A table: its buckets' block, its entry count, and its non-empty buckets' chains (each
/// stored tail first: the chain's head, the member inserted last, at the end).
#[derive(Debug, Clone)]
struct Table<K> {
    size: u64,
    block: Alloc,
    used: u64,
    chains: BTreeMap<u64, Vec<Slot<K>>>,
}

impl<K> Table<K> {
    fn mask(&self) -> u64 {
        self.size - 1
    }

    fn taken(&self, b: u64) -> bool {
        self.chains.get(&b).is_some_and(|c| !c.is_empty())
    }
}

/// A `no_value` dict (see the module's notes).
#[derive(Debug, Clone)]
pub(super) struct NvDict<K> {
    t0: Option<Table<K>>,
    t1: Option<Table<K>>,
    /// `rehashidx` while rehashing.
    rehashidx: u64,
}

impl<K> Default for NvDict<K> {
    fn default() -> Self {
        NvDict {
            t0: None,
            t1: None,
            rehashidx: 0,
        }
    }
}

/// `_dictNextExp`: the table size for `size` entries.
fn table_size(size: u64, initial: u64) -> u64 {
    if size <= initial {
        initial
    } else {
        size.next_power_of_two()
    }
}

impl<K: Copy + Eq> NvDict<K> {
    /// Entries in both tables (`dictSize`).
    pub fn len(&self) -> u64 {
        self.t0.as_ref().map_or(0, |t| t.used) + self.t1.as_ref().map_or(0, |t| t.used)
    }

    /// Buckets of both tables (`dictSlots`, `dictBuckets`).
    pub fn slots(&self) -> u64 {
        self.t0.as_ref().map_or(0, |t| t.size) + self.t1.as_ref().map_or(0, |t| t.size)
    }

    pub fn is_rehashing(&self) -> bool {
        self.t1.is_some()
    }

    /// The bucket tables' blocks.
    pub fn tables(&self) -> impl Iterator<Item = Alloc> + '_ {
        self.t0.iter().chain(self.t1.iter()).map(|t| t.block)
    }

    /// Members holding a `dictEntryNoValue`.
    pub fn entries(&self) -> u64 {
        self.walk().iter().filter(|s| s.entry.is_some()).count() as u64
    }

    /// `_dictResize` (7.4) or the body of 7.2's `_dictExpand` once its checks passed: a table
    /// of `table_size(size)` buckets, the first table, or (7.4) a replacement of an empty
    /// first table, or the rehash target.
    fn resize(&mut self, heap: &mut Heap, size: u64, rules: Rules) -> bool {
        let n = table_size(size, rules.initial);
        if self.t0.as_ref().is_some_and(|t| t.size == n) {
            return false;
        }
        let table = Table {
            size: n,
            block: heap.zmalloc(n * 8),
            used: 0,
            chains: BTreeMap::new(),
        };
        match self.t0.take() {
            None => self.t0 = Some(table),
            Some(old) if rules.v74 && old.used == 0 => {
                heap.zfree(old.block);
                self.t0 = Some(table);
            }
            Some(old) => {
                self.t0 = Some(old);
                self.t1 = Some(table);
                self.rehashidx = 0;
            }
        }
        true
    }

    /// `dictExpand(d, size)`: refused while rehashing or when the entries do not fit; 7.4
    /// also refuses a table no larger than the current one.
    pub fn expand(&mut self, heap: &mut Heap, size: u64, rules: Rules) -> bool {
        let (size0, used0) = self.t0.as_ref().map_or((0, 0), |t| (t.size, t.used));
        if self.is_rehashing() || used0 > size || (rules.v74 && size0 >= size) {
            return false;
        }
        self.resize(heap, size, rules)
    }

    /// `_dictExpandIfNeeded`: the first table, or twice the entries once they reach the buckets.
    fn expand_if_needed(&mut self, heap: &mut Heap, rules: Rules) {
        if self.is_rehashing() {
            return;
        }
        match &self.t0 {
            None => {
                self.expand(heap, rules.initial, rules);
            }
            Some(t) if t.used >= t.size => {
                let want = t.used + 1;
                self.expand(heap, want, rules);
            }
            _ => {}
        }
    }

    /// Moves bucket `idx` of the old table into the new one, head to tail, converting entries
    /// (see the module's notes).
    fn move_bucket(&mut self, heap: &mut Heap, idx: u64) {
        let (Some(t0), Some(t1)) = (self.t0.as_mut(), self.t1.as_mut()) else {
            return;
        };
        let Some(chain) = t0.chains.remove(&idx) else {
            return;
        };
        let grow = t1.size > t0.size;
        for mut s in chain.into_iter().rev() {
            let h = if grow { s.bh & t1.mask() } else { idx & t1.mask() };
            let dest = t1.chains.entry(h).or_default();
            if dest.is_empty() {
                if let Some(e) = s.entry.take() {
                    heap.zfree(heap.alloc_of(e, ENTRY_NO_VALUE));
                }
            } else if s.entry.is_none() {
                s.entry = Some(heap.zmalloc(ENTRY_NO_VALUE).id);
            }
            dest.push(s);
            t0.used -= 1;
            t1.used += 1;
        }
    }

    /// `dictCheckRehashingCompleted`: the old table freed once it is empty.
    fn check_completed(&mut self, heap: &mut Heap) {
        if self.t0.as_ref().is_some_and(|t| t.used == 0) {
            if let Some(t1) = self.t1.take() {
                let old = self.t0.replace(t1).expect("the old table");
                heap.zfree(old.block);
                self.rehashidx = 0;
            }
        }
    }

    /// `dictRehash(d, n)`: `n` non-empty buckets moved, `10 n` empty ones visited at most.
    pub fn rehash(&mut self, heap: &mut Heap, n: u32) {
        if !self.is_rehashing() {
            return;
        }
        let mut empty_visits = n as u64 * 10;
        for _ in 0..n {
            let t0 = self.t0.as_ref().expect("rehashing");
            if t0.used == 0 {
                break;
            }
            let b = *t0
                .chains
                .range(self.rehashidx..)
                .next()
                .expect("entries left to move")
                .0;
            let gap = b - self.rehashidx;
            if gap >= empty_visits {
                self.rehashidx += empty_visits;
                return;
            }
            empty_visits -= gap;
            self.move_bucket(heap, b);
            self.rehashidx = b + 1;
        }
        self.check_completed(heap);
    }

    /// What a lookup does first while rehashing (`dictFind`, `dictFindPositionForInsert`,
    /// `dictGenericDelete`): a rehash step (7.2), or (7.4) the key's own bucket moved when it
    /// has not been yet and holds entries (`_dictBucketRehash`), else a step.
    fn lookup_step(&mut self, heap: &mut Heap, bh: u64, rules: Rules) {
        if !self.is_rehashing() {
            return;
        }
        if rules.v74 {
            let t0 = self.t0.as_ref().expect("rehashing");
            let idx = bh & t0.mask();
            if idx >= self.rehashidx && t0.taken(idx) {
                self.move_bucket(heap, idx);
                self.check_completed(heap);
                return;
            }
        }
        self.rehash(heap, 1);
    }

    /// The table and bucket holding `key`, if it is a member.
    fn find(&self, bh: u64, key: K) -> Option<(usize, u64, usize)> {
        for (ti, t) in [&self.t0, &self.t1].into_iter().enumerate() {
            let Some(t) = t else { continue };
            let idx = bh & t.mask();
            if ti == 0 && self.is_rehashing() && idx < self.rehashidx {
                continue;
            }
            if let Some(pos) = t
                .chains
                .get(&idx)
                .and_then(|c| c.iter().position(|s| s.key == key))
            {
                return Some((ti, idx, pos));
            }
        }
        None
    }

    /// `dictFindPositionForInsert`: a lookup step, the expand check, then whether `key` is
    /// absent (it can be inserted with [`NvDict::insert`]).
    pub fn position(&mut self, heap: &mut Heap, bh: u64, key: K, rules: Rules) -> bool {
        self.lookup_step(heap, bh, rules);
        self.expand_if_needed(heap, rules);
        self.find(bh, key).is_none()
    }

    /// `dictInsertAtPosition` of a member found absent by [`NvDict::position`]: straight into
    /// an empty bucket, else a `dictEntryNoValue` at the chain's head.
    pub fn insert(&mut self, heap: &mut Heap, bh: u64, key: K) {
        let t = if self.is_rehashing() {
            self.t1.as_mut()
        } else {
            self.t0.as_mut()
        }
        .expect("a table after the expand check");
        let idx = bh & t.mask();
        let chain = t.chains.entry(idx).or_default();
        let entry = (!chain.is_empty()).then(|| heap.zmalloc(ENTRY_NO_VALUE).id);
        chain.push(Slot { bh, key, entry });
        t.used += 1;
    }

    /// `dictAdd` (`dictFindPositionForInsert`, then the insert): whether `key` was added.
    #[cfg(test)]
    pub fn add(&mut self, heap: &mut Heap, bh: u64, key: K, rules: Rules) -> bool {
        let absent = self.position(heap, bh, key, rules);
        if absent {
            self.insert(heap, bh, key);
        }
        absent
    }

    /// `dictDelete` of `key`: nothing on an empty dict; else a lookup step, then the member
    /// unlinked, `free_key` (its sds, `dictSdsDestructor`) and its entry freed, and in 7.4
    /// `dictShrinkIfNeeded`. Whether it was a member.
    pub fn delete(
        &mut self,
        heap: &mut Heap,
        bh: u64,
        key: K,
        rules: Rules,
        free_key: impl FnOnce(&mut Heap),
    ) -> bool {
        if self.len() == 0 {
            return false;
        }
        self.lookup_step(heap, bh, rules);
        let Some((ti, idx, pos)) = self.find(bh, key) else {
            return false;
        };
        let t = if ti == 0 {
            self.t0.as_mut()
        } else {
            self.t1.as_mut()
        }
        .expect("found in it");
        let chain = t.chains.get_mut(&idx).expect("found in it");
        let s = chain.remove(pos);
        if chain.is_empty() {
            t.chains.remove(&idx);
        }
        t.used -= 1;
        free_key(heap);
        if let Some(e) = s.entry {
            heap.zfree(heap.alloc_of(e, ENTRY_NO_VALUE));
        }
        if rules.v74 {
            self.shrink_if_needed(heap, rules);
        }
        true
    }

    /// Redis 7.2's `htNeedsResize` and `dictResize` after a deletion (`setTypeRemoveAux`):
    /// below `HASHTABLE_MIN_FILL` percent of both tables' buckets, a table for the entries
    /// (at least the initial size), not while rehashing.
    pub fn resize_after_delete(&mut self, heap: &mut Heap, rules: Rules) {
        let (size, used) = (self.slots(), self.len());
        if rules.v74 || size <= rules.initial || used * 100 / size >= rules.min_fill_percent {
            return;
        }
        if self.is_rehashing() {
            return;
        }
        let used0 = self.t0.as_ref().map_or(0, |t| t.used);
        self.expand(heap, used0.max(rules.initial), rules);
    }

    /// Redis 7.4's `dictShrinkIfNeeded`: a table over the initial size filled to 1/8 or less
    /// shrinks to the entries' size (`dictShrink`).
    pub fn shrink_if_needed(&mut self, heap: &mut Heap, rules: Rules) {
        if self.is_rehashing() {
            return;
        }
        let Some(t0) = &self.t0 else { return };
        let (size, used) = (t0.size, t0.used);
        if size <= rules.initial || used * 8 > size {
            return;
        }
        if used > size || table_size(used, rules.initial) >= size {
            return;
        }
        self.resize(heap, used, rules);
    }

    /// `dictGetSomeKeys`' rehash steps for `dictGetFairRandomKey`: one `_dictRehashStep` per
    /// entry it samples (`GETFAIR_NUM_ENTRIES`, at most the dict's size), while rehashing.
    pub fn random_steps(&mut self, heap: &mut Heap, n: u64) {
        for _ in 0..n.min(self.len()) {
            if !self.is_rehashing() {
                break;
            }
            self.rehash(heap, 1);
        }
    }

    /// Every member in the order an iterator meets them: the first table's buckets in order,
    /// each chain head to tail, then the second table's.
    pub fn walk(&self) -> Vec<Slot<K>> {
        let mut out = Vec::with_capacity(self.len() as usize);
        for t in self.t0.iter().chain(self.t1.iter()) {
            for chain in t.chains.values() {
                out.extend(chain.iter().rev().copied());
            }
        }
        out
    }

    /// `dictRelease` without the dict struct: each table's members in walk order
    /// (`free_key`, then the entry), then its block (`_dictClear` of table 0, then of 1).
    pub fn release(self, heap: &mut Heap, mut free_key: impl FnMut(&mut Heap, &Slot<K>)) {
        for t in [self.t0, self.t1].into_iter().flatten() {
            for chain in t.chains.into_values() {
                for s in chain.iter().rev() {
                    free_key(heap, s);
                    if let Some(e) = s.entry {
                        heap.zfree(heap.alloc_of(e, ENTRY_NO_VALUE));
                    }
                }
            }
            heap.zfree(t.block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jemalloc::AllocatorConfig;

    fn rules(v74: bool) -> Rules {
        Rules {
            initial: 4,
            min_fill_percent: 10,
            v74,
        }
    }

    /// Members in buckets 1, 1, 2 of a 4-bucket table: the second in bucket 1 takes an entry;
    /// a fifth member doubles the table (8 buckets) and the rehash moves bucket 1's chain head
    /// first: member 5 (hash 9, new bucket 1) lands alone, loses its entry; member 1 (hash 1)
    /// follows into a taken bucket and gets one.
    #[test]
    fn entries_only_where_buckets_are_shared() {
        let mut h = Heap::new(&AllocatorConfig::jemalloc_5_3(), 1);
        let mut d: NvDict<u32> = NvDict::default();
        let r = rules(false);
        let u0 = h.zmalloc_used;
        for (k, bh) in [(1u32, 1u64), (5, 9), (2, 2), (3, 3)] {
            assert!(d.add(&mut h, bh, k, r));
        }
        assert_eq!(d.entries(), 1);
        assert_eq!(h.zmalloc_used - u0, 32 + 16);
        assert!(!d.add(&mut h, 9, 5, r), "a member already there");
        // The fifth member: the table doubles (64 B), the step moves nothing yet.
        assert!(d.add(&mut h, 4, 4, r));
        assert!(d.is_rehashing());
        assert_eq!(d.slots(), 12);
        d.rehash(&mut h, 1);
        let w = d.walk();
        let in_new: Vec<(u32, bool)> = w
            .iter()
            .filter(|s| s.key == 1 || s.key == 5)
            .map(|s| (s.key, s.entry.is_some()))
            .collect();
        assert_eq!(in_new, [(1, true), (5, false)]);
        d.rehash(&mut h, 3);
        assert!(!d.is_rehashing());
        assert_eq!(d.slots(), 8);
        d.release(&mut h, |_, _| {});
        assert_eq!(h.zmalloc_used, u0);
    }

    /// 7.4 shrinks inside the deletion at 1/8 fill; 7.2 waits for `dictResize` below 10%.
    #[test]
    fn shrinks_by_version() {
        let mut h = Heap::new(&AllocatorConfig::jemalloc_5_3(), 1);
        for v74 in [false, true] {
            let r = rules(v74);
            let mut d: NvDict<u32> = NvDict::default();
            for k in 0..33u32 {
                d.add(&mut h, k as u64 * 7919, k, r);
                d.rehash(&mut h, 100);
            }
            assert_eq!(d.slots(), 64);
            for k in 0..25u32 {
                d.delete(&mut h, k as u64 * 7919, k, r, |_| {});
                d.resize_after_delete(&mut h, r);
            }
            // 8 left of 64: 7.4 shrinks at 8 (1/8), to 8 buckets; 7.2 not yet (12.5% >= 10%).
            assert_eq!(d.is_rehashing(), v74, "v74 {v74}");
        }
    }
}
