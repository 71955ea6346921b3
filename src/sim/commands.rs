//! The Redis commands a scenario's test sends, the same for the model and for a live server:
//! each test process's commands, interleaved at random when several share the server.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::redis::argv::{push_integer, push_member};
pub use crate::redis::argv::{value_bytes, Arg, Argv};
use std::collections::VecDeque;

use crate::workload::scenario::letters;
use crate::workload::{Content, Flush, KeyGroup, KeyType, Scenario, Scores, SizeDist, INTEGER_VALUE};

/// A Lua script body of `size` bytes that returns 1; `tag` makes it distinct.
pub fn script_body(size: u64, tag: &str) -> Vec<u8> {
    let mut s = format!("return 1 -- {tag} ").into_bytes();
    s.resize((size as usize).max(s.len()), b'x');
    s
}

/// One command of a test, its random draws made, before its arguments are rendered.
#[derive(Debug, Clone)]
enum Step {
    Flush,
    /// `SET name value [PX ms]` of key `j` of key group `group`, the value `size` bytes.
    Set {
        group: usize,
        j: u64,
        size: u64,
    },
    /// `HSET name f0 v0 f1 v1 ...`, the values' sizes the group's `fields` sizes from `at` in
    /// the sizes drawn for the process (no allocation per command).
    Hset {
        group: usize,
        j: u64,
        at: usize,
        n: usize,
    },
    Pexpire {
        group: usize,
        j: u64,
    },
    Eval {
        script: usize,
    },
    Del {
        group: usize,
        j: u64,
    },
    /// RPUSH, SADD or ZADD of elements `first..first + n` of key `j`, their sizes from `at` in
    /// the sizes drawn for the process.
    Add {
        group: usize,
        j: u64,
        first: u64,
        n: u64,
        at: usize,
    },
    /// A list's LPOP of `n` elements, or a set's SREM or sorted set's ZREM of elements
    /// `first..first + n` (its oldest), their sizes from `at`.
    Take {
        group: usize,
        j: u64,
        first: u64,
        n: u64,
        at: usize,
    },
}

/// Where a list, set or sorted set key is in its commands: its elements are added in batches,
/// each batch followed by the removal of the group's `churn` share of it (carried over while
/// under one element).
#[derive(Debug, Clone)]
struct Collection {
    /// Elements the key is given.
    total: u64,
    /// Elements added so far (numbered from 0) and removed so far (the oldest: numbers
    /// `removed..added` are held).
    added: u64,
    removed: u64,
    /// Elements to remove after the last batch, not yet removed.
    owed: f64,
    /// Elements the next command removes.
    take: u64,
    /// The sizes of the held elements, oldest first, when the group's sizes vary (sets and
    /// sorted sets name each removed member, whose size was drawn when it was added).
    held_sizes: VecDeque<u64>,
}

/// Where a test process is in its commands: the flush before the test, the writes (key group by
/// key group), the scripts, the test's own deletions (group by group), the flush after it.
#[derive(Debug, Clone)]
enum Phase {
    FlushBefore,
    /// Key `j` of group `group` is next; `expire` when its PEXPIRE (a hash or collection with
    /// a TTL) is due; `coll`, a list's, set's or sorted set's progress through its elements.
    Write {
        group: usize,
        j: u64,
        expire: bool,
        coll: Option<Collection>,
    },
    /// Run `n` of script `script` is next.
    Scripts {
        script: usize,
        n: u64,
    },
    /// Group `group`'s deletions, drawn when the group is reached: `picked[i]` is next.
    Dels {
        group: usize,
        picked: Vec<u64>,
        i: usize,
    },
    FlushAfter,
    Done,
}

/// One test process's commands in test `t`, made one at a time (so that a test of millions of
/// keys needs no memory for its plan), drawing from the run's command stream in the order a
/// whole list would: value sizes key by key, then each group's deletions.
#[derive(Debug, Clone)]
struct ProcessPlan {
    phase: Phase,
}

impl ProcessPlan {
    fn new() -> Self {
        ProcessPlan {
            phase: Phase::FlushBefore,
        }
    }

    /// The next command's step; a hash's value sizes are appended to `sizes`.
    #[inline]
    fn next(&mut self, sc: &Scenario, t: u64, rng: &mut ChaCha8Rng, sizes: &mut Vec<u64>) -> Option<Step> {
        loop {
            match &mut self.phase {
                Phase::FlushBefore => {
                    self.phase = Phase::Write {
                        group: 0,
                        j: sc.keys.first().map_or(0, |k| k.written_in(t).start),
                        expire: false,
                        coll: None,
                    };
                    if sc.flush == Flush::BeforeEach && t > 0 {
                        return Some(Step::Flush);
                    }
                }
                Phase::Write {
                    group,
                    j,
                    expire,
                    coll,
                } => {
                    let (g, jj) = (*group, *j);
                    let Some(k) = sc.keys.get(g) else {
                        self.phase = Phase::Scripts { script: 0, n: 0 };
                        continue;
                    };
                    if *expire {
                        *expire = false;
                        *j += 1;
                        return Some(Step::Pexpire { group: g, j: jj });
                    }
                    if jj >= k.written_in(t).end {
                        *group += 1;
                        *j = sc.keys.get(*group).map_or(0, |k| k.written_in(t).start);
                        continue;
                    }
                    match k.kind {
                        KeyType::String => {
                            *j += 1;
                            return Some(Step::Set {
                                group: g,
                                j: jj,
                                size: k.draw_value(rng),
                            });
                        }
                        KeyType::Hash => {
                            if k.has_ttl(jj) {
                                *expire = true;
                            } else {
                                *j += 1;
                            }
                            let at = sizes.len();
                            let n = k.fields.sample(rng).max(1);
                            sizes.extend((0..n).map(|_| k.draw_value(rng)));
                            force_big(sc, k, n, &mut sizes[at..], rng);
                            return Some(Step::Hset {
                                group: g,
                                j: jj,
                                at,
                                n: n as usize,
                            });
                        }
                        KeyType::List | KeyType::Set | KeyType::Zset => {
                            let c = coll.get_or_insert_with(|| Collection {
                                total: k.elements.sample(rng).max(1),
                                added: 0,
                                removed: 0,
                                owed: 0.0,
                                take: 0,
                                held_sizes: VecDeque::new(),
                            });
                            if let Some(step) = c.next(sc, k, g, jj, rng, sizes) {
                                return Some(step);
                            }
                            *coll = None;
                            if k.has_ttl(jj) {
                                *expire = true;
                            } else {
                                *j += 1;
                            }
                        }
                    }
                }
                Phase::Scripts { script, n } => {
                    let Some(spec) = sc.scripts.get(*script) else {
                        self.phase = Phase::Dels {
                            group: 0,
                            picked: Vec::new(),
                            i: usize::MAX,
                        };
                        continue;
                    };
                    if *n >= spec.count {
                        *script += 1;
                        *n = 0;
                        continue;
                    }
                    *n += 1;
                    return Some(Step::Eval { script: *script });
                }
                Phase::Dels { group, picked, i } => {
                    let Some(k) = sc.keys.get(*group) else {
                        self.phase = Phase::FlushAfter;
                        continue;
                    };
                    if *i == usize::MAX {
                        // Among the keys the test wrote.
                        let w = k.written_in(t);
                        *picked = pick_deletions(k.cleanup, w.end - w.start, rng);
                        picked.iter_mut().for_each(|j| *j += w.start);
                        *i = 0;
                    }
                    if let Some(&j) = picked.get(*i) {
                        *i += 1;
                        return Some(Step::Del { group: *group, j });
                    }
                    *group += 1;
                    *i = usize::MAX;
                }
                Phase::FlushAfter => {
                    self.phase = Phase::Done;
                    if sc.flush == Flush::AfterEach {
                        return Some(Step::Flush);
                    }
                }
                Phase::Done => return None,
            }
        }
    }
}

