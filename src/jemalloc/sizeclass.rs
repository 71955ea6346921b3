//! Size classes, generated the way jemalloc 5.3 generates them (`src/sc.c: size_classes`).
//!
//! Every class is `2^lg_base + ndelta * 2^lg_delta`, four classes per doubling. Tiny classes come
//! first when the quantum is larger than 8 bytes. A class is *small* (served from slabs) when it is
//! below `4 * page`; the rest are *large* (one extent each). Page-multiple classes ("psz" classes)
//! index the extent caches and the growth sequence.

use serde::Serialize;

/// jemalloc's `SC_LG_NGROUP`: 2^2 = 4 classes per doubling.
pub const LG_NGROUP: u32 = 2;
/// jemalloc's `SC_LG_TINY_MIN`: the smallest class is 8 bytes.
pub const LG_TINY_MIN: u32 = 3;
/// Pointer width of the modelled platform (x86-64, aarch64).
const PTR_BITS: u32 = 64;

/// One size class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SizeClass {
    /// jemalloc's `szind`.
    pub index: usize,
    /// Class size in bytes: what `nallocx`/`malloc_usable_size` return for requests in the class.
    pub size: u64,
    /// Small (slab) or large (own extent).
    pub small: bool,
    /// Small classes: slab size in pages, `lcm(page, size) / page` (`arenas.bin.<i>.slab_size`).
    pub slab_pages: u32,
    /// Small classes: regions per slab (`arenas.bin.<i>.nregs`).
    pub nregs: u32,
    /// Whether the size is a multiple of the page (a "psz" class).
    pub psz: bool,
}

/// The full size-class table of one allocator build.
#[derive(Debug, Clone)]
pub struct SizeClasses {
    pub lg_quantum: u32,
    pub lg_page: u32,
    classes: Vec<SizeClass>,
    /// Sizes of the page-multiple classes, in increasing order (`sz_pind2sz_tab`), plus one
    /// sentinel entry `large_maxclass + page` at index `npsizes`.
    psizes: Vec<u64>,
    nbins: usize,
    /// The class index of every request up to [`LOOKUP_MAXCLASS`] bytes, by `size.div_ceil(8)`
    /// (`sz_size2index_tab`): the classes there are multiples of 8 bytes.
    /// (A fixed-size array, so that the look-up needs no bounds check.)
    lookup: Box<[u8; LOOKUP_LEN]>,
}

/// Largest request [`SizeClasses::index_of`] finds in a table (`SC_LOOKUP_MAXCLASS`).
const LOOKUP_MAXCLASS: u64 = 4096;
/// Entries of the look-up table: one per 8 bytes up to [`LOOKUP_MAXCLASS`], 0 included.
const LOOKUP_LEN: usize = (LOOKUP_MAXCLASS / 8) as usize + 1;

/// Slab size in pages for a region size: the smallest page multiple that the region size divides
/// (jemalloc's `slab_size()` loop). At most 7 pages with four classes per doubling.
fn slab_pages_for(page: u64, reg_size: u64) -> u32 {
    let mut pages = 1u64;
    while (pages * page) % reg_size != 0 {
        pages += 1;
    }
    pages as u32
}

