//! Strings: the string object's encodings (object.c: `createStringObject`,
//! `createEmbeddedStringObject`, `createRawStringObject`, the shared integers,
//! `tryObjectEncoding`, `trimStringObjectIfNeeded`, `freeStringObject`) and SET (t_string.c:
//! `setCommand`, `setGenericCommand`). Every argument a client sends becomes a string object;
//! SET keeps its value argument, re-encoded, as the key's new value, whatever the key held
//! before. In-place growth (APPEND, SETRANGE) is not modelled.

use crate::jemalloc::Arena;
use crate::redis::encoding::as_integer;
use crate::redis::heap::Alloc;
use crate::redis::profile::RedisProfile;

use super::dispatch::{unsupported, Reply};
use super::keyspace::parse_ttl;
use super::value::{Mem, Value, ValueType};
use super::Server;

/// A string object, by encoding.
#[derive(Debug, Clone)]
pub(super) enum StringValue {
    /// A shared integer object: nothing allocated.
    Shared,
    /// An INT-encoded robj.
    Int(Alloc),
    /// robj and string in one block.
    Embstr(Alloc),
    /// robj + sds.
    Raw(Alloc, Alloc),
}

impl StringValue {
    /// `createStringObject` for an argument of `len` bytes: one block up to the profile's
    /// embstr limit, else an robj and an sds.
    pub(super) fn create(mem: &mut Mem<'_>, len: u64) -> Self {
        if let Some(size) = mem.profile.embstr_request(len) {
            StringValue::Embstr(mem.heap.zmalloc(size))
        } else {
            let sds = mem.heap.zmalloc(mem.profile.sds_request(len));
            let robj = mem.heap.zmalloc(mem.profile.robj);
            StringValue::Raw(robj, sds)
        }
    }

    /// `tryObjectEncoding` on an argument the server keeps (`bytes`, as sent): an integer below
    /// the shared range becomes a shared object, another integer an INT robj; a raw string
    /// short enough becomes embedded; a longer one gives back slack above a tenth of its
    /// length.
    pub(super) fn encode(self, mem: &mut Mem<'_>, bytes: &[u8]) -> Self {
        let len = bytes.len() as u64;
        if len <= 20 {
            if let Some(v) = as_integer(bytes) {
                if mem.profile.values_share_integers() && (0..mem.profile.shared_integers).contains(&v) {
                    self.free(mem);
                    return StringValue::Shared;
                }
                return match self {
                    StringValue::Raw(r, s) => {
                        mem.heap.zfree(s);
                        StringValue::Int(r)
                    }
                    StringValue::Embstr(e) => {
                        mem.heap.zfree(e);
                        StringValue::Int(mem.heap.zmalloc(mem.profile.robj))
                    }
                    other => other,
                };
            }
        }
        let embedded = mem.profile.embstr_request(len);
        match self {
            StringValue::Raw(r, s) if embedded.is_some() => {
                mem.heap.zfree(s);
                mem.heap.zfree(r);
                StringValue::Embstr(mem.heap.zmalloc(embedded.expect("an embedded size")))
            }
            StringValue::Raw(r, s) => {
                // trimStringObjectIfNeeded: give back slack above a tenth of the length (Redis
                // 7.2+ and Valkey: only for an argument that took over the query buffer).
                let avail = s.usable - mem.profile.sds_header(len) - 1 - len;
                let trims = !mem.profile.layout.trim_big_args_only || len >= mem.profile.big_arg;
                if trims && avail > len / 10 {
                    let hdr = mem.profile.sds_header(len + 2).max(mem.profile.sds_header(len));
                    StringValue::Raw(r, mem.heap.zrealloc_copy(s, hdr + len + 1))
                } else {
                    StringValue::Raw(r, s)
                }
            }
            other => other,
        }
    }

    /// Usable bytes of the block holding the string's bytes (none for an integer): what the
    /// script cache counts for a script's body.
    pub(super) fn bytes_usable(&self) -> u64 {
        match self {
            StringValue::Raw(_, s) => s.usable,
            StringValue::Embstr(e) => e.usable,
            _ => 0,
        }
    }
}

impl ValueType for StringValue {
    fn free(self, mem: &mut Mem<'_>) {
        match self {
            StringValue::Shared => {}
            StringValue::Int(a) | StringValue::Embstr(a) => mem.heap.zfree(a),
            StringValue::Raw(r, s) => {
                mem.heap.zfree(s);
                mem.heap.zfree(r);
            }
        }
    }

    /// INT (a shared integer too): the robj; embedded: its block; raw: the sds's block and the
    /// robj.
    fn object_size(&self, arena: &Arena, profile: &RedisProfile) -> u64 {
        match self {
            StringValue::Shared | StringValue::Int(_) => profile.robj,
            StringValue::Embstr(e) => arena.usable_size(e.id),
            StringValue::Raw(_, s) => arena.usable_size(s.id) + profile.robj,
        }
    }

