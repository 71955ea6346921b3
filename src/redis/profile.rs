//! Redis server profiles: the sizes, thresholds and baselines that decide what a Redis build
//! allocates. Built-in profiles live as TOML files next to this module, each number with its
//! source; `fragsim calibrate` writes the same format from a live server.

use serde::{Deserialize, Serialize};

pub use super::error::{ProfileError, ProfileProblem};
use crate::jemalloc::AllocatorConfig;

/// Which state of the server a baseline describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    /// Freshly started: the workload is the first traffic the server sees (apart from commands
    /// it had already run before calibration, which stay). Its thread cache still holds what
    /// startup left in it, and no command of fragsim's own has made a latency histogram.
    #[default]
    Fresh,
    /// As `fragsim calibrate` leaves it: warmed up by client traffic (its own connections and
    /// commands, their latency histograms made, the thread cache's idle objects given back by
    /// its garbage collection). The state `validate` predicts when it calibrates the server it
    /// replays into.
    AsFound,
}

impl ServerState {
    /// The name scenario files use (`[server] state`).
    pub fn name(self) -> &'static str {
        match self {
            ServerState::Fresh => "fresh",
            ServerState::AsFound => "as_found",
        }
    }
}

/// What an idle server reports, measured the way fragsim measures: a fresh connection sends one
/// `INFO memory` after every other client has disconnected. The model adds its predictions to
/// these figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Which state these figures describe (fresh by default).
    #[serde(default)]
    pub state: ServerState,
    /// `used_memory` at the baseline.
    pub used_memory: u64,
    /// `used_memory_peak` at the baseline (a fresh server's peak is its startup's). The model's
    /// `used_memory_peak` starts from the higher of this and `used_memory`.
    #[serde(default)]
    pub used_memory_peak: u64,
    /// `used_memory_startup`.
    pub used_memory_startup: u64,
    /// `mem_clients_normal` at the baseline (the measuring client itself).
    pub clients_normal: u64,
    /// `allocator_allocated`, `allocator_active`, `allocator_resident`.
    pub allocator_allocated: u64,
    pub allocator_active: u64,
    pub allocator_resident: u64,
    /// `used_memory_rss`: code, libraries, stacks and the heap of an idle server.
    pub rss: u64,
    /// `used_memory_vm_eval` (Lua heap) and `used_memory_vm_functions`.
    pub vm_eval: u64,
    pub vm_functions: u64,
    /// `used_memory_functions` (the functions' caches, part of the overhead).
    pub functions_caches: u64,
    /// Commands that already have a latency histogram (`INFO latencystats`): running them again
    /// costs nothing new.
    pub commands_seen: Vec<String>,
    /// Small bins of the running process (`MEMORY MALLOC-STATS`): region size, current regions,
    /// current slabs. New objects fill these slabs' free regions before new slabs are made.
    #[serde(default)]
    pub bins: Vec<(u64, u64, u64)>,
    /// `tcache_bytes` of the process's arena: freed objects the thread cache holds.
    #[serde(default)]
    pub tcache_bytes: u64,
    /// The thread cache of Redis's main thread at this baseline, bin by bin, when it is known:
    /// the objects each bin holds, its marks, and where the incremental GC stands. No INFO or
    /// mallctl figure shows it; every built-in profile's fresh baseline has it from the real
    /// allocation trace of a startup (every allocation, free and realloc, recorded with
    /// `tests/tools/alloc_trace.c`: an LD_PRELOAD shim for Debian's 7.0.15, linked in with
    /// `ld --wrap` for the builds that bundle jemalloc; replayed through the allocator model
    /// by `fragsim::validate::startup_trace`, which then matches the server's
    /// `allocator_allocated` and `tcache_bytes`). Without it the model spreads `tcache_bytes`
    /// over the bins in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcache: Option<crate::jemalloc::TcacheState>,
    /// RSS the first client connection adds to a fresh server: the code and library pages that
    /// accepting a client and running its commands fault in (file-backed pages, measured: 412 KB
    /// of `RssFile` on Debian's 7.0.15 at the first PING, nothing more for SET, FLUSHALL, INFO
    /// or HSET after it). 0 for an as-found baseline, which has served clients.
    #[serde(default)]
    pub first_client_rss: u64,
}

