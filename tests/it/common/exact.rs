//! Commands run one at a time on a freshly started redis-server and on the model, side by side,
//! for exact comparisons: the `used_memory` each command leaves behind, and `MEMORY USAGE` of a
//! key. The live side reads `INFO memory` on a connection of its own after every command (the
//! same connection's allocations in every reading, so they cancel out in a delta; a `PING` on
//! the command connection then makes sure the server has closed it); the model runs the same
//! commands from one client and reads `used_memory` directly. Before the first reading both
//! sides' query buffers are warmed and their reply buffers shrunk by the cron to the 1 KiB
//! that small replies keep them at, so each delta is what the command itself left: the
//! value's blocks, the key's, the dict tables', and the command's latency histogram the first
//! time it runs.
//!
//! The model runs the built-in Debian profile: used_memory counts usable sizes, which depend on
//! the size classes and Redis's own structures, not on the allocator's state.
//!
//! One thing differs between the two by design: when a dict's table doubles, the old table is
//! freed once the incremental rehash has moved every bucket, and which buckets are empty
//! depends on Redis's random hash seed, which the model follows on average. So the command
//! that frees an old table may differ by one or two, and a delta by that table's size. The
//! keyspace's dicts are rehashed by the cron as well: [`Exact::settle`] waits for it (and
//! moves the model's clock as far), after which both have finished; a collection's own dict
//! (a set's, a hash's) is rehashed only by the commands on it, so compare where no rehash is
//! under way, or compare what a run of commands left in all ([`Exact::since_start`]).
//!
//! And one the model leaves out: the server's command table. A container command's
//! subcommands (`MEMORY USAGE`, `CONFIG GET`) sit in a dict of their own that startup left
//! mid-rehash (`MEMORY`'s 6 subcommands grew it from 4 to 8 buckets); each lookup is a rehash
//! step, and the one that finishes frees the old 4-bucket table, 32 bytes, after one to four
//! calls depending on the hash seed. [`Exact::start`] calls `MEMORY USAGE` six times on both
//! sides before the first reading, so that no comparison meets it.

use fragsim::redis::resp::{Connection, Resp};
use fragsim::redis::server::ClientId;
use fragsim::redis::{RedisProfile, Server};
use fragsim::validate::live_redis::RedisProcess;

use super::{
    live_cluster_node, live_server, live_server_with, version_cluster_node, version_server, LiveGuard,
};

/// A live server and a model server, each with one connected client.
pub struct Exact {
    _process: RedisProcess,
    conn: Connection,
    model: Server,
    client: ClientId,
    live_used: i64,
    model_used: i64,
    /// The readings [`Exact::start`] took.
    live_start: i64,
    model_start: i64,
    /// Bytes of the last command's reply.
    last_reply_len: u64,
    /// Whether the model hashes collection members with the live server's own dict key
    /// (see [`Exact::start_version`]).
    pub dict_key_known: bool,
    /// `connected_clients` at the first reading (see [`Exact::live_used_memory`]).
    live_clients: Option<i64>,
    /// Where the keyspace is Valkey's hashtable: the last readings of its tables on each side,
    /// (`overhead.db.hashtable.lut`, child buckets); see [`Exact::start_version`].
    live_tables: Option<(i64, i64)>,
    model_tables: Option<(i64, i64)>,
}

/// The most slots of an argv array the cron leaves a client that keeps it (Redis 8.0
/// `clientsCronFreeArgvIfIdle`, `src/server.c`).
const ARGV_KEPT_BY_CRON: usize = 128;

/// Bytes of a connected client's reply buffer once the cron has shrunk it (`PROTO_REPLY_MIN_BYTES`).
const REPLY_BUFFER: u64 = 1024;

/// Bytes of `r` as RESP2 puts it on the wire.
fn resp_len(r: &Resp) -> u64 {
    let digits = |n: i64| n.to_string().len() as u64;
    match r {
        Resp::Simple(s) | Resp::Error(s) => 3 + s.len() as u64,
        Resp::Int(n) => 3 + digits(*n),
        Resp::Bulk(None) | Resp::Array(None) => 5,
        Resp::Bulk(Some(b)) => 5 + digits(b.len() as i64) + b.len() as u64,
        Resp::Array(Some(items)) => 3 + digits(items.len() as i64) + items.iter().map(resp_len).sum::<u64>(),
    }
}

