//! Replays one trace through the model and through a dedicated arena of a real jemalloc build
//! (the linked 5.3.0 or a library loaded at run time, [`Jemalloc`]), and compares their stats at
//! checkpoints.

use serde::Serialize;

use super::real_jemalloc::{Jemalloc, MallctlError, RealArena, RealArenaStats, LINKED};
use crate::jemalloc::config::Release;
use crate::jemalloc::trace::TraceOp;
use crate::jemalloc::{AllocatorConfig, Arena, ArenaOptions, ObjId};

/// Model and real figures side by side at one point of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// Number of trace events replayed so far.
    pub event: usize,
    pub model: Figures,
    pub real: Figures,
    /// Per small bin: (current slabs, current regions), model then real
    /// (`stats.arenas.<i>.bins.<j>.curslabs/curregs`).
    pub bins_model: Vec<(u64, u64)>,
    pub bins_real: Vec<(u64, u64)>,
}

/// The compared figures of one arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Figures {
    /// `small.allocated + large.allocated` (bytes).
    pub allocated: u64,
    /// `pactive` (pages).
    pub active_pages: u64,
    /// `pdirty` (pages).
    pub dirty_pages: u64,
    /// `pmuzzy` (pages).
    pub muzzy_pages: u64,
    /// `retained` (pages).
    pub retained_pages: u64,
    /// `mapped` (bytes).
    pub mapped: u64,
    /// `base + internal` (bytes).
    pub metadata: u64,
    /// `resident` (bytes).
    pub resident: u64,
    /// Pages written by the program and resident now. Model: its touched pages. Real: pages that
    /// `mincore` reports resident among all pages the trace ever wrote (only with
    /// [`ReplayOptions::write`]; 0 otherwise).
    pub touched_pages: u64,
}

impl Figures {
    fn from_real(s: &RealArenaStats, page: u64) -> Self {
        Figures {
            allocated: s.allocated,
            active_pages: s.pactive,
            dirty_pages: s.pdirty,
            muzzy_pages: s.pmuzzy,
            retained_pages: s.retained / page,
            mapped: s.mapped,
            metadata: s.base + s.internal,
            resident: s.resident,
            touched_pages: 0,
        }
    }

    fn from_model(a: &Arena) -> Self {
        let s = a.stats();
        let page = a.size_classes().page();
        Figures {
            allocated: s.allocated,
            active_pages: s.active / page,
            dirty_pages: s.dirty_pages,
            muzzy_pages: s.muzzy_pages,
            retained_pages: s.retained / page,
            mapped: s.mapped,
            metadata: s.metadata,
            resident: s.resident,
            touched_pages: s.touched_pages,
        }
    }
}

/// How the two sides are driven.
#[derive(Debug, Clone, Copy)]
pub struct ReplayOptions {
    pub dirty_decay_ms: i64,
    pub muzzy_decay_ms: i64,
    /// Use a thread cache: the model's without incremental GC, the real side an explicit one.
    pub tcache: bool,
    /// Compare every this many events (and at the end).
    pub every: usize,
    /// Write every requested byte (one store per page) on the real side, give the model the real
    /// cache-oblivious offsets, and compare touched pages with the real resident pages.
    pub write: bool,
}

/// Stores one byte into every page of `[p, p + n)`, as writing the whole object would touch.
fn touch_real(p: *mut u8, n: usize) {
    if n == 0 {
        return;
    }
    let start = p as usize;
    let mut addr = start;
    while addr < start + n {
        // SAFETY: addr lies within the live allocation [p, p + n).
        unsafe { std::ptr::write_volatile(addr as *mut u8, 1) };
        addr = (addr & !4095) + 4096;
    }
}

