//! A live redis-server: started on loopback for tests, calibrated into a profile, and replayed a
//! scenario into, test by test, next to the model.
//!
//! The pieces, re-exported here:
//! - `process`: a redis-server of its own for a test ([`RedisProcess`]);
//! - `server`: reading a live server, `INFO memory` checked and measured the same way every
//!   time ([`memory_info`], [`measure`]), and why a server could not be used ([`LiveError`]);
//! - `calibration`: a server read into a profile ([`calibrate`]);
//! - `replay`: a scenario replayed into a server and the model in lockstep ([`validate`]);
//! - `checkpoints`: what the replay returns and prints ([`Checkpoint`], [`COMPARED`],
//!   [`render_checkpoints`]).

mod calibration;
mod checkpoints;
mod process;
mod replay;
mod server;

pub use calibration::{calibrate, parse_malloc_stats, Calibration};
pub use checkpoints::{rel_err, render_checkpoints, Checkpoint, COMPARED};
pub use process::RedisProcess;
pub use replay::{validate, ValidateOptions};
pub use server::{keyspace_keys, measure, memory_info, LiveError};
