//! Sharded runs and sweeps (`--shard K/N`, `fragsim merge`): 1, 2 and 7 shards run as separate
//! processes of the binary merge into every file and the text of the plain run, byte for byte;
//! a merge refuses missing, repeated, foreign and damaged shards without writing anything; the
//! shard files' runs read back exactly; the Slurm scripts and the Kubernetes Jobs' commands in
//! deploy/ work as written.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

use fragsim::sim::montecarlo::{run_seed, JobRun};

/// A scenario of the test corpus: 2 variants of 2 tests, a fraction of a second per run.
fn corpus(name: &str) -> String {
    arg(&repo_path(&format!("tests/corpus/{name}"))).to_string()
}

/// `fragsim run` of the corpus's claims scenario, 8 runs a variant: 16 jobs, so 7 shards take
/// 3, 3, 2, 2, 2, 2 and 2.
fn run_args() -> Vec<String> {
    ["run", &corpus("claims.toml"), "--runs", "8"]
        .map(String::from)
        .to_vec()
}

/// A sweep of the same scenario over a real-valued parameter (two curves, three points): 64 jobs.
fn sweep_args() -> Vec<String> {
    [
        "sweep",
        &corpus("claims.toml"),
        "--param",
        "cleanup",
        "--values",
        "0.1,0.35,0.7",
        "--runs",
        "8",
    ]
    .map(String::from)
    .to_vec()
}

fn with(args: &[String], more: &[&str]) -> Vec<String> {
    args.iter()
        .cloned()
        .chain(more.iter().map(|s| s.to_string()))
        .collect()
}

/// Runs shards 1 to `n` of `args` into `dir`, each a process of its own (odd ones on 2
/// threads, even ones on 1); checks each wrote its file and said so.
fn run_shards(args: &[String], n: u64, dir: &Path) {
    for k in 1..=n {
        let threads = if k % 2 == 0 { "1" } else { "2" };
        let shard = format!("{k}/{n}");
        let (rc, out, err) = fragsim(&with(
            args,
            &["--shard", &shard, "--threads", threads, "--out", arg(dir)],
        ));
        assert_eq!(rc, 0, "shard {shard}: {err}");
        assert!(err.is_empty(), "shard {shard}: {err}");
        assert!(
            out.contains(&format!("shard {k} of {n} of `fragsim {}`", args[0])),
            "{out}"
        );
        assert!(dir.join(format!("shard-{k}-of-{n}.json")).is_file(), "{out}");
    }
    assert_eq!(
        snapshot(dir).len() as u64,
        n,
        "one file per shard in {}",
        dir.display()
    );
}

/// Every file in `got` the same as in `want`, byte for byte, and no other.
fn assert_same_files(what: &str, want: &[(String, Vec<u8>)], got: &[(String, Vec<u8>)]) {
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{what}: the files");
    for ((name, a), (_, b)) in want.iter().zip(got) {
        assert!(a == b, "{what}: {name} differs from the plain run's");
    }
}

