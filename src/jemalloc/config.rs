//! Allocator configuration as data: the build-time and run-time options of jemalloc that decide
//! where bytes go, and the named presets for the builds fragsim users meet.

use serde::{Deserialize, Serialize};

use super::error::ConfigError;

/// Decay time for one page state, as jemalloc's `dirty_decay_ms` / `muzzy_decay_ms` options.
/// `-1` never decays, `0` purges at once, a positive value purges along the smootherstep curve.
pub type DecayMs = i64;

/// Thread-cache options (`opt.tcache`, `opt.tcache_max`, `opt.tcache_nslots_*`, GC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcacheConfig {
    /// `opt.tcache`: whether the application thread has a thread cache.
    pub enabled: bool,
    /// `opt.tcache_max`: largest class that is cached (bytes, default 32 KiB).
    pub max: u64,
    /// `opt.tcache_nslots_small_min` (20).
    pub nslots_small_min: u32,
    /// `opt.tcache_nslots_small_max` (200).
    pub nslots_small_max: u32,
    /// `opt.tcache_nslots_large` (20).
    pub nslots_large: u32,
    /// `opt.lg_tcache_nslots_mul` (1): small capacity is `nregs << mul`, clamped.
    pub lg_nslots_mul: i32,
    /// `opt.tcache_gc_incr_bytes` (65536): bytes allocated or freed between GC events; 0 turns
    /// the incremental GC off (as for an explicit `tcache.create` cache, which no thread event
    /// visits).
    pub gc_incr_bytes: u64,
    /// `opt.lg_tcache_flush_small_div` (1): a full small bin is flushed down to `ncached_max >> div`.
    pub lg_flush_small_div: u32,
    /// `opt.lg_tcache_flush_large_div` (1).
    pub lg_flush_large_div: u32,
    /// jemalloc 5.2's `TCACHE_GC_SWEEP` (8192), for [`Release::V5_2`] only: the incremental GC
    /// visits one bin every `TCACHE_GC_INCR + 1` operations through the cache, where
    /// `TCACHE_GC_INCR = TCACHE_GC_SWEEP / SC_NBINS + 1` (211 with quantum 8), instead of every
    /// `gc_incr_bytes` (`tcache_types.h`; `tcache_event`, `tcache_inlines.h`). 0 turns it off.
    #[serde(default)]
    pub gc_sweep: u32,
}

impl Default for TcacheConfig {
    fn default() -> Self {
        TcacheConfig {
            enabled: true,
            max: 32 * 1024,
            nslots_small_min: 20,
            nslots_small_max: 200,
            nslots_large: 20,
            lg_nslots_mul: 1,
            gc_incr_bytes: 65536,
            lg_flush_small_div: 1,
            lg_flush_large_div: 1,
            gc_sweep: 0,
        }
    }
}

/// How large requests are rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LargeRounding {
    /// jemalloc 5.3.0: to the next size class (4 per doubling).
    SizeClasses,
    /// jemalloc 5.3.1 default (`opt.disable_large_size_classes`): to whole pages.
    Pages,
}

/// The jemalloc release whose rules the model follows where releases place or account memory
/// differently (the rest, size classes, slabs, first fit, decay, is shared).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Release {
    /// jemalloc 5.2.1 (the copy Redis 7.0 bundles), read in `redis-7.0.15/deps/jemalloc`:
    ///
    /// * free extents of two mappings that the kernel placed next to each other merge
    ///   (`extent_head_no_merge` in `src/extent.c` refuses only where maps do not coalesce), and
    ///   each new mapping is assumed to sit right below the previous one (Linux's top-down
    ///   `mmap`);
    /// * a dirty extent that reaches `opt.oversize_threshold` after merging is purged at once even
    ///   when a decay time is -1 (`extent_record`: no `extent_may_force_decay`);
    /// * the thread cache's incremental GC counts operations, not bytes
    ///   ([`TcacheConfig::gc_sweep`]), and visits explicit (`tcache.create`) caches too; a flush
    ///   frees its oldest object first (`tcache_bin_flush_small/large` walk `avail - 1 - i`);
    /// * an arena's base starts at 42,704 B (measured after `arenas.create`: no `pa_shard_t`).
    #[serde(rename = "5.2")]
    V5_2,
    /// jemalloc 5.3.0 (and 5.3.1's placement).
    #[default]
    #[serde(rename = "5.3")]
    V5_3,
}

/// Everything the allocator model needs to know about one jemalloc build and its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocatorConfig {
    /// Preset name this configuration came from (informational).
    pub name: String,
    /// jemalloc version string the configuration stands for.
    pub version: String,
    /// `LG_QUANTUM`: 4 (16 B) on x86-64 and aarch64, 3 (8 B) in Redis's bundled build.
    pub lg_quantum: u32,
    /// `LG_PAGE`: 12, 14 or 16.
    pub lg_page: u32,
    /// `config.cache_oblivious`: one pad page per large extent, random cache-line offset.
    pub cache_oblivious: bool,
    /// Large request rounding (5.3.0 classes or 5.3.1 pages).
    pub large_rounding: LargeRounding,
    pub tcache: TcacheConfig,
    /// `opt.dirty_decay_ms` (10000).
    pub dirty_decay_ms: DecayMs,
    /// `opt.muzzy_decay_ms` (0).
    pub muzzy_decay_ms: DecayMs,
    /// `background_thread`: purging by a background thread instead of on allocation ticks.
    pub background_thread: bool,
    /// `opt.oversize_threshold` (8 MiB): requests at or above it go to the huge arena, and dirty
    /// extents that reach it after merging are purged at once.
    pub oversize_threshold: u64,
    /// `opt.lg_extent_max_active_fit` (6): a dirty extent more than 2^6 times the request is not
    /// split for it.
    pub lg_extent_max_active_fit: u32,
    /// `LG_HUGEPAGE` (21): the first mapping of an arena is one huge page.
    pub lg_hugepage: u32,
    /// Whose rules apply where jemalloc releases differ (5.3 unless a preset says otherwise).
    #[serde(default)]
    pub release: Release,
}

