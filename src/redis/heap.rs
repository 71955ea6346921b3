//! zmalloc on top of the allocator model: every allocation Redis makes goes through the jemalloc
//! arena, and `used_memory` counts the usable size of each live block, as `zmalloc_used_memory()`.

use crate::jemalloc::{AllocatorConfig, Arena, ArenaOptions, ObjId};

/// One live block: the allocator's object and the usable size `used_memory` counts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alloc {
    pub id: ObjId,
    /// The size Redis asked for (saturated at 4 GiB - 1): the rest of `usable` is size-class
    /// rounding.
    pub requested: u32,
    pub usable: u64,
}

/// The process heap: the arena of Redis's main thread and the zmalloc counter.
#[derive(Debug, Clone)]
pub struct Heap {
    pub arena: Arena,
    /// Bytes counted by zmalloc (`used_memory` minus the baseline).
    pub zmalloc_used: u64,
    /// Bytes allocated with plain malloc (the Lua heap on Debian): allocator only.
    pub other_used: u64,
    /// Bytes Redis asked zmalloc for, over the live blocks: `zmalloc_used` minus this is the
    /// size-class rounding of the data and structures Redis allocated.
    pub zmalloc_requested: u64,
}

impl Heap {
    pub fn new(cfg: &AllocatorConfig, seed: u64) -> Self {
        Heap {
            arena: Arena::new(
                cfg,
                ArenaOptions {
                    dedicated: false,
                    seed,
                },
            ),
            zmalloc_used: 0,
            other_used: 0,
            zmalloc_requested: 0,
        }
    }

    /// `zmalloc(size)`, the bytes then written.
    pub fn zmalloc(&mut self, size: u64) -> Alloc {
        let id = self
            .arena
            .malloc(size.max(1))
            .expect("Redis allocations are modelable");
        let usable = self.arena.usable_size(id);
        let requested = size.min(u32::MAX as u64) as u32;
        self.zmalloc_used += usable;
        self.zmalloc_requested += requested as u64;
        Alloc {
            id,
            requested,
            usable,
        }
    }

    /// `zfree(ptr)`.
    pub fn zfree(&mut self, a: Alloc) {
        self.zmalloc_used -= a.usable;
        self.zmalloc_requested -= a.requested as u64;
        self.arena.free(a.id);
    }

    /// `zrealloc(ptr, size)`: in place when the size class stays the same (jemalloc's
    /// `rallocx` no-move path), else a new block.
    pub fn zrealloc(&mut self, a: Alloc, size: u64) -> Alloc {
        let want = self.arena.usable_size_of(size.max(1)).expect("modelable");
        if want == a.usable {
            let requested = size.min(u32::MAX as u64) as u32;
            self.zmalloc_requested = self.zmalloc_requested - a.requested as u64 + requested as u64;
            return Alloc { requested, ..a };
        }
        let b = self.zmalloc(size);
        self.zfree(a);
        b
    }

    /// A plain `malloc` outside zmalloc's accounting (Lua on builds that link jemalloc for it).
    pub fn malloc_other(&mut self, size: u64) -> Alloc {
        let id = self.arena.malloc(size.max(1)).expect("modelable");
        let usable = self.arena.usable_size(id);
        self.other_used += usable;
        Alloc {
            id,
            requested: size.min(u32::MAX as u64) as u32,
            usable,
        }
    }

    pub fn free_other(&mut self, a: Alloc) {
        self.other_used -= a.usable;
        self.arena.free(a.id);
    }
}
