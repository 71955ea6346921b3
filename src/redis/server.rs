//! The Redis 7 server model: each command a client sends is turned into the allocations Redis
//! makes (query buffer, argv, keys, values, dict tables, histograms, scripts), all through the
//! jemalloc model, so that `INFO memory` can be computed the way Redis computes it.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;

/// Hash maps with a fixed hasher: the order in which Redis's dicts are walked (FLUSHALL, DEL of
/// many keys) decides the order of frees, so it must not change from one process to the next.
type DetMap<K, V> =
    std::collections::HashMap<K, V, BuildHasherDefault<std::collections::hash_map::DefaultHasher>>;

use super::dict::Dict;
use super::encoding::{as_integer, embstr_request, listpack_entry, LISTPACK_OVERHEAD};
use super::heap::{Alloc, Heap};
use super::info::InfoMemory;
use super::profile::RedisProfile;

/// Commands Redis 7.0 flags `DENYOOM` (from `src/commands/*.json`): refused when used memory is
/// over `maxmemory` under `noeviction`.
pub const DENYOOM: &[&str] = &[
    "append",
    "set",
    "setex",
    "psetex",
    "setnx",
    "setrange",
    "setbit",
    "mset",
    "msetnx",
    "getset",
    "incr",
    "incrby",
    "incrbyfloat",
    "decr",
    "decrby",
    "bitfield",
    "bitop",
    "hset",
    "hmset",
    "hsetnx",
    "hincrby",
    "hincrbyfloat",
    "lpush",
    "lpushx",
    "rpush",
    "rpushx",
    "linsert",
    "lset",
    "lmove",
    "blmove",
    "rpoplpush",
    "brpoplpush",
    "sadd",
    "sdiffstore",
    "sinterstore",
    "sunionstore",
    "zadd",
    "zincrby",
    "zdiffstore",
    "zinterstore",
    "zunionstore",
    "zrangestore",
    "sort",
    "geoadd",
    "georadius",
    "georadiusbymember",
    "geosearchstore",
    "xadd",
    "xgroup|create",
    "xgroup|createconsumer",
    "xsetid",
    "pfadd",
    "pfmerge",
    "pfdebug",
    "copy",
    "restore",
    "restore-asking",
    "function|load",
    "function|restore",
];

/// The figures `cronUpdateMemoryStats` samples together.
#[derive(Debug, Clone, Copy)]
struct CronSample {
    allocated: u64,
    active: u64,
    resident: u64,
    rss: u64,
    used: u64,
}

/// Handle of a connected client.
pub type ClientId = usize;

#[derive(Debug, Clone)]
enum StrEnc {
    /// A shared integer object: nothing allocated.
    Shared,
    /// An INT-encoded robj.
    Int(Alloc),
    /// robj and string in one block.
    Embstr(Alloc),
    /// robj + sds.
    Raw(Alloc, Alloc),
}

#[derive(Debug, Clone)]
struct HashField {
    entry: Alloc,
    field: Alloc,
    value: Alloc,
    /// The value's length as the client sent it (payload accounting).
    vlen: u64,
}

#[derive(Debug, Clone)]
enum HashEnc {
    /// The listpack block, its byte length, and its field/value strings.
    Listpack(Alloc, u64, Vec<(Vec<u8>, Vec<u8>)>),
    /// The dict struct, its tables, and the field entries by name.
    Table(Alloc, Dict, DetMap<Vec<u8>, HashField>),
}

#[derive(Debug, Clone)]
enum Value {
    Str(StrEnc),
    /// Boxed: a hash's bookkeeping is large, and most keys are strings.
    Hash(Alloc, Box<HashEnc>),
}

#[derive(Debug, Clone)]
struct Key {
    entry: Alloc,
    sds: Alloc,
    value: Value,
    /// Expires entry (the deadline is in [`super::expire::Expiry`]).
    expire: Option<Alloc>,
    /// Bytes of the key name and its values (hash: field names and values) as the client sent
    /// them.
    payload: u64,
}

/// See [`Server::rewrite`].
#[derive(Debug, Clone, Default)]
struct Rewrite {
    original: Option<Alloc>,
    argv: Option<Alloc>,
    objects: Vec<Alloc>,
}

#[derive(Debug, Clone)]
struct Client {
    allocs: Vec<Alloc>,
    /// The query buffer (an sds) and its header size (its sds type's).
    qbuf: Alloc,
    qbuf_hdr: u64,
    /// `sdsalloc` of the query buffer: the bytes it can hold (the block's usable size less
    /// header and terminator, or what `sdsResize` last set).
    qbuf_room: u64,
    /// `querybuf_peak`: the most bytes it held after a read since the cron last looked.
    qb_peak: u64,
    last_active_ns: u64,
    /// Which of `allocs` is the reply buffer (`c->buf`), and `buf_peak`: the most reply bytes
    /// it held since the peak was last reset.
    buf: Option<usize>,
    buf_peak: u64,
    /// When the cron last reset `buf_peak`; `None` until it first does (Redis 7.0 stamps a new
    /// client in seconds and compares in milliseconds, so its first look always resets).
    buf_peak_reset_ns: Option<u64>,
    /// Whether `CLIENT INFO` has cached the peer's and the socket's address strings.
    addresses_cached: bool,
}

impl Client {
    /// `sdsalloc` of the query buffer: the bytes it can hold.
    fn qbuf_alloc(&self) -> u64 {
        self.qbuf_room
    }

    /// The query buffer is now block `q` with a `hdr`-byte header, its room the block's.
    fn set_qbuf(&mut self, q: Alloc, hdr: u64) {
        self.qbuf = q;
        self.qbuf_hdr = hdr;
        self.qbuf_room = q.usable.saturating_sub(hdr + 1);
    }
}

/// Bytes of a RESP bulk header or array header for `n`: `$n\r\n` / `*n\r\n`.
fn resp_header(n: u64) -> u64 {
    3 + n.checked_ilog10().map_or(1, |d| d as u64 + 1)
}

#[derive(Debug, Clone)]
struct Script {
    sha: Alloc,
    body: StrEnc,
    lua_struct: Alloc,
    entry: Alloc,
    lua_heap: Alloc,
    accounted: u64,
}

/// The outcome of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok,
    /// `-OOM command not allowed when used memory > 'maxmemory'.`
    Oom,
    /// A command the model does not know, or a wrong number of arguments.
    Unsupported(String),
}

/// A refused command, for the OOM report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OomRefusal {
    /// Command name.
    pub command: String,
    /// `used_memory` when the check ran (this command's argv and query buffer included).
    pub used_memory: u64,
}

/// The server model.
#[derive(Debug, Clone)]
pub struct Server {
    pub profile: RedisProfile,
    pub heap: Heap,
    keys: DetMap<Vec<u8>, Key>,
    /// Keys with a TTL, for active expiry.
    expiry: super::expire::Expiry,
    main: Dict,
    expires: Dict,
    histograms: HashSet<String>,
    hist_allocs: Vec<Alloc>,
    scripts: DetMap<Vec<u8>, Script>,
    scripts_dict: Dict,
    lua_scripts_mem: u64,
    /// Bytes of key names and values held, as the client sent them.
    payload_bytes: u64,
    lua_heap: u64,
    clients: Vec<Option<Client>>,
    now_ns: u64,
    next_cron_ns: u64,
    peak: u64,
    /// `maxmemory` (0: none) under `noeviction`.
    pub maxmemory: u64,
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
    /// The `server.clients_pending_write` list node of the client the running command replies
    /// to (`clientInstallWriteHandler`), freed when `beforeSleep` writes the reply.
    reply_node: Option<Alloc>,
    /// Reply blocks (and their list nodes) of a reply that overflowed the reply buffer, freed
    /// once written.
    reply_blocks: Vec<Alloc>,
    /// A command that rewrote its argv for propagation (`retainOriginalCommandVector`): the
    /// original vector, the new vector that replaced it, and the objects it made (a
    /// millisecond timestamp), all freed after the command.
    rewrite: Rewrite,
    /// Blocks a command frees once its reply is queued.
    after_reply: Vec<Alloc>,
    /// The seed of the model's stand-in for Redis's dict hash function (see
    /// [`Server::bucket_order`]).
    hash_seed: u64,
}

const CRON_NS: u64 = 100_000_000;

/// `sizeof(listNode)`: an adlist node (previous, next, value).
const LIST_NODE: u64 = 24;
/// `PROTO_REPLY_CHUNK_BYTES`: a client's reply buffer, and the least a reply block holds.
const PROTO_REPLY_CHUNK_BYTES: u64 = 16 * 1024;
/// `PROTO_REPLY_MIN_BYTES`: the smallest reply buffer the cron shrinks to.
const PROTO_REPLY_MIN_BYTES: u64 = 1024;
/// `reply-buffer-peak-reset-time` (default 5,000 ms), in ns.
const REPLY_PEAK_RESET_NS: u64 = 5_000_000_000;
/// `sizeof(clientReplyBlock)`: size and used, before the bytes.
const REPLY_BLOCK_HEADER: u64 = 16;

