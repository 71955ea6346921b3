//! Where the bytes go: `used_memory_rss` split into what the program stored, what Redis added
//! around it, and what the allocator and the process add on top, so that the layers sum to RSS.
//!
//! The split is taken from the model's state at one moment (fragsim takes it at the peak RSS of
//! the median run). Only bytes on pages the program wrote count towards RSS, so each allocator
//! layer is its part on written pages:
//!
//! - the live objects' bytes on written pages are payload, then Redis overhead, then size-class
//!   rounding; when some of an object's bytes are on pages never written (the unwritten tail of a
//!   large object), they are taken from its rounding first;
//! - pad pages, slab holes, thread-cache objects and unpurged pages count where written;
//! - allocator metadata counts whole (jemalloc writes it);
//! - baseline RSS is the rest: the empty process (binary, libraries, stacks, the allocations a
//!   server made while it started) and anything allocated outside the modelled arenas.

use serde::Serialize;

use crate::jemalloc::Residency;

/// The decomposition of `used_memory_rss` at one moment. Every field is bytes; the nine layers
/// sum to `rss`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Breakdown {
    /// Key names and values (hash field names and values) as the client sent them; in a plain
    /// allocator workload, the requested sizes.
    pub payload: u64,
    /// What Redis allocates around the payload: dict entries and tables, robj and sds headers,
    /// expires, client buffers, script caches (its startup allocations are in the baseline).
    pub redis_overhead: u64,
    /// Usable size minus requested size of the live allocations (jemalloc's size classes).
    pub rounding: u64,
    /// The cache-oblivious extra page of each large extent (16 KiB and up), where written.
    pub pad_pages: u64,
    /// Free regions in slabs that hold live objects, where written.
    pub slab_holes: u64,
    /// Freed objects parked in the thread cache, where written (`tcache_bytes`).
    pub tcache: u64,
    /// Freed pages jemalloc has not purged yet (dirty, and muzzy ones the kernel still counts).
    pub dirty_pages: u64,
    /// jemalloc's own metadata (`stats.metadata`, resident part).
    pub metadata: u64,
    /// The empty process: binary, libraries, stacks, the allocations Redis made while it
    /// started, and Lua's heap where it is not in jemalloc.
    pub baseline_rss: u64,
    /// `used_memory_rss` at that moment: the sum of the layers above.
    pub rss: u64,
    /// `used_memory` at that moment (not a layer: zmalloc's count, for context).
    pub used_memory: u64,
    /// `allocator_active` at that moment (not a layer; 0 without Redis, and then left out of
    /// the JSON).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub allocator_active: u64,
    /// `used_memory_startup` (0 without Redis).
    pub used_memory_startup: u64,
    /// Bytes of the values held (string values, hash field names and values; without key
    /// names), as the client sent them. Plain allocator workloads: the requested sizes.
    pub values_payload: u64,
    /// Bytes of `stats.active` the blocks holding those values take (usable size plus pad
    /// pages, written or not).
    pub values_footprint: u64,
    /// Of `redis_overhead`: the structure of the hash, list, set and sorted-set values (their
    /// robj, listpack headers and entry encodings, quicklist nodes, intset headers, dict
    /// structs, tables and entries, skiplist nodes, member sds headers): the bytes their blocks
    /// were requested at (a listpack's bytes in use where it grew in place) minus the bytes the
    /// client sent. 0 without such values (and then left out of the JSON).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub collections: u64,
    /// The same moment by key pattern (Redis scenarios): each key group's part of
    /// `used_memory`, `allocator_active` and RSS, then the shared rows ([`Share::shared`]),
    /// summing to the three figures. Only for Redis runs asked for it (`--by-pattern`:
    /// [`crate::workload::Scenario::by_pattern`]); otherwise empty and left out of the JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_pattern: Vec<Share>,
}

/// One row of the memory by key pattern: a key group's part of the figures at the breakdown's
/// moment, or a shared part. A key group's bytes are those of the blocks its keys' commands
/// made and its keys hold (names, dict entries, objects, values with their structure, TTL
/// entries), each at its size class: the allocator's rounding is the group's, and so are the
/// pad pages of its large blocks and a share of the free regions of each slab its blocks are
/// in (in proportion to the regions they hold there).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Share {
    /// The key group (`[workload.keys.NAME]`), or for a shared row: `server` (the keyspace's
    /// tables, clients' buffers, scripts, latency histograms, Lua's heap), `allocator` (the
    /// thread cache's objects, empty slabs kept spare, unpurged pages, jemalloc's metadata) or
    /// `baseline` (the empty server: what it allocated while starting, and the process around
    /// the heap).
    pub name: String,
    /// How the group's key names are made (its `key_pattern`), when the scenario gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Whether this is a shared row rather than a key group.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
    /// Keys of the group at that moment (0 for shared rows).
    pub keys: u64,
    /// Its part of `used_memory`: the usable size of its blocks (the baseline row: the empty
    /// server's `used_memory`).
    pub used_memory: u64,
    /// Its part of `allocator_active` (`stats.active`): its blocks' usable bytes, pad pages
    /// and slab-hole share.
    pub allocator_active: u64,
    /// Of `allocator_active`: the pad pages of its large blocks.
    pub pad_pages: u64,
    /// Of `allocator_active`: its share of the free regions of the slabs it is in.
    pub slab_holes: u64,
    /// Its part of `used_memory_rss`: its bytes of `allocator_active` on written pages (the
    /// allocator row adds unpurged pages and metadata; the baseline row, the process).
    pub rss: u64,
}

