//! Live redis-servers for the tests, and the lock that keeps the tests that use them apart from
//! heavy work, and at most two at a time.
//!
//! Every test of the binary runs in one pool of test threads (as many as the machine has cores,
//! unless `--test-threads` says otherwise), whatever module it is in. When each test file was a
//! binary of its own, `cargo test` ran the files one after another, so a live-server test ran
//! only beside other tests of its file: other live tests (`redis_live`), or quick ones
//! (`redis_cli`). Their comparisons with a real server depend on the server's timing against the
//! wall clock, and so on how loaded the machine is: RSS within 5% (one came out 5.35% off under
//! heavy parallel load), the peak within 2%, used_memory and a calibration's "fresh server"
//! exactly (the `redis_cli` ones fail now and then, in the old binaries too, while a `fragsim
//! run` keeps both cores busy beside them). So:
//!
//! - every test that starts a redis-server holds [`live_lock`] from start to end: at most
//!   [`LIVE_AT_ONCE`] (two) live tests run at once, as many as in their own binary before;
//! - heavy work holds [`heavy_work`] while it runs: work that keeps more than one core busy
//!   (every run of the binary through [`super::fragsim`], which uses every core; the ulimit
//!   wrapper in `outputs`; the browser; the tests that run the model on a thread pool) or one
//!   core busy for seconds (the replays against the real jemalloc, [`super::replay_real`]; the
//!   fuzz cases). It does not start while a live test runs or waits, and a live test waits for
//!   it to end: a live test shares the machine only with another live test and quick tests, as
//!   it did in its own binary.
//!
//! Tests that do neither (the short model and allocator tests, the stand-in servers, the
//! scenario checks) run beside anything.

use std::cell::Cell;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use fragsim::validate::live_redis::{LiveError, RedisProcess};

/// How many live tests may run at once: two, as many as the old `redis_live` binary ran at once
/// (with a test thread per core on the 2-core machines this project runs on, CI included), and
/// never more on a machine with more cores. A live test mostly waits (its server's clock runs in
/// real time), so two at once load the machine little; what upset them was heavy work beside
/// them, which the lock keeps away. One at a time made the whole suite slower than the old
/// binaries were: `cargo test --release` took 82 s and 81 s against their 66 s and 68 s, on a
/// quiet machine, one run after the other.
pub const LIVE_AT_ONCE: usize = 2;

/// Who holds the machine: live tests, heavy work (never both), and the live tests waiting.
struct Holders {
    live: usize,
    heavy: usize,
    live_waiting: usize,
}

static HOLDERS: Mutex<Holders> = Mutex::new(Holders {
    live: 0,
    heavy: 0,
    live_waiting: 0,
});
static CHANGED: Condvar = Condvar::new();