impl Server {
    /// A server as it stands at its profile's baseline.
    pub fn new(profile: RedisProfile, seed: u64) -> Result<Self, String> {
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
        let histograms = profile.baseline.commands_seen.iter().cloned().collect();
        let peak = profile
            .baseline
            .used_memory
            .max(profile.baseline.used_memory_peak);
        let as_found = profile.baseline.state == super::profile::ServerState::AsFound;
        let mut s = Server {
            profile,
            heap,
            keys: DetMap::default(),
            expiry: super::expire::Expiry::new(seed ^ 0x6578_7069_7265),
            main: Dict::default(),
            expires: Dict::default(),
            histograms,
            hist_allocs: Vec::new(),
            scripts: DetMap::default(),
            scripts_dict: Dict::default(),
            lua_scripts_mem: 0,
            payload_bytes: 0,
            lua_heap: 0,
            clients: Vec::new(),
            now_ns: 0,
            // serverCron runs every 100 ms from the server's start, and a workload starts at no
            // particular moment of that period: each run draws where (1 ns to 100 ms).
            next_cron_ns: 1 + seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) % CRON_NS,
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
            reply_node: None,
            reply_blocks: Vec::new(),
            rewrite: Rewrite::default(),
            after_reply: Vec::new(),
            hash_seed: seed ^ 0x6861_7368_5f73_6565,
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
        Ok(s)
    }

    /// `used_memory` now.
    /// Bytes of key names and values held, as the client sent them (hashes: field names and
    /// values): the payload layer of [`crate::sim::Breakdown`].
    pub fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    /// The values held (string values, hash field names and values) as (bytes the client sent,
    /// bytes of `stats.active` the blocks holding them take: usable size plus pad pages). Their
    /// quotient is what a stored byte costs in jemalloc: the size-class sawtooth.
    pub fn value_footprint(&self) -> (u64, u64) {
        let a = &self.heap.arena;
        let mut payload = 0;
        let mut held = 0;
        for (name, k) in self.keys.iter() {
            payload += k.payload - name.len() as u64;
            held += match &k.value {
                Value::Str(StrEnc::Shared) => 0,
                Value::Str(StrEnc::Int(r)) | Value::Str(StrEnc::Embstr(r)) => a.footprint(r.id),
                Value::Str(StrEnc::Raw(_, s)) => a.footprint(s.id),
                Value::Hash(_, h) => match h.as_ref() {
                    HashEnc::Listpack(lp, _, _) => a.footprint(lp.id),
                    HashEnc::Table(_, _, fields) => fields
                        .values()
                        .map(|f| a.footprint(f.field.id) + a.footprint(f.value.id))
                        .sum(),
                },
            };
        }
        (payload, held)
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

    /// Number of keys.
    pub fn dbsize(&self) -> u64 {
        self.keys.len() as u64
    }

    /// Simulated time, ns.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    fn initial(&self) -> u64 {
        self.profile.dict_initial_size
    }

    // ----- clients ---------------------------------------------------------------------------

    /// A client connects (`createClient`).
    pub fn connect(&mut self) -> ClientId {
        self.client_seen = true;
        let sizes = self.profile.client_allocations.clone();
        let mut allocs: Vec<Alloc> = sizes.iter().map(|&s| self.heap.zmalloc(s)).collect();
        // The last listed allocation is the empty query buffer (`sdsempty()`); the reply buffer
        // is the one of PROTO_REPLY_CHUNK_BYTES.
        let qbuf = allocs.pop().expect("client allocations include the query buffer");
        let buf = sizes[..sizes.len() - 1]
            .iter()
            .position(|&n| n == PROTO_REPLY_CHUNK_BYTES);
        let buf_peak = buf.map_or(0, |i| allocs[i].usable);
        let c = Client {
            allocs,
            qbuf,
            // sdsempty(): type 8.
            qbuf_hdr: 3,
            qbuf_room: qbuf.usable.saturating_sub(4),
            qb_peak: 0,
            last_active_ns: self.now_ns,
            buf,
            buf_peak,
            buf_peak_reset_ns: None,
            addresses_cached: false,
        };
        if let Some(i) = self.clients.iter().position(|c| c.is_none()) {
            self.clients[i] = Some(c);
            i
        } else {
            self.clients.push(Some(c));
            self.clients.len() - 1
        }
    }

    /// A client disconnects (`freeClientAsync`, then `freeClient`).
    pub fn disconnect(&mut self, id: ClientId) {
        if let Some(c) = self.clients.get_mut(id).and_then(Option::take) {
            // The read that sees the connection closed queues the client on
            // `server.clients_to_close` (freeClientAsync); beforeSleep unlinks and frees it.
            let node = self.heap.zmalloc(LIST_NODE);
            self.heap.zfree(node);
            self.heap.zfree(c.qbuf);
            for a in c.allocs.into_iter().rev() {
                self.heap.zfree(a);
            }
        }
    }

    /// Bytes the query buffer of a client that has read one small command holds: its first
    /// read makes room for 16 KiB without the greedy doubling (`sdsMakeRoomForNonGreedy`).
    fn first_read_request(&self) -> u64 {
        self.profile.sds_request(self.profile.query_read_len)
    }

    /// Header bytes of the sds type `sdsMakeRoomFor` picks for `len` bytes (never type 5).
    fn qbuf_header(&self, len: u64) -> u64 {
        self.profile.sds_header(len).max(3)
    }

    /// Grows client `id`'s query buffer, holding `len` bytes, to `newlen` bytes of room, as
    /// `_sdsMakeRoomFor` does: `realloc` while the sds type stays the same; a new block, the
    /// bytes held copied and the old block freed when the type changes.
    fn qbuf_grow(&mut self, id: ClientId, len: u64, newlen: u64) {
        let hdr = self.qbuf_header(newlen);
        let c = self.clients[id].as_ref().expect("connected client");
        let (q, old_hdr) = (c.qbuf, c.qbuf_hdr);
        let nq = if hdr == old_hdr {
            self.heap.zrealloc_copy(q, hdr + newlen + 1)
        } else {
            let nq = self.heap.zmalloc_written(hdr + newlen + 1, hdr + len + 1);
            self.heap.zfree(q);
            nq
        };
        self.clients[id]
            .as_mut()
            .expect("connected client")
            .set_qbuf(nq, hdr);
    }

    /// `sdsResize(querybuf, size, 1)` on client `id`'s empty query buffer (the cron's trim): a
    /// `realloc` keeping the header when the type stays the same or shrinks to one still above
    /// type 8, skipped when the allocator would give the same block size (`nallocx`); else a
    /// new block of the smaller type and the old one freed.
    fn qbuf_resize(&mut self, id: ClientId, size: u64) {
        let hdr = self.qbuf_header(size);
        let c = self.clients[id].as_ref().expect("connected client");
        let (q, old_hdr) = (c.qbuf, c.qbuf_hdr);
        if hdr == old_hdr || (hdr < old_hdr && hdr > 3) {
            let want = old_hdr + size + 1;
            if self.heap.arena.usable_size_of(want).ok() != Some(q.usable) {
                let nq = self.heap.zrealloc_copy(q, want);
                self.clients[id].as_mut().expect("connected client").qbuf = nq;
            }
        } else {
            let nq = self.heap.zmalloc_written(hdr + size + 1, hdr + 1);
            self.heap.zfree(q);
            self.clients[id]
                .as_mut()
                .expect("connected client")
                .set_qbuf(nq, hdr);
        }
        self.clients[id].as_mut().expect("connected client").qbuf_room = size;
    }

    /// `sdsMakeRoomFor` (greedy: the new length doubled below 1 MiB, 1 MiB more above) or
    /// `sdsMakeRoomForNonGreedy` on client `id`'s query buffer holding `len` bytes.
    fn qbuf_make_room(&mut self, id: ClientId, len: u64, add: u64, greedy: bool) {
        let alloc = self.clients[id].as_ref().expect("connected client").qbuf_alloc();
        if alloc.saturating_sub(len) >= add {
            return;
        }
        let mut newlen = len + add;
        if greedy {
            newlen = if newlen < 1 << 20 {
                newlen * 2
            } else {
                newlen + (1 << 20)
            };
        }
        self.qbuf_grow(id, len, newlen);
    }

