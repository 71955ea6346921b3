//! The Redis 7 server model: each command a client sends is turned into the allocations Redis
//! makes (query buffer, argv, keys, values, dict tables, histograms, scripts), all through the
//! jemalloc model, so that `INFO memory` can be computed the way Redis computes it.
//!
//! One module per part of the server:
//! - `dispatch`: a command's way through the server (`processCommand`, `call`, `beforeSleep`)
//!   and the table of the commands the model runs;
//! - `value`: the shape every value type shares (created, written, converted, freed), which
//!   `string`, `hash`, `list`, `set` and `zset` implement;
//! - `keyspace`: the main and expires dicts, key objects, TTLs, DEL and FLUSHALL;
//! - `client` and `query`: connections, their reply buffer, their query buffer and argv;
//! - `script`: the EVAL script cache;
//! - `cron`: `serverCron` (active expiry, dict resizing, client buffers, memory samples) and
//!   simulated time;
//! - `info`: INFO's allocations and the figures the server passes to
//!   [`InfoMemory::compute`](crate::redis::info::InfoMemory::compute);
//! - `oom`: the DENYOOM table and the `maxmemory` rule;
//! - `error`: what [`Server::exec`] refuses.

mod client;
mod cron;
mod dispatch;
mod error;
mod hash;
mod info;
mod keyspace;
mod keytable;
mod list;
mod nvdict;
mod oom;
mod query;
mod script;
mod set;
mod string;
mod tagindex;
mod value;
mod vktable;
mod zset;

#[cfg(test)]
mod testing;

use std::hash::BuildHasherDefault;

pub use client::ClientId;
pub use dispatch::{command_name, Reply};
pub use error::ServerError;
pub use oom::{OomRefusal, DENYOOM};
pub use query::resp_len;
pub use script::script_sha;
pub use value::BlockKind;

use super::heap::{Alloc, Heap};
use super::profile::RedisProfile;
use client::{Client, PendingReply};
use cron::CronSample;
use dispatch::{Cmd, Rewrite};
use keyspace::Keyspace;
use script::Scripts;
use value::{Draws, Mem};

/// Hash maps with a fixed hasher: the order in which Redis's dicts are walked (FLUSHALL, DEL of
/// many keys) decides the order of frees, so it must not change from one process to the next.
type DetMap<K, V> =
    std::collections::HashMap<K, V, BuildHasherDefault<std::collections::hash_map::DefaultHasher>>;

/// What a run's seed is mixed with to give the seed of the model's dict hash function.
const HASH_SEED_SALT: u64 = 0x6861_7368_5f73_6565;

/// The server model.
#[derive(Debug, Clone)]
pub struct Server {
    /// The Redis build modelled: its structures' sizes, settings and measured baseline.
    pub profile: RedisProfile,
    /// zmalloc on the allocator model: every block the server holds.
    pub heap: Heap,
    /// The keys, their values and their TTLs.
    keyspace: Keyspace,
    /// Whether each command's latency histogram is made (by [`Cmd`] index), and the
    /// histograms' blocks.
    histograms: [bool; Cmd::ALL.len()],
    hist_allocs: Vec<Alloc>,
    /// The EVAL script cache.
    scripts: Scripts,
    /// Connected clients by id (`None`: a slot freed by a disconnect, reused by the next
    /// connect).
    clients: Vec<Option<Client>>,
    now_ns: u64,
    next_cron_ns: u64,
    peak: u64,
    /// `maxmemory` (0: none) under `noeviction`.
    pub maxmemory: u64,
    /// The commands refused under `maxmemory`, in order.
    pub refusals: Vec<OomRefusal>,
    /// The highest `used_memory` any DENYOOM command was checked against (its own argv and query
    /// buffer included): no command is refused with a `maxmemory` at or above it.
    pub max_denyoom_check: u64,
    /// Arena stats once the baseline state is loaded, for deltas on top of the baseline.
    start: crate::jemalloc::Stats,
    /// Usable bytes of the objects that stand for the baseline's small allocations (never
    /// freed): the server's startup heap.
    startup_bytes: u64,
    /// `used_memory` of the client that measures (connected, its `INFO memory` read into its
    /// query buffer): part of the baseline's `used_memory`, which was read by such a client,
    /// but not of the server while a test runs.
    measuring_client: u64,
    /// The cron's last sample of the allocator, RSS and used_memory (what INFO prints for
    /// them); `None` before the first tick (the baseline's own figures are then current).
    cron_sample: Option<CronSample>,
    /// Whether a client has connected since the baseline (a fresh server's first client pages
    /// in code: [`crate::redis::profile::Baseline::first_client_rss`]).
    client_seen: bool,
    /// What the running command's reply holds until `beforeSleep` writes it.
    reply: PendingReply,
    /// A command that rewrote its argv for propagation (`retainOriginalCommandVector`): the
    /// original vector, the new vector that replaced it, and the objects it made (a
    /// millisecond timestamp), all freed after the command.
    rewrite: Rewrite,
    /// The running command's argument objects (a buffer kept from command to command).
    arg_objs: Vec<Option<string::StringValue>>,
    /// The seed of the model's stand-in for Redis's dict hash function (see
    /// `Mem::walk_order`).
    hash_seed: u64,
    /// The key of Redis's own dict hash function (`dict_hash_function_seed`), when it is known
    /// (a live server's, read from its memory by a lockstep test): collection dicts then put
    /// members in the buckets that server does ([`Server::set_dict_hash_key`]).
    dict_key: Option<[u8; 16]>,
    /// The server's own random draws (sorted-set levels, SPOP).
    draws: Draws,
    /// The bytes (RESP) of a reply the running command decided while it ran (the elements a
    /// pop took: see [`query::bulk_reply_len`]), which replace the reply length worked out
    /// before it ran.
    reply_bytes: Option<u64>,
    /// The owner tag of the blocks the next commands make for their keys (see
    /// [`Server::set_owner`]).
    owner: u8,
}

