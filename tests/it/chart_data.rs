//! The charts plot the result, not only its labels: the SVG charts `fragsim run` and `fragsim
//! sweep` write are read back (every line, bar and band with its colour and pixels), the axes'
//! scales are recovered from their tick labels, and each plotted point is checked against the
//! figure it stands for in result.json or sweep.json, to within the pixel plotters rounds to.
//!
//! Each check also runs against figures the chart must not show (zeros, another metric, another
//! variant, another statistic) and asserts that those are told apart: a chart that plotted the
//! wrong field would fail it.

use serde_json::Value;

use crate::common::*;

/// How far a point may be from where its value belongs: plotters puts each point and each tick
/// at a whole pixel, and the scale is read from the ticks.
const TOL: f64 = 2.0;
const MIB: f64 = 1024.0 * 1024.0;
/// The charts' colours per variant, metric or curve (`charts::PALETTE`), as SVG writes them.
const PALETTE: [&str; 6] = ["#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B"];
/// The colours of the decomposition's layers, bottom first (`charts::LAYER_COLOURS`), and the
/// layers' names in result.json.
const LAYERS: [(&str, &str); 9] = [
    ("#2CA02C", "payload"),
    ("#1F77B4", "redis_overhead"),
    ("#FF7F0E", "rounding"),
    ("#D62728", "pad_pages"),
    ("#9467BD", "slab_holes"),
    ("#E377C2", "tcache"),
    ("#8C564B", "dirty_pages"),
    ("#BCBD22", "metadata"),
    ("#AAAAAA", "baseline_rss"),
];
/// Where the legend strip starts: swatches right of it are not data.
const LEGEND_X: f64 = 1200.0 - 330.0;

/// A figure of result.json or sweep.json, `None` where it is missing (so that a wrong path
/// fails the check instead of reading as zero).
fn num(v: &Value, path: &[&str]) -> f64 {
    let mut at = v;
    for p in path {
        at = &at[*p];
    }
    at.as_f64().unwrap_or_else(|| panic!("no number at {path:?}"))
}

/// Asserts that the chart's `points` are where `expected` says and that each of `wrong` (what
/// the chart must not show) is told apart from them: further than [`TOL`] somewhere.
fn assert_plots(
    what: &str,
    points: &[(f64, f64)],
    expected: &[(f64, f64)],
    wrong: &[(&str, Vec<(f64, f64)>)],
) {
    let off = pixels_off(points, expected);
    assert!(
        off <= TOL,
        "{what}: a point is {off:.1} px from its value\n  drawn:    {points:?}\n  expected: {expected:?}"
    );
    for (name, w) in wrong {
        let off = pixels_off(points, w);
        assert!(
            off > TOL,
            "{what}: {name} would pass as well ({off:.1} px): the check does not tell them apart"
        );
    }
}

/// Runs `fragsim ARGS --out DIR` and returns DIR.
fn output(tag: &str, args: &[&str]) -> std::path::PathBuf {
    let dir = fresh_path(tag);
    let mut all = args.to_vec();
    all.extend(["--out", arg(&dir)]);
    let (rc, _, err) = fragsim(&all);
    assert_eq!(rc, 0, "{all:?}: {err}");
    dir
}

