//! Redis's dict (`src/dict.c`): bucket tables of 8-byte pointers, growing by doubling when the
//! load reaches 1, rehashed incrementally, one bucket per operation.
//!
//! Which buckets are empty depends on SipHash with a random seed; the model follows the
//! expected value: with `n` entries in `s` buckets, `s * (1 - (1 - 1/s)^n)` buckets are
//! non-empty, so one rehash step advances `s / nonempty` buckets on average.

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

    /// `_dictExpand`: allocate a table of `next_pow2(size)` buckets; the first table directly,
    /// later ones as the rehash target.
    pub fn expand(&mut self, heap: &mut Heap, size: u64, initial: u64) {
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
        if let Some(t1) = self.t1.take() {
            if let Some((_, old)) = self.t0.take() {
                heap.zfree(old);
            }
            self.t0 = Some(t1);
        }
    }

    /// `_dictRehashStep`, `n` times.
    pub fn rehash_steps(&mut self, heap: &mut Heap, n: u32) {
        if let (Some((s0, _)), true) = (self.t0, self.is_rehashing()) {
            self.rehash_pos += self.rehash_rate * n as f64;
            if self.rehash_pos >= s0 as f64 {
                self.finish_rehash(heap);
            }
        }
    }

    /// Completes a rehash at once (what `databasesCron`'s incremental rehashing does for the
    /// keyspace dicts within a cron tick).
    pub fn rehash_all(&mut self, heap: &mut Heap) {
        self.finish_rehash(heap);
    }

    /// `dictAdd` of a new entry (one rehash step first, then the expand check).
    pub fn add(&mut self, heap: &mut Heap, initial: u64) {
        self.rehash_steps(heap, 1);
        match self.t0 {
            None => self.expand(heap, initial, initial),
            Some((s0, _)) if !self.is_rehashing() && self.used >= s0 => {
                self.expand(heap, self.used + 1, initial)
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

    /// `htNeedsResize` + `dictResize` (cron): shrink a table filled below `min_fill` percent.
    pub fn maybe_shrink(&mut self, heap: &mut Heap, initial: u64, min_fill: u64) {
        if let Some((s0, _)) = self.t0 {
            if !self.is_rehashing() && s0 > initial && self.used * 100 / s0 < min_fill {
                self.expand(heap, self.used.max(initial), initial);
                self.rehash_all(heap);
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
