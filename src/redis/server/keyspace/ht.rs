//! The keyspace of Valkey 8.1+ (`table = "hashtable"`, `object_embeds_key`): no dict entries;
//! each value's object carries its key name (and, when it has or may get a TTL, an expire
//! field) in its own block, and the keyspace's and the expires' hashtables
//! ([`crate::redis::hashtable`]) hold the object's pointer (valkey 8.1.1 and 9.1.2 `src/db.c`,
//! `src/object.c`, `src/kvstore.c`).
//!
//! A key's record keeps its object's block in `entry` (and in `val` for an embedded string or
//! an INT, which live in that one block), and in `expire` two flags: whether the key has a TTL
//! (it is then in the expires table) and whether the object's expire field was part of the
//! size its block was asked for. Which table bucket a key lands in is its walk-order hash's low
//! bits, under the run's seed.

use crate::jemalloc::Arena;
use crate::redis::hashtable::{AsHeap, Hashtable};
use crate::redis::heap::{Alloc, Heap};
use crate::redis::profile::RedisProfile;

use super::Keyspace;
use crate::redis::server::keytable::{Held, KeyName, KeyRec, KeyTable, NO_OBJ};
use crate::redis::server::string::StringValue;
use crate::redis::server::value::{Mem, Value, ValueType};

/// `expire` flag: the key has a TTL (its object is in the expires table).
const TTL: u32 = 1;
/// `expire` flag: the object's expire field was counted in the size its block was asked for
/// (a TTL when it was made, or a key of 128 bytes or more: `KEY_SIZE_TO_INCLUDE_EXPIRE_THRESHOLD`).
const REQ: u32 = 2;

/// The keyspace and a model heap, as [`Hashtable::empty`]'s context while FLUSHALL frees
/// each key's object.
struct Flush<'a, 'b> {
    ks: &'a mut Keyspace,
    mem: &'a mut Mem<'b>,
}

impl AsHeap for Flush<'_, '_> {
    fn heap(&mut self) -> &mut Heap {
        self.mem.heap
    }
}

/// A key's hash: the walk-order hash of its record's name.
fn hash_in(keys: &KeyTable) -> impl Fn(u32) -> u64 + '_ {
    move |r| keys.get(r).hash()
}

impl Keyspace {
    /// The keyspace's or the expires' table, made (its struct allocated) at its first key
    /// (`createHashtableIfNeeded`, valkey 8.1.1 `src/kvstore.c`).
    fn ht_create(t: &mut Hashtable, mem: &mut Mem<'_>) {
        if !t.exists() {
            let p = mem.profile;
            *t = Hashtable::new(p.hashtable_flavor(), p.kvstore_table_struct(), true);
            mem.heap.as_server(|h| t.create(h));
        }
    }

    /// A lookup of the keyspace table (`lookupKey`, `dbFind`, `kvstoreHashtableFindRef`):
    /// the rehash step `findBucket` takes.
    pub(super) fn ht_lookup(&mut self, mem: &mut Mem<'_>) {
        let keys = &self.keys;
        let t = &mut self.vk_keys;
        mem.heap.as_server(|h| t.find_step(h, &hash_in(keys)));
    }

    /// A lookup of the expires table (`getExpire`, `removeExpire` of a key without a TTL).
    pub(super) fn ht_lookup_expires(&mut self, mem: &mut Mem<'_>) {
        let keys = &self.keys;
        let t = &mut self.vk_expires;
        mem.heap.as_server(|h| t.find_step(h, &hash_in(keys)));
    }

    /// The bytes the block of record `k`'s object was asked for.
    fn ht_request(p: &RedisProfile, k: &KeyRec, boxed: Option<&Value>) -> u64 {
        let req = k.expire & REQ != 0;
        match k.held {
            Held::Embstr => p.key_object_request(k.name_len as u64, req, Some(k.vlen as u64)),
            Held::Int => p.key_object_request(k.name_len as u64, req, None),
            _ => boxed.and_then(Value::robj).map_or(0, |a| a.requested as u64),
        }
    }

    /// Whether record `k`'s object has an expire field: asked for, or room for one in its
    /// block's size class (`createObjectWithKeyAndExpire`'s spare-field rule).
    fn ht_has_expire_field(&self, arena: &Arena, p: &RedisProfile, k: &KeyRec) -> bool {
        if k.expire & REQ != 0 {
            return true;
        }
        let boxed = (k.held == Held::Boxed)
            .then(|| &self.boxed[k.val as usize].as_ref().expect("a boxed value").value);
        arena.usable_size(k.entry) >= Self::ht_request(p, k, boxed) + 8
    }

