//! The keyspace (db.c, expire.c): the main dict and the expires dict, each key's dict entry and
//! name (`dbAdd`, `setKey`, `dbOverwrite`), TTLs (`setExpire`, `removeExpire`), deleting a key
//! (`dbSyncDelete`: DEL, UNLINK, active expiry) and every key (`emptyData`: FLUSHALL, FLUSHDB);
//! the EXPIRE, DEL and FLUSHALL commands (`expireGenericCommand`, `delGenericCommand`,
//! `flushallCommand`). Which keys active expiry reaches is [`crate::redis::expire::Expiry`]'s.

use crate::jemalloc::Arena;
use crate::redis::cluster::{key_hash_slot, SlotMap};
use crate::redis::dict::Dict;
use crate::redis::encoding::embstr_request;
use crate::redis::expire::Expiry;
use crate::redis::hashtable::Hashtable;
use crate::redis::heap::Alloc;
use crate::redis::profile::{RedisProfile, TableKind};

use super::dispatch::{Cmd, Reply};
use super::keytable::{Held, KeyName, KeyRec, KeyTable, NameHasher, NO_OBJ};
use super::string::StringValue;
use super::value::{Aggregate, BlockKind, Mem, Value, ValueType};
use super::Server;

mod ht;
mod kvstore;

use kvstore::Kvstore;

/// A value the key table does not hold inline, and the bytes of it the client sent.
#[derive(Debug, Clone)]
struct Boxed {
    value: Value,
    payload: u64,
}

/// The database: keys, their TTLs, and the two dicts' tables.
#[derive(Debug, Clone)]
pub(super) struct Keyspace {
    keys: KeyTable,
    /// Values too large for a key's record (raw strings, hashes), by the record's `val`;
    /// `None`: a free place, listed in `free_boxed`.
    boxed: Vec<Option<Boxed>>,
    free_boxed: Vec<u32>,
    /// Keys with a TTL, for active expiry.
    expiry: Expiry,
    /// The main dict's tables.
    pub(super) main: Dict,
    /// The expires dict's tables.
    pub(super) expires: Dict,
    /// Where the keyspace is a hashtable (Valkey 8.1+): the keyspace's and the expires' tables
    /// (see `keyspace/ht.rs`), in place of `main` and `expires`.
    vk_keys: Hashtable,
    vk_expires: Hashtable,
    /// Bytes of key names and values held, as the client sent them.
    payload_bytes: u64,
    /// The dict hash function, under the server's seed (see `Mem::walk_order`).
    hasher: NameHasher,
    /// The names [`Keyspace::prefetch`] last identified, and their identities (the keys of the
    /// commands to come, identified once), the older one at `next_at`.
    next: [NextName; 2],
    next_at: usize,
    /// Cluster mode: the slot-to-keys map's pages written so far (made at the first key, its
    /// offset in its first page drawn then).
    slot_map: Option<SlotMap>,
    /// Cluster mode where each slot has dicts of its own (Redis 7.4+, Valkey 8.0:
    /// [`RedisProfile::slot_dicts`]): the keys' and the expires' kvstores, in place of `main`
    /// and `expires`.
    slot_keys: Kvstore,
    slot_expires: Kvstore,
    /// Outside cluster mode where the database is a kvstore of one dict (Redis 7.4+, Valkey
    /// 8.0: `per_slot_tables`): the keys' and the expires' dict struct blocks (`sizeof(dict)`
    /// with the kvstore's metadata), made with the first key (expire) the kvstore holds
    /// (`KVSTORE_ALLOCATE_DICTS_ON_DEMAND`, `createDictIfNeeded`), kept when the kvstore is
    /// emptied (`kvstoreEmpty` frees a dict only with `KVSTORE_FREE_EMPTY_DICTS`, cluster mode's
    /// flag), gone with the whole kvstore an asynchronous flush swaps out (`emptyDbAsync`).
    dict_blocks: [Option<Alloc>; 2],
}

/// A name identified ahead of its command (names of up to 64 bytes).
#[derive(Debug, Clone, Copy)]
struct NextName {
    len: usize,
    bytes: [u8; 64],
    name: Option<KeyName>,
}

impl Default for NextName {
    fn default() -> Self {
        NextName {
            len: 0,
            bytes: [0; 64],
            name: None,
        }
    }
}

/// A TTL argument (seconds or milliseconds).
pub(super) fn parse_ttl(arg: &[u8]) -> Result<u64, Reply> {
    String::from_utf8_lossy(arg)
        .parse()
        .map_err(|_| Reply::Unsupported("bad TTL".into()))
}

