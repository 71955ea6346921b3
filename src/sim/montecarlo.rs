//! Monte Carlo over runs: each run replays a variant with its own seed, derived from the master
//! seed and the run's index (the same seeds for every variant, so variants are compared on the
//! same draws); runs are spread over a rayon thread pool and collected in index order, so the
//! result does not depend on the number of threads.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{breakdown_of, run, Breakdown, RunResult, SimError};
use crate::redis::info::Field;
use crate::redis::InfoMemory;
use crate::workload::ScenarioFile;

/// Quantiles and moments of one figure over the runs.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Stat {
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

impl Stat {
    /// Linear-interpolation quantiles (the "type 7" definition) over `values`.
    pub fn of(values: &[f64]) -> Stat {
        let mut v: Vec<f64> = values.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| -> f64 {
            if v.is_empty() {
                return 0.0;
            }
            let h = (v.len() - 1) as f64 * p;
            let lo = h.floor() as usize;
            let hi = h.ceil() as usize;
            v[lo] + (h - lo as f64) * (v[hi] - v[lo])
        };
        Stat {
            p5: q(0.05),
            p50: q(0.5),
            p95: q(0.95),
            min: v.first().copied().unwrap_or(0.0),
            max: v.last().copied().unwrap_or(0.0),
            mean: if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            },
        }
    }
}

/// Every INFO field's distribution over the runs. In JSON, an object keyed by INFO name (in
/// alphabetical order) of the fields runs report ([`Field::reported`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fields {
    /// Indexed by `Field as usize`; empty when there were no runs.
    stats: Vec<Stat>,
}

impl Fields {
    /// One field's distribution (all zeros when there were no runs).
    pub fn get(&self, f: Field) -> Stat {
        self.stats.get(f as usize).copied().unwrap_or_default()
    }

    /// The reported fields ([`Field::reported`]) and their distributions, in alphabetical order
    /// of name (the order of `result.json` and timeline.csv).
    pub fn iter(&self) -> impl Iterator<Item = (Field, Stat)> + '_ {
        let mut fields: Vec<Field> = if self.stats.is_empty() {
            Vec::new()
        } else {
            Field::reported_fields().collect()
        };
        fields.sort_by_key(|f| f.name());
        fields.into_iter().map(|f| (f, self.stats[f as usize]))
    }
}

impl Serialize for Fields {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (f, stat) in self.iter() {
            m.serialize_entry(f.name(), &stat)?;
        }
        m.end()
    }
}

fn fields_of(infos: &[&InfoMemory]) -> Fields {
    if infos.is_empty() {
        return Fields::default();
    }
    let stats = Field::ALL
        .iter()
        .map(|&f| {
            let vals: Vec<f64> = infos.iter().map(|i| i.get(f)).collect();
            Stat::of(&vals)
        })
        .collect();
    Fields { stats }
}

/// One test's figures over the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelinePoint {
    pub test: u64,
    pub peak: Fields,
    pub end: Fields,
}

/// One OOM rule over the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OomStat {
    /// The limit, bytes.
    pub limit: u64,
    /// Share of runs in which it struck.
    pub probability: f64,
    /// The first test at which it struck, over the runs where it did.
    pub first_test: Option<Stat>,
    /// Redis: refused commands per name, summed over runs.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub refused_commands: BTreeMap<String, u64>,
}

/// Both OOM rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Oom {
    pub maxmemory: Option<OomStat>,
    pub memory_limit: Option<OomStat>,
}

/// One run's figures, kept for claims that combine variants run by run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFigures {
    pub peak: InfoMemory,
    pub max_over_time: InfoMemory,
    pub end: InfoMemory,
    pub maxmemory_hit: bool,
    pub memory_limit_hit: bool,
    /// The highest used_memory a write was checked against (Redis runs).
    pub max_denyoom_check: u64,
}

/// The smallest limits under which each OOM strikes in fewer than 1% of runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capacity {
    /// Smallest `maxmemory` (bytes): no write refused in at least 99% of runs. `None` without a
    /// Redis profile.
    pub maxmemory: Option<u64>,
    /// Smallest `memory_limit` (bytes): RSS stays at or below it in at least 99% of runs.
    pub memory_limit: u64,
}

