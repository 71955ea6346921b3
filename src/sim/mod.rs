//! Event replay: turns a scenario into operations on the model (Redis commands into the Redis
//! model, or plain mallocs and frees into the allocator model) and records, test by test, the
//! `INFO memory` vector and the OOM events.

pub mod breakdown;
pub mod claims;
pub mod commands;
mod error;
pub mod montecarlo;
pub mod sweep;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::jemalloc::bin::BinRow;
use crate::jemalloc::{Arena, ArenaOptions, ObjId};
use crate::redis::info::{FiguresMax, RawFigures};
use crate::redis::{InfoMemory, Server};
use crate::workload::{Flush, Scenario};
pub use breakdown::Breakdown;
pub use error::SimError;

/// What one test left behind: its peak, the field-wise maximum over its commands, and the
/// figures at its end, after its own cleanup, the flush after it and `test_seconds` of idle time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestRecord {
    pub test: u64,
    /// Byte figures: their maximum over the test. Ratios: their value at the moment of the
    /// test's peak RSS (see [`Peak`]).
    pub peak: InfoMemory,
    /// Every field's own maximum over the test, ratios included (a ratio's maximum can come
    /// from a moment when the server was nearly empty).
    pub max_over_time: InfoMemory,
    pub end: InfoMemory,
    /// Keys (Redis) or live objects (allocator only) at the end.
    pub keys: u64,
}

/// One OOM rule's verdict for a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OomVerdict {
    /// The limit, bytes.
    pub limit: u64,
    /// The first test (1-based) at which it struck, if it did.
    pub first_test: Option<u64>,
    /// Redis: commands refused (`-OOM command not allowed when used memory > 'maxmemory'`).
    /// Kernel: tests whose RSS went above the limit.
    pub events: u64,
    /// Redis: refusals per command name (only DENYOOM commands are refused; reads, DEL and
    /// FLUSHALL still run). Empty for the kernel's rule.
    pub refused_commands: std::collections::BTreeMap<String, u64>,
}

/// The outcome of one run of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub scenario: String,
    /// The Redis profile, or "none".
    pub profile: String,
    pub allocator: String,
    pub seed: u64,
    /// Byte figures: their maximum over all tests. Ratios: their value at the moment of peak
    /// RSS (the step of [`RunResult::peak_rss_step`]).
    pub peak: InfoMemory,
    /// Every field's own maximum over all tests, ratios included.
    pub max_over_time: InfoMemory,
    /// After the last test.
    pub end: InfoMemory,
    pub timeline: Vec<TestRecord>,
    /// Redis's `maxmemory` rule: judged on `used_memory` before each DENYOOM command.
    pub oom_maxmemory: Option<OomVerdict>,
    /// The kernel's or the container's limit: judged on RSS.
    pub oom_memory_limit: Option<OomVerdict>,
    /// The small bins after the last test (`malloc_stats_print`'s bins table), bins in use only.
    /// Not read back from JSON (a merge of shards does not use them): empty when deserialised.
    #[serde(skip_deserializing)]
    pub bins: Vec<BinRow>,
    /// The highest `used_memory` a DENYOOM command was checked against (0 without Redis): no
    /// write is refused with `maxmemory` at or above it.
    pub max_denyoom_check: u64,
    /// The replay step (commands, or allocation rounds, and test ends, counted from 1) at which
    /// `used_memory_rss` first reached its peak (among steps at the peak RSS, the one with the
    /// most `used_memory`): [`breakdown`] replays to it.
    pub peak_rss_step: u64,
    /// Where the bytes of RSS go at that step, when the run could take it in passing: when the
    /// step is the last test's last command or its end (the state is still at hand then, as it
    /// is in a run that fills a keyspace and keeps it); `None` otherwise ([`breakdown_at`]
    /// replays the run to the step). Not one of the run's figures: shard files carry it, so
    /// that a merge need not replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Breakdown>,
}

/// A peak over a stretch of steps: every field's maximum, and the ratios at the moment of peak
/// RSS (the first step with the highest RSS, and among those the most `used_memory`: the
/// fullest moment, the one [`RunResult::peak_rss_step`] names). Kept over the steps' raw
/// figures: no INFO field is computed until [`Peak::peak`] or [`Peak::max_over_time`] is asked.
#[derive(Debug, Clone, Default)]
pub struct Peak {
    max: FiguresMax,
    at: Option<(u64, u64)>,
    /// The figures at the moment of peak RSS; only the momentary fields (ratios and
    /// percentages) of their INFO are kept.
    moment: RawFigures,
}

impl Peak {
    /// One more step.
    #[inline]
    pub fn see(&mut self, f: &RawFigures) {
        self.max.see(f);
        self.moment((f.rss, f.used), f);
    }

    /// Another stretch's peak, as if its steps had been seen here.
    pub fn merge(&mut self, other: &Peak) {
        self.max.merge(&other.max);
        if let Some(k) = other.at {
            self.moment(k, &other.moment);
        }
    }

