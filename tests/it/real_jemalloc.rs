//! The model against real jemalloc builds, each driven through a dedicated arena with the same
//! traces: the jemalloc 5.3.0 linked into the crate (tikv-jemalloc-sys 0.6.1) for the preset
//! `jemalloc-5.3`, and the Redis-bundled flavours loaded at run time from
//! `$FRAGSIM_JEMALLOC_LIBS` (built by `.ci/build-jemalloc`; skipped with a notice when absent):
//! `redis-7.0-bundled` (jemalloc 5.2.1 as Redis 7.0 configures it: quantum 8, cache-oblivious)
//! and `redis-7.2-bundled` (5.3.0 as Redis 7.2+ and Valkey configure it: quantum 8, no pad).
//!
//! Required for every build: size classes equal `nallocx` for every request from 1 B to 4 MiB
//! and every large class up to 64 MiB; slab geometry equals the real bins'; on churn traces of
//! 100,000 events (and 30,000-event realloc traces) allocated, active, dirty, muzzy and retained
//! pages and every bin's slabs and regions match exactly at every checkpoint with decay off (-1)
//! and immediate (0), with and without a thread cache; mapped and metadata within 1%; resident
//! within two pages; touched pages exactly.

use fragsim::jemalloc::trace::{churn, realloc_churn, SizeMix, TraceOp};
use fragsim::jemalloc::{AllocatorConfig, SizeClasses};
use fragsim::validate::compare::{Checkpoint, ReplayOptions};
use fragsim::validate::real_jemalloc::{read, usable_size, version_of, Jemalloc, LINKED};

use crate::common::{jemalloc_lib, replay_real_in};

/// A real jemalloc build and the allocator preset that stands for it.
struct Build {
    jem: &'static dyn Jemalloc,
    cfg: AllocatorConfig,
    /// How the build's `version` string starts.
    version: &'static str,
}

impl Build {
    fn sc(&self) -> SizeClasses {
        SizeClasses::new(self.cfg.lg_quantum, self.cfg.lg_page)
    }
}

/// The linked jemalloc 5.3.0, for the preset `jemalloc-5.3`.
fn linked() -> Option<Build> {
    Some(Build {
        jem: &LINKED,
        cfg: AllocatorConfig::preset("jemalloc-5.3").unwrap(),
        version: "5.3.0-",
    })
}

/// The build preset `preset` stands for, from `$FRAGSIM_JEMALLOC_LIBS` (`None`, with a notice,
/// when it is not there).
fn flavour(preset: &str, version: &'static str) -> Option<Build> {
    Some(Build {
        jem: jemalloc_lib(preset)?,
        cfg: AllocatorConfig::preset(preset).unwrap(),
        version,
    })
}

fn check_build(b: &Build) {
    let v = version_of(b.jem);
    assert!(v.starts_with(b.version), "{} is jemalloc {v}", b.jem.describe());
    let q: usize = read(b.jem, "arenas.quantum").unwrap();
    assert_eq!(q, 1 << b.cfg.lg_quantum);
    assert_eq!(read::<usize>(b.jem, "arenas.page").unwrap(), 4096);
    assert_eq!(
        read::<bool>(b.jem, "config.cache_oblivious").unwrap(),
        b.cfg.cache_oblivious
    );
    assert!(read::<bool>(b.jem, "config.stats").unwrap());
    let sc = b.sc();
    assert_eq!(read::<u32>(b.jem, "arenas.nbins").unwrap() as usize, sc.nbins());
    assert_eq!(
        read::<u32>(b.jem, "arenas.nlextents").unwrap() as usize,
        sc.nlextents()
    );
}

fn check_size_classes(b: &Build) {
    let sc = b.sc();
    for size in 1..=(4u64 << 20) {
        let real = usable_size(b.jem, size as usize) as u64;
        let model = sc.usable(size).unwrap();
        assert_eq!(model, real, "request of {size} bytes");
    }
}

fn check_large_classes(b: &Build) {
    let sc = b.sc();
    let mut n = 0;
    for c in sc.classes().iter().filter(|c| !c.small && c.size <= 64 << 20) {
        assert_eq!(usable_size(b.jem, c.size as usize) as u64, c.size);
        assert_eq!(usable_size(b.jem, c.size as usize - 1) as u64, c.size);
        assert_eq!(
            usable_size(b.jem, c.size as usize + 1) as u64,
            sc.usable(c.size + 1).unwrap()
        );
        n += 1;
    }
    // 16 KiB .. 64 MiB: 4 classes per doubling over 12 doublings.
    assert_eq!(n, 49);
}