/// The smallest limit `L` such that fewer than 1% of `xs` exceed it (a run strikes when its
/// figure is above the limit).
pub fn limit_for(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    // At most k runs may exceed, with k / n < 1%.
    let n = v.len();
    let k = (n as f64 * 0.01).ceil() as usize;
    let k = if k as f64 / n as f64 >= 0.01 {
        k.saturating_sub(1)
    } else {
        k
    };
    v.get(k).copied().unwrap_or(0.0)
}

/// One variant over the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantResult {
    pub name: String,
    pub profile: String,
    pub allocator: String,
    /// The peak of each run, then its distribution over runs: byte figures at their maximum
    /// over the tests, ratios at the moment of the run's peak RSS.
    pub peak: Fields,
    /// Each INFO field's own maximum over the tests of a run (ratios included), over runs.
    pub max_over_time: Fields,
    /// Each INFO field after the last test, over runs.
    pub end: Fields,
    pub timeline: Vec<TimelinePoint>,
    pub oom: Oom,
    /// Capacity planning: the smallest limits with an OOM probability below 1%.
    pub capacity: Capacity,
    /// Where the bytes go at the peak RSS of the median run (by peak RSS).
    pub breakdown: Breakdown,
    /// The index of that run (its seed is `run_seed(seed, index)`).
    pub breakdown_run: u64,
    /// Each run's figures, in run order (not part of the JSON contract).
    #[serde(skip)]
    pub per_run: Vec<RunFigures>,
    /// What the model does not follow yet for this variant's server build where it concerns
    /// the variant's workload (its profile's `caveats`: [`crate::workload::Scenario::caveats`]),
    /// one sentence each; absent from the JSON when there is none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caveats: Vec<String>,
}

/// The JSON contract of `fragsim run`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McResult {
    pub scenario: String,
    pub seed: u64,
    pub runs: u64,
    pub variants: Vec<VariantResult>,
}

/// The seed of run `i` (splitmix64 of the master seed and the index).
pub fn run_seed(master: u64, i: u64) -> u64 {
    crate::units::mix64(master.wrapping_add(0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i + 1)))
}

fn oom_stat(runs: &[RunResult], pick: impl Fn(&RunResult) -> Option<&super::OomVerdict>) -> Option<OomStat> {
    let first = runs.first().and_then(&pick)?;
    let hits: Vec<f64> = runs
        .iter()
        .filter_map(|r| pick(r).and_then(|v| v.first_test))
        .map(|t| t as f64)
        .collect();
    let mut refused = BTreeMap::new();
    for r in runs {
        if let Some(v) = pick(r) {
            for (c, n) in &v.refused_commands {
                *refused.entry(c.clone()).or_insert(0) += n;
            }
        }
    }
    Some(OomStat {
        limit: first.limit,
        probability: hits.len() as f64 / runs.len() as f64,
        first_test: (!hits.is_empty()).then(|| Stat::of(&hits)),
        refused_commands: refused,
    })
}

/// The index of the run whose peak RSS is the median (the lower one for an even count; ties by
/// index).
pub fn median_run(runs: &[RunResult]) -> usize {
    let mut idx: Vec<usize> = (0..runs.len()).collect();
    idx.sort_by_key(|&i| (runs[i].peak.used_memory_rss, i));
    idx.get(runs.len().saturating_sub(1) / 2).copied().unwrap_or(0)
}

