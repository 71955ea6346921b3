//! Random scenarios drawn from the whole scenario grammar, for validating the model against live
//! servers on workloads nobody tuned it on: key groups of every type (strings, hashes, lists,
//! sets, sorted sets: elements in batches, churned or not, integer or byte content, both kinds
//! of scores, a share of integers among byte values), fixed sizes and every size
//! distribution, key-name shapes (padded to a length or a distribution of lengths,
//! patterned, numbered from a first key by a step), fields per hash and field-name sizes
//! (fixed or drawn), TTLs (long ones and ones that expire within the run, on every key or a
//! share of them), cleanup shares, growth (under flush = "none"), every flush mode, scripts
//! (shared and unique), parallel test processes, command rates and a `maxmemory` that some
//! writes run into.
//!
//! Each scenario is small enough to replay into a live server in a few seconds: a few tests of
//! at most a few thousand commands. The same seed always gives the same text.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A value size: a fixed byte count or one of the distributions, as TOML.
fn size(rng: &mut ChaCha8Rng, max: u64) -> String {
    let pick = |rng: &mut ChaCha8Rng| -> u64 {
        // Log-uniform from 1 B to `max`: small and large values equally likely per decade.
        let x: f64 = rng.random_range(0.0..(max as f64).ln());
        x.exp().round().max(1.0) as u64
    };
    match rng.random_range(0..6) {
        0 | 1 => pick(rng).to_string(),
        2 => {
            let a = pick(rng);
            let b = pick(rng);
            format!("{{ dist = \"uniform\", min = {}, max = {} }}", a.min(b), a.max(b))
        }
        3 => {
            let mean = pick(rng).max(10);
            let sd = (mean as f64 * rng.random_range(0.05..0.4)).round() as u64;
            format!("{{ dist = \"normal\", mean = {mean}, sd = {sd} }}")
        }
        4 => {
            let median = pick(rng).max(4);
            let sigma = rng.random_range(0.1..1.0);
            format!("{{ dist = \"lognormal\", median = {median}, sigma = {sigma:.2} }}")
        }
        _ => {
            let n = rng.random_range(2..5);
            let values: Vec<String> = (0..n).map(|_| pick(rng).to_string()).collect();
            let weights: Vec<String> = (0..n).map(|_| rng.random_range(1..5).to_string()).collect();
            format!(
                "{{ dist = \"choice\", values = [{}], weights = [{}] }}",
                values.join(", "),
                weights.join(", ")
            )
        }
    }
}

