//! The model side of `validate`: one model server driven in lockstep with the live replay, with
//! every step it takes written down, so the same steps (same commands, same moments) can be
//! replayed into further model servers that differ only in what Redis draws at random when it
//! starts: the dict hash seed (hence the order in which FLUSHALL and active expiry meet keys)
//! and where the cron's 100 ms period falls (each further run keeps the phase its seed draws
//! instead of the one measured on the live server).

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::redis::info::Field;
use crate::redis::server::{ClientId, ServerError};
use crate::redis::{InfoMemory, RedisProfile, Server};
use crate::sim::montecarlo::{run_seed, Stat};

/// One thing done to the model.
#[derive(Debug, Clone)]
enum Step {
    /// Move the clock to this absolute time (ns).
    To(u64),
    /// Connect a client (the recorded id it got).
    Connect(ClientId),
    Exec(ClientId, Vec<Vec<u8>>),
    Disconnect(ClientId),
    AlignCron(u64),
    /// `measurement_traffic`: the INFO a checkpoint sent.
    Traffic,
    /// A checkpoint: `measured_info` is read here.
    Measure,
}

/// A model server that records what is done to it.
pub struct Lockstep {
    server: Server,
    profile: RedisProfile,
    steps: Vec<Step>,
    /// Whether steps are written down (they hold every command's arguments).
    record: bool,
    /// What each `measure` returned.
    measured: Vec<InfoMemory>,
}

impl Lockstep {
    /// A model server from `profile` seeded with `seed`; `record`: write the steps down for
    /// [`Lockstep::replays`]. Fails as [`Server::new`] does: on a profile whose allocator the
    /// model does not have.
    pub fn new(profile: RedisProfile, seed: u64, record: bool) -> Result<Self, ServerError> {
        Ok(Lockstep {
            server: Server::new(profile.clone(), seed)?,
            profile,
            steps: Vec::new(),
            record,
            measured: Vec::new(),
        })
    }

    fn push(&mut self, step: Step) {
        if self.record {
            self.steps.push(step);
        }
    }

    /// The model's clock (ns).
    pub fn now_ns(&self) -> u64 {
        self.server.now_ns()
    }

    /// Moves the clock to `at_ns` (never back).
    pub fn advance_to(&mut self, at_ns: u64) {
        let now = self.server.now_ns();
        if at_ns > now {
            self.server.advance(at_ns - now);
            self.push(Step::To(at_ns));
        }
    }

    pub fn connect(&mut self) -> ClientId {
        let id = self.server.connect();
        self.push(Step::Connect(id));
        id
    }

    /// Runs a command from client `id`.
    ///
    /// # Panics
    ///
    /// When `id` is not a client [`Lockstep::connect`] returned and that is still connected.
    pub fn exec<A: AsRef<[u8]>>(&mut self, id: ClientId, argv: &[A]) {
        self.server
            .exec(id, argv)
            .expect("a client this lockstep connected");
        if self.record {
            let argv = argv.iter().map(|a| a.as_ref().to_vec()).collect();
            self.steps.push(Step::Exec(id, argv));
        }
    }

    pub fn disconnect(&mut self, id: ClientId) {
        self.server.disconnect(id);
        self.push(Step::Disconnect(id));
    }

    pub fn align_cron(&mut self, at_ns: u64) {
        self.server.align_cron(at_ns);
        self.push(Step::AlignCron(at_ns));
    }

    pub fn measurement_traffic(&mut self) {
        self.server.measurement_traffic();
        self.push(Step::Traffic);
    }

    /// The INFO memory a client reads now (a checkpoint).
    pub fn measure(&mut self) -> InfoMemory {
        self.push(Step::Measure);
        let info = self.server.measured_info();
        self.measured.push(info.clone());
        info
    }

    /// Replays the recorded steps into `runs - 1` further servers, run `i` seeded with
    /// `run_seed(seed, i)`, and returns every checkpoint's figures for all `runs` (this one
    /// first). Deterministic whatever the thread count: each run is independent and the results
    /// are kept in run order.
    pub fn replays(&self, seed: u64, runs: u64) -> Vec<Vec<InfoMemory>> {
        let steps = &self.steps;
        let profile = &self.profile;
        let mut out: Vec<Vec<InfoMemory>> = (1..runs.max(1))
            .into_par_iter()
            .map(|i| replay(profile.clone(), run_seed(seed, i), false, steps))
            .collect();
        out.insert(0, self.measured.clone());
        out
    }

    /// Replays the recorded steps into a new server seeded with `seed` and returns its figures
    /// at each checkpoint. With the seed this server was made with, the figures it measured.
    pub fn replay_with(&self, seed: u64) -> Vec<InfoMemory> {
        replay(self.profile.clone(), seed, true, &self.steps)
    }
}

fn replay(profile: RedisProfile, seed: u64, own: bool, steps: &[Step]) -> Vec<InfoMemory> {
    // The lockstep server was made from the same profile, so this cannot fail.
    let Ok(mut s) = Server::new(profile, seed) else {
        return Vec::new();
    };
    let mut ids: BTreeMap<ClientId, ClientId> = BTreeMap::new();
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::To(at) => {
                let now = s.now_ns();
                if *at > now {
                    s.advance(at - now);
                }
            }
            Step::Connect(rec) => {
                let id = s.connect();
                ids.insert(*rec, id);
            }
            Step::Exec(rec, argv) => {
                if let Some(&id) = ids.get(rec) {
                    s.exec(id, argv)
                        .expect("the recorded client, connected in this replay");
                }
            }
            Step::Disconnect(rec) => {
                if let Some(id) = ids.remove(rec) {
                    s.disconnect(id);
                }
            }
            // Another fresh server's cron runs at its own moments: each run keeps the phase its
            // seed draws, unless it is the measured server's own seed.
            Step::AlignCron(at) => {
                if own {
                    s.align_cron(*at)
                }
            }
            Step::Traffic => s.measurement_traffic(),
            Step::Measure => out.push(s.measured_info()),
        }
    }
    out
}

/// The model's spread over the runs for one figure at one checkpoint (INFO memory's units).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Band {
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
}

/// Per checkpoint, per field in `fields`, the band over `runs` (each a list of checkpoints).
pub fn bands(runs: &[Vec<InfoMemory>], fields: &[Field]) -> Vec<BTreeMap<String, Band>> {
    let n = runs.iter().map(Vec::len).min().unwrap_or(0);
    (0..n)
        .map(|k| {
            fields
                .iter()
                .map(|f| {
                    let vals: Vec<f64> = runs.iter().map(|r| r[k].get(*f)).collect();
                    let s = Stat::of(&vals);
                    (
                        f.name().to_string(),
                        Band {
                            p5: s.p5,
                            p50: s.p50,
                            p95: s.p95,
                        },
                    )
                })
                .collect()
        })
        .collect()
}