impl Share {
    /// Adds `o`'s keys and bytes to these (rows summed into one).
    pub fn add(&mut self, o: &Share) {
        self.keys += o.keys;
        self.used_memory += o.used_memory;
        self.allocator_active += o.allocator_active;
        self.pad_pages += o.pad_pages;
        self.slab_holes += o.slab_holes;
        self.rss += o.rss;
    }
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

/// The layers in stacking order (bottom first), with display names.
pub const LAYERS: [&str; 9] = [
    "payload",
    "Redis overhead",
    "size-class rounding",
    "pad pages",
    "slab holes",
    "tcache",
    "dirty pages",
    "allocator metadata",
    "baseline RSS",
];

impl Breakdown {
    /// Splits `rss` given the arena's residency, the bytes the program stored (`payload`), the
    /// size-class rounding of the live allocations (usable minus requested, all pages) and the
    /// usable bytes of the live allocations made at startup (`startup`, counted as baseline).
    pub fn compose(rss: u64, payload: u64, rounding: u64, startup: u64, r: &Residency) -> Breakdown {
        let rounding = rounding.min(r.live);
        let unwritten = r.live - r.live_touched;
        let rounding_t = rounding - rounding.min(unwritten);
        let requested_t = r.live_touched - rounding_t;
        let payload = payload.min(requested_t);
        let overhead = requested_t - payload;
        let mut b = Breakdown {
            payload,
            redis_overhead: overhead - overhead.min(startup),
            rounding: rounding_t,
            pad_pages: r.pad_touched,
            slab_holes: r.holes_touched,
            tcache: r.tcache_touched,
            dirty_pages: r.dirty_touched,
            metadata: r.metadata_resident,
            baseline_rss: 0,
            rss,
            used_memory: 0,
            allocator_active: 0,
            used_memory_startup: 0,
            values_payload: 0,
            values_footprint: 0,
            collections: 0,
            by_pattern: Vec::new(),
        };
        let allocator: u64 = b.values()[..8].iter().sum();
        b.baseline_rss = rss.saturating_sub(allocator);
        b
    }

    /// Bytes of `stats.active` per value byte: what storing one byte costs in jemalloc (size
    /// class and pad page); 0 without values.
    pub fn active_per_value_byte(&self) -> f64 {
        if self.values_payload == 0 {
            0.0
        } else {
            self.values_footprint as f64 / self.values_payload as f64
        }
    }

    /// The nine layers' values, in [`LAYERS`] order.
    pub fn values(&self) -> [u64; 9] {
        [
            self.payload,
            self.redis_overhead,
            self.rounding,
            self.pad_pages,
            self.slab_holes,
            self.tcache,
            self.dirty_pages,
            self.metadata,
            self.baseline_rss,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritten_bytes_come_out_of_rounding_first() {
        let r = Residency {
            live: 36_864,
            live_touched: 32_768,
            pad: 4096,
            pad_touched: 4096,
            metadata_resident: 8192,
            ..Residency::default()
        };
        // 30,720 requested of a 32 KiB class: 2,048 rounding + 4,096 unwritten bytes of another
        // object: the rounding goes first, then the requested part.
        let b = Breakdown::compose(1_000_000, 30_000, 2048, 0, &r);
        assert_eq!(b.rounding, 0);
        assert_eq!(b.payload, 30_000);
        assert_eq!(b.redis_overhead, 32_768 - 30_000);
        assert_eq!(b.values().iter().sum::<u64>(), 1_000_000);
        assert_eq!(b.baseline_rss, 1_000_000 - 32_768 - 4096 - 8192);
        // Startup allocations move from the overhead to the baseline.
        let s = Breakdown::compose(1_000_000, 30_000, 2048, 500, &r);
        assert_eq!(s.redis_overhead, b.redis_overhead - 500);
        assert_eq!(s.baseline_rss, b.baseline_rss + 500);
    }
}