/// The plain command into `base/out` (with `--json` and `--csv` for run), then for N = 1, 2
/// and 7: the shards as separate processes, the merge into the same paths, and every file and
/// the text compared with the plain run's.
fn merges_like_the_plain_run(args: &[String]) {
    let base = fresh_dir("shards-same");
    let out = base.join("out");
    let (json, csv) = (base.join("r.json"), base.join("t.csv"));
    let extra: Vec<&str> = if args[0] == "run" {
        vec!["--json", arg(&json), "--csv", arg(&csv)]
    } else {
        vec![]
    };
    let mut plain = with(args, &["--out", arg(&out)]);
    plain.extend(extra.iter().map(|s| s.to_string()));
    let (rc, text, err) = fragsim(&plain);
    assert_eq!(rc, 0, "{err}");
    let want = snapshot(&out);
    let want_extra: Vec<Vec<u8>> = [&json, &csv]
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    assert_eq!(want_extra.len(), extra.len() / 2);
    for n in [1, 2, 7] {
        std::fs::remove_dir_all(&out).unwrap();
        let _ = (std::fs::remove_file(&json), std::fs::remove_file(&csv));
        let shards = base.join(format!("shards-{n}"));
        run_shards(args, n, &shards);
        let mut merge = vec!["merge", arg(&shards), "--out", arg(&out)];
        merge.extend(&extra);
        let (rc, merged, err) = fragsim(&merge);
        assert_eq!(rc, 0, "{n} shards: {err}");
        assert!(err.is_empty(), "{n} shards: {err}");
        assert_eq!(merged, text, "{n} shards: the text");
        assert_same_files(&format!("{} in {n} shards", args[0]), &want, &snapshot(&out));
        let got_extra: Vec<Vec<u8>> = [&json, &csv]
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .collect();
        assert!(got_extra == want_extra, "{n} shards: --json and --csv");
    }
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn run_in_1_2_and_7_shards_merges_to_the_plain_run() {
    merges_like_the_plain_run(&run_args());
}

#[test]
fn sweep_in_1_2_and_7_shards_merges_to_the_plain_sweep() {
    merges_like_the_plain_run(&sweep_args());
    // Variants that differ only in the swept parameter share one curve.
    let one_curve = ["--param", "value_size", "--values", "1000,3000", "--runs", "8"];
    merges_like_the_plain_run(&with(&["sweep".into(), corpus("claims.toml")], &one_curve));
}

/// The shard files' runs: every number written reads back to the same bits (serde_json's
/// `float_roundtrip`), and a run reads back equal to the run (its bins, which a merge does not
/// use, are not read back).
#[test]
fn shard_runs_read_back_exactly() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let special = [
        0.0,
        -0.0,
        f64::MIN_POSITIVE,
        5e-324,
        f64::MAX,
        f64::MIN,
        0.1,
        1.0 / 3.0,
        1.1,
    ];
    let random = (0..200_000).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        f64::from_bits(x)
    });
    for f in special.into_iter().chain(random).filter(|f| f.is_finite()) {
        let text = serde_json::to_string(&f).unwrap();
        let back: f64 = serde_json::from_str(&text).unwrap();
        assert_eq!(back.to_bits(), f.to_bits(), "{f:e} written as {text}");
    }
    let file = fragsim::workload::load(Path::new(&corpus("claims.toml"))).unwrap();
    for (i, v) in file.variants.iter().enumerate() {
        let mut run = fragsim::sim::run(v, run_seed(file.seed, i as u64), |_| {});
        let job = JobRun {
            job: i as u64,
            run: run.clone(),
        };
        let back: JobRun = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        run.bins.clear();
        assert_eq!(back, JobRun { job: i as u64, run }, "variant {}", v.variant);
    }
}

/// Three shards of the run in `base/shards`; returns their paths.
fn three_shards(base: &Path) -> Vec<PathBuf> {
    let dir = base.join("shards");
    run_shards(&run_args(), 3, &dir);
    (1..=3)
        .map(|k| dir.join(format!("shard-{k}-of-3.json")))
        .collect()
}

/// A refused merge: exit code 2, one line naming the problem, and no output directory.
fn assert_refused(base: &Path, args: &[&str], needle: &str) {
    let out = base.join("merged");
    let mut all = vec!["merge"];
    all.extend(args);
    all.extend(["--out", arg(&out)]);
    assert_one_line_error(&all, fragsim(&all), needle);
    assert!(!out.exists(), "{all:?} created {}", out.display());
}

