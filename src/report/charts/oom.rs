//! The OOM chart: for each variant, the probability of running out of memory against the limit
//! it would run under.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{side_legend, Entry, Swatch};
use super::{draw_line, limit_lines, limit_range, Res, DESC_FONT, LABEL_FONT, LEGEND_W, MIB, PALETTE, W};
use crate::sim::montecarlo::McResult;

/// OOM probability against the limit: for each variant, the share of runs whose highest
/// used_memory at a write (maxmemory, thick) or whose peak RSS (memory_limit, dashed) is above
/// the limit on the x axis. The configured limits are vertical lines: within the data's range
/// in the main panel, far beyond it in a panel of their own right of a broken axis.
pub(super) fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, r: &McResult) -> Res<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(
        "OOM probability against the limit (share of runs over it)",
        ("sans-serif", 26),
    )?;
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
        .build_cartesian_2d(x0..x1, 0f64..1.05f64)?;
    chart
        .configure_mesh()
        .x_desc("limit, MiB")
        .y_desc("probability")
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()?;
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
            .build_cartesian_2d(s0..s1, 0f64..1.05f64)?;
        sc.configure_mesh()
            .x_labels(3)
            .x_desc("MiB (axis broken)")
            .label_style(("sans-serif", LABEL_FONT))
            .axis_desc_style(("sans-serif", DESC_FONT))
            .draw()?;
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
    side_legend(&legend_area, "Legend", &entries)?;
    root.present()?;
    Ok(())
}
