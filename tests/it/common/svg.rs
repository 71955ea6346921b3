//! Reading the SVG charts: their texts, text sizes and text boxes.

use std::path::Path;

/// `DIR/NAME.svg`, read.
pub fn read_svg(dir: &Path, name: &str) -> String {
    let path = dir.join(format!("{name}.svg"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An SVG document, parsed (a failure names the problem).
pub fn parse_svg(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not an SVG: {e}"))
}

/// The texts of an SVG in document order, trimmed, empty ones left out (a legend label wrapped
/// onto several lines is several texts: join them to read it whole).
pub fn svg_texts(svg: &str) -> Vec<String> {
    parse_svg(svg)
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The font size of every text of an SVG, in document order.
pub fn font_sizes(svg: &str) -> Vec<f64> {
    parse_svg(svg)
        .descendants()
        .filter_map(|n| n.attribute("font-size"))
        .map(|s| s.parse().unwrap())
        .collect()
}

/// Every unrotated text's box in an SVG chart, measured with the embedded font the layout
/// uses: `(text, x0, y0, x1, y1)`, the height being the capital letters'.
pub fn text_boxes(svg: &str) -> Vec<(String, f64, f64, f64, f64)> {
    use plotters::prelude::*;
    fragsim::report::charts::ensure_font();
    let mut buf = vec![0u8; 3 * 4];
    let area = BitMapBackend::with_buffer(&mut buf, (2, 2)).into_drawing_area();
    let doc = parse_svg(svg);
    let mut out = Vec::new();
    for n in doc.descendants().filter(|n| n.has_tag_name("text")) {
        if n.attribute("transform").is_some() {
            continue;
        }
        let text = n.text().unwrap_or("").trim().to_string();
        if text.is_empty() {
            continue;
        }
        let num = |a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
        let (x, y, size) = (num("x"), num("y"), num("font-size"));
        let style = TextStyle::from(("sans-serif", size.round() as u32).into_font());
        let w = area.estimate_text_size(&text, &style).unwrap().0 as f64;
        let x0 = match n.attribute("text-anchor") {
            Some("middle") => x - w / 2.0,
            Some("end") => x - w,
            _ => x,
        };
        let cap = size * 0.73;
        let y0 = match n.attribute("dy") {
            Some("0.76em") => y + (0.76 - 0.73) * size,
            Some("0.5ex") => y - cap / 2.0,
            _ => y - cap,
        };
        out.push((text, x0, y0, x0 + w, y0 + cap));
    }
    out
}

/// No two texts of a chart overlap (labels shrink, wrap or give way instead).
pub fn no_text_overlaps(name: &str, svg: &str) {
    let boxes = text_boxes(svg);
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let dx = a.3.min(b.3) - a.1.max(b.1);
            let dy = a.4.min(b.4) - a.2.max(b.2);
            assert!(
                dx <= 1.0 || dy <= 1.0,
                "{name}: {:?} overlaps {:?} ({dx:.1} x {dy:.1} px)",
                a.0,
                b.0
            );
        }
    }
}
