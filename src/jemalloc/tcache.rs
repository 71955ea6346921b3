//! The thread cache (`src/tcache.c`, `cache_bin.h`): per-class LIFO stacks of freed objects in
//! front of the arena. Cached objects still count as allocated and active.
//!
//! * Capacity (`tcache_ncached_max_compute`): small classes `2 * nregs` rounded up to even,
//!   clamped to [20, 200]; large classes up to `tcache_max` (32 KiB): 20.
//! * A small miss refills `ncached_max >> lg_fill_div` regions in one batch; a large miss
//!   allocates one object.
//! * A free into a full stack first flushes the oldest objects down to `ncached_max >> 1`.
//! * Incremental GC: every 64 KiB allocated and every 64 KiB freed, one bin (round robin) flushes
//!   3/4 of the objects that stayed below its low-water mark since the last visit. jemalloc 5.2
//!   visits one bin every `TCACHE_GC_INCR + 1` operations through the cache instead
//!   ([`TcacheConfig::gc_sweep`]) and flushes its oldest objects first.

use super::arena::ObjId;
use super::config::TcacheConfig;
use super::error::ConfigError;
use super::sizeclass::SizeClasses;

#[derive(Debug, Clone)]
struct CacheBin {
    /// Index 0 is the oldest object, the last one the most recently freed.
    stack: Vec<ObjId>,
    /// Bytes of one cached object: the class's size (`stats.arenas.<i>.tcache_bytes` counts
    /// each cached object at it).
    size: u64,
    ncached_max: u32,
    low_water: u32,
    lg_fill_div: u32,
    refilled: bool,
}

/// The state of one thread cache that is not the identity of its objects: how many objects each
/// bin holds, its low-water mark and fill divisor, and where the incremental GC stands. A
/// server's thread cache after startup, taken from a replay of the real allocation trace of
/// that startup, lets the model start exactly where the real process does.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TcacheState {
    /// The bin the next GC event visits (`tcache_slow_t.next_gc_bin`).
    pub next_gc_bin: usize,
    /// Bytes allocated and freed since the last GC event of each kind.
    pub alloc_bytes: u64,
    pub dalloc_bytes: u64,
    /// Bins not in a fresh thread's state: `[size, ncached, low_water, lg_fill_div, refilled]`.
    pub bins: Vec<[u64; 5]>,
}

impl TcacheState {
    /// Checks a state read from a file against the thread cache it would be put in: every
    /// listed size a cached class, counts within the bin's capacity, marks within range. The
    /// error names the first field that is not ([`ConfigError::NextGcBin`],
    /// [`ConfigError::UncachedSize`], [`ConfigError::BinState`]).
    pub fn check(&self, sc: &SizeClasses, cfg: &TcacheConfig) -> Result<(), ConfigError> {
        let tc = Tcache::new(sc, cfg);
        if self.next_gc_bin >= tc.nhbins().max(1) {
            return Err(ConfigError::NextGcBin {
                bin: self.next_gc_bin,
                last: tc.nhbins().saturating_sub(1),
            });
        }
        for &[size, ncached, low_water, lg_fill_div, refilled] in &self.bins {
            let class = sc
                .index_of(size)
                .filter(|&c| sc.class(c).size == size && c < tc.nhbins())
                .ok_or(ConfigError::UncachedSize(size))?;
            let max = tc.ncached_max(class) as u64;
            if ncached > max || low_water > ncached || lg_fill_div > 16 || refilled > 1 {
                return Err(ConfigError::BinState {
                    size,
                    ncached,
                    low_water,
                    lg_fill_div,
                    refilled,
                    max,
                });
            }
        }
        Ok(())
    }
}

/// One thread's cache.
#[derive(Debug, Clone)]
pub struct Tcache {
    bins: Vec<CacheBin>,
    gc_incr: u64,
    lg_flush_small_div: u32,
    lg_flush_large_div: u32,
    next_gc_bin: usize,
    alloc_bytes: u64,
    dalloc_bytes: u64,
    nbins_small: usize,
    /// Bytes of the cached objects, at their class sizes (kept as objects come and go).
    bytes: u64,
    /// jemalloc 5.2's GC ticker (`tcache->gc_ticker`): operations through the cache between
    /// two GC events, minus one (`TCACHE_GC_INCR`); 0 when the GC counts bytes (5.3).
    gc_ticks: i32,
    /// Ticks left before the next 5.2 GC event fires (it fires when this drops below 0).
    gc_tick: i32,
}