/// Summarises a variant's runs; `breakdown` is the decomposition of the [`median_run`].
pub fn summarise(name: &str, runs: &[RunResult], breakdown: Breakdown) -> VariantResult {
    let peaks: Vec<&InfoMemory> = runs.iter().map(|r| &r.peak).collect();
    let maxima: Vec<&InfoMemory> = runs.iter().map(|r| &r.max_over_time).collect();
    let ends: Vec<&InfoMemory> = runs.iter().map(|r| &r.end).collect();
    let tests = runs.first().map_or(0, |r| r.timeline.len());
    let timeline = (0..tests)
        .into_par_iter()
        .map(|t| {
            let p: Vec<&InfoMemory> = runs.iter().map(|r| &r.timeline[t].peak).collect();
            let e: Vec<&InfoMemory> = runs.iter().map(|r| &r.timeline[t].end).collect();
            TimelinePoint {
                test: t as u64 + 1,
                peak: fields_of(&p),
                end: fields_of(&e),
            }
        })
        .collect();
    VariantResult {
        name: name.into(),
        profile: runs.first().map(|r| r.profile.clone()).unwrap_or_default(),
        allocator: runs.first().map(|r| r.allocator.clone()).unwrap_or_default(),
        peak: fields_of(&peaks),
        max_over_time: fields_of(&maxima),
        end: fields_of(&ends),
        timeline,
        oom: Oom {
            maxmemory: oom_stat(runs, |r| r.oom_maxmemory.as_ref()),
            memory_limit: oom_stat(runs, |r| r.oom_memory_limit.as_ref()),
        },
        capacity: Capacity {
            maxmemory: (runs.first().is_some_and(|r| r.profile != "none")).then(|| {
                limit_for(
                    &runs
                        .iter()
                        .map(|r| r.max_denyoom_check as f64)
                        .collect::<Vec<_>>(),
                ) as u64
            }),
            memory_limit: limit_for(
                &runs
                    .iter()
                    .map(|r| r.peak.used_memory_rss as f64)
                    .collect::<Vec<_>>(),
            ) as u64,
        },
        breakdown,
        breakdown_run: median_run(runs) as u64,
        per_run: runs
            .iter()
            .map(|r| RunFigures {
                peak: r.peak.clone(),
                max_over_time: r.max_over_time.clone(),
                end: r.end.clone(),
                maxmemory_hit: r.oom_maxmemory.as_ref().is_some_and(|v| v.first_test.is_some()),
                memory_limit_hit: r
                    .oom_memory_limit
                    .as_ref()
                    .is_some_and(|v| v.first_test.is_some()),
                max_denyoom_check: r.max_denyoom_check,
            })
            .collect(),
        caveats: Vec::new(),
    }
}

/// Which share of a Monte Carlo's jobs one process runs: shard `k` of `n` (1-based) runs the
/// jobs whose number is `k - 1` modulo `n`, so that shards differ by at most one job and what a
/// shard runs depends on nothing but (`k`, `n`) and the job numbers.
///
/// A job is one run of one variant. The jobs of [`run_all`] are numbered variant-major: job
/// `v * runs + i` is run `i` (seed [`run_seed`]`(seed, i)`) of variant `v`; a sweep numbers the
/// jobs of its points, then those of the scenario itself, one after the other
/// ([`super::sweep::SweepPlan`]).
///
/// ```
/// use fragsim::sim::montecarlo::Shard;
/// let s = Shard::new(2, 7).unwrap();
/// assert!(s.owns(1) && s.owns(8) && !s.owns(2));
/// assert_eq!(s.share(16), 3); // jobs 1, 8 and 15
/// assert!(Shard::new(0, 7).is_none() && Shard::new(8, 7).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    k: u64,
    n: u64,
}

impl Shard {
    /// All the jobs: shard 1 of 1.
    pub const WHOLE: Shard = Shard { k: 1, n: 1 };

    /// Shard `k` of `n`; `None` unless `1 <= k <= n`.
    pub fn new(k: u64, n: u64) -> Option<Shard> {
        (k >= 1 && k <= n).then_some(Shard { k, n })
    }

    /// Its number, 1 to [`Shard::n`].
    pub fn k(self) -> u64 {
        self.k
    }

    /// How many shards share the jobs.
    pub fn n(self) -> u64 {
        self.n
    }

    /// Whether job `job` (numbered from 0) is this shard's.
    pub fn owns(self, job: u64) -> bool {
        job % self.n == self.k - 1
    }

    /// How many of jobs `0..jobs` are this shard's.
    pub fn share(self, jobs: u64) -> u64 {
        (jobs + self.n - self.k) / self.n
    }
}

/// One job's run, with its number (see [`Shard`]): what a shard keeps and a merge reads back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    pub job: u64,
    pub run: RunResult,
}

/// The worker threads of a Monte Carlo: `threads` of them (at least 1). Fails when they cannot
/// be started ([`SimError::ThreadPool`]).
pub fn pool(threads: usize) -> Result<rayon::ThreadPool, SimError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|source| SimError::ThreadPool { threads, source })
}