    /// A moment with (RSS, used_memory) `k`: it becomes the peak's if higher than the one held.
    #[inline]
    fn moment(&mut self, k: (u64, u64), f: &RawFigures) {
        if self.at.is_none_or(|at| k > at) {
            self.at = Some(k);
            self.moment = *f;
        }
    }

    /// Byte figures at their maximum, ratios at the moment of peak RSS (0 before any step).
    /// `mem_allocator` is empty.
    pub fn peak(&self) -> InfoMemory {
        let mut p = self.max.info();
        let moment = match self.at {
            Some(_) => InfoMemory::compute(&self.moment, String::new()),
            None => InfoMemory::default(),
        };
        p.copy_momentary(&moment);
        p
    }

    /// Every field at its own maximum (0 before any step). `mem_allocator` is empty.
    pub fn max_over_time(&self) -> InfoMemory {
        self.max.info()
    }
}

fn kernel_verdict(limit: Option<u64>, timeline: &[TestRecord]) -> Option<OomVerdict> {
    limit.map(|limit| {
        let over: Vec<u64> = timeline
            .iter()
            .filter(|r| r.peak.used_memory_rss > limit)
            .map(|r| r.test)
            .collect();
        OomVerdict {
            limit,
            first_test: over.first().copied(),
            events: over.len() as u64,
            refused_commands: Default::default(),
        }
    })
}

/// Replays a scenario with seed `seed`, calling `progress` after each test.
pub fn run(sc: &Scenario, seed: u64, progress: impl FnMut(u64)) -> RunResult {
    replay(sc, seed, progress, &mut Probe::default())
}

/// Where the bytes of RSS go at the peak of the run with seed `seed`: taken in the run when it
/// peaks at its end, else by replaying the run up to its peak-RSS step and decomposing the
/// model's state there.
pub fn breakdown(sc: &Scenario, seed: u64) -> Breakdown {
    let r = run(sc, seed, |_| {});
    breakdown_of(sc, &r)
}

/// Where the bytes of RSS go at the peak of run `r` of `sc`: the decomposition `r` took in
/// passing, or a replay of the run to its peak-RSS step.
pub fn breakdown_of(sc: &Scenario, r: &RunResult) -> Breakdown {
    // A decomposition taken without owner tags has no memory by key pattern: replayed.
    r.breakdown
        .clone()
        .filter(|b| !sc.by_pattern || sc.redis.is_none() || !b.by_pattern.is_empty())
        .unwrap_or_else(|| breakdown_at(sc, r.seed, r.peak_rss_step))
}

/// Where the bytes of RSS go after replay step `step` (see [`RunResult::peak_rss_step`]).
pub fn breakdown_at(sc: &Scenario, seed: u64, step: u64) -> Breakdown {
    let mut probe = Probe {
        at: step,
        ..Probe::default()
    };
    replay(sc, seed, |_| {}, &mut probe);
    probe.taken.expect("the step is within the run")
}

/// Stops a replay after step `at` (0: never) and keeps the decomposition taken there; or, with
/// `record` set, records the Redis heap's allocation trace and stops once it holds that many
/// events.
#[derive(Default)]
struct Probe {
    at: u64,
    taken: Option<Breakdown>,
    record: usize,
    trace: Vec<crate::jemalloc::trace::TraceOp>,
}

/// The allocation trace (mallocs, frees, purges) of a Redis scenario's heap, cut at `events`
/// events: what `fragsim bench` replays through the model and the real jemalloc. The scenario's
/// tests are repeated as needed to reach `events`.
pub fn redis_trace(sc: &Scenario, seed: u64, events: usize) -> Vec<crate::jemalloc::trace::TraceOp> {
    let mut sc = sc.clone();
    // Every test allocates (each writes at least one key), so this many tests are enough.
    sc.tests = events.max(1) as u64;
    let mut probe = Probe {
        record: events.max(1),
        ..Probe::default()
    };
    replay(&sc, seed, |_| {}, &mut probe);
    probe.trace.truncate(events);
    probe.trace
}

/// Counts replay steps and remembers where RSS peaked.
#[derive(Default)]
struct Steps {
    n: u64,
    peak: (u64, u64),
    peak_step: u64,
}

impl Steps {
    /// One more step ending with figures `f` (only its RSS and `used_memory` are read); true
    /// when the probe wants this one. The peak is the highest RSS, and among the steps at that
    /// RSS the one with the most `used_memory` (the fullest moment, not an empty server whose
    /// pages are still resident).
    #[inline]
    fn step(&mut self, f: &RawFigures, probe: &Probe) -> bool {
        self.n += 1;
        let at = (f.rss, f.used);
        if at > self.peak || self.peak_step == 0 {
            self.peak = at;
            self.peak_step = self.n;
        }
        probe.at == self.n
    }
}

fn replay(sc: &Scenario, seed: u64, progress: impl FnMut(u64), probe: &mut Probe) -> RunResult {
    match &sc.redis {
        Some(_) => run_redis(sc, seed, progress, probe),
        None => run_allocator(sc, seed, progress, probe),
    }
}