    fn footprint(&self, arena: &Arena) -> u64 {
        match self {
            StringValue::Shared => 0,
            StringValue::Int(r) | StringValue::Embstr(r) => arena.footprint(r.id),
            StringValue::Raw(_, s) => arena.footprint(s.id),
        }
    }
}

impl Server {
    /// `SET key value [EX seconds | PX milliseconds]`: the value argument, re-encoded, becomes
    /// the key's value (the old one freed, its TTL cleared); with a TTL, the command is
    /// propagated as `SET key value PXAT <ms>`, which rewrites its argv.
    pub(super) fn set_command(
        &mut self,
        argv: &[&[u8]],
        objs: &mut [Option<StringValue>],
    ) -> Result<(), Reply> {
        if argv.len() < 3 {
            return unsupported("SET needs a key and a value");
        }
        let mut ttl_ms = None;
        let mut i = 3;
        while i < argv.len() {
            let opt = argv[i];
            let ex = opt.eq_ignore_ascii_case(b"ex");
            if (ex || opt.eq_ignore_ascii_case(b"px")) && i + 1 < argv.len() {
                let n = parse_ttl(argv[i + 1])?;
                ttl_ms = Some(if ex { n * 1000 } else { n });
                i += 2;
            } else {
                return unsupported("SET options other than EX/PX are not modelled");
            }
        }
        let v = objs[2].take().expect("the value argument, parsed");
        let v = v.encode(&mut self.mem(), argv[2]);
        let now = self.now_ns;
        let (keyspace, mut mem) = self.keyspace_mem();
        keyspace.set(
            &mut mem,
            argv[1],
            Value::Str(v),
            argv[2].len() as u64,
            ttl_ms.is_some(),
        );
        if let Some(ms) = ttl_ms {
            keyspace.set_expire(&mut mem, now, argv[1], ms);
            // Propagated as SET key value PXAT <ms>: the timestamp object, the original vector
            // retained, a new 5-argument vector (rewriteClientCommandVector).
            let robj = self.profile.robj;
            self.rewrite.add_object(&mut self.heap, robj);
            self.rewrite.retain_original(&mut self.heap, argv.len());
            self.rewrite.replace_vector(&mut self.heap, 5);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::redis::server::testing::{argv, recorded_allocs, server};

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
        let mut s = server(&["set", "flushall", "info"]);
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
            s.exec(c, &cmd).unwrap();
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
        let mut s = server(&["set", "ping", "info"]);
        let c = s.connect();
        // The client's first command grows its query buffer to 16 KiB (20,480 B class).
        s.exec(c, &argv(&[b"PING"])).unwrap();
        let u0 = s.used_memory();
        s.exec(c, &argv(&[b"SET", b"n", b"42"])).unwrap();
        // dictEntry 32 + key "n" (1 + 1 + 1 -> 8) + the first table (32).
        assert_eq!(s.used_memory() - u0, 72);
        let u1 = s.used_memory();
        s.exec(c, &argv(&[b"SET", b"t", b"42", b"EX", b"100"])).unwrap();
        assert_eq!(s.used_memory() - u1, 32 + 8 + 32 + 32);
        // Expired by the cron once its time has passed.
        s.advance(101_000_000_000);
        assert_eq!(s.dbsize(), 1);
    }

    /// `SET k v PX ms` is propagated as `SET k v PXAT <ms>`: after the key's blocks, the
    /// timestamp object (a 16 B robj), the original 5-argument vector kept (40 B) and the new one
    /// (40 B), which replaces the parsed vector at once; all freed after the command, as in the
    /// traced server.
    #[test]
    fn set_with_a_ttl_rewrites_its_argv() {
        let mut s = server(&["set"]);
        let c = s.connect();
        s.exec(c, &argv(&[b"SET", b"a", b"1"])).unwrap();
        s.heap.record();
        let u0 = s.heap.zmalloc_used;
        s.exec(c, &argv(&[b"SET", b"b", b"xyz", b"PX", b"60000"]))
            .unwrap();
        let sizes = recorded_allocs(&s);
        // argv, the embedded strings "SET", "b", "xyz", "PX", "60000" (robj 16 + header 3 +
        // bytes + 1), the key's sds, its entry, its expires entry, the expires dict's first
        // table (4 buckets), then the rewrite, then the reply node.
        assert_eq!(sizes, [40, 23, 21, 23, 22, 25, 3, 24, 24, 32, 16, 40, 40, 24]);
        // Kept: the key's sds (8), entry (32), expires entry (32) and table (32), the value's
        // embedded string (32).
        assert_eq!(s.heap.zmalloc_used - u0, 8 + 32 + 32 + 32 + 32);
    }
}
