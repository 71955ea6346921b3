//! Small objects: regions of slabs, one bin per small size class (`arena_malloc_small`,
//! `arena_cache_bin_fill_small`, `arena_dalloc_bin_locked_step`, `arena_slab_dalloc`). A bin
//! allocates from its current slab, then from the non-full slab with the lowest (serial number,
//! address), then from a fresh slab from the page allocator.

use super::obj::small_id;
use super::{Arena, ObjId};
use crate::jemalloc::bin::{Slab, SlabId};

impl Arena {
    /// A fresh slab for bin `bin`: an extent of the class's slab size from the page allocator,
    /// in the slot of a freed slab of the bin (whose region ids it takes over) or a new slot
    /// with the next range of region ids.
    fn slab_alloc(&mut self, bin: usize) -> SlabId {
        let c = *self.sc.class(bin);
        let ext = self.pac.alloc(c.slab_pages as u64);
        self.pac.mark_slab(ext);
        let snad = self.pac.snad(ext);
        if let Some(s) = self.spare_slabs[bin].pop() {
            self.slabs[s as usize].reuse(ext, snad);
            return s;
        }
        let s = self.slabs.len() as SlabId;
        let base = self.rids.reserve(c.nregs, s);
        self.slabs.push(Slab::new(ext, bin as u16, c.nregs, snad, base));
        s
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

    /// Makes fresh slab `s` the bin's current slab.
    fn install_fresh(&mut self, bin: usize, s: SlabId) {
        let b = &mut self.bins[bin];
        b.slabcur = Some(s);
        b.nslabs += 1;
        b.curslabs += 1;
    }

    /// The bin's current slab, if it has a free region.
    fn slabcur_has_free(&self, bin: usize) -> Option<SlabId> {
        self.bins[bin]
            .slabcur
            .filter(|&s| self.slabs[s as usize].nfree > 0)
    }

    /// The lowest free region of slab `s`, as a new object.
    fn take_region(&mut self, bin: usize, s: SlabId) -> ObjId {
        let r = self.slabs[s as usize].take_lowest();
        let b = &mut self.bins[bin];
        b.curregs += 1;
        b.nmalloc += 1;
        self.small_allocated += self.sc.class(bin).size;
        self.region_id(s, r)
    }

    /// The `n` lowest free regions of slab `s` as new objects, appended to `out` in that order:
    /// `n` [`Arena::take_region`]s.
    fn take_regions(&mut self, bin: usize, s: SlabId, n: u32, out: &mut Vec<ObjId>) {
        let slab = &mut self.slabs[s as usize];
        let base = slab.base;
        slab.take_lowest_n(n, |r| out.push(small_id(base + r)));
        let b = &mut self.bins[bin];
        b.curregs += n as u64;
        b.nmalloc += n as u64;
        self.small_allocated += n as u64 * self.sc.class(bin).size;
    }

    /// `arena_malloc_small` (no thread cache).
    pub(super) fn malloc_small_direct(&mut self, bin: usize) -> ObjId {
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
    pub(super) fn fill_small(&mut self, bin: usize, nfill: u32) -> Vec<ObjId> {
        let mut out = Vec::with_capacity(nfill as usize);
        let mut fresh: Option<SlabId> = None;
        let mut made_progress = true;
        'refill: loop {
            while (out.len() as u32) < nfill {
                if let Some(s) = self.slabcur_has_free(bin) {
                    let cnt = (nfill - out.len() as u32).min(self.slabs[s as usize].nfree);
                    self.take_regions(bin, s, cnt, &mut out);
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
    /// Region id `rid` must be in use.
    pub(super) fn dalloc_region(&mut self, rid: u32) -> Option<SlabId> {
        let (s, r) = self.region(rid);
        let bin = self.slabs[s as usize].bin as usize;
        self.slabs[s as usize].release(r);
        let nregs = self.sc.class(bin).nregs;
        let nfree = self.slabs[s as usize].nfree;
        let b = &mut self.bins[bin];
        b.curregs -= 1;
        b.ndalloc += 1;
        self.small_allocated -= self.sc.class(bin).size;
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

    /// `arena_slab_dalloc`: an empty slab's extent back to the page allocator's dirty cache.
    pub(super) fn slab_dalloc(&mut self, s: SlabId) {
        let slab = &self.slabs[s as usize];
        let ext = slab.ext;
        self.spare_slabs[slab.bin as usize].push(s);
        self.pac.dalloc(ext);
        self.handle_deferred_work();
    }
}