    /// Reads a command into client `id`'s query buffer and parses it into argument objects, as
    /// `readQueryFromClient` and `processMultibulkBuffer` do, with all of the command's bytes
    /// waiting on the socket (one client, no pipelining: the buffer holds nothing else).
    ///
    /// A read while the buffer can hold less than 16 KiB makes room for 16 KiB exactly and
    /// reads at most that; later reads make room greedily and read all the room there is. What
    /// has been parsed is trimmed off between reads. An argument of 32 KiB or more
    /// (`PROTO_MBULK_BIG_ARG`) is read on its own into a buffer made exactly large enough, and
    /// that buffer becomes the argument's string (the client gets a new one of the argument's
    /// size); other arguments are copied (`createStringObject`). The argv array is allocated
    /// when the array header is parsed.
    fn read_command(&mut self, id: ClientId, argv: &[&[u8]]) -> (Alloc, Vec<Option<StrEnc>>) {
        let big_arg = self.profile.big_arg;
        let io = self.profile.query_read_len;
        let mut left = resp_len(argv); // bytes still on the socket
        let mut len = 0u64; // bytes in the buffer, not yet parsed
        let mut argv_arr = None;
        let mut objs: Vec<Option<StrEnc>> = Vec::with_capacity(argv.len());
        // Parsing state: the array header is read, and the next argument's bulk header.
        let mut bulk_hdr_read = false;
        loop {
            // Parse what the buffer holds.
            if argv_arr.is_none() {
                let h = resp_header(argv.len() as u64);
                if len >= h {
                    len -= h;
                    argv_arr = Some(self.heap.zmalloc(8 * argv.len().min(1024) as u64));
                }
            }
            if argv_arr.is_some() {
                while objs.len() < argv.len() {
                    let n = argv[objs.len()].len() as u64;
                    if !bulk_hdr_read {
                        let h = resp_header(n);
                        if len < h {
                            break;
                        }
                        len -= h;
                        bulk_hdr_read = true;
                        if n >= big_arg && len <= n + 2 {
                            // Trim what was parsed and make room for exactly this argument.
                            self.qbuf_make_room(id, len, n + 2 - len, false);
                        }
                    }
                    if len < n + 2 {
                        break;
                    }
                    let whole = {
                        let c = self.clients[id].as_ref().expect("connected client");
                        n >= big_arg && len == n + 2 && c.qbuf_alloc() >= n + 2
                    };
                    let o = if whole {
                        // The buffer becomes the argument; a new one of its size replaces it.
                        let robj = self.heap.zmalloc(self.profile.robj);
                        // sdsnewlen(SDS_NOINIT): the header and the terminator are written,
                        // not the bytes between.
                        let hdr = self.profile.sds_header(n + 2);
                        let fresh = self
                            .heap
                            .zmalloc_written(self.profile.sds_request(n + 2), hdr + 1);
                        self.heap.write(fresh, hdr + n + 2, hdr + n + 3);
                        let c = self.clients[id].as_mut().expect("connected client");
                        let sds = c.qbuf;
                        c.set_qbuf(fresh, hdr);
                        StrEnc::Raw(robj, sds)
                    } else {
                        self.string_object(n)
                    };
                    len -= n + 2;
                    bulk_hdr_read = false;
                    objs.push(Some(o));
                }
            }
            if objs.len() == argv.len() || left == 0 {
                break;
            }
            // Read.
            let pending_big = bulk_hdr_read && argv[objs.len()].len() as u64 >= big_arg;
            let alloc = self.clients[id].as_ref().expect("connected client").qbuf_alloc();
            let readlen = if pending_big || alloc < io {
                let want = if pending_big {
                    (argv[objs.len()].len() as u64 + 2).saturating_sub(len).max(1)
                } else {
                    io
                };
                self.qbuf_make_room(id, len, want, false);
                want
            } else {
                self.qbuf_make_room(id, len, io, true);
                let c = self.clients[id].as_ref().expect("connected client");
                c.qbuf_alloc() - len
            };
            let nread = readlen.min(left);
            left -= nread;
            len += nread;
            let c = self.clients[id].as_mut().expect("connected client");
            c.qb_peak = c.qb_peak.max(len);
            let (q, hdr) = (c.qbuf, c.qbuf_hdr);
            // The bytes read land after what the buffer holds (parsed bytes were trimmed to its
            // start).
            self.heap.write(q, 0, hdr + len + 1);
        }
        let arr = argv_arr.unwrap_or_else(|| self.heap.zmalloc(8));
        (arr, objs)
    }

    // ----- commands --------------------------------------------------------------------------