impl Collection {
    /// The key's next command: the removal owed after the last batch, or the next batch of
    /// adds; `None` once every element is added and what is owed removed.
    #[allow(clippy::too_many_arguments)]
    fn next(
        &mut self,
        sc: &Scenario,
        k: &KeyGroup,
        group: usize,
        j: u64,
        rng: &mut ChaCha8Rng,
        sizes: &mut Vec<u64>,
    ) -> Option<Step> {
        let fixed =
            matches!(k.value_size, SizeDist::Fixed { .. }) && k.integers == 0.0 && k.big_first.is_none();
        if self.take > 0 {
            let n = self.take;
            self.take = 0;
            let first = self.removed;
            self.removed += n;
            let at = sizes.len();
            // A list pops without naming its elements; a set or sorted set names them.
            if k.kind != KeyType::List {
                if fixed {
                    sizes.extend(std::iter::repeat_n(k.value_size.sample(rng), n as usize));
                } else {
                    sizes.extend(self.held_sizes.drain(..n as usize));
                }
            }
            return Some(Step::Take {
                group,
                j,
                first,
                n,
                at,
            });
        }
        if self.added >= self.total {
            return None;
        }
        let n = k.batch.min(self.total - self.added);
        let first = self.added;
        self.added += n;
        let at = sizes.len();
        sizes.extend((0..n).map(|_| k.draw_value(rng)));
        if first == 0 {
            force_big(sc, k, self.total, &mut sizes[at..], rng);
        }
        if !fixed && k.kind != KeyType::List {
            self.held_sizes.extend(&sizes[at..]);
        }
        if k.churn > 0.0 {
            self.owed += n as f64 * k.churn;
            let held = self.added - self.removed;
            let take = (self.owed.floor() as u64).min(held);
            self.owed -= take as f64;
            self.take = take;
        }
        Some(Step::Add {
            group,
            j,
            first,
            n,
            at,
        })
    }
}

/// A key of a group held in its large encoding (`KeyGroup::big_first`) that would fit the
/// small one, by its element count and the first values drawn (`sizes`), gets a first value
/// drawn over the small encoding's value limit: byte content (not an integer) of the group's
/// large sizes.
fn force_big(sc: &Scenario, k: &KeyGroup, count: u64, sizes: &mut [u64], rng: &mut ChaCha8Rng) {
    let (Some(big), Some(p)) = (&k.big_first, &sc.redis) else {
        return;
    };
    let t = &p.types;
    let bytes = |s: u64| {
        if s & INTEGER_VALUE != 0 || k.content == Content::Integer {
            0
        } else {
            s
        }
    };
    let longest = sizes.iter().map(|&s| bytes(s)).max().unwrap_or(0);
    let all_int = k.content == Content::Integer || sizes.iter().all(|s| s & INTEGER_VALUE != 0);
    let small = match k.kind {
        KeyType::Hash => count <= p.hash_max_listpack_entries && longest <= p.hash_max_listpack_value,
        KeyType::Zset => count <= t.zset_max_listpack_entries && longest <= t.zset_max_listpack_value,
        KeyType::Set => {
            (all_int && count <= t.set_max_intset_entries)
                || (p.layout.set_listpack
                    && count <= t.set_max_listpack_entries
                    && longest <= t.set_max_listpack_value)
        }
        _ => false,
    };
    if small {
        if let Some(first) = sizes.first_mut() {
            *first = big.big.sample(rng);
        }
    }
}

/// Which of a group's `count` keys a test deletes (a share `cleanup` of them, drawn at random):
/// the first draws of a Fisher-Yates shuffle, the shuffled positions kept sparsely.
fn pick_deletions(cleanup: f64, count: u64, rng: &mut ChaCha8Rng) -> Vec<u64> {
    let n = count as usize;
    let ndel = ((cleanup * n as f64).round() as usize).min(n);
    let mut moved: std::collections::HashMap<usize, usize> = Default::default();
    let mut picked = Vec::with_capacity(ndel);
    for i in 0..ndel {
        let j = rng.random_range(i..n);
        let at_j = moved.get(&j).copied().unwrap_or(j);
        let at_i = moved.get(&i).copied().unwrap_or(i);
        moved.insert(j, at_i);
        picked.push(at_j as u64);
    }
    picked
}

