//! "Where the bytes go": the decomposition of RSS, with exact numbers derived from jemalloc's
//! geometry, and its sum checked against the INFO figures of full scenario runs.

use fragsim::jemalloc::{AllocatorConfig, Arena, ArenaOptions};
use fragsim::sim::{self, Breakdown};

use crate::common::load_scenario;

fn arena(cache_oblivious: bool, tcache: bool) -> Arena {
    let mut cfg = AllocatorConfig::preset("jemalloc-5.3").unwrap();
    cfg.cache_oblivious = cache_oblivious;
    cfg.tcache.enabled = tcache;
    cfg.dirty_decay_ms = -1;
    Arena::new(
        &cfg,
        ArenaOptions {
            dedicated: true,
            seed: 7,
        },
    )
}

/// 100 objects of 100 bytes: class 112, one 7-page slab of 256 regions. The regions in use are
/// bytes [0, 11200), written up to 100 bytes each, so pages 0-2 are touched: 12,288 bytes, of
/// which 11,200 are the live regions and 1,088 the free regions after them; the other 16,384
/// bytes of holes were never written.
#[test]
fn small_objects_holes_and_touched_pages() {
    let mut a = arena(true, false);
    for _ in 0..100 {
        a.malloc(100).unwrap();
    }
    let r = a.residency();
    assert_eq!((r.live, r.live_touched), (11_200, 11_200));
    assert_eq!((r.holes, r.holes_touched), (7 * 4096 - 11_200, 12_288 - 11_200));
    assert_eq!((r.pad, r.tcache, r.dirty), (0, 0, 0));
    let s = a.stats();
    assert_eq!(r.live + r.holes, s.active);
    let rss = s.touched_pages * 4096 + r.metadata_resident;
    let b = Breakdown::compose(rss, 10_000, 1_200, 0, &r);
    assert_eq!(
        b.values(),
        [10_000, 0, 1_200, 0, 1_088, 0, 0, r.metadata_resident, 0],
        "{b:?}"
    );
    assert_eq!(b.values().iter().sum::<u64>(), rss);
}

/// 30,000-byte objects without the pad: 32 KiB extents of 8 pages, all written (30,000 bytes
/// reach into the 8th page), so each object's 2,768 bytes of rounding are resident. With the
/// pad (cache-oblivious), each extent has 9 pages: 4,096 pad bytes per object, and the touched
/// bytes of object and pad together are whole touched pages.
#[test]
fn large_objects_rounding_and_pad() {
    let mut a = arena(false, false);
    for _ in 0..10 {
        a.malloc(30_000).unwrap();
    }
    let r = a.residency();
    assert_eq!((r.live, r.live_touched, r.pad), (327_680, 327_680, 0));
    let b = Breakdown::compose(a.stats().touched_pages * 4096, 300_000, 27_680, 0, &r);
    assert_eq!((b.payload, b.rounding, b.pad_pages), (300_000, 27_680, 0));

    let mut a = arena(true, false);
    for _ in 0..10 {
        a.malloc(30_000).unwrap();
    }
    let r = a.residency();
    assert_eq!((r.live, r.pad), (327_680, 40_960));
    let touched = a.stats().touched_pages * 4096;
    assert_eq!(r.live_touched + r.pad_touched, touched);
    // Every object has 30,000 written bytes; its first and last touched pages also hold pad.
    assert!(r.live_touched >= 300_000 && r.live_touched < 327_680, "{r:?}");
    assert!(r.pad_touched > 0 && r.pad_touched < 40_960, "{r:?}");
}

/// Freed objects: the thread cache keeps small ones; a freed large extent becomes dirty (touched
/// until purged), and a purge takes it out of RSS. Class 112 caches up to 200 objects and a miss
/// fills half of that: the first malloc takes regions 0-99 (11,200 bytes) into the cache, ten
/// are handed out and written (page 0), and after the frees all 100 are cached. Of their bytes,
/// those on page 0 are touched: 4,096.
#[test]
fn tcache_and_dirty_pages() {
    let mut a = arena(false, true);
    let ids: Vec<_> = (0..10).map(|_| a.malloc(100).unwrap()).collect();
    for id in ids {
        a.free(id);
    }
    let r = a.residency();
    assert_eq!((r.live, r.tcache, r.tcache_touched), (0, 11_200, 4_096));
    assert_eq!(r.tcache, a.stats().tcache_bytes);

    let mut a = arena(false, false);
    let big = a.malloc(1 << 20).unwrap();
    a.free(big);
    let r = a.residency();
    assert_eq!((r.live, r.dirty, r.dirty_touched), (0, 1 << 20, 1 << 20));
    a.purge();
    let r = a.residency();
    assert_eq!((r.dirty, r.dirty_touched), (0, 0));
}

/// On the seed suite, the layers sum to the run's peak RSS, and the payload at the peak is the
/// 30 keys of the test in flight: 30 values plus key names `storm:<test>:<j>`.
#[test]
fn seed_suite_breakdown_sums_to_peak_rss() {
    let file = load_scenario("seed-suite.toml");
    for v in &file.variants {
        let value = v.keys[0].value_size.sample(&mut rand_chacha_seeded());
        let run = sim::run(v, 1, |_| {});
        let b = sim::breakdown(v, 1);
        assert_eq!(b.rss, run.peak.used_memory_rss, "{}", v.variant);
        assert_eq!(b.values().iter().sum::<u64>(), b.rss, "{}", v.variant);
        // The peak is at the end of a test's writes: 30 values and 30 names of one test.
        let t = test_at_peak(&run);
        let names: u64 = (0..30).map(|j| format!("storm:{}:{j}", t - 1).len() as u64).sum();
        assert_eq!(b.payload, 30 * value + names, "{}: {b:?}", v.variant);
        assert!(b.baseline_rss > 5 << 20, "{}: {b:?}", v.variant);
    }
}

fn rand_chacha_seeded() -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    rand_chacha::ChaCha8Rng::seed_from_u64(0)
}

/// The first test whose peak RSS is the run's peak RSS, among those at the highest used_memory.
fn test_at_peak(run: &sim::RunResult) -> u64 {
    run.timeline
        .iter()
        .filter(|t| t.peak.used_memory_rss == run.peak.used_memory_rss)
        .max_by_key(|t| (t.peak.used_memory, std::cmp::Reverse(t.test)))
        .unwrap()
        .test
}
