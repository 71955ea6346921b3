//! Byte counts as people write them, and as fragsim prints them.

/// Why a byte count (`30000`, `30KB`, `2MiB`) could not be read. `Display` quotes the text as
/// it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ByteCountError {
    /// The text is empty or only blanks.
    #[error("expected a byte count such as 30000, 30KB or 2MiB, got an empty string")]
    Empty,
    /// The text starts with a minus sign.
    #[error("'{0}' is negative; a byte count must be positive")]
    Negative(String),
    /// The number before the unit is not a number (`abc`, `1.2.3`, `KB`).
    #[error("'{0}' is not a byte count (expected e.g. 30000, 30KB, 2MiB)")]
    NotANumber(String),
    /// The number is followed by something that is not a unit (`12 parsecs`).
    #[error("'{input}': unknown unit '{unit}' (use B, KB, MB, GB, KiB, MiB, GiB, k, m, g)")]
    UnknownUnit {
        /// The text as given.
        input: String,
        /// The unit as read: trimmed and in lower case.
        unit: String,
    },
    /// The count is 2^64 bytes or more.
    #[error("'{0}' is too large")]
    TooLarge(String),
    /// A count that must be whole (for [`parse_bytes`]) has a fraction of a byte (`0.5`).
    #[error("'{0}' is not a whole number of bytes")]
    NotWhole(String),
}

/// Parses a byte count: a whole number with an optional unit. Units follow Redis's config
/// convention: `k`/`m`/`g` are powers of 1000, `kb`/`mb`/`gb` (any case) and `KiB`/`MiB`/`GiB`
/// powers of 1024, `b` is bytes. Examples: `30000`, `30KB` (30,720), `2k` (2,000), `1.5MiB`.
/// Fails as [`parse_bytes_f64`] does, and on a count that is not whole
/// ([`ByteCountError::NotWhole`]).
pub fn parse_bytes(s: &str) -> Result<u64, ByteCountError> {
    let bytes = parse_bytes_f64(s)?;
    if bytes.fract() != 0.0 {
        return Err(ByteCountError::NotWhole(s.into()));
    }
    Ok(bytes as u64)
}

/// Like [`parse_bytes`], but a fractional result (`"1.84GB"`) is allowed: for thresholds. Fails
/// on an empty, negative or unreadable number, an unknown unit, or 2^64 bytes or more.
pub fn parse_bytes_f64(s: &str) -> Result<f64, ByteCountError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ByteCountError::Empty);
    }
    if t.starts_with('-') {
        return Err(ByteCountError::Negative(s.into()));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: String = num.chars().filter(|&c| c != '_').collect();
    let value: f64 = num.parse().map_err(|_| ByteCountError::NotANumber(s.into()))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" | "kib" => 1 << 10,
        "m" => 1_000_000,
        "mb" | "mib" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" | "gib" => 1 << 30,
        "t" => 1_000_000_000_000,
        "tb" | "tib" => 1 << 40,
        other => {
            return Err(ByteCountError::UnknownUnit {
                input: s.into(),
                unit: other.into(),
            })
        }
    };
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(ByteCountError::TooLarge(s.into()));
    }
    Ok(bytes)
}

/// SplitMix64's finaliser: 64 well-mixed bits from `z` (callers add the golden gamma,
/// `0x9e37_79b9_7f4a_7c15`, per step or per index first). The same for the same `z` in every
/// run and on every machine: fragsim's seeds and its draws that must not depend on a
/// generator's position.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `1234567` -> `1,234,567`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share (0 to 1) as a percentage without the sign: "30", "12.5", "0.1" (at most one
/// decimal, none when whole).
pub fn share_words(share: f64) -> String {
    let pct = (share * 1000.0).round() / 10.0;
    if pct.fract() == 0.0 {
        format!("{pct:.0}")
    } else {
        format!("{pct:.1}")
    }
}

/// `n` and the noun, singular for 1: "1 run", "32 runs", "1,000 tests".
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", group(n), if n == 1 { one } else { many })
}

