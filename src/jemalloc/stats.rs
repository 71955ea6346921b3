//! Allocator statistics with jemalloc's meanings, plus the kernel's view (touched pages).

use serde::Serialize;

/// A snapshot of allocator stats, in bytes unless the name says pages. Each field predicts the
/// named jemalloc figure for the modelled arenas (`stats.arenas.<i>.*`, and `stats.*` when the
/// arenas are the process's only ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// `stats.allocated`: bytes in live regions and large objects at their size class, objects
    /// held in the thread cache included. Redis: `allocator_allocated`.
    pub allocated: u64,
    /// `stats.active`: pages of active extents (slabs and large extents with their pad), in bytes.
    /// Redis: `allocator_active`.
    pub active: u64,
    /// `stats.resident`: base metadata pages + active + dirty pages, in bytes (muzzy excluded).
    /// Redis: `allocator_resident`.
    pub resident: u64,
    /// `stats.mapped`: base blocks + active + dirty + muzzy, in bytes.
    pub mapped: u64,
    /// `stats.retained`: virtual memory kept but purged, in bytes.
    pub retained: u64,
    /// `stats.metadata`: base allocations (arena structures, extent structures).
    pub metadata: u64,
    /// `stats.arenas.<i>.pdirty`: pages freed and not yet purged.
    pub dirty_pages: u64,
    /// `stats.arenas.<i>.pmuzzy`: pages given MADV_FREE and not yet reclaimed.
    pub muzzy_pages: u64,
    /// `stats.arenas.<i>.tcache_bytes`: bytes of objects held in the thread cache.
    pub tcache_bytes: u64,
    /// Pages the application wrote that have not been purged since: the allocator's share of the
    /// kernel's RSS (`used_memory_rss` minus the process baseline). No jemalloc stat has this.
    pub touched_pages: u64,
    /// Pages purged so far (`stats.arenas.<i>.dirty_purged + muzzy_purged`).
    pub purged_pages: u64,
}

impl Stats {
    /// Resident base metadata, bytes: what `resident` holds beyond active and dirty pages.
    pub fn metadata_resident(&self, page: u64) -> u64 {
        self.resident - self.active - self.dirty_pages * page
    }
}

/// The five figures of [`Stats`] a memory sample reads (Redis's cron and a run's RSS), without
/// the rest: [`Arena::sample_stats`](crate::jemalloc::Arena::sample_stats) is read after every
/// simulated command. Each field equals the [`Stats`] figure of the same name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SampleStats {
    /// [`Stats::allocated`]: `stats.allocated`, Redis's `allocator_allocated`.
    pub allocated: u64,
    /// [`Stats::active`]: `stats.active`, Redis's `allocator_active`.
    pub active: u64,
    /// [`Stats::resident`]: `stats.resident`, Redis's `allocator_resident`.
    pub resident: u64,
    /// [`Stats::touched_pages`]: pages written and not purged since (the allocator's share of
    /// RSS).
    pub touched_pages: u64,
    /// [`Stats::metadata_resident`]: resident base metadata, bytes.
    pub metadata_resident: u64,
}

/// The bytes one owner's live objects take (see [`crate::jemalloc::Arena::attribute`]): what
/// the objects hold, the pages they take, and the part of those pages the program wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OwnedBytes {
    /// Objects.
    pub objects: u64,
    /// Usable bytes of the objects (size-class sizes): their part of `stats.allocated`.
    pub usable: u64,
    /// Their part of `stats.active`: the usable bytes, the pad page of each large extent, and
    /// a share of the free regions of each slab they are in (in proportion to the slab's
    /// regions they hold).
    pub active: u64,
    /// Of `active`: the large extents' pad pages.
    pub pad: u64,
    /// Of `active`: the slab holes' share.
    pub holes: u64,
    /// Of `active`: the bytes on pages the program has written (their part of RSS).
    pub resident: u64,
}

impl OwnedBytes {
    /// Adds `o`'s bytes to these.
    pub fn add(&mut self, o: &OwnedBytes) {
        self.objects += o.objects;
        self.usable += o.usable;
        self.active += o.active;
        self.pad += o.pad;
        self.holes += o.holes;
        self.resident += o.resident;
    }
}

/// Where the arena's resident bytes are, and how many of them sit on pages the program has
/// written (the part the kernel counts in RSS). Each pair is (bytes, of which on touched pages).
/// `live + tcache + pad + holes` is `stats.active`; `live + tcache` is `stats.allocated`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Residency {
    /// Usable bytes of the objects the program holds (size-class sizes).
    pub live: u64,
    pub live_touched: u64,
    /// Usable bytes of objects parked in the thread cache (`tcache_bytes`).
    pub tcache: u64,
    pub tcache_touched: u64,
    /// Bytes of large extents outside their object: the cache-oblivious pad page, split between
    /// the head (before the randomised offset) and the tail.
    pub pad: u64,
    pub pad_touched: u64,
    /// Free regions of slabs in use (`active - allocated - pad`).
    pub holes: u64,
    pub holes_touched: u64,
    /// Freed pages not yet purged (dirty, and muzzy, which the kernel still counts), in bytes;
    /// `touched` is the part in RSS.
    pub dirty: u64,
    pub dirty_touched: u64,
    /// Resident base metadata (arena structures, extent structures, rtree), bytes.
    pub metadata_resident: u64,
}
