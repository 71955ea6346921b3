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

use super::tagindex::TagIndex;
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
    /// The key's hash slot in cluster mode (`keyHashSlot`), where each slot has tables of its
    /// own (see `keyspace/kvstore.rs`); 0 otherwise. Fills the record's padding.
    pub(super) slot: u16,
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

/// SipHash-1-3 with keys (0, 0), the hasher of `std`'s `DefaultHasher::new()`, with the run's
/// seed already absorbed: the walk-order hash of a name is SipHash-1-3 of the byte stream
/// `seed (8 bytes LE) ++ name length (8 bytes LE) ++ name` (what `seed.hash(h); name.hash(h)`
/// feeds the std hasher), and the seed's block is the same for every name of a run.
#[derive(Debug, Clone, Copy)]
pub(super) struct NameHasher {
    /// The state after the seed's block.
    v: [u64; 4],
}

/// One 8-byte block of the stream, with SipHash-1-3's one compression round.
#[inline(always)]
fn sip_block(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    crate::redis::siphash::round(v);
    v[0] ^= m;
}

impl NameHasher {
    /// The hasher of the run whose hash seed is `seed`.
    pub(super) fn new(seed: u64) -> Self {
        let mut v = [
            0x736f_6d65_7073_6575,
            0x646f_7261_6e64_6f6d,
            0x6c79_6765_6e65_7261,
            0x7465_6462_7974_6573,
        ];
        sip_block(&mut v, seed);
        NameHasher { v }
    }

    /// The walk-order hash of `name`.
    pub(super) fn hash(&self, name: &[u8]) -> u64 {
        let mut v = self.v;
        sip_block(&mut v, name.len() as u64);
        let mut chunks = name.chunks_exact(8);
        for c in &mut chunks {
            sip_block(&mut v, u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        let mut tail = 0u64;
        for (i, &b) in rest.iter().enumerate() {
            tail |= (b as u64) << (8 * i);
        }
        // The final block: the stream's length (mod 256) in the top byte, the tail below.
        let b = (((16 + name.len()) as u64 & 0xff) << 56) | tail;
        sip_block(&mut v, b);
        v[2] ^= 0xff;
        crate::redis::siphash::round(&mut v);
        crate::redis::siphash::round(&mut v);
        crate::redis::siphash::round(&mut v);
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }

    /// The table's identity of `name`.
    pub(super) fn identify(&self, name: &[u8]) -> KeyName {
        KeyName {
            h: self.hash(name),
            check: check_hash(name),
        }
    }
}

/// The table's identity of `name` under the run's hash seed `seed` (one name; a run makes a
/// [`NameHasher`] once).
#[cfg(test)]
pub(super) fn identify(seed: u64, name: &[u8]) -> KeyName {
    NameHasher::new(seed).identify(name)
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
#[derive(Debug, Clone, Default)]
pub(super) struct KeyTable {
    recs: Vec<KeyRec>,
    /// Record numbers by their name's walk-order hash.
    index: TagIndex,
    /// The first free record ([`NO_OBJ`]: none); a new table has none.
    free: Option<u32>,
    len: u64,
}

impl KeyTable {
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// Keys held.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Asks the processor to bring the index's slots for `name` into its cache (a hint: the
    /// next command's key, looked up while the current one runs).
    pub(super) fn prefetch(&self, name: KeyName) {
        #[cfg(target_arch = "x86_64")]
        if let Some(p) = self.index.home_ptr((name.h >> 32) as u32) {
            // SAFETY: a prefetch reads nothing the program sees and cannot fault; `p` points
            // into the index's slots.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = name;
    }

    /// The record of the key named `name`, if there is one.
    pub(super) fn find(&self, name: KeyName) -> Option<u32> {
        let recs = &self.recs;
        self.index.find((name.h >> 32) as u32, |r| {
            let k = &recs[r as usize];
            k.h[1] == name.h as u32 && k.check == name.check
        })
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
            slot: 0,
        };
        let r = match self.free {
            Some(r) => {
                let next = self.recs[r as usize].val;
                self.free = (next != NO_OBJ).then_some(next);
                self.recs[r as usize] = rec;
                r
            }
            None => {
                assert!(self.recs.len() < NO_OBJ as usize, "more than 4 Gi keys");
                self.recs.push(rec);
                (self.recs.len() - 1) as u32
            }
        };
        self.index.insert((name.h >> 32) as u32, r);
        self.len += 1;
        r
    }

    /// Removes record `r` (a live key) and returns what it held.
    pub(super) fn remove(&mut self, r: u32) -> KeyRec {
        let k = self.recs[r as usize];
        self.index.remove((k.hash() >> 32) as u32, r);
        let slot = &mut self.recs[r as usize];
        slot.held = Held::Free;
        slot.val = self.free.unwrap_or(NO_OBJ);
        self.free = Some(r);
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
        self.index = TagIndex::default();
        self.free = None;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A xorshift generator from `x` (not 0): the tests' random names and seeds.
    fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// The walk-order hash (what the key table and `Mem::walk_order` order names by) is std's
    /// SipHash of the seed, then the name as a byte vector, for names of every length around
    /// the block boundaries and random seeds.
    #[test]
    fn the_first_hash_is_the_walk_orders() {
        use std::hash::{Hash, Hasher};
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        for len in 0..300usize {
            for _ in 0..4 {
                let seed = next();
                let name: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let mut h = std::collections::hash_map::DefaultHasher::new();
                seed.hash(&mut h);
                name.hash(&mut h);
                assert_eq!(NameHasher::new(seed).hash(&name), h.finish(), "{len}");
            }
        }
    }

    /// The index against a map, through random inserts and removals, with names that share
    /// the index's tag (the hash's high half) and its home slots, so that runs form, wrap
    /// around the table's end and close up on removal.
    #[test]
    fn the_index_finds_what_a_map_finds() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
        let mut t = KeyTable::new();
        let mut live: Vec<(KeyName, u32)> = Vec::new();
        for step in 0..40_000u32 {
            let r = next();
            if r % 3 == 0 && !live.is_empty() {
                let i = (next() % live.len() as u64) as usize;
                let (name, rec) = live.swap_remove(i);
                assert_eq!(t.find(name), Some(rec));
                t.remove(rec);
                assert_eq!(t.find(name), None);
            } else {
                // Few distinct tags, many at the top or the bottom of the table.
                let tag = match next() % 32 {
                    0 => u32::MAX - (next() % 8) as u32,
                    1 => (next() % 8) as u32,
                    _ => next() as u32,
                };
                let name = KeyName {
                    h: (tag as u64) << 32 | next() & 0xffff_ffff,
                    check: next() as u32,
                };
                if t.find(name).is_some() {
                    continue;
                }
                let rec = t.insert(name, 1, step, 0);
                live.push((name, rec));
            }
            if step % 997 == 0 {
                assert_eq!(t.len(), live.len() as u64);
                for &(name, rec) in &live {
                    assert_eq!(t.find(name), Some(rec));
                }
            }
        }
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