/// The two-digit numbers `00` to `99`, one after another: a decimal formatter's lookup table.
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Digits of `n` in decimal (1 for 0).
#[inline]
fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Writes `n` in decimal, as `format!("{n}")` writes it, into `out`, which is exactly
/// [`decimal_len`]`(n)` bytes long: two digits at a time from the end, by table.
#[inline]
fn write_decimal(out: &mut [u8], mut n: u64) {
    let mut i = out.len();
    while n >= 100 {
        let r = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        out[i..i + 2].copy_from_slice(&DIGIT_PAIRS[r..r + 2]);
    }
    if n >= 10 {
        let r = n as usize * 2;
        out[i - 2..i].copy_from_slice(&DIGIT_PAIRS[r..r + 2]);
    } else {
        out[i - 1] = b'0' + n as u8;
    }
}

/// Appends `n` in decimal, as `format!("{n}")` writes it.
fn push_decimal(v: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let len = decimal_len(n);
    write_decimal(&mut digits[..len], n);
    v.extend_from_slice(&digits[..len]);
}

/// Appends the score of element `e` of key `j`: `e` itself, or `e` plus a fraction drawn from
/// `e` (the shortest text that reads back as that double, 15 to 17 significant digits).
/// Under `fractional_scores` (and `score_digits`), which elements are fractional (and how many
/// digits an integer one has) is drawn from the key and the element together: drawn from `e`
/// alone, every key would make the same elements fractional, and keys of a few elements would
/// hold the share of their first elements instead of the group's (see the test
/// `the_fractional_share_holds_in_small_sorted_sets`).
fn push_score(v: &mut Vec<u8>, k: &KeyGroup, j: u64, e: u64) {
    let ke = e ^ j.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    let scores = match k.fractional_scores {
        Some(share) if share >= 1.0 => Scores::Fractional,
        Some(share) if share > 0.0 && unit(ke ^ 0x5c0e_5c0e) < share => Scores::Fractional,
        Some(_) => Scores::Integer,
        None => k.scores,
    };
    match scores {
        Scores::Integer => match &k.score_digits {
            None => push_decimal(v, e),
            Some(d) => {
                let digits = d.quantile(unit(ke ^ 0xd161_7500)).clamp(1, 15) as u32;
                let low = 10u64.pow(digits - 1);
                push_decimal(v, low + e % (9 * low).max(1))
            }
        },
        Scores::Fractional => {
            // The same fraction for the same element in every run.
            let f = e as f64 + unit(e).max(f64::EPSILON);
            v.extend_from_slice(format!("{f}").as_bytes());
        }
    }
}

/// A number in [0, 1) made from `x` (SplitMix64's finaliser): the same for the same `x` in
/// every run.
fn unit(x: u64) -> f64 {
    (crate::units::mix64(x.wrapping_add(0x9e37_79b9_7f4a_7c15)) >> 11) as f64 / (1u64 << 53) as f64
}

/// Bytes a key name rendered in place ([`Part::Key`]) holds at most.
const KEY_INLINE: usize = 64;

/// The fixed part of a group's key names in a test (`GROUP:T:` or `GROUP:PROCESS:T:`), also
/// padded into a [`Part::Key`]'s buffer when there is room left for any number after it.
#[derive(Debug, Clone)]
struct KeyPrefix {
    bytes: Vec<u8>,
    padded: Option<[u8; KEY_INLINE]>,
}

/// One argument of a rendered command.
#[derive(Debug, Clone)]
pub enum Part {
    /// A fixed word or a value (bytes the model never reads).
    Static(&'static [u8]),
    /// A name or a number rendered for this command.
    Owned(Vec<u8>),
    /// A key name rendered in place: the first `len` bytes of `bytes`.
    Key {
        /// The name, then unused bytes.
        bytes: [u8; KEY_INLINE],
        /// The name's length.
        len: u8,
    },
}

impl AsRef<[u8]> for Part {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        match self {
            Part::Static(s) => s,
            Part::Owned(v) => v,
            Part::Key { bytes, len } => &bytes[..*len as usize],
        }
    }
}

/// A command's arguments, rendered into buffers reused from command to command.
#[derive(Debug, Clone, Default)]
pub struct Command {
    parts: Vec<Part>,
    len: usize,
    /// The longest value [`value_bytes`] has lent so far: shorter values are its prefixes (the
    /// same zero bytes), taken without asking again.
    filler: &'static [u8],
    /// The key group whose key the command writes or deletes (`None`: FLUSHALL, EVAL).
    group: Option<usize>,
}

/// What rendering a test process's steps needs besides the step: the scenario, the test, the
/// process, its key names' fixed prefixes and the value sizes its hash steps point into.
struct RenderCtx<'a> {
    sc: &'a Scenario,
    t: u64,
    process: u64,
    /// `GROUP:T:` (or `GROUP:PROCESS:T:`) by key group.
    prefixes: &'a [KeyPrefix],
    sizes: &'a [u64],
}

/// The fixed part of the names of test process `process`'s keys in test `t`, by key group:
/// `GROUP:T:`, or `GROUP:PROCESS:T:` with several test processes.
fn key_prefixes(sc: &Scenario, process: u64, t: u64) -> Vec<KeyPrefix> {
    sc.keys
        .iter()
        .map(|k| {
            let mut v = k.name.as_bytes().to_vec();
            if sc.parallel > 1 {
                v.push(b':');
                push_decimal(&mut v, process);
            }
            v.push(b':');
            push_decimal(&mut v, t);
            v.push(b':');
            let padded = (v.len() + 20 <= KEY_INLINE).then(|| {
                let mut p = [0u8; KEY_INLINE];
                p[..v.len()].copy_from_slice(&v);
                p
            });
            KeyPrefix { bytes: v, padded }
        })
        .collect()
}

impl Command {
    /// The arguments.
    pub fn args(&self) -> &[Part] {
        &self.parts[..self.len]
    }

    /// The key group whose key the command writes or deletes (`None`: FLUSHALL, EVAL).
    pub fn group(&self) -> Option<usize> {
        self.group
    }

