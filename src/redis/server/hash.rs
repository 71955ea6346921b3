//! Hashes (t_hash.c): a new hash is an empty listpack (`createHashObject`); HSET and HMSET
//! (`hsetCommand`) append or replace field/value entries in it (`hashTypeSet`), the block
//! reallocated as it grows; a field or value longer than `hash-max-listpack-value`
//! (`hashTypeTryConversion`) or more fields than `hash-max-listpack-entries` convert it to a
//! dict of sds fields and values (`hashTypeConvertListpack`), which later writes grow entry by
//! entry; `freeHashObject` frees either encoding.

use crate::jemalloc::Arena;
use crate::redis::dict::Dict;
use crate::redis::encoding::{listpack_entry, LISTPACK_OVERHEAD};
use crate::redis::heap::Alloc;
use crate::redis::profile::{RedisProfile, TableKind};

use super::dispatch::{unsupported, Cmd, Reply};
use super::keytable::NameHasher;
use super::value::{add_sampled, listpack_structure, Aggregate, BlockKind, Blocks, Mem, Value, ValueType};
use super::vktable::{Kind, VkTable};
use super::{DetMap, Server};

/// One field of a hash in the dict encoding.
#[derive(Debug, Clone)]
struct HashField {
    entry: Alloc,
    field: Alloc,
    value: Alloc,
    /// The value's length as the client sent it (payload accounting).
    vlen: u64,
}

/// The fields of a listpack-encoded hash, packed in one buffer, field after field: the name's
/// length (a LEB128 varint), the name, then the value's length as the client sent it and the
/// bytes of the value's listpack entry (two varints). The value's bytes are not kept: only its
/// length and its entry's size matter. One allocation per hash (a write reserves what its
/// fields need at once), a few bytes per field.
#[derive(Debug, Clone, Default)]
struct LpFields {
    buf: Vec<u8>,
    n: usize,
}

/// One field of a listpack, as [`LpFields::iter`] reads it.
#[derive(Debug, Clone, Copy)]
struct LpItem<'a> {
    name: &'a [u8],
    /// Where the value's two varints start and end in the buffer.
    value_at: usize,
    value_end: usize,
    value_len: u64,
    value_entry: u64,
}

/// `x` as a LEB128 varint at the start of `out`; returns its length.
fn varint(mut x: u64, out: &mut [u8]) -> usize {
    let mut n = 0;
    while x >= 0x80 {
        out[n] = x as u8 | 0x80;
        x >>= 7;
        n += 1;
    }
    out[n] = x as u8;
    n + 1
}

fn put_varint(buf: &mut Vec<u8>, x: u64) {
    let mut b = [0u8; 10];
    let n = varint(x, &mut b);
    buf.extend_from_slice(&b[..n]);
}

fn get_varint(buf: &[u8], at: &mut usize) -> u64 {
    let mut x = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*at];
        *at += 1;
        x |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return x;
        }
        shift += 7;
    }
}

impl LpFields {
    /// Every field, in listpack order.
    fn iter(&self) -> impl Iterator<Item = LpItem<'_>> {
        let buf = &self.buf[..];
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= buf.len() {
                return None;
            }
            let name_len = get_varint(buf, &mut at) as usize;
            let name = &buf[at..at + name_len];
            at += name_len;
            let value_at = at;
            let value_len = get_varint(buf, &mut at);
            let value_entry = get_varint(buf, &mut at);
            Some(LpItem {
                name,
                value_at,
                value_end: at,
                value_len,
                value_entry,
            })
        })
    }

    /// Field `f`, if the hash has it.
    fn get(&self, f: &[u8]) -> Option<LpItem<'_>> {
        self.iter().find(|i| i.name == f)
    }

    /// Room for fields and values `pairs` (an upper bound: each varint at most 10 bytes).
    fn reserve(&mut self, pairs: &[&[u8]]) {
        let more: usize = pairs.chunks(2).map(|p| p[0].len() + 30).sum();
        self.buf.reserve(more);
    }

    fn push(&mut self, f: &[u8], v: &[u8]) {
        put_varint(&mut self.buf, f.len() as u64);
        self.buf.extend_from_slice(f);
        put_varint(&mut self.buf, v.len() as u64);
        put_varint(&mut self.buf, listpack_entry(v));
        self.n += 1;
    }

    /// Gives the field whose value's varints are at `range` a value of `value_len` bytes
    /// taking `value_entry` bytes of listpack.
    fn set_value(&mut self, range: std::ops::Range<usize>, value_len: u64, value_entry: u64) {
        let mut enc = [0u8; 20];
        let n = varint(value_len, &mut enc);
        let n = n + varint(value_entry, &mut enc[n..]);
        self.buf.splice(range, enc[..n].iter().copied());
    }

    fn len(&self) -> usize {
        self.n
    }

    /// Removes field `f` (present).
    fn remove(&mut self, f: &[u8]) {
        let Some(i) = self.get(f) else { return };
        let start = i.value_at - i.name.len() - varint(i.name.len() as u64, &mut [0u8; 10]);
        let end = i.value_end;
        self.buf.drain(start..end);
        self.n -= 1;
    }
}

