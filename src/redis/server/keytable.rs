//! The table of keys: one packed record per key (36 bytes: the allocator objects of its dict
//! entry, name and small value, and what their sizes are computed from), found by name through
//! a hash index of record numbers. Names themselves are not kept: a name is known by two
//! independent hashes of it, so a key costs the simulator less than it costs Redis.
//!
//! The first hash is the one Redis's dict walk follows in the model (see
//! [`Mem::walk_order`](super::value::Mem::walk_order): SipHash under the run's seed), so the
//! table can list its keys in walk order without their names. Two names with the same first
//! hash (about one pair in 10^7 among 50 M keys) are told apart by the second, a 32-bit hash
//! of another function; two names would have to agree on all 96 bits (about once in 10^13
//! keyspaces of 50 M keys) to be taken for one key.

use std::hash::{Hash, Hasher};

use crate::jemalloc::ObjId;

/// No object (a key without a TTL has no expires entry).
pub(super) const NO_OBJ: ObjId = ObjId::MAX;

/// What a record's `val` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Held {
    /// A shared integer: nothing allocated.
    Shared,
    /// An INT-encoded robj: `val` is its object.
    Int,
    /// An embedded string: `val` is its object (robj and bytes in one block).
    Embstr,
    /// Any other value: `val` indexes the keyspace's table of boxed values.
    Boxed,
    /// A free record: `val` is the next free record.
    Free,
}

/// One key.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyRec {
    /// The name's walk-order hash, as two halves (4-byte alignment keeps the record at 36 B).
    h: [u32; 2],
    /// The name's second hash.
    check: u32,
    /// Bytes of the name.
    pub(super) name_len: u32,
    /// The main dict's entry and the name's sds.
    pub(super) entry: ObjId,
    pub(super) sds: ObjId,
    /// The expires dict's entry, or [`NO_OBJ`].
    pub(super) expire: ObjId,
    /// The value: see [`Held`].
    pub(super) val: u32,
    pub(super) held: Held,
    /// Bytes of an inline string value as the client sent it (at most 255).
    pub(super) vlen: u8,
}

impl KeyRec {
    /// The name's walk-order hash.
    pub(super) fn hash(&self) -> u64 {
        (self.h[0] as u64) << 32 | self.h[1] as u64
    }
}

/// A name, as the table knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeyName {
    h: u64,
    check: u32,
}

/// The table's identity of `name` under the run's hash seed `seed`.
pub(super) fn identify(seed: u64, name: &[u8]) -> KeyName {
    let mut s = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut s);
    name.hash(&mut s);
    KeyName {
        h: s.finish(),
        check: check_hash(name),
    }
}

/// A 32-bit hash of `name` by another function than SipHash (multiply-xorshift over 8-byte
/// words, then a final mix).
fn check_hash(name: &[u8]) -> u32 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut x = name.len() as u64 ^ 0x5851_f42d_4c95_7f2d;
    let mut chunks = name.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        x = (x ^ w).wrapping_mul(K).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    x = (x ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    x ^= x >> 32;
    x = x.wrapping_mul(0xd6e8_feb8_6659_fd93);
    (x ^ (x >> 32)) as u32
}

/// The records, the index, and the free records' list.
#[derive(Debug, Clone)]
pub(super) struct KeyTable {
    recs: Vec<KeyRec>,
    /// Record numbers, hashed by their name's walk-order hash.
    index: hashbrown::HashTable<u32>,
    /// The first free record ([`NO_OBJ`]: none).
    free: u32,
    len: u64,
}

impl Default for KeyTable {
    fn default() -> Self {
        KeyTable {
            recs: Vec::new(),
            index: hashbrown::HashTable::new(),
            free: NO_OBJ,
            len: 0,
        }
    }
}

impl KeyTable {
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// Keys held.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// The record of the key named `name`, if there is one.
    pub(super) fn find(&self, name: KeyName) -> Option<u32> {
        let recs = &self.recs;
        self.index
            .find(name.h, |&r| {
                let k = &recs[r as usize];
                k.hash() == name.h && k.check == name.check
            })
            .copied()
    }

    pub(super) fn get(&self, r: u32) -> &KeyRec {
        &self.recs[r as usize]
    }

    pub(super) fn get_mut(&mut self, r: u32) -> &mut KeyRec {
        &mut self.recs[r as usize]
    }

