//! `fragsim calibrate`, `validate` and `explain --redis` as a user runs them, including what
//! happens with servers that are not there, not Redis, or too old.

use std::io::Write;
use std::time::Duration;

use crate::common::*;

/// A stand-in server that answers each of up to 8 connections with `reply` and closes it.
fn fake_server(reply: &'static [u8]) -> String {
    tcp_peer(8, Duration::ZERO, move |s| {
        let _ = s.write_all(reply);
    })
    .0
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let closed = ClosedPort::bind();
    let args = ["calibrate", "--redis", &closed.addr];
    assert_one_line_error(args, fragsim(&args), "cannot connect");
}

#[test]
fn a_server_that_is_not_redis_is_a_clear_error() {
    let addr = fake_server(b"HTTP/1.0 400 Bad Request\r\n\r\n");
    let args = ["calibrate", "--redis", &addr];
    assert_one_line_error(args, fragsim(&args), "does not speak the Redis protocol");
}

#[test]
fn a_redis_older_than_7_is_a_clear_error() {
    let addr = fake_server(b"$45\r\n# Server\r\nredis_version:6.2.6\r\nredis_mode:x\r\n\r\n");
    let args = ["calibrate", "--redis", &addr];
    assert_one_line_error(
        args,
        fragsim(&args),
        "runs Redis 6.2.6; fragsim models Redis 7.0 and later",
    );
}

#[test]
fn explain_a_redis_key() {
    let (rc, out, err) = fragsim(&["explain", "--redis", "redis-7.0-debian", "--string", "30000"]);
    assert_eq!(rc, 0, "{err}");
    let words = |prefix: &str| -> Vec<String> {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .expect(prefix);
        line[line.find(prefix).unwrap() + prefix.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    // sds type 16: 5 + 30,000 + 1 = 30,006 B requested, the 32 KiB class.
    assert_eq!(words("value sds"), ["1", "30,006", "32,768"]);
    // 32 (dictEntry) + 16 (key) + 16 (robj) + 32,768.
    assert_eq!(words("total (without dict buckets)"), ["32,832"]);
    let (rc, out, _) = fragsim(&["explain", "--redis", "redis-7.0-debian", "--hash", "20x1500"]);
    assert_eq!(rc, 0);
    assert!(out.contains("encoding: hashtable"), "{out}");
    let (rc, out, _) = fragsim(&["explain", "--redis", "redis-7.0-debian", "--hash", "20x20"]);
    assert_eq!(rc, 0);
    assert!(out.contains("encoding: listpack"), "{out}");
    for bad in [
        vec!["explain", "--redis", "redis-9", "--string", "10"],
        vec!["explain", "--redis", "redis-7.0-debian"],
        vec!["explain", "--redis", "redis-7.0-debian", "--hash", "twentyx10"],
        vec!["explain", "--string", "10"],
    ] {
        assert_one_line_error(&bad, fragsim(&bad), "");
    }
}

/// `fragsim calibrate --redis ADDR --out DIR/profile.toml`, which must succeed; returns the
/// profile's path and what calibrate said on stderr.
fn calibrate_into(addr: &str, dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let profile = dir.join("profile.toml");
    let (rc, _, err) = fragsim(&["calibrate", "--redis", addr, "--out", arg(&profile)]);
    assert_eq!(rc, 0, "{err}");
    (profile, err)
}

#[test]
fn calibrate_then_validate_a_live_live_server() {
    let live = live_lock();
    let Some(p) = live_server(&live) else { return };
    let dir = fresh_dir("rcli");
    let (profile, _) = calibrate_into(&p.addr, &dir);
    let text = std::fs::read_to_string(&profile).unwrap();
    assert!(text.contains("version = \"7."), "{text}");
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"v\"\n[server]\nprofile = \"{}\"\n[workload]\ntests = 2\ntest_seconds = 0.2\n[[workload.keys]]\nname = \"k\"\ncount = 20\nvalue_size = 3000\n",
            profile.display()
        ),
    )
    .unwrap();
    let json = dir.join("v.json");
    let (rc, out, err) = fragsim(&[
        "validate",
        "--redis",
        &p.addr,
        arg(&scenario),
        "--json",
        arg(&json),
        "--runs",
        "8",
    ]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("used_memory") && out.contains("model p95"), "{out}");
    let v = read_json(&json);
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[1]["model"]["used_memory"], v[1]["real"]["used_memory"]);
    // The band's runs differ only in the server's startup draws, which used_memory does not
    // depend on: all eight agree with the lockstep run.
    let band = &v[1]["band"]["used_memory"];
    assert_eq!(band["p5"], band["p95"], "{band}");
    assert_eq!(band["p5"].as_f64(), v[1]["model"]["used_memory"].as_f64());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The way a test pipeline meets Redis: calibrate one freshly started server, predict another
/// one with `--profile`. A server holding keys is refused with exit code 2 and a message that
/// says how many and what to do; nothing of the workload is written to it.
#[test]
fn validate_a_fresh_server_from_another_ones_profile_and_refuse_a_dirty_one() {
    let live = live_lock();
    let Some(a) = live_server(&live) else { return };
    let Some(b) = live_server(&live) else { return };
    let dir = fresh_dir("rcli2");
    let (profile, err) = calibrate_into(&a.addr, &dir);
    assert!(!err.contains("note:"), "a fresh server needs no note: {err}");
    let text = std::fs::read_to_string(&profile).unwrap();
    assert!(
        text.contains("state = \"fresh\"") && text.contains("[as_found]"),
        "{text}"
    );
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        "name = \"v\"\n[server]\nprofile = \"redis-7.0-debian\"\n[workload]\ntests = 2\ntest_seconds = 0.1\n[[workload.keys]]\nname = \"k\"\ncount = 20\nvalue_size = 3000\n",
    )
    .unwrap();
    let args = |addr: &str| {
        vec![
            "validate".to_string(),
            "--redis".into(),
            addr.into(),
            "--profile".into(),
            arg(&profile).into(),
            arg(&scenario).into(),
        ]
    };
    let (rc, out, err) = fragsim(&args(&b.addr));
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("used_memory_peak"), "{out}");
    // The keys it wrote are gone again; a key of someone else's makes the server dirty.
    let mut c = fragsim::redis::resp::Connection::open(&b.addr).unwrap();
    assert_eq!(
        c.call_str(&["DBSIZE"]).unwrap(),
        fragsim::redis::resp::Resp::Int(0)
    );
    c.call_str(&["SET", "theirs", "1"]).unwrap();
    let (rc, out, err) = fragsim(&args(&b.addr));
    assert!(err.contains("--flush"), "{err}");
    assert_one_line_error("validate of a dirty server", (rc, out, err), "holds 1 key(s)");
    assert_eq!(
        c.call_str(&["DBSIZE"]).unwrap(),
        fragsim::redis::resp::Resp::Int(1)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
