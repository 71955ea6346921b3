//! The keyspace (db.c, expire.c): the main dict and the expires dict, each key's dict entry and
//! name (`dbAdd`, `setKey`, `dbOverwrite`), TTLs (`setExpire`, `removeExpire`), deleting a key
//! (`dbSyncDelete`: DEL, UNLINK, active expiry) and every key (`emptyData`: FLUSHALL, FLUSHDB);
//! the EXPIRE, DEL and FLUSHALL commands (`expireGenericCommand`, `delGenericCommand`,
//! `flushallCommand`). Which keys active expiry reaches is [`crate::redis::expire::Expiry`]'s.

use crate::jemalloc::Arena;
use crate::redis::dict::Dict;
use crate::redis::expire::Expiry;
use crate::redis::heap::Alloc;

use super::dispatch::Reply;
use super::value::{Aggregate, Mem, Value, ValueType};
use super::{DetMap, Server};

/// A key: its entry in the main dict, its name, its value.
#[derive(Debug, Clone)]
struct Key {
    entry: Alloc,
    sds: Alloc,
    value: Value,
    /// Expires entry (the deadline is in [`Expiry`]).
    expire: Option<Alloc>,
    /// Bytes of the key name and its values (hash: field names and values) as the client sent
    /// them.
    payload: u64,
}

/// The database: keys, their TTLs, and the two dicts' tables.
#[derive(Debug, Clone)]
pub(super) struct Keyspace {
    keys: DetMap<Vec<u8>, Key>,
    /// Keys with a TTL, for active expiry.
    expiry: Expiry,
    /// The main dict's tables.
    pub(super) main: Dict,
    /// The expires dict's tables.
    pub(super) expires: Dict,
    /// Bytes of key names and values held, as the client sent them.
    payload_bytes: u64,
}

/// A TTL argument (seconds or milliseconds).
pub(super) fn parse_ttl(arg: &[u8]) -> Result<u64, Reply> {
    String::from_utf8_lossy(arg)
        .parse()
        .map_err(|_| Reply::Unsupported("bad TTL".into()))
}

impl Keyspace {
    /// An empty keyspace; `seed` draws the expires dict's hash function.
    pub(super) fn new(seed: u64) -> Self {
        Keyspace {
            keys: DetMap::default(),
            expiry: Expiry::new(seed ^ 0x6578_7069_7265),
            main: Dict::default(),
            expires: Dict::default(),
            payload_bytes: 0,
        }
    }

    /// Number of keys.
    pub(super) fn key_count(&self) -> u64 {
        self.keys.len() as u64
    }

    /// Bytes of key names and values held, as the client sent them.
    pub(super) fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    /// Bytes of `key`'s value (hash: field names and values) as the client sent them, if the
    /// key exists.
    pub(super) fn value_payload(&self, key: &[u8]) -> Option<u64> {
        self.keys.get(key).map(|k| k.payload - key.len() as u64)
    }

    /// The values held as (bytes the client sent, bytes of `stats.active` the blocks holding
    /// them take): see [`Server::value_footprint`].
    pub(super) fn value_footprint(&self, arena: &Arena) -> (u64, u64) {
        let mut payload = 0;
        let mut held = 0;
        for (name, k) in self.keys.iter() {
            payload += k.payload - name.len() as u64;
            held += k.value.footprint(arena);
        }
        (payload, held)
    }

    /// `setKey` without KEEPTTL: `value` (holding `value_payload` bytes the client sent)
    /// replaces the key's value, the old value freed and the TTL removed (`dbOverwrite`), or is
    /// added under a new key (`dbAdd`).
    pub(super) fn set(&mut self, mem: &mut Mem<'_>, key: &[u8], value: Value, value_payload: u64) {
        let payload = key.len() as u64 + value_payload;
        if let Some(k) = self.keys.get_mut(key) {
            self.payload_bytes = self.payload_bytes - k.payload + payload;
            k.payload = payload;
            let old = std::mem::replace(&mut k.value, value);
            let exp = k.expire.take();
            old.free(mem);
            if let Some(e) = exp {
                self.expiry.remove(key);
                self.expires.delete(mem.heap);
                mem.heap.zfree(e);
            }
            return;
        }
        // dbAdd: sdsdup(key), then dictAddRaw (table growth, then the entry).
        let sds = mem.heap.zmalloc(mem.profile.sds_request(key.len() as u64));
        self.main.add(mem.heap, mem.profile.dict_initial_size);
        let entry = mem.heap.zmalloc(mem.profile.dict_entry);
        self.keys.insert(
            key.to_vec(),
            Key {
                entry,
                sds,
                value,
                expire: None,
                payload,
            },
        );
        self.payload_bytes += payload;
    }

    /// A write command of an aggregate type `T` on `key` with `args` (the arguments after the
    /// key): a missing key first gets `T`'s empty value (`dbAdd`), then the value takes the
    /// write. A key holding another type is left as it is.
    pub(super) fn write<T: Aggregate>(&mut self, mem: &mut Mem<'_>, key: &[u8], args: &[&[u8]]) {
        if !self.keys.contains_key(key) {
            let value = T::create(mem).into_value();
            self.set(mem, key, value, 0);
        }
        let k = self.keys.get_mut(key).expect("the key, there or just added");
        let payload_delta = T::of_value(&mut k.value).map_or(0, |v| v.write(mem, args));
        k.payload = (k.payload as i64 + payload_delta) as u64;
        self.payload_bytes = (self.payload_bytes as i64 + payload_delta) as u64;
    }

    /// Whether `key` exists.
    pub(super) fn contains(&self, key: &[u8]) -> bool {
        self.keys.contains_key(key)
    }

