//! Purging a page allocator's cached pages (jemalloc's `ecache_evict`, `pac_decay_to_limit`,
//! `pac_maybe_decay_purge`, `arena.<i>.purge`): dirty pages go to muzzy (`MADV_FREE`) or retained
//! (`MADV_DONTNEED`), muzzy pages to retained, least recently used first, as far as decay allows.

use super::Pac;
use crate::jemalloc::extent::{ExtId, ExtState, NIL};

impl Pac {
    /// `ecache_evict`: take the least recently used extent while the cache holds more than
    /// `npages_min` pages. In the dirty cache, delayed coalescing is done here: the LRU extent is
    /// merged with one neighbour, reinserted, and the search restarts.
    fn evict(&mut self, state: ExtState, npages_min: u64) -> Option<ExtId> {
        loop {
            let ec = self.ecache(state);
            let head = ec.lru_head;
            if head == NIL || ec.npages <= npages_min {
                return None;
            }
            let delay = ec.delay_coalesce;
            self.eset_remove(head);
            if !delay {
                self.extents[head as usize].state = ExtState::Active;
                return Some(head);
            }
            self.extents[head as usize].state = ExtState::Active;
            let (id, merged) = self.try_coalesce(state, head, false);
            if !merged {
                return Some(id);
            }
            self.eset_insert(state, id);
        }
    }

    /// `pac_decay_to_limit`: purge whole LRU extents of cache `state` until at most `limit` pages
    /// remain, at most `max` pages in all. Dirty pages go to muzzy when muzzy decay is on and the
    /// purge is not a full one; otherwise to retained.
    fn decay_to_limit(&mut self, state: ExtState, fully: bool, limit: u64, max: u64) {
        if max == 0 {
            return;
        }
        let mut stash = Vec::new();
        let mut nstashed = 0;
        while nstashed < max {
            match self.evict(state, limit) {
                Some(id) => {
                    nstashed += self.extents[id as usize].npages;
                    stash.push(id);
                }
                None => break,
            }
        }
        if stash.is_empty() {
            return;
        }
        let try_muzzy = !fully && self.decay_muzzy.time_ms() != 0;
        let (npurge, nmadvise, purged) = match state {
            ExtState::Dirty => (
                &mut self.counters.dirty_npurge,
                &mut self.counters.dirty_nmadvise,
                &mut self.counters.dirty_purged,
            ),
            _ => (
                &mut self.counters.muzzy_npurge,
                &mut self.counters.muzzy_nmadvise,
                &mut self.counters.muzzy_purged,
            ),
        };
        *npurge += 1;
        *nmadvise += stash.len() as u64;
        *purged += nstashed;
        for id in stash {
            if state == ExtState::Dirty && try_muzzy {
                self.record(ExtState::Muzzy, id);
            } else {
                self.dalloc_to_retained(id);
            }
        }
    }

    /// `pac_decay_all`: purge everything in cache `state`.
    fn decay_all(&mut self, state: ExtState, fully: bool) {
        let n = self.ecache(state).npages;
        self.decay_to_limit(state, fully, 0, n);
    }

    /// `arena.<i>.purge`: all dirty and muzzy pages to retained (`MADV_DONTNEED`).
    pub fn purge_all(&mut self) {
        self.decay_all(ExtState::Dirty, true);
        if !self.dont_decay_muzzy() {
            self.decay_all(ExtState::Muzzy, true);
        }
    }

    fn dont_decay_muzzy(&self) -> bool {
        self.muzzy.npages == 0 && self.decay_muzzy.time_ms() <= 0
    }

    /// Deferred work after a free that made pages dirty (`arena_handle_deferred_work`): with
    /// `dirty_decay_ms = 0`, purge all dirty pages now.
    pub fn handle_deferred_work(&mut self) {
        if self.decay_dirty.immediately() {
            self.decay_all(ExtState::Dirty, true);
        }
    }

    /// `pac_maybe_decay_purge` for one state at time `now_ns`. `purge_always` is the background
    /// thread's eagerness; otherwise pages are purged only when the epoch advanced, or never
    /// (`purge_never`, an application thread while background threads run). Returns whether the
    /// epoch advanced.
    fn maybe_decay_purge(
        &mut self,
        state: ExtState,
        now_ns: u64,
        purge_always: bool,
        purge_never: bool,
    ) -> bool {
        let decay = if state == ExtState::Dirty {
            &self.decay_dirty
        } else {
            &self.decay_muzzy
        };
        let ms = decay.time_ms();
        if ms <= 0 {
            if ms == 0 {
                let n = self.ecache(state).npages;
                self.decay_to_limit(state, false, 0, n);
            }
            return false;
        }
        let current = self.ecache(state).npages;
        let decay = if state == ExtState::Dirty {
            &mut self.decay_dirty
        } else {
            &mut self.decay_muzzy
        };
        let advanced = decay.maybe_advance_epoch(now_ns, current);
        let limit = decay.npages_limit();
        if (purge_always || (advanced && !purge_never)) && current > limit {
            self.decay_to_limit(state, false, limit, current - limit);
        }
        advanced
    }

    /// `arena_decay(all = false)`: a decay step for dirty then muzzy pages. Returns whether the
    /// dirty epoch advanced (the application thread then may wake the background thread).
    pub fn decay_step(&mut self, now_ns: u64, purge_always: bool, purge_never: bool) -> bool {
        let adv = self.maybe_decay_purge(ExtState::Dirty, now_ns, purge_always, purge_never);
        if !self.dont_decay_muzzy() {
            self.maybe_decay_purge(ExtState::Muzzy, now_ns, purge_always, purge_never);
        }
        adv
    }

    /// `pac_time_until_deferred_work`: how long the background thread may sleep (ns).
    pub fn ns_until_deferred_work(&self, threshold: u64) -> u64 {
        let d = self.decay_dirty.ns_until_purge(self.dirty.npages, threshold);
        let m = self.decay_muzzy.ns_until_purge(self.muzzy.npages, threshold);
        d.min(m)
    }
}
