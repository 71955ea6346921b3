//! Charts of a Monte Carlo run, each written as PNG and SVG with plotters: the timeline of
//! used_memory, allocator_active and RSS per test with its p5-p95 band, the peaks against the
//! limits, and the two fragmentation ratios side by side. Text uses an embedded font (DejaVu
//! Sans, from the `dejavu` crate; Bitstream Vera licence), so no system font is needed.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::redis::info::Field;
use crate::sim::montecarlo::{McResult, Stat};
use crate::units::human;

const W: u32 = 1200;
const H: u32 = 700;
const MIB: f64 = 1024.0 * 1024.0;

/// Colours per variant.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Registers the embedded font as "sans-serif" (once per process).
pub fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

type Res<T> = Result<T, String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// One chart, drawn: its file name without extension and its bytes as PNG and as SVG.
#[derive(Debug, Clone)]
pub struct Chart {
    /// `timeline`, `peaks`, `ratios`, `bytes`, `oom` or `sweep`.
    pub name: &'static str,
    /// The PNG file's bytes (1200 x 700 pixels).
    pub png: Vec<u8>,
    /// The SVG document (the same drawing, text at the size it was laid out at).
    pub svg: String,
}

/// Draws a chart in memory, as PNG and as SVG.
fn both(
    name: &'static str,
    draw: &dyn Fn(DrawingArea<BitMapBackend, Shift>) -> Res<()>,
    draw_svg: &dyn Fn(DrawingArea<SVGBackend, Shift>) -> Res<()>,
) -> Res<Chart> {
    ensure_font();
    let mut rgb = vec![0u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (W, H)).into_drawing_area();
        draw(root)?;
    }
    let mut svg_text = String::new();
    {
        let root = SVGBackend::with_string(&mut svg_text, (W, H)).into_drawing_area();
        draw_svg(root)?;
    }
    let svg = super::chart_parts::svg_text_as_laid_out(&svg_text);
    let mut png = Vec::new();
    {
        use image::ImageEncoder;
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&rgb, W, H, image::ColorType::Rgb8)
            .map_err(err)?;
    }
    Ok(Chart { name, png, svg })
}

/// Width of the legend strip beside each plot.
const LEGEND_W: u32 = 330;
/// Axis label and tick text sizes.
const LABEL_FONT: u32 = 18;
const DESC_FONT: u32 = 20;

/// The configured limits of `v` (the first variant, or a sweep's first point), each with the
/// style every chart draws it in: (label, bytes, colour, dash).
fn limit_lines(
    v: Option<&crate::sim::montecarlo::VariantResult>,
) -> Vec<(String, f64, RGBColor, (i32, i32))> {
    let mut l = Vec::new();
    if let Some(v) = v {
        if let Some(m) = &v.oom.maxmemory {
            l.push((
                format!("maxmemory {}", human(m.limit as f64)),
                m.limit as f64,
                BLACK,
                (12, 6),
            ));
        }
        if let Some(m) = &v.oom.memory_limit {
            l.push((
                format!("memory_limit {}", human(m.limit as f64)),
                m.limit as f64,
                RGBColor(170, 0, 0),
                (4, 4),
            ));
        }
    }
    l
}

/// A plot's coordinate system: real numbers on both axes.
type Plot<'a, DB> = ChartContext<
    'a,
    DB,
    plotters::coord::cartesian::Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::types::RangedCoordf64,
    >,
>;

/// Draws one series: a line of `colour` and `width`, solid or dashed `(dash, gap)` pixels (the
/// style its legend swatch repeats).
fn draw_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut Plot<'a, DB>,
    pts: Vec<(f64, f64)>,
    colour: RGBColor,
    width: u32,
    dash: Option<(i32, i32)>,
) -> Res<()>
where
    DB::ErrorType: 'static,
{
    let style = colour.stroke_width(width);
    match dash {
        Some((d, g)) => chart.draw_series(DashedLineSeries::new(pts, d, g, style)),
        None => chart.draw_series(LineSeries::new(pts, style)),
    }
    .map(|_| ())
    .map_err(err)
}

/// A y range around `values` (MiB) for a panel that only shows limits.
fn limit_range(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    if hi - lo < hi * 0.05 {
        (lo * 0.8, hi * 1.25)
    } else {
        (lo - (hi - lo) * 0.35, hi + (hi - lo) * 0.45)
    }
}