impl Keyspace {
    /// An empty keyspace; `seed` draws the expires dict's hash function, `hash_seed` is the
    /// main dict's.
    pub(super) fn new(seed: u64, hash_seed: u64) -> Self {
        Keyspace {
            keys: KeyTable::new(),
            boxed: Vec::new(),
            free_boxed: Vec::new(),
            expiry: Expiry::new(seed ^ 0x6578_7069_7265),
            main: Dict::default(),
            expires: Dict::default(),
            vk_keys: Hashtable::default(),
            vk_expires: Hashtable::default(),
            payload_bytes: 0,
            hasher: NameHasher::new(hash_seed),
            next: [NextName::default(); 2],
            next_at: 0,
            slot_map: None,
            slot_keys: Kvstore::default(),
            dict_blocks: [None, None],
            slot_expires: Kvstore::default(),
        }
    }

    /// The table's identity of `key`.
    fn identify(&self, key: &[u8]) -> KeyName {
        for n in &self.next {
            if let Some(name) = n.name {
                if n.bytes[..n.len] == *key {
                    return name;
                }
            }
        }
        self.hasher.identify(key)
    }

    /// Identifies `key`, a coming command's, ahead of it and asks the processor to fetch its
    /// place in the index meanwhile. Changes nothing the model computes.
    pub(super) fn prefetch(&mut self, key: &[u8]) {
        let name = self.hasher.identify(key);
        self.keys.prefetch(name);
        let n = &mut self.next[self.next_at];
        self.next_at ^= 1;
        n.name = None;
        if let Some(b) = n.bytes.get_mut(..key.len()) {
            b.copy_from_slice(key);
            n.len = key.len();
            n.name = Some(name);
        }
    }

    /// Number of keys.
    pub(super) fn key_count(&self) -> u64 {
        self.keys.len()
    }

    /// Bytes of key names and values held, as the client sent them.
    pub(super) fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    /// The record of the key named `key`, if it exists.
    fn find(&self, key: &[u8]) -> Option<u32> {
        self.keys.find(self.identify(key))
    }

    /// Bytes of a key's value (hash: field names and values) as the client sent them.
    fn value_payload_of(&self, k: &KeyRec) -> u64 {
        match k.held {
            Held::Boxed => {
                self.boxed[k.val as usize]
                    .as_ref()
                    .expect("a boxed value")
                    .payload
            }
            _ => k.vlen as u64,
        }
    }

    /// Bytes of `key`'s value (hash: field names and values) as the client sent them, if the
    /// key exists.
    pub(super) fn value_payload(&self, key: &[u8]) -> Option<u64> {
        self.find(key).map(|r| self.value_payload_of(self.keys.get(r)))
    }

    /// The values held as (bytes the client sent, bytes of `stats.active` the blocks holding
    /// them take): see [`Server::value_footprint`].
    pub(super) fn value_footprint(&self, arena: &Arena) -> (u64, u64) {
        let mut payload = 0;
        let mut held = 0;
        for k in self.keys.iter() {
            payload += self.value_payload_of(k);
            held += match k.held {
                Held::Int | Held::Embstr => arena.footprint(k.val),
                Held::Boxed => self.boxed[k.val as usize]
                    .as_ref()
                    .expect("a boxed value")
                    .value
                    .footprint(arena),
                Held::Shared | Held::Free => 0,
            };
        }
        (payload, held)
    }

    /// The number of keys by the owner tag of one of each key's blocks (its dict entry, else its
    /// name, else its value's object): see [`Server::by_owner`]. Keys with none of those (a
    /// shared integer in a layout whose entry holds the name) are not counted.
    pub(super) fn keys_by_tag(&self, heap: &crate::redis::heap::Heap) -> Vec<u64> {
        let mut n = vec![0u64; 256];
        for k in self.keys.iter() {
            let id = if k.entry != NO_OBJ {
                Some(k.entry)
            } else if k.sds != NO_OBJ {
                Some(k.sds)
            } else {
                match k.held {
                    Held::Int | Held::Embstr => Some(k.val),
                    Held::Boxed => self.boxed[k.val as usize]
                        .as_ref()
                        .and_then(|b| b.value.robj())
                        .map(|a| a.id),
                    Held::Shared | Held::Free => None,
                }
            };
            if let Some(id) = id {
                n[heap.tag_of(id) as usize] += 1;
            }
        }
        n
    }

    /// Over the hash, list, set and sorted-set values: (the bytes their blocks were requested at,
    /// listpacks at their bytes in use; the part that is listpack growth in place; the bytes
    /// the client sent that they hold). See [`ValueType::structure`].
    pub(super) fn collection_structure(&self, profile: &RedisProfile) -> (u64, u64, u64) {
        let (mut requested, mut grown, mut payload) = (0, 0, 0);
        for b in self.boxed.iter().flatten() {
            let (r, g) = b.value.structure(profile);
            requested += r;
            grown += g;
            payload += b.payload;
        }
        (requested, grown, payload)
    }