impl SizeClasses {
    /// Generates the table for a quantum of `2^lg_quantum` bytes and pages of `2^lg_page` bytes.
    pub fn new(lg_quantum: u32, lg_page: u32) -> Self {
        assert!((3..=4).contains(&lg_quantum), "lg_quantum must be 3 or 4");
        assert!((12..=16).contains(&lg_page), "lg_page must be 12..=16");
        let page = 1u64 << lg_page;
        let ngroup = 1u32 << LG_NGROUP;
        let mut raw: Vec<(u32, u32, u32)> = Vec::new(); // (lg_base, lg_delta, ndelta)

        let mut lg_base = LG_TINY_MIN;
        let mut lg_delta = lg_base;
        let mut ndelta = 0u32;
        let mut ntiny = 0;
        // Tiny classes: powers of two below the quantum.
        while lg_base < lg_quantum {
            raw.push((lg_base, lg_delta, 0));
            ntiny += 1;
            lg_delta = lg_base;
            lg_base += 1;
        }
        // The first non-tiny (pseudo) group.
        if ntiny != 0 {
            lg_base -= 1;
            ndelta = 1;
            raw.push((lg_base, lg_delta, ndelta));
            lg_base += 1;
            lg_delta += 1;
        }
        while ndelta < ngroup {
            raw.push((lg_base, lg_delta, ndelta));
            ndelta += 1;
        }
        // All remaining groups.
        lg_base += LG_NGROUP;
        while lg_base < PTR_BITS - 1 {
            let limit = if lg_base == PTR_BITS - 2 {
                ngroup - 1
            } else {
                ngroup
            };
            for nd in 1..=limit {
                raw.push((lg_base, lg_delta, nd));
            }
            lg_base += 1;
            lg_delta += 1;
        }

        let small_limit = 1u64 << (lg_page + LG_NGROUP);
        let mut classes = Vec::with_capacity(raw.len());
        let mut psizes = Vec::new();
        let mut nbins = 0;
        for (index, &(lb, ld, nd)) in raw.iter().enumerate() {
            let size = (1u64 << lb) + ((nd as u64) << ld);
            let small = size < small_limit;
            let (slab_pages, nregs) = if small {
                nbins += 1;
                let pages = slab_pages_for(page, size);
                (pages, ((pages as u64 * page) / size) as u32)
            } else {
                (0, 0)
            };
            let psz = size % page == 0;
            if psz {
                psizes.push(size);
            }
            classes.push(SizeClass {
                index,
                size,
                small,
                slab_pages,
                nregs,
                psz,
            });
        }
        let large_max = classes.last().map(|c| c.size).unwrap_or(0);
        psizes.push(large_max + page);
        let mut lookup = Box::new([0u8; LOOKUP_LEN]);
        for (i, slot) in lookup.iter_mut().enumerate() {
            *slot = classes.partition_point(|c| c.size < (i as u64 * 8).max(1)) as u8;
        }
        SizeClasses {
            lg_quantum,
            lg_page,
            classes,
            psizes,
            nbins,
            lookup,
        }
    }

    pub fn page(&self) -> u64 {
        1 << self.lg_page
    }
    /// All classes, small then large.
    pub fn classes(&self) -> &[SizeClass] {
        &self.classes
    }
    #[inline]
    pub fn class(&self, index: usize) -> &SizeClass {
        &self.classes[index]
    }
    /// Number of small classes (`arenas.nbins`).
    pub fn nbins(&self) -> usize {
        self.nbins
    }
    /// Number of large classes (`arenas.nlextents`).
    pub fn nlextents(&self) -> usize {
        self.classes.len() - self.nbins
    }
    /// Largest small class (`SC_SMALL_MAXCLASS`).
    pub fn small_maxclass(&self) -> u64 {
        self.classes[self.nbins - 1].size
    }
    /// Smallest large class (`SC_LARGE_MINCLASS`).
    pub fn large_minclass(&self) -> u64 {
        self.classes[self.nbins].size
    }
    /// Largest class (`SC_LARGE_MAXCLASS`).
    pub fn large_maxclass(&self) -> u64 {
        self.classes.last().unwrap().size
    }
    /// Number of page-multiple classes (`SC_NPSIZES`).
    pub fn npsizes(&self) -> usize {
        self.psizes.len() - 1
    }

    /// The class index a request of `size` bytes lands in (`sz_size2index`); `None` when the
    /// request is larger than the largest class. A request of 0 bytes is served as 1 byte.
    #[inline]
    pub fn index_of(&self, size: u64) -> Option<usize> {
        if let Some(class) = self.index_of_small(size) {
            return Some(class);
        }
        self.index_of_large(size)
    }

