//! The charts `fragsim run` writes: PNGs that decode, have the expected size and are not blank;
//! SVGs that parse and carry their titles and legend labels.

use crate::common::*;

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
    let texts = svg_texts(&read_svg(dir, name));
    assert!(texts.iter().any(|t| t.contains(title)), "{name}: title missing");
    // A long legend label wraps onto lines of its own: read the texts in order, joined.
    let joined = texts.join(" ");
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
    let dir = fresh_dir("charts");
    let scenario = scenario_path("seed-suite.toml");
    let (rc, _, err) = fragsim(&["run", &scenario, "--runs", "4", "--out", arg(&dir)]);
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
            // Each bar's total over it, the variant's name under it.
            "7.9 MiB",
            "30 KB objects",
            "2 KB objects",
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
    for name in ["timeline", "peaks", "ratios", "bytes", "oom"] {
        let svg = read_svg(&dir, name);
        no_text_overlaps(name, &svg);
        // Texts at the size the layout measured them (plotters writes 1/1.24 of it): tick labels
        // 18 px at 1200 px wide, 12 px on an 800 px page; none smaller than 11 px.
        let sizes = font_sizes(&svg);
        assert!(sizes.contains(&18.0), "{name}: {sizes:?}");
        assert!(sizes.iter().all(|&s| s >= 11.0), "{name}: {sizes:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Four variants with long names: the names wrap (or are cut short) under their bars and the
/// bar labels shrink, so no text runs into another.
#[test]
fn long_variant_names_do_not_collide() {
    let dir = fresh_dir("charts-long");
    let scenario = dir.join("long.toml");
    std::fs::write(
        &scenario,
        r#"name = "Long names"
runs = 2
[server]
profile = "redis-7.0-debian"
maxmemory = "64MB"
[workload]
tests = 3
flush = "before_each"
[[workload.keys]]
name = "k"
count = 500
value_size = 3000
[[variant]]
name = "baseline with three thousand byte values"
[[variant]]
name = "the same workload with smaller values of two hundred bytes"
set = { "workload.keys.k.value_size" = 200 }
[[variant]]
name = "v3 big"
set = { "workload.keys.k.value_size" = 30000 }
[[variant]]
name = "a fourth variant, named at great length to see what happens to it, and longer still"
set = { "workload.keys.k.count" = 5000 }
"#,
    )
    .unwrap();
    let out = dir.join("out");
    let (rc, _, err) = fragsim(&["run", arg(&scenario), "--out", arg(&out)]);
    assert_eq!(rc, 0, "{err}");
    for name in ["timeline", "peaks", "ratios", "bytes", "oom"] {
        no_text_overlaps(name, &read_svg(&out, name));
    }
    let peaks = read_svg(&out, "peaks");
    assert!(peaks.contains("v3 big"), "a short name is shown whole");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sweep_writes_a_readable_chart() {
    let dir = fresh_dir("sweep-chart");
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
        arg(&dir),
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
    no_text_overlaps("sweep", &read_svg(&dir, "sweep"));
    no_hidden_files(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Variants on different server builds get a versions chart: each variant's peaks, with its
/// change against the first variant (and a star where its build is partly modelled), computed from the same p50 figures
/// `result.json` holds; a run whose variants share one build gets none.
#[test]
fn server_versions_get_a_versions_chart() {
    let dir = fresh_dir("versions-chart");
    let scenario = scenario_path("versions-seed-suite.toml");
    let (rc, out, err) = fragsim(&["run", &scenario, "--runs", "2", "--out", arg(&dir)]);
    assert_eq!(rc, 0, "{err}");
    let json = read_json(&dir.join("result.json"));
    let variants = json["variants"].as_array().unwrap();
    let p50 = |i: usize, f: &str| variants[i]["peak"][f]["p50"].as_f64().unwrap();
    let change = |i: usize, f: &str| 100.0 * (p50(i, f) - p50(0, f)) / p50(0, f);
    let mut labels = vec!["Peak memory per server version".to_string()];
    labels.push("the reference".into());
    if variants.iter().any(|v| v.get("caveats").is_some()) {
        labels.push("* partly modelled".into());
    }
    for (i, v) in variants.iter().enumerate().skip(1) {
        let star = if v.get("caveats").is_some() { " *" } else { "" };
        labels.push(format!(
            "used_memory {:+.1}%, RSS {:+.1}%{star}",
            change(i, "used_memory"),
            change(i, "used_memory_rss")
        ));
        // The run's text names what the model does not follow yet for that build.
        if let Some(c) = v.get("caveats") {
            let first = c[0].as_str().unwrap();
            assert!(out.contains(&format!("not modelled yet: {first}")), "{out}");
        }
    }
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    check_chart(&dir, "versions", "Peak memory per server version", &labels);
    no_text_overlaps("versions", &read_svg(&dir, "versions"));
    std::fs::remove_dir_all(&dir).unwrap();

    // One build for every variant: no versions chart.
    let dir = fresh_dir("no-versions-chart");
    let (rc, _, err) = fragsim(&[
        "run",
        &scenario_path("seed-suite.toml"),
        "--runs",
        "2",
        "--out",
        arg(&dir),
    ]);
    assert_eq!(rc, 0, "{err}");
    assert!(!dir.join("versions.png").exists() && !dir.join("versions.svg").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