#[test]
fn merge_refuses_missing_duplicate_and_foreign_shards() {
    let base = fresh_dir("shards-refused");
    let s = three_shards(&base);
    let p = |i: usize| arg(&s[i]);
    assert_refused(
        &base,
        &[p(0), p(2)],
        "shard 2 of 3 missing (shard-2-of-3.json); run it (--shard 2/3)",
    );
    assert_refused(&base, &[p(0)], "shards 2, 3 of 3 missing");
    let copy = base.join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(&s[1], copy.join("shard-2-of-3.json")).unwrap();
    assert_refused(
        &base,
        &[arg(s[0].parent().unwrap()), arg(&copy)],
        "shard 2 of 3 is given twice",
    );
    // Another N, another scenario, other runs or seed: shards of another run.
    let other = |name: &str, args: Vec<String>, shard: &str| {
        let dir = base.join(name);
        let (rc, _, err) = fragsim(&with(&args, &["--shard", shard, "--out", arg(&dir)]));
        assert_eq!(rc, 0, "{err}");
        dir.join(format!("shard-{}.json", shard.replace('/', "-of-")))
    };
    let n2 = other("n2", run_args(), "2/2");
    assert_refused(&base, &[p(0), p(2), arg(&n2)], "has N = 2 but");
    let alloc = vec![
        "run".into(),
        corpus("allocator-min.toml"),
        "--runs".into(),
        "8".into(),
    ];
    let foreign = other("foreign", alloc, "2/3");
    assert_refused(
        &base,
        &[p(0), arg(&foreign), p(2)],
        "has scenario = 'smallest allocator workload'",
    );
    let runs9 = other(
        "runs9",
        vec!["run".into(), corpus("claims.toml"), "--runs".into(), "9".into()],
        "2/3",
    );
    assert_refused(&base, &[p(0), arg(&runs9), p(2)], "has runs = 9 but");
    let seed = other("seed", with(&run_args(), &["--seed", "5"]), "2/3");
    assert_refused(&base, &[p(0), arg(&seed), p(2)], "has seed = 5 but");
    let sweep = other("sweep", sweep_args(), "2/3");
    assert_refused(&base, &[p(0), arg(&sweep), p(2)], "has command = sweep but");
    // The scenario file changed since the shards ran.
    let changed = base.join("changed.toml");
    std::fs::write(
        &changed,
        scenario_text_at(&corpus("claims.toml")).replace("count = 20", "count = 21"),
    )
    .unwrap();
    assert_refused(
        &base,
        &[p(0), p(1), p(2), "--scenario", arg(&changed)],
        "not the scenario the shards ran",
    );
    // Options a sweep's merge does not take.
    let sweep_dir = base.join("sweep-all");
    run_shards(&sweep_args(), 2, &sweep_dir);
    assert_refused(
        &base,
        &[arg(&sweep_dir), "--bins"],
        "--bins: only for the shards of fragsim run",
    );
    let _ = std::fs::remove_dir_all(&base);
}