    /// The arguments as an owned [`Argv`] (names copied, values still borrowed).
    pub fn to_argv(&self) -> Argv {
        self.args()
            .iter()
            .map(|a| match a {
                Part::Static(s) => Arg::Borrowed(*s),
                Part::Owned(v) => Arg::Owned(v.clone()),
                Part::Key { .. } => Arg::Owned(a.as_ref().to_vec()),
            })
            .collect()
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    #[inline]
    fn push_static(&mut self, s: &'static [u8]) {
        if let Some(slot) = self.parts.get_mut(self.len) {
            *slot = Part::Static(s);
        } else {
            self.parts.push(Part::Static(s));
        }
        self.len += 1;
    }

    fn push_owned(&mut self, v: Vec<u8>) {
        if self.len < self.parts.len() {
            self.parts[self.len] = Part::Owned(v);
        } else {
            self.parts.push(Part::Owned(v));
        }
        self.len += 1;
    }

    #[inline]
    fn push_value(&mut self, size: u64) {
        if let Some(s) = usize::try_from(size).ok().and_then(|n| self.filler.get(..n)) {
            return self.push_static(s);
        }
        match value_bytes(size) {
            Arg::Borrowed(s) => {
                self.filler = s;
                self.push_static(s)
            }
            Arg::Owned(v) => self.push_owned(v),
        }
    }

    /// The next argument's buffer, emptied.
    #[inline]
    fn next_buf(&mut self) -> &mut Vec<u8> {
        if self.len == self.parts.len() {
            self.parts.push(Part::Owned(Vec::new()));
        }
        let slot = &mut self.parts[self.len];
        self.len += 1;
        if !matches!(slot, Part::Owned(_)) {
            *slot = Part::Owned(Vec::new());
        }
        match slot {
            Part::Owned(v) => {
                v.clear();
                v
            }
            _ => unreachable!("made owned above"),
        }
    }

    /// `GROUP:T:J`, or `GROUP:PROCESS:T:J` with several test processes: the group's fixed
    /// prefix, then `j` (this runs once per command).
    /// The name is written in place (a [`Part::Key`]: the padded prefix copied whole, then
    /// the number's digits), or into an owned buffer when the prefix is too long for that.
    #[inline]
    fn push_key(&mut self, cx: &RenderCtx<'_>, group: usize, j: u64) {
        let k = &cx.sc.keys[group];
        if !k.key_shape.is_default() {
            let v = self.next_buf();
            k.key_shape
                .render(&k.name, cx.process, cx.t, j, k.count, cx.sc.parallel, v);
            return;
        }
        let prefix = &cx.prefixes[group];
        let Some(padded) = &prefix.padded else {
            let v = self.next_buf();
            v.extend_from_slice(&prefix.bytes);
            push_decimal(v, j);
            return;
        };
        let at = prefix.bytes.len();
        let end = at + decimal_len(j);
        if self.len == self.parts.len() {
            self.parts.push(Part::Static(&[]));
        }
        let slot = &mut self.parts[self.len];
        self.len += 1;
        if let Part::Key { bytes, len } = slot {
            *bytes = *padded;
            write_decimal(&mut bytes[at..end], j);
            *len = end as u8;
        } else {
            let mut bytes = *padded;
            write_decimal(&mut bytes[at..end], j);
            *slot = Part::Key {
                bytes,
                len: end as u8,
            };
        }
    }

    fn push_ttl(&mut self, s: f64) {
        let ms = ((s * 1000.0).round() as u64).max(1);
        push_decimal(self.next_buf(), ms);
    }

    /// Renders `step` of the test process `cx` describes.
    fn render(&mut self, cx: &RenderCtx<'_>, step: &Step) {
        self.clear();
        self.group = match *step {
            Step::Flush | Step::Eval { .. } => None,
            Step::Set { group, .. }
            | Step::Hset { group, .. }
            | Step::Pexpire { group, .. }
            | Step::Del { group, .. }
            | Step::Add { group, .. }
            | Step::Take { group, .. } => Some(group),
        };
        let sc = cx.sc;
        match *step {
            Step::Flush => {
                self.push_static(b"FLUSHALL");
                self.push_static(b"SYNC");
            }
            Step::Set { group, j, size } => {
                self.push_static(b"SET");
                self.push_key(cx, group, j);
                let k = &sc.keys[group];
                match k.content {
                    Content::Bytes if size & INTEGER_VALUE != 0 => {
                        push_integer(self.next_buf(), size & !INTEGER_VALUE, j)
                    }
                    Content::Bytes => self.push_value(size),
                    Content::Integer => push_integer(self.next_buf(), size, j),
                }
                if let Some(s) = k.ttl_seconds.filter(|_| k.has_ttl(j)) {
                    self.push_static(b"PX");
                    self.push_ttl(s);
                }
            }
            Step::Hset { group, j, at, n } => {
                self.push_static(b"HSET");
                self.push_key(cx, group, j);
                let k = &sc.keys[group];
                for (f, &size) in cx.sizes[at..at + n].iter().enumerate() {
                    let v = self.next_buf();
                    match k.field_width(f as u64, n as u64) {
                        None => {
                            v.push(b'f');
                            push_decimal(v, f as u64)
                        }
                        // Shorter than `f` and the digits: the number in letters.
                        Some(width)
                            if width < 1 + decimal_len(f as u64) as u64 && letters(f as u64, width, v) => {}
                        Some(width) => {
                            v.push(b'f');
                            let digits = decimal_len(f as u64);
                            v.resize(v.len() + (width as usize).saturating_sub(1 + digits), b'0');
                            push_decimal(v, f as u64);
                        }
                    }
                    match k.content {
                        Content::Bytes if size & INTEGER_VALUE != 0 => {
                            push_integer(self.next_buf(), size & !INTEGER_VALUE, f as u64)
                        }
                        Content::Bytes => self.push_value(size),
                        Content::Integer => push_integer(self.next_buf(), size, f as u64),
                    }
                }
            }
            Step::Pexpire { group, j } => {
                self.push_static(b"PEXPIRE");
                self.push_key(cx, group, j);
                self.push_ttl(sc.keys[group].ttl_seconds.expect("a TTL"));
            }
            Step::Eval { script } => {
                let s = &sc.scripts[script];
                let tag = if s.unique {
                    format!("{}:{}:{}", s.name, cx.process, cx.t)
                } else {
                    s.name.clone()
                };
                self.push_static(b"EVAL");
                self.push_owned(script_body(s.size, &tag));
                self.push_static(b"0");
            }
            Step::Del { group, j } => {
                self.push_static(b"DEL");
                self.push_key(cx, group, j);
            }
            Step::Add {
                group,
                j,
                first,
                n,
                at,
            } => {
                let k = &sc.keys[group];
                self.push_static(match k.kind {
                    KeyType::List => b"RPUSH",
                    KeyType::Set => b"SADD",
                    _ => b"ZADD",
                });
                self.push_key(cx, group, j);
                for (i, &size) in cx.sizes[at..at + n as usize].iter().enumerate() {
                    let e = first + i as u64;
                    if k.kind == KeyType::Zset {
                        push_score(self.next_buf(), k, j, e);
                    }
                    self.push_element(k, size, e);
                }
            }
            Step::Take {
                group,
                j,
                first,
                n,
                at,
            } => {
                let k = &sc.keys[group];
                match k.kind {
                    KeyType::List => {
                        self.push_static(b"LPOP");
                        self.push_key(cx, group, j);
                        if k.batch > 1 {
                            push_decimal(self.next_buf(), n);
                        }
                    }
                    _ => {
                        self.push_static(if k.kind == KeyType::Set { b"SREM" } else { b"ZREM" });
                        self.push_key(cx, group, j);
                        for (i, &size) in cx.sizes[at..at + n as usize].iter().enumerate() {
                            self.push_element(k, size, first + i as u64);
                        }
                    }
                }
            }
        }
    }

    /// Element `e` of a key of group `k`, `size` bytes (digits, for integers): a list's value
    /// (zero bytes), a set's or sorted set's member (letters, distinct per element), or an
    /// integer.
    fn push_element(&mut self, k: &KeyGroup, size: u64, e: u64) {
        match (k.content, k.kind) {
            (Content::Integer, _) => push_integer(self.next_buf(), size, e),
            (Content::Bytes, _) if size & INTEGER_VALUE != 0 => {
                push_integer(self.next_buf(), size & !INTEGER_VALUE, e)
            }
            (Content::Bytes, KeyType::List) => self.push_value(size),
            (Content::Bytes, _) => push_member(self.next_buf(), size, e),
        }
    }
}

/// One test process's commands drawn in full (with several processes): its steps, the value
/// sizes its hash steps point into, and how many it has sent.
#[derive(Debug, Clone)]
struct ProcessSteps {
    steps: Vec<Step>,
    sizes: Vec<u64>,
    sent: usize,
    /// Its key names' prefixes by group (see [`key_prefixes`]).
    prefixes: Vec<KeyPrefix>,
}

/// Test `t`'s commands of every test process, one at a time, in the order the server sees
/// them: with several processes, the next command comes from a process chosen at random, in
/// proportion to the commands it has left (each process's commands are drawn first, in full).
#[derive(Debug, Clone)]
pub struct TestPlan<'a> {
    sc: &'a Scenario,
    t: u64,
    /// One process: its commands as they are made, the value sizes of its current step and
    /// its key names' prefixes.
    single: Option<(ProcessPlan, Vec<u64>, Vec<KeyPrefix>)>,
    /// Several: each process's commands.
    lists: Vec<ProcessSteps>,
    left: usize,
}

