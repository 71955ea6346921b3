//! Merging free extents with their neighbours and recording them in a cache (jemalloc's
//! `extent_try_coalesce_impl`, `extent_record`): coalescing is eager in the muzzy and retained
//! caches, delayed in the dirty one, and never crosses from one mapping into another.

use super::Pac;
use crate::jemalloc::extent::{ExtId, ExtState};

impl Pac {
    /// Neighbour that may merge with `id` in cache `state` (`emap_try_acquire_edata_neighbor`):
    /// same state, and the higher of the two is not the head of a mapping. jemalloc 5.2 has no
    /// head rule where maps coalesce (`extent_head_no_merge`, `src/extent.c`): extents of two
    /// adjacent mappings merge.
    ///
    /// With `inactive_only` (5.2's eager coalescing of a large extent into the dirty cache), a
    /// neighbour whose adjoining page the radix tree still marks as a slab's is skipped
    /// (`Extent::slab_mark_first`, `slab_mark_last`).
    pub(super) fn neighbor(
        &self,
        id: ExtId,
        state: ExtState,
        forward: bool,
        inactive_only: bool,
    ) -> Option<ExtId> {
        let e = &self.extents[id as usize];
        let heads_apart = !self.merge_across_mappings;
        let skip_marked = inactive_only && self.merge_across_mappings;
        if forward {
            let nid = *self.by_base.get(&(e.base + e.npages))?;
            let n = &self.extents[nid as usize];
            (n.state == state && !(heads_apart && n.head) && !(skip_marked && n.slab_mark_first))
                .then_some(nid)
        } else {
            if heads_apart && e.head {
                return None;
            }
            let (&pbase, &pid) = self.by_base.range(..e.base).next_back()?;
            let p = &self.extents[pid as usize];
            (pbase + p.npages == e.base && p.state == state && !(skip_marked && p.slab_mark_last))
                .then_some(pid)
        }
    }

    /// Merges `b` (higher) into `a` (lower); `b` must already be out of its cache.
    pub(super) fn merge(&mut self, a: ExtId, b: ExtId) {
        let (bn, bsn) = (self.extents[b as usize].npages, self.extents[b as usize].sn);
        let ea = &mut self.extents[a as usize];
        ea.npages += bn;
        ea.sn = ea.sn.min(bsn);
        ea.slab_mark_first = false;
        ea.slab_mark_last = false;
        self.free_extent(b);
    }

    /// `extent_try_coalesce_impl`. `id` is out of any cache. With delayed coalescing one merge is
    /// done and reported; otherwise merging repeats until no neighbour qualifies. `inactive_only`
    /// as for [`Pac::neighbor`].
    pub(super) fn try_coalesce(
        &mut self,
        state: ExtState,
        mut id: ExtId,
        inactive_only: bool,
    ) -> (ExtId, bool) {
        let delay = self.ecache(state).delay_coalesce;
        loop {
            let mut again = false;
            if let Some(next) = self.neighbor(id, state, true, inactive_only) {
                self.eset_remove(next);
                self.merge(id, next);
                if delay {
                    return (id, true);
                }
                again = true;
            }
            if let Some(prev) = self.neighbor(id, state, false, inactive_only) {
                self.eset_remove(prev);
                self.merge(prev, id);
                id = prev;
                if delay {
                    return (id, true);
                }
                again = true;
            }
            if !again {
                return (id, false);
            }
        }
    }

    /// `extent_record`: put a no-longer-active extent into cache `state`, coalescing as jemalloc
    /// does (always for muzzy and retained; for dirty only when the extent is at least the
    /// smallest large class, and then purging it at once if it reaches the oversize threshold).
    pub(super) fn record(&mut self, state: ExtState, id: ExtId) {
        self.extents[id as usize].state = ExtState::Active;
        let mut id = id;
        let ec = self.ecache(state);
        if !ec.delay_coalesce {
            id = self.try_coalesce(state, id, false).0;
        } else if self.extents[id as usize].npages >= self.large_minclass_pages {
            loop {
                let (nid, merged) = self.try_coalesce(state, id, true);
                id = nid;
                if !merged {
                    break;
                }
            }
            if self.extents[id as usize].npages >= self.oversize_threshold_pages && self.may_force_decay() {
                let n = self.extents[id as usize].npages;
                self.counters.dirty_nmadvise += 1;
                self.counters.dirty_purged += n;
                self.dalloc_to_retained(id);
                return;
            }
        }
        self.eset_insert(state, id);
    }

    /// `extent_may_force_decay`: an oversize extent is purged at once unless a decay time is `-1`
    /// (never purge). jemalloc 5.2 purges it whatever the decay times (`extent_record`,
    /// `src/extent.c`, calls `arena_decay_extent` unconditionally).
    fn may_force_decay(&self) -> bool {
        self.oversize_ignores_decay || !(self.decay_dirty.time_ms() == -1 || self.decay_muzzy.time_ms() == -1)
    }

    /// `extent_dalloc_wrapper` with retain on: `MADV_DONTNEED` the pages (they leave RSS) and
    /// record the extent as retained.
    pub(super) fn dalloc_to_retained(&mut self, id: ExtId) {
        let (base, n) = (self.extents[id as usize].base, self.extents[id as usize].npages);
        self.touched.clear_range(base, base + n);
        self.record(ExtState::Retained, id);
    }
}
