//! The charts `fragsim run` writes: PNGs that decode, have the expected size and are not blank;
//! SVGs that parse and carry their titles and legend labels.

mod common;
use common::*;

/// Checks a chart pair: the PNG decodes at 1200x700 and is not blank; the SVG parses and holds
/// the title and every label.
fn check_chart(dir: &std::path::Path, name: &str, title: &str, labels: &[&str]) {
    let png = image::open(dir.join(format!("{name}.png")))
        .unwrap_or_else(|e| panic!("{name}.png: {e}"))
        .to_rgb8();
    assert_eq!(png.dimensions(), (1200, 700), "{name}");
    let first = *png.get_pixel(0, 0);
    let differing = png.pixels().filter(|p| **p != first).count();
    assert!(
        differing > 1200 * 700 / 50,
        "{name}.png is nearly blank ({differing} pixels differ)"
    );
    let svg = std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}.svg: {e}"));
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    assert!(texts.iter().any(|t| t.contains(title)), "{name}: title missing");
    // A long legend label wraps onto lines of its own: read the texts in order, joined.
    let joined = texts
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    for l in labels {
        assert!(joined.contains(l), "{name}: label {l:?} missing");
    }
}

fn no_hidden_files(dir: &std::path::Path) {
    assert!(std::fs::read_dir(dir).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with('.')));
}

#[test]
fn run_writes_readable_charts() {
    let dir = std::env::temp_dir().join(format!("fragsim-charts-{}", std::process::id()));
    let scenario = scenario_path("seed-suite.toml");
    let (rc, _, err) = fragsim(&["run", &scenario, "--runs", "4", "--out", dir.to_str().unwrap()]);
    assert_eq!(rc, 0, "{err}");
    check_chart(
        &dir,
        "timeline",
        "Memory per test",
        &[
            "30 KB objects",
            "2 KB objects",
            "used_memory_rss",
            "allocator_active",
            "RSS p5-p95 (shaded)",
            // The configured limits are drawn (above a broken axis), not only named.
            "limits (axis broken)",
            "maxmemory 512.0 MiB",
            "memory_limit 1.0 GiB",
        ],
    );
    check_chart(
        &dir,
        "peaks",
        "Peak memory per variant",
        &[
            "peak used_memory",
            "peak used_memory_rss",
            "whisker: p5-p95 of the runs",
            // The categories under the bars.
            "30 KB objects",
            "2 KB objects",
        ],
    );
    check_chart(
        &dir,
        "ratios",
        "Fragmentation ratios",
        &[
            "allocator_frag_ratio (active / allocated)",
            "mem_fragmentation_ratio (RSS / used_memory)",
            "baseline RSS",
        ],
    );
    check_chart(
        &dir,
        "bytes",
        "Where the bytes go",
        &[
            "payload",
            "Redis overhead",
            "size-class rounding",
            "pad pages",
            "slab holes",
            "tcache",
            "dirty pages",
            "allocator metadata",
            "baseline RSS",
            "30 KB objects:",
            "2 KB objects:",
        ],
    );
    check_chart(
        &dir,
        "oom",
        "OOM probability against the limit",
        &[
            "memory_limit (peak RSS)",
            "maxmemory (used_memory)",
            "configured limits (axis broken)",
            "maxmemory 512.0 MiB",
            "memory_limit 1.0 GiB",
        ],
    );
    // No temporary files are left behind.
    no_hidden_files(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sweep_writes_a_readable_chart() {
    let dir = std::env::temp_dir().join(format!("fragsim-sweep-chart-{}", std::process::id()));
    let scenario = scenario_path("seed-suite.toml");
    let (rc, _, err) = fragsim(&[
        "sweep",
        &scenario,
        "--param",
        "value_size",
        "--values",
        "1KB,8KB,16KB,30KB",
        "--runs",
        "2",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(rc, 0, "{err}");
    check_chart(
        &dir,
        "sweep",
        "Sweep of workload.keys.storm.value_size",
        &[
            "30 KB objects = 2 KB objects",
            "peak RSS",
            "peak allocator_active",
            "a variant as written",
            // The seed suite's limits are named, far above the data.
            "maxmemory 512.0 MiB (far above the chart)",
            "variant 30 KB objects",
            "variant 2 KB objects",
            "size class + pad page per value byte",
        ],
    );
    no_hidden_files(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
}