#[derive(Debug, Clone)]
enum Encoding {
    /// The listpack block, its byte length, and its fields.
    Listpack(Alloc, u64, LpFields),
    /// The dict struct, its tables, and the field entries by name.
    Table(Alloc, Dict, DetMap<Vec<u8>, HashField>),
    /// Valkey 8.1+: the hashtable (`hashHashtableType`) and each field's `hashTypeEntry`.
    Vk(Box<VkTable<()>>, DetMap<Vec<u8>, VkField>),
}

/// One field of a Valkey 8.1+ hashtable hash: its `hashTypeEntry` block (the field's sds and,
/// embedded, the value's; or the value's pointer and the field's sds), the value's own sds
/// block when it is not embedded, its element id, and the value's length.
#[derive(Debug, Clone)]
struct VkField {
    entry: Alloc,
    value: Option<Alloc>,
    id: u32,
    vlen: u64,
}

/// `EMBED_VALUE_MAX_ALLOC_SIZE` (valkey 8.1.1 `src/t_hash.c`, 9.1.2 `src/entry.c`): an entry
/// embeds its value when field and value sds come to at most 128 bytes.
const EMBED_VALUE_MAX: u64 = 128;

/// `sdsReqSize(len, sdsReqType(len))`: header (type 5 below 32 bytes, also for an empty
/// string), bytes, NUL.
fn sds_req_size(p: &RedisProfile, len: u64) -> u64 {
    if len == 0 {
        return 2;
    }
    p.sds_request(len)
}

/// The same with at least a type 8 header (a field that must carry the entry's aux bits).
fn sds_req_size8(p: &RedisProfile, len: u64) -> u64 {
    let s = sds_req_size(p, len);
    if s == len + 2 {
        len + 4
    } else {
        s
    }
}

/// `hashTypeCreateEntry` (valkey 8.1.1 `src/t_hash.c`; `entryCreate`/`entryReqSize`, 9.1.2
/// `src/entry.c`, without a TTL): the bytes its block asks for, and whether the value is
/// embedded (field sds then value sds type 8, at most [`EMBED_VALUE_MAX`] bytes; else an 8-B
/// value pointer then the field's sds, of type 8 at least).
fn entry_request(p: &RedisProfile, flen: u64, vlen: u64) -> (u64, bool) {
    let embedded = sds_req_size(p, flen) + vlen + 4;
    if embedded <= EMBED_VALUE_MAX {
        (embedded, true)
    } else {
        (8 + sds_req_size8(p, flen), false)
    }
}

/// A hash value: its robj and its encoding.
#[derive(Debug, Clone)]
pub(super) struct HashValue {
    pub(super) robj: Alloc,
    enc: Encoding,
}