/// The TOML text of random scenario number `seed` (Redis profile `profile`).
pub fn scenario_toml(seed: u64, profile: &str) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6e6e_7261_6e64);
    // The grammar added for imported data sets (sizes of fields per hash and of names drawn
    // from distributions, a share of integers among byte values, a share of keys with the
    // TTL) draws from its own stream, so that the scenarios drawn before it came stay as
    // they were.
    let mut more = ChaCha8Rng::seed_from_u64(seed ^ 0x696d_706f_7274);
    let tests = rng.random_range(2..=5);
    let flush = ["none", "before_each", "after_each"][rng.random_range(0..3)];
    let parallel = if rng.random_bool(0.25) {
        rng.random_range(2..=3)
    } else {
        1
    };
    let mut test_seconds = [0.0, 0.1, 0.3, 0.6][rng.random_range(0..4)];
    let mut t = format!(
        "# Generated scenario {seed} (fragsim::workload::generate)\n\
         name = \"generated {seed}\"\nseed = {}\n\n[server]\nprofile = \"{profile}\"\n",
        rng.random_range(1..1000)
    );
    let maxmemory = rng.random_bool(0.15);
    if maxmemory {
        // Tight enough that some runs refuse writes: a few MB over an empty server.
        t += &format!("maxmemory = \"{}KB\"\n", rng.random_range(1200..4000));
    }
    let mut w = String::new();
    if parallel > 1 {
        w += &format!("parallel = {parallel}\n");
    }
    if rng.random_bool(0.3) {
        w += &format!("commands_per_second = {}\n", rng.random_range(2000..40000));
    }
    let mut k = String::new();
    let groups = rng.random_range(1..=3);
    // A budget of commands per test and process keeps a live replay short.
    let mut budget: i64 = 1500 / parallel as i64;
    for g in 0..groups {
        let kind = match rng.random_range(0..20) {
            0..=6 => "string",
            7..=10 => "hash",
            11..=13 => "list",
            14..=16 => "set",
            _ => "zset",
        };
        let collection = matches!(kind, "list" | "set" | "zset");
        let big = rng.random_bool(0.2);
        let max_count = if collection { 20 } else { 600 };
        let count = rng.random_range(1..=budget.clamp(1, max_count) as u64);
        k += &format!("\n[[workload.keys]]\nname = \"g{g}\"\ncount = {count}\n");
        if kind != "string" {
            k += &format!("type = \"{kind}\"\n");
        }
        let integers = match kind {
            "string" | "hash" => rng.random_bool(0.2),
            "set" => rng.random_bool(0.6),
            _ => rng.random_bool(0.25),
        };
        let size_field = if collection { "element_size" } else { "value_size" };
        if integers {
            k += "content = \"integer\"\n";
            let a = rng.random_range(1..=19);
            if rng.random_bool(0.5) {
                k += &format!("{size_field} = {a}\n");
            } else {
                let b = rng.random_range(1..=19);
                k += &format!(
                    "{size_field} = {{ dist = \"uniform\", min = {}, max = {} }}\n",
                    a.min(b),
                    a.max(b)
                );
            }
        } else {
            let max = match (kind, big) {
                ("string", true) => 200_000,
                ("string", false) => 40_000,
                ("hash", _) => 2000,
                ("list", _) => 3000,
                _ => 120,
            };
            k += &format!("{size_field} = {}\n", size(&mut rng, max));
            if more.random_bool(0.2) {
                k += &format!(
                    "integers = {:.2}\ninteger_digits = {{ dist = \"uniform\", min = 1, max = {} }}\n",
                    more.random_range(0.05..0.95),
                    more.random_range(1..=19)
                );
            }
        }
        let mut commands = count as i64;
        match kind {
            "hash" => {
                let fields = rng.random_range(1..=40);
                if more.random_bool(0.3) {
                    k += &format!("fields = {{ dist = \"uniform\", min = 1, max = {fields} }}\n");
                } else {
                    k += &format!("fields = {fields}\n");
                }
                if rng.random_bool(0.2) {
                    let least = 1 + (fields - 1).to_string().len() as u64;
                    k += &format!("field_size = {}\n", rng.random_range(least..=16));
                } else if more.random_bool(0.15) {
                    k += &format!(
                        "field_size = {{ dist = \"uniform\", min = 1, max = {} }}\n",
                        more.random_range(2..=24)
                    );
                }
            }
            "list" | "set" | "zset" => {
                // Sets cross the intset limit (512), sorted sets the listpack one (128).
                let batch: i64 = [1, 1, 5, 20, 100][rng.random_range(0..5)];
                // As many elements as the budget of commands allows, at most.
                let most = (if kind == "list" { 2000 } else { 700 })
                    .min((budget.max(1) * batch / count as i64).max(1));
                let elements = rng.random_range(1..=most);
                if rng.random_bool(0.7) {
                    k += &format!("elements = {elements}\n");
                } else {
                    k += &format!("elements = {{ dist = \"uniform\", min = 1, max = {elements} }}\n");
                }
                if batch > 1 {
                    k += &format!("batch = {batch}\n");
                }
                let batches = (elements + batch - 1) / batch;
                commands = count as i64 * batches;
                if rng.random_bool(0.4) {
                    let share = rng.random_range(0.05..1.0);
                    k += &format!("{} = {share:.2}\n", if kind == "list" { "pop" } else { "remove" });
                    commands *= 2;
                }
                if kind == "zset" && rng.random_bool(0.5) {
                    k += "scores = \"fractional\"\n";
                }
            }
            _ => {}
        }
        budget -= commands;
        match rng.random_range(0..10) {
            0 | 1 if more.random_bool(0.3) => {
                let a = rng.random_range(24..=64);
                k += &format!("key_size = {{ dist = \"uniform\", min = 8, max = {a} }}\n")
            }
            0 | 1 => k += &format!("key_size = {}\n", rng.random_range(24..=64)),
            2 => {
                let process = if parallel > 1 && rng.random_bool(0.7) {
                    "{process}:"
                } else {
                    ""
                };
                let test = if rng.random_bool(0.8) { "{test}:" } else { "" };
                k += &format!("key_pattern = \"obj:{process}{test}{{n}}:g{g}\"\n");
                if more.random_bool(0.3) {
                    k += &format!(
                        "first_key = {}\nkey_step = {}\n",
                        more.random_range(0..1000),
                        more.random_range(1..=4)
                    );
                }
            }
            _ => {}
        }
        let ttl_share = if more.random_bool(0.4) {
            format!("ttl_share = {:.2}\n", more.random_range(0.05..0.95))
        } else {
            String::new()
        };
        match rng.random_range(0..5) {
            0 => k += &format!("ttl_seconds = {}\n{ttl_share}", rng.random_range(600..7200)),
            1 => {
                // Short TTLs expire well before the test's checkpoint (the test then idles
                // 0.6 s): what is measured is Redis's active expiry, not a race with it.
                k += &format!("ttl_seconds = {:.2}\n{ttl_share}", rng.random_range(0.05..0.25));
                test_seconds = 0.6;
            }
            _ => {}
        }
        if rng.random_bool(0.4) {
            k += &format!("cleanup = {:.2}\n", rng.random_range(0.0..1.0));
        }
        if flush == "none" && more.random_bool(0.25) {
            k += &format!("growth = {:.2}\n", more.random_range(0.05..0.3));
        }
        if budget < 2 {
            break;
        }
    }
    t +=
        &format!("\n[workload]\ntests = {tests}\nflush = \"{flush}\"\ntest_seconds = {test_seconds}\n{w}{k}");
    for s in 0..rng.random_range(0..=2) {
        t += &format!(
            "\n[[workload.scripts]]\nname = \"s{s}\"\nsize = {}\ncount = {}\nunique = {}\n",
            rng.random_range(20..2000),
            rng.random_range(1..=3),
            rng.random_bool(0.5)
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every generated scenario is valid, and the same seed gives the same text.
    #[test]
    fn generated_scenarios_parse() {
        for seed in 0..300 {
            let text = scenario_toml(seed, "redis-7.0-debian");
            assert_eq!(text, scenario_toml(seed, "redis-7.0-debian"));
            if let Err(e) = crate::workload::parse(&text, "generated.toml") {
                panic!("seed {seed}: {e}\n{text}");
            }
        }
    }
}
