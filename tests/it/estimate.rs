//! The size estimate (`ScenarioFile::estimate`, what the refusal of too-big scenarios is based
//! on) against the memory real runs take: `fragsim run` on scenarios that each load one cost
//! (string keys with small and larger values, hash fields in listpacks and in hashtables,
//! list elements, intset and dict set members, listpack and skiplist sorted-set members,
//! small and large allocator objects, many tests), its peak RSS (`VmHWM`) less that of an
//! empty run, within 2x of the estimate either way.

use crate::common;

/// Peak RSS of `fragsim run FILE --threads 1`, bytes: the child's own high-water mark
/// (`VmHWM`), read every millisecond until it exits. (`wait4`'s `ru_maxrss` would not do: a
/// child spawned from this large test process inherits the parent's high-water mark at exec.)
/// The peak comes while the runs hold their keys, well before the outputs are written, so the
/// last reading has it.
fn peak_rss(file: &std::path::Path, out: &std::path::Path) -> f64 {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fragsim"))
        .args(["run", file.to_str().unwrap(), "--threads", "1", "--out"])
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("fragsim starts");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    assert!(status.success(), "{}: fragsim failed", file.display());
    peak_kib as f64 * 1024.0
}

fn scenario(name: &str, profile: &str, tests: u64, runs: u64, flush: &str, body: &str) -> String {
    format!(
        "name = \"{name}\"\nruns = {runs}\n[server]\nprofile = \"{profile}\"\n[workload]\n\
         tests = {tests}\nflush = \"{flush}\"\ntest_seconds = 0.1\n{body}"
    )
}

#[test]
fn the_size_estimate_is_within_2x_of_measured_peaks() {
    // Each run keeps a core busy for up to a second: not beside a live server's measurements.
    let _heavy = common::heavy_work();
    let dir = common::fresh_dir("estimate");
    let redis = "redis-7.0-debian";
    let key = |name: &str, count: u64, size: u64, extra: &str| {
        format!("[[workload.keys]]\nname = \"{name}\"\ncount = {count}\nvalue_size = {size}\n{extra}")
    };
    // A list, set or sorted set: `size` bytes per element.
    let coll = |name: &str, count: u64, size: u64, extra: &str| {
        format!("[[workload.keys]]\nname = \"{name}\"\ncount = {count}\nelement_size = {size}\n{extra}")
    };
    let cases = [
        (
            "empty",
            scenario("empty", redis, 1, 1, "none", &key("k", 1, 100, "")),
        ),
        (
            "strings",
            scenario("strings", redis, 1, 1, "none", &key("k", 400_000, 100, "")),
        ),
        (
            "small-strings",
            scenario("ss", redis, 1, 1, "none", &key("k", 1_000_000, 10, "")),
        ),
        (
            "strings-30k",
            scenario("s30k", redis, 1, 1, "none", &key("k", 200_000, 30_000, "")),
        ),
        (
            "listpack-fields",
            scenario(
                "lp",
                redis,
                1,
                1,
                "none",
                &key("h", 20_000, 50, "type = \"hash\"\nfields = 100"),
            ),
        ),
        (
            "hashtable-fields",
            scenario(
                "ht",
                redis,
                1,
                1,
                "none",
                &key("h", 20, 50, "type = \"hash\"\nfields = 20000"),
            ),
        ),
        (
            "list-elements",
            scenario(
                "list",
                redis,
                1,
                1,
                "none",
                &coll("l", 300, 50, "type = \"list\"\nelements = 10000\nbatch = 100"),
            ),
        ),
        (
            "intset-members",
            scenario(
                "intset",
                redis,
                1,
                1,
                "none",
                &coll(
                    "s",
                    12_000,
                    7,
                    "type = \"set\"\nelements = 500\ncontent = \"integer\"\nbatch = 100",
                ),
            ),
        ),
        (
            "set-members",
            scenario(
                "set",
                redis,
                1,
                1,
                "none",
                &coll("s", 800, 12, "type = \"set\"\nelements = 1000\nbatch = 100"),
            ),
        ),
        (
            "zset-listpack",
            scenario(
                "zlp",
                redis,
                1,
                1,
                "none",
                &coll("z", 10_000, 16, "type = \"zset\"\nelements = 100\nbatch = 100"),
            ),
        ),
        (
            "zset-skiplist",
            scenario(
                "zsl",
                redis,
                1,
                1,
                "none",
                &coll("z", 300, 16, "type = \"zset\"\nelements = 2000\nbatch = 100"),
            ),
        ),
        (
            "small-objects",
            scenario("so", "none", 1, 1, "none", &key("o", 3_000_000, 100, "")),
        ),
        (
            "large-objects",
            scenario("lo", "none", 1, 1, "none", &key("o", 1_000_000, 32_768, "")),
        ),
        (
            "many-tests",
            scenario("mt", redis, 5_000, 3, "before_each", &key("k", 1, 100, "")),
        ),
    ];
    let mut baseline = 0.0;
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (name, text) in &cases {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let file = fragsim::workload::parse(text, name).expect("test scenarios are valid");
        let estimate = file.estimate(file.runs, 1).memory_bytes;
        let measured = peak_rss(&path, &dir.join(format!("out-{name}")));
        if *name == "empty" {
            baseline = measured;
            continue;
        }
        let used = measured - baseline;
        let ratio = estimate / used;
        report.push(format!(
            "{name:<18} estimate {:>7.1} MiB  measured {:>7.1} MiB  ratio {ratio:.2}",
            estimate / 1048576.0,
            used / 1048576.0
        ));
        // Each case loads 25 MiB or more, well above the run-to-run noise of a few MiB.
        assert!(
            used > 20.0 * 1048576.0,
            "{name}: only {used} bytes above an empty run"
        );
        if !(0.5..=2.0).contains(&ratio) {
            failures.push(name.to_string());
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "outside 2x: {failures:?}\n{}",
        report.join("\n")
    );
}
