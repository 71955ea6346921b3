//! A command's way through the server: `processCommand` (argv read, the `maxmemory` check),
//! `call` (the command runs, its latency histogram is made, the peak recorded), the reply and
//! `beforeSleep` (argv and what the command retained freed, the fast active-expiry cycle, the
//! reply written) — server.c and networking.c — and the table of the commands the model runs,
//! each handled by the module of the part of Redis it belongs to.

use crate::redis::heap::{Alloc, Heap};

use super::client::ClientId;
use super::error::ServerError;
use super::oom::DENYOOM;
use super::query::bulk_reply_len;
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

/// A command the model knows, by the name Redis files its latency under: what `exec` dispatches
/// on, with no string made per command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmd {
    Info,
    Ping,
    Echo,
    Get,
    Exists,
    Ttl,
    Dbsize,
    Hget,
    Hgetall,
    ConfigGet,
    ClientInfo,
    Set,
    Expire,
    Pexpire,
    Del,
    Unlink,
    Hset,
    Hdel,
    Hmset,
    Flushall,
    Flushdb,
    MemoryPurge,
    Eval,
    Evalsha,
    ConfigSet,
    ScriptFlush,
    MemoryUsage,
    Llen,
    Scard,
    Zcard,
    Lpush,
    Rpush,
    Lpop,
    Rpop,
    Ltrim,
    Lrem,
    Sadd,
    Srem,
    Spop,
    Zadd,
    Zincrby,
    Zrem,
    Zremrangebyrank,
}

impl Cmd {
    /// Every command, in the order of [`Cmd`]'s variants (an index into per-command tables).
    pub(super) const ALL: [Cmd; 43] = [
        Cmd::Info,
        Cmd::Ping,
        Cmd::Echo,
        Cmd::Get,
        Cmd::Exists,
        Cmd::Ttl,
        Cmd::Dbsize,
        Cmd::Hget,
        Cmd::Hgetall,
        Cmd::ConfigGet,
        Cmd::ClientInfo,
        Cmd::Set,
        Cmd::Expire,
        Cmd::Pexpire,
        Cmd::Del,
        Cmd::Unlink,
        Cmd::Hset,
        Cmd::Hdel,
        Cmd::Hmset,
        Cmd::Flushall,
        Cmd::Flushdb,
        Cmd::MemoryPurge,
        Cmd::Eval,
        Cmd::Evalsha,
        Cmd::ConfigSet,
        Cmd::ScriptFlush,
        Cmd::MemoryUsage,
        Cmd::Llen,
        Cmd::Scard,
        Cmd::Zcard,
        Cmd::Lpush,
        Cmd::Rpush,
        Cmd::Lpop,
        Cmd::Rpop,
        Cmd::Ltrim,
        Cmd::Lrem,
        Cmd::Sadd,
        Cmd::Srem,
        Cmd::Spop,
        Cmd::Zadd,
        Cmd::Zincrby,
        Cmd::Zrem,
        Cmd::Zremrangebyrank,
    ];

