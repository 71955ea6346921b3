//! Fuzzing kept in the repository: mutated scenario files (the shipped scenarios and the corpus in
//! `tests/corpus/`), mutated claim tables, mutated profile files and RESP replies from a misbehaving server. Nothing may
//! panic: a mutant is refused with problems, or it runs (when small) and every output renders.
//!
//! Brief in the test suite (`FRAGSIM_FUZZ_CASES`, default 400 scenario mutants, 400 claim
//! mutants, 200 profile mutants, 48 RESP replies); longer on demand:
//! `FRAGSIM_FUZZ_CASES=5000 cargo test --release --test it fuzz::`. proptest keeps failing cases in
//! `tests/it/fuzz.proptest-regressions` and replays them first.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;

use fragsim::redis::resp::{Connection, RespError};
use fragsim::sim::{claims, montecarlo};
use fragsim::workload::{self, ScenarioFile};

use crate::common::*;

fn cases(default: u32) -> u32 {
    std::env::var("FRAGSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `cases(default)` cases, failures kept in `tests/it/fuzz.proptest-regressions` and replayed first.
fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    }
}

/// The shipped scenarios and the corpus, as text.
fn corpus() -> &'static Vec<(String, String)> {
    static C: OnceLock<Vec<(String, String)>> = OnceLock::new();
    C.get_or_init(|| {
        let mut files = Vec::new();
        for dir in ["scenarios", "tests/corpus"] {
            let mut names: Vec<_> = std::fs::read_dir(repo_path(dir))
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            names.sort();
            for p in names {
                files.push((
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
        for n in 0..4 {
            files.push((
                format!("generated-{n}.toml"),
                workload::generate::scenario_toml(n, "redis-7.0-debian"),
            ));
        }
        files
    })
}

/// How many mutants ran through the simulator (printed with --nocapture).
static RAN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Values that break naive code: out of range, not numbers, empty, control characters.
const ODD: &[&str] = &[
    "0",
    "-1",
    "1",
    "1.5",
    "nan",
    "inf",
    "-inf",
    "1e308",
    "9223372036854775807",
    "18446744073709551615",
    "\"\"",
    "\"\\u0000\"",
    "\"127TiB\"",
    "\"-5GB\"",
    "\"1 parsec\"",
    "[]",
    "[1, 2]",
    "[nan, 1]",
    "{}",
    "true",
    "{ dist = \"uniform\", min = 1.5, max = 1.7 }",
    "{ dist = \"lognormal\", median = 1e9, sigma = 9 }",
    "{ dist = \"choice\", values = [1, 2], weights = [inf, 1] }",
    "1e7",
    "1024",
    "\"as_found\"",
    "\"after_each\"",
    "\"hash\"",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value of the n-th `key = value` line with an odd one.
    Value(usize, usize),
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    /// Insert raw bytes (as lossy text) before a line.
    Insert(usize, Vec<u8>),
    /// Replace the k-th number of a line (inside arrays too) with an odd one.
    Number(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0..ODD.len()).prop_map(|(l, o)| Mutation::Value(l, o)),
        1 => any::<usize>().prop_map(Mutation::Delete),
        1 => any::<usize>().prop_map(Mutation::Duplicate),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(l, b)| Mutation::Insert(l, b)),
        2 => (any::<usize>(), any::<usize>(), 0..ODD.len())
            .prop_map(|(l, k, o)| Mutation::Number(l, k, o)),
    ]
}

fn mutate(text: &str, muts: &[Mutation], only_claims: bool) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // The lines a mutation may touch: all, or those of [[claim]] tables.
    let pick = |lines: &Vec<String>, i: usize| -> Option<usize> {
        let mut in_claim = false;
        let allowed: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                if l.starts_with('[') {
                    in_claim = l.starts_with("[[claim]]");
                }
                !only_claims || in_claim
            })
            .map(|(k, _)| k)
            .collect();
        (!allowed.is_empty()).then(|| allowed[i % allowed.len()])
    };
    for m in muts {
        match m {
            Mutation::Value(i, o) => {
                if let Some(k) = pick(&lines, *i) {
                    if let Some((key, _)) = lines[k].split_once(" = ") {
                        lines[k] = format!("{key} = {}", ODD[*o]);
                    }
                }
            }
            Mutation::Delete(i) => {
                if let Some(k) = pick(&lines, *i) {
                    lines.remove(k);
                }
            }
            Mutation::Duplicate(i) => {
                if let Some(k) = pick(&lines, *i) {
                    let l = lines[k].clone();
                    lines.insert(k, l);
                }
            }
            Mutation::Swap(a, b) => {
                if let (Some(x), Some(y)) = (pick(&lines, *a), pick(&lines, *b)) {
                    lines.swap(x, y);
                }
            }
            Mutation::Insert(i, bytes) => {
                if let Some(k) = pick(&lines, *i) {
                    lines.insert(k, String::from_utf8_lossy(bytes).into_owned());
                }
            }
            Mutation::Number(i, n, o) => {
                if let Some(k) = pick(&lines, *i) {
                    // The digit runs of the line; the n-th (mod their count) is replaced.
                    let l = lines[k].clone();
                    let mut runs = Vec::new();
                    let mut start = None;
                    for (j, ch) in l.char_indices().chain(std::iter::once((l.len(), ' '))) {
                        match (ch.is_ascii_digit(), start) {
                            (true, None) => start = Some(j),
                            (false, Some(s0)) => {
                                runs.push((s0, j));
                                start = None;
                            }
                            _ => {}
                        }
                    }
                    if !runs.is_empty() {
                        let (a, b) = runs[n % runs.len()];
                        lines[k] = format!("{}{}{}", &l[..a], ODD[*o], &l[b..]);
                    }
                }
            }
        }
    }
    lines.join("\n") + "\n"
}

