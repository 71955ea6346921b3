//! Clients (networking.c): a connection's allocations (`createClient`) and their freeing
//! (`freeClientAsync`, then `freeClient` in `beforeSleep`); the reply buffer (`c->buf`:
//! `_addReplyToBuffer`, and reply blocks on the reply list past it, `_addReplyProtoToList`), the
//! pending-write list a client with a reply joins (`clientInstallWriteHandler`) until
//! `beforeSleep` writes it, the cron's resizing of the reply buffer
//! (`clientsCronResizeOutputBuffer`), and what CLIENT INFO allocates (`clientInfoCommand`). The
//! query buffer is the `query` module's.

use crate::redis::heap::Alloc;

use super::Server;

/// Handle of a connected client.
pub type ClientId = usize;

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

/// A connected client's blocks and buffer state.
#[derive(Debug, Clone)]
pub(super) struct Client {
    pub(super) allocs: Vec<Alloc>,
    /// The query buffer (an sds) and its header size (its sds type's).
    pub(super) qbuf: Alloc,
    pub(super) qbuf_hdr: u64,
    /// `sdsalloc` of the query buffer: the bytes it can hold (the block's usable size less
    /// header and terminator, or what `sdsResize` last set).
    pub(super) qbuf_room: u64,
    /// `querybuf_peak`: the most bytes it held after a read since the cron last looked.
    pub(super) qb_peak: u64,
    pub(super) last_active_ns: u64,
    /// Which of `allocs` is the reply buffer (`c->buf`), and `buf_peak`: the most reply bytes
    /// it held since the peak was last reset.
    buf: Option<usize>,
    buf_peak: u64,
    /// When the cron last reset `buf_peak`; `None` until it first does (Redis 7.0 stamps a new
    /// client in seconds and compares in milliseconds, so its first look always resets).
    buf_peak_reset_ns: Option<u64>,
    /// Whether `CLIENT INFO` has cached the peer's and the socket's address strings.
    addresses_cached: bool,
    /// Redis 8.0 (`client_keeps_argv`): the argv array kept since the last command (`c->argv`,
    /// `argv_len` its slots), until a command needs another or the cron frees it.
    pub(super) argv: Option<Alloc>,
}

impl Client {
    /// `sdsalloc` of the query buffer: the bytes it can hold.
    pub(super) fn qbuf_alloc(&self) -> u64 {
        self.qbuf_room
    }

    /// The query buffer is now block `q` with a `hdr`-byte header, its room the block's.
    pub(super) fn set_qbuf(&mut self, q: Alloc, hdr: u64) {
        self.qbuf = q;
        self.qbuf_hdr = hdr;
        self.qbuf_room = q.usable.saturating_sub(hdr + 1);
    }
}

/// What the running command's reply holds until `beforeSleep` has written it.
#[derive(Debug, Clone, Default)]
pub(super) struct PendingReply {
    /// The `server.clients_pending_write` list node of the client the running command replies
    /// to (`clientInstallWriteHandler`), freed when `beforeSleep` writes the reply.
    node: Option<Alloc>,
    /// Reply blocks (and their list nodes) of a reply that overflowed the reply buffer, freed
    /// once written.
    blocks: Vec<Alloc>,
    /// Blocks a command frees once its reply is queued.
    after_reply: Vec<Alloc>,
}

