//! Importing a dump file: every key and element of an RDB file read by [`super::rdb`] into a
//! [`Dataset`], with the writing server's version and memory from the file's AUX fields.

use std::path::Path;

use super::dataset::{Dataset, Item, Kind, Observation};
use super::rdb::{self, Checksum, KeyKind, ReadError};
use super::scenario::Source;
use super::ImportError;
use crate::units::group;

/// The encoding a value had in the server that wrote it, from its RDB type byte (`OBJECT
/// ENCODING`'s word; `ziplist` and `zipmap` as the listpack they load as).
pub fn encoding_of(kind: KeyKind, rdb_type: u8) -> &'static str {
    match (kind, rdb_type) {
        (KeyKind::String, _) => "raw",
        (KeyKind::List, _) => "quicklist",
        (KeyKind::Set, 11) => "intset",
        (KeyKind::Set, 20) => "listpack",
        (KeyKind::Set, _) => "hashtable",
        (KeyKind::Zset, 12 | 17) => "listpack",
        (KeyKind::Zset, _) => "skiplist",
        (KeyKind::Hash, 9 | 13 | 16 | 23 | 25) => "listpack",
        (KeyKind::Hash, _) => "hashtable",
        (KeyKind::Stream, _) => "stream",
        (KeyKind::Module, _) => "module",
    }
}

fn kind_of(k: KeyKind) -> Kind {
    match k {
        KeyKind::String => Kind::String,
        KeyKind::List => Kind::List,
        KeyKind::Set => Kind::Set,
        KeyKind::Zset => Kind::Zset,
        KeyKind::Hash => Kind::Hash,
        KeyKind::Stream => Kind::Stream,
        KeyKind::Module => Kind::Module,
    }
}

/// Reads the dump at `path` into a [`Dataset`]; `progress(keys, 0)` every 65,536 keys.
pub fn import_dump(
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(Dataset, Source), ImportError> {
    let file = std::fs::File::open(path).map_err(|e| ImportError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    // Expiries are absolute; a key's TTL is measured from when the dump was written: its
    // `ctime`, or else the file's modification time.
    let modified_ms = file
        .metadata()
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| std::time::SystemTime::now())
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut data = Dataset::default();
    let mut items: Vec<Item> = Vec::new();
    let mut n = 0u64;
    let mut dbs = std::collections::BTreeSet::new();
    let summary = rdb::read(
        file,
        |r: &rdb::KeyRecord<'_>| -> Result<(), std::convert::Infallible> {
            items.clear();
            items.extend(r.items.iter().map(|i| Item {
                len: i.len,
                int: i.int.is_some(),
            }));
            let kind = kind_of(r.kind);
            dbs.insert(r.db);
            data.add(&Observation {
                key: r.key,
                kind,
                encoding: encoding_of(r.kind, r.rdb_type),
                ttl_ms: r
                    .expire_ms
                    .map(|e| (e - r.saved_ms.unwrap_or(modified_ms)).max(1000)),
                len: match kind {
                    Kind::String => 1,
                    Kind::Hash => (r.items.len() / 2) as u64,
                    _ => r.items.len() as u64,
                },
                items: &items,
                scores: r.scores,
                weight: 1.0,
            });
            n += 1;
            if n % 65_536 == 0 {
                progress(n, 0);
            }
            Ok(())
        },
    )
    .map_err(|e| match e {
        ReadError::Rdb(e) => ImportError::Rdb {
            path: path.display().to_string(),
            source: Box::new(e),
        },
        ReadError::Visit(never) => match never {},
    })?;
    let aux = |k: &str| summary.aux.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let server = match (aux("valkey-ver"), aux("redis-ver")) {
        (Some(v), _) => Some(("valkey".to_string(), v)),
        (None, Some(v)) if summary.valkey => Some(("valkey".to_string(), v)),
        (None, Some(v)) => Some(("redis".to_string(), v)),
        _ => None,
    };
    let magic = if summary.valkey {
        format!("VALKEY{:03}", summary.version)
    } else {
        format!("RDB {}", summary.version)
    };
    let writer = server
        .as_ref()
        .map(|(n, v)| {
            format!(
                ", written by {} {v}",
                if n == "valkey" { "Valkey" } else { "Redis" }
            )
        })
        .unwrap_or_default();
    let mut notes = Vec::new();
    if let Some(u) = aux("used-mem").and_then(|u| u.parse::<u64>().ok()) {
        notes.push(format!(
            "The server's used_memory when it wrote the dump: {}.",
            group(u)
        ));
    }
    if dbs.len() > 1 {
        notes.push(format!(
            "Keys of {} databases are imported as one keyspace.",
            dbs.len()
        ));
    }
    if summary.checksum == Checksum::Absent {
        notes.push("The dump has no checksum (rdbchecksum no): its bytes could not be verified.".into());
    }
    if summary.empty_skipped > 0 {
        notes.push(format!(
            "{} empty collections left out (a server drops them when it loads the dump).",
            group(summary.empty_skipped)
        ));
    }
    Ok((
        data,
        Source {
            what: format!(
                "{} ({magic}{writer}, {} bytes)",
                path.display(),
                group(summary.bytes)
            ),
            server,
            allocator: None,
            coverage: "every key and element".into(),
            notes,
        },
    ))
}
