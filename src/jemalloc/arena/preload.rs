//! Recreating a running process's allocator state in a fresh arena: its small bins as
//! `malloc_stats_print` reports them, and its thread cache, either estimated or restored from a
//! recorded [`TcacheState`].

use super::{Arena, ObjId};
use crate::jemalloc::tcache::TcacheState;

impl Arena {
    /// Recreates a process's small-bin state, as `malloc_stats_print` reports it: for each
    /// `(region size, current regions, current slabs)`, that many slabs with that many regions in
    /// use, the free regions spread over the slabs. Then up to `tcache_bytes` of those regions are
    /// put in the thread cache (each bin at most half full), as a running process's cache holds
    /// some, and the fill count of every bin in use is set to `ncached_max >> lg_fill_div`, as a
    /// running cache's garbage collection has adapted it. Returns the objects still held by the program;
    /// the caller never frees them.
    pub fn preload(
        &mut self,
        bins: &[(u64, u64, u64)],
        tcache_bytes: u64,
        lg_fill_div: u32,
        state: Option<&TcacheState>,
    ) -> Vec<ObjId> {
        // Bins the process has used had their fill count adapted by the cache's GC; bins it
        // never used still fill half their capacity on a first miss.
        for &(size, curregs, _) in bins.iter().filter(|_| state.is_none()) {
            if let (Some(class), Some(tc)) = (self.sc.index_of(size), self.tcache.as_mut()) {
                if curregs > 0 {
                    tc.set_fill_div(class, lg_fill_div);
                }
            }
        }
        let mut held: Vec<(usize, Vec<ObjId>)> = Vec::new();
        for &(size, curregs, curslabs) in bins {
            let Some(class) = self.sc.index_of(size).filter(|&c| self.sc.class(c).size == size) else {
                continue;
            };
            let c = *self.sc.class(class);
            if !c.small || curslabs == 0 {
                continue;
            }
            let nregs = c.nregs as u64;
            let used = curregs.clamp(curslabs, curslabs * nregs);
            // The process wrote these slabs while it started (their holes held objects since
            // freed): their pages are resident.
            let all: Vec<ObjId> = (0..curslabs * nregs)
                .map(|_| {
                    let id = self.malloc_small_direct(class);
                    self.touch(id, c.size);
                    id
                })
                .collect();
            let holes = curslabs * nregs - used;
            let mut keep = vec![true; all.len()];
            for h in 0..holes {
                let slab = h % curslabs;
                let reg = nregs - 1 - h / curslabs;
                keep[(slab * nregs + reg) as usize] = false;
            }
            let mut mine = Vec::new();
            for (id, k) in all.into_iter().zip(keep) {
                if k {
                    mine.push(id);
                } else {
                    self.free_direct(id);
                }
            }
            held.push((class, mine));
        }
        if let (Some(st), true) = (state, self.tcache.is_some()) {
            self.restore_tcache(st, &mut held);
        } else if let Some(tc) = self.tcache.as_ref() {
            let want: Vec<u64> = held
                .iter()
                .map(|(class, objs)| {
                    if *class < tc.nhbins() {
                        (tc.ncached_max(*class) as u64 / 2).min(objs.len() as u64)
                    } else {
                        0
                    }
                })
                .collect();
            let bytes: u64 = held
                .iter()
                .zip(&want)
                .map(|((c, _), w)| w * self.sc.class(*c).size)
                .sum();
            let f = if bytes == 0 {
                0.0
            } else {
                (tcache_bytes as f64 / bytes as f64).min(1.0)
            };
            for ((_, objs), w) in held.iter_mut().zip(want) {
                let n = (w as f64 * f).floor() as usize;
                for id in objs.drain(objs.len() - n..) {
                    self.free(id);
                }
            }
            self.tcache.as_mut().unwrap().mark_idle();
        }
        held.into_iter().flat_map(|(_, o)| o).collect()
    }

    /// Puts the thread cache in state `st`: each listed bin gets its count of objects, taken
    /// from `held` (the program's objects of that class) or, when those run short, new ones;
    /// then its marks and the GC position. No GC event fires meanwhile.
    fn restore_tcache(&mut self, st: &TcacheState, held: &mut [(usize, Vec<ObjId>)]) {
        for &[size, ncached, low_water, lg_fill_div, refilled] in &st.bins {
            let Some(class) = self.sc.index_of(size).filter(|&c| self.sc.class(c).size == size) else {
                continue;
            };
            if class >= self.tcache.as_ref().map_or(0, |t| t.nhbins()) {
                continue;
            }
            let small = self.sc.class(class).small;
            let mut objs = Vec::with_capacity(ncached as usize);
            if let Some((_, mine)) = held.iter_mut().find(|(c, _)| *c == class) {
                let n = (ncached as usize).min(mine.len());
                objs.extend(mine.drain(mine.len() - n..));
            }
            while objs.len() < ncached as usize {
                // Straight from the arena, as a fill would: no GC event counts.
                let id = if small {
                    self.malloc_small_direct(class)
                } else {
                    self.malloc_large_direct(class, size)
                };
                self.touch(id, size);
                objs.push(id);
            }
            let tc = self.tcache.as_mut().expect("checked");
            for id in objs {
                tc.push(class, id);
            }
            tc.restore_bin(class, low_water as u32, lg_fill_div as u32, refilled != 0);
        }
        let tc = self.tcache.as_mut().expect("checked");
        tc.restore_gc(st.next_gc_bin, st.alloc_bytes, st.dalloc_bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jemalloc::{AllocatorConfig, ArenaOptions};

    /// A thread cache restored from a state reads back as that state, holds exactly its objects
    /// (taken from the preloaded regions, or new ones for a class the bins do not list), and
    /// `stats.allocated` counts them with the program's.
    #[test]
    fn a_restored_thread_cache_is_the_state_it_was_given() {
        let mut a = Arena::new(&AllocatorConfig::jemalloc_5_3(), ArenaOptions::default());
        let st = TcacheState {
            next_gc_bin: 5,
            alloc_bytes: 1000,
            dalloc_bytes: 2000,
            bins: vec![[16, 30, 10, 2, 1], [64, 12, 12, 1, 0], [128, 4, 0, 1, 1]],
        };
        let held = a.preload(&[(16, 1000, 4), (64, 300, 5)], 0, 3, Some(&st));
        assert_eq!(a.tcache_state().unwrap(), st);
        assert_eq!(held.len(), 1000 - 30 + 300 - 12);
        let s = a.stats();
        assert_eq!(s.tcache_bytes, 30 * 16 + 12 * 64 + 4 * 128);
        assert_eq!(s.allocated, 1000 * 16 + 300 * 64 + 4 * 128);
    }
}
