//! The timeline chart: memory per test, p50 of the runs, with the spread of RSS.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{side_legend, Entry, Swatch};
use super::{draw_line, limit_lines, limit_range, Res, DESC_FONT, LABEL_FONT, LEGEND_W, MIB, PALETTE, W};
use crate::redis::info::Field;
use crate::sim::montecarlo::{McResult, Stat};

/// The timeline: per test, p50 of used_memory (thin), allocator_active (dashed) and RSS (thick),
/// with the p5-p95 band of RSS shaded, one colour per variant. The configured limits are drawn:
/// within the data's range as horizontal lines, far above it in a panel of their own above a
/// broken axis. The legend sits beside the plot.
pub(super) fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, r: &McResult) -> Res<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled("Memory per test (p50 of the runs)", ("sans-serif", 26))?;
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
        .build_cartesian_2d(1f64..xmax, 0f64..ytop)?;
    chart
        .configure_mesh()
        .x_desc("test")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("MiB")
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()?;
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
        chart.draw_series(std::iter::once(Polygon::new(band, c.mix(0.3).filled())))?;
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
            .build_cartesian_2d(1f64..xmax, y0..y1)?;
        lc.configure_mesh()
            .disable_x_mesh()
            .y_labels(3)
            .y_desc("MiB")
            .label_style(("sans-serif", LABEL_FONT))
            .axis_desc_style(("sans-serif", DESC_FONT))
            .draw()?;
        for (name, v, colour, (d, g)) in &far {
            let y = v / MIB;
            lc.draw_series(DashedLineSeries::new(
                vec![(1.0, y), (xmax, y)],
                *d,
                *g,
                colour.stroke_width(2),
            ))?;
            lc.draw_series(std::iter::once(Text::new(
                name.clone(),
                (1.0 + (xmax - 1.0) * 0.62, y + (y1 - y0) * 0.22),
                ("sans-serif", LABEL_FONT).into_font().color(colour),
            )))?;
            entries.push(Entry::new(Swatch::Line(*colour, 2, Some((*d, *g))), name.clone()));
        }
        // The break between the limits' panel and the data's: two slashes on the y axis.
        let (_, h) = top.dim_in_pixel();
        for k in 0..2 {
            let y = h as i32 - 6 + 5 * k;
            top.draw(&PathElement::new(
                vec![(94, y + 4), (106, y - 4)],
                BLACK.stroke_width(2),
            ))?;
        }
    }
    side_legend(&legend_area, "Legend", &entries)?;
    root.present()?;
    Ok(())
}
