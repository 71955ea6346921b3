//! A command's way through the server: `processCommand` (argv read, the `maxmemory` check),
//! `call` (the command runs, its latency histogram is made, the peak recorded), the reply and
//! `beforeSleep` (argv and what the command retained freed, the fast active-expiry cycle, the
//! reply written) — server.c and networking.c — and the table of the commands the model runs,
//! each handled by the module of the part of Redis it belongs to.

use crate::redis::heap::{Alloc, Heap};

use super::client::ClientId;
use super::error::ServerError;
use super::query::resp_header;
use super::string::StringValue;
use super::value::ValueType;
use super::Server;

/// The outcome of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The command ran.
    Ok,
    /// `-OOM command not allowed when used memory > 'maxmemory'.`
    Oom,
    /// A command the model does not know, or a wrong number of arguments.
    Unsupported(String),
}

/// A command's refusal as unsupported, with this reason.
pub(super) fn unsupported(reason: &str) -> Result<(), Reply> {
    Err(Reply::Unsupported(reason.to_string()))
}

/// The command name Redis files latency under: lower case, `container|sub` for container
/// commands.
///
/// # Panics
///
/// On an empty `argv`.
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

/// What a command that rewrote its argv for propagation holds until it has run (see
/// [`Server`]'s `rewrite`).
#[derive(Debug, Clone, Default)]
pub(super) struct Rewrite {
    original: Option<Alloc>,
    argv: Option<Alloc>,
    objects: Vec<Alloc>,
}

impl Rewrite {
    /// `retainOriginalCommandVector`: a copy of the `argc`-argument vector, kept until the
    /// command has run.
    pub(super) fn retain_original(&mut self, heap: &mut Heap, argc: usize) {
        self.original = Some(heap.zmalloc(8 * argc as u64));
    }

    /// An object of `size` bytes the rewritten arguments hold (a timestamp).
    pub(super) fn add_object(&mut self, heap: &mut Heap, size: u64) {
        let o = heap.zmalloc(size);
        self.objects.push(o);
    }

    /// `rewriteClientCommandVector`: a new vector of `argc` arguments, which replaces the
    /// parsed one once the command has run.
    pub(super) fn replace_vector(&mut self, heap: &mut Heap, argc: usize) {
        self.argv = Some(heap.zmalloc(8 * argc as u64));
    }

    /// Frees the objects the rewrite made, then the original vector, once the command has run
    /// (the new vector has replaced the parsed one by then).
    fn release(&mut self, heap: &mut Heap) {
        for a in std::mem::take(&mut self.objects) {
            heap.zfree(a);
        }
        if let Some(a) = self.original.take() {
            heap.zfree(a);
        }
    }
}