/// A Redis server build as the model needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisProfile {
    pub name: String,
    pub description: String,
    /// `redis_version`.
    pub version: String,
    /// `mem_allocator` as INFO prints it.
    pub mem_allocator: String,
    /// The allocator preset the build links (see `fragsim sizeclasses --preset`).
    pub allocator: String,
    /// Whether the Lua VM allocates through the same jemalloc (Debian's build: yes, so its heap
    /// shows in `allocator_*`; upstream builds: glibc, so only in RSS).
    pub lua_uses_jemalloc: bool,
    /// `sizeof(robj)`, `sizeof(dictEntry)`, `sizeof(dict)` on x86-64.
    pub robj: u64,
    pub dict_entry: u64,
    pub dict: u64,
    /// sds header types (`sdsReqType`, `sdsHdrSize`): `[below length, header bytes]`, in order;
    /// longer strings take the last type's header plus 8. An empty string is never type 5.
    pub sds_types: Vec<(u64, u64)>,
    /// `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`: strings up to this length are embedded in the robj.
    pub embstr_limit: u64,
    /// `OBJ_SHARED_INTEGERS`: integers below it share one object (when no LRU/LFU maxmemory).
    pub shared_integers: i64,
    /// `hash-max-listpack-entries` / `hash-max-listpack-value`.
    pub hash_max_listpack_entries: u64,
    pub hash_max_listpack_value: u64,
    /// `proto-max-bulk-len`: the longest string a client may send (and so the longest value or
    /// hash field a key can hold); Redis refuses longer ones. 512 MiB by default.
    #[serde(default = "default_proto_max_bulk_len")]
    pub proto_max_bulk_len: u64,
    /// `DICT_HT_INITIAL_SIZE`: buckets of a table's first allocation (8 B each). Tables double
    /// when entries reach the bucket count (load factor 1).
    pub dict_initial_size: u64,
    /// `HASHTABLE_MIN_FILL`: the cron shrinks a keyspace table filled below this percentage.
    pub dict_min_fill_percent: u64,
    /// `PROTO_IOBUF_LEN`: bytes a client reads at once.
    pub query_read_len: u64,
    /// `PROTO_MBULK_BIG_ARG`: bulk arguments at least this long become the value's sds directly.
    pub big_arg: u64,
    /// Allocation sizes `createClient` makes (client struct, reply buffer, lists, dicts).
    pub client_allocations: Vec<u64>,
    /// Allocation sizes of one command's latency histogram (`hdr_init`), made the first time a
    /// command runs (`latency-tracking yes`).
    pub histogram_allocations: Vec<u64>,
    /// Fill divisor, when the model starts, of the thread cache's small bins that the server had
    /// used (`lg_fill_div`: a miss refills `ncached_max >> lg_fill_div` objects, at least one),
    /// for a baseline without a known thread cache (`[baseline.tcache]`); unused bins keep a
    /// fresh thread's 1. An estimate: `MEMORY MALLOC-STATS` over 400 SETs showed the 8 B and
    /// 32 B bins refilling 25 at a time (3), the 16 B and 112 B bins 50 (2).
    pub tcache_lg_fill_div: u32,
    /// The model's thread-cache GC runs every `tcache_gc_incr_bytes x this` bytes of traffic;
    /// 1 is jemalloc's 64 KiB. 2 was a factor fitted when the model started from a guessed
    /// cache; with the real startup cache and Redis's real allocation stream, jemalloc's own
    /// interval matches the server (every built-in profile: 1; Redis 7.0's bundled jemalloc
    /// 5.2.1 collects every 212 cache events instead, which the model does not follow, and 64
    /// KiB still follows that server best).
    pub tcache_gc_interval_scale: u64,
    /// Commands one client sends per second without pipelining, round trip included: how fast a
    /// test process's commands arrive (scenarios may set `workload.commands_per_second`).
    /// `fragsim calibrate` measures it with PINGs; built-in profiles use
    /// [`DEFAULT_COMMANDS_PER_SECOND`].
    #[serde(default = "default_rate")]
    pub commands_per_second: f64,
    /// `sizeof(luaScript)`.
    pub lua_script_struct: u64,
    /// Lua heap bytes a newly compiled script adds, on top of its body length (approximate:
    /// measured as about 0.6 KB for a short script).
    pub lua_heap_per_script: u64,
    /// The collection types' layouts and encoding limits (lists, sets, sorted sets).
    #[serde(default)]
    pub types: TypeLayout,
    /// How this version lays out keys and collections where versions differ (Redis 7.0's
    /// layout when absent).
    #[serde(default)]
    pub layout: ServerLayout,
    /// Whether the server runs in cluster mode (`cluster-enabled yes`): each entry of the
    /// keyspace dict then carries `cluster_entry_metadata` bytes (`clusterDictEntryMetadata`,
    /// the previous and next entry of its slot: 16 B in 7.0), and the baseline holds the
    /// cluster's own state.
    #[serde(default)]
    pub cluster: bool,
    #[serde(default = "default_cluster_entry_metadata")]
    pub cluster_entry_metadata: u64,
    /// A freshly started cluster-mode server of the same build, all 16,384 slots assigned to
    /// it, as its first INFO finds it: the baseline a scenario with `cluster = true` starts
    /// from when the profile itself is not a cluster node's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_baseline: Option<Baseline>,
    /// What the model does not follow yet for this build, one sentence each, with the
    /// workloads it concerns: printed with every prediction it concerns (and kept by `fragsim
    /// calibrate`, which starts from the built-in profile of the server's version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caveats: Vec<Caveat>,
    /// Commands a freshly started server of this build has run by itself before any client
    /// connects (`INFO commandstats`: name and calls), such as Valkey 9.1's Lua engine reading
    /// `lua-enable-insecure-api` with `CONFIG GET`, once per engine (`engine_lua.c`).
    /// `fragsim calibrate` does not count them against a fresh start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub startup_commands: Vec<(String, u64)>,
    /// The server freshly started ([`ServerState::Fresh`]): what scenarios start from unless
    /// they ask for `state = "as_found"`.
    pub baseline: Baseline,
    /// The server as calibration left it ([`ServerState::AsFound`]), when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_found: Option<Baseline>,
}

/// The words a [`Caveat`] may name in `when`: a key type, cluster mode, or values of 8 KB and
/// more.
pub const CAVEAT_WHEN: &[&str] = &["string", "hash", "list", "set", "zset", "cluster", "big-values"];

/// Something the model does not follow yet for a build, in one sentence, and the workloads it
/// concerns. In TOML, a plain string concerns every workload; `{ when = ["list", "cluster"],
/// text = "..." }` only those that use one of the words of [`CAVEAT_WHEN`]: keys of that type,
/// cluster mode (`cluster`), or a value or element of 8 KB or more (`big-values`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Caveat {
    /// Every workload.
    Always(String),
    /// The workloads that use one of `when`.
    When { when: Vec<String>, text: String },
}

impl Caveat {
    /// The sentence.
    pub fn text(&self) -> &str {
        match self {
            Caveat::Always(t) | Caveat::When { text: t, .. } => t,
        }
    }

    /// Whether a workload that uses the [`CAVEAT_WHEN`] words `uses` is concerned.
    pub fn concerns(&self, uses: &[&str]) -> bool {
        match self {
            Caveat::Always(_) => true,
            Caveat::When { when, .. } => when.iter().any(|w| uses.contains(&w.as_str())),
        }
    }
}

/// How a build lays out lists, sets and sorted sets: struct sizes on x86-64 and the encoding
/// limits (`CONFIG GET`). The defaults are Redis 7.0's (redis/redis tag 7.0.15: `src/quicklist.h`,
/// `src/server.h`, `src/intset.h`, `src/config.c`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeLayout {
    /// `list-max-listpack-size`: a quicklist node's listpack holds at most this many entries
    /// when positive; when negative (-1 to -5), at most 4, 8, 16, 32 or 64 KiB. Default -2.
    pub list_max_listpack_size: i64,
    /// `list-compress-depth`: nodes at either end left uncompressed (0: no compression).
    pub list_compress_depth: u64,
    /// `set-max-intset-entries`: a set of integers stays an intset up to this many members.
    pub set_max_intset_entries: u64,
    /// `set-max-listpack-entries` / `set-max-listpack-value` (Redis 7.2+, with
    /// [`ServerLayout::set_listpack`]): a set of strings stays a listpack up to this many
    /// members, each at most this many bytes (128 and 64 by default: redis 7.2.6
    /// `src/config.c`).
    #[serde(default = "default_set_max_listpack_entries")]
    pub set_max_listpack_entries: u64,
    #[serde(default = "default_set_max_listpack_value")]
    pub set_max_listpack_value: u64,
    /// `zset-max-listpack-entries` / `zset-max-listpack-value`: a sorted set stays a listpack up
    /// to this many members, each at most this many bytes.
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
    /// `sizeof(quicklist)`, `sizeof(quicklistNode)`. A 7.0 node is 40 B (prev, next and
    /// listpack pointers, the listpack's byte count as a `size_t`, 32 bits of count and flags;
    /// 6.2's was 32 B, its byte count an `unsigned int`): 7.0.15 counts 40 per node in MEMORY
    /// USAGE and spends a 48-B class on it.
    pub quicklist: u64,
    pub quicklist_node: u64,
    /// `sizeof(zset)` (dict and skiplist pointers), `sizeof(zskiplist)`.
    pub zset: u64,
    pub zskiplist: u64,
    /// `sizeof(zskiplistNode)` without its levels, and bytes per level (`zskiplistLevel`).
    pub zskiplist_node: u64,
    pub zskiplist_level: u64,
    /// `sizeof(intset)`: the encoding and length header before the members.
    pub intset_header: u64,
}

