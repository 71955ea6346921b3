//! Extents and the page allocator of one arena (jemalloc's `pac`: `src/pac.c`, `src/extent.c`,
//! `src/eset.c`, `exp_grow.h`).
//!
//! Free page runs sit in three extent caches: dirty (freed, still resident), muzzy (`MADV_FREE`d)
//! and retained (`MADV_DONTNEED`d or never touched; virtual memory only). Allocation searches
//! dirty, then muzzy (only when `muzzy_decay_ms != 0`), then retained, then maps a new region of
//! the exponential growth sequence. Within a cache, the free extent with the lowest
//! (serial number, address) that is large enough wins; the request is cut from its low end.
//!
//! Addresses are page numbers in the model's own virtual address space. Mappings are laid out
//! one after the other; since jemalloc never merges across two mappings, only order inside one
//! mapping and the mapping's serial number matter, and both are reproduced exactly.

use std::collections::{BTreeMap, BTreeSet};

use super::decay::Decay;
use super::pages::TouchedPages;
use super::sizeclass::SizeClasses;

/// Index of an extent in the page allocator's table.
pub type ExtId = u32;
const NIL: ExtId = ExtId::MAX;

/// jemalloc's `extent_state_t` for extents owned by the page allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtState {
    Active,
    Dirty,
    Muzzy,
    Retained,
}

#[derive(Debug, Clone)]
struct Extent {
    /// First page (model virtual page number).
    base: u64,
    npages: u64,
    /// Serial number of the mapping the pages came from (`edata_sn`).
    sn: u64,
    state: ExtState,
    /// First extent of a mapping (`EXTENT_IS_HEAD`): never merged with its lower neighbour.
    head: bool,
    lru_prev: ExtId,
    lru_next: ExtId,
}

/// One extent cache (`ecache_t` with its `eset_t`).
#[derive(Debug, Clone)]
struct Ecache {
    delay_coalesce: bool,
    /// Per page-size-class heaps ordered by (sn, address).
    bins: Vec<BTreeSet<(u64, u64, ExtId)>>,
    nonempty: Vec<u64>,
    lru_head: ExtId,
    lru_tail: ExtId,
    npages: u64,
    nextents: u64,
}

impl Ecache {
    fn new(delay_coalesce: bool, nbins: usize) -> Self {
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

/// Page-allocator statistics with jemalloc's meanings (all in pages unless noted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacCounters {
    /// `stats.arenas.<i>.dirty_npurge`-style counters: purge passes, madvise calls, pages purged.
    pub dirty_npurge: u64,
    pub dirty_nmadvise: u64,
    pub dirty_purged: u64,
    pub muzzy_npurge: u64,
    pub muzzy_nmadvise: u64,
    pub muzzy_purged: u64,
    /// Number of mappings made (growth steps).
    pub nmappings: u64,
}

/// The page allocator of one arena.
#[derive(Debug, Clone)]
pub struct Pac {
    sc: SizeClasses,
    lg_page: u32,
    pad_pages: u64,
    large_minclass_pages: u64,
    oversize_threshold_pages: u64,
    lg_max_active_fit: u32,
    extents: Vec<Extent>,
    free_ids: Vec<ExtId>,
    /// Every registered extent (any state) by first page, for neighbour lookups.
    by_base: BTreeMap<u64, ExtId>,
    dirty: Ecache,
    muzzy: Ecache,
    retained: Ecache,
    next_sn: u64,
    grow_next: usize,
    grow_limit: usize,
    next_vpage: u64,
    nactive: u64,
    /// Live extent structures and their high-water mark (each is a 128-byte `edata_t` from base).
    nedata: u64,
    nedata_hwm: u64,
    pub decay_dirty: Decay,
    pub decay_muzzy: Decay,
    pub counters: PacCounters,
    /// Pages the application has written and that were not purged since.
    pub touched: TouchedPages,
}

impl Pac {
    /// A fresh page allocator. `dirty_ms`/`muzzy_ms` are the decay times, `oversize_threshold`
    /// in bytes, `lg_hugepage` decides the first mapping size.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sc: SizeClasses,
        cache_oblivious: bool,
        dirty_ms: i64,
        muzzy_ms: i64,
        oversize_threshold: u64,
        lg_max_active_fit: u32,
        lg_hugepage: u32,
        seed: u64,
    ) -> Self {
        let lg_page = sc.lg_page;
        let nbins = sc.npsizes() + 1;
        let grow_next = sc.psz2ind(1u64 << lg_hugepage);
        let grow_limit = sc.psz2ind(sc.large_maxclass());
        let large_minclass_pages = sc.large_minclass() >> lg_page;
        Pac {
            lg_page,
            pad_pages: cache_oblivious as u64,
            large_minclass_pages,
            oversize_threshold_pages: oversize_threshold.div_ceil(1 << lg_page),
            lg_max_active_fit,
            extents: Vec::new(),
            free_ids: Vec::new(),
            by_base: BTreeMap::new(),
            dirty: Ecache::new(true, nbins),
            muzzy: Ecache::new(false, nbins),
            retained: Ecache::new(false, nbins),
            next_sn: 0,
            grow_next,
            grow_limit,
            // Page 0 is never handed out, so no extent starts at address 0.
            next_vpage: 1,
            nactive: 0,
            nedata: 0,
            nedata_hwm: 0,
            decay_dirty: Decay::new(0, dirty_ms, seed ^ 0x9e37_79b9_7f4a_7c15),
            decay_muzzy: Decay::new(0, muzzy_ms, seed ^ 0xc2b2_ae3d_27d4_eb4f),
            counters: PacCounters::default(),
            touched: TouchedPages::new(),
            sc,
        }
    }

