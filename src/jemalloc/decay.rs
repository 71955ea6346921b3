//! Dirty/muzzy page decay over simulated time (`src/decay.c`).
//!
//! Decay keeps a backlog of 200 epochs. At each epoch advance it records how many pages became
//! dirty since the previous one; a batch recorded `k` epochs ago may stay unpurged in proportion
//! `smootherstep(1 - k/200)`. The allowed number of unpurged pages is
//! `sum(backlog[i] * h[i]) >> 24` with `h[i] = floor(2^24 * smootherstep((i + 1) / 200))`.
//! Time is the model's simulated clock in nanoseconds; nothing here reads the wall clock.

/// Number of epochs in the backlog (`SMOOTHSTEP_NSTEPS`).
pub const NSTEPS: usize = 200;
/// Fixed-point bits of the curve (`SMOOTHSTEP_BFP`).
pub const BFP: u32 = 24;
/// "Never": returned by [`Decay::ns_until_purge`] when nothing is pending.
pub const UNBOUNDED: u64 = u64::MAX;

/// `h[i]` for `i` in 0..200: `floor(2^24 * smootherstep((i+1)/200))`, computed exactly with
/// integers: `smootherstep(s/n) = (6 s^5 - 15 s^4 n + 10 s^3 n^2) / n^5`.
pub fn h_steps() -> [u64; NSTEPS] {
    let mut h = [0u64; NSTEPS];
    let n = NSTEPS as u128;
    for (i, slot) in h.iter_mut().enumerate() {
        let s = (i + 1) as u128;
        let num = 6 * s.pow(5) + 10 * s.pow(3) * n * n - 15 * s.pow(4) * n;
        *slot = ((num << BFP) / n.pow(5)) as u64;
    }
    h
}

/// jemalloc's 64-bit LCG (`prng_state_next_u64`).
pub fn prng_next(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state
}

/// `prng_lg_range_u64`: the top `lg_range` bits of the next state.
pub fn prng_lg_range(state: &mut u64, lg_range: u32) -> u64 {
    let s = prng_next(state);
    if lg_range == 0 {
        0
    } else {
        s >> (64 - lg_range)
    }
}

/// `prng_range_u64`: uniform in `[0, range)` by rejection.
pub fn prng_range(state: &mut u64, range: u64) -> u64 {
    if range <= 1 {
        return 0;
    }
    let lg_range = 64 - (range - 1).leading_zeros();
    loop {
        let r = prng_lg_range(state, lg_range);
        if r < range {
            return r;
        }
    }
}

/// The decay state of one page state (dirty or muzzy) of one arena (`decay_t`).
#[derive(Debug, Clone)]
pub struct Decay {
    time_ms: i64,
    interval_ns: u64,
    epoch_ns: u64,
    deadline_ns: u64,
    jitter_state: u64,
    nunpurged: u64,
    npages_limit: u64,
    backlog: [u64; NSTEPS],
    h: [u64; NSTEPS],
}

impl Decay {
    /// `decay_init`/`decay_reinit` at simulated time `now_ns`. `jitter_seed` replaces jemalloc's
    /// seed (the address of the `decay_t`), so runs are reproducible.
    pub fn new(now_ns: u64, time_ms: i64, jitter_seed: u64) -> Self {
        let mut d = Decay {
            time_ms,
            interval_ns: 0,
            epoch_ns: now_ns,
            deadline_ns: now_ns,
            jitter_state: jitter_seed,
            nunpurged: 0,
            npages_limit: 0,
            backlog: [0; NSTEPS],
            h: h_steps(),
        };
        if time_ms > 0 {
            d.interval_ns = time_ms as u64 * 1_000_000 / NSTEPS as u64;
        }
        d.deadline_init();
        d
    }

    /// The decay time in ms (-1 never, 0 immediately).
    pub fn time_ms(&self) -> i64 {
        self.time_ms
    }
    /// Decay along the curve (time > 0).
    pub fn gradually(&self) -> bool {
        self.time_ms > 0
    }
    /// Purge as soon as pages become dirty (time = 0).
    pub fn immediately(&self) -> bool {
        self.time_ms == 0
    }
    /// Pages allowed to stay unpurged after the last epoch advance.
    pub fn npages_limit(&self) -> u64 {
        self.npages_limit
    }
    /// Length of one epoch in ns (`decay_ms / 200`).
    pub fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    fn deadline_init(&mut self) {
        self.deadline_ns = self.epoch_ns + self.interval_ns;
        if self.time_ms > 0 {
            self.deadline_ns += prng_range(&mut self.jitter_state, self.interval_ns);
        }
    }

    fn backlog_limit(&self) -> u64 {
        let sum: u128 = self
            .backlog
            .iter()
            .zip(self.h.iter())
            .map(|(&b, &h)| b as u128 * h as u128)
            .sum();
        (sum >> BFP) as u64
    }

    fn backlog_update(&mut self, nadvance: u64, current: u64) {
        if nadvance >= NSTEPS as u64 {
            self.backlog[..NSTEPS - 1].fill(0);
        } else {
            let n = nadvance as usize;
            self.backlog.copy_within(n.., 0);
            if n > 1 {
                self.backlog[NSTEPS - n..NSTEPS - 1].fill(0);
            }
        }
        self.backlog[NSTEPS - 1] = current.saturating_sub(self.nunpurged);
    }

