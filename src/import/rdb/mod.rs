//! A streaming reader of Redis and Valkey dump files (RDB) that measures every key: its
//! database, name, type, the encoding the writing server used, its expiry, and each element's
//! length and whether it is an integer Redis would store as a number.
//!
//! Formats: RDB 9 to 13 (`REDIS0009` to `REDIS0013`: Redis 5.0 to 8.x, Valkey 7.x and 8.x)
//! and Valkey 9's RDB 80 (`VALKEY080`). Every value type: strings (raw, integer-encoded, LZF),
//! lists (linked, ziplist, quicklists of ziplists or of listpacks and plain nodes), sets
//! (plain, intset, listpack), sorted sets (plain, binary scores, ziplist, listpack), hashes
//! (plain, zipmap, ziplist, listpack, Redis 7.4's field-TTL types 22 to 25, Valkey 9's
//! `RDB_TYPE_HASH_2`), streams (walked and skipped) and module values (walked and skipped).
//! Where the two servers' numbers clash (type 22, opcode 243) the magic string decides.
//!
//! The input is read through one 256 KiB buffer; a value that must be whole to be decoded (a
//! listpack, ziplist, intset or zipmap, LZF-compressed or not) is decoded where it lies in that
//! buffer, or in one reused buffer when larger. Plain strings are never held: only their length
//! and, up to 20 bytes, whether they are integers. So memory stays bounded by the largest single
//! encoded value (and a key's element list), never by the file.
//!
//! Every byte is covered by the CRC-64 the dump ends with (a stored zero means the writer had
//! `rdbchecksum no`, [`Checksum::Absent`]); nothing may follow it. Every length read from the
//! file is checked against what can follow before anything is allocated for it, and every
//! encoded value is validated the way Redis's deep integrity checks do, so a corrupt or cut
//! file is an [`RdbError`] naming the byte offset, what was being read, and a hint; never a
//! panic, an abort or a huge allocation.

mod encoded;
mod input;
mod parse;

/// Whether Redis holds a string as an integer (`string2ll`), and which.
pub(crate) use encoded::string2ll;

use std::fmt;

/// What kind of value a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    String,
    List,
    Set,
    Zset,
    Hash,
    Stream,
    Module,
}

impl KeyKind {
    /// The name `TYPE` answers for it ("string", "zset", ...; "module" for any module type).
    pub fn type_name(self) -> &'static str {
        match self {
            KeyKind::String => "string",
            KeyKind::List => "list",
            KeyKind::Set => "set",
            KeyKind::Zset => "zset",
            KeyKind::Hash => "hash",
            KeyKind::Stream => "stream",
            KeyKind::Module => "module",
        }
    }
}

/// One element of a value as Redis would hold it: its length as text and, when the text is an
/// integer Redis would store as a number (`string2ll` rules: canonical decimal, fits i64, at
/// most 20 bytes), that number. An integer entry of a listpack, ziplist or intset, or an
/// integer-encoded string, is that integer with its decimal text's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub len: u64,
    pub int: Option<i64>,
}

/// One key of the dump, measured. The borrowed buffers are reused from key to key.
#[derive(Debug, Clone, Copy)]
pub struct KeyRecord<'a> {
    pub db: u64,
    pub key: &'a [u8],
    pub kind: KeyKind,
    /// The on-disk value type byte (`RDB_TYPE_*`), i.e. the encoding the writing server used.
    /// Type 22 is Redis's `HASH_METADATA_PRE_GA` in a `REDIS` dump and Valkey's `HASH_2` in a
    /// `VALKEY` one.
    pub rdb_type: u8,
    /// Absolute expiry in Unix ms, if any.
    pub expire_ms: Option<i64>,
    /// Strings: one item (the value). Hashes: field, value, field, value, ... Lists: elements
    /// in order. Sets: members. Zsets: members. Streams and modules: empty.
    pub items: &'a [Item],
    /// Zsets only: each member's score, in the order of `items`.
    pub scores: &'a [f64],
    /// Hashes with field TTLs: how many fields have one (0 otherwise).
    pub fields_with_ttl: u64,
    /// When the dump was written, in Unix ms: its `ctime` AUX field (which servers write
    /// before any key), if it had one; what an expiry is measured from.
    pub saved_ms: Option<i64>,
}

/// The dump's checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// The stored CRC-64 equals the one computed over the file.
    Verified(u64),
    /// The stored checksum is zero: the writer had `rdbchecksum no`, so nothing was checked.
    Absent,
}

/// What a whole dump held, beside its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct RdbSummary {
    /// The RDB version (9 to 13, or 80).
    pub version: u32,
    /// Whether the magic string is `VALKEY` (else `REDIS`).
    pub valkey: bool,
    /// The AUX fields in file order: redis-ver, redis-bits, ctime, used-mem, aof-base, ...
    pub aux: Vec<(String, String)>,
    /// Keys of the measured kinds (strings, lists, sets, zsets, hashes) given to the visitor.
    pub keys: u64,
    /// Stream keys (given to the visitor with empty items; not in `keys`).
    pub streams: u64,
    /// Module-type keys (given to the visitor with empty items; not in `keys`).
    pub modules: u64,
    /// Keys of any kind with an expiry.
    pub expires: u64,
    /// Collections with no elements, which servers drop when loading (not given to the
    /// visitor).
    pub empty_skipped: u64,
    /// Keys of any kind given to the visitor, per database: (db, keys), in file order.
    pub dbs: Vec<(u64, u64)>,
    /// RESIZEDB hints: (db, keys, keys with an expiry).
    pub resize_hints: Vec<(u64, u64, u64)>,
    /// Module keys per module type name (`moduleTypeNameByID`: 9 characters, e.g.
    /// "ReJSON-RL"), in order of first appearance.
    pub module_types: Vec<(String, u64)>,
    /// MODULE_AUX records (module data not tied to a key), skipped.
    pub module_aux: u64,
    /// FUNCTION2 records (function libraries), skipped.
    pub functions: u64,
    /// The file's size in bytes.
    pub bytes: u64,
    pub checksum: Checksum,
}