/// One field of the dict encoding: new sds strings for a field of `flen` bytes and its value of
/// `vlen`, then its dict entry (`dictAdd` grows the table first).
fn table_field(
    mem: &mut Mem<'_>,
    dict: &mut Dict,
    flen: u64,
    vlen: u64,
    fields: &DetMap<Vec<u8>, HashField>,
) -> HashField {
    let field = mem.heap.zmalloc(mem.profile.sds_request(flen));
    let value = mem.heap.zmalloc(mem.profile.sds_request(vlen));
    let hasher = NameHasher::new(mem.hash_seed);
    dict.add_hashed(mem.heap, mem.profile.dict_initial_size, || {
        fields.keys().map(|n| hasher.hash(n)).collect()
    });
    let entry = mem.heap.zmalloc(mem.profile.dict_entry);
    HashField {
        entry,
        field,
        value,
        vlen,
    }
}

/// A new field's entry on a Valkey 8.1+ hashtable: the value's copy (`sdsdup`), the lookup
/// and insert position (`hashtableFindPositionForInsert`: a rehash step, growth, a child
/// bucket), the entry (`hashTypeCreateEntry`, which frees the copy when it embeds the value),
/// then `hashtableInsertAtPosition`.
fn vk_field(mem: &mut Mem<'_>, t: &mut VkTable<()>, name: &[u8], vlen: u64) -> VkField {
    let p = mem.profile;
    let copy = mem.heap.zmalloc(p.sds_request(vlen));
    let hash = mem.member_hash(name);
    let id = t.insert(mem.heap, hash, ());
    let (entry, value) = vk_entry(mem, name.len() as u64, vlen, copy);
    VkField {
        entry,
        value,
        id,
        vlen,
    }
}

/// A new hash entry for a field of `flen` bytes and a value of `vlen` (`hashTypeCreateEntry`):
/// the value embedded (its copy `copy` freed) when field and value fit together, else the
/// entry pointing to the copy. Returns the entry and the value's own block, if any.
fn vk_entry(mem: &mut Mem<'_>, flen: u64, vlen: u64, copy: Alloc) -> (Alloc, Option<Alloc>) {
    let (req, embedded) = entry_request(mem.profile, flen, vlen);
    let entry = mem.heap.zmalloc(req);
    if embedded {
        mem.heap.zfree(copy);
        (entry, None)
    } else {
        (entry, Some(copy))
    }
}

/// `hashTypeEntryReplaceValue` (8.1.1) / `entryUpdate` (9.1.2) of field `f` with a value of
/// `vlen` bytes (its copy made by `hashTypeSet` first): an embedded value rewritten in place
/// when the new entry would fit the block and fill at least 3/4 of it, else a new entry (the
/// old one freed); a value pointer kept (the old value's sds freed) unless the new value can
/// be embedded (8.1.1 judges with the field's type-8 header, 9.1.2 with its own type).
fn vk_replace(mem: &mut Mem<'_>, name: &[u8], f: &mut VkField, vlen: u64) {
    let p = mem.profile;
    let flen = name.len() as u64;
    let copy = mem.heap.zmalloc(p.sds_request(vlen));
    let (req, embedded) = entry_request(p, flen, vlen);
    let renew = match f.value {
        None => {
            let usable = f.entry.usable;
            !(embedded && req <= usable && req >= usable * 3 / 4)
        }
        Some(_) => {
            if p.layout.hashtable_v9 {
                embedded
            } else {
                sds_req_size8(p, flen) + vlen + 4 <= EMBED_VALUE_MAX
            }
        }
    };
    if !renew {
        match f.value.replace(copy) {
            None => {
                f.value = None;
                mem.heap.zfree(copy);
            }
            Some(old) => mem.heap.zfree(old),
        }
        f.vlen = vlen;
        return;
    }
    let (entry, value) = vk_entry(mem, flen, vlen, copy);
    if let Some(v) = f.value.take() {
        mem.heap.zfree(v);
    }
    mem.heap.zfree(f.entry);
    f.entry = entry;
    f.value = value;
    f.vlen = vlen;
}