/// The timeline: per variant, one vertex per test for the p50 of used_memory (thin line) and of
/// RSS (thick line) after each test, and the RSS band from p5 to p95, each at the test on the
/// x axis and at the value on the y axis (MiB).
fn check_timeline(svg: &str, result: &Value) {
    let d = drawing(svg);
    let panels = d.panels();
    // The data's plot is the one whose scale starts at 0 (far limits get a panel above it).
    let plot = panels
        .iter()
        .find(|p| p.y.has_tick(0.0))
        .unwrap_or_else(|| panic!("timeline: no plot with a y axis from 0: {panels:?}"));
    let variants = result["variants"].as_array().unwrap();
    for (i, v) in variants.iter().enumerate() {
        let name = v["name"].as_str().unwrap();
        let tl = v["timeline"].as_array().unwrap();
        let n = tl.len();
        assert!(n >= 3, "{name}: {n} tests");
        // (test, figure) -> pixel, for a field and statistic of `end`, or of `peak`.
        let series = |variant: &Value, phase: &str, field: &str, stat: &str| -> Vec<(f64, f64)> {
            variant["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        plot.x.px(num(t, &["test"])),
                        plot.y.px(num(t, &[phase, field, stat]) / MIB),
                    )
                })
                .collect()
        };
        let zeros: Vec<(f64, f64)> = (1..=n).map(|t| (plot.x.px(t as f64), plot.y.px(0.0))).collect();
        let other = &variants[(i + 1) % variants.len()];
        let line = |width: f64| -> Vec<(f64, f64)> {
            let lines: Vec<_> = d
                .lines_of(PALETTE[i], width, n)
                .into_iter()
                .filter(|l| l.points.iter().all(|&p| plot.contains(p)))
                .collect();
            assert_eq!(lines.len(), 1, "{name}: lines of width {width} with {n} points");
            lines[0].points.clone()
        };
        let what = format!("timeline, {name}, used_memory p50");
        let mut wrong = vec![
            ("zeros", zeros.clone()),
            ("allocator_active", series(v, "end", "allocator_active", "p50")),
            ("used_memory_rss", series(v, "end", "used_memory_rss", "p50")),
        ];
        if variants.len() > 1 {
            wrong.push(("another variant's", series(other, "end", "used_memory", "p50")));
        }
        assert_plots(&what, &line(1.0), &series(v, "end", "used_memory", "p50"), &wrong);

        let what = format!("timeline, {name}, used_memory_rss p50");
        let wrong = [
            ("zeros", zeros.clone()),
            ("used_memory", series(v, "end", "used_memory", "p50")),
            ("allocator_active", series(v, "end", "allocator_active", "p50")),
        ];
        assert_plots(
            &what,
            &line(3.0),
            &series(v, "end", "used_memory_rss", "p50"),
            &wrong,
        );

        // The band: p5 by test, then p95 back.
        let bands: Vec<_> = d
            .areas
            .iter()
            .filter(|a| a.colour == PALETTE[i] && a.opacity < 1.0 && a.points.len() == 2 * n)
            .collect();
        assert_eq!(bands.len(), 1, "{name}: RSS bands");
        let band = |lo: &str, hi: &str, field: &str| -> Vec<(f64, f64)> {
            let mut b = series(v, "end", field, lo);
            b.extend(series(v, "end", field, hi).into_iter().rev());
            b
        };
        let what = format!("timeline, {name}, RSS band p5-p95");
        // (With a few runs p5 and p95 are close to min and max: those are not told apart.)
        let wrong = [
            ("the used_memory band", band("p5", "p95", "used_memory")),
            ("the allocator_active band", band("p5", "p95", "allocator_active")),
        ];
        assert_plots(
            &what,
            &bands[0].points,
            &band("p5", "p95", "used_memory_rss"),
            &wrong,
        );
    }
}