/// Runs the jobs of `file` (`runs` per variant) that `shard` owns, the first of them numbered
/// `first` (see [`Shard`]), on the current rayon pool, calling `progress` after each; returns
/// them in job order, whatever the number of threads.
pub fn run_jobs(
    file: &ScenarioFile,
    runs: u64,
    seed: u64,
    shard: Shard,
    first: u64,
    progress: &(dyn Fn() + Sync),
) -> Vec<JobRun> {
    let jobs = file.variants.len() as u64 * runs;
    // Every (variant, run) pair is one job, so that all threads stay busy across variants.
    let mine: Vec<u64> = (0..jobs).filter(|&j| shard.owns(first + j)).collect();
    mine.into_par_iter()
        .map(|j| {
            let r = run(
                &file.variants[(j / runs) as usize],
                run_seed(seed, j % runs),
                |_| {},
            );
            progress();
            JobRun {
                job: first + j,
                run: r,
            }
        })
        .collect()
}

/// Summarises every run of `file`, `results` in job order (`runs` per variant, see [`Shard`]):
/// each variant's median run is replayed once more to decompose it (`progress` is called after
/// each replay), then its runs are summarised; on the current rayon pool. What [`run_all`]
/// returns, and what a merge of shards computes. Fails when `runs` is 0
/// ([`SimError::NoRuns`]) or `results` is not one run per job ([`SimError::JobCount`]).
pub fn summarise_all(
    file: &ScenarioFile,
    runs: u64,
    seed: u64,
    results: &[RunResult],
    progress: &(dyn Fn() + Sync),
) -> Result<McResult, SimError> {
    if runs == 0 {
        return Err(SimError::NoRuns);
    }
    let jobs = file.variants.len() as u64 * runs;
    if results.len() as u64 != jobs {
        return Err(SimError::JobCount {
            expected: jobs,
            got: results.len() as u64,
        });
    }
    let per_variant: Vec<&[RunResult]> = results.chunks(runs as usize).collect();
    // The decomposition of each variant's median run: taken in passing, or a replay of it.
    let breakdowns: Vec<Breakdown> = per_variant
        .par_iter()
        .zip(file.variants.par_iter())
        .map(|(rs, v)| {
            let b = rs
                .get(median_run(rs))
                .map(|r| breakdown_of(v, r))
                .unwrap_or_default();
            progress();
            b
        })
        .collect();
    let variants = file
        .variants
        .par_iter()
        .zip(per_variant)
        .zip(breakdowns)
        .map(|((v, rs), b)| {
            let mut s = summarise(&v.variant, rs, b);
            s.caveats = v.caveats();
            s
        })
        .collect();
    Ok(McResult {
        scenario: file.name.clone(),
        seed,
        runs,
        variants,
    })
}

/// Runs every variant `runs` times on `threads` threads, then replays each variant's median run
/// once more to decompose it (`runs + 1` replays per variant); `progress` is called after each.
/// The results are collected in job order, so they do not depend on the thread count.
/// Fails before any run when `runs` is 0 ([`SimError::NoRuns`]) or the threads cannot be
/// started ([`SimError::ThreadPool`]).
pub fn run_all(
    file: &ScenarioFile,
    runs: u64,
    seed: u64,
    threads: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<McResult, SimError> {
    if runs == 0 {
        return Err(SimError::NoRuns);
    }
    pool(threads)?.install(|| {
        let results: Vec<RunResult> = run_jobs(file, runs, seed, Shard::WHOLE, 0, progress)
            .into_iter()
            .map(|j| j.run)
            .collect();
        summarise_all(file, runs, seed, &results, progress)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let v: Vec<f64> = (1..=101).map(f64::from).collect();
        let s = Stat::of(&v);
        assert_eq!(
            (s.p5, s.p50, s.p95, s.min, s.max, s.mean),
            (6.0, 51.0, 96.0, 1.0, 101.0, 51.0)
        );
        let two = Stat::of(&[10.0, 20.0]);
        assert_eq!((two.p5, two.p50, two.p95), (10.5, 15.0, 19.5));
    }

    #[test]
    fn capacity_limits() {
        // 32 runs: fewer than 1% may exceed means none: the largest value.
        let xs: Vec<f64> = (1..=32).map(f64::from).collect();
        assert_eq!(limit_for(&xs), 32.0);
        // 200 runs: one run (0.5%) may exceed: the second largest.
        let xs: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(limit_for(&xs), 199.0);
        // 100 runs: one run would be exactly 1%, not below: none may exceed.
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(limit_for(&xs), 100.0);
    }

    #[test]
    fn seeds_differ_per_run() {
        let s: std::collections::HashSet<u64> = (0..1000).map(|i| run_seed(1, i)).collect();
        assert_eq!(s.len(), 1000);
    }
}