/// `tcache_ncached_max_compute` for a small class with `nregs` regions per slab.
pub fn ncached_max_small(cfg: &TcacheConfig, nregs: u32) -> u32 {
    let mut min = cfg.nslots_small_min;
    let mut max = cfg.nslots_small_max.min(u16::MAX as u32);
    if min % 2 != 0 {
        min += 1;
    }
    if max % 2 != 0 {
        max -= 1;
    }
    min = min.max(2);
    max = max.max(2);
    min = min.min(max);
    let mut c = if cfg.lg_nslots_mul < 0 {
        nregs >> (-cfg.lg_nslots_mul)
    } else {
        nregs << cfg.lg_nslots_mul
    };
    if c % 2 != 0 {
        c += 1;
    }
    c.clamp(min, max)
}

impl Tcache {
    pub fn new(sc: &SizeClasses, cfg: &TcacheConfig) -> Self {
        // nhbins = size2index(tcache_max) + 1; classes above it are not cached.
        let nhbins = sc.index_of(cfg.max.min(8 << 20)).map_or(0, |i| i + 1);
        let bins = (0..nhbins)
            .map(|i| {
                let c = sc.class(i);
                let ncached_max = if c.small {
                    ncached_max_small(cfg, c.nregs)
                } else {
                    cfg.nslots_large
                };
                CacheBin {
                    stack: Vec::new(),
                    size: c.size,
                    ncached_max,
                    low_water: 0,
                    lg_fill_div: 1,
                    refilled: false,
                }
            })
            .collect();
        // 5.2: TCACHE_GC_INCR = TCACHE_GC_SWEEP / SC_NBINS, plus 1 unless that is 0.
        let gc_ticks = if cfg.gc_sweep == 0 {
            0
        } else {
            let per = cfg.gc_sweep / sc.nbins().max(1) as u32;
            (per + (per != 0) as u32) as i32
        };
        Tcache {
            bins,
            gc_incr: if gc_ticks > 0 { 0 } else { cfg.gc_incr_bytes },
            gc_ticks,
            gc_tick: gc_ticks,
            lg_flush_small_div: cfg.lg_flush_small_div,
            lg_flush_large_div: cfg.lg_flush_large_div,
            next_gc_bin: 0,
            alloc_bytes: 0,
            dalloc_bytes: 0,
            nbins_small: sc.nbins(),
            bytes: 0,
        }
    }

    /// Number of cached classes (`nhbins`).
    pub fn nhbins(&self) -> usize {
        self.bins.len()
    }

    /// Capacity of class `class`'s stack.
    pub fn ncached_max(&self, class: usize) -> u32 {
        self.bins[class].ncached_max
    }

    /// Objects currently cached per class.
    pub fn cached_classes(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.bins.iter().enumerate().map(|(i, b)| (i, b.stack.len()))
    }

    /// Bytes of the cached objects at their class sizes (`stats.arenas.<i>.tcache_bytes`).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Number of cached objects, all classes.
    pub fn ncached(&self) -> u64 {
        self.bins.iter().map(|b| b.stack.len() as u64).sum()
    }

    /// Whether object `id` is in class `class`'s stack (a linear scan: for debug checks).
    pub fn holds(&self, class: usize, id: ObjId) -> bool {
        self.bins[class].stack.contains(&id)
    }

