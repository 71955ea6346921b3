//! Memory by key pattern: each key group's part of `used_memory`, `allocator_active` and RSS
//! at the peak of a variant's median run ([`crate::sim::breakdown::Share`]), as the table
//! `fragsim run --by-pattern` prints and the report shows, largest first.

use crate::sim::breakdown::{Breakdown, Share};
use crate::sim::montecarlo::{McResult, VariantResult};
use crate::units::{group, human, plural};

/// Key patterns shown one by one; the smaller ones are summed into one row.
pub const SHOWN: usize = 12;

/// The rows of `b` to show: the key patterns by RSS, then allocator_active, largest first (ties
/// in the scenario's order), the first `shown` one by one and the rest summed into one row
/// ("N more patterns"), then the shared rows in their order. Empty without Redis.
pub fn rows(b: &Breakdown, shown: usize) -> Vec<Share> {
    let mut groups: Vec<&Share> = b.by_pattern.iter().filter(|s| !s.shared).collect();
    groups.sort_by_key(|s| std::cmp::Reverse((s.rss, s.allocator_active)));
    let mut out: Vec<Share> = groups.iter().take(shown).map(|s| (*s).clone()).collect();
    let rest = &groups[groups.len().min(shown)..];
    if !rest.is_empty() {
        let mut sum = Share {
            name: format!("{} more patterns", rest.len()),
            ..Share::default()
        };
        for s in rest {
            sum.add(s);
        }
        out.push(sum);
    }
    out.extend(b.by_pattern.iter().filter(|s| s.shared).cloned());
    out
}

/// What a shared row holds, in words.
pub fn shared_note(name: &str) -> &'static str {
    match name {
        "server" => "keyspace tables, client buffers, scripts",
        "allocator" => "thread cache, spare slabs, unpurged pages, metadata",
        "baseline" => "the empty server and the process",
        _ => "",
    }
}

/// The name a row is shown by in brief: a key group's name, a shared row's in parentheses.
pub fn short_label(s: &Share) -> String {
    if s.shared {
        format!("({})", s.name)
    } else {
        s.name.clone()
    }
}

/// The name a row is shown by: a key group's name, or a shared row's with what it holds.
pub fn label(s: &Share) -> String {
    if s.shared {
        format!("({}: {})", s.name, shared_note(&s.name))
    } else {
        s.name.clone()
    }
}

fn share_of(x: u64, total: u64) -> String {
    format!("{:.1}%", 100.0 * x as f64 / total.max(1) as f64)
}

/// The table of variant `v`'s memory by key pattern: one row per pattern, then the shared
/// rows and the totals (each column sums to its INFO figure).
pub fn table(v: &VariantResult) -> (Vec<String>, Vec<Vec<String>>) {
    let b = &v.breakdown;
    let head = [
        "key pattern",
        "keys",
        "used_memory",
        "allocator_active",
        "of which pad pages + slab holes",
        "RSS",
        "share of RSS",
    ]
    .map(String::from)
    .to_vec();
    let mut rows: Vec<Vec<String>> = rows(b, SHOWN)
        .iter()
        .map(|s| {
            vec![
                label(s),
                if s.shared { String::new() } else { group(s.keys) },
                human(s.used_memory as f64),
                human(s.allocator_active as f64),
                human((s.pad_pages + s.slab_holes) as f64),
                human(s.rss as f64),
                share_of(s.rss, b.rss),
            ]
        })
        .collect();
    let keys: u64 = b.by_pattern.iter().map(|s| s.keys).sum();
    rows.push(vec![
        "= total (INFO memory)".into(),
        group(keys),
        human(b.used_memory as f64),
        human(b.allocator_active as f64),
        String::new(),
        human(b.rss as f64),
        "100%".into(),
    ]);
    (head, rows)
}

/// The text `fragsim run --by-pattern` prints for each variant.
pub fn text(r: &McResult) -> String {
    let mut o = String::new();
    for v in &r.variants {
        if v.breakdown.by_pattern.is_empty() {
            continue;
        }
        o += &format!(
            "  {}: memory by key pattern at the peak of run {} (the median): used_memory / allocator_active / RSS (share of RSS)\n",
            v.name, v.breakdown_run
        );
        let rows = rows(&v.breakdown, SHOWN);
        let labels: Vec<String> = rows.iter().map(short_label).collect();
        let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        for (s, l) in rows.iter().zip(&labels) {
            let keys = if s.shared {
                String::new()
            } else {
                plural(s.keys, "key", "keys")
            };
            o += &format!(
                "    {l:<width$}  {keys:>14}  {} / {} / {} ({})\n",
                human(s.used_memory as f64),
                human(s.allocator_active as f64),
                human(s.rss as f64),
                share_of(s.rss, v.breakdown.rss)
            );
        }
    }
    if !o.is_empty() {
        o += &format!(
            "  (server): {}; (allocator): {}; (baseline): {}.\n",
            shared_note("server"),
            shared_note("allocator"),
            shared_note("baseline")
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(name: &str, rss: u64, shared: bool) -> Share {
        Share {
            name: name.into(),
            shared,
            keys: if shared { 0 } else { 10 },
            used_memory: rss / 2,
            allocator_active: rss - 10,
            pad_pages: 1,
            slab_holes: 2,
            rss,
            ..Share::default()
        }
    }

    #[test]
    fn rows_put_the_largest_first_and_sum_the_rest() {
        let b = Breakdown {
            by_pattern: vec![
                share("a", 100, false),
                share("b", 300, false),
                share("c", 200, false),
                share("d", 50, false),
                share("server", 70, true),
                share("baseline", 1000, true),
            ],
            rss: 1720,
            ..Breakdown::default()
        };
        let r = rows(&b, 2);
        let names: Vec<&str> = r.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["b", "c", "2 more patterns", "server", "baseline"]);
        let more = &r[2];
        assert_eq!((more.keys, more.rss, more.used_memory), (20, 150, 75));
        assert_eq!(
            (more.allocator_active, more.pad_pages, more.slab_holes),
            (130, 2, 4)
        );
        // Nothing lost: the rows sum to what they came from.
        assert_eq!(r.iter().map(|s| s.rss).sum::<u64>(), 1720);
        assert!(rows(&Breakdown::default(), 2).is_empty());
    }
}
