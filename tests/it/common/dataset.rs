//! A realistic keyspace written into a live server, for the import tests and the import
//! benchmark (which includes this file by path): ten key patterns of every type and encoding,
//! about 202,500 keys at scale 1.
//!
//! - `user:ID:session`: strings, log-normal sizes around 120 B, half with a TTL of 1-2 hours;
//! - `counter:ID`: integers of 1 to 10 digits;
//! - `page:NAME-ID`: text of 1-8 KB;
//! - `profile:ID`: hashes of 4-9 fields (names, integers, e-mail addresses, timestamps), a tenth
//!   with a biography of 80-300 B (so held as a hash table);
//! - `events:ID`: hashes of 150-300 fields (hash tables);
//! - `queue:ID`: lists of 1-20 jobs of 20-150 B;
//! - `tags:ID`: sets of integers (intsets), 3% of 600-1,000 (hash tables);
//! - `followers:ID`: sets of 1-100 user names;
//! - `board:ID`: sorted sets of 1-100 players, 5% of 200-400 (skip lists), half with whole
//!   scores and half with fractional ones;
//! - `session:UUID`: strings of 30-60 B, each with a TTL in milliseconds;
//! - and three singletons: `config`, `stats:global` (a hash), `leaderboard:global` (5,000
//!   players).
//!
//! Every command goes in pipelines of 1,000 over one connection.

use fragsim::redis::resp::{Connection, Resp};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One command's words.
pub type Cmd = Vec<Vec<u8>>;

fn cmd<I: IntoIterator<Item = Vec<u8>>>(words: I) -> Cmd {
    words.into_iter().collect()
}

fn word(s: impl AsRef<[u8]>) -> Vec<u8> {
    s.as_ref().to_vec()
}

fn text(rng: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "lorem ", "ipsum ", "dolor ", "sit ", "amet ", "redis ", "memory ", "page ",
    ];
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(WORDS[rng.random_range(0..WORDS.len())].as_bytes());
    }
    v.truncate(len);
    v
}

fn letters(rng: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| b'a' + rng.random_range(0..26u8)).collect()
}

fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64, max: f64) -> usize {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (median * (sigma * z).exp()).clamp(1.0, max) as usize
}

