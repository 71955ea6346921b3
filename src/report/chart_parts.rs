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
        for line in wrap(area, &e.label, w as i32 - text_x - 6, LEGEND_FONT)? {
            area.draw(&Text::new(line, (text_x, y - 10), ("sans-serif", LEGEND_FONT)))
                .map_err(err)?;
            y += 22;
        }
        y += 4;
    }
    Ok(())
}

/// Splits `text` into lines no wider than `width` pixels at `size`, at spaces (a single word
/// wider than `width` stays whole on its line).
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    width: i32,
    size: u32,
) -> Result<Vec<String>, String> {
    let fits = |t: &str| -> Result<bool, String> { Ok(text_width(area, t, size)? <= width) };
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

/// Width in pixels of `text` at `size` in the charts' font.
pub fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: u32,
) -> Result<i32, String> {
    let style = TextStyle::from(("sans-serif", size).into_font());
    let (w, _) = area.estimate_text_size(text, &style).map_err(|e| e.to_string())?;
    Ok(w as i32)
}

/// The largest size from `size` down to `min` at which `text` (a number: never cut) fits in
/// `width` pixels, or `min`.
pub fn shrink_to<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    width: i32,
    size: u32,
    min: u32,
) -> Result<u32, String> {
    let mut sz = size.max(min);
    while sz > min && text_width(area, text, sz)? > width {
        sz -= 1;
    }
    Ok(sz)
}

/// The largest size from `size` down to `min` at which `text` fits in `width` pixels, and the
/// text (cut short with "..." when even `min` is too wide): labels that would run into a
/// neighbouring bar or panel shrink instead.
pub fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    width: i32,
    size: u32,
    min: u32,
) -> Result<(String, u32), String> {
    let sz = shrink_to(area, text, width, size, min)?;
    if text_width(area, text, sz)? <= width {
        return Ok((text.to_string(), sz));
    }
    let chars: Vec<char> = text.chars().collect();
    let mut n = chars.len();
    while n > 0 {
        n -= 1;
        let cut: String = chars[..n].iter().collect::<String>() + "...";
        if text_width(area, &cut, sz)? <= width {
            return Ok((cut, sz));
        }
    }
    Ok((String::new(), sz))
}

/// Category labels (names under groups of bars): the largest size from `size` down to `min` at
/// which every text wraps into at most `max_lines` lines of at most `width` pixels, and each
/// text's lines at that size; at `min`, a text still too long keeps its first lines and the last
/// is cut short with "...". One size for all, so the labels read as a set.
pub fn fit_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    texts: &[String],
    width: i32,
    size: u32,
    min: u32,
    max_lines: usize,
) -> Result<(Vec<Vec<String>>, u32), String> {
    let mut sz = size.max(min);
    loop {
        let mut all = Vec::new();
        let mut ok = true;
        for t in texts {
            let lines = wrap(area, t, width, sz)?;
            for l in &lines {
                ok &= text_width(area, l, sz)? <= width;
            }
            ok &= lines.len() <= max_lines;
            all.push(lines);
        }
        if ok {
            return Ok((all, sz));
        }
        if sz == min {
            // Each line cut to the width; what follows the last allowed line joins it and is cut.
            let mut cut = Vec::new();
            for lines in all {
                let keep = lines.len().min(max_lines.max(1));
                let mut shown = Vec::new();
                for (i, l) in lines.iter().take(keep).enumerate() {
                    let l = if i + 1 == keep {
                        lines[i..].join(" ")
                    } else {
                        l.clone()
                    };
                    shown.push(fit_text(area, &l, width, sz, sz)?.0);
                }
                cut.push(shown);
            }
            return Ok((cut, sz));
        }
        sz -= 1;
    }
}

/// plotters' SVG backend writes each text at `font-size = size / 1.24` in the generic
/// `sans-serif`, while the layout (tick labels, legend wrapping, bar labels) was measured with the
/// embedded DejaVu Sans at `size` pixels, as the PNG draws it. In a browser that shrinks every
/// label by a fifth (15 px instead of 18 px: under 10 px on an 800 px page). This gives the
/// SVG's texts the size the layout was made for, in DejaVu Sans where the reader has it (as the
/// PNG), else a font of similar width.
pub fn svg_text_as_laid_out(svg: &str) -> String {
    const SIZE: &str = "font-size=\"";
    let mut out = String::with_capacity(svg.len() + svg.len() / 50);
    let mut rest = svg;
    while let Some(i) = rest.find(SIZE) {
        let start = i + SIZE.len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('"').unwrap_or(0);
        match rest[..end].parse::<f64>() {
            Ok(v) => out.push_str(&format!("{}", (v * 1.24 * 100.0).round() / 100.0)),
            Err(_) => out.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out.replace(
        "font-family=\"sans-serif\"",
        "font-family=\"DejaVu Sans, Verdana, sans-serif\"",
    )
}
