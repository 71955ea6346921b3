//! `fragsim validate`: a scenario replayed into a live server, its INFO memory against the
//! model's after each test.

use std::path::PathBuf;

use clap::Args;

use super::{check_writable, load_scenario, to_json, write_out, AppError, Progress};
use crate::validate::live_redis::{self, Checkpoint};

/// Replay a scenario into a live Redis server and compare its INFO memory with the model's
/// after each test.
///
/// The server must hold no keys (or pass --flush) and be otherwise idle. Without --profile it
/// is calibrated first and predicted as calibration leaves it; with --profile (a profile
/// calibrated on another freshly started server) it is predicted from that profile, the way
/// a fresh server in a test pipeline meets the workload. Each test's commands go over one
/// connection per test process, closed before measuring. Afterwards the keys and scripts it
/// wrote are removed and maxmemory restored.
#[derive(Debug, Clone, Args)]
pub struct ValidateOptions {
    /// The server, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub redis: String,
    /// Predict with this profile (a file from `fragsim calibrate`, or a built-in name) in the
    /// scenario's server state, instead of calibrating the server itself.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Empty a server that holds keys (FLUSHALL SYNC) instead of refusing it.
    #[arg(long)]
    pub flush: bool,
    /// Scenario file (TOML) with a Redis profile.
    pub scenario: PathBuf,
    /// Seed (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also write the checkpoints (model and real INFO per test) as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Which variant to replay (default: the first).
    #[arg(long)]
    pub variant: Option<String>,
    /// Replay only the first N tests.
    #[arg(long)]
    pub tests: Option<u64>,
    /// Also replay the same commands, at the same moments, into N-1 more model servers that
    /// differ only in what Redis draws at random when it starts (its dict hash seed: the
    /// order FLUSHALL and active expiry meet keys), and show the model's p5-p95 band beside
    /// each figure. Two fresh servers differ the same way.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub runs: u64,
}

/// The model's and the server's figures after each test.
pub struct ValidateOutcome {
    pub checkpoints: Vec<Checkpoint>,
}

/// Replays the scenario into the server (each replayed test reported to `progress`) and
/// writes the checkpoints as JSON when asked.
pub fn validate(o: &ValidateOptions, progress: &dyn Progress) -> Result<ValidateOutcome, AppError> {
    let file = load_scenario(&o.scenario)?;
    let mut sc = match &o.variant {
        None => file.first().clone(),
        Some(name) => file
            .variants
            .iter()
            .find(|v| &v.variant == name)
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = file.variants.iter().map(|v| v.variant.as_str()).collect();
                AppError::Usage(format!("no variant '{name}' (known: {})", known.join(", ")))
            })?,
    };
    if let Some(t) = o.tests {
        sc.tests = t.clamp(1, sc.tests);
    }
    if sc.redis.is_none() {
        return Err(AppError::Usage(format!(
            "{}: server.profile is \"none\"; validate needs a scenario with a Redis profile",
            o.scenario.display()
        )));
    }
    if let Some(path) = &o.json {
        check_writable(path, "JSON output")?;
    }
    let seed = o.seed.unwrap_or(sc.seed);
    let total = sc.tests;
    let _beat = crate::redis::resp::heartbeat(&o.redis, "validate");
    let profile = match &o.profile {
        None => None,
        Some(name) => Some(
            crate::redis::RedisProfile::load(name)
                .and_then(|p| p.with_state(sc.state))
                .map_err(|source| AppError::Profile {
                    flag: Some("--profile"),
                    source,
                })?,
        ),
    };
    let opts = live_redis::ValidateOptions {
        profile,
        flush: o.flush,
        runs: o.runs,
    };
    let checkpoints = live_redis::validate(&o.redis, &sc, seed, &opts, |t| {
        progress.note(&format!("test {t}/{total} replayed"))
    })?;
    if let Some(path) = &o.json {
        write_out(path, &to_json(&checkpoints), "JSON output")?;
    }
    Ok(ValidateOutcome { checkpoints })
}

impl ValidateOutcome {
    /// The table `fragsim validate` prints: each figure, model against server, per test.
    pub fn text(&self) -> String {
        live_redis::render_checkpoints(&self.checkpoints)
    }
}
