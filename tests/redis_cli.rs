//! `fragsim calibrate`, `validate` and `explain --redis` as a user runs them, including what
//! happens with servers that are not there, not Redis, or too old.

use std::io::{Read, Write};
use std::net::TcpListener;

mod common;
use common::*;

/// A one-shot TCP peer that answers every connection with `reply`.
fn fake_server(reply: &'static [u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten().take(8) {
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        }
    });
    addr
}

fn assert_one_line_error(rc: i32, out: &str, err: &str, needle: &str) {
    assert_eq!(rc, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (rc, out, err) = fragsim(&["calibrate", "--redis", &format!("127.0.0.1:{port}")]);
    assert_one_line_error(rc, &out, &err, "cannot connect");
}

#[test]
fn a_server_that_is_not_redis_is_a_clear_error() {
    let addr = fake_server(b"HTTP/1.0 400 Bad Request\r\n\r\n");
    let (rc, out, err) = fragsim(&["calibrate", "--redis", &addr]);
    assert_one_line_error(rc, &out, &err, "does not speak the Redis protocol");
}

#[test]
fn a_redis_older_than_7_is_a_clear_error() {
    let addr = fake_server(b"$44\r\n# Server\r\nredis_version:6.2.6\r\nredis_mode:x\r\n\r\n");
    let (rc, out, err) = fragsim(&["calibrate", "--redis", &addr]);
    assert_one_line_error(
        rc,
        &out,
        &err,
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
        let (rc, out, err) = fragsim(&bad);
        assert_one_line_error(rc, &out, &err, "");
    }
}

#[test]
fn calibrate_then_validate_a_live_live_server() {
    let Some(p) = live_server() else { return };
    let dir = std::env::temp_dir().join(format!("fragsim-rcli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("profile.toml");
    let (rc, _, err) = fragsim(&[
        "calibrate",
        "--redis",
        &p.addr,
        "--out",
        profile.to_str().unwrap(),
    ]);
    assert_eq!(rc, 0, "{err}");
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
        scenario.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("used_memory"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[1]["model"]["used_memory"], v[1]["real"]["used_memory"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
