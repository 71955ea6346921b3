//! `fragsim sizeclasses` and `fragsim explain`: jemalloc's size classes, and what one request
//! or one Redis key really costs.

use clap::Args;

use super::{to_json, AppError};
use crate::jemalloc::{AllocatorConfig, SizeClasses, PRESET_NAMES};
use crate::redis::explain::{explain_key, Collection, KeySpec};
use crate::redis::RedisProfile;
use crate::report::explain as text;
use crate::units::parse_bytes;

/// Print jemalloc's size classes with slab geometry.
///
/// Small classes live in slabs of 1-7 pages; large classes get their own extent, one pad
/// page larger when the build is cache-oblivious.
#[derive(Debug, Clone, Args)]
pub struct SizeclassesOptions {
    /// Allocator preset: jemalloc-5.3, redis-7.0-bundled, redis-7.2-bundled, jemalloc-5.3.1.
    #[arg(long, default_value = "jemalloc-5.3")]
    pub preset: String,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Largest class to list (a byte count such as 64MiB).
    #[arg(long, default_value = "64MiB", allow_hyphen_values = true)]
    pub max: String,
}

/// Show what one request of SIZE bytes really costs: size class, slab or extent, pad page,
/// and the bytes seen by malloc_usable_size, stats.active and RSS. With --redis, what one
/// key costs in that Redis build.
///
/// Try: fragsim explain 30000, then fragsim explain 2000, then
/// fragsim explain --redis redis-7.0-debian --string 30000, or --set 600x7 --integers (600
/// ids of 7 digits: past the intset limit), --zset 200x16, --list 1000x400.
#[derive(Debug, Clone, Args)]
pub struct ExplainOptions {
    /// Request size: bytes, or a count with a unit (30000, 30KB, 2MiB).
    #[arg(allow_hyphen_values = true)]
    pub size: Option<String>,
    /// Allocator preset: jemalloc-5.3, redis-7.0-bundled, redis-7.2-bundled, jemalloc-5.3.1.
    #[arg(long, default_value = "jemalloc-5.3")]
    pub preset: String,
    /// A server profile (redis-7.0-debian, redis-7.0, redis-7.2, redis-7.4, redis-8.0,
    /// valkey-8.0, valkey-8.1, valkey-9.1, or a calibrated file): explain one key instead of
    /// one allocation, laid out as that version lays it out.
    #[arg(long, value_name = "PROFILE")]
    pub redis: Option<String>,
    /// With --redis: a string key whose value has this size.
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub string: Option<String>,
    /// With --redis: a hash key, FIELDSxSIZE (e.g. 20x1500).
    #[arg(long, value_name = "FIELDSxSIZE", allow_hyphen_values = true)]
    pub hash: Option<String>,
    /// With --redis: a list key, ELEMENTSxSIZE (e.g. 1000x400), pushed 100 at a time.
    #[arg(long, value_name = "ELEMENTSxSIZE", allow_hyphen_values = true)]
    pub list: Option<String>,
    /// With --redis: a set key, MEMBERSxSIZE (e.g. 600x7 with --integers), added 100 at a time.
    #[arg(long, value_name = "MEMBERSxSIZE", allow_hyphen_values = true)]
    pub set: Option<String>,
    /// With --redis: a sorted set key, MEMBERSxSIZE (e.g. 200x16), integer scores, added 100
    /// at a time.
    #[arg(long, value_name = "MEMBERSxSIZE", allow_hyphen_values = true)]
    pub zset: Option<String>,
    /// With --list, --set or --zset: elements are integers of SIZE digits (1 to 19), which
    /// Redis keeps as numbers (intsets, integer listpack entries).
    #[arg(long)]
    pub integers: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn preset(name: &str) -> Result<AllocatorConfig, AppError> {
    AllocatorConfig::preset(name).ok_or_else(|| {
        AppError::Usage(format!(
            "unknown preset '{name}' (known: {})",
            PRESET_NAMES.join(", ")
        ))
    })
}

fn size_arg(s: &str, what: &str) -> Result<u64, AppError> {
    match parse_bytes(s) {
        Ok(0) => Err(AppError::Usage(format!(
            "{what} must be at least 1 byte, got '{s}'"
        ))),
        Ok(v) => Ok(v),
        Err(e) => Err(AppError::Usage(format!("{what}: {e}"))),
    }
}

/// The size classes up to `--max`, as a table or JSON.
pub fn sizeclasses(o: &SizeclassesOptions) -> Result<String, AppError> {
    let cfg = preset(&o.preset)?;
    let max = size_arg(&o.max, "--max")?;
    let sc = SizeClasses::new(cfg.lg_quantum, cfg.lg_page);
    let rows = text::class_rows(&sc, max);
    Ok(if o.json {
        to_json(&rows)
    } else {
        text::render_classes(&cfg, &rows)
    })
}

/// `COUNTxSIZE` of option `flag`: the count (at least 1) and the size.
fn count_by_size(v: &str, flag: &str, count: &str) -> Result<(u64, u64), AppError> {
    let (n, s) = v.split_once(['x', 'X', '*']).ok_or_else(|| {
        AppError::Usage(format!(
            "{flag} '{v}': expected {}xSIZE, e.g. 20x1500",
            count.to_uppercase()
        ))
    })?;
    let n: u64 = n
        .trim()
        .parse()
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| AppError::Usage(format!("{flag} '{v}': '{n}' is not a number of {count} >= 1")))?;
    Ok((n, size_arg(s.trim(), &format!("{flag} size"))?))
}

