//! A validated scenario: what a run replays. One [`Scenario`] per variant, gathered with the
//! claims in a [`ScenarioFile`].

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{Claim, SizeDist};
use crate::jemalloc::AllocatorConfig;
use crate::redis::profile::{RedisProfile, ServerState};

/// When the whole data set is flushed: `FLUSHALL SYNC` with a Redis profile (free everything,
/// then purge jemalloc); free everything, then purge, without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flush {
    None,
    BeforeEach,
    AfterEach,
}

impl Flush {
    /// In words: "kept between tests", "flushed before each test", "flushed after each test".
    pub fn describe(self) -> &'static str {
        match self {
            Flush::None => "kept between tests",
            Flush::BeforeEach => "flushed before each test",
            Flush::AfterEach => "flushed after each test",
        }
    }
}

/// The Redis type of a key group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    String,
    Hash,
    List,
    Set,
    Zset,
}

impl KeyType {
    /// Whether keys of this type hold elements written over several commands (lists, sets,
    /// sorted sets).
    pub fn is_collection(self) -> bool {
        matches!(self, KeyType::List | KeyType::Set | KeyType::Zset)
    }

    /// The type as scenarios name it.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Hash => "hash",
            KeyType::List => "list",
            KeyType::Set => "set",
            KeyType::Zset => "zset",
        }
    }
}

/// What values, hash values, elements and members hold: bytes that are no number, or integers
/// (Redis keeps a string that is an integer as a number: a shared object below 10,000, an INT
/// object, an integer entry in a listpack, an intset member).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Content {
    Bytes,
    /// Decimal integers of the drawn size in digits (1 to 19): from 10^(size-1) up, each key or
    /// element its own number.
    Integer,
}

/// A sorted set's scores: integers (the element's number), or fractions (with 17 significant
/// digits, as a random double prints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scores {
    Integer,
    Fractional,
}

/// How a group's key names are made: `pattern` with `{n}` the key's number (and `{test}`,
/// `{process}` where given; the default is `NAME:{test}:{n}`, or `NAME:{process}:{test}:{n}`
/// with several test processes), the number padded with zeros to make every name `size` bytes
/// when given. A size distribution gives the group's names its lengths in order: key `n` of
/// `count` is padded to the distribution's quantile `(n + 1/2) / count`, so the names' lengths
/// follow the distribution (where a name is not already longer).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyShape {
    pub pattern: Option<String>,
    pub size: Option<SizeDist>,
    /// The number `{n}` of the group's first key (`first_key`, 0 unless told) and the step
    /// between its keys' numbers (`key_step`, 1 unless told): key `j` is numbered `first + j x
    /// step`, so that groups of one pattern can name different keys whatever their counts
    /// (group `i` of `m`: first `i`, step `m`). Lengths are still spread by `j`.
    pub first: u64,
    pub step: u64,
}

