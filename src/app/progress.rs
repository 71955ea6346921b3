//! How a long command shows it is alive: a progress bar on a terminal, a line every 10 s in a
//! log, notes on standard error; or nothing, for a library caller.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What a command reports while it works. Called from worker threads.
pub trait Progress: Sync {
    /// Work of `total` runs starts (once per command).
    fn start(&self, total: u64);
    /// One more run is done.
    fn tick(&self);
    /// The work is over.
    fn finish(&self);
    /// A line for the user while the command works (a replayed test, a calibration note).
    fn note(&self, line: &str);
}

/// Shows nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _total: u64) {}
    fn tick(&self) {}
    fn finish(&self) {}
    fn note(&self, _line: &str) {}
}

/// Standard error: a bar once the work has lasted over a second when it is a terminal
/// (redrawn every second, so a long run shows it is alive); otherwise (a log, a pipe) a line
/// every 10 s saying how many runs are done. Notes are printed as they come.
#[derive(Default)]
pub struct TerminalProgress {
    bar: OnceLock<indicatif::ProgressBar>,
}

impl Progress for TerminalProgress {
    fn start(&self, total: u64) {
        let _ = self.bar.set(progress_bar(total));
    }

    fn tick(&self) {
        if let Some(b) = self.bar.get() {
            b.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.get() {
            b.finish_and_clear();
        }
    }

    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
}

/// A hidden progress bar over `total` runs, shown or logged by a watcher thread (see
/// [`TerminalProgress`]).
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::hidden());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed} so far, {eta} left")
    {
        bar.set_style(style);
    }
    let b = bar.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut last = start;
        let mut shown = false;
        loop {
            std::thread::sleep(Duration::from_millis(200));
            if b.is_finished() {
                return;
            }
            let now = Instant::now();
            if std::io::stderr().is_terminal() {
                if !shown && now - start > Duration::from_secs(1) {
                    b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    b.enable_steady_tick(Duration::from_secs(1));
                    shown = true;
                }
            } else if now - last >= Duration::from_secs(10) {
                last = now;
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "fragsim: {} of {} runs done, {} so far",
                    b.position(),
                    b.length().unwrap_or(0),
                    human_duration((now - start).as_secs_f64())
                );
            }
        }
    });
    bar
}

/// A duration as people say it: "42 s", "12 min", "3.5 h", "12 days".
pub fn human_duration(s: f64) -> String {
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 90.0 * 60.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 48.0 * 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.0} days", s / 86400.0)
    }
}