/// Parses, and when the mutant is small runs it and renders every output. Panics are the
/// failures; refusals are fine but must name the file. Hundreds of them keep a core busy for
/// seconds: heavy work, case by case.
fn exercise(name: &str, text: &str) {
    let _heavy = heavy_work();
    let file: ScenarioFile = match workload::parse(text, name) {
        Ok(f) => f,
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(name), "a refusal names the file: {msg}");
            return;
        }
    };
    let e = file.estimate(2, 1);
    assert!(e.cpu_seconds.is_finite() && e.memory_bytes.is_finite() && e.cpu_seconds >= 0.0);
    // Shrunk to a few tests of a few keys, so every mutant runs quickly; its grammar (flush
    // modes, distributions, TTLs, scripts, limits, claims) stays.
    let mut file = file;
    for v in &mut file.variants {
        v.tests = v.tests.min(3);
        v.test_seconds = v.test_seconds.min(5.0);
        for k in &mut v.keys {
            k.count = k.count.min(40);
            if k.fields.practical_max() > 150.0 {
                k.fields = fragsim::workload::SizeDist::Fixed { bytes: 150 };
            }
        }
        for sc in &mut v.scripts {
            sc.count = sc.count.min(3);
        }
    }
    let e = file.estimate(2, 1);
    if e.cpu_seconds > 0.2 || e.memory_bytes > 64e6 {
        return;
    }
    RAN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let r = match montecarlo::run_all(&file, 2, file.seed, 1, &|| {}) {
        Ok(r) => r,
        Err(msg) => {
            assert!(!msg.to_string().is_empty());
            return;
        }
    };
    let verdicts = claims::evaluate(&file.claims, &r);
    let _ = claims::render(&verdicts);
    let _ = fragsim::report::run::render_mc(&file, &r);
    let _ = fragsim::report::run::timeline_csv(&r);
    let _ = fragsim::report::document::markdown(&file, &r, &verdicts, true);
    serde_json::to_string(&r).expect("the result serialises");
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn mutated_scenarios_never_panic(
        which in any::<usize>(),
        muts in proptest::collection::vec(mutation(), 1..5),
    ) {
        let c = corpus();
        let (name, text) = &c[which % c.len()];
        exercise(name, &mutate(text, &muts, false));
        if std::env::var_os("FRAGSIM_FUZZ_STATS").is_some() {
            eprintln!("ran so far: {}", RAN.load(std::sync::atomic::Ordering::Relaxed));
        }
    }

    #[test]
    fn mutated_claims_never_panic(muts in proptest::collection::vec(mutation(), 1..4)) {
        let text = std::fs::read_to_string(repo_path("tests/corpus/claims.toml")).unwrap();
        exercise("claims.toml", &mutate(&text, &muts, true));
    }
}

proptest! {
    #![proptest_config(config(200))]

    /// A calibrated profile file with numbers, lines or bytes changed (the first fuzz round found
    /// a thread-cache bin of 2^63 objects that panicked): loaded by a small scenario that names
    /// it, refused with the file named, or run.
    #[test]
    fn mutated_profiles_never_panic(muts in proptest::collection::vec(mutation(), 1..4)) {
        let text = std::fs::read_to_string(repo_path("src/redis/profiles/redis-7.0-debian.toml")).unwrap();
        let path = profile_dir().join("profile.toml");
        std::fs::write(&path, mutate(&text, &muts, false)).unwrap();
        let scenario = format!(
            "name = \"mutated profile\"\nruns = 2\n[server]\nprofile = {:?}\n[workload]\ntests = 2\n[[workload.keys]]\nname = \"k\"\ncount = 20\nvalue_size = 3000\n",
            path.to_str().unwrap()
        );
        exercise("profile-scenario.toml", &scenario);
    }
}

/// The directory the profile mutants are written to, one for all cases.
fn profile_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| fresh_dir("fuzz-profile"))
}

/// RESP-shaped replies: valid pieces, huge lengths, truncation, garbage.
fn reply() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"+OK\r\n".to_vec()),
        Just(b"-ERR no\r\n".to_vec()),
        Just(b":42\r\n".to_vec()),
        Just(b"$3\r\nabc\r\n".to_vec()),
        Just(b"$-1\r\n".to_vec()),
        Just(b"*2\r\n".to_vec()),
        Just(b"*-1\r\n".to_vec()),
        Just(b"$99999999999\r\n".to_vec()),
        Just(b"*99999999999\r\n".to_vec()),
        Just(b"$5\r\nab".to_vec()),
        Just(b"\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 1..20),
    ];
    proptest::collection::vec(token, 1..6).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn any_reply_is_read_or_refused_within_the_deadline(bytes in reply()) {
        let sent = bytes.clone();
        // Then it closes: a reply cut short ends in an error, not a wait.
        let (addr, server) = tcp_peer(1, Duration::ZERO, move |s| {
            let _ = s.write_all(&sent);
        });
        let started = std::time::Instant::now();
        let mut c = Connection::open(&addr).unwrap().with_deadline(Duration::from_millis(500));
        match c.call_str(&["PING"]) {
            Ok(_) => {}
            Err(RespError::Connect { .. }) => prop_assert!(false, "connected before"),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        prop_assert!(started.elapsed() < Duration::from_secs(2));
        server.join().unwrap();
    }
}
