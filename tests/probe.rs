use fragsim::jemalloc::AllocatorConfig;
use fragsim::validate::{compare::*, trace::*};
#[test]
fn probe_replay() {
    let cfg = AllocatorConfig::preset("jemalloc-5.3").unwrap();
    for mix in [SizeMix::Small, SizeMix::Large, SizeMix::Mixed] {
        for (d, m) in [(-1, -1), (0, 0)] {
            let t = churn(7, 100_000, mix, true);
            let cps = replay(
                &cfg,
                &t,
                ReplayOptions {
                    dirty_decay_ms: d,
                    muzzy_decay_ms: m,
                    tcache: false,
                    every: 10_000,
                },
            )
            .unwrap();
            let bad: Vec<_> = cps
                .iter()
                .filter(|c| {
                    (
                        c.model.allocated,
                        c.model.active_pages,
                        c.model.dirty_pages,
                        c.model.retained_pages,
                    ) != (
                        c.real.allocated,
                        c.real.active_pages,
                        c.real.dirty_pages,
                        c.real.retained_pages,
                    )
                })
                .collect();
            println!(
                "{mix:?} {d}: {} of {} checkpoints differ",
                bad.len(),
                cps.len()
            );
            for c in bad.iter().take(2) {
                println!(
                    "  {:?}\n   model {:?}\n   real  {:?}",
                    c.event, c.model, c.real
                );
            }
            let l = cps.last().unwrap();
            println!("  last model {:?}\n  last real  {:?}", l.model, l.real);
        }
    }
}