    /// `key`'s value when it is a hash, list, set or sorted set (held boxed), for the tests to
    /// look into.
    #[cfg(test)]
    pub(super) fn value_of(&self, key: &[u8]) -> Option<&Value> {
        let k = self.keys.get(self.find(key)?);
        match k.held {
            Held::Boxed => self.boxed[k.val as usize].as_ref().map(|b| &b.value),
            _ => None,
        }
    }

    /// `MEMORY USAGE key SAMPLES 0` (`memoryCommand`): the value's object size
    /// ([`ValueType::object_size`]), the key's sds block and a `sizeof(dictEntry)`; `None`
    /// when the key does not exist.
    pub(super) fn memory_usage(&self, arena: &Arena, profile: &RedisProfile, key: &[u8]) -> Option<u64> {
        let k = self.keys.get(self.find(key)?);
        if profile.layout.object_embeds_key {
            return Some(self.ht_memory_usage(arena, profile, k));
        }
        let object = match k.held {
            Held::Shared | Held::Int => profile.robj,
            Held::Embstr => arena.usable_size(k.val),
            Held::Boxed => self.boxed[k.val as usize]
                .as_ref()
                .expect("a boxed value")
                .value
                .object_size(arena, profile),
            Held::Free => unreachable!("a live key"),
        };
        // Redis: the name's sds block and `sizeof(dictEntry)`; Valkey 8.0: the entry's block
        // (`dictEntryMemUsage`), which holds the name.
        Some(match profile.key_name_request(k.name_len as u64) {
            Some(_) => object + arena.usable_size(k.sds) + profile.key_entry(),
            None => object + arena.usable_size(k.entry),
        })
    }

    /// The encoding and the blocks of `key`'s value, when it holds a list, set, sorted set or
    /// hash (see [`ValueType::blocks`]).
    pub(super) fn describe(
        &self,
        arena: &Arena,
        profile: &RedisProfile,
        key: &[u8],
    ) -> Option<(&'static str, Vec<BlockKind>)> {
        let k = self.keys.get(self.find(key)?);
        if k.held != Held::Boxed {
            return None;
        }
        let v = &self.boxed[k.val as usize].as_ref().expect("a boxed value").value;
        Some((v.encoding(), v.blocks(arena, profile)))
    }

    /// Puts `value` (holding `payload` bytes the client sent) into record `r`.
    fn store(&mut self, r: u32, value: Value, payload: u64) {
        let (held, val, vlen) = match value {
            Value::Str(StringValue::Shared) if payload <= u8::MAX as u64 => (Held::Shared, 0, payload as u8),
            Value::Str(StringValue::Int(a)) if payload <= u8::MAX as u64 => (Held::Int, a.id, payload as u8),
            Value::Str(StringValue::Embstr(a)) if payload <= u8::MAX as u64 => {
                (Held::Embstr, a.id, payload as u8)
            }
            value => {
                let b = Some(Boxed { value, payload });
                let i = match self.free_boxed.pop() {
                    Some(i) => {
                        self.boxed[i as usize] = b;
                        i
                    }
                    None => {
                        self.boxed.push(b);
                        (self.boxed.len() - 1) as u32
                    }
                };
                (Held::Boxed, i, 0)
            }
        };
        let k = self.keys.get_mut(r);
        k.held = held;
        k.val = val;
        k.vlen = vlen;
    }

    /// Takes the value out of key record `k` (which is then stale): the blocks of an inline
    /// string rebuilt from their objects and the sizes Redis asked for.
    fn take(&mut self, mem: &Mem<'_>, k: &KeyRec) -> Value {
        let p = mem.profile;
        Value::Str(match k.held {
            Held::Shared => StringValue::Shared,
            Held::Int => StringValue::Int(mem.heap.alloc_of(k.val, p.robj)),
            Held::Embstr => {
                StringValue::Embstr(mem.heap.alloc_of(k.val, embstr_request(p.robj, k.vlen as u64)))
            }
            Held::Boxed => {
                self.free_boxed.push(k.val);
                return self.boxed[k.val as usize].take().expect("a boxed value").value;
            }
            Held::Free => unreachable!("a live key"),
        })
    }

    /// Frees a key's expires entry, if it has one (its deadline forgotten); `slot`: the key's
    /// (where each slot has its own expires dict).
    fn drop_expire(&mut self, mem: &mut Mem<'_>, r: u32, e: crate::jemalloc::ObjId, slot: u16) {
        if e != NO_OBJ {
            self.expiry.remove(r);
            if mem.profile.slot_dicts() {
                let (e, p) = (&mut self.slot_expires, mem.profile);
                mem.heap.as_server(|h| e.delete(h, p, slot));
            } else {
                mem.heap.as_server(|h| self.expires.delete(h));
            }
            let a = mem.heap.alloc_of(e, mem.profile.dict_entry);
            mem.heap.zfree(a);
        }
    }

