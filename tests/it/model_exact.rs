//! Exact, derived numbers from the allocator model.

use fragsim::jemalloc::{AllocatorConfig, Arena, ArenaOptions, SizeClasses};

fn preset(name: &str) -> AllocatorConfig {
    AllocatorConfig::preset(name).unwrap()
}

/// Slab geometry of every small class with 4 KiB pages and a 16-byte quantum. A slab is the
/// smallest page multiple the region size divides, `lcm(4096, size) / 4096` pages, and holds
/// `pages * 4096 / size` regions. Sizes of the form 2^k * 1 (powers of two) need one page;
/// 3 * 2^k needs 3, 5 * 2^k needs 5, 7 * 2^k needs 7 (as long as 2^k < 4096 leaves the odd
/// factor in the lcm); 8192 = 2 pages; 10240 = 5 * 2048 -> lcm 20480 = 5 pages, 2 regions;
/// 12288 = 3 * 4096 -> 3 pages, 1 region; 14336 = 7 * 2048 -> 7 pages, 2 regions.
#[test]
fn slab_geometry_of_every_small_class_q16_4k() {
    let expected: [(u64, u32, u32); 36] = [
        (8, 1, 512),
        (16, 1, 256),
        (32, 1, 128),
        (48, 3, 256),
        (64, 1, 64),
        (80, 5, 256),
        (96, 3, 128),
        (112, 7, 256),
        (128, 1, 32),
        (160, 5, 128),
        (192, 3, 64),
        (224, 7, 128),
        (256, 1, 16),
        (320, 5, 64),
        (384, 3, 32),
        (448, 7, 64),
        (512, 1, 8),
        (640, 5, 32),
        (768, 3, 16),
        (896, 7, 32),
        (1024, 1, 4),
        (1280, 5, 16),
        (1536, 3, 8),
        (1792, 7, 16),
        (2048, 1, 2),
        (2560, 5, 8),
        (3072, 3, 4),
        (3584, 7, 8),
        (4096, 1, 1),
        (5120, 5, 4),
        (6144, 3, 2),
        (7168, 7, 4),
        (8192, 2, 1),
        (10240, 5, 2),
        (12288, 3, 1),
        (14336, 7, 2),
    ];
    let sc = SizeClasses::new(4, 12);
    let small: Vec<_> = sc.classes().iter().filter(|c| c.small).collect();
    assert_eq!(small.len(), expected.len());
    for (c, &(size, pages, nregs)) in small.iter().zip(expected.iter()) {
        assert_eq!(
            (c.size, c.slab_pages, c.nregs),
            (size, pages, nregs),
            "class {}",
            c.index
        );
        // No tail waste: regions fill the slab exactly.
        assert_eq!(c.nregs as u64 * c.size, c.slab_pages as u64 * 4096);
    }
}

/// With a quantum of 8 the extra classes 24, 40 and 56 appear: 24 = 3 * 8 -> 3 pages of 512
/// regions; 40 = 5 * 8 -> 5 pages, 512; 56 = 7 * 8 -> 7 pages, 512.
#[test]
fn quantum_8_adds_24_40_56() {
    let sc = SizeClasses::new(3, 12);
    let geo = |size: u64| {
        let c = sc.class(sc.index_of(size).unwrap());
        (c.size, c.slab_pages, c.nregs)
    };
    assert_eq!(geo(24), (24, 3, 512));
    assert_eq!(geo(40), (40, 5, 512));
    assert_eq!(geo(56), (56, 7, 512));
}

#[test]
fn a_24_byte_request_costs_32_on_upstream_and_24_on_redis_bundled() {
    let mut up = Arena::new(&preset("jemalloc-5.3"), ArenaOptions::default());
    let mut r70 = Arena::new(&preset("redis-7.0-bundled"), ArenaOptions::default());
    let a = up.malloc(24).unwrap();
    let b = r70.malloc(24).unwrap();
    assert_eq!(up.usable_size(a), 32);
    assert_eq!(r70.usable_size(b), 24);
    // A 32-byte region lives in a 1-page slab; a 24-byte one in a 3-page slab.
    // The thread cache fills 100 regions on the first miss, all counted as allocated.
    assert_eq!(up.stats().allocated, 100 * 32);
    assert_eq!(up.stats().active, 4096);
    assert_eq!(r70.stats().allocated, 100 * 24);
    assert_eq!(r70.stats().active, 3 * 4096);
}

