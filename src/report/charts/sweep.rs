//! The sweep chart: peak memory against a swept scenario parameter, and below it the
//! allocator's cost per value byte or, for a swept limit, the probability of its OOM.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{side_legend, Entry, Swatch};
use super::{draw_line, limit_lines, LimitLine, Res, DESC_FONT, H, LABEL_FONT, LEGEND_W, MIB, PALETTE, W};
use crate::redis::info::Field;
use crate::sim::montecarlo::VariantResult;
use crate::sim::sweep::{Mark, ParamKind, SweepResult};
use crate::units::human;

/// A swept value as text: bytes in binary units, other numbers as they are.
fn sweep_value_text(r: &SweepResult, x: f64) -> String {
    match r.param.kind {
        ParamKind::Bytes => human(x),
        _ => format!("{x}"),
    }
}

/// The x value of a swept parameter on the chart (KiB for byte sizes) and the axis label.
fn sweep_axis(r: &SweepResult) -> (f64, String) {
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
fn cost_per_byte(v: &VariantResult) -> f64 {
    v.breakdown.active_per_value_byte()
}

/// The sweep: peak used_memory, allocator_active and RSS (p50, RSS with its p5-p95 band) against
/// the parameter (top), and below the allocator's bytes per value byte (the size-class sawtooth),
/// or for a limit (maxmemory, memory_limit) the probability of its OOM; one colour per curve,
/// each variant's own setting marked (or named, when outside the swept range).
pub(super) fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, r: &SweepResult) -> Res<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (xs, xdesc) = sweep_axis(r);
    let title = format!(
        "Sweep of {}: peak memory (p50, RSS band p5-p95), {} runs per point",
        r.param.path, r.runs
    );
    let root = root.titled(&title, ("sans-serif", 24))?;
    let (plots, legend_area) = root.split_horizontally(W - LEGEND_W);
    let (top, bottom) = plots.split_vertically((H - 40) * 62 / 100);
    let mut entries = Vec::new();
    let x0 = r.values.iter().copied().fold(f64::INFINITY, f64::min) / xs;
    let x1 = r.values.iter().copied().fold(f64::NEG_INFINITY, f64::max) / xs;
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    // Variants set outside the swept range are named, not drawn.
    let inside = |m: &&Mark| (x0..=x1).contains(&(m.value / xs));
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
    let limits: Vec<LimitLine> = if swept_limit {
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
        .build_cartesian_2d(x0..x1, 0f64..(ymax * 1.15).max(0.001))?;
    chart
        .configure_mesh()
        .y_desc("MiB (peak)")
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()?;
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
        chart.draw_series(std::iter::once(Polygon::new(band, col.mix(0.3).filled())))?;
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
        chart.draw_series(std::iter::once(Circle::new((m.value / xs, y), 7, col.filled())))?;
        let text = format!("variant {}: RSS {}", m.variant, human(y * MIB));
        chart.draw_series(std::iter::once(Text::new(
            text.clone(),
            (label_x(m.value / xs, &text), y + ymax * 0.05),
            ("sans-serif", LABEL_FONT),
        )))?;
    }
    if !outside.is_empty() {
        chart.draw_series(std::iter::once(Text::new(
            format!("outside the swept range: {}", outside.join(", ")),
            (x0 + (x1 - x0) * 0.01, ymax * 1.12),
            ("sans-serif", LABEL_FONT),
        )))?;
    }

    // The lower panel: for a limit, the probability of its OOM; otherwise the size-class
    // sawtooth (points without values are left out).
    type Metric = fn(&VariantResult) -> Option<f64>;
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
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(xdesc)
        .y_desc(ydesc)
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()?;
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
        chart.draw_series(std::iter::once(Circle::new((m.value / xs, y), 6, col.filled())))?;
        let text = format!("{}: {:.2}", m.variant, y);
        chart.draw_series(std::iter::once(Text::new(
            text.clone(),
            (label_x(m.value / xs, &text), y + (y1 - y0) * 0.1),
            ("sans-serif", LABEL_FONT),
        )))?;
    }
    side_legend(&legend_area, "Legend", &entries)?;
    root.present()?;
    Ok(())
}
