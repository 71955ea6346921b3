//! `fragsim import`: a user's own data, a dump file or a live server, as a scenario.

use std::path::PathBuf;

use clap::Args;

use super::{check_writable, write_out, AppError, Progress};
use crate::import::dataset::{Dataset, Kind};
use crate::import::live::{import_live, LiveOptions};
use crate::import::scenario::{scenario_text, Options, Source};

/// Turn your own data into a scenario: read a dump file (RDB 9 to 13 of Redis 7.0 to 8.x, and
/// Valkey 8 and 9) or scan a live server, group its keys by pattern (`user:*:session`), measure
/// what each group holds (key name lengths, value sizes, fields and elements per key,
/// integers, TTLs), and write a scenario that reproduces it: run it to see the memory, change
/// it to ask what if.
///
/// The scenario keeps key patterns and sizes, never values or full key names. A live server
/// is only read: SCAN with COUNT, TYPE, OBJECT ENCODING, PTTL, the length of each key and the
/// elements of small collections (a sample of large ones), MEMORY USAGE of every tenth key as a
/// cross-check; no DEBUG, no CONFIG SET, so it works on managed services. A password is taken
/// from FRAGSIM_REDIS_PASSWORD or REDISCLI_AUTH.
///
/// Examples:
///   fragsim import dump.rdb --out mydata.toml
///   fragsim import --redis 10.0.0.5:6379 --sample 100000 --out mydata.toml
///   fragsim run mydata.toml
#[derive(Debug, Clone, Args)]
pub struct ImportOptions {
    /// A dump file (dump.rdb) to read.
    #[arg(
        value_name = "DUMP.rdb",
        required_unless_present = "redis",
        conflicts_with = "redis"
    )]
    pub dump: Option<PathBuf>,
    /// A live server to scan instead, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub redis: Option<String>,
    /// Read only this many keys of the live server, drawn at random (counts are scaled up).
    #[arg(long, value_name = "N")]
    pub sample: Option<u64>,
    /// Only the live server's keys matching this glob (SCAN's MATCH), e.g. 'user:*'.
    #[arg(long = "match", value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// Elements read from each large collection of a live server.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub elements: usize,
    /// Where to write the scenario (default: output/import/<source>.toml).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The profile the scenario predicts with (default: the built-in one closest to the
    /// server that wrote the data).
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Keep the patterns of groups of one or two keys (by default they keep only their first
    /// piece, `rate:*`, as such a pattern is likely a whole key name).
    #[arg(long)]
    pub keep_names: bool,
    /// Monte Carlo runs the scenario asks for.
    #[arg(long, default_value_t = 8)]
    pub runs: u64,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub path: PathBuf,
    pub scenario: String,
    /// Keys read (scaled up when sampled), and those of them modelled (not streams or module
    /// values).
    pub keys: f64,
    pub modelled: f64,
}

impl ImportOutcome {
    /// The text to print.
    pub fn text(&self) -> String {
        let groups = self.scenario.matches("[[workload.keys]]").count();
        let left_out = (self.keys - self.modelled).round() as u64;
        let left_out = if left_out > 0 {
            format!(
                " ({} left out)",
                crate::units::plural(left_out, "stream or module key", "stream or module keys")
            )
        } else {
            String::new()
        };
        format!(
            "Imported {} keys in {} key groups{left_out}.\n  Written: {}\n  Next: fragsim run {}\n",
            crate::units::group(self.modelled.round() as u64),
            groups,
            self.path.display(),
            self.path.display()
        )
    }
}

/// Reads the source, writes the scenario.
pub fn import(o: &ImportOptions, progress: &dyn Progress) -> Result<ImportOutcome, AppError> {
    if let Some(p) = &o.profile {
        crate::redis::RedisProfile::load(p).map_err(|source| AppError::Profile {
            flag: Some("--profile"),
            source,
        })?;
    }
    if o.sample == Some(0) {
        return Err(AppError::Usage(
            "--sample 0: give the number of keys to read (at least 1)".into(),
        ));
    }
    if o.dump.is_some() && (o.sample.is_some() || o.pattern.is_some()) {
        return Err(AppError::Usage(
            "--sample and --match are for a live server (--redis); a dump file is read whole".into(),
        ));
    }
    let (stem, default_name) = match (&o.dump, &o.redis) {
        (Some(d), _) => (
            d.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or("dump".into()),
            format!("imported from {}", d.display()),
        ),
        (_, Some(r)) => (
            format!("redis-{}", r.replace([':', '/'], "-")),
            format!("imported from {r}"),
        ),
        _ => return Err(AppError::Usage("give a dump file or --redis HOST:PORT".into())),
    };
    let path = o
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output/import").join(format!("{stem}.toml")));
    if o.out.is_none() {
        std::fs::create_dir_all(path.parent().expect("a directory"))
            .map_err(|e| AppError::Output(format!("{}: cannot create the directory: {e}", path.display())))?;
    }
    check_writable(&path, "scenario")?;
    let (data, source): (Dataset, Source) = match (&o.dump, &o.redis) {
        (Some(d), _) => crate::import::dump::import_dump(d, &mut progress_fn(progress))?,
        (_, Some(addr)) => {
            let password = std::env::var("FRAGSIM_REDIS_PASSWORD")
                .or_else(|_| std::env::var("REDISCLI_AUTH"))
                .ok();
            let opts = LiveOptions {
                addr: addr.clone(),
                sample: o.sample,
                pattern: o.pattern.clone(),
                elements: o.elements.max(1),
                password,
            };
            import_live(&opts, &mut progress_fn(progress))?
        }
        _ => unreachable!("checked above"),
    };
    progress.finish();
    let keys = data.keys;
    let groups = data.finish();
    let modelled: f64 = groups
        .iter()
        .filter(|(k, _)| !matches!(k.kind, Kind::Stream | Kind::Module))
        .map(|(_, s)| s.keys)
        .sum();
    let text = scenario_text(
        groups,
        &source,
        &Options {
            name: default_name,
            profile: o.profile.clone(),
            keep_names: o.keep_names,
            max_groups: 64,
            runs: o.runs.max(1),
        },
    );
    // The scenario must read back: a grammar slip here is a bug, not the user's.
    crate::workload::parse(&text, &path.display().to_string())?;
    write_out(&path, &text, "scenario")?;
    Ok(ImportOutcome {
        path,
        scenario: text,
        keys,
        modelled,
    })
}

/// A `(done, total)` callback driving `progress`: started once the total is known, then
/// ticked up to each `done`.
fn progress_fn(progress: &dyn Progress) -> impl FnMut(u64, u64) + '_ {
    let mut started = false;
    let mut last = 0u64;
    move |done, total| {
        if !started && total > 0 && done > 0 {
            progress.start(total);
            started = true;
        }
        if started {
            for _ in last..done {
                progress.tick();
            }
            last = done;
        }
    }
}
