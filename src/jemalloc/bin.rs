//! Small-object bins and slabs (`src/arena.c`, `src/bin.c`, `bitmap.h`).
//!
//! One bin per small class. A slab is one extent of `slab_pages` pages cut into `nregs` regions;
//! the lowest free region is used first. The bin allocates from `slabcur`, then from the non-full
//! slab with the lowest (serial number, address), and only then asks the page allocator for a
//! fresh slab. A slab whose last region is freed goes back to the page allocator at once.

use std::collections::BTreeSet;

use super::extent::ExtId;

/// Index of a slab in the arena's slab table.
pub type SlabId = u32;

/// One slab: its extent, class and region bitmap (bit set = region in use).
#[derive(Debug, Clone)]
pub struct Slab {
    pub ext: ExtId,
    pub bin: u16,
    pub nfree: u32,
    /// Ordering key (serial number, first page), fixed for the slab's life.
    pub snad: (u64, u64),
    /// The model's id of region 0 (the slab's regions have consecutive ids); a slab slot keeps
    /// its ids when a later slab of the same bin reuses it.
    pub base: u32,
    bits: Vec<u64>,
}

impl Slab {
    pub fn new(ext: ExtId, bin: u16, nregs: u32, snad: (u64, u64), base: u32) -> Self {
        Slab {
            ext,
            bin,
            nfree: nregs,
            snad,
            base,
            bits: vec![0; (nregs as usize).div_ceil(64)],
        }
    }

    /// Makes this (empty, freed) slab's slot the new slab of extent `ext`, same bin, same ids.
    pub fn reuse(&mut self, ext: ExtId, snad: (u64, u64)) {
        debug_assert!(
            self.bits.iter().all(|&w| w == 0),
            "reused slab has regions in use"
        );
        self.ext = ext;
        self.snad = snad;
    }

    /// First page of the slab (a page number in the model's address space).
    #[inline]
    pub fn first_page(&self) -> u64 {
        self.snad.1
    }

    /// `bitmap_sfu`: takes the lowest free region.
    pub fn take_lowest(&mut self) -> u32 {
        debug_assert!(self.nfree > 0);
        for (w, word) in self.bits.iter_mut().enumerate() {
            if *word != u64::MAX {
                let b = (!*word).trailing_zeros();
                *word |= 1 << b;
                self.nfree -= 1;
                return (w as u32) * 64 + b;
            }
        }
        unreachable!("slab with nfree > 0 has no free region")
    }

    /// Takes the `n` lowest free regions (`n` at most `nfree`), handing each to `f`, lowest
    /// first: `n` [`Slab::take_lowest`]s.
    pub fn take_lowest_n(&mut self, n: u32, mut f: impl FnMut(u32)) {
        debug_assert!(n <= self.nfree);
        let mut left = n;
        for (w, word) in self.bits.iter_mut().enumerate() {
            if left == 0 {
                break;
            }
            // Bits past the last region read as free but come after every region, and
            // `n <= nfree`: only regions are taken.
            let mut free = !*word;
            while free != 0 && left > 0 {
                let b = free.trailing_zeros();
                free &= free - 1;
                *word |= 1 << b;
                f(w as u32 * 64 + b);
                left -= 1;
            }
        }
        self.nfree -= n;
    }

    /// Frees region `r`.
    pub fn release(&mut self, r: u32) {
        let (w, b) = ((r / 64) as usize, r % 64);
        debug_assert!(self.bits[w] & (1 << b) != 0, "double free of a region");
        self.bits[w] &= !(1 << b);
        self.nfree += 1;
    }

    /// Whether region `r` is in use (false for an index past the last region).
    #[inline]
    pub fn in_use(&self, r: u32) -> bool {
        self.bits
            .get((r / 64) as usize)
            .is_some_and(|w| w & (1 << (r % 64)) != 0)
    }

    /// The regions in use, lowest first.
    pub fn regions_in_use(&self) -> impl Iterator<Item = u32> + '_ {
        self.bits.iter().enumerate().flat_map(|(w, &word)| {
            let mut word = word;
            std::iter::from_fn(move || {
                (word != 0).then(|| {
                    let b = word.trailing_zeros();
                    word &= word - 1;
                    w as u32 * 64 + b
                })
            })
        })
    }
}

/// One bin (`bin_t`) with the counters `stats.arenas.<i>.bins.<j>.*` report.
#[derive(Debug, Clone, Default)]
pub struct Bin {
    pub slabcur: Option<SlabId>,
    /// Non-full slabs other than `slabcur`, by (sn, address).
    pub nonfull: BTreeSet<((u64, u64), SlabId)>,
    /// Regions in use, tcache-held ones included (`curregs`).
    pub curregs: u64,
    /// Slabs held by the bin (`curslabs`).
    pub curslabs: u64,
    /// Regions handed out from slabs (`nmalloc`) and returned (`ndalloc`).
    pub nmalloc: u64,
    pub ndalloc: u64,
    /// Fresh slabs taken (`nslabs`).
    pub nslabs: u64,
}

/// One row of the per-bin table, like `malloc_stats_print`'s bins section.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BinRow {
    /// Region size in bytes (`arenas.bin.<j>.size`).
    pub size: u64,
    /// Regions per slab (`arenas.bin.<j>.nregs`).
    pub regions_per_slab: u32,
    /// Pages per slab (`arenas.bin.<j>.slab_size` / page).
    pub slab_pages: u32,
    /// `stats.arenas.<i>.bins.<j>.curslabs`.
    pub curslabs: u64,
    /// `stats.arenas.<i>.bins.<j>.curregs`.
    pub curregs: u64,
    /// `curregs / (curslabs * nregs)`: how full the bin's slabs are.
    pub util: f64,
    pub nmalloc: u64,
    pub ndalloc: u64,
}
