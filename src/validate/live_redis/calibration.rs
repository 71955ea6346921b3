//! `calibrate`: a live server read into a [`RedisProfile`], its fresh baseline (the server before
//! calibration touched it) and its as-found one (the server as calibration leaves it).

use std::time::{Duration, Instant};

use super::server::{field, info_section, keyspace_keys, measure, memory_info, text, LiveError};
use crate::redis::profile::{Baseline, ServerState};
use crate::redis::resp::{Connection, Resp};
use crate::redis::{InfoMemory, RedisProfile};

/// What `calibrate` learnt: the profile and what it could not tell.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// The profile: `baseline` is the server before calibration's own traffic (fresh, when the
    /// server had just started), `as_found` the server as calibration leaves it.
    pub profile: RedisProfile,
    /// Caveats, one sentence each (commands or keys that were there before calibration).
    pub notes: Vec<String>,
}

/// Commands the server had run before this connection's own, with their call counts, from
/// `INFO commandstats` (`cmdstat_<name>:calls=N,...`), less `own_info_calls` calls of `info`.
fn commands_before(commandstats: &str, own_info_calls: u64) -> Vec<(String, u64)> {
    commandstats
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("cmdstat_"))
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let calls: u64 = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            let calls = if name == "info" {
                calls.saturating_sub(own_info_calls)
            } else {
                calls
            };
            (calls > 0).then(|| (name.to_string(), calls))
        })
        .collect()
}

