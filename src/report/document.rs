//! The design-review report: one Markdown file for pull requests (charts linked beside it) and
//! one self-contained HTML file (charts inlined as SVG, no network needed): the scenario in
//! words, the summary table, the charts, where the bytes go, the claims, and the model's limits.

use super::charts::Chart;
use crate::redis::info::Field;
use crate::sim::breakdown::LAYERS;
use crate::sim::claims::ClaimResult;
use crate::sim::montecarlo::{McResult, Stat, VariantResult};
use crate::units::{group, human};
use crate::workload::{Flush, KeyType, ScenarioFile};

/// The charts a report shows, by file stem, with captions.
pub const CHARTS: [(&str, &str); 5] = [
    (
        "timeline",
        "Timeline: used_memory, allocator_active and RSS per test (p50; RSS p5-p95 shaded), limits dashed. RSS moves by a page or two (a few KiB) from test to test where the allocator is cache-oblivious (jemalloc 5.3.0 as Debian builds it): each large value starts at a random cache-line offset in its extent, so whether it writes one more page is drawn anew each time; a build without it (Redis 7.2's bundled jemalloc) gives a flat line.",
    ),
    (
        "peaks",
        "Peaks: the highest used_memory, allocator_active and RSS of a run, per variant (p50, whiskers p5-p95).",
    ),
    (
        "bytes",
        "Where the bytes go: RSS at the peak of the median run, layer by layer.",
    ),
    (
        "ratios",
        "Fragmentation ratios: allocator_frag_ratio (active/allocated) against mem_fragmentation_ratio (RSS/used_memory); the empty process's RSS is what separates them on small datasets.",
    ),
    (
        "oom",
        "OOM probability against the limit: the share of runs that would be refused a write (maxmemory) or killed (memory_limit).",
    ),
];

/// The scenario in sentences: the server, the limits, the tests, and what each variant writes.
pub fn scenario_words(file: &ScenarioFile) -> Vec<String> {
    let sc = file.first();
    let mut o = Vec::new();
    o.push(match &sc.redis {
        Some(p) => format!(
            "Server: {} ({}), allocator model {}.",
            p.name, p.description, sc.allocator_preset
        ),
        None => format!(
            "No Redis: the workload's mallocs and frees go straight to the allocator model ({}).",
            sc.allocator_preset
        ),
    });
    let lim = |x: Option<u64>| x.map_or("not set".to_string(), |b| human(b as f64));
    o.push(format!(
        "Limits: maxmemory {} (Redis refuses writes above it, judged on used_memory); memory_limit {} (the container's limit on RSS).",
        lim(sc.maxmemory),
        lim(sc.memory_limit)
    ));
    let flush = match sc.flush {
        Flush::None => "nothing is flushed between tests",
        Flush::BeforeEach => "FLUSHALL SYNC before each test",
        Flush::AfterEach => "FLUSHALL SYNC after each test",
    };
    o.push(format!(
        "{}, {} at once, {} s of idle time after each; {flush}.",
        crate::units::plural(sc.tests, "test", "tests"),
        crate::units::plural(sc.parallel, "test process", "test processes"),
        sc.test_seconds
    ));
    for v in &file.variants {
        let keys: Vec<String> = v
            .keys
            .iter()
            .map(|k| {
                let what = match k.kind {
                    KeyType::String => format!("string values of {}", k.size_words()),
                    KeyType::Hash => format!(
                        "hashes of {} fields, each value {}",
                        k.fields.describe().replace(" B", ""),
                        k.size_words()
                    ),
                    _ => k.describe_collection().unwrap_or_default(),
                } + &k.describe_names();
                let ttl = k.ttl_seconds.map(|t| format!(", TTL {t} s")).unwrap_or_default();
                let cleanup = if k.cleanup > 0.0 {
                    format!(", {:.0}% deleted by the test itself", k.cleanup * 100.0)
                } else {
                    String::new()
                };
                if k.growth > 0.0 {
                    return format!(
                        "{} keys '{}' in the first test, then {:.2}% more per test: {what}{ttl}{cleanup}",
                        group(k.count),
                        k.name,
                        k.growth * 100.0
                    );
                }
                format!(
                    "{} keys '{}' per test: {what}{ttl}{cleanup}",
                    group(k.count),
                    k.name
                )
            })
            .collect();
        let scripts: Vec<String> = v
            .scripts
            .iter()
            .map(|s| {
                format!(
                    "{} EVAL of a {}-byte script '{}'{} per test",
                    s.count,
                    group(s.size),
                    s.name,
                    if s.unique { " (new body each test)" } else { "" }
                )
            })
            .collect();
        let mut all = keys;
        all.extend(scripts);
        o.push(format!("Variant \"{}\": {}.", v.variant, all.join("; ")));
    }
    o
}