impl Server {
    /// A server as it stands at its profile's baseline. Fails when the profile names an
    /// allocator preset the model does not have ([`ServerError::Profile`]).
    pub fn new(profile: RedisProfile, seed: u64) -> Result<Self, ServerError> {
        let cfg = profile.allocator_config()?;
        let mut heap = Heap::new(&cfg, seed);
        let baseline_objects = heap.arena.preload(
            &profile.baseline.bins,
            profile.baseline.tcache_bytes,
            profile.tcache_lg_fill_div,
            profile.baseline.tcache.as_ref(),
        );
        let startup_bytes = baseline_objects
            .iter()
            .map(|&id| heap.arena.usable_size(id))
            .sum();
        let histograms = Cmd::ALL.map(|c| profile.baseline.commands_seen.iter().any(|n| n == c.name()));
        let peak = profile
            .baseline
            .used_memory
            .max(profile.baseline.used_memory_peak);
        let as_found = profile.baseline.state == super::profile::ServerState::AsFound;
        let mut s = Server {
            profile,
            heap,
            keyspace: Keyspace::new(seed, seed ^ HASH_SEED_SALT),
            histograms,
            hist_allocs: Vec::new(),
            scripts: Scripts::default(),
            clients: Vec::new(),
            now_ns: 0,
            next_cron_ns: cron::first_tick(seed),
            peak,
            maxmemory: 0,
            refusals: Vec::new(),
            max_denyoom_check: 0,
            // Set below, once the baseline state is complete.
            start: crate::jemalloc::Stats::default(),
            startup_bytes,
            measuring_client: 0,
            cron_sample: None,
            client_seen: false,
            reply: PendingReply::default(),
            rewrite: Rewrite::default(),
            arg_objs: Vec::new(),
            hash_seed: seed ^ HASH_SEED_SALT,
            dict_key: None,
            draws: Draws::new(seed),
            reply_bytes: None,
            owner: crate::redis::heap::TAG_SERVER,
        };
        // The measuring client: createClient's allocations, the empty query buffer replaced by
        // one that holds a 16 KiB read.
        let usable = |n: u64| s.heap.arena.usable_size_of(n).unwrap_or(n);
        let allocs = &s.profile.client_allocations;
        s.measuring_client = allocs[..allocs.len().saturating_sub(1)]
            .iter()
            .map(|&n| usable(n))
            .sum::<u64>()
            + usable(s.first_read_request());
        // An as-found baseline was measured after clients had come and gone (calibration's own
        // connections): their buffers sit in the thread cache. Replay one such visit, then take
        // the zero point. A fresh server has seen no client yet.
        if as_found {
            s.measurement_traffic();
        }
        s.start = s.heap.arena.stats();
        s.heap.zmalloc_used = 0;
        s.heap.set_tag(crate::redis::heap::TAG_SERVER);
        Ok(s)
    }

    /// Bytes of key names and values held, as the client sent them (hashes: field names and
    /// values): the payload layer of [`crate::sim::Breakdown`].
    pub fn payload_bytes(&self) -> u64 {
        self.keyspace.payload_bytes()
    }

