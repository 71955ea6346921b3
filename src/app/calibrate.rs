//! `fragsim calibrate`: a live server's profile.

use std::path::PathBuf;

use clap::Args;

use super::{write_out, AppError, Progress};
use crate::validate::live_redis;

/// Read a live Redis server and print its profile (TOML) for scenarios to use.
///
/// Its first command, INFO memory, records the server as a workload finds it after a fresh
/// start (the fresh baseline; commands the server had already run stay in it, and calibrate
/// says so). Then INFO, CONFIG GET, MEMORY MALLOC-STATS and 2,000 PINGs (the command rate of
/// one client); then it lets the server settle and measures it again as it leaves it (the
/// as_found baseline). Use a freshly started server that no other client is using.
#[derive(Debug, Clone, Args)]
pub struct CalibrateOptions {
    /// The server, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub redis: String,
    /// Write the profile to this file instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Calibrates the server; its notes go to `progress`. Returns the text to print: the profile
/// (empty when it was written to `out`).
pub fn calibrate(o: &CalibrateOptions, progress: &dyn Progress) -> Result<String, AppError> {
    let beat = crate::redis::resp::heartbeat(&o.redis, "calibrate");
    let cal = live_redis::calibrate(&o.redis)?;
    drop(beat);
    let mut text = format!(
        "# Calibrated by fragsim {} from {}\n",
        env!("CARGO_PKG_VERSION"),
        o.redis
    );
    for n in &cal.notes {
        progress.note(&format!("note: {n}"));
        text += &format!("# Note: {n}\n");
    }
    text += &cal.profile.to_toml();
    match &o.out {
        Some(path) => {
            write_out(path, &text, "profile")?;
            Ok(String::new())
        }
        None => Ok(text),
    }
}