    /// Takes the value out of record `k` (which is then stale), its object's block included.
    fn ht_take(&mut self, mem: &Mem<'_>, k: &KeyRec) -> Value {
        let p = mem.profile;
        match k.held {
            Held::Embstr => Value::Str(StringValue::Embstr(
                mem.heap.alloc_of(k.val, Self::ht_request(p, k, None)),
            )),
            Held::Int => Value::Str(StringValue::Int(
                mem.heap.alloc_of(k.val, Self::ht_request(p, k, None)),
            )),
            _ => self.take(mem, k),
        }
    }

    /// Puts `value` into record `r`, its object's block (made by [`Keyspace::ht_embed_key`])
    /// the key's, with the flags `flags`.
    fn ht_store(&mut self, r: u32, value: Value, payload: u64, flags: u32) {
        let block = value.robj().expect("an object of its own").id;
        self.store(r, value, payload);
        let k = self.keys.get_mut(r);
        k.entry = block;
        k.sds = NO_OBJ;
        k.expire = flags;
    }

    /// `objectSetKeyAndExpire(val, key, expire)`: `value` (holding `payload` bytes) in a new
    /// object that carries the key of `name_len` bytes and, when `expire`, an expire field;
    /// the old object freed. An embedded string stays one block when it fits
    /// (`createStringObjectWithKeyAndExpire`; else its bytes go to an sds of their own, made
    /// first); any other value's contents move to the new object. Returns the value and its
    /// [`REQ`] flag.
    fn ht_embed_key(
        mem: &mut Mem<'_>,
        value: Value,
        payload: u64,
        name_len: u64,
        expire: bool,
    ) -> (Value, u32) {
        let p = mem.profile;
        if let Value::Str(StringValue::Embstr(old)) = value {
            if p.key_object_embeds(name_len, expire, payload) {
                let a = mem
                    .heap
                    .zmalloc(p.key_object_request(name_len, expire, Some(payload)));
                mem.heap.zfree(old);
                return (Value::Str(StringValue::Embstr(a)), if expire { REQ } else { 0 });
            }
            let sds = mem.heap.zmalloc(p.sds_request(payload));
            let (robj, flags) = Self::ht_key_object(mem, name_len, expire);
            mem.heap.zfree(old);
            return (Value::Str(StringValue::Raw(robj, sds)), flags);
        }
        let (robj, flags) = Self::ht_key_object(mem, name_len, expire);
        let old = value.robj();
        let value = value.with_robj(robj);
        if let Some(old) = old {
            mem.heap.zfree(old);
        }
        (value, flags)
    }

    /// `createObjectWithKeyAndExpire` without a value inside: the block and its [`REQ`] flag
    /// (a key of 128 bytes or more always gets its expire field).
    fn ht_key_object(mem: &mut Mem<'_>, name_len: u64, expire: bool) -> (Alloc, u32) {
        let expire = expire || name_len >= 128;
        let a = mem
            .heap
            .zmalloc(mem.profile.key_object_request(name_len, expire, None));
        (a, if expire { REQ } else { 0 })
    }

    /// `setKey` on a hashtable keyspace: `lookupKeyWrite`, then `dbAdd` (the value's object
    /// made to carry the key, then `kvstoreHashtableAdd`) or `dbSetValue`; without `keep_ttl`,
    /// `removeExpire`. Returns the key's record.
    pub(super) fn ht_set_named(
        &mut self,
        mem: &mut Mem<'_>,
        key: &[u8],
        name: KeyName,
        value: Value,
        payload: u64,
        keep_ttl: bool,
    ) -> u32 {
        self.ht_lookup(mem);
        let r = match self.keys.find(name) {
            Some(r) => {
                self.ht_overwrite(mem, r, value, payload);
                r
            }
            None => {
                let name_len = u32::try_from(key.len()).expect("key names are under 4 GiB");
                let (value, flags) = Self::ht_embed_key(mem, value, payload, key.len() as u64, false);
                let r = self.keys.insert(name, name_len, NO_OBJ, NO_OBJ);
                self.ht_store(r, value, payload, flags);
                Self::ht_create(&mut self.vk_keys, mem);
                let keys = &self.keys;
                let t = &mut self.vk_keys;
                mem.heap
                    .as_server(|h| t.add(h, r, keys.get(r).hash(), &hash_in(keys)));
                self.payload_bytes += key.len() as u64 + payload;
                r
            }
        };
        if !keep_ttl {
            self.ht_remove_expire(mem, r);
        }
        r
    }