impl Server {
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
            argv: None,
        };
        if let Some(i) = self.clients.iter().position(|c| c.is_none()) {
            self.clients[i] = Some(c);
            i
        } else {
            self.clients.push(Some(c));
            self.clients.len() - 1
        }
    }

    /// A client disconnects (`freeClientAsync`, then `freeClient`). An id that is not
    /// connected is ignored.
    pub fn disconnect(&mut self, id: ClientId) {
        if let Some(c) = self.clients.get_mut(id).and_then(Option::take) {
            // The read that sees the connection closed queues the client on
            // `server.clients_to_close` (freeClientAsync); beforeSleep unlinks and frees it.
            let node = self.heap.zmalloc(LIST_NODE);
            self.heap.zfree(node);
            self.heap.zfree(c.qbuf);
            for (i, a) in c.allocs.into_iter().enumerate().rev() {
                self.heap.zfree(a);
                // freeClient: `freeClientArgv` right after the reply buffer (Redis 8.0's kept
                // array).
                if Some(i) == c.buf {
                    if let Some(argv) = c.argv {
                        self.heap.zfree(argv);
                    }
                }
            }
        }
    }

    /// The argv array for a command of `argc` arguments on client `id`
    /// (`processMultibulkBuffer`): one of min(argc, 1,024) slots; under Redis 8.0's
    /// `client_keeps_argv` the client's kept array when it has the slots and no more than
    /// 1,024, else that one freed and a new one made.
    pub(super) fn argv_array(&mut self, id: ClientId, argc: usize) -> Alloc {
        let size = 8 * argc.min(1024) as u64;
        // The client's, not the command's key's (Redis 8.0 keeps it between commands).
        if !self.profile.layout.client_keeps_argv {
            return self.heap.as_server(|h| h.zmalloc(size));
        }
        match self.client_mut(id).argv.take() {
            Some(a) if argc as u64 <= argv_slots(a) && argv_slots(a) <= 1024 => a,
            Some(a) => {
                self.heap.zfree(a);
                self.heap.as_server(|h| h.zmalloc(size))
            }
            None => self.heap.as_server(|h| h.zmalloc(size)),
        }
    }

    /// After a command: its argv array freed (`freeClientArgv`), or under Redis 8.0's
    /// `client_keeps_argv` kept by the client (`resetClientInternal(c, 0)`).
    pub(super) fn release_argv(&mut self, id: ClientId, argv: Alloc) {
        if self.profile.layout.client_keeps_argv {
            if let Some(c) = self.clients.get_mut(id).and_then(Option::as_mut) {
                debug_assert!(c.argv.is_none(), "the kept array was taken for this command");
                c.argv = Some(argv);
                return;
            }
        }
        self.heap.zfree(argv);
    }

    /// `clientsCronFreeArgvIfIdle` (Redis 8.0): a kept argv array freed when the client has
    /// been idle for more than 2 s or the array has more than 128 slots.
    pub(super) fn free_argv_if_idle(&mut self, id: ClientId, now: u64) {
        let Some(c) = self.clients.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        let Some(a) = c.argv else { return };
        if now.saturating_sub(c.last_active_ns) > 2_000_000_000 || argv_slots(a) > 128 {
            c.argv = None;
            self.heap.zfree(a);
        }
    }

    /// Client `id`, which the running command's checks found connected.
    pub(super) fn client_mut(&mut self, id: ClientId) -> &mut Client {
        self.clients[id].as_mut().expect("connected client")
    }

    /// The first reply of a command puts its client on `server.clients_pending_write`
    /// (`listAddNodeHead`: a 24-byte list node) until `beforeSleep` writes it.
    pub(super) fn reply_pending(&mut self) {
        if self.reply.node.is_none() {
            self.reply.node = Some(self.heap.zmalloc(LIST_NODE));
        }
    }

    /// Frees what the command kept until its reply was queued.
    pub(super) fn free_after_reply(&mut self) {
        for a in self.reply.after_reply.drain(..) {
            self.heap.zfree(a);
        }
    }

    /// A reply of `len` bytes into client `id`'s reply buffer (`_addReplyToBuffer`): what does
    /// not fit goes to a reply block of at least 16 KiB on the reply list (`_addReplyProtoToList`),
    /// freed once written; the buffer's peak follows what it held.
    pub(super) fn add_reply(&mut self, id: ClientId, len: u64) {
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
            self.reply.blocks.extend([block, node]);
        }
    }

    /// `beforeSleep` writes the reply: the client leaves the pending-write list, the reply
    /// blocks are freed.
    pub(super) fn write_reply(&mut self) {
        if let Some(node) = self.reply.node.take() {
            self.heap.zfree(node);
        }
        for a in self.reply.blocks.drain(..) {
            self.heap.zfree(a);
        }
    }

    /// `clientsCronResizeOutputBuffer`: a reply buffer whose peak is under half its size
    /// shrinks to the peak (at least 1 KiB); one whose peak filled it doubles (up to 16 KiB).
    /// Every 5 s the peak restarts from what the buffer holds (nothing, between commands).
    pub(super) fn resize_output_buffer(&mut self, id: ClientId, now: u64) {
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
            self.client_mut(id).allocs[i] = nb;
        }
    }

    /// `CLIENT INFO` on Redis 7.0.15, as traced: the first call caches the client's peer and
    /// socket addresses (16 and 17 B, kept until it disconnects); each call builds the
    /// description in an empty sds that grows into a new 926-byte block (its type changes),
    /// freed once the reply is queued.
    pub(super) fn client_info(&mut self, id: ClientId) {
        if !self.clients[id].as_ref().is_some_and(|c| c.addresses_cached) {
            let a = self.heap.zmalloc(16);
            let b = self.heap.zmalloc(17);
            let c = self.client_mut(id);
            c.allocs.extend([a, b]);
            c.addresses_cached = true;
        }
        let empty = self.heap.zmalloc(4);
        let text = self.heap.zmalloc(926);
        self.heap.zfree(empty);
        self.reply.after_reply.push(text);
    }
}

