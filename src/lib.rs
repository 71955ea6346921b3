//! fragsim: predicts how much memory a jemalloc-backed program really uses for a workload,
//! without running it.
//!
//! The modules are layers; each imports only those above it in this list (checked by
//! `tests/it/layering.rs`):
//!
//! * [`units`]: byte counts and their text, plurals, reading inputs.
//! * [`jemalloc`]: the allocator model (size classes, slabs, extents, decay, tcache, stats) and
//!   allocation traces.
//! * [`redis`]: the Redis server model on the allocator model, server profiles, INFO memory,
//!   and a RESP client.
//! * [`workload`]: scenario files.
//! * [`sim`]: replaying scenarios through the model: Monte Carlo, sweeps, claims, where the
//!   bytes go.
//! * [`report`], [`validate`] and [`import`] (none imports another): text, JSON, charts and
//!   the report; the real jemalloc and live servers the model is checked against; a user's
//!   own data (a dump file or a live server) turned into a scenario.
//! * [`app`]: the commands, each an options struct, a function and a typed outcome.
//! * [`cli`]: the command line over [`app`].
pub mod app;
pub mod cli;
pub mod import;
pub mod jemalloc;
pub mod redis;
pub mod report;
pub mod sim;
pub mod units;
pub mod validate;
pub mod workload;