impl HashValue {
    /// `hashTypeConvertListpack`: a dict presized for the current length, every field and value
    /// copied into new sds strings, the listpack freed.
    fn convert(&mut self, mem: &mut Mem<'_>) {
        if let (Encoding::Listpack(lp, _, items), TableKind::Hashtable) =
            (&self.enc, mem.profile.layout.table)
        {
            // Valkey 8.1+: `hashtableCreate`, presized (`hashtableExpand`), then per field its
            // field and value sds (`hashTypeCurrentObjectNewSds`), the entry (the value's sds
            // freed when embedded), `hashtableAdd`, the field's sds freed; the listpack last.
            let p = mem.profile;
            let mut t = Box::new(VkTable::new(mem.heap, p, Kind::Hash));
            t.expand(mem.heap, items.len() as u64);
            let mut fields = DetMap::default();
            for i in items.iter() {
                let flen = i.name.len() as u64;
                let fs = mem.heap.zmalloc(p.sds_request(flen));
                let vs = mem.heap.zmalloc(p.sds_request(i.value_len));
                let (req, embedded) = entry_request(p, flen, i.value_len);
                let entry = mem.heap.zmalloc(req);
                let value = if embedded {
                    mem.heap.zfree(vs);
                    None
                } else {
                    Some(vs)
                };
                mem.heap.zfree(fs);
                let hash = mem.member_hash(i.name);
                let id = t.insert(mem.heap, hash, ());
                fields.insert(
                    i.name.to_vec(),
                    VkField {
                        entry,
                        value,
                        id,
                        vlen: i.value_len,
                    },
                );
            }
            mem.heap.zfree(*lp);
            self.enc = Encoding::Vk(t, fields);
            return;
        }
        if let Encoding::Listpack(lp, _, items) = &self.enc {
            let d = mem.heap.zmalloc(mem.profile.dict);
            let mut dict = Dict::default();
            dict.expand(mem.heap, items.len() as u64, mem.profile.dict_initial_size);
            let mut fields = DetMap::default();
            for i in items.iter() {
                let hf = table_field(mem, &mut dict, i.name.len() as u64, i.value_len, &fields);
                fields.insert(i.name.to_vec(), hf);
            }
            mem.heap.zfree(*lp);
            self.enc = Encoding::Table(d, dict, fields);
        }
    }
}

impl ValueType for HashValue {
    fn free(self, mem: &mut Mem<'_>) {
        match self.enc {
            Encoding::Listpack(lp, _, _) => mem.heap.zfree(lp),
            Encoding::Table(d, mut t, mut fields) => {
                let order = mem.walk_order(fields.keys().cloned().collect());
                for name in order {
                    let f = fields.remove(&name).expect("listed field");
                    mem.heap.zfree(f.field);
                    mem.heap.zfree(f.value);
                    mem.heap.zfree(f.entry);
                }
                t.clear(mem.heap);
                mem.heap.zfree(d);
            }
            Encoding::Vk(t, fields) => {
                let by_id: DetMap<u32, VkField> = fields.into_values().map(|f| (f.id, f)).collect();
                (*t).release_ids(mem.heap, |h, id| {
                    let f = &by_id[&id];
                    if let Some(v) = f.value {
                        h.zfree(v);
                    }
                    h.zfree(f.entry);
                });
            }
        }
        mem.heap.zfree(self.robj);
    }

    /// Listpack: the robj and the listpack's block; dict: the robj, the dict struct, its
    /// buckets, then per field its two sds blocks and a `sizeof(dictEntry)`.
    fn object_size(&self, arena: &Arena, profile: &RedisProfile) -> u64 {
        match &self.enc {
            Encoding::Listpack(lp, _, _) => profile.robj + arena.usable_size(lp.id),
            Encoding::Table(_, dict, fields) => {
                let asize = profile.robj + profile.dict + 8 * dict.slots();
                let elesize: u64 = fields
                    .values()
                    .map(|f| {
                        arena.usable_size(f.field.id) + arena.usable_size(f.value.id) + profile.dict_entry
                    })
                    .sum();
                let n = fields.len() as u64;
                add_sampled(asize, elesize, n, n)
            }
            // `hashtableMemUsage` and per field `hashTypeEntryMemUsage`/`entryMemUsage`: the
            // entry's usable size, plus a separate value's sds.
            Encoding::Vk(t, fields) => {
                let elesize: u64 = fields
                    .values()
                    .map(|f| arena.usable_size(f.entry.id) + f.value.map_or(0, |v| arena.usable_size(v.id)))
                    .sum();
                let n = fields.len() as u64;
                add_sampled(profile.robj + t.mem_usage(), elesize, n, n)
            }
        }
    }

