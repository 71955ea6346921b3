//! Helpers shared by the integration tests: paths in the repository, running the binary,
//! temporary paths of a test's own, JSON files, refusals, and switches from the environment; in
//! submodules, live redis-servers (`live`), stand-in TCP peers (`net`), reading SVG charts
//! (`svg`) and real jemalloc builds loaded at run time (`jemalloc`).

pub mod dataset;
pub mod exact;
pub mod jemalloc;
pub mod live;
pub mod net;
pub mod svg;

pub use jemalloc::*;
pub use live::*;
pub use net::*;
pub use svg::*;

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// A path in the repository (`CARGO_MANIFEST_DIR/rel`).
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The path of a shipped scenario file (`scenarios/NAME`), as an argument for the binary.
pub fn scenario_path(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The text of a shipped scenario file.
pub fn scenario_text(name: &str) -> String {
    std::fs::read_to_string(scenario_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A shipped scenario file, loaded.
pub fn load_scenario(name: &str) -> fragsim::workload::ScenarioFile {
    fragsim::workload::load(Path::new(&scenario_path(name))).unwrap_or_else(|e| panic!("{e}"))
}

/// The fragsim binary this test run built.
pub const FRAGSIM_BIN: &str = env!("CARGO_BIN_EXE_fragsim");

/// The fragsim binary, as a command to give arguments to and spawn.
pub fn fragsim_command() -> Command {
    Command::new(FRAGSIM_BIN)
}

/// The commands that run the model on every core (Monte Carlo runs, sweeps, benchmarks, a
/// validation's band): the others (explain, sizeclasses, generate, calibrate) take a moment.
const HEAVY_COMMANDS: [&str; 6] = ["run", "report", "check", "sweep", "bench", "validate"];

/// Runs the fragsim binary; returns (exit code, stdout, stderr). A command that may use every
/// core ([`HEAVY_COMMANDS`]) runs as [`heavy_work`]: not while a live-server test runs (unless
/// that test runs it). The others do not wait: a quick test kept waiting would keep a test
/// thread from the live tests.
pub fn fragsim<S: AsRef<OsStr>>(args: &[S]) -> (i32, String, String) {
    let heavy = args
        .first()
        .is_some_and(|c| HEAVY_COMMANDS.iter().any(|h| c.as_ref() == OsStr::new(h)));
    let _heavy = heavy.then(heavy_work);
    let out = fragsim_command().args(args).output().expect("run fragsim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A path as an argument (the temporary paths are UTF-8).
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Calls of [`fresh_path`] so far in this process.
static FRESH: AtomicU64 = AtomicU64::new(0);

/// A path of this test's own that does not exist yet: `$TMPDIR/fragsim-TAG-PID-N`, where N
/// counts the calls in this process, so that no two tests of the binary (which run at the same
/// time) ever share one, whatever their tags. Whatever an earlier process of the same id left
/// there is removed first.
pub fn fresh_path(tag: &str) -> PathBuf {
    let n = FRESH.fetch_add(1, Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("fragsim-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    let _ = std::fs::remove_file(&p);
    assert!(!p.exists(), "{} cannot be removed", p.display());
    p
}

/// An empty directory of this test's own (a [`fresh_path`], created).
pub fn fresh_dir(tag: &str) -> PathBuf {
    let d = fresh_path(tag);
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
    d
}

/// Every file of `dir` (hidden ones too) with its bytes, sorted by name.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    v.sort();
    v
}

/// The model and a real jemalloc arena on `trace`, side by side (`compare::replay`): a long run
/// of one core at full speed, so it runs as [`heavy_work`].
pub fn replay_real(
    cfg: &fragsim::jemalloc::AllocatorConfig,
    trace: &[fragsim::jemalloc::trace::TraceOp],
    opts: fragsim::validate::compare::ReplayOptions,
) -> Vec<fragsim::validate::compare::Checkpoint> {
    replay_real_in(&fragsim::validate::real_jemalloc::LINKED, cfg, trace, opts)
}

/// [`replay_real`] against real jemalloc build `jem` (the linked one or a [`jemalloc_lib`]).
pub fn replay_real_in(
    jem: &dyn fragsim::validate::real_jemalloc::Jemalloc,
    cfg: &fragsim::jemalloc::AllocatorConfig,
    trace: &[fragsim::jemalloc::trace::TraceOp],
    opts: fragsim::validate::compare::ReplayOptions,
) -> Vec<fragsim::validate::compare::Checkpoint> {
    let _heavy = heavy_work();
    fragsim::validate::compare::replay_in(jem, cfg, trace, opts).expect("real arena")
}

/// A JSON file, parsed.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A refusal as the binary gives it, `(rc, out, err)` of [`fragsim`]: exit code 2, nothing on
/// stdout, one line on stderr that starts with `error: ` and contains `needle`. `what` (the
/// arguments, say) is named when it is not.
pub fn assert_one_line_error(
    what: impl std::fmt::Debug,
    (rc, out, err): (i32, String, String),
    needle: &str,
) {
    assert_eq!(rc, 2, "{what:?}: {err}");
    assert!(out.is_empty(), "{what:?} printed {out}");
    assert_eq!(err.trim_end().lines().count(), 1, "{what:?}: {err}");
    assert!(
        err.starts_with("error: ") && err.contains(needle),
        "{what:?}: {err}"
    );
}

/// A test that needs something this machine lacks (a redis-server, a browser): with the
/// environment switch `var` set to 1 (as `.ci/run` sets them) that is a failure; otherwise the
/// test says so on stderr and the caller returns, passing.
pub fn missing(var: &str, what: &str, hint: &str) {
    if std::env::var(var).is_ok_and(|v| v == "1") {
        panic!("{var}=1 but {what}");
    }
    // Written to the stderr handle directly, so that libtest's output capture does not hide it.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {what} ({hint}, or set {var}=1 to fail instead)"
    );
}
