//! zmalloc on top of the allocator model: every allocation Redis makes goes through the jemalloc
//! arena, and `used_memory` counts the usable size of each live block, as `zmalloc_used_memory()`.

use crate::jemalloc::{AllocatorConfig, Arena, ArenaOptions, ObjId};

/// One live block: the allocator's object and the usable size `used_memory` counts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alloc {
    pub id: ObjId,
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
        }
    }

    /// `zmalloc(size)`, the bytes then written.
    pub fn zmalloc(&mut self, size: u64) -> Alloc {
        let id = self
            .arena
            .malloc(size.max(1))
            .expect("Redis allocations are modelable");
        let usable = self.arena.usable_size(id);
        self.zmalloc_used += usable;
        Alloc { id, usable }
    }

    /// `zfree(ptr)`.
    pub fn zfree(&mut self, a: Alloc) {
        self.zmalloc_used -= a.usable;
        self.arena.free(a.id);
    }

    /// `zrealloc(ptr, size)`: in place when the size class stays the same (jemalloc's
    /// `rallocx` no-move path), else a new block.
    pub fn zrealloc(&mut self, a: Alloc, size: u64) -> Alloc {
        let want = self.arena.usable_size_of(size.max(1)).expect("modelable");
        if want == a.usable {
            return a;
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
        Alloc { id, usable }
    }

    pub fn free_other(&mut self, a: Alloc) {
        self.other_used -= a.usable;
        self.arena.free(a.id);
    }
}
