//! Helpers the server model's unit tests share.

use crate::jemalloc::trace::TraceOp;
use crate::redis::profile::RedisProfile;

use super::Server;

/// A command's arguments, owned.
pub(super) fn argv(words: &[&[u8]]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.to_vec()).collect()
}

/// The Debian build of Redis 7.0.
pub(super) fn debian_profile() -> RedisProfile {
    RedisProfile::builtin("redis-7.0-debian").unwrap()
}

/// A server of the Debian build of Redis 7.0 whose baseline has already run these commands
/// (their latency histograms are made).
pub(super) fn server(commands_seen: &[&str]) -> Server {
    let mut p = debian_profile();
    p.baseline.commands_seen = commands_seen.iter().map(|c| c.to_string()).collect();
    Server::new(p, 1).unwrap()
}

/// The sizes of the allocations recorded so far, in order.
pub(super) fn recorded_allocs(s: &Server) -> Vec<u64> {
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
