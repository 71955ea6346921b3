//! Allocation traces: sequences of mallocs, frees and purges that can be replayed through the
//! model and through the real allocator alike.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One event of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceOp {
    /// `malloc(size)`; the object is known afterwards by the index of this op in the trace.
    Alloc { size: u64 },
    /// `free` of the object allocated by op number `op`.
    Free { op: u32 },
    /// `arena.<i>.purge`.
    Purge,
    /// `realloc` of the object op number `op` made (an `Alloc` or a `Realloc`) to `size` bytes;
    /// the object is known afterwards by the index of this op.
    Realloc { op: u32, size: u64 },
}

/// Request sizes a churn trace draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeMix {
    /// 8 B to 14 KiB (every small class with 4 KiB pages), log-uniform.
    Small,
    /// 16 KiB to 4 MiB, log-uniform.
    Large,
    /// Three small requests for each large one.
    Mixed,
}

fn log_uniform(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
    (rng.random_range(a..b).exp() as u64).clamp(lo, hi)
}

/// A churn trace of large objects that are reallocated as well as allocated and freed: a third
/// of the events grow or shrink a live object (by up to 4x either way, 16 KiB to 4 MiB), so
/// extents shrink in place, grow into free neighbours or move.
pub fn realloc_churn(seed: u64, events: usize) -> Vec<TraceOp> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut live: Vec<(u32, u64)> = Vec::new();
    let mut ops = Vec::with_capacity(events);
    while ops.len() < events {
        let i = ops.len() as u32;
        let p_free = if (i / 2000) % 2 == 0 { 0.25 } else { 0.45 };
        let r: f64 = rng.random_range(0.0..1.0);
        if !live.is_empty() && r < p_free {
            let k = rng.random_range(0..live.len());
            let (op, _) = live.swap_remove(k);
            ops.push(TraceOp::Free { op });
        } else if !live.is_empty() && r < p_free + 0.33 {
            let k = rng.random_range(0..live.len());
            let (op, size) = live[k];
            let f: f64 = rng.random_range(0.25..4.0);
            let size = ((size as f64 * f) as u64).clamp(16384, 4 << 20);
            live[k] = (i, size);
            ops.push(TraceOp::Realloc { op, size });
        } else {
            let size = log_uniform(&mut rng, 16384, 4 << 20);
            live.push((i, size));
            ops.push(TraceOp::Alloc { size });
        }
    }
    ops
}

/// A random churn trace of `events` events: phases of growth and shrinkage (free probability
/// alternating between 0.3 and 0.7 every 5,000 events), frees of uniformly chosen live objects,
/// and an explicit purge every ~20,000 events when `purges` is set.
pub fn churn(seed: u64, events: usize, mix: SizeMix, purges: bool) -> Vec<TraceOp> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut live: Vec<u32> = Vec::new();
    let mut ops = Vec::with_capacity(events);
    while ops.len() < events {
        let i = ops.len();
        if purges && i > 0 && i % 20_000 == 0 {
            ops.push(TraceOp::Purge);
            continue;
        }
        let p_free = if (i / 5000) % 2 == 0 { 0.3 } else { 0.7 };
        if !live.is_empty() && rng.random_bool(p_free) {
            let k = rng.random_range(0..live.len());
            let op = live.swap_remove(k);
            ops.push(TraceOp::Free { op });
        } else {
            let size = match mix {
                SizeMix::Small => log_uniform(&mut rng, 8, 14336),
                SizeMix::Large => log_uniform(&mut rng, 16384, 4 << 20),
                SizeMix::Mixed => {
                    if rng.random_range(0..4) == 0 {
                        log_uniform(&mut rng, 16384, 4 << 20)
                    } else {
                        log_uniform(&mut rng, 8, 14336)
                    }
                }
            };
            live.push(i as u32);
            ops.push(TraceOp::Alloc { size });
        }
    }
    ops
}
