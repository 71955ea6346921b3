//! One jemalloc arena as the application's single thread sees it: small bins, large extents,
//! the thread cache in front of them, the page allocator behind them, decay over a simulated
//! clock, and (for automatic arenas) the separate huge arena for requests at or above the
//! oversize threshold.

use super::base::Base;
use super::bin::{Bin, BinRow, Slab, SlabId};
use super::config::{AllocatorConfig, LargeRounding};
use super::decay::{prng_lg_range, prng_next};
use super::extent::{ExtId, Pac};
use super::sizeclass::SizeClasses;
use super::stats::{Residency, Stats};
use super::tcache::{Tcache, TcacheState};

/// Handle of one live (or thread-cached) simulated object.
pub type ObjId = u32;
const NIL: u32 = u32::MAX;

/// `ARENA_DECAY_NTICKS_PER_UPDATE`: mean number of arena events between decay checks.
const DECAY_NTICKS: i32 = 1000;
/// `ARENA_DEFERRED_PURGE_NPAGES_THRESHOLD`.
const DEFERRED_PURGE_NPAGES: u64 = 1024;
/// `BACKGROUND_THREAD_MIN_INTERVAL_NS`.
const BG_MIN_INTERVAL_NS: u64 = 100_000_000;

/// Why a request cannot be modelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("request of {0} bytes is larger than jemalloc's largest size class")]
    TooLarge(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Free = 0,
    Small = 1,
    Large = 2,
    Huge = 3,
}

/// One object, 12 bytes: `meta` packs the kind (2 bits), the size class (12 bits) and, for
/// large objects, the byte offset of the object in its extent's first page (18 bits, the
/// cache-oblivious randomisation; pages up to 64 KiB).
#[derive(Debug, Clone, Copy)]
struct Obj {
    meta: u32,
    /// Small: slab id. Large/huge: extent id. Free: next free object.
    place: u32,
    /// Small: region index. Large: usable size in pages.
    aux: u32,
}

impl Obj {
    fn new(kind: Kind, class: u16, place: u32, aux: u32, offset: u32) -> Obj {
        debug_assert!(class < 1 << 12 && offset < 1 << 18);
        Obj {
            meta: kind as u32 | (class as u32) << 2 | offset << 14,
            place,
            aux,
        }
    }

    fn kind(&self) -> Kind {
        match self.meta & 3 {
            0 => Kind::Free,
            1 => Kind::Small,
            2 => Kind::Large,
            _ => Kind::Huge,
        }
    }

    fn class(&self) -> u16 {
        ((self.meta >> 2) & 0xfff) as u16
    }

    fn offset(&self) -> u32 {
        self.meta >> 14
    }

    fn set_offset(&mut self, offset: u32) {
        debug_assert!(offset < 1 << 18);
        self.meta = (self.meta & 0x3fff) | offset << 14;
    }
}

/// Options that are about how the model is driven rather than about jemalloc's build.
#[derive(Debug, Clone, Copy)]
pub struct ArenaOptions {
    /// A manual arena (`arenas.create`, used with `MALLOCX_ARENA`): no huge-arena redirect.
    pub dedicated: bool,
    /// Seed for the model's pseudo-random choices (pad offsets, ticker, decay jitter).
    pub seed: u64,
}

impl Default for ArenaOptions {
    fn default() -> Self {
        ArenaOptions {
            dedicated: false,
            seed: 0x5eed,
        }
    }
}

/// Background purging thread state (`background_thread_info_t`).
#[derive(Debug, Clone, Copy)]
struct BgThread {
    /// Next wake time; `None` while sleeping indefinitely.
    wake_ns: Option<u64>,
    /// Whether the next wake ends an indefinite sleep (then it only reschedules).
    from_indefinite: bool,
    npages_to_purge_new: u64,
}

/// The arena model.
#[derive(Debug, Clone)]
pub struct Arena {
    cfg: AllocatorConfig,
    sc: SizeClasses,
    dedicated: bool,
    pub(crate) pac: Pac,
    huge: Option<Box<Pac>>,
    bins: Vec<Bin>,
    slabs: Vec<Slab>,
    free_slabs: Vec<SlabId>,
    objs: Vec<Obj>,
    free_obj: ObjId,
    /// Bytes of live large objects (`stats.arenas.<i>.large.allocated`), huge arena included.
    large_allocated: u64,
    tcache: Option<Tcache>,
    now_ns: u64,
    ticker: i32,
    prng: u64,
    bg: Option<BgThread>,
    base: Base,
    huge_base: Option<Base>,
    seed: u64,
}

impl Arena {
    /// A fresh arena for configuration `cfg`.
    pub fn new(cfg: &AllocatorConfig, opts: ArenaOptions) -> Self {
        let sc = SizeClasses::new(cfg.lg_quantum, cfg.lg_page);
        let pac = Pac::new(
            sc.clone(),
            cfg.cache_oblivious,
            cfg.dirty_decay_ms,
            cfg.muzzy_decay_ms,
            cfg.oversize_threshold,
            cfg.lg_extent_max_active_fit,
            cfg.lg_hugepage,
            opts.seed,
        );
        let tcache = cfg.tcache.enabled.then(|| Tcache::new(&sc, &cfg.tcache));
        let bg = cfg.background_thread.then_some(BgThread {
            wake_ns: None,
            from_indefinite: false,
            npages_to_purge_new: 0,
        });
        Arena {
            bins: vec![Bin::default(); sc.nbins()],
            cfg: cfg.clone(),
            dedicated: opts.dedicated,
            pac,
            huge: None,
            slabs: Vec::new(),
            free_slabs: Vec::new(),
            objs: Vec::new(),
            free_obj: NIL,
            large_allocated: 0,
            tcache,
            now_ns: 0,
            ticker: DECAY_NTICKS,
            prng: opts.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1,
            bg,
            base: Base::new(cfg.lg_page),
            huge_base: None,
            seed: opts.seed,
            sc,
        }
    }