    /// Every cached object, class by class.
    pub fn cached_ids(&self) -> impl Iterator<Item = ObjId> + '_ {
        self.bins.iter().flat_map(|b| b.stack.iter().copied())
    }

    /// Pops the most recently cached object.
    pub fn pop(&mut self, class: usize) -> Option<ObjId> {
        match self.pop_hit(class) {
            Some((id, _)) => Some(id),
            None => {
                self.bins[class].low_water = 0;
                None
            }
        }
    }

    /// The thread cache's hit: pops the most recently cached object of class `class` and returns
    /// it with the class's size, as [`Tcache::pop`]; `None`, with nothing changed, when the class
    /// is not cached or its stack is empty (where [`Tcache::pop`] also resets the low-water mark).
    #[inline]
    pub fn pop_hit(&mut self, class: usize) -> Option<(ObjId, u64)> {
        let b = self.bins.get_mut(class)?;
        let id = b.stack.pop()?;
        b.low_water = b.low_water.min(b.stack.len() as u32);
        self.bytes -= b.size;
        Some((id, b.size))
    }

    /// How many regions a small miss refills.
    pub fn nfill(&self, class: usize) -> u32 {
        let b = &self.bins[class];
        b.ncached_max >> b.lg_fill_div
    }

    /// Stores a refill; `items` is ordered bottom first, so its last element pops first.
    pub fn fill(&mut self, class: usize, items: &[ObjId]) {
        let b = &mut self.bins[class];
        debug_assert!(b.stack.is_empty());
        b.stack.extend_from_slice(items);
        b.refilled = true;
        self.bytes += items.len() as u64 * b.size;
    }

    pub fn is_full(&self, class: usize) -> bool {
        let b = &self.bins[class];
        b.stack.len() as u32 >= b.ncached_max
    }

    /// How many objects a flush of a full bin keeps.
    pub fn flush_remain(&self, class: usize) -> u32 {
        let div = if class < self.nbins_small {
            self.lg_flush_small_div
        } else {
            self.lg_flush_large_div
        };
        self.bins[class].ncached_max >> div
    }

    /// The thread cache's free without a flush: pushes `id` on class `class`'s stack and returns
    /// the class's size, as [`Tcache::push`]; `None`, with nothing changed, when the class is not
    /// cached or its stack is full (or would have to grow its memory).
    #[inline]
    pub fn try_push(&mut self, class: usize, id: ObjId) -> Option<u64> {
        let b = self.bins.get_mut(class)?;
        if b.stack.len() as u32 >= b.ncached_max || b.stack.len() == b.stack.capacity() {
            return None;
        }
        debug_assert!(!b.stack.contains(&id), "double free of object {id}");
        b.stack.push(id);
        self.bytes += b.size;
        Some(b.size)
    }

    pub fn push(&mut self, class: usize, id: ObjId) {
        let b = &mut self.bins[class];
        b.stack.push(id);
        self.bytes += b.size;
    }

    /// Removes the oldest objects until `rem` remain, in the order jemalloc frees them: 5.3 the
    /// youngest of the flushed ones first, the very oldest last; 5.2 (whose cache counts
    /// operations, [`Tcache::counts_operations`]) the very oldest first.
    pub fn take_oldest(&mut self, class: usize, rem: u32) -> Vec<ObjId> {
        let oldest_first = self.counts_operations();
        let b = &mut self.bins[class];
        let n = b.stack.len().saturating_sub(rem as usize);
        let mut out: Vec<ObjId> = b.stack.drain(..n).collect();
        if !oldest_first {
            out.reverse();
        }
        b.low_water = b.low_water.min(b.stack.len() as u32);
        self.bytes -= n as u64 * b.size;
        out
    }

    #[cold]
    pub(crate) fn event(&mut self) -> Option<usize> {
        if self.bins.is_empty() {
            return None;
        }
        let c = self.next_gc_bin;
        self.next_gc_bin = (self.next_gc_bin + 1) % self.bins.len();
        Some(c)
    }

    /// Whether the GC counts operations through the cache (jemalloc 5.2's ticker) rather than
    /// bytes: then allocations and frees that bypass the cache do not count.
    #[inline]
    pub fn counts_operations(&self) -> bool {
        self.gc_ticks > 0
    }

    /// Counts allocated bytes (5.2: one operation); returns the bin to GC when an event fires.
    #[inline]
    pub fn count_alloc(&mut self, usize: u64) -> Option<usize> {
        if self.gc_ticks > 0 {
            return self.tick();
        }
        let fired = Self::count(&mut self.alloc_bytes, self.gc_incr, usize);
        if fired {
            self.event()
        } else {
            None
        }
    }

    /// Counts freed bytes (5.2: one operation); returns the bin to GC when an event fires.
    #[inline]
    pub fn count_dalloc(&mut self, usize: u64) -> Option<usize> {
        if self.gc_ticks > 0 {
            return self.tick();
        }
        let fired = Self::count(&mut self.dalloc_bytes, self.gc_incr, usize);
        if fired {
            self.event()
        } else {
            None
        }
    }

    /// jemalloc 5.2's `ticker_tick` on the cache's GC ticker: fires (and restarts) when the
    /// count drops below 0, i.e. every `gc_ticks + 1` operations.
    #[inline]
    fn tick(&mut self) -> Option<usize> {
        self.gc_tick -= 1;
        if self.gc_tick < 0 {
            self.gc_tick = self.gc_ticks;
            return self.event();
        }
        None
    }

    /// Adds `usize` to a byte counter; true (and the counter restarts) when it reaches `incr`.
    /// An `incr` of 0 turns the GC off.
    #[inline]
    fn count(acc: &mut u64, incr: u64, usize: u64) -> bool {
        if incr == 0 {
            return false;
        }
        *acc += usize;
        if *acc >= incr {
            *acc = 0;
            return true;
        }
        false
    }

    /// `tcache_event` for bin `class`: how many objects to keep if it should flush. Also adapts
    /// the fill count (`lg_fill_div`) as jemalloc does.
    pub fn gc_plan(&mut self, class: usize, small: bool) -> Option<u32> {
        let b = &mut self.bins[class];
        let lw = b.low_water;
        let n = b.stack.len() as u32;
        if lw > 0 {
            if small {
                let nflush = lw - (lw >> 2);
                if (b.ncached_max >> (b.lg_fill_div + 1)) >= 1 {
                    b.lg_fill_div += 1;
                }
                Some(n - nflush)
            } else {
                Some(n - lw + (lw >> 2))
            }
        } else {
            if small && b.refilled {
                if b.lg_fill_div > 1 {
                    b.lg_fill_div -= 1;
                }
                b.refilled = false;
            }
            None
        }
    }

    /// Sets small bin `class`'s fill divisor (`lg_fill_div`) as a running thread's cache has
    /// adapted it (GC visits that find idle objects halve the fill count, down to one object):
    /// `lg_fill_div`, or the largest divisor that still fills at least one object.
    pub fn set_fill_div(&mut self, class: usize, lg_fill_div: u32) {
        if let Some(b) = self.bins.get_mut(class).filter(|_| class < self.nbins_small) {
            let max = 31 - b.ncached_max.max(1).leading_zeros();
            b.lg_fill_div = lg_fill_div.clamp(1, max.max(1));
        }
    }

    /// Marks every bin's current objects as idle since the last GC visit (low-water mark = count),
    /// as objects a running cache has held for a while are.
    pub fn mark_idle(&mut self) {
        for b in &mut self.bins {
            b.low_water = b.stack.len() as u32;
        }
    }

    /// The state of this cache (objects counted, not named); `size_of` gives a class's size.
    pub fn state(&self, size_of: impl Fn(usize) -> u64) -> TcacheState {
        let bins = self
            .bins
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.stack.is_empty() || b.low_water != 0 || b.lg_fill_div != 1 || b.refilled)
            .map(|(i, b)| {
                [
                    size_of(i),
                    b.stack.len() as u64,
                    b.low_water as u64,
                    b.lg_fill_div as u64,
                    b.refilled as u64,
                ]
            })
            .collect();
        TcacheState {
            next_gc_bin: self.next_gc_bin,
            alloc_bytes: self.alloc_bytes,
            dalloc_bytes: self.dalloc_bytes,
            bins,
        }
    }

    /// Sets bin `class`'s marks and the GC position from a state (the objects are pushed by
    /// the caller).
    pub fn restore_bin(&mut self, class: usize, low_water: u32, lg_fill_div: u32, refilled: bool) {
        let b = &mut self.bins[class];
        b.low_water = low_water.min(b.stack.len() as u32);
        b.lg_fill_div = lg_fill_div.max(1);
        b.refilled = refilled;
    }

    /// Sets where the GC stands.
    pub fn restore_gc(&mut self, next_gc_bin: usize, alloc_bytes: u64, dalloc_bytes: u64) {
        self.next_gc_bin = next_gc_bin % self.bins.len().max(1);
        self.alloc_bytes = alloc_bytes;
        self.dalloc_bytes = dalloc_bytes;
    }

    /// Ends a GC visit: the low-water mark restarts at the current count.
    pub fn gc_done(&mut self, class: usize) {
        let b = &mut self.bins[class];
        b.low_water = b.stack.len() as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_match_jemalloc_table() {
        // 2 * nregs rounded to even, clamped to [20, 200]: 8 B (512 regs) -> 200, 64 B (64) ->
        // 128, 128 B (32) -> 64, 256 B (16) -> 32, 512 B (8) -> 20 (16 clamped up).
        let sc = SizeClasses::new(4, 12);
        let t = Tcache::new(&sc, &TcacheConfig::default());
        assert_eq!(t.nhbins(), 41);
        let cap = |size: u64| t.ncached_max(sc.index_of(size).unwrap());
        assert_eq!(
            [cap(8), cap(64), cap(128), cap(256), cap(512)],
            [200, 128, 64, 32, 20]
        );
        assert_eq!(cap(32768), 20);
        let q8 = SizeClasses::new(3, 12);
        assert_eq!(Tcache::new(&q8, &TcacheConfig::default()).nhbins(), 44);
    }
}