    /// `dbSetValue` of an existing key (a lookup first): when neither the old object nor the
    /// new value is an embedded string, the old object (with its key) stays and takes the new
    /// contents, and the new value's robj goes with the old contents; otherwise the new value
    /// is made to carry the key and the TTL the old object had, and the old object is freed.
    fn ht_overwrite(&mut self, mem: &mut Mem<'_>, r: u32, value: Value, payload: u64) {
        self.ht_lookup(mem);
        let k = *self.keys.get(r);
        self.payload_bytes = self.payload_bytes - self.value_payload_of(&k) + payload;
        let old = self.ht_take(mem, &k);
        let embstr = |v: &Value| matches!(v, Value::Str(StringValue::Embstr(_)));
        if !embstr(&old) && !embstr(&value) && value.robj().is_some() {
            let keep = old.robj().expect("a key's own object");
            let spare = value.robj().expect("checked");
            let value = value.with_robj(keep);
            old.with_robj(spare).free(mem);
            self.ht_store(r, value, payload, k.expire);
        } else {
            let ttl = k.expire & TTL != 0;
            let (value, flags) = Self::ht_embed_key(mem, value, payload, k.name_len as u64, ttl);
            if ttl {
                // The expires table's slot now points at the new object (`kvstoreHashtableFindRef`).
                self.ht_lookup_expires(mem);
            }
            old.free(mem);
            self.ht_store(r, value, payload, flags | (k.expire & TTL));
        }
    }

    /// `removeExpire`: the key's object out of the expires table (its expire field then holds
    /// -1 and stays), or only the table's lookup when it has no TTL; nothing when the expires
    /// table was never made.
    fn ht_remove_expire(&mut self, mem: &mut Mem<'_>, r: u32) {
        if !self.vk_expires.exists() {
            return;
        }
        let k = *self.keys.get(r);
        if k.expire & TTL == 0 {
            self.ht_lookup_expires(mem);
            return;
        }
        let keys = &self.keys;
        let e = &mut self.vk_expires;
        mem.heap.as_server(|h| e.remove(h, r, k.hash(), &hash_in(keys)));
        self.keys.get_mut(r).expire &= !TTL;
        self.expiry.remove(r);
    }

    /// `setExpire` on key record `r` (a lookup first): an object without an expire field is
    /// made again with one (`objectSetExpire`), and a key without a TTL joins the expires
    /// table.
    pub(super) fn ht_set_expire(&mut self, mem: &mut Mem<'_>, r: u32) {
        self.ht_lookup(mem);
        let k = *self.keys.get(r);
        if k.expire & TTL != 0 {
            return;
        }
        let mut flags = k.expire;
        if !self.ht_has_expire_field(&mem.heap.arena, mem.profile, &k) {
            let payload = self.value_payload_of(&k);
            let v = self.ht_take(mem, &k);
            let (v, f) = Self::ht_embed_key(mem, v, payload, k.name_len as u64, true);
            self.ht_store(r, v, payload, f);
            flags = f;
        }
        self.keys.get_mut(r).expire = flags | TTL;
        Self::ht_create(&mut self.vk_expires, mem);
        let keys = &self.keys;
        let t = &mut self.vk_expires;
        mem.heap
            .as_server(|h| t.add(h, r, keys.get(r).hash(), &hash_in(keys)));
    }

    /// `delGenericCommand`'s look at the key's TTL (`expireIfNeeded` without the value: a
    /// lookup of the expires table), then `dbGenericDelete` (a lookup of the keyspace table
    /// even when the key is missing).
    pub(super) fn ht_delete(&mut self, mem: &mut Mem<'_>, key: &[u8]) {
        self.ht_lookup_expires(mem);
        match self.find(key) {
            Some(r) => self.ht_delete_record(mem, r),
            None => self.ht_lookup(mem),
        }
    }

    /// `dbGenericDelete` of record `r`: out of the keyspace table (a lookup, the slot cleared,
    /// the chain compacted, a shrink when due), out of the expires table when it has a TTL,
    /// then the object freed (its contents, then its block).
    pub(super) fn ht_delete_record(&mut self, mem: &mut Mem<'_>, r: u32) {
        let k = *self.keys.get(r);
        let keys = &self.keys;
        let (t, e) = (&mut self.vk_keys, &mut self.vk_expires);
        mem.heap.as_server(|h| t.remove(h, r, k.hash(), &hash_in(keys)));
        if k.expire & TTL != 0 {
            mem.heap.as_server(|h| e.remove(h, r, k.hash(), &hash_in(keys)));
            self.expiry.remove(r);
        }
        let k = self.keys.remove(r);
        self.payload_bytes -= k.name_len as u64 + self.value_payload_of(&k);
        self.ht_take(mem, &k).free(mem);
    }