/// Why a dump was rejected.
#[derive(Debug)]
pub enum ErrorKind {
    /// Reading the input failed.
    Io(std::io::Error),
    /// The input ends inside what is named.
    Truncated { inside: &'static str },
    /// The file does not start with `REDIS` or `VALKEY` and a version number.
    NotRdb { start: Vec<u8> },
    /// An RDB version this reader does not handle.
    UnsupportedVersion { version: u32, valkey: bool },
    /// A value type or opcode byte that the dump's version does not have.
    UnknownType { byte: u8, version: u32, valkey: bool },
    /// What is named is malformed, as `detail` says.
    Corrupt { inside: &'static str, detail: String },
    /// A format the servers themselves no longer load (pre-release module or function data).
    Unsupported { what: &'static str },
    /// The stored CRC-64 is not the one computed.
    ChecksumMismatch { stored: u64, computed: u64 },
    /// Bytes after the checksum, where the file should end.
    Trailing { extra: u64 },
}

/// A rejected dump: the byte offset in the file and what is wrong there.
#[derive(Debug)]
pub struct RdbError {
    pub offset: u64,
    pub kind: ErrorKind,
}

/// A result whose error is boxed (kept small on the parser's hot paths).
type Res<T> = Result<T, Box<RdbError>>;

fn magic(version: u32, valkey: bool) -> String {
    if valkey {
        format!("VALKEY{version:03}")
    } else {
        format!("REDIS{version:04}")
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}: ", crate::units::group(self.offset))?;
        match &self.kind {
            ErrorKind::Io(e) => write!(f, "reading the dump failed: {e}"),
            ErrorKind::Truncated { inside } => {
                write!(
                    f,
                    "the file ends inside {inside} (truncated? a dump still being written?)"
                )
            }
            ErrorKind::NotRdb { start } => write!(
                f,
                "not an RDB dump: it starts with {:?} where \"REDIS0009\" to \"REDIS0013\" or \
                 \"VALKEY080\" was expected",
                String::from_utf8_lossy(start)
            ),
            ErrorKind::UnsupportedVersion { version, valkey } => write!(
                f,
                "RDB version {version} ({}) is not supported: this reader handles RDB 9 to 13 \
                 (REDIS0009 to REDIS0013: Redis 5.0 to 8.x, Valkey 7 and 8) and RDB 80 \
                 (VALKEY080: Valkey 9)",
                magic(*version, *valkey)
            ),
            ErrorKind::UnknownType {
                byte,
                version,
                valkey,
            } => write!(
                f,
                "unknown value type or opcode {byte} in a {} dump: the file is corrupt, or \
                 from a newer server",
                magic(*version, *valkey)
            ),
            ErrorKind::Corrupt { inside, detail } => {
                write!(f, "{inside} is corrupt: {detail} (the file is damaged)")
            }
            ErrorKind::Unsupported { what } => {
                write!(f, "{what}, which no released server loads, is not supported")
            }
            ErrorKind::ChecksumMismatch { stored, computed } => write!(
                f,
                "the checksum does not match: the file is corrupt (stored {stored:016x}, \
                 computed {computed:016x})"
            ),
            ErrorKind::Trailing { extra } => write!(
                f,
                "{} after the checksum, where the file should end (two dumps joined, or \
                 garbage appended?)",
                if *extra == 1 {
                    "1 byte".to_string()
                } else {
                    format!("{} bytes", crate::units::group(*extra))
                }
            ),
        }
    }
}

impl std::error::Error for RdbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Why [`read`] stopped: the dump is bad, or the visitor said stop.
#[derive(Debug)]
pub enum ReadError<E> {
    Rdb(RdbError),
    Visit(E),
}

impl<E: fmt::Display> fmt::Display for ReadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Rdb(e) => e.fmt(f),
            ReadError::Visit(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ReadError<E> {}

impl<E> From<Box<RdbError>> for ReadError<E> {
    fn from(e: Box<RdbError>) -> Self {
        ReadError::Rdb(*e)
    }
}

/// Reads a whole dump from `input` (buffered here: pass a `File` as it is), giving each key to
/// `visit` in file order; the summary once the checksum is checked. The visitor stops the read
/// by returning an error, which comes back as [`ReadError::Visit`].
pub fn read<R, F, E>(input: R, visit: F) -> Result<RdbSummary, ReadError<E>>
where
    R: std::io::Read,
    F: FnMut(&KeyRecord<'_>) -> Result<(), E>,
{
    parse::Parser::new(input).run(visit)
}