impl<'a> TestPlan<'a> {
    /// The plan of test `t` (0-based), drawing from `rng`.
    pub fn new(sc: &'a Scenario, t: u64, rng: &mut ChaCha8Rng) -> Self {
        if sc.parallel <= 1 {
            return TestPlan {
                sc,
                t,
                single: Some((ProcessPlan::new(), Vec::new(), key_prefixes(sc, 0, t))),
                lists: Vec::new(),
                left: 0,
            };
        }
        let lists: Vec<ProcessSteps> = (0..sc.parallel)
            .map(|process| {
                let mut p = ProcessPlan::new();
                let mut sizes = Vec::new();
                let steps = std::iter::from_fn(|| p.next(sc, t, rng, &mut sizes)).collect();
                ProcessSteps {
                    steps,
                    sizes,
                    sent: 0,
                    prefixes: key_prefixes(sc, process, t),
                }
            })
            .collect();
        let left = lists.iter().map(|l| l.steps.len()).sum();
        TestPlan {
            sc,
            t,
            single: None,
            lists,
            left,
        }
    }

    /// Renders the next command into `cmd` and returns the index of the process that sends
    /// it; `None` once the test's commands are all sent.
    pub fn next_into(&mut self, rng: &mut ChaCha8Rng, cmd: &mut Command) -> Option<usize> {
        if let Some((p, sizes, prefixes)) = self.single.as_mut() {
            sizes.clear();
            let step = p.next(self.sc, self.t, rng, sizes)?;
            let cx = RenderCtx {
                sc: self.sc,
                t: self.t,
                process: 0,
                prefixes,
                sizes,
            };
            cmd.render(&cx, &step);
            return Some(0);
        }
        if self.left == 0 {
            return None;
        }
        let mut x = rng.random_range(0..self.left);
        let mut p = 0;
        loop {
            let remaining = self.lists[p].steps.len() - self.lists[p].sent;
            if x < remaining {
                break;
            }
            x -= remaining;
            p += 1;
        }
        self.left -= 1;
        let l = &mut self.lists[p];
        let cx = RenderCtx {
            sc: self.sc,
            t: self.t,
            process: p as u64,
            prefixes: &l.prefixes,
            sizes: &l.sizes,
        };
        cmd.render(&cx, &l.steps[l.sent]);
        l.sent += 1;
        Some(p)
    }
}

/// Test `t`'s commands of every test process, as `(process, argv)` in the order the server
/// sees them (see [`TestPlan`]).
pub fn test_plan(sc: &Scenario, t: u64, rng: &mut ChaCha8Rng) -> Vec<(usize, Argv)> {
    let mut plan = TestPlan::new(sc, t, rng);
    let mut cmd = Command::default();
    let mut out = Vec::new();
    while let Some(p) = plan.next_into(rng, &mut cmd) {
        out.push((p, cmd.to_argv()));
    }
    out
}

