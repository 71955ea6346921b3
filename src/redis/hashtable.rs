//! Valkey 8.1+'s `hashtable` (valkey 8.1.1 and 9.1.2 `src/hashtable.c`): tables of 64-byte
//! buckets of 7 slots, each slot the pointer of an element (a key's object, a set's member, a
//! hash entry, a sorted set's node), a full bucket's last slot giving way to the pointer of a
//! child bucket (`bucketConvertToChained`), incremental rehashing into a second table.
//!
//! The model keeps the real structure, with the elements' ids (`u32`, the caller's) in place of
//! pointers: which bucket an element lands in is its 64-bit hash's low bits (`hash & mask`),
//! under the hash the caller gives (the run's seed, as each server process draws its own), so
//! child buckets come and go with the real occupancy of each bucket chain: made when a chain is
//! full (`findBucketForInsert`), freed when a deletion empties the chain's last bucket or leaves
//! one element in it (`fillBucketHole`, `pruneLastBucket`), and when rehashing moves a chain.
//! A table costs the simulator 32 bytes per bucket.
//!
//! Sizes and rules (64-bit builds), each from `src/hashtable.c`:
//! - `ENTRIES_PER_BUCKET` 7, `HASHTABLE_BUCKET_SIZE` 64 (`hashtable.h`);
//! - a table of `2^exp` buckets is one `zcalloc` of 64 B each (`resize`); `nextBucketExp`
//!   picks the smallest power of two of at least `ceil(capacity * 5 / 32)` buckets
//!   (`BUCKET_FACTOR` 5, `BUCKET_DIVISOR` 32: a fill of at most 91.4 % after a resize);
//! - growth (`hashtableExpandIfNeeded`, before every insert and from the cron) when the
//!   elements plus the one coming exceed 100 % of `7 x buckets` (`MAX_FILL_PERCENT_SOFT`);
//!   shrinking (`hashtableShrinkIfNeeded`, after every deletion and from the cron) when they
//!   are 13 % of it or less (`MIN_FILL_PERCENT_SOFT`), to the size `nextBucketExp` gives for
//!   them (never below one bucket);
//! - incremental rehashing: every lookup of a non-empty table (`findBucket`: finds, adds,
//!   deletions) first moves one bucket chain of the old table (`rehashStep`); Valkey 8.1 walks
//!   every bucket index of the old table, empty or not, and frees it after the last one;
//!   Valkey 9.1 ends the rehash as soon as the old table holds nothing (`rehashStepFinalize`),
//!   and a shrinking step skips up to 10 empty buckets (`rehashStepShrink`).

use crate::jemalloc::ObjId;

use super::heap::{Alloc, Heap};

/// `ENTRIES_PER_BUCKET` on 64-bit builds (valkey 8.1.1 `src/hashtable.c`).
pub const ENTRIES_PER_BUCKET: u64 = 7;
/// `HASHTABLE_BUCKET_SIZE`: bytes of one bucket, top-level or child (valkey 8.1.1
/// `src/hashtable.h`).
pub const BUCKET_SIZE: u64 = 64;
/// `BUCKET_FACTOR` / `BUCKET_DIVISOR` (valkey 8.1.1 `src/hashtable.c`): buckets per element
/// when a table is sized.
const BUCKET_FACTOR: u64 = 5;
const BUCKET_DIVISOR: u64 = 32;
/// `MAX_FILL_PERCENT_SOFT`, `MIN_FILL_PERCENT_SOFT`, `MAX_FILL_PERCENT_HARD`.
const MAX_FILL_PERCENT: u64 = 100;
const MIN_FILL_PERCENT: u64 = 13;
const MAX_FILL_PERCENT_HARD: u64 = 500;
/// `sizeof(listNode)`: the node a kvstore's table holds on the kvstore's `rehashing` list while
/// it rehashes (`kvstoreHashtableRehashingStarted`, valkey 8.1.1 `src/kvstore.c`).
pub const REHASHING_NODE: u64 = 24;

/// What holds the heap for [`Hashtable::empty`]'s callback: the heap itself, or a caller's
/// context that frees each element's blocks.
pub trait AsHeap {
    fn heap(&mut self) -> &mut Heap;
}

impl AsHeap for Heap {
    fn heap(&mut self) -> &mut Heap {
        self
    }
}

/// Which release's rules the table follows where they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// Valkey 8.1 (`src/hashtable.c` of 8.1.1): a rehash visits every bucket of the old table;
    /// growing while a rehash runs first finishes it.
    #[default]
    Valkey81,
    /// Valkey 9.1 (`src/hashtable.c` of 9.1.2): a rehash ends when the old table is empty; a
    /// shrinking step skips up to 10 empty buckets; no growth while a rehash runs, except that
    /// a shrink under way is reversed when the table overfills (`abortShrinkIfNeeded`).
    Valkey91,
}

