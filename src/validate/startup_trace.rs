//! A server's recorded allocation stream replayed through the allocator model: where a fresh
//! server's thread cache stands when it is ready (`[baseline.tcache]` of a profile), which no
//! statistic shows bin by bin.
//!
//! The trace is what `tests/tools/alloc_trace.c` writes (by `LD_PRELOAD` for a server that links
//! a shared jemalloc, by GNU ld's `--wrap` for one that bundles jemalloc with the `je_` prefix):
//! 40-byte records of every allocation, free and realloc with its thread and a
//! `CLOCK_MONOTONIC` time. [`StartupReplay`] replays them in order up to a time, each heap
//! through an [`Arena`] of its own:
//!
//! - the main thread (the one that made the first allocation), through its thread cache: the
//!   heap whose cache a profile records;
//! - calls that name a thread cache and an arena of their own (Redis 7.4+'s Lua heap:
//!   `MALLOCX_TCACHE(n) | MALLOCX_ARENA(a)`), through an arena whose cache never collects
//!   garbage (jemalloc's GC visits only a thread's own cache); their bytes still count toward
//!   the calling thread's GC, as jemalloc's thread events do;
//! - every other thread through an arena of its own (jemalloc gives each new thread its own
//!   arena while it has fewer than 4 per CPU). A free of another thread's object goes to the
//!   arena that holds it (in jemalloc it passes through the freeing thread's cache first).
//!
//! jemalloc 5.2.1 (Redis 7.0's bundled one) collects garbage every `TCACHE_GC_INCR` cache
//! events rather than every 64 KiB: the replay of such a build ticks as it does.
//!
//! A `realloc` counts the thread events jemalloc's `realloc` does (the new usable size
//! allocated, the old one freed) also where the model's [`Arena::realloc`] keeps the object or
//! moves a large one without them. The tests/it `startup_trace` test drives a traced server and
//! checks the replay against the server's own figures.

use std::collections::HashMap;

use crate::jemalloc::{AllocError, AllocatorConfig, Arena, ArenaOptions, ObjId, TcacheState};

/// Bytes of one trace record.
pub const RECORD_BYTES: usize = 40;

/// The record's op byte: an allocation (`malloc`, `calloc`, `mallocx`).
pub const OP_ALLOC: u8 = 1;
/// A free (`free`, `dallocx`, `sdallocx`).
pub const OP_FREE: u8 = 2;
/// A reallocation (`realloc`, `rallocx`): `ptr` to `ptr2`, `size` bytes.
pub const OP_REALLOC: u8 = 3;
/// An aligned allocation (`posix_memalign`, `aligned_alloc`, `mallocx` with an alignment):
/// `ptr2` is the alignment.
pub const OP_ALIGNED: u8 = 4;

/// The record's flags: the call bypassed the thread cache (`MALLOCX_TCACHE_NONE`).
pub const FLAG_TCACHE_NONE: u8 = 1;
/// The call named a thread cache of its own (`MALLOCX_TCACHE(n)`).
pub const FLAG_TCACHE_OWN: u8 = 2;
/// The call named an arena (`MALLOCX_ARENA(a)`).
pub const FLAG_ARENA: u8 = 4;

/// One recorded call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRecord {
    /// [`OP_ALLOC`], [`OP_FREE`], [`OP_REALLOC`] or [`OP_ALIGNED`].
    pub op: u8,
    /// [`FLAG_TCACHE_NONE`], [`FLAG_TCACHE_OWN`], [`FLAG_ARENA`].
    pub flags: u8,
    /// The thread cache (`MALLOCX_TCACHE(n)`) and the arena (`MALLOCX_ARENA(a)`) the call
    /// named, their low 8 bits (0 when it named none).
    pub tcache: u8,
    pub arena: u8,
    /// The calling thread's id (`gettid`).
    pub tid: u32,
    /// The object (freed, reallocated or allocated).
    pub ptr: u64,
    /// Bytes requested (for a free, the size `sdallocx` was given, else 0).
    pub size: u64,
    /// The new object of a realloc, the alignment of an aligned allocation.
    pub ptr2: u64,
    /// `CLOCK_MONOTONIC` time of the call, ns.
    pub t_ns: u64,
}

