//! The integration tests, as one test binary (`cargo test --release --test it`): one module per
//! area, the helpers they share in `common`. Run one area with its module path as the filter,
//! e.g. `cargo test --release --test it redis_live:: -- --nocapture`.

mod common;

mod bench;
mod breakdown;
mod browser;
mod chart_data;
mod charts;
mod cli;
mod cluster_versions_live;
mod estimate;
mod fuzz;
mod import_cli;
mod import_live;
mod layering;
mod lockstep;
mod model_decay;
mod model_exact;
mod model_properties;
mod model_redis;
mod outputs;
mod rdb;
mod real_jemalloc;
mod redis_cli;
mod redis_live;
mod resp_misbehaving;
mod scenario_errors;
mod shards;
mod startup_trace;
mod sweep_report;
mod types_list_live;
mod types_live;
mod types_set_live;
mod types_versions_live;
mod types_zset_live;
mod valkey_live;
mod valkey_types_live;
mod versions;
mod versions_live;