/// Pages reported resident by `mincore` in the union of `ranges` (page-aligned, [start, end)).
fn resident_pages(ranges: &mut Vec<(usize, usize)>) -> u64 {
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for &(s, e) in ranges.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *ranges = merged.clone();
    let mut total = 0;
    let mut vec = Vec::new();
    for (s, e) in merged {
        let pages = (e - s) / 4096;
        vec.clear();
        vec.resize(pages, 0u8);
        // SAFETY: [s, e) is page-aligned and lies inside mappings of the real arena, which are
        // never unmapped (retain); vec has one byte per page.
        let rc = unsafe { libc::mincore(s as *mut libc::c_void, e - s, vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore failed");
        total += vec.iter().filter(|&&b| b & 1 != 0).count() as u64;
    }
    total
}

/// Turns off transparent huge pages for this process (`PR_SET_THP_DISABLE`, as Redis does), so
/// that a written page faults in one page, not a 2 MiB huge page.
pub fn disable_thp() {
    // SAFETY: prctl with PR_SET_THP_DISABLE only changes this process's THP policy.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// Replays `trace` through a model arena for `cfg` and a real arena of the linked jemalloc 5.3.0
/// ([`replay_in`] on [`LINKED`]).
pub fn replay(
    cfg: &AllocatorConfig,
    trace: &[TraceOp],
    opts: ReplayOptions,
) -> Result<Vec<Checkpoint>, MallctlError> {
    replay_in(&LINKED, cfg, trace, opts)
}

/// Replays `trace` through a model arena for `cfg` and a real arena of build `jem`, returning
/// the checkpoints. The model arena is a dedicated (manual) arena, as the real one is; `cfg`
/// should be the preset that stands for `jem`'s build.
pub fn replay_in(
    jem: &dyn Jemalloc,
    cfg: &AllocatorConfig,
    trace: &[TraceOp],
    opts: ReplayOptions,
) -> Result<Vec<Checkpoint>, MallctlError> {
    let mut cfg = cfg.clone();
    cfg.dirty_decay_ms = opts.dirty_decay_ms;
    cfg.muzzy_decay_ms = opts.muzzy_decay_ms;
    cfg.background_thread = false;
    cfg.tcache.enabled = opts.tcache;
    cfg.tcache.gc_incr_bytes = 0;
    let mut model = Arena::new(
        &cfg,
        ArenaOptions {
            dedicated: true,
            seed: 1,
        },
    );
    let mut real = RealArena::create_in(jem, opts.dirty_decay_ms as isize, opts.muzzy_decay_ms as isize)?;
    if opts.tcache {
        real = real.with_explicit_tcache()?;
    }
    // jemalloc 5.2 merges free extents across adjacent mappings, so the model must lay its
    // mappings out where the real ones are (which depends on the kernel and on everything else
    // the process maps): it is told each real mapping's place as it is made.
    let follow_mappings = cfg.release == Release::V5_2;
    if follow_mappings {
        real.record_mappings()?;
    }
    let follow = |real: &RealArena, model: &mut Arena| {
        if follow_mappings {
            for (addr, _) in real.new_mappings() {
                model.place_next_mapping(addr as u64 >> cfg.lg_page);
            }
        }
    };
    let page = cfg.page();
    let mut mobj: Vec<ObjId> = vec![ObjId::MAX; trace.len()];
    let mut rptr: Vec<*mut u8> = vec![std::ptr::null_mut(); trace.len()];
    let mut out = Vec::new();
    let mut written: Vec<(usize, usize)> = Vec::new();
    if opts.write {
        disable_thp();
    }
    for (i, op) in trace.iter().enumerate() {
        match *op {
            TraceOp::Alloc { size } => {
                let p = real.malloc(size as usize);
                assert!(!p.is_null(), "real allocation of {size} bytes failed");
                follow(&real, &mut model);
                // Keep the pointer observable so the allocation is not optimised away.
                rptr[i] = std::hint::black_box(p);
                mobj[i] = if opts.write {
                    touch_real(p, size as usize);
                    let a = p as usize;
                    written.push((a & !4095, (a + size as usize).next_multiple_of(4096)));
                    model.malloc_with_offset(size, size, (a & 4095) as u32)
                } else {
                    model.malloc_written(size, 0)
                }
                .expect("trace sizes are modelable");
            }
            TraceOp::Free { op } => {
                model.free(mobj[op as usize]);
                // SAFETY: the pointer came from this arena and each op frees it once.
                unsafe { real.free(rptr[op as usize]) };
                rptr[op as usize] = std::ptr::null_mut();
            }
            TraceOp::Purge => {
                model.purge();
                real.purge()?;
            }
            TraceOp::Realloc { op, size } => {
                let old = std::mem::replace(&mut rptr[op as usize], std::ptr::null_mut());
                // SAFETY: a live pointer of this arena, replaced by the result.
                let p = unsafe { real.realloc(old, size as usize) };
                assert!(!p.is_null(), "real reallocation to {size} bytes failed");
                follow(&real, &mut model);
                rptr[i] = std::hint::black_box(p);
                let id = model
                    .realloc(mobj[op as usize], size)
                    .expect("trace sizes are modelable");
                if opts.write {
                    touch_real(p, size as usize);
                    let a = p as usize;
                    written.push((a & !4095, (a + size as usize).next_multiple_of(4096)));
                    model.write(id, 0, size);
                }
                mobj[i] = id;
            }
        }
        let n = i + 1;
        if n % opts.every == 0 || n == trace.len() {
            let real_stats = real.stats()?;
            let bins_model = model
                .bin_table()
                .iter()
                .map(|b| (b.curslabs, b.curregs))
                .collect();
            let bins_real = (0..model.size_classes().nbins())
                .map(|b| real.bin_stats(b))
                .collect::<Result<Vec<_>, _>>()?;
            let mut real_fig = Figures::from_real(&real_stats, page);
            if opts.write {
                real_fig.touched_pages = resident_pages(&mut written);
            }
            out.push(Checkpoint {
                event: n,
                model: Figures::from_model(&model),
                real: real_fig,
                bins_model,
                bins_real,
            });
        }
    }
    // Leave nothing live in the real arena before it is destroyed.
    for p in rptr.into_iter().filter(|p| !p.is_null()) {
        // SAFETY: still-live pointers from this arena, freed once.
        unsafe { real.free(p) };
    }
    Ok(out)
}