    /// [`SizeClasses::index_of`] a request of up to 4 KiB (always a small class: the smallest
    /// page is 4 KiB, and classes below four pages are small), from the table; `None` for a
    /// larger request.
    #[inline]
    pub fn index_of_small(&self, size: u64) -> Option<usize> {
        if size <= LOOKUP_MAXCLASS {
            return Some(self.lookup[size.div_ceil(8) as usize] as usize);
        }
        None
    }

    /// [`SizeClasses::index_of`] a request of more than 4 KiB: a search.
    fn index_of_large(&self, size: u64) -> Option<usize> {
        if size > self.large_maxclass() {
            return None;
        }
        Some(self.classes.partition_point(|c| c.size < size))
    }

    /// Usable size of a request (`nallocx(size, 0)`, `sz_s2u`): what `malloc_usable_size` reports.
    pub fn usable(&self, size: u64) -> Option<u64> {
        self.index_of(size).map(|i| self.classes[i].size)
    }

    /// `sz_psz2ind`: index of the smallest page class that is `>= psz`; `npsizes()` when `psz` is
    /// above the largest class.
    pub fn psz2ind(&self, psz: u64) -> usize {
        debug_assert!(psz > 0);
        if psz > self.large_maxclass() {
            return self.npsizes();
        }
        // jemalloc's arithmetic (sz.h): the group of `psz`'s power of two, then its place in
        // the group; tested equal to a search of the page classes' table.
        let lg_page = self.lg_page;
        let x = 63 - ((psz << 1) - 1).leading_zeros();
        let shift = x.saturating_sub(LG_NGROUP + lg_page);
        let grp = (shift as usize) << LG_NGROUP;
        let lg_delta = if x < LG_NGROUP + lg_page + 1 {
            lg_page
        } else {
            x - LG_NGROUP - 1
        };
        let md = (((psz - 1) >> lg_delta) & ((1 << LG_NGROUP) - 1)) as usize;
        grp + md
    }

    /// `sz_pind2sz`: size of page class `pind` (the sentinel for `npsizes()`).
    pub fn pind2sz(&self, pind: usize) -> u64 {
        self.psizes[pind]
    }

    /// `sz_psz_quantize_floor`: the largest "page class plus pad" not above `size`.
    pub fn psz_quantize_floor(&self, size: u64, pad: u64) -> u64 {
        let pind = self.psz2ind(size - pad + 1);
        if pind == 0 {
            return size;
        }
        self.pind2sz(pind - 1) + pad
    }

