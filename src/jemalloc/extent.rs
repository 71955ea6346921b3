//! Extents: runs of whole pages that the page allocator ([`super::pac::Pac`]) hands out, caches
//! and merges (jemalloc's `edata_t`, `extent_state_t`).
//!
//! Addresses are page numbers in the model's own virtual address space. Mappings are laid out
//! one after the other; since jemalloc never merges across two mappings, only order inside one
//! mapping and the mapping's serial number matter, and both are reproduced exactly.

/// Index of an extent in the page allocator's table (the model's stand-in for an `edata_t *`).
pub type ExtId = u32;
/// "No extent": the end of an LRU list.
pub(super) const NIL: ExtId = ExtId::MAX;

/// jemalloc's `extent_state_t` for extents owned by the page allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtState {
    /// Handed out: a slab or a large allocation (counted in `stats.arenas.<i>.pactive`).
    Active,
    /// Freed, pages still resident (`stats.arenas.<i>.pdirty`).
    Dirty,
    /// Purged with `MADV_FREE`: the kernel may reclaim the pages (`stats.arenas.<i>.pmuzzy`).
    Muzzy,
    /// Purged with `MADV_DONTNEED` or never touched: address space only
    /// (`stats.arenas.<i>.retained`).
    Retained,
}

/// One extent (`edata_t`): its pages, the mapping it came from, its state and, while it sits in a
/// cache, its place in that cache's LRU list.
#[derive(Debug, Clone)]
pub(super) struct Extent {
    /// First page (model virtual page number).
    pub(super) base: u64,
    /// Length in pages.
    pub(super) npages: u64,
    /// Serial number of the mapping the pages came from (`edata_sn`).
    pub(super) sn: u64,
    pub(super) state: ExtState,
    /// First extent of a mapping (`EXTENT_IS_HEAD`): never merged with its lower neighbour.
    pub(super) head: bool,
    /// jemalloc 5.2: the radix tree still marks the extent's first page as a slab's. The marks
    /// of both boundary pages are written when an extent is split, merged or handed out as a
    /// slab; handed out whole as a large extent, only the first page's is rewritten
    /// (`extent_recycle_split`: `rtree_szind_slab_update` of the last page only `if (slab)`);
    /// freeing a slab rewrites neither (`extent_record` clears only the extent's own flag). Eager
    /// coalescing into the dirty cache skips a neighbour whose adjoining page is marked
    /// (`extent_try_coalesce_large`, `inactive_only`, `src/extent.c`).
    pub(super) slab_mark_first: bool,
    /// The same for the extent's last page.
    pub(super) slab_mark_last: bool,
    /// Previous extent in its cache's LRU list (older), or [`NIL`].
    pub(super) lru_prev: ExtId,
    /// Next extent in its cache's LRU list (newer), or [`NIL`].
    pub(super) lru_next: ExtId,
}
