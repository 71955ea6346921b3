//! The two charts of grouped bars, one group per variant: the peaks (used_memory,
//! allocator_active and RSS) and the two fragmentation ratios, each bar the p50 of the runs with
//! a p5-p95 whisker.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{side_legend, Entry, Swatch};
use super::text::{fit_lines, shrink_to, text_width};
use super::{Res, DESC_FONT, LABEL_FONT, LEGEND_W, MIB, PALETTE, W};
use crate::redis::info::Field;
use crate::sim::montecarlo::McResult;
use crate::units::human;

/// Grouped bars: for each variant, the p50 of each metric, with a p5-p95 whisker; the variants
/// named under their groups (with notes, one per variant, beneath in up to `note_lines` lines),
/// the legend beside.
fn bars<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    r: &McResult,
    title: &str,
    ydesc: &str,
    metrics: &[(Field, &str)],
    scale: f64,
    (notes, note_lines): (&[String], usize),
) -> Res<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let full = root.clone();
    let root = root.titled(title, ("sans-serif", 26))?;
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
        .x_label_area_size(if notes.is_empty() {
            64
        } else {
            64 + 22 * note_lines as u32
        })
        .y_label_area_size(85)
        .build_cartesian_2d(0f64..xmax, 0f64..(ymax * 1.15).max(0.001))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(ydesc)
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()?;
    // One bar's width in pixels, for its value label.
    let bar = chart.backend_coord(&(1.0, 0.0)).0 - chart.backend_coord(&(0.0, 0.0)).0;
    let mut entries = Vec::new();
    // The value labels drawn so far: their spans across and down, in pixels.
    let mut placed: Vec<Span2> = Vec::new();
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
        chart.draw_series(rects)?;
        entries.push(Entry::new(Swatch::Fill(c, 1.0), *label));
    }
    // Whiskers and value labels over every bar, drawn after all of them, so that no bar
    // covers a label that reaches over it.
    for (k, (m, _)) in metrics.iter().enumerate() {
        for (i, v) in r.variants.iter().enumerate() {
            let s = v.peak.get(*m);
            let x = (i * (nm + 1) + k) as f64 + 0.5;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, s.p5 / scale), (x, s.p95 / scale)],
                BLACK.stroke_width(2),
            )))?;
            let text = if scale == 1.0 {
                format!("{:.2}", s.p50)
            } else {
                human(s.p50)
            };
            let (px, py) = chart.backend_coord(&(x, s.p95.max(s.p50) / scale));
            // Shrunk to the bar's slot; a label that would still touch one already drawn sits
            // just above it instead, so neighbours never overlap.
            let size = shrink_to(&full, &text, bar - 4, LABEL_FONT, 13)?;
            let tw = text_width(&full, &text, size)?;
            let x0 = px - tw / 2;
            let y = free_row(&placed, (x0, x0 + tw), py - 24, size as i32 + 3);
            placed.push(((x0, x0 + tw), (y, y + size as i32 + 3)));
            full.draw(&Text::new(text, (x0, y), ("sans-serif", size)))?;
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
    let (name_lines, name_size) = fit_lines(&full, &names, slot - 8, 20, 12, 2)?;
    let (note_lines, note_size) = fit_lines(&full, notes, slot - 8, LABEL_FONT, 11, note_lines)?;
    for (i, name) in name_lines.iter().enumerate() {
        let xc = (i * (nm + 1)) as f64 + nm as f64 / 2.0;
        let (px, py) = chart.backend_coord(&(xc, 0.0));
        let mut y = py + 10;
        let lines = name.iter().map(|l| (l, name_size));
        let notes = note_lines.get(i).into_iter().flatten().map(|l| (l, note_size));
        for (text, size) in lines.chain(notes) {
            let tw = text_width(&full, text, size)?;
            full.draw(&Text::new(text.clone(), (px - tw / 2, y), ("sans-serif", size)))?;
            y += size as i32 + 5;
        }
    }
    side_legend(&legend_area, "Legend", &entries)?;
    full.present()?;
    Ok(())
}

/// A label's box: its pixel span across (left, right) and down (top, bottom).
type Span2 = ((i32, i32), (i32, i32));