    /// Runs one command sent by `client`: reads it into the query buffer, builds argv, checks
    /// `maxmemory`, executes, frees argv.
    pub fn exec<A: AsRef<[u8]>>(&mut self, client: ClientId, argv: &[A]) -> Reply {
        let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_ref()).collect();
        self.exec_args(client, &argv)
    }

    fn exec_args(&mut self, client: ClientId, argv: &[&[u8]]) -> Reply {
        if argv.is_empty() {
            return Reply::Unsupported("empty command".into());
        }
        let name = command_name(argv);
        {
            let c = self.clients[client].as_mut().expect("connected client");
            c.last_active_ns = self.now_ns;
        }
        let (mut argv_arr, mut objs) = self.read_command(client, argv);
        // maxmemory check (processCommand, before the command runs).
        let mut reply = Reply::Ok;
        if DENYOOM.contains(&name.as_str()) {
            self.max_denyoom_check = self.max_denyoom_check.max(self.used_memory());
        }
        if self.maxmemory > 0 && DENYOOM.contains(&name.as_str()) && self.used_memory() > self.maxmemory {
            self.refusals.push(OomRefusal {
                command: name.clone(),
                used_memory: self.used_memory(),
            });
            reply = Reply::Oom;
            self.reply_pending();
        } else {
            let reply_len = self.reply_len(&name, argv);
            reply = self.run(client, &name, argv, &mut objs).err().unwrap_or(reply);
            if let Some(new) = self.rewrite.argv.take() {
                // replaceClientCommandVector frees the vector it replaces.
                self.heap.zfree(std::mem::replace(&mut argv_arr, new));
            }
            self.reply_pending();
            for a in std::mem::take(&mut self.after_reply) {
                self.heap.zfree(a);
            }
            self.add_reply(client, reply_len);
            // The command's latency histogram is made when its first call is recorded.
            if !matches!(reply, Reply::Unsupported(_)) && self.histograms.insert(name.clone()) {
                let sizes = self.profile.histogram_allocations.clone();
                for s in sizes {
                    let a = self.heap.zmalloc(s);
                    self.hist_allocs.push(a);
                }
            }
            // call() records the peak after each command, before its argv is freed.
            self.peak = self.peak.max(self.used_memory());
        }
        for o in objs.into_iter().flatten() {
            self.free_str(o);
        }
        for a in std::mem::take(&mut self.rewrite.objects) {
            self.heap.zfree(a);
        }
        if let Some(a) = self.rewrite.original.take() {
            self.heap.zfree(a);
        }
        self.heap.zfree(argv_arr);
        // beforeSleep: the fast active-expiry cycle, when due; then the reply is written and the
        // client leaves the pending-write list; the peak recorded again.
        let expired = self.expiry.fast_cycle(self.now_ns, self.expires.table_size());
        for k in expired {
            self.delete_key(&k);
        }
        if let Some(node) = self.reply_node.take() {
            self.heap.zfree(node);
        }
        for a in std::mem::take(&mut self.reply_blocks) {
            self.heap.zfree(a);
        }
        self.peak = self.peak.max(self.used_memory());
        reply
    }

    /// The first reply of a command puts its client on `server.clients_pending_write`
    /// (`listAddNodeHead`: a 24-byte list node) until `beforeSleep` writes it.
    fn reply_pending(&mut self) {
        if self.reply_node.is_none() {
            self.reply_node = Some(self.heap.zmalloc(LIST_NODE));
        }
    }

    /// The allocations of `INFO memory` on Redis 7.0.15 (traced on the Debian build): the
    /// section dict `genInfoSectionDict` makes (dict, 4-bucket table, the name "memory", its
    /// entry), the empty info sds, a 48-byte block made and freed, the overhead report
    /// `getMemoryOverheadData` makes (200 B, 32 B more when a database holds keys), the
    /// `sdscatprintf` buffer and the grown info sds (a new block: its type changes); then the
    /// reply is queued and everything freed.
    fn info_memory_allocations(&mut self) {
        let dict: Vec<Alloc> = [56, 32, 8, 24].iter().map(|&n| self.heap.zmalloc(n)).collect();
        let empty = self.heap.zmalloc(4);
        let t = self.heap.zmalloc(48);
        self.heap.zfree(t);
        let mh = self.heap.zmalloc(200);
        let dbs = (self.dbsize() > 0).then(|| self.heap.zmalloc(32));
        let buf = self.heap.zmalloc(2640);
        let text = self.heap.zmalloc(2796);
        self.heap.zfree(empty);
        self.heap.zfree(buf);
        if let Some(d) = dbs {
            self.heap.zfree(d);
        }
        self.heap.zfree(mh);
        self.reply_pending();
        self.heap.zfree(text);
        for a in dict.into_iter().rev() {
            self.heap.zfree(a);
        }
    }

    /// Bytes of the reply to `name` (RESP): a bulk string for `GET` of a string key, `INFO`'s
    /// text, a few bytes for the status and integer replies of everything else the model runs.
    fn reply_len(&self, name: &str, argv: &[&[u8]]) -> u64 {
        match name {
            "get" => match argv.get(1).and_then(|k| self.keys.get(*k)) {
                Some(k) => {
                    let n = k.payload - argv[1].len() as u64;
                    resp_header(n) + n + 2
                }
                None => 5,
            },
            "info" => 2_810,
            _ => 8,
        }
    }

    /// A reply of `len` bytes into client `id`'s reply buffer (`_addReplyToBuffer`): what does
    /// not fit goes to a reply block of at least 16 KiB on the reply list (`_addReplyProtoToList`),
    /// freed once written; the buffer's peak follows what it held.
    fn add_reply(&mut self, id: ClientId, len: u64) {
        let Some(c) = self.clients.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        let Some(i) = c.buf else { return };
        let usable = c.allocs[i].usable;
        c.buf_peak = c.buf_peak.max(len.min(usable));
        if len > usable {
            let rest = len - usable;
            let block = self
                .heap
                .zmalloc(rest.max(PROTO_REPLY_CHUNK_BYTES) + REPLY_BLOCK_HEADER);
            let node = self.heap.zmalloc(LIST_NODE);
            self.reply_blocks.extend([block, node]);
        }
    }

    /// `clientsCronResizeOutputBuffer`: a reply buffer whose peak is under half its size
    /// shrinks to the peak (at least 1 KiB); one whose peak filled it doubles (up to 16 KiB).
    /// Every 5 s the peak restarts from what the buffer holds (nothing, between commands).
    fn resize_output_buffer(&mut self, id: ClientId, now: u64) {
        let Some(c) = self.clients.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        let Some(i) = c.buf else { return };
        let usable = c.allocs[i].usable;
        let new = if usable / 2 >= PROTO_REPLY_MIN_BYTES && c.buf_peak < usable / 2 {
            Some(PROTO_REPLY_MIN_BYTES.max(c.buf_peak + 1))
        } else if usable * 2 < 2 * PROTO_REPLY_CHUNK_BYTES && c.buf_peak == usable {
            Some(PROTO_REPLY_CHUNK_BYTES.min(usable * 2))
        } else {
            None
        };
        if c.buf_peak_reset_ns.is_none_or(|t| now - t >= REPLY_PEAK_RESET_NS) {
            c.buf_peak = 0;
            c.buf_peak_reset_ns = Some(now);
        }
        if let Some(size) = new {
            let old = c.allocs[i];
            // zmalloc_usable, the bytes held (none, between commands) copied, the old freed.
            let nb = self.heap.zmalloc_written(size, 0);
            self.heap.zfree(old);
            self.clients[id].as_mut().expect("connected client").allocs[i] = nb;
        }
    }

    /// `CLIENT INFO` on Redis 7.0.15, as traced: the first call caches the client's peer and
    /// socket addresses (16 and 17 B, kept until it disconnects); each call builds the
    /// description in an empty sds that grows into a new 926-byte block (its type changes),
    /// freed once the reply is queued.
    fn client_info(&mut self, id: ClientId) {
        if !self.clients[id].as_ref().is_some_and(|c| c.addresses_cached) {
            let a = self.heap.zmalloc(16);
            let b = self.heap.zmalloc(17);
            let c = self.clients[id].as_mut().expect("connected client");
            c.allocs.extend([a, b]);
            c.addresses_cached = true;
        }
        let empty = self.heap.zmalloc(4);
        let text = self.heap.zmalloc(926);
        self.heap.zfree(empty);
        self.after_reply.push(text);
    }

    /// Moves the cron so that its next look is at `at_ns` (simulated time, after now): the
    /// phase of a real server's cron, when it was measured.
    pub fn align_cron(&mut self, at_ns: u64) {
        if at_ns > self.now_ns {
            self.next_cron_ns = at_ns;
        }
    }

    /// `createStringObject` for an argument of `len` bytes.
    fn string_object(&mut self, len: u64) -> StrEnc {
        if len <= self.profile.embstr_limit {
            StrEnc::Embstr(self.heap.zmalloc(embstr_request(self.profile.robj, len)))
        } else {
            let sds = self.heap.zmalloc(self.profile.sds_request(len));
            let robj = self.heap.zmalloc(self.profile.robj);
            StrEnc::Raw(robj, sds)
        }
    }

    fn free_str(&mut self, o: StrEnc) {
        match o {
            StrEnc::Shared => {}
            StrEnc::Int(a) | StrEnc::Embstr(a) => self.heap.zfree(a),
            StrEnc::Raw(r, s) => {
                self.heap.zfree(s);
                self.heap.zfree(r);
            }
        }
    }

    /// `tryObjectEncoding` on a value argument that the keyspace keeps.
    fn encode_value(&mut self, o: StrEnc, bytes: &[u8]) -> StrEnc {
        let len = bytes.len() as u64;
        if len <= 20 {
            if let Some(v) = as_integer(bytes) {
                if (0..self.profile.shared_integers).contains(&v) {
                    self.free_str(o);
                    return StrEnc::Shared;
                }
                return match o {
                    StrEnc::Raw(r, s) => {
                        self.heap.zfree(s);
                        StrEnc::Int(r)
                    }
                    StrEnc::Embstr(e) => {
                        self.heap.zfree(e);
                        StrEnc::Int(self.heap.zmalloc(self.profile.robj))
                    }
                    other => other,
                };
            }
        }
        match o {
            StrEnc::Raw(r, s) if len <= self.profile.embstr_limit => {
                self.heap.zfree(s);
                self.heap.zfree(r);
                StrEnc::Embstr(self.heap.zmalloc(embstr_request(self.profile.robj, len)))
            }
            StrEnc::Raw(r, s) => {
                // trimStringObjectIfNeeded: give back slack above a tenth of the length.
                let avail = s.usable - self.profile.sds_header(len) - 1 - len;
                if avail > len / 10 {
                    let hdr = self.profile.sds_header(len + 2).max(self.profile.sds_header(len));
                    StrEnc::Raw(r, self.heap.zrealloc_copy(s, hdr + len + 1))
                } else {
                    StrEnc::Raw(r, s)
                }
            }
            other => other,
        }
    }

    fn run(
        &mut self,
        client: ClientId,
        name: &str,
        argv: &[&[u8]],
        objs: &mut [Option<StrEnc>],
    ) -> Result<(), Reply> {
        let bad = |m: &str| Err(Reply::Unsupported(m.to_string()));
        match name {
            "info" => {
                // genRedisInfoString raises the peak to the current used_memory, then builds the
                // overhead report (zcalloc'd), vsnprintf's buffer and the reply sds, all freed
                // once the reply is copied to the client.
                self.peak = self.peak.max(self.used_memory());
                if argv.len() == 2 && argv[1].eq_ignore_ascii_case(b"memory") {
                    self.info_memory_allocations();
                } else {
                    let tmp: Vec<Alloc> = [256, 3072, 3072].iter().map(|&s| self.heap.zmalloc(s)).collect();
                    for a in tmp.into_iter().rev() {
                        self.heap.zfree(a);
                    }
                }
                Ok(())
            }
            "ping" | "get" | "exists" | "ttl" | "dbsize" | "hget" | "hgetall" | "config|get" => Ok(()),
            "client|info" => {
                self.client_info(client);
                Ok(())
            }
            "set" => {
                if argv.len() < 3 {
                    return bad("SET needs a key and a value");
                }
                let mut ttl_ms = None;
                let mut i = 3;
                while i < argv.len() {
                    let opt = String::from_utf8_lossy(argv[i]).to_ascii_lowercase();
                    match opt.as_str() {
                        "ex" | "px" if i + 1 < argv.len() => {
                            let n: u64 = String::from_utf8_lossy(argv[i + 1])
                                .parse()
                                .map_err(|_| Reply::Unsupported("bad TTL".into()))?;
                            ttl_ms = Some(if opt == "ex" { n * 1000 } else { n });
                            i += 2;
                        }
                        _ => return bad("SET options other than EX/PX are not modelled"),
                    }
                }
                let v = objs[2].take().unwrap();
                let v = self.encode_value(v, argv[2]);
                self.set_key(argv[1], Value::Str(v), argv[2].len() as u64);
                if let Some(ms) = ttl_ms {
                    self.set_expire(argv[1], ms);
                    // Propagated as SET key value PXAT <ms>: the timestamp object, the
                    // original vector retained, a new 5-argument vector
                    // (rewriteClientCommandVector).
                    let when = self.heap.zmalloc(self.profile.robj);
                    self.rewrite.objects.push(when);
                    self.rewrite.original = Some(self.heap.zmalloc(8 * argv.len() as u64));
                    self.rewrite.argv = Some(self.heap.zmalloc(8 * 5));
                }
                Ok(())
            }
            "expire" | "pexpire" => {
                if argv.len() != 3 {
                    return bad("EXPIRE needs a key and a time");
                }
                let n: u64 = String::from_utf8_lossy(argv[2])
                    .parse()
                    .map_err(|_| Reply::Unsupported("bad TTL".into()))?;
                if self.keys.contains_key(argv[1]) {
                    self.set_expire(argv[1], if name == "expire" { n * 1000 } else { n });
                    // Propagated as PEXPIREAT <ms> (rewriteClientCommandArgument): the
                    // original vector retained, the timestamp object.
                    self.rewrite.original = Some(self.heap.zmalloc(8 * argv.len() as u64));
                    let when = self.heap.zmalloc(self.profile.robj);
                    self.rewrite.objects.push(when);
                }
                Ok(())
            }
            "del" | "unlink" => {
                for k in &argv[1..] {
                    self.delete_key(k);
                }
                Ok(())
            }
            "hset" | "hmset" => {
                if argv.len() < 4 || argv.len() % 2 != 0 {
                    return bad("HSET needs field/value pairs");
                }
                self.hset(argv[1], &argv[2..]);
                Ok(())
            }
            "flushall" | "flushdb" => {
                let async_ = argv.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"async"));
                self.flush(!async_);
                Ok(())
            }
            "memory|purge" => {
                self.heap.purge();
                Ok(())
            }
            "eval" | "evalsha" => self.eval(name, argv, objs),
            "config|set" => {
                for pair in argv[2..].chunks(2) {
                    if pair.len() == 2 && pair[0].eq_ignore_ascii_case(b"maxmemory") {
                        let v = String::from_utf8_lossy(pair[1]);
                        self.maxmemory = crate::units::parse_bytes(&v).map_err(Reply::Unsupported)?;
                    }
                }
                Ok(())
            }
            "script|flush" => {
                self.script_flush();
                Ok(())
            }
            other => bad(&format!("command '{other}' is not modelled")),
        }
    }

    fn set_key(&mut self, key: &[u8], value: Value, value_payload: u64) {
        let payload = key.len() as u64 + value_payload;
        if let Some(k) = self.keys.get_mut(key) {
            self.payload_bytes = self.payload_bytes - k.payload + payload;
            k.payload = payload;
            // Overwrite: the old value goes, the key and its TTL... SET clears the TTL.
            let old = std::mem::replace(&mut k.value, value);
            let exp = k.expire.take();
            self.free_value(old);
            if let Some(e) = exp {
                self.expiry.remove(key);
                self.expires.delete(&mut self.heap);
                self.heap.zfree(e);
            }
            return;
        }
        // dbAdd: sdsdup(key), then dictAddRaw (table growth, then the entry).
        let sds = self.heap.zmalloc(self.profile.sds_request(key.len() as u64));
        self.main.add(&mut self.heap, self.profile.dict_initial_size);
        let entry = self.heap.zmalloc(self.profile.dict_entry);
        self.keys.insert(
            key.to_vec(),
            Key {
                entry,
                sds,
                value,
                expire: None,
                payload,
            },
        );
        self.payload_bytes += payload;
    }

    fn set_expire(&mut self, key: &[u8], ttl_ms: u64) {
        let deadline = self.now_ns + ttl_ms * 1_000_000;
        let has = self.keys.get(key).map(|k| k.expire.is_some());
        match has {
            Some(true) => self.expiry.set(key, deadline),
            Some(false) => {
                let e = self.heap.zmalloc(self.profile.dict_entry);
                self.expires.add(&mut self.heap, self.profile.dict_initial_size);
                self.keys.get_mut(key).unwrap().expire = Some(e);
                self.expiry.set(key, deadline);
            }
            None => {}
        }
    }

    fn free_value(&mut self, v: Value) {
        match v {
            Value::Str(s) => self.free_str(s),
            Value::Hash(robj, enc) => {
                match *enc {
                    HashEnc::Listpack(lp, _, _) => self.heap.zfree(lp),
                    HashEnc::Table(d, mut t, mut fields) => {
                        let order = self.bucket_order(fields.keys().cloned().collect());
                        for name in order {
                            let f = fields.remove(&name).expect("listed field");
                            self.heap.zfree(f.field);
                            self.heap.zfree(f.value);
                            self.heap.zfree(f.entry);
                        }
                        t.clear(&mut self.heap);
                        self.heap.zfree(d);
                    }
                }
                self.heap.zfree(robj);
            }
        }
    }

    fn delete_key(&mut self, key: &[u8]) {
        if let Some(k) = self.keys.remove(key) {
            self.payload_bytes -= k.payload;
            self.main.delete(&mut self.heap);
            if let Some(e) = k.expire {
                self.expiry.remove(key);
                self.expires.delete(&mut self.heap);
                self.heap.zfree(e);
            }
            self.free_value(k.value);
            self.heap.zfree(k.sds);
            self.heap.zfree(k.entry);
        }
    }

    fn hset(&mut self, key: &[u8], pairs: &[&[u8]]) {
        let initial = self.initial();
        if !self.keys.contains_key(key) {
            // createHashObject: robj + lpNew(0) (7 bytes).
            let lp = self.heap.zmalloc(LISTPACK_OVERHEAD);
            let robj = self.heap.zmalloc(self.profile.robj);
            self.set_key(
                key,
                Value::Hash(
                    robj,
                    Box::new(HashEnc::Listpack(lp, LISTPACK_OVERHEAD, Vec::new())),
                ),
                0,
            );
        }
        let mut value = match self
            .keys
            .get_mut(key)
            .map(|k| std::mem::replace(&mut k.value, Value::Str(StrEnc::Shared)))
        {
            Some(v) => v,
            None => return,
        };
        let mut payload_delta = 0i64;
        if let Value::Hash(_, enc) = &mut value {
            let enc: &mut HashEnc = enc;
            // hashTypeTryConversion: any argument longer than hash-max-listpack-value converts.
            if matches!(enc, HashEnc::Listpack(..))
                && pairs
                    .iter()
                    .any(|a| a.len() as u64 > self.profile.hash_max_listpack_value)
            {
                self.convert_to_table(enc);
            }
            for p in pairs.chunks(2) {
                let (f, v) = (&p[0], &p[1]);
                match enc {
                    HashEnc::Listpack(lp, bytes, items) => {
                        if let Some(i) = items.iter().position(|(k, _)| k == f) {
                            payload_delta += v.len() as i64 - items[i].1.len() as i64;
                            let old = listpack_entry(&items[i].1);
                            *bytes = *bytes - old + listpack_entry(v);
                            items[i].1 = v.to_vec();
                        } else {
                            payload_delta += (f.len() + v.len()) as i64;
                            *bytes += listpack_entry(f) + listpack_entry(v);
                            items.push((f.to_vec(), v.to_vec()));
                        }
                        if *bytes > lp.usable {
                            *lp = self.heap.zrealloc(*lp, *bytes);
                        }
                        if items.len() as u64 > self.profile.hash_max_listpack_entries {
                            self.convert_to_table(enc);
                        }
                    }
                    HashEnc::Table(_, dict, fields) => {
                        dict.rehash_steps(&mut self.heap, 1); // dictFind
                        if let Some(hf) = fields.get_mut(*f) {
                            payload_delta += v.len() as i64 - hf.vlen as i64;
                            hf.vlen = v.len() as u64;
                            let nv = self.heap.zmalloc(self.profile.sds_request(v.len() as u64));
                            let old = std::mem::replace(&mut hf.value, nv);
                            self.heap.zfree(old);
                        } else {
                            let field = self.heap.zmalloc(self.profile.sds_request(f.len() as u64));
                            let value = self.heap.zmalloc(self.profile.sds_request(v.len() as u64));
                            dict.add(&mut self.heap, initial);
                            let entry = self.heap.zmalloc(self.profile.dict_entry);
                            payload_delta += (f.len() + v.len()) as i64;
                            let vlen = v.len() as u64;
                            fields.insert(
                                f.to_vec(),
                                HashField {
                                    entry,
                                    field,
                                    value,
                                    vlen,
                                },
                            );
                        }
                    }
                }
            }
        }
        let k = self.keys.get_mut(key).unwrap();
        k.value = value;
        k.payload = (k.payload as i64 + payload_delta) as u64;
        self.payload_bytes = (self.payload_bytes as i64 + payload_delta) as u64;
    }

    /// `hashTypeConvertListpack`: a dict presized for the current length, every field and value
    /// copied into new sds strings, the listpack freed.
    fn convert_to_table(&mut self, enc: &mut HashEnc) {
        let initial = self.initial();
        if let HashEnc::Listpack(lp, _, items) = enc {
            let d = self.heap.zmalloc(self.profile.dict);
            let mut dict = Dict::default();
            dict.expand(&mut self.heap, items.len() as u64, initial);
            let mut fields = DetMap::default();
            for (f, v) in items.iter() {
                let field = self.heap.zmalloc(self.profile.sds_request(f.len() as u64));
                let value = self.heap.zmalloc(self.profile.sds_request(v.len() as u64));
                dict.add(&mut self.heap, initial);
                let entry = self.heap.zmalloc(self.profile.dict_entry);
                let vlen = v.len() as u64;
                fields.insert(
                    f.clone(),
                    HashField {
                        entry,
                        field,
                        value,
                        vlen,
                    },
                );
            }
            self.heap.zfree(*lp);
            *enc = HashEnc::Table(d, dict, fields);
        }
    }

    /// FLUSHALL/FLUSHDB: every key freed, both keyspace tables freed; a synchronous flush then
    /// purges jemalloc (`jemalloc_purge()`), an asynchronous one frees in the background
    /// (modelled as freeing at once) and does not purge.
    pub fn flush(&mut self, sync: bool) {
        // emptyDbStructure: `dictEmpty` of the keyspace, bucket by bucket (the key's sds, its
        // value, its entry), then of the expires dict (its entries; the keys are shared), each
        // table freed after its entries.
        let names = self.bucket_order(self.keys.keys().cloned().collect());
        let mut expire_entries = Vec::new();
        for name in names {
            let k = self.keys.remove(&name).expect("listed key");
            self.heap.zfree(k.sds);
            self.free_value(k.value);
            self.heap.zfree(k.entry);
            expire_entries.extend(k.expire);
        }
        self.main.clear(&mut self.heap);
        for e in expire_entries {
            self.heap.zfree(e);
        }
        self.expires.clear(&mut self.heap);
        self.expiry.clear();
        self.payload_bytes = 0;
        if sync {
            self.heap.purge();
        }
    }

    /// `names` in the order a dict walk meets them: by bucket, and buckets follow the keys'
    /// SipHash under the seed Redis draws at startup (`dictSetHashFunctionSeed` with random
    /// bytes), so the order is random from one server process to the next. The model draws
    /// its own seed from the run's: each run frees in a different order, as each real process
    /// does (which objects end in the thread cache after a FLUSHALL depends on it).
    fn bucket_order(&self, mut names: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        use std::hash::{Hash, Hasher};
        let seed = self.hash_seed;
        // A stable sort: names that hash alike keep the map's (deterministic) order.
        names.sort_by_cached_key(|n| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            seed.hash(&mut h);
            n.hash(&mut h);
            h.finish()
        });
        names
    }

    fn eval(&mut self, name: &str, argv: &[&[u8]], objs: &mut [Option<StrEnc>]) -> Result<(), Reply> {
        if argv.len() < 3 {
            return Err(Reply::Unsupported("EVAL needs a script and numkeys".into()));
        }
        let sha_key: Vec<u8> = if name == "eval" {
            script_sha(argv[1])
        } else {
            argv[1].to_ascii_lowercase()
        };
        if name == "eval" && !self.scripts.contains_key(&sha_key) {
            // luaCreateFunction: sha sds (40 chars), the body object kept, a luaScript struct,
            // a dict entry; the compiled function lives on the Lua heap.
            let sha = self.heap.zmalloc(self.profile.sds_request(40));
            let body = objs[1].take().unwrap();
            let body_mem = match &body {
                StrEnc::Raw(_, s) => s.usable,
                StrEnc::Embstr(e) => e.usable,
                _ => 0,
            };
            let lua_struct = self.heap.zmalloc(self.profile.lua_script_struct);
            self.scripts_dict
                .add(&mut self.heap, self.profile.dict_initial_size);
            let entry = self.heap.zmalloc(self.profile.dict_entry);
            let heap_bytes = self.profile.lua_heap_per_script + argv[1].len() as u64;
            let lua_heap = if self.profile.lua_uses_jemalloc {
                self.heap.malloc_other(heap_bytes)
            } else {
                Alloc {
                    id: u32::MAX,
                    requested: heap_bytes.min(u32::MAX as u64) as u32,
                    usable: heap_bytes,
                }
            };
            self.lua_heap += heap_bytes;
            let accounted = sha.usable + body_mem;
            self.lua_scripts_mem += accounted;
            self.scripts.insert(
                sha_key,
                Script {
                    sha,
                    body,
                    lua_struct,
                    entry,
                    lua_heap,
                    accounted,
                },
            );
        } else if !self.scripts.contains_key(&sha_key) {
            return Err(Reply::Unsupported("NOSCRIPT".into()));
        }
        // The commands a script runs are not modelled (fragsim's scripts only read).
        Ok(())
    }

    fn script_flush(&mut self) {
        let scripts: Vec<Script> = self.scripts.drain().map(|(_, s)| s).collect();
        for s in scripts {
            self.heap.zfree(s.entry);
            self.heap.zfree(s.lua_struct);
            self.heap.zfree(s.sha);
            self.free_str(s.body);
            if s.lua_heap.id != u32::MAX {
                self.heap.free_other(s.lua_heap);
            }
            self.lua_scripts_mem -= s.accounted;
        }
        self.lua_heap = 0;
        self.scripts_dict.clear(&mut self.heap);
    }

    // ----- time ------------------------------------------------------------------------------

    /// Advances simulated time, running `serverCron` every 100 ms: keyspace dicts finish their
    /// rehash and shrink when filled below 10%, expired keys are deleted, clients idle for more
    /// than 2 s give back their query buffer's free space.
    pub fn advance(&mut self, ns: u64) {
        let target = self.now_ns + ns;
        while self.next_cron_ns <= target {
            let step = self.next_cron_ns - self.now_ns;
            self.heap.arena.advance(step);
            self.now_ns = self.next_cron_ns;
            self.cron();
            self.next_cron_ns += CRON_NS;
        }
        self.heap.arena.advance(target - self.now_ns);
        self.now_ns = target;
    }

    fn cron(&mut self) {
        let now = self.now_ns;
        // cronUpdateMemoryStats (every 100 ms).
        self.cron_sample = Some(self.sample());
        // databasesCron: the slow active-expiry cycle.
        let expired = self.expiry.slow_cycle(now, self.expires.table_size());
        for k in expired {
            self.delete_key(&k);
        }
        let initial = self.initial();
        self.main.rehash_all(&mut self.heap);
        self.expires.rehash_all(&mut self.heap);
        let fill = self.profile.dict_min_fill_percent;
        self.main.maybe_shrink(&mut self.heap, initial, fill);
        self.expires.maybe_shrink(&mut self.heap, initial, fill);
        // clientsCronResizeQueryBuffer (between commands a buffer holds nothing): one wasting
        // more than 4 KiB shrinks to nothing when its client has idled over 2 s, or, above 32 KiB
        // (PROTO_RESIZE_THRESHOLD), to the most it held since the last look when that is under
        // half its size. The peak restarts.
        for i in 0..self.clients.len() {
            let Some(c) = &self.clients[i] else { continue };
            let (alloc, peak) = (c.qbuf_alloc(), c.qb_peak);
            if alloc > 4096 {
                if now.saturating_sub(c.last_active_ns) > 2_000_000_000 {
                    // sdsRemoveFreeSpace of an empty buffer.
                    self.qbuf_resize(i, 0);
                } else if alloc > 32 * 1024 && alloc / 2 > peak {
                    self.qbuf_resize(i, peak);
                }
            }
            if let Some(c) = self.clients[i].as_mut() {
                c.qb_peak = 0;
            }
            self.resize_output_buffer(i, now);
        }
        self.peak = self.peak.max(self.used_memory());
    }

    // ----- INFO ------------------------------------------------------------------------------

    /// `INFO memory` as it stands now, with the clients that are connected now (none more):
    /// the figures a test's peak is taken from.
    pub fn info(&self) -> InfoMemory {
        self.info_with(0)
    }

    /// `INFO memory` as the measurement reads it: a fresh connection sends it once the test's
    /// clients are gone, so its own client counts in `used_memory` (and `INFO` raises
    /// `used_memory_peak` to it); the allocator and RSS figures are the cron's, from before it
    /// connected. The way the baseline was measured.
    pub fn measured_info(&self) -> InfoMemory {
        self.info_with(self.measuring_client)
    }

    /// The figures `cronUpdateMemoryStats` samples (every 100 ms at hz 10): the allocator's
    /// `stats.allocated`, `active` and `resident`, the process RSS, and `used_memory` (for
    /// `mem_fragmentation_ratio`), live.
    fn sample(&self) -> CronSample {
        let b = &self.profile.baseline;
        let st = self.heap.arena.stats();
        let page = self.heap.arena.size_classes().page();
        let s0 = &self.start;
        let delta = |now: u64, then: u64| now as i64 - then as i64;
        let plus = |base: u64, d: i64| (base as i64 + d).max(0) as u64;
        // RSS grows by the pages the program wrote and by jemalloc's metadata pages.
        let meta = |s: &crate::jemalloc::Stats| s.metadata_resident(page);
        let rss = plus(
            b.rss,
            delta(st.touched_pages, s0.touched_pages) * page as i64 + delta(meta(&st), meta(s0)),
        ) + if self.profile.lua_uses_jemalloc {
            0
        } else {
            self.lua_heap
        } + if self.client_seen { b.first_client_rss } else { 0 };
        CronSample {
            allocated: plus(b.allocator_allocated, delta(st.allocated, s0.allocated)),
            active: plus(b.allocator_active, delta(st.active, s0.active)),
            resident: plus(b.allocator_resident, delta(st.resident, s0.resident)),
            rss,
            used: self.used_memory(),
        }
    }

    fn info_with(&self, client: u64) -> InfoMemory {
        // What INFO prints: the cron's last sample of the allocator and RSS (and of used_memory
        // for mem_fragmentation_ratio), when measured; the live state while a test runs.
        let s = match self.cron_sample {
            Some(sample) if client > 0 => sample,
            _ => self.sample(),
        };
        let b = &self.profile.baseline;
        let used = self.used_memory() + client;
        let nkeys = self.keys.len() as u64;
        let db_overhead = if nkeys == 0 {
            0
        } else {
            nkeys * (self.profile.dict_entry + self.profile.robj)
                + self.main.slots() * 8
                + self.expires.used * self.profile.dict_entry
                + self.expires.slots() * 8
        };
        let lua_caches = self.lua_scripts_mem
            + self.scripts.len() as u64 * (self.profile.dict_entry + self.profile.lua_script_struct)
            + self.scripts_dict.slots() * 8;
        let overhead =
            b.used_memory_startup + b.clients_normal + lua_caches + b.functions_caches + db_overhead;
        let mut info = InfoMemory::compute(
            used,
            self.peak.max(used),
            overhead,
            b.used_memory_startup,
            s.allocated,
            s.active,
            s.resident,
            s.rss,
            b.vm_eval + self.lua_heap,
            b.vm_functions,
            lua_caches,
            b.functions_caches,
            self.scripts.len() as u64,
            self.maxmemory,
            b.clients_normal,
            self.profile.mem_allocator.clone(),
        );
        if client > 0 {
            // The ratio of the cron's two samples, taken together.
            info.mem_fragmentation_ratio = super::info::ratio(s.rss, s.used);
            info.mem_fragmentation_bytes = s.rss as i64 - s.used as i64;
        }
        info
    }

    /// What fragsim's own measurement does to the server after reading it: a client connects,
    /// sends `INFO memory` and leaves. Its allocations pass through the thread cache (and drive
    /// its garbage collection) like any client's.
    pub fn measurement_traffic(&mut self) {
        let c = self.connect();
        self.exec(c, &[b"INFO".to_vec(), b"memory".to_vec()]);
        self.disconnect(c);
    }

    /// Allocator stats of the model's arena alone (without the baseline).
    pub fn arena_stats(&self) -> crate::jemalloc::Stats {
        self.heap.arena.stats()
    }
}