    fn structure(&self, _profile: &RedisProfile) -> (u64, u64) {
        let robj = self.robj.requested as u64;
        match &self.enc {
            Encoding::Listpack(lp, bytes, _) => {
                let (req, grown) = listpack_structure(*lp, *bytes);
                (robj + req, grown)
            }
            Encoding::Table(d, dict, fields) => {
                let tables: u64 = dict.tables().map(|t| t.requested as u64).sum();
                let fields: u64 = fields
                    .values()
                    .map(|f| (f.entry.requested + f.field.requested + f.value.requested) as u64)
                    .sum();
                (robj + d.requested as u64 + tables + fields, 0)
            }
            Encoding::Vk(t, fields) => {
                let fields: u64 = fields
                    .values()
                    .map(|f| (f.entry.requested + f.value.map_or(0, |v| v.requested)) as u64)
                    .sum();
                (robj + t.mem_usage() + fields, 0)
            }
        }
    }

    fn encoding(&self) -> &'static str {
        match &self.enc {
            Encoding::Listpack(..) => "listpack",
            Encoding::Table(..) | Encoding::Vk(..) => "hashtable",
        }
    }

    /// The robj, then the listpack; or the dict struct, its bucket tables, and per field its
    /// `dictEntry` and two sds; or (Valkey 8.1+) the hashtable and per field its entry (field
    /// and value in one block, or the value's sds beside it).
    fn blocks(&self, arena: &Arena, profile: &RedisProfile) -> Vec<BlockKind> {
        let mut b = Blocks::default();
        b.alloc("robj", self.robj);
        match &self.enc {
            Encoding::Listpack(lp, _, _) => b.alloc("listpack", *lp),
            Encoding::Table(d, dict, fields) => {
                b.alloc("dict struct", *d);
                for table in dict.tables() {
                    b.alloc("field table (8 B buckets)", table);
                }
                for f in fields.values() {
                    b.add(
                        "field dictEntry",
                        profile.dict_entry,
                        arena.usable_size(f.entry.id),
                    );
                    b.alloc("field name sds", f.field);
                    b.alloc("field value sds", f.value);
                }
            }
            Encoding::Vk(t, fields) => {
                let bytes = t.mem_usage();
                b.add("hashtable struct and buckets (64 B)", bytes, bytes);
                for f in fields.values() {
                    match f.value {
                        None => b.alloc("entry: field and value", f.entry),
                        Some(v) => {
                            b.alloc("entry: field and the value's pointer", f.entry);
                            b.alloc("value sds", v);
                        }
                    }
                }
            }
        }
        b.into_vec()
    }

    fn footprint(&self, arena: &Arena) -> u64 {
        match &self.enc {
            Encoding::Listpack(lp, _, _) => arena.footprint(lp.id),
            Encoding::Table(_, _, fields) => fields
                .values()
                .map(|f| arena.footprint(f.field.id) + arena.footprint(f.value.id))
                .sum(),
            Encoding::Vk(_, fields) => fields
                .values()
                .map(|f| arena.footprint(f.entry.id) + f.value.map_or(0, |v| arena.footprint(v.id)))
                .sum(),
        }
    }
}

impl Aggregate for HashValue {
    /// `createHashObject`: `lpNew` (an empty listpack, 7 bytes), then the robj.
    fn create(mem: &mut Mem<'_>, _cmd: Cmd, _args: &[&[u8]]) -> Self {
        let lp = mem.heap.zmalloc(LISTPACK_OVERHEAD);
        let robj = mem.heap.zmalloc(mem.profile.robj);
        HashValue {
            robj,
            enc: Encoding::Listpack(lp, LISTPACK_OVERHEAD, LpFields::default()),
        }
    }

