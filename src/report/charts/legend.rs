//! The legend every chart draws beside its plot (never over the data), its swatches drawn with
//! exactly the style of their series, dashes included.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::text::wrap;
use super::Res;

/// How a legend entry's series looks.
#[derive(Debug, Clone, Copy)]
pub(super) enum Swatch {
    /// A line of this colour and width, solid or dashed `(dash, gap)` pixels.
    Line(RGBColor, u32, Option<(i32, i32)>),
    /// A filled box (bars, stacked layers), at this opacity.
    Fill(RGBColor, f64),
    /// A filled dot (a marked point).
    Dot(RGBColor),
    /// No swatch: a heading (a variant's name, in its colour).
    Heading(RGBColor),
}

/// One line of a legend.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// How its series looks.
    swatch: Swatch,
    /// Its text (wrapped to the legend's width).
    label: String,
}

impl Entry {
    /// An entry of `label` with `swatch`.
    pub(super) fn new(swatch: Swatch, label: impl Into<String>) -> Entry {
        Entry {
            swatch,
            label: label.into(),
        }
    }
}

/// Legend text size (pixels at the chart's 1200 px width: about 12 px when shown 800 px wide).
const LEGEND_FONT: u32 = 18;

/// Draws a dashed or solid horizontal stroke from `x0` to `x1` at `y` (pixels).
fn stroke<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x0, x1, y): (i32, i32, i32),
    style: ShapeStyle,
    dash: Option<(i32, i32)>,
) -> Res<()> {
    match dash {
        None => {
            area.draw(&PathElement::new(vec![(x0, y), (x1, y)], style))?;
            Ok(())
        }
        Some((d, g)) => {
            let mut x = x0;
            while x < x1 {
                let end = (x + d).min(x1);
                area.draw(&PathElement::new(vec![(x, y), (end, y)], style))?;
                x += d + g;
            }
            Ok(())
        }
    }
}

/// Draws `entries` top-down in `area` (the strip beside a plot), under `title`.
pub(super) fn side_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[Entry],
) -> Res<()> {
    let mut y = 70;
    area.draw(&Text::new(
        title.to_string(),
        (8, y - 12),
        ("sans-serif", LEGEND_FONT + 1).into_font().style(FontStyle::Bold),
    ))?;
    y += 18;
    for e in entries {
        let text_x = match e.swatch {
            Swatch::Line(c, w, dash) => {
                stroke(area, (8, 52, y), c.stroke_width(w), dash)?;
                60
            }
            Swatch::Dot(c) => {
                area.draw(&Circle::new((30, y), 7, c.filled()))?;
                60
            }
            Swatch::Fill(c, alpha) => {
                area.draw(&Rectangle::new([(8, y - 8), (52, y + 8)], c.mix(alpha).filled()))?;
                60
            }
            Swatch::Heading(c) => {
                y += 6;
                area.draw(&Text::new(
                    e.label.clone(),
                    (8, y - 10),
                    ("sans-serif", LEGEND_FONT).into_font().color(&c),
                ))?;
                y += 24;
                continue;
            }
        };
        let (w, _) = area.dim_in_pixel();
        for line in wrap(area, &e.label, w as i32 - text_x - 6, LEGEND_FONT)? {
            area.draw(&Text::new(line, (text_x, y - 10), ("sans-serif", LEGEND_FONT)))?;
            y += 22;
        }
        y += 4;
    }
    Ok(())
}