/// One group of keys each test writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyGroup {
    pub name: String,
    /// Keys (or objects) written per test, per test process.
    pub count: u64,
    pub kind: KeyType,
    /// Bytes per value (a string's value, each field's value of a hash, or each element of a
    /// list, set or sorted set: the scenario's `element_size`), drawn per value; digits for
    /// integer content.
    pub value_size: SizeDist,
    /// Hash fields per key, drawn per key (1 for other types).
    pub fields: SizeDist,
    /// TTL set on the group's keys (Redis profiles only).
    pub ttl_seconds: Option<f64>,
    /// Share of the group's keys given the TTL (1 unless told), spread evenly over its keys.
    pub ttl_share: f64,
    /// Share of its keys a test deletes itself before it ends; the rest stay until a flush.
    pub cleanup: f64,
    /// Keys added per test after the first, as a share of `count` (0: every test writes the
    /// same `count` keys): test `t` writes only the keys numbered from `count + round(count x
    /// growth x (t - 1))` up to `count + round(count x growth x t)`, new ones the keys the
    /// tests before wrote stay beside (a data set growing day by day, one test a day).
    pub growth: f64,
    /// Elements added per key of a list, set or sorted set, drawn per key (1 for other types).
    pub elements: SizeDist,
    /// Elements per command (RPUSH, SADD, ZADD and their removals carry this many).
    pub batch: u64,
    /// Share of the elements a collection's key loses as it goes, removed after each batch of
    /// adds: lists pop from the head (LPOP, a queue), sets and sorted sets remove their oldest
    /// members (SREM, ZREM).
    pub churn: f64,
    /// What values, hash values, elements and members hold.
    pub content: Content,
    /// With bytes content, the share of values (or elements) that are decimal integers
    /// instead, each drawn so; 0 unless told.
    pub integers: f64,
    /// Those integers' sizes in digits (1 to 19).
    pub integer_digits: SizeDist,
    /// Sorted sets' scores.
    pub scores: Scores,
    /// The share of a sorted set's scores that are fractions (the rest integers), when it mixes
    /// them: element `e`'s score is a fraction when a hash of `e` falls under it.
    pub fractional_scores: Option<f64>,
    /// Digits of the integer scores: from `10^(d-1)` up, `d` drawn by the element's number;
    /// `None`: the element's number itself.
    pub score_digits: Option<SizeDist>,
    /// A hash, set or sorted set group held in its large encoding (`encoding = "hashtable"`,
    /// `"skiplist"`), as a server holds keys that once had a value too long for the small one
    /// (Redis converts at that moment and never back).
    pub big_first: Option<BigFirst>,
    /// How key names are made.
    pub key_shape: KeyShape,
    /// Bytes of each hash field name (`f` and the field's number, padded with zeros); `None`:
    /// `f0`, `f1`, ... A distribution gives each key's fields its quantiles in field order
    /// (field `f` of `n`: quantile `(f + 1/2) / n`), so every hash has the spread of lengths.
    pub field_size: Option<SizeDist>,
}

/// How a group held in its large encoding draws its values: a key that would fit the small
/// encoding gets a first value from `big` (the group's sizes over the small encoding's value
/// limit); every other value comes from `rest`, the group's sizes with the large ones made as
/// much rarer as those first values take (so that the group keeps its share of large values).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BigFirst {
    pub big: SizeDist,
    pub rest: SizeDist,
}

/// The flag [`KeyGroup::draw_value`] sets on a size that is an integer's digits.
pub const INTEGER_VALUE: u64 = 1 << 63;

/// A script each test runs with `EVAL`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptSpec {
    pub name: String,
    /// Bytes of the script body.
    pub size: u64,
    /// `EVAL` calls per test and process.
    pub count: u64,
    /// A new script body in every test (the script cache grows) instead of the same one.
    pub unique: bool,
}

/// One validated variant of a scenario: everything a run needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub name: String,
    /// The variant's name ("default" without `[[variant]]` tables).
    pub variant: String,
    pub seed: u64,
    /// Monte Carlo runs.
    pub runs: u64,
    /// Allocator configuration (the Redis profile's, or a preset plus overrides).
    #[serde(skip)]
    pub allocator: AllocatorConfig,
    pub allocator_preset: String,
    /// The Redis server profile; `None` for a plain allocator workload.
    #[serde(skip)]
    pub redis: Option<RedisProfile>,
    /// `maxmemory` (Redis's own OOM rule), bytes.
    pub maxmemory: Option<u64>,
    /// Container or cgroup limit on RSS, bytes.
    pub memory_limit: Option<u64>,
    /// Tests (rounds); each test process runs each of them.
    pub tests: u64,
    pub flush: Flush,
    /// Simulated seconds per test (drives decay, expiry, idle clients).
    pub test_seconds: f64,
    /// Test processes sharing the server, their commands interleaved.
    pub parallel: u64,
    /// Commands each test process sends per second (one client, no pipelining): the simulated
    /// clock advances by `1 / (parallel x commands_per_second)` per command, so the server's
    /// cron, jemalloc's decay and its background thread run during a test.
    pub commands_per_second: f64,
    /// The state of the server the workload meets (Redis profiles): freshly started, or as
    /// calibration left it.
    pub state: ServerState,
    pub keys: Vec<KeyGroup>,
    pub scripts: Vec<ScriptSpec>,
    /// Whether runs split their figures by key pattern (`--by-pattern`: the model tags every
    /// block with its owner, which costs time and memory, so only when asked). Not part of the
    /// scenario file.
    #[serde(skip)]
    pub by_pattern: bool,
}

