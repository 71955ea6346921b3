//! The summary `fragsim run` prints.

use crate::redis::info::Field;
use crate::sim::RunResult;
use crate::units::{group, human, plural};
use crate::workload::KeyType;

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

use crate::sim::breakdown::LAYERS;
use crate::sim::montecarlo::{McResult, OomStat, Stat, VariantResult};

/// A figure's p5 / p50 / p95: two decimals for a ratio, units for bytes.
fn stat_cell(s: Stat, f: Field) -> String {
    if f.is_momentary() {
        format!("{:.2} / {:.2} / {:.2}", s.p5, s.p50, s.p95)
    } else {
        format!("{} / {} / {}", human(s.p5), human(s.p50), human(s.p95))
    }
}

fn oom_line(name: &str, what: &str, o: &Option<OomStat>) -> String {
    match o {
        None => format!("    {name}: not set\n"),
        Some(o) => {
            let first = o
                .first_test
                .map(|s| format!(", first at test {:.0} (earliest {:.0})", s.p50, s.min))
                .unwrap_or_default();
            let cmds: Vec<String> = o
                .refused_commands
                .iter()
                .map(|(c, n)| format!("{c} x{}", group(*n)))
                .collect();
            let cmds = if cmds.is_empty() {
                String::new()
            } else {
                format!("; refused over all runs: {}", cmds.join(", "))
            };
            format!(
                "    {name} {}: {what} in {:.0}% of runs{first}{cmds}\n",
                human(o.limit as f64),
                o.probability * 100.0
            )
        }
    }
}

/// The summary table of one variant: p5 / p50 / p95 over the runs.
pub fn render_variant(v: &VariantResult, runs: u64) -> String {
    let mut o = format!(
        "  variant \"{}\" ({}, allocator {}, {})\n",
        v.name,
        v.profile,
        v.allocator,
        plural(runs, "run", "runs")
    );
    for c in &v.caveats {
        o += &format!("    not modelled yet: {c}\n");
    }
    o += &format!("    {:<24} {:>36} {:>36}\n", "p5 / p50 / p95", "peak", "end");
    for f in [
        Field::UsedMemory,
        Field::AllocatorAllocated,
        Field::AllocatorActive,
        Field::UsedMemoryRss,
        Field::AllocatorFragRatio,
        Field::MemFragmentationRatio,
    ] {
        o += &format!(
            "    {:<24} {:>36} {:>36}\n",
            f.name(),
            stat_cell(v.peak.get(f), f),
            stat_cell(v.end.get(f), f)
        );
    }
    o += &oom_line(
        "maxmemory",
        "Redis refused writes (used_memory > maxmemory)",
        &v.oom.maxmemory,
    );
    o += &oom_line(
        "memory_limit",
        "RSS went over the limit (the kernel kills)",
        &v.oom.memory_limit,
    );
    let mm = v
        .capacity
        .maxmemory
        .map(|b| format!("maxmemory >= {}, ", human(b as f64)))
        .unwrap_or_default();
    o += &format!(
        "    capacity (an OOM in under 1% of runs): {mm}memory_limit >= {}\n",
        human(v.capacity.memory_limit as f64)
    );
    o += &render_breakdown(v);
    o
}

/// Where the bytes go: the layers of RSS at the peak of the median run, with their shares.
pub fn render_breakdown(v: &VariantResult) -> String {
    let b = &v.breakdown;
    let mut o = format!(
        "    where the bytes go (RSS {} at the peak of run {}, the median):\n      ",
        human(b.rss as f64),
        v.breakdown_run
    );
    let parts: Vec<String> = LAYERS
        .iter()
        .zip(b.values())
        .enumerate()
        .map(|(k, (name, x))| {
            let of_which = if k == 1 && b.collections > 0 {
                format!(", of which collection structures {}", human(b.collections as f64))
            } else {
                String::new()
            };
            format!(
                "{name} {} ({:.1}%{of_which})",
                human(x as f64),
                100.0 * x as f64 / b.rss.max(1) as f64
            )
        })
        .collect();
    let per_line = if b.collections > 0 { 2 } else { 3 };
    let lines: Vec<String> = parts.chunks(per_line).map(|c| c.join(", ")).collect();
    o += &lines.join(",\n      ");
    o.push('\n');
    o
}

