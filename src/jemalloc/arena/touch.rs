//! Which pages the application has written: writing an object's bytes makes the pages under them
//! resident (counted in RSS) until the page allocator purges them.

use super::obj::Kind;
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
        let written = to - from;
        let o = self.objs[id as usize];
        let lg = self.sc.lg_page;
        match o.kind() {
            Kind::Small => {
                let s = &self.slabs[o.place as usize];
                let start = (self.pac.first_page(s.ext) << lg)
                    + o.aux as u64 * self.sc.class(o.class() as usize).size
                    + from;
                self.pac
                    .touched
                    .set_range(start >> lg, (start + written).div_ceil(1 << lg));
            }
            Kind::Large => {
                let start = (self.pac.first_page(o.place) << lg) + o.offset() as u64 + from;
                self.pac
                    .touched
                    .set_range(start >> lg, (start + written).div_ceil(1 << lg));
            }
            Kind::Huge => {
                let h = self.huge.as_mut().unwrap();
                let start = (h.first_page(o.place) << lg) + o.offset() as u64 + from;
                h.touched
                    .set_range(start >> lg, (start + written).div_ceil(1 << lg));
            }
            Kind::Free => {}
        }
    }
}
