//! A model of Redis 7's memory: per-key allocations, dicts, clients, latency histograms and the
//! script cache on top of the jemalloc model, `INFO memory` computed with Redis's formulas, and
//! the two different OOMs (Redis's `maxmemory` rule on `used_memory`, the kernel's on RSS).
pub mod argv;
pub mod cluster;
pub mod dict;
pub mod encoding;
mod error;
pub mod expire;
pub mod explain;
pub mod hashtable;
pub mod heap;
pub mod info;
pub mod lzf;
pub mod profile;
pub mod resp;
pub mod server;
pub mod siphash;

pub use error::{ProfileError, ProfileProblem};
pub use info::InfoMemory;
pub use profile::{RedisProfile, PROFILE_NAMES};
pub use server::Server;