/// Why a trace could not be read or replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    #[error("the trace is {0} bytes, not a whole number of {RECORD_BYTES}-byte records")]
    Length(usize),
    #[error("record {index}: op {op} is not a recorded call")]
    Op { index: usize, op: u8 },
    #[error("the trace is empty")]
    Empty,
    #[error("record {index}: {source}")]
    Alloc { index: usize, source: AllocError },
}

/// Reads a trace file's bytes.
pub fn parse_trace(bytes: &[u8]) -> Result<Vec<TraceRecord>, TraceError> {
    if bytes.len() % RECORD_BYTES != 0 {
        return Err(TraceError::Length(bytes.len()));
    }
    let u64_at = |r: &[u8], o: usize| u64::from_le_bytes(r[o..o + 8].try_into().expect("8 bytes"));
    bytes
        .chunks_exact(RECORD_BYTES)
        .enumerate()
        .map(|(index, r)| {
            let op = r[0];
            if !(OP_ALLOC..=OP_ALIGNED).contains(&op) {
                return Err(TraceError::Op { index, op });
            }
            Ok(TraceRecord {
                op,
                flags: r[1],
                tcache: r[2],
                arena: r[3],
                tid: u32::from_le_bytes(r[4..8].try_into().expect("4 bytes")),
                ptr: u64_at(r, 8),
                size: u64_at(r, 16),
                ptr2: u64_at(r, 24),
                t_ns: u64_at(r, 32),
            })
        })
        .collect()
}

/// Which heap a record's call used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum HeapKey {
    /// A thread's own cache and arena.
    Thread(u32),
    /// Calls through explicit thread cache `n` (`tcache.create`) with an arena named: Redis
    /// 7.4+ gives each Lua VM (EVAL's, FUNCTION's) a cache of its own, both over one arena,
    /// which the model splits in two.
    Explicit(u8),
}

/// The allocator figures of one group of heaps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapFigures {
    /// `stats.allocated` (thread-cached objects included).
    pub allocated: u64,
    /// `stats.active`.
    pub active: u64,
    /// Bytes the thread caches hold (`tcache_bytes`).
    pub tcache_bytes: u64,
    /// Objects the program holds (allocated and not freed), bytes at their usable sizes.
    pub live: u64,
}

impl HeapFigures {
    fn add(&mut self, o: &HeapFigures) {
        self.allocated += o.allocated;
        self.active += o.active;
        self.tcache_bytes += o.tcache_bytes;
        self.live += o.live;
    }
}

/// The figures of a replay so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayFigures {
    /// The main thread's own heap.
    pub main: HeapFigures,
    /// Calls with an explicit thread cache and arena (the Lua heap), all threads.
    pub explicit: HeapFigures,
    /// Every other thread's own heap.
    pub others: HeapFigures,
    /// Records replayed: the main thread's own, explicit ones, other threads'.
    pub ops_main: u64,
    pub ops_explicit: u64,
    pub ops_others: u64,
    /// Calls that bypassed the thread cache (`MALLOCX_TCACHE_NONE`), replayed through it.
    pub ops_bypass: u64,
    /// Frees and reallocs of an object another heap allocated, and of objects the trace never
    /// saw allocated (ignored).
    pub cross_frees: u64,
    pub unknown_frees: u64,
    /// jemalloc's own allocations in arena 0 (part of `main.allocated`): every thread cache's
    /// stacks, and each explicit cache's structures.
    pub internal: u64,
}

impl ReplayFigures {
    /// Every heap's figures summed: what `allocator_*` and `tcache_bytes` of the whole process
    /// show.
    pub fn total(&self) -> HeapFigures {
        let mut t = self.main;
        t.add(&self.explicit);
        t.add(&self.others);
        t
    }
}

