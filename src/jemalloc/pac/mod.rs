//! The page allocator of one arena: a model of jemalloc's `pac_t`, the "page allocator classic"
//! (`src/pac.c`, with `src/extent.c`, `src/ecache.c`, `src/eset.c` and `exp_grow`).
//!
//! In jemalloc 5.3 an arena asks its page allocator (`pa_shard_t`) for whole-page extents: slabs
//! for the small bins and the extents of large allocations. The page allocator has two
//! implementations behind one interface: the classic one (`pac_t`) and the experimental hugepage
//! allocator (`hpa`, off unless `opt.hpa` is set). The classic one is what every default build
//! uses and what this module models. It keeps freed pages in three extent caches (`ecache_t`):
//! dirty (freed, still resident), muzzy (`MADV_FREE`d) and retained (`MADV_DONTNEED`d or never
//! touched; address space only). It serves a request from dirty, then muzzy (only when
//! `muzzy_decay_ms != 0`), then retained, and only then maps a new region, each one the next size
//! of an exponential growth sequence that starts at one huge page. Within a cache, the free extent
//! with the lowest (serial number, address) that is large enough wins, and the request is cut
//! from its low end. Decay ([`super::decay`]) decides when cached pages are purged.
//!
//! What the model covers: the three caches with their size bins and LRU order, first fit with
//! `opt.lg_extent_max_active_fit`, splitting, coalescing (delayed for dirty, eager for muzzy and
//! retained, never across mappings), growth, in-place shrink and expand of large extents,
//! decay-driven and forced purging (dirty to muzzy to retained), the immediate purge of oversize
//! extents, the count of extent structures (which base metadata never gives back), and which
//! pages the application has written. What it leaves out: the hugepage allocator and its
//! small-extent cache (`sec`), guard pages, extent hooks, `opt.retain = false` (the model always
//! retains, as jemalloc does by default on Linux) and the `dss` (`sbrk`) path.
//!
//! The code is split by responsibility: this file has the type, its options, accessors, the
//! extent table and the invariant check; `ecache` the caches and first fit; `alloc` taking
//! extents (recycle, growth, shrink, expand) and freeing them; `coalesce` merging and recording
//! freed extents; `purge` eviction, decay and purging.

mod alloc;
mod coalesce;
mod ecache;
mod purge;

use std::collections::BTreeMap;

use self::ecache::Ecache;
use super::config::{AllocatorConfig, DecayMs, Release};
use super::decay::Decay;
use super::error::InvariantError;
use super::extent::{ExtId, ExtState, Extent, NIL};
use super::pages::TouchedPages;
use super::sizeclass::SizeClasses;

/// How one page allocator is set up: the jemalloc options (build-time and run-time) it follows,
/// plus the model's seed. [`PacOptions::of_config`] takes them from an [`AllocatorConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacOptions {
    /// `config.cache_oblivious`: every large extent carries one extra page so that the object can
    /// start at a random cache line of its first page. The page allocator needs it only to sort
    /// free extents into cache bins as jemalloc does: each bin holds "a page size class plus the
    /// pad".
    pub cache_oblivious: bool,
    /// Dirty decay time in ms (`opt.dirty_decay_ms`, `arena.<i>.dirty_decay_ms`): `-1` purges
    /// dirty pages only when asked (`arena.<i>.purge`), `0` purges them at once, a positive value
    /// purges them along the decay curve.
    pub dirty_decay_ms: DecayMs,
    /// Muzzy decay time in ms (`opt.muzzy_decay_ms`, `arena.<i>.muzzy_decay_ms`), with the same
    /// meanings. `0` (the default) also means purged dirty pages skip the muzzy state.
    pub muzzy_decay_ms: DecayMs,
    /// `opt.oversize_threshold`, in bytes (8 MiB by default): a freed dirty extent that reaches it
    /// after coalescing is purged at once instead of being cached.
    pub oversize_threshold: u64,
    /// `opt.lg_extent_max_active_fit` (6): a cached dirty extent more than `2^6` times the
    /// request's size is not split to serve it.
    pub lg_extent_max_active_fit: u32,
    /// `LG_HUGEPAGE` (21, i.e. 2 MiB): the first mapping the page allocator makes is one huge
    /// page; later ones follow the page size classes up from there.
    pub lg_hugepage: u32,
    /// Seed of the model's pseudo-random choices (the decay epochs' jitter); no jemalloc option.
    pub seed: u64,
    /// Whose rules apply where jemalloc releases differ: 5.2 merges free extents across
    /// adjacent mappings (laid out top-down, as Linux places them) and purges oversize extents
    /// whatever the decay time (see [`Release::V5_2`]).
    pub release: Release,
}