fn check_slab_geometry(b: &Build) {
    let sc = b.sc();
    for c in sc.classes().iter().filter(|c| c.small) {
        let i = c.index;
        assert_eq!(
            read::<usize>(b.jem, &format!("arenas.bin.{i}.size")).unwrap() as u64,
            c.size
        );
        assert_eq!(
            read::<u32>(b.jem, &format!("arenas.bin.{i}.nregs")).unwrap(),
            c.nregs
        );
        assert_eq!(
            read::<usize>(b.jem, &format!("arenas.bin.{i}.slab_size")).unwrap() as u64,
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

fn check_trace(b: &Build, mix: SizeMix, seed: u64, decay: i64, tcache: bool) {
    check_ops(
        b,
        &format!("{mix:?}"),
        &churn(seed, 100_000, mix, true),
        seed,
        decay,
        tcache,
    );
}

fn check_ops(b: &Build, mix: &str, trace: &[TraceOp], seed: u64, decay: i64, tcache: bool) {
    let opts = ReplayOptions {
        dirty_decay_ms: decay,
        muzzy_decay_ms: decay,
        tcache,
        every: 10_000,
        write: false,
    };
    let cps = replay_real_in(b.jem, &b.cfg, trace, opts);
    let name = &b.cfg.name;
    print_table(
        &format!("{name}: {mix} seed {seed} decay {decay} tcache {tcache}"),
        &cps,
    );
    for c in &cps {
        let (m, r) = (&c.model, &c.real);
        let at = format!(
            "{name}: {mix} seed {seed} decay {decay} tcache {tcache} event {}",
            c.event
        );
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

/// Reallocations of large objects (`rallocx`): shrinking in place (the extent's tail freed to
/// the dirty cache), growing in place into a free neighbour, or moving; the same exactness as
/// plain churn, with and without decay and the thread cache.
fn check_realloc(b: &Build) {
    for (seed, decay, tcache) in [(31, -1, false), (32, 0, false), (33, -1, true)] {
        let trace = realloc_churn(seed, 30_000);
        let reallocs = trace
            .iter()
            .filter(|o| matches!(o, TraceOp::Realloc { .. }))
            .count();
        assert!(reallocs > 5_000, "{reallocs}");
        check_ops(b, "realloc", &trace, seed, decay, tcache);
    }
}

/// Touched pages against reality: the real side writes every requested byte (one store per page)
/// and `mincore` counts which of the written pages are still resident; the model counts the
/// pages it saw written minus those it purged, using the real cache-oblivious offsets.
fn check_touched(b: &Build) {
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
        let cps = replay_real_in(b.jem, &b.cfg, &trace, opts);
        let name = &b.cfg.name;
        println!("{name}: {mix:?} seed {seed} decay {decay} tcache {tcache}: touched pages model / real");
        for c in &cps {
            println!(
                "  {:>6} {:>9} {:>9}",
                c.event, c.model.touched_pages, c.real.touched_pages
            );
        }
        for c in &cps {
            assert_eq!(
                c.model.touched_pages, c.real.touched_pages,
                "{name}: {mix:?} seed {seed} decay {decay} tcache {tcache} event {}",
                c.event
            );
        }
        assert!(cps.iter().any(|c| c.real.touched_pages > 0));
    }
}

/// The same comparisons for one build: module `$m`, the build from `$build` (an
/// `Option<Build>`; `None` skips, having said why).
macro_rules! comparisons {
    ($m:ident, $build:expr) => {
        mod $m {
            use super::*;

            #[test]
            fn the_build_is_the_one_its_preset_stands_for() {
                let Some(b) = $build else { return };
                check_build(&b);
            }

            #[test]
            fn size_classes_equal_nallocx_for_every_request_up_to_4_mib() {
                let Some(b) = $build else { return };
                check_size_classes(&b);
            }

            #[test]
            fn large_classes_equal_nallocx_up_to_64_mib() {
                let Some(b) = $build else { return };
                check_large_classes(&b);
            }

            #[test]
            fn slab_geometry_equals_the_real_bins() {
                let Some(b) = $build else { return };
                check_slab_geometry(&b);
            }

            #[test]
            fn small_churn_matches_without_decay() {
                let Some(b) = $build else { return };
                for seed in [1, 2] {
                    check_trace(&b, SizeMix::Small, seed, -1, false);
                }
            }

            #[test]
            fn small_churn_matches_with_immediate_purge() {
                let Some(b) = $build else { return };
                for seed in [1, 2] {
                    check_trace(&b, SizeMix::Small, seed, 0, false);
                }
            }

            #[test]
            fn large_churn_matches_without_decay() {
                let Some(b) = $build else { return };
                for seed in [3, 4] {
                    check_trace(&b, SizeMix::Large, seed, -1, false);
                }
            }

            #[test]
            fn large_churn_matches_with_immediate_purge() {
                let Some(b) = $build else { return };
                for seed in [3, 4] {
                    check_trace(&b, SizeMix::Large, seed, 0, false);
                }
            }

            #[test]
            fn mixed_churn_matches_without_decay() {
                let Some(b) = $build else { return };
                for seed in [5, 6] {
                    check_trace(&b, SizeMix::Mixed, seed, -1, false);
                }
            }

            #[test]
            fn mixed_churn_matches_with_immediate_purge() {
                let Some(b) = $build else { return };
                for seed in [5, 6] {
                    check_trace(&b, SizeMix::Mixed, seed, 0, false);
                }
            }

            #[test]
            fn thread_cache_matches_an_explicit_real_tcache() {
                let Some(b) = $build else { return };
                for (mix, seed) in [
                    (SizeMix::Small, 7),
                    (SizeMix::Mixed, 8),
                    (SizeMix::Large, 9),
                ] {
                    check_trace(&b, mix, seed, -1, true);
                    check_trace(&b, mix, seed, 0, true);
                }
            }

            #[test]
            fn realloc_churn_matches_the_real_jemalloc() {
                let Some(b) = $build else { return };
                check_realloc(&b);
            }

            #[test]
            fn touched_pages_equal_the_real_resident_pages() {
                let Some(b) = $build else { return };
                check_touched(&b);
            }
        }
    };
}

comparisons!(jemalloc_5_3, linked());
comparisons!(redis_7_0_bundled, flavour("redis-7.0-bundled", "5.2.1-"));
comparisons!(redis_7_2_bundled, flavour("redis-7.2-bundled", "5.3.0-"));