/// A trace being replayed, in time order, heap by heap (see the module's comment).
pub struct StartupReplay {
    records: Vec<TraceRecord>,
    next: usize,
    cfg: AllocatorConfig,
    main_tid: u32,
    heaps: Vec<(HeapKey, Arena)>,
    heap_index: HashMap<HeapKey, usize>,
    /// Live objects: address to (heap, object).
    live: HashMap<u64, (usize, ObjId)>,
    ops_main: u64,
    ops_explicit: u64,
    ops_others: u64,
    ops_bypass: u64,
    cross_frees: u64,
    unknown_frees: u64,
    /// jemalloc's own allocations (thread caches' stacks): heap and object.
    internal: Vec<(usize, ObjId)>,
    internal_bytes: u64,
    /// jemalloc 5.2.1 (Redis 7.0's bundled one) collects a thread cache's garbage every
    /// `TCACHE_GC_INCR` cache events (`8192 / SC_NBINS + 1`), not every 64 KiB: that count
    /// (0 for a 5.3 build) and each heap's ticker (`tick`, fires below 0).
    gc_ticks: i64,
    tickers: Vec<i64>,
}

impl StartupReplay {
    /// A replay of `records` (in the order they were written) through arenas of configuration
    /// `cfg` (the build's allocator with jemalloc's own GC interval: the replay is of the real
    /// process). Fails on an empty trace.
    pub fn new(records: Vec<TraceRecord>, cfg: &AllocatorConfig) -> Result<Self, TraceError> {
        let main_tid = records.first().ok_or(TraceError::Empty)?.tid;
        Ok(StartupReplay {
            records,
            next: 0,
            cfg: cfg.clone(),
            main_tid,
            heaps: Vec::new(),
            heap_index: HashMap::new(),
            live: HashMap::new(),
            ops_main: 0,
            ops_explicit: 0,
            ops_others: 0,
            ops_bypass: 0,
            cross_frees: 0,
            unknown_frees: 0,
            internal: Vec::new(),
            internal_bytes: 0,
            gc_ticks: if cfg.version == "5.2.1" {
                8192 / crate::jemalloc::SizeClasses::new(cfg.lg_quantum, cfg.lg_page).nbins() as i64 + 1
            } else {
                0
            },
            tickers: Vec::new(),
        })
    }

    /// The main thread's id (the first record's).
    pub fn main_tid(&self) -> u32 {
        self.main_tid
    }

    /// The time of the first record, ns.
    pub fn start_ns(&self) -> u64 {
        self.records[0].t_ns
    }

    /// The records not replayed yet.
    pub fn remaining(&self) -> &[TraceRecord] {
        &self.records[self.next..]
    }

    fn heap(&mut self, key: HeapKey) -> usize {
        if let Some(&i) = self.heap_index.get(&key) {
            return i;
        }
        // Arena 0 (the main thread's) first: jemalloc makes every thread cache's stacks there.
        let main = HeapKey::Thread(self.main_tid);
        let arena0 = (key != main).then(|| self.heap(main));
        let mut cfg = self.cfg.clone();
        if matches!(key, HeapKey::Explicit(_)) || self.gc_ticks > 0 {
            // An explicit cache is never visited by the thread's GC; a 5.2.1 cache's GC is
            // driven by the ticker (`tick`).
            cfg.tcache.gc_incr_bytes = 0;
        }
        let mut a = Arena::new(
            &cfg,
            ArenaOptions {
                dedicated: matches!(key, HeapKey::Explicit(_)),
                ..ArenaOptions::default()
            },
        );
        // Every heap's clock starts with the trace.
        if let Some(r) = self.records.get(self.next) {
            a.advance(r.t_ns.saturating_sub(self.records[0].t_ns));
        }
        // The new cache's stacks (`tsd_tcache_data_init`), or for an explicit cache its stacks
        // and structures in one block (`tcache_create_explicit`), from arena 0 without a cache.
        let stacks = a.tcache_stack_bytes();
        let block = match key {
            HeapKey::Thread(_) => stacks,
            HeapKey::Explicit(_) => {
                (stacks + tcache_struct_bytes(a.size_classes().nbins())).next_multiple_of(8)
            }
        };
        self.heaps.push((key, a));
        self.tickers.push(self.gc_ticks);
        let i = self.heaps.len() - 1;
        self.heap_index.insert(key, i);
        if block > 16 {
            let h = arena0.unwrap_or(i);
            if let Ok((id, usable)) = self.heaps[h].1.malloc_uncached(block, false) {
                self.internal.push((h, id));
                self.internal_bytes += usable;
            }
        }
        i
    }