/// One command's `used_memory` delta on each side. Where the keyspace is Valkey's hashtable
/// ([`Exact::start_version`]), both leave out the child buckets (64 B each) the keyspace's
/// tables gained or lost, and `live_tables`/`model_tables` are the tables' own delta
/// (`overhead.db.hashtable.lut`) without them: which bucket a key lands in follows the hash
/// seed each process draws, so the child buckets are the one thing the two sides may not
/// share (their counts are in `live_children`/`model_children`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delta {
    pub live: i64,
    pub model: i64,
    pub live_tables: i64,
    pub model_tables: i64,
    pub live_children: i64,
    pub model_children: i64,
}

impl std::ops::AddAssign for Delta {
    /// Both sides' deltas of two readings in a row, summed field by field.
    fn add_assign(&mut self, d: Delta) {
        self.live += d.live;
        self.model += d.model;
        self.live_tables += d.live_tables;
        self.model_tables += d.model_tables;
        self.live_children += d.live_children;
        self.model_children += d.model_children;
    }
}

impl Exact {
    /// A fresh live server (`None`, with a notice, when none can be started) and a model of it.
    pub fn start(live: &LiveGuard) -> Option<Exact> {
        let process = live_server(live)?;
        Some(Self::with(
            process,
            RedisProfile::builtin("redis-7.0-debian").unwrap(),
        ))
    }

    /// A fresh live server started with `extra` arguments (`--list-compress-depth 1`), and a
    /// model of it: the Debian profile as `adjust` changes it to match them.
    pub fn start_with(
        live: &LiveGuard,
        extra: &[&str],
        adjust: impl FnOnce(&mut RedisProfile),
    ) -> Option<Exact> {
        let process = live_server_with(live, extra)?;
        let mut profile = RedisProfile::builtin("redis-7.0-debian").unwrap();
        adjust(&mut profile);
        Some(Self::with(process, profile))
    }

    /// A fresh one-node cluster and the model in cluster mode.
    pub fn start_cluster(live: &LiveGuard) -> Option<Exact> {
        let process = live_cluster_node(live)?;
        let profile = RedisProfile::builtin("redis-7.0-debian")
            .unwrap()
            .with_cluster()
            .unwrap();
        Some(Self::with(process, profile))
    }

    /// A fresh one-node cluster of a built-in profile's version (`$FRAGSIM_SERVERS/<profile>`,
    /// see `version_cluster_node`) and a model of it: the profile in cluster mode (its
    /// `[cluster_baseline]`), hashing collection members with the server's own dict key when it
    /// can be read (see [`Exact::start_version`]). `None` (with a notice) when the binary is not
    /// at hand. Nothing warms the keyspace: in cluster mode a slot's dict comes and goes with
    /// its keys, on both sides.
    pub fn start_cluster_version(live: &LiveGuard, profile: &str) -> Option<Exact> {
        let p = RedisProfile::builtin(profile)
            .expect("a built-in profile")
            .with_cluster()
            .expect("the profile has a cluster baseline");
        let process = version_cluster_node(live, profile)?;
        let key = if p.layout.object_embeds_key {
            None
        } else {
            live_dict_key(&process)
        };
        Some(Self::with_parts(process, p, key, false, false))
    }

    /// A freshly started server of a built-in profile's version (`$FRAGSIM_SERVERS/<profile>`,
    /// see `version_server`) with `extra` arguments, and a model of it from that profile;
    /// `None` (with a notice) when the binary is not at hand.
    ///
    /// The model hashes collection members with the server's own dict key, read from its
    /// memory ([`live_dict_key`]), when it can: then which members of a Redis 7.2+ hashtable
    /// set share a bucket (and take a `dictEntryNoValue`), which bucket of a Valkey 8.1+
    /// collection's hashtable each member lands in (its child buckets), and which buckets a
    /// rehash step moves, are the server's (Valkey seeds `hashtableGenHashFunction` and
    /// `dictGenHashFunction` with the same bytes, valkey 8.1.1 `src/server.c`). For Valkey 8.1+ the server runs
    /// with `enable-debug-command yes`, and each reading also takes `MEMORY STATS` and `DEBUG
    /// HTSTATS 0 full` (the keyspace tables' bytes and child buckets; see [`Delta`]).
    ///
    /// With `lookups_rehash`, both sides run with `activerehashing no`: only lookups move a
    /// rehash on, so when an old table goes does not depend on when the server's cron ticks
    /// between two commands ([`Exact::settle`] then finishes no rehash).
    pub fn start_version(
        live: &LiveGuard,
        profile: &str,
        extra: &[&str],
        lookups_rehash: bool,
    ) -> Option<Exact> {
        Self::start_version_with(live, profile, extra, lookups_rehash, |_| {})
    }

