//! A client's query buffer and the argv it is parsed into (networking.c:
//! `readQueryFromClient`, `processMultibulkBuffer`, `createStringObject` per argument, the big
//! argument path of `PROTO_MBULK_BIG_ARG`; the cron's `clientsCronResizeQueryBuffer`), growing and
//! shrinking as sds.c's `_sdsMakeRoomFor` and `sdsResize` do.

use crate::redis::heap::Alloc;

use super::client::ClientId;
use super::string::StringValue;
use super::Server;

/// Digits of `n` in decimal (1 for 0): a few comparisons for the usual short lengths.
#[inline]
fn decimal_digits(n: u64) -> u64 {
    if n < 10 {
        1
    } else if n < 100 {
        2
    } else if n < 1_000 {
        3
    } else if n < 10_000 {
        4
    } else {
        n.ilog10() as u64 + 1
    }
}

/// Bytes of a RESP bulk header or array header for `n`: `$n\r\n` / `*n\r\n`.
#[inline]
pub(super) fn resp_header(n: u64) -> u64 {
    3 + decimal_digits(n)
}

/// Bytes of a bulk string reply of `n` bytes in RESP: `$n\r\n<bytes>\r\n`.
pub(super) fn bulk_reply_len(n: u64) -> u64 {
    resp_header(n) + n + 2
}

