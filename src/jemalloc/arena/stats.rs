//! The arena's figures: stats with jemalloc's meanings, where the resident bytes are (live,
//! thread cache, pad, slab holes, dirty pages, metadata), and the per-bin table.

use super::obj::Kind;
use super::Arena;
use crate::jemalloc::base::Base;
use crate::jemalloc::bin::BinRow;
use crate::jemalloc::pac::Pac;
use crate::jemalloc::pages::TouchedPages;
use crate::jemalloc::stats::{Residency, Stats};

impl Arena {
    /// Stats with jemalloc's meanings, summed over this arena and its huge arena. Cheap (no
    /// allocation, no walk over bins or objects): the Redis model reads it after every command.
    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            allocated: self.small_allocated + self.large_allocated,
            tcache_bytes: self.tcache.as_ref().map_or(0, |t| t.bytes()),
            ..Stats::default()
        };
        add_pac_stats(&mut s, &self.pac, &self.base, self.page());
        if let (Some(h), Some(hb)) = (self.huge.as_deref(), self.huge_base.as_ref()) {
            add_pac_stats(&mut s, h, hb, self.page());
        }
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
}

/// Adds the page figures of page allocator `p` and its base metadata `b` to `s`.
fn add_pac_stats(s: &mut Stats, p: &Pac, b: &Base, page: u64) {
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

/// Bytes of `[a, b)` that lie on touched pages.
fn touched_bytes(t: &TouchedPages, lg: u32, a: u64, b: u64) -> u64 {
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
