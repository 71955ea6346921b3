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

use super::dispatch::{unsupported, Reply};
use super::value::{Aggregate, Mem, Value, ValueType};
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

/// The fields of a listpack-encoded hash: their names, one after another in one buffer, and
/// per field where its name is and what its value takes (the value's bytes are not kept: only
/// its length and its listpack entry's size matter).
#[derive(Debug, Clone, Default)]
struct LpFields {
    names: Vec<u8>,
    items: Vec<LpItem>,
}

/// One field of a listpack: its name (`names[name_at..name_at + name_len]`), its value's length
/// as the client sent it and the bytes of the value's listpack entry.
#[derive(Debug, Clone, Copy)]
struct LpItem {
    name_at: u32,
    name_len: u32,
    value_len: u64,
    value_entry: u64,
}

impl LpFields {
    fn name(&self, i: &LpItem) -> &[u8] {
        &self.names[i.name_at as usize..(i.name_at + i.name_len) as usize]
    }

    fn position(&self, f: &[u8]) -> Option<usize> {
        self.items.iter().position(|i| self.name(i) == f)
    }

    fn push(&mut self, f: &[u8], v: &[u8]) {
        let name_at = u32::try_from(self.names.len()).expect("a listpack's names are under 4 GiB");
        self.names.extend_from_slice(f);
        self.items.push(LpItem {
            name_at,
            name_len: f.len() as u32,
            value_len: v.len() as u64,
            value_entry: listpack_entry(v),
        });
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

#[derive(Debug, Clone)]
enum Encoding {
    /// The listpack block, its byte length, and its fields.
    Listpack(Alloc, u64, LpFields),
    /// The dict struct, its tables, and the field entries by name.
    Table(Alloc, Dict, DetMap<Vec<u8>, HashField>),
}

/// A hash value: its robj and its encoding.
#[derive(Debug, Clone)]
pub(super) struct HashValue {
    robj: Alloc,
    enc: Encoding,
}

/// One field of the dict encoding: new sds strings for a field of `flen` bytes and its value of
/// `vlen`, then its dict entry (`dictAdd` grows the table first).
fn table_field(mem: &mut Mem<'_>, dict: &mut Dict, flen: u64, vlen: u64) -> HashField {
    let field = mem.heap.zmalloc(mem.profile.sds_request(flen));
    let value = mem.heap.zmalloc(mem.profile.sds_request(vlen));
    dict.add(mem.heap, mem.profile.dict_initial_size);
    let entry = mem.heap.zmalloc(mem.profile.dict_entry);
    HashField {
        entry,
        field,
        value,
        vlen,
    }
}

impl HashValue {
    /// `hashTypeConvertListpack`: a dict presized for the current length, every field and value
    /// copied into new sds strings, the listpack freed.
    fn convert(&mut self, mem: &mut Mem<'_>) {
        if let Encoding::Listpack(lp, _, items) = &self.enc {
            let d = mem.heap.zmalloc(mem.profile.dict);
            let mut dict = Dict::default();
            dict.expand(mem.heap, items.len() as u64, mem.profile.dict_initial_size);
            let mut fields = DetMap::default();
            for i in &items.items {
                let f = items.name(i);
                let hf = table_field(mem, &mut dict, f.len() as u64, i.value_len);
                fields.insert(f.to_vec(), hf);
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
        }
        mem.heap.zfree(self.robj);
    }

    fn footprint(&self, arena: &Arena) -> u64 {
        match &self.enc {
            Encoding::Listpack(lp, _, _) => arena.footprint(lp.id),
            Encoding::Table(_, _, fields) => fields
                .values()
                .map(|f| arena.footprint(f.field.id) + arena.footprint(f.value.id))
                .sum(),
        }
    }
}

impl Aggregate for HashValue {
    /// `createHashObject`: `lpNew` (an empty listpack, 7 bytes), then the robj.
    fn create(mem: &mut Mem<'_>) -> Self {
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
    fn write(&mut self, mem: &mut Mem<'_>, pairs: &[&[u8]]) -> i64 {
        let mut payload_delta = 0i64;
        if matches!(self.enc, Encoding::Listpack(..))
            && pairs
                .iter()
                .any(|a| a.len() as u64 > mem.profile.hash_max_listpack_value)
        {
            self.convert(mem);
        }
        for p in pairs.chunks(2) {
            let (f, v) = (&p[0], &p[1]);
            match &mut self.enc {
                Encoding::Listpack(lp, bytes, items) => {
                    if let Some(i) = items.position(f) {
                        let item = &mut items.items[i];
                        payload_delta += v.len() as i64 - item.value_len as i64;
                        let entry = listpack_entry(v);
                        *bytes = *bytes - item.value_entry + entry;
                        item.value_len = v.len() as u64;
                        item.value_entry = entry;
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
                Encoding::Table(_, dict, fields) => {
                    dict.rehash_steps(mem.heap, 1); // dictFind
                    if let Some(hf) = fields.get_mut(*f) {
                        payload_delta += v.len() as i64 - hf.vlen as i64;
                        hf.vlen = v.len() as u64;
                        let nv = mem.heap.zmalloc(mem.profile.sds_request(v.len() as u64));
                        let old = std::mem::replace(&mut hf.value, nv);
                        mem.heap.zfree(old);
                    } else {
                        let hf = table_field(mem, dict, f.len() as u64, v.len() as u64);
                        payload_delta += (f.len() + v.len()) as i64;
                        fields.insert(f.to_vec(), hf);
                    }
                }
            }
        }
        payload_delta
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

impl Server {
    /// `HSET`/`HMSET key field value [field value ...]`.
    pub(super) fn hset_command(&mut self, argv: &[&[u8]]) -> Result<(), Reply> {
        if argv.len() < 4 || argv.len() % 2 != 0 {
            return unsupported("HSET needs field/value pairs");
        }
        let (keyspace, mut mem) = self.keyspace_mem();
        keyspace.write::<HashValue>(&mut mem, argv[1], &argv[2..]);
        Ok(())
    }
}
