//! Decay and purging over simulated time: the behaviours the jemalloc reference measured.

use fragsim::jemalloc::{AllocatorConfig, Arena, ArenaOptions};

const SEC: u64 = 1_000_000_000;

fn arena(bg: bool, tcache: bool, dirty_ms: i64) -> Arena {
    let mut cfg = AllocatorConfig::preset("jemalloc-5.3").unwrap();
    cfg.background_thread = bg;
    cfg.tcache.enabled = tcache;
    cfg.dirty_decay_ms = dirty_ms;
    Arena::new(&cfg, ArenaOptions::default())
}

/// Frees 100 large objects of the 96 KiB class (24 pages + pad = 25-page extents): 2,500 dirty
/// pages, merged per mapping, none reaching the 8 MiB oversize threshold.
fn make_dirty(a: &mut Arena) -> u64 {
    let ids: Vec<_> = (0..100).map(|_| a.malloc(90_000).unwrap()).collect();
    for id in ids {
        a.free(id);
    }
    a.stats().dirty_pages
}

/// Background thread, idle application (measured on Debian's lib: 2,200 dirty pages stayed until
/// about 13 s and were gone by 18-20 s). Freed pages are only registered in the backlog when the
/// thread wakes, 10 s after the free woke it; then they follow the curve.
#[test]
fn background_thread_purges_idle_pages_10_to_30_seconds_later() {
    let mut a = arena(true, false, 10_000);
    let d0 = make_dirty(&mut a);
    assert_eq!(d0, 2500);
    a.advance(12 * SEC);
    assert_eq!(
        a.stats().dirty_pages,
        d0,
        "nothing may be purged before the decay time"
    );
    a.advance(4 * SEC);
    let d16 = a.stats().dirty_pages;
    assert!(d16 < d0 * 6 / 10, "about half should be gone by 16 s, {d16} left");
    a.advance(11 * SEC);
    assert_eq!(a.stats().dirty_pages, 0);
    // Purged pages are MADV_DONTNEED'd: they went to retained and left the touched set.
    assert_eq!(a.stats().touched_pages, 0);
}

/// Without a background thread decay runs only when the application's ticker fires, so an idle
/// process keeps its dirty pages forever; and pages freed while nothing evaluates decay start
/// ageing only when evaluation resumes.
#[test]
fn without_background_thread_idle_pages_stay() {
    let mut a = arena(false, false, 10_000);
    let d0 = make_dirty(&mut a);
    a.advance(60 * SEC);
    assert_eq!(a.stats().dirty_pages, d0);
    // Activity resumes: ~2,000 arena events fire the ticker, the epoch advances and registers the
    // pages now, at full weight: nothing is purged yet.
    for _ in 0..1000 {
        let x = a.malloc(100).unwrap();
        a.free(x);
    }
    assert!(a.stats().dirty_pages >= d0);
    // Ten more seconds of activity: the curve reaches zero.
    for _ in 0..11 {
        a.advance(SEC);
        for _ in 0..1000 {
            let x = a.malloc(100).unwrap();
            a.free(x);
        }
    }
    assert!(
        a.stats().dirty_pages < 10,
        "{} dirty pages left",
        a.stats().dirty_pages
    );
}

/// Thread-cache hits are not arena events: a workload served from the tcache never evaluates decay.
#[test]
fn tcache_hits_do_not_tick() {
    let mut a = arena(false, true, 10_000);
    let d0 = make_dirty(&mut a);
    // Warm the 128-byte bin, then churn it from the cache only.
    let x = a.malloc(100).unwrap();
    a.free(x);
    let before = a.stats().dirty_pages;
    for _ in 0..60 {
        a.advance(SEC);
        for _ in 0..1000 {
            let x = a.malloc(100).unwrap();
            a.free(x);
        }
    }
    assert_eq!(a.stats().dirty_pages, before);
    assert!(before >= d0);
}

/// `dirty_decay_ms = 0`: every free that makes pages dirty purges them at once.
#[test]
fn zero_decay_purges_at_once() {
    let mut a = arena(false, false, 0);
    assert_eq!(make_dirty(&mut a), 0);
    assert_eq!(a.stats().touched_pages, 0);
    assert!(a.stats().purged_pages >= 2500);
}

/// A dirty extent that reaches the oversize threshold (8 MiB) after merging is purged at once,
/// unless a decay time is -1. A dedicated arena keeps the 9 MiB request (10 MiB class, 2,561-page extent) in this arena (an
/// automatic arena would send it to the huge arena).
#[test]
fn oversize_dirty_extents_are_purged_at_once() {
    for (ms, expect_dirty) in [(10_000, 0), (-1, (10 << 20) / 4096 + 1)] {
        let mut cfg = AllocatorConfig::preset("jemalloc-5.3").unwrap();
        cfg.dirty_decay_ms = ms;
        let mut a = Arena::new(
            &cfg,
            ArenaOptions {
                dedicated: true,
                seed: 1,
            },
        );
        let id = a.malloc(9 << 20).unwrap();
        a.free(id);
        assert_eq!(a.stats().dirty_pages, expect_dirty, "decay {ms}");
    }
}

/// Requests of 8 MiB and more go to the huge arena, whose decay is 0: freed at once to retained.
#[test]
fn huge_requests_use_the_huge_arena() {
    let mut a = arena(false, false, 10_000);
    let id = a.malloc(8 << 20).unwrap();
    assert_eq!(a.stats().active, (8 << 20) + 4096);
    a.free(id);
    let s = a.stats();
    assert_eq!((s.active, s.dirty_pages), (0, 0));
    assert!(s.retained >= (8 << 20) + 4096);
}
