//! Charts of a Monte Carlo run and of a sweep, each drawn in memory as PNG and SVG with
//! plotters, one module per chart: the timeline of used_memory, allocator_active and RSS per
//! test with its p5-p95 band (`timeline`), the peaks and the two fragmentation ratios as grouped
//! bars (`bars`), where the bytes of RSS go (`bytes`), the OOM probability against the limit
//! (`oom`), and a sweep's peaks against the swept parameter (`sweep`).
//!
//! This module holds what they share: the drawing of one chart on both backends, the size,
//! palette and text sizes, the configured limits as lines, and the error type. The legend beside
//! each plot is `legend`'s, the fitting of labels to the room they have `text`'s. Text uses an
//! embedded font (DejaVu Sans, from the `dejavu` crate; Bitstream Vera licence), so no system
//! font is needed.

mod bars;
mod bytes;
mod legend;
mod oom;
mod patterns;
mod sweep;
mod text;
mod timeline;

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::sim::montecarlo::{McResult, VariantResult};
use crate::sim::sweep::SweepResult;
use crate::units::human;

/// Width of every chart, in pixels.
const W: u32 = 1200;
/// Height of every chart, in pixels.
const H: u32 = 700;
const MIB: f64 = 1024.0 * 1024.0;

/// Colours per variant (or per sweep curve, or per metric of a bar chart).
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Registers the embedded font as "sans-serif" (once per process).
pub fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Why a chart could not be drawn. `Display` is the underlying library's message, as is.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// plotters could not draw on a backend, or measure a text (its error's message: the
    /// backend's error type differs between PNG and SVG).
    #[error("{0}")]
    Draw(String),
    /// The drawn pixels could not be encoded as PNG.
    #[error(transparent)]
    Encode(#[from] image::ImageError),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ChartError::Draw(e.to_string())
    }
}

/// What drawing a chart, or a part of one, returns.
type Res<T> = Result<T, ChartError>;

/// One chart, drawn: its file name without extension and its bytes as PNG and as SVG.
#[derive(Debug, Clone)]
pub struct Chart {
    /// `timeline`, `peaks`, `ratios`, `bytes`, `oom` or `sweep`.
    pub name: &'static str,
    /// The PNG file's bytes (1200 x 700 pixels).
    pub png: Vec<u8>,
    /// The SVG document (the same drawing, text at the size it was laid out at).
    pub svg: String,
}

/// Draws a chart in memory, as PNG and as SVG: `draw` and `draw_svg` are the same drawing, one
/// per backend.
fn both(
    name: &'static str,
    draw: &dyn Fn(DrawingArea<BitMapBackend, Shift>) -> Res<()>,
    draw_svg: &dyn Fn(DrawingArea<SVGBackend, Shift>) -> Res<()>,
) -> Res<Chart> {
    ensure_font();
    let mut rgb = vec![0u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (W, H)).into_drawing_area();
        draw(root)?;
    }
    let mut svg_text = String::new();
    {
        let root = SVGBackend::with_string(&mut svg_text, (W, H)).into_drawing_area();
        draw_svg(root)?;
    }
    let svg = text::svg_text_as_laid_out(&svg_text);
    let mut png = Vec::new();
    {
        use image::ImageEncoder;
        image::codecs::png::PngEncoder::new(&mut png).write_image(&rgb, W, H, image::ColorType::Rgb8)?;
    }
    Ok(Chart { name, png, svg })
}

/// Width of the legend strip beside each plot.
const LEGEND_W: u32 = 330;
/// Axis label and tick text size.
const LABEL_FONT: u32 = 18;
/// Axis description text size.
const DESC_FONT: u32 = 20;

/// A configured limit as a chart draws it: (label, bytes, colour, dash).
type LimitLine = (String, f64, RGBColor, (i32, i32));

/// The configured limits of `v` (the first variant, or a sweep's first point), each with the
/// style every chart draws it in.
fn limit_lines(v: Option<&VariantResult>) -> Vec<LimitLine> {
    let mut l = Vec::new();
    if let Some(v) = v {
        if let Some(m) = &v.oom.maxmemory {
            l.push((
                format!("maxmemory {}", human(m.limit as f64)),
                m.limit as f64,
                BLACK,
                (12, 6),
            ));
        }
        if let Some(m) = &v.oom.memory_limit {
            l.push((
                format!("memory_limit {}", human(m.limit as f64)),
                m.limit as f64,
                RGBColor(170, 0, 0),
                (4, 4),
            ));
        }
    }
    l
}

/// A plot's coordinate system: real numbers on both axes.
type Plot<'a, DB> = ChartContext<
    'a,
    DB,
    plotters::coord::cartesian::Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::types::RangedCoordf64,
    >,
>;

/// Draws one series: a line of `colour` and `width`, solid or dashed `(dash, gap)` pixels (the
/// style its legend swatch repeats).
fn draw_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut Plot<'a, DB>,
    pts: Vec<(f64, f64)>,
    colour: RGBColor,
    width: u32,
    dash: Option<(i32, i32)>,
) -> Res<()>
where
    DB::ErrorType: 'static,
{
    let style = colour.stroke_width(width);
    match dash {
        Some((d, g)) => chart.draw_series(DashedLineSeries::new(pts, d, g, style)),
        None => chart.draw_series(LineSeries::new(pts, style)),
    }?;
    Ok(())
}

/// A y range around `values` (MiB) for a panel that only shows limits.
fn limit_range(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    if hi - lo < hi * 0.05 {
        (lo * 0.8, hi * 1.25)
    } else {
        (lo - (hi - lo) * 0.35, hi + (hi - lo) * 0.45)
    }
}

/// Draws the timeline, peaks, ratios, bytes and oom charts of a Monte Carlo run, in that order,
/// and the versions chart when its variants run on more than one server build.
pub fn draw_all(r: &McResult) -> Result<Vec<Chart>, ChartError> {
    let notes = bars::ratio_notes(r);
    let mut charts = vec![
        both("timeline", &|a| timeline::draw(a, r), &|a| timeline::draw(a, r))?,
        both("peaks", &|a| bars::peaks(a, r), &|a| bars::peaks(a, r))?,
        both("ratios", &|a| bars::ratios(a, r, &notes), &|a| {
            bars::ratios(a, r, &notes)
        })?,
        both("bytes", &|a| bytes::draw(a, r), &|a| bytes::draw(a, r))?,
        both("oom", &|a| oom::draw(a, r), &|a| oom::draw(a, r))?,
    ];
    if bars::spans_versions(r) {
        charts.push(both("versions", &|a| bars::versions(a, r), &|a| {
            bars::versions(a, r)
        })?);
    }
    Ok(charts)
}

/// Draws the chart of memory by key pattern (`patterns`), of a Redis scenario's run.
pub fn draw_patterns(r: &McResult) -> Result<Chart, ChartError> {
    both("patterns", &|a| patterns::draw(a, r), &|a| patterns::draw(a, r))
}

/// Draws the sweep chart.
pub fn draw_sweep(r: &SweepResult) -> Result<Chart, ChartError> {
    both("sweep", &|a| sweep::draw(a, r), &|a| sweep::draw(a, r))
}