/// The command name Redis files latency under: lower case, `container|sub` for container
/// commands.
pub fn command_name<A: AsRef<[u8]>>(argv: &[A]) -> String {
    let n = String::from_utf8_lossy(argv[0].as_ref()).to_ascii_lowercase();
    const CONTAINERS: &[&str] = &[
        "memory", "script", "config", "client", "function", "object", "xgroup", "command", "latency",
    ];
    if CONTAINERS.contains(&n.as_str()) && argv.len() > 1 {
        format!(
            "{n}|{}",
            String::from_utf8_lossy(argv[1].as_ref()).to_ascii_lowercase()
        )
    } else {
        n
    }
}

/// Bytes of a command in RESP: `*N\r\n` then `$len\r\n<arg>\r\n` per argument.
pub fn resp_len<A: AsRef<[u8]>>(argv: &[A]) -> u64 {
    let args: u64 = argv
        .iter()
        .map(|a| a.as_ref().len() as u64)
        .map(|n| resp_header(n) + n + 2)
        .sum();
    resp_header(argv.len() as u64) + args
}

/// The script cache key: the SHA1 of the body in lower-case hex, as EVALSHA names it.
pub fn script_sha(body: &[u8]) -> Vec<u8> {
    sha1_smol::Sha1::from(body).digest().to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&[u8]]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.to_vec()).collect()
    }

    /// used_memory after each SET, as measured on Debian's redis-server 7.0.15 (a fresh
    /// connection per command, the `set` histogram already made). Per key: dictEntry 24 -> 32,
    /// key sds "a:N" (type 5: 1 + 3 + 1 = 5 -> 8), then the value:
    ///  - 100 B: robj 16 + sds 3 + 100 + 1 = 104 -> 112: 168, plus the first table, 4 buckets
    ///    (32 B): 200;
    ///  - 30,000 B: robj 16 + 5 + 30,000 + 1 = 30,006 -> 32,768: 32,824;
    ///  - 100 KiB: robj 16 + 9 + 102,400 + 1 = 102,410 -> 114,688: 114,744; the fifth key grows
    ///    the table to 8 buckets (+32): 114,776;
    ///  - "12345" (>= 10,000: not shared): an INT robj, 16: 56;
    ///  - 40 B: embstr 16 + 3 + 40 + 1 = 60 -> 64: 104;
    ///  - 2,000 B: 2,006 -> 2,048: 2,104; the ninth key grows the table to 16 (+64): 2,168.
    ///    A FLUSHALL then frees all of it, 16 buckets included: -265,096.
    #[test]
    fn used_memory_per_set_matches_the_measured_server() {
        let mut p = RedisProfile::builtin("redis-7.0-debian").unwrap();
        p.baseline.commands_seen = vec!["set".into(), "flushall".into(), "info".into()];
        let mut s = Server::new(p, 1).unwrap();
        let steps: Vec<(Vec<Vec<u8>>, i64)> = vec![
            (argv(&[b"SET", b"a:1", &[b'x'; 100]]), 200),
            (argv(&[b"SET", b"a:2", &[b'x'; 100]]), 168),
            (argv(&[b"SET", b"a:3", &[b'x'; 30_000]]), 32_824),
            (argv(&[b"SET", b"a:4", &[b'x'; 102_400]]), 114_744),
            (argv(&[b"SET", b"a:5", &[b'x'; 102_400]]), 114_776),
            (argv(&[b"SET", b"a:6", b"12345"]), 56),
            (argv(&[b"SET", b"a:7", b"123456789"]), 56),
            (argv(&[b"SET", b"a:8", &[b'x'; 40]]), 104),
            (argv(&[b"SET", b"a:9", &[b'y'; 2000]]), 2_168),
            (argv(&[b"FLUSHALL", b"SYNC"]), -265_096),
        ];
        for (cmd, want) in steps {
            let before = s.used_memory() as i64;
            let c = s.connect();
            s.exec(c, &cmd);
            s.disconnect(c);
            s.advance(250_000_000);
            assert_eq!(
                s.used_memory() as i64 - before,
                want,
                "{}",
                String::from_utf8_lossy(&cmd[0])
            );
        }
    }

    /// A shared integer below 10,000 costs only the key; a TTL adds an expires entry (32) and the
    /// expires table's first 4 buckets (32).
    #[test]
    fn shared_integers_and_ttls() {
        let mut p = RedisProfile::builtin("redis-7.0-debian").unwrap();
        p.baseline.commands_seen = vec!["set".into(), "ping".into(), "info".into()];
        let mut s = Server::new(p, 1).unwrap();
        let c = s.connect();
        // The client's first command grows its query buffer to 16 KiB (20,480 B class).
        s.exec(c, &argv(&[b"PING"]));
        let u0 = s.used_memory();
        s.exec(c, &argv(&[b"SET", b"n", b"42"]));
        // dictEntry 32 + key "n" (1 + 1 + 1 -> 8) + the first table (32).
        assert_eq!(s.used_memory() - u0, 72);
        let u1 = s.used_memory();
        s.exec(c, &argv(&[b"SET", b"t", b"42", b"EX", b"100"]));
        assert_eq!(s.used_memory() - u1, 32 + 8 + 32 + 32);
        // Expired by the cron once its time has passed.
        s.advance(101_000_000_000);
        assert_eq!(s.dbsize(), 1);
    }

    /// The query buffer as `readQueryFromClient` grows it, for a client whose first command is
    /// a SET (its buffer starts as an empty sds, 8 B). The key costs dictEntry 32 + key sds 8 +
    /// robj 16 + the value + the first table 32.
    ///
    /// - 20,000-B value (not a big argument): the first read makes room for exactly 16 KiB
    ///   (16,390 B -> 20,480) and reads 16,384 B; the header, the key and the value's bulk
    ///   header are parsed (30 B), 16,354 B are left; the second read makes room greedily:
    ///   (16,354 + 16,384) x 2 = 65,476 B, an sds of type 16: + 6 = 65,482 -> 65,536. Key 20,568
    ///   (value 20,006 -> 20,480), buffer +65,528.
    /// - The same SET after a PING: the buffer already has 20,474 B of room, the whole 20,030-B
    ///   command fits in one read, and the buffer stays as it is: only the key, 20,568.
    /// - 40,000-B value, a big argument (>= 32 KiB): after the first read the buffer makes room
    ///   for exactly the rest of the argument (40,002 B + 6 -> 40,960), which becomes the value;
    ///   the client gets a new buffer of 40,002 + 6 B (40,960). Key 41,048, buffer +40,952.
    #[test]
    fn the_query_buffer_grows_as_redis_reads() {
        let mut p = RedisProfile::builtin("redis-7.0-debian").unwrap();
        p.baseline.commands_seen = vec!["set".into(), "ping".into(), "info".into()];
        for (value, ping_first, want) in [
            (20_000usize, false, 20_568 + 65_528),
            (20_000, true, 20_568),
            (40_000, false, 41_048 + 40_952),
        ] {
            let mut s = Server::new(p.clone(), 1).unwrap();
            let c = s.connect();
            if ping_first {
                s.exec(c, &argv(&[b"PING"]));
            }
            let u0 = s.used_memory();
            s.exec(c, &argv(&[b"SET", b"a:1", &vec![b'x'; value]]));
            assert_eq!(s.used_memory() - u0, want, "{value} {ping_first}");
        }
    }

    /// The sizes of the allocations recorded so far, in order.
    fn recorded_allocs(s: &Server) -> Vec<u64> {
        use crate::jemalloc::trace::TraceOp;
        s.heap
            .recorder
            .as_ref()
            .expect("recording")
            .ops
            .iter()
            .filter_map(|o| match *o {
                TraceOp::Alloc { size } => Some(size),
                _ => None,
            })
            .collect()
    }

    /// A connection's allocations as a trace of the real server shows them: the empty query
    /// buffer (4 B, sds type 8) is replaced, not reallocated, by the first read's 16 KiB buffer
    /// (type 16: a new block, the old one freed), and each reply puts the client on the
    /// pending-write list (a 24 B node, freed after the reply is written). Closing queues the
    /// client for freeing (another node).
    #[test]
    fn a_connection_allocates_as_the_traced_server_does() {
        use crate::jemalloc::trace::TraceOp;
        let p = RedisProfile::builtin("redis-7.0-debian").unwrap();
        let mut s = Server::new(p, 1).unwrap();
        s.heap.record();
        let c = s.connect();
        s.exec(c, &argv(&[b"PING"]));
        s.exec(c, &argv(&[b"PING"]));
        s.disconnect(c);
        let allocs = recorded_allocs(&s);
        let ops = &s.heap.recorder.as_ref().unwrap().ops;
        assert!(!ops.iter().any(|o| matches!(o, TraceOp::Realloc { .. })));
        // createClient's blocks, the 4-byte query buffer, the 16,390-byte one that replaces it.
        assert_eq!(
            allocs[..13],
            [64, 744, 16384, 48, 56, 48, 56, 48, 56, 24, 16, 4, 16_390]
        );
        let empty_qbuf = 11;
        assert!(ops.contains(&TraceOp::Free { op: empty_qbuf }));
        // Per PING: argv (8 B), the "PING" embstr (24 B), the reply node; the PING histogram
        // once; then the closing node.
        assert_eq!(allocs[13..], [8, 24, 24, 24_576, 104, 8, 24, 24, 24]);
        // All freed but the histogram (24,576 + 112 B).
        assert_eq!(s.heap.zmalloc_used, 24_688);
    }

    /// `SET k v PX ms` is propagated as `SET k v PXAT <ms>`: after the key's blocks, the
    /// timestamp object (a 16 B robj), the original 5-argument vector kept (40 B) and the new one
    /// (40 B), which replaces the parsed vector at once; all freed after the command, as in the
    /// traced server.
    #[test]
    fn set_with_a_ttl_rewrites_its_argv() {
        let mut p = RedisProfile::builtin("redis-7.0-debian").unwrap();
        p.baseline.commands_seen = vec!["set".into()];
        let mut s = Server::new(p, 1).unwrap();
        let c = s.connect();
        s.exec(c, &argv(&[b"SET", b"a", b"1"]));
        s.heap.record();
        let u0 = s.heap.zmalloc_used;
        s.exec(c, &argv(&[b"SET", b"b", b"xyz", b"PX", b"60000"]));
        let sizes = recorded_allocs(&s);
        // argv, the embedded strings "SET", "b", "xyz", "PX", "60000" (robj 16 + header 3 +
        // bytes + 1), the key's sds, its entry, its expires entry, the expires dict's first
        // table (4 buckets), then the rewrite, then the reply node.
        assert_eq!(sizes, [40, 23, 21, 23, 22, 25, 3, 24, 24, 32, 16, 40, 40, 24]);
        // Kept: the key's sds (8), entry (32), expires entry (32) and table (32), the value's
        // embedded string (32).
        assert_eq!(s.heap.zmalloc_used - u0, 8 + 32 + 32 + 32 + 32);
    }

    /// A connected client's 16 KiB reply buffer shrinks to 1 KiB at the cron's second look
    /// (`clientsCronResizeOutputBuffer`: the first look resets the peak, since Redis 7.0 stamps
    /// a new client's reset time in seconds and compares it in milliseconds; the second finds
    /// a peak of 5 bytes, `+OK`, under half the buffer): 15,360 B less, as the traced server
    /// freed three writers' buffers 177 ms into a test.
    #[test]
    fn the_cron_shrinks_an_idle_clients_reply_buffer() {
        let mut p = RedisProfile::builtin("redis-7.0-debian").unwrap();
        p.baseline.commands_seen = vec!["set".into()];
        let mut s = Server::new(p, 1).unwrap();
        let c = s.connect();
        s.exec(c, &argv(&[b"SET", b"a", b"1"]));
        let u0 = s.used_memory();
        // The cron looks every 100 ms, from a moment each run draws: one look in the first
        // 100 ms, the second within the next.
        s.advance(100_000_000);
        assert_eq!(s.used_memory(), u0);
        s.advance(100_000_000);
        assert_eq!(u0 - s.used_memory(), 16_384 - 1_024);
        // Idle past 2 s: the 1 KiB reply buffer stays (nothing filled it), the query buffer's
        // 20,480 B block becomes an empty 8 B one.
        s.advance(10_000_000_000);
        assert_eq!(u0 - s.used_memory(), 16_384 - 1_024 + 20_480 - 8);
    }

    /// With maxmemory set, DENYOOM writes are refused once used_memory (this command's argv and
    /// query buffer included) is over it; reads and deletes still run.
    #[test]
    fn maxmemory_refuses_writes_not_reads() {
        let mut p = RedisProfile::builtin("redis-7.0-debian").unwrap();
        p.baseline.commands_seen = vec!["set".into(), "get".into(), "del".into(), "info".into()];
        let mut s = Server::new(p, 1).unwrap();
        let c = s.connect();
        // A first 30 KB SET grows the client's query buffer (16 KiB read, then room made
        // greedily: 65,482 B -> 65,536), so later SETs, read at once, only add their argv.
        s.exec(c, &argv(&[b"SET", b"k0", &[b'v'; 30_000]]));
        let u = s.used_memory();
        s.maxmemory = u + 70_000;
        let mut refused_at = None;
        for i in 1..10 {
            let r = s.exec(c, &argv(&[b"SET", format!("k{i}").as_bytes(), &[b'v'; 30_000]]));
            if r == Reply::Oom && refused_at.is_none() {
                refused_at = Some(i);
            }
        }
        // Each stored key adds 32,824 B; at check time a SET's argv adds 32,880 (argv array 32,
        // "SET" and the key as 32 B embstrs, the value's robj 16 + 32,768). k1: u + 32,880 and
        // k2: u + 32,824 + 32,880 = u + 65,704 pass; k3: u + 65,648 + 32,880 > u + 70,000.
        assert_eq!(refused_at, Some(3));
        assert_eq!(s.exec(c, &argv(&[b"GET", b"k1"])), Reply::Ok);
        assert_eq!(s.exec(c, &argv(&[b"DEL", b"k1"])), Reply::Ok);
        assert_eq!(s.refusals[0].command, "set");
    }
}