/// Grouped bars (the peaks and the ratios charts): per metric (a colour) and variant (left to
/// right), a bar from 0 to the p50 of the runs' peak, a whisker from p5 to p95. The bars'
/// heights are also proportional to their values.
fn check_bars(chart: &str, svg: &str, result: &Value, metrics: &[&str], scale: f64) {
    let d = drawing(svg);
    let axes = d.axes(true);
    assert_eq!(axes.len(), 1, "{chart}: y axes {axes:?}");
    let y = &axes[0];
    let variants = result["variants"].as_array().unwrap();
    let value = |v: &Value, m: &str, stat: &str| num(v, &["peak", m, stat]) / scale;
    let mut per_px = Vec::new();
    for (k, m) in metrics.iter().enumerate() {
        let mut bars: Vec<_> = d
            .bars
            .iter()
            .filter(|b| b.colour == PALETTE[k] && b.x < LEGEND_X)
            .collect();
        bars.sort_by(|a, b| a.x.total_cmp(&b.x));
        assert_eq!(bars.len(), variants.len(), "{chart}: bars of {m}");
        // A bar as its two corners on y: (left, top), (left, bottom).
        let drawn: Vec<(f64, f64)> = bars.iter().flat_map(|b| [(b.x, b.y), (b.x, b.y + b.h)]).collect();
        let bar_at = |stat: &str, metric: &str| -> Vec<(f64, f64)> {
            bars.iter()
                .zip(variants)
                .flat_map(|(b, v)| [(b.x, y.px(value(v, metric, stat))), (b.x, y.px(0.0))])
                .collect()
        };
        let mut wrong = vec![
            (
                "zeros",
                bar_at("p50", m).iter().map(|&(x, _)| (x, y.px(0.0))).collect(),
            ),
            ("p95", bar_at("p95", m)),
        ];
        for other in metrics.iter().filter(|o| *o != m) {
            wrong.push(("another metric", bar_at("p50", other)));
        }
        wrong.retain(|w| w.0 != "p95" || pixels_off(&bar_at("p50", m), &w.1) > TOL);
        assert_plots(&format!("{chart}, {m}, bars"), &drawn, &bar_at("p50", m), &wrong);
        for (b, v) in bars.iter().zip(variants) {
            per_px.push((value(v, m, "p50"), b.h));
            // The whisker: a black vertical line of width 2 in the bar's middle.
            let cx = b.x + b.w / 2.0;
            let whisker = d
                .lines
                .iter()
                .find(|l| {
                    l.colour == "#000000"
                        && l.width == 2.0
                        && l.points.len() == 2
                        && l.points[0].0 == l.points[1].0
                        && (l.points[0].0 - cx).abs() <= 1.0
                })
                .unwrap_or_else(|| panic!("{chart}: no whisker at x {cx}"));
            let expected = [(cx, y.px(value(v, m, "p5"))), (cx, y.px(value(v, m, "p95")))];
            assert_plots(&format!("{chart}, {m}, whisker"), &whisker.points, &expected, &[]);
        }
    }
    // Proportional: pixels per unit the same for every bar, to within a pixel of each height.
    let (v0, h0) = per_px
        .iter()
        .copied()
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
    for &(v, h) in &per_px {
        assert!(
            (h - v * h0 / v0).abs() <= TOL,
            "{chart}: a bar of {v} is {h} px high, {:.1} px at the tallest bar's scale",
            v * h0 / v0
        );
    }
}

/// Where the bytes go: per variant, stacked layers of the median run's decomposition, all nine
/// in the left panel, the eight above the baseline in the right one, each layer from the sum of
/// the layers under it to that sum plus its own bytes.
fn check_bytes(svg: &str, result: &Value) {
    let d = drawing(svg);
    let mut axes = d.axes(true);
    axes.sort_by(|a, b| a.at.total_cmp(&b.at));
    assert_eq!(axes.len(), 2, "bytes: y axes {axes:?}");
    let variants = result["variants"].as_array().unwrap();
    for (panel, (y, layers)) in axes.iter().zip([9, 8]).enumerate() {
        let right_edge = axes.get(panel + 1).map_or(LEGEND_X, |a| a.at);
        for &(colour, field) in &LAYERS[..layers] {
            let mut bars: Vec<_> = d
                .bars
                .iter()
                .filter(|b| b.colour == colour && b.x > y.at && b.x < right_edge)
                .collect();
            bars.sort_by(|a, b| a.x.total_cmp(&b.x));
            assert_eq!(bars.len(), variants.len(), "bytes panel {panel}: {field} layers");
            let drawn: Vec<(f64, f64)> = bars.iter().flat_map(|b| [(b.x, b.y), (b.x, b.y + b.h)]).collect();
            // (top, bottom) of layer k when the stack is `order`.
            let stacked = |order: &[&str]| -> Vec<(f64, f64)> {
                bars.iter()
                    .zip(variants)
                    .flat_map(|(b, v)| {
                        let at = order.iter().position(|f| *f == field).unwrap();
                        let below: f64 = order[..at].iter().map(|f| num(v, &["breakdown", f])).sum();
                        let top = below + num(v, &["breakdown", field]);
                        [(b.x, y.px(top / MIB)), (b.x, y.px(below / MIB))]
                    })
                    .collect()
            };
            let order: Vec<&str> = LAYERS[..layers].iter().map(|l| l.1).collect();
            let mut reversed = order.clone();
            reversed.reverse();
            let mut wrong = vec![("the layers stacked top first", stacked(&reversed))];
            wrong.retain(|w| pixels_off(&stacked(&order), &w.1) > TOL);
            assert_plots(
                &format!("bytes panel {panel}, {field}"),
                &drawn,
                &stacked(&order),
                &wrong,
            );
        }
    }
}

