//! Sweeps: one scenario parameter varied over a range, the Monte Carlo run at each value, and
//! each variant's own setting marked on the curve.
//!
//! A parameter is named by its path in the scenario (the same paths as a variant's `set`, such
//! as `workload.keys.storm.value_size`) or by a short name (`value_size`, `count`, `tests`,
//! `parallel`, `maxmemory`, ...) when that is unambiguous. The swept value overrides every
//! variant's own. Variants that become the same scenario once the parameter is set (the usual
//! case: variants that differ only in it) share one curve.

use serde::Serialize;

use super::montecarlo::{run_all, run_jobs, summarise_all, JobRun, McResult, Shard, VariantResult};
use super::RunResult;
use super::SimError;
use crate::redis::info::Field;
use crate::workload::{self, Scenario, ScenarioFile};

/// What kind of number a parameter holds (decides parsing, TOML type and axis labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// Bytes (accepts units: 30KB, 2MiB).
    Bytes,
    /// A whole count.
    Count,
    /// A real number (seconds, shares).
    Real,
}

/// A sweepable parameter, resolved against a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Param {
    /// Its path in the scenario, as a variant's `set` names it.
    pub path: String,
    pub kind: ParamKind,
}

impl Param {
    /// The TOML value that sets it to `x`.
    pub fn toml(&self, x: f64) -> toml::Value {
        match self.kind {
            ParamKind::Bytes | ParamKind::Count => toml::Value::Integer(x.round() as i64),
            ParamKind::Real => toml::Value::Float(x),
        }
    }

