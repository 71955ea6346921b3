//! `INFO memory`: every field Redis 7.0 prints about memory, computed with Redis's formulas
//! (`genRedisInfoString`, `getMemoryOverheadData` in redis 7.0.15), and parsed from a live
//! server's reply.

use serde::{Deserialize, Serialize};

/// What kind of number an INFO field is: how it is shown and how its peak is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A byte count (negative for the `_bytes` differences).
    Bytes,
    /// A count of things (cached scripts).
    Count,
    /// A ratio of two byte figures at one moment, two decimals.
    Ratio,
    /// A percentage of two byte figures at one moment, two decimals.
    Percent,
}

/// A number as INFO prints it, parsed: integers, or decimals with an optional `%`.
trait InfoNumber: Copy + PartialOrd + Default {
    fn parse(text: &str) -> Option<Self>;
    fn to_f64(self) -> f64;
}

impl InfoNumber for u64 {
    fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl InfoNumber for i64 {
    fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl InfoNumber for f64 {
    fn parse(text: &str) -> Option<Self> {
        text.trim_end_matches('%').parse().ok()
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// The one definition of INFO memory's numeric fields: each row gives the [`Field`] variant,
/// the INFO name (also the struct field and the JSON key), its Rust type, its [`Kind`], and
/// whether runs report it (`result.json`, claims, charts, validate's bands); the struct
/// [`InfoMemory`], [`Field`], parsing, peaks and names all come from it.
macro_rules! info_memory {
    ($( $(#[$doc:meta])* $variant:ident $name:ident: $ty:ty, $kind:ident, $reported:literal; )*) => {
        /// The memory section of `INFO`, numeric fields only (the `_human` strings are derived),
        /// and `mem_allocator`.
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        pub struct InfoMemory {
            $( $(#[$doc])* pub $name: $ty, )*
            /// `mem_allocator`: the allocator and its version (`jemalloc-5.3.0`).
            pub mem_allocator: String,
        }

        /// A numeric field of INFO memory, by name: what claims, charts, sweeps and comparisons
        /// name (a misspelt one does not compile; in a scenario file it is an error on its
        /// line).
        ///
        /// ```
        /// use fragsim::redis::info::Field;
        /// assert_eq!(Field::UsedMemoryRss.name(), "used_memory_rss");
        /// assert_eq!(Field::from_name("used_memory_rss"), Some(Field::UsedMemoryRss));
        /// ```
        ///
        /// ```compile_fail
        /// let _ = fragsim::redis::info::Field::UsedMemroy;
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field {
            $( $(#[$doc])* $variant, )*
        }

        impl Field {
            /// Every field, in INFO's order.
            pub const ALL: &'static [Field] = &[$(Field::$variant),*];

            /// The field's name in INFO (and in JSON and scenario files).
            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => stringify!($name)),* }
            }

            /// What kind of number it is.
            pub fn kind(self) -> Kind {
                match self { $(Field::$variant => Kind::$kind),* }
            }

            /// Whether runs report the field (`result.json`'s keys, what claims may name).
            /// Left out: `maxmemory` (the setting, not a figure), the Functions figures (no
            /// workload loads functions, so they stay at their startup value) and
            /// `mem_clients_normal` (inside `used_memory_overhead`).
            pub fn reported(self) -> bool {
                match self { $(Field::$variant => $reported),* }
            }
        }

        impl InfoMemory {
            /// One field's value.
            pub fn get(&self, f: Field) -> f64 {
                match f { $(Field::$variant => InfoNumber::to_f64(self.$name)),* }
            }

            /// Sets the field INFO calls `name` from its text; false for another name.
            fn set(&mut self, name: &str, text: &str) -> bool {
                match name {
                    $( stringify!($name) => {
                        self.$name = InfoNumber::parse(text).unwrap_or_default();
                        true
                    } )*
                    _ => false,
                }
            }

            /// Copies the momentary fields (ratios and percentages, [`Field::is_momentary`])
            /// from `b`.
            pub fn copy_momentary(&mut self, b: &InfoMemory) {
                $( if matches!(Kind::$kind, Kind::Ratio | Kind::Percent) { self.$name = b.$name; } )*
            }

            /// Raises each field to `b`'s where `b`'s is higher, in place (`mem_allocator`
            /// stays). A run keeps its maxima over raw figures instead ([`FiguresMax`], the
            /// same values without an INFO per command).
            pub fn raise(&mut self, b: &InfoMemory) {
                $( if b.$name > self.$name { self.$name = b.$name; } )*
            }
        }
    };
}

info_memory! {
    /// `zmalloc_used_memory()`: the usable size of every live zmalloc block.
    UsedMemory used_memory: u64, Bytes, true;
    /// Process RSS (`/proc/self/stat`), sampled by the cron.
    UsedMemoryRss used_memory_rss: u64, Bytes, true;
    /// Highest `used_memory` seen.
    UsedMemoryPeak used_memory_peak: u64, Bytes, true;
    /// `used_memory` as a percentage of `used_memory_peak`.
    UsedMemoryPeakPerc used_memory_peak_perc: f64, Percent, true;
    /// Startup + clients + replication + AOF + script caches + keyspace overhead.
    UsedMemoryOverhead used_memory_overhead: u64, Bytes, true;
    /// `used_memory` when the server finished starting.
    UsedMemoryStartup used_memory_startup: u64, Bytes, true;
    /// `used_memory - used_memory_overhead`.
    UsedMemoryDataset used_memory_dataset: u64, Bytes, true;
    /// `used_memory_dataset` as a percentage of `used_memory - used_memory_startup`.
    UsedMemoryDatasetPerc used_memory_dataset_perc: f64, Percent, true;
    /// jemalloc `stats.allocated` (all arenas, all threads).
    AllocatorAllocated allocator_allocated: u64, Bytes, true;
    /// jemalloc `stats.active`.
    AllocatorActive allocator_active: u64, Bytes, true;
    /// jemalloc `stats.resident`.
    AllocatorResident allocator_resident: u64, Bytes, true;
    /// Lua VM heap (`lua_gc(LUA_GCCOUNT) * 1024`), outside `used_memory`.
    UsedMemoryVmEval used_memory_vm_eval: u64, Bytes, true;
    /// Cached EVAL scripts (bodies, SHAs, dict), inside `used_memory`.
    UsedMemoryScriptsEval used_memory_scripts_eval: u64, Bytes, true;
    /// Scripts in the EVAL cache.
    NumberOfCachedScripts number_of_cached_scripts: u64, Count, true;
    /// The Functions engine's Lua VM heap.
    UsedMemoryVmFunctions used_memory_vm_functions: u64, Bytes, false;
    /// Loaded functions and libraries, inside `used_memory`.
    UsedMemoryFunctions used_memory_functions: u64, Bytes, false;
    /// `maxmemory` (0: none).
    Maxmemory maxmemory: u64, Bytes, false;
    /// `allocator_active / allocator_allocated`.
    AllocatorFragRatio allocator_frag_ratio: f64, Ratio, true;
    /// `allocator_active - allocator_allocated`.
    AllocatorFragBytes allocator_frag_bytes: i64, Bytes, true;
    /// `allocator_resident / allocator_active`.
    AllocatorRssRatio allocator_rss_ratio: f64, Ratio, true;
    /// `allocator_resident - allocator_active`.
    AllocatorRssBytes allocator_rss_bytes: i64, Bytes, true;
    /// `used_memory_rss / allocator_resident`.
    RssOverheadRatio rss_overhead_ratio: f64, Ratio, true;
    /// `used_memory_rss - allocator_resident`.
    RssOverheadBytes rss_overhead_bytes: i64, Bytes, true;
    /// `used_memory_rss / used_memory` (cron samples of both).
    MemFragmentationRatio mem_fragmentation_ratio: f64, Ratio, true;
    /// `used_memory_rss - used_memory`.
    MemFragmentationBytes mem_fragmentation_bytes: i64, Bytes, true;
    /// Normal clients' buffers and structures (`mem_clients_normal`).
    MemClientsNormal mem_clients_normal: u64, Bytes, false;
}

impl Field {
    /// The field INFO calls `name`.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// The fields runs report, in INFO's order.
    pub fn reported_fields() -> impl Iterator<Item = Field> {
        Field::ALL.iter().copied().filter(|f| f.reported())
    }

    /// Whether it is a byte count.
    pub fn is_bytes(self) -> bool {
        self.kind() == Kind::Bytes
    }

    /// Whether it relates two figures at one moment (a ratio or a percentage): its peak is its
    /// value at the moment of peak RSS, not a maximum of its own.
    pub fn is_momentary(self) -> bool {
        matches!(self.kind(), Kind::Ratio | Kind::Percent)
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// `a / b` as INFO prints it (two decimals; 0 when `b` is 0).
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        // INFO prints two decimals.
        round((a as f64 / b as f64) * 100.0) / 100.0
    }
}

fn perc(a: u64, b: u64) -> f64 {
    round((a as f64 * 100.0 / b.max(1) as f64) * 100.0) / 100.0
}

/// `x.round()` (half away from zero), without the call to libm's `round` that `f64::round`
/// makes on x86-64 CPUs the build does not assume SSE4.1 of: the ratios are computed after
/// every simulated command. Exact for `0 <= x < 2^52` (the fraction `x - trunc(x)` is
/// representable); other values go to `f64::round`.
fn round(x: f64) -> f64 {
    if (0.0..4.0e15).contains(&x) {
        let t = x as u64 as f64;
        if x - t >= 0.5 {
            t + 1.0
        } else {
            t
        }
    } else {
        x.round()
    }
}

/// The figures `INFO memory` is computed from: what the server measures or keeps, before
/// Redis's formulas derive the dataset, the percentages and the ratios ([`InfoMemory::compute`]).
/// Zero for what a plain allocator workload does not have. Integers only (no `mem_allocator`),
/// so a run takes them after every command at the cost of a copy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawFigures {
    /// `zmalloc_used_memory()`: predicts `used_memory`.
    pub used: u64,
    /// The highest `used` seen: predicts `used_memory_peak`.
    pub peak: u64,
    /// Startup, clients, script caches, keyspace tables: predicts `used_memory_overhead`.
    pub overhead: u64,
    /// Predicts `used_memory_startup`.
    pub startup: u64,
    /// jemalloc `stats.allocated`: predicts `allocator_allocated`.
    pub allocated: u64,
    /// jemalloc `stats.active`: predicts `allocator_active`.
    pub active: u64,
    /// jemalloc `stats.resident`: predicts `allocator_resident`.
    pub resident: u64,
    /// Process RSS as the cron sampled it: predicts `used_memory_rss`.
    pub rss: u64,
    /// `used_memory` as sampled together with `rss`, the denominator of
    /// `mem_fragmentation_ratio` (and what `mem_fragmentation_bytes` subtracts): `used` while a
    /// test runs, the cron's own sample of `used_memory` when INFO is read by a measuring client.
    pub rss_used: u64,
    /// The EVAL Lua heap: predicts `used_memory_vm_eval`.
    pub vm_eval: u64,
    /// The Functions Lua heap: predicts `used_memory_vm_functions`.
    pub vm_functions: u64,
    /// The EVAL script cache: predicts `used_memory_scripts_eval`.
    pub scripts_eval: u64,
    /// The Functions libraries: predicts `used_memory_functions`.
    pub functions: u64,
    /// Scripts in the EVAL cache: predicts `number_of_cached_scripts`.
    pub nscripts: u64,
    /// `maxmemory` (0: none).
    pub maxmemory: u64,
    /// Predicts `mem_clients_normal`.
    pub clients_normal: u64,
    /// Free regions of the small bins' slabs, in bytes (`zmalloc_get_frag_smallbins`), where the
    /// server computes `allocator_frag_ratio` from them (Redis 7.4+, Valkey 8.0+); `None` where
    /// it divides `allocator_active` by `allocator_allocated` (Redis 7.0-7.2).
    pub frag_smallbins: Option<u64>,
}

impl RawFigures {
    /// The numerator of `allocator_frag_ratio`: `allocator_active`, or `allocator_allocated`
    /// plus the small bins' free regions (Redis 7.4+ `getMemoryOverheadData`).
    fn frag_numerator(&self) -> u64 {
        self.frag_smallbins
            .map_or(self.active, |f| self.allocated.saturating_add(f))
    }

    /// `allocator_frag_bytes`: the numerator less `allocator_allocated`.
    fn frag_bytes(&self) -> i64 {
        self.frag_numerator() as i64 - self.allocated as i64
    }

    /// `used_memory_dataset`.
    fn dataset(&self) -> u64 {
        self.used.saturating_sub(self.overhead)
    }

    /// The denominator of `used_memory_dataset_perc`: `used - startup`, or 1 when not above.
    fn net(&self) -> u64 {
        if self.used > self.startup {
            self.used - self.startup
        } else {
            1
        }
    }
}

impl InfoMemory {
    /// Fills every field from the raw figures with Redis's formulas.
    pub fn compute(r: &RawFigures, mem_allocator: String) -> Self {
        let &RawFigures {
            used,
            peak,
            overhead,
            startup,
            allocated,
            active,
            resident,
            rss,
            rss_used,
            vm_eval,
            vm_functions,
            scripts_eval,
            functions,
            nscripts,
            maxmemory,
            clients_normal,
            frag_smallbins: _,
        } = r;
        let dataset = r.dataset();
        InfoMemory {
            used_memory: used,
            used_memory_rss: rss,
            used_memory_peak: peak,
            used_memory_peak_perc: perc(used, peak),
            used_memory_overhead: overhead,
            used_memory_startup: startup,
            used_memory_dataset: dataset,
            used_memory_dataset_perc: perc(dataset, r.net()),
            allocator_allocated: allocated,
            allocator_active: active,
            allocator_resident: resident,
            used_memory_vm_eval: vm_eval,
            used_memory_scripts_eval: scripts_eval,
            number_of_cached_scripts: nscripts,
            used_memory_vm_functions: vm_functions,
            used_memory_functions: functions,
            maxmemory,
            allocator_frag_ratio: ratio(r.frag_numerator(), allocated),
            allocator_frag_bytes: r.frag_bytes(),
            allocator_rss_ratio: ratio(resident, active),
            allocator_rss_bytes: resident as i64 - active as i64,
            rss_overhead_ratio: ratio(rss, resident),
            rss_overhead_bytes: rss as i64 - resident as i64,
            mem_fragmentation_ratio: ratio(rss, rss_used),
            mem_fragmentation_bytes: rss as i64 - rss_used as i64,
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
            if !m.set(k, v) && k == "mem_allocator" {
                m.mem_allocator = v.to_string();
            }
        }
        m
    }
}

/// The largest of a series of quotients `a / b` that INFO prints through `f` ([`ratio`] or
/// [`perc`]), kept as the pair itself so that no float is made per step.
///
/// Both functions are monotone non-decreasing in the exact quotient whenever the integer to
/// float conversions are exact and, for `perc`, `a * 100` is too: the quotient is then one
/// correctly rounded division of exact values, and the `* 100`, [`round`] and `/ 100` after it
/// never reverse an order. So the largest printed value is `f` of the largest exact quotient
/// (pairs compared by cross-multiplication in u128), computed once. Pairs outside that domain
/// (beyond 2^53 bytes) have their float computed and kept apart; the answer is the larger of
/// the two, as a field-wise maximum of the printed values would be.
#[derive(Debug, Clone, Copy)]
struct QuotientMax {
    /// The largest exact quotient seen, `n / d` (`d` at least 1; 0 / 1 at first).
    n: u64,
    d: u64,
    /// The largest printed value among pairs outside the exact domain (0 when none).
    big: f64,
}

impl Default for QuotientMax {
    fn default() -> Self {
        QuotientMax { n: 0, d: 1, big: 0.0 }
    }
}

impl QuotientMax {
    /// `ratio(a, b)` at one step.
    #[inline]
    fn see_ratio(&mut self, a: u64, b: u64) {
        if b == 0 {
            // `ratio` prints 0, which no maximum is below.
        } else if (a | b) >> 53 == 0 {
            self.see_exact(a, b);
        } else {
            self.see_big(ratio(a, b));
        }
    }

    /// `perc(a, b)` at one step.
    #[inline]
    fn see_perc(&mut self, a: u64, b: u64) {
        let b = b.max(1);
        // a * 100 < 2^46 * 2^7 = 2^53: exact, as is b.
        if a >> 46 == 0 && b >> 53 == 0 {
            self.see_exact(a, b);
        } else {
            self.see_big(perc(a, b));
        }
    }

    /// A pair of the exact domain (`b` at least 1).
    #[inline]
    fn see_exact(&mut self, a: u64, b: u64) {
        if a as u128 * self.d as u128 > self.n as u128 * b as u128 {
            self.n = a;
            self.d = b;
        }
    }

    #[cold]
    fn see_big(&mut self, v: f64) {
        if v > self.big {
            self.big = v;
        }
    }

    /// Another series' maximum, as if its pairs had been seen here.
    fn merge(&mut self, o: &QuotientMax) {
        self.see_exact(o.n, o.d);
        self.see_big(o.big);
    }

    /// The largest value `f` printed over the series (0 for none).
    fn value(&self, f: fn(u64, u64) -> f64) -> f64 {
        let v = f(self.n, self.d);
        if self.big > v {
            self.big
        } else {
            v
        }
    }
}

/// Every field of `INFO memory` at its own maximum over a series of [`RawFigures`] (what
/// [`InfoMemory::raise`] over each step's [`InfoMemory::compute`] gives, from a zeroed start,
/// bit for bit), kept without computing any ratio per step: byte and count fields as integers,
/// ratios and percentages as the pair with the largest quotient.
#[derive(Debug, Clone, Copy, Default)]
pub struct FiguresMax {
    /// The maximum of each raw figure (`rss_used` unused: it enters only the differences and
    /// ratios below).
    raw: RawFigures,
    /// `used_memory_dataset`.
    dataset: u64,
    /// `allocator_frag_bytes`, `allocator_rss_bytes`, `rss_overhead_bytes`,
    /// `mem_fragmentation_bytes` (from 0, as a zeroed [`InfoMemory`] raises them).
    frag_bytes: i64,
    rss_bytes: i64,
    rss_overhead_bytes: i64,
    mem_frag_bytes: i64,
    /// `used_memory_peak_perc`, `used_memory_dataset_perc`.
    peak_perc: QuotientMax,
    dataset_perc: QuotientMax,
    /// `allocator_frag_ratio`, `allocator_rss_ratio`, `rss_overhead_ratio`,
    /// `mem_fragmentation_ratio`.
    frag_ratio: QuotientMax,
    rss_ratio: QuotientMax,
    rss_overhead_ratio: QuotientMax,
    mem_frag_ratio: QuotientMax,
}

/// Raises `m` to `v`.
#[inline]
fn up<T: PartialOrd>(m: &mut T, v: T) {
    if v > *m {
        *m = v;
    }
}

impl FiguresMax {
    /// One more step's figures.
    #[inline]
    pub fn see(&mut self, r: &RawFigures) {
        self.raise_raw(r);
        up(&mut self.dataset, r.dataset());
        up(&mut self.frag_bytes, r.frag_bytes());
        up(&mut self.rss_bytes, r.resident as i64 - r.active as i64);
        up(&mut self.rss_overhead_bytes, r.rss as i64 - r.resident as i64);
        up(&mut self.mem_frag_bytes, r.rss as i64 - r.rss_used as i64);
        self.peak_perc.see_perc(r.used, r.peak);
        self.dataset_perc.see_perc(r.dataset(), r.net());
        self.frag_ratio.see_ratio(r.frag_numerator(), r.allocated);
        self.rss_ratio.see_ratio(r.resident, r.active);
        self.rss_overhead_ratio.see_ratio(r.rss, r.resident);
        self.mem_frag_ratio.see_ratio(r.rss, r.rss_used);
    }

    /// Another series' maxima, as if its steps had been seen here.
    pub fn merge(&mut self, o: &FiguresMax) {
        self.raise_raw(&o.raw);
        up(&mut self.dataset, o.dataset);
        up(&mut self.frag_bytes, o.frag_bytes);
        up(&mut self.rss_bytes, o.rss_bytes);
        up(&mut self.rss_overhead_bytes, o.rss_overhead_bytes);
        up(&mut self.mem_frag_bytes, o.mem_frag_bytes);
        self.peak_perc.merge(&o.peak_perc);
        self.dataset_perc.merge(&o.dataset_perc);
        self.frag_ratio.merge(&o.frag_ratio);
        self.rss_ratio.merge(&o.rss_ratio);
        self.rss_overhead_ratio.merge(&o.rss_overhead_ratio);
        self.mem_frag_ratio.merge(&o.mem_frag_ratio);
    }

    /// Raises each raw figure to `r`'s.
    #[inline]
    fn raise_raw(&mut self, r: &RawFigures) {
        let m = &mut self.raw;
        up(&mut m.used, r.used);
        up(&mut m.peak, r.peak);
        up(&mut m.overhead, r.overhead);
        up(&mut m.startup, r.startup);
        up(&mut m.allocated, r.allocated);
        up(&mut m.active, r.active);
        up(&mut m.resident, r.resident);
        up(&mut m.rss, r.rss);
        up(&mut m.vm_eval, r.vm_eval);
        up(&mut m.vm_functions, r.vm_functions);
        up(&mut m.scripts_eval, r.scripts_eval);
        up(&mut m.functions, r.functions);
        up(&mut m.nscripts, r.nscripts);
        up(&mut m.maxmemory, r.maxmemory);
        up(&mut m.clients_normal, r.clients_normal);
    }

    /// The maxima as INFO fields (`mem_allocator` empty, as [`InfoMemory::raise`] leaves it).
    pub fn info(&self) -> InfoMemory {
        let m = &self.raw;
        InfoMemory {
            used_memory: m.used,
            used_memory_rss: m.rss,
            used_memory_peak: m.peak,
            used_memory_peak_perc: self.peak_perc.value(perc),
            used_memory_overhead: m.overhead,
            used_memory_startup: m.startup,
            used_memory_dataset: self.dataset,
            used_memory_dataset_perc: self.dataset_perc.value(perc),
            allocator_allocated: m.allocated,
            allocator_active: m.active,
            allocator_resident: m.resident,
            used_memory_vm_eval: m.vm_eval,
            used_memory_scripts_eval: m.scripts_eval,
            number_of_cached_scripts: m.nscripts,
            used_memory_vm_functions: m.vm_functions,
            used_memory_functions: m.functions,
            maxmemory: m.maxmemory,
            allocator_frag_ratio: self.frag_ratio.value(ratio),
            allocator_frag_bytes: self.frag_bytes,
            allocator_rss_ratio: self.rss_ratio.value(ratio),
            allocator_rss_bytes: self.rss_bytes,
            rss_overhead_ratio: self.rss_overhead_ratio.value(ratio),
            rss_overhead_bytes: self.rss_overhead_bytes,
            mem_fragmentation_ratio: self.mem_frag_ratio.value(ratio),
            mem_fragmentation_bytes: self.mem_frag_bytes,
            mem_clients_normal: m.clients_normal,
            mem_allocator: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The libm-free rounding agrees with `f64::round` bit for bit: on halves, on the doubles
    /// next to them, and on ratios of random byte counts.
    #[test]
    fn rounding_is_f64_rounds() {
        let mut xs = vec![0.0, 0.5, 1.5, 2.5, 0.49999999999999994, 4.0e15 - 0.5, 1e300];
        for k in 0..10_000u64 {
            let h = k as f64 + 0.5;
            xs.extend([
                h,
                f64::from_bits(h.to_bits() - 1),
                f64::from_bits(h.to_bits() + 1),
            ]);
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (a, b) = (x >> 20, (x & 0xff_ffff) + 1);
            xs.push(a as f64 / b as f64 * 100.0);
        }
        for x in xs {
            assert_eq!(round(x).to_bits(), x.round().to_bits(), "{x}");
        }
    }

    #[test]
    fn formulas() {
        let m = InfoMemory::compute(
            &RawFigures {
                used: 1_000_000,
                peak: 1_200_000,
                overhead: 900_000,
                startup: 876_000,
                allocated: 2_000_000,
                active: 2_200_000,
                resident: 4_400_000,
                rss: 8_800_000,
                rss_used: 1_000_000,
                vm_eval: 32768,
                vm_functions: 33792,
                scripts_eval: 0,
                functions: 200,
                nscripts: 0,
                maxmemory: 0,
                clients_normal: 20_000,
                frag_smallbins: None,
            },
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
        assert_eq!(m.allocator_frag_bytes, 200_000);
    }

    /// Redis 7.4+: `allocator_frag_ratio` = small bins' free regions / allocated + 1, and
    /// `allocator_frag_bytes` those free regions, whatever `allocator_active` is; the maximum
    /// over steps follows the same figure.
    #[test]
    fn the_small_bins_frag_ratio() {
        let r = RawFigures {
            allocated: 2_000_000,
            active: 2_600_000,
            frag_smallbins: Some(100_000),
            ..RawFigures::default()
        };
        let m = InfoMemory::compute(&r, "jemalloc-5.3.0".into());
        assert_eq!(m.allocator_frag_ratio, 1.05);
        assert_eq!(m.allocator_frag_bytes, 100_000);
        let mut max = FiguresMax::default();
        max.see(&r);
        max.see(&RawFigures {
            frag_smallbins: Some(300_000),
            ..r
        });
        let at = max.info();
        assert_eq!(
            (at.allocator_frag_ratio, at.allocator_frag_bytes),
            (1.15, 300_000)
        );
    }

    #[test]
    fn every_field_parses_and_reads_back_by_name() {
        let text: String = Field::ALL
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{}:{}\r\n", f.name(), i + 1))
            .collect();
        let m = InfoMemory::parse(&text);
        for (i, &f) in Field::ALL.iter().enumerate() {
            assert_eq!(m.get(f), (i + 1) as f64, "{f}");
            assert_eq!(Field::from_name(f.name()), Some(f));
        }
        assert_eq!(Field::ALL.len(), 26);
        assert_eq!(Field::reported_fields().count(), 22);
    }

    #[test]
    fn raise_keeps_each_maximum_and_the_moment_keeps_ratios() {
        let a = InfoMemory::parse("used_memory:10\nallocator_frag_ratio:1.50\nmem_fragmentation_bytes:-5\n");
        let b = InfoMemory::parse("used_memory:7\nallocator_frag_ratio:2.25\nmem_fragmentation_bytes:-9\n");
        let mut m = a.clone();
        m.raise(&b);
        assert_eq!(m.used_memory, 10);
        assert_eq!(m.allocator_frag_ratio, 2.25);
        assert_eq!(m.mem_fragmentation_bytes, -5);
        let mut at = a.clone();
        at.copy_momentary(&b);
        assert_eq!((at.used_memory, at.allocator_frag_ratio), (10, 2.25));
        // The ratios and percentages Redis computes from two figures at one moment.
        let momentary: Vec<&str> = Field::ALL
            .iter()
            .filter(|f| f.is_momentary())
            .map(|f| f.name())
            .collect();
        assert_eq!(
            momentary,
            [
                "used_memory_peak_perc",
                "used_memory_dataset_perc",
                "allocator_frag_ratio",
                "allocator_rss_ratio",
                "rss_overhead_ratio",
                "mem_fragmentation_ratio"
            ]
        );
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