impl Default for TypeLayout {
    fn default() -> Self {
        TypeLayout {
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            set_max_intset_entries: 512,
            set_max_listpack_entries: default_set_max_listpack_entries(),
            set_max_listpack_value: default_set_max_listpack_value(),
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            quicklist: 40,
            quicklist_node: 40,
            zset: 16,
            zskiplist: 32,
            zskiplist_node: 24,
            zskiplist_level: 16,
            intset_header: 8,
        }
    }
}

/// The hash table a build keeps keys and collection members in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    /// Redis's `dict` (Redis 7.x-8.x, Valkey 8.0): a table of 8-B bucket pointers, each to a
    /// chain of `dictEntry` blocks, doubling at load 1 and rehashed incrementally.
    #[default]
    Dict,
    /// Valkey 8.1+'s `hashtable` (`src/hashtable.c`): 64-B buckets of 7 slots holding the
    /// elements' pointers directly, child buckets on overflow.
    Hashtable,
}

/// What differs between server versions in how keys and collections are laid out. Every field
/// off is Redis 7.0's layout; each one names the version that introduced it and its source.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerLayout {
    /// The keyspace's, expires' and collections' table (`table = "hashtable"`: Valkey 8.1+).
    pub table: TableKind,
    /// Valkey 8.0: the key name lives in its dict entry's block (`dictEntryEmbedded`: value
    /// and next pointers, a header-size byte, then the name with the sds header it arrived
    /// with), instead of an entry and a separate sds (valkey 8.0.1 `src/dict.c`).
    pub entry_embeds_key: bool,
    /// Valkey 8.1+: the value object carries its key name (and room for an expire time) in its
    /// own block (`objectSetKeyAndExpire`, valkey 8.1.1 `src/object.c`); the table holds the
    /// object's pointer.
    pub object_embeds_key: bool,
    /// Valkey 9.1: a short string value sits in the object's block in place of its `ptr`
    /// word (`hasembval`, valkey 9.1.2 `src/object.c`).
    pub object_embeds_value: bool,
    /// Redis 7.2+: small sets of strings are listpacks (`set-max-listpack-entries`/`-value`,
    /// 128 and 64 by default; redis 7.2 `src/t_set.c`).
    pub set_listpack: bool,
    /// Redis 7.2+: a hashtable set's dict stores each member's sds in its bucket, with no
    /// dictEntry unless the bucket is taken (`no_value`, `keys_are_odd`: redis 7.2
    /// `src/dict.c`).
    pub set_dict_no_value: bool,
    /// Redis 7.2+: small lists are a bare listpack, a quicklist only past one node's limit,
    /// and a listpack again when one node within half the limit is left (redis 7.2
    /// `src/t_list.c`, `listTypeTryConversion`); `listTypeIterator` is 32 bytes (its `lpi`).
    /// Predicts `used_memory` and `MEMORY USAGE` of lists (modelled in `server/list.rs`).
    pub list_listpack: bool,
    /// Redis 7.4+: dicts shrink as entries are deleted, at 1/8 fill, rather than only from the
    /// cron at 10 % (`dictShrinkIfNeeded`, redis 7.4 `src/dict.c`).
    pub dict_shrink_on_delete: bool,
    /// Redis 7.4+, Valkey 8.0+: the cron's upkeep of the keyspace tables
    /// (`kvstoreTryResizeDicts`) grows a table whose entries have reached its buckets, as well
    /// as shrinking one, so an idle keyspace of 2^k keys sits in 2^(k+1) buckets.
    pub cron_expands_tables: bool,
    /// Redis 7.4+, Valkey 8.0+: in cluster mode, one table per hash slot (`kvstore`) instead of
    /// one table whose entries carry the slot's key list: the entries carry no slot links, and
    /// where the keyspace is a dict each slot's dict comes and goes with its keys (see
    /// `src/redis/server/keyspace/kvstore.rs`).
    pub per_slot_tables: bool,
    /// Bytes a slot's dict of the expires takes where each slot has its own
    /// ([`ServerLayout::per_slot_tables`], cluster mode): `sizeof(dict)` plus the kvstore's
    /// per-dict metadata (`dictCreate` with `kvstoreDictMetadataSize`). Redis 7.4.1: 56 + 8
    /// (the rehashing list's node pointer); Redis 8.0.6: 56 + 8 (`kvstoreDictMetaBase`);
    /// Valkey 8.0.1: 56 + 16 (the node and the kvstore's pointer) (`src/dict.h`,
    /// `src/kvstore.c`). 0 where the profile does not say.
    pub kvstore_dict: u64,
    /// The same for a slot's dict of the keys, where it differs: Redis 8.0.6 gives the keys'
    /// kvstore `KVSTORE_ALLOC_META_KEYS_HIST`, so each of its dicts carries a key-size
    /// histogram (`kvstoreDictMetaEx`: 8 + 5 x 60 x 8 B): 56 + 2,408 (`src/kvstore.c`,
    /// `src/kvstore.h`, `src/server.c`). 0: as [`ServerLayout::kvstore_dict`].
    pub kvstore_keys_dict: u64,
    /// Redis 7.4+, Valkey 8.0+: `allocator_frag_ratio` is the small bins' free regions over
    /// `allocator_allocated`, plus 1 (`zmalloc_get_frag_smallbins`, redis 7.4 `src/object.c`
    /// `getMemoryOverheadData`), not `allocator_active / allocator_allocated`; the active
    /// defragmenter reads the same figure.
    pub frag_ratio_small_bins: bool,
    /// Redis 7.4+: `FLUSHALL SYNC` and `FLUSHDB SYNC` run as a blocking ASYNC: the lazy-free
    /// thread frees the old keyspace while the client waits, and the main thread does not purge
    /// (redis 7.4 `src/db.c` `flushCommandCommon`, `flushAllDataAndResetRDB`); the lazy-free
    /// thread does, see `lazyfree_purges`.
    pub flush_sync_in_background: bool,
    /// Redis 7.2+, Valkey 8.0: a sorted set's dict is presized for the members it is about to
    /// hold (`zsetTypeCreate`, `zsetTypeMaybeConvert`, `zsetConvertAndExpand`: a ZADD of more
    /// members than a listpack holds makes a skiplist at once, a listpack converting for the
    /// next member sizes the dict for its length + 1), instead of growing from 4 buckets.
    pub zset_presize: bool,
    /// Valkey 8.0+: ZADD sizes its sorted set by its longest member as well as by its count
    /// (`zsetTypeCreate(elements, maxelelen)`, `zsetTypeMaybeConvert(zobj, elements,
    /// maxelelen)`, valkey 8.0.1 and 8.1.1 `src/t_zset.c` `zaddGenericCommand`): a new key is a
    /// skiplist when any of the command's members is longer than `zset-max-listpack-value`
    /// (Redis: only the first), and a listpack converts before such a command, its table presized
    /// for the command's pair count.
    pub zset_convert_by_longest: bool,
    /// Valkey 9.1: a skiplist node embeds its member (valkey 9.1.2 `src/server.h`
    /// `zskiplistNode`, `src/t_zset.c` `zslCreateNode`: `zslGetNodeAllocSize(level)` = 16 + 16 B
    /// per level, a header-size byte, then the member's sds, type 5 below 32 B), so a member
    /// has no sds block of its own; the `zskiplist` is the 32-level header node itself, one
    /// `zcalloc(zslGetAllocSize())` of 528 B (`types.zskiplist`), and `MEMORY USAGE` counts that
    /// size rather than its block (`objectComputeSize`); a score update that moves a member
    /// relinks its node instead of making a new one (`zslUpdateScore`).
    pub zset_node_embeds_member: bool,
    /// Valkey 9.x's rules where they differ from 8.1's (valkey 9.1.2): the hashtable's rehash
    /// ends once the old table is empty, a shrinking step skips up to 10 empty buckets, no
    /// growth starts while a rehash runs (`src/hashtable.c`: `rehashStepFinalize`,
    /// `rehashStepShrink`, `hashtableExpandIfNeeded`); `MEMORY USAGE` counts the object's own
    /// block, key included (`objectComputeSize` starts from `zmalloc_size(o)`, `src/object.c`);
    /// the kvstore struct is 112 B and the hashtable struct 80 B (`src/kvstore.c`,
    /// `src/hashtable.c`).
    pub hashtable_v9: bool,
    /// Valkey 8.0+: `lazyfree-lazy-user-flush yes` by default (`src/config.c`), so a FLUSHALL
    /// without an argument is asynchronous (`getFlushCommandFlags`, `src/db.c`): the keyspace
    /// is handed to a background thread and jemalloc is not purged.
    pub lazy_user_flush: bool,
    /// Redis 7.2+, Valkey: `trimStringObjectIfNeeded` trims only arguments of
    /// `PROTO_MBULK_BIG_ARG` bytes or more (the query buffer taken over as the value), not every
    /// string with more than a tenth of slack (valkey 8.1.1 `src/object.c`).
    pub trim_big_args_only: bool,
    /// Redis 7.4+: the lazy-free thread, once it has released a database (an asynchronous
    /// FLUSHALL/FLUSHDB, or a SYNC one run as a blocking ASYNC), flushes its thread cache and
    /// purges jemalloc (`lazyfreeFreeDatabase`, redis 7.4.1 and 8.0.6 `src/lazyfree.c`; 7.2
    /// and Valkey do neither).
    pub lazyfree_purges: bool,
    /// Redis 8.0+: `used_memory_overhead` counts the Lua VMs' memory (`script.VMs` in `MEMORY
    /// STATS`: `evalScriptsMemoryVM() + functionsMemoryVM()`, the figures INFO prints as
    /// `used_memory_vm_eval` and `used_memory_vm_functions`; redis 8.0.6 `src/object.c`
    /// `getMemoryOverheadData`), so `used_memory_dataset` does not.
    pub overhead_counts_script_vms: bool,
    /// `activerehashing no` (a setting, off by default): the cron leaves the keyspace's tables'
    /// rehash to the lookups (`databasesCron`, `src/server.c`). Followed where the keyspace is
    /// Valkey's hashtable; the live tests use it so that when an old table goes does not depend
    /// on when the server's cron ticks.
    pub no_active_rehashing: bool,
    /// Redis 8.0: a client keeps its argv array from one command to the next
    /// (`commandProcessed` resets it with `resetClientInternal(c, 0)`); the next command reuses
    /// it unless it needs more slots or it has more than 1,024 (then it is freed and one of
    /// min(argc, 1,024) slots made: `processMultibulkBuffer`), and the cron frees it when the
    /// client has been idle for more than 2 s or it has more than 128 slots
    /// (`clientsCronFreeArgvIfIdle`); all in redis 8.0.6 `src/networking.c`, `src/server.c`.
    /// Predicts `used_memory` (and `mem_clients_normal`) between commands.
    pub client_keeps_argv: bool,
}