    /// `setKey`: `value` (holding `value_payload` bytes the client sent) replaces the key's
    /// value, the old value freed and the TTL removed (`dbOverwrite`), or is added under a new
    /// key (`dbAdd`). `keep_ttl` (SET with a TTL, which sets it next): where objects carry their
    /// key (Valkey 8.1+) the TTL the key had stays in its object until it is set again; the
    /// dict layouts remove it and add it again.
    pub(super) fn set(
        &mut self,
        mem: &mut Mem<'_>,
        key: &[u8],
        value: Value,
        value_payload: u64,
        keep_ttl: bool,
    ) {
        let name = self.identify(key);
        if mem.profile.layout.object_embeds_key {
            self.ht_set_named(mem, key, name, value, value_payload, keep_ttl);
            return;
        }
        self.set_named(mem, key, name, value, value_payload);
    }

    /// A lookup of the keyspace by a command that reads or writes a key in place: a rehash
    /// step of the keyspace's hashtable (Valkey 8.1+ `findBucket`); nothing for the dict
    /// layouts, whose keyspace rehash follows the cron.
    pub(super) fn lookup(&mut self, mem: &mut Mem<'_>) {
        if mem.profile.layout.object_embeds_key {
            self.ht_lookup(mem);
        }
    }

    /// See [`Server::keyspace_hashtables`].
    pub(super) fn hashtables(&self, profile: &RedisProfile) -> Option<(u64, u64)> {
        if !profile.layout.object_embeds_key {
            return None;
        }
        if !self.vk_keys.exists() {
            return Some((0, 0));
        }
        let ts = [&self.vk_keys, &self.vk_expires];
        let lut = ts.iter().filter(|t| t.exists()).map(|t| t.mem_usage()).sum();
        Some((lut, ts.iter().map(|t| t.child_buckets()).sum()))
    }

    /// Whether the cron's table upkeep would resize the keyspace's or the expires' hashtable
    /// now (Valkey 8.1+; false for the dict layouts).
    pub(super) fn hashtable_resize_due(&self, profile: &RedisProfile) -> bool {
        profile.layout.object_embeds_key && (self.vk_keys.resize_due() || self.vk_expires.resize_due())
    }

    /// A lookup of the expires table (`getExpire`): a rehash step of its hashtable (Valkey
    /// 8.1+); nothing for the dict layouts.
    pub(super) fn lookup_expires(&mut self, mem: &mut Mem<'_>) {
        if mem.profile.layout.object_embeds_key {
            self.ht_lookup_expires(mem);
        }
    }

    /// `getMemoryOverheadData`'s keyspace tables where the keyspace is a hashtable (Valkey
    /// 8.1+, see `ht_overhead`), `None` for the dict layouts.
    pub(super) fn table_overhead(&self, profile: &RedisProfile) -> Option<u64> {
        (profile.layout.table == TableKind::Hashtable && profile.layout.object_embeds_key)
            .then(|| self.ht_overhead(profile))
    }

    /// [`Keyspace::set`] of `key`, identified as `name`; returns the key's record.
    fn set_named(
        &mut self,
        mem: &mut Mem<'_>,
        key: &[u8],
        name: KeyName,
        value: Value,
        value_payload: u64,
    ) -> u32 {
        if let Some(r) = self.keys.find(name) {
            let k = *self.keys.get(r);
            self.payload_bytes = self.payload_bytes - self.value_payload_of(&k) + value_payload;
            let old = self.take(mem, &k);
            self.store(r, value, value_payload);
            self.keys.get_mut(r).expire = NO_OBJ;
            old.free(mem);
            self.drop_expire(mem, r, k.expire, k.slot);
            return r;
        }
        // dbAdd: sdsdup(key), then dictAddRaw (table growth, then the entry, which holds the
        // name itself in Valkey 8.0).
        let name_len = u32::try_from(key.len()).expect("key names are under 4 GiB");
        let sds = mem
            .profile
            .key_name_request(key.len() as u64)
            .map_or(NO_OBJ, |n| mem.heap.zmalloc(n).id);
        // Where each slot has its own dict, the slot's (made with its first key).
        let slot = key_hash_slot(key) as u16;
        if mem.profile.slot_dicts() {
            let request = mem.profile.kvstore_dict_request(true);
            let (k, p) = (&mut self.slot_keys, mem.profile);
            mem.heap.as_server(|h| k.add(h, p, slot, request));
        } else {
            self.dict_block(mem, 0);
            let initial = mem.profile.dict_initial_size;
            mem.heap.as_server(|h| self.main.add(h, initial));
        }
        let entry = mem.heap.zmalloc(mem.profile.key_entry_request(key.len() as u64));
        let r = self.keys.insert(name, name_len, entry.id, sds);
        self.keys.get_mut(r).slot = slot;
        self.store(r, value, value_payload);
        self.payload_bytes += key.len() as u64 + value_payload;
        if mem.profile.cluster && !mem.profile.layout.per_slot_tables {
            // slotToKeyAddEntry: the slot's count and list head are written.
            let page = mem.heap.arena.size_classes().page();
            self.slot_map_of(mem).add(key_hash_slot(key), page);
        }
        r
    }

