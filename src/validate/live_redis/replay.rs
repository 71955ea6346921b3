//! `validate`: a scenario replayed into a live server and, in lockstep, into the model, with
//! both measured after each test; and the clean-up that leaves the server as it was found.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::calibration::calibrate;
use super::checkpoints::{Checkpoint, COMPARED};
use super::server::{info_section, keyspace_keys, measure, text, text_or_int, LiveError};
use crate::redis::profile::ServerState;
use crate::redis::resp::{Connection, Resp, RespError};
use crate::redis::server::ClientId;
use crate::redis::{InfoMemory, RedisProfile};
use crate::sim::commands;
use crate::validate::lockstep::{bands, Lockstep};
use crate::workload::Scenario;

/// How `validate` treats the server.
#[derive(Debug, Clone, Default)]
pub struct ValidateOptions {
    /// Predict with this profile (calibrated from another server, usually a freshly started one,
    /// and reduced to the scenario's state) instead of calibrating the server replayed into.
    pub profile: Option<RedisProfile>,
    /// Empty a server that holds keys (`FLUSHALL SYNC`) instead of refusing it.
    pub flush: bool,
    /// Model runs per checkpoint (1: only the lockstep run). With more, the same commands at
    /// the same moments are replayed into servers with other startup draws, for a band.
    pub runs: u64,
}

/// The keys and scripts a replay wrote, and the `maxmemory` it changed, for the clean-up.
#[derive(Default)]
struct Trace {
    /// Whether it wrote any key.
    keys: bool,
    /// Whether it ran any script (`EVAL`).
    scripts: bool,
    /// The `maxmemory` it found, when it set its own.
    maxmemory: Option<String>,
}

/// Sends one command on a fresh connection, and the same command to the model from a client
/// that connects and leaves, so both see the same traffic.
fn mirrored(addr: &str, model: Option<&mut Lockstep>, argv: &[&str]) -> Result<String, LiveError> {
    let mut c = Connection::open(addr)?;
    let reply = c.call_str(argv)?;
    drop(c);
    if let Some(m) = model {
        let id = m.connect();
        m.exec(id, argv);
        m.disconnect(id);
    }
    match reply {
        Resp::Error(e) => Err(LiveError::Command {
            addr: addr.into(),
            detail: e,
        }),
        Resp::Int(n) => Ok(n.to_string()),
        Resp::Array(Some(items)) => Ok(items.iter().filter_map(Resp::text).collect::<Vec<_>>().join("\n")),
        other => Ok(other.text().unwrap_or_default()),
    }
}

/// Replays `sc` into the live server at `addr` and into the model, and returns model and server
/// after each test.
///
/// A server that holds keys is refused ([`LiveError::NotEmpty`]) unless `opts.flush`. Without
/// `opts.profile` the server is calibrated first and predicted as calibration leaves it;
/// with it, the profile predicts the server as it is (a freshly started server for a fresh
/// profile), and the one `INFO keyspace` sent to check it is sent to the model too. Before the
/// first test the server's cron phase is measured and the model's cron moved to it
/// (`probe_cron`). Each test's commands go over one new connection per test process, closed
/// before measuring; the model's clock follows the wall clock, command by command, and each
/// test is followed by `test_seconds` of idle time. Afterwards the keys it wrote are flushed
/// (the server had no others), the scripts it loaded flushed (when the server had none
/// before), `maxmemory` restored and the allocator purged, so a second run finds the server as
/// the first did.
pub fn validate(
    addr: &str,
    sc: &Scenario,
    seed: u64,
    opts: &ValidateOptions,
    progress: impl FnMut(u64),
) -> Result<Vec<Checkpoint>, LiveError> {
    let model_err = |detail: String| LiveError::Command {
        addr: addr.into(),
        detail,
    };
    let mut model = match &opts.profile {
        Some(p) => Some(Lockstep::new(p.clone(), seed, opts.runs > 1).map_err(|e| model_err(e.to_string()))?),
        None => None,
    };
    let ks = mirrored(addr, model.as_mut(), &["INFO", "keyspace"])?;
    let keys = keyspace_keys(&ks);
    if keys > 0 {
        if !opts.flush {
            return Err(LiveError::NotEmpty {
                addr: addr.into(),
                keys,
            });
        }
        mirrored(addr, model.as_mut(), &["FLUSHALL", "SYNC"])?;
    }
    let scripts_before = InfoMemory::parse(&info_section(addr, "memory")?).number_of_cached_scripts;
    if let Some(m) = model.as_mut() {
        // The INFO just sent, on its own connection.
        m.measurement_traffic();
    }
    let mut model = match model {
        Some(m) => m,
        None => {
            let p = calibrate(addr)?
                .profile
                .with_state(ServerState::AsFound)
                .map_err(|e| model_err(e.to_string()))?;
            Lockstep::new(p, seed, opts.runs > 1).map_err(|e| model_err(e.to_string()))?
        }
    };
    let mut trace = Trace::default();
    let result = replay(addr, sc, seed, &mut model, &mut trace, progress);
    // A server that has stopped answering would only make the clean-up wait out one more
    // deadline per command: leave it as it is.
    let silent = matches!(&result, Err(LiveError::Resp(RespError::Timeout { .. })));
    let cleaned = if silent {
        Ok(())
    } else {
        clean_up(addr, &trace, scripts_before == 0)
    };
    let mut out = result?;
    cleaned?;
    if opts.runs > 1 {
        let runs = model.replays(seed, opts.runs);
        for (cp, band) in out.iter_mut().zip(bands(&runs, COMPARED)) {
            cp.band = band;
        }
    }
    Ok(out)
}