    /// [`Exact::start_version`] with the version's profile as `adjust` changes it to match
    /// `extra` (`--list-max-listpack-size 4`).
    pub fn start_version_with(
        live: &LiveGuard,
        profile: &str,
        extra: &[&str],
        lookups_rehash: bool,
        adjust: impl FnOnce(&mut RedisProfile),
    ) -> Option<Exact> {
        let mut p = RedisProfile::builtin(profile).expect("a built-in profile");
        adjust(&mut p);
        let tables = p.layout.object_embeds_key;
        let mut args: Vec<&str> = extra.to_vec();
        if tables {
            args.extend(["--enable-debug-command", "yes"]);
        }
        if lookups_rehash {
            args.extend(["--activerehashing", "no"]);
            p.layout.no_active_rehashing = true;
        }
        let process = version_server(live, profile, &args)?;
        let key = live_dict_key(&process);
        Some(Self::with_parts(process, p, key, !tables, tables))
    }

    fn with(process: RedisProcess, profile: RedisProfile) -> Exact {
        Self::with_parts(process, profile, None, false, false)
    }

    /// The pair, warmed as the module's notes say. `key`: the server's dict hash key, for the
    /// model. `warm_keyspace`: a key also set and deleted on both sides first, for Redis 7.4+,
    /// whose keyspace (`kvstore`) allocates its dict struct when the first key comes
    /// (`KVSTORE_ALLOCATE_DICTS_ON_DEMAND`, 64 B with its metadata) and keeps it: the model's
    /// keyspace does not have that block, and the comparisons are of the collections.
    /// `tables`: the readings take the Valkey keyspace tables' figures too.
    fn with_parts(
        process: RedisProcess,
        profile: RedisProfile,
        key: Option<[u8; 16]>,
        warm_keyspace: bool,
        tables: bool,
    ) -> Exact {
        let mut conn = Connection::open(&process.addr).expect("the fresh server answers");
        if tables {
            // The readings' own commands' histograms made before the first reading.
            conn.call_str(&["MEMORY", "STATS"]).unwrap();
            conn.call_str(&["DEBUG", "HTSTATS", "0", "full"]).unwrap();
            // Each reading is a new connection, with a new client id; the server keeps its
            // clients in a radix tree by id (`clients_index`), which takes a 32-B node more
            // once ids pass 256 while the command connection (a low id) stays: a test of a few
            // hundred commands would see it in one of them. Past it before the first reading.
            for _ in 0..300 {
                let mut c = Connection::open(&process.addr).unwrap();
                c.call_str(&["PING"]).unwrap();
            }
            // Until the server has freed them all: the command connection and the one asking.
            for _ in 0..400 {
                let mut m = Connection::open(&process.addr).unwrap();
                let info = m.call_str(&["INFO", "clients"]).unwrap().text().unwrap();
                if info.lines().any(|l| l.trim() == "connected_clients:2") {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        let mut model = Server::new(profile, 1).unwrap();
        if let Some(k) = key {
            model.set_dict_hash_key(k);
        }
        let client0 = model.connect();
        if warm_keyspace {
            for argv in [&["SET", "fragsim:warm", "1"][..], &["DEL", "fragsim:warm"]] {
                conn.call_str(argv).unwrap();
                let a: Vec<&[u8]> = argv.iter().map(|w| w.as_bytes()).collect();
                model.exec(client0, &a).unwrap();
            }
        }
        let client = client0;
        // Warm both sides: the query buffer grown, INFO's and PING's histograms made.
        conn.call_str(&["PING"]).unwrap();
        model.exec(client, &[b"PING".as_slice()]).unwrap();
        // MEMORY's histogram made on both sides, and on the live one the rehash of MEMORY's
        // subcommand table finished (see the module's notes): at most four lookups.
        let usage: [&[u8]; 5] = [b"MEMORY", b"USAGE", b"warm", b"SAMPLES", b"0"];
        for _ in 0..6 {
            conn.call(&usage).unwrap();
            model.exec(client, &usage).unwrap();
        }
        let mut e = Exact {
            _process: process,
            conn,
            model,
            client,
            live_used: 0,
            model_used: 0,
            live_start: 0,
            model_start: 0,
            last_reply_len: 0,
            dict_key_known: key.is_some(),
            live_clients: None,
            live_tables: tables.then_some((0, 0)),
            model_tables: tables.then_some((0, 0)),
        };
        e.live_used = e.live_used_memory();
        e.model_used = e.model.used_memory() as i64;
        // The cron shrinks both reply buffers (16 KiB at connect) to 1 KiB.
        e.settle();
        e.live_start = e.live_used;
        e.model_start = e.model_used;
        e
    }

    /// `used_memory` read on a connection of its own, closed before the next command. The
    /// server frees a closed connection's client when it gets to it, which under load may be
    /// after the next reading has begun: that reading would count a whole client more (its
    /// struct and buffers, 38,080 bytes, outside `mem_clients_normal` then). So a reading is
    /// taken only when the server has as many clients as the first one saw (the command
    /// connection and the reading's own) and no object is waiting for the lazy-free thread;
    /// else it is taken again a moment later.
    fn live_used_memory(&mut self) -> i64 {
        for _ in 0..200 {
            let mut m = Connection::open(&self._process.addr).unwrap();
            let info = m
                .call_str(&["INFO", "memory", "clients"])
                .unwrap()
                .text()
                .unwrap();
            let tables = self.live_tables.map(|_| hashtable_reading(&mut m));
            drop(m);
            self.conn.call_str(&["PING"]).unwrap();
            let field = |name: &str| -> i64 {
                info.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or_else(|| panic!("INFO has {name}"))
            };
            let clients = field("connected_clients:");
            let expected = *self.live_clients.get_or_insert(clients);
            // A value the lazy-free thread is still freeing (Valkey 8.0+ frees a large one in
            // the background on DEL, `lazyfree-lazy-user-del`): the model frees it at once.
            let pending = field("lazyfree_pending_objects:");
            if clients == expected && pending == 0 {
                if let Some(t) = tables {
                    self.live_tables = Some(t);
                }
                return field("used_memory:");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("the server kept a closed connection's client, or a value to free lazily, for a second");
    }

    /// Runs `argv` on both sides and returns what it left in `used_memory` on each. Panics when
    /// the live server replies with an error or the model refuses the command.
    pub fn run<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Delta {
        let reply = self.conn.call(argv).unwrap();
        if let Resp::Error(e) = reply {
            panic!("{}: {e}", show(argv));
        }
        self.last_reply_len = resp_len(&reply);
        let r = self.model.exec(self.client, argv).unwrap();
        assert_eq!(r, fragsim::redis::server::Reply::Ok, "{}", show(argv));
        self.reading()
    }

    /// Both sides read: the `used_memory` delta since the last reading (and the tables', see
    /// [`Delta`]).
    fn reading(&mut self) -> Delta {
        let (live_t0, model_t0) = (self.live_tables, self.model_tables);
        let live = self.live_used_memory();
        let model = self.model.used_memory() as i64;
        self.model_tables = self
            .model
            .keyspace_hashtables()
            .map(|(lut, children)| (lut as i64, children as i64));
        let mut d = Delta {
            live: live - self.live_used,
            model: model - self.model_used,
            ..Delta::default()
        };
        if let (Some(a0), Some(a1), Some(b0), Some(b1)) =
            (live_t0, self.live_tables, model_t0, self.model_tables)
        {
            d.live_children = a1.1 - a0.1;
            d.model_children = b1.1 - b0.1;
            d.live -= 64 * d.live_children;
            d.model -= 64 * d.model_children;
            d.live_tables = a1.0 - a0.0 - 64 * d.live_children;
            d.model_tables = b1.0 - b0.0 - 64 * d.model_children;
        }
        self.live_used = live;
        self.model_used = model;
        d
    }

    /// Waits 250 ms (two of the server's cron ticks, which finish the keyspace dicts' rehash)
    /// and moves the model's clock as far; returns what that changed on each side.
    pub fn settle(&mut self) -> Delta {
        std::thread::sleep(std::time::Duration::from_millis(250));
        self.model.advance(250_000_000);
        self.reading()
    }

    /// What everything since [`Exact::start`] left in `used_memory` on each side.
    pub fn since_start(&self) -> Delta {
        Delta {
            live: self.live_used - self.live_start,
            model: self.model_used - self.model_start,
            ..Delta::default()
        }
    }

    /// Runs each command, then [`Exact::settle`]s, and asserts that each command, settled,
    /// leaves the same `used_memory` on both sides.
    pub fn same_settled_deltas<A: AsRef<[u8]>>(&mut self, script: &[Vec<A>]) {
        for argv in script {
            let d = self.run(argv);
            let s = self.settle();
            assert_eq!(
                d.model + s.model,
                d.live + s.live,
                "used_memory delta of {}, settled",
                show(argv)
            );
            assert_eq!(
                d.model_tables + s.model_tables,
                d.live_tables + s.live_tables,
                "keyspace tables' delta of {}, settled",
                show(argv)
            );
        }
    }

    /// Runs each command and asserts that it leaves the same `used_memory` on both sides. A
    /// reply longer than the client's 1 KiB reply buffer fills it, and the server's next cron
    /// look (within 100 ms of wall-clock time) doubles the buffer; likewise, where a client
    /// keeps its argv array (Redis 8.0), one of over 128 slots is freed at the cron's next
    /// look. The model's clock does not move between commands, so such a command is settled
    /// (both sides' crons run) and its delta compared with the settling included, whatever
    /// moment the live cron chose.
    pub fn same_deltas<A: AsRef<[u8]>>(&mut self, script: &[Vec<A>]) {
        for argv in script {
            let d = self.run(argv);
            let argv_freed_by_cron =
                self.model.profile.layout.client_keeps_argv && argv.len() > ARGV_KEPT_BY_CRON;
            if self.last_reply_len > REPLY_BUFFER || argv_freed_by_cron {
                let s = self.settle();
                assert_eq!(
                    d.model + s.model,
                    d.live + s.live,
                    "used_memory delta of {} (a {} B reply, {} arguments), settled",
                    show(argv),
                    self.last_reply_len,
                    argv.len()
                );
            } else {
                assert_eq!(d.model, d.live, "used_memory delta of {}", show(argv));
                assert_eq!(
                    d.model_tables,
                    d.live_tables,
                    "keyspace tables' delta of {}",
                    show(argv)
                );
            }
        }
    }

    /// `MEMORY USAGE key SAMPLES 0` on both sides (run as a command on the model too, so that
    /// its latency histogram is made on both): (live, model).
    pub fn memory_usage(&mut self, key: &[u8]) -> (Option<u64>, Option<u64>) {
        let argv: [&[u8]; 5] = [b"MEMORY", b"USAGE", key, b"SAMPLES", b"0"];
        let live = match self.conn.call(&argv).unwrap() {
            Resp::Int(n) => Some(n as u64),
            Resp::Bulk(None) => None,
            other => panic!("MEMORY USAGE replied {other:?}"),
        };
        self.model.exec(self.client, &argv).unwrap();
        let model = self.model.memory_usage(key);
        self.reading();
        (live, model)
    }

    /// Runs `argv` on the live server only and returns its integer reply: a question for the
    /// server (`CLUSTER KEYSLOT`), not a comparison. What it leaves (its latency histogram,
    /// the first time) is the live side's only, so compare nothing after it.
    pub fn call_int(&mut self, argv: &[&str]) -> i64 {
        match self.conn.call_str(argv).unwrap() {
            Resp::Int(n) => n,
            other => panic!("{}: {other:?}", show(argv)),
        }
    }

    /// `MEMORY USAGE key SAMPLES samples` on both sides (the model's reply ignored: it counts
    /// every element): the live reply.
    pub fn live_memory_usage_sampled(&mut self, key: &[u8], samples: u32) -> Option<u64> {
        let n = samples.to_string();
        let argv: [&[u8]; 5] = [b"MEMORY", b"USAGE", key, b"SAMPLES", n.as_bytes()];
        let live = match self.conn.call(&argv).unwrap() {
            Resp::Int(n) => Some(n as u64),
            Resp::Bulk(None) => None,
            other => panic!("MEMORY USAGE replied {other:?}"),
        };
        self.model.exec(self.client, &argv).unwrap();
        self.reading();
        live
    }

    /// The model server (to look at what it holds).
    pub fn model(&self) -> &Server {
        &self.model
    }
}

/// The 16 bytes of a live server's `dict_hash_function_seed` (redis `src/dict.c`: the key of
/// the SipHash every dict of sds keys uses, drawn at startup), read from its memory: the
/// process and binary from `INFO server`, the symbol's address from `nm` (a static, named
/// `dict_hash_function_seed` or an LTO copy of it), the binary's load address from
/// `/proc/PID/maps` (position-independent builds), the bytes from `/proc/PID/mem` (the
/// server is this process's child). `None`, with a notice, when any step fails (no `nm`, a
/// stripped binary, no permission to read another process's memory).
pub fn live_dict_key(process: &RedisProcess) -> Option<[u8; 16]> {
    let r = read_dict_key(process);
    if let Err(e) = &r {
        eprintln!(
            "NOTICE: the server's dict hash key could not be read ({e}); hashtable sets will not be exact"
        );
    }
    r.ok()
}

fn read_dict_key(process: &RedisProcess) -> Result<[u8; 16], String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut c = Connection::open(&process.addr).map_err(|e| e.to_string())?;
    let info = c
        .call_str(&["INFO", "server"])
        .map_err(|e| e.to_string())?
        .text()
        .ok_or("INFO server")?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .ok_or(format!("INFO server has no {name}"))
    };
    let pid: u32 = field("process_id:")?.parse().map_err(|_| "process_id")?;
    let exe = field("executable:")?;
    let nm = std::process::Command::new("nm")
        .arg(&exe)
        .output()
        .map_err(|e| format!("nm: {e}"))?;
    let symbols = String::from_utf8_lossy(&nm.stdout);
    let addr = symbols
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            let (a, _, name) = (w.next()?, w.next()?, w.next()?);
            (name == "dict_hash_function_seed" || name.starts_with("dict_hash_function_seed."))
                .then(|| u64::from_str_radix(a, 16).ok())
                .flatten()
        })
        .ok_or("no dict_hash_function_seed symbol")?;
    let mut elf = [0u8; 18];
    std::fs::File::open(&exe)
        .and_then(|mut f| f.read_exact(&mut elf))
        .map_err(|e| e.to_string())?;
    let pie = u16::from_le_bytes([elf[16], elf[17]]) == 3;
    let base = if pie {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).map_err(|e| e.to_string())?;
        let real = std::fs::canonicalize(&exe).map_err(|e| e.to_string())?;
        maps.lines()
            .find_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w.len() >= 6 && w[2] == "00000000" && std::path::Path::new(w[5]) == real)
                    .then(|| u64::from_str_radix(w[0].split('-').next()?, 16).ok())
                    .flatten()
            })
            .ok_or("the binary's mapping")?
    } else {
        0
    };
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).map_err(|e| e.to_string())?;
    mem.seek(SeekFrom::Start(base + addr))
        .map_err(|e| e.to_string())?;
    let mut key = [0u8; 16];
    mem.read_exact(&mut key).map_err(|e| e.to_string())?;
    if key == [0; 16] {
        return Err("the key read is all zeros".into());
    }
    Ok(key)
}

