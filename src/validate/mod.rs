//! Harnesses that check the model against reality: the real jemalloc linked into this crate,
//! and the traces replayed through both.
pub mod compare;
pub mod real_jemalloc;
pub mod trace;
