//! `INFO memory`: every field Redis 7.0 prints about memory, computed with Redis's formulas
//! (`genRedisInfoString`, `getMemoryOverheadData` in redis 7.0.15), and parsed from a live
//! server's reply.

use serde::{Deserialize, Serialize};

/// The memory section of `INFO`, numeric fields only (the `_human` strings are derived).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InfoMemory {
    /// `zmalloc_used_memory()`: the usable size of every live zmalloc block.
    pub used_memory: u64,
    /// Process RSS (`/proc/self/stat`), sampled by the cron.
    pub used_memory_rss: u64,
    /// Highest `used_memory` seen.
    pub used_memory_peak: u64,
    pub used_memory_peak_perc: f64,
    /// Startup + clients + replication + AOF + script caches + keyspace overhead.
    pub used_memory_overhead: u64,
    /// `used_memory` when the server finished starting.
    pub used_memory_startup: u64,
    /// `used_memory - used_memory_overhead`.
    pub used_memory_dataset: u64,
    pub used_memory_dataset_perc: f64,
    /// jemalloc `stats.allocated`, `stats.active`, `stats.resident` (all arenas, all threads).
    pub allocator_allocated: u64,
    pub allocator_active: u64,
    pub allocator_resident: u64,
    /// Lua VM heap (`lua_gc(LUA_GCCOUNT) * 1024`), outside `used_memory`.
    pub used_memory_vm_eval: u64,
    /// Cached EVAL scripts (bodies, SHAs, dict), inside `used_memory`.
    pub used_memory_scripts_eval: u64,
    pub number_of_cached_scripts: u64,
    pub used_memory_vm_functions: u64,
    pub used_memory_functions: u64,
    /// `maxmemory` (0: none).
    pub maxmemory: u64,
    /// `active / allocated` and `active - allocated`.
    pub allocator_frag_ratio: f64,
    pub allocator_frag_bytes: i64,
    /// `resident / active` and `resident - active`.
    pub allocator_rss_ratio: f64,
    pub allocator_rss_bytes: i64,
    /// `rss / resident` and `rss - resident`.
    pub rss_overhead_ratio: f64,
    pub rss_overhead_bytes: i64,
    /// `rss / used_memory` and `rss - used_memory` (cron samples of both).
    pub mem_fragmentation_ratio: f64,
    pub mem_fragmentation_bytes: i64,
    /// `mem_clients_normal`.
    pub mem_clients_normal: u64,
    /// `mem_allocator`.
    pub mem_allocator: String,
}

/// `a / b` as INFO prints it (two decimals; 0 when `b` is 0).
pub(crate) fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        // INFO prints two decimals.
        ((a as f64 / b as f64) * 100.0).round() / 100.0
    }
}

fn perc(a: u64, b: u64) -> f64 {
    ((a as f64 * 100.0 / b.max(1) as f64) * 100.0).round() / 100.0
}

impl InfoMemory {
    /// Fills every field from the raw figures with Redis's formulas.
    #[allow(clippy::too_many_arguments)]
    pub fn compute(
        used: u64,
        peak: u64,
        overhead: u64,
        startup: u64,
        allocated: u64,
        active: u64,
        resident: u64,
        rss: u64,
        vm_eval: u64,
        vm_functions: u64,
        scripts_eval: u64,
        functions: u64,
        nscripts: u64,
        maxmemory: u64,
        clients_normal: u64,
        mem_allocator: String,
    ) -> Self {
        let dataset = used.saturating_sub(overhead);
        let net = if used > startup { used - startup } else { 1 };
        InfoMemory {
            used_memory: used,
            used_memory_rss: rss,
            used_memory_peak: peak,
            used_memory_peak_perc: perc(used, peak),
            used_memory_overhead: overhead,
            used_memory_startup: startup,
            used_memory_dataset: dataset,
            used_memory_dataset_perc: perc(dataset, net),
            allocator_allocated: allocated,
            allocator_active: active,
            allocator_resident: resident,
            used_memory_vm_eval: vm_eval,
            used_memory_scripts_eval: scripts_eval,
            number_of_cached_scripts: nscripts,
            used_memory_vm_functions: vm_functions,
            used_memory_functions: functions,
            maxmemory,
            allocator_frag_ratio: ratio(active, allocated),
            allocator_frag_bytes: active as i64 - allocated as i64,
            allocator_rss_ratio: ratio(resident, active),
            allocator_rss_bytes: resident as i64 - active as i64,
            rss_overhead_ratio: ratio(rss, resident),
            rss_overhead_bytes: rss as i64 - resident as i64,
            mem_fragmentation_ratio: ratio(rss, used),
            mem_fragmentation_bytes: rss as i64 - used as i64,
            mem_clients_normal: clients_normal,
            mem_allocator,
        }
    }

