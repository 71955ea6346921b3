//! What an import learns of a keyspace, key by key: per key pattern, type and encoding, how many
//! keys there are and the distributions of what they hold (name lengths, values, fields and
//! elements per key, integers among them, TTLs). Both sources feed it: a dump file (every key,
//! every element) and a live server (keys and elements sampled, each weighted by what it
//! stands for).

use std::collections::{BTreeMap, HashMap};

use super::pattern::{fold, pattern_of};
use crate::workload::SizeDist;

/// A key's Redis type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    String,
    Hash,
    List,
    Set,
    Zset,
    /// Streams and module values: counted, not modelled.
    Stream,
    Module,
}

impl Kind {
    /// The type as `TYPE` names it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::Zset => "zset",
            Kind::Stream => "stream",
            Kind::Module => "module",
        }
    }
}

/// One element of a value: its length as text and whether Redis would hold it as an integer
/// (`string2ll`'s canonical decimal, at most 20 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub len: u64,
    pub int: bool,
}

/// One key as a source saw it.
#[derive(Debug, Clone)]
pub struct Observation<'a> {
    pub key: &'a [u8],
    pub kind: Kind,
    /// The encoding the source holds the value in, as `OBJECT ENCODING` names it (`listpack`,
    /// `hashtable`, `intset`, `skiplist`, `quicklist`, `int`, `embstr`, `raw`).
    pub encoding: &'static str,
    /// Milliseconds the key has left to live, if it has a TTL.
    pub ttl_ms: Option<i64>,
    /// Elements the value holds: a hash's fields, a list's, set's or sorted set's elements; 1
    /// for a string.
    pub len: u64,
    /// Elements seen (all of them, or a sample): a string's value; a hash's field and value,
    /// field and value, ...; a list's, set's or sorted set's elements.
    pub items: &'a [Item],
    /// A sorted set's scores of the members in `items`.
    pub scores: &'a [f64],
    /// How many keys of the keyspace this one stands for (1 unless keys were sampled).
    pub weight: f64,
}

/// A weighted histogram of whole numbers.
#[derive(Debug, Clone, Default)]
pub struct Hist {
    small: Vec<f64>,
    big: BTreeMap<u64, f64>,
}

const SMALL: usize = 4096;

impl Hist {
    /// Counts `v` with weight `w`.
    #[inline]
    pub fn add(&mut self, v: u64, w: f64) {
        if (v as usize) < SMALL {
            let i = v as usize;
            if self.small.len() <= i {
                self.small.resize(i + 1, 0.0);
            }
            self.small[i] += w;
        } else {
            *self.big.entry(v).or_insert(0.0) += w;
        }
    }

    fn merge(&mut self, o: &Hist) {
        if self.small.len() < o.small.len() {
            self.small.resize(o.small.len(), 0.0);
        }
        for (i, w) in o.small.iter().enumerate() {
            self.small[i] += w;
        }
        for (v, w) in &o.big {
            *self.big.entry(*v).or_insert(0.0) += w;
        }
    }

    /// The values counted and their weights, smallest first.
    pub fn points(&self) -> Vec<(u64, f64)> {
        let mut out: Vec<(u64, f64)> = self
            .small
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 0.0)
            .map(|(v, w)| (v as u64, *w))
            .collect();
        out.extend(self.big.iter().map(|(v, w)| (*v, *w)));
        out
    }

    /// The total weight.
    pub fn total(&self) -> f64 {
        self.small.iter().sum::<f64>() + self.big.values().sum::<f64>()
    }

    /// The weighted mean.
    pub fn mean(&self) -> f64 {
        let t = self.total();
        if t == 0.0 {
            return 0.0;
        }
        self.points().iter().map(|(v, w)| *v as f64 * w).sum::<f64>() / t
    }

    /// The histogram as a size distribution: the values themselves while there are at most
    /// [`MAX_POINTS`] of them, else bins a few percent wide that never straddle a value of
    /// `cuts` (Redis's encoding limits), each at its weighted mean; `None` when empty. Values
    /// below `least` count as `least`.
    pub fn to_dist(&self, cuts: &[u64], least: u64) -> Option<SizeDist> {
        let mut pts = self.points();
        for p in &mut pts {
            p.0 = p.0.max(least);
        }
        pts.sort_by_key(|p| p.0);
        pts.dedup_by(|a, b| {
            if a.0 == b.0 {
                b.1 += a.1;
                true
            } else {
                false
            }
        });
        if pts.is_empty() {
            return None;
        }
        if pts.len() == 1 {
            return Some(SizeDist::Fixed { bytes: pts[0].0 });
        }
        // Bins widen until few enough; the cuts alone may leave more (they are kept).
        let mut ratio = 1.02f64;
        let mut binned = pts.clone();
        while binned.len() > MAX_POINTS && ratio < 4.0 {
            binned = bin(&pts, ratio, cuts);
            ratio = 1.0 + (ratio - 1.0) * 1.5;
        }
        let weights = binned.iter().map(|p| round_weight(p.1)).collect();
        Some(SizeDist::Choice {
            values: binned.iter().map(|p| p.0).collect(),
            weights,
        })
    }
}