    /// `kvstoreEmpty` of both kvstores (FLUSHALL, FLUSHDB): every object freed in the
    /// keyspace table's bucket order, each child bucket after its objects, each table after
    /// its buckets; then the expires table's. The tables' structs stay, unless the flush is
    /// asynchronous (`emptyDbAsync` hands the whole kvstores to a background thread, modelled
    /// as freeing at once, and makes new ones whose tables come with their first key).
    pub(super) fn ht_empty(&mut self, mem: &mut Mem<'_>, sync: bool) {
        let mut table = std::mem::take(&mut self.vk_keys);
        let mut ctx = Flush {
            ks: self,
            mem: &mut *mem,
        };
        let each = |c: &mut Flush<'_, '_>, r: u32| {
            let k = *c.ks.keys.get(r);
            let v = c.ks.ht_take(c.mem, &k);
            v.free(c.mem);
        };
        if sync {
            table.empty(&mut ctx, each);
        } else {
            table.release(&mut ctx, each);
        }
        self.vk_keys = table;
        let mut expires = std::mem::take(&mut self.vk_expires);
        if sync {
            expires.empty(mem.heap, |_, _| {});
        } else {
            expires.release(mem.heap, |_, _| {});
        }
        self.vk_expires = expires;
        self.keys = KeyTable::new();
    }

    /// The cron's upkeep of both tables (`kvstoreTryResizeHashtables`: a shrink when due, else
    /// a growth when due), then `kvstoreIncrementallyRehash`, modelled as finishing every
    /// rehash within the tick (unless `activerehashing no`).
    pub(super) fn ht_resize_tables(&mut self, mem: &mut Mem<'_>) {
        let keys = &self.keys;
        for t in [&mut self.vk_keys, &mut self.vk_expires] {
            if t.exists() && !t.shrink_if_needed(mem.heap, &hash_in(keys)) {
                t.expand_if_needed(mem.heap, &hash_in(keys));
            }
        }
        if !mem.profile.layout.no_active_rehashing {
            for t in [&mut self.vk_keys, &mut self.vk_expires] {
                t.rehash_all(mem.heap, &hash_in(keys));
            }
        }
    }

    /// `MEMORY USAGE` on a hashtable keyspace (`objectComputeSize` alone): Valkey 8.1 counts an
    /// embedded string's block, an INT as `sizeof(robj)`, a raw string as its sds block plus
    /// `sizeof(robj)` (its key ignored); Valkey 9.1 the object's block with the key, plus a raw
    /// string's sds block or a collection's structures.
    pub(super) fn ht_memory_usage(&self, arena: &Arena, profile: &RedisProfile, k: &KeyRec) -> u64 {
        let own = arena.usable_size(k.entry);
        match k.held {
            Held::Embstr => own,
            Held::Int | Held::Shared if profile.layout.hashtable_v9 => own,
            Held::Int | Held::Shared => profile.robj,
            Held::Boxed => {
                let v = &self.boxed[k.val as usize].as_ref().expect("a boxed value").value;
                let size = v.object_size(arena, profile);
                if profile.layout.hashtable_v9 {
                    size - profile.robj + own
                } else {
                    size
                }
            }
            Held::Free => unreachable!("a live key"),
        }
    }

    /// `getMemoryOverheadData`'s keyspace figures on a hashtable keyspace, once the keyspace
    /// table exists: each kvstore's struct, its tables (`overhead_hashtable_lut`: structs,
    /// buckets, child buckets) and rehashing list nodes, and `sizeof(robj)` per key.
    pub(super) fn ht_overhead(&self, profile: &RedisProfile) -> u64 {
        if !self.vk_keys.exists() {
            return 0;
        }
        let kv = |t: &Hashtable| {
            profile.kvstore_struct()
                + if t.exists() { t.mem_usage() } else { 0 }
                + if t.is_rehashing() {
                    crate::redis::hashtable::REHASHING_NODE
                } else {
                    0
                }
        };
        kv(&self.vk_keys) + kv(&self.vk_expires) + self.keys.len() * profile.robj
    }