impl ScenarioFile {
    /// Asks every variant's runs for memory by key pattern (see [`Scenario::by_pattern`]).
    pub fn with_by_pattern(mut self) -> Self {
        for v in &mut self.variants {
            v.by_pattern = true;
        }
        self
    }
}

/// A scenario file: its variants, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioFile {
    pub name: String,
    pub seed: u64,
    pub runs: u64,
    pub variants: Vec<Scenario>,
    /// Claims to check (`fragsim check`).
    pub claims: Vec<Claim>,
}

impl KeyGroup {
    /// Values a key holds at the end of its writes, on average: 1 for a string, its fields for
    /// a hash, the elements added less the share removed for a list, set or sorted set.
    pub fn values_per_key(&self) -> f64 {
        match self.kind {
            KeyType::String => 1.0,
            KeyType::Hash => self.fields.mean(),
            _ => self.elements.mean() * (1.0 - self.churn),
        }
    }

    /// The size of a value or element in words: the distribution in bytes, or in digits for
    /// integer content.
    pub fn size_words(&self) -> String {
        match self.content {
            Content::Bytes if self.integers > 0.0 => format!(
                "{} ({}% integers of {})",
                self.value_size.describe(),
                crate::units::share_words(self.integers),
                self.integer_digits.describe().replace(" B", " digits")
            ),
            Content::Bytes => self.value_size.describe(),
            Content::Integer => format!(
                "integers of {}",
                self.value_size.describe().replace(" B", " digits")
            ),
        }
    }

    /// A list, set or sorted set group in words: "lists of 1,000 elements x 100 B, RPUSH 10
    /// at a time, 50% popped"; `None` for strings and hashes (their reports word them).
    pub fn describe_collection(&self) -> Option<String> {
        let (what, add, churn) = match self.kind {
            KeyType::List => ("lists", "RPUSH", "popped from the head"),
            KeyType::Set => ("sets", "SADD", "removed, oldest first"),
            KeyType::Zset => ("sorted sets", "ZADD", "removed, oldest first"),
            _ => return None,
        };
        let mut out = format!(
            "{what} of {} elements x {}, {add} {} at a time",
            self.elements.describe().replace(" B", ""),
            self.size_words(),
            crate::units::group(self.batch)
        );
        if self.kind == KeyType::Zset && self.scores == Scores::Fractional {
            out += ", fractional scores";
        }
        if self.churn > 0.0 {
            out += &format!(", {:.0}% {churn}", self.churn * 100.0);
        }
        Some(out)
    }

    /// Key and field names in words when not the default: ", key names of 16 B" and the like.
    pub fn describe_names(&self) -> String {
        let mut out = String::new();
        if let Some(p) = &self.key_shape.pattern {
            out += &format!(", key names {p}");
        }
        if let Some(n) = &self.key_shape.size {
            out += &format!(", key names of {}", n.describe());
        }
        if let Some(n) = &self.field_size {
            out += &format!(", field names of {}", n.describe());
        }
        out
    }

    /// One value's (or element's) size drawn from `rng`: bytes from `value_size`, or, for the
    /// `integers` share of values, digits from `integer_digits` with [`INTEGER_VALUE`] set.
    /// Draws nothing extra unless the group mixes integers in.
    #[inline]
    pub fn draw_value(&self, rng: &mut ChaCha8Rng) -> u64 {
        if self.integers > 0.0 && self.content == Content::Bytes && rng.random::<f64>() < self.integers {
            return self.integer_digits.sample(rng).clamp(1, 19) | INTEGER_VALUE;
        }
        match &self.big_first {
            Some(b) => b.rest.sample(rng),
            None => self.value_size.sample(rng),
        }
    }

    /// The numbers of the keys test `t` (from 0) writes: `0..count`, or with `growth` the keys
    /// it adds (see [`KeyGroup::growth`]).
    #[inline]
    pub fn written_in(&self, t: u64) -> std::ops::Range<u64> {
        if self.growth <= 0.0 {
            return 0..self.count;
        }
        let through = |t: u64| self.count + (self.count as f64 * self.growth * t as f64).round() as u64;
        if t == 0 {
            0..self.count
        } else {
            through(t - 1)..through(t)
        }
    }