impl PacOptions {
    /// The options of configuration `cfg`, with the model's seed `seed`.
    pub fn of_config(cfg: &AllocatorConfig, seed: u64) -> Self {
        PacOptions {
            cache_oblivious: cfg.cache_oblivious,
            dirty_decay_ms: cfg.dirty_decay_ms,
            muzzy_decay_ms: cfg.muzzy_decay_ms,
            oversize_threshold: cfg.oversize_threshold,
            lg_extent_max_active_fit: cfg.lg_extent_max_active_fit,
            lg_hugepage: cfg.lg_hugepage,
            seed,
            release: cfg.release,
        }
    }
}

/// Where 5.2's top-down layout starts: the first mapping ends at this page (the model's address
/// space is page numbers; the touched-page bitmap covers only the pages in use).
const TOP_DOWN_START: u64 = 1 << 36;

/// Page-allocator counters with jemalloc's meanings, since the page allocator was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacCounters {
    /// Purge passes over the dirty cache that purged something (`stats.arenas.<i>.dirty_npurge`).
    pub dirty_npurge: u64,
    /// `madvise` calls on dirty pages, one per extent purged (`stats.arenas.<i>.dirty_nmadvise`).
    pub dirty_nmadvise: u64,
    /// Dirty pages purged, in pages (`stats.arenas.<i>.dirty_purged`).
    pub dirty_purged: u64,
    /// Purge passes over the muzzy cache (`stats.arenas.<i>.muzzy_npurge`).
    pub muzzy_npurge: u64,
    /// `madvise` calls on muzzy pages (`stats.arenas.<i>.muzzy_nmadvise`).
    pub muzzy_nmadvise: u64,
    /// Muzzy pages purged, in pages (`stats.arenas.<i>.muzzy_purged`).
    pub muzzy_purged: u64,
    /// Mappings made, one per growth step (no jemalloc statistic reports this).
    pub nmappings: u64,
}

/// The page allocator of one arena (`pac_t`).
#[derive(Debug, Clone)]
pub struct Pac {
    sc: SizeClasses,
    lg_page: u32,
    /// Pad pages per large extent: 1 in a cache-oblivious build, else 0.
    pad_pages: u64,
    /// Pages of the smallest large size class: freed dirty extents this big are coalesced at once.
    large_minclass_pages: u64,
    /// `opt.oversize_threshold` in pages, rounded up.
    oversize_threshold_pages: u64,
    /// `opt.lg_extent_max_active_fit`.
    lg_max_active_fit: u32,
    /// Extent structures, indexed by [`ExtId`]; freed slots are reused through `free_ids`.
    extents: Vec<Extent>,
    free_ids: Vec<ExtId>,
    /// Every registered extent (any state) by first page, for neighbour lookups.
    by_base: BTreeMap<u64, ExtId>,
    dirty: Ecache,
    muzzy: Ecache,
    retained: Ecache,
    /// Serial number of the next mapping (`edata_sn` of its extents).
    next_sn: u64,
    /// Page size class index of the next mapping's size (`exp_grow.next`).
    grow_next: usize,
    /// Largest page size class index growth may reach (`exp_grow.limit`).
    grow_limit: usize,
    /// First page of the next mapping in the model's address space (5.3: mappings go upward,
    /// one after the other; their order does not matter, as they never merge).
    next_vpage: u64,
    /// jemalloc 5.2: free extents of adjacent mappings merge, and mappings go downward, each
    /// ending where the previous one starts (Linux's top-down `mmap`), unless the caller said
    /// where the real allocator's next mapping is ([`Pac::place_next_mapping`]).
    merge_across_mappings: bool,
    /// First pages given for the next mappings, in order ([`Pac::place_next_mapping`]).
    next_bases: std::collections::VecDeque<u64>,
    /// Lowest first page of any mapping so far (5.2's top-down layout).
    lowest_mapped: u64,
    /// Pages mapped so far (all mappings).
    npages_mapped: u64,
    /// 5.2: an extent that reaches the oversize threshold is purged even with decay -1.
    oversize_ignores_decay: bool,
    /// Pages of active extents (`stats.arenas.<i>.pactive`).
    nactive: u64,
    /// Live extent structures and their high-water mark (each is a 128-byte `edata_t` from base).
    nedata: u64,
    nedata_hwm: u64,
    /// Decay state of the dirty cache (`opt.dirty_decay_ms`).
    pub decay_dirty: Decay,
    /// Decay state of the muzzy cache (`opt.muzzy_decay_ms`).
    pub decay_muzzy: Decay,
    pub counters: PacCounters,
    /// Pages the application has written and that were not purged since.
    pub touched: TouchedPages,
}

