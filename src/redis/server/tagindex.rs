//! The index the model's own tables share (the keyspace's key records, a dict set's members, a
//! skiplist's members): record numbers found by a 32-bit tag (the top half of a hash of the
//! name), open addressing with linear probing. A slot holds the tag (which also places it) and
//! the record number in 8 bytes, so a probe reads one cache line and growing never reads a
//! record. Deletion shifts the following slots back (no tombstones). Filled at most 3/4.

/// An empty slot.
const EMPTY: u64 = u64::MAX;

/// Record numbers by tag (see the module's notes).
#[derive(Debug, Clone, Default)]
pub(super) struct TagIndex {
    slots: Vec<u64>,
    /// 32 - log2(slots.len()).
    shift: u32,
    len: usize,
}

impl TagIndex {
    /// The tag's home slot: its top bits after a multiplication by an odd constant, so that
    /// tags inserted in sorted order (a set copied in walk order) spread over the table.
    fn home(&self, tag: u32) -> usize {
        (tag.wrapping_mul(0x9e37_79b1) >> self.shift) as usize
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The home slot's address, for a prefetch.
    pub(super) fn home_ptr(&self, tag: u32) -> Option<*const u64> {
        (!self.slots.is_empty()).then(|| &self.slots[self.home(tag)] as *const u64)
    }

    /// The first record tagged `tag` that `is` accepts.
    pub(super) fn find(&self, tag: u32, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = self.home(tag);
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            if (s >> 32) as u32 == tag && is(s as u32) {
                return Some(s as u32);
            }
            i = (i + 1) & self.mask();
        }
    }

    /// Files record `r` under `tag`.
    pub(super) fn insert(&mut self, tag: u32, r: u32) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.rebuild((self.slots.len() * 2).max(16));
        }
        self.place((tag as u64) << 32 | r as u64);
        self.len += 1;
    }

    /// Puts slot value `s` in the first free slot from its home.
    fn place(&mut self, s: u64) {
        let mask = self.mask();
        let mut i = self.home((s >> 32) as u32);
        while self.slots[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = s;
    }

    fn rebuild(&mut self, cap: usize) {
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; cap]);
        self.shift = 32 - cap.trailing_zeros();
        for s in old.into_iter().filter(|&s| s != EMPTY) {
            self.place(s);
        }
    }

    /// The slot holding record `r` tagged `tag` (it is in the index).
    fn slot_of(&self, tag: u32, r: u32) -> usize {
        let want = (tag as u64) << 32 | r as u64;
        let mut i = self.home(tag);
        while self.slots[i] != want {
            assert!(self.slots[i] != EMPTY, "an indexed record");
            i = (i + 1) & self.mask();
        }
        i
    }

    /// Record `r` tagged `tag` is record `to` now.
    pub(super) fn repoint(&mut self, tag: u32, r: u32, to: u32) {
        let i = self.slot_of(tag, r);
        self.slots[i] = (tag as u64) << 32 | to as u64;
    }

    /// Removes record `r` tagged `tag` (it is in the index): each following slot of its run
    /// moves into the hole unless its home lies cyclically after the hole (then it is already
    /// as close to home as it can be).
    pub(super) fn remove(&mut self, tag: u32, r: u32) {
        let mask = self.mask();
        let mut hole = self.slot_of(tag, r);
        let mut j = (hole + 1) & mask;
        loop {
            let s = self.slots[j];
            if s == EMPTY {
                break;
            }
            let home = self.home((s >> 32) as u32);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = s;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
    }

    /// Halves a table filled below 3/32 (not below 16 slots).
    pub(super) fn shrink_if_sparse(&mut self) {
        if self.slots.len() > 16 && self.len * 32 < self.slots.len() * 3 {
            self.rebuild(self.slots.len() / 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inserts, finds, repoints and removes, across growth and with colliding tags, against a
    /// plain map.
    #[test]
    fn the_index_finds_what_a_map_finds() {
        let mut ix = TagIndex::default();
        let mut map = std::collections::BTreeMap::new();
        let tag = |r: u32| (r % 97).wrapping_mul(0x0101_0101);
        for r in 0..1000u32 {
            ix.insert(tag(r), r);
            map.insert(r, tag(r));
        }
        for r in (0..1000u32).step_by(3) {
            ix.remove(tag(r), r);
            map.remove(&r);
        }
        ix.repoint(tag(1), 1, 5000);
        map.remove(&1);
        map.insert(5000, tag(1));
        assert_eq!(ix.len, map.len());
        for (&r, &t) in &map {
            assert_eq!(ix.find(t, |x| x == r), Some(r));
        }
        assert_eq!(ix.find(tag(3), |x| x == 3), None);
        for &r in map.keys().collect::<Vec<_>>() {
            ix.remove(map[&r], r);
            ix.shrink_if_sparse();
        }
        assert_eq!(ix.len, 0);
        assert_eq!(ix.slots.len(), 16);
    }
}