/// One bucket: presence bits, the chained flag, and 7 slots of element ids (slot 6 holds the
/// child bucket's index in the pool when chained).
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    presence: u8,
    chained: bool,
    slots: [u32; 7],
}

impl Bucket {
    /// `numBucketPositions`.
    fn positions(&self) -> u32 {
        if self.chained {
            6
        } else {
            7
        }
    }

    /// `bucketIsFull`.
    fn is_full(&self) -> bool {
        self.presence as u32 == (1u32 << self.positions()) - 1
    }

    fn filled(&self, pos: u32) -> bool {
        self.presence & (1 << pos) != 0
    }

    fn child(&self) -> Option<u32> {
        self.chained.then_some(self.slots[6])
    }
}

/// A bucket: a top-level one of a table, or a child from the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BRef {
    Top(usize, usize),
    Child(u32),
}

/// One of the two tables.
#[derive(Debug, Clone, Default)]
struct Table {
    /// `bucket_exp`: `2^exp` buckets (`None`: no table).
    exp: Option<u8>,
    buckets: Vec<Bucket>,
    block: Option<Alloc>,
    used: u64,
    children: u64,
}

impl Table {
    fn size(&self) -> u64 {
        self.exp.map_or(0, |e| 1 << e)
    }

    fn mask(&self) -> u64 {
        self.size().saturating_sub(1)
    }
}

/// A hashtable: its struct's block, two tables, the rehash position and the child buckets.
#[derive(Debug, Clone, Default)]
pub struct Hashtable {
    flavor: Flavor,
    /// `sizeof(hashtable)` plus the type's metadata: what `hashtableMemUsage` counts for the
    /// struct (72 + 16 B for a kvstore's table in 8.1, 80 + 16 B in 9.1).
    header_bytes: u64,
    /// Whether the table is a kvstore's (the keyspace's, the expires'): it then holds a list
    /// node while it rehashes.
    kvstore: bool,
    header: Option<Alloc>,
    t: [Table; 2],
    /// `rehash_idx`: the next bucket of table 0 to move, while rehashing.
    rehash_idx: Option<u64>,
    /// Child buckets (in use or free), their blocks, and the free ones.
    pool: Vec<Bucket>,
    pool_ids: Vec<ObjId>,
    pool_free: Vec<u32>,
    rehashing_node: Option<Alloc>,
    /// `pause_auto_shrink`: no shrink after a deletion while above zero.
    shrink_paused: u32,
}

/// `nextBucketExp`: the exponent of the smallest table for `min_capacity` elements.
pub fn next_bucket_exp(min_capacity: u64) -> Option<u8> {
    if min_capacity == 0 {
        return None;
    }
    let min_buckets = (min_capacity * BUCKET_FACTOR - 1) / BUCKET_DIVISOR + 1;
    if min_buckets == 1 {
        return Some(0);
    }
    Some((64 - (min_buckets - 1).leading_zeros()) as u8)
}

impl Hashtable {
    /// A table of `flavor` whose struct is `header_bytes` (`sizeof(hashtable)` plus metadata);
    /// `kvstore`: one of a kvstore (the keyspace's or the expires'). Nothing is allocated until
    /// [`Hashtable::create`].
    pub fn new(flavor: Flavor, header_bytes: u64, kvstore: bool) -> Self {
        Hashtable {
            flavor,
            header_bytes,
            kvstore,
            ..Default::default()
        }
    }

    /// Whether the struct is allocated.
    pub fn exists(&self) -> bool {
        self.header.is_some()
    }

    /// `hashtableCreate`: the struct's block (`zmalloc(sizeof(hashtable) + metasize)`).
    pub fn create(&mut self, heap: &mut Heap) {
        if self.header.is_none() {
            self.header = Some(heap.zmalloc(self.header_bytes));
        }
    }

    /// `hashtableRelease`: every element handed to `each` (see [`Hashtable::empty`]), then the
    /// struct freed.
    pub fn release<C: AsHeap>(&mut self, ctx: &mut C, each: impl FnMut(&mut C, u32)) {
        self.empty(ctx, each);
        if let Some(h) = self.header.take() {
            ctx.heap().zfree(h);
        }
    }

    /// `hashtableSize`: elements in both tables.
    pub fn size(&self) -> u64 {
        self.t[0].used + self.t[1].used
    }

