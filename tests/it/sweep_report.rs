//! `fragsim sweep` and `fragsim report`: the size-class sawtooth checked against the real
//! jemalloc, the report's contents, and bad input (unknown parameter, unwritable output) that
//! must end with exit code 2 and no files.

use crate::common::*;

use fragsim::sim::sweep;
use fragsim::validate::real_jemalloc::nallocx;

/// The object-size sweep of the seed suite: at each size, the blocks holding the 30 values take
/// what the real jemalloc gives a Redis string of that size. Below 32 KiB Redis stores a value
/// in an sds with a 5-byte header (lengths 256-65,535) and a NUL; from 16 KiB up the extent
/// has one pad page. The sawtooth: 8 KiB values take 10 KiB, 9 KiB take 10 KiB too.
#[test]
fn object_size_sweep_follows_the_real_size_classes() {
    let _heavy = heavy_work();
    let path = std::path::PathBuf::from(scenario_path("seed-suite.toml"));
    let file = load_scenario("seed-suite.toml");
    let p = sweep::resolve(file.first(), "value_size").unwrap();
    assert_eq!(p.path, "workload.keys.storm.value_size");
    let xs = [1024.0, 3072.0, 8192.0, 9216.0, 14336.0, 16384.0, 20000.0, 30000.0];
    let points = sweep::load_points(&path, &p, &xs).unwrap();
    let r = sweep::sweep(&file, &p, &points, 2, 1, 2, &|| {}).unwrap();
    assert_eq!(
        r.curves.len(),
        1,
        "the two variants differ only in the swept size"
    );
    assert_eq!(r.curves[0].variants, ["30 KB objects", "2 KB objects"]);
    let mut ratios = Vec::new();
    for (x, v) in xs.iter().zip(&r.curves[0].points) {
        let n = *x as usize;
        let class = nallocx(n + 5 + 1) as u64;
        let pad = if class >= 16384 { 4096 } else { 0 };
        let b = &v.breakdown;
        assert_eq!(b.values_payload, 30 * n as u64, "{n}");
        assert_eq!(b.values_footprint, 30 * (class + pad), "{n}");
        ratios.push(b.active_per_value_byte());
        println!(
            "{n:>6} B: {:.4} active bytes per value byte",
            b.active_per_value_byte()
        );
    }
    // The teeth: 8 KiB -> 1.25, 9 KiB -> 1.11; 14 KiB (large, padded) -> 1.43.
    assert!(ratios[2] > ratios[3] && ratios[4] > ratios[3] && ratios[5] > ratios[6]);
    // The variants are marked at their own sizes.
    let marks: Vec<(&str, f64)> = r.marks.iter().map(|m| (m.variant.as_str(), m.value)).collect();
    assert_eq!(marks, [("30 KB objects", 30000.0), ("2 KB objects", 2000.0)]);
    assert_eq!(
        r.marks[1].result.breakdown.values_footprint,
        30 * nallocx(2000 + 5 + 1) as u64
    );
}

