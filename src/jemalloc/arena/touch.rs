//! Which pages the application has written: writing an object's bytes makes the pages under them
//! resident (counted in RSS) until the page allocator purges them.

use super::obj::{Handle, Kind};
use super::{Arena, ObjId};

impl Arena {
    /// The application writes the first `written` bytes of live object `id`.
    pub(super) fn touch(&mut self, id: ObjId, written: u64) {
        self.touch_range(id, 0, written);
    }

    /// The application writes the first `written` bytes (at most `size`) of live small object
    /// `id`, whose class size is `size`: [`Arena::touch`] for a small object.
    pub(super) fn touch_small(&mut self, id: ObjId, size: u64, written: u64) {
        if written == 0 {
            return;
        }
        let start = self.small_start(id >> 1, size);
        self.touch_bytes(start, start + written);
    }

    /// The application writes bytes `[from, to)` of live object `id` (clamped to its usable
    /// size): their pages become resident.
    #[inline]
    pub fn write(&mut self, id: ObjId, from: u64, to: u64) {
        if let Handle::Small(rid) = Handle::of(id) {
            // The usable size and the start from one look-up of the slab.
            let (s, _) = self.region(rid);
            let size = self.sc.class(self.slabs[s as usize].bin as usize).size;
            let to = to.min(size);
            if to > from {
                let start = self.small_start(rid, size);
                self.touch_bytes(start + from, start + to);
            }
            return;
        }
        self.write_large(id, from, to);
    }

    /// [`Arena::write`] of a large object: its table entry read once for the usable size and
    /// the place (the usable size of a free slot is 0: nothing is written).
    fn write_large(&mut self, id: ObjId, from: u64, to: u64) {
        let Handle::Large(i) = Handle::of(id) else {
            unreachable!("a large object's id is odd")
        };
        let o = self.large[i as usize];
        let lg = self.sc.lg_page;
        let pac = match o.kind() {
            Kind::Large => &mut self.pac,
            Kind::Huge => self.huge.as_deref_mut().expect("huge arena exists"),
            Kind::Free => return,
        };
        let to = to.min((o.aux as u64) << lg);
        if to <= from {
            return;
        }
        let start = (pac.first_page(o.place) << lg) + o.offset() as u64;
        let (a, b) = (start + from, start + to);
        pac.touched.set_range(a >> lg, b.div_ceil(1 << lg));
    }

    /// The address (in the model's address space) of the first byte of small object `rid`, whose
    /// class size is `size`.
    #[inline]
    pub(super) fn small_start(&self, rid: u32, size: u64) -> u64 {
        let (s, r) = self.region(rid);
        (self.slabs[s as usize].first_page() << self.sc.lg_page) + r as u64 * size
    }

    /// Marks the pages under addresses `[a, b)` of this arena as written; `a < b`.
    #[inline]
    fn touch_bytes(&mut self, a: u64, b: u64) {
        debug_assert!(a < b);
        let lg = self.sc.lg_page;
        let (first, last) = (a >> lg, (b - 1) >> lg);
        if first == last {
            self.pac.touched.set(first);
        } else {
            self.pac.touched.set_range(first, last + 1);
        }
    }

    /// Marks the pages under bytes `[from, to)` of object `id` as written, in the page allocator
    /// that holds the object.
    fn touch_range(&mut self, id: ObjId, from: u64, to: u64) {
        if to <= from {
            return;
        }
        let lg = self.sc.lg_page;
        let (pac, start) = match Handle::of(id) {
            Handle::Small(rid) => {
                let (s, r) = self.region(rid);
                let slab = &self.slabs[s as usize];
                let size = self.sc.class(slab.bin as usize).size;
                (&mut self.pac, (slab.first_page() << lg) + r as u64 * size)
            }
            Handle::Large(i) => {
                let o = self.large[i as usize];
                let pac = match o.kind() {
                    Kind::Large => &mut self.pac,
                    Kind::Huge => self.huge.as_deref_mut().expect("huge arena exists"),
                    Kind::Free => return,
                };
                let start = (pac.first_page(o.place) << lg) + o.offset() as u64;
                (pac, start)
            }
        };
        let (a, b) = (start + from, start + to);
        pac.touched.set_range(a >> lg, b.div_ceil(1 << lg));
    }
}
