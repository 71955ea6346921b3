//! zmalloc on top of the allocator model: every allocation Redis makes goes through the jemalloc
//! arena, and `used_memory` counts the usable size of each live block, as `zmalloc_used_memory()`.

use crate::jemalloc::trace::TraceOp;
use crate::jemalloc::{AllocatorConfig, Arena, ArenaOptions, ObjId};

/// The allocation trace of a heap, when recording: every malloc, free and purge in order, to be
/// replayed through the real allocator (`fragsim bench`).
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    pub ops: Vec<TraceOp>,
    /// The op that allocated each live object, by object id.
    op_of: Vec<u32>,
}

impl Recorder {
    /// Records `op`, which makes object `id` (known afterwards by this op's index).
    fn define(&mut self, id: ObjId, op: TraceOp) {
        let i = id as usize;
        if self.op_of.len() <= i {
            self.op_of.resize(i + 1, u32::MAX);
        }
        self.op_of[i] = self.ops.len() as u32;
        self.ops.push(op);
    }

    fn alloc(&mut self, id: ObjId, size: u64) {
        self.define(id, TraceOp::Alloc { size });
    }

    /// Records the reallocation of `old` (now `new`), unless it was allocated before recording
    /// started (then it is recorded as a new allocation).
    fn realloc(&mut self, old: ObjId, new: ObjId, size: u64) {
        let op = self
            .op_of
            .get_mut(old as usize)
            .map_or(u32::MAX, |slot| std::mem::replace(slot, u32::MAX));
        if op == u32::MAX {
            self.alloc(new, size);
        } else {
            self.define(new, TraceOp::Realloc { op, size });
        }
    }

    /// Records the free of `id`, unless it was allocated before recording started.
    fn free(&mut self, id: ObjId) {
        if let Some(slot) = self.op_of.get_mut(id as usize) {
            let op = std::mem::replace(slot, u32::MAX);
            if op != u32::MAX {
                self.ops.push(TraceOp::Free { op });
            }
        }
    }
}

/// One live block: the allocator's object and the usable size `used_memory` counts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alloc {
    pub id: ObjId,
    /// The size Redis asked for (saturated at 4 GiB - 1): the rest of `usable` is size-class
    /// rounding.
    pub requested: u32,
    pub usable: u64,
}

/// Owner tags of the live blocks, by object id (small and large ids apart, each dense): who
/// allocated each block, for [`crate::redis::Server::by_owner`]. One byte per id; kept only
/// when asked ([`Heap::track_owners`]).
#[derive(Debug, Clone, Default)]
struct Tags {
    small: Vec<u8>,
    large: Vec<u8>,
}

impl Tags {
    #[inline(always)]
    fn set(&mut self, id: ObjId, tag: u8) {
        let v = if id & 1 == 0 {
            &mut self.small
        } else {
            &mut self.large
        };
        match v.get_mut((id >> 1) as usize) {
            Some(slot) => *slot = tag,
            None => Self::grow(v, id, tag),
        }
    }

    /// [`Tags::set`] past the end of its table.
    #[cold]
    #[inline(never)]
    fn grow(v: &mut Vec<u8>, id: ObjId, tag: u8) {
        let i = (id >> 1) as usize;
        v.resize((i + 1).next_power_of_two().max(64), 0);
        v[i] = tag;
    }

    #[inline]
    fn get(&self, id: ObjId) -> u8 {
        let v = if id & 1 == 0 { &self.small } else { &self.large };
        v.get((id >> 1) as usize).copied().unwrap_or(0)
    }
}

