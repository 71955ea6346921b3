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

/// A polyline of a chart: a series' line (one for a solid line, a piece per dash for a dashed
/// one), an axis, a tick, a whisker, a legend swatch.
#[derive(Debug, Clone)]
pub struct Line {
    /// `#RRGGBB`, as plotters writes it.
    pub colour: String,
    pub width: f64,
    pub points: Vec<(f64, f64)>,
}

/// A filled rectangle of a chart: a bar, a layer of a stacked bar, a legend swatch.
#[derive(Debug, Clone)]
pub struct Bar {
    pub colour: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// A filled polygon of a chart: a shaded band.
#[derive(Debug, Clone)]
pub struct Area {
    pub colour: String,
    pub opacity: f64,
    pub points: Vec<(f64, f64)>,
}

/// A text of a chart, where plotters put it.
#[derive(Debug, Clone)]
pub struct Label {
    pub text: String,
    pub x: f64,
    pub y: f64,
    /// `text-anchor`: start, middle or end.
    pub anchor: String,
    /// `dy`: how the text sits on y (0.76em under it, 0.5ex centred on it, none above it).
    pub dy: String,
}

/// The shapes of an SVG chart as plotters' SVG backend writes them (`polyline`, `rect`,
/// `polygon`, `text`), in pixels of the 1200 x 700 drawing. Plotters maps a value to a whole
/// pixel, so a shape is where its values are to within a pixel.
#[derive(Debug, Clone, Default)]
pub struct Drawing {
    pub lines: Vec<Line>,
    pub bars: Vec<Bar>,
    pub areas: Vec<Area>,
    pub labels: Vec<Label>,
}

fn points(s: &str) -> Vec<(f64, f64)> {
    s.split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap_or_else(|| panic!("point {p:?}"));
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

/// The shapes of `svg`.
pub fn drawing(svg: &str) -> Drawing {
    let doc = parse_svg(svg);
    let mut d = Drawing::default();
    for n in doc.descendants().filter(|n| n.is_element()) {
        let num = |a: &str| -> f64 {
            let v = n
                .attribute(a)
                .unwrap_or_else(|| panic!("{:?} without {a}", n.tag_name()));
            v.parse().unwrap_or_else(|e| panic!("{a}={v:?}: {e}"))
        };
        let attr = |a: &str| n.attribute(a).unwrap_or("").to_string();
        match n.tag_name().name() {
            "polyline" => d.lines.push(Line {
                colour: attr("stroke"),
                width: num("stroke-width"),
                points: points(&attr("points")),
            }),
            "rect" => d.bars.push(Bar {
                colour: attr("fill"),
                x: num("x"),
                y: num("y"),
                w: num("width"),
                h: num("height"),
            }),
            "polygon" => d.areas.push(Area {
                colour: attr("fill"),
                opacity: num("opacity"),
                points: points(&attr("points")),
            }),
            "text" => d.labels.push(Label {
                text: n.text().unwrap_or("").trim().to_string(),
                x: num("x"),
                y: num("y"),
                anchor: attr("text-anchor"),
                dy: attr("dy"),
            }),
            _ => {}
        }
    }
    d
}

/// An axis of a plot as the chart shows it: its line and its numbered ticks. `at` is where the
/// line is across (x of a y axis, y of an x axis), `from..to` the pixels it spans.
#[derive(Debug, Clone)]
pub struct Axis {
    pub at: f64,
    pub from: f64,
    pub to: f64,
    /// (value the label reads, pixel of the label).
    pub ticks: Vec<(f64, f64)>,
    /// The affine map from value to pixel, fitted through the ticks: pixel = a + b * value.
    a: f64,
    b: f64,
}

impl Axis {
    /// The axis at `at` from `from` to `to` with its ticks, if it has two or more that can be read
    /// as a scale. A label may be rounded to fewer digits than its tick's value (a timeline of 6
    /// tests has a tick every half test, labelled 1 2 2 2 3 ...): when the labels do not make an
    /// affine scale, those that repeat are left out.
    fn new(at: f64, from: f64, to: f64, ticks: Vec<(f64, f64)>) -> Option<Axis> {
        Axis::fit(at, from, to, ticks.clone()).or_else(|| {
            let unique: Vec<(f64, f64)> = ticks
                .iter()
                .copied()
                .filter(|t| ticks.iter().filter(|u| u.0 == t.0).count() == 1)
                .collect();
            let axis = Axis::fit(at, from, to, unique.clone());
            assert!(
                axis.is_some() || unique.len() < 2,
                "the ticks are not an affine scale: {ticks:?}"
            );
            axis
        })
    }

    /// The least-squares scale through `ticks`, if they are two or more and each is within a
    /// pixel of it.
    fn fit(at: f64, from: f64, to: f64, ticks: Vec<(f64, f64)>) -> Option<Axis> {
        if ticks.len() < 2 {
            return None;
        }
        // Least squares over every tick: each is at a whole pixel, the fit is closer than any
        // two of them.
        let n = ticks.len() as f64;
        let (mv, mp) = (
            ticks.iter().map(|t| t.0).sum::<f64>() / n,
            ticks.iter().map(|t| t.1).sum::<f64>() / n,
        );
        let sxy: f64 = ticks.iter().map(|t| (t.0 - mv) * (t.1 - mp)).sum();
        let sxx: f64 = ticks.iter().map(|t| (t.0 - mv) * (t.0 - mv)).sum();
        let b = sxy / sxx;
        let axis = Axis {
            at,
            from,
            to,
            a: mp - b * mv,
            b,
            ticks,
        };
        // The labels are an affine scale: each tick is where the fit puts its value.
        axis.ticks
            .iter()
            .all(|&(v, p)| (axis.px(v) - p).abs() <= 1.0)
            .then_some(axis)
    }

    /// The pixel where the chart puts `value` on this axis.
    pub fn px(&self, value: f64) -> f64 {
        self.a + self.b * value
    }

    /// Whether the tick labels include `value`.
    pub fn has_tick(&self, value: f64) -> bool {
        self.ticks.iter().any(|t| t.0 == value)
    }
}

/// A plot of a chart: its x axis and its y axis (the lines that meet at its bottom-left
/// corner), and whether a pixel lies inside it.
#[derive(Debug, Clone)]
pub struct Panel {
    pub x: Axis,
    pub y: Axis,
}

impl Panel {
    pub fn contains(&self, (x, y): (f64, f64)) -> bool {
        (self.x.from - 1.0..=self.x.to + 1.0).contains(&x)
            && (self.y.from - 1.0..=self.y.to + 1.0).contains(&y)
    }
}

impl Drawing {
    /// The axes plotters drew: black lines of width 1, longer than 100 px, straight along x
    /// (`vertical` false) or along y, each with the numbered labels beside it (a y axis's to its
    /// left, anchored at their end; an x axis's under it, centred), read as numbers. An axis
    /// drawn without numbers (a bar chart's x axis) has no ticks; with fewer than two it is left
    /// out.
    pub fn axes(&self, vertical: bool) -> Vec<Axis> {
        let mut out = Vec::new();
        for l in &self.lines {
            if l.colour != "#000000" || l.width != 1.0 || l.points.len() != 2 {
                continue;
            }
            let ((x0, y0), (x1, y1)) = (l.points[0], l.points[1]);
            let (at, from, to) = match vertical {
                true if x0 == x1 && (y1 - y0).abs() > 100.0 => (x0, y0.min(y1), y0.max(y1)),
                false if y0 == y1 && (x1 - x0).abs() > 100.0 => (y0, x0.min(x1), x0.max(x1)),
                _ => continue,
            };
            let ticks: Vec<(f64, f64)> = self
                .labels
                .iter()
                .filter(|t| match vertical {
                    true => t.anchor == "end" && t.dy == "0.5ex" && t.x < at && t.x > at - 20.0,
                    false => t.anchor == "middle" && t.dy == "0.76em" && t.y > at && t.y < at + 20.0,
                })
                .filter_map(|t| {
                    let (along, value) = if vertical { (t.y, &t.text) } else { (t.x, &t.text) };
                    let v: f64 = value.parse().ok()?;
                    (from - 1.0..=to + 1.0).contains(&along).then_some((v, along))
                })
                .collect();
            out.extend(Axis::new(at, from, to, ticks));
        }
        out
    }

    /// The plots: each y axis with the x axis along its bottom end, top to bottom.
    pub fn panels(&self) -> Vec<Panel> {
        let xs = self.axes(false);
        let mut out: Vec<Panel> = self
            .axes(true)
            .into_iter()
            .filter_map(|y| {
                let x = xs
                    .iter()
                    .find(|x| (x.at - y.to).abs() <= 2.0 && (x.from - y.at).abs() <= 2.0)?;
                Some(Panel { x: x.clone(), y })
            })
            .collect();
        out.sort_by(|a, b| a.y.from.total_cmp(&b.y.from));
        out
    }

    /// The lines of `colour` and `width` with `n` points.
    pub fn lines_of(&self, colour: &str, width: f64, n: usize) -> Vec<&Line> {
        self.lines
            .iter()
            .filter(|l| l.colour == colour && l.width == width && l.points.len() == n)
            .collect()
    }
}

/// How far (in pixels, the larger of x and y) the furthest of `points` is from where `expected`
/// says it should be; infinite when their counts differ.
pub fn pixels_off(points: &[(f64, f64)], expected: &[(f64, f64)]) -> f64 {
    if points.len() != expected.len() {
        return f64::INFINITY;
    }
    points
        .iter()
        .zip(expected)
        .map(|(p, e)| (p.0 - e.0).abs().max((p.1 - e.1).abs()))
        .fold(0.0, f64::max)
}
