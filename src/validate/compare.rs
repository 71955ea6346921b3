//! Replays one trace through the model and through a dedicated arena of the real jemalloc, and
//! compares their stats at checkpoints.

use serde::Serialize;

use super::real_jemalloc::{MallctlError, RealArena, RealArenaStats};
use super::trace::TraceOp;
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
}

/// Replays `trace` through a model arena for `cfg` and a real arena, returning the checkpoints.
/// The model arena is a dedicated (manual) arena, as the real one is.
pub fn replay(
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
    let mut real = RealArena::create(opts.dirty_decay_ms as isize, opts.muzzy_decay_ms as isize)?;
    if opts.tcache {
        real = real.with_explicit_tcache()?;
    }
    let page = cfg.page();
    let mut mobj: Vec<ObjId> = vec![ObjId::MAX; trace.len()];
    let mut rptr: Vec<*mut u8> = vec![std::ptr::null_mut(); trace.len()];
    let mut out = Vec::new();
    for (i, op) in trace.iter().enumerate() {
        match *op {
            TraceOp::Alloc { size } => {
                mobj[i] = model
                    .malloc_written(size, 0)
                    .expect("trace sizes are modelable");
                let p = real.malloc(size as usize);
                assert!(!p.is_null(), "real allocation of {size} bytes failed");
                // Keep the pointer observable so the allocation is not optimised away.
                rptr[i] = std::hint::black_box(p);
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
            out.push(Checkpoint {
                event: n,
                model: Figures::from_model(&model),
                real: Figures::from_real(&real_stats, page),
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