fn redis_breakdown(sc: &Scenario, server: &Server, f: &RawFigures) -> Breakdown {
    let heap = &server.heap;
    let (values_payload, values_footprint) = server.value_footprint();
    let (structure, grown, held) = server.collection_structure();
    let residency = heap.arena.residency();
    let b = Breakdown::compose(
        f.rss,
        server.payload_bytes(),
        heap.zmalloc_used - heap.zmalloc_requested - grown,
        server.startup_bytes(),
        &residency,
    );
    Breakdown {
        used_memory: f.used,
        allocator_active: f.active,
        values_payload,
        values_footprint,
        used_memory_startup: f.startup,
        collections: structure.saturating_sub(held).min(b.redis_overhead),
        by_pattern: if heap.tracks_owners() {
            by_pattern(sc, server, f, &residency)
        } else {
            Vec::new()
        },
        ..b
    }
}

/// The figures `f` of `server` by key pattern (see [`breakdown::Share`]): each key group's
/// blocks (tagged by the commands that made them), then the server's own, the allocator's and
/// the baseline, the last taking what the others leave so that each column sums to its
/// figure.
fn by_pattern(
    sc: &Scenario,
    server: &Server,
    f: &RawFigures,
    r: &crate::jemalloc::Residency,
) -> Vec<breakdown::Share> {
    use crate::redis::heap::{TAG_GROUP0, TAG_OTHER, TAG_SERVER, TAG_STARTUP};
    let (owned, keys) = server.by_owner();
    let row =
        |name: &str, shared: bool, o: &crate::jemalloc::OwnedBytes, used: u64, keys: u64| breakdown::Share {
            name: name.into(),
            pattern: None,
            shared,
            keys,
            used_memory: used,
            allocator_active: o.active,
            pad_pages: o.pad,
            slab_holes: o.holes,
            rss: o.resident,
        };
    let last = (TAG_OTHER - 1) as usize;
    let mut rows: Vec<breakdown::Share> = sc
        .keys
        .iter()
        .enumerate()
        .take(last - TAG_GROUP0 as usize + 1)
        .map(|(g, k)| {
            let t = TAG_GROUP0 as usize + g;
            let mut s = row(&k.name, false, &owned[t], owned[t].usable, keys[t]);
            s.pattern = k.key_shape.pattern.clone();
            s
        })
        .collect();
    // The groups past the tags there are share the last tag (`Server::set_owner`).
    if sc.keys.len() > last - TAG_GROUP0 as usize + 1 {
        rows.last_mut().expect("a group").name =
            format!("{} and later groups", sc.keys[last - TAG_GROUP0 as usize].name);
    }
    // The server's own blocks; Lua's plain-malloc heap is in the allocator's figures only.
    let mut own = owned[TAG_SERVER as usize];
    own.add(&owned[TAG_OTHER as usize]);
    rows.push(row("server", true, &own, owned[TAG_SERVER as usize].usable, 0));
    // The thread cache's objects, unpurged pages (spare slabs among them) and metadata.
    let mut a = row("allocator", true, &owned[256], 0, 0);
    a.rss += r.dirty_touched + r.metadata_resident;
    let start = &owned[TAG_STARTUP as usize];
    let sum =
        |rows: &[breakdown::Share], col: fn(&breakdown::Share) -> u64| rows.iter().map(col).sum::<u64>();
    a.allocator_active = f
        .active
        .saturating_sub(sum(&rows, |s| s.allocator_active) + start.active);
    rows.push(a);
    let mut b = row(
        "baseline",
        true,
        start,
        f.used.saturating_sub(sum(&rows, |s| s.used_memory)),
        0,
    );
    b.allocator_active = f.active.saturating_sub(sum(&rows, |s| s.allocator_active));
    b.rss = f.rss.saturating_sub(sum(&rows, |s| s.rss));
    rows.push(b);
    rows
}

