//! The arena's clock and everything that runs on it: advancing simulated time, the decay ticker
//! that triggers purging every ~1000 arena events, explicit purge and decay requests, the deferred
//! work after pages become dirty, and the background purging thread.

use super::Arena;
use crate::jemalloc::decay::prng_lg_range;

/// `ARENA_DECAY_NTICKS_PER_UPDATE`: mean number of arena events between decay checks.
pub(super) const DECAY_NTICKS: i32 = 1000;
/// `ARENA_DEFERRED_PURGE_NPAGES_THRESHOLD`: pages the background thread would purge during its
/// sleep beyond which it is woken early; also the pending-purge threshold that decides how long
/// it sleeps.
const DEFERRED_PURGE_NPAGES: u64 = 1024;
/// `BACKGROUND_THREAD_MIN_INTERVAL_NS` (100 ms): the background thread's shortest sleep.
const BG_MIN_INTERVAL_NS: u64 = 100_000_000;

/// Background purging thread state (`background_thread_info_t`).
#[derive(Debug, Clone, Copy)]
pub(super) struct BgThread {
    /// Next wake time; `None` while sleeping indefinitely.
    pub(super) wake_ns: Option<u64>,
    /// Whether the next wake ends an indefinite sleep (then it only reschedules).
    pub(super) from_indefinite: bool,
    /// Pages that became dirty since the thread went to sleep and that decay would let it purge
    /// by its wake time (`npages_to_purge_new`).
    pub(super) npages_to_purge_new: u64,
}

impl Arena {
    /// Advances the simulated clock by `ns` (background-thread wake-ups run on the way).
    pub fn advance(&mut self, ns: u64) {
        let target = self.now_ns.saturating_add(ns);
        self.run_background_until(target);
        self.now_ns = target;
    }

    /// `arena.<i>.purge` (what `MEMORY PURGE` and a synchronous `FLUSHALL` do): all dirty and muzzy
    /// pages of this arena and the huge arena to retained. The thread cache is not flushed.
    pub fn purge(&mut self) {
        self.pac.purge_all();
        if let Some(h) = self.huge.as_mut() {
            h.purge_all();
        }
    }

    /// `arena.<i>.decay`: one curve-limited decay step at the current time.
    pub fn decay(&mut self) {
        self.arena_decay(false);
    }

    /// `arena_decay_ticks`: a geometric ticker fires on average every 1000 arena-level events.
    pub(super) fn tick(&mut self, n: i32) {
        self.ticker -= n;
        if self.ticker < 0 {
            let idx = prng_lg_range(&mut self.prng, 6) as usize;
            self.ticker = (DECAY_NTICKS as u64 * ticker_geom_table()[idx] as u64 / 61) as i32;
            self.arena_decay(false);
        }
    }

    /// `arena_decay(is_background_thread, all = false)`.
    fn arena_decay(&mut self, is_bg: bool) {
        let bg_on = self.bg.is_some();
        let advanced = self.pac.decay_step(self.now_ns, is_bg, !is_bg && bg_on);
        if bg_on && advanced && !is_bg {
            let new = self.pac.decay_dirty.epoch_npages_delta();
            self.maybe_wake_background(new);
        }
    }

    /// `arena_handle_deferred_work` after pages became dirty.
    pub(super) fn handle_deferred_work(&mut self) {
        self.pac.handle_deferred_work();
        if let Some(bg) = self.bg {
            if bg.wake_ns.is_none() {
                self.maybe_wake_background(0);
            }
        }
    }

    /// `arena_maybe_do_deferred_work`: wake a sleeping background thread early when it sleeps
    /// indefinitely, or when the pages it would purge during its sleep exceed 1024.
    fn maybe_wake_background(&mut self, npages_new: u64) {
        let now = self.now_ns;
        let Some(bg) = self.bg.as_mut() else { return };
        match bg.wake_ns {
            None => {
                bg.wake_ns = Some(now);
                bg.from_indefinite = true;
            }
            Some(wake) => {
                let d = &self.pac.decay_dirty;
                if !d.gradually() || wake <= d.epoch_ns() {
                    return;
                }
                let remaining = wake - d.epoch_ns();
                if npages_new > 0 {
                    bg.npages_to_purge_new += d.npages_purge_in(remaining, npages_new);
                }
                if bg.npages_to_purge_new > DEFERRED_PURGE_NPAGES {
                    bg.npages_to_purge_new = 0;
                    bg.wake_ns = Some(now.max(d.epoch_ns()));
                    bg.from_indefinite = false;
                }
            }
        }
    }

    /// Runs background-thread wake-ups due up to `target` (`background_work_sleep_once`).
    fn run_background_until(&mut self, target: u64) {
        loop {
            let Some(bg) = self.bg else { return };
            let Some(wake) = bg.wake_ns else { return };
            if wake > target {
                return;
            }
            self.now_ns = self.now_ns.max(wake);
            if !bg.from_indefinite {
                self.arena_decay(true);
                if let Some(h) = self.huge.as_mut() {
                    h.decay_step(self.now_ns, true, false);
                }
            }
            let ns = self.pac.ns_until_deferred_work(DEFERRED_PURGE_NPAGES);
            let bg = self.bg.as_mut().unwrap();
            bg.from_indefinite = false;
            bg.wake_ns = if ns == u64::MAX {
                None
            } else {
                Some(self.now_ns + ns.max(BG_MIN_INTERVAL_NS))
            };
        }
    }
}

/// `ticker_geom_table`: `round(-ln((i + 1) / 64) * 61)` for i in 0..64, the scaled logarithms
/// that turn a uniform 6-bit draw into a geometric gap.
fn ticker_geom_table() -> &'static [u8; 64] {
    static TABLE: std::sync::OnceLock<[u8; 64]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0u8; 64];
        for (i, v) in t.iter_mut().enumerate() {
            *v = (-(((i + 1) as f64) / 64.0).ln() * 61.0).round() as u8;
        }
        t
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticker_table_matches_jemalloc_endpoints() {
        let t = ticker_geom_table();
        // jemalloc's table starts 254, 211, 187, 169 and ends 2, 1, 0.
        assert_eq!(&t[..4], &[254, 211, 187, 169]);
        assert_eq!(&t[61..], &[2, 1, 0]);
    }
}
