//! One jemalloc arena as the application's single thread sees it: small bins, large extents,
//! the thread cache in front of them, the page allocator behind them, decay over a simulated
//! clock, and (for automatic arenas) the separate huge arena for requests at or above the
//! oversize threshold.
//!
//! This file has the arena's type, its construction and the public entry points (`malloc`,
//! `realloc`, `free`) with the dispatch between the thread cache, small bins and large extents.
//! The rest is split by responsibility: `fast` (the thread cache's hits for small objects, the
//! common case of malloc and free), `obj` (object ids, and the table of large objects),
//! `small` (slabs and bins), `large` (large extents and the huge arena), `thread_cache`
//! (flushing and garbage-collecting the thread cache, what it holds), `clock` (simulated time,
//! the decay ticker, purging and the background thread), `touch` (which pages the application
//! has written), `stats` (stats, residency, the bin table) and `preload` (recreating a running
//! process's state).

mod clock;
mod fast;
mod large;
mod obj;
mod preload;
mod small;
mod stats;
mod thread_cache;
mod touch;

use self::clock::{BgThread, DECAY_NTICKS};
use self::obj::{Handle, Kind, Obj, RegionIds};
use super::base::Base;
use super::bin::{Bin, Slab, SlabId};
use super::config::{AllocatorConfig, LargeRounding};
use super::decay::prng_next;
use super::error::InvariantError;
use super::extent::ExtId;
use super::pac::{Pac, PacOptions};
use super::sizeclass::SizeClasses;
use super::tcache::Tcache;

/// Handle of one live (or thread-cached) simulated object. Ids are reused once their object is
/// freed, and are dense: an even id is a small object (`id >> 1` its region id), an odd one a
/// large object (`id >> 1` its slot in the large-object table), so a table indexed by id needs
/// about twice as many slots as objects were ever live at once. `ObjId::MAX` is never an id.
pub type ObjId = u32;
const NIL: u32 = u32::MAX;

/// Why a request cannot be modelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// A request of this many bytes, above the largest size class (`SC_LARGE_MAXCLASS`).
    #[error("request of {0} bytes is larger than jemalloc's largest size class")]
    TooLarge(u64),
    /// The model's object ids are (nearly) used up: slabs with about 2^31 regions in all, or
    /// about 2^31 large objects, exist at once.
    #[error("too many objects for the model's 32-bit object ids")]
    TooManyObjects,
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

/// The arena model.
#[derive(Debug, Clone)]
pub struct Arena {
    cfg: AllocatorConfig,
    sc: SizeClasses,
    /// A manual arena ([`ArenaOptions::dedicated`]): large requests never go to the huge arena.
    dedicated: bool,
    /// This arena's page allocator.
    pub(crate) pac: Pac,
    /// The huge arena's page allocator (`arena_choose_huge`), made on its first use.
    huge: Option<Box<Pac>>,
    /// One bin per small size class.
    bins: Vec<Bin>,
    /// Slabs by [`SlabId`]; a freed slab's slot, with its region ids, is kept in `spare_slabs`
    /// (one list per bin) for the bin's next slab.
    slabs: Vec<Slab>,
    spare_slabs: Vec<Vec<SlabId>>,
    /// The slab of each small object's region id.
    rids: RegionIds,
    /// Large and huge objects by `id >> 1`; freed slots form a list from `free_large`.
    large: Vec<Obj>,
    free_large: u32,
    /// Bytes of small regions in use, thread-cached ones included: the sum over bins of
    /// `curregs` times the class size (`stats.arenas.<i>.small.allocated`).
    small_allocated: u64,
    /// Bytes of live large objects (`stats.arenas.<i>.large.allocated`), huge arena included.
    large_allocated: u64,
    tcache: Option<Tcache>,
    /// The simulated clock, ns.
    now_ns: u64,
    /// Arena events left until the next decay check (the thread's `arena_decay_ticker`).
    ticker: i32,
    /// State of the model's random stream (pad offsets, ticker).
    prng: u64,
    /// The background purging thread, when `background_thread` is on.
    bg: Option<BgThread>,
    /// Base metadata of this arena and (once it exists) of the huge arena.
    base: Base,
    huge_base: Option<Base>,
    /// [`ArenaOptions::seed`]; the huge arena's page allocator derives its seed from it.
    seed: u64,
}