/// The top of a label `height` pixels tall spanning `across`, as near `top` as it can be
/// without overlapping a box in `placed`: moved up above each box it would touch.
fn free_row(placed: &[Span2], across: (i32, i32), top: i32, height: i32) -> i32 {
    let mut y = top;
    loop {
        let hit = placed
            .iter()
            .find(|((l, r), (t, b))| *l < across.1 && across.0 < *r && *t < y + height && y < *b);
        match hit {
            Some((_, (t, _))) => y = t - height,
            None => return y,
        }
    }
}

/// The peaks chart's bars: its metrics and their legend labels.
const PEAK_METRICS: &[(Field, &str)] = &[
    (Field::UsedMemory, "peak used_memory"),
    (Field::AllocatorActive, "peak allocator_active"),
    (Field::UsedMemoryRss, "peak used_memory_rss"),
];

/// The ratios chart's bars: its metrics and their legend labels.
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

/// The peaks chart: peak used_memory, allocator_active and RSS per variant, in MiB.
pub(super) fn peaks<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, r: &McResult) -> Res<()>
where
    DB::ErrorType: 'static,
{
    let title = "Peak memory per variant (p50, whiskers p5-p95)";
    bars(root, r, title, "MiB", PEAK_METRICS, MIB, (&[], 1))
}

/// Why the two ratios differ, one note per variant (under its name on the ratios chart): the
/// share of RSS that is the empty process.
pub(super) fn ratio_notes(r: &McResult) -> Vec<String> {
    r.variants
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
        .collect()
}

/// The ratios chart: allocator_frag_ratio and mem_fragmentation_ratio at peak RSS per variant,
/// with `notes` (those of [`ratio_notes`]) under the variants' names.
pub(super) fn ratios<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    r: &McResult,
    notes: &[String],
) -> Res<()>
where
    DB::ErrorType: 'static,
{
    let title = "Fragmentation ratios at peak RSS (RSS includes the process baseline)";
    bars(root, r, title, "ratio", RATIO_METRICS, 1.0, (notes, 1))
}

/// Whether `r`'s variants run on more than one server build: the what-if across versions that
/// the versions chart draws.
pub(super) fn spans_versions(r: &McResult) -> bool {
    r.variants.iter().any(|v| v.profile != r.variants[0].profile)
}

/// Under each variant of a versions chart: how its peak used_memory and RSS compare with the
/// first variant's (p50), and " *" where the model does not follow everything of that build
/// yet (its profile's caveats, which the run's text lists).
pub(super) fn version_notes(r: &McResult) -> Vec<String> {
    let Some(first) = r.variants.first() else {
        return Vec::new();
    };
    let change = |v: &crate::sim::montecarlo::VariantResult, f: Field| {
        let (a, b) = (first.peak.get(f).p50, v.peak.get(f).p50);
        100.0 * (b - a) / a.max(1.0)
    };
    r.variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let vs = if i == 0 {
                "the reference".to_string()
            } else {
                format!(
                    "used_memory {:+.1}%, RSS {:+.1}%",
                    change(v, Field::UsedMemory),
                    change(v, Field::UsedMemoryRss)
                )
            };
            let star = if v.caveats.is_empty() { "" } else { " *" };
            format!("{vs}{star}")
        })
        .collect()
}

/// The versions chart: the peaks of each variant where the variants run on different server
/// builds, each named with its profile and its change against the first variant.
pub(super) fn versions<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, r: &McResult) -> Res<()>
where
    DB::ErrorType: 'static,
{
    let star = if r.variants.iter().any(|v| !v.caveats.is_empty()) {
        "; * partly modelled"
    } else {
        ""
    };
    let title = format!(
        "Peak memory per server version (p50, p5-p95; changes against {}{star})",
        r.variants.first().map_or("", |v| v.name.as_str())
    );
    bars(root, r, &title, "MiB", PEAK_METRICS, MIB, (&version_notes(r), 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_moves_up_past_every_label_it_would_touch() {
        // Two labels stacked at the same spot: a third there goes above both.
        let placed = vec![((0, 50), (100, 116)), ((10, 60), (84, 100))];
        assert_eq!(free_row(&placed, (20, 70), 100, 16), 68);
        // Beside them (no horizontal overlap) it stays where it was asked.
        assert_eq!(free_row(&placed, (60, 90), 100, 16), 100);
        // Overlapping the lower box by one pixel: moved above it, where it meets the upper
        // one, so above that too.
        assert_eq!(free_row(&placed, (49, 55), 110, 16), 68);
    }
}