    /// The parameter's value in one variant (a size distribution's mean), if it has one.
    pub fn value_in(&self, sc: &Scenario) -> Option<f64> {
        let parts: Vec<&str> = self.path.split('.').collect();
        match parts.as_slice() {
            ["workload", "tests"] => Some(sc.tests as f64),
            ["workload", "parallel"] => Some(sc.parallel as f64),
            ["workload", "test_seconds"] => Some(sc.test_seconds),
            ["server", "maxmemory"] => sc.maxmemory.map(|b| b as f64),
            ["server", "memory_limit"] => sc.memory_limit.map(|b| b as f64),
            ["workload", "keys", g, field] => {
                let k = sc.keys.iter().find(|k| k.name == *g)?;
                match *field {
                    "value_size" => Some(k.value_size.mean()),
                    "count" => Some(k.count as f64),
                    "fields" => Some(k.fields.mean()),
                    "ttl_seconds" => k.ttl_seconds,
                    "cleanup" => Some(k.cleanup),
                    _ => None,
                }
            }
            ["workload", "scripts", g, field] => {
                let s = sc.scripts.iter().find(|s| s.name == *g)?;
                match *field {
                    "size" => Some(s.size as f64),
                    "count" => Some(s.count as f64),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

const KEY_FIELDS: [(&str, ParamKind); 5] = [
    ("value_size", ParamKind::Bytes),
    ("count", ParamKind::Count),
    ("fields", ParamKind::Count),
    ("ttl_seconds", ParamKind::Real),
    ("cleanup", ParamKind::Real),
];
const SCRIPT_FIELDS: [(&str, ParamKind); 2] = [("size", ParamKind::Bytes), ("count", ParamKind::Count)];
const TOP: [(&str, &str, ParamKind); 5] = [
    ("tests", "workload.tests", ParamKind::Count),
    ("parallel", "workload.parallel", ParamKind::Count),
    ("test_seconds", "workload.test_seconds", ParamKind::Real),
    ("maxmemory", "server.maxmemory", ParamKind::Bytes),
    ("memory_limit", "server.memory_limit", ParamKind::Bytes),
];

/// Every parameter of `sc` a sweep can vary, by full path.
pub fn params(sc: &Scenario) -> Vec<Param> {
    let mut v: Vec<Param> = TOP
        .iter()
        .map(|(_, path, kind)| Param {
            path: path.to_string(),
            kind: *kind,
        })
        .collect();
    for k in &sc.keys {
        for (f, kind) in KEY_FIELDS {
            v.push(Param {
                path: format!("workload.keys.{}.{f}", k.name),
                kind,
            });
        }
    }
    for s in &sc.scripts {
        for (f, kind) in SCRIPT_FIELDS {
            v.push(Param {
                path: format!("workload.scripts.{}.{f}", s.name),
                kind,
            });
        }
    }
    v
}

/// The short names [`resolve`] takes: the top-level parameters' and the key groups' fields.
pub(super) fn short_names() -> Vec<&'static str> {
    TOP.iter()
        .map(|t| t.0)
        .chain(KEY_FIELDS.iter().map(|f| f.0))
        .collect()
}

/// Resolves `key` (a full path or a short name) against the scenario's first variant. Fails when
/// a short name is a field of several key groups ([`SimError::AmbiguousParam`]) or `key` names
/// nothing sweepable in the scenario ([`SimError::UnknownParam`]).
pub fn resolve(sc: &Scenario, key: &str) -> Result<Param, SimError> {
    let all = params(sc);
    if let Some(p) = all.iter().find(|p| p.path == key) {
        return Ok(p.clone());
    }
    if let Some((_, path, _)) = TOP.iter().find(|(short, _, _)| *short == key) {
        return Ok(all.iter().find(|p| p.path == *path).cloned().expect("listed"));
    }
    let by_field: Vec<&Param> = all
        .iter()
        .filter(|p| p.path.starts_with("workload.keys.") && p.path.rsplit('.').next() == Some(key))
        .collect();
    match by_field.len() {
        1 => return Ok(by_field[0].clone()),
        n if n > 1 => {
            return Err(SimError::AmbiguousParam {
                key: key.into(),
                paths: by_field.iter().map(|p| p.path.clone()).collect(),
            });
        }
        _ => {}
    }
    Err(SimError::UnknownParam {
        key: key.into(),
        paths: all.into_iter().map(|p| p.path).collect(),
    })
}

/// `n` values from `from` to `to`, both included, evenly spaced (rounded to whole numbers
/// for bytes and counts, duplicates dropped).
pub fn steps(param: &Param, from: f64, to: f64, n: u64) -> Vec<f64> {
    let n = n.max(1);
    let mut v: Vec<f64> = (0..n)
        .map(|i| {
            let x = if n == 1 {
                from
            } else {
                from + (to - from) * i as f64 / (n - 1) as f64
            };
            if param.kind == ParamKind::Real {
                x
            } else {
                x.round()
            }
        })
        .collect();
    v.dedup();
    v
}

/// One curve: the variants that share it and their results at each swept value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// The variants on this curve (all of them when they differ only in the parameter).
    pub variants: Vec<String>,
    /// One result per swept value, in the order of [`SweepResult::values`].
    pub points: Vec<VariantResult>,
}

/// A variant's own setting of the parameter and its result there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    pub variant: String,
    pub curve: usize,
    pub value: f64,
    pub result: VariantResult,
}

/// The JSON of `fragsim sweep`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepResult {
    pub scenario: String,
    pub param: Param,
    pub values: Vec<f64>,
    pub runs: u64,
    pub seed: u64,
    pub curves: Vec<Curve>,
    pub marks: Vec<Mark>,
    /// What the sweep replaced that a reader would not guess: a size distribution swept as one
    /// fixed size per point (its variant marked at the distribution's mean).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One swept value and the scenario file with the parameter set to it.
#[derive(Debug, Clone)]
pub struct Point {
    pub value: f64,
    pub file: ScenarioFile,
}

/// Loads the scenario file at `path` once per value of `param`: every point must be a valid
/// scenario, and all are known before any runs. Fails at the first point that is not
/// ([`SimError::BadPoint`]).
pub fn load_points(path: &std::path::Path, param: &Param, values: &[f64]) -> Result<Vec<Point>, SimError> {
    values
        .iter()
        .map(|&x| {
            workload::load_with(path, &[(param.path.clone(), param.toml(x))])
                .map(|file| Point { value: x, file })
                .map_err(|source| SimError::BadPoint {
                    param: param.path.clone(),
                    value: x,
                    source,
                })
        })
        .collect()
}

/// The variants whose size distribution a value_size sweep replaces with one fixed size.
fn replaced(file: &ScenarioFile, param: &Param) -> Vec<String> {
    let parts: Vec<&str> = param.path.split('.').collect();
    let ["workload", "keys", group, "value_size"] = parts.as_slice() else {
        return Vec::new();
    };
    file.variants
        .iter()
        .filter_map(|v| {
            let k = v.keys.iter().find(|k| k.name == *group)?;
            match k.value_size {
                workload::SizeDist::Fixed { .. } => None,
                ref d => Some(format!(
                    "variant \"{}\": its sizes ({}) are replaced by one fixed size at each point; its own mark is at their mean, {}",
                    v.variant,
                    d.describe(),
                    crate::units::human(d.mean())
                )),
            }
        })
        .collect()
}

/// A sweep's work, planned: which variants share a curve, and the scenario run at each point
/// (one variant per curve) and then the scenario itself (every variant, each marked at its own
/// setting of the parameter). Its jobs (see [`Shard`]) are those of each of these scenarios in
/// turn, numbered from the first point's.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    file: ScenarioFile,
    param: Param,
    values: Vec<f64>,
    /// The variants of each curve, by index in the file.
    groups: Vec<Vec<usize>>,
    /// The variants' names at the first point.
    names: Vec<String>,
    /// The scenario of each point, then `file`.
    phases: Vec<ScenarioFile>,
}

/// Plans the sweep of `file` over `points` (at least one: else [`SimError::NoPoints`]).
pub fn plan(file: &ScenarioFile, param: &Param, points: &[Point]) -> Result<SweepPlan, SimError> {
    // Which variants share a curve: the same scenario once the parameter is set, at every value.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let first = &points.first().ok_or(SimError::NoPoints)?.file;
    let last = &points.last().expect("not empty").file;
    let same = |f: &ScenarioFile, a: usize, b: usize| {
        let (mut x, y) = (f.variants[a].clone(), &f.variants[b]);
        x.variant = y.variant.clone();
        &x == y
    };
    for i in 0..first.variants.len() {
        match groups
            .iter_mut()
            .find(|g| same(first, g[0], i) && same(last, g[0], i))
        {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    let mut phases: Vec<ScenarioFile> = points
        .iter()
        .map(|pt| ScenarioFile {
            variants: groups.iter().map(|g| pt.file.variants[g[0]].clone()).collect(),
            ..pt.file.clone()
        })
        .collect();
    phases.push(file.clone());
    Ok(SweepPlan {
        file: file.clone(),
        param: param.clone(),
        values: points.iter().map(|p| p.value).collect(),
        groups,
        names: first.variants.iter().map(|v| v.variant.clone()).collect(),
        phases,
    })
}

impl SweepPlan {
    /// Every job of the sweep with `runs` per variant and point.
    pub fn jobs(&self, runs: u64) -> u64 {
        self.phases.iter().map(|f| f.variants.len() as u64 * runs).sum()
    }

    /// The replays after the runs: one per variant and point, and one per variant of the
    /// scenario itself (each decomposes a median run).
    pub fn replays(&self) -> u64 {
        self.phases.iter().map(|f| f.variants.len() as u64).sum()
    }

    /// Runs the jobs `shard` owns on the current rayon pool, calling `progress` after each;
    /// returns them in job order.
    pub fn run_shard(&self, runs: u64, seed: u64, shard: Shard, progress: &(dyn Fn() + Sync)) -> Vec<JobRun> {
        let mut first = 0;
        let mut out = Vec::new();
        for f in &self.phases {
            out.extend(run_jobs(f, runs, seed, shard, first, progress));
            first += f.variants.len() as u64 * runs;
        }
        out
    }

    /// The sweep's result from every job's run, in job order, on the current rayon pool
    /// (`progress` is called after each replay); fails as [`summarise_all`] does.
    pub fn summarise(
        &self,
        runs: u64,
        seed: u64,
        results: &[RunResult],
        progress: &(dyn Fn() + Sync),
    ) -> Result<SweepResult, SimError> {
        if results.len() as u64 != self.jobs(runs) {
            return Err(SimError::JobCount {
                expected: self.jobs(runs),
                got: results.len() as u64,
            });
        }
        let mut rest = results;
        let mut phases = Vec::with_capacity(self.phases.len());
        for f in &self.phases {
            let (these, after) = rest.split_at(f.variants.len() * runs as usize);
            phases.push(summarise_all(f, runs, seed, these, progress)?);
            rest = after;
        }
        Ok(self.assemble(runs, seed, phases))
    }

    /// The sweep's result from the result of each phase.
    fn assemble(&self, runs: u64, seed: u64, phases: Vec<McResult>) -> SweepResult {
        let (file, param, groups, names) = (&self.file, &self.param, &self.groups, &self.names);
        let mut curves: Vec<Curve> = groups
            .iter()
            .map(|g| Curve {
                variants: g.iter().map(|&i| names[i].clone()).collect(),
                points: Vec::new(),
            })
            .collect();
        let mut phases = phases.into_iter();
        let own = phases.next_back().expect("the scenario's own phase");
        for r in phases {
            for (c, v) in curves.iter_mut().zip(r.variants) {
                c.points.push(v);
            }
        }
        let marks = file
            .variants
            .iter()
            .zip(own.variants)
            .filter_map(|(v, result)| {
                let value = param.value_in(v)?;
                let curve = groups
                    .iter()
                    .position(|g| g.iter().any(|&i| names[i] == v.variant))?;
                Some(Mark {
                    variant: v.variant.clone(),
                    curve,
                    value,
                    result,
                })
            })
            .collect();
        SweepResult {
            scenario: file.name.clone(),
            param: param.clone(),
            values: self.values.clone(),
            runs,
            seed,
            curves,
            marks,
            notes: replaced(file, param),
        }
    }
}

/// Runs each of `points` (at least one) and `file` itself, whose variants are marked at their
/// own setting of `param`. Fails when `points` is empty ([`SimError::NoPoints`]), or as
/// [`run_all`] does.
pub fn sweep(
    file: &ScenarioFile,
    param: &Param,
    points: &[Point],
    runs: u64,
    seed: u64,
    threads: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<SweepResult, SimError> {
    let plan = plan(file, param, points)?;
    // One phase at a time: only one point's runs are held at once.
    let phases = plan
        .phases
        .iter()
        .map(|f| run_all(f, runs, seed, threads, progress))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(plan.assemble(runs, seed, phases))
}

/// The sweep as CSV: one row per curve and value, the p5/p50/p95 of the main peak figures.
pub fn csv(r: &SweepResult) -> String {
    const FIELDS: [Field; 5] = [
        Field::UsedMemory,
        Field::AllocatorAllocated,
        Field::AllocatorActive,
        Field::UsedMemoryRss,
        Field::MemFragmentationRatio,
    ];
    let mut o = format!("{},curve", r.param.path);
    for f in FIELDS {
        let f = f.name();
        o += &format!(",peak_{f}_p5,peak_{f}_p50,peak_{f}_p95");
    }
    o += ",payload_at_peak,rounding_at_peak,pad_pages_at_peak,rss_above_baseline_at_peak";
    o += ",oom_maxmemory_probability,oom_memory_limit_probability\n";
    for c in &r.curves {
        for (x, v) in r.values.iter().zip(&c.points) {
            o += &format!("{x},\"{}\"", c.variants.join(" = ").replace('"', "'"));
            for f in FIELDS {
                let s = v.peak.get(f);
                o += &format!(",{},{},{}", s.p5, s.p50, s.p95);
            }
            let b = &v.breakdown;
            let prob = |o: &Option<super::montecarlo::OomStat>| {
                o.as_ref().map_or(String::new(), |o| o.probability.to_string())
            };
            o += &format!(
                ",{},{},{},{},{},{}\n",
                b.payload,
                b.rounding,
                b.pad_pages,
                b.rss - b.baseline_rss,
                prob(&v.oom.maxmemory),
                prob(&v.oom.memory_limit)
            );
        }
    }
    o
}
