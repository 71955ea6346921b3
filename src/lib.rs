//! fragsim: predicts how much memory a jemalloc-backed program really uses for a workload,
//! without running it.
//!
//! * [`jemalloc`]: the allocator model (size classes, slabs, extents, decay, tcache, stats).
//! * [`workload`]: scenario files.
//! * [`sim`]: replaying scenarios through the model.
//! * [`report`]: text and JSON output.
//! * [`validate`]: the real jemalloc, linked in, to check the model against.
pub mod cli;
pub mod jemalloc;
pub mod redis;
pub mod report;
pub mod sim;
pub mod units;
pub mod validate;
pub mod workload;
