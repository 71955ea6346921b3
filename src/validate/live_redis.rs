//! A live redis-server: started on loopback for tests, calibrated into a profile, and replayed a
//! scenario into, test by test, next to the model.
//!
//! Measurements are taken the same way every time, so that the client doing the measuring costs
//! the same each time: other clients disconnect, 250 ms pass (the cron samples RSS and the
//! allocator every 100 ms), then a fresh connection sends a single `INFO memory`.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::lockstep::{bands, Band, Lockstep};
use crate::redis::info::Field;
use crate::redis::profile::{Baseline, ServerState};
use crate::redis::resp::{Connection, Resp, RespError};
use crate::redis::server::ClientId;
use crate::redis::{InfoMemory, RedisProfile};
use crate::sim::commands;
use crate::workload::Scenario;

/// Why a live server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Resp(#[from] RespError),
    #[error("{addr} runs Redis {version}; fragsim models Redis 7.0 and later")]
    TooOld { addr: String, version: String },
    #[error("{addr} is not a Redis server: {detail}")]
    NotRedis { addr: String, detail: String },
    #[error("{addr}: {detail}")]
    Command { addr: String, detail: String },
    #[error(
        "{addr} holds {keys} key(s); validate needs an empty server, as the model starts from \
         one: use a freshly started server, or pass --flush to empty this one (FLUSHALL SYNC)"
    )]
    NotEmpty { addr: String, keys: u64 },
    #[error("cannot start redis-server: {0}")]
    Start(String),
    #[error(
        "{addr} sent an INFO memory fragsim cannot use: {detail}; check that it is a Redis server \
         (7.0 or later, built with jemalloc)"
    )]
    BadInfo { addr: String, detail: String },
}

/// The memory figures every measurement needs, each a whole number in the reply.
const REQUIRED: [&str; 6] = [
    "used_memory",
    "used_memory_startup",
    "used_memory_rss",
    "allocator_allocated",
    "allocator_active",
    "allocator_resident",
];

/// `INFO memory` parsed, once it is seen to hold what a real jemalloc-backed Redis reports:
/// every [`REQUIRED`] field as a whole number, used_memory and RSS above zero, the allocator's
/// figures in their order (allocated <= active <= resident), and a jemalloc `mem_allocator`.
pub fn memory_info(addr: &str, text: &str) -> Result<InfoMemory, LiveError> {
    let bad = |detail: String| LiveError::BadInfo {
        addr: addr.into(),
        detail,
    };
    let num = |name: &str| -> Result<u64, LiveError> {
        let v = field(text, name).ok_or_else(|| bad(format!("no {name} field")))?;
        v.trim()
            .parse::<u64>()
            .map_err(|_| bad(format!("{name}:{v} is not a whole number of bytes")))
    };
    // A real server prints each field once.
    let mut seen = std::collections::BTreeSet::new();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some((k, _)) = l.split_once(':') {
            if !seen.insert(k) {
                return Err(bad(format!("{k} appears twice")));
            }
        }
    }
    let mut v = [0u64; 6];
    for (slot, name) in v.iter_mut().zip(REQUIRED) {
        *slot = num(name)?;
    }
    let [used, startup, rss, allocated, active, resident] = v;
    if used == 0 || rss == 0 || startup > used {
        return Err(bad(format!(
            "used_memory {used}, used_memory_startup {startup}, used_memory_rss {rss}"
        )));
    }
    if allocated > active || active > resident {
        return Err(bad(format!(
            "allocator_allocated {allocated}, allocator_active {active}, allocator_resident {resident} (a jemalloc reports them in rising order)"
        )));
    }
    match field(text, "mem_allocator") {
        Some(a) if a.starts_with("jemalloc-") => Ok(InfoMemory::parse(text)),
        other => Err(bad(format!(
            "mem_allocator is {}; fragsim models jemalloc",
            other.unwrap_or("missing")
        ))),
    }
}

/// A redis-server process started for a test: loopback only, a free port, its own temporary
/// directory, no persistence, freshly started (no client has connected to it yet). Stopped (and
/// its directory removed) when dropped, also when a test panics.
pub struct RedisProcess {
    child: Child,
    pub addr: String,
    dir: PathBuf,
}