    /// Whether key `j` of the group has the TTL: every key with `ttl_share` 1, else the keys
    /// where the running count `floor(j * share)` steps (evenly spread, `round(count * share)`
    /// of them).
    #[inline]
    pub fn has_ttl(&self, j: u64) -> bool {
        self.ttl_seconds.is_some()
            && (self.ttl_share >= 1.0
                || ((j + 1) as f64 * self.ttl_share).floor() > (j as f64 * self.ttl_share).floor())
    }

    /// The length of field `f`'s name in a hash of `n` fields, when the group sizes them.
    pub fn field_width(&self, f: u64, n: u64) -> Option<u64> {
        self.field_size
            .as_ref()
            .map(|d| d.quantile((f as f64 + 0.5) / n.max(1) as f64))
    }
}

impl KeyShape {
    /// Appends the name of key `n` of group `group` in test `test` of test process `process`
    /// (`parallel` processes in all) to `out`.
    /// `count` is the group's keys per test and process (what a size distribution is spread
    /// over).
    #[allow(clippy::too_many_arguments)]
    pub fn render(
        &self,
        group: &str,
        process: u64,
        test: u64,
        n: u64,
        count: u64,
        parallel: u64,
        out: &mut Vec<u8>,
    ) {
        let start = out.len();
        let mut n_at = None;
        // The key's number; `n` spreads the lengths.
        let (j, n) = (n, self.first + n * self.step);
        match &self.pattern {
            None => {
                out.extend_from_slice(group.as_bytes());
                if parallel > 1 {
                    out.push(b':');
                    out.extend_from_slice(process.to_string().as_bytes());
                }
                out.push(b':');
                out.extend_from_slice(test.to_string().as_bytes());
                out.push(b':');
                n_at = Some(out.len());
                out.extend_from_slice(n.to_string().as_bytes());
            }
            Some(p) => {
                let mut rest = p.as_str();
                while let Some(open) = rest.find('{') {
                    out.extend_from_slice(&rest.as_bytes()[..open]);
                    let close = open + rest[open..].find('}').expect("a checked pattern");
                    match &rest[open + 1..close] {
                        "n" => {
                            n_at.get_or_insert(out.len());
                            out.extend_from_slice(n.to_string().as_bytes());
                        }
                        "test" => out.extend_from_slice(test.to_string().as_bytes()),
                        _ => out.extend_from_slice(process.to_string().as_bytes()),
                    }
                    rest = &rest[close + 1..];
                }
                out.extend_from_slice(rest.as_bytes());
            }
        }
        let size = self
            .size
            .as_ref()
            .map(|d| d.quantile(((j % count.max(1)) as f64 + 0.5) / count.max(1) as f64));
        if let (Some(size), Some(at)) = (size, n_at) {
            let len = (out.len() - start) as u64;
            if size > len {
                let pad = (size - len) as usize;
                out.splice(at..at, std::iter::repeat_n(b'0', pad));
            } else if size < len {
                // Shorter than the number's digits: the number in letters (see `letters`).
                let digits = decimal_digits(n);
                let fixed = len - digits;
                if let Some(w) = size.checked_sub(fixed).filter(|&w| w >= 1) {
                    let mut v = Vec::new();
                    if letters(n, w, &mut v) {
                        out.splice(at..at + digits as usize, v);
                    }
                }
            }
        }
    }

    /// Bytes of the longest name a group of `count` keys makes over `tests` tests and
    /// `parallel` processes, unpadded.
    pub fn longest(&self, group: &str, count: u64, tests: u64, parallel: u64) -> u64 {
        let unpadded = KeyShape {
            pattern: self.pattern.clone(),
            size: None,
            first: self.first,
            step: self.step,
        };
        let mut v = Vec::new();
        unpadded.render(group, parallel - 1, tests - 1, count - 1, count, parallel, &mut v);
        v.len() as u64
    }

    /// Whether names are the default `GROUP:TEST:N` (or `GROUP:PROCESS:TEST:N`), unpadded.
    pub fn is_default(&self) -> bool {
        self.pattern.is_none() && self.size.is_none() && self.first == 0 && self.step == 1
    }
}

