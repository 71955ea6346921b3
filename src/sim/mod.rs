//! Event replay: turns a scenario into allocator operations on the model and records the figures
//! test by test.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::jemalloc::bin::BinRow;
use crate::jemalloc::{Arena, ArenaOptions, ObjId, Stats};
use crate::workload::{Flush, Scenario};

/// The figures recorded at one point of a run, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Bytes the program asked for and still holds (the payload).
    pub requested: u64,
    /// `stats.allocated` (Redis: `allocator_allocated`).
    pub allocated: u64,
    /// `stats.active` (Redis: `allocator_active`).
    pub active: u64,
    /// `stats.resident` (Redis: `allocator_resident`).
    pub resident: u64,
    /// `stats.mapped`.
    pub mapped: u64,
    /// `stats.retained`.
    pub retained: u64,
    /// `stats.metadata`.
    pub metadata: u64,
    /// Dirty pages, in bytes.
    pub dirty: u64,
    /// Bytes held in the thread cache.
    pub tcache: u64,
    /// Pages written and not purged, in bytes: the allocator's share of the process RSS.
    pub rss: u64,
}

impl Snapshot {
    fn take(requested: u64, s: &Stats, page: u64) -> Self {
        Snapshot {
            requested,
            allocated: s.allocated,
            active: s.active,
            resident: s.resident,
            mapped: s.mapped,
            retained: s.retained,
            metadata: s.metadata,
            dirty: s.dirty_pages * page,
            tcache: s.tcache_bytes,
            rss: s.touched_pages * page,
        }
    }

    /// Field-wise maximum.
    fn max(self, o: Snapshot) -> Snapshot {
        Snapshot {
            requested: self.requested.max(o.requested),
            allocated: self.allocated.max(o.allocated),
            active: self.active.max(o.active),
            resident: self.resident.max(o.resident),
            mapped: self.mapped.max(o.mapped),
            retained: self.retained.max(o.retained),
            metadata: self.metadata.max(o.metadata),
            dirty: self.dirty.max(o.dirty),
            tcache: self.tcache.max(o.tcache),
            rss: self.rss.max(o.rss),
        }
    }
}

/// What one test left behind: its peak (after its writes) and its end (after cleanup and flush).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TestRecord {
    pub test: u64,
    pub peak: Snapshot,
    pub end: Snapshot,
}

/// The outcome of one run of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    pub scenario: String,
    pub allocator: String,
    pub seed: u64,
    /// Field-wise maximum over all tests.
    pub peak: Snapshot,
    /// After the last test.
    pub end: Snapshot,
    pub timeline: Vec<TestRecord>,
    /// The small bins after the last test (`malloc_stats_print`'s bins table), bins in use only.
    pub bins: Vec<BinRow>,
}

struct Live {
    id: ObjId,
    size: u64,
}

fn flush(arena: &mut Arena, live: &mut Vec<Live>, requested: &mut u64) {
    for o in live.drain(..) {
        arena.free(o.id);
        *requested -= o.size;
    }
    arena.purge();
}

/// Replays an allocator-only scenario with seed `seed`, calling `progress` after each test.
pub fn run(sc: &Scenario, seed: u64, mut progress: impl FnMut(u64)) -> RunResult {
    let mut arena = Arena::new(
        &sc.allocator,
        ArenaOptions {
            dedicated: false,
            seed,
        },
    );
    let page = sc.allocator.page();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut live: Vec<Live> = Vec::new();
    let mut requested = 0u64;
    let mut timeline = Vec::with_capacity(sc.tests as usize);
    let test_ns = (sc.test_seconds * 1e9) as u64;
    for t in 0..sc.tests {
        if sc.flush == Flush::BeforeEach && t > 0 {
            flush(&mut arena, &mut live, &mut requested);
        }
        let first_new = live.len();
        for k in &sc.keys {
            for _ in 0..k.count {
                let id = arena
                    .malloc(k.value_size)
                    .expect("validated sizes are modelable");
                live.push(Live {
                    id,
                    size: k.value_size,
                });
                requested += k.value_size;
            }
        }
        let peak = Snapshot::take(requested, &arena.stats(), page);
        // The test deletes a share of what it wrote; which ones is drawn at random.
        let mut base = first_new;
        for k in &sc.keys {
            let n = k.count as usize;
            let ndel = (k.cleanup * n as f64).round() as usize;
            let mut group: Vec<usize> = (base..base + n).collect();
            for i in 0..ndel {
                let j = rng.random_range(i..n);
                group.swap(i, j);
            }
            for &idx in &group[..ndel] {
                arena.free(live[idx].id);
                requested -= live[idx].size;
                live[idx].size = u64::MAX;
            }
            base += n;
        }
        live.retain(|o| o.size != u64::MAX);
        arena.advance(test_ns);
        if sc.flush == Flush::AfterEach {
            flush(&mut arena, &mut live, &mut requested);
        }
        let end = Snapshot::take(requested, &arena.stats(), page);
        timeline.push(TestRecord {
            test: t + 1,
            peak,
            end,
        });
        progress(t + 1);
    }
    let peak = timeline
        .iter()
        .fold(Snapshot::default(), |m, r| m.max(r.peak).max(r.end));
    let end = timeline.last().map(|r| r.end).unwrap_or_default();
    RunResult {
        scenario: sc.name.clone(),
        allocator: sc.allocator_preset.clone(),
        seed,
        peak,
        end,
        timeline,
        bins: arena
            .bin_table()
            .into_iter()
            .filter(|b| b.curslabs > 0)
            .collect(),
    }
}