/// The owner tag of the blocks the server made while it started (the default).
pub const TAG_STARTUP: u8 = 0;
/// The owner tag of blocks the server makes for itself after starting: the keyspace's tables,
/// clients' buffers, scripts, latency histograms.
pub const TAG_SERVER: u8 = 1;
/// The owner tag of blocks made with plain malloc, outside zmalloc's count (Lua's heap).
pub const TAG_OTHER: u8 = u8::MAX;
/// The first owner tag of key groups: group `g` is `TAG_GROUP0 + g` (the last groups share
/// `TAG_OTHER - 1`).
pub const TAG_GROUP0: u8 = 2;

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
    /// The allocation trace, when recording (see [`Heap::record`]).
    pub recorder: Option<Recorder>,
    /// Frees are made by another thread whose thread cache is flushed when it is done (Redis
    /// 7.4+'s lazy-free thread releasing a database): each freed block goes back to its bin or
    /// extent, not into the main thread's cache, and counts toward none of its GC (see
    /// [`Heap::set_other_thread`]).
    other_thread: bool,
    /// The owner tag new blocks get (a reallocated block keeps its own).
    tag: u8,
    /// The live blocks' owner tags, when kept (see [`Heap::track_owners`]).
    tags: Option<Tags>,
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
            recorder: None,
            other_thread: false,
            tag: TAG_STARTUP,
            tags: None,
        }
    }

    /// Keeps the owner tag of every block allocated from now on (blocks allocated before read
    /// as [`TAG_STARTUP`]): a byte per object id, and a store per allocation.
    pub fn track_owners(&mut self) {
        self.tags.get_or_insert_with(Tags::default);
    }

    /// Whether owner tags are kept.
    pub fn tracks_owners(&self) -> bool {
        self.tags.is_some()
    }

    /// The owner tag blocks allocated from now on get (see [`TAG_SERVER`], [`TAG_GROUP0`]);
    /// returns the previous one.
    #[inline]
    pub fn set_tag(&mut self, tag: u8) -> u8 {
        std::mem::replace(&mut self.tag, tag)
    }

    /// The owner tag blocks allocated now get.
    #[inline]
    pub fn tag(&self) -> u8 {
        self.tag
    }

    /// The owner tag of live block `id`.
    #[inline]
    pub fn tag_of(&self, id: ObjId) -> u8 {
        self.tags.as_ref().map_or(TAG_STARTUP, |t| t.get(id))
    }

    /// Gives live block `id` owner tag `tag` (a block another owner adopts).
    #[inline]
    pub fn retag(&mut self, id: ObjId, tag: u8) {
        if let Some(t) = self.tags.as_mut() {
            t.set(id, tag);
        }
    }

    /// Runs `f` with blocks allocated meanwhile tagged [`TAG_SERVER`] (the keyspace's tables,
    /// grown by a key's command but shared by all keys).
    #[inline]
    pub fn as_server<R>(&mut self, f: impl FnOnce(&mut Heap) -> R) -> R {
        let t = self.set_tag(TAG_SERVER);
        let r = f(self);
        self.tag = t;
        r
    }

    /// Starts recording the allocation trace (allocations made before are not in it; their frees
    /// are left out too).
    pub fn record(&mut self) {
        self.recorder = Some(Recorder::default());
    }

    /// `arena.purge`, recorded.
    pub fn purge(&mut self) {
        self.arena.purge();
        if let Some(r) = self.recorder.as_mut() {
            r.ops.push(TraceOp::Purge);
        }
    }

    /// `malloc(size)`, the first `written` bytes then written, recorded: the object and its
    /// usable size.
    #[inline]
    fn malloc_recorded_written(&mut self, size: u64, written: u64) -> (ObjId, u64) {
        let size = size.max(1);
        let (id, usable) = self
            .arena
            .malloc_usable(size, written)
            .expect("Redis allocations are modelable");
        if let Some(r) = self.recorder.as_mut() {
            r.alloc(id, size);
        }
        (id, usable)
    }

    #[inline]
    fn free_recorded(&mut self, id: ObjId) {
        if self.recorder.is_some() || self.other_thread {
            return self.free_recording(id);
        }
        self.arena.free(id);
    }

    /// [`Heap::free_recorded`] while recording or for another thread (out of the common path).
    #[cold]
    #[inline(never)]
    fn free_recording(&mut self, id: ObjId) {
        if let Some(r) = self.recorder.as_mut() {
            r.free(id);
        }
        if self.other_thread {
            self.arena.free_uncached(id, false);
        } else {
            self.arena.free(id);
        }
    }

    /// From now on (`on`), frees are another thread's whose thread cache is flushed right
    /// after (Redis 7.4+ `lazyfreeFreeDatabase`: the lazy-free thread releases the old keyspace,
    /// then `thread.tcache.flush`): every block goes back to the arena, the main thread's cache
    /// and its GC untouched; until called again with `on` false. Allocations still come from
    /// the main thread's cache.
    pub fn set_other_thread(&mut self, on: bool) {
        self.other_thread = on;
    }

    /// `zmalloc(size)`, the bytes then written.
    #[inline]
    pub fn zmalloc(&mut self, size: u64) -> Alloc {
        self.zmalloc_written(size, size)
    }

    /// `zmalloc(size)`, only the first `written` bytes then written (the rest of the block's
    /// pages stay untouched until [`Heap::write`]).
    #[inline(always)]
    pub fn zmalloc_written(&mut self, size: u64, written: u64) -> Alloc {
        // The common case (a small block from the thread cache) inline, without a call.
        match self.arena.malloc_cached_small(size.max(1), written) {
            Some((id, usable)) => {
                let a = self.count_zmalloc(id, size, usable);
                if self.recorder.is_some() {
                    return self.record_alloc(a, size);
                }
                a
            }
            None => self.zmalloc_uncached(size, written),
        }
    }

    /// [`Heap::zmalloc_written`] by the allocator's general path.
    #[inline(never)]
    fn zmalloc_uncached(&mut self, size: u64, written: u64) -> Alloc {
        let (id, usable) = self.malloc_recorded_written(size, written);
        self.count_zmalloc(id, size, usable)
    }

    /// Counts new block `id` of `usable` bytes, asked for `size`, in zmalloc's figures.
    #[inline]
    fn count_zmalloc(&mut self, id: ObjId, size: u64, usable: u64) -> Alloc {
        let requested = size.min(u32::MAX as u64) as u32;
        self.zmalloc_used += usable;
        self.zmalloc_requested += requested as u64;
        if let Some(t) = self.tags.as_mut() {
            t.set(id, self.tag);
        }
        Alloc {
            id,
            requested,
            usable,
        }
    }

    /// Records the allocation of `a`, asked for `size` bytes (out of the common path).
    #[cold]
    #[inline(never)]
    fn record_alloc(&mut self, a: Alloc, size: u64) -> Alloc {
        if let Some(r) = self.recorder.as_mut() {
            r.alloc(a.id, size.max(1));
        }
        a
    }

    /// The live block `id`, which Redis asked `requested` bytes for (its usable size is the
    /// arena's): for holders that keep only the object id and know the request.
    pub fn alloc_of(&self, id: ObjId, requested: u64) -> Alloc {
        Alloc {
            id,
            requested: requested.min(u32::MAX as u64) as u32,
            usable: self.arena.usable_size(id),
        }
    }

    /// `zfree(ptr)`.
    #[inline]
    pub fn zfree(&mut self, a: Alloc) {
        self.zmalloc_used -= a.usable;
        self.zmalloc_requested -= a.requested as u64;
        self.free_recorded(a.id);
    }

    /// `zrealloc(ptr, size)`, the block then written in full: in place when the size class
    /// stays the same, or when a large block stays large and shrinks, or grows into free pages
    /// right after it (jemalloc's no-move paths); else a new block.
    pub fn zrealloc(&mut self, a: Alloc, size: u64) -> Alloc {
        self.zrealloc_written(a, size, size)
    }

    /// `zrealloc(ptr, size)`, the first `written` bytes of the result then written.
    fn zrealloc_written(&mut self, a: Alloc, size: u64, written: u64) -> Alloc {
        let size = size.max(1);
        let tag = self.tag_of(a.id);
        let (id, usable) = self
            .arena
            .realloc_usable(a.id, size)
            .expect("Redis allocations are modelable");
        self.retag(id, tag);
        if let Some(r) = self.recorder.as_mut() {
            if id != a.id || usable != a.usable {
                r.realloc(a.id, id, size);
            }
        }
        let requested = size.min(u32::MAX as u64) as u32;
        self.zmalloc_used = self.zmalloc_used - a.usable + usable;
        self.zmalloc_requested = self.zmalloc_requested - a.requested as u64 + requested as u64;
        self.arena.write(id, 0, written);
        Alloc {
            id,
            requested,
            usable,
        }
    }

    /// `zrealloc(ptr, size)` of a buffer whose contents matter only up to what the allocator
    /// copies: a move writes the old block's usable size (or `size`, if smaller) into the new
    /// one, as jemalloc's realloc copies; the rest stays untouched.
    pub fn zrealloc_copy(&mut self, a: Alloc, size: u64) -> Alloc {
        let id0 = a.id;
        let moved_from = a.usable;
        let b = self.zrealloc_written(a, size, 0);
        // A move copies the old contents; in place, nothing new is written.
        if b.id != id0 {
            self.arena.write(b.id, 0, moved_from.min(size));
        }
        b
    }

    /// The program writes bytes `[from, to)` of block `a`.
    #[inline]
    pub fn write(&mut self, a: Alloc, from: u64, to: u64) {
        self.arena.write(a.id, from, to);
    }

    /// A plain `malloc` outside zmalloc's accounting (Lua on builds that link jemalloc for it).
    pub fn malloc_other(&mut self, size: u64) -> Alloc {
        let (id, usable) = self.malloc_recorded_written(size, size);
        self.other_used += usable;
        self.retag(id, TAG_OTHER);
        Alloc {
            id,
            requested: size.min(u32::MAX as u64) as u32,
            usable,
        }
    }

    pub fn free_other(&mut self, a: Alloc) {
        self.other_used -= a.usable;
        self.free_recorded(a.id);
    }
}