/// The replay itself, test by test (see [`validate`]), noting in `trace` what needs cleaning up.
fn replay(
    addr: &str,
    sc: &Scenario,
    seed: u64,
    model: &mut Lockstep,
    trace: &mut Trace,
    mut progress: impl FnMut(u64),
) -> Result<Vec<Checkpoint>, LiveError> {
    let start = Instant::now();
    let t0 = model.now_ns();
    let follow = |model: &mut Lockstep| model.advance_to(t0 + start.elapsed().as_nanos() as u64);
    probe_cron(addr, model, &follow, t0, start)?;
    if let Some(mm) = sc.maxmemory {
        // The same commands on both sides: they read and set the limit and make their latency
        // histograms.
        let old = mirrored(addr, Some(model), &["CONFIG", "GET", "maxmemory"])?;
        trace.maxmemory = Some(old.lines().nth(1).unwrap_or("0").to_string());
        let mm = mm.to_string();
        mirrored(addr, Some(model), &["CONFIG", "SET", "maxmemory", &mm])?;
    }
    let mut rng = commands::rng_for(seed);
    let mut out = Vec::new();
    for t in 0..sc.tests {
        let mut writers = (0..sc.parallel)
            .map(|_| Connection::open(addr))
            .collect::<Result<Vec<_>, _>>()?;
        follow(model);
        let clients: Vec<ClientId> = (0..sc.parallel).map(|_| model.connect()).collect();
        for (p, argv) in commands::test_plan(sc, t, &mut rng) {
            if let Some(verb) = argv.first() {
                if [&b"SET"[..], b"HSET", b"RPUSH", b"SADD", b"ZADD"]
                    .iter()
                    .any(|w| verb.eq_ignore_ascii_case(w))
                {
                    trace.keys = true;
                } else if verb.eq_ignore_ascii_case(b"EVAL") {
                    trace.scripts = true;
                }
            }
            let reply = writers[p].call(&argv)?;
            follow(model);
            model.exec(clients[p], &argv);
            if let Resp::Error(e) = reply {
                if !e.starts_with("OOM") {
                    return Err(LiveError::Command {
                        addr: addr.into(),
                        detail: e,
                    });
                }
            }
        }
        drop(writers);
        follow(model);
        for c in clients {
            model.disconnect(c);
        }
        std::thread::sleep(Duration::from_secs_f64(sc.test_seconds));
        let real = measure(addr)?;
        follow(model);
        out.push(Checkpoint {
            test: t + 1,
            model: model.measure(),
            real,
            band: BTreeMap::new(),
        });
        model.measurement_traffic();
        progress(t + 1);
    }
    Ok(out)
}

/// Finds when the server's cron runs and moves the model's to the same moment. A new client's
/// `CLIENT INFO` shows its reply buffer's peak (`rbp`) at the buffer's size until the cron
/// first looks at the client, which resets it (Redis 7.0: see `Server::resize_output_buffer`);
/// so a client polls `CLIENT INFO` (at most 250 ms) and the look fell between the last reply
/// that showed the full peak and the command that showed it reset. The cron runs every 100 ms
/// from there. The model runs the same commands from a client of its own. A server that never
/// shows the reset (another version) leaves the model's cron where it was.
fn probe_cron(
    addr: &str,
    model: &mut Lockstep,
    follow: &dyn Fn(&mut Lockstep),
    t0: u64,
    start: Instant,
) -> Result<(), LiveError> {
    let mut c = Connection::open(addr)?;
    let mut before = Instant::now();
    follow(model);
    let id = model.connect();
    let deadline = before + Duration::from_millis(250);
    let mut look = None;
    while Instant::now() < deadline {
        let sent = Instant::now();
        let reply = text(addr, c.call_str(&["CLIENT", "INFO"])?)?;
        follow(model);
        model.exec(id, &[b"CLIENT".as_slice(), b"INFO"]);
        let num = |k: &str| {
            reply
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(k))
                .and_then(|v| v.parse::<u64>().ok())
        };
        match (num("rbs="), num("rbp=")) {
            (Some(rbs), Some(rbp)) if rbp < rbs => {
                look = Some(before + (sent - before) / 2);
                break;
            }
            (Some(_), Some(_)) => before = Instant::now(),
            _ => break,
        }
    }
    drop(c);
    follow(model);
    model.disconnect(id);
    if let Some(at) = look {
        let at_ns = t0 + at.duration_since(start).as_nanos() as u64;
        let now = model.now_ns();
        // The next look after now.
        let periods = (now.saturating_sub(at_ns)) / 100_000_000 + 1;
        model.align_cron(at_ns + periods * 100_000_000);
    }
    Ok(())
}

/// Removes what a replay wrote. The server held no keys when it started, so its keys are all
/// the replay's: `FLUSHALL SYNC` frees them and the keyspace tables (which `DEL` would leave
/// behind) and purges the allocator. Then its scripts when the server had none before (`SCRIPT
/// FLUSH`), its `maxmemory`, and `MEMORY PURGE`.
fn clean_up(addr: &str, trace: &Trace, flush_scripts: bool) -> Result<(), LiveError> {
    let mut c = Connection::open(addr)?;
    if trace.keys {
        text_or_int(addr, c.call_str(&["FLUSHALL", "SYNC"])?)?;
    }
    if trace.scripts && flush_scripts {
        text_or_int(addr, c.call_str(&["SCRIPT", "FLUSH", "SYNC"])?)?;
    }
    if let Some(old) = &trace.maxmemory {
        text_or_int(addr, c.call_str(&["CONFIG", "SET", "maxmemory", old])?)?;
    }
    text_or_int(addr, c.call_str(&["MEMORY", "PURGE"])?)?;
    Ok(())
}
