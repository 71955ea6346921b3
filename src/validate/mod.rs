//! Harnesses that check the model against reality: the real jemalloc linked into this crate,
//! traces replayed through both, a live redis-server, and a server's recorded startup replayed
//! through the model.
pub mod bench;
pub mod compare;
pub mod live_redis;
pub mod lockstep;
pub mod real_jemalloc;
pub mod redis_bench;
pub mod startup_trace;