    /// Parses the reply of `INFO memory` (or a whole `INFO`). Missing fields stay 0.
    pub fn parse(text: &str) -> Self {
        let mut m = InfoMemory::default();
        for line in text.lines() {
            let Some((k, v)) = line.trim_end().split_once(':') else {
                continue;
            };
            let u = || v.parse::<u64>().unwrap_or(0);
            let i = || v.parse::<i64>().unwrap_or(0);
            let f = || v.trim_end_matches('%').parse::<f64>().unwrap_or(0.0);
            match k {
                "used_memory" => m.used_memory = u(),
                "used_memory_rss" => m.used_memory_rss = u(),
                "used_memory_peak" => m.used_memory_peak = u(),
                "used_memory_peak_perc" => m.used_memory_peak_perc = f(),
                "used_memory_overhead" => m.used_memory_overhead = u(),
                "used_memory_startup" => m.used_memory_startup = u(),
                "used_memory_dataset" => m.used_memory_dataset = u(),
                "used_memory_dataset_perc" => m.used_memory_dataset_perc = f(),
                "allocator_allocated" => m.allocator_allocated = u(),
                "allocator_active" => m.allocator_active = u(),
                "allocator_resident" => m.allocator_resident = u(),
                "used_memory_vm_eval" => m.used_memory_vm_eval = u(),
                "used_memory_scripts_eval" => m.used_memory_scripts_eval = u(),
                "number_of_cached_scripts" => m.number_of_cached_scripts = u(),
                "used_memory_vm_functions" => m.used_memory_vm_functions = u(),
                "used_memory_functions" => m.used_memory_functions = u(),
                "maxmemory" => m.maxmemory = u(),
                "allocator_frag_ratio" => m.allocator_frag_ratio = f(),
                "allocator_frag_bytes" => m.allocator_frag_bytes = i(),
                "allocator_rss_ratio" => m.allocator_rss_ratio = f(),
                "allocator_rss_bytes" => m.allocator_rss_bytes = i(),
                "rss_overhead_ratio" => m.rss_overhead_ratio = f(),
                "rss_overhead_bytes" => m.rss_overhead_bytes = i(),
                "mem_fragmentation_ratio" => m.mem_fragmentation_ratio = f(),
                "mem_fragmentation_bytes" => m.mem_fragmentation_bytes = i(),
                "mem_clients_normal" => m.mem_clients_normal = u(),
                "mem_allocator" => m.mem_allocator = v.to_string(),
                _ => {}
            }
        }
        m
    }

    /// The numeric fields as (INFO name, value), in INFO's order.
    pub fn fields(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("used_memory", self.used_memory as f64),
            ("used_memory_rss", self.used_memory_rss as f64),
            ("used_memory_peak", self.used_memory_peak as f64),
            ("used_memory_peak_perc", self.used_memory_peak_perc),
            ("used_memory_overhead", self.used_memory_overhead as f64),
            ("used_memory_startup", self.used_memory_startup as f64),
            ("used_memory_dataset", self.used_memory_dataset as f64),
            ("used_memory_dataset_perc", self.used_memory_dataset_perc),
            ("allocator_allocated", self.allocator_allocated as f64),
            ("allocator_active", self.allocator_active as f64),
            ("allocator_resident", self.allocator_resident as f64),
            ("used_memory_vm_eval", self.used_memory_vm_eval as f64),
            ("used_memory_scripts_eval", self.used_memory_scripts_eval as f64),
            ("number_of_cached_scripts", self.number_of_cached_scripts as f64),
            ("allocator_frag_ratio", self.allocator_frag_ratio),
            ("allocator_frag_bytes", self.allocator_frag_bytes as f64),
            ("allocator_rss_ratio", self.allocator_rss_ratio),
            ("allocator_rss_bytes", self.allocator_rss_bytes as f64),
            ("rss_overhead_ratio", self.rss_overhead_ratio),
            ("rss_overhead_bytes", self.rss_overhead_bytes as f64),
            ("mem_fragmentation_ratio", self.mem_fragmentation_ratio),
            ("mem_fragmentation_bytes", self.mem_fragmentation_bytes as f64),
        ]
    }

    /// One field by its INFO name.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.fields()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}

/// Whether a metric is a byte count (for display).
pub fn is_bytes(metric: &str) -> bool {
    !(metric.contains("ratio")
        || metric.contains("perc")
        || metric.starts_with("oom.")
        || metric.starts_with("number_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas() {
        let m = InfoMemory::compute(
            1_000_000,
            1_200_000,
            900_000,
            876_000,
            2_000_000,
            2_200_000,
            4_400_000,
            8_800_000,
            32768,
            33792,
            0,
            200,
            0,
            0,
            20_000,
            "jemalloc-5.3.0".into(),
        );
        assert_eq!(m.used_memory_dataset, 100_000);
        // dataset / (used - startup) = 100,000 / 124,000.
        assert_eq!(m.used_memory_dataset_perc, 80.65);
        assert_eq!(m.allocator_frag_ratio, 1.1);
        assert_eq!(m.allocator_rss_ratio, 2.0);
        assert_eq!(m.rss_overhead_ratio, 2.0);
        assert_eq!(m.mem_fragmentation_ratio, 8.8);
        assert_eq!(m.mem_fragmentation_bytes, 7_800_000);
    }

    #[test]
    fn parses_info_text() {
        let m = InfoMemory::parse(
            "# Memory\r\nused_memory:914792\r\nallocator_frag_ratio:1.08\r\nmem_allocator:jemalloc-5.3.0\r\n",
        );
        assert_eq!(m.used_memory, 914_792);
        assert_eq!(m.allocator_frag_ratio, 1.08);
        assert_eq!(m.mem_allocator, "jemalloc-5.3.0");
    }
}
