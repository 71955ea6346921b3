//! Large objects: one extent each, plus a pad page in a cache-oblivious build
//! (`arena_malloc_large`, `large_dalloc`); requests at or above `opt.oversize_threshold` go to the
//! separate huge arena unless the arena is a manual one.

use super::obj::{Kind, Obj};
use super::{Arena, ObjId};
use crate::jemalloc::base::Base;
use crate::jemalloc::decay::prng_lg_range;
use crate::jemalloc::extent::ExtId;
use crate::jemalloc::pac::{Pac, PacOptions};

impl Arena {
    /// A large object of size class `class` and usable size `usize`, straight from the page
    /// allocator (no thread cache): an extent of the usable size plus the pad page, from the huge
    /// arena when the request reaches the oversize threshold in an automatic arena. In a
    /// cache-oblivious build the object starts at a random cache line of the extent's first page.
    pub(super) fn malloc_large_direct(&mut self, class: usize, usize: u64) -> ObjId {
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
        self.new_large(Obj::new(kind, class as u16, ext, upages as u32, offset))
    }

    /// The huge arena's page allocator, made on first use.
    fn huge_pac(&mut self) -> &mut Pac {
        if self.huge.is_none() {
            // `arena_choose_huge`: created on first use; a positive decay time becomes 0 (purge
            // at once), while -1 (never) and 0 stay as configured.
            let cfg = &self.cfg;
            let mut opts = PacOptions::of_config(cfg, self.seed ^ 0x4855_4745);
            if cfg.dirty_decay_ms > 0 {
                opts.dirty_decay_ms = 0;
            }
            if cfg.muzzy_decay_ms > 0 {
                opts.muzzy_decay_ms = 0;
            }
            self.huge = Some(Box::new(Pac::new(self.sc.clone(), opts)));
            self.huge_base = Some(Base::of(cfg.lg_page, self.sc.nbins(), cfg.release));
        }
        self.huge.as_mut().unwrap()
    }

    /// `large_dalloc`: frees the large object in slot `i` of the large-object table straight
    /// into its page allocator's dirty cache (no thread cache).
    pub(super) fn free_large_direct(&mut self, i: u32) {
        let o = self.large[i as usize];
        self.large_allocated -= (o.aux as u64) << self.sc.lg_page;
        self.drop_large(i);
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
}
