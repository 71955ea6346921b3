//! Speed and scale of the Redis model: scenarios run through [`crate::sim::run`] (one Monte Carlo
//! run, without the "where the bytes go" replay), measured in commands per second, side by side
//! with a live server's own throughput on the same commands (pipelined) when one is given; and
//! the simulator's memory per live string key.
//!
//! Workloads (`--keys` sets their size):
//! - `redis-set-10b`: SET of 10-B values into an empty keyspace, one key per command;
//! - `redis-seed-30k`: the seed suite's 30 KB workload (30 SETs of 30,000 B per test, FLUSHALL
//!   SYNC before each test), its tests repeated;
//! - `redis-hash`: HSET of 4 fields of 16 B per key;
//! - `redis-churn`: tests of SETs of 100 B with a 2 s TTL, half of each test's keys deleted
//!   by the test itself (DEL), the rest expiring.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::bench::BenchError;
use super::live_redis::LiveError;
use crate::redis::resp::{Connection, Resp};
use crate::sim::commands::{rng_for, Argv, Command, TestPlan};
use crate::workload::Scenario;

/// Every Redis workload's name.
pub const REDIS_WORKLOADS: [&str; 4] = ["redis-set-10b", "redis-seed-30k", "redis-hash", "redis-churn"];

/// One Redis workload: a scenario, and the commands its run sends.
pub struct RedisWorkload {
    pub name: &'static str,
    pub scenario: Scenario,
    pub commands: u64,
}

/// The scenario text of workload `name` at `keys` keys (about as many commands).
fn scenario_text(name: &str, keys: u64) -> Option<String> {
    let head = "runs = 1\nseed = 1\n[server]\nprofile = \"redis-7.0-debian\"\n";
    Some(match name {
        "redis-set-10b" => format!(
            "name = \"SET 10 B\"\n{head}[workload]\ntests = 1\nflush = \"none\"\n\
             [[workload.keys]]\nname = \"k\"\ncount = {keys}\nvalue_size = 10\n"
        ),
        "redis-seed-30k" => format!(
            "name = \"seed suite, 30 KB\"\n{head}[workload]\ntests = {}\nflush = \"before_each\"\n\
             test_seconds = 2.0\n[[workload.keys]]\nname = \"storm\"\ncount = 30\nvalue_size = 30000\n",
            (keys / 31).max(1)
        ),
        "redis-hash" => format!(
            "name = \"HSET 4 x 16 B\"\n{head}[workload]\ntests = 1\nflush = \"none\"\n\
             [[workload.keys]]\nname = \"h\"\ncount = {keys}\ntype = \"hash\"\nfields = 4\nvalue_size = 16\n"
        ),
        "redis-churn" => format!(
            "name = \"churn: TTLs and DEL\"\n{head}[workload]\ntests = {}\nflush = \"none\"\n\
             test_seconds = 1.0\n[[workload.keys]]\nname = \"s\"\ncount = 10000\nvalue_size = 100\n\
             ttl_seconds = 2.0\ncleanup = 0.5\n",
            (keys / 15_000).max(1)
        ),
        _ => return None,
    })
}

/// The commands a run of `sc` with seed `seed` sends (every test's plan, drawn as the run draws
/// it).
pub fn count_commands(sc: &Scenario, seed: u64) -> u64 {
    let mut rng = rng_for(seed);
    let mut cmd = Command::default();
    let mut n = 0;
    for t in 0..sc.tests {
        let mut plan = TestPlan::new(sc, t, &mut rng);
        while plan.next_into(&mut rng, &mut cmd).is_some() {
            n += 1;
        }
    }
    n
}

/// Workload `name` at about `keys` keys, or `None` for an unknown name.
pub fn redis_workload(name: &str, keys: u64) -> Option<RedisWorkload> {
    let name = REDIS_WORKLOADS.iter().find(|w| **w == name).copied()?;
    let text = scenario_text(name, keys)?;
    let f = crate::workload::parse(&text, name).expect("the bench's scenarios are valid");
    let scenario = f.first().clone();
    let commands = count_commands(&scenario, 1);
    Some(RedisWorkload {
        name,
        scenario,
        commands,
    })
}

/// One Redis workload's measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedisMeasurement {
    pub name: String,
    pub commands: u64,
    /// Commands per second through the model (best of the repetitions, one thread).
    pub model_commands_per_sec: f64,
    /// Commands per second a live server took on the same commands, pipelined; `None` without
    /// `--redis`.
    pub real_commands_per_sec: Option<f64>,
    /// model / real: above 1, the model is faster.
    pub ratio: Option<f64>,
}