/// The sweep: per curve, one point per swept value, at the value on the x axis and in the top
/// plot at the p50 of the peak RSS (thick) and used_memory (thin); in the lower plot the
/// allocator's bytes per value byte, or for a swept limit the probability of its OOM.
fn check_sweep(svg: &str, sweep: &Value, lower: &str) {
    let d = drawing(svg);
    let panels = d.panels();
    assert_eq!(panels.len(), 2, "sweep: plots {panels:?}");
    let (top, bottom) = (&panels[0], &panels[1]);
    let values: Vec<f64> = sweep["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let n = values.len();
    assert!(n >= 3, "{n} values");
    // The x axis is in KiB for byte sizes, in MiB from 4 MiB up and in GiB from 4 GiB up, as it
    // is for counts.
    let max = values.iter().copied().fold(0.0, f64::max);
    let unit = match sweep["param"]["kind"].as_str() {
        Some("bytes") if max >= 4.0 * 1024.0 * MIB => 1024.0 * MIB,
        Some("bytes") if max >= 4.0 * MIB => MIB,
        Some("bytes") => 1024.0,
        _ => 1.0,
    };
    let curves = sweep["curves"].as_array().unwrap();
    for (c, curve) in curves.iter().enumerate() {
        let points = curve["points"].as_array().unwrap();
        let on = |panel: &Panel, ys: Vec<f64>| -> Vec<(f64, f64)> {
            values
                .iter()
                .zip(ys)
                .map(|(x, y)| (panel.x.px(x / unit), panel.y.px(y)))
                .collect()
        };
        let peak = |field: &str, stat: &str| -> Vec<f64> {
            points
                .iter()
                .map(|p| num(p, &["peak", field, stat]) / MIB)
                .collect()
        };
        let line = |panel: &Panel, width: f64| -> Vec<(f64, f64)> {
            let lines: Vec<_> = d
                .lines_of(PALETTE[c], width, n)
                .into_iter()
                .filter(|l| l.points.iter().all(|&p| panel.contains(p)))
                .collect();
            assert_eq!(
                lines.len(),
                1,
                "sweep curve {c}: lines of width {width} with {n} points"
            );
            lines[0].points.clone()
        };
        let zeros = on(top, vec![0.0; n]);
        let what = format!("sweep curve {c}, peak RSS p50");
        let wrong = [
            ("zeros", zeros.clone()),
            ("used_memory", on(top, peak("used_memory", "p50"))),
            ("allocator_active", on(top, peak("allocator_active", "p50"))),
        ];
        assert_plots(
            &what,
            &line(top, 3.0),
            &on(top, peak("used_memory_rss", "p50")),
            &wrong,
        );
        let what = format!("sweep curve {c}, peak used_memory p50");
        let wrong = [
            ("zeros", zeros),
            ("used_memory_rss", on(top, peak("used_memory_rss", "p50"))),
            ("allocator_active", on(top, peak("allocator_active", "p50"))),
        ];
        assert_plots(
            &what,
            &line(top, 1.0),
            &on(top, peak("used_memory", "p50")),
            &wrong,
        );

        let per_byte =
            |p: &Value| num(p, &["breakdown", "values_footprint"]) / num(p, &["breakdown", "values_payload"]);
        let (expected, wrong): (Vec<f64>, Vec<(&str, Vec<f64>)>) = match lower {
            "maxmemory" => (
                points
                    .iter()
                    .map(|p| num(p, &["oom", "maxmemory", "probability"]))
                    .collect(),
                vec![
                    (
                        "the memory_limit probability",
                        points
                            .iter()
                            .map(|p| num(p, &["oom", "memory_limit", "probability"]))
                            .collect(),
                    ),
                    ("ones", vec![1.0; n]),
                ],
            ),
            _ => (
                points.iter().map(per_byte).collect(),
                vec![
                    ("ones", vec![1.0; n]),
                    (
                        "the allocated bytes per value byte",
                        points
                            .iter()
                            .map(|p| {
                                num(p, &["peak", "allocator_allocated", "p50"])
                                    / num(p, &["breakdown", "values_payload"])
                            })
                            .collect(),
                    ),
                ],
            ),
        };
        let wrong: Vec<(&str, Vec<(f64, f64)>)> = wrong
            .into_iter()
            .map(|(name, ys)| (name, on(bottom, ys)))
            .filter(|(_, w)| pixels_off(&on(bottom, expected.clone()), w) > TOL)
            .collect();
        assert!(
            !wrong.is_empty(),
            "sweep curve {c}: nothing to tell the lower plot from"
        );
        assert_plots(
            &format!("sweep curve {c}, lower plot ({lower})"),
            &line(bottom, 2.0),
            &on(bottom, expected),
            &wrong,
        );
    }
}

/// The seed suite's charts (two variants, 92 tests, limits far above the data: the timeline has
/// a broken axis) against its result.json.
#[test]
fn run_charts_plot_the_result() {
    let dir = output(
        "chart-data",
        &["run", &scenario_path("seed-suite.toml"), "--runs", "6"],
    );
    let result = read_json(&dir.join("result.json"));
    check_timeline(&read_svg(&dir, "timeline"), &result);
    check_bars(
        "peaks",
        &read_svg(&dir, "peaks"),
        &result,
        &["used_memory", "allocator_active", "used_memory_rss"],
        MIB,
    );
    check_bars(
        "ratios",
        &read_svg(&dir, "ratios"),
        &result,
        &["allocator_frag_ratio", "mem_fragmentation_ratio"],
        1.0,
    );
    check_bytes(&read_svg(&dir, "bytes"), &result);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Three variants whose data grow over the tests, with maxmemory near them (drawn as a line in
/// the same plot, no broken axis).
#[test]
fn run_charts_plot_the_result_of_three_variants_with_limits_in_view() {
    let dir = fresh_dir("chart-data-3");
    let scenario = dir.join("three.toml");
    std::fs::write(
        &scenario,
        r#"name = "three"
runs = 5
[server]
profile = "redis-7.0-debian"
maxmemory = "3MB"
[workload]
tests = 6
test_seconds = 0.5
[[workload.keys]]
name = "k"
count = 40
value_size = { dist = "lognormal", median = 3000, sigma = 0.6 }
cleanup = 0.5
[[variant]]
name = "3 KB"
[[variant]]
name = "12 KB"
set = { "workload.keys.k.value_size" = 12000 }
[[variant]]
name = "hashes"
set = { "workload.keys.k.type" = "hash", "workload.keys.k.fields" = 20, "workload.keys.k.value_size" = 100 }
"#,
    )
    .unwrap();
    let out = dir.join("out");
    let (rc, _, err) = fragsim(&["run", arg(&scenario), "--out", arg(&out)]);
    assert_eq!(rc, 0, "{err}");
    let result = read_json(&out.join("result.json"));
    check_timeline(&read_svg(&out, "timeline"), &result);
    check_bars(
        "peaks",
        &read_svg(&out, "peaks"),
        &result,
        &["used_memory", "allocator_active", "used_memory_rss"],
        MIB,
    );
    check_bytes(&read_svg(&out, "bytes"), &result);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A value-size sweep (the sawtooth below) and a maxmemory sweep (the OOM probability below)
/// against their sweep.json.
#[test]
fn sweep_charts_plot_the_sweep() {
    let dir = output(
        "chart-data-sweep",
        &[
            "sweep",
            &scenario_path("seed-suite.toml"),
            "--param",
            "value_size",
            "--values",
            "1KB,6KB,9KB,14KB,20KB,30KB",
            "--runs",
            "2",
        ],
    );
    check_sweep(
        &read_svg(&dir, "sweep"),
        &read_json(&dir.join("sweep.json")),
        "per byte",
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let dir = output(
        "chart-data-maxmemory",
        &[
            "sweep",
            &scenario_path("seed-suite-leaky.toml"),
            "--param",
            "maxmemory",
            "--values",
            "1MB,2MB,3MB,4MB,6MB",
            "--runs",
            "4",
        ],
    );
    check_sweep(
        &read_svg(&dir, "sweep"),
        &read_json(&dir.join("sweep.json")),
        "maxmemory",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