#[test]
fn sweep_cli_writes_json_csv_and_chart() {
    let out = fresh_path("sweep-cli");
    let (rc, stdout, err) = fragsim(&[
        "sweep",
        &scenario_path("seed-suite.toml"),
        "--param",
        "workload.tests",
        "--from",
        "2",
        "--to",
        "10",
        "--steps",
        "3",
        "--runs",
        "2",
        "--out",
        arg(&out),
    ]);
    assert_eq!(rc, 0, "{err}");
    assert!(
        stdout.contains("sweep of workload.tests over 3 values"),
        "{stdout}"
    );
    let json = read_json(&out.join("sweep.json"));
    assert_eq!(json["values"], serde_json::json!([2.0, 6.0, 10.0]));
    // The variants differ in their value size, so each has its own curve over the test count.
    assert_eq!(json["curves"].as_array().unwrap().len(), 2);
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 3, "{csv}");
    assert!(
        csv.starts_with("workload.tests,curve,peak_used_memory_p5"),
        "{csv}"
    );
    for f in ["sweep.png", "sweep.svg"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// Bad sweeps: exit 2, one clear line, and no output directory.
#[test]
fn bad_sweeps_are_refused_without_output() {
    let out = fresh_path("sweep-bad");
    let s = scenario_path("seed-suite.toml");
    let s = s.as_str();
    let o = arg(&out);
    for (args, expect) in [
        (
            vec![
                "--param",
                "value_sise",
                "--from",
                "1KB",
                "--to",
                "2KB",
                "--steps",
                "2",
            ],
            "--param 'value_sise' is not a parameter of this scenario",
        ),
        (
            vec!["--param", "workload.keys.nope.count", "--values", "1,2"],
            "is not a parameter of this scenario",
        ),
        (
            vec!["--param", "value_size", "--from", "1KB", "--to", "2KB"],
            "give either --from A --to B --steps N, or --values V1,V2,...",
        ),
        (
            vec!["--param", "tests", "--values", "2,x"],
            "--values 'x': expected a whole number for workload.tests",
        ),
        (vec!["--param", "value_size", "--values", "0"], "value_size"),
    ] {
        let mut a = vec!["sweep", s, "--out", o, "--runs", "1"];
        a.extend(args.iter());
        let (rc, _, err) = fragsim(&a);
        assert_eq!(rc, 2, "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} left {}", out.display());
    }
}

/// An output directory that cannot be written (its parent is a file): exit 2, a message that
/// names it, and nothing written, for run, sweep and report alike.
#[test]
fn unwritable_output_directory_is_refused_without_partial_files() {
    let base = fresh_dir("unwritable");
    let file = base.join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = file.join("out");
    let o = arg(&out);
    let s = scenario_path("seed-suite.toml");
    let s = s.as_str();
    for args in [
        vec!["run", s, "--runs", "1", "--out", o],
        vec!["report", s, "--runs", "1", "--out", o],
        vec![
            "sweep", s, "--param", "tests", "--values", "1,2", "--runs", "1", "--out", o,
        ],
    ] {
        let (rc, stdout, err) = fragsim(&args);
        assert_eq!(rc, 2, "{args:?}: {err}");
        assert!(err.contains("cannot write to the output directory"), "{err}");
        assert!(err.contains("not-a-dir/out"), "{err}");
        assert!(stdout.is_empty(), "{stdout}");
    }
    // A directory where an output file goes: nothing is moved into place.
    let out = base.join("blocked");
    std::fs::create_dir_all(out.join("result.json")).unwrap();
    let (rc, _, err) = fragsim(&["run", s, "--runs", "1", "--out", arg(&out)]);
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("result.json is not a regular file") && err.contains("nothing was changed"),
        "{err}"
    );
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["result.json"]);
    std::fs::remove_dir_all(&base).unwrap();
}