    pub fn config(&self) -> &AllocatorConfig {
        &self.cfg
    }
    pub fn size_classes(&self) -> &SizeClasses {
        &self.sc
    }
    /// The simulated clock, in ns.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }
    fn page(&self) -> u64 {
        self.sc.page()
    }

    /// Usable size of a request (`nallocx`): the size class, or for jemalloc 5.3.1's default
    /// whole pages for large requests.
    pub fn usable_size_of(&self, size: u64) -> Result<u64, AllocError> {
        let ind = self.sc.index_of(size).ok_or(AllocError::TooLarge(size))?;
        let c = self.sc.class(ind);
        if !c.small && self.cfg.large_rounding == LargeRounding::Pages {
            return Ok(size.max(self.sc.large_minclass()).next_multiple_of(self.page()));
        }
        Ok(c.size)
    }

    // ----- object table ----------------------------------------------------------------------

    fn new_obj(&mut self, o: Obj) -> ObjId {
        if self.free_obj != NIL {
            let id = self.free_obj;
            self.free_obj = self.objs[id as usize].place;
            self.objs[id as usize] = o;
            id
        } else {
            self.objs.push(o);
            (self.objs.len() - 1) as ObjId
        }
    }

    fn drop_obj(&mut self, id: ObjId) {
        self.objs[id as usize] = Obj::new(Kind::Free, 0, self.free_obj, 0, 0);
        self.free_obj = id;
    }

    /// Usable size of a live object (`malloc_usable_size`).
    pub fn usable_size(&self, id: ObjId) -> u64 {
        let o = &self.objs[id as usize];
        match o.kind() {
            Kind::Small => self.sc.class(o.class() as usize).size,
            Kind::Large | Kind::Huge => (o.aux as u64) << self.sc.lg_page,
            Kind::Free => 0,
        }
    }

    /// Bytes a live object holds in `stats.active`: its usable size, plus the pad page of a
    /// large extent in a cache-oblivious build.
    pub fn footprint(&self, id: ObjId) -> u64 {
        let o = &self.objs[id as usize];
        match o.kind() {
            Kind::Small | Kind::Free => self.usable_size(id),
            Kind::Large | Kind::Huge => {
                let pac = if o.kind() == Kind::Huge {
                    self.huge.as_deref().expect("huge arena exists")
                } else {
                    &self.pac
                };
                pac.npages(o.place) << self.sc.lg_page
            }
        }
    }

    // ----- public operations -----------------------------------------------------------------

    /// `malloc(size)`, the application then writing all `size` bytes.
    pub fn malloc(&mut self, size: u64) -> Result<ObjId, AllocError> {
        self.malloc_written(size, size)
    }

    /// `malloc(size)`, the application then writing the first `written` bytes (which decides the
    /// touched pages, i.e. RSS).
    pub fn malloc_written(&mut self, size: u64, written: u64) -> Result<ObjId, AllocError> {
        let ind = self.sc.index_of(size).ok_or(AllocError::TooLarge(size))?;
        let usize = self.usable_size_of(size)?;
        let id = self.malloc_class(ind, usize);
        self.touch(id, written.min(usize));
        Ok(id)
    }

    /// Like [`Arena::malloc_written`], for replaying a recorded trace: a large object is placed
    /// at byte `offset` of its extent's first page (the cache-oblivious offset the real allocator
    /// chose) instead of a modelled random one. Small objects ignore `offset`.
    pub fn malloc_with_offset(&mut self, size: u64, written: u64, offset: u32) -> Result<ObjId, AllocError> {
        let ind = self.sc.index_of(size).ok_or(AllocError::TooLarge(size))?;
        let usize = self.usable_size_of(size)?;
        let id = self.malloc_class(ind, usize);
        let o = &mut self.objs[id as usize];
        if o.kind() != Kind::Small && self.cfg.cache_oblivious {
            o.set_offset(offset % (1 << self.sc.lg_page));
        }
        self.touch(id, written.min(usize));
        Ok(id)
    }

    /// `realloc(ptr, size)` (jemalloc's `rallocx` without the thread cache's involvement in the
    /// no-move paths). The same object when the size class stays; a large object that stays
    /// large (and below the oversize threshold) shrinks in place, its extent's tail freed into
    /// the dirty cache, or grows in place when the pages after it are free
    /// (`large_ralloc_no_move`); otherwise a new object is allocated and the old one freed
    /// (nothing written: the caller writes what the copy writes). Returns the object's id.
    pub fn realloc(&mut self, id: ObjId, size: u64) -> Result<ObjId, AllocError> {
        let new_usize = self.usable_size_of(size)?;
        let old_usize = self.usable_size(id);
        if new_usize == old_usize {
            return Ok(id);
        }
        let class = self.sc.index_of(size).ok_or(AllocError::TooLarge(size))?;
        let o = self.objs[id as usize];
        let large_to_large = matches!(o.kind(), Kind::Large | Kind::Huge) && !self.sc.class(class).small;
        if large_to_large {
            let lg = self.sc.lg_page;
            let pad = self.cfg.cache_oblivious as u64;
            let (old_pages, new_pages) = ((old_usize >> lg) + pad, (new_usize >> lg) + pad);
            let ext = o.place as ExtId;
            let huge = o.kind() == Kind::Huge;
            let pac = if huge {
                self.huge.as_mut().expect("huge arena exists")
            } else {
                &mut self.pac
            };
            let in_place = if new_pages < old_pages {
                pac.shrink(ext, new_pages);
                pac.handle_deferred_work();
                true
            } else {
                pac.expand(ext, new_pages - old_pages)
            };
            if in_place {
                self.large_allocated = self.large_allocated - old_usize + new_usize;
                let mut n = Obj::new(o.kind(), class as u16, o.place, (new_usize >> lg) as u32, 0);
                n.set_offset(o.offset());
                self.objs[id as usize] = n;
                return Ok(id);
            }
            // large_ralloc_move: the new extent straight from the arena (not the thread
            // cache), the old object freed through it.
            let new = self.malloc_large_direct(class, new_usize);
            self.free(id);
            return Ok(new);
        }
        let new = self.malloc_written(size, 0)?;
        self.free(id);
        Ok(new)
    }

