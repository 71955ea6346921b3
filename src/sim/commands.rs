//! The Redis commands a scenario's test sends, the same for the model and for a live server.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::workload::{Flush, KeyType, Scenario};

/// One command's arguments.
pub type Argv = Vec<Vec<u8>>;

fn word(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// A value of `n` bytes that no encoding mistakes for an integer.
pub fn value_bytes(n: u64) -> Vec<u8> {
    vec![b'v'; n as usize]
}

/// The commands of test `t` (0-based), in order: the flush before it, the writes, the test's own
/// deletions (which keys: drawn from `rng`), the flush after it.
pub fn test_commands(sc: &Scenario, t: u64, rng: &mut ChaCha8Rng) -> Vec<Argv> {
    let mut cmds = Vec::new();
    if sc.flush == Flush::BeforeEach && t > 0 {
        cmds.push(vec![word("FLUSHALL"), word("SYNC")]);
    }
    for k in &sc.keys {
        let value = value_bytes(k.value_size);
        let names: Vec<Vec<u8>> = (0..k.count)
            .map(|j| format!("{}:{t}:{j}", k.name).into_bytes())
            .collect();
        for name in &names {
            match k.kind {
                KeyType::String => {
                    let mut c = vec![word("SET"), name.clone(), value.clone()];
                    if let Some(ttl) = k.ttl_seconds {
                        c.push(word("PX"));
                        c.push(word(&((ttl * 1000.0).round() as u64).max(1).to_string()));
                    }
                    cmds.push(c);
                }
                KeyType::Hash => {
                    let mut c = vec![word("HSET"), name.clone()];
                    for f in 0..k.fields {
                        c.push(format!("f{f}").into_bytes());
                        c.push(value.clone());
                    }
                    cmds.push(c);
                    if let Some(ttl) = k.ttl_seconds {
                        let ms = ((ttl * 1000.0).round() as u64).max(1);
                        cmds.push(vec![word("PEXPIRE"), name.clone(), word(&ms.to_string())]);
                    }
                }
            }
        }
        let ndel = (k.cleanup * k.count as f64).round() as usize;
        let mut order: Vec<usize> = (0..names.len()).collect();
        for i in 0..ndel.min(order.len()) {
            let j = rng.random_range(i..order.len());
            order.swap(i, j);
        }
        for &i in &order[..ndel.min(order.len())] {
            cmds.push(vec![word("DEL"), names[i].clone()]);
        }
    }
    if sc.flush == Flush::AfterEach {
        cmds.push(vec![word("FLUSHALL"), word("SYNC")]);
    }
    cmds
}

/// The random stream for test commands of run `seed`.
pub fn rng_for(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0xc0ff_ee00)
}