/// The decimal digits of `n`.
pub fn decimal_digits(n: u64) -> u64 {
    n.checked_ilog10().map_or(1, |l| l as u64 + 1)
}

/// Appends `n` written in exactly `width` letters (base 52: `A`-`Z` then `a`-`z`, most
/// significant first) and returns true, or returns false (appending nothing) when `width`
/// letters cannot hold it. A name drawn shorter than its number's digits is written so: two
/// numbers never share a letter name of one width, and a letter name never equals a digit one.
pub fn letters(n: u64, width: u64, out: &mut Vec<u8>) -> bool {
    const ALPHABET: &[u8; 52] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    if width > 11 || 52u64.pow(width as u32) <= n {
        return false;
    }
    let start = out.len();
    let mut x = n;
    for _ in 0..width {
        out.push(ALPHABET[(x % 52) as usize]);
        x /= 52;
    }
    out[start..].reverse();
    true
}

/// Bytes from which a value or element counts as big for a profile's caveats (`big-values`):
/// Valkey 8.1+ reads an argument of about this size into a private buffer instead of its shared
/// query buffer.
pub const BIG_VALUE: u64 = 8 * 1024;

impl Scenario {
    /// The workload features a profile's caveats may concern
    /// ([`crate::redis::profile::CAVEAT_WHEN`]): the key types it writes, `cluster` in cluster
    /// mode, `big-values` where a value or element can be [`BIG_VALUE`] bytes or more.
    pub fn features(&self) -> Vec<&'static str> {
        let mut f: Vec<&'static str> = self.keys.iter().map(|k| k.kind.name()).collect();
        if self.redis.as_ref().is_some_and(|p| p.cluster) {
            f.push("cluster");
        }
        if self
            .keys
            .iter()
            .any(|k| k.value_size.practical_max() >= BIG_VALUE as f64)
        {
            f.push("big-values");
        }
        f.sort_unstable();
        f.dedup();
        f
    }

    /// The caveats of the scenario's profile that concern its workload (see
    /// [`crate::redis::profile::Caveat`]), one sentence each; none without a profile.
    pub fn caveats(&self) -> Vec<String> {
        let uses = self.features();
        self.redis
            .iter()
            .flat_map(|p| &p.caveats)
            .filter(|c| c.concerns(&uses))
            .map(|c| c.text().to_string())
            .collect()
    }
}

impl ScenarioFile {
    /// The first variant (the base when there are no `[[variant]]` tables).
    pub fn first(&self) -> &Scenario {
        &self.variants[0]
    }
}

#[cfg(test)]
mod tests {
    use crate::workload;

    /// A profile's caveats reach a prediction only where its workload uses what they name.
    #[test]
    fn caveats_follow_the_workload() {
        let scenario = |keys: &str| {
            let text =
                format!("name = \"c\"\n[server]\nprofile = \"valkey-8.1\"\n[workload]\ntests = 1\n{keys}");
            workload::parse(&text, "c.toml").expect("parses").first().clone()
        };
        let strings = scenario("[[workload.keys]]\nname = \"s\"\ncount = 1\nvalue_size = 100\n");
        assert_eq!(strings.features(), ["string"]);
        let mut p = strings.redis.clone().unwrap();
        p.caveats = vec![
            crate::redis::profile::Caveat::Always("always".into()),
            crate::redis::profile::Caveat::When {
                when: vec!["list".into()],
                text: "lists".into(),
            },
            crate::redis::profile::Caveat::When {
                when: vec!["big-values".into(), "cluster".into()],
                text: "big".into(),
            },
        ];
        let with = |mut sc: workload::Scenario| {
            sc.redis = Some(p.clone());
            sc.caveats()
        };
        assert_eq!(with(strings.clone()), ["always"]);
        let big = scenario("[[workload.keys]]\nname = \"s\"\ncount = 1\nvalue_size = 8192\n");
        assert_eq!(big.features(), ["big-values", "string"]);
        assert_eq!(with(big), ["always", "big"]);
        let lists = scenario(
            "[[workload.keys]]\nname = \"l\"\ncount = 1\ntype = \"list\"\nelement_size = 10\nelements = 5\n",
        );
        assert_eq!(with(lists), ["always", "lists"]);
    }
}