impl Server {
    /// Runs one command sent by `client`: reads it into the query buffer, builds argv, checks
    /// `maxmemory`, executes, frees argv.
    ///
    /// # Errors
    ///
    /// [`ServerError::UnknownClient`] when `client` is not connected (never returned by
    /// [`Server::connect`], or disconnected since); nothing is allocated then.
    pub fn exec<A: AsRef<[u8]>>(&mut self, client: ClientId, argv: &[A]) -> Result<Reply, ServerError> {
        let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_ref()).collect();
        self.exec_args(client, &argv)
    }

    fn exec_args(&mut self, client: ClientId, argv: &[&[u8]]) -> Result<Reply, ServerError> {
        if argv.is_empty() {
            return Ok(Reply::Unsupported("empty command".into()));
        }
        let now = self.now_ns;
        self.clients
            .get_mut(client)
            .and_then(Option::as_mut)
            .ok_or(ServerError::UnknownClient(client))?
            .last_active_ns = now;
        let name = command_name(argv);
        let (mut argv_arr, mut objs) = self.read_command(client, argv);
        // maxmemory check (processCommand, before the command runs).
        let mut reply = Reply::Ok;
        if self.refuses(&name) {
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
            self.free_after_reply();
            self.add_reply(client, reply_len);
            if !matches!(reply, Reply::Unsupported(_)) {
                self.record_latency(&name);
            }
            // call() records the peak after each command, before its argv is freed.
            self.peak = self.peak.max(self.used_memory());
        }
        for o in objs.into_iter().flatten() {
            o.free(&mut self.mem());
        }
        self.rewrite.release(&mut self.heap);
        self.heap.zfree(argv_arr);
        // beforeSleep: the fast active-expiry cycle, when due; then the reply is written and the
        // client leaves the pending-write list; the peak recorded again.
        let now = self.now_ns;
        let (keyspace, mut mem) = self.keyspace_mem();
        keyspace.expire_cycle(&mut mem, now, true);
        self.write_reply();
        self.peak = self.peak.max(self.used_memory());
        Ok(reply)
    }

    /// The command's latency histogram, made when its first call is recorded.
    fn record_latency(&mut self, name: &str) {
        if self.histograms.insert(name.to_string()) {
            let sizes = self.profile.histogram_allocations.clone();
            for s in sizes {
                let a = self.heap.zmalloc(s);
                self.hist_allocs.push(a);
            }
        }
    }

    /// Bytes of the reply to `name` (RESP): a bulk string for `GET` of a string key, `INFO`'s
    /// text, a few bytes for the status and integer replies of everything else the model runs.
    fn reply_len(&self, name: &str, argv: &[&[u8]]) -> u64 {
        match name {
            "get" => match argv.get(1).and_then(|k| self.keyspace.value_payload(k)) {
                Some(n) => resp_header(n) + n + 2,
                None => 5,
            },
            "info" => 2_810,
            _ => 8,
        }
    }

    /// The command table: runs command `name` (argv parsed into `objs`, which a command that
    /// keeps an argument takes), or refuses it as unsupported.
    fn run(
        &mut self,
        client: ClientId,
        name: &str,
        argv: &[&[u8]],
        objs: &mut [Option<StringValue>],
    ) -> Result<(), Reply> {
        match name {
            "info" => {
                self.info_command(argv);
                Ok(())
            }
            "ping" | "get" | "exists" | "ttl" | "dbsize" | "hget" | "hgetall" | "config|get" => Ok(()),
            "client|info" => {
                self.client_info(client);
                Ok(())
            }
            "set" => self.set_command(argv, objs),
            "expire" | "pexpire" => self.expire_command(name, argv),
            "del" | "unlink" => {
                self.del_command(argv);
                Ok(())
            }
            "hset" | "hmset" => self.hset_command(argv),
            "flushall" | "flushdb" => {
                self.flushall_command(argv);
                Ok(())
            }
            "memory|purge" => {
                self.heap.purge();
                Ok(())
            }
            "eval" | "evalsha" => self.eval_command(name, argv, objs),
            "config|set" => self.config_set_command(argv),
            "script|flush" => {
                self.script_flush();
                Ok(())
            }
            other => unsupported(&format!("command '{other}' is not modelled")),
        }
    }

    /// `CONFIG SET parameter value [parameter value ...]`: only `maxmemory` is modelled.
    fn config_set_command(&mut self, argv: &[&[u8]]) -> Result<(), Reply> {
        for pair in argv[2..].chunks(2) {
            if pair.len() == 2 && pair[0].eq_ignore_ascii_case(b"maxmemory") {
                let v = String::from_utf8_lossy(pair[1]);
                self.maxmemory =
                    crate::units::parse_bytes(&v).map_err(|e| Reply::Unsupported(e.to_string()))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ServerError;
    use crate::redis::server::testing::{argv, server};

    /// A command from a client id that is not connected is an error, not a panic, and
    /// allocates nothing.
    #[test]
    fn an_unknown_client_is_an_error() {
        let mut s = server(&["set"]);
        let c = s.connect();
        s.disconnect(c);
        let used = s.used_memory();
        for id in [c, c + 1, usize::MAX] {
            assert_eq!(
                s.exec(id, &argv(&[b"SET", b"k", b"v"])),
                Err(ServerError::UnknownClient(id))
            );
        }
        assert_eq!(s.used_memory(), used);
        assert_eq!(s.dbsize(), 0);
    }
}
