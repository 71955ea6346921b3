//! What a scenario asks of the machine, estimated before running it: simulator memory, results,
//! operations and time, per field, so that a refusal can name the costliest one.

use serde::Serialize;

use super::scenario::Content;
use super::*;

/// What a scenario asks of the machine, estimated before running it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Operations replayed over all variants and runs: commands, plus the server cron's ticks
    /// (10 per simulated second, each counted as a tenth of a command).
    pub events: f64,
    /// Keys or objects alive at once in one run, at most (a test's keys all exist before its
    /// cleanup deletes some).
    pub peak_live: f64,
    /// Bytes of simulator memory the runs need at once (live objects × per-object cost × runs in
    /// flight), and the results they leave (per test of each variant, and of each run).
    pub memory_bytes: f64,
    /// CPU seconds the runs take, about (all threads together).
    pub cpu_seconds: f64,
}

/// Simulator bytes per live string key in the Redis model (a value held in the key's own record,
/// up to the embedded-string limit; one in a slab; one with an extent of its own), per hash
/// field (in a listpack, in a hashtable), and per object of a plain allocator workload, small
/// (a slab region) or large (an extent of its own). Peak RSS of one run, less the 12 MiB of an
/// empty one, measured on this project's machine: 10,000,000 SETs of 10 B 528 MiB (55 B per
/// key, with the key index's 8-byte slots at most 3/4 full), 50,000,000 2.4 GiB (51 B);
/// 400,000 of 100 B 32 MiB (85 B), 200,000 of 30 KB 29 MiB (153 B); 2,000,000 hash fields in
/// listpacks 71 MiB (37 B per field with the keys, before a listpack's fields were packed into
/// one buffer: a field is its name and two lengths), 400,000 in hashtables 67 MiB (175 B); 3,000,000 allocator objects
/// of 100 B 23 MiB (8 B each: a small object's id names its region, so the model keeps no entry
/// per small object), 1,000,000 of 32 KiB 79 MiB (83 B each); the 33.5 M objects of 32 KiB of
/// `scenarios/terabyte.toml` 2.82 GiB (90 B each). Each a little above the measured, so that
/// the estimate errs towards refusing; `tests/it/estimate.rs` holds it within 2x of real runs.
pub const SIM_BYTES_PER_SMALL_KEY: f64 = 64.0;
const SIM_BYTES_PER_SLAB_KEY: f64 = 100.0;
const SIM_BYTES_PER_KEY: f64 = 170.0;
const SIM_BYTES_PER_FIELD: f64 = 250.0;
const SIM_BYTES_PER_LISTPACK_FIELD: f64 = 40.0;
const SIM_BYTES_PER_SMALL_OBJECT: f64 = 10.0;
const SIM_BYTES_PER_LARGE_OBJECT: f64 = 100.0;
/// Simulator bytes per list element (a 12-byte record in its node's deque), per intset member
/// (8 bytes), per member of a dict set (a 24-byte record, its index slot, its blocks' entries in
/// the allocator model) and per member of a skiplist sorted set (a 32-byte record, its name,
/// index and order slots, three blocks). Peak RSS of one run less an empty one's, measured on
/// this project's machine (2026-12-04): 1,000,000 list elements of 50 B 8.7 MiB (9.1 B each),
/// 1,000,000 intset members 4.1 MiB (4.3 B), 400,000 dict set members of 12 B 12.3 MiB (32
/// B), 1,000,000 listpack sorted-set members of 16 B 30.7 MiB (32 B, under the listpack
/// field's 40), 400,000 skiplist members of 16 B 24.2 MiB (63 B); each constant a little above.
const SIM_BYTES_PER_LIST_ELEMENT: f64 = 12.0;
const SIM_BYTES_PER_INTSET_MEMBER: f64 = 6.0;
const SIM_BYTES_PER_SET_MEMBER: f64 = 40.0;
const SIM_BYTES_PER_SKIPLIST_MEMBER: f64 = 80.0;
/// Simulator bytes per script in the script cache (its SHA and its entry; the body's bytes are
/// not kept).
const SIM_BYTES_PER_SCRIPT: f64 = 300.0;
/// The most simulator bytes one live object of a plain allocator workload takes (a large one),
/// for `fragsim bench --live`'s bound.
pub const SIM_BYTES_PER_OBJECT: f64 = SIM_BYTES_PER_LARGE_OBJECT;
/// Memory the results take per test of a variant (the Monte Carlo summary of every INFO field at
/// the test's peak and end, and its JSON and CSV as they are written), and per test of each run
/// (measured: 10,000 tests took 197 MB with 3 runs and 798 MB with 100; 100,000 tests with 3
/// runs 1.9 GB, writing a 966 MB result.json).
const RESULT_BYTES_PER_TEST: f64 = 20_000.0;
const RESULT_BYTES_PER_TEST_RUN: f64 = 640.0;
/// Commands per CPU second through the Redis model and objects through the allocator model
/// (measured on this project's machine, with room).
const REDIS_EVENTS_PER_SECOND: f64 = 5.0e5;
const ALLOCATOR_EVENTS_PER_SECOND: f64 = 2.0e6;

