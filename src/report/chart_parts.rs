//! Pieces the charts share: a legend drawn beside the plot (never over the data) whose swatches
//! are drawn with exactly the style of their series, dashes included.

use plotters::coord::Shift;
use plotters::prelude::*;

/// How a legend entry's series looks.
#[derive(Debug, Clone, Copy)]
pub enum Swatch {
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
pub struct Entry {
    pub swatch: Swatch,
    pub label: String,
}

impl Entry {
    pub fn new(swatch: Swatch, label: impl Into<String>) -> Entry {
        Entry {
            swatch,
            label: label.into(),
        }
    }
}

/// Legend text size (pixels at the chart's 1200 px width: about 12 px when shown 800 px wide).
pub const LEGEND_FONT: u32 = 18;

/// Draws a dashed or solid horizontal stroke from `x0` to `x1` at `y` (pixels).
fn stroke<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x0, x1, y): (i32, i32, i32),
    style: ShapeStyle,
    dash: Option<(i32, i32)>,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    match dash {
        None => area
            .draw(&PathElement::new(vec![(x0, y), (x1, y)], style))
            .map_err(err),
        Some((d, g)) => {
            let mut x = x0;
            while x < x1 {
                let end = (x + d).min(x1);
                area.draw(&PathElement::new(vec![(x, y), (end, y)], style))
                    .map_err(err)?;
                x += d + g;
            }
            Ok(())
        }
    }
}

/// Draws `entries` top-down in `area` (the strip beside a plot), under `title`.
pub fn side_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[Entry],
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let mut y = 70;
    area.draw(&Text::new(
        title.to_string(),
        (8, y - 12),
        ("sans-serif", LEGEND_FONT + 1).into_font().style(FontStyle::Bold),
    ))
    .map_err(err)?;
    y += 18;
    for e in entries {
        let text_x = match e.swatch {
            Swatch::Line(c, w, dash) => {
                stroke(area, (8, 52, y), c.stroke_width(w), dash)?;
                60
            }
            Swatch::Dot(c) => {
                area.draw(&Circle::new((30, y), 7, c.filled())).map_err(err)?;
                60
            }
            Swatch::Fill(c, alpha) => {
                area.draw(&Rectangle::new([(8, y - 8), (52, y + 8)], c.mix(alpha).filled()))
                    .map_err(err)?;
                60
            }
            Swatch::Heading(c) => {
                y += 6;
                area.draw(&Text::new(
                    e.label.clone(),
                    (8, y - 10),
                    ("sans-serif", LEGEND_FONT).into_font().color(&c),
                ))
                .map_err(err)?;
                y += 24;
                continue;
            }
        };
        let (w, _) = area.dim_in_pixel();
        for line in wrap(area, &e.label, w as i32 - text_x - 6)? {
            area.draw(&Text::new(line, (text_x, y - 10), ("sans-serif", LEGEND_FONT)))
                .map_err(err)?;
            y += 22;
        }
        y += 4;
    }
    Ok(())
}

/// Splits `text` into lines no wider than `width` pixels at the legend's size, at spaces.
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    width: i32,
) -> Result<Vec<String>, String> {
    let style = TextStyle::from(("sans-serif", LEGEND_FONT).into_font());
    let fits = |t: &str| -> Result<bool, String> {
        let (w, _) = area.estimate_text_size(t, &style).map_err(|e| e.to_string())?;
        Ok(w as i32 <= width)
    };
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        let candidate = if current.is_empty() {
            word.to_string()
        } else {
            format!("{current} {word}")
        };
        if current.is_empty() || fits(&candidate)? {
            current = candidate;
        } else {
            lines.push(std::mem::replace(&mut current, word.to_string()));
        }
    }
    lines.push(current);
    Ok(lines)
}
