//! Redis's dict (`src/dict.c`): bucket tables of 8-byte pointers, growing by doubling when the
//! load reaches 1, rehashed incrementally, one bucket per operation.
//!
//! How long a rehash takes depends on which buckets of the old table hold entries: a step
//! (`dictRehash(d, 1)`) moves one non-empty bucket, skipping at most 10 empty ones, and the
//! rehash ends once the old table holds nothing. Which buckets are empty depends on SipHash
//! under the seed each server process draws at startup, so it differs from one process to the
//! next, and within a process it is the same for every collection holding the same members (a
//! million hashes with fields `f0..f21` all finish their rehash at the same command, or all
//! keep the old table). A collection's dict is told its entries' hashes under the run's own
//! seed when a rehash starts ([`Dict::add_hashed`], [`Dict::expand_hashed`]) and then follows
//! the old table's buckets exactly, so that each Monte Carlo run draws what one server process
//! does. The keyspace's dicts, rehashed by the cron as well, follow the expected value: with
//! `n` entries in `s` buckets, `s * (1 - (1 - 1/s)^n)` buckets are non-empty, so one step
//! advances `s / nonempty` buckets on average.

use super::heap::{Alloc, Heap};

#[derive(Debug, Clone, Default)]
pub struct Dict {
    /// Entries.
    pub used: u64,
    t0: Option<(u64, Alloc)>,
    t1: Option<(u64, Alloc)>,
    /// Rehash progress through table 0, in buckets, and buckets advanced per step.
    rehash_pos: f64,
    rehash_rate: f64,
    /// When the entries' hashes were given: table 0's non-empty buckets not yet moved, in
    /// bucket order, with their entry counts (the rehash then follows them exactly).
    old_buckets: Option<Vec<(u64, u32)>>,
    /// Where in `old_buckets` the next bucket to move is.
    next_bucket: usize,
}

/// The non-empty buckets of a table of `size` buckets holding entries of `hashes` (bucket
/// `hash & (size - 1)`), in order, with their entry counts.
fn buckets_of(hashes: impl Iterator<Item = u64>, size: u64) -> Vec<(u64, u32)> {
    let mut b: Vec<u64> = hashes.map(|h| h & (size - 1)).collect();
    b.sort_unstable();
    let mut out: Vec<(u64, u32)> = Vec::new();
    for x in b {
        match out.last_mut() {
            Some((y, n)) if *y == x => *n += 1,
            _ => out.push((x, 1)),
        }
    }
    out
}

fn next_pow2(n: u64, initial: u64) -> u64 {
    if n <= initial {
        initial
    } else {
        n.next_power_of_two()
    }
}

impl Dict {
    /// Buckets in both tables (`dictSlots`).
    pub fn slots(&self) -> u64 {
        self.t0.map_or(0, |t| t.0) + self.t1.map_or(0, |t| t.0)
    }

    /// Buckets of the table being filled: the new one while rehashing, else the only one (0
    /// before the first insert).
    pub fn table_size(&self) -> u64 {
        self.t1.or(self.t0).map_or(0, |t| t.0)
    }