impl Scenario {
    /// Payload bytes alive at once, at most, on average draws: every key of every test that is
    /// not flushed, in every test process.
    pub fn live_payload_bytes(&self) -> f64 {
        let tests_alive = if self.flush == Flush::None {
            self.tests as f64
        } else {
            1.0
        };
        self.keys
            .iter()
            .map(|k| k.count as f64 * k.values_per_key() * k.value_size.mean())
            .sum::<f64>()
            * tests_alive
            * self.parallel as f64
    }
}

/// One field's share of a variant's cost, for the estimate to add up and a refusal to name.
struct Cost {
    /// The field as the scenario writes it, with its value.
    what: String,
    /// Simulator bytes one run holds at once for it.
    memory: f64,
    /// Bytes of results it leaves, whatever the runs in flight.
    results: f64,
    /// Operations one run replays for it.
    events: f64,
}

impl Scenario {
    /// What each field of this variant costs (see [`Cost`]); `runs` per variant.
    fn costs(&self, runs: u64, of: &str) -> Vec<Cost> {
        let tests = self.tests as f64;
        let parallel = self.parallel as f64;
        let tests_text = crate::units::plural(self.tests, "test", "tests");
        let tests_alive = if self.flush == Flush::None { tests } else { 1.0 };
        let small_max = crate::jemalloc::SizeClasses::new(self.allocator.lg_quantum, self.allocator.lg_page)
            .small_maxclass() as f64;
        let mut out = Vec::new();
        for k in &self.keys {
            let (per_key, per_field) = if let Some(p) = &self.redis {
                let small = k.kind == KeyType::String && k.value_size.mean() <= p.embstr_limit as f64;
                let per_key = if small {
                    SIM_BYTES_PER_SMALL_KEY
                } else if k.value_size.mean() <= small_max {
                    SIM_BYTES_PER_SLAB_KEY
                } else {
                    SIM_BYTES_PER_KEY
                };
                let listpack = k.fields.practical_max() <= p.hash_max_listpack_entries as f64
                    && k.value_size.mean() <= p.hash_max_listpack_value as f64;
                let t = &p.types;
                let per_field = match k.kind {
                    KeyType::List => SIM_BYTES_PER_LIST_ELEMENT,
                    KeyType::Set
                        if k.content == Content::Integer
                            && k.elements.practical_max() <= t.set_max_intset_entries as f64 =>
                    {
                        SIM_BYTES_PER_INTSET_MEMBER
                    }
                    KeyType::Zset
                        if k.elements.practical_max() <= t.zset_max_listpack_entries as f64
                            && k.value_size.practical_max() <= t.zset_max_listpack_value as f64 =>
                    {
                        SIM_BYTES_PER_LISTPACK_FIELD
                    }
                    KeyType::Set => SIM_BYTES_PER_SET_MEMBER,
                    KeyType::Zset => SIM_BYTES_PER_SKIPLIST_MEMBER,
                    _ if listpack => SIM_BYTES_PER_LISTPACK_FIELD,
                    _ => SIM_BYTES_PER_FIELD,
                };
                (per_key, per_field)
            } else if k.value_size.mean() <= small_max {
                (SIM_BYTES_PER_SMALL_OBJECT, 0.0)
            } else {
                (SIM_BYTES_PER_LARGE_OBJECT, 0.0)
            };
            let hash = k.kind == KeyType::Hash;
            // With growth, the keys of all tests stay (under flush = "none") and a test writes
            // only what it adds: per test, the mean of those.
            let (alive, keys_per_test) = if k.growth > 0.0 {
                let all = k.written_in(self.tests.saturating_sub(1)).end as f64;
                (all * parallel, all / tests.max(1.0))
            } else {
                (k.count as f64 * tests_alive * parallel, k.count as f64)
            };
            let per_command = if k.kind.is_collection() {
                // A batch of adds, then a removal when the group churns; arguments cost about
                // an eighth of a command each.
                let batches = (k.elements.mean() / k.batch as f64).ceil().max(1.0);
                let removals = if k.churn > 0.0 { batches } else { 0.0 };
                (batches + removals) * (1.0 + k.batch as f64 / 8.0)
            } else if hash {
                1.0 + k.fields.mean() / 8.0
            } else {
                1.0
            };
            let commands = keys_per_test * per_command * (1.0 + k.cleanup);
            out.push(Cost {
                what: format!(
                    "workload.keys.{}.count = {} per test over {tests_text}{of}",
                    k.name,
                    crate::units::group(k.count),
                ),
                memory: alive
                    * if hash {
                        per_key + k.fields.mean() * per_field
                    } else if k.kind.is_collection() {
                        per_key + k.values_per_key() * per_field
                    } else {
                        per_key
                    },
                results: 0.0,
                events: commands * parallel * tests,
            });
        }
        // A test's commands are made one at a time, so a script body costs nothing until it is
        // cached: once per test and process when unique, once in all otherwise.
        for sc in &self.scripts {
            let cached = if sc.unique { parallel * tests } else { 1.0 };
            out.push(Cost {
                what: format!(
                    "workload.scripts.{}.count = {} per test (size {} B){of}",
                    sc.name,
                    crate::units::group(sc.count),
                    crate::units::group(sc.size)
                ),
                memory: cached * SIM_BYTES_PER_SCRIPT,
                results: 0.0,
                events: sc.count as f64 * parallel * tests,
            });
        }
        // The server cron's ticks: 10 per simulated second, each a tenth of a command.
        out.push(Cost {
            what: format!(
                "workload.test_seconds = {} over {tests_text}{of}",
                self.test_seconds
            ),
            memory: 0.0,
            results: 0.0,
            events: self.test_seconds * tests,
        });
        out.push(Cost {
            what: format!(
                "workload.tests = {} (the results of every test are kept){of}",
                crate::units::group(self.tests)
            ),
            memory: 0.0,
            results: tests * (RESULT_BYTES_PER_TEST + runs as f64 * RESULT_BYTES_PER_TEST_RUN),
            events: 0.0,
        });
        out
    }
}

