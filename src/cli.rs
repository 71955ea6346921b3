//! Command-line interface: parses arguments with clap, calls the command in [`crate::app`],
//! prints its outcome, and maps its errors to messages and exit codes (0 done, 1 a claim
//! failed, 2 an error).

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, AppError, TerminalProgress};

/// fragsim predicts how much memory a jemalloc-backed program (first of all Redis) really uses
/// for a workload, without running it: size classes, slabs, pad pages, the thread cache,
/// dirty-page decay, Redis's per-key overhead, and the INFO memory figures that follow.
#[derive(Debug, Parser)]
#[command(name = "fragsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The commands; each one's help is its options struct's documentation in [`crate::app`].
#[derive(Debug, Subcommand)]
pub enum Command {
    Run(app::run::RunOptions),
    Sweep(app::sweep::SweepOptions),
    Merge(app::merge::MergeOptions),
    Report(app::report::ReportOptions),
    Bench(app::bench::BenchOptions),
    Check(app::check::CheckOptions),
    Sizeclasses(app::explain::SizeclassesOptions),
    Explain(app::explain::ExplainOptions),
    Calibrate(app::calibrate::CalibrateOptions),
    Generate(app::generate::GenerateOptions),
    Import(app::import::ImportOptions),
    Validate(app::validate::ValidateOptions),
}

/// Writes to standard output; a closed pipe is [`AppError::StdoutClosed`], any other failure
/// (a full disk) an output error.
fn print(text: &str) -> Result<(), AppError> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                AppError::StdoutClosed
            } else {
                AppError::Output(format!("cannot write to standard output: {e}"))
            }
        })
}

/// What a command ended with: its exit code once its text is printed.
enum Done {
    Ok,
    ClaimsFailed,
}

fn execute(command: Command) -> Result<Done, AppError> {
    let progress = TerminalProgress::default();
    match command {
        Command::Run(o) if o.shard.is_some() => print(&app::shard::run_shard(&o, &progress)?.text())?,
        Command::Run(o) => print(&app::run::run(&o, &progress)?.text())?,
        Command::Sweep(o) if o.shard.is_some() => print(&app::shard::sweep_shard(&o, &progress)?.text())?,
        Command::Sweep(o) => print(&app::sweep::sweep(&o, &progress)?.text())?,
        Command::Merge(o) => print(&app::merge::merge(&o, &progress)?.text())?,
        Command::Report(o) => print(&app::report::report(&o, &progress)?.text())?,
        Command::Bench(o) => {
            app::bench::bench(&o, &mut |line| print(line))?;
        }
        Command::Check(o) => {
            let outcome = app::check::check(&o, &progress)?;
            print(&outcome.text())?;
            if !outcome.all_hold() {
                return Ok(Done::ClaimsFailed);
            }
        }
        Command::Sizeclasses(o) => print(&app::explain::sizeclasses(&o)?)?,
        Command::Explain(o) => print(&app::explain::explain(&o)?)?,
        Command::Calibrate(o) => print(&app::calibrate::calibrate(&o, &progress)?)?,
        Command::Generate(o) => print(&app::generate::generate(&o)?)?,
        Command::Import(o) => print(&app::import::import(&o, &progress)?.text())?,
        Command::Validate(o) => print(&app::validate::validate(&o, &progress)?.text())?,
    }
    Ok(Done::Ok)
}

/// `text` with every run of more than `max` non-blank characters cut to its first 60 and a note
/// of how many more there were (an argument echoed back in an error).
fn shorten_long_words(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let n = word.chars().count();
        if n > max {
            out.extend(word.chars().take(60));
            out.push_str(&format!("...({} more characters)", n - 60));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    // A file-size limit (`ulimit -f`) makes a write fail with an error fragsim reports, instead
    // of killing the process half-way through.
    // SAFETY: setting a signal's disposition to "ignore" has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            // clap repeats the offending argument: a 100 KB one is cut short.
            eprint!("{}", shorten_long_words(&e.render().to_string(), 200));
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    match execute(cli.command) {
        Ok(Done::Ok) | Err(AppError::StdoutClosed) => ExitCode::SUCCESS,
        Ok(Done::ClaimsFailed) => ExitCode::from(1),
        Err(e) => {
            for line in shorten_long_words(&e.to_string(), 1000).lines() {
                eprintln!("error: {line}");
            }
            ExitCode::from(2)
        }
    }
}
