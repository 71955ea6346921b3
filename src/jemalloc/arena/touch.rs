//! Which pages the application has written: writing an object's bytes makes the pages under them
//! resident (counted in RSS) until the page allocator purges them.

use super::obj::{Handle, Kind};
use super::{Arena, ObjId};

impl Arena {
    /// The application writes the first `written` bytes of live object `id`.
    pub(super) fn touch(&mut self, id: ObjId, written: u64) {
        self.touch_range(id, 0, written);
    }

    /// The application writes bytes `[from, to)` of live object `id` (clamped to its usable
    /// size): their pages become resident.
    pub fn write(&mut self, id: ObjId, from: u64, to: u64) {
        let to = to.min(self.usable_size(id));
        self.touch_range(id, from, to);
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
