//! A server's startup thread cache from its real allocation trace: the tool that made the
//! built-in profiles' `[baseline.tcache]` (ignored: it needs a traced server build).
//!
//! ```text
//! FRAGSIM_TRACED_SERVER=/path/to/traced/redis-server FRAGSIM_TRACE_PROFILE=redis-8.0 \
//!   cargo test --release --test it startup_trace:: -- --ignored --nocapture
//! ```
//!
//! The server is one built with `tests/tools/alloc_trace.c` in it (see that file: `--wrap` for
//! the bundled jemallocs, or an `LD_PRELOAD` wrapper script for a shared one). The test starts
//! it as the live tests start a server (`--save ''`, loopback, its own directory), with
//! `ALLOC_TRACE_OUT` naming the trace file; once its log says "Ready to accept connections" it
//! notes the time (T0) and reads the server as `fragsim calibrate` starts to: `INFO memory`
//! first (its allocator figures are the cron's sample from before the connection), `INFO
//! server`, `INFO commandstats`, `INFO keyspace`, 250 ms, `INFO memory`, then `MEMORY
//! MALLOC-STATS` (between T1 and T2); then SIGTERM, which makes the server exit normally and
//! the shim write what it holds. The trace is replayed through the model (`fragsim::validate::startup_trace`) with
//! the profile's allocator preset and jemalloc's own GC interval (5.2.1's ticker for Redis
//! 7.0's bundled jemalloc):
//!
//! - the main thread's cache at T0, before any client, is printed as the profile's
//!   `[baseline.tcache]`;
//! - checks: the replay's `allocator_allocated` at T0 (every heap: the main thread's, the Lua
//!   heap's, the other threads') against the server's first `INFO memory`, within 2 %; its
//!   thread caches' bytes between T1 and T2 against `MEMORY MALLOC-STATS`' `tcache_bytes`,
//!   within 5 % (10 % for jemalloc 5.2.1, whose cache the 5.3 model follows less closely);
//!   the trace goes on past SIGTERM (the shim wrote its buffer at exit).
//!
//! Also printed: the traced server's fresh figures next to the built-in profile's baseline (a
//! traced build should start as the untraced one does: calibrate reuses the built-in's cache
//! when `tcache_bytes` is within 5 %). `FRAGSIM_TRACE_KEEP=FILE` keeps the trace.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use fragsim::redis::resp::Connection;
use fragsim::redis::RedisProfile;
use fragsim::validate::live_redis::{memory_info, parse_malloc_stats, RedisProcess};
use fragsim::validate::startup_trace::{parse_trace, tcache_toml, StartupReplay};

/// `CLOCK_MONOTONIC`, ns: the clock the shim stamps its records with.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(r, 0, "clock_gettime");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn text(c: &mut Connection, words: &[&str]) -> String {
    c.call_str(words)
        .unwrap_or_else(|e| panic!("{words:?}: {e}"))
        .text()
        .unwrap_or_else(|| panic!("{words:?}: not a text reply"))
}

fn pct(model: u64, real: u64) -> f64 {
    (model as f64 - real as f64) / real as f64 * 100.0
}