    /// The slot-to-keys map (cluster mode), made at its first use: jemalloc placed the 256 KiB
    /// block at a random multiple of 64 B into its first page (cache-oblivious), drawn here.
    fn slot_map_of(&mut self, mem: &mut Mem<'_>) -> &mut SlotMap {
        let page = mem.heap.arena.size_classes().page();
        self.slot_map
            .get_or_insert_with(|| SlotMap::new(mem.draws.below(page / 64) * 64))
    }

    /// Pages of the slot-to-keys map written so far (cluster mode; 0 otherwise): RSS the
    /// baseline, measured before any key, does not hold.
    pub(super) fn slot_map_pages(&self) -> u64 {
        self.slot_map.as_ref().map_or(0, SlotMap::pages)
    }

    /// `getMemoryOverheadData`'s keyspace tables where each slot has its own dicts (cluster
    /// mode, [`RedisProfile::slot_dicts`]): `kvstoreMemUsage` of the keys' kvstore plus a robj
    /// per key (`overhead_ht_main`), and of the expires' (`overhead_ht_expires`); 0 before the
    /// first key (`kvstoreNumAllocatedDicts` is 0: the db is skipped). `None` otherwise.
    pub(super) fn slot_dicts_overhead(&self, profile: &RedisProfile) -> Option<u64> {
        if !profile.slot_dicts() {
            return None;
        }
        if self.slot_keys.allocated_dicts() == 0 {
            return Some(0);
        }
        let keys = self
            .slot_keys
            .mem_usage(profile.dict_entry, profile.kvstore_dict_request(true));
        let expires = self
            .slot_expires
            .mem_usage(profile.dict_entry, profile.kvstore_dict_request(false));
        Some(keys + self.slot_keys.size() * profile.robj + expires)
    }

    /// A write command `cmd` of an aggregate type `T` on `key` with `args` (the arguments
    /// after the key): a missing key first gets `T`'s empty value (`dbAdd`) when `create` (a
    /// command that adds elements; one that removes them does nothing to a missing key), then
    /// the value takes the write, and a value left empty is deleted with its key (`dbDelete`).
    /// A key holding another type is left as it is (Redis replies WRONGTYPE).
    pub(super) fn write<T: Aggregate>(
        &mut self,
        mem: &mut Mem<'_>,
        key: &[u8],
        cmd: Cmd,
        args: &[&[u8]],
        create: bool,
    ) {
        let name = self.identify(key);
        let ht = mem.profile.layout.object_embeds_key;
        let r = match self.keys.find(name) {
            Some(r) => {
                if ht {
                    self.ht_lookup(mem);
                }
                r
            }
            None if create => {
                let value = T::create(mem, cmd, args).into_value();
                if ht {
                    self.ht_set_named(mem, key, name, value, 0, true)
                } else {
                    self.set_named(mem, key, name, value, 0)
                }
            }
            None if ht => {
                self.ht_lookup(mem);
                return;
            }
            None => return,
        };
        let k = *self.keys.get(r);
        if k.held != Held::Boxed {
            return;
        }
        let b = self.boxed[k.val as usize].as_mut().expect("a boxed value");
        let Some(v) = T::of_value(&mut b.value) else {
            return;
        };
        let payload_delta = v.write(mem, cmd, args);
        let empty = v.is_empty();
        b.payload = (b.payload as i64 + payload_delta) as u64;
        self.payload_bytes = (self.payload_bytes as i64 + payload_delta) as u64;
        if empty {
            self.delete_record(mem, r);
        }
    }

