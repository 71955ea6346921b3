//! The "memory by key pattern" chart: one row per key pattern (largest first, the smaller ones
//! summed, then the shared rows), one horizontal bar per variant: `allocator_active`, its
//! `used_memory` part solid and the allocator's pad pages and slab holes lighter, the figure
//! and its share of RSS at the bar's end.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{side_legend, Entry, Swatch};
use super::text::{shrink_to, text_width};
use super::{Res, LABEL_FONT, LEGEND_W, MIB, PALETTE, W};
use crate::report::patterns::{rows, short_label, SHOWN};
use crate::sim::breakdown::Share;
use crate::sim::montecarlo::McResult;
use crate::units::human;

/// The first variant's row `name` in each variant (by name; none where a variant lacks it).
fn across<'a>(r: &'a McResult, name: &str) -> Vec<Option<&'a Share>> {
    r.variants
        .iter()
        .map(|v| v.breakdown.by_pattern.iter().find(|s| s.name == name))
        .collect()
}

/// The shown row's figures in each variant: a pattern's own, the summed smaller patterns of
/// each variant for the "N more patterns" row.
fn row_in(r: &McResult, shown: &[Share], row: &Share) -> Vec<Option<Share>> {
    let lumped = !row.shared
        && !r.variants[0]
            .breakdown
            .by_pattern
            .iter()
            .any(|s| s.name == row.name);
    if !lumped {
        return across(r, &row.name).into_iter().map(|s| s.cloned()).collect();
    }
    r.variants
        .iter()
        .map(|v| {
            let mut sum = Share::default();
            for s in v.breakdown.by_pattern.iter().filter(|s| !s.shared) {
                if !shown.iter().any(|x| x.name == s.name) {
                    sum.add(s);
                }
            }
            Some(sum)
        })
        .collect()
}

/// Draws the chart of `r`'s memory by key pattern (rows from its first variant).
pub(super) fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, r: &McResult) -> Res<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(
        "Memory by key pattern: allocator_active at the peak of the median run",
        ("sans-serif", 26),
    )?;
    let (plot, legend_area) = root.split_horizontally(W - LEGEND_W + 60);
    let first = match r.variants.first() {
        Some(v) => v,
        None => return Ok(()),
    };
    let shown = rows(&first.breakdown, SHOWN);
    let table: Vec<Vec<Option<Share>>> = shown.iter().map(|s| row_in(r, &shown, s)).collect();
    let nv = r.variants.len().max(1);
    let nrows = shown.len().max(1);
    let xmax = table
        .iter()
        .flatten()
        .flatten()
        .map(|s| s.allocator_active as f64 / MIB)
        .fold(0.0, f64::max)
        .max(0.001);
    // The rows' names at the left, in a column as wide as the longest needs (up to a third).
    let names: Vec<String> = shown.iter().map(short_label).collect();
    let (pw, _) = plot.dim_in_pixel();
    let mut name_w = 0;
    for n in &names {
        name_w = name_w.max(text_width(&plot, n, LABEL_FONT)?);
    }
    let name_w = (name_w + 16).min(pw as i32 / 3).max(60) as u32;
    let mut chart = ChartBuilder::on(&plot)
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(name_w)
        .build_cartesian_2d(0f64..xmax * 1.35, 0f64..nrows as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("MiB")
        .light_line_style(WHITE)
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", 20))
        .draw()?;
    // Row i from the top: y from nrows - i - 1 to nrows - i, the variants' bars stacked in it.
    let band = 0.8 / nv as f64;
    let bar = |i: usize, j: usize| {
        let top = (nrows - i) as f64 - 0.1;
        (top - (j + 1) as f64 * band + 0.02, top - j as f64 * band)
    };
    for (i, cells) in table.iter().enumerate() {
        for (j, cell) in cells.iter().enumerate() {
            let Some(s) = cell else { continue };
            let colour = PALETTE[j % PALETTE.len()];
            let (y0, y1) = bar(i, j);
            let active = s.allocator_active as f64 / MIB;
            let used = (s.used_memory.min(s.allocator_active)) as f64 / MIB;
            chart.draw_series([
                Rectangle::new([(0.0, y0), (active, y1)], colour.mix(0.35).filled()),
                Rectangle::new([(0.0, y0), (used, y1)], colour.filled()),
            ])?;
        }
    }
    let (bx, by) = plot.get_base_pixel();
    let px = |x: f64, y: f64| {
        let (x, y) = chart.backend_coord(&(x, y));
        (x - bx, y - by)
    };
    // Each bar's figure at its end, in a font no taller than the bar (none if under 10 px).
    let bar_px = px(0.0, 0.0).1 - px(0.0, band).1;
    let label_size = (bar_px - 2).min(15);
    for (i, cells) in table.iter().enumerate() {
        for (j, cell) in cells.iter().enumerate() {
            let Some(s) = cell.as_ref().filter(|_| label_size >= 10) else {
                continue;
            };
            let (y0, y1) = bar(i, j);
            let rss = r.variants[j].breakdown.rss.max(1);
            let t = format!(
                "{} ({:.1}% of RSS)",
                human(s.allocator_active as f64),
                100.0 * s.rss as f64 / rss as f64
            );
            let (x, ymid) = px(s.allocator_active as f64 / MIB, (y0 + y1) / 2.0);
            let room = px(xmax * 1.35, 0.0).0 - x - 6;
            let size = shrink_to(&plot, &t, room, label_size as u32, 10)?;
            plot.draw(&Text::new(
                t,
                (x + 5, ymid - size as i32 / 2 - 1),
                ("sans-serif", size),
            ))?;
        }
        // The row's name, right-aligned against the axis.
        let (ax, ymid) = px(0.0, (nrows - i) as f64 - 0.5);
        let size = shrink_to(&plot, &names[i], name_w as i32 - 12, LABEL_FONT, 10)?;
        let w = text_width(&plot, &names[i], size)?;
        plot.draw(&Text::new(
            names[i].clone(),
            (ax - 8 - w, ymid - size as i32 / 2 - 1),
            ("sans-serif", size),
        ))?;
    }
    let mut entries: Vec<Entry> = r
        .variants
        .iter()
        .enumerate()
        .map(|(j, v)| Entry::new(Swatch::Fill(PALETTE[j % PALETTE.len()], 1.0), v.name.clone()))
        .collect();
    entries.push(Entry::new(
        Swatch::Fill(RGBColor(90, 90, 90), 1.0),
        "solid: used_memory",
    ));
    entries.push(Entry::new(
        Swatch::Fill(RGBColor(90, 90, 90), 0.35),
        "light: pad pages and slab holes, up to allocator_active",
    ));
    for note in [
        "(server): tables, clients, scripts",
        "(allocator): cache, spare slabs",
        "(baseline): the empty server",
    ] {
        entries.push(Entry::new(Swatch::Heading(RGBColor(60, 60, 60)), note));
    }
    side_legend(&legend_area, "Variants", &entries)?;
    root.present()?;
    Ok(())
}
