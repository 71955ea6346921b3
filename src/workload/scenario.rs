//! A validated scenario: what a run replays. One [`Scenario`] per variant, gathered with the
//! claims in a [`ScenarioFile`].

use serde::Serialize;

use super::{Claim, SizeDist};
use crate::jemalloc::AllocatorConfig;
use crate::redis::profile::{RedisProfile, ServerState};

/// When the whole data set is flushed: `FLUSHALL SYNC` with a Redis profile (free everything,
/// then purge jemalloc); free everything, then purge, without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flush {
    None,
    BeforeEach,
    AfterEach,
}

impl Flush {
    /// In words: "kept between tests", "flushed before each test", "flushed after each test".
    pub fn describe(self) -> &'static str {
        match self {
            Flush::None => "kept between tests",
            Flush::BeforeEach => "flushed before each test",
            Flush::AfterEach => "flushed after each test",
        }
    }
}

/// The Redis type of a key group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    String,
    Hash,
}

/// One group of keys each test writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyGroup {
    pub name: String,
    /// Keys (or objects) written per test, per test process.
    pub count: u64,
    pub kind: KeyType,
    /// Bytes per value (a string's value, or each field's value of a hash), drawn per value.
    pub value_size: SizeDist,
    /// Hash fields per key (1 for strings).
    pub fields: u64,
    /// TTL set on each key (Redis profiles only).
    pub ttl_seconds: Option<f64>,
    /// Share of its keys a test deletes itself before it ends; the rest stay until a flush.
    pub cleanup: f64,
}

/// A script each test runs with `EVAL`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptSpec {
    pub name: String,
    /// Bytes of the script body.
    pub size: u64,
    /// `EVAL` calls per test and process.
    pub count: u64,
    /// A new script body in every test (the script cache grows) instead of the same one.
    pub unique: bool,
}

/// One validated variant of a scenario: everything a run needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub name: String,
    /// The variant's name ("default" without `[[variant]]` tables).
    pub variant: String,
    pub seed: u64,
    /// Monte Carlo runs.
    pub runs: u64,
    /// Allocator configuration (the Redis profile's, or a preset plus overrides).
    #[serde(skip)]
    pub allocator: AllocatorConfig,
    pub allocator_preset: String,
    /// The Redis server profile; `None` for a plain allocator workload.
    #[serde(skip)]
    pub redis: Option<RedisProfile>,
    /// `maxmemory` (Redis's own OOM rule), bytes.
    pub maxmemory: Option<u64>,
    /// Container or cgroup limit on RSS, bytes.
    pub memory_limit: Option<u64>,
    /// Tests (rounds); each test process runs each of them.
    pub tests: u64,
    pub flush: Flush,
    /// Simulated seconds per test (drives decay, expiry, idle clients).
    pub test_seconds: f64,
    /// Test processes sharing the server, their commands interleaved.
    pub parallel: u64,
    /// Commands each test process sends per second (one client, no pipelining): the simulated
    /// clock advances by `1 / (parallel x commands_per_second)` per command, so the server's
    /// cron, jemalloc's decay and its background thread run during a test.
    pub commands_per_second: f64,
    /// The state of the server the workload meets (Redis profiles): freshly started, or as
    /// calibration left it.
    pub state: ServerState,
    pub keys: Vec<KeyGroup>,
    pub scripts: Vec<ScriptSpec>,
}

/// A scenario file: its variants, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioFile {
    pub name: String,
    pub seed: u64,
    pub runs: u64,
    pub variants: Vec<Scenario>,
    /// Claims to check (`fragsim check`).
    pub claims: Vec<Claim>,
}

impl ScenarioFile {
    /// The first variant (the base when there are no `[[variant]]` tables).
    pub fn first(&self) -> &Scenario {
        &self.variants[0]
    }
}
