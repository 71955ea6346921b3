//! What the allocator model refuses besides a request ([`super::AllocError`]): options jemalloc
//! would not accept, a thread-cache state that does not fit the thread cache, and (model bugs,
//! found by the tests' invariant checks) an arena whose bookkeeping disagrees with itself.

use super::config::DecayMs;
use super::extent::ExtId;

/// An allocator option, or a thread-cache state read from a file, that jemalloc could not have.
/// `Display` names the option or the state's field and the values it may take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `lg_quantum` is not 3 or 4 ([`super::AllocatorConfig::validate`]).
    #[error("lg_quantum must be 3 or 4, not {0}")]
    LgQuantum(u32),
    /// `lg_page` is not 12, 14 or 16 ([`super::AllocatorConfig::validate`]).
    #[error("lg_page must be 12, 14 or 16, not {0}")]
    LgPage(u32),
    /// A decay time below -1 ([`super::AllocatorConfig::validate`]).
    #[error("{option} must be -1, 0 or a positive number of ms, not {ms}")]
    DecayMs {
        /// `dirty_decay_ms` or `muzzy_decay_ms`.
        option: &'static str,
        ms: DecayMs,
    },
    /// `lg_hugepage` below `lg_page` ([`super::AllocatorConfig::validate`]).
    #[error("lg_hugepage must not be below lg_page")]
    HugepageBelowPage,
    /// A thread-cache state whose next GC bin is past the last cached class
    /// ([`super::TcacheState::check`]).
    #[error("next_gc_bin = {bin} is not a thread-cache bin (0 to {last})")]
    NextGcBin {
        bin: usize,
        /// The last bin of the thread cache.
        last: usize,
    },
    /// A thread-cache state listing a size that is not a cached size class
    /// ([`super::TcacheState::check`]).
    #[error("bins: {0} is not the size of a cached size class")]
    UncachedSize(u64),
    /// A thread-cache bin state out of its bin's range: more objects than it holds, a low-water
    /// mark above its count, a fill divisor above 16, or a refill flag not 0 or 1
    /// ([`super::TcacheState::check`]).
    #[error(
        "bins: [{size}, {ncached}, {low_water}, {lg_fill_div}, {refilled}] is not a state of the {size} B bin (ncached 0 to {max}, low_water at most ncached, lg_fill_div 0 to 16, refilled 0 or 1)"
    )]
    BinState {
        size: u64,
        ncached: u64,
        low_water: u64,
        lg_fill_div: u64,
        refilled: u64,
        /// The bin's capacity (`ncached_max`).
        max: u64,
    },
}

/// The model's bookkeeping disagreeing with itself: a bug in the model, never in its input.
/// Returned by [`super::Arena::check_invariants`] and [`super::pac::Pac::check_invariants`],
/// which the tests call after every step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvariantError {
    /// The page allocator's index by base page points at an extent that starts elsewhere.
    #[error("extent {id} indexed at {indexed} but starts at {starts}")]
    Misindexed { id: ExtId, indexed: u64, starts: u64 },
    /// Two extents share pages.
    #[error("extent at page {0} overlaps the previous one")]
    Overlap(u64),
    /// The pages of the extents in each state (active, dirty, muzzy, retained) are not what the
    /// page counters and caches say.
    #[error(
        "page counts disagree: extents say {}/{}/{}/{}, caches say {}/{}/{}/{}",
        .extents[0], .extents[1], .extents[2], .extents[3],
        .counted[0], .counted[1], .counted[2], .counted[3]
    )]
    PageCounts {
        /// Pages of the extents, by state: active, dirty, muzzy, retained.
        extents: [u64; 4],
        /// The counters' and caches' pages, in the same order.
        counted: [u64; 4],
    },
    /// The extents do not tile the address space mapped so far.
    #[error("pages not conserved: active + dirty + muzzy + retained != mapped space")]
    PagesNotConserved,
    /// The arena's stats out of order: allocated <= active <= mapped must hold.
    #[error("allocated {allocated} <= active {active} <= mapped {mapped} violated")]
    StatsOrder {
        allocated: u64,
        active: u64,
        mapped: u64,
    },
    /// A bin counting more regions in use than its slabs have.
    #[error("bin {0}: more regions than its slabs hold")]
    BinOverfull(usize),
    /// The running totals of small allocated bytes or of the thread cache's bytes and objects
    /// differ from the sums over the bins and the cache.
    #[error("running totals of small or thread-cache bytes disagree with the bins and the cache")]
    RunningTotals,
}
