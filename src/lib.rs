//! fragsim: predicts how much memory a jemalloc-backed program really uses for a workload,
//! without running it.
pub mod jemalloc;
pub mod validate;