    // ----- accessors -------------------------------------------------------------------------

    /// Pages of active extents (`pactive`).
    pub fn nactive(&self) -> u64 {
        self.nactive
    }
    /// Pages in the dirty cache (`pdirty`).
    pub fn ndirty(&self) -> u64 {
        self.dirty.npages
    }
    /// Pages in the muzzy cache (`pmuzzy`).
    pub fn nmuzzy(&self) -> u64 {
        self.muzzy.npages
    }
    /// Pages in the retained cache (`stats.arenas.<i>.retained` / page).
    pub fn nretained(&self) -> u64 {
        self.retained.npages
    }
    /// Extents per cache: (dirty, muzzy, retained).
    pub fn nextents(&self) -> (u64, u64, u64) {
        (self.dirty.nextents, self.muzzy.nextents, self.retained.nextents)
    }
    /// High-water mark of extent structures (`edata_t`), which base memory never gives back.
    pub fn nedata_hwm(&self) -> u64 {
        self.nedata_hwm
    }
    /// Mapped pages of the page allocator (`pac_mapped`): active + dirty + muzzy.
    pub fn nmapped(&self) -> u64 {
        self.nactive + self.dirty.npages + self.muzzy.npages
    }
    pub fn first_page(&self, id: ExtId) -> u64 {
        self.extents[id as usize].base
    }
    pub fn npages(&self, id: ExtId) -> u64 {
        self.extents[id as usize].npages
    }
    pub fn sn(&self, id: ExtId) -> u64 {
        self.extents[id as usize].sn
    }
    pub fn state(&self, id: ExtId) -> ExtState {
        self.extents[id as usize].state
    }
    /// Ordering key used everywhere jemalloc prefers "oldest mapping, lowest address".
    pub fn snad(&self, id: ExtId) -> (u64, u64) {
        let e = &self.extents[id as usize];
        (e.sn, e.base)
    }
    pub fn dirty_decay_ms(&self) -> i64 {
        self.decay_dirty.time_ms()
    }
    pub fn muzzy_decay_ms(&self) -> i64 {
        self.decay_muzzy.time_ms()
    }

    /// Every registered extent as (first page, pages, state, serial number), by address.
    pub fn extent_list(&self) -> Vec<(u64, u64, ExtState, u64)> {
        self.by_base
            .values()
            .map(|&id| {
                let e = &self.extents[id as usize];
                (e.base, e.npages, e.state, e.sn)
            })
            .collect()
    }

    // ----- extent table ----------------------------------------------------------------------