    /// `decay_maybe_advance_epoch`: if the deadline has passed, advance whole epochs, register the
    /// pages that became dirty since the last advance, and recompute the limit. Returns whether
    /// the epoch advanced.
    pub fn maybe_advance_epoch(&mut self, now_ns: u64, npages_current: u64) -> bool {
        if self.time_ms <= 0 || now_ns < self.deadline_ns {
            return false;
        }
        let nadvance = (now_ns - self.epoch_ns) / self.interval_ns;
        debug_assert!(nadvance > 0);
        self.epoch_ns += nadvance * self.interval_ns;
        self.deadline_init();
        self.backlog_update(nadvance, npages_current);
        self.npages_limit = self.backlog_limit();
        self.nunpurged = self.npages_limit.max(npages_current);
        true
    }

    /// Pages that `interval` more epochs would allow to purge (`decay_npurge_after_interval`).
    fn npurge_after_interval(&self, interval: usize) -> u64 {
        let mut sum: u128 = 0;
        for i in 0..NSTEPS {
            let w = if i < interval {
                self.h[i]
            } else {
                self.h[i] - self.h[i - interval]
            };
            sum += self.backlog[i] as u128 * w as u128;
        }
        (sum >> BFP) as u64
    }

    /// `decay_ns_until_purge`: how long a background thread may sleep before purging is due.
    pub fn ns_until_purge(&self, npages_current: u64, threshold: u64) -> u64 {
        if !self.gradually() {
            return UNBOUNDED;
        }
        let iv = self.interval_ns;
        if npages_current == 0 && self.backlog.iter().all(|&b| b == 0) {
            return UNBOUNDED;
        }
        if npages_current <= threshold {
            return iv * NSTEPS as u64;
        }
        let (mut lb, mut ub) = (2usize, NSTEPS);
        let mut npurge_lb = self.npurge_after_interval(lb);
        if npurge_lb > threshold {
            return iv * lb as u64;
        }
        let mut npurge_ub = self.npurge_after_interval(ub);
        if npurge_ub < threshold {
            return iv * ub as u64;
        }
        while npurge_lb + threshold < npurge_ub && lb + 2 < ub {
            let target = (lb + ub) / 2;
            let npurge = self.npurge_after_interval(target);
            if npurge > threshold {
                ub = target;
                npurge_ub = npurge;
            } else {
                lb = target;
                npurge_lb = npurge;
            }
        }
        iv * (ub + lb) as u64 / 2
    }

    /// `decay_npages_purge_in`: of `npages_new` fresh pages, how many a sleep of `time_ns` purges.
    pub fn npages_purge_in(&self, time_ns: u64, npages_new: u64) -> u64 {
        if self.interval_ns == 0 {
            return npages_new;
        }
        let n_epoch = (time_ns / self.interval_ns) as usize;
        if n_epoch >= NSTEPS {
            npages_new
        } else {
            let hmax = self.h[NSTEPS - 1];
            ((npages_new as u128 * (hmax - self.h[NSTEPS - 1 - n_epoch]) as u128) >> BFP) as u64
        }
    }

    /// The epoch start, in simulated ns.
    pub fn epoch_ns(&self) -> u64 {
        self.epoch_ns
    }
    /// Pages registered by the latest epoch advance (`decay_epoch_npages_delta`).
    pub fn epoch_npages_delta(&self) -> u64 {
        self.backlog[NSTEPS - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h_steps_endpoints_and_midpoint() {
        let h = h_steps();
        // smootherstep(1) = 1: the newest batch may stay in full.
        assert_eq!(h[NSTEPS - 1], 1 << 24);
        // smootherstep(1/200) = (6 - 15*200 + 10*200^2)/200^5 = 397006/3.2e11; * 2^24 = 20.8.
        assert_eq!(h[0], 20);
        // smootherstep(1/2) = 1/2 exactly.
        assert_eq!(h[99], 1 << 23);
        assert!(h.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn pages_decay_along_the_curve() {
        // 10 s decay, 50 ms epochs. 2000 pages become dirty at t=0; after the first advance
        // they are registered, and the limit is 2000 * h[199] >> 24 = 2000.
        let mut d = Decay::new(0, 10_000, 1);
        assert_eq!(d.interval_ns(), 50_000_000);
        assert!(d.maybe_advance_epoch(100_000_000, 2000));
        assert_eq!(d.npages_limit(), 2000);
        // Half the decay time later the batch sits at index 99: limit = 2000 * 2^23 >> 24.
        let t = d.epoch_ns() + 100 * 50_000_000;
        assert!(d.maybe_advance_epoch(t + 60_000_000, 2000));
        // nadvance is 101 (jitter can only delay the deadline, the advance counts whole epochs).
        assert_eq!(
            d.npages_limit(),
            ((2000u128 * h_steps()[98] as u128) >> 24) as u64
        );
        // A full decay time later nothing may remain.
        assert!(d.maybe_advance_epoch(t + 11_000_000_000, 2000));
        assert_eq!(d.npages_limit(), 0);
    }

    #[test]
    fn special_values_never_advance() {
        let mut never = Decay::new(0, -1, 1);
        assert!(!never.maybe_advance_epoch(u64::MAX / 2, 100));
        assert_eq!(never.ns_until_purge(100, 1024), UNBOUNDED);
        let now = Decay::new(0, 0, 1);
        assert!(now.immediately());
    }
}
