//! The arena's side of the thread cache (`tcache`): flushing cached objects back to their bins
//! and extents, the incremental garbage collection that thread events trigger, what the cache
//! holds, and the calls that go around it (for replaying a recorded trace).

use super::obj::Handle;
use super::{AllocError, Arena, ObjId};
use crate::jemalloc::extent::ExtId;
use crate::jemalloc::tcache::TcacheState;

impl Arena {
    /// `thread.tcache.flush`: every cached object back to its bin or extent cache.
    pub fn flush_tcache(&mut self) {
        let Some(tc) = self.tcache.as_ref() else {
            return;
        };
        for class in 0..tc.nhbins() {
            self.tcache_flush(class, 0);
        }
    }

    /// `tcache_bin_flush_small/large`: flush the oldest objects of bin `class` until `rem` remain.
    pub(super) fn tcache_flush(&mut self, class: usize, rem: u32) {
        let items = self.tcache.as_mut().unwrap().take_oldest(class, rem);
        if items.is_empty() {
            return;
        }
        let small = self.sc.class(class).small;
        let n = items.len() as i32;
        if small {
            let mut emptied = Vec::new();
            for id in items {
                let Handle::Small(rid) = Handle::of(id) else {
                    unreachable!("a small class's cached object is small")
                };
                if let Some(s) = self.dalloc_region(rid) {
                    emptied.push(s);
                }
            }
            self.tick(n);
            for s in emptied {
                self.slab_dalloc(s);
            }
        } else {
            for id in items {
                let Handle::Large(i) = Handle::of(id) else {
                    unreachable!("a large class's cached object is large")
                };
                let o = self.large[i as usize];
                self.large_allocated -= (o.aux as u64) << self.sc.lg_page;
                self.drop_large(i);
                self.pac.dalloc(o.place as ExtId);
                self.handle_deferred_work();
            }
            self.tick(n);
        }
    }

    /// The thread event after an allocation of `usize` bytes: it counts toward the next
    /// incremental GC (every `opt.tcache_gc_incr_bytes`), which then runs on one bin.
    #[inline]
    pub(super) fn gc_event_alloc(&mut self, usize: u64) {
        if let Some(class) = self.tcache.as_mut().and_then(|t| t.count_alloc(usize)) {
            self.tcache_gc(class);
        }
    }

    /// The thread event after a free of `usize` bytes (as [`Arena::gc_event_alloc`]).
    #[inline]
    pub(super) fn gc_event_dalloc(&mut self, usize: u64) {
        if let Some(class) = self.tcache.as_mut().and_then(|t| t.count_dalloc(usize)) {
            self.tcache_gc(class);
        }
    }

    /// The thread events of an allocation of `alloc_bytes` and a free of `dalloc_bytes` (either
    /// 0 for none) that this arena's thread made elsewhere: through an explicit thread cache
    /// into another arena (`MALLOCX_TCACHE(n) | MALLOCX_ARENA(a)`, Redis 7.4+'s Lua heap). They
    /// count toward this thread's cache's GC as its own do; nothing else changes here. Also the
    /// events a `realloc` makes where [`Arena::realloc`] makes none (see
    /// `crate::validate::startup_trace`).
    pub fn thread_event(&mut self, alloc_bytes: u64, dalloc_bytes: u64) {
        if alloc_bytes > 0 {
            self.gc_event_alloc(alloc_bytes);
        }
        if dalloc_bytes > 0 {
            self.gc_event_dalloc(dalloc_bytes);
        }
    }

    /// An allocation of `size` bytes that bypasses the thread cache: `mallocx(size,
    /// MALLOCX_TCACHE_NONE)` (`event`: it counts toward the thread's GC as any call does), or
    /// one of jemalloc's own internal allocations, such as a thread cache's stacks (no event).
    /// Returns the object with its usable size; the whole of it counts as written.
    pub fn malloc_uncached(&mut self, size: u64, event: bool) -> Result<(ObjId, u64), AllocError> {
        let class = self.sc.index_of(size).ok_or(AllocError::TooLarge(size))?;
        let usize = self.usable_in_class(class, size);
        self.check_id_room()?;
        let id = if self.sc.class(class).small {
            self.malloc_small_direct(class)
        } else {
            self.malloc_large_direct(class, usize)
        };
        self.touch(id, usize);
        if event {
            self.gc_event_alloc(usize);
        }
        Ok((id, self.usable_size(id)))
    }

    /// A free that bypasses the thread cache (`dallocx(ptr, MALLOCX_TCACHE_NONE)`), counting
    /// toward the thread's GC when `event`.
    pub fn free_uncached(&mut self, id: ObjId, event: bool) {
        let usize = self.usable_size(id);
        self.free_direct(id);
        if event {
            self.gc_event_dalloc(usize);
        }
    }

    /// Bytes of the stacks of a thread cache of this configuration (`cache_bin_info_compute_
    /// alloc`: two pointers, then one per object each bin can hold): jemalloc allocates them
    /// from arena 0 when a thread first allocates, and with the cache's own structures for
    /// `tcache.create`. 0 without a thread cache.
    pub fn tcache_stack_bytes(&self) -> u64 {
        self.tcache.as_ref().map_or(0, |t| {
            16 + (0..t.nhbins()).map(|c| 8 * t.ncached_max(c) as u64).sum::<u64>()
        })
    }

    /// One incremental GC step, on the next bin in turn, whatever the byte counters say:
    /// jemalloc 5.2.1's `tcache_event_hard`, which a ticker of cache events (not bytes) fires
    /// (for replaying a trace of a 5.2.1 build, whose arena then has `gc_incr_bytes` 0).
    pub fn tcache_gc_step(&mut self) {
        if let Some(class) = self.tcache.as_mut().and_then(|t| t.event()) {
            self.tcache_gc(class);
        }
    }

    /// `tcache_event`: incremental GC of one bin.
    #[cold]
    pub(super) fn tcache_gc(&mut self, class: usize) {
        let small = self.sc.class(class).small;
        let tc = self.tcache.as_mut().unwrap();
        if let Some(rem) = tc.gc_plan(class, small) {
            self.tcache_flush(class, rem);
        }
        self.tcache.as_mut().unwrap().gc_done(class);
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
        self.tcache.as_ref().map_or(0, |t| t.ncached())
    }
}
