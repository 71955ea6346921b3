//! Starting and stopping a redis-server process of its own, for tests: found on PATH (or named
//! by `$FRAGSIM_REDIS_SERVER`), on a free loopback port, in its own temporary directory.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::server::LiveError;

/// A redis-server process started for a test: loopback only, a free port, its own temporary
/// directory, no persistence, freshly started (no client has connected to it yet). Stopped (and
/// its directory removed) when dropped, also when a test panics.
pub struct RedisProcess {
    child: Child,
    pub addr: String,
    dir: PathBuf,
}

impl RedisProcess {
    /// Starts `redis-server` from PATH (or `$FRAGSIM_REDIS_SERVER`).
    pub fn start() -> Result<Self, LiveError> {
        Self::start_with(&[])
    }

    /// Starts a one-node cluster: `redis-server --cluster-enabled yes`, all 16,384 slots given
    /// to it (`CLUSTER ADDSLOTSRANGE 0 16383`, on a connection of its own), ready once
    /// `CLUSTER INFO` says `cluster_state:ok`. The two commands are the server's only traffic,
    /// as on any node a cluster was set up on.
    pub fn start_cluster() -> Result<Self, LiveError> {
        Self::start_cluster_of(&default_binary())
    }

    /// [`RedisProcess::start_cluster`] of the server binary `bin`.
    pub fn start_cluster_of(bin: &str) -> Result<Self, LiveError> {
        let p = Self::start_of(
            bin,
            &["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
        )?;
        let mut c = crate::redis::resp::Connection::open(&p.addr)?;
        c.call_str(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let info = c.call_str(&["CLUSTER", "INFO"])?.text().unwrap_or_default();
            if info.contains("cluster_state:ok") {
                return Ok(p);
            }
            if Instant::now() > deadline {
                return Err(LiveError::Start(format!(
                    "the cluster node on {} did not reach cluster_state:ok within 10 s",
                    p.addr
                )));
            }
        }
    }

    /// Starts `redis-server` with `extra` arguments after the test settings (server options
    /// such as `--list-compress-depth 1`).
    pub fn start_with(extra: &[&str]) -> Result<Self, LiveError> {
        Self::start_of(&default_binary(), extra)
    }

    /// Starts the server binary `bin` (a path, or a name on PATH: a Redis or Valkey server of
    /// any version) with `extra` arguments after the test settings.
    pub fn start_of(bin: &str, extra: &[&str]) -> Result<Self, LiveError> {
        Self::start_env(bin, extra, &[])
    }

    /// [`RedisProcess::start_of`] with environment variables set for the server (`env`, names
    /// and values), for a server build that reads its own (such as an allocation tracer
    /// writing to a file in [`RedisProcess::dir`]).
    pub fn start_env(bin: &str, extra: &[&str], env: &[(&str, &OsStr)]) -> Result<Self, LiveError> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| LiveError::Start(format!("no free loopback port: {e}")))?
            .port();
        let dir = std::env::temp_dir().join(format!("fragsim-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| LiveError::Start(format!("{}: {e}", dir.display())))?;
        let child = Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .args(["--daemonize", "no", "--logfile"])
            .arg(dir.join("redis.log"))
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| LiveError::Start(format!("{bin}: {e}")))?;
        let mut p = RedisProcess {
            child,
            addr: format!("127.0.0.1:{port}"),
            dir,
        };
        // Ready when its log says so: no connection and no command, so the server stays fresh.
        // A traced build starts slower.
        let deadline = Instant::now() + Duration::from_secs(if env.is_empty() { 10 } else { 20 });
        loop {
            let log = std::fs::read_to_string(p.dir.join("redis.log")).unwrap_or_default();
            if log.contains("Ready to accept connections") {
                return Ok(p);
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                return Err(LiveError::Start(format!("{bin} exited at start with {status}")));
            }
            if Instant::now() > deadline {
                let _ = p.child.kill();
                return Err(LiveError::Start(format!(
                    "{bin} did not say it was ready on {} in time",
                    p.addr
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl RedisProcess {
    /// The server's own temporary directory (its `--dir`, removed when it is dropped).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the server the way an operator does, with SIGTERM, so it exits normally (running
    /// its exit handlers: a tracer flushes its buffer), and waits for it (at most 20 s, then
    /// it is killed and that is an error). Its directory stays until the process is dropped.
    pub fn terminate(&mut self) -> Result<ExitStatus, LiveError> {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: a signal to the child process this value started and still owns.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|e| LiveError::Start(format!("waiting for {}: {e}", self.addr)))?
            {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err(LiveError::Start(format!(
                    "the server on {} did not exit within 20 s of SIGTERM",
                    self.addr
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `$FRAGSIM_REDIS_SERVER`, or `redis-server` from PATH.
fn default_binary() -> String {
    std::env::var("FRAGSIM_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