    /// The name Redis files the command's latency under ([`command_name`]'s).
    pub(super) fn name(self) -> &'static str {
        match self {
            Cmd::Info => "info",
            Cmd::Ping => "ping",
            Cmd::Echo => "echo",
            Cmd::Get => "get",
            Cmd::Exists => "exists",
            Cmd::Ttl => "ttl",
            Cmd::Dbsize => "dbsize",
            Cmd::Hget => "hget",
            Cmd::Hgetall => "hgetall",
            Cmd::ConfigGet => "config|get",
            Cmd::ClientInfo => "client|info",
            Cmd::Set => "set",
            Cmd::Expire => "expire",
            Cmd::Pexpire => "pexpire",
            Cmd::Del => "del",
            Cmd::Unlink => "unlink",
            Cmd::Hset => "hset",
            Cmd::Hdel => "hdel",
            Cmd::Hmset => "hmset",
            Cmd::Flushall => "flushall",
            Cmd::Flushdb => "flushdb",
            Cmd::MemoryPurge => "memory|purge",
            Cmd::Eval => "eval",
            Cmd::Evalsha => "evalsha",
            Cmd::ConfigSet => "config|set",
            Cmd::ScriptFlush => "script|flush",
            Cmd::MemoryUsage => "memory|usage",
            Cmd::Llen => "llen",
            Cmd::Scard => "scard",
            Cmd::Zcard => "zcard",
            Cmd::Lpush => "lpush",
            Cmd::Rpush => "rpush",
            Cmd::Lpop => "lpop",
            Cmd::Rpop => "rpop",
            Cmd::Ltrim => "ltrim",
            Cmd::Lrem => "lrem",
            Cmd::Sadd => "sadd",
            Cmd::Srem => "srem",
            Cmd::Spop => "spop",
            Cmd::Zadd => "zadd",
            Cmd::Zincrby => "zincrby",
            Cmd::Zrem => "zrem",
            Cmd::Zremrangebyrank => "zremrangebyrank",
        }
    }

    /// The command `argv` names, if the model knows it (a case-insensitive match, container
    /// commands by their subcommand).
    pub(super) fn of(argv: &[&[u8]]) -> Option<Cmd> {
        let mut buf = [0u8; 16];
        let verb = lower(argv[0], &mut buf)?;
        Some(match verb {
            b"info" => Cmd::Info,
            b"ping" => Cmd::Ping,
            b"echo" => Cmd::Echo,
            b"get" => Cmd::Get,
            b"exists" => Cmd::Exists,
            b"ttl" => Cmd::Ttl,
            b"dbsize" => Cmd::Dbsize,
            b"hget" => Cmd::Hget,
            b"hgetall" => Cmd::Hgetall,
            b"set" => Cmd::Set,
            b"expire" => Cmd::Expire,
            b"pexpire" => Cmd::Pexpire,
            b"del" => Cmd::Del,
            b"unlink" => Cmd::Unlink,
            b"hset" => Cmd::Hset,
            b"hdel" => Cmd::Hdel,
            b"hmset" => Cmd::Hmset,
            b"flushall" => Cmd::Flushall,
            b"flushdb" => Cmd::Flushdb,
            b"eval" => Cmd::Eval,
            b"evalsha" => Cmd::Evalsha,
            b"llen" => Cmd::Llen,
            b"scard" => Cmd::Scard,
            b"zcard" => Cmd::Zcard,
            b"lpush" => Cmd::Lpush,
            b"rpush" => Cmd::Rpush,
            b"lpop" => Cmd::Lpop,
            b"rpop" => Cmd::Rpop,
            b"ltrim" => Cmd::Ltrim,
            b"lrem" => Cmd::Lrem,
            b"sadd" => Cmd::Sadd,
            b"srem" => Cmd::Srem,
            b"spop" => Cmd::Spop,
            b"zadd" => Cmd::Zadd,
            b"zincrby" => Cmd::Zincrby,
            b"zrem" => Cmd::Zrem,
            b"zremrangebyrank" => Cmd::Zremrangebyrank,
            b"config" | b"client" | b"memory" | b"script" => {
                let mut b2 = [0u8; 16];
                let sub = lower(argv.get(1)?, &mut b2)?;
                match (verb, sub) {
                    (b"config", b"get") => Cmd::ConfigGet,
                    (b"config", b"set") => Cmd::ConfigSet,
                    (b"client", b"info") => Cmd::ClientInfo,
                    (b"memory", b"purge") => Cmd::MemoryPurge,
                    (b"memory", b"usage") => Cmd::MemoryUsage,
                    (b"script", b"flush") => Cmd::ScriptFlush,
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    /// Whether Redis 7.0 flags the command `DENYOOM` (see [`DENYOOM`](super::oom::DENYOOM)).
    pub(super) fn denyoom(self) -> bool {
        matches!(
            self,
            Cmd::Set
                | Cmd::Hset
                | Cmd::Hmset
                | Cmd::Lpush
                | Cmd::Rpush
                | Cmd::Sadd
                | Cmd::Zadd
                | Cmd::Zincrby
        )
    }
}

/// `word` in lower case, in `buf`, if it fits.
fn lower<'b>(word: &[u8], buf: &'b mut [u8; 16]) -> Option<&'b [u8]> {
    let out = buf.get_mut(..word.len())?;
    for (o, c) in out.iter_mut().zip(word) {
        *o = c.to_ascii_lowercase();
    }
    Some(out)
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
        // The client's (Redis 8.0 keeps it for the next command).
        self.argv = Some(heap.as_server(|h| h.zmalloc(8 * argc as u64)));
    }

    /// Whether a rewrite holds anything [`Rewrite::release`] frees.
    #[inline]
    fn holds_any(&self) -> bool {
        self.original.is_some() || !self.objects.is_empty()
    }

    /// Frees the objects the rewrite made, then the original vector, once the command has run
    /// (the new vector has replaced the parsed one by then).
    fn release(&mut self, heap: &mut Heap) {
        for a in self.objects.drain(..) {
            heap.zfree(a);
        }
        if let Some(a) = self.original.take() {
            heap.zfree(a);
        }
    }
}

impl Server {
    /// Tags the blocks the next commands make for their keys (and the arguments those keep)
    /// as key group `group`'s (`None`: the server's own), until called again: what
    /// [`Server::by_owner`] attributes the keyspace's bytes by.
    pub fn set_owner(&mut self, group: Option<usize>) {
        use crate::redis::heap::{TAG_GROUP0, TAG_OTHER, TAG_SERVER};
        self.owner = group.map_or(TAG_SERVER, |g| {
            (TAG_GROUP0 as usize + g).min(TAG_OTHER as usize - 1) as u8
        });
    }

    /// Runs one command sent by `client`: reads it into the query buffer, builds argv, checks
    /// `maxmemory`, executes, frees argv.
    ///
    /// # Errors
    ///
    /// [`ServerError::UnknownClient`] when `client` is not connected (never returned by
    /// [`Server::connect`], or disconnected since); nothing is allocated then.
    pub fn exec<A: AsRef<[u8]>>(&mut self, client: ClientId, argv: &[A]) -> Result<Reply, ServerError> {
        // The arguments as slices: on the stack for the usual few, no allocation per command.
        match argv.len() {
            0..=4 => self.exec_inline::<4, A>(client, argv),
            5..=12 => self.exec_inline::<12, A>(client, argv),
            13..=32 => self.exec_inline::<32, A>(client, argv),
            _ => {
                let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_ref()).collect();
                self.exec_args(client, &argv)
            }
        }
    }

    /// [`Server::exec`] of at most `N` arguments, their slices in an array on the stack.
    #[inline]
    fn exec_inline<const N: usize, A: AsRef<[u8]>>(
        &mut self,
        client: ClientId,
        argv: &[A],
    ) -> Result<Reply, ServerError> {
        let mut buf: [&[u8]; N] = [&[]; N];
        for (b, a) in buf.iter_mut().zip(argv) {
            *b = a.as_ref();
        }
        self.exec_args(client, &buf[..argv.len()])
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
        let cmd = Cmd::of(argv);
        let mut objs = std::mem::take(&mut self.arg_objs);
        // The argument objects, and the blocks the command makes, are its key's owner's (the
        // query buffer and argv array are the client's: see `read_command`).
        let server = self.heap.set_tag(self.owner);
        let mut argv_arr = self.read_command(client, argv, &mut objs);
        // maxmemory check (processCommand, before the command runs).
        let refused = match cmd {
            Some(c) => c.denyoom() && self.refuses(c.name()),
            None => {
                let name = command_name(argv);
                DENYOOM.contains(&name.as_str()) && self.refuses(&name)
            }
        };
        let mut reply = Reply::Ok;
        if refused {
            self.heap.set_tag(server);
            reply = Reply::Oom;
            self.reply_pending();
        } else {
            let reply_len = self.reply_len(cmd, argv);
            reply = match cmd {
                Some(c) => self.run(client, c, argv, &mut objs).err().unwrap_or(reply),
                None => Reply::Unsupported(format!("command '{}' is not modelled", command_name(argv))),
            };
            // The replies, latency histograms and frees that follow are the server's.
            self.heap.set_tag(server);
            // A reply only the command knows (the elements a pop took).
            let reply_len = self.reply_bytes.take().unwrap_or(reply_len);
            if let Some(new) = self.rewrite.argv.take() {
                // replaceClientCommandVector frees the vector it replaces.
                self.heap.zfree(std::mem::replace(&mut argv_arr, new));
            }
            self.reply_pending();
            self.free_after_reply();
            self.add_reply(client, reply_len);
            if let (Some(c), false) = (cmd, matches!(reply, Reply::Unsupported(_))) {
                self.record_latency(c);
            }
            // call() records the peak after each command, before its argv is freed.
            self.peak = self.peak.max(self.used_memory());
        }
        for o in objs.drain(..).flatten() {
            o.free(&mut self.mem());
        }
        self.arg_objs = objs;
        if self.rewrite.holds_any() {
            self.rewrite.release(&mut self.heap);
        }
        self.release_argv(client, argv_arr);
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
    fn record_latency(&mut self, cmd: Cmd) {
        if !std::mem::replace(&mut self.histograms[cmd as usize], true) {
            let sizes = self.profile.histogram_allocations.clone();
            for s in sizes {
                let a = self.heap.zmalloc(s);
                self.hist_allocs.push(a);
            }
        }
    }

    /// Bytes of the reply to `name` (RESP): a bulk string for `GET` of a string key, `INFO`'s
    /// text, a few bytes for the status and integer replies of everything else the model runs.
    fn reply_len(&self, cmd: Option<Cmd>, argv: &[&[u8]]) -> u64 {
        match cmd {
            Some(Cmd::Get) => match argv.get(1).and_then(|k| self.keyspace.value_payload(k)) {
                Some(n) => bulk_reply_len(n),
                None => 5,
            },
            Some(Cmd::Info) => 2_810,
            Some(Cmd::Echo) => bulk_reply_len(argv.get(1).map_or(0, |a| a.len() as u64)),
            _ => 8,
        }
    }

    /// The command table: runs command `cmd` (argv parsed into `objs`, which a command that
    /// keeps an argument takes), or refuses its arguments as unsupported.
    fn run(
        &mut self,
        client: ClientId,
        cmd: Cmd,
        argv: &[&[u8]],
        objs: &mut [Option<StringValue>],
    ) -> Result<(), Reply> {
        match cmd {
            Cmd::Info => {
                self.info_command(argv);
                Ok(())
            }
            Cmd::Ping | Cmd::Echo | Cmd::Dbsize | Cmd::ConfigGet => Ok(()),
            Cmd::Get
            | Cmd::Exists
            | Cmd::Ttl
            | Cmd::Hget
            | Cmd::Hgetall
            | Cmd::MemoryUsage
            | Cmd::Llen
            | Cmd::Scard
            | Cmd::Zcard => {
                self.read_lookups(cmd, argv);
                Ok(())
            }
            Cmd::ClientInfo => {
                self.client_info(client);
                Ok(())
            }
            Cmd::Set => self.set_command(argv, objs),
            Cmd::Expire | Cmd::Pexpire => self.expire_command(cmd == Cmd::Expire, argv),
            Cmd::Del | Cmd::Unlink => {
                self.del_command(argv);
                Ok(())
            }
            Cmd::Hset | Cmd::Hmset => self.hset_command(argv),
            Cmd::Hdel => self.hdel_command(argv),
            Cmd::Flushall | Cmd::Flushdb => {
                self.flushall_command(argv);
                Ok(())
            }
            Cmd::MemoryPurge => {
                self.heap.purge();
                Ok(())
            }
            Cmd::Eval | Cmd::Evalsha => self.eval_command(cmd == Cmd::Eval, argv, objs),
            Cmd::ConfigSet => self.config_set_command(argv),
            Cmd::ScriptFlush => {
                self.script_flush();
                Ok(())
            }
            Cmd::Lpush | Cmd::Rpush | Cmd::Lpop | Cmd::Rpop | Cmd::Ltrim | Cmd::Lrem => {
                self.list_command(cmd, argv)
            }
            Cmd::Sadd | Cmd::Srem | Cmd::Spop => self.set_type_command(cmd, argv),
            Cmd::Zadd | Cmd::Zincrby | Cmd::Zrem | Cmd::Zremrangebyrank => self.zset_command(cmd, argv),
        }
    }

    /// The keyspace lookups of a command that only reads: one per key (`lookupKeyRead`,
    /// `dbFind` for MEMORY USAGE), and TTL's look at the expires table (`getExpire`). They
    /// change memory only where each lookup is a rehash step (Valkey 8.1+'s hashtable).
    fn read_lookups(&mut self, cmd: Cmd, argv: &[&[u8]]) {
        if !self.profile.layout.object_embeds_key {
            return;
        }
        let keys = match cmd {
            Cmd::MemoryUsage => usize::from(argv.len() > 2),
            Cmd::Exists => argv.len().saturating_sub(1),
            _ => usize::from(argv.len() > 1),
        };
        let (keyspace, mut mem) = self.keyspace_mem();
        for _ in 0..keys {
            keyspace.lookup(&mut mem);
        }
        if cmd == Cmd::Ttl && keys > 0 {
            keyspace.lookup_expires(&mut mem);
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
    use super::{command_name, Cmd, ServerError, DENYOOM};
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

    /// Every command of the table is found by its name in any case (container commands by
    /// their subcommand), under the name `command_name` gives, with the DENYOOM flag of Redis
    /// 7.0's table; other names are not.
    #[test]
    fn the_command_table_matches_names_and_flags() {
        for c in Cmd::ALL {
            let name = c.name();
            let argv: Vec<Vec<u8>> = name
                .split('|')
                .map(|w| w.to_ascii_uppercase().into_bytes())
                .collect();
            let args: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
            assert_eq!(Cmd::of(&args), Some(c), "{name}");
            assert_eq!(command_name(&args), name);
            assert_eq!(c.denyoom(), DENYOOM.contains(&name), "{name}");
        }
        for unknown in [
            &[&b"xadd"[..]][..],
            &[b"config"],
            &[b"config", b"rewrite"],
            &[b"averyveryverylongname"],
        ] {
            assert_eq!(Cmd::of(unknown), None);
        }
    }
}