    /// `free(ptr)`.
    pub fn free(&mut self, id: ObjId) {
        let o = self.objs[id as usize];
        assert!(o.kind() != Kind::Free, "double free of object {id}");
        let usize = self.usable_size(id);
        if let Some(tc) = self.tcache.as_mut() {
            if (o.class() as usize) < tc.nhbins() && o.kind() != Kind::Huge {
                let class = o.class() as usize;
                if tc.is_full(class) {
                    let rem = tc.flush_remain(class);
                    self.tcache_flush(class, rem);
                }
                self.tcache.as_mut().unwrap().push(class, id);
                self.gc_event_dalloc(usize);
                return;
            }
            self.gc_event_dalloc(usize);
        }
        self.free_direct(id);
    }

    /// Advances the simulated clock by `ns` (background-thread wake-ups run on the way).
    pub fn advance(&mut self, ns: u64) {
        let target = self.now_ns.saturating_add(ns);
        self.run_background_until(target);
        self.now_ns = target;
    }

    /// `arena.<i>.purge` (what `MEMORY PURGE` and a synchronous `FLUSHALL` do): all dirty and muzzy
    /// pages of this arena and the huge arena to retained. The thread cache is not flushed.
    pub fn purge(&mut self) {
        self.pac.purge_all();
        if let Some(h) = self.huge.as_mut() {
            h.purge_all();
        }
    }

    /// `arena.<i>.decay`: one curve-limited decay step at the current time.
    pub fn decay(&mut self) {
        self.arena_decay(false);
    }

    /// `thread.tcache.flush`: every cached object back to its bin or extent cache.
    pub fn flush_tcache(&mut self) {
        let Some(tc) = self.tcache.as_ref() else {
            return;
        };
        for class in 0..tc.nhbins() {
            self.tcache_flush(class, 0);
        }
    }

    // ----- small objects ---------------------------------------------------------------------

    fn slab_alloc(&mut self, bin: usize) -> SlabId {
        let c = *self.sc.class(bin);
        let ext = self.pac.alloc(c.slab_pages as u64);
        let slab = Slab::new(ext, bin as u16, c.nregs, self.pac.snad(ext));
        if let Some(id) = self.free_slabs.pop() {
            self.slabs[id as usize] = slab;
            id
        } else {
            self.slabs.push(slab);
            (self.slabs.len() - 1) as SlabId
        }
    }

    /// `arena_bin_refill_slabcur_no_fresh_slab`: returns false when no non-full slab exists.
    fn refill_slabcur(&mut self, bin: usize) -> bool {
        let b = &mut self.bins[bin];
        match b.nonfull.pop_first() {
            Some((_, s)) => {
                b.slabcur = Some(s);
                true
            }
            None => {
                b.slabcur = None;
                false
            }
        }
    }

    fn install_fresh(&mut self, bin: usize, s: SlabId) {
        let b = &mut self.bins[bin];
        b.slabcur = Some(s);
        b.nslabs += 1;
        b.curslabs += 1;
    }

    fn slabcur_has_free(&self, bin: usize) -> Option<SlabId> {
        self.bins[bin]
            .slabcur
            .filter(|&s| self.slabs[s as usize].nfree > 0)
    }

    fn take_region(&mut self, bin: usize, s: SlabId) -> ObjId {
        let r = self.slabs[s as usize].take_lowest();
        let b = &mut self.bins[bin];
        b.curregs += 1;
        b.nmalloc += 1;
        self.new_obj(Obj::new(Kind::Small, bin as u16, s, r, 0))
    }

    /// `arena_malloc_small` (no thread cache).
    fn malloc_small_direct(&mut self, bin: usize) -> ObjId {
        let s = match self.slabcur_has_free(bin) {
            Some(s) => s,
            None => {
                if self.refill_slabcur(bin) {
                    self.bins[bin].slabcur.unwrap()
                } else {
                    let fresh = self.slab_alloc(bin);
                    self.install_fresh(bin, fresh);
                    fresh
                }
            }
        };
        let id = self.take_region(bin, s);
        self.tick(1);
        id
    }

