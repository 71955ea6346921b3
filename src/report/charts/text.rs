//! Text that fits the room it has: wrapping, shrinking and cutting short labels (legend entries,
//! bar values, category names), measured in the embedded font as the PNG draws it; and the SVG's
//! texts set back to the size they were laid out at.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Res;

/// Splits `text` into lines no wider than `width` pixels at `size`, at spaces (a single word
/// wider than `width` stays whole on its line).
pub(super) fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    width: i32,
    size: u32,
) -> Res<Vec<String>> {
    let fits = |t: &str| -> Res<bool> { Ok(text_width(area, t, size)? <= width) };
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
pub(super) fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: u32,
) -> Res<i32> {
    let style = TextStyle::from(("sans-serif", size).into_font());
    let (w, _) = area.estimate_text_size(text, &style)?;
    Ok(w as i32)
}

/// The largest size from `size` down to `min` at which `text` (a number: never cut) fits in
/// `width` pixels, or `min`.
pub(super) fn shrink_to<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    width: i32,
    size: u32,
    min: u32,
) -> Res<u32> {
    let mut sz = size.max(min);
    while sz > min && text_width(area, text, sz)? > width {
        sz -= 1;
    }
    Ok(sz)
}

/// The largest size from `size` down to `min` at which `text` fits in `width` pixels, and the
/// text (cut short with "..." when even `min` is too wide): labels that would run into a
/// neighbouring bar or panel shrink instead.
fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    width: i32,
    size: u32,
    min: u32,
) -> Res<(String, u32)> {
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
pub(super) fn fit_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    texts: &[String],
    width: i32,
    size: u32,
    min: u32,
    max_lines: usize,
) -> Res<(Vec<Vec<String>>, u32)> {
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
pub(super) fn svg_text_as_laid_out(svg: &str) -> String {
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