/// The random stream for the commands of run `seed`.
pub fn rng_for(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0xc0ff_ee00)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_as_format_writes_them() {
        let mut edges: Vec<u64> = (0..=10_000).collect();
        let mut p = 10u64;
        for _ in 1..20 {
            edges.extend([p - 1, p, p + 1, p * 2 - 1]);
            p = p.saturating_mul(10);
        }
        edges.extend([u64::MAX - 1, u64::MAX, u32::MAX as u64, 123_456_789_012_345]);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        edges.extend((0..10_000).map(|_| rng.random::<u64>() >> rng.random_range(0..64)));
        for n in edges {
            let mut v = b"x".to_vec();
            push_decimal(&mut v, n);
            assert_eq!(v, format!("x{n}").into_bytes());
            assert_eq!(decimal_len(n), format!("{n}").len());
        }
    }

    /// Every rendered command of a scenario with several processes, hashes with a TTL, string
    /// keys with one, deletions, scripts and a group name too long for a key rendered in place:
    /// key names as `format!` writes them (`GROUP:PROCESS:T:J`), each key written once per
    /// process and test, the fields `f0`, `f1`, ..., TTLs in milliseconds.
    #[test]
    fn commands_render_as_format_writes_them() {
        let long = "g".repeat(50);
        let text = format!(
            "name = \"render\"\nruns = 1\nseed = 1\n[server]\nprofile = \"redis-7.0-debian\"\n\
             [workload]\ntests = 3\nparallel = 3\nflush = \"before_each\"\n\
             [[workload.keys]]\nname = \"s\"\ncount = 40\nvalue_size = 100\nttl_seconds = 2.5\ncleanup = 0.5\n\
             [[workload.keys]]\nname = \"h\"\ncount = 30\ntype = \"hash\"\nfields = 12\nvalue_size = 16\nttl_seconds = 1.0\n\
             [[workload.keys]]\nname = \"{long}\"\ncount = 120\nvalue_size = 10\n\
             [[workload.scripts]]\nname = \"check\"\nsize = 200\nunique = true\n"
        );
        let f = crate::workload::parse(&text, "render").unwrap();
        let sc = f.first();
        let mut rng = rng_for(1);
        let mut seen = std::collections::HashSet::new();
        let mut n = 0;
        for t in 0..sc.tests {
            for (p, argv) in test_plan(sc, t, &mut rng) {
                n += 1;
                let verb = String::from_utf8(argv[0].to_vec()).unwrap();
                if ["FLUSHALL", "EVAL"].contains(&verb.as_str()) {
                    continue;
                }
                let key = String::from_utf8(argv[1].to_vec()).unwrap();
                let parts: Vec<&str> = key.split(':').collect();
                let k = sc.keys.iter().find(|k| k.name == parts[0]).unwrap();
                let j: u64 = parts[3].parse().unwrap();
                assert_eq!(key, format!("{}:{p}:{t}:{j}", k.name));
                assert!(j < k.count);
                match verb.as_str() {
                    "SET" => {
                        assert!(seen.insert((p, key.clone())), "{key} written twice");
                        if k.name == "s" {
                            assert_eq!(argv[2].len(), 100);
                            assert_eq!(argv[3..], [&b"PX"[..], b"2500"]);
                        } else {
                            assert_eq!((argv[2].len(), argv.len()), (10, 3));
                        }
                    }
                    "HSET" => {
                        assert!(seen.insert((p, key.clone())), "{key} written twice");
                        assert_eq!(argv.len(), 2 + 2 * 12);
                        for (f, pair) in argv[2..].chunks(2).enumerate() {
                            assert_eq!(pair[0], format!("f{f}").into_bytes());
                            assert_eq!(pair[1].len(), 16);
                        }
                    }
                    "PEXPIRE" => assert_eq!(argv[2], &b"1000"[..]),
                    "DEL" => assert_eq!(argv.len(), 2),
                    _ => unreachable!("{verb}"),
                }
            }
            seen.clear();
        }
        assert!(n > 3 * 3 * (40 + 60 + 120));
    }

    /// `fractional_scores` is a share of the scores, also in keys of a few elements: 2,000
    /// sorted sets of 50 members at 0.5 hold 50,009 fractional scores of 100,000 (0.5001),
    /// from 14 to 35 per key. Drawn from the element's number alone, every key had the same
    /// 26 of its first 50 fractional (0.52): a scenario imported from 19,013 sorted sets of
    /// 1-100 members (`board:*` of the import test's data set, a share of 0.4987) held 0.523,
    /// and predicted their listpacks 14-28 B per key (0.8-1.6 %) too large. `score_digits`
    /// is drawn the same way: 6 digits in 90 % of the integer scores.
    #[test]
    fn the_fractional_share_holds_in_small_sorted_sets() {
        let text = "name = \"mixed\"\nruns = 1\nseed = 1\n[server]\nprofile = \"redis-7.0-debian\"\n\
             [workload]\ntests = 1\n\
             [[workload.keys]]\nname = \"b\"\ncount = 2000\ntype = \"zset\"\nelements = 50\nelement_size = 12\nbatch = 50\n\
             fractional_scores = 0.5\nscore_digits = { dist = \"choice\", values = [5, 6], weights = [1, 9] }\n";
        let f = crate::workload::parse(text, "mixed").unwrap();
        let sc = f.first();
        let old = (0..50u64).filter(|&e| unit(e ^ 0x5c0e_5c0e) < 0.5).count();
        assert_eq!(old, 26);
        let mut rng = rng_for(1);
        let (mut fractional, mut integers, mut six) = (0u64, 0u64, 0u64);
        let mut per_key = std::collections::BTreeSet::new();
        for (_, argv) in test_plan(sc, 0, &mut rng) {
            assert_eq!(argv[0], &b"ZADD"[..]);
            let scores: Vec<&[u8]> = argv[2..].chunks(2).map(|p| &p[0][..]).collect();
            assert_eq!(scores.len(), 50);
            let fr = scores.iter().filter(|s| s.contains(&b'.')).count() as u64;
            per_key.insert(fr);
            fractional += fr;
            for s in scores.iter().filter(|s| !s.contains(&b'.')) {
                integers += 1;
                six += u64::from(s.len() == 6);
            }
        }
        assert_eq!((fractional, integers), (50_009, 49_991));
        assert_eq!((per_key.first(), per_key.last()), (Some(&14), Some(&35)));
        assert!(
            (six as f64 / integers as f64 - 0.9).abs() < 0.01,
            "{six} of {integers}"
        );
    }

    /// Lists, sets and sorted sets: each key's elements added in batches, each batch followed
    /// by the removal its churn share owes (a list pops from the head, a set or sorted set
    /// removes its oldest members by name); integer members of the drawn digits, letter members
    /// of the drawn size, distinct; scores; and the key and field name shapes.
    #[test]
    fn collections_and_name_shapes_render_as_the_grammar_says() {
        let text = "name = \"shapes\"\nruns = 1\nseed = 1\n[server]\nprofile = \"redis-7.0-debian\"\n\
             [workload]\ntests = 2\n\
             [[workload.keys]]\nname = \"q\"\ncount = 2\ntype = \"list\"\nelements = 25\nelement_size = 100\nbatch = 10\npop = 0.5\n\
             [[workload.keys]]\nname = \"tags\"\ncount = 1\ntype = \"set\"\nelements = 20\nelement_size = 5\ncontent = \"integer\"\nbatch = 3\nremove = 0.25\nkey_pattern = \"tag:{test}:{n}:ids\"\n\
             [[workload.keys]]\nname = \"lb\"\ncount = 1\ntype = \"zset\"\nelements = 7\nelement_size = { dist = \"uniform\", min = 3, max = 9 }\nbatch = 4\nremove = 0.5\nscores = \"fractional\"\nkey_size = 12\n\
             [[workload.keys]]\nname = \"h\"\ncount = 1\ntype = \"hash\"\nfields = 12\nvalue_size = 3\ncontent = \"integer\"\nfield_size = 4\n\
             [[workload.keys]]\nname = \"n\"\ncount = 3\nvalue_size = 4\ncontent = \"integer\"\n";
        let f = crate::workload::parse(text, "shapes").unwrap();
        let sc = f.first();
        let mut rng = rng_for(1);
        let plan = test_plan(sc, 1, &mut rng);
        let words = |a: &Argv| -> Vec<String> {
            a.iter()
                .map(|x| String::from_utf8_lossy(x).into_owned())
                .collect()
        };
        let cmds: Vec<Vec<String>> = plan.iter().map(|(_, a)| words(a)).collect();
        // Lists: 25 elements in batches of 10, 10, 5, each followed by LPOP of half of it
        // (5, 5, then 2 with 0.5 carried), per key.
        let list: Vec<&Vec<String>> = cmds.iter().filter(|c| c[1] == "q:1:0").collect();
        let shape: Vec<(String, usize)> = list.iter().map(|c| (c[0].clone(), c.len())).collect();
        let want: Vec<(String, usize)> = [
            ("RPUSH", 12),
            ("LPOP", 3),
            ("RPUSH", 12),
            ("LPOP", 3),
            ("RPUSH", 7),
            ("LPOP", 3),
        ]
        .iter()
        .map(|(v, n)| (v.to_string(), *n))
        .collect();
        assert_eq!(shape, want);
        assert_eq!([&list[1][2], &list[3][2], &list[5][2]], ["5", "5", "2"]);
        assert!(list[0][2..].iter().all(|e| e.len() == 100));
        // Sets: members 10000 + e (5 digits), 3 per SADD; every SADD of 3 owes 0.75, so SREMs
        // of the oldest members come after the 2nd, 3rd, 4th... as the share adds up.
        let set: Vec<&Vec<String>> = cmds.iter().filter(|c| c[1] == "tag:1:0:ids").collect();
        let added: Vec<&String> = set
            .iter()
            .filter(|c| c[0] == "SADD")
            .flat_map(|c| &c[2..])
            .collect();
        let want: Vec<String> = (0..20).map(|e| (10_000 + e).to_string()).collect();
        assert_eq!(added, want.iter().collect::<Vec<_>>());
        let removed: Vec<&String> = set
            .iter()
            .filter(|c| c[0] == "SREM")
            .flat_map(|c| &c[2..])
            .collect();
        assert_eq!(removed.len(), 5, "a quarter of 20");
        assert_eq!(removed, want[..5].iter().collect::<Vec<_>>(), "the oldest first");
        // Sorted sets: key padded to 12 bytes; score then member, members letters of the drawn
        // sizes; the ZREMs name the oldest members with the sizes they were added with.
        let z: Vec<&Vec<String>> = cmds.iter().filter(|c| c[0].starts_with('Z')).collect();
        assert!(z.iter().all(|c| c[1] == "lb:1:0000000"), "{:?}", z[0][1]);
        let members: Vec<&String> = z
            .iter()
            .filter(|c| c[0] == "ZADD")
            .flat_map(|c| c[2..].iter().skip(1).step_by(2))
            .collect();
        assert_eq!(members.len(), 7);
        for (e, m) in members.iter().enumerate() {
            assert!(
                (3..=9).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_lowercase()),
                "{m}"
            );
            let score: f64 = z
                .iter()
                .filter(|c| c[0] == "ZADD")
                .flat_map(|c| c[2..].chunks(2))
                .nth(e)
                .unwrap()[0]
                .parse()
                .unwrap();
            assert!(score > e as f64 && score < e as f64 + 1.0);
        }
        let zrem: Vec<&String> = z
            .iter()
            .filter(|c| c[0] == "ZREM")
            .flat_map(|c| &c[2..])
            .collect();
        assert_eq!(zrem, members[..zrem.len()].to_vec());
        assert_eq!(
            zrem.len(),
            3,
            "half of 7, rounded down per batch: 2 then 1 (0.5 + 1.5)"
        );
        // Hash fields of 4 bytes, integer values of 3 digits; integer strings of 4 digits.
        let h = cmds.iter().find(|c| c[0] == "HSET").unwrap();
        assert_eq!(h[2..6], ["f000", "100", "f001", "101"]);
        assert_eq!(h[24..26], ["f011", "111"]);
        let n: Vec<&String> = cmds.iter().filter(|c| c[0] == "SET").map(|c| &c[2]).collect();
        assert_eq!(n, ["1000", "1001", "1002"]);
    }

    /// The grammar imported data sets use: key lengths from a distribution (in key order),
    /// fields per hash drawn per key, field-name lengths spread over each hash's fields, a
    /// share of integers among byte values, and the TTL on a share of the keys.
    #[test]
    fn drawn_names_integer_shares_and_ttl_shares_render_as_the_grammar_says() {
        let text = "name = \"d\"\n[server]\nprofile = \"redis-7.0-debian\"\n[workload]\ntests = 1\n\
             [[workload.keys]]\nname = \"s\"\ncount = 8\nvalue_size = 30\nkey_pattern = \"user:{n}:s\"\n\
             key_size = { dist = \"choice\", values = [8, 12], weights = [3, 1] }\n\
             integers = 0.5\ninteger_digits = 5\nttl_seconds = 100\nttl_share = 0.25\n\
             [[workload.keys]]\nname = \"h\"\ncount = 40\ntype = \"hash\"\n\
             fields = { dist = \"uniform\", min = 2, max = 5 }\nvalue_size = 7\n\
             field_size = { dist = \"choice\", values = [4, 10], weights = [1, 1] }\n\
             [[workload.keys]]\nname = \"short\"\ncount = 60\nvalue_size = 1\nkey_pattern = \"k:{n}\"\n\
             key_size = { dist = \"choice\", values = [3], weights = [1] }\n\
             [[workload.keys]]\nname = \"fl\"\ncount = 1\ntype = \"hash\"\nfields = 60\nvalue_size = 2\nfield_size = 1\n";
        let f = crate::workload::parse(text, "drawn").unwrap();
        let sc = f.first();
        let mut rng = rng_for(3);
        let plan = test_plan(sc, 0, &mut rng);
        let cmds: Vec<Vec<String>> = plan
            .iter()
            .map(|(_, a)| {
                a.iter()
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .collect()
            })
            .collect();
        let sets: Vec<&Vec<String>> = cmds.iter().filter(|c| c[0] == "SET").collect();
        // Keys 0-5 (quantiles under 3/4) padded to 8 bytes, 6-7 to 12.
        let names: Vec<&str> = sets
            .iter()
            .map(|c| c[1].as_str())
            .filter(|n| n.starts_with("user:"))
            .collect();
        assert_eq!(
            names,
            [
                "user:0:s",
                "user:1:s",
                "user:2:s",
                "user:3:s",
                "user:4:s",
                "user:5:s",
                "user:00006:s",
                "user:00007:s"
            ]
        );
        // A quarter of 8 keys have the TTL: keys 3 and 7, where floor(j / 4) steps.
        let sets: Vec<&Vec<String>> = sets.into_iter().filter(|c| c[1].starts_with("user:")).collect();
        let ttl: Vec<&str> = sets
            .iter()
            .filter(|c| c.len() == 5)
            .map(|c| c[1].as_str())
            .collect();
        assert_eq!(ttl, ["user:3:s", "user:00007:s"]);
        // Each value is 30 bytes, or an integer of 5 digits (10000 + the key's number).
        let ints: Vec<u64> = sets.iter().filter_map(|c| c[2].parse().ok()).collect();
        assert!(sets.iter().all(|c| c[2].len() == 30 || c[2].len() == 5));
        assert!(ints.iter().all(|n| (10_000..10_008).contains(n)), "{ints:?}");
        assert!((1..8).contains(&ints.len()), "{ints:?} of 8 integers");
        // Hashes: 2 to 5 fields; the first half of each hash's fields named in 4 bytes, the
        // rest in 10.
        // One-byte field names: the first 52 fields in letters, the rest as they are.
        let fl = cmds
            .iter()
            .find(|c| c[0] == "HSET" && c[1].starts_with("fl:"))
            .unwrap();
        let names: Vec<&str> = fl[2..].iter().step_by(2).map(String::as_str).collect();
        assert_eq!(names[..3], ["A", "B", "C"]);
        assert_eq!(names[50..54], ["y", "z", "f52", "f53"]);
        let hsets: Vec<&Vec<String>> = cmds
            .iter()
            .filter(|c| c[0] == "HSET" && !c[1].starts_with("fl:"))
            .collect();
        let mut counts = std::collections::BTreeSet::new();
        for h in &hsets {
            let n = (h.len() - 2) / 2;
            counts.insert(n);
            let widths: Vec<usize> = h[2..].iter().step_by(2).map(|f| f.len()).collect();
            let want: Vec<usize> = (0..n)
                .map(|f| {
                    if (f as f64 + 0.5) / (n as f64) < 0.5 {
                        4
                    } else {
                        10
                    }
                })
                .collect();
            assert_eq!(widths, want, "{h:?}");
            assert!(h[3..].iter().step_by(2).all(|v| v.len() == 7));
        }
        assert_eq!(counts.into_iter().collect::<Vec<_>>(), [2, 3, 4, 5]);
        // Names drawn shorter than the number's digits: 10-51 in one letter (base 52), 52 and
        // up (no one-letter name left) as they are; all distinct.
        let short: Vec<&str> = cmds
            .iter()
            .filter(|c| c[1].starts_with("k:"))
            .map(|c| c[1].as_str())
            .collect();
        assert_eq!(short.len(), 60);
        assert_eq!(
            &short[..11],
            ["k:0", "k:1", "k:2", "k:3", "k:4", "k:5", "k:6", "k:7", "k:8", "k:9", "k:K"]
        );
        assert_eq!(&short[51..53], ["k:z", "k:52"]);
        assert_eq!(short.iter().collect::<std::collections::HashSet<_>>().len(), 60);
    }

    /// The sparse shuffle picks what a whole Fisher-Yates shuffle of the positions would, with
    /// the same draws.
    #[test]
    fn deletions_are_a_fisher_yates_prefix() {
        for (cleanup, count, seed) in [
            (0.5, 100u64, 1u64),
            (1.0, 37, 2),
            (0.1, 1000, 3),
            (0.0, 10, 4),
            (0.9, 1, 5),
        ] {
            let mut a = ChaCha8Rng::seed_from_u64(seed);
            let mut b = a.clone();
            let n = count as usize;
            let ndel = ((cleanup * n as f64).round() as usize).min(n);
            let mut order: Vec<usize> = (0..n).collect();
            for i in 0..ndel {
                let j = a.random_range(i..order.len());
                order.swap(i, j);
            }
            let want: Vec<u64> = order[..ndel].iter().map(|&i| i as u64).collect();
            assert_eq!(pick_deletions(cleanup, count, &mut b), want);
            assert_eq!(a.random::<u64>(), b.random::<u64>(), "the same draws");
        }
    }
}