/// Runs `w` through the model until it has run twice and `budget` has passed (at most 20
/// times); returns its best time.
pub fn model_time(w: &RedisWorkload, budget: Duration) -> Duration {
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut reps = 0;
    while reps < 2 || (start.elapsed() < budget && reps < 20) {
        let t = Instant::now();
        std::hint::black_box(crate::sim::run(&w.scenario, 1, |_| {}));
        best = best.min(t.elapsed());
        reps += 1;
    }
    best
}

/// Sends `w`'s commands to the live server at `addr` (which must hold no keys), 1,000 at a time
/// on one connection, and returns the time the server took; the server is emptied afterwards
/// (FLUSHALL SYNC). Fails when the server is unreachable, holds keys, or refuses a command.
pub fn live_time(addr: &str, w: &RedisWorkload) -> Result<Duration, LiveError> {
    let mut c = Connection::open(addr)?.with_deadline(Duration::from_secs(120));
    if let Resp::Int(keys) = c.call_str(&["DBSIZE"])? {
        if keys > 0 {
            return Err(LiveError::NotEmptyForBench {
                addr: addr.into(),
                keys: keys as u64,
            });
        }
    }
    let mut rng = rng_for(1);
    let mut cmd = Command::default();
    let mut batch: Vec<Argv> = Vec::with_capacity(1000);
    let mut took = Duration::ZERO;
    let mut send = |c: &mut Connection, batch: &mut Vec<Argv>| -> Result<(), LiveError> {
        let t = Instant::now();
        let replies = c.pipeline(batch)?;
        took += t.elapsed();
        if let Some(Resp::Error(e)) = replies.iter().find(|r| matches!(r, Resp::Error(_))) {
            return Err(LiveError::Command {
                addr: addr.into(),
                detail: e.clone(),
            });
        }
        batch.clear();
        Ok(())
    };
    for t in 0..w.scenario.tests {
        let mut plan = TestPlan::new(&w.scenario, t, &mut rng);
        while plan.next_into(&mut rng, &mut cmd).is_some() {
            batch.push(cmd.to_argv());
            if batch.len() == 1000 {
                send(&mut c, &mut batch)?;
            }
        }
    }
    send(&mut c, &mut batch)?;
    c.call_str(&["FLUSHALL", "SYNC"])?;
    Ok(took)
}

/// Measures `w` through the model and, given a server's address, through the live server.
pub fn measure_redis(
    w: &RedisWorkload,
    budget: Duration,
    live: Option<&str>,
) -> Result<RedisMeasurement, LiveError> {
    let n = w.commands as f64;
    let model = n / model_time(w, budget).as_secs_f64();
    let real = match live {
        Some(addr) => Some(n / live_time(addr, w)?.as_secs_f64()),
        None => None,
    };
    Ok(RedisMeasurement {
        name: w.name.to_string(),
        commands: w.commands,
        model_commands_per_sec: model,
        real_commands_per_sec: real,
        ratio: real.map(|r| model / r),
    })
}

/// The simulator's memory per live string key: `redis-set-10b` at `keys` keys is run, and the
/// process's peak RSS growth (`VmHWM`, reset first through `/proc/self/clear_refs`) divided by
/// `keys`. Returns (bytes per key, peak growth in bytes, seconds the run took). Linux only.
pub fn bytes_per_live_key(keys: u64) -> Result<(f64, u64, f64), BenchError> {
    let w = redis_workload("redis-set-10b", keys).expect("a known workload");
    let (grown, secs) = super::bench::peak_growth(|| {
        let r = crate::sim::run(&w.scenario, 1, |_| {});
        assert_eq!(r.timeline[0].keys, keys);
    })?;
    Ok((grown as f64 / keys as f64, grown, secs))
}

/// The Redis table's heading lines.
pub fn render_redis_header() -> String {
    format!(
        "  {:<15} {:>10} {:>14} {:>14} {:>8}\n",
        "redis workload", "commands", "model cmd/s", "real cmd/s", "ratio"
    )
}

/// One Redis workload's line.
pub fn render_redis_row(m: &RedisMeasurement) -> String {
    let real = m
        .real_commands_per_sec
        .map_or("-".to_string(), |r| crate::units::group(r as u64));
    let ratio = m.ratio.map_or("-".to_string(), |r| format!("{r:.2}x"));
    format!(
        "  {:<15} {:>10} {:>14} {:>14} {:>8}\n",
        m.name,
        crate::units::group(m.commands),
        crate::units::group(m.model_commands_per_sec as u64),
        real,
        ratio
    )
}

/// The line on the simulator's memory per live key.
pub fn render_key_memory(bytes: f64, keys: u64, grown: u64, secs: f64) -> String {
    format!(
        "  simulator memory: {bytes:.1} B per live string key ({} keys of 10 B, peak growth {}, {secs:.1} s)\n",
        crate::units::group(keys),
        crate::units::human(grown as f64)
    )
}