/// The major and minor numbers of a version string (0 where absent).
fn major_minor(version: &str) -> (u32, u32) {
    let mut parts = version.split('.').map(|n| n.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// The built-in profile whose layout a server of this version and allocator has, and a note
/// when the version is not one fragsim has measured (the nearest measured one's layout is
/// used).
fn family_of(valkey: bool, major: u32, minor: u32, allocator: &str) -> (&'static str, Option<String>) {
    let nearest = |family: &'static str, what: &str| {
        (
            family,
            Some(format!(
                "{what} {major}.{minor} is not a version fragsim has measured: the model uses \
                 the {family} profile's layouts"
            )),
        )
    };
    match (valkey, major, minor) {
        (false, 7, 0) if allocator == "jemalloc-5.3.0" => ("redis-7.0-debian", None),
        (false, 7, 0) => ("redis-7.0", None),
        (false, 7, 2) => ("redis-7.2", None),
        (false, 7, 4) => ("redis-7.4", None),
        (false, 8, 0) => ("redis-8.0", None),
        (false, 7, 1) => nearest("redis-7.2", "Redis"),
        (false, 7, _) => nearest("redis-7.4", "Redis"),
        (false, _, _) => nearest("redis-8.0", "Redis"),
        (true, 8, 0) => ("valkey-8.0", None),
        (true, 8, 1) => ("valkey-8.1", None),
        (true, 9, 1) => ("valkey-9.1", None),
        (true, 7, _) => nearest("valkey-8.0", "Valkey"),
        (true, 8, _) | (true, 9, 0) => nearest("valkey-8.1", "Valkey"),
        (true, _, _) => nearest("valkey-9.1", "Valkey"),
    }
}

/// A fresh baseline of the figures in `info`, with `commands_seen` (whose latency histograms the
/// server holds); the caller fills in the allocator's bins, the thread cache and the first
/// client's RSS.
fn baseline_from(info: &InfoMemory, commands_seen: Vec<String>) -> Baseline {
    Baseline {
        state: ServerState::Fresh,
        used_memory: info.used_memory,
        used_memory_peak: info.used_memory_peak,
        used_memory_startup: info.used_memory_startup,
        clients_normal: info.mem_clients_normal,
        allocator_allocated: info.allocator_allocated,
        allocator_active: info.allocator_active,
        allocator_resident: info.allocator_resident,
        rss: info.used_memory_rss,
        vm_eval: info.used_memory_vm_eval,
        vm_functions: info.used_memory_vm_functions,
        functions_caches: info.used_memory_functions,
        commands_seen,
        bins: Vec::new(),
        tcache_bytes: 0,
        tcache: None,
        first_client_rss: 0,
    }
}

/// Reads a live server and builds its profile: the built-in profile of the same build family,
/// with the thresholds from `CONFIG GET`, the command rate of one client, and two baselines.
///
/// The fresh baseline is the server before calibration touched it: the first command on the
/// first connection is `INFO memory`, whose reply is made before its own latency histogram is,
/// and whose allocator and RSS figures are the cron's sample from before the connection. The
/// commands the server had already run (`INFO commandstats`, less calibration's own `INFO`
/// calls) stay in it, with their histograms; the allocator's bins and the thread cache's
/// contents come from `MEMORY MALLOC-STATS` right after. The as-found baseline is measured at
/// the end, after calibration's own traffic, the way `validate` measures.
pub fn calibrate(addr: &str) -> Result<Calibration, LiveError> {
    let mut c = Connection::open(addr)?;
    // `INFO memory` first and alone, as every measurement is sent: its reply is made before
    // its own histogram, and no other section's text is held while it reads used_memory.
    let first = text(addr, c.call_str(&["INFO", "memory"])?)?;
    let (server, own_info) = if field(&first, "redis_version").is_some() {
        (first.clone(), 1)
    } else {
        (text(addr, c.call_str(&["INFO", "server"])?)?, 2)
    };
    let redis_version = field(&server, "redis_version")
        .ok_or_else(|| LiveError::NotRedis {
            addr: addr.into(),
            detail: "INFO has no redis_version".into(),
        })?
        .to_string();
    // Valkey reports the Redis version it is compatible with (7.2.4) as redis_version, its
    // own as valkey_version.
    let valkey = field(&server, "valkey_version").map(str::to_string);
    let version = valkey.clone().unwrap_or_else(|| redis_version.clone());
    let (major, minor) = major_minor(&version);
    if valkey.is_none() && major < 7 {
        return Err(LiveError::TooOld {
            addr: addr.into(),
            version,
        });
    }
    let fresh = memory_info(addr, &first)?;
    let allocator = field(&first, "mem_allocator").unwrap_or("unknown").to_string();
    let (family, family_note) = family_of(valkey.is_some(), major, minor, &allocator);
    let mut p = RedisProfile::builtin(family).expect("built-in family");
    let before = commands_before(&text(addr, c.call_str(&["INFO", "commandstats"])?)?, own_info);
    // What the build runs by itself at startup is part of every fresh start.
    let by_clients: Vec<&(String, u64)> = before
        .iter()
        .filter(|cmd| !p.startup_commands.contains(cmd))
        .collect();
    let fresh_start = by_clients.is_empty();
    let keys = keyspace_keys(&text(addr, c.call_str(&["INFO", "keyspace"])?)?);
    // The RSS a first client adds (code paged in), once the cron has sampled it again.
    std::thread::sleep(Duration::from_millis(250));
    let after_first = memory_info(addr, &text(addr, c.call_str(&["INFO", "memory"])?)?)?;
    // Less what the allocator's own resident pages grew by: those the model counts itself,
    // page by page, from the allocations it replays.
    let first_client_rss = after_first
        .used_memory_rss
        .saturating_sub(fresh.used_memory_rss)
        .saturating_sub(
            after_first
                .allocator_resident
                .saturating_sub(fresh.allocator_resident),
        );
    // The allocator's small bins and the thread cache as startup left them.
    let (bins, tcache_bytes) = {
        let stats = text(addr, c.call_str(&["MEMORY", "MALLOC-STATS"])?)?;
        parse_malloc_stats(&stats)
    };
    p.name = format!("calibrated-{}", addr.replace([':', '.'], "-"));
    let server_name = if valkey.is_some() { "Valkey" } else { "Redis" };
    p.description = format!("Calibrated from {addr}: {server_name} {version}, {allocator}");
    p.version = version;
    p.mem_allocator = allocator;
    for (param, slot) in [
        ("hash-max-listpack-entries", &mut p.hash_max_listpack_entries),
        ("hash-max-listpack-value", &mut p.hash_max_listpack_value),
        ("proto-max-bulk-len", &mut p.proto_max_bulk_len),
        ("list-compress-depth", &mut p.types.list_compress_depth),
        ("set-max-intset-entries", &mut p.types.set_max_intset_entries),
        (
            "zset-max-listpack-entries",
            &mut p.types.zset_max_listpack_entries,
        ),
        ("zset-max-listpack-value", &mut p.types.zset_max_listpack_value),
    ] {
        // A server that refuses CONFIG (renamed, ACL) keeps the defaults; one that does not
        // answer is an error (not one timeout per parameter).
        if let Resp::Array(Some(items)) = c.call_str(&["CONFIG", "GET", param])? {
            if let Some(v) = items.get(1).and_then(Resp::text).and_then(|v| v.parse().ok()) {
                *slot = v;
            }
        }
    }
    if let Resp::Array(Some(items)) = c.call_str(&["CONFIG", "GET", "list-max-listpack-size"])? {
        if let Some(v) = items.get(1).and_then(Resp::text).and_then(|v| v.parse().ok()) {
            p.types.list_max_listpack_size = v;
        }
    }
    // A cluster node: its baseline holds the cluster's state, and its keyspace entries the
    // slot links. (Its cluster baseline is then its own baseline.)
    if let Resp::Array(Some(items)) = c.call_str(&["CONFIG", "GET", "cluster-enabled"])? {
        p.cluster = items.get(1).and_then(Resp::text).as_deref() == Some("yes");
        if p.cluster {
            p.cluster_baseline = None;
        }
    }
    // One client's command rate without pipelining, round trips included: 2,000 PINGs, or as
    // many as 3 s allow on a slow server.
    let mut n = 0u32;
    let t0 = Instant::now();
    while n == 0 || (n < 2000 && t0.elapsed() < Duration::from_secs(3)) {
        c.call_str(&["PING"])?;
        n += 1;
    }
    p.commands_per_second = (n as f64 / t0.elapsed().as_secs_f64()).round();
    drop(c);
    let mut notes: Vec<String> = family_note.into_iter().collect();
    if !fresh_start {
        let list: Vec<String> = by_clients.iter().map(|(n, k)| format!("{n} ({k})")).collect();
        notes.push(format!(
            "the server had already run {} before calibration ({}): their latency \
             histograms and the allocator's state after them are part of the fresh baseline; \
             calibrate a freshly started server for a fresh-start baseline",
            crate::units::plural(by_clients.len() as u64, "command", "commands"),
            list.join(", ")
        ));
    }
    if keys > 0 {
        notes.push(format!(
            "the server holds {keys} key(s): their memory is part of both baselines, and \
             predictions are for a workload added to them"
        ));
    }
    let mut b = baseline_from(&fresh, before.into_iter().map(|(n, _)| n).collect());
    b.bins = bins.clone();
    b.tcache_bytes = tcache_bytes;
    // The thread cache's contents bin by bin are not visible from outside; a fresh server of
    // the built-in build whose cache holds what the built-in's did after the same probing
    // started as it did, and takes its startup cache.
    let builtin = &p.baseline;
    let same_start = fresh_start
        && builtin.tcache.is_some()
        && tcache_bytes.abs_diff(builtin.tcache_bytes) * 20 <= builtin.tcache_bytes;
    if same_start {
        b.tcache = builtin.tcache.clone();
    } else if fresh_start && tcache_bytes > 0 {
        notes.push(format!(
            "the thread cache's startup contents are not known for this server (it holds \
             {tcache_bytes} B where the built-in {family} profile's fresh server held {} B): \
             the model spreads them over the bins in use, and its allocator figures are less \
             exact",
            builtin.tcache_bytes
        ));
    }
    if fresh_start {
        b.first_client_rss = first_client_rss;
    }
    p.baseline = b;

    // Let the server settle: idle client visits until the thread cache's garbage collection has
    // given the idle objects back (each visit is about two 64 KiB GC events; 41 bins, two
    // visits each). Then measure it as a workload that comes after clients finds it.
    for _ in 0..65 {
        info_section(addr, "memory")?;
    }
    let settled = measure(addr)?;
    let latency = match info_section(addr, "latencystats") {
        Ok(t) => t,
        // A server without the section answers with an error reply: no histograms known.
        Err(LiveError::Command { .. }) => String::new(),
        Err(e) => return Err(e),
    };
    let commands_seen: Vec<String> = latency
        .lines()
        .filter_map(|l| l.strip_prefix("latency_percentiles_usec_"))
        .filter_map(|l| l.split(':').next())
        .map(str::to_string)
        .collect();
    let mut a = baseline_from(&settled, commands_seen);
    a.state = ServerState::AsFound;
    a.bins = bins;
    a.tcache_bytes = 0;
    p.as_found = Some(a);
    Ok(Calibration { profile: p, notes })
}

/// The small bins (size, curregs, curslabs) and `tcache_bytes` of the first arena section of
/// `malloc_stats_print` output (`MEMORY MALLOC-STATS`).
pub fn parse_malloc_stats(text: &str) -> (Vec<(u64, u64, u64)>, u64) {
    let mut bins = Vec::new();
    let mut tcache = 0;
    let mut in_bins = false;
    let mut seen_bins = false;
    for line in text.lines() {
        let t = line.trim();
        if tcache == 0 {
            if let Some(v) = t.strip_prefix("tcache_bytes:") {
                tcache = v.trim().parse().unwrap_or(0);
            }
        }
        if t.starts_with("bins:") {
            if seen_bins {
                break;
            }
            in_bins = true;
            seen_bins = true;
            continue;
        }
        if in_bins && t == "---" {
            // Unused bins are elided as "---".
            continue;
        }
        if in_bins {
            let cols: Vec<&str> = t.split_whitespace().collect();
            // size ind allocated nmalloc rate ndalloc rate nrequests rate nshards curregs curslabs
            let nums: Option<Vec<u64>> = cols.iter().take(12).map(|c| c.parse().ok()).collect();
            match nums {
                Some(n) if n.len() == 12 => bins.push((n[0], n[10], n[11])),
                _ => in_bins = false,
            }
        }
    }
    (bins, tcache)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each measured server version maps to its own built-in profile; others to the nearest
    /// measured one, with a note saying so.
    #[test]
    fn versions_map_to_their_built_in_profiles() {
        let exact = [
            (false, 7, 0, "jemalloc-5.3.0", "redis-7.0-debian"),
            (false, 7, 0, "jemalloc-5.2.1", "redis-7.0"),
            (false, 7, 2, "jemalloc-5.3.0", "redis-7.2"),
            (false, 7, 4, "jemalloc-5.3.0", "redis-7.4"),
            (false, 8, 0, "jemalloc-5.3.0", "redis-8.0"),
            (true, 8, 0, "jemalloc-5.3.0", "valkey-8.0"),
            (true, 8, 1, "jemalloc-5.3.0", "valkey-8.1"),
            (true, 9, 1, "jemalloc-5.3.0", "valkey-9.1"),
        ];
        for (valkey, major, minor, alloc, want) in exact {
            assert_eq!(family_of(valkey, major, minor, alloc), (want, None));
            assert!(RedisProfile::builtin(want).is_some(), "{want}");
        }
        let (family, note) = family_of(false, 8, 2, "jemalloc-5.3.0");
        assert_eq!(family, "redis-8.0");
        assert_eq!(
            note.unwrap(),
            "Redis 8.2 is not a version fragsim has measured: the model uses the redis-8.0 \
             profile's layouts"
        );
        assert_eq!(family_of(true, 9, 0, "jemalloc-5.3.0").0, "valkey-8.1");
        assert_eq!(major_minor("8.1.1"), (8, 1));
        assert_eq!(major_minor("7"), (7, 0));
    }
}
