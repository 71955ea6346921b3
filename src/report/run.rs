//! The summary `fragsim run` prints.

use crate::redis::InfoMemory;
use crate::sim::{OomVerdict, RunResult};
use crate::units::{group, human};
use crate::workload::{KeyType, Scenario};

fn row(label: &str, m: &InfoMemory) -> String {
    format!(
        "  {:<5} {:>11} {:>11} {:>11} {:>11} {:>9.2} {:>9.2}\n",
        label,
        human(m.used_memory as f64),
        human(m.allocator_allocated as f64),
        human(m.allocator_active as f64),
        human(m.used_memory_rss as f64),
        m.allocator_frag_ratio,
        m.mem_fragmentation_ratio,
    )
}

fn verdict(name: &str, what: &str, v: &Option<OomVerdict>) -> String {
    match v {
        None => format!("  {name}: not set\n"),
        Some(v) => match v.first_test {
            None => format!("  {name} {}: never reached ({what})\n", human(v.limit as f64)),
            Some(t) => {
                let cmds: Vec<String> = v
                    .refused_commands
                    .iter()
                    .map(|(c, n)| format!("{} {c}", group(*n)))
                    .collect();
                let detail = if cmds.is_empty() {
                    format!("{} tests over", group(v.events))
                } else {
                    format!("refused: {}", cmds.join(", "))
                };
                format!(
                    "  {name} {}: FIRST HIT in test {t} ({detail}; {what})\n",
                    human(v.limit as f64)
                )
            }
        },
    }
}

/// The text summary of one run.
pub fn render(sc: &Scenario, r: &RunResult) -> String {
    let mut o = format!("{}\n", sc.name);
    o += &format!(
        "  {} tests, flush {:?}, {} s each; server profile {}, allocator {}, seed {}\n",
        group(sc.tests),
        sc.flush,
        sc.test_seconds,
        r.profile,
        r.allocator,
        r.seed
    );
    for k in &sc.keys {
        let what = match k.kind {
            KeyType::String => format!("{} B values", group(k.value_size)),
            KeyType::Hash => format!("hashes of {} fields x {} B", group(k.fields), group(k.value_size)),
        };
        let ttl = k.ttl_seconds.map(|t| format!(", TTL {t} s")).unwrap_or_default();
        o += &format!(
            "  keys '{}': {} per test, {what}{ttl}, cleanup {:.0}%\n",
            k.name,
            group(k.count),
            k.cleanup * 100.0
        );
    }
    let used_label = if sc.redis.is_some() {
        "used_memory"
    } else {
        "usable"
    };
    o += &format!(
        "\n  {:<5} {:>11} {:>11} {:>11} {:>11} {:>9} {:>9}\n",
        "", used_label, "alloc_alloc", "alloc_active", "rss", "frag", "mem_frag"
    );
    o += &row("peak", &r.peak);
    o += &row("end", &r.end);
    o += "\n";
    o += &verdict(
        "maxmemory",
        "Redis refuses writes when used_memory > maxmemory",
        &r.oom_maxmemory,
    );
    o += &verdict(
        "memory_limit",
        "the kernel kills when RSS > limit",
        &r.oom_memory_limit,
    );
    if sc.redis.is_some() {
        o += "\n  used_memory, alloc_alloc/alloc_active (allocator_allocated/active), rss (used_memory_rss),\n";
        o += "  frag (allocator_frag_ratio = active/allocated), mem_frag (mem_fragmentation_ratio = rss/used):\n";
        o += "  INFO memory's fields, predicted. Peak is each column's maximum over the tests.\n";
    } else {
        o += "\n  usable: malloc_usable_size of live objects; alloc_alloc/alloc_active: jemalloc's\n";
        o += "  stats.allocated/active; rss: pages written and not purged (no process baseline).\n";
    }
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