/// The dataset's commands at `scale` (1.0: about 202,000 keys), drawn from `seed`.
pub fn commands(scale: f64, seed: u64) -> Vec<Cmd> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = |k: f64| (k * scale).round().max(1.0) as u64;
    let mut out: Vec<Cmd> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    // Sparse ids, distinct within the data set.
    let mut id = |rng: &mut ChaCha8Rng| loop {
        let i: u64 = rng.random_range(1..1_000_000_000);
        if ids.insert(i) {
            return i;
        }
    };
    for _ in 0..n(65_000.0) {
        let k = format!("user:{}:session", id(&mut rng));
        let len = lognormal(&mut rng, 120.0, 0.8, 4000.0);
        let v = letters(&mut rng, len);
        let mut c = cmd([word("SET"), word(k), v]);
        if rng.random_bool(0.5) {
            c.extend([word("EX"), word(rng.random_range(3600..7200u32).to_string())]);
        }
        out.push(c);
    }
    for _ in 0..n(20_000.0) {
        let digits = rng.random_range(1..=10u32);
        let v: u64 = rng.random_range(10u64.pow(digits - 1)..10u64.pow(digits));
        out.push(cmd([
            word("SET"),
            word(format!("counter:{}", id(&mut rng))),
            word(v.to_string()),
        ]));
    }
    for _ in 0..n(2_000.0) {
        let len = rng.random_range(1000..8000);
        let name = {
            let n = rng.random_range(4..12);
            letters(&mut rng, n)
        };
        let k = format!("page:{}-{}", String::from_utf8_lossy(&name), id(&mut rng));
        out.push(cmd([word("SET"), word(k), text(&mut rng, len)]));
    }
    for _ in 0..n(40_000.0) {
        let mut c = cmd([word("HSET"), word(format!("profile:{}", id(&mut rng)))]);
        let name = {
            let n = rng.random_range(5..20);
            letters(&mut rng, n)
        };
        c.extend([word("name"), name]);
        c.extend([word("age"), word(rng.random_range(18..90u32).to_string())]);
        if rng.random_bool(0.8) {
            let mut mail = {
                let n = rng.random_range(5..14);
                letters(&mut rng, n)
            };
            mail.extend_from_slice(b"@example.com");
            c.extend([word("email"), mail]);
        }
        c.extend([
            word("created"),
            word(rng.random_range(1_500_000_000..1_800_000_000u64).to_string()),
        ]);
        for f in ["city", "score", "plan", "lang", "tz"] {
            if rng.random_bool(0.6) {
                let v = if f == "score" {
                    word(rng.random_range(0..100_000u32).to_string())
                } else {
                    {
                        let n = rng.random_range(2..12);
                        letters(&mut rng, n)
                    }
                };
                c.extend([word(f), v]);
            }
        }
        if rng.random_bool(0.1) {
            let len = rng.random_range(80..300);
            c.extend([word("bio"), text(&mut rng, len)]);
        }
        out.push(c);
    }
    for _ in 0..n(500.0) {
        let mut c = cmd([word("HSET"), word(format!("events:{}", id(&mut rng)))]);
        for f in 0..rng.random_range(150..300u32) {
            let len = rng.random_range(10..40);
            c.extend([word(format!("e{f}")), letters(&mut rng, len)]);
        }
        out.push(c);
    }
    for _ in 0..n(20_000.0) {
        let mut c = cmd([word("RPUSH"), word(format!("queue:{}", id(&mut rng)))]);
        for _ in 0..rng.random_range(1..=20u32) {
            let len = rng.random_range(20..150);
            c.push(letters(&mut rng, len));
        }
        out.push(c);
    }
    for _ in 0..n(15_000.0) {
        let k = word(format!("tags:{}", id(&mut rng)));
        let count = if rng.random_bool(0.03) {
            rng.random_range(600..1000u32)
        } else {
            rng.random_range(1..50u32)
        };
        let mut c = cmd([word("SADD"), k]);
        for _ in 0..count {
            c.push(word(rng.random_range(0..10_000_000u64).to_string()));
        }
        out.push(c);
    }
    for _ in 0..n(10_000.0) {
        let mut c = cmd([word("SADD"), word(format!("followers:{}", id(&mut rng)))]);
        for _ in 0..rng.random_range(1..100u32) {
            let len = rng.random_range(3..10);
            let mut m = word("u_");
            m.extend(letters(&mut rng, len));
            c.push(m);
        }
        out.push(c);
    }
    for _ in 0..n(20_000.0) {
        let k = word(format!("board:{}", id(&mut rng)));
        let count = if rng.random_bool(0.05) {
            rng.random_range(200..400u32)
        } else {
            rng.random_range(1..100u32)
        };
        let whole = rng.random_bool(0.5);
        let mut c = cmd([word("ZADD"), k]);
        for m in 0..count {
            let score = if whole {
                rng.random_range(0..1_000_000u64).to_string()
            } else {
                format!("{}", rng.random::<f64>() * 1000.0)
            };
            let len = rng.random_range(8..16);
            let mut name = word(format!("p{m}_"));
            name.extend(letters(&mut rng, len));
            c.extend([word(score), name]);
        }
        out.push(c);
    }
    for _ in 0..n(10_000.0) {
        let h = |rng: &mut ChaCha8Rng, n: usize| -> String {
            (0..n)
                .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap())
                .collect()
        };
        let uuid = format!(
            "{}-{}-{}-{}-{}",
            h(&mut rng, 8),
            h(&mut rng, 4),
            h(&mut rng, 4),
            h(&mut rng, 4),
            h(&mut rng, 12)
        );
        let len = rng.random_range(30..60);
        let v = letters(&mut rng, len);
        let ttl = rng.random_range(600_000..1_800_000u32).to_string();
        out.push(cmd([
            word("SET"),
            word(format!("session:{uuid}")),
            v,
            word("PX"),
            word(ttl),
        ]));
    }
    out.push(cmd([
        word("SET"),
        word("config"),
        word("{\"mode\":\"prod\",\"shards\":4}"),
    ]));
    out.push(cmd([
        word("HSET"),
        word("stats:global"),
        word("hits"),
        word("123456"),
        word("misses"),
        word("789"),
    ]));
    let mut c = cmd([word("ZADD"), word("leaderboard:global")]);
    for m in 0..5000u32 {
        c.extend([
            word(rng.random_range(0..10_000_000u64).to_string()),
            word(format!("player{m}")),
        ]);
    }
    out.push(c);
    // As a real keyspace fills: the patterns interleaved, not one after another.
    for i in (1..out.len()).rev() {
        let j = rng.random_range(0..=i);
        out.swap(i, j);
    }
    out
}

/// Writes `cmds` (from [`commands`]) into the server behind `c`.
pub fn write(c: &mut Connection, cmds: &[Cmd]) {
    for batch in cmds.chunks(1000) {
        let replies = c.pipeline(batch).expect("the server takes the data set");
        if let Some(e) = replies.iter().find(|r| matches!(r, Resp::Error(_))) {
            panic!("the server refused a command of the data set: {e:?}");
        }
    }
}