fn run_redis(sc: &Scenario, seed: u64, mut progress: impl FnMut(u64), probe: &mut Probe) -> RunResult {
    let profile = sc.redis.clone().expect("Redis scenario");
    let mut server = Server::new(profile.clone(), seed).expect("validated profile");
    server.maxmemory = sc.maxmemory.unwrap_or(0);
    if sc.by_pattern {
        server.heap.track_owners();
    }
    if probe.record > 0 {
        server.heap.record();
    }
    let mut rng = commands::rng_for(seed);
    let mut timeline = Vec::with_capacity(sc.tests.min(1 << 20) as usize);
    let test_ns = (sc.test_seconds * 1e9) as u64;
    let cmd_ns = command_gap_ns(sc);
    let mut first_refusal_test = None;
    let mut steps = Steps::default();
    let mut run_peak = Peak::default();
    let mut cmd = commands::Command::default();
    let mut after = commands::Command::default();
    // Decompositions taken in passing, by step (see `RunResult::breakdown`).
    let mut taken: Vec<(u64, Breakdown)> = Vec::new();
    'tests: for t in 0..sc.tests {
        let before = server.refusals.len();
        let clients: Vec<_> = (0..sc.parallel).map(|_| server.connect()).collect();
        // The steps the replay counts (each command, then the test's end), so that the peak's
        // moment is the step `peak_rss_step` names.
        let mut peak = Peak::default();
        let mut any = false;
        let mut plan = commands::TestPlan::new(sc, t, &mut rng);
        // Commands are drawn two ahead (the plan draws from the run's generator only, and
        // nothing else draws from it within a test), so that the key of the command after
        // next is fetched into the processor's cache while two steps are taken.
        let mut next = plan.next_into(&mut rng, &mut cmd);
        let mut then = next.and_then(|_| plan.next_into(&mut rng, &mut after));
        if then.is_some() {
            server.prefetch(after.args());
        }
        while let Some(p) = next {
            server.set_owner(cmd.group());
            let reply = server
                .exec(clients[p], cmd.args())
                .expect("the test's clients are connected");
            // A scenario sends only what the model runs: a refusal is the model's fault, and a
            // run that went on would report a server that never held the key.
            if let crate::redis::server::Reply::Unsupported(why) = reply {
                panic!("the model refused a command a scenario sends ({why}): please report this");
            }
            // The next command arrives one gap later: the cron and decay run in between.
            server.advance(cmd_ns);
            if let Some(r) = server.heap.recorder.as_mut() {
                if r.ops.len() >= probe.record {
                    probe.trace = std::mem::take(&mut r.ops);
                    break 'tests;
                }
            }
            std::mem::swap(&mut cmd, &mut after);
            next = then;
            then = next.and_then(|_| plan.next_into(&mut rng, &mut after));
            if then.is_some() {
                server.prefetch(after.args());
            }
            let now = server.step_figures();
            if steps.step(&now, probe) {
                probe.taken = Some(redis_breakdown(sc, &server, &now));
                break 'tests;
            }
            peak.see(&now);
            any = true;
        }
        let last_test = t + 1 == sc.tests;
        if last_test && any && steps.peak_step == steps.n {
            // The last command's step (the state has not changed since), the peak so far:
            // decomposed now, in case it stays the peak (a step that is not the peak so far
            // never becomes it).
            taken.push((steps.n, redis_breakdown(sc, &server, &server.step_figures())));
        }
        for c in clients {
            server.disconnect(c);
        }
        server.advance(test_ns);
        let end = server.measured_figures();
        if steps.step(&end, probe) {
            probe.taken = Some(redis_breakdown(sc, &server, &end));
            break;
        }
        if last_test && steps.peak_step == steps.n {
            taken.push((steps.n, redis_breakdown(sc, &server, &end)));
        }
        if server.refusals.len() > before && first_refusal_test.is_none() {
            first_refusal_test = Some(t + 1);
        }
        peak.see(&end);
        run_peak.merge(&peak);
        timeline.push(TestRecord {
            test: t + 1,
            peak: peak.peak(),
            max_over_time: peak.max_over_time(),
            end: server.info_of(&end),
            keys: server.dbsize(),
        });
        progress(t + 1);
    }
    let mut r = finish(
        sc,
        &profile.name,
        seed,
        timeline,
        &run_peak,
        &server.heap.arena,
        first_refusal_test,
        refused_by_command(&server),
    );
    r.max_denyoom_check = server.max_denyoom_check;
    r.peak_rss_step = steps.peak_step;
    r.breakdown = in_passing(&taken, steps.peak_step);
    r
}

impl RunResult {
    /// Keys (Redis) or live objects after the last test.
    pub fn end_keys(&self) -> u64 {
        self.timeline.last().map_or(0, |t| t.keys)
    }
}

/// The decomposition taken in passing at step `peak`, if one was.
fn in_passing(taken: &[(u64, Breakdown)], peak: u64) -> Option<Breakdown> {
    taken.iter().find(|(n, _)| *n == peak).map(|(_, b)| b.clone())
}

/// Simulated time between two commands the server receives: each of the `parallel` test
/// processes sends `commands_per_second`.
pub fn command_gap_ns(sc: &Scenario) -> u64 {
    (1e9 / (sc.commands_per_second * sc.parallel as f64)).round() as u64
}

fn refused_by_command(server: &Server) -> std::collections::BTreeMap<String, u64> {
    let mut m = std::collections::BTreeMap::new();
    for r in &server.refusals {
        *m.entry(r.command.clone()).or_insert(0) += 1;
    }
    m
}

