//! `fragsim import` on the command line: a dump of every version in the corpus becomes a
//! scenario that runs; truncated and bit-flipped dumps, a missing file and an unreachable
//! server are exit 2 with a message naming the file (and the byte offset), and leave no file.

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
