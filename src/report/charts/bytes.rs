//! The "where the bytes go" chart: RSS at the peak of the median run, decomposed into stacked
//! layers per variant (the nine of [`LAYERS`], from the payload up to the baseline RSS), once
//! whole and once without the baseline, magnified.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{side_legend, Entry, Swatch};
use super::text::{fit_lines, shrink_to, text_width};
use super::{Res, DESC_FONT, LABEL_FONT, LEGEND_W, MIB, W};
use crate::sim::breakdown::LAYERS;
use crate::sim::montecarlo::{McResult, VariantResult};
use crate::units::human;

/// Colours of the decomposition's layers, bottom first ([`LAYERS`] order).
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

/// The part of the Redis overhead that is the structure of hash, list, set and sorted-set
/// values, drawn within it when there is any.
const COLLECTIONS_COLOUR: RGBColor = RGBColor(158, 202, 225);

/// One panel of stacked bars under `title`: per variant, the decomposition's `layers` (indices
/// into [`LAYERS`], bottom first), in MiB, each bar's total above it and the variant's name below.
fn stacked_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: &McResult,
    title: &str,
    layers: std::ops::Range<usize>,
) -> Res<()>
where
    DB::ErrorType: 'static,
{
    let nv = r.variants.len().max(1);
    let total =
        |v: &VariantResult| -> f64 { v.breakdown.values()[layers.clone()].iter().sum::<u64>() as f64 / MIB };
    let ymax = r.variants.iter().map(total).fold(0.0, f64::max).max(0.001);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(56)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..nv as f64 * 2.4, 0f64..ymax * 1.25)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("MiB")
        .label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()?;
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
        chart.draw_series(rects)?;
    }
    // The collections' structures, the lower part of the Redis overhead, in a lighter blue.
    if layers.start == 0 {
        let rects: Vec<Rectangle<(f64, f64)>> = r
            .variants
            .iter()
            .enumerate()
            .filter(|(_, v)| v.breakdown.collections > 0)
            .map(|(i, v)| {
                let b = &v.breakdown;
                let x0 = i as f64 * 2.4 + 0.1;
                Rectangle::new(
                    [
                        (x0, b.payload as f64 / MIB),
                        (x0 + 0.8, (b.payload + b.collections) as f64 / MIB),
                    ],
                    COLLECTIONS_COLOUR.filled(),
                )
            })
            .collect();
        chart.draw_series(rects)?;
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
        area.draw(&Text::new(t, at, ("sans-serif", size)))?;
        Ok(())
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
pub(super) fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, r: &McResult) -> Res<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(
        "Where the bytes go: RSS at the peak of the median run",
        ("sans-serif", 26),
    )?;
    let (panels, legend_area) = root.split_horizontally(W - LEGEND_W + 60);
    let (w, _) = panels.dim_in_pixel();
    let (left, right) = panels.split_horizontally(w * 42 / 100);
    stacked_panel(&left, r, "all of RSS", 0..9)?;
    stacked_panel(&right, r, "above the baseline (magnified)", 0..8)?;
    // Top layer first, as the bars stack.
    let mut entries: Vec<Entry> = (0..9)
        .rev()
        .map(|k| Entry::new(Swatch::Fill(LAYER_COLOURS[k], 1.0), LAYERS[k]))
        .collect();
    if r.variants.iter().any(|v| v.breakdown.collections > 0) {
        let at = entries.len() - 1;
        entries.insert(
            at,
            Entry::new(
                Swatch::Fill(COLLECTIONS_COLOUR, 1.0),
                "of which collection structures",
            ),
        );
    }
    side_legend(&legend_area, "Layers", &entries)?;
    root.present()?;
    Ok(())
}