/// The keyspace tables of a Valkey 8.1+ server, read on connection `m`: `MEMORY STATS`'s
/// `overhead.db.hashtable.lut` and the child buckets `DEBUG HTSTATS 0 full` counts over the
/// keyspace's and the expires' tables (both tables of each while rehashing). Neither command
/// touches the tables.
fn hashtable_reading(m: &mut Connection) -> (i64, i64) {
    let stats = m.call_str(&["MEMORY", "STATS"]).unwrap();
    let Resp::Array(Some(items)) = stats else {
        panic!("MEMORY STATS replied {stats:?}")
    };
    let lut = items
        .chunks(2)
        .find_map(|kv| match kv {
            [Resp::Bulk(Some(k)), Resp::Int(v)] if k == b"overhead.db.hashtable.lut" => Some(*v),
            _ => None,
        })
        .expect("MEMORY STATS has overhead.db.hashtable.lut");
    let text = m
        .call_str(&["DEBUG", "HTSTATS", "0", "full"])
        .unwrap()
        .text()
        .unwrap();
    let children = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("child buckets:"))
        .map(|v| v.trim().parse::<i64>().unwrap())
        .sum();
    (lut, children)
}

/// A command as text, for messages (long arguments shortened).
pub fn show<A: AsRef<[u8]>>(argv: &[A]) -> String {
    argv.iter()
        .map(|a| {
            let a = a.as_ref();
            if a.len() > 24 {
                format!("<{} bytes>", a.len())
            } else {
                String::from_utf8_lossy(a).into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A command from words.
pub fn cmd(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

/// `verb key` followed by `members`.
pub fn with_members(verb: &str, key: &str, members: impl IntoIterator<Item = String>) -> Vec<Vec<u8>> {
    let mut argv = vec![verb.as_bytes().to_vec(), key.as_bytes().to_vec()];
    argv.extend(members.into_iter().map(String::into_bytes));
    argv
}

/// Members `prefix` + a 4-digit number, for `range`: all of the same length.
pub fn named(prefix: &str, range: std::ops::Range<u32>) -> impl Iterator<Item = String> + '_ {
    range.map(move |i| format!("{prefix}{i:04}"))
}