/// The report: a self-contained HTML file (every chart inlined as SVG, nothing fetched) and a
/// Markdown file, each with the scenario, the summary, where the bytes go, the claims and the
/// limits.
#[test]
fn report_is_self_contained_and_complete() {
    let out = fresh_path("report");
    let (rc, stdout, err) = fragsim(&[
        "report",
        &scenario_path("seed-claims.toml"),
        "--runs",
        "4",
        "--out",
        arg(&out),
    ]);
    assert_eq!(rc, 0, "{err}");
    assert!(stdout.contains("claims: 3 of 7 hold"), "{stdout}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 5, "five charts inlined");
    for bad in ["<script", "<link", "src=\"http", "href=\"http", "@import", "<img"] {
        assert!(!html.contains(bad), "the HTML refers outside itself: {bad}");
    }
    for part in [
        "<h2>The scenario</h2>",
        "Variant &quot;30 KB objects&quot;: 30 keys &#x27;storm&#x27;",
        "<h2>Key numbers</h2>",
        "peak used_memory_rss (RSS)",
        "<h2>Where the bytes go</h2>",
        "size-class rounding",
        "<h2>Verdict: 3 of 7 claims hold</h2>",
        "<td class=\"fail\">FAIL</td>",
        "<td class=\"pass\">PASS</td>",
        "<h2>What the model does not know</h2>",
        "Where the bytes go: RSS at the peak of the median run",
    ] {
        let part = part.replace("&#x27;", "'");
        assert!(html.contains(&part), "report.html lacks {part:?}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for part in [
        "## The scenario",
        "## Key numbers",
        "![bytes](bytes.svg)",
        "## Where the bytes go",
        "| baseline RSS |",
        "## Verdict: 3 of 7 claims hold",
        "## What the model does not know",
    ] {
        assert!(md.contains(part), "report.md lacks {part:?}");
    }
    // The verdict comes first: before the scenario and before any chart.
    let at = |text: &str, part: &str| text.find(part).unwrap_or_else(|| panic!("{part}"));
    assert!(at(&md, "## Verdict") < at(&md, "## The scenario"));
    assert!(at(&md, "## Verdict") < at(&md, "!["));
    assert!(at(&html, "<h2>Verdict") < at(&html, "<svg"));
    // Every claim's figures as `fragsim check` prints them, ratios as ratios.
    let (_, check, _) = fragsim(&["check", &scenario_path("seed-claims.toml"), "--runs", "4"]);
    let mut seen = 0;
    for line in check.lines().filter(|l| l.contains("predicted ")) {
        let p = &line[line.find("predicted ").unwrap() + 10..];
        let value = &p[..p.find(" (p5-p95 ").unwrap()];
        let band = &p[p.find("(p5-p95 ").unwrap() + 8..p.find(");").unwrap()];
        let shown = format!("{value} ({band})");
        assert!(
            md.contains(&shown) && html.contains(&shown),
            "the report lacks {shown:?}"
        );
        seen += 1;
    }
    assert_eq!(seen, 7);
    assert!(
        md.contains("| 0.88 (0.88 - 0.88) |"),
        "the RSS ratio claim shows a ratio"
    );
    assert!(!md.contains("1 B (1 B - 1 B)"));
    assert!(
        md.contains("note: holds for \"30 KB objects\" as well"),
        "the OOM claim's premise"
    );
    for chart in ["timeline", "peaks", "bytes", "ratios", "oom"] {
        assert!(
            out.join(format!("{chart}.svg")).is_file(),
            "{chart}.svg beside report.md"
        );
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// A maxmemory sweep: below the seed suite's peak used_memory every run has writes refused,
/// above it none; values given out of order run in order; the variants' own 512 MB lies outside
/// the range and is named on the chart instead of drawn.
#[test]
fn maxmemory_sweep_charts_the_oom_probability() {
    let out = fresh_path("sweep-maxmemory");
    let (rc, stdout, err) = fragsim(&[
        "sweep",
        &scenario_path("seed-suite.toml"),
        "--param",
        "maxmemory",
        "--values",
        "4MB,900KB",
        "--runs",
        "2",
        "--out",
        arg(&out),
    ]);
    assert_eq!(rc, 0, "{err}");
    let json = read_json(&out.join("sweep.json"));
    assert_eq!(json["values"], serde_json::json!([921600.0, 4194304.0]));
    for c in json["curves"].as_array().unwrap() {
        let p: Vec<f64> = c["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["oom"]["maxmemory"]["probability"].as_f64().unwrap())
            .collect();
        assert_eq!(p, [1.0, 0.0], "{}", c["variants"]);
    }
    assert!(stdout.contains("100%") && stdout.contains("0%"), "{stdout}");
    let svg = read_svg(&out, "sweep");
    assert!(
        svg.contains("outside the swept range: 30 KB objects (512.0 MiB)"),
        "mark note missing"
    );
    // The lower panel's legend entry (wrapped onto several lines beside the plot).
    let text = svg_texts(&svg);
    assert!(
        text.join(" ")
            .contains("share of runs with writes refused (maxmemory)"),
        "{text:?}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// Sweeping a size that a variant draws from a distribution says what it replaced: one fixed size
/// per point instead of the distribution, and the variant's own mark at the distribution's mean.
#[test]
fn a_sweep_says_when_it_replaces_a_distribution() {
    let out = fresh_path("sweep-dist");
    let (rc, stdout, err) = fragsim(&[
        "sweep",
        &scenario_path("cache.toml"),
        "--param",
        "workload.keys.session.value_size",
        "--values",
        "1KB,2KB",
        "--runs",
        "2",
        "--out",
        arg(&out),
    ]);
    assert_eq!(rc, 0, "{err}");
    // log-normal, median 1,200 B, sigma 0.8: mean 1,200 x e^0.32 = 1,652.5 B = 1.6 KiB.
    assert!(
        stdout.contains(
            "note: variant \"default\": its sizes (log-normal, median 1,200 B, sigma 0.8) are replaced by one fixed size at each point; its own mark is at their mean, 1.6 KiB"
        ),
        "{stdout}"
    );
    let json = std::fs::read_to_string(out.join("sweep.json")).unwrap();
    assert!(json.contains("\"notes\""), "the JSON carries the note");
    std::fs::remove_dir_all(&out).unwrap();
}
