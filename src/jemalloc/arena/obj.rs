//! Object ids and what they lead to. An [`ObjId`] names where its object lives, without a table
//! entry per small object:
//!
//! * even ids are small objects: `id >> 1` is a *region id*. Each slab slot owns a contiguous
//!   range of region ids, `[base, base + nregs rounded up to 8)`, region `r` being `base + r`;
//!   [`RegionIds`] maps each group of 8 region ids to its slab (half a byte per region). A freed
//!   slab's slot, ids included, goes to the next slab of the same bin.
//! * odd ids are large objects: `id >> 1` indexes the table of large and huge objects ([`Obj`],
//!   12 bytes each), whose free slots are reused, most recently freed first.
//!
//! Both kinds of id are dense: a table indexed by id needs about twice as many slots as objects
//! ever live at once. `u32::MAX` is never an id (callers use it as "none").

use super::{AllocError, Arena, ObjId, NIL};
use crate::jemalloc::bin::SlabId;

/// Region ids there can be: small ids are `region id << 1`, which must fit 32 bits.
const MAX_REGION_IDS: u64 = 1 << 31;
/// Slots the large-object table can have: large ids are `index << 1 | 1`, `u32::MAX` excluded.
const MAX_LARGE_OBJECTS: u64 = (1 << 31) - 1;
/// Region ids a single request may consume at most: a thread-cache fill of up to 65,535
/// regions from fresh slabs, each slab's range rounded up to 8 ids (at most 8 per region), plus
/// one slab of the most regions a size class can have (8,192). Requests are refused
/// ([`AllocError::TooManyObjects`]) while fewer than this remain, so none runs out midway.
const REGION_IDS_PER_REQUEST: u64 = 1 << 20;

/// What an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handle {
    /// A region of a slab, by region id.
    Small(u32),
    /// An entry of the large-object table, by index.
    Large(u32),
}

impl Handle {
    #[inline]
    pub(super) fn of(id: ObjId) -> Handle {
        if id & 1 == 0 {
            Handle::Small(id >> 1)
        } else {
            Handle::Large(id >> 1)
        }
    }
}

/// The id of the small object with region id `rid`.
pub(super) fn small_id(rid: u32) -> ObjId {
    rid << 1
}

/// The id of the large object in slot `index` of the large-object table.
pub(super) fn large_id(index: u32) -> ObjId {
    index << 1 | 1
}

/// The slab of every group of 8 region ids, in the order the ranges were handed out.
#[derive(Debug, Clone, Default)]
pub(super) struct RegionIds {
    slab_of: Vec<SlabId>,
}

impl RegionIds {
    /// Hands slab `slab` of `nregs` regions the next free range; returns its first region id.
    pub(super) fn reserve(&mut self, nregs: u32, slab: SlabId) -> u32 {
        let base = self.slab_of.len() as u64 * 8;
        let groups = nregs.div_ceil(8) as u64;
        assert!(
            base + groups * 8 <= MAX_REGION_IDS,
            "out of small-object ids: slabs with more than 2^31 regions in all"
        );
        self.slab_of
            .resize((self.slab_of.len() as u64 + groups) as usize, slab);
        base as u32
    }

    /// The slab owning region id `rid`.
    #[inline]
    fn slab(&self, rid: u32) -> SlabId {
        self.slab_of[(rid >> 3) as usize]
    }

    /// Region ids not yet handed to any slab.
    #[inline]
    fn left(&self) -> u64 {
        MAX_REGION_IDS - self.slab_of.len() as u64 * 8
    }
}

/// What a large-object table slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Nothing: the slot is on the free list.
    Free = 0,
    /// A large extent of this arena.
    Large = 2,
    /// A large extent of the huge arena.
    Huge = 3,
}

/// One large object, 12 bytes: `meta` packs the kind (2 bits), the size class (12 bits) and the
/// byte offset of the object in its extent's first page (18 bits, the cache-oblivious
/// randomisation: room for pages up to 256 KiB; the model's are at most 64 KiB).
#[derive(Debug, Clone, Copy)]
pub(super) struct Obj {
    meta: u32,
    /// The extent id; for a free slot, the next free slot.
    pub(super) place: u32,
    /// Usable size in pages.
    pub(super) aux: u32,
}

impl Obj {
    pub(super) fn new(kind: Kind, class: u16, place: u32, aux: u32, offset: u32) -> Obj {
        debug_assert!(class < 1 << 12 && offset < 1 << 18);
        Obj {
            meta: kind as u32 | (class as u32) << 2 | offset << 14,
            place,
            aux,
        }
    }

    pub(super) fn kind(&self) -> Kind {
        match self.meta & 3 {
            2 => Kind::Large,
            3 => Kind::Huge,
            _ => Kind::Free,
        }
    }

    /// Size class index.
    pub(super) fn class(&self) -> u16 {
        ((self.meta >> 2) & 0xfff) as u16
    }

    /// Byte offset of the object in its extent's first page.
    pub(super) fn offset(&self) -> u32 {
        self.meta >> 14
    }

    pub(super) fn set_offset(&mut self, offset: u32) {
        debug_assert!(offset < 1 << 18);
        self.meta = (self.meta & 0x3fff) | offset << 14;
    }
}