fn scenario_text_at(path: &str) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn merge_refuses_damaged_shards_and_empty_directories() {
    let base = fresh_dir("shards-damaged");
    let s = three_shards(&base);
    let bytes = std::fs::read(&s[1]).unwrap();
    let cut = base.join("cut.json");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_refused(
        &base,
        &[arg(&s[0]), arg(&cut), arg(&s[2])],
        "cut.json: not a complete fragsim shard file",
    );
    let junk = base.join("junk.json");
    std::fs::write(&junk, "{}").unwrap();
    assert_refused(
        &base,
        &[arg(&junk)],
        "junk.json: not a complete fragsim shard file",
    );
    // A shard whose runs are not its share: one run left out.
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["results"].as_array_mut().unwrap().pop();
    let short = base.join("short.json");
    std::fs::write(&short, serde_json::to_vec(&v).unwrap()).unwrap();
    assert_refused(
        &base,
        &[arg(&s[0]), arg(&short), arg(&s[2])],
        "its runs are not the",
    );
    let empty = fresh_dir("shards-empty");
    assert_refused(
        &base,
        &[arg(&empty)],
        "no shard files (shard-K-of-N.json) in this directory",
    );
    assert_refused(
        &base,
        &[arg(&base.join("nope.json"))],
        "nope.json: cannot read the shard file",
    );
    let _ = std::fs::remove_dir_all(&base);
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn shard_arguments_are_checked() {
    let base = fresh_dir("shards-args");
    let out = base.join("out");
    for (shard, needle) in [
        ("0/3", "--shard '0/3': K must be 1 to 3"),
        ("4/3", "--shard '4/3': K must be 1 to 3"),
        ("3", "--shard '3': expected K/N"),
        ("a/b", "K and N must be whole numbers"),
        ("1/2/3", "K and N must be whole numbers"),
        ("-1/3", "K and N must be whole numbers"),
        ("1/0", "N must be 1 to 1000000"),
    ] {
        for args in [run_args(), sweep_args()] {
            let all = with(&args, &["--shard", shard, "--out", arg(&out)]);
            assert_one_line_error(&all, fragsim(&all), needle);
            assert!(!out.exists());
        }
    }
    for command in ["report", "check"] {
        let all = [command, &corpus("claims.toml"), "--shard", "1/2"];
        assert_one_line_error(all, fragsim(&all), &format!("fragsim {command} does not shard"));
    }
    for flag in [&["--json", "x.json"][..], &["--csv", "x.csv"], &["--bins"]] {
        let all = with(&with(&run_args(), &["--shard", "1/2", "--out", arg(&out)]), flag);
        assert_one_line_error(
            &all,
            fragsim(&all),
            "a shard writes only its partial result; give",
        );
        assert!(!out.exists());
    }
    let _ = std::fs::remove_dir_all(&base);
}

/// The directory of the fragsim binary, first on a PATH for scripts that call `fragsim`.
fn path_with_fragsim() -> String {
    let dir = Path::new(FRAGSIM_BIN).parent().unwrap();
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

/// Runs `program args` with `env`; returns its stdout, failing on a non-zero exit.
fn script(program: &str, args: &[&str], env: &[(&str, String)]) -> String {
    let _heavy = heavy_work();
    let out = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("PATH", path_with_fragsim())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{program} {args:?}: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The plain run of the corpus scenario into `out`: its text and files.
fn plain_run(out: &Path) -> (String, Vec<(String, Vec<u8>)>) {
    let (rc, text, err) = fragsim(&with(&run_args(), &["--out", arg(out)]));
    assert_eq!(rc, 0, "{err}");
    let files = snapshot(out);
    std::fs::remove_dir_all(out).unwrap();
    (text, files)
}

#[test]
fn slurm_scripts_run_and_merge_as_written() {
    let base = fresh_dir("shards-slurm");
    let (out, shards) = (base.join("out"), base.join("shards"));
    let (text, want) = plain_run(&out);
    let env = |k: u64| {
        vec![
            ("SLURM_ARRAY_TASK_ID", k.to_string()),
            ("SLURM_ARRAY_TASK_COUNT", "3".to_string()),
            ("SLURM_CPUS_PER_TASK", "1".to_string()),
            ("SCENARIO", corpus("claims.toml")),
            ("RUNS", "8".to_string()),
            ("SHARDS_DIR", arg(&shards).to_string()),
            ("OUT", arg(&out).to_string()),
        ]
    };
    let dir = repo_path("deploy/slurm");
    for k in 1..=3 {
        script("bash", &[arg(&dir.join("shards.sbatch"))], &env(k));
    }
    let merged = script("bash", &[arg(&dir.join("merge.sbatch"))], &env(0));
    assert_eq!(merged, text);
    assert_same_files("the Slurm merge", &want, &snapshot(&out));
    // submit.sh queues the array, then the merge after it, with a stand-in sbatch.
    let bin = base.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = base.join("sbatch.log");
    let fake = format!(
        "#!/bin/sh\necho \"$*\" >> {}\necho '4242;cluster'\n",
        log.display()
    );
    std::fs::write(bin.join("sbatch"), fake).unwrap();
    let status = Command::new("chmod")
        .args(["+x", arg(&bin.join("sbatch"))])
        .status()
        .unwrap();
    assert!(status.success());
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .arg(dir.join("submit.sh"))
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls[0].starts_with("--parsable ") && calls[0].ends_with("shards.sbatch"),
        "{calls:?}"
    );
    assert!(
        calls[1].starts_with("--dependency=afterok:4242 ") && calls[1].ends_with("merge.sbatch"),
        "{calls:?}"
    );
    // The array is 1-N with no step, as the script's SLURM_ARRAY_TASK_COUNT needs.
    let sbatch = std::fs::read_to_string(dir.join("shards.sbatch")).unwrap();
    assert!(
        sbatch.lines().any(|l| l.starts_with("#SBATCH --array=1-")),
        "{sbatch}"
    );
    let _ = std::fs::remove_dir_all(&base);
}

/// A Kubernetes manifest's container command (the block under `args: - |`, dedented) and its
/// environment (`- name:` / `value:` pairs), read as text.
fn job_command(manifest: &str) -> (String, Vec<(String, String)>) {
    let lines: Vec<&str> = manifest.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == "- |")
        .expect("an args block");
    let indent = |l: &str| l.len() - l.trim_start().len();
    let block: Vec<&str> = lines[at + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || indent(l) > indent(lines[at]))
        .copied()
        .collect();
    let strip = block
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent(l))
        .min()
        .unwrap();
    let command = block
        .iter()
        .map(|l| l.get(strip..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut env = Vec::new();
    for w in lines.windows(2) {
        if let (Some(name), Some(value)) = (
            w[0].trim().strip_prefix("- name: "),
            w[1].trim().strip_prefix("value: "),
        ) {
            let value = value.split('#').next().unwrap().trim().trim_matches('"');
            let name = name.split('#').next().unwrap().trim();
            env.push((name.to_string(), value.to_string()));
        }
    }
    (command, env)
}

#[test]
fn kubernetes_jobs_run_and_merge_as_written() {
    let base = fresh_dir("shards-k8s");
    let (out, shards) = (base.join("out"), base.join("shards"));
    let (text, want) = plain_run(&out);
    let dir = repo_path("deploy/kubernetes");
    let manifest = std::fs::read_to_string(dir.join("shards.yaml")).unwrap();
    let (shard_cmd, shard_env) = job_command(&manifest);
    let completions = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("completions:"))
        .map(|v| v.split('#').next().unwrap().trim().to_string());
    let shards_env = shard_env
        .iter()
        .find(|(k, _)| k == "SHARDS")
        .map(|(_, v)| v.clone());
    assert_eq!(shards_env, completions, "SHARDS is the Job's completions");
    assert!(manifest.contains("completionMode: Indexed"));
    // The manifest's own environment, but a small scenario, 3 shards and local paths.
    let local = |k: &str, v: &str| -> String {
        match k {
            "SHARDS" => "3".into(),
            "SCENARIO" => corpus("claims.toml"),
            "RUNS" => "8".into(),
            "SHARDS_DIR" => arg(&shards).into(),
            "OUT" => arg(&out).into(),
            "THREADS" => "1".into(),
            _ => v.into(),
        }
    };
    for index in 0..3 {
        let mut env: Vec<(&str, String)> = shard_env.iter().map(|(k, v)| (k.as_str(), local(k, v))).collect();
        env.push(("JOB_COMPLETION_INDEX", index.to_string()));
        script("sh", &["-c", &shard_cmd], &env);
    }
    let merge = std::fs::read_to_string(dir.join("merge.yaml")).unwrap();
    let (merge_cmd, merge_env) = job_command(&merge);
    let env: Vec<(&str, String)> = merge_env.iter().map(|(k, v)| (k.as_str(), local(k, v))).collect();
    let merged = script("sh", &["-c", &merge_cmd], &env);
    assert_eq!(merged, text);
    assert_same_files("the Kubernetes merge", &want, &snapshot(&out));
    let _ = std::fs::remove_dir_all(&base);
}