#[allow(clippy::too_many_arguments)]
fn finish(
    sc: &Scenario,
    profile: &str,
    seed: u64,
    timeline: Vec<TestRecord>,
    run_peak: &Peak,
    arena: &Arena,
    first_refusal: Option<u64>,
    refused: std::collections::BTreeMap<String, u64>,
) -> RunResult {
    let peak = run_peak.peak();
    let max_over_time = run_peak.max_over_time();
    let end = timeline.last().map(|r| r.end.clone()).unwrap_or_default();
    RunResult {
        scenario: sc.name.clone(),
        profile: profile.into(),
        allocator: sc.allocator_preset.clone(),
        seed,
        oom_maxmemory: sc.maxmemory.map(|limit| OomVerdict {
            limit,
            first_test: first_refusal,
            events: refused.values().sum(),
            refused_commands: refused,
        }),
        oom_memory_limit: kernel_verdict(sc.memory_limit, &timeline),
        peak,
        max_over_time,
        end,
        timeline,
        bins: arena.bin_table().into_iter().filter(|b| b.curslabs > 0).collect(),
        max_denyoom_check: 0,
        peak_rss_step: 0,
        breakdown: None,
    }
}

/// One live object of a plain allocator workload, 8 bytes: the model's object id (its usable
/// size is the arena's) and its size-class rounding (usable minus requested; exact below 4 GiB
/// of rounding, which only objects of 16 GiB and more could reach).
#[derive(Clone, Copy)]
struct Live {
    id: ObjId,
    rounding: u32,
}

/// Frees a live object; returns (usable, requested) bytes.
fn free_live(arena: &mut Arena, o: Live) -> (u64, u64) {
    let usable = arena.usable_size(o.id);
    arena.free(o.id);
    (usable, usable - o.rounding as u64)
}

/// The INFO-shaped figures of a plain allocator workload: `used_memory` is the usable size of
/// the live objects (what a program counting `malloc_usable_size` sees), RSS the written pages
/// and the allocator's metadata (the process holds nothing else).
fn allocator_figures(arena: &Arena, used: u64, peak_used: u64) -> RawFigures {
    let s = arena.sample_stats();
    let page = arena.size_classes().page();
    RawFigures {
        used,
        peak: peak_used.max(used),
        allocated: s.allocated,
        active: s.active,
        resident: s.resident,
        rss: s.touched_pages * page + s.metadata_resident,
        rss_used: used,
        ..RawFigures::default()
    }
}

/// [`allocator_figures`] as INFO memory, `mem_allocator` naming the modelled jemalloc.
fn allocator_info(arena: &Arena, f: &RawFigures) -> InfoMemory {
    InfoMemory::compute(f, format!("jemalloc-{}", arena.config().version))
}