#[test]
#[ignore = "needs a traced server build: FRAGSIM_TRACED_SERVER and FRAGSIM_TRACE_PROFILE"]
fn replay() {
    let (Ok(bin), Ok(profile)) = (
        std::env::var("FRAGSIM_TRACED_SERVER"),
        std::env::var("FRAGSIM_TRACE_PROFILE"),
    ) else {
        eprintln!("SKIPPED: set FRAGSIM_TRACED_SERVER (a traced server binary) and FRAGSIM_TRACE_PROFILE (its built-in profile)");
        return;
    };
    let p = RedisProfile::builtin(&profile).unwrap_or_else(|| panic!("no built-in profile {profile}"));
    let trace: PathBuf = std::env::temp_dir().join(format!("fragsim-trace-{}.bin", std::process::id()));
    let mut server = RedisProcess::start_env(&bin, &[], &[("ALLOC_TRACE_OUT", trace.as_os_str())])
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    let addr = server.addr.clone();
    // What calibrate reads first, in its order.
    let t0 = monotonic_ns();
    let mut c = Connection::open(&addr).expect("connect");
    let first = memory_info(&addr, &text(&mut c, &["INFO", "memory"])).expect("INFO memory");
    text(&mut c, &["INFO", "server"]);
    text(&mut c, &["INFO", "commandstats"]);
    text(&mut c, &["INFO", "keyspace"]);
    std::thread::sleep(Duration::from_millis(250));
    text(&mut c, &["INFO", "memory"]);
    let t1 = monotonic_ns();
    let stats = text(&mut c, &["MEMORY", "MALLOC-STATS"]);
    let t2 = monotonic_ns();
    let (_, real_tcache) = parse_malloc_stats(&stats);
    drop(c);
    std::thread::sleep(Duration::from_millis(50));
    let t_term = monotonic_ns();
    let status = server.terminate().unwrap_or_else(|e| panic!("{bin}: {e}"));
    let bytes = std::fs::read(&trace).expect("the trace file");
    if let Ok(keep) = std::env::var("FRAGSIM_TRACE_KEEP") {
        std::fs::write(&keep, &bytes).unwrap();
    }
    let _ = std::fs::remove_file(&trace);
    let records = parse_trace(&bytes).expect("a trace");
    let last = records.last().expect("records").t_ns;

    let mut cfg = fragsim::jemalloc::AllocatorConfig::preset(&p.allocator).expect("preset");
    cfg.background_thread = true;
    let mut r = StartupReplay::new(records.clone(), &cfg).expect("replay");
    r.run_until(t0).unwrap();
    let at0 = r.figures();
    let st = r.main_tcache().expect("the main thread's cache");
    r.run_until(t1).unwrap();
    let at1 = r.figures();
    r.run_until(t2).unwrap();
    let at2 = r.figures();

    let threads: std::collections::BTreeSet<u32> = records.iter().map(|x| x.tid).collect();
    let mut out = std::io::stdout().lock();
    let ms = |t: u64| (t.saturating_sub(r.start_ns())) as f64 / 1e6;
    writeln!(
        out,
        "{profile}: {} records, {} threads, server exit {status}; T0 {:.1} ms, SIGTERM {:.1} ms, last record {:.1} ms",
        records.len(),
        threads.len(),
        ms(t0),
        ms(t_term),
        ms(last)
    )
    .unwrap();
    writeln!(
        out,
        "  ops before T0: main thread {}, explicit cache (Lua) {}, other threads {}; bypassing the cache {}, cross-heap frees {}, frees of unseen objects {}",
        at0.ops_main, at0.ops_explicit, at0.ops_others, at0.ops_bypass, at0.cross_frees, at0.unknown_frees
    )
    .unwrap();
    let tot = at0.total();
    writeln!(
        out,
        "  allocated at T0: model {} (main {}, Lua {}, other threads {}), server {} ({:+.2}%); main's cache {} B",
        tot.allocated,
        at0.main.allocated,
        at0.explicit.allocated,
        at0.others.allocated,
        first.allocator_allocated,
        pct(tot.allocated, first.allocator_allocated),
        at0.main.tcache_bytes
    )
    .unwrap();
    let (c1, c2) = (at1.total().tcache_bytes, at2.total().tcache_bytes);
    writeln!(
        out,
        "  tcache_bytes at MALLOC-STATS: model {c1}..{c2} (main {}..{}, Lua {}), server {real_tcache} ({:+.2}%..{:+.2}%)",
        at1.main.tcache_bytes,
        at2.main.tcache_bytes,
        at2.explicit.tcache_bytes,
        pct(c1, real_tcache),
        pct(c2, real_tcache)
    )
    .unwrap();
    writeln!(
        out,
        "  built-in {profile} baseline: allocator_allocated {} (traced server {:+.2}%), tcache_bytes {} (traced {:+.2}%: same_start {})",
        p.baseline.allocator_allocated,
        pct(first.allocator_allocated, p.baseline.allocator_allocated),
        p.baseline.tcache_bytes,
        pct(real_tcache, p.baseline.tcache_bytes),
        real_tcache.abs_diff(p.baseline.tcache_bytes) * 20 <= p.baseline.tcache_bytes
    )
    .unwrap();
    writeln!(out, "{}", tcache_toml(&st)).unwrap();
    drop(out);

    assert!(
        last > t_term,
        "the trace ends before SIGTERM: the shim did not write its buffer at exit"
    );
    assert!(
        pct(tot.allocated, first.allocator_allocated).abs() <= 2.0,
        "allocated: model {} server {}",
        tot.allocated,
        first.allocator_allocated
    );
    let (lo, hi) = (c1.min(c2), c1.max(c2));
    let off = if real_tcache < lo {
        pct(lo, real_tcache)
    } else if real_tcache > hi {
        pct(hi, real_tcache)
    } else {
        0.0
    };
    // jemalloc 5.2.1 (Redis 7.0) is replayed through the 5.3 model with its GC ticker: 10 %.
    let tol = if cfg.version == "5.2.1" { 10.0 } else { 5.0 };
    assert!(
        off.abs() <= tol,
        "tcache_bytes: model {lo}..{hi} server {real_tcache}"
    );
}
