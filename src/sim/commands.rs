//! The Redis commands a scenario's test sends, the same for the model and for a live server:
//! each test process's commands, interleaved at random when several share the server.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use crate::redis::argv::{value_bytes, Arg, Argv};
use crate::workload::{Flush, KeyType, Scenario};

fn word(s: &str) -> Arg {
    Arg::Owned(s.as_bytes().to_vec())
}

fn owned(v: &[u8]) -> Arg {
    Arg::Owned(v.to_vec())
}

/// A Lua script body of `size` bytes that returns 1; `tag` makes it distinct.
pub fn script_body(size: u64, tag: &str) -> Vec<u8> {
    let mut s = format!("return 1 -- {tag} ").into_bytes();
    s.resize((size as usize).max(s.len()), b'x');
    s
}

fn key_name(sc: &Scenario, group: &str, process: u64, t: u64, j: u64) -> Vec<u8> {
    if sc.parallel > 1 {
        format!("{group}:{process}:{t}:{j}").into_bytes()
    } else {
        format!("{group}:{t}:{j}").into_bytes()
    }
}

/// The commands one test process sends in test `t` (0-based): the flush before it, the writes
/// (value sizes drawn from `rng`), the scripts, the test's own deletions, the flush after it.
fn process_commands(sc: &Scenario, t: u64, process: u64, rng: &mut ChaCha8Rng) -> Vec<Argv> {
    let mut cmds = Vec::new();
    if sc.flush == Flush::BeforeEach && t > 0 {
        cmds.push(vec![word("FLUSHALL"), word("SYNC")]);
    }
    let mut written = Vec::new();
    for k in &sc.keys {
        let names: Vec<Vec<u8>> = (0..k.count)
            .map(|j| key_name(sc, &k.name, process, t, j))
            .collect();
        for name in &names {
            let ttl_ms = k
                .ttl_seconds
                .map(|s| ((s * 1000.0).round() as u64).max(1).to_string());
            match k.kind {
                KeyType::String => {
                    let mut c = vec![word("SET"), owned(name), value_bytes(k.value_size.sample(rng))];
                    if let Some(ms) = &ttl_ms {
                        c.push(word("PX"));
                        c.push(word(ms));
                    }
                    cmds.push(c);
                }
                KeyType::Hash => {
                    let mut c = vec![word("HSET"), owned(name)];
                    for f in 0..k.fields {
                        c.push(Arg::Owned(format!("f{f}").into_bytes()));
                        c.push(value_bytes(k.value_size.sample(rng)));
                    }
                    cmds.push(c);
                    if let Some(ms) = &ttl_ms {
                        cmds.push(vec![word("PEXPIRE"), owned(name), word(ms)]);
                    }
                }
            }
        }
        written.push((k.cleanup, names));
    }
    for s in &sc.scripts {
        let tag = if s.unique {
            format!("{}:{process}:{t}", s.name)
        } else {
            s.name.clone()
        };
        let body = script_body(s.size, &tag);
        for _ in 0..s.count {
            cmds.push(vec![word("EVAL"), owned(&body), word("0")]);
        }
    }
    for (cleanup, names) in written {
        let ndel = ((cleanup * names.len() as f64).round() as usize).min(names.len());
        let mut order: Vec<usize> = (0..names.len()).collect();
        for i in 0..ndel {
            let j = rng.random_range(i..order.len());
            order.swap(i, j);
        }
        for &i in &order[..ndel] {
            cmds.push(vec![word("DEL"), owned(&names[i])]);
        }
    }
    if sc.flush == Flush::AfterEach {
        cmds.push(vec![word("FLUSHALL"), word("SYNC")]);
    }
    cmds
}

/// Test `t`'s commands of every test process, as `(process, argv)` in the order the server
/// sees them: with several processes, the next command comes from a process chosen at random,
/// in proportion to the commands it has left.
pub fn test_plan(sc: &Scenario, t: u64, rng: &mut ChaCha8Rng) -> Vec<(usize, Argv)> {
    let lists: Vec<Vec<Argv>> = (0..sc.parallel)
        .map(|p| process_commands(sc, t, p, rng))
        .collect();
    if lists.len() == 1 {
        return lists
            .into_iter()
            .next()
            .unwrap()
            .into_iter()
            .map(|a| (0, a))
            .collect();
    }
    let mut pos = vec![0usize; lists.len()];
    let total: usize = lists.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    for left in (1..=total).rev() {
        let mut x = rng.random_range(0..left);
        let mut p = 0;
        loop {
            let remaining = lists[p].len() - pos[p];
            if x < remaining {
                break;
            }
            x -= remaining;
            p += 1;
        }
        out.push((p, lists[p][pos[p]].clone()));
        pos[p] += 1;
    }
    out
}

/// The random stream for the commands of run `seed`.
pub fn rng_for(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0xc0ff_ee00)
}