impl RedisProcess {
    /// Starts `redis-server` from PATH (or `$FRAGSIM_REDIS_SERVER`).
    pub fn start() -> Result<Self, LiveError> {
        let bin = std::env::var("FRAGSIM_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| LiveError::Start(format!("no free loopback port: {e}")))?
            .port();
        let dir = std::env::temp_dir().join(format!("fragsim-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| LiveError::Start(format!("{}: {e}", dir.display())))?;
        let child = Command::new(&bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .args(["--daemonize", "no", "--logfile"])
            .arg(dir.join("redis.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| LiveError::Start(format!("{bin}: {e}")))?;
        let mut p = RedisProcess {
            child,
            addr: format!("127.0.0.1:{port}"),
            dir,
        };
        // Ready when its log says so: no connection and no command, so the server stays fresh.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = std::fs::read_to_string(p.dir.join("redis.log")).unwrap_or_default();
            if log.contains("Ready to accept connections") {
                return Ok(p);
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                return Err(LiveError::Start(format!("{bin} exited at start with {status}")));
            }
            if Instant::now() > deadline {
                let _ = p.child.kill();
                return Err(LiveError::Start(format!(
                    "{bin} did not answer on {} within 10 s",
                    p.addr
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(addr: &str, r: Resp) -> Result<String, LiveError> {
    match r {
        Resp::Error(e) => Err(LiveError::Command {
            addr: addr.into(),
            detail: e,
        }),
        other => other.text().ok_or_else(|| LiveError::NotRedis {
            addr: addr.into(),
            detail: format!("it answered {} where text was expected", other.describe()),
        }),
    }
}

/// `INFO <section>` on a fresh connection.
fn info_section(addr: &str, section: &str) -> Result<String, LiveError> {
    let mut c = Connection::open(addr)?;
    let r = c.call_str(&["INFO", section])?;
    text(addr, r)
}

/// One measurement: wait 250 ms, then `INFO memory` on a fresh connection.
pub fn measure(addr: &str) -> Result<InfoMemory, LiveError> {
    std::thread::sleep(Duration::from_millis(250));
    memory_info(addr, &info_section(addr, "memory")?)
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.trim_end().strip_prefix(name).and_then(|r| r.strip_prefix(':')))
}

/// What `calibrate` learnt: the profile and what it could not tell.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// The profile: `baseline` is the server before calibration's own traffic (fresh, when the
    /// server had just started), `as_found` the server as calibration leaves it.
    pub profile: RedisProfile,
    /// Caveats, one sentence each (commands or keys that were there before calibration).
    pub notes: Vec<String>,
}

/// Commands the server had run before this connection's own, with their call counts, from
/// `INFO commandstats` (`cmdstat_<name>:calls=N,...`), less `own` calls of `info`.
fn commands_before(commandstats: &str, own_info_calls: u64) -> Vec<(String, u64)> {
    commandstats
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("cmdstat_"))
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let calls: u64 = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            let calls = if name == "info" {
                calls.saturating_sub(own_info_calls)
            } else {
                calls
            };
            (calls > 0).then(|| (name.to_string(), calls))
        })
        .collect()
}

/// Keys in all databases, from `INFO keyspace` (`db0:keys=N,expires=...`).
pub fn keyspace_keys(keyspace: &str) -> u64 {
    keyspace
        .lines()
        .filter(|l| l.starts_with("db"))
        .filter_map(|l| l.split_once(':'))
        .filter_map(|(_, rest)| rest.split(',').find_map(|kv| kv.strip_prefix("keys=")))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .sum()
}

fn baseline_from(info: &InfoMemory, commands_seen: Vec<String>) -> Baseline {
    Baseline {
        state: ServerState::Fresh,
        used_memory: info.used_memory,
        used_memory_peak: info.used_memory_peak,
        used_memory_startup: info.used_memory_startup,
        clients_normal: info.mem_clients_normal,
        allocator_allocated: info.allocator_allocated,
        allocator_active: info.allocator_active,
        allocator_resident: info.allocator_resident,
        rss: info.used_memory_rss,
        vm_eval: info.used_memory_vm_eval,
        vm_functions: info.used_memory_vm_functions,
        functions_caches: info.used_memory_functions,
        commands_seen,
        bins: Vec::new(),
        tcache_bytes: 0,
        tcache: None,
        first_client_rss: 0,
    }
}

/// Reads a live server and builds its profile: the built-in profile of the same build family,
/// with the thresholds from `CONFIG GET`, the command rate of one client, and two baselines.
///
/// The fresh baseline is the server before calibration touched it: the first command on the
/// first connection is `INFO memory`, whose reply is made before its own latency histogram is,
/// and whose allocator and RSS figures are the cron's sample from before the connection. The
/// commands the server had already run (`INFO commandstats`, less calibration's own `INFO`
/// calls) stay in it, with their histograms; the allocator's bins and the thread cache's
/// contents come from `MEMORY MALLOC-STATS` right after. The as-found baseline is measured at
/// the end, after calibration's own traffic, the way `validate` measures.
pub fn calibrate(addr: &str) -> Result<Calibration, LiveError> {
    let mut c = Connection::open(addr)?;
    // `INFO memory` first and alone, as every measurement is sent: its reply is made before
    // its own histogram, and no other section's text is held while it reads used_memory.
    let first = text(addr, c.call_str(&["INFO", "memory"])?)?;
    let (server, own_info) = if field(&first, "redis_version").is_some() {
        (first.clone(), 1)
    } else {
        (text(addr, c.call_str(&["INFO", "server"])?)?, 2)
    };
    let version = field(&server, "redis_version")
        .ok_or_else(|| LiveError::NotRedis {
            addr: addr.into(),
            detail: "INFO has no redis_version".into(),
        })?
        .to_string();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let minor: u32 = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 7 {
        return Err(LiveError::TooOld {
            addr: addr.into(),
            version,
        });
    }
    let fresh = memory_info(addr, &first)?;
    let before = commands_before(&text(addr, c.call_str(&["INFO", "commandstats"])?)?, own_info);
    let fresh_start = before.is_empty();
    let keys = keyspace_keys(&text(addr, c.call_str(&["INFO", "keyspace"])?)?);
    // The RSS a first client adds (code paged in), once the cron has sampled it again.
    std::thread::sleep(Duration::from_millis(250));
    let after_first = memory_info(addr, &text(addr, c.call_str(&["INFO", "memory"])?)?)?;
    let first_client_rss = after_first.used_memory_rss.saturating_sub(fresh.used_memory_rss);
    // The allocator's small bins and the thread cache as startup left them.
    let (bins, tcache_bytes) = {
        let stats = text(addr, c.call_str(&["MEMORY", "MALLOC-STATS"])?)?;
        parse_malloc_stats(&stats)
    };
    let allocator = field(&first, "mem_allocator").unwrap_or("unknown").to_string();
    let family = match (major, minor, allocator.as_str()) {
        (7, 0, "jemalloc-5.3.0") => "redis-7.0-debian",
        (7, 0, _) => "redis-7.0",
        _ => "redis-7.2",
    };
    let mut p = RedisProfile::builtin(family).expect("built-in family");
    p.name = format!("calibrated-{}", addr.replace([':', '.'], "-"));
    p.description = format!("Calibrated from {addr}: Redis {version}, {allocator}");
    p.version = version;
    p.mem_allocator = allocator;
    for (param, slot) in [
        ("hash-max-listpack-entries", &mut p.hash_max_listpack_entries),
        ("hash-max-listpack-value", &mut p.hash_max_listpack_value),
        ("proto-max-bulk-len", &mut p.proto_max_bulk_len),
    ] {
        // A server that refuses CONFIG (renamed, ACL) keeps the defaults; one that does not
        // answer is an error (not one timeout per parameter).
        if let Resp::Array(Some(items)) = c.call_str(&["CONFIG", "GET", param])? {
            if let Some(v) = items.get(1).and_then(Resp::text).and_then(|v| v.parse().ok()) {
                *slot = v;
            }
        }
    }
    // One client's command rate without pipelining, round trips included: 2,000 PINGs, or as
    // many as 3 s allow on a slow server.
    let mut n = 0u32;
    let t0 = Instant::now();
    while n == 0 || (n < 2000 && t0.elapsed() < Duration::from_secs(3)) {
        c.call_str(&["PING"])?;
        n += 1;
    }
    p.commands_per_second = (n as f64 / t0.elapsed().as_secs_f64()).round();
    drop(c);
    let mut notes = Vec::new();
    if !before.is_empty() {
        let list: Vec<String> = before.iter().map(|(n, k)| format!("{n} ({k})")).collect();
        notes.push(format!(
            "the server had already run {} before calibration ({}): their latency \
             histograms and the allocator's state after them are part of the fresh baseline; \
             calibrate a freshly started server for a fresh-start baseline",
            crate::units::plural(before.len() as u64, "command", "commands"),
            list.join(", ")
        ));
    }
    if keys > 0 {
        notes.push(format!(
            "the server holds {keys} key(s): their memory is part of both baselines, and \
             predictions are for a workload added to them"
        ));
    }
    let mut b = baseline_from(&fresh, before.into_iter().map(|(n, _)| n).collect());
    b.bins = bins.clone();
    b.tcache_bytes = tcache_bytes;
    // The thread cache's contents bin by bin are not visible from outside; a fresh server of
    // the built-in build whose cache holds what the built-in's did after the same probing
    // started as it did, and takes its startup cache.
    let builtin = &p.baseline;
    let same_start = fresh_start
        && builtin.tcache.is_some()
        && tcache_bytes.abs_diff(builtin.tcache_bytes) * 20 <= builtin.tcache_bytes;
    if same_start {
        b.tcache = builtin.tcache.clone();
    } else if fresh_start && tcache_bytes > 0 {
        notes.push(format!(
            "the thread cache's startup contents are not known for this server (it holds \
             {tcache_bytes} B where the built-in {family} profile's fresh server held {} B): \
             the model spreads them over the bins in use, and its allocator figures are less \
             exact",
            builtin.tcache_bytes
        ));
    }
    if fresh_start {
        b.first_client_rss = first_client_rss;
    }
    p.baseline = b;

    // Let the server settle: idle client visits until the thread cache's garbage collection has
    // given the idle objects back (each visit is about two 64 KiB GC events; 41 bins, two
    // visits each). Then measure it as a workload that comes after clients finds it.
    for _ in 0..65 {
        info_section(addr, "memory")?;
    }
    let settled = measure(addr)?;
    let latency = match info_section(addr, "latencystats") {
        Ok(t) => t,
        // A server without the section answers with an error reply: no histograms known.
        Err(LiveError::Command { .. }) => String::new(),
        Err(e) => return Err(e),
    };
    let commands_seen: Vec<String> = latency
        .lines()
        .filter_map(|l| l.strip_prefix("latency_percentiles_usec_"))
        .filter_map(|l| l.split(':').next())
        .map(str::to_string)
        .collect();
    let mut a = baseline_from(&settled, commands_seen);
    a.state = ServerState::AsFound;
    a.bins = bins;
    a.tcache_bytes = 0;
    p.as_found = Some(a);
    Ok(Calibration { profile: p, notes })
}

/// The small bins (size, curregs, curslabs) and `tcache_bytes` of the first arena section of
/// `malloc_stats_print` output (`MEMORY MALLOC-STATS`).
pub fn parse_malloc_stats(text: &str) -> (Vec<(u64, u64, u64)>, u64) {
    let mut bins = Vec::new();
    let mut tcache = 0;
    let mut in_bins = false;
    let mut seen_bins = false;
    for line in text.lines() {
        let t = line.trim();
        if tcache == 0 {
            if let Some(v) = t.strip_prefix("tcache_bytes:") {
                tcache = v.trim().parse().unwrap_or(0);
            }
        }
        if t.starts_with("bins:") {
            if seen_bins {
                break;
            }
            in_bins = true;
            seen_bins = true;
            continue;
        }
        if in_bins && t == "---" {
            // Unused bins are elided as "---".
            continue;
        }
        if in_bins {
            let cols: Vec<&str> = t.split_whitespace().collect();
            // size ind allocated nmalloc rate ndalloc rate nrequests rate nshards curregs curslabs
            let nums: Option<Vec<u64>> = cols.iter().take(12).map(|c| c.parse().ok()).collect();
            match nums {
                Some(n) if n.len() == 12 => bins.push((n[0], n[10], n[11])),
                _ => in_bins = false,
            }
        }
    }
    (bins, tcache)
}

/// Model and server after one test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checkpoint {
    pub test: u64,
    /// The model run with the replay's seed, in lockstep with the server.
    pub model: InfoMemory,
    pub real: InfoMemory,
    /// With `runs > 1`: per compared field, the model's p5 / p50 / p95 over runs that differ
    /// only in what the server draws at random when it starts (see [`Lockstep`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub band: BTreeMap<String, Band>,
}

/// Relative error of the model for one INFO field: `(model - real) / real`.
pub fn rel_err(model: f64, real: f64) -> f64 {
    if real == 0.0 {
        if model == 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        (model - real) / real
    }
}

/// The fields `validate` reports.
pub const COMPARED: &[Field] = &[
    Field::UsedMemory,
    Field::UsedMemoryPeak,
    Field::UsedMemoryOverhead,
    Field::UsedMemoryDataset,
    Field::AllocatorAllocated,
    Field::AllocatorActive,
    Field::AllocatorResident,
    Field::UsedMemoryRss,
    Field::AllocatorFragRatio,
    Field::MemFragmentationRatio,
    Field::UsedMemoryScriptsEval,
];

/// How `validate` treats the server.
#[derive(Debug, Clone, Default)]
pub struct ValidateOptions {
    /// Predict with this profile (calibrated from another server, usually a freshly started one,
    /// and reduced to the scenario's state) instead of calibrating the server replayed into.
    pub profile: Option<RedisProfile>,
    /// Empty a server that holds keys (`FLUSHALL SYNC`) instead of refusing it.
    pub flush: bool,
    /// Model runs per checkpoint (1: only the lockstep run). With more, the same commands at
    /// the same moments are replayed into servers with other startup draws, for a band.
    pub runs: u64,
}

/// The keys and scripts a replay wrote, and the `maxmemory` it changed, for the clean-up.
#[derive(Default)]
struct Trace {
    /// Whether it wrote any key.
    keys: bool,
    scripts: bool,
    maxmemory: Option<String>,
}

/// Sends one command on a fresh connection, and the same command to the model from a client
/// that connects and leaves, so both see the same traffic.
fn mirrored(addr: &str, model: Option<&mut Lockstep>, argv: &[&str]) -> Result<String, LiveError> {
    let mut c = Connection::open(addr)?;
    let reply = c.call_str(argv)?;
    drop(c);
    if let Some(m) = model {
        let id = m.connect();
        m.exec(id, argv);
        m.disconnect(id);
    }
    match reply {
        Resp::Error(e) => Err(LiveError::Command {
            addr: addr.into(),
            detail: e,
        }),
        Resp::Int(n) => Ok(n.to_string()),
        Resp::Array(Some(items)) => Ok(items.iter().filter_map(Resp::text).collect::<Vec<_>>().join("\n")),
        other => Ok(other.text().unwrap_or_default()),
    }
}

/// Replays `sc` into the live server at `addr` and into the model, and returns model and server
/// after each test.
///
/// A server that holds keys is refused ([`LiveError::NotEmpty`]) unless `opts.flush`. Without
/// `opts.profile` the server is calibrated first and predicted as calibration leaves it;
/// with it, the profile predicts the server as it is (a freshly started server for a fresh
/// profile), and the one `INFO keyspace` sent to check it is sent to the model too. Before the
/// first test the server's cron phase is measured and the model's cron moved to it
/// (`probe_cron`). Each test's
/// commands go over one new connection per test process, closed before measuring; the model's
/// clock follows the wall clock, command by command, and each test is followed by
/// `test_seconds` of idle time. Afterwards the keys it wrote are flushed (the server had no
/// others), the scripts it loaded flushed (when the server had none before), `maxmemory`
/// restored and the allocator purged, so a second run finds the server as the first did.
pub fn validate(
    addr: &str,
    sc: &Scenario,
    seed: u64,
    opts: &ValidateOptions,
    progress: impl FnMut(u64),
) -> Result<Vec<Checkpoint>, LiveError> {
    let model_err = |detail: String| LiveError::Command {
        addr: addr.into(),
        detail,
    };
    let mut model = match &opts.profile {
        Some(p) => Some(Lockstep::new(p.clone(), seed, opts.runs > 1).map_err(|e| model_err(e.to_string()))?),
        None => None,
    };
    let ks = mirrored(addr, model.as_mut(), &["INFO", "keyspace"])?;
    let keys = keyspace_keys(&ks);
    if keys > 0 {
        if !opts.flush {
            return Err(LiveError::NotEmpty {
                addr: addr.into(),
                keys,
            });
        }
        mirrored(addr, model.as_mut(), &["FLUSHALL", "SYNC"])?;
    }
    let scripts_before = InfoMemory::parse(&info_section(addr, "memory")?).number_of_cached_scripts;
    if let Some(m) = model.as_mut() {
        // The INFO just sent, on its own connection.
        m.measurement_traffic();
    }
    let mut model = match model {
        Some(m) => m,
        None => {
            let p = calibrate(addr)?
                .profile
                .with_state(ServerState::AsFound)
                .map_err(|e| model_err(e.to_string()))?;
            Lockstep::new(p, seed, opts.runs > 1).map_err(|e| model_err(e.to_string()))?
        }
    };
    let mut trace = Trace::default();
    let result = replay(addr, sc, seed, &mut model, &mut trace, progress);
    // A server that has stopped answering would only make the clean-up wait out one more
    // deadline per command: leave it as it is.
    let silent = matches!(&result, Err(LiveError::Resp(RespError::Timeout { .. })));
    let cleaned = if silent {
        Ok(())
    } else {
        clean_up(addr, &trace, scripts_before == 0)
    };
    let mut out = result?;
    cleaned?;
    if opts.runs > 1 {
        let runs = model.replays(seed, opts.runs);
        for (cp, band) in out.iter_mut().zip(bands(&runs, COMPARED)) {
            cp.band = band;
        }
    }
    Ok(out)
}

fn replay(
    addr: &str,
    sc: &Scenario,
    seed: u64,
    model: &mut Lockstep,
    trace: &mut Trace,
    mut progress: impl FnMut(u64),
) -> Result<Vec<Checkpoint>, LiveError> {
    let start = Instant::now();
    let t0 = model.now_ns();
    let follow = |model: &mut Lockstep| model.advance_to(t0 + start.elapsed().as_nanos() as u64);
    probe_cron(addr, model, &follow, t0, start)?;
    if let Some(mm) = sc.maxmemory {
        // The same commands on both sides: they read and set the limit and make their latency
        // histograms.
        let old = mirrored(addr, Some(model), &["CONFIG", "GET", "maxmemory"])?;
        trace.maxmemory = Some(old.lines().nth(1).unwrap_or("0").to_string());
        let mm = mm.to_string();
        mirrored(addr, Some(model), &["CONFIG", "SET", "maxmemory", &mm])?;
    }
    let mut rng = commands::rng_for(seed);
    let mut out = Vec::new();
    for t in 0..sc.tests {
        let mut writers = (0..sc.parallel)
            .map(|_| Connection::open(addr))
            .collect::<Result<Vec<_>, _>>()?;
        follow(model);
        let clients: Vec<ClientId> = (0..sc.parallel).map(|_| model.connect()).collect();
        for (p, argv) in commands::test_plan(sc, t, &mut rng) {
            if let Some(verb) = argv.first() {
                if verb.eq_ignore_ascii_case(b"SET") || verb.eq_ignore_ascii_case(b"HSET") {
                    trace.keys = true;
                } else if verb.eq_ignore_ascii_case(b"EVAL") {
                    trace.scripts = true;
                }
            }
            let reply = writers[p].call(&argv)?;
            follow(model);
            model.exec(clients[p], &argv);
            if let Resp::Error(e) = reply {
                if !e.starts_with("OOM") {
                    return Err(LiveError::Command {
                        addr: addr.into(),
                        detail: e,
                    });
                }
            }
        }
        drop(writers);
        follow(model);
        for c in clients {
            model.disconnect(c);
        }
        std::thread::sleep(Duration::from_secs_f64(sc.test_seconds));
        let real = measure(addr)?;
        follow(model);
        out.push(Checkpoint {
            test: t + 1,
            model: model.measure(),
            real,
            band: BTreeMap::new(),
        });
        model.measurement_traffic();
        progress(t + 1);
    }
    Ok(out)
}

/// Finds when the server's cron runs and moves the model's to the same moment. A new client's
/// `CLIENT INFO` shows its reply buffer's peak (`rbp`) at the buffer's size until the cron
/// first looks at the client, which resets it (Redis 7.0: see `Server::resize_output_buffer`);
/// so a client polls `CLIENT INFO` (at most 250 ms) and the look fell between the last reply
/// that showed the full peak and the command that showed it reset. The cron runs every 100 ms
/// from there. The model runs the same commands from a client of its own. A server that never
/// shows the reset (another version) leaves the model's cron where it was.
fn probe_cron(
    addr: &str,
    model: &mut Lockstep,
    follow: &dyn Fn(&mut Lockstep),
    t0: u64,
    start: Instant,
) -> Result<(), LiveError> {
    let mut c = Connection::open(addr)?;
    let mut before = Instant::now();
    follow(model);
    let id = model.connect();
    let deadline = before + Duration::from_millis(250);
    let mut look = None;
    while Instant::now() < deadline {
        let sent = Instant::now();
        let reply = text(addr, c.call_str(&["CLIENT", "INFO"])?)?;
        follow(model);
        model.exec(id, &[b"CLIENT".as_slice(), b"INFO"]);
        let num = |k: &str| {
            reply
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(k))
                .and_then(|v| v.parse::<u64>().ok())
        };
        match (num("rbs="), num("rbp=")) {
            (Some(rbs), Some(rbp)) if rbp < rbs => {
                look = Some(before + (sent - before) / 2);
                break;
            }
            (Some(_), Some(_)) => before = Instant::now(),
            _ => break,
        }
    }
    drop(c);
    follow(model);
    model.disconnect(id);
    if let Some(at) = look {
        let at_ns = t0 + at.duration_since(start).as_nanos() as u64;
        let now = model.now_ns();
        // The next look after now.
        let periods = (now.saturating_sub(at_ns)) / 100_000_000 + 1;
        model.align_cron(at_ns + periods * 100_000_000);
    }
    Ok(())
}

/// Removes what a replay wrote. The server held no keys when it started, so its keys are all
/// the replay's: `FLUSHALL SYNC` frees them and the keyspace tables (which `DEL` would leave
/// behind) and purges the allocator. Then its scripts when the server had none before (`SCRIPT
/// FLUSH`), its `maxmemory`, and `MEMORY PURGE`.
fn clean_up(addr: &str, trace: &Trace, flush_scripts: bool) -> Result<(), LiveError> {
    let mut c = Connection::open(addr)?;
    if trace.keys {
        text_or_int(addr, c.call_str(&["FLUSHALL", "SYNC"])?)?;
    }
    if trace.scripts && flush_scripts {
        text_or_int(addr, c.call_str(&["SCRIPT", "FLUSH", "SYNC"])?)?;
    }
    if let Some(old) = &trace.maxmemory {
        text_or_int(addr, c.call_str(&["CONFIG", "SET", "maxmemory", old])?)?;
    }
    text_or_int(addr, c.call_str(&["MEMORY", "PURGE"])?)?;
    Ok(())
}

fn text_or_int(addr: &str, r: Resp) -> Result<(), LiveError> {
    match r {
        Resp::Int(_) => Ok(()),
        other => text(addr, other).map(|_| ()),
    }
}

/// The table `validate` prints: per checkpoint, each compared field's model, real and error;
/// with a band (`--runs`), the model's p5 and p95 and whether the real figure lies between them.
pub fn render_checkpoints(cps: &[Checkpoint]) -> String {
    let banded = cps.iter().any(|c| !c.band.is_empty());
    let mut o = format!(
        "{:>5}  {:<26} {:>14} {:>14} {:>9}",
        "test", "field", "model", "real", "error"
    );
    if banded {
        o += &format!(" {:>14} {:>14}  {}", "model p5", "model p95", "real in band");
    }
    o.push('\n');
    let fmt = |v: f64| {
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        }
    };
    for c in cps {
        for f in COMPARED {
            let (m, r) = (c.model.get(*f), c.real.get(*f));
            let e = rel_err(m, r);
            let shown = if e.is_finite() {
                format!("{:+.2}%", e * 100.0)
            } else {
                "-".into()
            };
            o += &format!(
                "{:>5}  {:<26} {:>14} {:>14} {:>9}",
                c.test,
                f,
                fmt(m),
                fmt(r),
                shown
            );
            if let Some(b) = c.band.get(f.name()) {
                let inside = if (b.p5..=b.p95).contains(&r) { "yes" } else { "no" };
                o += &format!(" {:>14} {:>14}  {}", fmt(b.p5), fmt(b.p95), inside);
            }
            o.push('\n');
        }
    }
    o
}