    fn new_extent(&mut self, base: u64, npages: u64, sn: u64, state: ExtState, head: bool) -> ExtId {
        let e = Extent {
            base,
            npages,
            sn,
            state,
            head,
            lru_prev: NIL,
            lru_next: NIL,
        };
        let id = if let Some(id) = self.free_ids.pop() {
            self.extents[id as usize] = e;
            id
        } else {
            self.extents.push(e);
            (self.extents.len() - 1) as ExtId
        };
        self.by_base.insert(base, id);
        self.nedata += 1;
        self.nedata_hwm = self.nedata_hwm.max(self.nedata);
        id
    }

    fn free_extent(&mut self, id: ExtId) {
        let base = self.extents[id as usize].base;
        self.by_base.remove(&base);
        self.free_ids.push(id);
        self.nedata -= 1;
    }

    fn ecache_mut(&mut self, state: ExtState) -> &mut Ecache {
        match state {
            ExtState::Dirty => &mut self.dirty,
            ExtState::Muzzy => &mut self.muzzy,
            ExtState::Retained => &mut self.retained,
            ExtState::Active => unreachable!("active extents are in no cache"),
        }
    }

    fn ecache(&self, state: ExtState) -> &Ecache {
        match state {
            ExtState::Dirty => &self.dirty,
            ExtState::Muzzy => &self.muzzy,
            ExtState::Retained => &self.retained,
            ExtState::Active => unreachable!("active extents are in no cache"),
        }
    }

    fn bin_of(&self, npages: u64) -> usize {
        let size = npages << self.lg_page;
        let pad = self.pad_pages << self.lg_page;
        self.sc.psz2ind(self.sc.psz_quantize_floor(size, pad))
    }

