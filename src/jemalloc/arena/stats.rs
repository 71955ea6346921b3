//! The arena's figures: stats with jemalloc's meanings, where the resident bytes are (live,
//! thread cache, pad, slab holes, dirty pages, metadata), and the per-bin table.

use super::obj::{large_id, Handle, Kind, Obj};
use super::Arena;
use crate::jemalloc::base::Base;
use crate::jemalloc::bin::{BinRow, Slab};
use crate::jemalloc::pac::Pac;
use crate::jemalloc::pages::TouchedPages;
use crate::jemalloc::stats::{OwnedBytes, Residency, SampleStats, Stats};
use crate::jemalloc::ObjId;

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

    /// The figures of [`Arena::stats`] a memory sample reads, and only those (the Redis model
    /// samples after every command).
    #[inline]
    pub fn sample_stats(&self) -> SampleStats {
        let page = self.page();
        let mut s = SampleStats {
            allocated: self.small_allocated + self.large_allocated,
            ..SampleStats::default()
        };
        add_pac_sample(&mut s, &self.pac, &self.base, page);
        if let (Some(h), Some(hb)) = (self.huge.as_deref(), self.huge_base.as_ref()) {
            add_pac_sample(&mut s, h, hb, page);
        }
        s
    }

    /// Where the resident bytes are and which of them are on written pages: one walk over the
    /// large objects, the slabs' regions in use and the thread cache, for decompositions (not
    /// for the hot path).
    pub fn residency(&self) -> Residency {
        let page = self.page();
        let mut r = Residency::default();
        // Every object in use, the thread cache's included, counts as live first; the cache's
        // are then moved over.
        let (mut ext_bytes, mut ext_touched) = (0u64, 0u64);
        for o in &self.large {
            let pac = match o.kind() {
                Kind::Free => continue,
                Kind::Large => &self.pac,
                Kind::Huge => self.huge.as_deref().expect("huge arena exists"),
            };
            let (usize, t) = self.large_bytes(o);
            let (fp, np) = (pac.first_page(o.place), pac.npages(o.place));
            let et = pac.touched.count_range(fp, fp + np) * page;
            ext_bytes += np * page;
            ext_touched += et;
            r.pad += np * page - usize;
            r.pad_touched += et - t;
            r.live += usize;
            r.live_touched += t;
        }
        let (mut slab_bytes, mut slab_touched) = (0u64, 0u64);
        let (mut small_inuse, mut small_inuse_touched) = (0u64, 0u64);
        let mut spare = vec![false; self.slabs.len()];
        for &s in self.spare_slabs.iter().flatten() {
            spare[s as usize] = true;
        }
        for (s, _) in self.slabs.iter().zip(spare).filter(|(_, spare)| !spare) {
            let (fp, np) = (s.first_page(), self.pac.npages(s.ext));
            let touched = self.pac.touched.count_range(fp, fp + np);
            slab_bytes += np * page;
            slab_touched += touched * page;
            let c = self.sc.class(s.bin as usize);
            if touched == 0 || touched == np {
                // Every region's bytes are on touched pages, or none are.
                let inuse = (c.nregs - s.nfree) as u64 * c.size;
                small_inuse += inuse;
                small_inuse_touched += if touched == 0 { 0 } else { inuse };
                continue;
            }
            for reg in s.regions_in_use() {
                let (size, t) = self.region_bytes(s, reg);
                small_inuse += size;
                small_inuse_touched += t;
            }
        }
        r.live += small_inuse;
        r.live_touched += small_inuse_touched;
        if let Some(t) = self.tcache.as_ref() {
            for id in t.cached_ids() {
                let (usize, touched) = match Handle::of(id) {
                    Handle::Small(rid) => {
                        let (s, reg) = self.region(rid);
                        self.region_bytes(&self.slabs[s as usize], reg)
                    }
                    Handle::Large(i) => self.large_bytes(&self.large[i as usize]),
                };
                r.tcache += usize;
                r.tcache_touched += touched;
                r.live -= usize;
                r.live_touched -= touched;
            }
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

    /// The bytes of the live objects by owner: `owner_of` names each object's owner (below
    /// `owners`); entry `owners` of the result is the thread cache's objects. Each owner gets
    /// its objects' usable bytes, the pad pages of its large extents, and of each slab it is in
    /// a share of the free regions in proportion to the regions it holds there (the remainder
    /// of the division to the slab's largest holder), written or not; `resident` is the part
    /// on written pages. Summed over the entries, `active` is `stats.active` and `usable`
    /// `stats.allocated`. One walk over every object: for
    /// decompositions, not for the hot path.
    pub fn attribute(&self, owners: usize, owner_of: impl Fn(ObjId) -> usize) -> Vec<OwnedBytes> {
        let page = self.page();
        let cache = owners;
        let mut out = vec![OwnedBytes::default(); owners + 1];
        let cached: std::collections::HashSet<ObjId> = self
            .tcache
            .as_ref()
            .map(|t| t.cached_ids().collect())
            .unwrap_or_default();
        // The slabs holding a cached region, so that the other slabs' regions are not looked up.
        let mut cached_in = vec![false; self.slabs.len()];
        for &id in &cached {
            if let Handle::Small(rid) = Handle::of(id) {
                cached_in[self.region(rid).0 as usize] = true;
            }
        }
        let who = |id: ObjId| {
            if cached.contains(&id) {
                cache
            } else {
                owner_of(id).min(owners - 1)
            }
        };
        for (i, o) in self.large.iter().enumerate() {
            let pac = match o.kind() {
                Kind::Free => continue,
                Kind::Large => &self.pac,
                Kind::Huge => self.huge.as_deref().expect("huge arena exists"),
            };
            let (usize, _) = self.large_bytes(o);
            let (fp, np) = (pac.first_page(o.place), pac.npages(o.place));
            let b = &mut out[who(large_id(i as u32))];
            b.objects += 1;
            b.usable += usize;
            b.active += np * page;
            b.pad += np * page - usize;
            b.resident += pac.touched.count_range(fp, fp + np) * page;
        }
        let mut spare = vec![false; self.slabs.len()];
        for &s in self.spare_slabs.iter().flatten() {
            spare[s as usize] = true;
        }
        // Per slab: each holder's regions and their bytes on written pages.
        let mut held: Vec<(usize, u64, u64)> = Vec::new();
        // The empty slabs kept spare are not active (their pages count as unpurged).
        for (si, (s, _)) in self
            .slabs
            .iter()
            .zip(spare)
            .enumerate()
            .filter(|(_, (_, spare))| !spare)
        {
            let (fp, np) = (s.first_page(), self.pac.npages(s.ext));
            let touched = self.pac.touched.count_range(fp, fp + np);
            let size = self.sc.class(s.bin as usize).size;
            held.clear();
            let any_cached = cached_in[si];
            for reg in s.regions_in_use() {
                let id = self.region_id(si as u32, reg);
                let w = if any_cached {
                    who(id)
                } else {
                    owner_of(id).min(owners - 1)
                };
                let t = if touched == 0 {
                    0
                } else if touched == np {
                    size
                } else {
                    self.region_bytes(s, reg).1
                };
                match held.iter_mut().find(|h| h.0 == w) {
                    Some(h) => {
                        h.1 += 1;
                        h.2 += t;
                    }
                    None => held.push((w, 1, t)),
                }
            }
            let inuse: u64 = held.iter().map(|h| h.1).sum();
            if inuse == 0 {
                continue;
            }
            let holes = np * page - inuse * size;
            let holes_touched = touched * page - held.iter().map(|h| h.2).sum::<u64>();
            let (mut given, mut given_t) = (0, 0);
            for &(w, n, t) in &held {
                let (h, ht) = (holes * n / inuse, holes_touched * n / inuse);
                given += h;
                given_t += ht;
                let b = &mut out[w];
                b.objects += n;
                b.usable += n * size;
                b.active += n * size + h;
                b.holes += h;
                b.resident += t + ht;
            }
            let top = held
                .iter()
                .max_by_key(|h| (h.1, std::cmp::Reverse(h.0)))
                .expect("a holder")
                .0;
            let b = &mut out[top];
            b.active += holes - given;
            b.holes += holes - given;
            b.resident += holes_touched - given_t;
        }
        out
    }

    /// Usable bytes of region `reg` of slab `s`, and how many of them are on touched pages.
    fn region_bytes(&self, s: &Slab, reg: u32) -> (u64, u64) {
        let lg = self.sc.lg_page;
        let size = self.sc.class(s.bin as usize).size;
        let start = (s.first_page() << lg) + reg as u64 * size;
        (size, touched_bytes(&self.pac.touched, lg, start, start + size))
    }

    /// Usable bytes of live large object `o`, and how many of them are on touched pages.
    fn large_bytes(&self, o: &Obj) -> (u64, u64) {
        let lg = self.sc.lg_page;
        let pac = if o.kind() == Kind::Huge {
            self.huge.as_deref().expect("huge arena exists")
        } else {
            &self.pac
        };
        let usize = (o.aux as u64) << lg;
        let start = (pac.first_page(o.place) << lg) + o.offset() as u64;
        (usize, touched_bytes(&pac.touched, lg, start, start + usize))
    }

    /// Bytes of the free regions in the small bins' slabs: over every bin, (slabs x regions
    /// per slab - regions in use) x region size, as Redis 7.4+ sums `stats.arenas.<i>.bins.<j>`
    /// (`zmalloc_get_frag_smallbins`). Objects the thread cache holds count as in use.
    pub fn small_bin_holes(&self) -> u64 {
        self.bins
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let c = self.sc.class(i);
                (b.curslabs * c.nregs as u64 - b.curregs) * c.size
            })
            .sum()
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

/// Adds the figures of page allocator `p` and its base metadata `b` that a sample reads to `s`,
/// as [`add_pac_stats`] adds them to [`Stats`] (`metadata_resident` is the base's resident
/// bytes: what `resident` holds beyond the active and dirty pages).
#[inline]
fn add_pac_sample(s: &mut SampleStats, p: &Pac, b: &Base, page: u64) {
    let meta = b.with_edata(p.nedata_hwm()).resident;
    s.active += p.nactive() * page;
    s.resident += meta + (p.nactive() + p.ndirty()) * page;
    s.metadata_resident += meta;
    s.touched_pages += p.touched.count();
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

#[cfg(test)]
mod tests {
    use crate::jemalloc::{AllocatorConfig, Arena, ArenaOptions, ObjId};

    /// Three 16-B objects and one of 100 B (class 112) without a thread cache: one slab in
    /// each bin, the holes each bin's free regions times its size; freeing two 16-B objects
    /// adds two regions.
    #[test]
    fn small_bin_holes_are_the_free_regions_of_the_slabs() {
        let mut cfg = AllocatorConfig::jemalloc_5_3();
        cfg.tcache.enabled = false;
        let mut a = Arena::new(&cfg, ArenaOptions::default());
        let ids: Vec<ObjId> = (0..3).map(|_| a.malloc(16).unwrap()).collect();
        a.malloc(100).unwrap();
        let sc = a.size_classes();
        let c16 = sc.class(sc.index_of(16).unwrap());
        let c112 = sc.class(sc.index_of(100).unwrap());
        assert_eq!(c112.size, 112);
        let want = (c16.nregs as u64 - 3) * 16 + (c112.nregs as u64 - 1) * 112;
        assert_eq!(a.small_bin_holes(), want);
        a.free(ids[0]);
        a.free(ids[1]);
        assert_eq!(a.small_bin_holes(), want + 32);
    }

    /// Attribution by owner: over random small, large and huge objects with and without a
    /// thread cache, the owners' usable bytes sum to `stats.allocated` and their active bytes
    /// to `stats.active`; each owner's usable bytes are its objects' usable sizes; an owner
    /// alone in a slab gets all its free regions.
    #[test]
    fn attribution_sums_to_the_stats() {
        for tcache in [true, false] {
            let mut cfg = AllocatorConfig::jemalloc_5_3();
            cfg.tcache.enabled = tcache;
            let mut a = Arena::new(&cfg, ArenaOptions::default());
            let mut live: Vec<ObjId> = Vec::new();
            let mut x = 0x2545_f491_4f6c_dd1du64;
            for _ in 0..20_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x % 3 != 0 || live.is_empty() {
                    let size = match x % 100 {
                        0 => 5 << 20,
                        1..=5 => 20_000 + (x >> 40) % 100_000,
                        _ => 8 + (x >> 32) % 2_000,
                    };
                    live.push(a.malloc(size).unwrap());
                } else {
                    let i = (x >> 20) as usize % live.len();
                    a.free(live.swap_remove(i));
                }
            }
            let owner = |id: ObjId| (id as usize / 7) % 3;
            let by = a.attribute(3, owner);
            assert_eq!(by.len(), 4);
            let st = a.stats();
            assert_eq!(by.iter().map(|b| b.usable).sum::<u64>(), st.allocated);
            assert_eq!(by.iter().map(|b| b.active).sum::<u64>(), st.active);
            for (o, b) in by.iter().enumerate().take(3) {
                let usable: u64 = live
                    .iter()
                    .filter(|&&id| owner(id) == o)
                    .map(|&id| a.usable_size(id))
                    .sum();
                assert_eq!(b.usable, usable, "owner {o}, tcache {tcache}");
                assert_eq!(b.active, b.usable + b.pad + b.holes);
                assert!(b.resident <= b.active);
            }
        }
        // One 16-B object alone in its slab: the slab's other regions are its holes.
        let mut cfg = AllocatorConfig::jemalloc_5_3();
        cfg.tcache.enabled = false;
        let mut a = Arena::new(&cfg, ArenaOptions::default());
        a.malloc(16).unwrap();
        let c = a.size_classes().class(a.size_classes().index_of(16).unwrap());
        let by = a.attribute(1, |_| 0);
        assert_eq!((by[0].usable, by[0].holes), (16, (c.nregs as u64 - 1) * 16));
    }

    /// The sample's five figures are the full stats' own, through growth, frees, writes, decay
    /// and purges, with and without a thread cache, objects in the huge arena included.
    #[test]
    fn the_sample_is_the_stats_figures() {
        for tcache in [true, false] {
            let mut cfg = AllocatorConfig::jemalloc_5_3();
            cfg.tcache.enabled = tcache;
            let mut a = Arena::new(&cfg, ArenaOptions::default());
            let page = a.size_classes().page();
            let check = |a: &Arena| {
                let (s, f) = (a.stats(), a.sample_stats());
                assert_eq!(
                    (
                        f.allocated,
                        f.active,
                        f.resident,
                        f.touched_pages,
                        f.metadata_resident
                    ),
                    (
                        s.allocated,
                        s.active,
                        s.resident,
                        s.touched_pages,
                        s.metadata_resident(page)
                    )
                );
            };
            check(&a);
            let mut live: Vec<ObjId> = Vec::new();
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            for i in 0..20_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x % 3 != 0 || live.is_empty() {
                    let size = match x % 100 {
                        0 => 9 << 20,
                        1..=5 => 20_000 + (x >> 40) % 200_000,
                        _ => 8 + (x >> 32) % 2_000,
                    };
                    let id = a.malloc(size).unwrap();
                    a.write(id, 0, size);
                    live.push(id);
                } else {
                    let k = (x >> 20) as usize % live.len();
                    a.free(live.swap_remove(k));
                }
                if i % 997 == 0 {
                    a.advance(3_000_000_000);
                }
                if i % 5_000 == 4_999 {
                    a.purge();
                }
                if i % 101 == 0 {
                    check(&a);
                }
            }
            for id in live {
                a.free(id);
            }
            check(&a);
            a.advance(60_000_000_000);
            check(&a);
        }
    }
}
