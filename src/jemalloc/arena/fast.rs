//! The common case of malloc and free, kept short: a small request the thread cache holds an
//! object for, and a small object freed into a thread-cache stack with room. Each does exactly
//! what the general path ([`Arena::malloc_usable`]'s and [`Arena::free`]'s fallbacks) does in
//! that case, and declines, with nothing changed, in any other case.
//!
//! Everything rare (the thread event's GC, a write spanning pages or past the touched-page
//! bitmap) is left to out-of-line functions that finish the operation, so that the path itself
//! makes no call.

use super::obj::Handle;
use super::{Arena, ObjId};

impl Arena {
    /// `malloc(size)` of a request of up to 4 KiB by a thread-cache hit, the first `written`
    /// bytes then written: the object and its usable size, or `None` (nothing done) when the
    /// request is larger, the ids are short ([`Arena::check_id_room`]'s refusal is the general
    /// path's to make) or the cache's stack for the class is empty.
    ///
    /// The general path in this case: the class from the table (a small class; small requests
    /// never go to the huge arena), the id room check, the cache's pop, the allocation's thread
    /// event (`gc_event_alloc`), then the write ([`Arena::touch`]).
    ///
    /// A caller that wants the common case inline calls this first and
    /// [`Arena::malloc_usable`] when it declines.
    #[inline]
    pub fn malloc_cached_small(&mut self, size: u64, written: u64) -> Option<(ObjId, u64)> {
        // Without a thread cache, nothing but this one test.
        self.tcache.as_ref()?;
        let class = self.sc.index_of_small(size)?;
        if !self.has_id_room() {
            return None;
        }
        let tc = self.tcache.as_mut()?;
        let (id, usize) = tc.pop_hit(class)?;
        let written = written.min(usize);
        if let Some(gc_class) = tc.count_alloc(usize) {
            return Some(self.gc_then_touch(gc_class, id, usize, written));
        }
        if written > 0 && !self.touch_one_page(id, usize, written) {
            return Some(self.touch_then_return(id, usize, written));
        }
        Some((id, usize))
    }

    /// The rest of [`Arena::malloc_cached_small`] when the thread event fires: the GC, then the
    /// write.
    #[cold]
    #[inline(never)]
    fn gc_then_touch(&mut self, gc_class: usize, id: ObjId, usize: u64, written: u64) -> (ObjId, u64) {
        self.tcache_gc(gc_class);
        self.touch_small(id, usize, written);
        (id, usize)
    }

    /// The rest of [`Arena::malloc_cached_small`] when the write is not to one page already in
    /// the touched-page bitmap.
    #[inline(never)]
    fn touch_then_return(&mut self, id: ObjId, usize: u64, written: u64) -> (ObjId, u64) {
        self.touch_small(id, usize, written);
        (id, usize)
    }

    /// [`Arena::touch_small`] of `written > 0` bytes when they lie on one page within the
    /// touched-page bitmap's words; false, with nothing changed, otherwise.
    #[inline]
    fn touch_one_page(&mut self, id: ObjId, usize: u64, written: u64) -> bool {
        let lg = self.sc.lg_page;
        let start = self.small_start(id >> 1, usize);
        let first = start >> lg;
        first == (start + written - 1) >> lg && self.pac.touched.try_set(first)
    }

    /// `free(ptr)` of a small object into its class's thread-cache stack, when the stack has
    /// room; false (nothing done, or nothing but the double-free check) otherwise.
    ///
    /// The general path in this case: the double-free check, the cache's push, the free's
    /// thread event (`gc_event_dalloc`).
    #[inline]
    pub(super) fn free_cached_small(&mut self, id: ObjId) -> bool {
        let Handle::Small(rid) = Handle::of(id) else {
            return false;
        };
        if self.tcache.is_none() {
            return false;
        }
        let (s, r) = self.region(rid);
        let slab = &self.slabs[s as usize];
        if !slab.in_use(r) {
            double_free(id);
        }
        let class = slab.bin as usize;
        let Some(tc) = self.tcache.as_mut() else {
            return false;
        };
        let Some(usize) = tc.try_push(class, id) else {
            return false;
        };
        if let Some(gc_class) = tc.count_dalloc(usize) {
            self.tcache_gc(gc_class);
        }
        true
    }
}

/// The panic of a free of an object not in use.
#[cold]
#[inline(never)]
fn double_free(id: ObjId) -> ! {
    panic!("double free of object {id}")
}