fn default_set_max_listpack_entries() -> u64 {
    128
}

fn default_set_max_listpack_value() -> u64 {
    64
}

fn default_cluster_entry_metadata() -> u64 {
    16
}

fn default_proto_max_bulk_len() -> u64 {
    512 << 20
}

/// Commands per second of one client without pipelining when nothing else is known: an assumed
/// figure, not a measurement. On this project's 2-CPU machine `redis-benchmark -c 1 -P 1`
/// against Debian's redis-server 7.0.15 on loopback measured 6,957 PINGs and 7,163-8,525 SETs
/// per second (2026-12-03); fragsim's own client, as `calibrate` measures it, 28,000-49,000
/// PINGs.
pub const DEFAULT_COMMANDS_PER_SECOND: f64 = 10_000.0;

fn default_rate() -> f64 {
    DEFAULT_COMMANDS_PER_SECOND
}

const REDIS_70_DEBIAN: &str = include_str!("profiles/redis-7.0-debian.toml");
const REDIS_70: &str = include_str!("profiles/redis-7.0.toml");
const REDIS_72: &str = include_str!("profiles/redis-7.2.toml");
const REDIS_74: &str = include_str!("profiles/redis-7.4.toml");
const REDIS_80: &str = include_str!("profiles/redis-8.0.toml");
const VALKEY_80: &str = include_str!("profiles/valkey-8.0.toml");
const VALKEY_81: &str = include_str!("profiles/valkey-8.1.toml");
const VALKEY_91: &str = include_str!("profiles/valkey-9.1.toml");

/// Names of the built-in profiles.
pub const PROFILE_NAMES: &[&str] = &[
    "redis-7.0-debian",
    "redis-7.0",
    "redis-7.2",
    "redis-7.4",
    "redis-8.0",
    "valkey-8.0",
    "valkey-8.1",
    "valkey-9.1",
];