    /// `hashtableBuckets`: top-level buckets of both tables.
    pub fn buckets(&self) -> u64 {
        self.t[0].size() + self.t[1].size()
    }

    /// Top-level buckets of the table being filled (the new one while rehashing).
    pub fn table_size(&self) -> u64 {
        if self.is_rehashing() {
            self.t[1].size()
        } else {
            self.t[0].size()
        }
    }

    /// Child buckets allocated, both tables (`hashtableChainedBuckets`).
    pub fn child_buckets(&self) -> u64 {
        self.t[0].children + self.t[1].children
    }

    /// `hashtableMemUsage`: the struct (its `sizeof`), 64 B per top-level and child bucket.
    pub fn mem_usage(&self) -> u64 {
        self.header_bytes + BUCKET_SIZE * (self.buckets() + self.child_buckets())
    }

    /// `hashtableIsRehashing`.
    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    /// The ids of the elements, in the order a walk of the tables meets them (table 0 then 1,
    /// bucket by bucket, each chain from its top bucket, slot by slot).
    pub fn ids(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.size() as usize);
        for ti in 0..2 {
            for i in 0..self.t[ti].buckets.len() {
                let mut r = BRef::Top(ti, i);
                loop {
                    let b = *self.get(r);
                    for pos in 0..b.positions() {
                        if b.filled(pos) {
                            out.push(b.slots[pos as usize]);
                        }
                    }
                    match b.child() {
                        Some(c) => r = BRef::Child(c),
                        None => break,
                    }
                }
            }
        }
        out
    }

    fn get(&self, r: BRef) -> &Bucket {
        match r {
            BRef::Top(t, i) => &self.t[t].buckets[i],
            BRef::Child(c) => &self.pool[c as usize],
        }
    }

    fn get_mut(&mut self, r: BRef) -> &mut Bucket {
        match r {
            BRef::Top(t, i) => &mut self.t[t].buckets[i],
            BRef::Child(c) => &mut self.pool[c as usize],
        }
    }

    /// A child bucket: `zcalloc(sizeof(bucket))`.
    fn new_child(&mut self, heap: &mut Heap) -> u32 {
        let a = heap.zmalloc(BUCKET_SIZE);
        match self.pool_free.pop() {
            Some(c) => {
                self.pool[c as usize] = Bucket::default();
                self.pool_ids[c as usize] = a.id;
                c
            }
            None => {
                self.pool.push(Bucket::default());
                self.pool_ids.push(a.id);
                (self.pool.len() - 1) as u32
            }
        }
    }

    fn free_child(&mut self, heap: &mut Heap, c: u32) {
        let a = heap.alloc_of(self.pool_ids[c as usize], BUCKET_SIZE);
        heap.zfree(a);
        self.pool_free.push(c);
    }

    /// `moveEntry`.
    fn move_entry(&mut self, to: BRef, pos_to: u32, from: BRef, pos_from: u32) {
        let f = self.get_mut(from);
        let id = f.slots[pos_from as usize];
        f.presence &= !(1 << pos_from);
        let t = self.get_mut(to);
        t.slots[pos_to as usize] = id;
        t.presence |= 1 << pos_to;
    }

    /// `findBucketForInsert` in table `ti`: the first bucket of the chain with room, the chain
    /// extended by a child bucket when full (`bucketConvertToChained`: the last slot's element
    /// moves to the child).
    fn bucket_for_insert(&mut self, heap: &mut Heap, ti: usize, hash: u64) -> (BRef, u32) {
        let mut r = BRef::Top(ti, (hash & self.t[ti].mask()) as usize);
        while self.get(r).is_full() {
            if !self.get(r).chained {
                let c = self.new_child(heap);
                self.move_entry(BRef::Child(c), 0, r, 6);
                let b = self.get_mut(r);
                b.chained = true;
                b.slots[6] = c;
                self.t[ti].children += 1;
            }
            r = BRef::Child(self.get(r).slots[6]);
        }
        let b = self.get(r);
        let pos = (0..7).find(|&p| !b.filled(p)).expect("a bucket with room");
        (r, pos)
    }

    /// Places element `id` of hash `hash` in table `ti`.
    fn place(&mut self, heap: &mut Heap, ti: usize, hash: u64, id: u32) {
        let (r, pos) = self.bucket_for_insert(heap, ti, hash);
        let b = self.get_mut(r);
        b.slots[pos as usize] = id;
        b.presence |= 1 << pos;
        self.t[ti].used += 1;
    }

    /// `rehashStepOnReadIfNeeded`, as `findBucket` does it before every lookup of a non-empty
    /// table: one rehash step while rehashing. `hash_of` gives an element's hash.
    pub fn find_step(&mut self, heap: &mut Heap, hash_of: &dyn Fn(u32) -> u64) {
        if self.size() > 0 && self.is_rehashing() {
            self.rehash_step(heap, hash_of);
        }
    }

    /// `hashtableAdd` of an element not in the table: the lookup's rehash step, then
    /// `insert` (growth first, `hashtableExpandIfNeeded`).
    pub fn add(&mut self, heap: &mut Heap, id: u32, hash: u64, hash_of: &dyn Fn(u32) -> u64) {
        self.find_step(heap, hash_of);
        self.expand_if_needed(heap, hash_of);
        let ti = usize::from(self.is_rehashing());
        self.place(heap, ti, hash, id);
    }

    /// Where element `id` of hash `hash` is: its table, bucket and slot.
    fn locate(&self, id: u32, hash: u64) -> Option<(usize, BRef, u32)> {
        for ti in 0..2 {
            if self.t[ti].used == 0 {
                continue;
            }
            let idx = hash & self.t[ti].mask();
            if ti == 0 && self.rehash_idx.is_some_and(|r| idx < r) {
                continue;
            }
            let mut r = BRef::Top(ti, idx as usize);
            loop {
                let b = self.get(r);
                if let Some(pos) = (0..b.positions()).find(|&p| b.filled(p) && b.slots[p as usize] == id) {
                    return Some((ti, r, pos));
                }
                match b.child() {
                    Some(c) => r = BRef::Child(c),
                    None => break,
                }
            }
        }
        None
    }

    /// `hashtablePop` (or the two-phase pop of a deletion) of element `id` of hash `hash`: the
    /// lookup's rehash step, the slot cleared, the chain compacted (`fillBucketHole`), then
    /// `hashtableShrinkIfNeeded`. Returns whether the element was there.
    pub fn remove(&mut self, heap: &mut Heap, id: u32, hash: u64, hash_of: &dyn Fn(u32) -> u64) -> bool {
        if self.size() == 0 {
            return false;
        }
        self.find_step(heap, hash_of);
        let Some((ti, r, pos)) = self.locate(id, hash) else {
            return false;
        };
        self.get_mut(r).presence &= !(1 << pos);
        self.t[ti].used -= 1;
        if self.get(r).chained {
            self.fill_bucket_hole(heap, r, pos, ti);
        }
        self.shrink_if_needed(heap, hash_of);
        true
    }

    /// `fillBucketHole`: the first element of the chain's last bucket moves into the hole; the
    /// last bucket goes when that leaves it empty or with one element (`pruneLastBucket`).
    fn fill_bucket_hole(&mut self, heap: &mut Heap, b: BRef, pos: u32, ti: usize) {
        let mut before_last = b;
        let mut last = BRef::Child(self.get(b).slots[6]);
        while let Some(c) = self.get(last).child() {
            before_last = last;
            last = BRef::Child(c);
        }
        let p = self.get(last).presence;
        if p != 0 {
            self.move_entry(b, pos, last, p.trailing_zeros());
        }
        if self.get(last).presence.count_ones() <= 1 {
            self.prune_last(heap, before_last, last, ti);
        }
    }

    /// `pruneLastBucket`.
    fn prune_last(&mut self, heap: &mut Heap, before_last: BRef, last: BRef, ti: usize) {
        self.get_mut(before_last).chained = false;
        let p = self.get(last).presence;
        if p != 0 {
            self.move_entry(before_last, 6, last, p.trailing_zeros());
        }
        let BRef::Child(c) = last else {
            unreachable!("a chain's last bucket is a child")
        };
        self.free_child(heap, c);
        self.t[ti].children -= 1;
    }

    /// `rehashingCompleted`: the kvstore's list node freed, the old table freed, the new one
    /// in its place.
    fn rehashing_completed(&mut self, heap: &mut Heap) {
        if let Some(n) = self.rehashing_node.take() {
            heap.zfree(n);
        }
        if let Some(b) = self.t[0].block.take() {
            heap.zfree(b);
        }
        self.t[0] = std::mem::take(&mut self.t[1]);
        self.rehash_idx = None;
    }

    /// Frees the child buckets of top bucket `idx` of table 0 and empties it.
    fn clear_top_bucket(&mut self, heap: &mut Heap, idx: usize) {
        let mut next = self.t[0].buckets[idx].child();
        while let Some(c) = next {
            next = self.pool[c as usize].child();
            self.free_child(heap, c);
            self.t[0].children -= 1;
        }
        let b = &mut self.t[0].buckets[idx];
        b.chained = false;
        b.presence = 0;
    }

    /// Moves the elements of bucket `r` of table 0 to table 1, each at `hash_of(id)`'s bucket
    /// (`rehashBucket`; a shrinking rehash uses the old bucket's index, which names the same
    /// bucket of the smaller table).
    fn rehash_bucket(&mut self, heap: &mut Heap, r: BRef, hash: Option<u64>, hash_of: &dyn Fn(u32) -> u64) {
        let b = *self.get(r);
        for pos in 0..b.positions() {
            if b.filled(pos) {
                let id = b.slots[pos as usize];
                let h = hash.unwrap_or_else(|| hash_of(id));
                self.place(heap, 1, h, id);
                self.t[0].used -= 1;
            }
        }
        self.get_mut(r).presence = 0;
    }

    /// `rehashStep`: one bucket chain of the old table moved.
    fn rehash_step(&mut self, heap: &mut Heap, hash_of: &dyn Fn(u32) -> u64) {
        let Some(idx) = self.rehash_idx else { return };
        let shrinking = self.t[1].exp < self.t[0].exp;
        match self.flavor {
            Flavor::Valkey81 => {
                let top = BRef::Top(0, idx as usize);
                let hash = shrinking.then_some(idx);
                self.rehash_bucket(heap, top, hash, hash_of);
                let mut next = self.get(top).child();
                self.get_mut(top).chained = false;
                while let Some(c) = next {
                    self.rehash_bucket(heap, BRef::Child(c), hash, hash_of);
                    next = self.pool[c as usize].child();
                    self.free_child(heap, c);
                    self.t[0].children -= 1;
                }
                self.rehash_idx = Some(idx + 1);
                if idx + 1 >= self.t[0].size() {
                    self.rehashing_completed(heap);
                }
            }
            Flavor::Valkey91 => {
                let mut idx = idx;
                if shrinking {
                    // rehashStepShrink: up to 10 empty buckets passed over.
                    let mut empty_visits = 10;
                    loop {
                        let b = self.t[0].buckets[idx as usize];
                        if b.presence != 0 || b.chained {
                            break;
                        }
                        if !self.finalize_step_91(heap, idx) {
                            return;
                        }
                        idx += 1;
                        empty_visits -= 1;
                        if empty_visits == 0 {
                            return;
                        }
                    }
                }
                let hash = shrinking.then_some(idx);
                let mut r = Some(BRef::Top(0, idx as usize));
                while let Some(b) = r {
                    let next = self.get(b).child().map(BRef::Child);
                    self.rehash_bucket(heap, b, hash, hash_of);
                    r = next;
                }
                self.finalize_step_91(heap, idx);
            }
        }
    }

    /// `rehashStepFinalize` (9.1): bucket `idx`'s children freed, the bucket emptied, the
    /// position advanced; the rehash completes once the old table holds nothing. Returns
    /// whether the rehash goes on.
    fn finalize_step_91(&mut self, heap: &mut Heap, idx: u64) -> bool {
        self.clear_top_bucket(heap, idx as usize);
        self.rehash_idx = Some(idx + 1);
        if self.t[0].used == 0 && self.t[0].children == 0 {
            self.rehashing_completed(heap);
            return false;
        }
        true
    }

    /// `resize`: a new table for `min_capacity` elements, rehashed into incrementally (at once
    /// when the old one is empty). Returns whether it resized.
    fn resize(&mut self, heap: &mut Heap, min_capacity: u64, hash_of: &dyn Fn(u32) -> u64) -> bool {
        let exp = next_bucket_exp(min_capacity.max(1)).expect("a capacity of 1 or more");
        let old_exp = match self.flavor {
            Flavor::Valkey81 if self.is_rehashing() => self.t[1].exp,
            _ => self.t[0].exp,
        };
        if Some(exp) == old_exp {
            return false;
        }
        if self.is_rehashing() {
            // Valkey 8.1: finish the rehash under way first.
            while self.is_rehashing() {
                self.rehash_step(heap, hash_of);
            }
        }
        let n = 1usize << exp;
        let block = heap.zmalloc(n as u64 * BUCKET_SIZE);
        self.t[1] = Table {
            exp: Some(exp),
            buckets: vec![Bucket::default(); n],
            block: Some(block),
            used: 0,
            children: 0,
        };
        self.rehash_idx = Some(0);
        if self.kvstore {
            self.rehashing_node = Some(heap.zmalloc(REHASHING_NODE));
        }
        let old_empty = self.t[0].used == 0 && (self.flavor == Flavor::Valkey81 || self.t[0].children == 0);
        if self.t[0].block.is_none() || old_empty {
            self.rehashing_completed(heap);
        }
        true
    }

    /// `hashtableExpand(size)` (`expand`): a table for `size` elements, unless it holds more
    /// than that already or is that size (a collection presized for the members it is about to
    /// hold: `hashTypeConvertListpack`, `setTypeConvertAndExpand`, `zsetTypeCreate`). Returns
    /// whether it resized.
    pub fn expand(&mut self, heap: &mut Heap, size: u64, hash_of: &dyn Fn(u32) -> u64) -> bool {
        // 9.1 (`expand`): not while a rehash runs.
        if size < self.size() || (self.flavor == Flavor::Valkey91 && self.is_rehashing()) {
            return false;
        }
        self.resize(heap, size.max(1), hash_of)
    }

    /// `hashtableExpandIfNeeded`: grows when the elements and one more exceed 100 % of the
    /// table's slots (the new table's while rehashing, in 8.1; 9.1 grows only when not
    /// rehashing, and reverses a shrink under way past 500 %). Returns whether it resized.
    pub fn expand_if_needed(&mut self, heap: &mut Heap, hash_of: &dyn Fn(u32) -> u64) -> bool {
        let min_capacity = match self.flavor {
            Flavor::Valkey81 => self.size() + 1,
            Flavor::Valkey91 if self.is_rehashing() => {
                return self.abort_shrink_if_needed();
            }
            Flavor::Valkey91 => self.t[0].used + 1,
        };
        let buckets = if self.is_rehashing() {
            self.t[1].size()
        } else {
            self.t[0].size()
        };
        if min_capacity * 100 <= buckets * ENTRIES_PER_BUCKET * MAX_FILL_PERCENT {
            return false;
        }
        self.resize(heap, min_capacity, hash_of)
    }

    /// `abortShrinkIfNeeded` (9.1): a shrink under way whose new table has overfilled past
    /// 500 % turns back (the tables swap and the rehash restarts from the smaller one).
    fn abort_shrink_if_needed(&mut self) -> bool {
        if !self.is_rehashing() || self.t[1].exp >= self.t[0].exp {
            return false;
        }
        let n = self.size() + 1;
        if n * 100 <= self.t[1].size() * ENTRIES_PER_BUCKET * MAX_FILL_PERCENT_HARD {
            return false;
        }
        self.t.swap(0, 1);
        self.rehash_idx = Some(0);
        true
    }

    /// `hashtableShrinkIfNeeded`: not while rehashing; shrinks when the elements fill 13 % of
    /// the slots or less. Returns whether it resized.
    pub fn shrink_if_needed(&mut self, heap: &mut Heap, hash_of: &dyn Fn(u32) -> u64) -> bool {
        if self.is_rehashing() || self.shrink_paused > 0 {
            return false;
        }
        let capacity = self.t[0].size() * ENTRIES_PER_BUCKET;
        if self.t[0].used * 100 > capacity * MIN_FILL_PERCENT {
            return false;
        }
        self.resize(heap, self.t[0].used, hash_of)
    }

    /// `hashtablePauseAutoShrink` (valkey 9.1.2: SREM, HDEL, ZREM around their deletions).
    pub fn pause_auto_shrink(&mut self) {
        self.shrink_paused += 1;
    }

    /// `hashtableResumeAutoShrink`: the last resume shrinks when due.
    pub fn resume_auto_shrink(&mut self, heap: &mut Heap, hash_of: &dyn Fn(u32) -> u64) {
        self.shrink_paused -= 1;
        if self.shrink_paused == 0 {
            self.shrink_if_needed(heap, hash_of);
        }
    }

    /// Whether the cron's upkeep (`kvstoreTryResizeHashtables`: [`Hashtable::shrink_if_needed`],
    /// else [`Hashtable::expand_if_needed`]) would resize the table now.
    pub fn resize_due(&self) -> bool {
        if !self.exists() {
            return false;
        }
        if !self.is_rehashing()
            && self.t[0].used * 100 <= self.t[0].size() * ENTRIES_PER_BUCKET * MIN_FILL_PERCENT
        {
            return next_bucket_exp(self.t[0].used.max(1)) != self.t[0].exp;
        }
        let (n, buckets) = match (self.flavor, self.is_rehashing()) {
            (Flavor::Valkey91, true) => {
                return self.t[1].exp < self.t[0].exp
                    && (self.size() + 1) * 100
                        > self.t[1].size() * ENTRIES_PER_BUCKET * MAX_FILL_PERCENT_HARD;
            }
            (_, true) => (self.size() + 1, self.t[1].size()),
            (_, false) => (self.t[0].used + 1, self.t[0].size()),
        };
        n * 100 > buckets * ENTRIES_PER_BUCKET * MAX_FILL_PERCENT
    }

    /// Finishes a rehash under way (what the cron's `kvstoreIncrementallyRehash` does for the
    /// keyspace's tables within its millisecond, `hashtableRehashMicroseconds`).
    pub fn rehash_all(&mut self, heap: &mut Heap, hash_of: &dyn Fn(u32) -> u64) {
        while self.is_rehashing() {
            self.rehash_step(heap, hash_of);
        }
    }

    /// `hashtableEmpty`: each element handed to `each` (the entry destructor) bucket by bucket,
    /// each child bucket freed after its elements, each table freed after its buckets; the
    /// struct stays. A kvstore's list node of a rehash under way goes last (`kvstoreEmpty`'s
    /// `listEmpty`).
    pub fn empty<C: AsHeap>(&mut self, ctx: &mut C, mut each: impl FnMut(&mut C, u32)) {
        let node = self.rehashing_node.take();
        self.rehash_idx = None;
        for ti in 0..2 {
            if self.t[ti].exp.is_none() {
                continue;
            }
            if self.t[ti].used > 0 || self.t[ti].children > 0 {
                for i in 0..self.t[ti].buckets.len() {
                    let mut r = BRef::Top(ti, i);
                    loop {
                        let b = *self.get(r);
                        for pos in 0..b.positions() {
                            if b.filled(pos) {
                                each(ctx, b.slots[pos as usize]);
                            }
                        }
                        if let BRef::Child(c) = r {
                            self.free_child(ctx.heap(), c);
                        }
                        match b.child() {
                            Some(c) => r = BRef::Child(c),
                            None => break,
                        }
                    }
                }
            }
            if let Some(b) = self.t[ti].block.take() {
                ctx.heap().zfree(b);
            }
            self.t[ti] = Table::default();
        }
        if let Some(n) = node {
            ctx.heap().zfree(n);
        }
        self.pool.clear();
        self.pool_ids.clear();
        self.pool_free.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jemalloc::AllocatorConfig;

    fn heap() -> Heap {
        Heap::new(&AllocatorConfig::preset("redis-7.2-bundled").unwrap(), 1)
    }

    /// Element `i`'s hash: its bucket in the low bits as given by `bucket_of`.
    fn hashes(bucket_of: impl Fn(u32) -> u64 + 'static) -> impl Fn(u32) -> u64 {
        move |id| bucket_of(id)
    }

    /// `nextBucketExp`: ceil(n x 5 / 32) buckets, rounded up to a power of two.
    #[test]
    fn table_sizes_follow_the_bucket_factor() {
        assert_eq!(next_bucket_exp(0), None);
        assert_eq!(next_bucket_exp(1), Some(0));
        assert_eq!(next_bucket_exp(6), Some(0)); // 30/32: 1 bucket
        assert_eq!(next_bucket_exp(7), Some(1)); // 35/32: 2 buckets
        assert_eq!(next_bucket_exp(8), Some(1));
        assert_eq!(next_bucket_exp(15), Some(2)); // 75/32 = 2.3: 3 -> 4
        assert_eq!(next_bucket_exp(16_385), Some(12)); // 2561 -> 4096
        assert_eq!(next_bucket_exp(14_337), Some(12)); // 2241 -> 4096
    }

    /// Growth: 7 elements fill a one-bucket table (64 B); the 8th grows it to 2 buckets (128 B):
    /// its own lookup comes before the growth and moves nothing, so the old table and the
    /// kvstore's list node stay until the next lookup moves bucket 0, which ends the rehash.
    #[test]
    fn the_eighth_element_grows_a_one_bucket_table() {
        let mut h = heap();
        let hash = hashes(|id| id as u64);
        let mut t = Hashtable::new(Flavor::Valkey81, 88, true);
        t.create(&mut h);
        let base = h.zmalloc_used;
        t.add(&mut h, 0, 0, &hash);
        // The first table: one bucket (64 B); the rehashing node came and went.
        assert_eq!(h.zmalloc_used - base, 64);
        for id in 1..7 {
            t.add(&mut h, id, id as u64, &hash);
        }
        assert_eq!((t.size(), t.buckets(), t.child_buckets()), (7, 1, 0));
        t.add(&mut h, 7, 7, &hash);
        // Both tables while rehashing (64 + 128) and the kvstore's list node (24).
        assert!(t.is_rehashing());
        assert_eq!(h.zmalloc_used - base, 64 + 128 + 24);
        t.find_step(&mut h, &hash);
        assert!(!t.is_rehashing());
        assert_eq!(h.zmalloc_used - base, 128);
        assert_eq!(t.mem_usage(), 88 + 128);
    }

    /// Eight elements in one bucket of a 2-bucket table: the eighth makes a child bucket (the
    /// top bucket keeps 6 and the child pointer, the child holds 2); deleting one of the top
    /// bucket's elements moves one back from the child, which then holds one and is pruned:
    /// its element takes the child pointer's slot.
    #[test]
    fn a_full_chain_grows_a_child_and_loses_it_when_deletions_compact_it() {
        let mut h = heap();
        // Every element in bucket 0 of any table.
        let hash = hashes(|_| 0);
        let mut t = Hashtable::new(Flavor::Valkey81, 88, false);
        t.create(&mut h);
        // 7 elements fill 1 bucket; the 8th grows the table to 2 buckets (all in bucket 0:
        // 7 there, then the 8th's insert makes the child).
        for id in 0..8 {
            t.add(&mut h, id, 0, &hash);
        }
        t.rehash_all(&mut h, &hash);
        assert_eq!((t.buckets(), t.child_buckets()), (2, 1));
        let used = h.zmalloc_used;
        // Element 0 is in the top bucket: the child's first element fills its slot, the child
        // keeps one, which moves to slot 6: the child is freed.
        assert!(t.remove(&mut h, 0, 0, &hash));
        assert_eq!(t.child_buckets(), 0);
        assert_eq!(used - h.zmalloc_used, 64);
        assert_eq!(t.ids().len(), 7);
        // Deleting from a chain's last bucket leaves it as it is: 8 again, then the child's own
        // elements removed one by one keep the child (empty at the end) until a deletion in
        // the top bucket compacts the chain.
        t.add(&mut h, 8, 0, &hash);
        assert_eq!(t.child_buckets(), 1);
        let in_child = t.ids()[6..].to_vec();
        assert_eq!(in_child.len(), 2);
        for id in in_child {
            t.remove(&mut h, id, 0, &hash);
        }
        assert_eq!((t.size(), t.child_buckets()), (6, 1));
        let first = t.ids()[0];
        t.remove(&mut h, first, 0, &hash);
        assert_eq!((t.size(), t.child_buckets()), (5, 0));
    }

    /// Shrinking: at 13 % of the slots or less after a deletion; 8.1's rehash then visits
    /// every old bucket, one per lookup; 9.1's ends when the old table is empty.
    #[test]
    fn shrinking_and_how_long_each_release_rehashes() {
        for flavor in [Flavor::Valkey81, Flavor::Valkey91] {
            let mut h = heap();
            let hash = hashes(|id| id as u64);
            let mut t = Hashtable::new(flavor, 88, false);
            t.create(&mut h);
            // 57 elements: 16 buckets (112 slots).
            for id in 0..57 {
                t.add(&mut h, id, id as u64, &hash);
            }
            t.rehash_all(&mut h, &hash);
            assert_eq!(t.buckets(), 16, "{flavor:?}");
            // 14 elements fill 12.5 %: the deletion that leaves 14 shrinks to
            // nextBucketExp(14) = 3 buckets -> 4.
            for id in 14..57 {
                t.remove(&mut h, id, id as u64, &hash);
                if id < 56 {
                    assert!(!t.is_rehashing(), "{flavor:?} {id}");
                }
            }
            assert!(t.is_rehashing());
            assert_eq!(t.buckets(), 16 + 4);
            // Elements 0..14 sit in buckets 0..13 of the old table: 9.1 finishes after moving
            // bucket 13 (14 steps), 8.1 after all 16.
            let mut steps = 0;
            while t.is_rehashing() {
                t.find_step(&mut h, &hash);
                steps += 1;
            }
            assert_eq!(
                steps,
                if flavor == Flavor::Valkey81 { 16 } else { 14 },
                "{flavor:?}"
            );
            assert_eq!((t.buckets(), t.size()), (4, 14));
        }
    }

    /// Emptying hands every element over in bucket order and frees all but the struct.
    #[test]
    fn empty_frees_everything_but_the_struct() {
        let mut h = heap();
        let hash = hashes(|id| (id % 3) as u64);
        let mut t = Hashtable::new(Flavor::Valkey91, 96, true);
        t.create(&mut h);
        let base = h.zmalloc_used;
        for id in 0..40 {
            t.add(&mut h, id, (id % 3) as u64, &hash);
        }
        let mut seen = Vec::new();
        t.empty(&mut h, |_, id| seen.push(id));
        assert_eq!(seen.len(), 40);
        assert!(seen.windows(2).all(|w| w[0] % 3 <= w[1] % 3));
        assert_eq!(h.zmalloc_used, base);
        assert_eq!(t.mem_usage(), 96);
    }
}