    /// The heap of the calling thread's own cache, for the thread events of explicit calls.
    fn own_heap(&mut self, tid: u32) -> usize {
        self.heap(HeapKey::Thread(tid))
    }

    /// Replays every record made before `t_ns` (a `CLOCK_MONOTONIC` time).
    pub fn run_until(&mut self, t_ns: u64) -> Result<(), TraceError> {
        while let Some(&r) = self.records.get(self.next).filter(|r| r.t_ns < t_ns) {
            self.apply(self.next, r)?;
            self.next += 1;
        }
        Ok(())
    }

    /// Replays every record.
    pub fn run_to_end(&mut self) -> Result<(), TraceError> {
        self.run_until(u64::MAX)
    }

    fn apply(&mut self, index: usize, r: TraceRecord) -> Result<(), TraceError> {
        let explicit = r.flags & (FLAG_TCACHE_OWN | FLAG_ARENA) != 0;
        let key = if explicit {
            HeapKey::Explicit(r.tcache)
        } else {
            HeapKey::Thread(r.tid)
        };
        match (explicit, r.tid == self.main_tid) {
            (true, _) => self.ops_explicit += 1,
            (false, true) => self.ops_main += 1,
            (false, false) => self.ops_others += 1,
        }
        let bypass = r.flags & FLAG_TCACHE_NONE != 0;
        if bypass {
            self.ops_bypass += 1;
        }
        let h = self.heap(key);
        let elapsed = r.t_ns.saturating_sub(self.records[0].t_ns);
        for (_, a) in &mut self.heaps {
            if let Some(dt) = elapsed.checked_sub(a.now_ns()).filter(|&d| d > 0) {
                a.advance(dt);
            }
        }
        let err = |source| TraceError::Alloc { index, source };
        // (bytes allocated, bytes freed) for the thread's own cache's GC, for explicit calls.
        let mut events = (0, 0);
        // 5.2.1: the heap whose cache saw events, and how many.
        let max = self.cfg.tcache.max;
        let mut ticks = (h, 0);
        match r.op {
            OP_ALLOC | OP_ALIGNED => {
                let a = &mut self.heaps[h].1;
                let size = if r.op == OP_ALIGNED {
                    aligned_request(a, r.size, r.ptr2)
                } else {
                    r.size
                };
                let (id, usable) = if bypass {
                    a.malloc_uncached(size, true)
                } else {
                    a.malloc_usable(size, size)
                }
                .map_err(err)?;
                events.0 = usable;
                ticks.1 = (!bypass && usable <= max) as u32;
                if let Some((oh, old)) = self.live.insert(r.ptr, (h, id)) {
                    // An address given out twice without a free between: the first object's
                    // free was not seen (a call the trace does not wrap).
                    self.heaps[oh].1.free(old);
                    self.unknown_frees += 1;
                }
            }
            OP_FREE => match self.live.remove(&r.ptr) {
                Some((oh, id)) => {
                    if oh != h {
                        self.cross_frees += 1;
                    }
                    let a = &mut self.heaps[oh].1;
                    events.1 = a.usable_size(id);
                    ticks = (oh, (!bypass && events.1 <= max) as u32);
                    if bypass {
                        a.free_uncached(id, true);
                    } else {
                        a.free(id);
                    }
                }
                None => self.unknown_frees += 1,
            },
            OP_REALLOC => match self.live.remove(&r.ptr) {
                Some((oh, id)) => {
                    if oh != h {
                        self.cross_frees += 1;
                    }
                    let a = &mut self.heaps[oh].1;
                    let old_usable = a.usable_size(id);
                    let old_large = !a.size_classes().class(index_of(a, old_usable)).small;
                    let (new, usable) = a.realloc_usable(id, r.size).map_err(err)?;
                    let new_large = !a.size_classes().class(index_of(a, usable)).small;
                    // jemalloc's realloc counts both events whatever the path; the model's
                    // counts them when a small object moves, the free alone when a large one
                    // moves, neither when the object stays.
                    if new == id {
                        a.thread_event(usable, old_usable);
                    } else if old_large && new_large {
                        a.thread_event(usable, 0);
                    }
                    events = (usable, old_usable);
                    // A move allocates and frees through the cache.
                    if new != id {
                        ticks = (oh, (usable <= max) as u32 + (old_usable <= max) as u32);
                    }
                    self.live.insert(r.ptr2, (oh, new));
                }
                None => {
                    self.unknown_frees += 1;
                    let (id, usable) = self.heaps[h].1.malloc_usable(r.size, r.size).map_err(err)?;
                    events.0 = usable;
                    self.live.insert(r.ptr2, (h, id));
                }
            },
            _ => unreachable!("parse_trace checks the op"),
        }
        if explicit {
            let own = self.own_heap(r.tid);
            self.heaps[own].1.thread_event(events.0, events.1);
        } else if self.gc_ticks > 0 {
            let (th, n) = ticks;
            for _ in 0..n {
                self.tickers[th] -= 1;
                if self.tickers[th] < 0 {
                    self.tickers[th] = self.gc_ticks;
                    self.heaps[th].1.tcache_gc_step();
                }
            }
        }
        Ok(())
    }