/// A byte count in the largest binary unit that keeps it >= 1: `36864` -> `36.0 KiB`.
pub fn human(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut u = 0;
    while v.abs() >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{} B", v.round() as i64)
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A `Field:   1234 kB` figure of a Linux `/proc` file (`/proc/meminfo`, `/proc/self/status`),
/// in KiB; `None` when the file or the field is missing.
pub fn proc_kib(file: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    })
}

/// Bytes of memory this machine has available for new work (`MemAvailable` of /proc/meminfo;
/// 8 GiB where it cannot be read).
pub fn available_memory() -> f64 {
    proc_kib("/proc/meminfo", "MemAvailable").map_or(8.0 * (1u64 << 30) as f64, |kb| kb as f64 * 1024.0)
}

/// While alive, a line on stderr after `first` and then every `period`, made by `message` from
/// the time elapsed: how a wait that may be long shows it is still alive.
pub struct Notice {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Notice {
    pub fn every(
        first: std::time::Duration,
        period: std::time::Duration,
        message: impl Fn(std::time::Duration) -> String + Send + 'static,
    ) -> Notice {
        use std::sync::atomic::Ordering::Relaxed;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let mut next = first;
            while !flag.load(Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(50));
                if start.elapsed() >= next && !flag.load(Relaxed) {
                    eprintln!("{}", message(start.elapsed()));
                    next += period;
                }
            }
        });
        Notice { done }
    }
}

impl Drop for Notice {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Says on stderr, after 2 s and then every 10 s, that fragsim is waiting on a FIFO (a named
/// pipe): opening one blocks until the other side opens it, which with nobody there looks like a
/// hang. `None` (silence) for anything else; `what` is who is awaited ("a writer", "a reader").
pub fn fifo_notice(path: &std::path::Path, what: &'static str) -> Option<Notice> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.file_type().is_fifo() {
        return None;
    }
    let shown = path.display().to_string();
    Some(Notice::every(
        std::time::Duration::from_secs(2),
        std::time::Duration::from_secs(10),
        move |t| {
            format!(
                "fragsim: waiting for {what} on {shown} (a FIFO), {:.0} s so far; Ctrl-C stops",
                t.as_secs_f64()
            )
        },
    ))
}

/// Most bytes fragsim reads from a scenario or profile file (both are a few KB of TOML): a device
/// such as /dev/zero or /dev/urandom given as one is refused after this much, not read forever.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

/// Reads a whole input file of at most [`MAX_INPUT_BYTES`], saying after 2 s when it waits on a
/// FIFO ([`fifo_notice`]).
pub fn read_input(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let waiting = fifo_notice(path, "a writer");
    let f = std::fs::File::open(path);
    drop(waiting);
    let mut bytes = Vec::new();
    f?.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is over {} (is it the right file?)",
                crate::units::human(MAX_INPUT_BYTES as f64)
            ),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_figures_in_kib() {
        let rss = proc_kib("/proc/self/status", "VmRSS").expect("VmRSS on Linux");
        assert!(rss > 0);
        // A field is matched whole: "VmRS" is not "VmRSS".
        assert_eq!(proc_kib("/proc/self/status", "VmRS"), None);
        assert_eq!(proc_kib("/nonexistent", "VmRSS"), None);
    }

    #[test]
    fn parses_units() {
        assert_eq!(parse_bytes("30000"), Ok(30000));
        assert_eq!(parse_bytes("30KB"), Ok(30720));
        assert_eq!(parse_bytes("2k"), Ok(2000));
        assert_eq!(parse_bytes("512MB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1.5MiB"), Ok(3 << 19));
        assert_eq!(parse_bytes("1_000"), Ok(1000));
        assert_eq!(parse_bytes("-5"), Err(ByteCountError::Negative("-5".into())));
        assert_eq!(
            parse_bytes("-5").unwrap_err().to_string(),
            "'-5' is negative; a byte count must be positive"
        );
        assert!(parse_bytes("12 parsecs").is_err());
        assert_eq!(parse_bytes("0.5"), Err(ByteCountError::NotWhole("0.5".into())));
    }

    #[test]
    fn formats() {
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(group(12), "12");
        assert_eq!(human(36864.0), "36.0 KiB");
        assert_eq!(human(100.0), "100 B");
    }
}
