//! The model against the real jemalloc 5.3.0 (tikv-jemalloc-sys 0.6.1), in a dedicated arena.
//!
//! Required: size classes equal `nallocx` for every request from 1 B to 4 MiB and every large
//! class up to 64 MiB; on churn traces of 100,000 events allocated, active, dirty, muzzy and
//! retained match exactly with decay off (-1) and immediate (0); mapped and metadata within 1%.

use fragsim::jemalloc::trace::{churn, SizeMix};
use fragsim::jemalloc::{AllocatorConfig, SizeClasses};
use fragsim::validate::compare::{Checkpoint, ReplayOptions};
use fragsim::validate::real_jemalloc::{mallctl_read, nallocx, version};

use crate::common::replay_real;

fn upstream() -> AllocatorConfig {
    AllocatorConfig::preset("jemalloc-5.3").unwrap()
}

#[test]
fn the_linked_allocator_is_jemalloc_5_3_0() {
    assert!(
        version().starts_with("5.3.0-"),
        "linked jemalloc is {}",
        version()
    );
    // The build the preset stands for: quantum 16, 4 KiB pages, cache-oblivious.
    assert_eq!(mallctl_read::<usize>("arenas.quantum").unwrap(), 16);
    assert_eq!(mallctl_read::<usize>("arenas.page").unwrap(), 4096);
    assert!(mallctl_read::<bool>("config.cache_oblivious").unwrap());
    let sc = SizeClasses::new(4, 12);
    assert_eq!(mallctl_read::<u32>("arenas.nbins").unwrap() as usize, sc.nbins());
    assert_eq!(
        mallctl_read::<u32>("arenas.nlextents").unwrap() as usize,
        sc.nlextents()
    );
}

#[test]
fn size_classes_equal_nallocx_for_every_request_up_to_4_mib() {
    let sc = SizeClasses::new(4, 12);
    for size in 1..=(4u64 << 20) {
        let real = nallocx(size as usize) as u64;
        let model = sc.usable(size).unwrap();
        assert_eq!(model, real, "request of {size} bytes");
    }
}

#[test]
fn large_classes_equal_nallocx_up_to_64_mib() {
    let sc = SizeClasses::new(4, 12);
    let mut n = 0;
    for c in sc.classes().iter().filter(|c| !c.small && c.size <= 64 << 20) {
        assert_eq!(nallocx(c.size as usize) as u64, c.size);
        assert_eq!(nallocx(c.size as usize - 1) as u64, c.size);
        assert_eq!(
            nallocx(c.size as usize + 1) as u64,
            sc.usable(c.size + 1).unwrap()
        );
        n += 1;
    }
    // 16 KiB .. 64 MiB: 4 classes per doubling over 12 doublings.
    assert_eq!(n, 49);
}

#[test]
fn slab_geometry_equals_the_real_bins() {
    let sc = SizeClasses::new(4, 12);
    for c in sc.classes().iter().filter(|c| c.small) {
        let i = c.index;
        assert_eq!(
            mallctl_read::<usize>(&format!("arenas.bin.{i}.size")).unwrap() as u64,
            c.size
        );
        assert_eq!(
            mallctl_read::<u32>(&format!("arenas.bin.{i}.nregs")).unwrap(),
            c.nregs
        );
        assert_eq!(
            mallctl_read::<usize>(&format!("arenas.bin.{i}.slab_size")).unwrap() as u64,
            c.slab_pages as u64 * 4096
        );
    }
}

fn within(model: u64, real: u64, rel: f64) -> bool {
    (model as f64 - real as f64).abs() <= rel * real as f64
}

fn print_table(title: &str, cps: &[Checkpoint]) {
    println!("{title}");
    println!(
        "{:>7} {:>11} {:>11} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>11} {:>11} {:>9} {:>9}",
        "event",
        "alloc(m)",
        "alloc(r)",
        "act(m)",
        "act(r)",
        "dirty(m)",
        "dirty(r)",
        "ret(m)",
        "ret(r)",
        "mapped(m)",
        "mapped(r)",
        "meta(m)",
        "meta(r)"
    );
    for c in cps {
        let (m, r) = (&c.model, &c.real);
        println!(
            "{:>7} {:>11} {:>11} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>11} {:>11} {:>9} {:>9}",
            c.event,
            m.allocated,
            r.allocated,
            m.active_pages,
            r.active_pages,
            m.dirty_pages,
            r.dirty_pages,
            m.retained_pages,
            r.retained_pages,
            m.mapped,
            r.mapped,
            m.metadata,
            r.metadata
        );
    }
}

fn check_trace(mix: SizeMix, seed: u64, decay: i64, tcache: bool) {
    check_ops(
        &format!("{mix:?}"),
        &churn(seed, 100_000, mix, true),
        seed,
        decay,
        tcache,
    );
}

