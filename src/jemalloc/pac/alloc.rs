//! Taking extents from a page allocator and giving them back (jemalloc's `pac_alloc_real`,
//! `extent_recycle`, `extent_grow_retained`, `pac_shrink_impl`, `pac_expand_impl`,
//! `pac_dalloc_impl`): reuse a cached extent, else map the next size of the growth sequence;
//! shrink or grow an active extent in place; free one into the dirty cache.

use super::Pac;
use crate::jemalloc::extent::{ExtId, ExtState};

impl Pac {
    /// `extent_recycle` from one cache: fit, remove, split off the trail (which stays in the same
    /// cache, at its LRU tail).
    fn recycle(&mut self, state: ExtState, npages: u64) -> Option<ExtId> {
        let lg_max_fit = if self.ecache(state).delay_coalesce {
            self.lg_max_active_fit
        } else {
            64
        };
        let id = self.first_fit(state, npages, lg_max_fit)?;
        self.eset_remove(id);
        self.extents[id as usize].state = ExtState::Active;
        let have = self.extents[id as usize].npages;
        // Handed out as a large extent until the caller marks it a slab: a split rewrites both
        // boundary pages' marks, a whole extent only its first page's (see `Extent`).
        self.extents[id as usize].slab_mark_first = false;
        if have > npages {
            let (base, sn) = (self.extents[id as usize].base, self.extents[id as usize].sn);
            self.extents[id as usize].npages = npages;
            self.extents[id as usize].slab_mark_last = false;
            let trail = self.new_extent(base + npages, have - npages, sn, ExtState::Active, false);
            self.eset_insert(state, trail);
        }
        Some(id)
    }

    /// `extent_grow_retained`: map the next size of the growth sequence that fits, hand out its
    /// front, record the rest as retained.
    fn grow(&mut self, npages: u64) -> ExtId {
        let size = npages << self.lg_page;
        let mut skip = 0;
        while self.sc.pind2sz(self.grow_next + skip) < size {
            skip += 1;
            assert!(
                self.grow_next + skip < self.grow_limit,
                "request beyond the largest size class"
            );
        }
        let map_pages = self.sc.pind2sz(self.grow_next + skip) >> self.lg_page;
        self.grow_next = (self.grow_next + skip + 1).min(self.grow_limit);
        let base = self.mapping_base(map_pages);
        self.npages_mapped += map_pages;
        let sn = self.next_sn;
        self.next_sn += 1;
        self.counters.nmappings += 1;
        let id = self.new_extent(base, map_pages, sn, ExtState::Active, true);
        if map_pages > npages {
            self.extents[id as usize].npages = npages;
            let trail = self.new_extent(base + npages, map_pages - npages, sn, ExtState::Active, false);
            self.record(ExtState::Retained, trail);
        }
        id
    }

    /// Where the next mapping of `map_pages` pages goes: the place given by
    /// [`Pac::place_next_mapping`] if any; else 5.3: after the previous one (mappings never
    /// merge, so only their order by serial number matters); 5.2: right below the lowest one, as
    /// Linux's top-down `mmap` places a process's mappings when nothing else maps in between.
    fn mapping_base(&mut self, map_pages: u64) -> u64 {
        let base = if let Some(b) = self.next_bases.pop_front() {
            b
        } else if self.merge_across_mappings {
            self.lowest_mapped - map_pages
        } else {
            let b = self.next_vpage;
            self.next_vpage += map_pages;
            b
        };
        self.lowest_mapped = self.lowest_mapped.min(base);
        base
    }

    /// Says where the real allocator put its next mapping (first page), so that the model's
    /// next growth goes there too: for comparisons with a real jemalloc 5.2, whose free extents
    /// merge across mappings that happen to be adjacent. Places given are used in order.
    pub fn place_next_mapping(&mut self, first_page: u64) {
        self.next_bases.push_back(first_page);
    }

    /// Drops places given by [`Pac::place_next_mapping`] that no growth used.
    pub fn clear_mapping_places(&mut self) {
        self.next_bases.clear();
    }

    /// `pac_alloc_real`: an active extent of `npages` pages.
    pub fn alloc(&mut self, npages: u64) -> ExtId {
        let id = match self.recycle(ExtState::Dirty, npages) {
            Some(id) => id,
            None => {
                let from_muzzy = if self.decay_muzzy.time_ms() != 0 {
                    self.recycle(ExtState::Muzzy, npages)
                } else {
                    None
                };
                match from_muzzy {
                    Some(id) => id,
                    None => match self.recycle(ExtState::Retained, npages) {
                        Some(id) => id,
                        None => self.grow(npages),
                    },
                }
            }
        };
        self.nactive += npages;
        id
    }

    /// `pac_shrink_impl`: active extent `id` keeps its first `keep` pages; the rest is split off
    /// (same serial number) and freed into the dirty cache. The pages stay as they were
    /// (written pages stay resident until purged).
    pub fn shrink(&mut self, id: ExtId, keep: u64) {
        let (base, n, sn) = {
            let e = &self.extents[id as usize];
            (e.base, e.npages, e.sn)
        };
        if keep == 0 || keep >= n {
            return;
        }
        self.extents[id as usize].npages = keep;
        // The split rewrites the kept part's boundary marks (see `Extent`).
        self.extents[id as usize].slab_mark_last = false;
        let trail = self.new_extent(base + keep, n - keep, sn, ExtState::Active, false);
        self.nactive -= n - keep;
        self.record(ExtState::Dirty, trail);
    }

    /// `pac_expand_impl`: active extent `id` grows in place by `more` pages when the extent right
    /// after it (in the same mapping) is free with at least that many pages, in the dirty cache,
    /// else the muzzy one, else the retained one (never by mapping more). The rest of that
    /// extent stays in its cache. False when it cannot.
    pub fn expand(&mut self, id: ExtId, more: u64) -> bool {
        for state in [ExtState::Dirty, ExtState::Muzzy, ExtState::Retained] {
            let Some(next) = self.neighbor(id, state, true, false) else {
                continue;
            };
            let (nbase, nn, nsn) = {
                let e = &self.extents[next as usize];
                (e.base, e.npages, e.sn)
            };
            if nn < more {
                continue;
            }
            self.eset_remove(next);
            self.extents[next as usize].state = ExtState::Active;
            if nn > more {
                self.extents[next as usize].npages = more;
                let trail = self.new_extent(nbase + more, nn - more, nsn, ExtState::Active, false);
                self.eset_insert(state, trail);
            }
            self.merge(id, next);
            self.nactive += more;
            return true;
        }
        false
    }

    /// `pac_dalloc_impl`: an active extent is freed into the dirty cache.
    pub fn dalloc(&mut self, id: ExtId) {
        let n = self.extents[id as usize].npages;
        debug_assert_eq!(self.extents[id as usize].state, ExtState::Active);
        self.nactive -= n;
        self.record(ExtState::Dirty, id);
    }
}