impl Arena {
    /// A fresh arena for configuration `cfg`.
    pub fn new(cfg: &AllocatorConfig, opts: ArenaOptions) -> Self {
        let sc = SizeClasses::new(cfg.lg_quantum, cfg.lg_page);
        let pac = Pac::new(sc.clone(), PacOptions::of_config(cfg, opts.seed));
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
            spare_slabs: vec![Vec::new(); sc.nbins()],
            rids: RegionIds::default(),
            large: Vec::new(),
            free_large: NIL,
            small_allocated: 0,
            large_allocated: 0,
            tcache,
            now_ns: 0,
            ticker: DECAY_NTICKS,
            prng: opts.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1,
            bg,
            base: Base::of(cfg.lg_page, sc.nbins(), cfg.release),
            huge_base: None,
            seed: opts.seed,
            sc,
        }
    }

    /// The configuration the arena was made for.
    pub fn config(&self) -> &AllocatorConfig {
        &self.cfg
    }
    /// The size classes of that configuration.
    pub fn size_classes(&self) -> &SizeClasses {
        &self.sc
    }
    /// The simulated clock, in ns.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }
    /// Bytes per page (`PAGE`).
    fn page(&self) -> u64 {
        self.sc.page()
    }

    /// Usable size of a request (`nallocx`): the size class, or for jemalloc 5.3.1's default
    /// whole pages for large requests.
    pub fn usable_size_of(&self, size: u64) -> Result<u64, AllocError> {
        let ind = self.sc.index_of(size).ok_or(AllocError::TooLarge(size))?;
        Ok(self.usable_in_class(ind, size))
    }

    /// [`Arena::usable_size_of`] a request of `size` bytes in size class `ind`.
    fn usable_in_class(&self, ind: usize, size: u64) -> u64 {
        let c = self.sc.class(ind);
        if !c.small && self.cfg.large_rounding == LargeRounding::Pages {
            return size.max(self.sc.large_minclass()).next_multiple_of(self.page());
        }
        c.size
    }

    // ----- public operations -----------------------------------------------------------------

    /// `malloc(size)`, the application then writing all `size` bytes.
    pub fn malloc(&mut self, size: u64) -> Result<ObjId, AllocError> {
        self.malloc_written(size, size)
    }

    /// `malloc(size)`, the application then writing the first `written` bytes (which decides the
    /// touched pages, i.e. RSS).
    pub fn malloc_written(&mut self, size: u64, written: u64) -> Result<ObjId, AllocError> {
        self.malloc_usable(size, written).map(|(id, _)| id)
    }

    /// [`Arena::malloc_written`], returning the object with its usable size (saves a
    /// [`Arena::usable_size`] lookup).
    ///
    /// A request of up to 4 KiB that the thread cache holds an object for (the common case)
    /// takes a fast path, which does what the general path does in that case: the class from
    /// the table, the id room check, the cache's pop, the allocation's thread event, the write.
    #[inline]
    pub fn malloc_usable(&mut self, size: u64, written: u64) -> Result<(ObjId, u64), AllocError> {
        match self.malloc_cached_small(size, written) {
            Some(got) => Ok(got),
            None => self.malloc_general(size, written),
        }
    }

    /// [`Arena::malloc_usable`] by the general path: any size, thread cache or not.
    #[inline(never)]
    fn malloc_general(&mut self, size: u64, written: u64) -> Result<(ObjId, u64), AllocError> {
        let ind = self.sc.index_of(size).ok_or(AllocError::TooLarge(size))?;
        let usize = self.usable_in_class(ind, size);
        self.check_id_room()?;
        let id = self.malloc_class(ind, usize);
        self.touch(id, written.min(usize));
        // A large object's from its entry, not `usize`: one from the thread cache keeps the
        // usable size it was made with, which with whole-page rounding may differ within a class.
        let usable = if self.sc.class(ind).small {
            usize
        } else {
            self.usable_size(id)
        };
        Ok((id, usable))
    }

    /// Like [`Arena::malloc_written`], for replaying a recorded trace: a large object is placed
    /// at byte `offset` of its extent's first page (the cache-oblivious offset the real allocator
    /// chose) instead of a modelled random one. Small objects ignore `offset`.
    pub fn malloc_with_offset(&mut self, size: u64, written: u64, offset: u32) -> Result<ObjId, AllocError> {
        let ind = self.sc.index_of(size).ok_or(AllocError::TooLarge(size))?;
        let usize = self.usable_in_class(ind, size);
        self.check_id_room()?;
        let id = self.malloc_class(ind, usize);
        if let (Handle::Large(i), true) = (Handle::of(id), self.cfg.cache_oblivious) {
            self.large[i as usize].set_offset(offset % (1 << self.sc.lg_page));
        }
        self.touch(id, written.min(usize));
        Ok(id)
    }

    /// `realloc(ptr, size)` (jemalloc's `rallocx` without the thread cache's involvement in the
    /// no-move paths). The same object when the size class stays; a large object that stays
    /// large shrinks in place, its extent's tail freed into the dirty cache, or grows in place
    /// when the pages after it are free (`large_ralloc_no_move`), in whichever arena holds it,
    /// the huge arena included; otherwise a new object is allocated and the old one freed
    /// (nothing written: the caller writes what the copy writes). Returns the object's id.
    pub fn realloc(&mut self, id: ObjId, size: u64) -> Result<ObjId, AllocError> {
        self.realloc_usable(id, size).map(|(id, _)| id)
    }

    /// [`Arena::realloc`], returning the object with its usable size (saves a
    /// [`Arena::usable_size`] lookup).
    pub fn realloc_usable(&mut self, id: ObjId, size: u64) -> Result<(ObjId, u64), AllocError> {
        let class = self.sc.index_of(size).ok_or(AllocError::TooLarge(size))?;
        let new_usize = self.usable_in_class(class, size);
        let old_usize = self.usable_size(id);
        if new_usize == old_usize {
            return Ok((id, old_usize));
        }
        if let (Handle::Large(i), false) = (Handle::of(id), self.sc.class(class).small) {
            let o = self.large[i as usize];
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
                self.large[i as usize] = n;
                return Ok((id, self.usable_size(id)));
            }
            // large_ralloc_move: the new extent straight from the arena (not the thread
            // cache), the old object freed through it.
            self.check_id_room()?;
            let new = self.malloc_large_direct(class, new_usize);
            self.free(id);
            return Ok((new, self.usable_size(new)));
        }
        let new = self.malloc_usable(size, 0)?;
        self.free(id);
        Ok(new)
    }

    /// `free(ptr)`.
    ///
    /// A small object whose class's thread-cache stack has room (the common case) takes a fast
    /// path, which does what the general path does in that case: the double-free check, the
    /// cache's push, the free's thread event.
    #[inline]
    pub fn free(&mut self, id: ObjId) {
        if !self.free_cached_small(id) {
            self.free_general(id);
        }
    }

    /// [`Arena::free`] by the general path: any object, thread cache or not.
    #[inline(never)]
    fn free_general(&mut self, id: ObjId) {
        // A freed region's bit in its slab's bitmap is clear; a freed large slot is free.
        // (Objects parked in the thread cache are in use to both: a second free of one is
        // caught in debug builds only, below.)
        let (class, huge, usize) = match Handle::of(id) {
            Handle::Small(rid) => {
                let (s, r) = self.region(rid);
                let slab = &self.slabs[s as usize];
                assert!(slab.in_use(r), "double free of object {id}");
                let bin = slab.bin as usize;
                (bin, false, self.sc.class(bin).size)
            }
            Handle::Large(i) => {
                let o = self.large[i as usize];
                assert!(o.kind() != Kind::Free, "double free of object {id}");
                (
                    o.class() as usize,
                    o.kind() == Kind::Huge,
                    (o.aux as u64) << self.sc.lg_page,
                )
            }
        };
        if let Some(tc) = self.tcache.as_mut() {
            if class < tc.nhbins() && !huge {
                debug_assert!(!tc.holds(class, id), "double free of object {id}");
                if tc.is_full(class) {
                    let rem = tc.flush_remain(class);
                    self.tcache_flush(class, rem);
                }
                self.tcache.as_mut().unwrap().push(class, id);
                self.gc_event_dalloc(usize);
                return;
            }
            // 5.3's thread event counts every free; 5.2's ticker only the cache's own.
            if !tc.counts_operations() {
                self.gc_event_dalloc(usize);
            }
        }
        self.free_direct(id);
    }

    // ----- dispatch --------------------------------------------------------------------------

    /// `malloc` of a request of size class `class` and usable size `usize`: from the thread cache
    /// (filled from the bin on a miss) when the class is cached and the request does not go to
    /// the huge arena, else straight from the bin or a new extent.
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
        if self.tcache.as_ref().is_some_and(|t| !t.counts_operations()) {
            self.gc_event_alloc(usize);
        }
        id
    }

    /// Frees an object straight into its bin or extent cache (no thread cache).
    fn free_direct(&mut self, id: ObjId) {
        match Handle::of(id) {
            Handle::Small(rid) => {
                if let Some(s) = self.dalloc_region(rid) {
                    self.slab_dalloc(s);
                }
                self.tick(1);
            }
            Handle::Large(i) => self.free_large_direct(i),
        }
    }

    /// Says where the real allocator put its next mapping (first page number), so that the
    /// model's next growth goes there too ([`Pac::place_next_mapping`]): for comparisons with a
    /// real jemalloc 5.2, whose free extents merge across adjacent mappings.
    pub fn place_next_mapping(&mut self, first_page: u64) {
        self.pac.place_next_mapping(first_page);
    }

    /// The page allocator, for inspection and invariant checks.
    pub fn page_allocator(&self) -> &Pac {
        &self.pac
    }

    /// Checks the arena's invariants (for tests): the page allocators' (see
    /// [`Pac::check_invariants`]), allocated <= active <= mapped, no bin holding more regions
    /// than its slabs, and the running totals behind [`Arena::stats`] equal to what they sum.
    /// An error is a bug in the model.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        self.pac.check_invariants()?;
        if let Some(h) = &self.huge {
            h.check_invariants()?;
        }
        let st = self.stats();
        if st.allocated > st.active || st.active > st.mapped {
            return Err(InvariantError::StatsOrder {
                allocated: st.allocated,
                active: st.active,
                mapped: st.mapped,
            });
        }
        for (i, b) in self.bins.iter().enumerate() {
            if b.curregs > b.curslabs * self.sc.class(i).nregs as u64 {
                return Err(InvariantError::BinOverfull(i));
            }
        }
        let small: u64 = (self.bins.iter().enumerate())
            .map(|(i, b)| b.curregs * self.sc.class(i).size)
            .sum();
        let (tcache, tcache_count) = self.tcache.as_ref().map_or((0, 0), |t| {
            t.cached_classes()
                .map(|(c, n)| (n as u64 * self.sc.class(c).size, n as u64))
                .fold((0, 0), |(b, k), (nb, nk)| (b + nb, k + nk))
        });
        if (small, tcache, tcache_count) != (self.small_allocated, st.tcache_bytes, self.tcache_count()) {
            return Err(InvariantError::RunningTotals);
        }
        Ok(())
    }

    /// A 64-bit value of the model's stream (used by tests and generators that share the seed).
    pub fn next_random(&mut self) -> u64 {
        prng_next(&mut self.prng)
    }
}
