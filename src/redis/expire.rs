//! Active expiry as Redis 7.0 does it (`activeExpireCycle` in `expire.c`): keys whose TTL has
//! passed are not deleted at once, but found by sampling the expires dict bucket by bucket from
//! a cursor, 20 keys per loop, the loop repeated while more than 10% of a sample had expired.
//! So a server holds some expired keys (up to about a tenth of its keys with a TTL) until later
//! cycles reach them. The slow cycle runs in the cron (every 100 ms); the fast cycle runs
//! between commands, at most every 2 ms, while the running estimate of stale keys is 10% or
//! more. The cycles' time limits (25 ms and 1 ms of CPU) are not modelled: the model assumes the
//! server is fast enough to finish a cycle.
//!
//! Which bucket a key falls in depends on SipHash with a random seed; the model hashes key names
//! with a hasher seeded per run, so runs differ in which keys a cycle reaches, as servers do.
//! Keys are known by the id their keyspace gives them (their name is hashed once, when their
//! first TTL is set).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

type DetMap<K, V> = HashMap<K, V, BuildHasherDefault<std::collections::hash_map::DefaultHasher>>;

/// `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP` (effort 1).
const KEYS_PER_LOOP: u64 = 20;
/// `ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE` (effort 1), percent.
const ACCEPTABLE_STALE: u64 = 10;
/// Twice `ACTIVE_EXPIRE_CYCLE_FAST_DURATION`: the least time between two fast cycles.
const FAST_CYCLE_GAP_NS: u64 = 2_000_000;

/// The keys with a TTL, by expires-dict bucket, and the cycle's state.
#[derive(Debug, Clone, Default)]
pub struct Expiry {
    seed: u64,
    /// The hash of each key with a TTL (which bucket it falls in), by key id.
    keys: DetMap<u32, u64>,
    /// Keys and their deadlines (ns of simulated time) by bucket index under `mask`, non-empty
    /// buckets only (ordered, so that a run of empty buckets is skipped at once and still
    /// counted).
    buckets: BTreeMap<u64, Vec<(u32, u64)>>,
    mask: u64,
    /// `db->expires_cursor`.
    cursor: u64,
    /// `server.stat_expired_stale_perc`: running estimate of the share of sampled keys that had
    /// expired (5% weight to each cycle).
    stale: f64,
    last_fast_ns: u64,
}

impl Expiry {
    pub fn new(seed: u64) -> Self {
        Expiry {
            seed,
            ..Default::default()
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        let mut h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().build_hasher();
        h.write_u64(self.seed);
        h.write(key);
        h.finish()
    }

    /// Keys with a TTL.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Sets (or moves) the deadline of the key with id `key`, named `name`.
    pub fn set(&mut self, key: u32, name: &[u8], deadline_ns: u64) {
        if let Some(&h) = self.keys.get(&key) {
            if let Some(chain) = self.buckets.get_mut(&(h & self.mask)) {
                if let Some(slot) = chain.iter_mut().find(|(k, _)| *k == key) {
                    slot.1 = deadline_ns;
                }
            }
            return;
        }
        let h = self.hash(name);
        self.keys.insert(key, h);
        self.buckets
            .entry(h & self.mask)
            .or_default()
            .push((key, deadline_ns));
    }

    /// Forgets the key with id `key` (deleted, or its TTL removed).
    pub fn remove(&mut self, key: u32) {
        if let Some(h) = self.keys.remove(&key) {
            let b = h & self.mask;
            if let Some(chain) = self.buckets.get_mut(&b) {
                if let Some(i) = chain.iter().position(|(k, _)| *k == key) {
                    chain.swap_remove(i);
                }
                if chain.is_empty() {
                    self.buckets.remove(&b);
                }
            }
        }
    }

    /// Forgets every key (FLUSHALL); the cursor and the estimate stay.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.buckets.clear();
    }

    /// The expires dict's table now has `size` buckets.
    fn rebucket(&mut self, size: u64) {
        let mask = size.max(1) - 1;
        if mask == self.mask {
            return;
        }
        self.mask = mask;
        let mut all: Vec<(u64, u32, u64)> = std::mem::take(&mut self.buckets)
            .into_values()
            .flatten()
            .map(|(k, d)| (self.keys[&k], k, d))
            .collect();
        // Within a bucket, the order of the chain: deterministic, by hash (then id, for the
        // names whose 64-bit hashes are equal).
        all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        for (h, k, d) in all {
            self.buckets.entry(h & mask).or_default().push((k, d));
        }
    }