    /// Adds a key named `name` (not in the table) with its first objects; returns its record.
    pub(super) fn insert(&mut self, name: KeyName, name_len: u32, entry: ObjId, sds: ObjId) -> u32 {
        let rec = KeyRec {
            h: [(name.h >> 32) as u32, name.h as u32],
            check: name.check,
            name_len,
            entry,
            sds,
            expire: NO_OBJ,
            val: 0,
            held: Held::Shared,
            vlen: 0,
        };
        let r = if self.free != NO_OBJ {
            let r = self.free;
            self.free = self.recs[r as usize].val;
            self.recs[r as usize] = rec;
            r
        } else {
            assert!(self.recs.len() < NO_OBJ as usize, "more than 4 Gi keys");
            self.recs.push(rec);
            (self.recs.len() - 1) as u32
        };
        let recs = &self.recs;
        self.index.insert_unique(name.h, r, |&x| recs[x as usize].hash());
        self.len += 1;
        r
    }

    /// Removes record `r` (a live key) and returns what it held.
    pub(super) fn remove(&mut self, r: u32) -> KeyRec {
        let k = self.recs[r as usize];
        match self.index.find_entry(k.hash(), |&x| x == r) {
            Ok(e) => {
                e.remove();
            }
            Err(_) => unreachable!("a live record is indexed"),
        }
        let slot = &mut self.recs[r as usize];
        slot.held = Held::Free;
        slot.val = self.free;
        self.free = r;
        self.len -= 1;
        k
    }

    /// Every live key's record, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &KeyRec> {
        self.recs.iter().filter(|k| k.held != Held::Free)
    }

    /// Empties the table, handing every key's record to `each` in the dict walk's order (by
    /// walk-order hash).
    pub(super) fn drain_in_walk_order(&mut self, mut each: impl FnMut(KeyRec)) {
        let mut recs = std::mem::take(&mut self.recs);
        recs.retain(|k| k.held != Held::Free);
        recs.sort_unstable_by_key(|k| (k.hash(), k.check));
        for k in recs {
            each(k);
        }
        self.index = hashbrown::HashTable::new();
        self.free = NO_OBJ;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The walk-order hash is the one `Mem::walk_order` sorts names by (SipHash of the seed,
    /// then the name as a byte vector).
    #[test]
    fn the_first_hash_is_the_walk_orders() {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        7u64.hash(&mut h);
        b"user:1".to_vec().hash(&mut h);
        assert_eq!(identify(7, b"user:1").h, h.finish());
    }

    /// Keys are found by name, removed records are reused, and the walk order is the hash order.
    #[test]
    fn insert_find_remove_and_walk() {
        let mut t = KeyTable::new();
        let names: Vec<Vec<u8>> = (0..1000).map(|i| format!("k:{i}").into_bytes()).collect();
        for (i, n) in names.iter().enumerate() {
            let r = t.insert(identify(1, n), n.len() as u32, i as u32, 0);
            assert_eq!(r, i as u32);
        }
        assert_eq!(t.len(), 1000);
        assert_eq!(t.find(identify(1, b"k:17")), Some(17));
        assert_eq!(t.find(identify(2, b"k:17")), None);
        assert_eq!(t.remove(17).entry, 17);
        assert_eq!(t.find(identify(1, b"k:17")), None);
        assert_eq!(t.insert(identify(1, b"new"), 3, 5000, 0), 17);
        assert_eq!(t.find(identify(1, b"new")), Some(17));
        let mut seen = Vec::new();
        t.drain_in_walk_order(|k| seen.push(k.hash()));
        assert_eq!(seen.len(), 1000);
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(t.len(), 0);
        assert_eq!(t.find(identify(1, b"k:1")), None);
    }

    /// A name that shares the first hash with another key is a key of its own.
    #[test]
    fn names_with_the_same_first_hash_are_told_apart() {
        let mut t = KeyTable::new();
        let a = identify(1, b"a");
        let b = KeyName {
            h: a.h,
            check: a.check ^ 1,
        };
        let ra = t.insert(a, 1, 1, 0);
        assert_eq!(t.find(b), None);
        let rb = t.insert(b, 1, 2, 0);
        assert_ne!(ra, rb);
        assert_eq!(t.find(a), Some(ra));
        assert_eq!(t.find(b), Some(rb));
        t.remove(ra);
        assert_eq!(t.find(b), Some(rb));
    }

    #[test]
    fn a_record_is_36_bytes() {
        assert_eq!(std::mem::size_of::<KeyRec>(), 36);
    }
}
