//! `fragsim import` on the command line: a dump of every version in the corpus becomes a
//! scenario that runs; truncated and bit-flipped dumps, a missing file and an unreachable
//! server are exit 2 with a message naming the file (and the byte offset), and leave no file;
//! an imported scenario by pattern and with its what-if variants.

use crate::common::{arg, fragsim, fresh_dir, repo_path};

#[test]
fn a_dump_of_every_version_in_the_corpus_becomes_a_scenario_that_runs() {
    let dir = fresh_dir("import-ok");
    for name in ["redis-7.0", "redis-7.4", "valkey-9.1"] {
        let dump = repo_path(&format!("tests/corpus/rdb/{name}.rdb"));
        let out = dir.join(format!("{name}.toml"));
        let (code, stdout, stderr) = fragsim(&["import", arg(&dump), "--out", arg(&out)]);
        assert_eq!(code, 0, "{name}: {stderr}");
        assert!(
            stdout.contains("Imported") && stdout.contains(arg(&out)),
            "{stdout}"
        );
        let text = std::fs::read_to_string(&out).unwrap();
        let file = fragsim::workload::parse(&text, name).unwrap_or_else(|e| panic!("{e}\n{text}"));
        // The writing server's profile: RDB 10 by Redis 7.0 (no allocator in a dump: the
        // source build), RDB 12 by 7.4, VALKEY080 by 9.1.
        let want = match name {
            "redis-7.0" => "redis-7.0",
            "redis-7.4" => "redis-7.4",
            _ => "valkey-9.1",
        };
        assert_eq!(file.first().redis.as_ref().unwrap().name, want);
        let (code, _, stderr) = fragsim(&["run", arg(&out), "--runs", "1", "--out", arg(&dir.join(name))]);
        assert_eq!(code, 0, "{name}: {stderr}");
    }
}

/// The four commands of "start from your own data", the what-if variants uncommented: `run
/// --by-pattern` prints and saves memory by key pattern, each column summing to its figure;
/// `report --by-pattern` adds the section, its chart and the variants' comparison.
#[test]
fn an_imported_data_set_by_pattern_and_what_if() {
    let dir = fresh_dir("import-patterns");
    let out = dir.join("mydata.toml");
    let dump = repo_path("tests/corpus/rdb/redis-7.4.rdb");
    let (code, _, stderr) = fragsim(&["import", arg(&dump), "--out", arg(&out)]);
    assert_eq!(code, 0, "{stderr}");
    // Uncomment the what-if variants the import wrote at the end.
    let text = std::fs::read_to_string(&out).unwrap();
    let at = text.find("# [[variant]]").expect("commented variants");
    let variants: String = text[at..]
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&out, format!("{}{variants}", &text[..at])).unwrap();
    let (code, stdout, stderr) = fragsim(&[
        "run",
        arg(&out),
        "--runs",
        "2",
        "--by-pattern",
        "--out",
        arg(&dir.join("run")),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("memory by key pattern at the peak of run"),
        "{stdout}"
    );
    assert!(
        stdout.contains("list:*") && stdout.contains("(baseline)"),
        "{stdout}"
    );
    assert!(dir.join("run/patterns.svg").exists() && dir.join("run/patterns.png").exists());
    let json = crate::common::read_json(&dir.join("run/result.json"));
    let variants = json["variants"].as_array().unwrap();
    let names: Vec<&str> = variants.iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "as imported",
            "values halved",
            "twice the keys",
            "90 days at +1% a day",
            "on valkey-9.1"
        ]
    );
    for v in variants {
        let b = &v["breakdown"];
        let rows = b["by_pattern"].as_array().expect("by_pattern");
        for col in ["used_memory", "allocator_active", "rss"] {
            let sum: u64 = rows.iter().map(|r| r[col].as_u64().unwrap()).sum();
            assert_eq!(sum, b[col].as_u64().unwrap(), "{col} of {}", v["name"]);
        }
    }
    // Growth: 91 tests, the keyspace growing by 1 % of each pattern's keys a test.
    let growth = &variants[3];
    assert_eq!(growth["timeline"].as_array().unwrap().len(), 91);
    let (code, _, stderr) = fragsim(&[
        "report",
        arg(&out),
        "--runs",
        "2",
        "--by-pattern",
        "--out",
        arg(&dir.join("report")),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let md = std::fs::read_to_string(dir.join("report/report.md")).unwrap();
    assert!(md.contains("## Memory by key pattern") && md.contains("![patterns](patterns.svg)"));
    assert!(md.contains("RSS by key pattern, each variant against the first"));
    assert!(md.contains("= total (INFO memory)"));
    // Without --by-pattern, none of it (and no owner tags in the runs).
    let (code, stdout, _) = fragsim(&["run", arg(&out), "--runs", "1", "--out", arg(&dir.join("plain"))]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("memory by key pattern") && !dir.join("plain/patterns.svg").exists());
    let json = crate::common::read_json(&dir.join("plain/result.json"));
    assert!(json["variants"][0]["breakdown"].get("by_pattern").is_none());
}

#[test]
fn corrupt_dumps_missing_files_and_dead_servers_are_exit_2_and_write_nothing() {
    let dir = fresh_dir("import-bad");
    let good = std::fs::read(repo_path("tests/corpus/rdb/redis-7.0.rdb")).unwrap();
    let out = dir.join("out.toml");
    // Cuts at 60 places and flips of one bit at 60: every one is caught (the CRC covers every
    // byte), named with its offset, and nothing is written.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for case in 0..120 {
        let mut b = good.clone();
        let what = if case % 2 == 0 {
            let cut = (next() % b.len() as u64) as usize;
            b.truncate(cut);
            format!("cut at {cut}")
        } else {
            let at = (next() % b.len() as u64) as usize;
            b[at] ^= 1 << (next() % 8);
            format!("bit flipped at {at}")
        };
        let path = dir.join("bad.rdb");
        std::fs::write(&path, &b).unwrap();
        let (code, _, stderr) = fragsim(&["import", arg(&path), "--out", arg(&out)]);
        assert_eq!(code, 2, "{what}: {stderr}");
        assert!(
            stderr.contains("bad.rdb") && stderr.contains("byte "),
            "{what}: {stderr}"
        );
        assert!(!out.exists(), "{what}: a scenario was written");
    }
    let (code, _, stderr) = fragsim(&["import", arg(&dir.join("missing.rdb")), "--out", arg(&out)]);
    assert_eq!(code, 2);
    assert!(stderr.contains("missing.rdb: cannot open the dump"), "{stderr}");
    let (code, _, stderr) = fragsim(&["import", "--redis", "127.0.0.1:1", "--out", arg(&out)]);
    assert_eq!(code, 2);
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    let dump = repo_path("tests/corpus/rdb/redis-7.0.rdb");
    let (code, _, stderr) = fragsim(&["import", arg(&dump), "--sample", "10", "--out", arg(&out)]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--sample and --match are for a live server"),
        "{stderr}"
    );
    assert!(!out.exists());
}
