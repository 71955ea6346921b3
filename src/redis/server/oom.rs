//! The `maxmemory` rule under the `noeviction` policy: `processCommand` (server.c) refuses a
//! command flagged DENYOOM (`CMD_DENYOOM`, set in `src/commands/*.json`) with `-OOM` when
//! `used_memory` is over `maxmemory` (`performEvictions` can free nothing); other commands
//! (reads, DEL, FLUSHALL) run. `used_memory` is checked with the command's own argv and query
//! buffer already allocated.

use super::Server;

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

/// A refused command, for the OOM report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OomRefusal {
    /// Command name.
    pub command: String,
    /// `used_memory` when the check ran (this command's argv and query buffer included).
    pub used_memory: u64,
}

impl Server {
    /// Whether DENYOOM command `name` (as [`super::command_name`] gives it) is refused under
    /// `maxmemory` now. It raises [`Server::max_denyoom_check`] to the `used_memory` it is
    /// checked against; a refusal is recorded in [`Server::refusals`].
    pub(super) fn refuses(&mut self, name: &str) -> bool {
        self.max_denyoom_check = self.max_denyoom_check.max(self.used_memory());
        if self.maxmemory > 0 && self.used_memory() > self.maxmemory {
            self.refusals.push(OomRefusal {
                command: name.to_string(),
                used_memory: self.used_memory(),
            });
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::redis::server::testing::{argv, server};
    use crate::redis::server::Reply;

    /// With maxmemory set, DENYOOM writes are refused once used_memory (this command's argv and
    /// query buffer included) is over it; reads and deletes still run.
    #[test]
    fn maxmemory_refuses_writes_not_reads() {
        let mut s = server(&["set", "get", "del", "info"]);
        let c = s.connect();
        // A first 30 KB SET grows the client's query buffer (16 KiB read, then room made
        // greedily: 65,482 B -> 65,536), so later SETs, read at once, only add their argv.
        s.exec(c, &argv(&[b"SET", b"k0", &[b'v'; 30_000]])).unwrap();
        let u = s.used_memory();
        s.maxmemory = u + 70_000;
        let mut refused_at = None;
        for i in 1..10 {
            let r = s
                .exec(c, &argv(&[b"SET", format!("k{i}").as_bytes(), &[b'v'; 30_000]]))
                .unwrap();
            if r == Reply::Oom && refused_at.is_none() {
                refused_at = Some(i);
            }
        }
        // Each stored key adds 32,824 B; at check time a SET's argv adds 32,880 (argv array 32,
        // "SET" and the key as 32 B embstrs, the value's robj 16 + 32,768). k1: u + 32,880 and
        // k2: u + 32,824 + 32,880 = u + 65,704 pass; k3: u + 65,648 + 32,880 > u + 70,000.
        assert_eq!(refused_at, Some(3));
        assert_eq!(s.exec(c, &argv(&[b"GET", b"k1"])), Ok(Reply::Ok));
        assert_eq!(s.exec(c, &argv(&[b"DEL", b"k1"])), Ok(Reply::Ok));
        assert_eq!(s.refusals[0].command, "set");
    }
}