/// The most values a distribution lists before sizes are binned.
pub const MAX_POINTS: usize = 48;

/// Weights as counts: whole numbers stay whole, sampled (fractional) ones keep four
/// significant digits.
fn round_weight(w: f64) -> f64 {
    if w >= 1000.0 || w.fract() == 0.0 {
        w.round()
    } else {
        let mag = 10f64.powi(3 - w.log10().floor() as i32);
        (w * mag).round() / mag
    }
}

/// `pts` (sorted, distinct) in bins: a bin holds values up to `ratio` times its first one and
/// never crosses a cut (a cut starts a new bin); each bin is one value, the weighted mean.
fn bin(pts: &[(u64, f64)], ratio: f64, cuts: &[u64]) -> Vec<(u64, f64)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < pts.len() {
        let first = pts[i].0;
        let limit = (first as f64 * ratio).floor() as u64;
        let next_cut = cuts
            .iter()
            .copied()
            .filter(|&c| c > first)
            .min()
            .unwrap_or(u64::MAX);
        let (mut sum, mut w) = (0.0, 0.0);
        while i < pts.len() && pts[i].0 <= limit.max(first) && pts[i].0 < next_cut {
            sum += pts[i].0 as f64 * pts[i].1;
            w += pts[i].1;
            i += 1;
        }
        out.push(((sum / w).round() as u64, w));
    }
    out
}

/// What a group of keys (one pattern, type and encoding) holds.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Keys (weighted).
    pub keys: f64,
    /// Keys seen (unweighted).
    pub seen: u64,
    pub key_len: Hist,
    /// Keys with a TTL (weighted), and their TTLs in seconds (binned).
    pub ttl_keys: f64,
    pub ttl_secs: Hist,
    /// Elements per key (hash fields, list/set/zset elements).
    pub elements: Hist,
    /// Byte lengths of the values or elements that are not integers.
    pub bytes: Hist,
    /// Digits of those that are integers.
    pub int_digits: Hist,
    /// Hash field names' lengths.
    pub field_len: Hist,
    /// Sorted-set scores that are whole numbers, and all scores (weighted).
    pub whole_scores: f64,
    pub scores: f64,
    /// Digits of the whole scores.
    pub score_digits: Hist,
    /// Payload bytes (key names, values, fields, elements; weighted).
    pub payload: f64,
}

impl Stats {
    pub(super) fn merge(&mut self, o: &Stats) {
        self.keys += o.keys;
        self.seen += o.seen;
        self.key_len.merge(&o.key_len);
        self.ttl_keys += o.ttl_keys;
        self.ttl_secs.merge(&o.ttl_secs);
        self.elements.merge(&o.elements);
        self.bytes.merge(&o.bytes);
        self.int_digits.merge(&o.int_digits);
        self.field_len.merge(&o.field_len);
        self.whole_scores += o.whole_scores;
        self.score_digits.merge(&o.score_digits);
        self.scores += o.scores;
        self.payload += o.payload;
    }