    /// The values held (string values, hash field names and values) as (bytes the client sent,
    /// bytes of `stats.active` the blocks holding them take: usable size plus pad pages). Their
    /// quotient is what a stored byte costs in jemalloc: the size-class sawtooth.
    pub fn value_footprint(&self) -> (u64, u64) {
        self.keyspace.value_footprint(&self.heap.arena)
    }

    /// The structure of the hash, list, set and sorted-set values the keyspace holds: (the
    /// bytes their blocks were requested at, each listpack at its bytes in use; the part of
    /// those that is listpack growth in place, within blocks already large enough, which
    /// `zmalloc_used - zmalloc_requested` counts as size-class rounding; the bytes the client
    /// sent that the values hold).
    pub fn collection_structure(&self) -> (u64, u64, u64) {
        self.keyspace.collection_structure(&self.profile)
    }

    /// The live blocks' bytes by owner tag ([`crate::redis::heap::TAG_STARTUP`],
    /// [`crate::redis::heap::TAG_SERVER`], key group `g` at `TAG_GROUP0 + g`,
    /// [`crate::redis::heap::TAG_OTHER`]; 256 entries), then the thread cache's objects (entry
    /// 256): see [`crate::jemalloc::Arena::attribute`]. With them, the keys by owner tag.
    pub fn by_owner(&self) -> (Vec<crate::jemalloc::OwnedBytes>, Vec<u64>) {
        let bytes = self.heap.arena.attribute(256, |id| self.heap.tag_of(id) as usize);
        (bytes, self.keyspace.keys_by_tag(&self.heap))
    }

    /// Usable bytes of the allocations the server made while it started (the profile's
    /// baseline bins): part of the empty server's RSS.
    pub fn startup_bytes(&self) -> u64 {
        self.startup_bytes
    }

    /// `used_memory` now, as the server counts it while a test runs (the measuring client of
    /// the baseline is not connected).
    pub fn used_memory(&self) -> u64 {
        self.profile
            .baseline
            .used_memory
            .saturating_sub(self.measuring_client)
            + self.heap.zmalloc_used
    }

    /// Makes the collection dicts that follow their members' buckets exactly (Redis 7.2+'s
    /// sets without dict entries) hash members as a server whose `dict_hash_function_seed`
    /// (redis 7.2.6 `src/dict.c`) is `key` does, with SipHash-1-2 ([`crate::redis::siphash`]),
    /// instead of the model's own hash under the run's seed. For tests that run the same
    /// commands on a live server and read its seed: which members share a bucket, and so which
    /// take a `dictEntryNoValue`, is then that server's. Set it before the first command.
    pub fn set_dict_hash_key(&mut self, key: [u8; 16]) {
        self.dict_key = Some(key);
    }

    /// The dict hash key [`Server::set_dict_hash_key`] gave, if any.
    pub fn dict_hash_key(&self) -> Option<[u8; 16]> {
        self.dict_key
    }

    /// Where the keyspace is a hashtable (Valkey 8.1+): what `MEMORY STATS` prints as
    /// `overhead.db.hashtable.lut` (both tables' structs, buckets and child buckets, bytes; 0
    /// before the keyspace table exists) and the child buckets among them. `None` for the
    /// dict layouts.
    pub fn keyspace_hashtables(&self) -> Option<(u64, u64)> {
        self.keyspace.hashtables(&self.profile)
    }

    /// Whether the cron's next look would resize one of the keyspace's hashtables (Valkey
    /// 8.1+: a full table grows, one filled to 13 % or less shrinks, `kvstoreTryResizeHashtables`),
    /// so that what the next command does depends on whether the cron comes first. False for
    /// the dict layouts.
    pub fn keyspace_resize_due(&self) -> bool {
        self.keyspace.hashtable_resize_due(&self.profile)
    }

    /// Number of keys.
    pub fn dbsize(&self) -> u64 {
        self.keyspace.key_count()
    }

    /// Simulated time, ns.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Allocator stats of the model's arena alone (without the baseline).
    pub fn arena_stats(&self) -> crate::jemalloc::Stats {
        self.heap.arena.stats()
    }

    /// The heap, with what a value's allocations depend on.
    fn mem(&mut self) -> Mem<'_> {
        Mem {
            heap: &mut self.heap,
            profile: &self.profile,
            hash_seed: self.hash_seed,
            dict_key: self.dict_key,
            draws: &mut self.draws,
        }
    }

    /// The keyspace and the heap it allocates from.
    fn keyspace_mem(&mut self) -> (&mut Keyspace, Mem<'_>) {
        let mem = Mem {
            heap: &mut self.heap,
            profile: &self.profile,
            hash_seed: self.hash_seed,
            dict_key: self.dict_key,
            draws: &mut self.draws,
        };
        (&mut self.keyspace, mem)
    }
}