    /// Whether `key` exists.
    pub(super) fn contains(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Gives `key` (if it exists) a TTL of `ttl_ms` from `now_ns`: an expires entry when it had
    /// none (`setExpire`), a new deadline otherwise.
    pub(super) fn set_expire(&mut self, mem: &mut Mem<'_>, now_ns: u64, key: &[u8], ttl_ms: u64) {
        let deadline = now_ns + ttl_ms * 1_000_000;
        let Some(r) = self.find(key) else {
            return;
        };
        if mem.profile.layout.object_embeds_key {
            self.ht_set_expire(mem, r);
            self.expiry.set(r, key, deadline);
            return;
        }
        if self.keys.get(r).expire == NO_OBJ {
            let e = mem.heap.zmalloc(mem.profile.dict_entry);
            if mem.profile.slot_dicts() {
                let request = mem.profile.kvstore_dict_request(false);
                let slot = self.keys.get(r).slot;
                let (e, p) = (&mut self.slot_expires, mem.profile);
                mem.heap.as_server(|h| e.add(h, p, slot, request));
            } else {
                self.dict_block(mem, 1);
                let initial = mem.profile.dict_initial_size;
                mem.heap.as_server(|h| self.expires.add(h, initial));
            }
            self.keys.get_mut(r).expire = e.id;
        }
        self.expiry.set(r, key, deadline);
    }

    /// Deletes `key` if it exists (`dbSyncDelete`): its entries in both dicts, its value, its
    /// name.
    pub(super) fn delete(&mut self, mem: &mut Mem<'_>, key: &[u8]) {
        if mem.profile.layout.object_embeds_key {
            self.ht_delete(mem, key);
            return;
        }
        if let Some(r) = self.find(key) {
            self.delete_record(mem, r);
        }
    }

    /// Deletes the key of record `r`.
    fn delete_record(&mut self, mem: &mut Mem<'_>, r: u32) {
        if mem.profile.layout.object_embeds_key {
            self.ht_delete_record(mem, r);
            return;
        }
        let k = self.keys.remove(r);
        self.payload_bytes -= k.name_len as u64 + self.value_payload_of(&k);
        if mem.profile.slot_dicts() {
            let (keys, p) = (&mut self.slot_keys, mem.profile);
            mem.heap.as_server(|h| keys.delete(h, p, k.slot));
        } else {
            mem.heap.as_server(|h| self.main.delete(h));
        }
        self.drop_expire(mem, r, k.expire, k.slot);
        self.take(mem, &k).free(mem);
        Self::free_name_and_entry(mem, &k);
    }

    /// Frees a key's name (its sds, where it has one of its own).
    fn free_name(mem: &mut Mem<'_>, k: &KeyRec) {
        if let Some(n) = mem.profile.key_name_request(k.name_len as u64) {
            let sds = mem.heap.alloc_of(k.sds, n);
            mem.heap.zfree(sds);
        }
    }

    /// Frees a key's main dict entry.
    fn free_entry(mem: &mut Mem<'_>, k: &KeyRec) {
        let entry = mem
            .heap
            .alloc_of(k.entry, mem.profile.key_entry_request(k.name_len as u64));
        mem.heap.zfree(entry);
    }

    /// Frees a key's name and its main dict entry.
    fn free_name_and_entry(mem: &mut Mem<'_>, k: &KeyRec) {
        Self::free_name(mem, k);
        Self::free_entry(mem, k);
    }

    /// Active expiry (`activeExpireCycle`), the fast cycle between commands or the cron's slow
    /// one: deletes the expired keys the cycle reaches at `now_ns`.
    pub(super) fn expire_cycle(&mut self, mem: &mut Mem<'_>, now_ns: u64, fast: bool) {
        let table_size = if mem.profile.layout.object_embeds_key {
            self.ht_expires_slots()
        } else if mem.profile.slot_dicts() {
            self.slot_expires.table_size()
        } else {
            self.expires.table_size()
        };
        let expired = if fast {
            self.expiry.fast_cycle(now_ns, table_size)
        } else {
            self.expiry.slow_cycle(now_ns, table_size)
        };
        for r in expired {
            self.delete_record(mem, r);
        }
    }

    /// `databasesCron`'s table upkeep: both dicts finish their rehash, then shrink when filled
    /// below the profile's minimum (`tryResizeHashTables`), or, where the cron grows tables
    /// too (Redis 7.4+ `kvstoreTryResizeDicts`), grow when full, but only a table over the
    /// initial size (`dictShrinkIfNeeded` answers `DICT_OK` for one of `DICT_HT_INITIAL_SIZE`
    /// buckets, and `kvstoreTryResizeDicts` then does not try `dictExpandIfNeeded`: 4 keys
    /// stay in 4 buckets); a resize started here is rehashed within the same cron tick
    /// (`incrementallyRehash`'s millisecond).
    pub(super) fn resize_tables(&mut self, mem: &mut Mem<'_>) {
        if mem.profile.layout.object_embeds_key {
            self.ht_resize_tables(mem);
            return;
        }
        let p = mem.profile;
        if p.slot_dicts() {
            self.slot_keys.cron(mem.heap, p);
            self.slot_expires.cron(mem.heap, p);
            return;
        }
        let initial = p.dict_initial_size;
        for d in [&mut self.main, &mut self.expires] {
            d.rehash_all(mem.heap);
            if !d.maybe_shrink(mem.heap, initial, |u, s| p.dict_needs_shrink(u, s))
                && p.layout.cron_expands_tables
                && d.table_size() > initial
            {
                d.maybe_grow(mem.heap, initial);
            }
            d.rehash_all(mem.heap);
        }
    }

    /// `emptyDbStructure`: `dictEmpty` of the main dict, bucket by bucket (the key's sds, its
    /// value, its entry), then of the expires dict (its entries; the keys are shared), each
    /// table freed after its entries.
    /// The dict struct block of the keys' (`which` 0) or the expires' (1) one-dict kvstore,
    /// made if the kvstore has none yet (see `dict_blocks`); nothing for other layouts.
    fn dict_block(&mut self, mem: &mut Mem<'_>, which: usize) {
        if mem.profile.layout.per_slot_tables && self.dict_blocks[which].is_none() {
            let request = mem.profile.kvstore_dict_request(which == 0);
            self.dict_blocks[which] = Some(mem.heap.as_server(|h| h.zmalloc(request)));
        }
    }

    fn empty(&mut self, mem: &mut Mem<'_>, sync: bool) {
        if mem.profile.layout.object_embeds_key {
            self.ht_empty(mem, sync);
            self.expiry.clear();
            self.boxed.clear();
            self.free_boxed.clear();
            self.payload_bytes = 0;
            return;
        }
        let mut keys = std::mem::take(&mut self.keys);
        let mut expire_entries = Vec::new();
        keys.drain_in_walk_order(|k| {
            Self::free_name(mem, &k);
            self.take(mem, &k).free(mem);
            Self::free_entry(mem, &k);
            if k.expire != NO_OBJ {
                expire_entries.push(k.expire);
            }
        });
        self.keys = keys;
        let slots = mem.profile.slot_dicts();
        if slots {
            self.slot_keys.release_all(mem.heap);
        } else {
            self.main.clear(mem.heap);
        }
        for e in expire_entries {
            let a = mem.heap.alloc_of(e, mem.profile.dict_entry);
            mem.heap.zfree(a);
        }
        if slots {
            self.slot_expires.release_all(mem.heap);
        } else {
            self.expires.clear(mem.heap);
        }
        if !sync {
            // The old kvstores go whole to the lazy-free thread, their dicts with them.
            for b in self.dict_blocks.iter_mut().filter_map(Option::take) {
                mem.heap.zfree(b);
            }
        }
        self.expiry.clear();
        self.boxed.clear();
        self.free_boxed.clear();
        self.payload_bytes = 0;
        if mem.profile.cluster && !mem.profile.layout.per_slot_tables {
            // slotToKeyFlush: the whole map cleared.
            let page = mem.heap.arena.size_classes().page();
            self.slot_map_of(mem).flush(page);
        }
    }
}

impl Server {
    /// A hint, for speed only: `argv` is a command that comes soon (a run passes the one two
    /// commands ahead), so its key's place in the key table is fetched into the processor's
    /// cache meanwhile and its name hashed once (the last two names are kept). Changes nothing
    /// the model computes.
    pub fn prefetch<A: AsRef<[u8]>>(&mut self, argv: &[A]) {
        // The first argument of every keyed command the model runs is a key; for the others
        // (INFO memory, CONFIG SET, ...) the hint is wasted, and harmless.
        if let Some(key) = argv.get(1) {
            self.keyspace.prefetch(key.as_ref());
        }
    }