/// Bytes of an array reply of the bulk strings of `lens` bytes in RESP: `*k\r\n`, then each
/// bulk string.
pub(super) fn array_reply_len(lens: impl IntoIterator<Item = u64>) -> u64 {
    let mut k = 0;
    let mut bytes = 0;
    for n in lens {
        k += 1;
        bytes += bulk_reply_len(n);
    }
    resp_header(k) + bytes
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

/// Whether [`Server::read_command`] must take its general path: never, outside the tests that
/// compare it with the fast one.
#[cfg(not(test))]
#[inline(always)]
fn general_path_only() -> bool {
    false
}

/// Whether this test thread has turned `read_command`'s fast path off (and counts its uses).
#[cfg(test)]
fn general_path_only() -> bool {
    tests::GENERAL_PATH_ONLY.with(|g| g.get())
}

impl Server {
    /// Bytes the query buffer of a client that has read one small command holds: its first
    /// read makes room for 16 KiB without the greedy doubling (`sdsMakeRoomForNonGreedy`).
    pub(super) fn first_read_request(&self) -> u64 {
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
        let c = self.client_mut(id);
        let (q, old_hdr) = (c.qbuf, c.qbuf_hdr);
        let nq = if hdr == old_hdr {
            self.heap.zrealloc_copy(q, hdr + newlen + 1)
        } else {
            // The client's buffer (a realloc keeps the block's owner).
            let nq = self
                .heap
                .as_server(|h| h.zmalloc_written(hdr + newlen + 1, hdr + len + 1));
            self.heap.zfree(q);
            nq
        };
        self.client_mut(id).set_qbuf(nq, hdr);
    }

    /// `sdsResize(querybuf, size, 1)` on client `id`'s empty query buffer (the cron's trim): a
    /// `realloc` keeping the header when the type stays the same or shrinks to one still above
    /// type 8, skipped when the allocator would give the same block size (`nallocx`); else a
    /// new block of the smaller type and the old one freed.
    fn qbuf_resize(&mut self, id: ClientId, size: u64) {
        let hdr = self.qbuf_header(size);
        let c = self.client_mut(id);
        let (q, old_hdr) = (c.qbuf, c.qbuf_hdr);
        if hdr == old_hdr || (hdr < old_hdr && hdr > 3) {
            let want = old_hdr + size + 1;
            if self.heap.arena.usable_size_of(want).ok() != Some(q.usable) {
                let nq = self.heap.zrealloc_copy(q, want);
                self.client_mut(id).qbuf = nq;
            }
        } else {
            let nq = self.heap.zmalloc_written(hdr + size + 1, hdr + 1);
            self.heap.zfree(q);
            self.client_mut(id).set_qbuf(nq, hdr);
        }
        self.client_mut(id).qbuf_room = size;
    }

    /// `sdsMakeRoomFor` (greedy: the new length doubled below 1 MiB, 1 MiB more above) or
    /// `sdsMakeRoomForNonGreedy` on client `id`'s query buffer holding `len` bytes.
    fn qbuf_make_room(&mut self, id: ClientId, len: u64, add: u64, greedy: bool) {
        let alloc = self.client_mut(id).qbuf_alloc();
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

    /// `clientsCronResizeQueryBuffer` on client `id` at `now` (between commands a buffer holds
    /// nothing): one wasting more than 4 KiB shrinks to nothing when its client has idled over
    /// 2 s, or, above 32 KiB (`PROTO_RESIZE_THRESHOLD`), to the most it held since the last
    /// look when that is under half its size. The peak restarts.
    pub(super) fn resize_query_buffer(&mut self, id: ClientId, now: u64) {
        let c = self.client_mut(id);
        let (alloc, peak) = (c.qbuf_alloc(), c.qb_peak);
        if alloc > 4096 {
            if now.saturating_sub(c.last_active_ns) > 2_000_000_000 {
                // sdsRemoveFreeSpace of an empty buffer.
                self.qbuf_resize(id, 0);
            } else if alloc > 32 * 1024 && alloc / 2 > peak {
                self.qbuf_resize(id, peak);
            }
        }
        self.client_mut(id).qb_peak = 0;
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
    /// The argument objects go to `objs` (empty on entry); the argv array is returned.
    pub(super) fn read_command(
        &mut self,
        id: ClientId,
        argv: &[&[u8]],
        objs: &mut Vec<Option<StringValue>>,
    ) -> Alloc {
        let big_arg = self.profile.big_arg;
        let io = self.profile.query_read_len;
        let room = self.client_mut(id).qbuf_alloc();
        // The command's bytes, and whether an argument takes the big-argument path.
        let total = resp_len(argv);
        let big = argv.iter().any(|a| a.len() as u64 >= big_arg);
        if !big && room >= io && total <= room && !general_path_only() {
            return self.read_whole_command(id, argv, total, objs);
        }
        self.read_command_in_parts(id, argv, total, objs)
    }

    /// [`Server::read_command`] when client `id`'s query buffer already has room for the
    /// read size and the whole `total`-byte command, none of whose arguments is big: the
    /// read makes no room and reads the whole command; then the argv array is allocated and
    /// every argument copied into a string object. The same allocator calls, in the same
    /// order, as the general path makes for such a command.
    #[inline]
    fn read_whole_command(
        &mut self,
        id: ClientId,
        argv: &[&[u8]],
        total: u64,
        objs: &mut Vec<Option<StringValue>>,
    ) -> Alloc {
        #[cfg(test)]
        tests::FAST_READS.with(|n| n.set(n.get() + 1));
        let c = self.client_mut(id);
        c.qb_peak = c.qb_peak.max(total);
        let (q, hdr) = (c.qbuf, c.qbuf_hdr);
        self.heap.write(q, 0, hdr + total + 1);
        let argv_arr = self.argv_array(id, argv.len());
        let mut mem = self.mem();
        objs.extend(
            argv.iter()
                .map(|a| Some(StringValue::create(&mut mem, a.len() as u64))),
        );
        argv_arr
    }

    /// [`Server::read_command`] by the general path: reads as they come, the buffer grown as
    /// needed, big arguments on their own; `total` is the command's bytes in RESP.
    fn read_command_in_parts(
        &mut self,
        id: ClientId,
        argv: &[&[u8]],
        total: u64,
        objs: &mut Vec<Option<StringValue>>,
    ) -> Alloc {
        let big_arg = self.profile.big_arg;
        let io = self.profile.query_read_len;
        let mut left = total; // bytes still on the socket
        let mut len = 0u64; // bytes in the buffer, not yet parsed
        let mut argv_arr = None;
        // Parsing state: the array header is read, and the next argument's bulk header.
        let mut bulk_hdr_read = false;
        loop {
            // Parse what the buffer holds.
            if argv_arr.is_none() {
                let h = resp_header(argv.len() as u64);
                if len >= h {
                    len -= h;
                    argv_arr = Some(self.argv_array(id, argv.len()));
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
                    let whole = n >= big_arg && len == n + 2 && self.client_mut(id).qbuf_alloc() >= n + 2;
                    let o = if whole {
                        // The buffer becomes the argument; a new one of its size replaces it.
                        let robj = self.heap.zmalloc(self.profile.robj);
                        // sdsnewlen(SDS_NOINIT): the header and the terminator are written,
                        // not the bytes between.
                        let hdr = self.profile.sds_header(n + 2);
                        let request = self.profile.sds_request(n + 2);
                        let fresh = self.heap.as_server(|h| h.zmalloc_written(request, hdr + 1));
                        self.heap.write(fresh, hdr + n + 2, hdr + n + 3);
                        let c = self.client_mut(id);
                        let sds = c.qbuf;
                        c.set_qbuf(fresh, hdr);
                        // The command's (its key's, if kept) from now on.
                        self.heap.retag(sds.id, self.heap.tag());
                        StringValue::Raw(robj, sds)
                    } else {
                        StringValue::create(&mut self.mem(), n)
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
            let alloc = self.client_mut(id).qbuf_alloc();
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
                self.client_mut(id).qbuf_alloc() - len
            };
            let nread = readlen.min(left);
            left -= nread;
            len += nread;
            let c = self.client_mut(id);
            c.qb_peak = c.qb_peak.max(len);
            let (q, hdr) = (c.qbuf, c.qbuf_hdr);
            // The bytes read land after what the buffer holds (parsed bytes were trimmed to its
            // start).
            self.heap.write(q, 0, hdr + len + 1);
        }
        argv_arr.unwrap_or_else(|| self.heap.as_server(|h| h.zmalloc(8)))
    }
}

#[cfg(test)]
mod tests {
    use crate::redis::server::testing::{argv, server};
    use crate::redis::server::Server;

    thread_local! {
        /// `read_command` takes its general path only.
        pub(super) static GENERAL_PATH_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        /// Commands read by the fast path.
        pub(super) static FAST_READS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    /// The whole state of a server after `run`, with `read_command`'s fast path on or off, and
    /// the allocator's trace.
    fn after(general: bool, run: &dyn Fn(&mut Server)) -> (String, Vec<crate::jemalloc::trace::TraceOp>) {
        GENERAL_PATH_ONLY.with(|g| g.set(general));
        let mut s = server(&["set", "ping", "info", "hset", "get", "del"]);
        s.heap.record();
        run(&mut s);
        GENERAL_PATH_ONLY.with(|g| g.set(false));
        let ops = s.heap.recorder.take().unwrap().ops;
        (format!("{s:?}"), ops)
    }

    /// The fast path (a command that fits the query buffer at once, no big argument) makes the
    /// same allocator calls, writes and figures as the general path: commands of many shapes,
    /// small and big values, a buffer grown and trimmed, several clients, TTL rewrites.
    #[test]
    fn the_fast_read_path_matches_the_general_one() {
        let run = |s: &mut Server| {
            let c = s.connect();
            let d = s.connect();
            let mut used = Vec::new();
            for i in 0..300u64 {
                let key = format!("key:{i}:{}", i * 7919).into_bytes();
                let size = [
                    0usize, 1, 9, 10, 44, 45, 100, 1_000, 9_999, 16_000, 20_000, 32_767, 32_768, 40_000,
                ][i as usize % 14];
                let value = vec![b'v'; size];
                let who = if i % 3 == 0 { d } else { c };
                let cmd: Vec<Vec<u8>> = match i % 6 {
                    0 => argv(&[b"SET", &key, &value]),
                    1 => argv(&[b"SET", &key, &value, b"PX", b"1500"]),
                    2 => argv(&[
                        b"HSET",
                        &key,
                        b"f0",
                        &value[..size.min(64)],
                        b"f1",
                        b"12",
                        b"f2",
                        &value,
                    ]),
                    3 => argv(&[b"GET", &key]),
                    4 => argv(&[b"PING"]),
                    _ => argv(&[b"DEL", &key]),
                };
                s.exec(who, &cmd).unwrap();
                if i % 50 == 49 {
                    // The cron trims the idle buffers.
                    s.advance(3_000_000_000);
                } else {
                    s.advance(1_000_000);
                }
                used.push(s.used_memory());
            }
            s.disconnect(d);
            let e = s.connect();
            s.exec(e, &argv(&[b"SET", b"x", &vec![b'y'; 100_000]])).unwrap();
            s.exec(e, &argv(&[b"SET", b"x", b"1"])).unwrap();
            assert!(used.windows(2).any(|w| w[0] != w[1]));
        };
        let (fast, fast_ops) = after(false, &run);
        let fast_reads = FAST_READS.with(|n| n.replace(0));
        let (general, general_ops) = after(true, &run);
        assert!(fast_reads > 200, "{fast_reads}");
        assert_eq!(FAST_READS.with(|n| n.get()), 0);
        assert_eq!(fast_ops, general_ops);
        assert!(fast == general, "the servers' states differ");
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
        for (value, ping_first, want) in [
            (20_000usize, false, 20_568 + 65_528),
            (20_000, true, 20_568),
            (40_000, false, 41_048 + 40_952),
        ] {
            let mut s = server(&["set", "ping", "info"]);
            let c = s.connect();
            if ping_first {
                s.exec(c, &argv(&[b"PING"])).unwrap();
            }
            let u0 = s.used_memory();
            s.exec(c, &argv(&[b"SET", b"a:1", &vec![b'x'; value]])).unwrap();
            assert_eq!(s.used_memory() - u0, want, "{value} {ping_first}");
        }
    }
}