impl Pac {
    /// A fresh page allocator over size classes `sc`, set up by `opts`. Nothing is mapped until
    /// the first allocation.
    pub fn new(sc: SizeClasses, opts: PacOptions) -> Self {
        let lg_page = sc.lg_page;
        let nbins = sc.npsizes() + 1;
        let grow_next = sc.psz2ind(1u64 << opts.lg_hugepage);
        let grow_limit = sc.psz2ind(sc.large_maxclass());
        let large_minclass_pages = sc.large_minclass() >> lg_page;
        Pac {
            lg_page,
            pad_pages: opts.cache_oblivious as u64,
            large_minclass_pages,
            oversize_threshold_pages: opts.oversize_threshold.div_ceil(1 << lg_page),
            lg_max_active_fit: opts.lg_extent_max_active_fit,
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
            merge_across_mappings: opts.release == Release::V5_2,
            next_bases: std::collections::VecDeque::new(),
            lowest_mapped: TOP_DOWN_START,
            npages_mapped: 0,
            oversize_ignores_decay: opts.release == Release::V5_2,
            nactive: 0,
            nedata: 0,
            nedata_hwm: 0,
            decay_dirty: Decay::new(0, opts.dirty_decay_ms, opts.seed ^ 0x9e37_79b9_7f4a_7c15),
            decay_muzzy: Decay::new(0, opts.muzzy_decay_ms, opts.seed ^ 0xc2b2_ae3d_27d4_eb4f),
            counters: PacCounters::default(),
            touched: TouchedPages::new(),
            sc,
        }
    }

    // ----- accessors -------------------------------------------------------------------------

    /// Pages of active extents (`stats.arenas.<i>.pactive`).
    pub fn nactive(&self) -> u64 {
        self.nactive
    }
    /// Pages in the dirty cache (`stats.arenas.<i>.pdirty`).
    pub fn ndirty(&self) -> u64 {
        self.dirty.npages
    }
    /// Pages in the muzzy cache (`stats.arenas.<i>.pmuzzy`).
    pub fn nmuzzy(&self) -> u64 {
        self.muzzy.npages
    }
    /// Pages in the retained cache (`stats.arenas.<i>.retained` / page).
    pub fn nretained(&self) -> u64 {
        self.retained.npages
    }
    /// Extents per cache: (dirty, muzzy, retained), i.e. the sums over `j` of
    /// `stats.arenas.<i>.extents.<j>.ndirty`, `.nmuzzy` and `.nretained`.
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
    /// First page of extent `id` (a page number in the model's address space).
    pub fn first_page(&self, id: ExtId) -> u64 {
        self.extents[id as usize].base
    }
    /// Length of extent `id` in pages (`edata_size_get` / page).
    pub fn npages(&self, id: ExtId) -> u64 {
        self.extents[id as usize].npages
    }
    /// Serial number of the mapping extent `id` came from (`edata_sn_get`).
    pub fn sn(&self, id: ExtId) -> u64 {
        self.extents[id as usize].sn
    }
    /// Notes that active extent `id` was handed out as a slab (jemalloc 5.2 marks a slab's
    /// boundary pages in its radix tree, see [`Release::V5_2`]).
    pub fn mark_slab(&mut self, id: ExtId) {
        let e = &mut self.extents[id as usize];
        e.slab_mark_first = true;
        e.slab_mark_last = true;
    }

    /// State of extent `id` (`edata_state_get`).
    pub fn state(&self, id: ExtId) -> ExtState {
        self.extents[id as usize].state
    }
    /// Ordering key used everywhere jemalloc prefers "oldest mapping, lowest address".
    pub fn snad(&self, id: ExtId) -> (u64, u64) {
        let e = &self.extents[id as usize];
        (e.sn, e.base)
    }
    /// The current dirty decay time in ms (`arena.<i>.dirty_decay_ms`).
    pub fn dirty_decay_ms(&self) -> i64 {
        self.decay_dirty.time_ms()
    }
    /// The current muzzy decay time in ms (`arena.<i>.muzzy_decay_ms`).
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
            slab_mark_first: false,
            slab_mark_last: false,
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

    /// Checks the page allocator's internal invariants (for tests): caches agree with their
    /// extents, extents tile the mapped space without overlap, page counts are conserved. An
    /// error is a bug in the model.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        let mut prev_end = 0;
        let (mut act, mut dirty, mut muzzy, mut ret) = (0, 0, 0, 0);
        for (&base, &id) in &self.by_base {
            let e = &self.extents[id as usize];
            if e.base != base {
                return Err(InvariantError::Misindexed {
                    id,
                    indexed: base,
                    starts: e.base,
                });
            }
            if base < prev_end {
                return Err(InvariantError::Overlap(base));
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
            return Err(InvariantError::PageCounts {
                extents: [act, dirty, muzzy, ret],
                counted: [
                    self.nactive,
                    self.dirty.npages,
                    self.muzzy.npages,
                    self.retained.npages,
                ],
            });
        }
        if act + dirty + muzzy + ret != self.npages_mapped {
            return Err(InvariantError::PagesNotConserved);
        }
        Ok(())
    }
}
