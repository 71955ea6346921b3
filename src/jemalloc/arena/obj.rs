//! The arena's table of simulated objects: what each live (or thread-cached) object is, where it
//! lives, and its usable size and footprint.

use super::{Arena, ObjId, NIL};

/// What an object table slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Nothing: the slot is on the free list.
    Free = 0,
    /// A region of a slab.
    Small = 1,
    /// A large extent of this arena.
    Large = 2,
    /// A large extent of the huge arena.
    Huge = 3,
}

/// One object, 12 bytes: `meta` packs the kind (2 bits), the size class (12 bits) and, for
/// large objects, the byte offset of the object in its extent's first page (18 bits, the
/// cache-oblivious randomisation: room for pages up to 256 KiB; the model's are at most 64 KiB).
#[derive(Debug, Clone, Copy)]
pub(super) struct Obj {
    meta: u32,
    /// Small: slab id. Large/huge: extent id. Free: next free object.
    pub(super) place: u32,
    /// Small: region index. Large/huge: usable size in pages.
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
            0 => Kind::Free,
            1 => Kind::Small,
            2 => Kind::Large,
            _ => Kind::Huge,
        }
    }

    /// Size class index.
    pub(super) fn class(&self) -> u16 {
        ((self.meta >> 2) & 0xfff) as u16
    }

    /// Byte offset of a large object in its extent's first page (0 for small objects).
    pub(super) fn offset(&self) -> u32 {
        self.meta >> 14
    }

    pub(super) fn set_offset(&mut self, offset: u32) {
        debug_assert!(offset < 1 << 18);
        self.meta = (self.meta & 0x3fff) | offset << 14;
    }
}

impl Arena {
    /// Puts `o` in a free slot of the table (the most recently freed one) or a new one.
    pub(super) fn new_obj(&mut self, o: Obj) -> ObjId {
        if self.free_obj != NIL {
            let id = self.free_obj;
            self.free_obj = self.objs[id as usize].place;
            self.objs[id as usize] = o;
            id
        } else {
            self.objs.push(o);
            (self.objs.len() - 1) as ObjId
        }
    }

    /// Frees slot `id`.
    pub(super) fn drop_obj(&mut self, id: ObjId) {
        self.objs[id as usize] = Obj::new(Kind::Free, 0, self.free_obj, 0, 0);
        self.free_obj = id;
    }

    /// Usable size of a live object (`malloc_usable_size`).
    pub fn usable_size(&self, id: ObjId) -> u64 {
        let o = &self.objs[id as usize];
        match o.kind() {
            Kind::Small => self.sc.class(o.class() as usize).size,
            Kind::Large | Kind::Huge => (o.aux as u64) << self.sc.lg_page,
            Kind::Free => 0,
        }
    }

    /// Bytes a live object holds in `stats.active`: its usable size, plus the pad page of a
    /// large extent in a cache-oblivious build.
    pub fn footprint(&self, id: ObjId) -> u64 {
        let o = &self.objs[id as usize];
        match o.kind() {
            Kind::Small | Kind::Free => self.usable_size(id),
            Kind::Large | Kind::Huge => {
                let pac = if o.kind() == Kind::Huge {
                    self.huge.as_deref().expect("huge arena exists")
                } else {
                    &self.pac
                };
                pac.npages(o.place) << self.sc.lg_page
            }
        }
    }
}
