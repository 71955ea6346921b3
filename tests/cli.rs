//! The command line, run as a user runs it.

use std::process::Command;

fn fragsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fragsim"))
        .args(args)
        .output()
        .expect("run fragsim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn explain_shows_the_difference_between_30k_and_2k() {
    let (rc, big, _) = fragsim(&["explain", "30000"]);
    assert_eq!(rc, 0);
    assert!(big.contains("36,864 B of allocator_active (1.23x"), "{big}");
    assert!(big.contains("malloc_usable_size      32,768 B"), "{big}");
    assert!(big.contains("pad page"), "{big}");
    let (rc, small, _) = fragsim(&["explain", "2000"]);
    assert_eq!(rc, 0);
    assert!(small.contains("2,048 B of allocator_active (1.02x"), "{small}");
    assert!(small.contains("1 page(s) holding 2 regions"), "{small}");
    // Redis 7.2's bundled build has no pad page: 32 KiB active for the 30,000 B value.
    let (_, r72, _) = fragsim(&["explain", "30000", "--preset", "redis-7.2-bundled"]);
    assert!(r72.contains("32,768 B of allocator_active (1.09x"), "{r72}");
}

#[test]
fn bad_arguments_give_one_line_and_exit_2() {
    for args in [
        vec!["explain", "0"],
        vec!["explain", "-5"],
        vec!["explain", "lots"],
        vec!["explain", "100", "--preset", "tcmalloc"],
        vec!["sizeclasses", "--preset", "nope"],
        vec!["explain", "99999999999999999999999"],
    ] {
        let (rc, out, err) = fragsim(&args);
        assert_eq!(rc, 2, "{args:?}");
        assert!(out.is_empty(), "{args:?} printed {out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
}

#[test]
fn sizeclasses_json_lists_every_class_to_64_mib() {
    let (rc, out, _) = fragsim(&["sizeclasses", "--json"]);
    assert_eq!(rc, 0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    // 36 small classes, then large from 16 KiB to 64 MiB: 4 per doubling over 12 doublings + 1.
    assert_eq!(rows.len(), 36 + 49);
    assert_eq!(
        rows[0],
        serde_json::json!({"index": 0, "size": 8, "kind": "small", "slab_pages": 1, "regions": 512})
    );
    assert_eq!(
        rows[36],
        serde_json::json!({"index": 36, "size": 16384, "kind": "large"})
    );
    assert_eq!(rows.last().unwrap()["size"], 64 << 20);
    let (_, q8, _) = fragsim(&["sizeclasses", "--json", "--preset", "redis-7.0-bundled"]);
    let q8: Vec<serde_json::Value> = serde_json::from_str(&q8).unwrap();
    assert_eq!(
        q8[2],
        serde_json::json!({"index": 2, "size": 24, "kind": "small", "slab_pages": 3, "regions": 512})
    );
}

#[test]
fn run_on_the_shipped_scenario() {
    let dir = std::env::temp_dir().join(format!("fragsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("out.json");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/seed-suite-allocator.toml");
    let (rc, out, err) = fragsim(&["run", scenario, "--json", json.to_str().unwrap()]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("92 tests"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let tl = v["timeline"].as_array().unwrap();
    assert_eq!(tl.len(), 92);
    // Each test holds 30 values of 30,000 B at its peak, each at the 32 KiB class (what
    // malloc_usable_size reports), in a 9-page extent.
    assert_eq!(tl[5]["peak"]["used_memory"], 30 * 32_768);
    assert_eq!(tl[5]["peak"]["allocator_allocated"], 30 * 32_768);
    assert_eq!(tl[5]["peak"]["allocator_active"], 30 * 36_864);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_scenario_names_file_and_key_and_writes_nothing() {
    let dir = std::env::temp_dir().join(format!("fragsim-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "name = \"x\"\n[server]\nprofile = \"none\"\n[workload]\ntests = 2\n[[workload.keys]]\nname = \"k\"\ncount = 3\nvalue_size = \"big\"\n",
    )
    .unwrap();
    let json = dir.join("out.json");
    let (rc, out, err) = fragsim(&["run", file.to_str().unwrap(), "--json", json.to_str().unwrap()]);
    assert_eq!(rc, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("bad.toml: workload.keys[0].value_size: expected a byte count"),
        "{err}"
    );
    assert!(!json.exists());
    let (rc, _, err) = fragsim(&["run", dir.join("missing.toml").to_str().unwrap()]);
    assert_eq!(rc, 2);
    assert!(
        err.contains("missing.toml: cannot read the scenario file"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