    /// `arena_cache_bin_fill_small`: up to `nfill` regions, in the order they are handed out.
    fn fill_small(&mut self, bin: usize, nfill: u32) -> Vec<ObjId> {
        let mut out = Vec::with_capacity(nfill as usize);
        let mut fresh: Option<SlabId> = None;
        let mut made_progress = true;
        'refill: loop {
            while (out.len() as u32) < nfill {
                if let Some(s) = self.slabcur_has_free(bin) {
                    let cnt = (nfill - out.len() as u32).min(self.slabs[s as usize].nfree);
                    for _ in 0..cnt {
                        out.push(self.take_region(bin, s));
                    }
                    made_progress = true;
                    continue;
                }
                if self.refill_slabcur(bin) {
                    continue;
                }
                if let Some(f) = fresh.take() {
                    self.install_fresh(bin, f);
                    continue;
                }
                if made_progress {
                    fresh = Some(self.slab_alloc(bin));
                    made_progress = false;
                    continue 'refill;
                }
                break;
            }
            break;
        }
        self.tick(1);
        out
    }

    /// `arena_dalloc_bin_locked_step`; returns the slab when it became empty (already
    /// dissociated from the bin), for the caller to give back to the page allocator.
    fn dalloc_region(&mut self, id: ObjId) -> Option<SlabId> {
        let o = self.objs[id as usize];
        let (s, bin) = (o.place, o.class() as usize);
        self.drop_obj(id);
        self.slabs[s as usize].release(o.aux);
        let nregs = self.sc.class(bin).nregs;
        let nfree = self.slabs[s as usize].nfree;
        let b = &mut self.bins[bin];
        b.curregs -= 1;
        b.ndalloc += 1;
        if nfree == nregs {
            // Newly empty: dissociate.
            if b.slabcur == Some(s) {
                b.slabcur = None;
            } else if nregs > 1 {
                b.nonfull.remove(&(self.slabs[s as usize].snad, s));
            }
            b.curslabs -= 1;
            return Some(s);
        }
        if nfree == 1 && b.slabcur != Some(s) {
            // Newly non-full: `arena_bin_lower_slab`.
            let snad = self.slabs[s as usize].snad;
            match b.slabcur {
                Some(cur) if self.slabs[cur as usize].snad > snad => {
                    if self.slabs[cur as usize].nfree > 0 {
                        b.nonfull.insert((self.slabs[cur as usize].snad, cur));
                    }
                    b.slabcur = Some(s);
                }
                _ => {
                    b.nonfull.insert((snad, s));
                }
            }
        }
        None
    }

    /// `arena_slab_dalloc`.
    fn slab_dalloc(&mut self, s: SlabId) {
        let ext = self.slabs[s as usize].ext;
        self.free_slabs.push(s);
        self.pac.dalloc(ext);
        self.handle_deferred_work();
    }

    // ----- large objects ---------------------------------------------------------------------

    fn malloc_large_direct(&mut self, class: usize, usize: u64) -> ObjId {
        let upages = usize >> self.sc.lg_page;
        let huge = !self.dedicated && usize >= self.cfg.oversize_threshold;
        let pad_pages = self.cfg.cache_oblivious as u64;
        let ext = if huge {
            self.huge_pac().alloc(upages + pad_pages)
        } else {
            self.pac.alloc(upages + pad_pages)
        };
        let offset = if self.cfg.cache_oblivious {
            // A random multiple of the 64-byte cache line within the first page.
            (prng_lg_range(&mut self.prng, self.sc.lg_page - 6) << 6) as u32
        } else {
            0
        };
        self.large_allocated += usize;
        if !huge {
            self.tick(1);
        }
        let kind = if huge { Kind::Huge } else { Kind::Large };
        self.new_obj(Obj::new(kind, class as u16, ext, upages as u32, offset))
    }

    fn huge_pac(&mut self) -> &mut Pac {
        if self.huge.is_none() {
            // `arena_choose_huge`: created on first use with both decay times forced to 0.
            let cfg = &self.cfg;
            self.huge = Some(Box::new(Pac::new(
                self.sc.clone(),
                cfg.cache_oblivious,
                if cfg.dirty_decay_ms > 0 {
                    0
                } else {
                    cfg.dirty_decay_ms
                },
                if cfg.muzzy_decay_ms > 0 {
                    0
                } else {
                    cfg.muzzy_decay_ms
                },
                cfg.oversize_threshold,
                cfg.lg_extent_max_active_fit,
                cfg.lg_hugepage,
                self.seed ^ 0x4855_4745,
            )));
            self.huge_base = Some(Base::new(cfg.lg_page));
        }
        self.huge.as_mut().unwrap()
    }

    fn free_large_direct(&mut self, id: ObjId) {
        let o = self.objs[id as usize];
        self.large_allocated -= (o.aux as u64) << self.sc.lg_page;
        self.drop_obj(id);
        if o.kind() == Kind::Huge {
            let h = self.huge.as_mut().expect("huge arena exists");
            h.dalloc(o.place as ExtId);
            h.handle_deferred_work();
        } else {
            self.pac.dalloc(o.place as ExtId);
            self.handle_deferred_work();
            self.tick(1);
        }
    }

    // ----- dispatch --------------------------------------------------------------------------

    fn malloc_class(&mut self, class: usize, usize: u64) -> ObjId {
        let small = self.sc.class(class).small;
        let cached = self.tcache.as_ref().is_some_and(|t| class < t.nhbins());
        if cached && (small || usize < self.cfg.oversize_threshold || self.dedicated) {
            // The thread event (the cache's GC) fires once the allocation is done.
            let id = if let Some(id) = self.tcache.as_mut().unwrap().pop(class) {
                id
            } else if small {
                let nfill = self.tcache.as_ref().unwrap().nfill(class);
                let mut got = self.fill_small(class, nfill);
                // The first region handed out is on top of the stack.
                got.reverse();
                let tc = self.tcache.as_mut().unwrap();
                tc.fill(class, &got);
                tc.pop(class).expect("fill produced at least one region")
            } else {
                self.malloc_large_direct(class, usize)
            };
            self.gc_event_alloc(usize);
            return id;
        }
        let id = if small {
            self.malloc_small_direct(class)
        } else {
            self.malloc_large_direct(class, usize)
        };
        if self.tcache.is_some() {
            self.gc_event_alloc(usize);
        }
        id
    }

    fn free_direct(&mut self, id: ObjId) {
        match self.objs[id as usize].kind() {
            Kind::Small => {
                if let Some(s) = self.dalloc_region(id) {
                    self.slab_dalloc(s);
                }
                self.tick(1);
            }
            Kind::Large | Kind::Huge => self.free_large_direct(id),
            Kind::Free => panic!("free of a freed object"),
        }
    }

    /// `tcache_bin_flush_small/large`: flush the oldest objects of bin `class` until `rem` remain.
    fn tcache_flush(&mut self, class: usize, rem: u32) {
        let items = self.tcache.as_mut().unwrap().take_oldest(class, rem);
        if items.is_empty() {
            return;
        }
        let small = self.sc.class(class).small;
        let n = items.len() as i32;
        if small {
            let mut emptied = Vec::new();
            for id in items {
                if let Some(s) = self.dalloc_region(id) {
                    emptied.push(s);
                }
            }
            self.tick(n);
            for s in emptied {
                self.slab_dalloc(s);
            }
        } else {
            for id in items {
                let o = self.objs[id as usize];
                self.large_allocated -= (o.aux as u64) << self.sc.lg_page;
                self.drop_obj(id);
                self.pac.dalloc(o.place as ExtId);
                self.handle_deferred_work();
            }
            self.tick(n);
        }
    }

    fn gc_event_alloc(&mut self, usize: u64) {
        if let Some(class) = self.tcache.as_mut().and_then(|t| t.count_alloc(usize)) {
            self.tcache_gc(class);
        }
    }

    fn gc_event_dalloc(&mut self, usize: u64) {
        if let Some(class) = self.tcache.as_mut().and_then(|t| t.count_dalloc(usize)) {
            self.tcache_gc(class);
        }
    }

    /// `tcache_event`: incremental GC of one bin.
    fn tcache_gc(&mut self, class: usize) {
        let small = self.sc.class(class).small;
        let tc = self.tcache.as_mut().unwrap();
        if let Some(rem) = tc.gc_plan(class, small) {
            self.tcache_flush(class, rem);
        }
        self.tcache.as_mut().unwrap().gc_done(class);
    }

    // ----- decay, ticks and the background thread -------------------------------------------

    /// `arena_decay_ticks`: a geometric ticker fires on average every 1000 arena-level events.
    fn tick(&mut self, n: i32) {
        self.ticker -= n;
        if self.ticker < 0 {
            let idx = prng_lg_range(&mut self.prng, 6) as usize;
            self.ticker = (DECAY_NTICKS as u64 * ticker_geom_table()[idx] as u64 / 61) as i32;
            self.arena_decay(false);
        }
    }

    /// `arena_decay(is_background_thread, all = false)`.
    fn arena_decay(&mut self, is_bg: bool) {
        let bg_on = self.bg.is_some();
        let advanced = self.pac.decay_step(self.now_ns, is_bg, !is_bg && bg_on);
        if bg_on && advanced && !is_bg {
            let new = self.pac.decay_dirty.epoch_npages_delta();
            self.maybe_wake_background(new);
        }
    }

    /// `arena_handle_deferred_work` after pages became dirty.
    fn handle_deferred_work(&mut self) {
        self.pac.handle_deferred_work();
        if let Some(bg) = self.bg {
            if bg.wake_ns.is_none() {
                self.maybe_wake_background(0);
            }
        }
    }

    /// `arena_maybe_do_deferred_work`: wake a sleeping background thread early when it sleeps
    /// indefinitely, or when the pages it would purge during its sleep exceed 1024.
    fn maybe_wake_background(&mut self, npages_new: u64) {
        let now = self.now_ns;
        let Some(bg) = self.bg.as_mut() else { return };
        match bg.wake_ns {
            None => {
                bg.wake_ns = Some(now);
                bg.from_indefinite = true;
            }
            Some(wake) => {
                let d = &self.pac.decay_dirty;
                if !d.gradually() || wake <= d.epoch_ns() {
                    return;
                }
                let remaining = wake - d.epoch_ns();
                if npages_new > 0 {
                    bg.npages_to_purge_new += d.npages_purge_in(remaining, npages_new);
                }
                if bg.npages_to_purge_new > DEFERRED_PURGE_NPAGES {
                    bg.npages_to_purge_new = 0;
                    bg.wake_ns = Some(now.max(d.epoch_ns()));
                    bg.from_indefinite = false;
                }
            }
        }
    }

    /// Runs background-thread wake-ups due up to `target` (`background_work_sleep_once`).
    fn run_background_until(&mut self, target: u64) {
        loop {
            let Some(bg) = self.bg else { return };
            let Some(wake) = bg.wake_ns else { return };
            if wake > target {
                return;
            }
            self.now_ns = self.now_ns.max(wake);
            if !bg.from_indefinite {
                self.arena_decay(true);
                if let Some(h) = self.huge.as_mut() {
                    h.decay_step(self.now_ns, true, false);
                }
            }
            let ns = self.pac.ns_until_deferred_work(DEFERRED_PURGE_NPAGES);
            let bg = self.bg.as_mut().unwrap();
            bg.from_indefinite = false;
            bg.wake_ns = if ns == u64::MAX {
                None
            } else {
                Some(self.now_ns + ns.max(BG_MIN_INTERVAL_NS))
            };
        }
    }

    // ----- touched pages ---------------------------------------------------------------------

    fn touch(&mut self, id: ObjId, written: u64) {
        self.touch_range(id, 0, written);
    }

    /// The application writes bytes `[from, to)` of live object `id` (clamped to its usable
    /// size): their pages become resident.
    pub fn write(&mut self, id: ObjId, from: u64, to: u64) {
        let to = to.min(self.usable_size(id));
        self.touch_range(id, from, to);
    }

    fn touch_range(&mut self, id: ObjId, from: u64, to: u64) {
        if to <= from {
            return;
        }
        let written = to - from;
        let o = self.objs[id as usize];
        let lg = self.sc.lg_page;
        match o.kind() {
            Kind::Small => {
                let s = &self.slabs[o.place as usize];
                let start = (self.pac.first_page(s.ext) << lg)
                    + o.aux as u64 * self.sc.class(o.class() as usize).size
                    + from;
                self.pac
                    .touched
                    .set_range(start >> lg, (start + written).div_ceil(1 << lg));
            }
            Kind::Large => {
                let start = (self.pac.first_page(o.place) << lg) + o.offset() as u64 + from;
                self.pac
                    .touched
                    .set_range(start >> lg, (start + written).div_ceil(1 << lg));
            }
            Kind::Huge => {
                let h = self.huge.as_mut().unwrap();
                let start = (h.first_page(o.place) << lg) + o.offset() as u64 + from;
                h.touched
                    .set_range(start >> lg, (start + written).div_ceil(1 << lg));
            }
            Kind::Free => {}
        }
    }

    // ----- stats -----------------------------------------------------------------------------

    /// Stats with jemalloc's meanings, summed over this arena and its huge arena.
    pub fn stats(&self) -> Stats {
        let page = self.page();
        let small: u64 = self
            .bins
            .iter()
            .enumerate()
            .map(|(i, b)| b.curregs * self.sc.class(i).size)
            .sum();
        let mut pacs: Vec<(&Pac, &Base)> = vec![(&self.pac, &self.base)];
        if let (Some(h), Some(hb)) = (self.huge.as_deref(), self.huge_base.as_ref()) {
            pacs.push((h, hb));
        }
        let mut s = Stats {
            allocated: small + self.large_allocated,
            ..Stats::default()
        };
        for (p, b) in pacs {
            let meta = b.with_edata(p.nedata_hwm());
            s.active += p.nactive() * page;
            s.dirty_pages += p.ndirty();
            s.muzzy_pages += p.nmuzzy();
            s.retained += p.nretained() * page;
            s.mapped += meta.mapped + p.nmapped() * page;
            s.metadata += meta.allocated;
            s.resident += meta.resident + (p.nactive() + p.ndirty()) * page;
            s.touched_pages += p.touched.count();
            s.purged_pages += p.counters.dirty_purged + p.counters.muzzy_purged;
        }
        s.tcache_bytes = self.tcache.as_ref().map_or(0, |t| {
            t.cached_classes()
                .map(|(c, n)| n as u64 * self.usable_of_class(c))
                .sum()
        });
        s
    }

    /// Where the resident bytes are and which of them are on written pages: one walk over the
    /// objects and slabs, for decompositions (not for the hot path).
    pub fn residency(&self) -> Residency {
        let lg = self.sc.lg_page;
        let page = self.page();
        let mut in_tcache = vec![false; self.objs.len()];
        if let Some(t) = self.tcache.as_ref() {
            for id in t.cached_ids() {
                in_tcache[id as usize] = true;
            }
        }
        let mut r = Residency::default();
        // Bytes of the large extents and slabs in use, and how many of them are touched.
        let (mut ext_bytes, mut ext_touched) = (0u64, 0u64);
        let (mut small_inuse, mut small_inuse_touched) = (0u64, 0u64);
        for (i, o) in self.objs.iter().enumerate() {
            let (usize, touched) = match o.kind() {
                Kind::Free => continue,
                Kind::Small => {
                    let size = self.sc.class(o.class() as usize).size;
                    let s = &self.slabs[o.place as usize];
                    let start = (self.pac.first_page(s.ext) << lg) + o.aux as u64 * size;
                    let t = touched_bytes(&self.pac.touched, lg, start, start + size);
                    small_inuse += size;
                    small_inuse_touched += t;
                    (size, t)
                }
                Kind::Large | Kind::Huge => {
                    let pac = if o.kind() == Kind::Huge {
                        self.huge.as_deref().expect("huge arena exists")
                    } else {
                        &self.pac
                    };
                    let usize = (o.aux as u64) << lg;
                    let (fp, np) = (pac.first_page(o.place), pac.npages(o.place));
                    let start = (fp << lg) + o.offset() as u64;
                    let t = touched_bytes(&pac.touched, lg, start, start + usize);
                    let et = pac.touched.count_range(fp, fp + np) * page;
                    ext_bytes += np * page;
                    ext_touched += et;
                    r.pad += np * page - usize;
                    r.pad_touched += et - t;
                    (usize, t)
                }
            };
            if in_tcache[i] {
                r.tcache += usize;
                r.tcache_touched += touched;
            } else {
                r.live += usize;
                r.live_touched += touched;
            }
        }
        let mut free_slab = vec![false; self.slabs.len()];
        for &s in &self.free_slabs {
            free_slab[s as usize] = true;
        }
        let (mut slab_bytes, mut slab_touched) = (0u64, 0u64);
        for (i, s) in self.slabs.iter().enumerate() {
            if free_slab[i] {
                continue;
            }
            let (fp, np) = (self.pac.first_page(s.ext), self.pac.npages(s.ext));
            slab_bytes += np * page;
            slab_touched += self.pac.touched.count_range(fp, fp + np) * page;
        }
        r.holes = slab_bytes - small_inuse;
        r.holes_touched = slab_touched - small_inuse_touched;
        // The totals over this arena and the huge arena are the stats'.
        let st = self.stats();
        r.dirty = (st.dirty_pages + st.muzzy_pages) * page;
        r.dirty_touched = st.touched_pages * page - slab_touched - ext_touched;
        r.metadata_resident = st.metadata_resident(page);
        debug_assert_eq!(slab_bytes + ext_bytes, st.active);
        r
    }

    fn usable_of_class(&self, class: usize) -> u64 {
        self.sc.class(class).size
    }

    /// The per-bin table (`malloc_stats_print`'s bins section), one row per small class.
    pub fn bin_table(&self) -> Vec<BinRow> {
        self.bins
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let c = self.sc.class(i);
                let cap = b.curslabs * c.nregs as u64;
                BinRow {
                    size: c.size,
                    regions_per_slab: c.nregs,
                    slab_pages: c.slab_pages,
                    curslabs: b.curslabs,
                    curregs: b.curregs,
                    util: if cap == 0 {
                        0.0
                    } else {
                        b.curregs as f64 / cap as f64
                    },
                    nmalloc: b.nmalloc,
                    ndalloc: b.ndalloc,
                }
            })
            .collect()
    }

    /// The page allocator, for inspection and invariant checks.
    pub fn page_allocator(&self) -> &Pac {
        &self.pac
    }

    /// Objects in the thread cache per class, as (class size, count), classes holding any.
    pub fn tcache_contents(&self) -> Vec<(u64, usize)> {
        self.tcache.as_ref().map_or(Vec::new(), |t| {
            t.cached_classes()
                .filter(|&(_, n)| n > 0)
                .map(|(c, n)| (self.sc.class(c).size, n))
                .collect()
        })
    }

    /// The thread cache's state (see [`TcacheState`]); `None` without a thread cache.
    pub fn tcache_state(&self) -> Option<TcacheState> {
        self.tcache.as_ref().map(|t| t.state(|c| self.sc.class(c).size))
    }

    /// Number of objects in the thread cache.
    pub fn tcache_count(&self) -> u64 {
        self.tcache
            .as_ref()
            .map_or(0, |t| t.cached_classes().map(|(_, n)| n as u64).sum())
    }

    /// Checks the arena's invariants (for tests).
    pub fn check_invariants(&self) -> Result<(), String> {
        self.pac.check_invariants()?;
        if let Some(h) = &self.huge {
            h.check_invariants()?;
        }
        let st = self.stats();
        if st.allocated > st.active || st.active > st.mapped {
            return Err(format!(
                "allocated {} <= active {} <= mapped {} violated",
                st.allocated, st.active, st.mapped
            ));
        }
        for (i, b) in self.bins.iter().enumerate() {
            if b.curregs > b.curslabs * self.sc.class(i).nregs as u64 {
                return Err(format!("bin {i}: more regions than its slabs hold"));
            }
        }
        Ok(())
    }

    /// Recreates a process's small-bin state, as `malloc_stats_print` reports it: for each
    /// `(region size, current regions, current slabs)`, that many slabs with that many regions in
    /// use, the free regions spread over the slabs. Then up to `tcache_bytes` of those regions are
    /// put in the thread cache (each bin at most half full), as a running process's cache holds
    /// some, and the fill count of every bin in use is set to `ncached_max >> lg_fill_div`, as a
    /// running cache's garbage collection has adapted it. Returns the objects still held by the program;
    /// the caller never frees them.
    pub fn preload(
        &mut self,
        bins: &[(u64, u64, u64)],
        tcache_bytes: u64,
        lg_fill_div: u32,
        state: Option<&TcacheState>,
    ) -> Vec<ObjId> {
        // Bins the process has used had their fill count adapted by the cache's GC; bins it
        // never used still fill half their capacity on a first miss.
        for &(size, curregs, _) in bins.iter().filter(|_| state.is_none()) {
            if let (Some(class), Some(tc)) = (self.sc.index_of(size), self.tcache.as_mut()) {
                if curregs > 0 {
                    tc.set_fill_div(class, lg_fill_div);
                }
            }
        }
        let mut held: Vec<(usize, Vec<ObjId>)> = Vec::new();
        for &(size, curregs, curslabs) in bins {
            let Some(class) = self.sc.index_of(size).filter(|&c| self.sc.class(c).size == size) else {
                continue;
            };
            let c = *self.sc.class(class);
            if !c.small || curslabs == 0 {
                continue;
            }
            let nregs = c.nregs as u64;
            let used = curregs.clamp(curslabs, curslabs * nregs);
            // The process wrote these slabs while it started (their holes held objects since
            // freed): their pages are resident.
            let all: Vec<ObjId> = (0..curslabs * nregs)
                .map(|_| {
                    let id = self.malloc_small_direct(class);
                    self.touch(id, c.size);
                    id
                })
                .collect();
            let holes = curslabs * nregs - used;
            let mut keep = vec![true; all.len()];
            for h in 0..holes {
                let slab = h % curslabs;
                let reg = nregs - 1 - h / curslabs;
                keep[(slab * nregs + reg) as usize] = false;
            }
            let mut mine = Vec::new();
            for (id, k) in all.into_iter().zip(keep) {
                if k {
                    mine.push(id);
                } else {
                    self.free_direct(id);
                }
            }
            held.push((class, mine));
        }
        if let (Some(st), true) = (state, self.tcache.is_some()) {
            self.restore_tcache(st, &mut held);
        } else if let Some(tc) = self.tcache.as_ref() {
            let want: Vec<u64> = held
                .iter()
                .map(|(class, objs)| {
                    if *class < tc.nhbins() {
                        (tc.ncached_max(*class) as u64 / 2).min(objs.len() as u64)
                    } else {
                        0
                    }
                })
                .collect();
            let bytes: u64 = held
                .iter()
                .zip(&want)
                .map(|((c, _), w)| w * self.sc.class(*c).size)
                .sum();
            let f = if bytes == 0 {
                0.0
            } else {
                (tcache_bytes as f64 / bytes as f64).min(1.0)
            };
            for ((_, objs), w) in held.iter_mut().zip(want) {
                let n = (w as f64 * f).floor() as usize;
                for id in objs.drain(objs.len() - n..) {
                    self.free(id);
                }
            }
            self.tcache.as_mut().unwrap().mark_idle();
        }
        held.into_iter().flat_map(|(_, o)| o).collect()
    }

    /// Puts the thread cache in state `st`: each listed bin gets its count of objects, taken
    /// from `held` (the program's objects of that class) or, when those run short, new ones;
    /// then its marks and the GC position. No GC event fires meanwhile.
    fn restore_tcache(&mut self, st: &TcacheState, held: &mut [(usize, Vec<ObjId>)]) {
        for &[size, ncached, low_water, lg_fill_div, refilled] in &st.bins {
            let Some(class) = self.sc.index_of(size).filter(|&c| self.sc.class(c).size == size) else {
                continue;
            };
            if class >= self.tcache.as_ref().map_or(0, |t| t.nhbins()) {
                continue;
            }
            let small = self.sc.class(class).small;
            let mut objs = Vec::with_capacity(ncached as usize);
            if let Some((_, mine)) = held.iter_mut().find(|(c, _)| *c == class) {
                let n = (ncached as usize).min(mine.len());
                objs.extend(mine.drain(mine.len() - n..));
            }
            while objs.len() < ncached as usize {
                // Straight from the arena, as a fill would: no GC event counts.
                let id = if small {
                    self.malloc_small_direct(class)
                } else {
                    self.malloc_large_direct(class, size)
                };
                self.touch(id, size);
                objs.push(id);
            }
            let tc = self.tcache.as_mut().expect("checked");
            for id in objs {
                tc.push(class, id);
            }
            tc.restore_bin(class, low_water as u32, lg_fill_div as u32, refilled != 0);
        }
        let tc = self.tcache.as_mut().expect("checked");
        tc.restore_gc(st.next_gc_bin, st.alloc_bytes, st.dalloc_bytes);
    }

    /// A 64-bit value of the model's stream (used by tests and generators that share the seed).
    pub fn next_random(&mut self) -> u64 {
        prng_next(&mut self.prng)
    }
}

