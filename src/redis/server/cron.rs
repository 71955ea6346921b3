//! `serverCron` (server.c), every 100 ms at hz 10, and simulated time: `cronUpdateMemoryStats`
//! samples the allocator, the RSS and `used_memory` (what INFO prints for them);
//! `databasesCron` runs active expiry's slow cycle (`activeExpireCycle`), finishes the keyspace
//! dicts' rehash and shrinks them (`tryResizeHashTables`); `clientsCron` resizes each client's
//! query buffer (`clientsCronResizeQueryBuffer`) and reply buffer
//! (`clientsCronResizeOutputBuffer`), and on Redis 8.0 frees an idle client's kept argv array
//! (`clientsCronFreeArgvIfIdle`). Between ticks the allocator's decay runs with the clock.

use super::Server;

/// The cron's period: 100 ms (hz 10).
const CRON_NS: u64 = 100_000_000;

/// The figures `cronUpdateMemoryStats` samples together.
#[derive(Debug, Clone, Copy)]
pub(super) struct CronSample {
    pub(super) allocated: u64,
    pub(super) active: u64,
    pub(super) resident: u64,
    pub(super) rss: u64,
    pub(super) used: u64,
    /// The small bins' free regions, where the profile's `allocator_frag_ratio` reads them.
    pub(super) frag_smallbins: Option<u64>,
}

/// When a server seeded with `seed` first runs its cron: serverCron runs every 100 ms from the
/// server's start, and a workload starts at no particular moment of that period, so each run
/// draws where (1 ns to 100 ms).
pub(super) fn first_tick(seed: u64) -> u64 {
    1 + seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) % CRON_NS
}

impl Server {
    /// Advances simulated time, running `serverCron` every 100 ms: keyspace dicts finish their
    /// rehash and shrink when filled below 10%, expired keys are deleted, clients idle for more
    /// than 2 s give back their query buffer's free space.
    pub fn advance(&mut self, ns: u64) {
        let target = self.now_ns + ns;
        while self.next_cron_ns <= target {
            let step = self.next_cron_ns - self.now_ns;
            self.heap.arena.advance(step);
            self.now_ns = self.next_cron_ns;
            self.cron();
            self.next_cron_ns += CRON_NS;
        }
        self.heap.arena.advance(target - self.now_ns);
        self.now_ns = target;
    }

    /// Moves the cron so that its next look is at `at_ns` (simulated time, after now): the
    /// phase of a real server's cron, when it was measured.
    pub fn align_cron(&mut self, at_ns: u64) {
        if at_ns > self.now_ns {
            self.next_cron_ns = at_ns;
        }
    }

    fn cron(&mut self) {
        let now = self.now_ns;
        // cronUpdateMemoryStats (every 100 ms).
        self.cron_sample = Some(self.sample());
        // databasesCron: the slow active-expiry cycle, then the tables' upkeep.
        let (keyspace, mut mem) = self.keyspace_mem();
        keyspace.expire_cycle(&mut mem, now, false);
        keyspace.resize_tables(&mut mem);
        // clientsCron.
        for i in 0..self.clients.len() {
            if self.clients[i].is_none() {
                continue;
            }
            self.resize_query_buffer(i, now);
            if self.profile.layout.client_keeps_argv {
                self.free_argv_if_idle(i, now);
            }
            self.resize_output_buffer(i, now);
        }
        self.peak = self.peak.max(self.used_memory());
    }

    /// The figures `cronUpdateMemoryStats` samples (every 100 ms at hz 10): the allocator's
    /// `stats.allocated`, `active` and `resident`, the process RSS, and `used_memory` (for
    /// `mem_fragmentation_ratio`), live.
    pub(super) fn sample(&self) -> CronSample {
        let b = &self.profile.baseline;
        // The five figures of the arena's stats read here, not the whole of them.
        let st = self.heap.arena.sample_stats();
        let page = self.heap.arena.size_classes().page();
        let s0 = &self.start;
        let delta = |now: u64, then: u64| now as i64 - then as i64;
        let plus = |base: u64, d: i64| (base as i64 + d).max(0) as u64;
        // RSS grows by the pages the program wrote and by jemalloc's metadata pages.
        let rss = plus(
            b.rss,
            delta(st.touched_pages, s0.touched_pages) * page as i64
                + delta(st.metadata_resident, s0.metadata_resident(page)),
        ) + self.keyspace.slot_map_pages() * page
            + if self.profile.lua_uses_jemalloc {
                0
            } else {
                self.scripts.lua_heap
            }
            + if self.client_seen { b.first_client_rss } else { 0 };
        CronSample {
            allocated: plus(b.allocator_allocated, delta(st.allocated, s0.allocated)),
            active: plus(b.allocator_active, delta(st.active, s0.active)),
            resident: plus(b.allocator_resident, delta(st.resident, s0.resident)),
            rss,
            used: self.used_memory(),
            frag_smallbins: self
                .profile
                .layout
                .frag_ratio_small_bins
                .then(|| self.heap.arena.small_bin_holes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::redis::server::testing::{argv, server};

    /// A connected client's 16 KiB reply buffer shrinks to 1 KiB at the cron's second look
    /// (`clientsCronResizeOutputBuffer`: the first look resets the peak, since Redis 7.0 stamps
    /// a new client's reset time in seconds and compares it in milliseconds; the second finds
    /// a peak of 5 bytes, `+OK`, under half the buffer): 15,360 B less, as the traced server
    /// freed three writers' buffers 177 ms into a test.
    #[test]
    fn the_cron_shrinks_an_idle_clients_reply_buffer() {
        let mut s = server(&["set"]);
        let c = s.connect();
        s.exec(c, &argv(&[b"SET", b"a", b"1"])).unwrap();
        let u0 = s.used_memory();
        // The cron looks every 100 ms, from a moment each run draws: one look in the first
        // 100 ms, the second within the next.
        s.advance(100_000_000);
        assert_eq!(s.used_memory(), u0);
        s.advance(100_000_000);
        assert_eq!(u0 - s.used_memory(), 16_384 - 1_024);
        // Idle past 2 s: the 1 KiB reply buffer stays (nothing filled it), the query buffer's
        // 20,480 B block becomes an empty 8 B one.
        s.advance(10_000_000_000);
        assert_eq!(u0 - s.used_memory(), 16_384 - 1_024 + 20_480 - 8);
    }
}