fn key_spec(o: &ExplainOptions) -> Result<KeySpec, AppError> {
    let given = [&o.string, &o.hash, &o.list, &o.set, &o.zset]
        .iter()
        .filter(|v| v.is_some())
        .count();
    if given != 1 {
        return Err(AppError::Usage(
            "with --redis give exactly one of --string SIZE, --hash FIELDSxSIZE, --list, --set or --zset ELEMENTSxSIZE"
                .into(),
        ));
    }
    if o.integers && (o.string.is_some() || o.hash.is_some()) {
        return Err(AppError::Usage(
            "--integers goes with --list, --set or --zset".into(),
        ));
    }
    let collection = |kind: Collection, v: &str, flag: &str| -> Result<KeySpec, AppError> {
        let (elements, size) = count_by_size(v, flag, "elements")?;
        Ok(KeySpec::Collection {
            kind,
            elements,
            size,
            integers: o.integers,
        })
    };
    match (&o.string, &o.hash, &o.list, &o.set, &o.zset) {
        (Some(s), ..) => Ok(KeySpec::String(size_arg(s, "--string")?)),
        (_, Some(h), ..) => {
            let (fields, size) = count_by_size(h, "--hash", "fields")?;
            Ok(KeySpec::Hash(fields, size))
        }
        (_, _, Some(l), ..) => collection(Collection::List, l, "--list"),
        (_, _, _, Some(v), _) => collection(Collection::Set, v, "--set"),
        (.., Some(z)) => collection(Collection::Zset, z, "--zset"),
        _ => unreachable!("one was given"),
    }
}

/// What one request costs in an allocator build, or (with `redis`) one key in a Redis build,
/// as text or JSON.
pub fn explain(o: &ExplainOptions) -> Result<String, AppError> {
    if let Some(prof) = &o.redis {
        if o.size.is_some() {
            return Err(AppError::Usage(
                "with --redis give --string SIZE, --hash FIELDSxSIZE or --list, --set, --zset ELEMENTSxSIZE, not a bare SIZE".into(),
            ));
        }
        let profile = RedisProfile::load(prof).map_err(|source| AppError::Profile { flag: None, source })?;
        if o.preset != "jemalloc-5.3" {
            return Err(AppError::Usage(
                "--preset does not apply with --redis: the profile brings its allocator".into(),
            ));
        }
        let spec = key_spec(o)?;
        let cost = explain_key(&profile, spec, 1000)?;
        return Ok(if o.json {
            to_json(&cost)
        } else {
            crate::redis::explain::render(&cost)
        });
    }
    if o.string.is_some() || o.hash.is_some() {
        return Err(AppError::Usage("--string and --hash need --redis PROFILE".into()));
    }
    if o.list.is_some() || o.set.is_some() || o.zset.is_some() || o.integers {
        return Err(AppError::Usage(
            "--list, --set, --zset and --integers need --redis PROFILE".into(),
        ));
    }
    let size = o
        .size
        .as_deref()
        .ok_or_else(|| AppError::Usage("give a SIZE, e.g. fragsim explain 30000".into()))?;
    let cfg = preset(&o.preset)?;
    let size = size_arg(size, "SIZE")?;
    let cost = text::request_cost(&cfg, size)?;
    Ok(if o.json {
        to_json(&cost)
    } else {
        text::render_explain(&cfg, &cost)
    })
}