    /// The figures of the heaps as the replay left them.
    pub fn figures(&self) -> ReplayFigures {
        let mut f = ReplayFigures {
            ops_main: self.ops_main,
            ops_explicit: self.ops_explicit,
            ops_others: self.ops_others,
            ops_bypass: self.ops_bypass,
            cross_frees: self.cross_frees,
            unknown_frees: self.unknown_frees,
            internal: self.internal_bytes,
            ..ReplayFigures::default()
        };
        let mut live = vec![0u64; self.heaps.len()];
        for &(h, id) in self.live.values() {
            live[h] += self.heaps[h].1.usable_size(id);
        }
        for (i, (key, a)) in self.heaps.iter().enumerate() {
            let s = a.stats();
            let fig = HeapFigures {
                allocated: s.allocated,
                active: s.active,
                tcache_bytes: s.tcache_bytes,
                live: live[i],
            };
            match key {
                HeapKey::Explicit(_) => f.explicit.add(&fig),
                HeapKey::Thread(t) if *t == self.main_tid => f.main.add(&fig),
                HeapKey::Thread(_) => f.others.add(&fig),
            }
        }
        f
    }

    /// The main thread's cache as the replay left it: a profile's `[baseline.tcache]`.
    pub fn main_tcache(&self) -> Option<TcacheState> {
        let i = *self.heap_index.get(&HeapKey::Thread(self.main_tid))?;
        self.heaps[i].1.tcache_state()
    }
}

/// `sizeof(tcache_t) + sizeof(tcache_slow_t)` in jemalloc 5.3.0 on x86-64 with 4 KiB pages,
/// for `nbins` small classes: a 24-B `cache_bin_t` for each of `TCACHE_NBINS_MAX` (`nbins` +
/// 4 x (23 - 14) + 1) behind a pointer; the slow part's links, arena, GC position, three bytes
/// per small class and two pointers.
fn tcache_struct_bytes(nbins: usize) -> u64 {
    let nbins = nbins as u64;
    8 + 24 * (nbins + 37) + (52 + 3 * nbins).next_multiple_of(8) + 16
}

/// The size class index of a usable size.
fn index_of(a: &Arena, usable: u64) -> usize {
    a.size_classes()
        .index_of(usable)
        .expect("a usable size is a size class")
}

/// The request that gets an object of `size` bytes aligned to `align` from the model: the
/// smallest size class at least `size` whose size is a multiple of `align` (`sz_sa2u`: small
/// regions are aligned to their size's largest power of two; large extents to pages).
fn aligned_request(a: &Arena, size: u64, align: u64) -> u64 {
    let sc = a.size_classes();
    if align <= 1 {
        return size;
    }
    let mut s = size.max(1);
    while let Some(i) = sc.index_of(s) {
        let c = sc.class(i);
        if !c.small || c.size % align == 0 {
            return c.size.max(size);
        }
        s = c.size + 1;
    }
    size
}