/// 30,000 B rounds to the 32 KiB class (8 pages); cache-oblivious builds add one pad page, so the
/// extent is 9 pages = 36,864 B of `stats.active`; Redis 7.2's bundled build has no pad.
#[test]
fn a_30000_byte_request_with_and_without_the_pad() {
    for (name, active) in [
        ("jemalloc-5.3", 36_864),
        ("redis-7.0-bundled", 36_864),
        ("redis-7.2-bundled", 32_768),
    ] {
        let mut a = Arena::new(&preset(name), ArenaOptions::default());
        let id = a.malloc(30_000).unwrap();
        assert_eq!(a.usable_size(id), 32_768, "{name}");
        let s = a.stats();
        assert_eq!(s.allocated, 32_768, "{name}");
        assert_eq!(s.active, active, "{name}");
    }
}

/// The 5.3.1 default rounds large requests to whole pages: 70,000 B -> 73,728 (18 pages) instead
/// of the 80 KiB class.
#[test]
fn jemalloc_5_3_1_rounds_large_requests_to_pages() {
    let a = Arena::new(&preset("jemalloc-5.3.1"), ArenaOptions::default());
    let b = Arena::new(&preset("jemalloc-5.3"), ArenaOptions::default());
    assert_eq!(a.usable_size_of(70_000).unwrap(), 73_728);
    assert_eq!(b.usable_size_of(70_000).unwrap(), 81_920);
    // Small requests are unchanged.
    assert_eq!(a.usable_size_of(2_000).unwrap(), 2_048);
}

/// A 30,000-byte value written into a padded 36 KiB extent starts at a random cache line of the
/// first page: it touches 8 pages when the offset is 0..=2,768 (30,000 + offset <= 32,768) and
/// 9 pages otherwise. Over many objects both happen, and never anything else.
#[test]
fn a_30000_byte_value_touches_8_or_9_pages() {
    let mut a = Arena::new(
        &preset("jemalloc-5.3"),
        ArenaOptions {
            dedicated: true,
            seed: 9,
        },
    );
    let mut seen = [0u32; 16];
    let mut prev = 0;
    for _ in 0..2000 {
        a.malloc(30_000).unwrap();
        let t = a.stats().touched_pages;
        seen[(t - prev) as usize] += 1;
        prev = t;
    }
    assert_eq!(seen.iter().sum::<u32>(), 2000);
    assert!(seen[8] > 0 && seen[9] > 0, "{seen:?}");
    assert_eq!(seen[8] + seen[9], 2000);
    // P(8 pages) = 44 of 64 offsets (0..=2,752 in steps of 64), about 69%.
    let p8 = seen[8] as f64 / 2000.0;
    assert!((0.62..0.76).contains(&p8), "p8 = {p8}");
}

/// 2,000-byte values share 1-page slabs of two 2,048-byte regions: two values touch one page.
#[test]
fn two_2000_byte_values_share_a_page() {
    let mut cfg = preset("jemalloc-5.3");
    cfg.tcache.enabled = false;
    let mut a = Arena::new(
        &cfg,
        ArenaOptions {
            dedicated: true,
            seed: 1,
        },
    );
    for _ in 0..30 {
        a.malloc(2_000).unwrap();
    }
    let s = a.stats();
    assert_eq!(s.active, 15 * 4096);
    assert_eq!(s.allocated, 30 * 2048);
    assert_eq!(s.touched_pages, 15);
}

/// Freeing 30 × 30,000 B with the thread cache (large-class capacity 20). Measured on Debian's
/// libjemalloc 5.3.0: allocated drops from 30 to 20 objects of 32 KiB and 10 extents of 9 pages
/// (90 pages) go dirty.
#[test]
fn tcache_keeps_twenty_32k_objects() {
    let mut a = Arena::new(&preset("jemalloc-5.3"), ArenaOptions::default());
    let ids: Vec<_> = (0..30).map(|_| a.malloc(30_000).unwrap()).collect();
    assert_eq!(a.stats().allocated, 30 * 32_768);
    for id in ids {
        a.free(id);
    }
    let s = a.stats();
    // Frees 1..20 fill the bin; free 21 flushes the 10 oldest (keeping 10) and pushes: 11;
    // frees 22..30 push 9 more: 20 cached, 10 flushed.
    assert_eq!(s.allocated, 20 * 32_768);
    assert_eq!(s.dirty_pages, 10 * 9);
    assert_eq!(a.tcache_count(), 20);
    // An explicit purge does not flush the thread cache.
    a.purge();
    assert_eq!(a.stats().allocated, 20 * 32_768);
    assert_eq!(a.stats().dirty_pages, 0);
}