impl Arena {
    /// Refuses a request when the ids could run out while serving it.
    #[inline]
    pub(super) fn check_id_room(&self) -> Result<(), AllocError> {
        // The large table's free list matters only once the table is full.
        let large_full = (self.large.len() as u64) >= MAX_LARGE_OBJECTS && self.free_large == NIL;
        if self.rids.left() < REGION_IDS_PER_REQUEST || large_full {
            return Err(AllocError::TooManyObjects);
        }
        Ok(())
    }

    /// Whether [`Arena::check_id_room`] passes, by two comparisons in the common case (ids far
    /// from running out).
    #[inline]
    pub(super) fn has_id_room(&self) -> bool {
        if self.rids.left() >= REGION_IDS_PER_REQUEST && (self.large.len() as u64) < MAX_LARGE_OBJECTS {
            return true;
        }
        self.check_id_room().is_ok()
    }

    /// The slab and region index of small object id `rid`.
    #[inline]
    pub(super) fn region(&self, rid: u32) -> (SlabId, u32) {
        let s = self.rids.slab(rid);
        (s, rid - self.slabs[s as usize].base)
    }

    /// The id of region `r` of slab `s`.
    pub(super) fn region_id(&self, s: SlabId, r: u32) -> ObjId {
        small_id(self.slabs[s as usize].base + r)
    }

    /// Puts `o` in a free slot of the large-object table (the most recently freed one) or a new
    /// one.
    pub(super) fn new_large(&mut self, o: Obj) -> ObjId {
        if self.free_large != NIL {
            let i = self.free_large;
            self.free_large = self.large[i as usize].place;
            self.large[i as usize] = o;
            large_id(i)
        } else {
            self.large.push(o);
            large_id((self.large.len() - 1) as u32)
        }
    }

    /// Frees large-object table slot `i`.
    pub(super) fn drop_large(&mut self, i: u32) {
        self.large[i as usize] = Obj::new(Kind::Free, 0, self.free_large, 0, 0);
        self.free_large = i;
    }

    /// Usable size of a live object (`malloc_usable_size`), bytes. Cheap: a small object's is
    /// its slab's class size, a large one's is in its table entry.
    pub fn usable_size(&self, id: ObjId) -> u64 {
        match Handle::of(id) {
            Handle::Small(rid) => {
                let (s, _) = self.region(rid);
                self.sc.class(self.slabs[s as usize].bin as usize).size
            }
            Handle::Large(i) => {
                let o = &self.large[i as usize];
                match o.kind() {
                    Kind::Large | Kind::Huge => (o.aux as u64) << self.sc.lg_page,
                    Kind::Free => 0,
                }
            }
        }
    }

    /// Bytes a live object holds in `stats.active`: its usable size, plus the pad page of a
    /// large extent in a cache-oblivious build.
    pub fn footprint(&self, id: ObjId) -> u64 {
        match Handle::of(id) {
            Handle::Small(_) => self.usable_size(id),
            Handle::Large(i) => {
                let o = &self.large[i as usize];
                match o.kind() {
                    Kind::Free => 0,
                    Kind::Large => self.pac.npages(o.place) << self.sc.lg_page,
                    Kind::Huge => {
                        let h = self.huge.as_deref().expect("huge arena exists");
                        h.npages(o.place) << self.sc.lg_page
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jemalloc::{AllocatorConfig, ArenaOptions};

    fn arena_without_tcache() -> Arena {
        let mut cfg = AllocatorConfig::jemalloc_5_3();
        cfg.tcache.enabled = false;
        Arena::new(&cfg, ArenaOptions::default())
    }

    /// Small ids are even and count the regions of their slab from its first id; the next slab
    /// takes the next range; an emptied slab's range goes to the bin's next slab; large ids are
    /// odd.
    #[test]
    fn ids_name_their_region_and_a_freed_slab_passes_its_ids_on() {
        let mut a = arena_without_tcache();
        let small: Vec<ObjId> = (0..3).map(|_| a.malloc(16).unwrap()).collect();
        assert_eq!(small, [0, 2, 4]);
        // The 16 B slab has 256 regions: the 48 B class's slab starts at region id 256.
        let other = a.malloc(48).unwrap();
        assert_eq!(other, 256 << 1);
        let big = a.malloc(1 << 20).unwrap();
        assert_eq!(big, 1);
        for id in small {
            a.free(id);
        }
        assert_eq!(a.malloc(16).unwrap(), 0);
        assert_eq!((a.usable_size(other), a.usable_size(big)), (48, 1 << 20));
        a.check_invariants().unwrap();
    }

    #[test]
    #[should_panic(expected = "double free of object 2")]
    fn a_second_free_of_a_region_panics() {
        let mut a = arena_without_tcache();
        let (_, id) = (a.malloc(16).unwrap(), a.malloc(16).unwrap());
        a.free(id);
        a.free(id);
    }

    #[test]
    #[should_panic(expected = "double free of object 1")]
    fn a_second_free_of_a_large_object_panics() {
        let mut a = arena_without_tcache();
        let id = a.malloc(1 << 20).unwrap();
        a.free(id);
        a.free(id);
    }
}
