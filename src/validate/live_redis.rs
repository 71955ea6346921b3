//! A live redis-server: started on loopback for tests, calibrated into a profile, and replayed a
//! scenario into, test by test, next to the model.
//!
//! Measurements are taken the same way every time, so that the client doing the measuring costs
//! the same each time: other clients disconnect, 250 ms pass (the cron samples RSS and the
//! allocator every 100 ms), then a fresh connection sends a single `INFO memory`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::redis::resp::{Connection, Resp, RespError};
use crate::redis::server::ClientId;
use crate::redis::{InfoMemory, RedisProfile, Server};
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
    #[error("cannot start redis-server: {0}")]
    Start(String),
}

/// A redis-server process started for a test: loopback only, a free port, its own temporary
/// directory, no persistence. Stopped (and its directory removed) when dropped, also when a test
/// panics.
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
            .args(["--daemonize", "no", "--logfile", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| LiveError::Start(format!("{bin}: {e}")))?;
        let mut p = RedisProcess {
            child,
            addr: format!("127.0.0.1:{port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = Connection::open(&p.addr) {
                if matches!(c.call_str(&["PING"]), Ok(Resp::Simple(ref s)) if s == "PONG") {
                    return Ok(p);
                }
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
            detail: format!("{other:?}"),
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
    Ok(InfoMemory::parse(&info_section(addr, "memory")?))
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.trim_end().strip_prefix(name).and_then(|r| r.strip_prefix(':')))
}

/// Reads a live server and builds its profile: the built-in profile of the same build family,
/// with the thresholds from `CONFIG GET` and the baseline measured now.
pub fn calibrate(addr: &str) -> Result<RedisProfile, LiveError> {
    let server = info_section(addr, "server")?;
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
    // The allocator's small bins first: the stats command's own traffic fills the thread cache,
    // so it is followed by idle client visits until the cache's garbage collection has given
    // the idle objects back (each visit is about two 64 KiB GC events; 41 bins, two visits each).
    let (bins, _) = {
        let mut c = Connection::open(addr)?;
        let stats = text(addr, c.call_str(&["MEMORY", "MALLOC-STATS"])?)?;
        parse_malloc_stats(&stats)
    };
    let mut mem = String::new();
    for _ in 0..65 {
        mem = info_section(addr, "memory")?;
    }
    let allocator = field(&mem, "mem_allocator").unwrap_or("unknown").to_string();
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
    {
        let mut c = Connection::open(addr)?;
        for (param, slot) in [
            ("hash-max-listpack-entries", &mut p.hash_max_listpack_entries),
            ("hash-max-listpack-value", &mut p.hash_max_listpack_value),
        ] {
            if let Ok(Resp::Array(Some(items))) = c.call_str(&["CONFIG", "GET", param]) {
                if let Some(v) = items.get(1).and_then(Resp::text).and_then(|v| v.parse().ok()) {
                    *slot = v;
                }
            }
        }
    }
    let base = measure(addr)?;
    let latency = info_section(addr, "latencystats").unwrap_or_default();
    let commands_seen: Vec<String> = latency
        .lines()
        .filter_map(|l| l.strip_prefix("latency_percentiles_usec_"))
        .filter_map(|l| l.split(':').next())
        .map(str::to_string)
        .collect();
    let mut b = p.baseline.clone();
    b.used_memory = base.used_memory;
    b.used_memory_startup = base.used_memory_startup;
    b.clients_normal = base.mem_clients_normal;
    b.allocator_allocated = base.allocator_allocated;
    b.allocator_active = base.allocator_active;
    b.allocator_resident = base.allocator_resident;
    b.rss = base.used_memory_rss;
    b.vm_eval = base.used_memory_vm_eval;
    b.vm_functions = base.used_memory_vm_functions;
    b.functions_caches = base.used_memory_functions;
    if !commands_seen.is_empty() {
        b.commands_seen = commands_seen;
    }
    b.bins = bins;
    b.tcache_bytes = 0;
    p.baseline = b;
    Ok(p)
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
    pub model: InfoMemory,
    pub real: InfoMemory,
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
pub const COMPARED: &[&str] = &[
    "used_memory",
    "used_memory_overhead",
    "used_memory_dataset",
    "allocator_allocated",
    "allocator_active",
    "allocator_resident",
    "used_memory_rss",
    "allocator_frag_ratio",
    "mem_fragmentation_ratio",
    "used_memory_scripts_eval",
];

/// Replays `sc` into the live server at `addr` (calibrating it first) and into the model, and
/// returns model and server after each test. Each test's commands go over one new connection,
/// which is closed before measuring. The model's clock follows the wall clock.
pub fn validate(
    addr: &str,
    sc: &Scenario,
    seed: u64,
    mut progress: impl FnMut(u64),
) -> Result<Vec<Checkpoint>, LiveError> {
    let profile = calibrate(addr)?;
    let start = Instant::now();
    let mut model = Server::new(profile, seed).map_err(|e| LiveError::Command {
        addr: addr.into(),
        detail: e,
    })?;
    if let Some(mm) = sc.maxmemory {
        // The same command on both sides: it sets the limit and makes its latency histogram.
        let argv: Vec<Vec<u8>> = ["CONFIG", "SET", "maxmemory", &mm.to_string()]
            .iter()
            .map(|w| w.as_bytes().to_vec())
            .collect();
        let mut c = Connection::open(addr)?;
        text(addr, c.call(&argv)?)?;
        drop(c);
        let mc = model.connect();
        model.exec(mc, &argv);
        model.disconnect(mc);
    }
    let mut rng = commands::rng_for(seed);
    let mut out = Vec::new();
    for t in 0..sc.tests {
        let test_start = Instant::now();
        let mut writers = (0..sc.parallel)
            .map(|_| Connection::open(addr))
            .collect::<Result<Vec<_>, _>>()?;
        let clients: Vec<ClientId> = (0..sc.parallel).map(|_| model.connect()).collect();
        for (p, argv) in commands::test_plan(sc, t, &mut rng) {
            let reply = writers[p].call(&argv)?;
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
        for c in clients {
            model.disconnect(c);
        }
        let rest = Duration::from_secs_f64(sc.test_seconds).saturating_sub(test_start.elapsed());
        std::thread::sleep(rest);
        let real = measure(addr)?;
        let elapsed = start.elapsed().as_nanos() as u64;
        model.advance(elapsed.saturating_sub(model.now_ns()));
        out.push(Checkpoint {
            test: t + 1,
            model: model.info(),
            real,
        });
        model.measurement_traffic();
        progress(t + 1);
    }
    Ok(out)
}

/// The table `validate` prints: per checkpoint, each compared field's model, real and error.
pub fn render_checkpoints(cps: &[Checkpoint]) -> String {
    let mut o = format!(
        "{:>5}  {:<26} {:>14} {:>14} {:>9}\n",
        "test", "field", "model", "real", "error"
    );
    for c in cps {
        for f in COMPARED {
            let (m, r) = (c.model.get(f).unwrap_or(0.0), c.real.get(f).unwrap_or(0.0));
            let e = rel_err(m, r);
            let shown = if e.is_finite() {
                format!("{:+.2}%", e * 100.0)
            } else {
                "-".into()
            };
            let fmt = |v: f64| {
                if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            };
            o += &format!(
                "{:>5}  {:<26} {:>14} {:>14} {:>9}\n",
                c.test,
                f,
                fmt(m),
                fmt(r),
                shown
            );
        }
    }
    o
}
