//! The extent caches of a page allocator (jemalloc's `ecache_t` and `eset_t`, `src/eset.c`):
//! free extents of one state, binned by size and kept in least-recently-used order, and the
//! first-fit search over them.

use std::collections::BTreeSet;

use super::Pac;
use crate::jemalloc::extent::{ExtId, ExtState, NIL};

/// One extent cache (`ecache_t` with its `eset_t`).
#[derive(Debug, Clone)]
pub(super) struct Ecache {
    /// Coalescing is put off until eviction (`ecache_t.delay_coalesce`; the dirty cache only).
    pub(super) delay_coalesce: bool,
    /// Per page-size-class heaps ordered by (sn, address).
    bins: Vec<BTreeSet<(u64, u64, ExtId)>>,
    /// One bit per bin, set while the bin is non-empty (`eset_t.bitmap`).
    nonempty: Vec<u64>,
    /// Least recently inserted extent (evicted first), or `NIL`.
    pub(super) lru_head: ExtId,
    /// Most recently inserted extent, or `NIL`.
    lru_tail: ExtId,
    /// Pages in the cache (`eset_npages_get`).
    pub(super) npages: u64,
    /// Extents in the cache.
    pub(super) nextents: u64,
}

impl Ecache {
    /// An empty cache with `nbins` size bins.
    pub(super) fn new(delay_coalesce: bool, nbins: usize) -> Self {
        Ecache {
            delay_coalesce,
            bins: vec![BTreeSet::new(); nbins],
            nonempty: vec![0; nbins.div_ceil(64)],
            lru_head: NIL,
            lru_tail: NIL,
            npages: 0,
            nextents: 0,
        }
    }

    /// First non-empty bin at or above `from`.
    fn next_nonempty(&self, from: usize) -> Option<usize> {
        let mut w = from / 64;
        if w >= self.nonempty.len() {
            return None;
        }
        let mut bits = self.nonempty[w] & (u64::MAX << (from % 64));
        loop {
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros() as usize);
            }
            w += 1;
            if w >= self.nonempty.len() {
                return None;
            }
            bits = self.nonempty[w];
        }
    }
}

impl Pac {
    /// The cache holding extents of `state` (not `Active`).
    fn ecache_mut(&mut self, state: ExtState) -> &mut Ecache {
        match state {
            ExtState::Dirty => &mut self.dirty,
            ExtState::Muzzy => &mut self.muzzy,
            ExtState::Retained => &mut self.retained,
            ExtState::Active => unreachable!("active extents are in no cache"),
        }
    }

    /// The cache holding extents of `state` (not `Active`).
    pub(super) fn ecache(&self, state: ExtState) -> &Ecache {
        match state {
            ExtState::Dirty => &self.dirty,
            ExtState::Muzzy => &self.muzzy,
            ExtState::Retained => &self.retained,
            ExtState::Active => unreachable!("active extents are in no cache"),
        }
    }

    /// Size bin of a free extent of `npages` pages: its size quantized down to "a page size class
    /// plus the pad" (`sz_psz_quantize_floor`).
    fn bin_of(&self, npages: u64) -> usize {
        let size = npages << self.lg_page;
        let pad = self.pad_pages << self.lg_page;
        self.sc.psz2ind(self.sc.psz_quantize_floor(size, pad))
    }

    /// `eset_insert`: into the size bin and at the LRU tail.
    pub(super) fn eset_insert(&mut self, state: ExtState, id: ExtId) {
        let (sn, base, npages) = {
            let e = &mut self.extents[id as usize];
            e.state = state;
            (e.sn, e.base, e.npages)
        };
        let bin = self.bin_of(npages);
        let tail = self.ecache(state).lru_tail;
        {
            let e = &mut self.extents[id as usize];
            e.lru_prev = tail;
            e.lru_next = NIL;
        }
        if tail != NIL {
            self.extents[tail as usize].lru_next = id;
        }
        let ec = self.ecache_mut(state);
        if tail == NIL {
            ec.lru_head = id;
        }
        ec.lru_tail = id;
        ec.bins[bin].insert((sn, base, id));
        ec.nonempty[bin / 64] |= 1 << (bin % 64);
        ec.npages += npages;
        ec.nextents += 1;
    }

    /// `eset_remove`: from its size bin and the LRU list. The extent keeps its state field until
    /// the caller changes it.
    pub(super) fn eset_remove(&mut self, id: ExtId) {
        let (state, sn, base, npages, prev, next) = {
            let e = &self.extents[id as usize];
            (e.state, e.sn, e.base, e.npages, e.lru_prev, e.lru_next)
        };
        let bin = self.bin_of(npages);
        if prev != NIL {
            self.extents[prev as usize].lru_next = next;
        }
        if next != NIL {
            self.extents[next as usize].lru_prev = prev;
        }
        let ec = self.ecache_mut(state);
        if prev == NIL {
            ec.lru_head = next;
        }
        if next == NIL {
            ec.lru_tail = prev;
        }
        let removed = ec.bins[bin].remove(&(sn, base, id));
        debug_assert!(removed, "extent not in its bin");
        if ec.bins[bin].is_empty() {
            ec.nonempty[bin / 64] &= !(1 << (bin % 64));
        }
        ec.npages -= npages;
        ec.nextents -= 1;
    }

    /// `eset_first_fit`: over the bins from the request's quantized size upward, the extent with
    /// the lowest (sn, address); bins whose size is more than `2^lg_max_fit` times the request are
    /// not searched.
    pub(super) fn first_fit(&self, state: ExtState, npages: u64, lg_max_fit: u32) -> Option<ExtId> {
        let ec = self.ecache(state);
        let size = npages << self.lg_page;
        let pad = self.pad_pages << self.lg_page;
        let start = self.sc.psz2ind(self.sc.psz_quantize_ceil(size, pad));
        let lg_max_fit = lg_max_fit.min(63);
        let mut best: Option<(u64, u64, ExtId)> = None;
        let mut i = start;
        while let Some(b) = ec.next_nonempty(i) {
            if (self.sc.pind2sz(b) >> lg_max_fit) > size {
                break;
            }
            let first = *ec.bins[b].first().expect("non-empty bin");
            if best.is_none_or(|cur| (first.0, first.1) < (cur.0, cur.1)) {
                best = Some(first);
            }
            i = b + 1;
        }
        best.map(|(_, _, id)| id)
    }
}