    /// What `MEMORY USAGE key SAMPLES 0` replies: the bytes Redis attributes to the key (its
    /// value's structures, its name's sds block and its dict entry), with every element
    /// counted; `None` when the key does not exist.
    pub fn memory_usage(&self, key: &[u8]) -> Option<u64> {
        self.keyspace.memory_usage(&self.heap.arena, &self.profile, key)
    }

    /// What `OBJECT ENCODING key` replies, and the value's blocks by kind, for a key holding a
    /// list, set, sorted set or hash; `None` otherwise.
    pub fn describe_key(&self, key: &[u8]) -> Option<(&'static str, Vec<BlockKind>)> {
        self.keyspace.describe(&self.heap.arena, &self.profile, key)
    }

    /// FLUSHALL/FLUSHDB: every key freed, both keyspace tables freed; a synchronous flush then
    /// purges jemalloc (`jemalloc_purge()`), an asynchronous one frees in the background
    /// (modelled as freeing at once) and does not purge, except where the lazy-free thread
    /// flushes its cache and purges once it has released the database (Redis 7.4+: see
    /// [`Server::flush_in_background`]).
    pub fn flush(&mut self, sync: bool) {
        if !sync && self.profile.layout.lazyfree_purges {
            return self.flush_in_background();
        }
        let (keyspace, mut mem) = self.keyspace_mem();
        keyspace.empty(&mut mem, sync);
        if sync {
            self.heap.purge();
        }
    }

