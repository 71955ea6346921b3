//! Reports: text tables and JSON for people and notebooks.
pub mod chart_parts;
pub mod charts;
pub mod document;
pub mod explain;
pub mod output;
pub mod run;

pub use output::{write_atomic, Staging};
