//! What the server model's API refuses. A command Redis would refuse (unknown, wrong arity,
//! over `maxmemory`) is not an error but a [`super::Reply`]: the server answers it. These are
//! requests no Redis server could receive.

use super::client::ClientId;

/// A request the server model cannot carry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// A command from a client id that [`super::Server::connect`] never returned, or whose
    /// client has disconnected since.
    #[error("no connected client has id {0}")]
    UnknownClient(ClientId),
}