/// The timeline: per test, p50 of used_memory (thin), allocator_active (dashed) and RSS (thick),
/// with the p5-p95 band of RSS shaded, one colour per variant. The configured limits are drawn:
/// within the data's range as horizontal lines, far above it in a panel of their own above a
/// broken axis. The legend sits beside the plot.
fn timeline<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, r: &McResult) -> Res<()>
where
    DB::ErrorType: 'static,
{
    use super::chart_parts::{side_legend, Entry, Swatch};
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled("Memory per test (p50 of the runs)", ("sans-serif", 26))
        .map_err(err)?;
    let (plot, legend_area) = root.split_horizontally(W - LEGEND_W);
    let tests = r.variants.first().map_or(1, |v| v.timeline.len()).max(1) as f64;
    let xmax = tests.max(2.0);
    let mut ymax: f64 = 0.0;
    for v in &r.variants {
        for t in &v.timeline {
            for f in [Field::UsedMemory, Field::AllocatorActive, Field::UsedMemoryRss] {
                ymax = ymax.max(t.end.get(f).p95);
            }
        }
    }
    let limits = limit_lines(r.variants.first());
    let (near, far): (Vec<_>, Vec<_>) = limits.iter().partition(|l| l.1 <= ymax * 3.0);
    for l in &near {
        ymax = ymax.max(l.1);
    }
    let ytop = (ymax * 1.1 / MIB).max(0.001);
    let (top, data_area) = if far.is_empty() {
        (None, plot)
    } else {
        let (t, d) = plot.split_vertically(150);
        (Some(t), d)
    };
    let mut chart = ChartBuilder::on(&data_area)
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(85)
        .build_cartesian_2d(1f64..xmax, 0f64..ytop)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("test")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("MiB")
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()
        .map_err(err)?;
    /// A series' field, line width and dash pattern.
    type Style = (Field, u32, Option<(i32, i32)>);
    const STYLES: [Style; 3] = [
        (Field::UsedMemoryRss, 3, None),
        (Field::AllocatorActive, 2, Some((8, 5))),
        (Field::UsedMemory, 1, None),
    ];
    let mut entries = Vec::new();
    for (i, v) in r.variants.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let series = |f: Field, q: fn(&Stat) -> f64| -> Vec<(f64, f64)> {
            v.timeline
                .iter()
                .map(|t| (t.test as f64, q(&t.end.get(f)) / MIB))
                .collect()
        };
        let lo = series(Field::UsedMemoryRss, |s| s.p5);
        let hi = series(Field::UsedMemoryRss, |s| s.p95);
        let mut band: Vec<(f64, f64)> = lo.clone();
        band.extend(hi.iter().rev());
        chart
            .draw_series(std::iter::once(Polygon::new(band, c.mix(0.3).filled())))
            .map_err(err)?;
        entries.push(Entry::new(Swatch::Heading(c), v.name.clone()));
        for (field, width, dash) in STYLES {
            draw_line(&mut chart, series(field, |s| s.p50), c, width, dash)?;
            entries.push(Entry::new(Swatch::Line(c, width, dash), field.name()));
        }
        entries.push(Entry::new(Swatch::Fill(c, 0.3), "RSS p5-p95 (shaded)"));
    }
    if !far.is_empty() {
        entries.push(Entry::new(Swatch::Heading(BLACK), "limits (axis broken)"));
    } else if !limits.is_empty() {
        entries.push(Entry::new(Swatch::Heading(BLACK), "limits"));
    }
    for (name, v, colour, (d, g)) in &near {
        let y = v / MIB;
        draw_line(&mut chart, vec![(1.0, y), (xmax, y)], *colour, 2, Some((*d, *g)))?;
        entries.push(Entry::new(Swatch::Line(*colour, 2, Some((*d, *g))), name.clone()));
    }
    if let Some(top) = top {
        let values: Vec<f64> = far.iter().map(|l| l.1 / MIB).collect();
        let (y0, y1) = limit_range(&values);
        let mut lc = ChartBuilder::on(&top)
            .margin(15)
            .margin_bottom(0)
            .x_label_area_size(0)
            .y_label_area_size(85)
            .build_cartesian_2d(1f64..xmax, y0..y1)
            .map_err(err)?;
        lc.configure_mesh()
            .disable_x_mesh()
            .y_labels(3)
            .y_desc("MiB")
            .label_style(("sans-serif", LABEL_FONT))
            .axis_desc_style(("sans-serif", DESC_FONT))
            .draw()
            .map_err(err)?;
        for (name, v, colour, (d, g)) in &far {
            let y = v / MIB;
            lc.draw_series(DashedLineSeries::new(
                vec![(1.0, y), (xmax, y)],
                *d,
                *g,
                colour.stroke_width(2),
            ))
            .map_err(err)?;
            lc.draw_series(std::iter::once(Text::new(
                name.clone(),
                (1.0 + (xmax - 1.0) * 0.62, y + (y1 - y0) * 0.22),
                ("sans-serif", LABEL_FONT).into_font().color(colour),
            )))
            .map_err(err)?;
            entries.push(Entry::new(Swatch::Line(*colour, 2, Some((*d, *g))), name.clone()));
        }
        // The break between the limits' panel and the data's: two slashes on the y axis.
        let (_, h) = top.dim_in_pixel();
        for k in 0..2 {
            let y = h as i32 - 6 + 5 * k;
            top.draw(&PathElement::new(
                vec![(94, y + 4), (106, y - 4)],
                BLACK.stroke_width(2),
            ))
            .map_err(err)?;
        }
    }
    side_legend(&legend_area, "Legend", &entries).map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Grouped bars: for each variant, the p50 of each metric, with a p5-p95 whisker; the variants
