//! Invariants of the allocator model on random traces, over many configurations.

use fragsim::jemalloc::{AllocatorConfig, Arena, ArenaOptions, ObjId};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Alloc(u64),
    Free(usize),
    Purge,
    Advance(u64),
    FlushTcache,
}

fn size_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 1u64..=14_336,
        3 => 14_337u64..=4 << 20,
        1 => (8u64 << 20)..=(20u64 << 20),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => size_strategy().prop_map(Op::Alloc),
        8 => any::<usize>().prop_map(Op::Free),
        1 => Just(Op::Purge),
        1 => (1u64..20_000_000_000).prop_map(Op::Advance),
        1 => Just(Op::FlushTcache),
    ]
}

fn config_strategy() -> impl Strategy<Value = AllocatorConfig> {
    (
        prop::sample::select(vec![
            "jemalloc-5.3",
            "redis-7.0-bundled",
            "redis-7.2-bundled",
            "jemalloc-5.3.1",
        ]),
        prop::sample::select(vec![12u32, 14, 16]),
        any::<bool>(),
        prop::sample::select(vec![-1i64, 0, 10_000]),
        prop::sample::select(vec![-1i64, 0, 1_000]),
        any::<bool>(),
    )
        .prop_map(|(preset, lg_page, tcache, dirty, muzzy, bg)| {
            let mut c = AllocatorConfig::preset(preset).unwrap();
            c.lg_page = lg_page;
            c.tcache.enabled = tcache;
            c.dirty_decay_ms = dirty;
            c.muzzy_decay_ms = muzzy;
            c.background_thread = bg;
            c
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_freeing_everything_returns_to_zero(
        cfg in config_strategy(),
        dedicated in any::<bool>(),
        ops in prop::collection::vec(op_strategy(), 1..400),
    ) {
        let mut a = Arena::new(&cfg, ArenaOptions { dedicated, seed: 3 });
        let start = a.stats();
        let mut live: Vec<ObjId> = Vec::new();
        for op in &ops {
            match *op {
                Op::Alloc(size) => live.push(a.malloc(size).unwrap()),
                Op::Free(k) if !live.is_empty() => {
                    let id = live.swap_remove(k % live.len());
                    a.free(id);
                }
                Op::Free(_) => {}
                Op::Purge => a.purge(),
                Op::Advance(ns) => a.advance(ns),
                Op::FlushTcache => a.flush_tcache(),
            }
            prop_assert!(a.check_invariants().is_ok(), "{:?}", a.check_invariants());
            let s = a.stats();
            prop_assert!(s.allocated <= s.active && s.active <= s.mapped);
            prop_assert!(s.touched_pages * a.size_classes().page() <= s.mapped + s.retained);
        }
        for id in live.drain(..) {
            a.free(id);
        }
        a.flush_tcache();
        let end = a.stats();
        prop_assert_eq!(end.allocated, start.allocated);
        prop_assert_eq!(end.active, start.active);
        prop_assert!(a.check_invariants().is_ok());
        a.purge();
        let purged = a.stats();
        prop_assert_eq!(purged.dirty_pages, 0);
        prop_assert_eq!(purged.muzzy_pages, 0);
        prop_assert_eq!(purged.touched_pages, 0);
    }
}