    /// The bucket tables' blocks: the only table, or both while rehashing.
    pub fn tables(&self) -> impl Iterator<Item = Alloc> + '_ {
        [self.t0, self.t1].into_iter().flatten().map(|(_, t)| t)
    }

    pub fn is_rehashing(&self) -> bool {
        self.t1.is_some()
    }

    /// The table a rehash under way fills (its block's object), to tell one rehash from the
    /// next.
    pub fn rehash_target(&self) -> Option<crate::jemalloc::ObjId> {
        self.t1.map(|(_, t)| t.id)
    }

    /// `_dictExpand`: allocate a table of `next_pow2(size)` buckets; the first table directly,
    /// later ones as the rehash target (its progress then follows the expected value).
    pub fn expand(&mut self, heap: &mut Heap, size: u64, initial: u64) {
        self.expand_inner(heap, size, initial, None);
    }

    /// [`Dict::expand`] of a dict whose entries' hashes `hashes` gives (called only when a
    /// rehash starts): the rehash then follows the old table's buckets exactly.
    pub fn expand_hashed(
        &mut self,
        heap: &mut Heap,
        size: u64,
        initial: u64,
        mut hashes: impl FnMut() -> Vec<u64>,
    ) {
        self.expand_inner(heap, size, initial, Some(&mut hashes));
    }

    fn expand_inner(
        &mut self,
        heap: &mut Heap,
        size: u64,
        initial: u64,
        hashes: Option<&mut dyn FnMut() -> Vec<u64>>,
    ) {
        if self.is_rehashing() || self.used > size {
            return;
        }
        let n = next_pow2(size, initial);
        if self.t0.is_some_and(|t| t.0 == n) {
            return;
        }
        let table = heap.zmalloc(n * 8);
        match self.t0 {
            None => self.t0 = Some((n, table)),
            Some((s0, _)) => {
                self.t1 = Some((n, table));
                self.rehash_pos = 0.0;
                self.next_bucket = 0;
                self.old_buckets = hashes.map(|h| buckets_of(h().into_iter(), s0));
                let nonempty = if self.used == 0 {
                    1.0
                } else {
                    s0 as f64 * (1.0 - (1.0 - 1.0 / s0 as f64).powf(self.used as f64))
                };
                self.rehash_rate = (s0 as f64 / nonempty.max(1.0)).min(11.0);
                if self.used == 0 {
                    self.finish_rehash(heap);
                }
            }
        }
    }

    fn finish_rehash(&mut self, heap: &mut Heap) {
        self.old_buckets = None;
        if let Some(t1) = self.t1.take() {
            if let Some((_, old)) = self.t0.take() {
                heap.zfree(old);
            }
            self.t0 = Some(t1);
        }
    }

    /// `_dictRehashStep`, `n` times (`dictRehash(d, n)`: each step moves one non-empty bucket
    /// of the old table, `10 n` empty buckets visited at most in all).
    pub fn rehash_steps(&mut self, heap: &mut Heap, n: u32) {
        let (Some((s0, _)), true) = (self.t0, self.is_rehashing()) else {
            return;
        };
        if let Some(b) = &self.old_buckets {
            let mut empty_visits = n as u64 * 10;
            let mut pos = self.rehash_pos as u64;
            for _ in 0..n {
                let Some(&(target, _)) = b.get(self.next_bucket) else {
                    break;
                };
                while pos < target {
                    pos += 1;
                    empty_visits -= 1;
                    if empty_visits == 0 {
                        self.rehash_pos = pos as f64;
                        return;
                    }
                }
                self.next_bucket += 1;
                pos += 1;
            }
            self.rehash_pos = pos as f64;
            if self.next_bucket == b.len() {
                self.finish_rehash(heap);
            }
            return;
        }
        self.rehash_pos += self.rehash_rate * n as f64;
        if self.rehash_pos >= s0 as f64 {
            self.finish_rehash(heap);
        }
    }

    /// Completes a rehash at once (what `databasesCron`'s incremental rehashing does for the
    /// keyspace dicts within a cron tick).
    pub fn rehash_all(&mut self, heap: &mut Heap) {
        self.finish_rehash(heap);
    }

    /// `dictAdd` of a new entry (one rehash step first, then the expand check).
    pub fn add(&mut self, heap: &mut Heap, initial: u64) {
        self.add_inner(heap, initial, None);
    }

    /// [`Dict::add`] to a dict whose entries' hashes (before this one) `hashes` gives, called
    /// only when the add starts a rehash (see [`Dict::expand_hashed`]).
    pub fn add_hashed(&mut self, heap: &mut Heap, initial: u64, mut hashes: impl FnMut() -> Vec<u64>) {
        self.add_inner(heap, initial, Some(&mut hashes));
    }

    fn add_inner(&mut self, heap: &mut Heap, initial: u64, hashes: Option<&mut dyn FnMut() -> Vec<u64>>) {
        self.rehash_steps(heap, 1);
        match self.t0 {
            None => self.expand(heap, initial, initial),
            Some((s0, _)) if !self.is_rehashing() && self.used >= s0 => {
                self.expand_inner(heap, self.used + 1, initial, hashes)
            }
            _ => {}
        }
        self.used += 1;
    }

    /// `dictDelete` of an entry (one rehash step first).
    pub fn delete(&mut self, heap: &mut Heap) {
        self.rehash_steps(heap, 1);
        self.used -= 1;
    }

    /// [`Dict::delete`] of the entry of hash `hash` from a dict that follows its buckets
    /// exactly: the entry leaves its bucket of the old table if the rehash has not moved it yet.
    pub fn delete_hashed(&mut self, heap: &mut Heap, hash: u64) {
        self.rehash_steps(heap, 1);
        self.used -= 1;
        if let (Some(b), Some((s0, _))) = (&mut self.old_buckets, self.t0) {
            let bucket = hash & (s0 - 1);
            let rest = &b[self.next_bucket..];
            if let Ok(i) = rest.binary_search_by_key(&bucket, |&(x, _)| x) {
                let i = self.next_bucket + i;
                b[i].1 -= 1;
                if b[i].1 == 0 {
                    b.remove(i);
                }
            }
        }
    }

    /// `htNeedsResize` + `dictResize` (the cron), or `dictShrinkIfNeeded`: shrink the table
    /// when `needs_shrink(used, buckets)` says so (see `RedisProfile::dict_needs_shrink`), to
    /// the smallest power of two holding the entries; the rehash then follows as for growth.
    /// Returns whether it shrank.
    pub fn maybe_shrink(
        &mut self,
        heap: &mut Heap,
        initial: u64,
        needs_shrink: impl Fn(u64, u64) -> bool,
    ) -> bool {
        match self.t0 {
            Some((s0, _)) if !self.is_rehashing() && needs_shrink(self.used, s0) => {
                self.expand(heap, self.used.max(initial), initial);
                true
            }
            _ => false,
        }
    }

    /// `dictExpandIfNeeded` from the cron (Redis 7.4+ `kvstoreTryResizeDicts`): a table whose
    /// entries have reached its buckets doubles.
    pub fn maybe_grow(&mut self, heap: &mut Heap, initial: u64) {
        if let Some((s0, _)) = self.t0 {
            if !self.is_rehashing() && self.used >= s0 {
                self.expand(heap, self.used + 1, initial);
            }
        }
    }

    /// `dictEmpty`: free the tables (the entries are the caller's); size back to 0.
    pub fn clear(&mut self, heap: &mut Heap) {
        for (_, t) in [self.t0.take(), self.t1.take()].into_iter().flatten() {
            heap.zfree(t);
        }
        self.used = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jemalloc::AllocatorConfig;

    fn heap() -> Heap {
        Heap::new(&AllocatorConfig::jemalloc_5_3(), 1)
    }

    /// A dict of 16 entries in 16 buckets, hashed into buckets 0, 3 and 15 of the old table,
    /// expanded to 32: step 1 moves bucket 0, step 2 skips 1-2 and moves 3, step 3 visits ten
    /// empty buckets (4-13) and stops, step 4 skips 14 and moves 15, and the old table goes.
    #[test]
    fn a_rehash_follows_the_old_tables_buckets() {
        let mut h = heap();
        let mut d = Dict::default();
        d.expand(&mut h, 16, 4);
        d.used = 16;
        let hashes = || {
            [0u64, 3, 3, 15]
                .iter()
                .chain(&[15; 12])
                .map(|&b| b | 16 << 8)
                .collect()
        };
        d.expand_hashed(&mut h, 17, 4, hashes);
        assert!(d.is_rehashing());
        assert_eq!(d.slots(), 48);
        for step in 1..=3 {
            d.rehash_steps(&mut h, 1);
            assert!(d.is_rehashing(), "step {step}");
        }
        assert_eq!(d.rehash_pos, 14.0);
        d.rehash_steps(&mut h, 1);
        assert!(!d.is_rehashing());
        assert_eq!(d.slots(), 32);
    }

    /// `dictRehash(d, n)` shares its `10 n` empty visits among its steps; an entry deleted
    /// from a bucket not moved yet leaves it, and a bucket left empty needs no step.
    #[test]
    fn deletions_empty_buckets_and_steps_share_their_empty_visits() {
        let mut h = heap();
        let mut d = Dict::default();
        d.expand(&mut h, 16, 4);
        d.used = 16;
        let hashes = || [0u64, 3].iter().chain(&[15; 14]).copied().collect();
        d.expand_hashed(&mut h, 17, 4, hashes);
        // Two steps at once: buckets 0 and 3, then 10 empty visits left for 4-13 and 14: stops.
        d.rehash_steps(&mut h, 2);
        assert_eq!(d.rehash_pos, 4.0);
        d.rehash_steps(&mut h, 2);
        assert!(!d.is_rehashing(), "20 visits reach bucket 15");

        let mut d = Dict::default();
        d.expand(&mut h, 4, 4);
        d.used = 4;
        d.expand_hashed(&mut h, 5, 4, || vec![0, 1, 1, 3]);
        // Deleting bucket 3's only entry: its own step moves bucket 0 first.
        d.delete_hashed(&mut h, 3);
        assert_eq!(d.used, 3);
        d.rehash_steps(&mut h, 1);
        assert!(!d.is_rehashing(), "bucket 1 was the last one");
    }
}