/// The `[baseline.tcache]` table of a profile for `st`, in the built-in profiles' layout.
pub fn tcache_toml(st: &TcacheState) -> String {
    let bins: Vec<String> = st
        .bins
        .iter()
        .map(|b| format!("[{},{},{},{},{}]", b[0], b[1], b[2], b[3], b[4]))
        .collect();
    format!(
        "[baseline.tcache]\nnext_gc_bin = {}\nalloc_bytes = {}\ndalloc_bytes = {}\nbins = [{}]\n",
        st.next_gc_bin,
        st.alloc_bytes,
        st.dalloc_bytes,
        bins.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(op: u8, flags: u8, tid: u32, ptr: u64, size: u64, ptr2: u64, t_ns: u64) -> Vec<u8> {
        let mut v = vec![op, flags, 0, 0];
        v.extend_from_slice(&tid.to_le_bytes());
        for x in [ptr, size, ptr2, t_ns] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    }

    /// A small trace read and replayed: the main thread's frees land in its cache, another
    /// thread's heap and the explicit (Lua) heap are apart, and a realloc that keeps its size
    /// class keeps the object.
    #[test]
    fn a_trace_replays_heap_by_heap() {
        let mut bytes = Vec::new();
        bytes.extend(rec(OP_ALLOC, 0, 7, 0x1000, 100, 0, 1_000));
        bytes.extend(rec(OP_ALLOC, 0, 7, 0x2000, 20, 0, 2_000));
        bytes.extend(rec(OP_REALLOC, 0, 7, 0x2000, 24, 0x2000, 3_000));
        bytes.extend(rec(OP_FREE, 0, 7, 0x1000, 0, 0, 4_000));
        bytes.extend(rec(OP_ALLOC, 0, 9, 0x3000, 5000, 0, 5_000));
        bytes.extend(rec(
            OP_ALLOC,
            FLAG_TCACHE_OWN | FLAG_ARENA,
            7,
            0x4000,
            64,
            0,
            6_000,
        ));
        bytes.extend(rec(OP_ALIGNED, 0, 7, 0x5000, 100, 64, 7_000));
        bytes.extend(rec(OP_FREE, 0, 7, 0x9999, 0, 0, 8_000));
        let records = parse_trace(&bytes).unwrap();
        assert_eq!(records.len(), 8);
        assert_eq!(records[4].tid, 9);
        let cfg = AllocatorConfig::preset("redis-7.2-bundled").unwrap();
        let mut r = StartupReplay::new(records, &cfg).unwrap();
        r.run_until(4_500).unwrap();
        let f = r.figures();
        assert_eq!((f.ops_main, f.ops_others, f.ops_explicit), (4, 0, 0));
        // The 100-B object (112-B class) freed into the cache, with what its miss filled; the
        // 24-B one live (20 and 24 share a class).
        assert_eq!(f.main.live, 24);
        assert!(f.main.tcache_bytes >= 112);
        r.run_to_end().unwrap();
        let f = r.figures();
        assert_eq!((f.ops_main, f.ops_others, f.ops_explicit), (6, 1, 1));
        assert_eq!(f.unknown_frees, 1);
        assert_eq!(f.others.live, 5120);
        assert_eq!(f.explicit.live, 64);
        // 100 B aligned to 64: the 128-B class.
        assert_eq!(f.main.live, 24 + 128);
        assert_eq!(f.total().live, 24 + 128 + 5120 + 64);
        let st = r.main_tcache().unwrap();
        assert!(tcache_toml(&st).starts_with("[baseline.tcache]\nnext_gc_bin = "));
        assert!(matches!(parse_trace(&bytes[..39]), Err(TraceError::Length(39))));
        let mut bad = bytes.clone();
        bad[40] = 9;
        assert!(matches!(
            parse_trace(&bad),
            Err(TraceError::Op { index: 1, op: 9 })
        ));
    }
}