/// The text summary of a Monte Carlo run: the scenario, then a table per variant.
pub fn render_mc(file: &crate::workload::ScenarioFile, r: &McResult) -> String {
    let sc = file.first();
    let mut o = format!("{}\n", r.scenario);
    o += &format!(
        "  {} x {}, {}, {} s idle after each; {}, seed {}\n",
        plural(sc.tests, "test", "tests"),
        plural(sc.parallel, "test process", "test processes"),
        sc.flush.describe(),
        sc.test_seconds,
        plural(r.runs, "run", "runs"),
        r.seed
    );
    for k in &sc.keys {
        let size = k.size_words();
        let what = match k.kind {
            KeyType::String => format!("values of {size}"),
            KeyType::Hash => format!(
                "hashes of {} fields x {size}",
                k.fields.describe().replace(" B", "")
            ),
            _ => k.describe_collection().unwrap_or_default(),
        } + &k.describe_names();
        let ttl = k.ttl_seconds.map(|t| format!(", TTL {t} s")).unwrap_or_default();
        let per_test = if k.growth > 0.0 {
            format!(
                "{} in the first test, {:.2}% more per test",
                group(k.count),
                k.growth * 100.0
            )
        } else {
            format!("{} per test", group(k.count))
        };
        o += &format!(
            "  keys '{}': {per_test}, {what}{ttl}, cleanup {:.0}%\n",
            k.name,
            k.cleanup * 100.0
        );
    }
    o += "\n";
    for v in &r.variants {
        o += &render_variant(v, r.runs);
        o += "\n";
    }
    o += "  Figures are INFO memory's fields as the model predicts them, p5 / p50 / p95 over the runs;\n";
    o += "  peak is each byte figure's maximum over the tests of a run, and each ratio at the moment\n";
    o += "  of the run's peak RSS; end is after the last test.\n";
    o
}

/// The timeline as CSV: one row per variant, test, phase (peak or end) and metric.
pub fn timeline_csv(r: &McResult) -> String {
    let mut o = String::from("variant,test,phase,metric,p5,p50,p95,min,max,mean\n");
    for v in &r.variants {
        let name = v.name.replace('"', "\"\"");
        for t in &v.timeline {
            for (phase, fields) in [("peak", &t.peak), ("end", &t.end)] {
                for (metric, s) in fields.iter() {
                    o += &format!(
                        "\"{name}\",{},{phase},{metric},{},{},{},{},{},{}\n",
                        t.test, s.p5, s.p50, s.p95, s.min, s.max, s.mean
                    );
                }
            }
        }
    }
    o
}

/// The text summary of a sweep: per value, each curve's p50 peak figures and the allocator's
/// bytes per value byte (size class and pad page: the sawtooth).
pub fn render_sweep(r: &crate::sim::sweep::SweepResult) -> String {
    use crate::sim::sweep::ParamKind;
    let mut o = format!(
        "{}\n  sweep of {} over {}, {} per point, seed {}\n",
        r.scenario,
        r.param.path,
        plural(r.values.len() as u64, "value", "values"),
        plural(r.runs, "run", "runs"),
        r.seed
    );
    for n in &r.notes {
        o += &format!("  note: {n}\n");
    }
    let fmt = |x: f64| match r.param.kind {
        ParamKind::Bytes => group(x as u64),
        ParamKind::Count => group(x as u64),
        ParamKind::Real => format!("{x}"),
    };
    for c in &r.curves {
        o += &format!("\n  curve: {}\n", c.variants.join(" = "));
        o += &format!(
            "    {:>14} {:>12} {:>12} {:>12} {:>16} {:>9}\n",
            "value", "used_memory", "active", "RSS", "active/value B", "OOM runs"
        );
        for (x, v) in r.values.iter().zip(&c.points) {
            let g = |f: Field| v.peak.get(f).p50;
            let b = &v.breakdown;
            let cost = if b.payload == 0 {
                "-".to_string()
            } else {
                format!("{:.3}", b.active_per_value_byte())
            };
            // The share of runs in which either OOM rule struck.
            let oom = [&v.oom.maxmemory, &v.oom.memory_limit]
                .iter()
                .filter_map(|o| o.as_ref().map(|o| o.probability))
                .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))));
            o += &format!(
                "    {:>14} {:>12} {:>12} {:>12} {:>16} {:>9}\n",
                fmt(*x),
                human(g(Field::UsedMemory)),
                human(g(Field::AllocatorActive)),
                human(g(Field::UsedMemoryRss)),
                cost,
                oom.map_or("-".to_string(), |p| format!("{:.0}%", p * 100.0))
            );
        }
    }
    if !r.marks.is_empty() {
        o += "\n  the variants as written:\n";
        for m in &r.marks {
            o += &format!(
                "    {} ({} = {}): peak RSS p50 {}\n",
                m.variant,
                r.param.path,
                fmt(m.value),
                human(m.result.peak.get(Field::UsedMemoryRss).p50)
            );
        }
    }
    o
}