/// The slots of an argv array (`argv_len`): its bytes asked for over `sizeof(robj*)`.
fn argv_slots(a: Alloc) -> u64 {
    u64::from(a.requested) / 8
}

#[cfg(test)]
mod tests {
    use crate::redis::server::testing::{argv, debian_profile, recorded_allocs};
    use crate::redis::server::Server;

    /// A connection's allocations as a trace of the real server shows them: the empty query
    /// buffer (4 B, sds type 8) is replaced, not reallocated, by the first read's 16 KiB buffer
    /// (type 16: a new block, the old one freed), and each reply puts the client on the
    /// pending-write list (a 24 B node, freed after the reply is written). Closing queues the
    /// client for freeing (another node).
    #[test]
    fn a_connection_allocates_as_the_traced_server_does() {
        use crate::jemalloc::trace::TraceOp;
        let mut s = Server::new(debian_profile(), 1).unwrap();
        s.heap.record();
        let c = s.connect();
        s.exec(c, &argv(&[b"PING"])).unwrap();
        s.exec(c, &argv(&[b"PING"])).unwrap();
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

    /// Redis 8.0 keeps a client's argv array between commands: a PING's (1 slot, 8 B) stays
    /// after it; a command of 100 arguments frees it and makes one of 100 slots (800 B), which
    /// a PING then reuses, until the cron finds the client idle for more than 2 s; one of 200
    /// slots the cron frees at its next tick (over 128). Redis 7.0 frees the array after each
    /// command.
    #[test]
    fn redis_8_0_keeps_the_argv_array() {
        use crate::redis::profile::RedisProfile;
        let mut p = RedisProfile::builtin("redis-8.0").unwrap();
        p.baseline.commands_seen = ["ping", "rpush", "del"].map(String::from).to_vec();
        let mut s = Server::new(p, 1).unwrap();
        let c = s.connect();
        s.exec(c, &argv(&[b"PING"])).unwrap();
        let base = s.heap.zmalloc_used as i64;
        let exec = |s: &mut Server, words: Vec<Vec<u8>>| {
            let before = s.heap.zmalloc_used as i64;
            s.exec(c, &words).unwrap();
            s.heap.zmalloc_used as i64 - before
        };
        let mut push = argv(&[b"RPUSH", b"l"]);
        push.extend((0..98).map(|i| format!("{i:03}x").into_bytes()));
        // The list (robj 16, listpack 7 + 98 x 6 = 595 -> 640, key 8, dict table 32, entry
        // 24: 720), the keys' dict made with the first key (2,464 B with 8.0's key-size
        // histogram: the 2,560 class) and the array: 8 B freed, 800 made (the 896 class).
        assert_eq!(exec(&mut s, push), 720 + 2560 + 896 - 8);
        assert_eq!(exec(&mut s, argv(&[b"PING"])), 0);
        assert_eq!(s.heap.zmalloc_used as i64 - base, 720 + 2560 + 888);
        let kept = |s: &Server| s.clients[c].as_ref().unwrap().argv.map(|a| a.requested);
        s.advance(1_000_000_000);
        assert_eq!(kept(&s), Some(800));
        s.advance(2_100_000_000);
        assert_eq!(kept(&s), None);
        // A new array of 2 slots.
        exec(&mut s, argv(&[b"DEL", b"l"]));
        assert_eq!(kept(&s), Some(16));
        let mut big = argv(&[b"RPUSH", b"m"]);
        big.extend((0..198).map(|i| format!("{i:03}y").into_bytes()));
        exec(&mut s, big);
        assert_eq!(kept(&s), Some(1600));
        s.advance(100_000_000);
        assert_eq!(kept(&s), None);
        // Closing frees a kept array too.
        s.exec(c, &argv(&[b"PING"])).unwrap();
        s.disconnect(c);
        assert!(s.clients[c].is_none());
    }
}