/// Names of the built-in presets, in the order `--help` lists them.
pub const PRESET_NAMES: &[&str] = &[
    "jemalloc-5.3",
    "redis-7.0-bundled",
    "redis-7.2-bundled",
    "jemalloc-5.3.1",
];

impl AllocatorConfig {
    /// Upstream jemalloc 5.3.0 defaults on x86-64, the same build Debian 12's libjemalloc2 ships
    /// and tikv-jemalloc-sys 0.6 builds: quantum 16, 4 KiB pages, cache-oblivious on.
    pub fn jemalloc_5_3() -> Self {
        AllocatorConfig {
            name: "jemalloc-5.3".into(),
            version: "5.3.0".into(),
            lg_quantum: 4,
            lg_page: 12,
            cache_oblivious: true,
            large_rounding: LargeRounding::SizeClasses,
            tcache: TcacheConfig::default(),
            dirty_decay_ms: 10_000,
            muzzy_decay_ms: 0,
            background_thread: false,
            oversize_threshold: 8 << 20,
            lg_extent_max_active_fit: 6,
            lg_hugepage: 21,
            release: Release::V5_3,
        }
    }

    /// A named preset, or `None` for an unknown name.
    pub fn preset(name: &str) -> Option<Self> {
        let base = Self::jemalloc_5_3();
        let cfg = match name {
            "jemalloc-5.3" => base,
            // Redis 7.0 bundles jemalloc 5.2.1 built --with-lg-quantum=3; cache-oblivious stays on.
            // 5.2.1 shares 5.3's size classes, slabs, first fit and decay; where it differs, the
            // model follows it ([`Release::V5_2`]).
            "redis-7.0-bundled" => AllocatorConfig {
                name: name.into(),
                version: "5.2.1".into(),
                lg_quantum: 3,
                release: Release::V5_2,
                tcache: TcacheConfig {
                    gc_sweep: 8192,
                    ..base.tcache.clone()
                },
                ..base
            },
            // Redis 7.2+ bundles 5.3.0 built with --with-lg-quantum=3 --disable-cache-oblivious.
            "redis-7.2-bundled" => AllocatorConfig {
                name: name.into(),
                version: "5.3.0".into(),
                lg_quantum: 3,
                cache_oblivious: false,
                ..base
            },
            // 5.3.1 defaults to opt.disable_large_size_classes: large requests round to pages.
            "jemalloc-5.3.1" => AllocatorConfig {
                name: name.into(),
                version: "5.3.1".into(),
                large_rounding: LargeRounding::Pages,
                ..base
            },
            _ => return None,
        };
        Some(cfg)
    }

    /// Checks that the options are values jemalloc accepts; the error names the option: a
    /// quantum or page size jemalloc cannot be built with, a decay time below -1, huge pages
    /// smaller than pages.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(3..=4).contains(&self.lg_quantum) {
            return Err(ConfigError::LgQuantum(self.lg_quantum));
        }
        if ![12, 14, 16].contains(&self.lg_page) {
            return Err(ConfigError::LgPage(self.lg_page));
        }
        for (opt, v) in [
            ("dirty_decay_ms", self.dirty_decay_ms),
            ("muzzy_decay_ms", self.muzzy_decay_ms),
        ] {
            if v < -1 {
                return Err(ConfigError::DecayMs { option: opt, ms: v });
            }
        }
        if self.lg_hugepage < self.lg_page {
            return Err(ConfigError::HugepageBelowPage);
        }
        Ok(())
    }

    pub fn page(&self) -> u64 {
        1 << self.lg_page
    }

    /// `sz_large_pad`: one page when cache-oblivious, else 0.
    pub fn large_pad(&self) -> u64 {
        if self.cache_oblivious {
            self.page()
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_exist_and_validate() {
        for name in PRESET_NAMES {
            let cfg = AllocatorConfig::preset(name).unwrap();
            assert_eq!(&cfg.name, name);
            cfg.validate().unwrap();
        }
        assert!(AllocatorConfig::preset("tcmalloc").is_none());
    }

    #[test]
    fn preset_differences() {
        let up = AllocatorConfig::preset("jemalloc-5.3").unwrap();
        let r70 = AllocatorConfig::preset("redis-7.0-bundled").unwrap();
        let r72 = AllocatorConfig::preset("redis-7.2-bundled").unwrap();
        assert_eq!((up.lg_quantum, up.large_pad()), (4, 4096));
        assert_eq!((r70.lg_quantum, r70.large_pad()), (3, 4096));
        assert_eq!((r72.lg_quantum, r72.large_pad()), (3, 0));
    }
}
