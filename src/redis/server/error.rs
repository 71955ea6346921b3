//! What the server model's API refuses. A command Redis would refuse (unknown, wrong arity,
//! over `maxmemory`) is not an error but a [`super::Reply`]: the server answers it. These are
//! requests no Redis server could receive: a server from a profile the model cannot build, a
//! command from a client that is not connected, a key to explain that Redis would not store.

use super::client::ClientId;
use crate::redis::profile::ProfileProblem;
use crate::units::human;

/// A request the server model cannot carry out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServerError {
    /// A command from a client id that [`super::Server::connect`] never returned, or whose
    /// client has disconnected since.
    #[error("no connected client has id {0}")]
    UnknownClient(ClientId),
    /// [`super::Server::new`] (or [`crate::redis::explain::key_items`]) given a profile whose
    /// allocator the model does not have ([`ProfileProblem::UnknownAllocator`]).
    #[error(transparent)]
    Profile(#[from] ProfileProblem),
    /// [`crate::redis::explain::explain_key`] asked for a hash of more fields than it simulates.
    #[error("a hash of {fields} fields: explain takes up to {max} fields per key")]
    TooManyFields { fields: u64, max: u64 },
    /// [`crate::redis::explain::explain_key`] asked for a list, set or sorted set of more
    /// elements than it simulates, or of integers longer than 19 digits.
    #[error("a {kind} of {elements} elements: explain takes 1 to {max} elements per key")]
    TooManyElements {
        kind: &'static str,
        elements: u64,
        max: u64,
    },
    #[error("integer elements of {digits} digits: give 1 to 19 digits (an integer Redis keeps as a number has at most 19)")]
    IntegerTooLong { digits: u64 },
    /// [`crate::redis::explain::explain_key`] asked for a value larger than the profile's
    /// `proto_max_bulk_len`: Redis refuses to store it.
    #[error(
        "a value of {} is larger than the {} Redis accepts in one string (proto-max-bulk-len of profile '{profile}'); Redis refuses it",
        human(*.bytes as f64),
        human(*.max as f64)
    )]
    ValueTooLarge {
        /// The value's bytes.
        bytes: u64,
        /// The profile's `proto_max_bulk_len`.
        max: u64,
        profile: String,
    },
}