    /// One `activeExpireCycle` at `now_ns` over an expires dict whose table has `table_size`
    /// buckets: returns the ids of the keys to delete, in the order the cycle finds them.
    fn cycle(&mut self, now_ns: u64, table_size: u64) -> Vec<u32> {
        self.rebucket(table_size);
        let now_ms = now_ns / 1_000_000;
        let mut out = Vec::new();
        let (mut total_sampled, mut total_expired) = (0u64, 0u64);
        loop {
            let num = self.keys.len() as u64;
            if num == 0 {
                break;
            }
            let slots = self.mask + 1;
            if slots > 4 && num * 100 / slots < 1 {
                break;
            }
            let num = num.min(KEYS_PER_LOOP);
            let max_buckets = num * 20;
            let (mut sampled, mut expired, mut checked) = (0u64, 0u64, 0u64);
            while sampled < num && checked < max_buckets {
                let idx = self.cursor & self.mask;
                // The next non-empty bucket from the cursor; the empty ones before it are
                // checked (and counted) on the way.
                let next = self.buckets.range(idx..).next().map(|(&b, _)| b);
                let gap = next.map_or(self.mask + 1 - idx, |b| b - idx);
                if checked + gap >= max_buckets {
                    self.cursor = self.cursor.wrapping_add(max_buckets - checked);
                    break;
                }
                checked += gap;
                self.cursor = self.cursor.wrapping_add(gap);
                let Some(b) = next else { continue };
                checked += 1;
                self.cursor = self.cursor.wrapping_add(1);
                let chain = &self.buckets[&b];
                sampled += chain.len() as u64;
                let due: Vec<u32> = chain
                    .iter()
                    .filter(|(_, d)| now_ms > d / 1_000_000)
                    .map(|&(k, _)| k)
                    .collect();
                expired += due.len() as u64;
                for k in due {
                    self.remove(k);
                    out.push(k);
                }
            }
            total_sampled += sampled;
            total_expired += expired;
            if sampled != 0 && expired * 100 / sampled <= ACCEPTABLE_STALE {
                break;
            }
        }
        let current = if total_sampled > 0 {
            total_expired as f64 / total_sampled as f64
        } else {
            0.0
        };
        self.stale = current * 0.05 + self.stale * 0.95;
        out
    }

    /// The slow cycle of a cron tick.
    pub fn slow_cycle(&mut self, now_ns: u64, table_size: u64) -> Vec<u32> {
        self.cycle(now_ns, table_size)
    }

    /// The fast cycle `beforeSleep` tries after a command: only when the stale estimate is at
    /// least 10% and the last fast cycle is 2 ms old.
    pub fn fast_cycle(&mut self, now_ns: u64, table_size: u64) -> Vec<u32> {
        if self.stale * 100.0 < ACCEPTABLE_STALE as f64
            || now_ns < self.last_fast_ns + FAST_CYCLE_GAP_NS
            || self.keys.is_empty()
        {
            return Vec::new();
        }
        self.last_fast_ns = now_ns;
        self.cycle(now_ns, table_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With every key expired a cycle keeps sampling until fewer than 1% of the table's
    /// buckets hold keys (11 of 1,024: then sampling is left for when the table has shrunk); with
    /// under a tenth expired, loops of 20 mostly find at most 2 and the cycle soon stops,
    /// leaving most of them.
    #[test]
    fn a_cycle_stops_at_the_acceptable_stale_share() {
        let mut e = Expiry::new(1);
        for i in 0..1000u32 {
            e.set(i, format!("k{i}").as_bytes(), 1_000_000_000);
        }
        let gone = e.slow_cycle(2_000_000_000, 1024);
        // The check comes before each loop of up to 20 samples: the last loop may take the
        // remaining few.
        assert!(gone.len() >= 990, "{}", gone.len());
        assert_eq!(e.len(), 1000 - gone.len());

        let mut e = Expiry::new(1);
        for i in 0..1000u32 {
            // 50 keys (5%) expired, the rest an hour away.
            let deadline = if i % 20 == 0 {
                1_000_000_000
            } else {
                3_600_000_000_000
            };
            e.set(i, format!("k{i}").as_bytes(), deadline);
        }
        let gone = e.slow_cycle(2_000_000_000, 1024);
        assert!(gone.len() < 25, "{}", gone.len());
        assert_eq!(e.len(), 1000 - gone.len());
        // A key is expired only once its deadline's millisecond has passed.
        let mut e = Expiry::new(1);
        e.set(7, b"k", 1_000_000_000);
        assert!(e.slow_cycle(1_000_999_999, 4).is_empty());
        assert_eq!(e.slow_cycle(1_001_000_000, 4), vec![7]);
    }
}