fn check_ops(mix: &str, trace: &[fragsim::jemalloc::trace::TraceOp], seed: u64, decay: i64, tcache: bool) {
    let opts = ReplayOptions {
        dirty_decay_ms: decay,
        muzzy_decay_ms: decay,
        tcache,
        every: 10_000,
        write: false,
    };
    let cps = replay_real(&upstream(), trace, opts);
    print_table(&format!("{mix} seed {seed} decay {decay} tcache {tcache}"), &cps);
    for c in &cps {
        let (m, r) = (&c.model, &c.real);
        let at = format!("{mix} seed {seed} decay {decay} event {}", c.event);
        assert_eq!(m.allocated, r.allocated, "allocated at {at}");
        assert_eq!(m.active_pages, r.active_pages, "active at {at}");
        assert_eq!(m.dirty_pages, r.dirty_pages, "dirty at {at}");
        assert_eq!(m.muzzy_pages, r.muzzy_pages, "muzzy at {at}");
        assert_eq!(m.retained_pages, r.retained_pages, "retained at {at}");
        assert_eq!(c.bins_model, c.bins_real, "per-bin curslabs/curregs at {at}");
        assert!(
            within(m.mapped, r.mapped, 0.01),
            "mapped at {at}: {} vs {}",
            m.mapped,
            r.mapped
        );
        assert!(
            within(m.metadata, r.metadata, 0.01),
            "metadata at {at}: {} vs {}",
            m.metadata,
            r.metadata
        );
        // Resident = base pages + active + dirty: exact but for the base allocator's page
        // boundaries (its small leftovers are reused out of order), so two pages of slack.
        assert!(
            m.resident.abs_diff(r.resident) <= 2 * 4096,
            "resident at {at}: {} vs {}",
            m.resident,
            r.resident
        );
    }
    // The trace must actually have exercised the caches it checks.
    let peak_dirty = cps.iter().map(|c| c.real.dirty_pages).max().unwrap();
    let peak_retained = cps.iter().map(|c| c.real.retained_pages).max().unwrap();
    assert!(peak_retained > 0);
    if decay == -1 {
        assert!(peak_dirty > 0, "decay -1 trace left no dirty pages");
    }
}

#[test]
fn small_churn_matches_without_decay() {
    for seed in [1, 2] {
        check_trace(SizeMix::Small, seed, -1, false);
    }
}

#[test]
fn small_churn_matches_with_immediate_purge() {
    for seed in [1, 2] {
        check_trace(SizeMix::Small, seed, 0, false);
    }
}

#[test]
fn large_churn_matches_without_decay() {
    for seed in [3, 4] {
        check_trace(SizeMix::Large, seed, -1, false);
    }
}

#[test]
fn large_churn_matches_with_immediate_purge() {
    for seed in [3, 4] {
        check_trace(SizeMix::Large, seed, 0, false);
    }
}

#[test]
fn mixed_churn_matches_without_decay() {
    for seed in [5, 6] {
        check_trace(SizeMix::Mixed, seed, -1, false);
    }
}

#[test]
fn mixed_churn_matches_with_immediate_purge() {
    for seed in [5, 6] {
        check_trace(SizeMix::Mixed, seed, 0, false);
    }
}

#[test]
fn thread_cache_matches_an_explicit_real_tcache() {
    for (mix, seed) in [(SizeMix::Small, 7), (SizeMix::Mixed, 8), (SizeMix::Large, 9)] {
        check_trace(mix, seed, -1, true);
        check_trace(mix, seed, 0, true);
    }
}

/// Reallocations of large objects (`rallocx`): shrinking in place (the extent's tail freed to
/// the dirty cache), growing in place into a free neighbour, or moving; the same exactness as
/// plain churn, with and without decay and the thread cache.
#[test]
fn realloc_churn_matches_the_real_jemalloc() {
    use fragsim::jemalloc::trace::{realloc_churn, TraceOp};
    for (seed, decay, tcache) in [(31, -1, false), (32, 0, false), (33, -1, true)] {
        let trace = realloc_churn(seed, 30_000);
        let reallocs = trace
            .iter()
            .filter(|o| matches!(o, TraceOp::Realloc { .. }))
            .count();
        assert!(reallocs > 5_000, "{reallocs}");
        check_ops("realloc", &trace, seed, decay, tcache);
    }
}

/// Touched pages against reality: the real side writes every requested byte (one store per page)
/// and `mincore` counts which of the written pages are still resident; the model counts the
/// pages it saw written minus those it purged, using the real cache-oblivious offsets.
#[test]
fn touched_pages_equal_the_real_resident_pages() {
    for (mix, seed, decay, tcache) in [
        (SizeMix::Small, 11, -1, false),
        (SizeMix::Small, 12, 0, true),
        (SizeMix::Mixed, 13, -1, true),
        (SizeMix::Mixed, 14, 0, false),
        (SizeMix::Large, 15, -1, false),
        (SizeMix::Large, 16, 0, true),
    ] {
        let trace = churn(seed, 30_000, mix, true);
        let opts = ReplayOptions {
            dirty_decay_ms: decay,
            muzzy_decay_ms: decay,
            tcache,
            every: 5_000,
            write: true,
        };
        let cps = replay_real(&upstream(), &trace, opts);
        println!("{mix:?} seed {seed} decay {decay} tcache {tcache}: touched pages model / real");
        for c in &cps {
            println!(
                "  {:>6} {:>9} {:>9}",
                c.event, c.model.touched_pages, c.real.touched_pages
            );
        }
        for c in &cps {
            assert_eq!(
                c.model.touched_pages, c.real.touched_pages,
                "{mix:?} seed {seed} decay {decay} tcache {tcache} event {}",
                c.event
            );
        }
        assert!(cps.iter().any(|c| c.real.touched_pages > 0));
    }
}