    /// Redis 7.4+'s asynchronous flush (`emptyDbAsync`, then `lazyfreeFreeDatabase` in the
    /// lazy-free thread): the old keyspace freed by that thread, whose cache is then flushed
    /// (`thread.tcache.flush`: every block back to the arena, none in the main thread's
    /// cache), and jemalloc purged (`jemalloc_purge()`), modelled as done at once. The
    /// thread's own start (its arena, its cache's stacks) is not modelled.
    fn flush_in_background(&mut self) {
        self.heap.set_other_thread(true);
        let (keyspace, mut mem) = self.keyspace_mem();
        keyspace.empty(&mut mem, false);
        self.heap.set_other_thread(false);
        self.heap.purge();
    }

    /// `FLUSHALL`/`FLUSHDB [ASYNC|SYNC]`. Where SYNC runs as a blocking ASYNC (Redis 7.4+
    /// `flushCommandCommon`: the lazy-free thread frees the keyspace while the client waits),
    /// it is freed as an asynchronous flush is.
    pub(super) fn flushall_command(&mut self, argv: &[&[u8]]) {
        // Without an argument: `lazyfree-lazy-user-flush` (yes by default in Valkey 8.0+).
        let async_ = match argv.get(1) {
            Some(a) => a.eq_ignore_ascii_case(b"async"),
            None => self.profile.layout.lazy_user_flush,
        };
        self.flush(!async_ && !self.profile.layout.flush_sync_in_background);
    }

    /// `DEL`/`UNLINK key [key ...]`.
    pub(super) fn del_command(&mut self, argv: &[&[u8]]) {
        let (keyspace, mut mem) = self.keyspace_mem();
        for k in &argv[1..] {
            keyspace.delete(&mut mem, k);
        }
    }

    /// `EXPIRE key seconds` / `PEXPIRE key milliseconds` (`seconds` false) (`expireGenericCommand`): on an
    /// existing key, the TTL set and the command propagated as `PEXPIREAT key <ms>`
    /// (`rewriteClientCommandArgument`: the original vector retained, the timestamp object).
    pub(super) fn expire_command(&mut self, seconds: bool, argv: &[&[u8]]) -> Result<(), Reply> {
        if argv.len() != 3 {
            return Err(Reply::Unsupported("EXPIRE needs a key and a time".into()));
        }
        let n = parse_ttl(argv[2])?;
        let now = self.now_ns;
        let (keyspace, mut mem) = self.keyspace_mem();
        // lookupKeyWrite.
        keyspace.lookup(&mut mem);
        if keyspace.contains(argv[1]) {
            keyspace.set_expire(&mut mem, now, argv[1], if seconds { n * 1000 } else { n });
            self.rewrite.retain_original(&mut self.heap, argv.len());
            let robj = self.profile.robj;
            self.rewrite.add_object(&mut self.heap, robj);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::redis::server::testing::{argv, server};

    /// A prefetch is a hint: whatever key it names (the next command's, another, one too long
    /// to keep), the commands that follow do what they do without it, allocation for
    /// allocation.
    #[test]
    fn a_prefetch_changes_nothing() {
        let long = vec![b'k'; 100];
        let script: Vec<Vec<Vec<u8>>> = vec![
            argv(&[b"SET", b"a", b"1"]),
            argv(&[b"SET", b"b", b"hello"]),
            argv(&[b"HSET", b"h", b"f", b"v"]),
            argv(&[b"SET", &long, b"x"]),
            argv(&[b"SET", b"a", b"again"]),
            argv(&[b"DEL", b"b"]),
            argv(&[b"HSET", b"h", b"g", b"w"]),
        ];
        let run = |hint: &dyn Fn(usize) -> Option<Vec<Vec<u8>>>| {
            let mut s = server(&["set", "hset", "del"]);
            s.heap.record();
            let c = s.connect();
            for (i, cmd) in script.iter().enumerate() {
                if let Some(h) = hint(i) {
                    s.prefetch(&h);
                }
                s.exec(c, cmd).unwrap();
            }
            let ops = s.heap.recorder.take().unwrap().ops;
            (ops, s.used_memory(), s.dbsize())
        };
        let plain = run(&|_| None);
        assert_eq!(plain.2, 3);
        // The command's own key, another key, and the next command's key.
        assert_eq!(run(&|i| Some(script[i].clone())), plain);
        assert_eq!(run(&|i| Some(script[(i + 3) % script.len()].clone())), plain);
        assert_eq!(run(&|_| Some(argv(&[b"GET", b"zzz"]))), plain);
    }
}