/// `ticker_geom_table`: `round(-ln((i + 1) / 64) * 61)` for i in 0..64, the scaled logarithms
/// that turn a uniform 6-bit draw into a geometric gap.
fn ticker_geom_table() -> &'static [u8; 64] {
    static TABLE: std::sync::OnceLock<[u8; 64]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0u8; 64];
        for (i, v) in t.iter_mut().enumerate() {
            *v = (-(((i + 1) as f64) / 64.0).ln() * 61.0).round() as u8;
        }
        t
    })
}

/// Bytes of `[a, b)` that lie on touched pages.
fn touched_bytes(t: &super::pages::TouchedPages, lg: u32, a: u64, b: u64) -> u64 {
    if a >= b {
        return 0;
    }
    let (pa, pb) = (a >> lg, (b - 1) >> lg);
    if pa == pb {
        return if t.is_set(pa) { b - a } else { 0 };
    }
    let mut n = t.count_range(pa + 1, pb) << lg;
    if t.is_set(pa) {
        n += ((pa + 1) << lg) - a;
    }
    if t.is_set(pb) {
        n += b - (pb << lg);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread cache restored from a state reads back as that state, holds exactly its objects
    /// (taken from the preloaded regions, or new ones for a class the bins do not list), and
    /// `stats.allocated` counts them with the program's.
    #[test]
    fn a_restored_thread_cache_is_the_state_it_was_given() {
        let mut a = Arena::new(&AllocatorConfig::jemalloc_5_3(), ArenaOptions::default());
        let st = TcacheState {
            next_gc_bin: 5,
            alloc_bytes: 1000,
            dalloc_bytes: 2000,
            bins: vec![[16, 30, 10, 2, 1], [64, 12, 12, 1, 0], [128, 4, 0, 1, 1]],
        };
        let held = a.preload(&[(16, 1000, 4), (64, 300, 5)], 0, 3, Some(&st));
        assert_eq!(a.tcache_state().unwrap(), st);
        assert_eq!(held.len(), 1000 - 30 + 300 - 12);
        let s = a.stats();
        assert_eq!(s.tcache_bytes, 30 * 16 + 12 * 64 + 4 * 128);
        assert_eq!(s.allocated, 1000 * 16 + 300 * 64 + 4 * 128);
    }

    #[test]
    fn ticker_table_matches_jemalloc_endpoints() {
        let t = ticker_geom_table();
        // jemalloc's table starts 254, 211, 187, 169 and ends 2, 1, 0.
        assert_eq!(&t[..4], &[254, 211, 187, 169]);
        assert_eq!(&t[61..], &[2, 1, 0]);
    }
}
