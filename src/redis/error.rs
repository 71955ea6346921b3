//! Why a Redis profile cannot be used: [`ProfileError`] when it is loaded by name or path (the
//! file, the line), [`ProfileProblem`] for what is wrong in a profile's values.

use super::profile::{ServerState, MAX_PRELOAD_OBJECTS, PROFILE_NAMES};
use crate::jemalloc::ConfigError;

/// A profile that cannot be loaded ([`super::RedisProfile::load`]) or lacks the baseline asked
/// for ([`super::RedisProfile::with_state`]). `Display` names the profile as it was given.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Neither a built-in profile's name nor an existing file.
    #[error(
        "'{name}' is neither a built-in profile ({}) nor an existing profile file",
        PROFILE_NAMES.join(", ")
    )]
    NotFound { name: String },
    /// The file exists but cannot be read (permissions, a directory, over
    /// [`crate::units::MAX_INPUT_BYTES`]).
    #[error("{name}: cannot read the profile: {source}")]
    Unreadable { name: String, source: std::io::Error },
    /// The file is not UTF-8 text.
    #[error("{name}: cannot read the profile: it is not UTF-8 text")]
    NotUtf8 { name: String },
    /// The file is not TOML, or not a profile's TOML (a missing or unknown field, a value of the
    /// wrong type); `line` is where the parser stopped, when it says.
    #[error("{name}: {}not a valid profile: {message}", line_prefix(*.line))]
    Syntax {
        name: String,
        line: Option<usize>,
        /// The TOML parser's message.
        message: String,
    },
    /// A number in the file as written out of range ([`ProfileProblem::Integer`] or
    /// [`ProfileProblem::Float`]), found before the file is read as a profile (which would take
    /// 2^63 silently).
    #[error("{name}: not a valid profile: {problem}")]
    Number { name: String, problem: ProfileProblem },
    /// A profile read whole whose values fail [`super::RedisProfile::check`].
    #[error("{name}: not a valid profile: {problem}; calibrate a server again to write a new one")]
    Invalid { name: String, problem: ProfileProblem },
    /// The profile has no measurement of the server state asked for.
    #[error(
        "profile '{profile}' has no \"{}\" baseline; run `fragsim calibrate` against such a server \
         and name the profile file it writes",
        .state.name()
    )]
    NoBaseline { profile: String, state: ServerState },
    /// A cluster-mode scenario on a profile with no cluster baseline.
    #[error(
        "profile '{profile}' has no cluster-mode baseline; run `fragsim calibrate` against a \
         cluster node (cluster-enabled yes, its slots assigned) and name the profile file it writes"
    )]
    NoClusterBaseline { profile: String },
}

fn line_prefix(line: Option<usize>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

/// A value of a profile that no Redis build could have, or the model could not start from
/// ([`super::RedisProfile::check`], [`super::RedisProfile::allocator_config`]). `Display` names
/// the field and what it may hold.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileProblem {
    /// `allocator` names no preset of [`crate::jemalloc::PRESET_NAMES`].
    #[error("profile '{profile}': unknown allocator preset '{preset}'")]
    UnknownAllocator { profile: String, preset: String },
    /// A number over 2^63 (it does not fit TOML's integers).
    #[error("a number is over 2^63; numbers in a profile are bytes or counts from 0 to 2^47")]
    Over2To63,
    /// An integer below 0 or above 2^47 (the address space); `path` is its key path.
    #[error("{path} = {value}: numbers in a profile are bytes or counts from 0 to 2^47")]
    Integer { path: String, value: i64 },
    /// A float negative, infinite or NaN; `path` is its key path.
    #[error("{path} = {value}: give a finite number, 0 or more")]
    Float { path: String, value: f64 },
    /// A build constant outside what a Redis build could have.
    #[error("{name} = {value}: give {min} to {max}")]
    Constant {
        name: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    /// `types.list_max_listpack_size` neither a node size (-1 to -5) nor an entry count.
    #[error("types.list_max_listpack_size = {0}: give -1 to -5 (nodes of 4 to 64 KiB) or an entry count from 1 to 32767")]
    ListFill(i64),
    /// A caveat's `when` names a word not in [`crate::redis::profile::CAVEAT_WHEN`].
    #[error("caveats: when = [\"{0}\"] is not a workload feature; give string, hash, list, set, zset, cluster or big-values")]
    CaveatWhen(String),
    /// `shared_integers` below 0.
    #[error("shared_integers = {0}: give 0 or more")]
    SharedIntegers(i64),
    /// A list of allocation sizes (`client_allocations`, `histogram_allocations`) too short, too
    /// long, or with a size over 1 GiB.
    #[error("{name}: {min_len} to {max_len} sizes of at most 1 GiB each")]
    Allocations {
        name: &'static str,
        min_len: usize,
        max_len: usize,
    },
    /// `sds_types` empty, longer than 8, or with a bound of 0 or a header outside 1 to 64.
    #[error("sds_types: 1 to 8 pairs [length bound, header bytes], bounds above 0, headers 1 to 64")]
    SdsTypes,
    /// `commands_per_second` negative, above 1e9 or not finite.
    #[error("commands_per_second = {0}: give 0 (the default) to 1e9")]
    CommandsPerSecond(f64),
    /// A baseline bin (`table` is `baseline` or `as_found`) whose size is not a small class.
    #[error("{table}.bins: {size} is not the size of a small size class")]
    NotSmallClass { table: &'static str, size: u64 },
    /// A baseline bin with more regions in use than its slabs have.
    #[error(
        "{table}.bins: [{size}, {regions}, {slabs}]: {slabs} slabs of {nregs} regions cannot hold {regions}"
    )]
    BinOverfull {
        table: &'static str,
        size: u64,
        regions: u64,
        slabs: u64,
        /// Regions per slab of the class.
        nregs: u64,
    },
    /// A baseline with more small regions than [`MAX_PRELOAD_OBJECTS`] (the model makes each).
    #[error(
        "{table}.bins: {objects} small regions at the baseline, more than the {MAX_PRELOAD_OBJECTS} the model starts from"
    )]
    TooManyObjects { table: &'static str, objects: u64 },
    /// A baseline's thread-cache state that does not fit the build's thread cache.
    #[error("{table}.tcache.{source}")]
    Tcache {
        table: &'static str,
        source: ConfigError,
    },
}