/// named under their groups (with `notes`, one per variant, beneath), the legend beside.
fn bars<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    r: &McResult,
    title: &str,
    ydesc: &str,
    metrics: &[(Field, &str)],
    scale: f64,
    notes: &[String],
) -> Res<()>
where
    DB::ErrorType: 'static,
{
    use super::chart_parts::{shrink_to, side_legend, text_width, Entry, Swatch};
    root.fill(&WHITE).map_err(err)?;
    let full = root.clone();
    let root = root.titled(title, ("sans-serif", 26)).map_err(err)?;
    let (plot, legend_area) = root.split_horizontally(W - LEGEND_W);
    let nv = r.variants.len().max(1);
    let nm = metrics.len();
    let mut ymax: f64 = 0.0;
    for v in &r.variants {
        for (m, _) in metrics {
            ymax = ymax.max(v.peak.get(*m).p95 / scale);
        }
    }
    let xmax = (nv * (nm + 1) - 1) as f64;
    let mut chart = ChartBuilder::on(&plot)
        .margin(15)
        .x_label_area_size(if notes.is_empty() { 64 } else { 86 })
        .y_label_area_size(85)
        .build_cartesian_2d(0f64..xmax, 0f64..(ymax * 1.15).max(0.001))
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(ydesc)
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()
        .map_err(err)?;
    // One bar's width in pixels, for its value label.
    let bar = chart.backend_coord(&(1.0, 0.0)).0 - chart.backend_coord(&(0.0, 0.0)).0;
    let mut entries = Vec::new();
    for (k, (m, label)) in metrics.iter().enumerate() {
        let c = PALETTE[k % PALETTE.len()];
        let rects: Vec<Rectangle<(f64, f64)>> = r
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let x0 = (i * (nm + 1) + k) as f64 + 0.1;
                Rectangle::new([(x0, 0.0), (x0 + 0.8, v.peak.get(*m).p50 / scale)], c.filled())
            })
            .collect();
        chart.draw_series(rects).map_err(err)?;
        entries.push(Entry::new(Swatch::Fill(c, 1.0), *label));
        for (i, v) in r.variants.iter().enumerate() {
            let s = v.peak.get(*m);
            let x = (i * (nm + 1) + k) as f64 + 0.5;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, s.p5 / scale), (x, s.p95 / scale)],
                    BLACK.stroke_width(2),
                )))
                .map_err(err)?;
            let text = if scale == 1.0 {
                format!("{:.2}", s.p50)
            } else {
                human(s.p50)
            };
            let (px, py) = chart.backend_coord(&(x, s.p95.max(s.p50) / scale));
            // Shrunk to the bar's slot; where even that is too wide, every other label of the
            // group sits a line higher so neighbours never overlap.
            let size = shrink_to(&full, &text, bar - 4, LABEL_FONT, 13)?;
            let tw = text_width(&full, &text, size)?;
            let lift = if tw > bar - 4 && k % 2 == 1 { 20 } else { 0 };
            full.draw(&Text::new(
                text,
                (px - tw / 2, py - 24 - lift),
                ("sans-serif", size),
            ))
            .map_err(err)?;
        }
    }
    entries.push(Entry::new(
        Swatch::Line(BLACK, 2, None),
        "whisker: p5-p95 of the runs",
    ));
    // The categories: each variant's name (and note) under its group of bars, wrapped and
    // shrunk to the group's width, one size for all names.
    let slot = chart.backend_coord(&((nm + 1) as f64, 0.0)).0 - chart.backend_coord(&(0.0, 0.0)).0;
    let names: Vec<String> = r.variants.iter().map(|v| v.name.clone()).collect();
    let (name_lines, name_size) = super::chart_parts::fit_lines(&full, &names, slot - 8, 20, 12, 2)?;
    let (note_lines, note_size) = super::chart_parts::fit_lines(&full, notes, slot - 8, LABEL_FONT, 11, 1)?;
    for (i, name) in name_lines.iter().enumerate() {
        let xc = (i * (nm + 1)) as f64 + nm as f64 / 2.0;
        let (px, py) = chart.backend_coord(&(xc, 0.0));
        let mut y = py + 10;
        let lines = name.iter().map(|l| (l, name_size));
        let notes = note_lines.get(i).into_iter().flatten().map(|l| (l, note_size));
        for (text, size) in lines.chain(notes) {
            let tw = text_width(&full, text, size)?;
            full.draw(&Text::new(text.clone(), (px - tw / 2, y), ("sans-serif", size)))
                .map_err(err)?;
            y += size as i32 + 5;
        }
    }
    side_legend(&legend_area, "Legend", &entries).map_err(err)?;
    full.present().map_err(err)?;
    Ok(())
}

