//! A model of jemalloc 5.3's placement and accounting: size classes, slabs and bins, extents and
//! the page allocator with its page caches, decay, the thread cache, base metadata, and stats with
//! jemalloc's meanings; where jemalloc 5.2.1 (Redis 7.0's bundled copy) differs, the model
//! follows it for configurations that say so ([`config::Release`]).
pub mod arena;
pub mod base;
pub mod bin;
pub mod config;
pub mod decay;
pub mod error;
pub mod extent;
pub mod pac;
pub mod pages;
pub mod sizeclass;
pub mod stats;
pub mod tcache;
pub mod trace;

pub use arena::{AllocError, Arena, ArenaOptions, ObjId};
pub use config::{AllocatorConfig, PRESET_NAMES};
pub use error::{ConfigError, InvariantError};
pub use sizeclass::SizeClasses;
pub use stats::{OwnedBytes, Residency, Stats};
pub use tcache::TcacheState;