    /// `hsetCommand` on field/value pairs: `hashTypeTryConversion` first (any argument longer
    /// than `hash-max-listpack-value` converts), then `hashTypeSet` per pair (a listpack
    /// reallocated when it outgrows its block, converted once it holds more than
    /// `hash-max-listpack-entries` fields; in a dict, a new value sds per replaced value, new
    /// sds strings and an entry per new field).
    fn write(&mut self, mem: &mut Mem<'_>, cmd: Cmd, pairs: &[&[u8]]) -> i64 {
        if cmd == Cmd::Hdel {
            return self.delete(mem, pairs);
        }
        let mut payload_delta = 0i64;
        if let (Encoding::Listpack(_, _, items), TableKind::Hashtable) = (&self.enc, mem.profile.layout.table)
        {
            // Valkey's `hashTypeTryConversion`: more new pairs than a listpack holds make a
            // hashtable presized for them (`hashtableExpand` after the conversion).
            let n = (pairs.len() / 2) as u64;
            if n > mem.profile.hash_max_listpack_entries {
                let _ = items;
                self.convert(mem);
                if let Encoding::Vk(t, _) = &mut self.enc {
                    t.expand(mem.heap, n);
                }
            }
        }
        if matches!(self.enc, Encoding::Listpack(..))
            && pairs
                .iter()
                .any(|a| a.len() as u64 > mem.profile.hash_max_listpack_value)
        {
            self.convert(mem);
        }
        if let Encoding::Listpack(_, _, items) = &mut self.enc {
            items.reserve(pairs);
        }
        for p in pairs.chunks(2) {
            let (f, v) = (&p[0], &p[1]);
            match &mut self.enc {
                Encoding::Listpack(lp, bytes, items) => {
                    if let Some(i) = items.get(f) {
                        payload_delta += v.len() as i64 - i.value_len as i64;
                        let entry = listpack_entry(v);
                        *bytes = *bytes - i.value_entry + entry;
                        let range = i.value_at..i.value_end;
                        items.set_value(range, v.len() as u64, entry);
                    } else {
                        payload_delta += (f.len() + v.len()) as i64;
                        *bytes += listpack_entry(f) + listpack_entry(v);
                        items.push(f, v);
                    }
                    if *bytes > lp.usable {
                        *lp = mem.heap.zrealloc(*lp, *bytes);
                    }
                    if items.len() as u64 > mem.profile.hash_max_listpack_entries {
                        self.convert(mem);
                    }
                }
                Encoding::Vk(t, fields) => {
                    if let Some(hf) = fields.get_mut(*f) {
                        // hashtableFindPositionForInsert finds it: the lookup's step.
                        payload_delta += v.len() as i64 - hf.vlen as i64;
                        t.lookup(mem.heap);
                        vk_replace(mem, f, hf, v.len() as u64);
                    } else {
                        payload_delta += (f.len() + v.len()) as i64;
                        let hf = vk_field(mem, t, f, v.len() as u64);
                        fields.insert(f.to_vec(), hf);
                    }
                }
                Encoding::Table(_, dict, fields) => {
                    dict.rehash_steps(mem.heap, 1); // dictFind
                    if let Some(hf) = fields.get_mut(*f) {
                        payload_delta += v.len() as i64 - hf.vlen as i64;
                        hf.vlen = v.len() as u64;
                        let nv = mem.heap.zmalloc(mem.profile.sds_request(v.len() as u64));
                        let old = std::mem::replace(&mut hf.value, nv);
                        mem.heap.zfree(old);
                    } else {
                        let hf = table_field(mem, dict, f.len() as u64, v.len() as u64, fields);
                        payload_delta += (f.len() + v.len()) as i64;
                        fields.insert(f.to_vec(), hf);
                    }
                }
            }
        }
        payload_delta
    }

    fn is_empty(&self) -> bool {
        match &self.enc {
            Encoding::Listpack(_, _, items) => items.len() == 0,
            Encoding::Table(_, _, fields) => fields.is_empty(),
            Encoding::Vk(_, fields) => fields.is_empty(),
        }
    }

    fn into_value(self) -> Value {
        Value::Hash(Box::new(self))
    }

    fn of_value(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Hash(h) => Some(&mut **h),
            _ => None,
        }
    }
}