/// A figure's cell: p50 with the p5-p95 band; two decimals for a ratio, units for bytes.
fn cell(s: Stat, f: Field) -> String {
    if f.is_momentary() {
        format!("{:.2} ({:.2}-{:.2})", s.p50, s.p5, s.p95)
    } else {
        format!("{} ({} - {})", human(s.p50), human(s.p5), human(s.p95))
    }
}

/// The summary table: rows of figures, one column per variant (p50 with p5-p95).
pub fn summary_rows(r: &McResult) -> (Vec<String>, Vec<Vec<String>>) {
    let head: Vec<String> = std::iter::once("figure (p50, p5-p95 over runs)".to_string())
        .chain(r.variants.iter().map(|v| v.name.clone()))
        .collect();
    let mut rows = Vec::new();
    for (f, label) in [
        (Field::UsedMemory, "peak used_memory"),
        (Field::AllocatorAllocated, "peak allocator_allocated"),
        (Field::AllocatorActive, "peak allocator_active"),
        (Field::UsedMemoryRss, "peak used_memory_rss (RSS)"),
        (Field::AllocatorFragRatio, "allocator_frag_ratio at peak RSS"),
        (
            Field::MemFragmentationRatio,
            "mem_fragmentation_ratio at peak RSS",
        ),
    ] {
        let mut row = vec![label.to_string()];
        row.extend(r.variants.iter().map(|v| cell(v.peak.get(f), f)));
        rows.push(row);
    }
    let oom = |v: &VariantResult, mm: bool| {
        let o = if mm { &v.oom.maxmemory } else { &v.oom.memory_limit };
        o.as_ref().map_or("not set".to_string(), |o| {
            format!(
                "{:.0}% of runs (limit {})",
                o.probability * 100.0,
                human(o.limit as f64)
            )
        })
    };
    let mut row = vec!["OOM: writes refused (maxmemory)".to_string()];
    row.extend(r.variants.iter().map(|v| oom(v, true)));
    rows.push(row);
    let mut row = vec!["OOM: RSS over memory_limit".to_string()];
    row.extend(r.variants.iter().map(|v| oom(v, false)));
    rows.push(row);
    let mut row = vec!["smallest maxmemory, OOM in < 1% of runs".to_string()];
    row.extend(
        r.variants
            .iter()
            .map(|v| v.capacity.maxmemory.map_or("-".to_string(), |b| human(b as f64))),
    );
    rows.push(row);
    let mut row = vec!["smallest memory_limit, OOM in < 1% of runs".to_string()];
    row.extend(r.variants.iter().map(|v| human(v.capacity.memory_limit as f64)));
    rows.push(row);
    (head, rows)
}

/// The decomposition table: one row per layer, one column per variant (bytes and share).
pub fn breakdown_rows(r: &McResult) -> (Vec<String>, Vec<Vec<String>>) {
    let head: Vec<String> = std::iter::once("layer (RSS at the peak of the median run)".to_string())
        .chain(r.variants.iter().map(|v| v.name.clone()))
        .collect();
    let mut rows: Vec<Vec<String>> = LAYERS
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let mut row = vec![name.to_string()];
            row.extend(r.variants.iter().map(|v| {
                let x = v.breakdown.values()[k];
                format!(
                    "{} ({:.1}%)",
                    human(x as f64),
                    100.0 * x as f64 / v.breakdown.rss.max(1) as f64
                )
            }));
            row
        })
        .collect();
    if r.variants.iter().any(|v| v.breakdown.collections > 0) {
        let mut row = vec!["  of which collection structures".to_string()];
        row.extend(r.variants.iter().map(|v| {
            let x = v.breakdown.collections;
            format!(
                "{} ({:.1}%)",
                human(x as f64),
                100.0 * x as f64 / v.breakdown.rss.max(1) as f64
            )
        }));
        rows.insert(2, row);
    }
    let mut total = vec!["= used_memory_rss".to_string()];
    total.extend(r.variants.iter().map(|v| human(v.breakdown.rss as f64)));
    rows.push(total);
    (head, rows)
}