/// OOM probability against the limit: for each variant, the share of runs whose highest
/// used_memory at a write (maxmemory, thick) or whose peak RSS (memory_limit, dashed) is above
/// the limit on the x axis. The configured limits are vertical lines: within the data's range
/// in the main panel, far beyond it in a panel of their own right of a broken axis.
fn oom_chart<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, r: &McResult) -> Res<()>
where
    DB::ErrorType: 'static,
{
    use super::chart_parts::{side_legend, Entry, Swatch};
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            "OOM probability against the limit (share of runs over it)",
            ("sans-serif", 26),
        )
        .map_err(err)?;
    let (plot, legend_area) = root.split_horizontally(W - LEGEND_W);
    // (variant, is memory_limit, values per run)
    let curves: Vec<(usize, bool, Vec<f64>)> = r
        .variants
        .iter()
        .enumerate()
        .flat_map(|(i, v)| {
            let mut c = Vec::new();
            if v.capacity.maxmemory.is_some() {
                c.push((
                    i,
                    false,
                    v.per_run.iter().map(|f| f.max_denyoom_check as f64).collect(),
                ));
            }
            c.push((
                i,
                true,
                v.per_run.iter().map(|f| f.peak.used_memory_rss as f64).collect(),
            ));
            c
        })
        .collect();
    let all: Vec<f64> = curves.iter().flat_map(|c| c.2.iter().copied()).collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min) / MIB;
    let hi = all.iter().copied().fold(0.0, f64::max) / MIB;
    let (mut x0, mut x1) = ((lo * 0.9).max(0.0), (hi * 1.1).max(lo * 0.9 + 0.001));
    let limits = limit_lines(r.variants.first());
    let (near, far): (Vec<_>, Vec<_>) = limits.iter().partition(|l| l.1 / MIB <= x1 * 3.0);
    for l in &near {
        x0 = x0.min(l.1 / MIB * 0.95);
        x1 = x1.max(l.1 / MIB * 1.05);
    }
    let (main, side) = if far.is_empty() {
        (plot, None)
    } else {
        let (w, _) = plot.dim_in_pixel();
        let (m, s) = plot.split_horizontally(w * 72 / 100);
        (m, Some(s))
    };
    let style_of = |i: usize, memory_limit: bool| {
        let c = PALETTE[i % PALETTE.len()];
        if memory_limit {
            (c, 2u32, Some((8, 5)))
        } else {
            (c, 3u32, None)
        }
    };
    let prob =
        |xs: &[f64], l: f64| xs.iter().filter(|&&x| x / MIB > l).count() as f64 / xs.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&main)
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(85)
        .build_cartesian_2d(x0..x1, 0f64..1.05f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("limit, MiB")
        .y_desc("probability")
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()
        .map_err(err)?;
    let mut entries = Vec::new();
    for (k, (i, memory_limit, xs)) in curves.iter().enumerate() {
        let (c, w, dash) = style_of(*i, *memory_limit);
        let pts: Vec<(f64, f64)> = (0..=400)
            .map(|s| {
                let l = x0 + (x1 - x0) * s as f64 / 400.0;
                (l, prob(xs, l))
            })
            .collect();
        draw_line(&mut chart, pts, c, w, dash)?;
        if k == 0 || curves[k - 1].0 != *i {
            entries.push(Entry::new(Swatch::Heading(c), r.variants[*i].name.clone()));
        }
        entries.push(Entry::new(
            Swatch::Line(c, w, dash),
            if *memory_limit {
                "memory_limit (peak RSS)"
            } else {
                "maxmemory (used_memory)"
            },
        ));
    }
    if !limits.is_empty() {
        entries.push(Entry::new(
            Swatch::Heading(BLACK),
            if far.is_empty() {
                "configured limits"
            } else {
                "configured limits (axis broken)"
            },
        ));
    }
    for (name, v, colour, (d, g)) in &near {
        let x = v / MIB;
        draw_line(&mut chart, vec![(x, 0.0), (x, 1.05)], *colour, 2, Some((*d, *g)))?;
        entries.push(Entry::new(Swatch::Line(*colour, 2, Some((*d, *g))), name.clone()));
    }
    if let Some(side) = side {
        let values: Vec<f64> = far.iter().map(|l| l.1 / MIB).collect();
        let (s0, s1) = limit_range(&values);
        let mut sc = ChartBuilder::on(&side)
            .margin(15)
            .margin_left(10)
            .x_label_area_size(50)
            .y_label_area_size(0)
            .build_cartesian_2d(s0..s1, 0f64..1.05f64)
            .map_err(err)?;
        sc.configure_mesh()
            .x_labels(3)
            .x_desc("MiB (axis broken)")
            .label_style(("sans-serif", LABEL_FONT))
            .axis_desc_style(("sans-serif", DESC_FONT))
            .draw()
            .map_err(err)?;
        for (i, memory_limit, xs) in &curves {
            let (c, w, dash) = style_of(*i, *memory_limit);
            let pts: Vec<(f64, f64)> = (0..=100)
                .map(|s| {
                    let l = s0 + (s1 - s0) * s as f64 / 100.0;
                    (l, prob(xs, l))
                })
                .collect();
            draw_line(&mut sc, pts, c, w, dash)?;
        }
        for (name, v, colour, (d, g)) in &far {
            let x = v / MIB;
            draw_line(&mut sc, vec![(x, 0.0), (x, 1.05)], *colour, 2, Some((*d, *g)))?;
            entries.push(Entry::new(Swatch::Line(*colour, 2, Some((*d, *g))), name.clone()));
        }
    }
    side_legend(&legend_area, "Legend", &entries).map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Colours of the decomposition's layers, bottom first.
const LAYER_COLOURS: [RGBColor; 9] = [
    RGBColor(44, 160, 44),   // payload
    RGBColor(31, 119, 180),  // Redis overhead
    RGBColor(255, 127, 14),  // rounding
    RGBColor(214, 39, 40),   // pad pages
    RGBColor(148, 103, 189), // slab holes
    RGBColor(227, 119, 194), // tcache
    RGBColor(140, 86, 75),   // dirty pages
    RGBColor(188, 189, 34),  // metadata
    RGBColor(170, 170, 170), // baseline RSS
];

/// One panel of stacked bars: per variant, layers `from..` of the decomposition, in MiB.
fn stacked_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: &McResult,
    title: &str,
    layers: std::ops::Range<usize>,
) -> Res<()>
where
    DB::ErrorType: 'static,
{
    use super::chart_parts::{fit_lines, shrink_to, text_width};
    use crate::sim::breakdown::LAYERS;
    let nv = r.variants.len().max(1);
    let total = |v: &crate::sim::montecarlo::VariantResult| -> f64 {
        v.breakdown.values()[layers.clone()].iter().sum::<u64>() as f64 / MIB
    };
    let ymax = r.variants.iter().map(total).fold(0.0, f64::max).max(0.001);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(56)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..nv as f64 * 2.4, 0f64..ymax * 1.25)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("MiB")
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()
        .map_err(err)?;
    for k in layers.clone() {
        let c = LAYER_COLOURS[k];
        let rects: Vec<Rectangle<(f64, f64)>> = r
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let vals = v.breakdown.values();
                let below: u64 = vals[layers.start..k].iter().sum();
                let x0 = i as f64 * 2.4 + 0.1;
                Rectangle::new(
                    [
                        (x0, below as f64 / MIB),
                        (x0 + 0.8, (below + vals[k]) as f64 / MIB),
                    ],
                    c.filled(),
                )
            })
            .collect();
        chart.draw_series(rects).map_err(err)?;
    }
    // Pixel positions: `area`'s drawing coordinates are relative to its top-left corner.
    let (bx, by) = area.get_base_pixel();
    let px = |x: f64, y: f64| {
        let (x, y) = chart.backend_coord(&(x, y));
        (x - bx, y - by)
    };
    let (right_edge, _) = px(nv as f64 * 2.4, 0.0);
    let slot = px(2.4, 0.0).0 - px(0.0, 0.0).0;
    let all_names: Vec<String> = r.variants.iter().map(|v| v.name.clone()).collect();
    let (names, name_size) = fit_lines(area, &all_names, slot - 6, LABEL_FONT, 11, 2)?;
    let text = |t: String, at: (i32, i32), size: u32| -> Res<()> {
        area.draw(&Text::new(t, at, ("sans-serif", size))).map_err(err)
    };
    for (i, v) in r.variants.iter().enumerate() {
        let vals = v.breakdown.values();
        let x0 = i as f64 * 2.4 + 0.1;
        // The total over the bar, the variant's name under it (both centred, shrunk to the slot).
        let (cx, top) = px(x0 + 0.4, total(v));
        let t = human((total(v) * MIB).round());
        let sz = shrink_to(area, &t, slot - 6, LABEL_FONT, 12)?;
        let tw = text_width(area, &t, sz)?;
        text(t, (cx - tw / 2, top - 24), sz)?;
        let (_, mut y) = px(0.0, 0.0);
        y += 8;
        for line in &names[i] {
            let tw = text_width(area, line, name_size)?;
            text(line.clone(), (cx - tw / 2, y), name_size)?;
            y += name_size as i32 + 4;
        }
        // Each layer's size beside it, where the layer is tall enough to label: with its name
        // when that fits before the next bar standing as high (or the panel's edge), else the
        // size alone, else nothing (the legend and the table have every layer).
        let mut below = 0u64;
        for k in layers.clone() {
            let mid = (below as f64 + vals[k] as f64 / 2.0) / MIB;
            below += vals[k];
            if (vals[k] as f64 / MIB) <= ymax * 0.06 {
                continue;
            }
            let (lx, ly) = px(x0 + 0.85, mid);
            let blocker = r.variants[i + 1..]
                .iter()
                .enumerate()
                .find(|(_, w)| total(w) + ymax * 0.12 >= mid)
                .map(|(j, _)| px((i + 1 + j) as f64 * 2.4 + 0.1, 0.0).0);
            let room = blocker.unwrap_or(right_edge) - lx - 4;
            let size = human(vals[k] as f64);
            for candidate in [format!("{} {size}", LAYERS[k]), size] {
                if text_width(area, &candidate, LABEL_FONT)? <= room {
                    text(candidate, (lx, ly - 9), LABEL_FONT)?;
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Where the bytes go: per variant, RSS at the peak of the median run as stacked layers
/// (left), and the same without the baseline, magnified (right).
fn bytes_chart<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, r: &McResult) -> Res<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            "Where the bytes go: RSS at the peak of the median run",
            ("sans-serif", 26),
        )
        .map_err(err)?;
    use super::chart_parts::{side_legend, Entry, Swatch};
    let (panels, legend_area) = root.split_horizontally(W - LEGEND_W + 60);
    let (w, _) = panels.dim_in_pixel();
    let (left, right) = panels.split_horizontally(w * 42 / 100);
    stacked_panel(&left, r, "all of RSS", 0..9)?;
    stacked_panel(&right, r, "above the baseline (magnified)", 0..8)?;
    // Top layer first, as the bars stack.
    let entries: Vec<Entry> = (0..9)
        .rev()
        .map(|k| {
            Entry::new(
                Swatch::Fill(LAYER_COLOURS[k], 1.0),
                crate::sim::breakdown::LAYERS[k],
            )
        })
        .collect();
    side_legend(&legend_area, "Layers", &entries).map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

const PEAK_METRICS: &[(Field, &str)] = &[
    (Field::UsedMemory, "peak used_memory"),
    (Field::AllocatorActive, "peak allocator_active"),
    (Field::UsedMemoryRss, "peak used_memory_rss"),
];
const RATIO_METRICS: &[(Field, &str)] = &[
    (
        Field::AllocatorFragRatio,
        "allocator_frag_ratio (active / allocated)",
    ),
    (
        Field::MemFragmentationRatio,
        "mem_fragmentation_ratio (RSS / used_memory)",
    ),
];

/// Draws the timeline, peaks, ratios, bytes and oom charts of a Monte Carlo run.
pub fn draw_all(r: &McResult) -> Res<Vec<Chart>> {
    let mut out = Vec::new();
    out.push(both("timeline", &|a| timeline(a, r), &|a| timeline(a, r))?);
    let peaks_title = "Peak memory per variant (p50, whiskers p5-p95)";
    out.push(both(
        "peaks",
        &|a| bars(a, r, peaks_title, "MiB", PEAK_METRICS, MIB, &[]),
        &|a| bars(a, r, peaks_title, "MiB", PEAK_METRICS, MIB, &[]),
    )?);
    let ratio_title = "Fragmentation ratios at peak RSS (RSS includes the process baseline)";
    // Why the two ratios differ: the share of RSS that is the empty process.
    let notes: Vec<String> = r
        .variants
        .iter()
        .map(|v| {
            let b = &v.breakdown;
            format!(
                "baseline RSS {} = {:.0}% of RSS {}",
                human(b.baseline_rss as f64),
                100.0 * b.baseline_rss as f64 / b.rss.max(1) as f64,
                human(b.rss as f64)
            )
        })
        .collect();
    out.push(both(
        "ratios",
        &|a| bars(a, r, ratio_title, "ratio", RATIO_METRICS, 1.0, &notes),
        &|a| bars(a, r, ratio_title, "ratio", RATIO_METRICS, 1.0, &notes),
    )?);
    out.push(both("bytes", &|a| bytes_chart(a, r), &|a| bytes_chart(a, r))?);
    out.push(both("oom", &|a| oom_chart(a, r), &|a| oom_chart(a, r))?);
    Ok(out)
}

/// A swept value as text: bytes in binary units, other numbers as they are.
fn sweep_value_text(r: &crate::sim::sweep::SweepResult, x: f64) -> String {
    match r.param.kind {
        crate::sim::sweep::ParamKind::Bytes => human(x),
        _ => format!("{x}"),
    }
}

/// The x value of a swept parameter on the chart (KiB for byte sizes) and the axis label.
fn sweep_axis(r: &crate::sim::sweep::SweepResult) -> (f64, String) {
    use crate::sim::sweep::ParamKind;
    let name = r
        .param
        .path
        .rsplit('.')
        .next()
        .unwrap_or(&r.param.path)
        .to_string();
    let max = r.values.iter().copied().fold(0.0, f64::max);
    match r.param.kind {
        ParamKind::Bytes if max >= 4.0 * 1024.0 * MIB => {
            (1024.0 * MIB, format!("{} ({}), GiB", name, r.param.path))
        }
        ParamKind::Bytes if max >= 4.0 * MIB => (MIB, format!("{} ({}), MiB", name, r.param.path)),
        ParamKind::Bytes => (1024.0, format!("{} ({}), KiB", name, r.param.path)),
        _ => (1.0, format!("{} ({})", name, r.param.path)),
    }
}

/// Bytes of `stats.active` per value byte at the peak of the median run (size class and pad).
fn cost_per_byte(v: &crate::sim::montecarlo::VariantResult) -> f64 {
    v.breakdown.active_per_value_byte()
}

/// The sweep: peak used_memory, allocator_active and RSS (p50, RSS with its p5-p95 band) against
/// the parameter (top), and below the allocator's bytes per value byte (the size-class sawtooth),
/// or for a limit (maxmemory, memory_limit) the probability of its OOM; one colour per curve,
/// each variant's own setting marked (or named, when outside the swept range).
fn sweep_chart<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    r: &crate::sim::sweep::SweepResult,
) -> Res<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let (xs, xdesc) = sweep_axis(r);
    let title = format!(
        "Sweep of {}: peak memory (p50, RSS band p5-p95), {} runs per point",
        r.param.path, r.runs
    );
    use super::chart_parts::{side_legend, Entry, Swatch};
    let root = root.titled(&title, ("sans-serif", 24)).map_err(err)?;
    let (plots, legend_area) = root.split_horizontally(W - LEGEND_W);
    let (top, bottom) = plots.split_vertically((H - 40) * 62 / 100);
    let mut entries = Vec::new();
    let x0 = r.values.iter().copied().fold(f64::INFINITY, f64::min) / xs;
    let x1 = r.values.iter().copied().fold(f64::NEG_INFINITY, f64::max) / xs;
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    // Variants set outside the swept range are named, not drawn.
    let inside = |m: &&crate::sim::sweep::Mark| (x0..=x1).contains(&(m.value / xs));
    let outside: Vec<String> = r
        .marks
        .iter()
        .filter(|m| !inside(m))
        .map(|m| format!("{} ({})", m.variant, sweep_value_text(r, m.value)))
        .collect();
    // A label starts at its point, or ends there in the right third of the chart.
    let label_x = |x: f64, text: &str| {
        if x > x0 + (x1 - x0) * 0.66 {
            x - text.chars().count() as f64 * 10.0 * (x1 - x0) / 1080.0
        } else {
            x
        }
    };
    let mut ymax = r
        .curves
        .iter()
        .flat_map(|c| c.points.iter())
        .map(|v| v.peak.get(Field::UsedMemoryRss).p95)
        .fold(0.0, f64::max)
        / MIB;
    // The configured limits, unless they are what is swept: drawn when near the data, named in
    // the legend when far above it.
    let swept_limit = r.param.path == "server.maxmemory" || r.param.path == "server.memory_limit";
    // In MiB, the top panel's unit.
    let limits: Vec<(String, f64, RGBColor, (i32, i32))> = if swept_limit {
        Vec::new()
    } else {
        limit_lines(r.curves.first().and_then(|c| c.points.first()))
            .into_iter()
            .map(|(name, bytes, colour, dash)| (name, bytes / MIB, colour, dash))
            .collect()
    };
    let data_max = ymax;
    for l in limits.iter().filter(|l| l.1 <= data_max * 3.0) {
        ymax = ymax.max(l.1);
    }
    let mut chart = ChartBuilder::on(&top)
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, 0f64..(ymax * 1.15).max(0.001))
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_desc("MiB (peak)")
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()
        .map_err(err)?;
    for (ci, c) in r.curves.iter().enumerate() {
        let col = PALETTE[ci % PALETTE.len()];
        let name = c.variants.join(" = ");
        let band: Vec<(f64, f64)> = r
            .values
            .iter()
            .zip(&c.points)
            .map(|(x, v)| (x / xs, v.peak.get(Field::UsedMemoryRss).p95 / MIB))
            .chain(
                r.values
                    .iter()
                    .zip(&c.points)
                    .rev()
                    .map(|(x, v)| (x / xs, v.peak.get(Field::UsedMemoryRss).p5 / MIB)),
            )
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(band, col.mix(0.3).filled())))
            .map_err(err)?;
        entries.push(Entry::new(Swatch::Heading(col), name));
        for (field, label, width, dash) in [
            (Field::UsedMemoryRss, "peak RSS", 3, None),
            (Field::AllocatorActive, "peak allocator_active", 2, Some((8, 5))),
            (Field::UsedMemory, "peak used_memory", 1, None),
        ] {
            let pts: Vec<(f64, f64)> = r
                .values
                .iter()
                .zip(&c.points)
                .map(|(x, v)| (x / xs, v.peak.get(field).p50 / MIB))
                .collect();
            draw_line(&mut chart, pts, col, width, dash)?;
            entries.push(Entry::new(Swatch::Line(col, width, dash), label));
        }
        entries.push(Entry::new(Swatch::Fill(col, 0.3), "RSS p5-p95 (shaded)"));
    }
    if !r.marks.is_empty() {
        entries.push(Entry::new(Swatch::Dot(BLACK), "a variant as written"));
    }
    if !limits.is_empty() {
        entries.push(Entry::new(Swatch::Heading(BLACK), "limits"));
    }
    for (name, y, colour, (d, g)) in &limits {
        if *y <= ymax * 1.15 {
            draw_line(&mut chart, vec![(x0, *y), (x1, *y)], *colour, 2, Some((*d, *g)))?;
            entries.push(Entry::new(Swatch::Line(*colour, 2, Some((*d, *g))), name.clone()));
        } else {
            entries.push(Entry::new(
                Swatch::Line(*colour, 2, Some((*d, *g))),
                format!("{name} (far above the chart)"),
            ));
        }
    }
    for m in r.marks.iter().filter(inside) {
        let col = PALETTE[m.curve % PALETTE.len()];
        let y = m.result.peak.get(Field::UsedMemoryRss).p50 / MIB;
        chart
            .draw_series(std::iter::once(Circle::new((m.value / xs, y), 7, col.filled())))
            .map_err(err)?;
        let text = format!("variant {}: RSS {}", m.variant, human(y * MIB));
        chart
            .draw_series(std::iter::once(Text::new(
                text.clone(),
                (label_x(m.value / xs, &text), y + ymax * 0.05),
                ("sans-serif", LABEL_FONT),
            )))
            .map_err(err)?;
    }
    if !outside.is_empty() {
        chart
            .draw_series(std::iter::once(Text::new(
                format!("outside the swept range: {}", outside.join(", ")),
                (x0 + (x1 - x0) * 0.01, ymax * 1.12),
                ("sans-serif", LABEL_FONT),
            )))
            .map_err(err)?;
    }

    // The lower panel: for a limit, the probability of its OOM; otherwise the size-class
    // sawtooth (points without values are left out).
    type Metric = fn(&crate::sim::montecarlo::VariantResult) -> Option<f64>;
    // `probability`: the panel plots a share of runs (0 to 1), not a cost.
    let (metric, ydesc, what, probability): (Metric, &str, &str, bool) = match r.param.path.as_str() {
        "server.maxmemory" => (
            |v| v.oom.maxmemory.as_ref().map(|o| o.probability),
            "OOM probability",
            "share of runs with writes refused (maxmemory)",
            true,
        ),
        "server.memory_limit" => (
            |v| v.oom.memory_limit.as_ref().map(|o| o.probability),
            "OOM probability",
            "share of runs with RSS over memory_limit",
            true,
        ),
        _ => (
            |v| Some(cost_per_byte(v)).filter(|&c| c > 0.0),
            "active bytes / value byte",
            "size class + pad page per value byte (usable + pad) / value",
            false,
        ),
    };
    let cmax = r
        .curves
        .iter()
        .flat_map(|c| c.points.iter())
        .filter_map(metric)
        .fold(0.0, f64::max);
    let (y0, y1) = if probability {
        (0.0, 1.1)
    } else {
        (0.9, (cmax * 1.08).max(1.0))
    };
    let mut chart = ChartBuilder::on(&bottom)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(xdesc)
        .y_desc(ydesc)
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()
        .map_err(err)?;
    for (ci, c) in r.curves.iter().enumerate() {
        let col = PALETTE[ci % PALETTE.len()];
        let pts: Vec<(f64, f64)> = r
            .values
            .iter()
            .zip(&c.points)
            .filter_map(|(x, v)| metric(v).map(|y| (x / xs, y)))
            .collect();
        draw_line(&mut chart, pts, col, 2, None)?;
        entries.push(Entry::new(
            Swatch::Line(col, 2, None),
            format!("lower panel, {}: {what}", c.variants.join(" = ")),
        ));
    }
    for m in r.marks.iter().filter(inside) {
        let Some(y) = metric(&m.result) else {
            continue;
        };
        let col = PALETTE[m.curve % PALETTE.len()];
        chart
            .draw_series(std::iter::once(Circle::new((m.value / xs, y), 6, col.filled())))
            .map_err(err)?;
        let text = format!("{}: {:.2}", m.variant, y);
        chart
            .draw_series(std::iter::once(Text::new(
                text.clone(),
                (label_x(m.value / xs, &text), y + (y1 - y0) * 0.1),
                ("sans-serif", LABEL_FONT),
            )))
            .map_err(err)?;
    }
    side_legend(&legend_area, "Legend", &entries).map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Draws the sweep chart.
pub fn draw_sweep(r: &crate::sim::sweep::SweepResult) -> Res<Chart> {
    both("sweep", &|a| sweep_chart(a, r), &|a| sweep_chart(a, r))
}
