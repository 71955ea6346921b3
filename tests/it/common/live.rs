//! Live redis-servers for the tests, and the lock that lets a test that uses them run alone.
//!
//! Every test of the binary runs in one pool of test threads (as many as the machine has cores,
//! unless `--test-threads` says otherwise), whatever module it is in. When each test file was a
//! binary of its own, `cargo test` ran the files one after another, so a live-server test ran
//! only beside the other tests of its file: other live tests (`redis_live`), or quick ones
//! (`redis_cli`). Their comparisons with a real server depend on the server's timing against the
//! wall clock, and so on how loaded the machine is: RSS within 5% (one came out 5.35% off under
//! heavy parallel load), the peak within 2%, used_memory and a calibration's "fresh server"
//! exactly (the `redis_cli` ones fail now and then, in the old binaries too, while a `fragsim
//! run` keeps both cores busy beside them). So:
//!
//! - every test that starts a redis-server holds [`live_lock`] from start to end: the live tests
//!   run one at a time, never more at once than before;
//! - work that keeps more than one core busy holds [`heavy_work`] while it runs: every run of
//!   the binary through [`super::fragsim`] (it uses every core), the browser, and the tests
//!   that run the model on a thread pool. It waits while a live test runs, and a live test waits
//!   for it to end, so a live test never shares the machine with more than one test's
//!   single-threaded work (what a second live test was before).
//!
//! Both are one lock, held exclusively by a live test and shared by heavy work.

use std::cell::Cell;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use fragsim::validate::live_redis::{LiveError, RedisProcess};

static LIVE: RwLock<()> = RwLock::new(());

thread_local! {
    /// Whether this thread (a test's) holds the live lock: the binary runs it starts are its own
    /// work, not work beside it.
    static HOLDS_LIVE: Cell<bool> = const { Cell::new(false) };
    /// Whether this thread holds the lock shared, for heavy work: more heavy work within it
    /// holds nothing more.
    static HOLDS_HEAVY: Cell<bool> = const { Cell::new(false) };
}

/// Held by a test while it uses live redis-servers; see the module's comment.
pub struct LiveGuard {
    _held: RwLockWriteGuard<'static, ()>,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        HOLDS_LIVE.with(|h| h.set(false));
    }
}

/// Waits until no other live test and no heavy work runs, and holds the lock until the guard is
/// dropped (at the end of the test, also when it fails: a failed test does not stop the others).
pub fn live_lock() -> LiveGuard {
    assert!(
        !HOLDS_HEAVY.with(Cell::get),
        "a test takes the live lock before it does any heavy work"
    );
    let held = LIVE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    HOLDS_LIVE.with(|h| h.set(true));
    LiveGuard { _held: held }
}

/// Held while a test does work that keeps more than one core busy; see the module's comment.
pub struct HeavyWork {
    _held: Option<RwLockReadGuard<'static, ()>>,
}

impl Drop for HeavyWork {
    fn drop(&mut self) {
        if self._held.is_some() {
            HOLDS_HEAVY.with(|h| h.set(false));
        }
    }
}

/// Waits until no live test runs (other heavy work may run at the same time), and holds the
/// lock shared until the guard is dropped. Within a live test (which holds the lock already), or
/// within other heavy work of the same test, it holds nothing more.
pub fn heavy_work() -> HeavyWork {
    if HOLDS_LIVE.with(Cell::get) || HOLDS_HEAVY.with(Cell::get) {
        return HeavyWork { _held: None };
    }
    let held = LIVE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    HOLDS_HEAVY.with(|h| h.set(true));
    HeavyWork { _held: Some(held) }
}

/// Starts a freshly started redis-server (from PATH, or `$FRAGSIM_REDIS_SERVER`) for the test
/// holding `_live`. `RedisProcess::start` picks a free loopback port by binding port 0 and
/// letting it go, so another process may take that port before redis-server binds it (a stand-in
/// peer of another test, a server of someone else's on this machine); then the server exits at
/// start, and another port is tried, three times in all. Each server has its own port and so
/// its own directory (`$TMPDIR/fragsim-redis-PID-PORT`), removed when it is dropped.
pub fn start_redis(_live: &LiveGuard) -> Result<RedisProcess, LiveError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match RedisProcess::start() {
            Ok(p) => return Ok(p),
            Err(e) if tries >= 3 => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A freshly started redis-server for the test holding `live`, or `None` (with a notice) when
/// none can be started; with FRAGSIM_REQUIRE_REDIS=1 that is a failure instead.
pub fn live_server(live: &LiveGuard) -> Option<RedisProcess> {
    match start_redis(live) {
        Ok(p) => Some(p),
        Err(e) => {
            super::missing("FRAGSIM_REQUIRE_REDIS", &e.to_string(), "install redis-server");
            None
        }
    }
}