impl HashValue {
    /// `hdelCommand`: `hashTypeDelete` per field until the hash is empty (the key then goes).
    /// A listpack loses the field's two entries (`lpDeleteRangeWithEntry`, the block shrunk
    /// to the new length); a Valkey hashtable pops the entry (`hashtableDelete`: the lookup's
    /// step, the chain compacted, a shrink when due), then frees it (the value's sds, then the
    /// entry). Returns the payload's change.
    fn delete(&mut self, mem: &mut Mem<'_>, names: &[&[u8]]) -> i64 {
        let mut delta = 0i64;
        if let Encoding::Vk(t, _) = &mut self.enc {
            t.pause_shrink(mem.profile);
        }
        for name in names {
            match &mut self.enc {
                Encoding::Listpack(lp, bytes, items) => {
                    let Some(i) = items.get(name) else { continue };
                    let (vlen, ventry) = (i.value_len, i.value_entry);
                    delta -= (name.len() as u64 + vlen) as i64;
                    *bytes -= listpack_entry(name) + ventry;
                    items.remove(name);
                    *lp = mem.heap.zrealloc(*lp, *bytes);
                }
                Encoding::Vk(t, fields) => match fields.remove(*name) {
                    Some(f) => {
                        delta -= (name.len() as u64 + f.vlen) as i64;
                        t.remove(mem.heap, f.id);
                        if let Some(v) = f.value {
                            mem.heap.zfree(v);
                        }
                        mem.heap.zfree(f.entry);
                    }
                    None => {
                        if t.len() > 0 {
                            t.lookup(mem.heap);
                        }
                    }
                },
                Encoding::Table(..) => {}
            }
            if self.is_empty() {
                break;
            }
        }
        let empty = self.is_empty();
        if let Encoding::Vk(t, _) = &mut self.enc {
            if !empty {
                t.resume_shrink(mem.heap, mem.profile);
            }
        }
        delta
    }
}

impl Server {
    /// `HDEL key field [field ...]` (listpacks and Valkey 8.1+'s hashtables).
    pub(super) fn hdel_command(&mut self, argv: &[&[u8]]) -> Result<(), Reply> {
        if argv.len() < 3 {
            return unsupported("HDEL needs fields");
        }
        let (keyspace, mut mem) = self.keyspace_mem();
        keyspace.write::<HashValue>(&mut mem, argv[1], Cmd::Hdel, &argv[2..], false);
        Ok(())
    }

    /// `HSET`/`HMSET key field value [field value ...]`.
    pub(super) fn hset_command(&mut self, argv: &[&[u8]]) -> Result<(), Reply> {
        if argv.len() < 4 || argv.len() % 2 != 0 {
            return unsupported("HSET needs field/value pairs");
        }
        let (keyspace, mut mem) = self.keyspace_mem();
        keyspace.write::<HashValue>(&mut mem, argv[1], Cmd::Hset, &argv[2..], true);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packed fields read back what was written, through values whose varints change
    /// width when replaced (1, 2 and 3 bytes), names of every length up to 300 bytes.
    #[test]
    fn packed_fields_read_back() {
        let mut lp = LpFields::default();
        let mut model: Vec<(Vec<u8>, u64, u64)> = Vec::new();
        let sizes = [0usize, 1, 12, 127, 128, 200, 16_383, 16_384, 70_000];
        for i in 0..300usize {
            let f: Vec<u8> = (0..i).map(|k| (k * 7 + i) as u8).collect();
            let v = vec![b'x'; sizes[i % sizes.len()]];
            lp.reserve(&[&f, &v]);
            lp.push(&f, &v);
            model.push((f, v.len() as u64, listpack_entry(&v)));
        }
        for i in (0..300usize).step_by(7) {
            let v = vec![b'y'; sizes[(i + 3) % sizes.len()]];
            let it = lp.get(&model[i].0).expect("a field");
            let range = it.value_at..it.value_end;
            lp.set_value(range, v.len() as u64, listpack_entry(&v));
            model[i].1 = v.len() as u64;
            model[i].2 = listpack_entry(&v);
        }
        assert_eq!(lp.len(), 300);
        let got: Vec<(Vec<u8>, u64, u64)> = lp
            .iter()
            .map(|i| (i.name.to_vec(), i.value_len, i.value_entry))
            .collect();
        assert_eq!(got, model);
        assert!(lp.get(b"absent").is_none());
    }
}
