//! Command-line interface: parses arguments and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::jemalloc::{AllocatorConfig, SizeClasses, PRESET_NAMES};
use crate::report::{explain, run as run_report, write_atomic};
use crate::units::parse_bytes;

/// fragsim predicts how much memory a jemalloc-backed program really uses for a workload,
/// without running it: size classes, slabs, pad pages, the thread cache, dirty-page decay.
#[derive(Debug, Parser)]
#[command(name = "fragsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay a scenario file through the allocator model and print what memory it uses.
    ///
    /// Example: fragsim run scenarios/seed-suite-allocator.toml
    Run {
        /// Scenario file (TOML).
        file: PathBuf,
        /// Seed for the model's random choices (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Also write the full result (timeline per test) as JSON to this file.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
        /// Also print the per-bin table (slabs, regions, utilisation) after the last test.
        #[arg(long)]
        bins: bool,
    },
    /// Print jemalloc's size classes with slab geometry.
    ///
    /// Small classes live in slabs of 1-7 pages; large classes get their own extent, one pad
    /// page larger when the build is cache-oblivious.
    Sizeclasses {
        /// Allocator preset: jemalloc-5.3, redis-7.0-bundled, redis-7.2-bundled, jemalloc-5.3.1.
        #[arg(long, default_value = "jemalloc-5.3")]
        preset: String,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Largest class to list (a byte count such as 64MiB).
        #[arg(long, default_value = "64MiB", allow_hyphen_values = true)]
        max: String,
    },
    /// Show what one request of SIZE bytes really costs: size class, slab or extent, pad page,
    /// and the bytes seen by malloc_usable_size, stats.active and RSS.
    ///
    /// Try: fragsim explain 30000, then fragsim explain 2000.
    Explain {
        /// Request size: bytes, or a count with a unit (30000, 30KB, 2MiB).
        #[arg(allow_hyphen_values = true)]
        size: String,
        /// Allocator preset: jemalloc-5.3, redis-7.0-bundled, redis-7.2-bundled, jemalloc-5.3.1.
        #[arg(long, default_value = "jemalloc-5.3")]
        preset: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A usage problem: printed as one line, exit code 2.
struct UsageError(String);

fn preset(name: &str) -> Result<AllocatorConfig, UsageError> {
    AllocatorConfig::preset(name).ok_or_else(|| {
        UsageError(format!(
            "unknown preset '{name}' (known: {})",
            PRESET_NAMES.join(", ")
        ))
    })
}

fn size_arg(s: &str, what: &str) -> Result<u64, UsageError> {
    match parse_bytes(s) {
        Ok(0) => Err(UsageError(format!("{what} must be at least 1 byte, got '{s}'"))),
        Ok(v) => Ok(v),
        Err(e) => Err(UsageError(format!("{what}: {e}"))),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("serialisable") + "\n"
}

fn execute(cli: Cli) -> Result<(), UsageError> {
    match cli.command {
        Command::Sizeclasses { preset: p, json, max } => {
            let cfg = preset(&p)?;
            let max = size_arg(&max, "--max")?;
            let sc = SizeClasses::new(cfg.lg_quantum, cfg.lg_page);
            let rows = explain::class_rows(&sc, max);
            if json {
                print!("{}", to_json(&rows));
            } else {
                print!("{}", explain::render_classes(&cfg, &rows));
            }
        }
        Command::Explain {
            size,
            preset: p,
            json,
        } => {
            let cfg = preset(&p)?;
            let size = size_arg(&size, "SIZE")?;
            let cost = explain::request_cost(&cfg, size).map_err(|e| UsageError(e.to_string()))?;
            if json {
                print!("{}", to_json(&cost));
            } else {
                print!("{}", explain::render_explain(&cfg, &cost));
            }
        }
        Command::Run {
            file,
            seed,
            json,
            bins,
        } => {
            let sc = crate::workload::load(&file).map_err(|e| UsageError(e.to_string()))?;
            let seed = seed.unwrap_or(sc.seed);
            let result = crate::sim::run(&sc, seed, |_| {});
            print!("{}", run_report::render(&sc, &result));
            if bins {
                print!("{}", run_report::render_bins(&result));
            }
            if let Some(path) = json {
                write_atomic(&path, to_json(&result).as_bytes()).map_err(|e| {
                    UsageError(format!("{}: cannot write the JSON output: {e}", path.display()))
                })?;
            }
        }
    }
    Ok(())
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(UsageError(msg)) => {
            for line in msg.lines() {
                eprintln!("error: {line}");
            }
            ExitCode::from(2)
        }
    }
}
