//! Reading a live server: its `INFO` sections on fresh connections, the `INFO memory` reply
//! checked for what a real jemalloc-backed Redis reports, and why a server could not be used
//! ([`LiveError`]).
//!
//! Measurements are taken the same way every time, so that the client doing the measuring costs
//! the same each time: other clients disconnect, 250 ms pass (the cron samples RSS and the
//! allocator every 100 ms), then a fresh connection sends a single `INFO memory` ([`measure`]).

use std::time::Duration;

use crate::redis::resp::{Connection, Resp, RespError};
use crate::redis::InfoMemory;

/// Why a live server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The connection: unreachable, broken, too slow, or not speaking the Redis protocol.
    #[error(transparent)]
    Resp(#[from] RespError),
    /// A Redis older than the oldest the model knows.
    #[error("{addr} runs Redis {version}; fragsim models Redis 7.0 and later")]
    TooOld { addr: String, version: String },
    /// A server that speaks the protocol but does not answer as Redis does.
    #[error("{addr} is not a Redis server: {detail}")]
    NotRedis { addr: String, detail: String },
    /// A command the server answered with an error reply (or a profile the model refused).
    #[error("{addr}: {detail}")]
    Command { addr: String, detail: String },
    /// `validate` found keys on the server and was not allowed to flush them.
    #[error(
        "{addr} holds {keys} key(s); validate needs an empty server, as the model starts from \
         one: use a freshly started server, or pass --flush to empty this one (FLUSHALL SYNC)"
    )]
    NotEmpty { addr: String, keys: u64 },
    /// `bench --redis` found keys on the server (it empties the server after each workload).
    #[error(
        "{addr} holds {keys} key(s); bench --redis empties the server after each workload \
         (FLUSHALL SYNC), so it runs only on an empty one: use a freshly started server"
    )]
    NotEmptyForBench { addr: String, keys: u64 },
    /// A redis-server of its own ([`super::RedisProcess`]) could not be started.
    #[error("cannot start redis-server: {0}")]
    Start(String),
    /// An `INFO memory` reply without a figure every measurement needs, or with figures no
    /// jemalloc-backed Redis reports.
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

/// A reply as text: a server's error reply is [`LiveError::Command`], anything else but text
/// [`LiveError::NotRedis`].
pub(super) fn text(addr: &str, r: Resp) -> Result<String, LiveError> {
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
pub(super) fn info_section(addr: &str, section: &str) -> Result<String, LiveError> {
    let mut c = Connection::open(addr)?;
    let r = c.call_str(&["INFO", section])?;
    text(addr, r)
}

/// One measurement: wait 250 ms, then `INFO memory` on a fresh connection.
pub fn measure(addr: &str) -> Result<InfoMemory, LiveError> {
    std::thread::sleep(Duration::from_millis(250));
    memory_info(addr, &info_section(addr, "memory")?)
}

/// The value of `name` in an `INFO` reply (`name:value` lines), if it has one.
pub(super) fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.trim_end().strip_prefix(name).and_then(|r| r.strip_prefix(':')))
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

/// Checks a reply that carries no figure: an integer or text, not an error.
pub(super) fn text_or_int(addr: &str, r: Resp) -> Result<(), LiveError> {
    match r {
        Resp::Int(_) => Ok(()),
        other => text(addr, other).map(|_| ()),
    }
}
