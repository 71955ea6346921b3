//! The Redis commands a scenario's test sends, the same for the model and for a live server:
//! each test process's commands, interleaved at random when several share the server.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use crate::redis::argv::{value_bytes, Arg, Argv};
use crate::workload::{Flush, KeyType, Scenario};

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
    /// `HSET name f0 v0 f1 v1 ...`, the values of these sizes.
    Hset {
        group: usize,
        j: u64,
        sizes: Vec<u64>,
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
}

/// Where a test process is in its commands: the flush before the test, the writes (key group by
/// key group), the scripts, the test's own deletions (group by group), the flush after it.
#[derive(Debug, Clone)]
enum Phase {
    FlushBefore,
    /// Key `j` of group `group` is next; `expire` when its PEXPIRE (a hash with a TTL) is due.
    Write {
        group: usize,
        j: u64,
        expire: bool,
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

    fn next(&mut self, sc: &Scenario, t: u64, rng: &mut ChaCha8Rng) -> Option<Step> {
        loop {
            match &mut self.phase {
                Phase::FlushBefore => {
                    self.phase = Phase::Write {
                        group: 0,
                        j: 0,
                        expire: false,
                    };
                    if sc.flush == Flush::BeforeEach && t > 0 {
                        return Some(Step::Flush);
                    }
                }
                Phase::Write { group, j, expire } => {
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
                    if jj >= k.count {
                        *group += 1;
                        *j = 0;
                        continue;
                    }
                    match k.kind {
                        KeyType::String => {
                            *j += 1;
                            return Some(Step::Set {
                                group: g,
                                j: jj,
                                size: k.value_size.sample(rng),
                            });
                        }
                        KeyType::Hash => {
                            if k.ttl_seconds.is_some() {
                                *expire = true;
                            } else {
                                *j += 1;
                            }
                            let sizes = (0..k.fields).map(|_| k.value_size.sample(rng)).collect();
                            return Some(Step::Hset {
                                group: g,
                                j: jj,
                                sizes,
                            });
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
                        *picked = pick_deletions(k.cleanup, k.count, rng);
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

/// Appends `n` in decimal, as `format!("{n}")` writes it.
fn push_decimal(v: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    v.extend_from_slice(&digits[i..]);
}

/// One argument of a rendered command.
#[derive(Debug, Clone)]
pub enum Part {
    /// A fixed word or a value (bytes the model never reads).
    Static(&'static [u8]),
    /// A name or a number rendered for this command.
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Part {
    fn as_ref(&self) -> &[u8] {
        match self {
            Part::Static(s) => s,
            Part::Owned(v) => v,
        }
    }
}

/// A command's arguments, rendered into buffers reused from command to command.
#[derive(Debug, Clone, Default)]
pub struct Command {
    parts: Vec<Part>,
    len: usize,
}

impl Command {
    /// The arguments.
    pub fn args(&self) -> &[Part] {
        &self.parts[..self.len]
    }

    /// The arguments as an owned [`Argv`] (names copied, values still borrowed).
    pub fn to_argv(&self) -> Argv {
        self.args()
            .iter()
            .map(|a| match a {
                Part::Static(s) => Arg::Borrowed(*s),
                Part::Owned(v) => Arg::Owned(v.clone()),
            })
            .collect()
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    fn push_static(&mut self, s: &'static [u8]) {
        if self.len < self.parts.len() {
            self.parts[self.len] = Part::Static(s);
        } else {
            self.parts.push(Part::Static(s));
        }
        self.len += 1;
    }

    fn push_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        use std::io::Write;
        self.next_buf().write_fmt(args).expect("writing to a Vec");
    }

    fn push_owned(&mut self, v: Vec<u8>) {
        if self.len < self.parts.len() {
            self.parts[self.len] = Part::Owned(v);
        } else {
            self.parts.push(Part::Owned(v));
        }
        self.len += 1;
    }

    fn push_value(&mut self, size: u64) {
        match value_bytes(size) {
            Arg::Borrowed(s) => self.push_static(s),
            Arg::Owned(v) => self.push_owned(v),
        }
    }

    /// The next argument's buffer, emptied.
    fn next_buf(&mut self) -> &mut Vec<u8> {
        if self.len == self.parts.len() {
            self.parts.push(Part::Owned(Vec::new()));
        }
        let slot = &mut self.parts[self.len];
        if !matches!(slot, Part::Owned(_)) {
            *slot = Part::Owned(Vec::new());
        }
        self.len += 1;
        match slot {
            Part::Owned(v) => {
                v.clear();
                v
            }
            Part::Static(_) => unreachable!("made owned above"),
        }
    }

    /// `GROUP:T:J`, or `GROUP:PROCESS:T:J` with several test processes (written digit by
    /// digit: this runs once per command).
    fn push_key(&mut self, sc: &Scenario, group: usize, process: u64, t: u64, j: u64) {
        let parallel = sc.parallel > 1;
        let v = self.next_buf();
        v.extend_from_slice(sc.keys[group].name.as_bytes());
        if parallel {
            v.push(b':');
            push_decimal(v, process);
        }
        v.push(b':');
        push_decimal(v, t);
        v.push(b':');
        push_decimal(v, j);
    }

    fn push_ttl(&mut self, s: f64) {
        self.push_fmt(format_args!("{}", ((s * 1000.0).round() as u64).max(1)));
    }

    /// Renders `step` of test process `process` in test `t`.
    fn render(&mut self, sc: &Scenario, t: u64, process: u64, step: &Step) {
        self.clear();
        match step {
            Step::Flush => {
                self.push_static(b"FLUSHALL");
                self.push_static(b"SYNC");
            }
            Step::Set { group, j, size } => {
                self.push_static(b"SET");
                self.push_key(sc, *group, process, t, *j);
                self.push_value(*size);
                if let Some(s) = sc.keys[*group].ttl_seconds {
                    self.push_static(b"PX");
                    self.push_ttl(s);
                }
            }
            Step::Hset { group, j, sizes } => {
                self.push_static(b"HSET");
                self.push_key(sc, *group, process, t, *j);
                for (f, &size) in sizes.iter().enumerate() {
                    let v = self.next_buf();
                    v.push(b'f');
                    push_decimal(v, f as u64);
                    self.push_value(size);
                }
            }
            Step::Pexpire { group, j } => {
                self.push_static(b"PEXPIRE");
                self.push_key(sc, *group, process, t, *j);
                self.push_ttl(sc.keys[*group].ttl_seconds.expect("a TTL"));
            }
            Step::Eval { script } => {
                let s = &sc.scripts[*script];
                let tag = if s.unique {
                    format!("{}:{process}:{t}", s.name)
                } else {
                    s.name.clone()
                };
                self.push_static(b"EVAL");
                self.push_owned(script_body(s.size, &tag));
                self.push_static(b"0");
            }
            Step::Del { group, j } => {
                self.push_static(b"DEL");
                self.push_key(sc, *group, process, t, *j);
            }
        }
    }
}

/// Test `t`'s commands of every test process, one at a time, in the order the server sees
/// them: with several processes, the next command comes from a process chosen at random, in
/// proportion to the commands it has left (each process's commands are drawn first, in full).
#[derive(Debug, Clone)]
pub struct TestPlan<'a> {
    sc: &'a Scenario,
    t: u64,
    /// One process: its commands as they are made.
    single: Option<ProcessPlan>,
    /// Several: each process's commands and how many it has sent.
    lists: Vec<(Vec<Step>, usize)>,
    left: usize,
}

impl<'a> TestPlan<'a> {
    /// The plan of test `t` (0-based), drawing from `rng`.
    pub fn new(sc: &'a Scenario, t: u64, rng: &mut ChaCha8Rng) -> Self {
        if sc.parallel <= 1 {
            return TestPlan {
                sc,
                t,
                single: Some(ProcessPlan::new()),
                lists: Vec::new(),
                left: 0,
            };
        }
        let lists: Vec<(Vec<Step>, usize)> = (0..sc.parallel)
            .map(|_| {
                let mut p = ProcessPlan::new();
                (std::iter::from_fn(|| p.next(sc, t, rng)).collect(), 0)
            })
            .collect();
        let left = lists.iter().map(|l| l.0.len()).sum();
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
        if let Some(p) = self.single.as_mut() {
            let step = p.next(self.sc, self.t, rng)?;
            cmd.render(self.sc, self.t, 0, &step);
            return Some(0);
        }
        if self.left == 0 {
            return None;
        }
        let mut x = rng.random_range(0..self.left);
        let mut p = 0;
        loop {
            let remaining = self.lists[p].0.len() - self.lists[p].1;
            if x < remaining {
                break;
            }
            x -= remaining;
            p += 1;
        }
        self.left -= 1;
        let (steps, pos) = &mut self.lists[p];
        cmd.render(self.sc, self.t, p as u64, &steps[*pos]);
        *pos += 1;
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
        for n in [0, 7, 10, 99, 100, 12_345, u64::MAX] {
            let mut v = b"x".to_vec();
            push_decimal(&mut v, n);
            assert_eq!(v, format!("x{n}").into_bytes());
        }
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