    /// Buckets of the expires table, as slots (for active expiry's sampling).
    pub(super) fn ht_expires_slots(&self) -> u64 {
        self.vk_expires.table_size() * crate::redis::hashtable::ENTRIES_PER_BUCKET
    }
}

#[cfg(test)]
mod tests {
    use crate::redis::profile::RedisProfile;
    use crate::redis::server::testing::argv;
    use crate::redis::server::Server;

    /// A Valkey server of `profile` whose baseline has run SET, EXPIRE, DEL already.
    fn valkey(profile: &str) -> Server {
        let mut p = RedisProfile::builtin(profile).unwrap();
        p.baseline.commands_seen = ["set", "expire", "pexpire", "del", "flushall", "ping"]
            .iter()
            .map(|c| c.to_string())
            .collect();
        let mut s = Server::new(p, 1).unwrap();
        let c = s.connect();
        s.exec(c, &argv(&[b"PING"])).unwrap();
        s
    }

    /// `used_memory` after each command of `script`, from one client that has sent a PING.
    fn deltas(s: &mut Server, script: &[Vec<Vec<u8>>]) -> Vec<i64> {
        let c = s.connect();
        s.exec(c, &argv(&[b"PING"])).unwrap();
        let mut out = Vec::new();
        for cmd in script {
            let u = s.used_memory() as i64;
            s.exec(c, cmd).unwrap();
            out.push(s.used_memory() as i64 - u);
        }
        out
    }

    /// Valkey 8.1, derived from `src/object.c`:
    ///  - `SET a x`: robj 16 + key (1 + sds type 5: 1 + 1 + 1) + value sds type 8 (3 + 1 + 1)
    ///    = 25 -> 32; the keyspace table's struct (88 -> 96) and first table (one 64-B
    ///    bucket): 192;
    ///  - `SET k:10bytes 7 EX 1000`: an INT object with the key, 16 + 1 + 12 = 29 -> 32 (no
    ///    room for an expire field), made again with one by the TTL: 37 -> 40; the expires
    ///    table's struct and first table: 40 + 96 + 64 = 200;
    ///  - the same SET with another TTL: the object keeps its block (the INT swapped in), the
    ///    TTL written in its field: 0;
    ///  - SET of 20 bytes with EX on a new key: embedded with the key (16 + 19 + 4 + 20 = 59
    ///    -> 64, no spare field), then split by the TTL (16 + 19 + 8 + 24 = 67 > 64): an sds
    ///    of 24 B and the object with key and field, 16 + 8 + 13 = 37 -> 40: 64;
    ///  - DEL of both TTL keys: -40 - 64; FLUSHALL SYNC: the rest but the tables' structs.
    #[test]
    fn valkey_81_string_keys_cost_what_the_source_says() {
        let mut s = valkey("valkey-8.1");
        let d = deltas(
            &mut s,
            &[
                argv(&[b"SET", b"a", b"x"]),
                argv(&[b"SET", b"overex:5:5", b"7", b"EX", b"1000"]),
                argv(&[b"SET", b"overex:5:5", b"7", b"EX", b"2000"]),
                argv(&[b"SET", b"k:20bytes!", &[b'v'; 20], b"EX", b"1000"]),
                argv(&[b"DEL", b"overex:5:5", b"k:20bytes!"]),
                argv(&[b"FLUSHALL", b"SYNC"]),
            ],
        );
        assert_eq!(d, [192, 200, 0, 64, -104, -(32 + 64 + 64)]);
    }

    /// Valkey 9.1: the value in place of the pointer, an 8-B header. `SET a x`: 8 + key 4 +
    /// value sds 5, at least 8 = 20 -> 24, with the table's struct (96) and first table (64):
    /// 184. A 100-B value with a 16-B key: 8 + 19 + 104 = 131 > 128: a raw string, sds 3 +
    /// 100 + 1 = 104 -> 112 and the object with its key 16 + 19 = 35 -> 40: 152. MEMORY USAGE
    /// counts the object's block and the sds: 152.
    #[test]
    fn valkey_91_embeds_values_up_to_128_bytes() {
        let mut s = valkey("valkey-9.1");
        let d = deltas(
            &mut s,
            &[
                argv(&[b"SET", b"a", b"x"]),
                argv(&[b"SET", b"key:000000000001", &[b'v'; 100]]),
            ],
        );
        assert_eq!(d, [184, 152]);
        assert_eq!(s.memory_usage(b"key:000000000001"), Some(152));
        assert_eq!(s.memory_usage(b"a"), Some(24));
    }
}