fn holders() -> MutexGuard<'static, Holders> {
    HOLDERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn wait(h: MutexGuard<'static, Holders>) -> MutexGuard<'static, Holders> {
    CHANGED.wait(h).unwrap_or_else(|poisoned| poisoned.into_inner())
}

thread_local! {
    /// Whether this thread (a test's) holds the live lock: the binary runs it starts are its own
    /// work, not work beside it.
    static HOLDS_LIVE: Cell<bool> = const { Cell::new(false) };
    /// Whether this thread holds the lock for heavy work: more heavy work within it holds
    /// nothing more.
    static HOLDS_HEAVY: Cell<bool> = const { Cell::new(false) };
}

/// Held by a test while it uses live redis-servers; see the module's comment.
pub struct LiveGuard(());

impl Drop for LiveGuard {
    fn drop(&mut self) {
        HOLDS_LIVE.with(|h| h.set(false));
        holders().live -= 1;
        CHANGED.notify_all();
    }
}

/// Waits until no heavy work runs and fewer than [`LIVE_AT_ONCE`] other live tests do, and
/// holds the lock until the guard is dropped (at the end of the test, also when it fails: a
/// failed test does not stop the others). Heavy work that has not started waits for the live
/// tests that wait.
pub fn live_lock() -> LiveGuard {
    assert!(
        !HOLDS_HEAVY.with(Cell::get) && !HOLDS_LIVE.with(Cell::get),
        "a test takes the live lock once, before it does any heavy work"
    );
    let mut h = holders();
    h.live_waiting += 1;
    while h.heavy > 0 || h.live >= LIVE_AT_ONCE {
        h = wait(h);
    }
    h.live_waiting -= 1;
    h.live += 1;
    HOLDS_LIVE.with(|l| l.set(true));
    LiveGuard(())
}

/// Held while a test does work that keeps more than one core busy; see the module's comment.
pub struct HeavyWork {
    held: bool,
}

impl Drop for HeavyWork {
    fn drop(&mut self) {
        if self.held {
            HOLDS_HEAVY.with(|h| h.set(false));
            holders().heavy -= 1;
            CHANGED.notify_all();
        }
    }
}

/// Waits until no live test runs or waits (other heavy work may run at the same time), and
/// holds the lock until the guard is dropped. Within a live test (which holds the machine
/// already), or within other heavy work of the same test, it holds nothing more.
pub fn heavy_work() -> HeavyWork {
    if HOLDS_LIVE.with(Cell::get) || HOLDS_HEAVY.with(Cell::get) {
        return HeavyWork { held: false };
    }
    let mut h = holders();
    while h.live > 0 || h.live_waiting > 0 {
        h = wait(h);
    }
    h.heavy += 1;
    HOLDS_HEAVY.with(|l| l.set(true));
    HeavyWork { held: true }
}

/// Starts a freshly started redis-server (from PATH, or `$FRAGSIM_REDIS_SERVER`) for the test
/// holding `_live`. `RedisProcess::start` picks a free loopback port by binding port 0 and
/// letting it go, so another process may take that port before redis-server binds it (a stand-in
/// peer of another test, a server of someone else's on this machine); then the server exits at
/// start, and another port is tried, three times in all. Each server has its own port and so
/// its own directory (`$TMPDIR/fragsim-redis-PID-PORT`), removed when it is dropped.
pub fn start_redis(live: &LiveGuard) -> Result<RedisProcess, LiveError> {
    start_redis_with(live, &[])
}

/// [`start_redis`] with `extra` server arguments (`RedisProcess::start_with`).
pub fn start_redis_with(_live: &LiveGuard, extra: &[&str]) -> Result<RedisProcess, LiveError> {
    // One start at a time in this process: a start returns once the server has bound its port.
    static STARTING: Mutex<()> = Mutex::new(());
    let _starting = STARTING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut tries = 0;
    loop {
        tries += 1;
        match RedisProcess::start_with(extra) {
            Ok(p) => return Ok(p),
            Err(e) if tries >= 3 => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A freshly started redis-server for the test holding `live`, or `None` (with a notice) when
/// none can be started; with FRAGSIM_REQUIRE_REDIS=1 that is a failure instead.
pub fn live_server(live: &LiveGuard) -> Option<RedisProcess> {
    live_server_with(live, &[])
}

/// [`live_server`] with `extra` server arguments.
pub fn live_server_with(live: &LiveGuard, extra: &[&str]) -> Option<RedisProcess> {
    match start_redis_with(live, extra) {
        Ok(p) => Some(p),
        Err(e) => {
            super::missing("FRAGSIM_REQUIRE_REDIS", &e.to_string(), "install redis-server");
            None
        }
    }
}

/// A freshly started one-node cluster (see `RedisProcess::start_cluster`) for the test holding
/// `_live`, or `None` (with a notice) when none can be started; with FRAGSIM_REQUIRE_REDIS=1
/// that is a failure instead.
pub fn live_cluster_node(_live: &LiveGuard) -> Option<RedisProcess> {
    static STARTING: Mutex<()> = Mutex::new(());
    let _starting = STARTING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut tries = 0;
    loop {
        tries += 1;
        match RedisProcess::start_cluster() {
            Ok(p) => return Some(p),
            Err(e) if tries >= 3 => {
                super::missing("FRAGSIM_REQUIRE_REDIS", &e.to_string(), "install redis-server");
                return None;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// The server binary of a built-in profile's version (`redis-7.2`, `valkey-8.1`, ...):
/// `$FRAGSIM_SERVERS/<profile>`, as `.ci/build-server SRC_DIR DIR` installs it. `None`, with a
/// notice, when the variable is unset or names no such file; when `$FRAGSIM_REQUIRE_SERVERS`
/// lists the profile (comma-separated, or `all`), that is a failure instead.
pub fn version_binary(profile: &str) -> Option<String> {
    let dir = std::env::var("FRAGSIM_SERVERS").ok();
    let path = dir.as_ref().map(|d| std::path::Path::new(d).join(profile));
    if let Some(p) = path.as_ref().filter(|p| p.is_file()) {
        return Some(p.display().to_string());
    }
    let what = match &dir {
        None => format!("no {profile} server: FRAGSIM_SERVERS is not set"),
        Some(d) => format!("no {profile} server: {d}/{profile} does not exist"),
    };
    let required = std::env::var("FRAGSIM_REQUIRE_SERVERS").unwrap_or_default();
    if required == "all" || required.split(',').any(|r| r.trim() == profile) {
        panic!("FRAGSIM_REQUIRE_SERVERS lists {profile} but {what}");
    }
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "SKIPPED: {what} (build it with `.ci/build-server SRC_DIR DIR` and set \
             FRAGSIM_SERVERS=DIR; FRAGSIM_REQUIRE_SERVERS={profile} fails instead)\n"
        ),
    );
    None
}

/// A freshly started server of `profile`'s version (see [`version_binary`]) with `extra`
/// arguments, for the test holding `_live`; `None` (with a notice) when there is no such
/// binary. A binary that is there but does not start is a failure.
pub fn version_server(_live: &LiveGuard, profile: &str, extra: &[&str]) -> Option<RedisProcess> {
    let bin = version_binary(profile)?;
    Some(start_retrying(&bin, "", || RedisProcess::start_of(&bin, extra)))
}

/// `start`, one at a time across the tests of this process, tried three times (a free port
/// taken meanwhile by another process); a third failure is a panic naming `bin` and `what`.
fn start_retrying(
    bin: &str,
    what: &str,
    start: impl Fn() -> Result<RedisProcess, fragsim::validate::live_redis::LiveError>,
) -> RedisProcess {
    static STARTING: Mutex<()> = Mutex::new(());
    let _starting = STARTING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut tries = 0;
    loop {
        tries += 1;
        match start() {
            Ok(p) => return p,
            Err(e) if tries >= 3 => panic!("{bin} did not start{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A freshly started one-node cluster (`RedisProcess::start_cluster_of`) of `profile`'s
/// version (see [`version_binary`]), for the test holding `_live`; `None` (with a notice) when
/// there is no such binary. A binary that is there but does not start is a failure.
pub fn version_cluster_node(_live: &LiveGuard, profile: &str) -> Option<RedisProcess> {
    let bin = version_binary(profile)?;
    Some(start_retrying(&bin, " as a cluster node", || {
        RedisProcess::start_cluster_of(&bin)
    }))
}