    /// `eset_insert`: into the size bin and at the LRU tail.
    fn eset_insert(&mut self, state: ExtState, id: ExtId) {
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
    fn eset_remove(&mut self, id: ExtId) {
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
    fn first_fit(&self, state: ExtState, npages: u64, lg_max_fit: u32) -> Option<ExtId> {
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
        if have > npages {
            let (base, sn) = (self.extents[id as usize].base, self.extents[id as usize].sn);
            self.extents[id as usize].npages = npages;
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
        let base = self.next_vpage;
        self.next_vpage += map_pages;
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
            let Some(next) = self.neighbor(id, state, true) else {
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

    /// Neighbour that may merge with `id` in cache `state` (`emap_try_acquire_edata_neighbor`):
    /// same state, and the higher of the two is not the head of a mapping.
    fn neighbor(&self, id: ExtId, state: ExtState, forward: bool) -> Option<ExtId> {
        let e = &self.extents[id as usize];
        if forward {
            let nid = *self.by_base.get(&(e.base + e.npages))?;
            let n = &self.extents[nid as usize];
            (n.state == state && !n.head).then_some(nid)
        } else {
            if e.head {
                return None;
            }
            let (&pbase, &pid) = self.by_base.range(..e.base).next_back()?;
            let p = &self.extents[pid as usize];
            (pbase + p.npages == e.base && p.state == state).then_some(pid)
        }
    }

    /// Merges `b` (higher) into `a` (lower); `b` must already be out of its cache.
    fn merge(&mut self, a: ExtId, b: ExtId) {
        let (bn, bsn) = (self.extents[b as usize].npages, self.extents[b as usize].sn);
        let ea = &mut self.extents[a as usize];
        ea.npages += bn;
        ea.sn = ea.sn.min(bsn);
        self.free_extent(b);
    }

    /// `extent_try_coalesce_impl`. `id` is out of any cache. With delayed coalescing one merge is
    /// done and reported; otherwise merging repeats until no neighbour qualifies.
    fn try_coalesce(&mut self, state: ExtState, mut id: ExtId) -> (ExtId, bool) {
        let delay = self.ecache(state).delay_coalesce;
        loop {
            let mut again = false;
            if let Some(next) = self.neighbor(id, state, true) {
                self.eset_remove(next);
                self.merge(id, next);
                if delay {
                    return (id, true);
                }
                again = true;
            }
            if let Some(prev) = self.neighbor(id, state, false) {
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
    fn record(&mut self, state: ExtState, id: ExtId) {
        self.extents[id as usize].state = ExtState::Active;
        let mut id = id;
        let ec = self.ecache(state);
        if !ec.delay_coalesce {
            id = self.try_coalesce(state, id).0;
        } else if self.extents[id as usize].npages >= self.large_minclass_pages {
            loop {
                let (nid, merged) = self.try_coalesce(state, id);
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

    fn may_force_decay(&self) -> bool {
        !(self.decay_dirty.time_ms() == -1 || self.decay_muzzy.time_ms() == -1)
    }

    /// `extent_dalloc_wrapper` with retain on: `MADV_DONTNEED` the pages (they leave RSS) and
    /// record the extent as retained.
    fn dalloc_to_retained(&mut self, id: ExtId) {
        let (base, n) = (self.extents[id as usize].base, self.extents[id as usize].npages);
        self.touched.clear_range(base, base + n);
        self.record(ExtState::Retained, id);
    }

    /// `pac_dalloc_impl`: an active extent is freed into the dirty cache.
    pub fn dalloc(&mut self, id: ExtId) {
        let n = self.extents[id as usize].npages;
        debug_assert_eq!(self.extents[id as usize].state, ExtState::Active);
        self.nactive -= n;
        self.record(ExtState::Dirty, id);
    }

    /// `ecache_evict`: take the least recently used extent while the cache holds more than
    /// `npages_min` pages. In the dirty cache, delayed coalescing is done here: the LRU extent is
    /// merged with one neighbour, reinserted, and the search restarts.
    fn evict(&mut self, state: ExtState, npages_min: u64) -> Option<ExtId> {
        loop {
            let ec = self.ecache(state);
            let head = ec.lru_head;
            if head == NIL || ec.npages <= npages_min {
                return None;
            }
            let delay = ec.delay_coalesce;
            self.eset_remove(head);
            if !delay {
                self.extents[head as usize].state = ExtState::Active;
                return Some(head);
            }
            self.extents[head as usize].state = ExtState::Active;
            let (id, merged) = self.try_coalesce(state, head);
            if !merged {
                return Some(id);
            }
            self.eset_insert(state, id);
        }
    }

    /// `pac_decay_to_limit`: purge whole LRU extents of cache `state` until at most `limit` pages
    /// remain, at most `max` pages in all. Dirty pages go to muzzy when muzzy decay is on and the
    /// purge is not a full one; otherwise to retained.
    fn decay_to_limit(&mut self, state: ExtState, fully: bool, limit: u64, max: u64) {
        if max == 0 {
            return;
        }
        let mut stash = Vec::new();
        let mut nstashed = 0;
        while nstashed < max {
            match self.evict(state, limit) {
                Some(id) => {
                    nstashed += self.extents[id as usize].npages;
                    stash.push(id);
                }
                None => break,
            }
        }
        if stash.is_empty() {
            return;
        }
        let try_muzzy = !fully && self.decay_muzzy.time_ms() != 0;
        let (npurge, nmadvise, purged) = match state {
            ExtState::Dirty => (
                &mut self.counters.dirty_npurge,
                &mut self.counters.dirty_nmadvise,
                &mut self.counters.dirty_purged,
            ),
            _ => (
                &mut self.counters.muzzy_npurge,
                &mut self.counters.muzzy_nmadvise,
                &mut self.counters.muzzy_purged,
            ),
        };
        *npurge += 1;
        *nmadvise += stash.len() as u64;
        *purged += nstashed;
        for id in stash {
            if state == ExtState::Dirty && try_muzzy {
                self.record(ExtState::Muzzy, id);
            } else {
                self.dalloc_to_retained(id);
            }
        }
    }

    /// `pac_decay_all`: purge everything in cache `state`.
    fn decay_all(&mut self, state: ExtState, fully: bool) {
        let n = self.ecache(state).npages;
        self.decay_to_limit(state, fully, 0, n);
    }

    /// `arena.<i>.purge`: all dirty and muzzy pages to retained (`MADV_DONTNEED`).
    pub fn purge_all(&mut self) {
        self.decay_all(ExtState::Dirty, true);
        if !self.dont_decay_muzzy() {
            self.decay_all(ExtState::Muzzy, true);
        }
    }

    fn dont_decay_muzzy(&self) -> bool {
        self.muzzy.npages == 0 && self.decay_muzzy.time_ms() <= 0
    }

    /// Deferred work after a free that made pages dirty (`arena_handle_deferred_work`): with
    /// `dirty_decay_ms = 0`, purge all dirty pages now.
    pub fn handle_deferred_work(&mut self) {
        if self.decay_dirty.immediately() {
            self.decay_all(ExtState::Dirty, true);
        }
    }

    /// `pac_maybe_decay_purge` for one state at time `now_ns`. `purge_always` is the background
    /// thread's eagerness; otherwise pages are purged only when the epoch advanced, or never
    /// (`purge_never`, an application thread while background threads run). Returns whether the
    /// epoch advanced.
    fn maybe_decay_purge(
        &mut self,
        state: ExtState,
        now_ns: u64,
        purge_always: bool,
        purge_never: bool,
    ) -> bool {
        let decay = if state == ExtState::Dirty {
            &self.decay_dirty
        } else {
            &self.decay_muzzy
        };
        let ms = decay.time_ms();
        if ms <= 0 {
            if ms == 0 {
                let n = self.ecache(state).npages;
                self.decay_to_limit(state, false, 0, n);
            }
            return false;
        }
        let current = self.ecache(state).npages;
        let decay = if state == ExtState::Dirty {
            &mut self.decay_dirty
        } else {
            &mut self.decay_muzzy
        };
        let advanced = decay.maybe_advance_epoch(now_ns, current);
        let limit = decay.npages_limit();
        if (purge_always || (advanced && !purge_never)) && current > limit {
            self.decay_to_limit(state, false, limit, current - limit);
        }
        advanced
    }

    /// `arena_decay(all = false)`: a decay step for dirty then muzzy pages. Returns whether the
    /// dirty epoch advanced (the application thread then may wake the background thread).
    pub fn decay_step(&mut self, now_ns: u64, purge_always: bool, purge_never: bool) -> bool {
        let adv = self.maybe_decay_purge(ExtState::Dirty, now_ns, purge_always, purge_never);
        if !self.dont_decay_muzzy() {
            self.maybe_decay_purge(ExtState::Muzzy, now_ns, purge_always, purge_never);
        }
        adv
    }

    /// `pac_time_until_deferred_work`: how long the background thread may sleep (ns).
    pub fn ns_until_deferred_work(&self, threshold: u64) -> u64 {
        let d = self.decay_dirty.ns_until_purge(self.dirty.npages, threshold);
        let m = self.decay_muzzy.ns_until_purge(self.muzzy.npages, threshold);
        d.min(m)
    }

    /// Checks the page allocator's internal invariants (for tests): caches agree with their
    /// extents, extents tile the mapped space without overlap, page counts are conserved.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut prev_end = 0;
        let (mut act, mut dirty, mut muzzy, mut ret) = (0, 0, 0, 0);
        for (&base, &id) in &self.by_base {
            let e = &self.extents[id as usize];
            if e.base != base {
                return Err(format!("extent {id} indexed at {base} but starts at {}", e.base));
            }
            if base < prev_end {
                return Err(format!("extent at page {base} overlaps the previous one"));
            }
            prev_end = base + e.npages;
            match e.state {
                ExtState::Active => act += e.npages,
                ExtState::Dirty => dirty += e.npages,
                ExtState::Muzzy => muzzy += e.npages,
                ExtState::Retained => ret += e.npages,
            }
        }
        if act != self.nactive
            || dirty != self.dirty.npages
            || muzzy != self.muzzy.npages
            || ret != self.retained.npages
        {
            return Err(format!(
                "page counts disagree: extents say {act}/{dirty}/{muzzy}/{ret}, caches say {}/{}/{}/{}",
                self.nactive, self.dirty.npages, self.muzzy.npages, self.retained.npages
            ));
        }
        if act + dirty + muzzy + ret != self.next_vpage - 1 {
            return Err("pages not conserved: active + dirty + muzzy + retained != mapped space".into());
        }
        Ok(())
    }
}
