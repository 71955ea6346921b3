//! `fragsim generate`: scenarios drawn at random from the whole grammar.

use std::path::PathBuf;

use clap::Args;

use super::{AppError, Outputs};

/// The most scenarios one call writes.
pub const MAX_GENERATED: u64 = 10_000;

/// Write scenarios drawn at random from the whole scenario grammar (strings, hashes, lists,
/// sets and sorted sets, integer and byte content, every size distribution, key and field name
/// shapes, TTLs, cleanup, growth, flush modes, scripts, parallel processes, command rates,
/// maxmemory), small enough to validate against a live server in seconds each.
///
/// For checking the model on workloads nobody tuned it on: `fragsim validate` each file.
#[derive(Debug, Clone, Args)]
pub struct GenerateOptions {
    /// Number of scenarios.
    #[arg(long, default_value_t = 40)]
    pub count: u64,
    /// First scenario number (the same number always gives the same scenario).
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// The Redis profile the scenarios name.
    #[arg(long, default_value = "redis-7.0-debian")]
    pub profile: String,
    /// Directory to write generated-N.toml into.
    #[arg(long, value_name = "DIR", default_value = "output/generated")]
    pub out: PathBuf,
}

/// Writes generated-N.toml for N in from..from+count (all or none); returns the text to print.
pub fn generate(o: &GenerateOptions) -> Result<String, AppError> {
    crate::redis::RedisProfile::load(&o.profile).map_err(|source| AppError::Profile {
        flag: Some("--profile"),
        source,
    })?;
    if !(1..=MAX_GENERATED).contains(&o.count) {
        return Err(AppError::Usage(format!(
            "--count {}: give 1 to {MAX_GENERATED} scenarios",
            o.count
        )));
    }
    let out = Outputs::new(&o.out)?;
    for n in o.from..o.from.saturating_add(o.count) {
        let text = crate::workload::generate::scenario_toml(n, &o.profile);
        out.write(&format!("generated-{n}.toml"), text.as_bytes())?;
    }
    out.commit()?;
    Ok(format!(
        "Written: {} scenario{} in {}\n",
        o.count,
        if o.count == 1 { "" } else { "s" },
        o.out.display()
    ))
}