    /// `sz_psz_quantize_ceil`: the smallest "page class plus pad" not below `size`.
    pub fn psz_quantize_ceil(&self, size: u64, pad: u64) -> u64 {
        let ret = self.psz_quantize_floor(size, pad);
        if ret < size {
            self.pind2sz(self.psz2ind(ret - pad + 1)) + pad
        } else {
            ret
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page class index by jemalloc's arithmetic is the table's: for every size up to
    /// 4 MiB, and around every page class up to the largest, for each page size.
    #[test]
    fn page_class_index_is_the_tables() {
        for (lg_quantum, lg_page) in [(3, 12), (4, 12), (4, 14), (4, 16)] {
            let sc = SizeClasses::new(lg_quantum, lg_page);
            let table = |psz: u64| sc.psizes[..sc.npsizes()].partition_point(|&s| s < psz);
            for psz in 1..=(4u64 << 20) {
                assert_eq!(sc.psz2ind(psz), table(psz), "{lg_page} {psz}");
            }
            for &p in &sc.psizes[..sc.npsizes()] {
                for psz in [p - 1, p, p + 1] {
                    if psz > 0 && psz <= sc.large_maxclass() {
                        assert_eq!(sc.psz2ind(psz), table(psz), "{lg_page} {psz}");
                    }
                }
            }
        }
    }

    #[test]
    fn counts_match_jemalloc_constants() {
        // SC_NSIZES is 232 for q=16 on 64-bit (sc.h); q=8 adds no tiny class but 3 more
        // quantum-spaced classes (24, 40, 56): 235.
        let q16 = SizeClasses::new(4, 12);
        assert_eq!(q16.classes().len(), 232);
        assert_eq!(q16.nbins(), 36);
        assert_eq!(q16.nlextents(), 196);
        assert_eq!(q16.npsizes(), 199);
        let q8 = SizeClasses::new(3, 12);
        assert_eq!(q8.classes().len(), 235);
        assert_eq!(q8.nbins(), 39);
        assert_eq!(q8.npsizes(), 199);
        // 16 KiB pages: SMALL_MAX = 2^15 + 3*2^13 = 57344, 44 bins; 64 KiB: 229376, 52 bins.
        let p16 = SizeClasses::new(4, 14);
        assert_eq!(p16.nbins(), 44);
        assert_eq!(p16.small_maxclass(), 57344);
        assert_eq!(p16.large_minclass(), 65536);
        let p64 = SizeClasses::new(4, 16);
        assert_eq!(p64.nbins(), 52);
        assert_eq!(p64.small_maxclass(), 229376);
        // SC_LARGE_MAXCLASS = 2^62 + 3*2^60.
        assert_eq!(q16.large_maxclass(), (1u64 << 62) + 3 * (1u64 << 60));
    }

    #[test]
    fn small_and_large_limits_4k() {
        // SMALL_MAX = 2^(12+1) + 3*2^(12-1) = 8192 + 6144 = 14336; LARGE_MIN = 2^(12+2).
        let sc = SizeClasses::new(4, 12);
        assert_eq!(sc.small_maxclass(), 14336);
        assert_eq!(sc.large_minclass(), 16384);
    }

    #[test]
    fn rounding_examples() {
        let sc = SizeClasses::new(4, 12);
        // q=16: the tiny class 8, then multiples of 16 up to 128, then 4 per doubling.
        for (req, want) in [
            (0, 8),
            (1, 8),
            (8, 8),
            (9, 16),
            (17, 32),
            (24, 32),
            (65, 80),
            (130, 160),
            (2000, 2048),
            (14337, 16384),
            (30000, 32768),
            (70000, 81920),
        ] {
            assert_eq!(sc.usable(req), Some(want), "request {req}");
        }
        let q8 = SizeClasses::new(3, 12);
        // q=8 keeps 24, 40 and 56 as classes.
        assert_eq!(q8.usable(24), Some(24));
        assert_eq!(q8.usable(40), Some(40));
        assert_eq!(q8.usable(57), Some(64));
        assert_eq!(sc.usable(u64::MAX), None);
    }

    #[test]
    fn the_lookup_table_agrees_with_the_search() {
        for (lg_quantum, lg_page) in [(3, 12), (4, 12), (3, 14), (4, 16)] {
            let sc = SizeClasses::new(lg_quantum, lg_page);
            for size in 0..=LOOKUP_MAXCLASS + 64 {
                let want = sc.classes.partition_point(|c| c.size < size.max(1));
                assert_eq!(sc.index_of(size), Some(want), "request {size}");
            }
        }
    }

    #[test]
    fn psz_quantization_with_pad() {
        let sc = SizeClasses::new(4, 12);
        let pad = 4096;
        // A 32 KiB object's extent is 36 KiB = 32 KiB class + pad: floor and ceil are itself.
        assert_eq!(sc.psz_quantize_floor(36864, pad), 36864);
        assert_eq!(sc.psz_quantize_ceil(36864, pad), 36864);
        // 40 KiB (not a class + pad: 36 KiB is): floor 36 KiB, ceil 44 KiB (40 KiB class + pad).
        assert_eq!(sc.psz_quantize_floor(40960, pad), 36864);
        assert_eq!(sc.psz_quantize_ceil(40960, pad), 45056);
        // Without pad the page classes are the quantization.
        assert_eq!(sc.psz_quantize_floor(36864, 0), 32768);
        assert_eq!(sc.psz_quantize_ceil(36864, 0), 40960);
    }
}