impl RedisProfile {
    /// Header bytes of an sds string of `len` bytes under this build's header types.
    pub fn sds_header(&self, len: u64) -> u64 {
        if len == 0 {
            // sdsnewlen never makes an empty string type 5.
            return self.sds_types.get(1).map_or(3, |t| t.1);
        }
        self.sds_types
            .iter()
            .find(|&&(below, _)| len < below)
            .map_or_else(|| self.sds_types.last().map_or(17, |t| t.1 + 8), |t| t.1)
    }

    /// Bytes requested for a new sds of `len` bytes: header + data + NUL.
    pub fn sds_request(&self, len: u64) -> u64 {
        self.sds_header(len) + len + 1
    }

    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Option<Self> {
        let text = match name {
            "redis-7.0-debian" => REDIS_70_DEBIAN,
            "redis-7.0" => REDIS_70,
            "redis-7.2" => REDIS_72,
            "redis-7.4" => REDIS_74,
            "redis-8.0" => REDIS_80,
            "valkey-8.0" => VALKEY_80,
            "valkey-8.1" => VALKEY_81,
            "valkey-9.1" => VALKEY_91,
            _ => return None,
        };
        Some(toml::from_str(text).expect("built-in profiles parse"))
    }

    /// A built-in profile name, or the path of a profile file (as `fragsim calibrate` writes).
    /// Fails when `name_or_path` is neither ([`ProfileError::NotFound`]), when the file cannot
    /// be read or is not UTF-8 ([`ProfileError::Unreadable`], [`ProfileError::NotUtf8`]), is not
    /// a profile's TOML ([`ProfileError::Syntax`]), or holds a value no Redis build could have
    /// ([`ProfileError::Number`], [`ProfileError::Invalid`]: see [`RedisProfile::check`]).
    pub fn load(name_or_path: &str) -> Result<Self, ProfileError> {
        if let Some(p) = Self::builtin(name_or_path) {
            return Ok(p);
        }
        let name = || name_or_path.to_string();
        let path = std::path::Path::new(name_or_path);
        if !path.exists() {
            return Err(ProfileError::NotFound { name: name() });
        }
        let bytes = crate::units::read_input(path)
            .map_err(|source| ProfileError::Unreadable { name: name(), source })?;
        let text = String::from_utf8(bytes).map_err(|_| ProfileError::NotUtf8 { name: name() })?;
        let located = |e: toml::de::Error| ProfileError::Syntax {
            name: name(),
            line: e
                .span()
                .map(|sp| text[..sp.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().trim_end().to_string(),
        };
        // Numbers first, on the text as written (the typed profile would take 2^63 silently).
        let raw: toml::Table = toml::from_str(&text).map_err(located)?;
        check_numbers(&toml::Value::Table(raw), "").map_err(|problem| ProfileError::Number {
            name: name(),
            problem,
        })?;
        let p: RedisProfile = toml::from_str(&text).map_err(located)?;
        p.check().map_err(|problem| ProfileError::Invalid {
            name: name(),
            problem,
        })?;
        Ok(p)
    }

    /// Checks a profile read from a file: a known allocator, no byte figure or count beyond the
    /// 128 TiB address space, no negative or non-finite number, the baseline's bins real small
    /// classes holding at most [`MAX_PRELOAD_OBJECTS`] objects (the model makes each), and a
    /// thread-cache state that fits the build's thread cache. The error is the first value
    /// found that is not.
    pub fn check(&self) -> Result<(), ProfileProblem> {
        let cfg = self.allocator_config()?;
        let value = toml::Value::try_from(self).map_err(|_| ProfileProblem::Over2To63)?;
        check_numbers(&value, "")?;
        self.check_constants()?;
        for c in &self.caveats {
            if let Caveat::When { when, .. } = c {
                if let Some(w) = when.iter().find(|w| !CAVEAT_WHEN.contains(&w.as_str())) {
                    return Err(ProfileProblem::CaveatWhen(w.clone()));
                }
            }
        }
        let sc = crate::jemalloc::SizeClasses::new(cfg.lg_quantum, cfg.lg_page);
        for (table, b) in std::iter::once(("baseline", &self.baseline))
            .chain(self.as_found.iter().map(|b| ("as_found", b)))
            .chain(self.cluster_baseline.iter().map(|b| ("cluster_baseline", b)))
        {
            let mut objects = 0u64;
            for &(size, regions, slabs) in &b.bins {
                let class = sc
                    .index_of(size)
                    .filter(|&c| sc.class(c).size == size && sc.class(c).small)
                    .ok_or(ProfileProblem::NotSmallClass { table, size })?;
                let nregs = sc.class(class).nregs as u64;
                if regions > slabs.saturating_mul(nregs) {
                    return Err(ProfileProblem::BinOverfull {
                        table,
                        size,
                        regions,
                        slabs,
                        nregs,
                    });
                }
                objects = objects.saturating_add(slabs.saturating_mul(nregs));
            }
            if objects > MAX_PRELOAD_OBJECTS {
                return Err(ProfileProblem::TooManyObjects { table, objects });
            }
            if let Some(t) = &b.tcache {
                t.check(&sc, &cfg.tcache)
                    .map_err(|source| ProfileProblem::Tcache { table, source })?;
            }
        }
        Ok(())
    }

    /// Each build constant within what a Redis build could have (a `query_read_len` of 0 made
    /// every read return nothing, and the model looped forever).
    fn check_constants(&self) -> Result<(), ProfileProblem> {
        const KIB: u64 = 1 << 10;
        const GIB: u64 = 1 << 30;
        let t = &self.types;
        let ranges: [(&str, u64, u64, u64); 29] = [
            ("robj", self.robj, 1, 4 * KIB),
            ("dict_entry", self.dict_entry, 1, 4 * KIB),
            ("dict", self.dict, 1, 4 * KIB),
            ("embstr_limit", self.embstr_limit, 0, GIB),
            (
                "hash_max_listpack_entries",
                self.hash_max_listpack_entries,
                0,
                1 << 24,
            ),
            ("hash_max_listpack_value", self.hash_max_listpack_value, 0, GIB),
            ("proto_max_bulk_len", self.proto_max_bulk_len, 1, 1 << 47),
            ("dict_initial_size", self.dict_initial_size, 1, 1 << 16),
            ("dict_min_fill_percent", self.dict_min_fill_percent, 0, 100),
            ("query_read_len", self.query_read_len, 1, GIB),
            ("big_arg", self.big_arg, 1, GIB),
            ("tcache_lg_fill_div", self.tcache_lg_fill_div as u64, 0, 16),
            (
                "tcache_gc_interval_scale",
                self.tcache_gc_interval_scale,
                0,
                1 << 10,
            ),
            ("lua_script_struct", self.lua_script_struct, 0, GIB),
            ("lua_heap_per_script", self.lua_heap_per_script, 0, GIB),
            (
                "shared_integers",
                self.shared_integers.clamp(0, i64::MAX) as u64,
                0,
                1 << 24,
            ),
            ("types.list_compress_depth", t.list_compress_depth, 0, 1 << 16),
            (
                "types.set_max_intset_entries",
                t.set_max_intset_entries,
                0,
                1 << 24,
            ),
            (
                "types.set_max_listpack_entries",
                t.set_max_listpack_entries,
                0,
                1 << 24,
            ),
            ("types.set_max_listpack_value", t.set_max_listpack_value, 0, GIB),
            (
                "types.zset_max_listpack_entries",
                t.zset_max_listpack_entries,
                0,
                1 << 24,
            ),
            ("types.zset_max_listpack_value", t.zset_max_listpack_value, 0, GIB),
            ("types.quicklist", t.quicklist, 1, 4 * KIB),
            ("types.quicklist_node", t.quicklist_node, 1, 4 * KIB),
            ("types.zset", t.zset, 1, 4 * KIB),
            ("types.zskiplist", t.zskiplist, 1, 4 * KIB),
            ("types.zskiplist_node", t.zskiplist_node, 1, 4 * KIB),
            ("types.zskiplist_level", t.zskiplist_level, 1, 4 * KIB),
            ("types.intset_header", t.intset_header, 1, 4 * KIB),
        ];
        for (name, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(ProfileProblem::Constant {
                    name,
                    value,
                    min,
                    max,
                });
            }
        }
        if self.shared_integers < 0 {
            return Err(ProfileProblem::SharedIntegers(self.shared_integers));
        }
        let fill = t.list_max_listpack_size;
        if !(-5..=-1).contains(&fill) && !(1..=i16::MAX as i64).contains(&fill) {
            return Err(ProfileProblem::ListFill(fill));
        }
        // A client's allocations end with its query buffer: at least that one.
        for (name, list, min_len, max_len) in [
            ("client_allocations", &self.client_allocations, 1usize, 256usize),
            ("histogram_allocations", &self.histogram_allocations, 0, 16),
        ] {
            if !(min_len..=max_len).contains(&list.len()) || list.iter().any(|&a| a > GIB) {
                return Err(ProfileProblem::Allocations {
                    name,
                    min_len,
                    max_len,
                });
            }
        }
        if self.sds_types.is_empty()
            || self.sds_types.len() > 8
            || self
                .sds_types
                .iter()
                .any(|&(bound, header)| bound == 0 || !(1..=64).contains(&header))
        {
            return Err(ProfileProblem::SdsTypes);
        }
        if !(self.commands_per_second.is_finite() && (0.0..=1e9).contains(&self.commands_per_second)) {
            return Err(ProfileProblem::CommandsPerSecond(self.commands_per_second));
        }
        Ok(())
    }

    /// The allocator configuration of the build: its preset with Redis's run-time settings
    /// (Redis turns jemalloc's background thread on at startup). Fails when the profile names
    /// an allocator preset the model does not have ([`ProfileProblem::UnknownAllocator`]).
    pub fn allocator_config(&self) -> Result<AllocatorConfig, ProfileProblem> {
        let mut cfg =
            AllocatorConfig::preset(&self.allocator).ok_or_else(|| ProfileProblem::UnknownAllocator {
                profile: self.name.clone(),
                preset: self.allocator.clone(),
            })?;
        cfg.background_thread = true;
        cfg.tcache.gc_incr_bytes *= self.tcache_gc_interval_scale.max(1);
        Ok(cfg)
    }

    /// This profile reduced to the baseline of `state` (the one the model starts from). Fails
    /// when the profile has no measurement of that state ([`ProfileError::NoBaseline`]).
    pub fn with_state(mut self, state: ServerState) -> Result<Self, ProfileError> {
        if self.baseline.state == state {
            return Ok(self);
        }
        match self.as_found.take() {
            Some(b) if state == ServerState::AsFound && b.state == state => {
                self.baseline = b;
                Ok(self)
            }
            _ => Err(ProfileError::NoBaseline {
                profile: self.name,
                state,
            }),
        }
    }

    /// The profile in cluster mode: itself when it is a cluster node's, else with its
    /// [`RedisProfile::cluster_baseline`] as the (fresh) baseline. Fails when it has none.
    pub fn with_cluster(mut self) -> Result<Self, ProfileError> {
        if self.cluster {
            return Ok(self);
        }
        match self.cluster_baseline.take() {
            Some(b) => {
                self.baseline = b;
                self.as_found = None;
                self.cluster = true;
                Ok(self)
            }
            None => Err(ProfileError::NoClusterBaseline { profile: self.name }),
        }
    }

    /// Whether a dict of `size` buckets holding `used` entries is shrunk: below
    /// `dict_min_fill_percent` (Redis 7.0-7.2, `htNeedsResize`), or at 1/8 fill or less where
    /// dicts shrink on delete (Redis 7.4+, `dictShrinkIfNeeded`); never at the initial size.
    pub fn dict_needs_shrink(&self, used: u64, size: u64) -> bool {
        size > self.dict_initial_size
            && if self.layout.dict_shrink_on_delete {
                used * 8 <= size
            } else {
                used * 100 / size < self.dict_min_fill_percent
            }
    }

    /// Whether the keyspace keeps a dict per hash slot (cluster mode where
    /// [`ServerLayout::per_slot_tables`], the keyspace a dict: Redis 7.4+, Valkey 8.0).
    pub fn slot_dicts(&self) -> bool {
        self.cluster && self.layout.per_slot_tables && self.layout.table == TableKind::Dict
    }

    /// Bytes requested for a slot's dict struct with its kvstore metadata: of the keys'
    /// kvstore when `keys`, else of the expires' ([`ServerLayout::kvstore_keys_dict`],
    /// [`ServerLayout::kvstore_dict`]; `sizeof(dict)` + 8 when the profile does not say).
    pub fn kvstore_dict_request(&self, keys: bool) -> u64 {
        let base = if self.layout.kvstore_dict > 0 {
            self.layout.kvstore_dict
        } else {
            self.dict + 8
        };
        if keys && self.layout.kvstore_keys_dict > 0 {
            self.layout.kvstore_keys_dict
        } else {
            base
        }
    }

    /// Bytes requested for one entry of the keyspace dict: `sizeof(dictEntry)`, plus the
    /// slot-list metadata in cluster mode where one table holds every slot's keys.
    pub fn key_entry(&self) -> u64 {
        self.dict_entry
            + if self.cluster && !self.layout.per_slot_tables {
                self.cluster_entry_metadata
            } else {
                0
            }
    }

    /// Bytes requested for the block of a key's dict entry, for a name of `name_len` bytes:
    /// [`RedisProfile::key_entry`], or where entries embed their key (Valkey 8.0,
    /// `createEmbeddedEntry`), the value and next pointers, a header-size byte, and the name
    /// as the command's argument held it (`sdscopytobuffer`): an embedded-string argument's
    /// sds is type 8 (3-B header), a longer one's the type its length asks for, then the NUL.
    pub fn key_entry_request(&self, name_len: u64) -> u64 {
        if self.layout.entry_embeds_key {
            let header = if name_len <= self.embstr_limit {
                3
            } else {
                self.sds_header(name_len)
            };
            17 + header + name_len + 1
        } else {
            self.key_entry()
        }
    }

    /// Bytes requested for a key name's own sds (`sdsdup` of the argument in `dbAdd`), or
    /// `None` where the name lives in another block (Valkey 8.0+).
    pub fn key_name_request(&self, name_len: u64) -> Option<u64> {
        (!self.layout.entry_embeds_key && !self.layout.object_embeds_key).then(|| self.sds_request(name_len))
    }

    /// The hashtable rules of the build (valkey 8.1.1 or 9.1.2 `src/hashtable.c`).
    pub fn hashtable_flavor(&self) -> crate::redis::hashtable::Flavor {
        if self.layout.hashtable_v9 {
            crate::redis::hashtable::Flavor::Valkey91
        } else {
            crate::redis::hashtable::Flavor::Valkey81
        }
    }

    /// `sizeof(hashtable)` plus a kvstore table's metadata (`kvstoreHashtableMetadata`, two
    /// pointers): the keyspace's and the expires' table struct, 72 + 16 B in Valkey 8.1.1, 80
    /// + 16 B in 9.1.2 (a safe-iterator list head added; `src/hashtable.c`, `src/kvstore.c`).
    pub fn kvstore_table_struct(&self) -> u64 {
        if self.layout.hashtable_v9 {
            96
        } else {
            88
        }
    }

    /// `sizeof(kvstore)` (`src/kvstore.c`): 96 B in Valkey 8.1.1, 112 B in 9.1.2.
    pub fn kvstore_struct(&self) -> u64 {
        if self.layout.hashtable_v9 {
            112
        } else {
            96
        }
    }

    /// Whether a string value that is an integer below `shared_integers` shares one object.
    /// Valkey 8.1+ never does for a keyspace value, whose object must carry its key
    /// (`createStringObjectFromLongLongForValue`: `LL2STROBJ_NO_SHARED`, valkey 8.1.1
    /// `src/object.c`).
    pub fn values_share_integers(&self) -> bool {
        !self.layout.object_embeds_key
    }

    /// Bytes requested for an embedded string object of `len` bytes without a key
    /// (`createEmbeddedStringObject`, what every argument of up to the embedding limit becomes),
    /// or `None` when such a string is a raw robj and sds: up to `embstr_limit` bytes, robj +
    /// sds type 8 + bytes + NUL; where the value sits in place of the pointer (Valkey 9.1:
    /// `shouldEmbedStringObject`, valkey 9.1.2 `src/object.c`), up to 128 B in all: the 8-B
    /// header, then the sds (type 8, at least 8 B so that it can be unembedded later).
    pub fn embstr_request(&self, len: u64) -> Option<u64> {
        if self.layout.object_embeds_value {
            let size = self.robj - 8 + (len + 4).max(8);
            (len <= 255 && self.robj - 8 + len + 4 <= 128).then_some(size)
        } else {
            (len <= self.embstr_limit).then(|| crate::redis::encoding::embstr_request(self.robj, len))
        }
    }

    /// Bytes of a key name of `name_len` bytes embedded in its value's object: the sds header
    /// size byte, then the sds (`sdsReqType` of the length: header, bytes, NUL)
    /// (`createObjectWithKeyAndExpire`, valkey 8.1.1 `src/object.c`).
    fn embedded_key(&self, name_len: u64) -> u64 {
        1 + self.sds_request(name_len)
    }

    /// Whether a string of `len` bytes is embedded with a key of `name_len` bytes (and an
    /// expire field when `expire`) in one object (`createStringObjectWithKeyAndExpire`): Valkey
    /// 8.1 when robj + key (+ 3) + expire + sds type 8 (4 + bytes) come to at most 64 B;
    /// Valkey 9.1 at most 128 B with the 8-B header and the key's real sds size
    /// (`shouldEmbedStringObject`).
    pub fn key_object_embeds(&self, name_len: u64, expire: bool, len: u64) -> bool {
        let e = if expire { 8 } else { 0 };
        if self.layout.object_embeds_value {
            len <= 255 && self.robj - 8 + self.embedded_key(name_len) + e + len + 4 <= 128
        } else {
            self.robj + name_len + 3 + e + 4 + len <= 64
        }
    }

    /// Bytes requested for a value's object carrying its key of `name_len` bytes: the robj
    /// (8 B of it where the value is embedded in place of the pointer, Valkey 9.1), an expire
    /// field when `expire`, the key, and `embedded` bytes of string (`Some(len)`: an embedded
    /// string's sds type 8, at least 8 B in 9.1). `createObjectWithKeyAndExpire`,
    /// `createEmbeddedStringObjectWithKeyAndExpire` (valkey 8.1.1 and 9.1.2 `src/object.c`).
    pub fn key_object_request(&self, name_len: u64, expire: bool, embedded: Option<u64>) -> u64 {
        let e = if expire { 8 } else { 0 };
        let key = self.embedded_key(name_len);
        match embedded {
            None => self.robj + e + key,
            Some(len) if self.layout.object_embeds_value => self.robj - 8 + e + key + (len + 4).max(8),
            Some(len) => self.robj + e + key + len + 4,
        }
    }

    /// The profile as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("profiles serialise")
    }
}