/// The claims table: claim, whose figure, predicted value with its band (formatted as
/// `fragsim check` prints them), what the claim needs, verdict (with the premise note).
pub fn claim_rows(results: &[ClaimResult]) -> (Vec<String>, Vec<Vec<String>>) {
    let head = [
        "verdict",
        "claim",
        "figure",
        "predicted p50 (p5-p95)",
        "claim needs",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows = results
        .iter()
        .map(|r| {
            let verdict = if r.pass { "PASS" } else { "FAIL" }.to_string();
            let claim = match &r.note {
                Some(n) => format!("{} (note: {n})", r.text),
                None => r.text.clone(),
            };
            vec![
                verdict,
                claim,
                format!("{}, {}", r.subject, r.figure),
                format!("{} ({} - {})", r.predicted_text, r.band_text.0, r.band_text.1),
                r.expected.clone(),
            ]
        })
        .collect();
    (head, rows)
}

/// The conclusion in one paragraph, from the figures: each variant's peak memory, how far the
/// limits are, and the claims' tally.
pub fn conclusion(r: &McResult, claims: &[ClaimResult]) -> String {
    let mut parts = Vec::new();
    for v in &r.variants {
        let p = |f: Field| v.peak.get(f).p50;
        let mut t = format!(
            "\"{}\" peaks at {} of RSS with {} of used_memory (p50 over {})",
            v.name,
            human(p(Field::UsedMemoryRss)),
            human(p(Field::UsedMemory)),
            crate::units::plural(r.runs, "run", "runs")
        );
        if let Some(o) = &v.oom.maxmemory {
            t += &format!(
                "; maxmemory {} refuses writes in {:.0}% of runs",
                human(o.limit as f64),
                o.probability * 100.0
            );
        }
        if let Some(o) = &v.oom.memory_limit {
            t += &format!(
                "; RSS passes the memory_limit {} in {:.0}% of runs",
                human(o.limit as f64),
                o.probability * 100.0
            );
        }
        parts.push(t);
    }
    let mut o = parts.join(". ") + ".";
    if !claims.is_empty() {
        let failed: Vec<&ClaimResult> = claims.iter().filter(|c| !c.pass).collect();
        o += &format!(" {} of {} claims hold", claims.len() - failed.len(), claims.len());
        if failed.is_empty() {
            o += ".";
        } else {
            o += &format!(
                "; these do not: {}.",
                failed
                    .iter()
                    .map(|c| format!("\"{}\" (predicted {})", c.text, c.predicted_text))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let noted = claims.iter().filter(|c| c.note.is_some()).count();
        if noted > 0 {
            o += &format!(
                " {} that hold {} true of every variant alike, so {} not show the difference {} suggest{}.",
                crate::units::plural(noted as u64, "claim", "claims"),
                if noted == 1 { "is" } else { "are" },
                if noted == 1 { "it does" } else { "they do" },
                if noted == 1 { "it" } else { "they" },
                if noted == 1 { "s" } else { "" }
            );
        }
    }
    o
}

/// What the model does not know, stated in every report.
pub fn limits(file: &ScenarioFile) -> Vec<String> {
    let mut o = vec![
        "Figures are the model's predictions of INFO memory fields, not measurements of this workload. The model is checked in fragsim's test suite against the real jemalloc 5.3.0 (allocated, active, dirty pages exact on churn traces) and against fresh live Debian redis-server 7.0.15 processes (on 73 scenarios: used_memory within 1% in 71, allocator_allocated within 3% in 69, RSS within 5% in 63). Workloads that free many keys at once (FLUSHALL, keys expiring within a second) leave allocator figures that differ from one real server to the next by up to a third; read their allocator figures as a range.".to_string(),
        "Time-based decay follows jemalloc's code on a simulated clock; it is not compared with the real allocator's wall-clock decay.".to_string(),
        "Builds other than Debian's redis-server 7.0.15 start from a guessed thread cache, with a garbage-collection interval scaled by a factor of 2 fitted to that guess.".to_string(),
        "Not modelled: commands run inside Lua scripts, lists, sets, sorted sets, streams, replication and AOF buffers, more than one application thread, FLUSHALL ASYNC's background thread (it frees at once).".to_string(),
        "Where the bytes go is taken at one moment (the peak RSS of the median run); its layers are the model's attribution, and only their sum (RSS) and the allocator totals are compared with reality.".to_string(),
    ];
    for v in &file.variants {
        if let Some(p) = &v.redis {
            if p.name != "redis-7.0-debian" && !o.iter().any(|l| l.contains(&p.name)) {
                o.push(format!(
                    "The profile {} comes from reference notes, not from fragsim calibrate on a real build: its baseline is a guess until calibrated.",
                    p.name
                ));
            }
        }
    }
    o
}

fn md_table(head: &[String], rows: &[Vec<String>]) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut o = format!(
        "| {} |\n",
        head.iter().map(|h| esc(h)).collect::<Vec<_>>().join(" | ")
    );
    o += &format!("|{}\n", "---|".repeat(head.len()));
    for r in rows {
        o += &format!(
            "| {} |\n",
            r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    o
}

/// One block of the report, written out as Markdown or as HTML.
enum Block {
    /// A heading of level 1 or 2.
    Heading(u8, String),
    Para(String),
    List(Vec<String>),
    /// Head and rows.
    Table(Vec<String>, Vec<Vec<String>>),
    /// A chart by file stem, with its caption.
    Chart(&'static str, &'static str),
}

/// The report's blocks, in order: the same for both formats. The verdict comes first (the
/// claims, the conclusion, the key numbers), then the scenario, the charts and the details.
fn blocks(file: &ScenarioFile, r: &McResult, claims: &[ClaimResult], by_pattern: bool) -> Vec<Block> {
    let mut b = vec![
        Block::Heading(1, r.scenario.clone()),
        Block::Para(format!(
            "fragsim {} prediction: {} per variant, master seed {}.",
            env!("CARGO_PKG_VERSION"),
            crate::units::plural(r.runs, "Monte Carlo run", "Monte Carlo runs"),
            r.seed
        )),
    ];
    if claims.is_empty() {
        b.push(Block::Heading(2, "Verdict".into()));
    } else {
        let passed = claims.iter().filter(|c| c.pass).count();
        b.push(Block::Heading(
            2,
            format!("Verdict: {passed} of {} claims hold", claims.len()),
        ));
        let (h, rows) = claim_rows(claims);
        b.push(Block::Table(h, rows));
    }
    b.push(Block::Para(conclusion(r, claims)));
    b.push(Block::Heading(2, "Key numbers".into()));
    let (h, rows) = summary_rows(r);
    b.push(Block::Table(h, rows));
    b.push(Block::Heading(2, "The scenario".into()));
    b.push(Block::List(scenario_words(file)));
    b.push(Block::Heading(2, "Charts".into()));
    b.extend(CHARTS.iter().map(|&(name, caption)| Block::Chart(name, caption)));
    b.push(Block::Heading(2, "Where the bytes go".into()));
    let (h, rows) = breakdown_rows(r);
    b.push(Block::Table(h, rows));
    if by_pattern && r.variants.iter().any(|v| !v.breakdown.by_pattern.is_empty()) {
        b.extend(pattern_blocks(r));
    }
    b.push(Block::Heading(2, "What the model does not know".into()));
    b.push(Block::List(limits(file)));
    b
}

/// The caption of the chart of memory by key pattern.
pub const PATTERNS_CAPTION: &str = "Memory by key pattern: each key group's allocator_active at the peak of the median run, one bar per variant; solid, its used_memory (its blocks at their size classes: the rounding is the pattern's); light, the pad pages of its large blocks and its share of the free regions of the slabs its blocks are in.";

/// The section on memory by key pattern: what the rows mean, the chart, a table per variant,
/// and with several variants the change of each pattern's RSS from the first.
fn pattern_blocks(r: &McResult) -> Vec<Block> {
    let mut b = vec![
        Block::Heading(2, "Memory by key pattern".into()),
        Block::Para("Each key group's part of used_memory, allocator_active and RSS at the peak of the median run: the blocks its keys' commands made and its keys hold (names, dict entries, objects, values with their structure, TTL entries), each at its size class, plus the pad pages of its large blocks and, in each slab its blocks are in, a share of the free regions in proportion to the regions they hold. The shared rows hold the rest: the server's own blocks (keyspace tables, client buffers, scripts), the allocator's (thread cache, spare slabs, unpurged pages, metadata) and the empty server's. Each column sums to its INFO figure.".into()),
        Block::Chart("patterns", PATTERNS_CAPTION),
    ];
    for v in &r.variants {
        if r.variants.len() > 1 {
            b.push(Block::Para(format!("Variant {}:", v.name)));
        }
        let (h, rows) = crate::report::patterns::table(v);
        b.push(Block::Table(h, rows));
    }
    if r.variants.len() > 1 {
        b.push(Block::Para(
            "RSS by key pattern, each variant against the first:".into(),
        ));
        let head: Vec<String> = std::iter::once("key pattern".to_string())
            .chain(r.variants.iter().map(|v| v.name.clone()))
            .collect();
        let first = &r.variants[0].breakdown;
        let rows = crate::report::patterns::rows(first, usize::MAX)
            .iter()
            .map(|s| {
                let mut row = vec![crate::report::patterns::label(s)];
                row.extend(r.variants.iter().enumerate().map(|(j, v)| {
                    match v.breakdown.by_pattern.iter().find(|x| x.name == s.name) {
                        None => "-".to_string(),
                        Some(x) if j == 0 => human(x.rss as f64),
                        Some(x) => format!(
                            "{} ({:+.1}%)",
                            human(x.rss as f64),
                            100.0 * (x.rss as f64 / s.rss.max(1) as f64 - 1.0)
                        ),
                    }
                }));
                row
            })
            .collect();
        b.push(Block::Table(head, rows));
    }
    b
}

/// The Markdown report; charts are linked as `NAME.svg` beside it. With `by_pattern`, the
/// section on memory by key pattern (whose chart is `patterns`).
pub fn markdown(file: &ScenarioFile, r: &McResult, claims: &[ClaimResult], by_pattern: bool) -> String {
    let mut o = String::new();
    for b in blocks(file, r, claims, by_pattern) {
        match b {
            Block::Heading(level, t) => o += &format!("{} {t}\n\n", "#".repeat(level as usize)),
            Block::Para(t) => o += &format!("{t}\n\n"),
            Block::List(items) => {
                for i in items {
                    o += &format!("- {i}\n");
                }
                o.push('\n');
            }
            Block::Table(h, rows) => {
                o += &md_table(&h, &rows);
                o.push('\n');
            }
            Block::Chart(name, caption) => o += &format!("![{name}]({name}.svg)\n\n{caption}\n\n"),
        }
    }
    o.truncate(o.trim_end().len());
    o.push('\n');
    o
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_table(head: &[String], rows: &[Vec<String>]) -> String {
    let mut o = String::from("<table>\n<tr>");
    for h in head {
        o += &format!("<th>{}</th>", html_escape(h));
    }
    o += "</tr>\n";
    for r in rows {
        o += "<tr>";
        for c in r {
            let class = match c.as_str() {
                "PASS" => " class=\"pass\"",
                "FAIL" => " class=\"fail\"",
                _ => "",
            };
            o += &format!("<td{class}>{}</td>", html_escape(c));
        }
        o += "</tr>\n";
    }
    o + "</table>\n"
}

/// The self-contained HTML report, with `charts` (those of [`super::charts::draw_all`]) inlined
/// as SVG.
pub fn html(
    file: &ScenarioFile,
    r: &McResult,
    claims: &[ClaimResult],
    charts: &[Chart],
    by_pattern: bool,
) -> String {
    let mut o = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    o += &format!("<title>{}</title>\n", html_escape(&r.scenario));
    o += "<style>body{font-family:sans-serif;max-width:1250px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:left}\
th{background:#eee}td.pass{color:#176317;font-weight:bold}td.fail{color:#a31515;font-weight:bold}\
figure{margin:1.5em 0;overflow-x:auto}figcaption{color:#555}svg{width:100%;height:auto}</style>\n</head>\n<body>\n";
    for b in blocks(file, r, claims, by_pattern) {
        match b {
            Block::Heading(level, t) => o += &format!("<h{level}>{}</h{level}>\n", html_escape(&t)),
            Block::Para(t) => o += &format!("<p>{}</p>\n", html_escape(&t)),
            Block::List(items) => {
                o += "<ul>\n";
                for i in items {
                    o += &format!("<li>{}</li>\n", html_escape(&i));
                }
                o += "</ul>\n";
            }
            Block::Table(h, rows) => o += &html_table(&h, &rows),
            Block::Chart(name, caption) => {
                let text = &charts
                    .iter()
                    .find(|c| c.name == name)
                    .expect("the report shows only charts draw_all draws")
                    .svg;
                // The XML declaration is not allowed inside HTML.
                let body = text
                    .trim_start()
                    .strip_prefix("<?xml")
                    .map_or(text.as_str(), |rest| {
                        rest.split_once("?>").map_or(rest, |(_, after)| after)
                    });
                o += &format!(
                    "<figure id=\"{name}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
                    body.trim(),
                    html_escape(caption)
                );
            }
        }
    }
    o += "</body>\n</html>\n";
    o
}