impl ScenarioFile {
    /// Every variant's costs, each field named with its variant when there are several.
    fn costs(&self, runs: u64) -> Vec<(&Scenario, Vec<Cost>)> {
        self.variants
            .iter()
            .map(|v| {
                let of = if self.variants.len() > 1 {
                    format!(" (variant \"{}\")", v.variant)
                } else {
                    String::new()
                };
                (v, v.costs(runs, &of))
            })
            .collect()
    }

    /// Estimates the work of `runs` runs per variant and the replay of each variant's median run
    /// that decomposes it; `threads` runs are in flight at once.
    pub fn estimate(&self, runs: u64, threads: usize) -> Estimate {
        let mut events = 0.0;
        let mut cpu_seconds = 0.0;
        let mut peak_live: f64 = 0.0;
        let mut memory: f64 = 0.0;
        let mut results = 0.0;
        for (v, costs) in self.costs(runs) {
            let e = costs.iter().map(|c| c.events).sum::<f64>() * (runs as f64 + 1.0);
            events += e;
            cpu_seconds += e / if v.redis.is_some() {
                REDIS_EVENTS_PER_SECOND
            } else {
                ALLOCATOR_EVENTS_PER_SECOND
            };
            memory = memory.max(costs.iter().map(|c| c.memory).sum());
            results += costs.iter().map(|c| c.results).sum::<f64>();
            let tests_alive = if v.flush == Flush::None {
                v.tests as f64
            } else {
                1.0
            };
            let live: f64 = v
                .keys
                .iter()
                .map(|k| {
                    let keys = if k.growth > 0.0 {
                        k.written_in(v.tests.saturating_sub(1)).end as f64
                    } else {
                        k.count as f64 * tests_alive
                    };
                    keys * v.parallel as f64 * k.values_per_key()
                })
                .sum();
            peak_live = peak_live.max(live);
        }
        Estimate {
            events,
            peak_live,
            memory_bytes: memory * threads.min(runs as usize).max(1) as f64 + results,
            cpu_seconds,
        }
    }

    /// The field that costs the most, for a refusal to name, with the variant that sets it: by
    /// simulator memory (`by_memory`: what a run holds, and the results it leaves), or by the
    /// operations it replays.
    pub fn largest_cost(&self, by_memory: bool, runs: u64) -> String {
        let weight = |c: &Cost| if by_memory { c.memory + c.results } else { c.events };
        self.costs(runs)
            .into_iter()
            .flat_map(|(_, costs)| costs)
            .reduce(|best, c| if weight(&c) > weight(&best) { c } else { best })
            .map(|c| c.what)
            .unwrap_or_default()
    }
}