/// Most small regions a profile's baseline may hold: the model makes each one when a server
/// starts (about 100 B of simulator memory apiece).
pub const MAX_PRELOAD_OBJECTS: u64 = 20_000_000;

/// Every number in a profile: integers within 0..=2^47 (the address space), floats finite and
/// not negative; `path` names where. The one setting Redis allows below 0,
/// `types.list_max_listpack_size` (a size class of node when negative), is
/// [`RedisProfile::check_constants`]'s to judge.
fn check_numbers(v: &toml::Value, path: &str) -> Result<(), ProfileProblem> {
    if path == "types.list_max_listpack_size" {
        return Ok(());
    }
    let at = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        toml::Value::Integer(i) if !(0..=1i64 << 47).contains(i) => Err(ProfileProblem::Integer {
            path: path.into(),
            value: *i,
        }),
        toml::Value::Float(f) if !f.is_finite() || *f < 0.0 => Err(ProfileProblem::Float {
            path: path.into(),
            value: *f,
        }),
        toml::Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| check_numbers(x, &format!("{path}[{i}]"))),
        toml::Value::Table(t) => t.iter().try_for_each(|(k, x)| check_numbers(x, &at(k))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_load() {
        for n in PROFILE_NAMES {
            let p = RedisProfile::builtin(n).unwrap();
            assert_eq!(&p.name, n);
            p.check().unwrap();
            // A latency histogram costs 24,688 B of used_memory (measured): its counts array and
            // its struct, at their size classes.
            let cfg = p.allocator_config().unwrap();
            let sc = crate::jemalloc::SizeClasses::new(cfg.lg_quantum, cfg.lg_page);
            let h: u64 = p
                .histogram_allocations
                .iter()
                .map(|&s| sc.usable(s).unwrap())
                .sum();
            assert_eq!(h, 24_688, "{n}");
        }
        assert!(RedisProfile::load("redis-6").is_err());
    }

    /// Redis's `sdsReqType` picks a type by the length alone (type 8 below 256); Valkey's
    /// (valkey 8.0.1 `src/sds.c`) wants the header and the NUL within the type's range too
    /// (type 8 up to 256 - 3 - 1 = 252, type 16 up to 65,536 - 5 - 1 = 65,530).
    #[test]
    fn sds_types_agree_with_the_encoding_rules() {
        for n in PROFILE_NAMES {
            let p = RedisProfile::builtin(n).unwrap();
            let valkey = n.starts_with("valkey");
            for len in [
                0,
                1,
                31,
                32,
                252,
                253,
                255,
                256,
                65_530,
                65_531,
                65_535,
                65_536,
                1 << 32,
            ] {
                let want = match len {
                    252 | 65_530 if valkey => crate::redis::encoding::sds_header(len),
                    253..=255 | 65_531..=65_535 if valkey => crate::redis::encoding::sds_header(len + 8),
                    _ => crate::redis::encoding::sds_header(len),
                };
                assert_eq!(p.sds_header(len), want, "{n} len {len}");
            }
        }
    }

    /// A profile file with one line changed, loaded: the error, or "loaded".
    fn load_changed(tag: &str, from: &str, to: &str) -> String {
        let text = REDIS_70_DEBIAN.replacen(from, to, 1);
        assert!(text != REDIS_70_DEBIAN, "{from} is in the profile");
        let path = std::env::temp_dir().join(format!("fragsim-profile-{tag}-{}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let r = RedisProfile::load(path.to_str().unwrap());
        std::fs::remove_file(&path).unwrap();
        r.map_or_else(|e| e.to_string(), |_| "loaded".into())
    }

    #[test]
    fn profile_files_with_impossible_numbers_are_refused() {
        assert_eq!(
            load_changed("ok", "tcache_bytes = 409168", "tcache_bytes = 409169"),
            "loaded"
        );
        // The fuzzer's case: 2^63 objects in one thread-cache bin made the model allocate them.
        let e = load_changed("huge", "[1024,6,5,1,0]", "[1024,9223372036854775808,5,1,0]");
        assert!(e.contains("line 86") && e.contains("not a valid profile"), "{e}");
        let e = load_changed("full", "[1024,6,5,1,0]", "[1024,300,5,1,0]");
        assert!(
            e.contains("baseline.tcache.bins: [1024, 300, 5, 1, 0]") && e.contains("ncached 0 to 20"),
            "{e}"
        );
        let e = load_changed("class", "[1024,6,5,1,0]", "[1000,6,5,1,0]");
        assert!(e.contains("1000 is not the size of a cached size class"), "{e}");
        let e = load_changed("neg", "tcache_bytes = 409168", "tcache_bytes = -1");
        assert!(e.contains("baseline.tcache_bytes = -1"), "{e}");
        let e = load_changed("big", "tcache_bytes = 409168", "tcache_bytes = 140737488355329");
        assert!(e.contains("from 0 to 2^47"), "{e}");
        // A caveat's `when` names workload features only.
        let e = load_changed(
            "caveat",
            "\n[types]",
            "\ncaveats = [{ when = [\"lists\"], text = \"x\" }]\n[types]",
        );
        assert!(e.contains("when = [\"lists\"] is not a workload feature"), "{e}");
        let ok = load_changed(
            "caveat-ok",
            "\n[types]",
            "\ncaveats = [\"always\", { when = [\"list\", \"cluster\"], text = \"x\" }]\n[types]",
        );
        assert_eq!(ok, "loaded");
        // The profile fuzz test's hang: reads of 0 bytes never end a command.
        let e = load_changed("qbuf", "query_read_len = 16384", "query_read_len = 0");
        assert!(e.contains("query_read_len = 0: give 1 to 1073741824"), "{e}");
        let e = load_changed(
            "dict",
            "dict_initial_size = 4",
            "dict_initial_size = 140737488355328",
        );
        assert!(e.contains("dict_initial_size"), "{e}");
        // The one setting below 0: a node size class (-1 to -5) or an entry count.
        let e = load_changed(
            "fill",
            "list_max_listpack_size = -2",
            "list_max_listpack_size = -6",
        );
        assert!(e.contains("list_max_listpack_size = -6: give -1 to -5"), "{e}");
        assert_eq!(
            load_changed(
                "count",
                "list_max_listpack_size = -2",
                "list_max_listpack_size = 128"
            ),
            "loaded"
        );
    }

    #[test]
    fn missing_profiles_and_baselines_are_typed() {
        let e = RedisProfile::load("redis-6").unwrap_err();
        assert!(matches!(&e, ProfileError::NotFound { name } if name == "redis-6"));
        assert_eq!(
            e.to_string(),
            "'redis-6' is neither a built-in profile (redis-7.0-debian, redis-7.0, redis-7.2, \
             redis-7.4, redis-8.0, valkey-8.0, valkey-8.1, valkey-9.1) nor an existing profile file"
        );
        let mut fresh = RedisProfile::builtin("redis-7.0").unwrap();
        fresh.as_found = None;
        let e = fresh.with_state(ServerState::AsFound).unwrap_err();
        assert!(matches!(
            e,
            ProfileError::NoBaseline {
                state: ServerState::AsFound,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "profile 'redis-7.0' has no \"as_found\" baseline; run `fragsim calibrate` against such \
             a server and name the profile file it writes"
        );
    }

    #[test]
    fn round_trips_through_toml() {
        let p = RedisProfile::builtin("redis-7.0-debian").unwrap();
        let again: RedisProfile = toml::from_str(&p.to_toml()).unwrap();
        assert_eq!(p, again);
    }
}