    /// The share of values or elements that are integers.
    pub fn integer_share(&self) -> f64 {
        let (i, b) = (self.int_digits.total(), self.bytes.total());
        if i + b == 0.0 {
            0.0
        } else {
            i / (i + b)
        }
    }
}

/// A group's identity: pattern, type, and the encoding class collections are split by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub pattern: String,
    pub kind: Kind,
    /// The source's encoding for hashes, sets and sorted sets (`listpack`, `intset`,
    /// `hashtable`, `skiplist`); empty for strings and lists.
    pub encoding: &'static str,
}

/// Everything seen so far, by group.
#[derive(Debug, Default)]
pub struct Dataset {
    groups: HashMap<GroupKey, Stats>,
    /// Keys seen (unweighted) and their weight.
    pub seen: u64,
    pub keys: f64,
}

/// The encoding class a key is grouped by.
fn encoding_class(kind: Kind, encoding: &'static str) -> &'static str {
    match (kind, encoding) {
        (Kind::Hash | Kind::Set | Kind::Zset, "ziplist") => "listpack",
        (Kind::Hash | Kind::Set | Kind::Zset, e) => e,
        _ => "",
    }
}

/// The decimal digits of an integer written in `len` bytes (a sign is not a digit).
fn digits(item: &Item) -> u64 {
    item.len.clamp(1, 20).min(19)
}

impl Dataset {
    /// Counts one key.
    pub fn add(&mut self, o: &Observation<'_>) {
        let key = GroupKey {
            pattern: pattern_of(o.key),
            kind: o.kind,
            encoding: encoding_class(o.kind, o.encoding),
        };
        let s = self.groups.entry(key).or_default();
        self.seen += 1;
        self.keys += o.weight;
        let w = o.weight;
        s.keys += w;
        s.seen += 1;
        s.key_len.add(o.key.len() as u64, w);
        let mut payload = o.key.len() as f64;
        if let Some(ms) = o.ttl_ms {
            s.ttl_keys += w;
            s.ttl_secs.add(ttl_bin((ms as f64 / 1000.0).max(1.0)), w);
        }
        if matches!(o.kind, Kind::Stream | Kind::Module) {
            s.payload += payload * w;
            return;
        }
        if o.kind != Kind::String {
            s.elements.add(o.len, w);
        }
        let step = if o.kind == Kind::Hash { 2 } else { 1 };
        let seen_elements = (o.items.len() / step).max(1) as f64;
        // Each element seen stands for `len / seen` of its key's elements.
        let ew = if o.kind == Kind::String {
            w
        } else {
            w * o.len as f64 / seen_elements
        };
        for (i, it) in o.items.iter().enumerate() {
            if o.kind == Kind::Hash && i % 2 == 0 {
                s.field_len.add(it.len, ew);
                payload += it.len as f64 * o.len as f64 / seen_elements;
                continue;
            }
            if it.int {
                s.int_digits.add(digits(it), ew);
            } else {
                s.bytes.add(it.len, ew);
            }
            payload += it.len as f64
                * if o.kind == Kind::String {
                    1.0
                } else {
                    o.len as f64 / seen_elements
                };
        }
        for sc in o.scores {
            s.scores += ew;
            if sc.fract() == 0.0 && sc.abs() < 1e15 {
                s.whole_scores += ew;
                let d = (sc.abs() as u64).checked_ilog10().map_or(1, |l| l as u64 + 1);
                s.score_digits.add(d, ew);
            }
        }
        s.payload += payload * w;
    }

    /// The groups, patterns folded (see [`fold`]) and groups of one folded pattern merged,
    /// largest payload first (ties by pattern).
    pub fn finish(self) -> Vec<(GroupKey, Stats)> {
        let mut per_pattern: HashMap<&str, f64> = HashMap::new();
        for (k, s) in &self.groups {
            *per_pattern.entry(k.pattern.as_str()).or_insert(0.0) += s.keys;
        }
        let folded = fold(per_pattern);
        let mut merged: BTreeMap<GroupKey, Stats> = BTreeMap::new();
        for (k, s) in self.groups {
            let key = GroupKey {
                pattern: folded[&k.pattern].clone(),
                ..k
            };
            merged.entry(key).or_default().merge(&s);
        }
        let mut out: Vec<(GroupKey, Stats)> = merged.into_iter().collect();
        out.sort_by(|a, b| b.1.payload.total_cmp(&a.1.payload).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

/// A TTL in seconds on a coarse grid (two significant digits), so that the TTLs of a pattern
/// make a short distribution.
fn ttl_bin(secs: f64) -> u64 {
    let mag = 10f64.powi(secs.log10().floor() as i32 - 1).max(1.0);
    ((secs / mag).round() * mag) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_keep_few_values_and_bin_many() {
        let mut h = Hist::default();
        for v in [10u64, 10, 20, 5000] {
            h.add(v, 1.0);
        }
        assert_eq!(
            h.to_dist(&[], 1),
            Some(SizeDist::Choice {
                values: vec![10, 20, 5000],
                weights: vec![2.0, 1.0, 1.0]
            })
        );
        // 1,000 distinct values: binned to at most MAX_POINTS, the total weight and (nearly)
        // the mean kept, no bin across the cut at 64.
        let mut h = Hist::default();
        for v in 1..=1000u64 {
            h.add(v, 1.0);
        }
        let Some(SizeDist::Choice { values, weights }) = h.to_dist(&[65], 1) else {
            panic!()
        };
        assert!(values.len() <= MAX_POINTS, "{}", values.len());
        assert_eq!(weights.iter().sum::<f64>(), 1000.0);
        let mean = values
            .iter()
            .zip(&weights)
            .map(|(v, w)| *v as f64 * w)
            .sum::<f64>()
            / 1000.0;
        assert!((mean - 500.5).abs() < 1.0, "{mean}");
        let below: f64 = values
            .iter()
            .zip(&weights)
            .filter(|(v, _)| **v <= 64)
            .map(|(_, w)| w)
            .sum();
        assert_eq!(below, 64.0);
    }

    #[test]
    fn a_hash_is_counted_field_by_field() {
        let mut d = Dataset::default();
        let items = [
            Item { len: 4, int: false },
            Item { len: 10, int: false },
            Item { len: 3, int: false },
            Item { len: 2, int: true },
        ];
        for k in [&b"user:1:p"[..], b"user:22:p"] {
            d.add(&Observation {
                key: k,
                kind: Kind::Hash,
                encoding: "listpack",
                ttl_ms: Some(90_500),
                len: 2,
                items: &items,
                scores: &[],
                weight: 1.0,
            });
        }
        let g = d.finish();
        assert_eq!(g.len(), 1);
        let (k, s) = &g[0];
        assert_eq!(
            (k.pattern.as_str(), k.kind, k.encoding),
            ("user:*:p", Kind::Hash, "listpack")
        );
        assert_eq!((s.keys, s.ttl_keys), (2.0, 2.0));
        assert_eq!(s.ttl_secs.points(), [(91, 2.0)]);
        assert_eq!(s.elements.points(), [(2, 2.0)]);
        assert_eq!(s.field_len.points(), [(3, 2.0), (4, 2.0)]);
        assert_eq!(s.bytes.points(), [(10, 2.0)]);
        assert_eq!(s.int_digits.points(), [(2, 2.0)]);
        assert_eq!(s.payload, 8.0 + 9.0 + 2.0 * 19.0);
        assert_eq!(s.integer_share(), 0.5);
    }

    #[test]
    fn sampled_elements_stand_for_the_rest() {
        let mut d = Dataset::default();
        let items = [Item { len: 5, int: false }; 10];
        d.add(&Observation {
            key: b"big:1",
            kind: Kind::Set,
            encoding: "hashtable",
            ttl_ms: None,
            len: 1000,
            items: &items,
            scores: &[],
            weight: 3.0,
        });
        let (_, s) = &d.finish()[0];
        assert_eq!(s.bytes.points(), [(5, 3000.0)]);
        assert_eq!(s.elements.points(), [(1000, 3.0)]);
        assert_eq!(s.payload, 3.0 * (5.0 + 5000.0));
    }
}
