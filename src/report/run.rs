//! The summary `fragsim run` prints.

use crate::sim::{RunResult, Snapshot};
use crate::units::{group, human};
use crate::workload::Scenario;

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

fn row(label: &str, s: &Snapshot) -> String {
    format!(
        "  {:<5} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}   {:>6} {:>6}\n",
        label,
        human(s.requested as f64),
        human(s.allocated as f64),
        human(s.active as f64),
        human(s.dirty as f64),
        human(s.tcache as f64),
        human(s.rss as f64),
        ratio(s.active, s.allocated),
        ratio(s.rss, s.requested),
    )
}

/// The text summary of one run.
pub fn render(sc: &Scenario, r: &RunResult) -> String {
    let mut o = format!("{}\n", sc.name);
    o += &format!(
        "  {} tests, flush {:?}, {} s each, allocator {}, seed {}\n",
        group(sc.tests),
        sc.flush,
        sc.test_seconds,
        r.allocator,
        r.seed
    );
    for k in &sc.keys {
        o += &format!(
            "  keys '{}': {} objects of {} B per test, cleanup {:.0}%\n",
            k.name,
            group(k.count),
            group(k.value_size),
            k.cleanup * 100.0
        );
    }
    o += &format!(
        "\n  {:<5} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}   {:>6} {:>6}\n",
        "", "payload", "allocated", "active", "dirty", "tcache", "RSS", "act/al", "rss/pl"
    );
    o += &row("peak", &r.peak);
    o += &row("end", &r.end);
    o += "\n  payload: bytes the program holds; allocated/active: jemalloc's stats.allocated/active;\n";
    o += "  RSS: pages written and not purged (the allocator's part of the kernel's RSS, without the\n";
    o += "  process baseline). Peak is the maximum of each column over the tests.\n";
    o
}

/// The per-bin table, like the bins section of `malloc_stats_print`.
pub fn render_bins(r: &RunResult) -> String {
    let mut o = String::from("\n  small bins after the last test (stats.arenas.<i>.bins.<j>.*):\n");
    o += &format!(
        "  {:>8} {:>10} {:>10} {:>10} {:>10} {:>6}\n",
        "size", "regs/slab", "pgs/slab", "curslabs", "curregs", "util"
    );
    if r.bins.is_empty() {
        o += "  (no small objects)\n";
    }
    for b in &r.bins {
        o += &format!(
            "  {:>8} {:>10} {:>10} {:>10} {:>10} {:>6.3}\n",
            group(b.size),
            b.regions_per_slab,
            b.slab_pages,
            group(b.curslabs),
            group(b.curregs),
            b.util
        );
    }
    o
}
