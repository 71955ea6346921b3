//! Base (metadata) memory of one arena (`src/base.c`): bump-allocated from blocks that are never
//! returned. An arena's base starts with its own `arena_t` and bins; after that it grows by one
//! 128-byte `edata_t` for each extent structure the arena ever needs at once (extent structures
//! are recycled, never freed back to base).
//!
//! The starting figures were measured on jemalloc 5.3.0 (tikv-jemalloc-sys 0.6.1, x86-64, 4 KiB
//! pages) right after `arenas.create`: `stats.arenas.<i>.base` = 91,152 B, `resident` = 94,208 B,
//! `mapped` = 2 MiB. The per-extent cost (128 B) is `sizeof(edata_t)` = `EDATA_ALIGNMENT`.
//! With quantum 8 (39 bins instead of 36) the arena is 704 B larger: 91,856 B (Redis 7.2's
//! bundled 5.3.0). jemalloc 5.2.1's arena (no `pa_shard_t`) starts at 42,704 B with 39 bins, its
//! `extent_t` is 128 B as well, and the first extent structure starts right after the arena
//! (measured with Redis 7.0's bundled 5.2.1 built by `.ci/build-jemalloc`: resident grows by a
//! page at the 19th, 51st, 83rd structure).

use super::config::Release;

/// Bytes of base metadata right after an arena of jemalloc 5.3 with 36 bins is created.
pub const ARENA_BASE_ALLOCATED: u64 = 91_152;
/// The same for jemalloc 5.2.1 (`arena_t` without the page allocator shard), 36 bins.
const ARENA_BASE_ALLOCATED_5_2: u64 = 42_000;
/// What each bin beyond 36 adds to the arena (`bin_t`, 224 B; the arena rounded to a cache
/// line): 704 B for quantum 8's 39 bins.
const BIN_T_SIZE: u64 = 224;
/// Bump offset of the first free byte of the first block, measured so that the first extent
/// structure crosses into the 24th page as it does in the real allocator.
const FIRST_BLOCK_BUMP: u64 = 94_144;
/// `sizeof(edata_t)`.
pub const EDATA_SIZE: u64 = 128;
/// `sizeof(base_block_t)` (size, next pointer, embedded edata_t).
const BLOCK_HEADER: u64 = 144;

/// Base memory figures (`stats.arenas.<i>.base`, and its share of `resident` and `mapped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BaseStats {
    pub allocated: u64,
    pub resident: u64,
    pub mapped: u64,
}

/// The base allocator of one arena.
#[derive(Debug, Clone)]
pub struct Base {
    lg_page: u32,
    /// Base bytes of the fresh arena.
    allocated0: u64,
    /// Bump offset of the first free byte of the first block.
    bump0: u64,
}

impl Base {
    /// The base of a jemalloc 5.3 arena with 36 bins.
    pub fn new(lg_page: u32) -> Self {
        Base::of(lg_page, 36, Release::V5_3)
    }

    /// The base of an arena with `nbins` small bins, as jemalloc `release` lays it out.
    pub fn of(lg_page: u32, nbins: usize, release: Release) -> Self {
        let extra = (nbins.saturating_sub(36) as u64 * BIN_T_SIZE).next_multiple_of(64);
        match release {
            Release::V5_3 => Base {
                lg_page,
                allocated0: ARENA_BASE_ALLOCATED + extra,
                bump0: FIRST_BLOCK_BUMP,
            },
            Release::V5_2 => Base {
                lg_page,
                allocated0: ARENA_BASE_ALLOCATED_5_2 + extra,
                bump0: ARENA_BASE_ALLOCATED_5_2 + extra,
            },
        }
    }

    fn page_ceil(&self, x: u64) -> u64 {
        x.next_multiple_of(1 << self.lg_page)
    }

    /// Base figures once `nedata` extent structures have been carved from it.
    pub fn with_edata(&self, nedata: u64) -> BaseStats {
        let huge = 2u64 << 20;
        let first = self.bump0.next_multiple_of(EDATA_SIZE);
        let cap0 = (huge - first) / EDATA_SIZE;
        let in0 = nedata.min(cap0);
        let mut st = BaseStats {
            allocated: self.allocated0 + in0 * EDATA_SIZE,
            resident: self
                .page_ceil(first + in0 * EDATA_SIZE)
                .max(self.page_ceil(self.bump0)),
            mapped: huge,
        };
        let mut left = nedata - in0;
        // Later blocks take the page class after the previous block, rounded up to whole huge
        // pages: 2 MiB -> 4 MiB (2.5 MiB rounded), 6 MiB (5 MiB rounded), 8 MiB (7), 10, 12 ...
        let mut block = huge;
        while left > 0 {
            let delta = 1u64 << (63 - block.leading_zeros() - 2);
            block = (block + delta).next_multiple_of(huge);
            let start = BLOCK_HEADER.next_multiple_of(EDATA_SIZE);
            let cap = (block - start) / EDATA_SIZE;
            let n = left.min(cap);
            st.allocated += BLOCK_HEADER + n * EDATA_SIZE;
            st.resident += self.page_ceil(start + n * EDATA_SIZE);
            st.mapped += block;
            left -= n;
        }
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_measured_fresh_arena() {
        let b = Base::new(12);
        let s0 = b.with_edata(0);
        assert_eq!(
            s0,
            BaseStats {
                allocated: 91_152,
                resident: 94_208,
                mapped: 2 << 20
            }
        );
        // Measured: one 8-byte malloc makes 2 extents (the slab and the rest of the 2 MiB
        // mapping): base 91,408, resident 98,304.
        let s2 = b.with_edata(2);
        assert_eq!((s2.allocated, s2.resident), (91_408, 98_304));
    }

    #[test]
    fn matches_measured_5_2_1_arena() {
        // Redis 7.0's bundled 5.2.1 (quantum 8, 39 bins): 42,704 B and 11 pages fresh; the
        // 19th extent structure takes a 12th page, the 51st a 13th.
        let b = Base::of(12, 39, Release::V5_2);
        assert_eq!(
            (b.with_edata(0).allocated, b.with_edata(0).resident),
            (42_704, 45_056)
        );
        assert_eq!(b.with_edata(18).resident, 45_056);
        assert_eq!(
            (b.with_edata(19).allocated, b.with_edata(19).resident),
            (45_136, 49_152)
        );
        assert_eq!(b.with_edata(50).resident, 49_152);
        assert_eq!(b.with_edata(51).resident, 53_248);
        // Redis 7.2's bundled 5.3.0 (39 bins): 91,856 B.
        assert_eq!(Base::of(12, 39, Release::V5_3).with_edata(0).allocated, 91_856);
    }
}
