//! Outputs are never half-written, clobbered or left behind: a failed write (a full disk,
//! simulated with a file-size limit), a bad path, an interrupt or a kill leaves the previous
//! complete output as it was, and the next run removes what a killed one left.

use crate::common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A small allocator scenario: quick, and its result.json is small next to its charts.
const TINY: &str = "name = \"tiny\"\nseed = 1\n[server]\nprofile = \"none\"\n[workload]\ntests = 2\n\
                    [[workload.keys]]\nname = \"k\"\ncount = 10\nvalue_size = 100\n";

/// A fresh directory holding the tiny scenario; returns both paths.
fn tiny(tag: &str) -> (PathBuf, PathBuf) {
    let d = fresh_dir(tag);
    let scen = d.join("tiny.toml");
    std::fs::write(&scen, TINY).unwrap();
    (d, scen)
}

/// Runs fragsim under a file-size limit of `blocks` x 512 B (`ulimit -f`), as heavy work (as
/// [`fragsim`] runs it).
fn with_file_limit(blocks: u64, args: &[&str]) -> (i32, String) {
    let _heavy = heavy_work();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -f {blocks} && exec \"$0\" \"$@\""))
        .arg(FRAGSIM_BIN)
        .args(args);
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_failed_write_at_any_size_leaves_the_previous_output_whole() {
    let (d, scen) = tiny("limit");
    let out = d.join("out");
    let (rc, _, err) = fragsim(&["run", arg(&scen), "--runs", "1", "--out", arg(&out)]);
    assert_eq!(rc, 0, "{err}");
    let before = snapshot(&out);
    assert_eq!(
        before.len(),
        12,
        "{:?}",
        before.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let largest = before.iter().map(|f| f.1.len()).max().unwrap() as u64;
    // Limits from below the smallest file to just under the largest: each write that would
    // pass the limit fails somewhere else (result.json, a chart, the CSV).
    let mut failures = 0;
    for blocks in [0, 1, 8, 30, 60, 100, 150, largest / 512 - 1] {
        let (rc, err) = with_file_limit(blocks, &["run", arg(&scen), "--runs", "2", "--out", arg(&out)]);
        assert_eq!(rc, 2, "limit {blocks}: {err}");
        assert!(
            err.contains("File too large") && !err.contains("panicked"),
            "{err}"
        );
        assert_eq!(snapshot(&out), before, "limit {blocks}: the output changed");
        failures += 1;
    }
    assert_eq!(failures, 8);
    // With room, the new output lands whole.
    let (rc, _, err) = fragsim(&["run", arg(&scen), "--runs", "2", "--out", arg(&out)]);
    assert_eq!(rc, 0, "{err}");
    assert_ne!(snapshot(&out), before);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn extra_outputs_land_with_the_rest_or_not_at_all() {
    let (d, scen) = tiny("extra");
    let json = d.join("ok.json");
    let out = d.join("new/a/b/c");
    let (rc, _, err) = fragsim(&[
        "run",
        arg(&scen),
        "--runs",
        "1",
        "--out",
        arg(&out),
        "--json",
        arg(&json),
        "--csv",
        "/nonexistent-dir/x.csv",
    ]);
    assert_eq!(rc, 2);
    assert!(
        err.contains("/nonexistent-dir/x.csv") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(!json.exists(), "ok.json was left behind");
    assert!(
        !d.join("new").exists(),
        "the directories made for --out were left behind"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn links_devices_and_the_root_are_never_replaced() {
    let (d, scen) = tiny("links");
    let out = d.join("out");
    // A symbolic link: its target gets the output, the link stays a link.
    let target = d.join("target.json");
    std::fs::write(&target, "old").unwrap();
    for mine in [".notes.old-2", ".draft.tmp-1"] {
        std::fs::write(d.join(mine), "mine").unwrap();
    }
    let link = d.join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (rc, _, err) = fragsim(&[
        "run",
        arg(&scen),
        "--runs",
        "1",
        "--out",
        arg(&out),
        "--json",
        arg(&link),
    ]);
    assert_eq!(rc, 0, "{err}");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    // A user's own hidden files beside an output are never taken for stale temporary files.
    for mine in [".notes.old-2", ".draft.tmp-1"] {
        assert!(d.join(mine).exists(), "{mine} was removed");
    }
    assert!(std::fs::read_to_string(&target).unwrap().contains("\"scenario\""));
    // A device is written through: /dev/full refuses the bytes (exit 2) and stays a device.
    if Path::new("/dev/full").exists() {
        let (rc, _, err) = fragsim(&[
            "run",
            arg(&scen),
            "--runs",
            "1",
            "--out",
            arg(&out),
            "--json",
            "/dev/full",
        ]);
        assert_eq!(rc, 2, "{err}");
        assert!(
            err.contains("/dev/full") && err.contains("No space left"),
            "{err}"
        );
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device());
    }
    let (rc, _, err) = fragsim(&["run", arg(&scen), "--runs", "1", "--out", "/"]);
    assert_eq!(rc, 2);
    assert!(
        err.contains("the root directory is not an output directory"),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// Waits until `dir` holds a staging directory (the run is writing) or `limit` passes.
fn wait_for_staging(dir: &Path, limit: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if let Ok(rd) = std::fs::read_dir(dir) {
            if rd
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".fragsim-staging-"))
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn an_interrupt_keeps_the_old_output_and_a_kill_is_cleaned_up_by_the_next_run() {
    let (d, scen) = tiny("signals");
    let out = d.join("out");
    let (rc, _, err) = fragsim(&["run", arg(&scen), "--runs", "1", "--out", arg(&out)]);
    assert_eq!(rc, 0, "{err}");
    let before = snapshot(&out);
    let long = scenario_path("seed-suite.toml");
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGKILL] {
        let child = fragsim_command()
            .args([
                "run",
                &long,
                "--runs",
                "5000",
                "--threads",
                "1",
                "--force",
                "--out",
                arg(&out),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(
            wait_for_staging(&out, Duration::from_secs(20)),
            "no staging directory"
        );
        std::thread::sleep(Duration::from_millis(200));
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(child.id() as i32, sig);
        }
        if sig == libc::SIGKILL {
            // Until its parent reaps it, a killed process is a zombie that still has a
            // /proc entry named fragsim: the next run must see it as dead (here the parent, the
            // test, reaps it only afterwards).
            let stat = format!("/proc/{}/stat", child.id());
            let t = std::time::Instant::now();
            while !std::fs::read_to_string(&stat).is_ok_and(|st| st.contains(") Z ")) {
                assert!(t.elapsed() < Duration::from_secs(10), "not a zombie yet");
                std::thread::sleep(Duration::from_millis(10));
            }
            let (rc, _, err) = fragsim(&["run", arg(&scen), "--runs", "1", "--out", arg(&out)]);
            assert_eq!(rc, 0, "{err}");
            let now = snapshot(&out);
            assert!(
                now == before,
                "the staging directory of a zombie is removed: {:?}",
                now.iter().map(|f| &f.0).collect::<Vec<_>>()
            );
            child.wait_with_output().unwrap();
            continue;
        }
        let status = child.wait_with_output().unwrap();
        let left: Vec<String> = snapshot(&out)
            .into_iter()
            .map(|f| f.0)
            .filter(|n| n.starts_with('.'))
            .collect();
        assert_eq!(status.status.code(), Some(130));
        assert!(String::from_utf8_lossy(&status.stderr).contains("interrupted"));
        assert!(left.is_empty(), "{left:?}");
        assert_eq!(snapshot(&out), before);
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_closed_standard_output_ends_quietly() {
    for args in [
        vec!["sizeclasses".to_string()],
        vec!["explain".into(), "30000".into()],
    ] {
        let mut child = fragsim_command()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end at once, as `| head -0` would.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
    // A full device as standard output is an error, not a panic.
    if Path::new("/dev/full").exists() {
        let out = fragsim_command()
            .arg("sizeclasses")
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write to standard output"));
    }
}

/// A FIFO that nobody writes to (the fuzz round's "hang"): opening it blocks, as it does for
/// any program, but after 2 s fragsim says what it waits for.
#[test]
fn a_fifo_without_a_writer_is_waited_on_out_loud() {
    let d = fresh_dir("fifo");
    let fifo = d.join("scenario.toml");
    let c = std::ffi::CString::new(arg(&fifo)).unwrap();
    // SAFETY: mkfifo(3) on a path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut child = fragsim_command()
        .args(["run", arg(&fifo)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2600));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("waiting for a writer on") && err.contains("(a FIFO)"),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}
