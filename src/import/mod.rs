//! Bringing your own data: a keyspace read from a dump file or a live server, turned into a
//! scenario that reproduces it. [`rdb`] reads dump files, [`dump`] and [`live`] measure each
//! key of a dump or a live server, [`dataset`] gathers what the keys hold by key pattern
//! ([`pattern`]), [`scenario`] writes the scenario.

pub mod dataset;
pub mod dump;
pub mod live;
pub mod pattern;
pub mod rdb;
pub mod scenario;

/// An import that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The server could not be reached or does not speak RESP.
    #[error(transparent)]
    Resp(#[from] crate::redis::resp::RespError),
    /// A dump file that cannot be opened.
    #[error("{path}: cannot open the dump: {source}")]
    Io { path: String, source: std::io::Error },
    /// A dump file that is not a readable RDB file: truncated, corrupt, another format.
    #[error("{path}: {source}")]
    Rdb {
        path: String,
        source: Box<rdb::RdbError>,
    },
    /// The server refused a command the import needs.
    #[error("{addr}: {command} failed: {reply}{hint}")]
    Refused {
        addr: String,
        command: String,
        reply: String,
        hint: &'static str,
    },
}