fn run_allocator(sc: &Scenario, seed: u64, mut progress: impl FnMut(u64), probe: &mut Probe) -> RunResult {
    let mut arena = Arena::new(
        &sc.allocator,
        ArenaOptions {
            dedicated: false,
            seed,
        },
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut live: Vec<Live> = Vec::new();
    let mut used = 0u64;
    let mut requested = 0u64;
    let mut peak_used = 0u64;
    let mut steps = Steps::default();
    let take = |arena: &Arena, used: u64, requested: u64, rss: u64| {
        let r = arena.residency();
        Breakdown {
            used_memory: used,
            values_payload: requested,
            values_footprint: r.live + r.pad,
            ..Breakdown::compose(rss, requested, used - requested, 0, &r)
        }
    };
    let mut timeline = Vec::with_capacity(sc.tests as usize);
    let mut run_peak = Peak::default();
    let mut taken: Vec<(u64, Breakdown)> = Vec::new();
    let test_ns = (sc.test_seconds * 1e9) as u64;
    let flush = |arena: &mut Arena, live: &mut Vec<Live>, used: &mut u64, requested: &mut u64| {
        for o in live.drain(..) {
            let (u, r) = free_live(arena, o);
            *used -= u;
            *requested -= r;
        }
        arena.purge();
    };
    for t in 0..sc.tests {
        if sc.flush == Flush::BeforeEach && t > 0 {
            flush(&mut arena, &mut live, &mut used, &mut requested);
        }
        let first_new = live.len();
        for k in &sc.keys {
            for _ in 0..k.count {
                let size = k.value_size.sample(&mut rng);
                let id = arena.malloc(size).expect("validated sizes are modelable");
                let usable = arena.usable_size(id);
                let o = Live {
                    id,
                    rounding: (usable - size).min(u32::MAX as u64) as u32,
                };
                // What free_live will take back off.
                used += usable;
                requested += usable - o.rounding as u64;
                live.push(o);
            }
        }
        peak_used = peak_used.max(used);
        let full = allocator_figures(&arena, used, peak_used);
        if steps.step(&full, probe) {
            probe.taken = Some(take(&arena, used, requested, full.rss));
            break;
        }
        let last_test = t + 1 == sc.tests;
        if last_test {
            taken.push((steps.n, take(&arena, used, requested, full.rss)));
        }
        let mut peak = Peak::default();
        peak.see(&full);
        // The test frees a share of what it wrote; which objects is drawn at random.
        let mut base = first_new;
        for k in &sc.keys {
            let n = k.count as usize;
            let ndel = (k.cleanup * n as f64).round() as usize;
            if ndel > 0 {
                let mut group: Vec<u32> = (0..n as u32).collect();
                for i in 0..ndel {
                    let j = rng.random_range(i..n);
                    group.swap(i, j);
                }
                for &g in &group[..ndel] {
                    let idx = base + g as usize;
                    let (u, r) = free_live(&mut arena, live[idx]);
                    used -= u;
                    requested -= r;
                    live[idx].id = ObjId::MAX;
                }
            }
            base += n;
        }
        live.retain(|o| o.id != ObjId::MAX);
        arena.advance(test_ns);
        if sc.flush == Flush::AfterEach {
            flush(&mut arena, &mut live, &mut used, &mut requested);
        }
        let end = allocator_figures(&arena, used, peak_used);
        if steps.step(&end, probe) {
            probe.taken = Some(take(&arena, used, requested, end.rss));
            break;
        }
        if last_test {
            taken.push((steps.n, take(&arena, used, requested, end.rss)));
        }
        peak.see(&end);
        run_peak.merge(&peak);
        timeline.push(TestRecord {
            test: t + 1,
            peak: peak.peak(),
            max_over_time: peak.max_over_time(),
            end: allocator_info(&arena, &end),
            keys: live.len() as u64,
        });
        progress(t + 1);
    }
    let mut r = finish(
        sc,
        "none",
        seed,
        timeline,
        &run_peak,
        &arena,
        None,
        Default::default(),
    );
    r.peak_rss_step = steps.peak_step;
    r.breakdown = in_passing(&taken, steps.peak_step);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory by key pattern on Redis 7.0 as Debian builds it (size classes 8, 16, 32, 48, 64,
    /// 80, 96, 112, ...): 100 keys `a:0`..`a:99` of 100-B strings take a dict entry (24 -> 32),
    /// a name (type-5 sds, 1 + 3 or 4 + 1 -> 8), an robj (16) and a raw sds (3 + 100 + 1 ->
    /// 112) each: 168 B a key; 10 hashes `b:0`..`b:9` of 2 fields: an entry, a name, an robj,
    /// a listpack (at the moment of peak RSS). Every column sums to its figure.
    #[test]
    fn memory_by_pattern_is_each_groups_blocks_and_sums_to_the_figures() {
        let text = "name = \"p\"\n[server]\nprofile = \"redis-7.0-debian\"\n[workload]\ntests = 1\n\
             [[workload.keys]]\nname = \"a\"\ncount = 100\nvalue_size = 100\nkey_pattern = \"a:{n}\"\n\
             [[workload.keys]]\nname = \"b\"\ncount = 10\ntype = \"hash\"\nfields = 2\nvalue_size = 5\nkey_pattern = \"b:{n}\"\n";
        let f = crate::workload::parse(text, "p").unwrap().with_by_pattern();
        let sc = f.first();
        let r = run(sc, 1, |_| {});
        let b = breakdown_of(sc, &r);
        let rows = &b.by_pattern;
        let names: Vec<&str> = rows.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "server", "allocator", "baseline"]);
        // The moment is the peak of RSS, which can come before the last hash is written.
        assert_eq!(rows[0].keys, 100);
        assert!((1..=10).contains(&rows[1].keys), "{}", rows[1].keys);
        assert_eq!(rows[0].used_memory, 100 * (32 + 8 + 16 + 112));
        assert_eq!(rows[0].pattern.as_deref(), Some("a:{n}"));
        // A 2-field listpack: header 6 + end 1 + 2 x (f0, 5-B value: 1 + 2 + 1, 1 + 5 + 1) = 25
        // bytes -> 32.
        assert_eq!(rows[1].used_memory, rows[1].keys * (32 + 8 + 16 + 32));
        assert_eq!(rows.iter().map(|s| s.used_memory).sum::<u64>(), b.used_memory);
        assert_eq!(
            rows.iter().map(|s| s.allocator_active).sum::<u64>(),
            b.allocator_active
        );
        assert_eq!(rows.iter().map(|s| s.rss).sum::<u64>(), b.rss);
        // Asked for only: a run not asked keeps no owners.
        let plain = crate::workload::parse(text, "p").unwrap();
        assert!(breakdown_of(plain.first(), &run(plain.first(), 1, |_| {}))
            .by_pattern
            .is_empty());
        for s in &rows[..2] {
            assert_eq!(s.allocator_active, s.used_memory + s.pad_pages + s.slab_holes);
        }
    }

    /// Two groups of one pattern and one length distribution name different keys with
    /// `first_key` and `key_step` (group 0: 0, 2, 4, ...; group 1: 1, 3, 5, ...), however many
    /// keys each has; without them they would write the same names.
    #[test]
    fn groups_of_one_pattern_number_their_keys_apart() {
        let group = |first: &str| {
            format!(
                "[[workload.keys]]\nname = \"g{first}\"\ncount = 300\nvalue_size = 5\nkey_pattern = \"u:{{n}}\"\n\
                 key_size = {{ dist = \"choice\", values = [4, 6], weights = [1, 3] }}\n{}",
                if first.is_empty() { String::new() } else { format!("first_key = {first}\nkey_step = 2\n") }
            )
        };
        let head = "name = \"k\"\n[server]\nprofile = \"redis-7.0-debian\"\n[workload]\ntests = 1\n";
        let apart = format!("{head}{}{}", group("0"), group("1"));
        let f = crate::workload::parse(&apart, "k").unwrap();
        assert_eq!(run(f.first(), 1, |_| {}).end_keys(), 600);
        let same = format!(
            "{head}{}{}",
            group(""),
            group("").replace("name = \"g\"", "name = \"h\"")
        );
        let f = crate::workload::parse(&same, "k").unwrap();
        assert_eq!(run(f.first(), 1, |_| {}).end_keys(), 300);
    }

    /// Growth: each test after the first adds `count x growth` keys beside the ones before, so
    /// the keyspace after the last test is the first test's grown by that much per test.
    #[test]
    fn growth_adds_keys_test_by_test() {
        let text = "name = \"g\"\n[server]\nprofile = \"redis-7.0-debian\"\n[workload]\ntests = 5\nflush = \"none\"\n\
             [[workload.keys]]\nname = \"a\"\ncount = 1000\nvalue_size = 20\nkey_pattern = \"a:{n}\"\ngrowth = 0.015\n";
        let f = crate::workload::parse(text, "g").unwrap();
        let sc = f.first();
        let r = run(sc, 1, |_| {});
        let keys: Vec<u64> = r.timeline.iter().map(|t| t.keys).collect();
        assert_eq!(keys, [1000, 1015, 1030, 1045, 1060]);
        assert_eq!(sc.keys[0].written_in(4), 1045..1060);
    }

    /// The peak as it was kept before raw figures: each step's INFO computed and raised into a
    /// zeroed maximum, the momentary fields copied at the moment of peak RSS.
    #[derive(Default)]
    struct InfoPeak {
        max: InfoMemory,
        at: Option<(u64, u64)>,
        moment: InfoMemory,
    }

    impl InfoPeak {
        fn see(&mut self, f: &RawFigures) {
            let info = InfoMemory::compute(f, String::new());
            self.max.raise(&info);
            self.moment((info.used_memory_rss, info.used_memory), &info);
        }

        fn merge(&mut self, other: &InfoPeak) {
            self.max.raise(&other.max);
            if let Some(k) = other.at {
                let m = other.moment.clone();
                self.moment(k, &m);
            }
        }

        fn moment(&mut self, k: (u64, u64), info: &InfoMemory) {
            if self.at.is_none_or(|at| k > at) {
                self.at = Some(k);
                self.moment.copy_momentary(info);
            }
        }

        fn peak(&self) -> InfoMemory {
            let mut p = self.max.clone();
            p.copy_momentary(&self.moment);
            p
        }
    }

    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// A byte figure: zeros, small numbers, realistic sizes, numbers about the edges of the
        /// exact domains (2^46 for a percentage's numerator, 2^53 for a double) and huge ones
        /// (below 2^62, so that INFO's `i64` differences do not overflow).
        fn value(&mut self) -> u64 {
            let edge = |g: &mut Gen, e: u32| {
                let d = g.below(2_000);
                if g.below(2) == 0 {
                    (1u64 << e) - d
                } else {
                    (1u64 << e) + d
                }
            };
            match self.below(12) {
                0 => 0,
                1 => 1 + self.below(4),
                2 => self.below(1_000),
                3 | 4 => self.below(1 << 24),
                5 | 6 => self.below(1 << 36),
                7 => edge(self, 46),
                8 => edge(self, 53),
                9 => self.below(1 << 62),
                _ => 1_000_000 + self.below(100_000),
            }
        }

        /// `x` scaled by a random fraction, so that quotients repeat or come close.
        fn scaled(&mut self, x: u64) -> u64 {
            let (k, m) = (1 + self.below(8), 1 + self.below(8));
            ((x as u128 * k as u128 / m as u128) as u64).min((1 << 62) - 1)
        }

        fn figures(&mut self, prev: &RawFigures) -> RawFigures {
            let mut f = RawFigures::default();
            let fields: [&mut u64; 16] = [
                &mut f.used,
                &mut f.peak,
                &mut f.overhead,
                &mut f.startup,
                &mut f.allocated,
                &mut f.active,
                &mut f.resident,
                &mut f.rss,
                &mut f.rss_used,
                &mut f.vm_eval,
                &mut f.vm_functions,
                &mut f.scripts_eval,
                &mut f.functions,
                &mut f.nscripts,
                &mut f.maxmemory,
                &mut f.clients_normal,
            ];
            let prev = [
                prev.used,
                prev.peak,
                prev.overhead,
                prev.startup,
                prev.allocated,
                prev.active,
                prev.resident,
                prev.rss,
                prev.rss_used,
                prev.vm_eval,
                prev.vm_functions,
                prev.scripts_eval,
                prev.functions,
                prev.nscripts,
                prev.maxmemory,
                prev.clients_normal,
            ];
            // Pairs scaled together repeat a quotient exactly; a nudge of one makes the nearest
            // different one.
            let together = self.below(3) == 0;
            let (k, m) = (1 + self.below(6), 1 + self.below(6));
            for (i, v) in fields.into_iter().enumerate() {
                *v = match self.below(5) {
                    0 => prev[i],
                    1 if together => ((prev[i] as u128 * k as u128 / m as u128) as u64).min((1 << 62) - 1),
                    2 => {
                        let s = self.scaled(prev[i]);
                        (s + self.below(3)).saturating_sub(1)
                    }
                    _ => self.value(),
                };
            }
            f
        }
    }

    fn same(a: &InfoMemory, b: &InfoMemory, what: &str) {
        // Debug shows every float exactly (and a negative zero as one).
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{what}");
        for &fld in Field::ALL {
            assert_eq!(a.get(fld).to_bits(), b.get(fld).to_bits(), "{what}: {fld}");
        }
    }

    use crate::redis::info::Field;

    /// Peaks over raw figures are the peaks of the INFO computed at every step, field for field
    /// and bit for bit: per stretch, and merged over stretches (as a run merges its tests), on
    /// random sequences full of zeros, repeated and nearly equal quotients, and figures about
    /// the edges of the doubles' exact integers.
    #[test]
    fn raw_peaks_are_the_peaks_of_each_steps_info() {
        let mut g = Gen(0x2545_f491_4f6c_dd1d);
        for seq in 0..3_000 {
            let mut run = Peak::default();
            let mut run_old = InfoPeak::default();
            same(&run.peak(), &run_old.peak(), "empty");
            same(&run.max_over_time(), &run_old.max, "empty");
            let mut prev = RawFigures::default();
            for _ in 0..1 + g.below(6) {
                let mut peak = Peak::default();
                let mut old = InfoPeak::default();
                for _ in 0..g.below(40) {
                    let f = g.figures(&prev);
                    // RSS and used_memory repeat often, so that moments tie.
                    let f = if g.below(4) == 0 {
                        RawFigures {
                            rss: prev.rss,
                            used: prev.used,
                            ..f
                        }
                    } else {
                        f
                    };
                    peak.see(&f);
                    old.see(&f);
                    prev = f;
                }
                same(&peak.peak(), &old.peak(), &format!("sequence {seq}: peak"));
                same(&peak.max_over_time(), &old.max, &format!("sequence {seq}: max"));
                run.merge(&peak);
                run_old.merge(&old);
            }
            same(&run.peak(), &run_old.peak(), &format!("sequence {seq}: run peak"));
            same(
                &run.max_over_time(),
                &run_old.max,
                &format!("sequence {seq}: run max"),
            );
        }
    }

    /// Quotients that differ by less than a double can tell apart, and huge ones whose
    /// conversion to a double rounds, still give the maximum the per-step INFO gives.
    #[test]
    fn nearly_equal_and_huge_quotients() {
        let base = RawFigures {
            used: 3,
            peak: 3,
            rss: 3,
            rss_used: 3,
            allocated: 1,
            active: 1,
            resident: 1,
            ..RawFigures::default()
        };
        let cases: Vec<(u64, u64)> = vec![
            (0, 0),
            (5, 0),
            (0, 7),
            (1, 3),
            (2, 6),
            (1 << 52, 3 << 50),
            ((1 << 53) + 1, 1 << 53),
            ((1 << 53) - 1, (1 << 53) - 2),
            ((1 << 53) + 3, (1 << 53) + 2),
            ((1 << 46) + 1, (1 << 46) - 1),
            (1 << 46, (1 << 46) - 1),
            ((1 << 62) - 1, (1 << 62) - 3),
            (1_000_001, 1_000_000),
            (1_000_000_001, 1_000_000_000),
            (10_005, 10_000),
            (10_004, 10_000),
        ];
        for (i, &(a, b)) in cases.iter().enumerate() {
            for &(c, d) in &cases[i..] {
                for order in [[(a, b), (c, d)], [(c, d), (a, b)]] {
                    let mut peak = Peak::default();
                    let mut old = InfoPeak::default();
                    for (n, (x, y)) in order.into_iter().enumerate() {
                        // The pair goes into every ratio and percentage at once.
                        let f = RawFigures {
                            used: x,
                            peak: y,
                            overhead: 0,
                            startup: x.saturating_sub(y),
                            allocated: y,
                            active: x,
                            resident: x,
                            rss: x + n as u64,
                            rss_used: y,
                            ..base
                        };
                        peak.see(&f);
                        old.see(&f);
                    }
                    let what = format!("{order:?}");
                    same(&peak.peak(), &old.peak(), &what);
                    same(&peak.max_over_time(), &old.max, &what);
                }
            }
        }
    }
}
