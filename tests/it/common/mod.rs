//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::process::Command;

use fragsim::validate::live_redis::RedisProcess;

/// The path of a shipped scenario file (`scenarios/NAME`).
pub fn scenario_path(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs the fragsim binary; returns (exit code, stdout, stderr).
pub fn fragsim(args: &[&str]) -> (i32, String, String) {
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

/// A redis-server for one test, or `None` (with a notice) when none can be started; with
/// FRAGSIM_REQUIRE_REDIS=1 that is a failure instead.
pub fn live_server() -> Option<RedisProcess> {
    match RedisProcess::start() {
        Ok(p) => Some(p),
        Err(e) => {
            if std::env::var("FRAGSIM_REQUIRE_REDIS").is_ok_and(|v| v == "1") {
                panic!("FRAGSIM_REQUIRE_REDIS=1 but {e}");
            }
            // Written to the stderr handle directly, so that libtest's output capture does not
            // hide it.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {e} (install redis-server, or set FRAGSIM_REQUIRE_REDIS=1 to fail instead)"
            );
            None
        }
    }
}

/// An empty directory of this test process's own (`$TMPDIR/fragsim-TAG-PID`), emptied first.
pub fn fresh_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("fragsim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The texts of an SVG in document order, trimmed, empty ones left out (a legend label wrapped
/// onto several lines is several texts: join them to read it whole).
pub fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not an SVG: {e}"));
    doc.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}
