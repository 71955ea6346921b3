//! Reports, for people and notebooks: the text tables commands print, the charts (PNG and SVG),
//! the design-review report (HTML and Markdown), and the writing of output files all or none.
pub mod charts;
pub mod document;
pub mod explain;
pub mod output;
pub mod patterns;
pub mod run;

pub use output::{write_atomic, Staging};