    /// Gives `key` (if it exists) a TTL of `ttl_ms` from `now_ns`: an expires entry when it had
    /// none (`setExpire`), a new deadline otherwise.
    pub(super) fn set_expire(&mut self, mem: &mut Mem<'_>, now_ns: u64, key: &[u8], ttl_ms: u64) {
        let deadline = now_ns + ttl_ms * 1_000_000;
        let has = self.keys.get(key).map(|k| k.expire.is_some());
        match has {
            Some(true) => self.expiry.set(key, deadline),
            Some(false) => {
                let e = mem.heap.zmalloc(mem.profile.dict_entry);
                self.expires.add(mem.heap, mem.profile.dict_initial_size);
                self.keys.get_mut(key).expect("an existing key").expire = Some(e);
                self.expiry.set(key, deadline);
            }
            None => {}
        }
    }

    /// Deletes `key` if it exists (`dbSyncDelete`): its entries in both dicts, its value, its
    /// name.
    pub(super) fn delete(&mut self, mem: &mut Mem<'_>, key: &[u8]) {
        if let Some(k) = self.keys.remove(key) {
            self.payload_bytes -= k.payload;
            self.main.delete(mem.heap);
            if let Some(e) = k.expire {
                self.expiry.remove(key);
                self.expires.delete(mem.heap);
                mem.heap.zfree(e);
            }
            k.value.free(mem);
            mem.heap.zfree(k.sds);
            mem.heap.zfree(k.entry);
        }
    }

    /// Active expiry (`activeExpireCycle`), the fast cycle between commands or the cron's slow
    /// one: deletes the expired keys the cycle reaches at `now_ns`.
    pub(super) fn expire_cycle(&mut self, mem: &mut Mem<'_>, now_ns: u64, fast: bool) {
        let table_size = self.expires.table_size();
        let expired = if fast {
            self.expiry.fast_cycle(now_ns, table_size)
        } else {
            self.expiry.slow_cycle(now_ns, table_size)
        };
        for k in expired {
            self.delete(mem, &k);
        }
    }

    /// `databasesCron`'s table upkeep: both dicts finish their rehash, then shrink when filled
    /// below the profile's minimum (`tryResizeHashTables`).
    pub(super) fn resize_tables(&mut self, mem: &mut Mem<'_>) {
        let initial = mem.profile.dict_initial_size;
        self.main.rehash_all(mem.heap);
        self.expires.rehash_all(mem.heap);
        let fill = mem.profile.dict_min_fill_percent;
        self.main.maybe_shrink(mem.heap, initial, fill);
        self.expires.maybe_shrink(mem.heap, initial, fill);
    }

    /// `emptyDbStructure`: `dictEmpty` of the main dict, bucket by bucket (the key's sds, its
    /// value, its entry), then of the expires dict (its entries; the keys are shared), each
    /// table freed after its entries.
    fn empty(&mut self, mem: &mut Mem<'_>) {
        let names = mem.walk_order(self.keys.keys().cloned().collect());
        let mut expire_entries = Vec::new();
        for name in names {
            let k = self.keys.remove(&name).expect("listed key");
            mem.heap.zfree(k.sds);
            k.value.free(mem);
            mem.heap.zfree(k.entry);
            expire_entries.extend(k.expire);
        }
        self.main.clear(mem.heap);
        for e in expire_entries {
            mem.heap.zfree(e);
        }
        self.expires.clear(mem.heap);
        self.expiry.clear();
        self.payload_bytes = 0;
    }
}

impl Server {
    /// FLUSHALL/FLUSHDB: every key freed, both keyspace tables freed; a synchronous flush then
    /// purges jemalloc (`jemalloc_purge()`), an asynchronous one frees in the background
    /// (modelled as freeing at once) and does not purge.
    pub fn flush(&mut self, sync: bool) {
        let (keyspace, mut mem) = self.keyspace_mem();
        keyspace.empty(&mut mem);
        if sync {
            self.heap.purge();
        }
    }

    /// `FLUSHALL`/`FLUSHDB [ASYNC|SYNC]`.
    pub(super) fn flushall_command(&mut self, argv: &[&[u8]]) {
        let async_ = argv.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"async"));
        self.flush(!async_);
    }

    /// `DEL`/`UNLINK key [key ...]`.
    pub(super) fn del_command(&mut self, argv: &[&[u8]]) {
        let (keyspace, mut mem) = self.keyspace_mem();
        for k in &argv[1..] {
            keyspace.delete(&mut mem, k);
        }
    }

    /// `EXPIRE key seconds` / `PEXPIRE key milliseconds` (`expireGenericCommand`): on an
    /// existing key, the TTL set and the command propagated as `PEXPIREAT key <ms>`
    /// (`rewriteClientCommandArgument`: the original vector retained, the timestamp object).
    pub(super) fn expire_command(&mut self, name: &str, argv: &[&[u8]]) -> Result<(), Reply> {
        if argv.len() != 3 {
            return Err(Reply::Unsupported("EXPIRE needs a key and a time".into()));
        }
        let n = parse_ttl(argv[2])?;
        if self.keyspace.contains(argv[1]) {
            let now = self.now_ns;
            let (keyspace, mut mem) = self.keyspace_mem();
            keyspace.set_expire(
                &mut mem,
                now,
                argv[1],
                if name == "expire" { n * 1000 } else { n },
            );
            self.rewrite.retain_original(&mut self.heap, argv.len());
            let robj = self.profile.robj;
            self.rewrite.add_object(&mut self.heap, robj);
        }
        Ok(())
    }
}
