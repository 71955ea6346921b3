//! Byte counts of Redis 7 encodings: sds strings, embedded strings, listpacks, integers.

/// Header bytes of an sds string of `len` bytes (`sdsReqType` + `sdsHdrSize`): type 5 (1 B)
/// below 32, type 8 (3 B) below 256, type 16 (5 B) below 64 KiB, type 32 (9 B) below 4 GiB,
/// else type 64 (17 B). `sdsnewlen` never makes an empty string type 5.
pub fn sds_header(len: u64) -> u64 {
    if len == 0 {
        3
    } else if len < 32 {
        1
    } else if len < 256 {
        3
    } else if len < 65_536 {
        5
    } else if len < 1 << 32 {
        9
    } else {
        17
    }
}

/// Bytes requested from the allocator for a new sds of `len` bytes: header + data + NUL.
pub fn sds_request(len: u64) -> u64 {
    sds_header(len) + len + 1
}

/// Bytes of an embedded string object (`createEmbeddedStringObject`): robj (16) + sdshdr8 (3)
/// + data + NUL, in one allocation.
pub fn embstr_request(robj: u64, len: u64) -> u64 {
    robj + 3 + len + 1
}

/// Parses `s` the way `string2ll` does: an optional minus, no leading zeros, no spaces, at most
/// 20 characters, within i64.
pub fn as_integer(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    // Most values are not numbers: no need to look past their first byte.
    if !(s[0] == b'-' || s[0].is_ascii_digit()) {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    if text == "-0" {
        return None;
    }
    text.parse().ok()
}

/// Bytes of a listpack entry's back-length (`lpEncodeBacklen`) after `l` bytes of header
/// and data: `l` in 7-bit groups.
pub fn listpack_backlen(l: u64) -> u64 {
    match l {
        0..=127 => 1,
        128..=16_382 => 2,
        16_383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Bytes of a listpack string entry of `len` bytes: a 1, 2 or 5-byte header (6, 12 or
/// 32-bit length), the bytes, and the back-length.
pub fn listpack_string_entry(len: u64) -> u64 {
    let enc = if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    };
    enc + listpack_backlen(enc)
}

/// Size of one listpack entry, encoding + data + back-length (`lpEncodeGetType`,
/// `lpEncodeBacklen`).
pub fn listpack_entry(s: &[u8]) -> u64 {
    let enc_data: u64 = match as_integer(s) {
        Some(v) if (0..=127).contains(&v) => 1,
        Some(v) if (-4096..=4095).contains(&v) => 2,
        Some(v) if (-32768..=32767).contains(&v) => 3,
        Some(v) if (-8_388_608..=8_388_607).contains(&v) => 4,
        Some(v) if (-2_147_483_648..=2_147_483_647).contains(&v) => 5,
        Some(_) => 9,
        None => return listpack_string_entry(s.len() as u64),
    };
    enc_data + listpack_backlen(enc_data)
}

/// Appends the bytes of `s`'s listpack entry to `out` (`lpEncodeGetType`, `lpEncodeString`,
/// `lpEncodeBacklen`): an integer that [`as_integer`] reads in its smallest encoding (7-bit
/// unsigned; 13, 16, 24, 32 or 64-bit signed, little-endian after the type byte), any other
/// string with a 6-bit, 12-bit or 32-bit length header and its bytes; then the back-length,
/// the size of what came before it in 7-bit groups, most significant first, every byte but
/// the first with its top bit set. [`listpack_entry`] bytes in all.
pub fn encode_listpack_entry(s: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    match as_integer(s) {
        Some(v) if (0..=127).contains(&v) => out.push(v as u8),
        Some(v) if (-4096..=4095).contains(&v) => {
            let u = (v & 0x1fff) as u16;
            out.extend([0xc0 | (u >> 8) as u8, u as u8]);
        }
        Some(v) if (-32768..=32767).contains(&v) => {
            out.push(0xf1);
            out.extend_from_slice(&(v as i16).to_le_bytes());
        }
        Some(v) if (-8_388_608..=8_388_607).contains(&v) => {
            out.push(0xf2);
            out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        }
        Some(v) if (-2_147_483_648..=2_147_483_647).contains(&v) => {
            out.push(0xf3);
            out.extend_from_slice(&(v as i32).to_le_bytes());
        }
        Some(v) => {
            out.push(0xf4);
            out.extend_from_slice(&v.to_le_bytes());
        }
        None => {
            let l = s.len();
            if l < 64 {
                out.push(0x80 | l as u8);
            } else if l < 4096 {
                out.extend([0xe0 | (l >> 8) as u8, l as u8]);
            } else {
                out.push(0xf0);
                out.extend_from_slice(&(l as u32).to_le_bytes());
            }
            out.extend_from_slice(s);
        }
    }
    let l = (out.len() - start) as u64;
    let groups = listpack_backlen(l);
    for g in (0..groups).rev() {
        let bits = ((l >> (7 * g)) & 127) as u8;
        out.push(if g == groups - 1 { bits } else { bits | 128 });
    }
}

/// Header (6 B) and end byte (1 B) of a listpack.
pub const LISTPACK_OVERHEAD: u64 = 7;

/// Bytes of `v` in decimal, its sign included (`sdsll2str`): the length of the string a set
/// member that `string2ll` reads as `v` was sent as.
pub fn decimal_len(v: i64) -> u64 {
    let digits = v.unsigned_abs().checked_ilog10().map_or(1, |d| d as u64 + 1);
    digits + (v < 0) as u64
}

/// Bytes an intset needs per member to hold `v` (`_intsetValueEncoding`): 2 within 16 bits,
/// 4 within 32, else 8.
pub fn intset_width(v: i64) -> u64 {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// `double2ll` (util.c): `d` as an integer when it is one and lies within ±`LLONG_MAX / 2`
/// (so that the cast loses nothing): how a sorted set's listpack decides to store a score as an
/// integer entry.
pub fn double2ll(d: f64) -> Option<i64> {
    // (double)(LLONG_MAX / 2) is 2^62.
    const LIMIT: f64 = 4_611_686_018_427_387_904.0;
    if !(-LIMIT..=LIMIT).contains(&d) {
        return None;
    }
    let ll = d as i64;
    (ll as f64 == d).then_some(ll)
}

/// `printf("%.17g", v)`: 17 significant digits, trailing zeros dropped, in exponent notation
/// when the exponent is below -4 or above 16 (`e+XX`, at least two digits); `inf`, `-inf`,
/// `nan`, `0` and `-0` as glibc writes them. The text of a score in a reply (`addReplyDouble`)
/// and, for a score that is not an integer, in a listpack (`d2string`).
pub fn format_g17(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    fn trim(s: &str) -> &str {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            s
        }
    }
    // The exponent %g decides on is the one of the rounded %e conversion.
    let sci = format!("{v:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent notation");
    let x: i32 = exp.parse().expect("an exponent");
    if !(-4..17).contains(&x) {
        let sign = if x < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), x.unsigned_abs())
    } else {
        trim(&format!("{:.*}", (16 - x) as usize, v)).to_string()
    }
}

/// `d2string` (util.c), the text `zzlInsertAt` stores for a score that [`double2ll`] does not
/// take: `inf`, `-inf`, or `%.17g`.
pub fn d2string(v: f64) -> String {
    match double2ll(v) {
        Some(ll) if v != 0.0 => ll.to_string(),
        _ => format_g17(v),
    }
}

/// Bytes of a score's entry in a sorted set's listpack (`zzlInsertAt`): an integer entry when
/// [`double2ll`] takes it (`lpInsertInteger`), else the string entry of its [`d2string`] text.
pub fn listpack_score_entry(score: f64) -> u64 {
    match double2ll(score) {
        Some(v) => listpack_entry(v.to_string().as_bytes()),
        None => listpack_entry(d2string(score).as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sds_sizes() {
        // "k:1": type 5, 1 + 3 + 1 = 5 bytes (8-byte class).
        assert_eq!(sds_request(3), 5);
        // 2,000 B: type 16, 5 + 2,000 + 1 = 2,006 (2,048 class).
        assert_eq!(sds_request(2000), 2006);
        // 30,000 B: 30,006 (32 KiB class).
        assert_eq!(sds_request(30_000), 30_006);
        // 100 KiB: type 32, 9 + 102,400 + 1.
        assert_eq!(sds_request(102_400), 102_410);
        assert_eq!(embstr_request(16, 40), 60);
    }

    #[test]
    fn listpack_entries() {
        assert_eq!(listpack_entry(b"12"), 2); // 7-bit uint + backlen
        assert_eq!(listpack_entry(b"field1"), 8); // 1 + 6 + 1
        assert_eq!(listpack_entry(b"007"), 5); // leading zero: a string
        assert_eq!(listpack_entry(&[b'x'; 100]), 103); // 2 + 100 + 1
        assert_eq!(listpack_entry(b"100000"), 5); // 24-bit int + backlen
    }

    /// The encoder writes as many bytes as `listpack_entry` counts, at every width boundary of
    /// strings (6, 12 and 32-bit headers; 1, 2 and 3-byte back-lengths) and integers, and the
    /// bytes `lpEncodeGetType`, `lpEncodeString` and `lpEncodeBacklen` write.
    #[test]
    fn listpack_entries_encode_to_their_sizes() {
        let mut cases: Vec<Vec<u8>> = [
            0usize, 1, 63, 64, 125, 126, 127, 4095, 4096, 16_376, 16_377, 70_000,
        ]
        .iter()
        .map(|&n| vec![b'x'; n])
        .collect();
        for v in [
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "4096",
            "-4097",
            "32767",
            "-32768",
            "32768",
            "8388607",
            "-8388608",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "-9223372036854775808",
            "9223372036854775807",
            "007",
            "-0",
        ] {
            cases.push(v.as_bytes().to_vec());
        }
        for c in &cases {
            let mut out = vec![9];
            encode_listpack_entry(c, &mut out);
            assert_eq!(out.len() as u64 - 1, listpack_entry(c), "{}", c.len());
        }
        let enc = |s: &[u8]| {
            let mut out = Vec::new();
            encode_listpack_entry(s, &mut out);
            out
        };
        assert_eq!(enc(b"12"), [12, 1]);
        assert_eq!(enc(b"-1"), [0xdf, 0xff, 2]);
        assert_eq!(enc(b"1000"), [0xc3, 0xe8, 2]);
        assert_eq!(enc(b"-32768"), [0xf1, 0x00, 0x80, 3]);
        assert_eq!(enc(b"100000"), [0xf2, 0xa0, 0x86, 0x01, 4]);
        assert_eq!(enc(b"-2147483648"), [0xf3, 0, 0, 0, 0x80, 5]);
        assert_eq!(enc(b"4294967296"), [0xf4, 0, 0, 0, 0, 1, 0, 0, 0, 9]);
        assert_eq!(enc(b"ab"), [0x82, b'a', b'b', 3]);
        // 100 bytes: a 12-bit header (0xe0, 100), the bytes, then 102 in one byte.
        let e = enc(&[b'x'; 100]);
        assert_eq!((e[..2].to_vec(), e[102]), (vec![0xe0, 100], 102));
        // 200 bytes: 202 before the back-length, written as 1, then 74 | 128.
        let e = enc(&[b'x'; 200]);
        assert_eq!(e[202..], [1, 74 | 128]);
        // 5,000 bytes: a 32-bit header, 5,005 before the back-length (39, 13 | 128).
        let e = enc(&[b'x'; 5000]);
        assert_eq!(
            (e[..5].to_vec(), e[5005..].to_vec()),
            (vec![0xf0, 0x88, 0x13, 0, 0], vec![39, 13 | 128])
        );
    }

    #[test]
    fn decimal_lengths_and_intset_widths() {
        assert_eq!(decimal_len(0), 1);
        assert_eq!(decimal_len(9), 1);
        assert_eq!(decimal_len(10), 2);
        assert_eq!(decimal_len(-1), 2);
        assert_eq!(decimal_len(i64::MAX), 19);
        assert_eq!(decimal_len(i64::MIN), 20);
        assert_eq!(intset_width(32_767), 2);
        assert_eq!(intset_width(-32_768), 2);
        assert_eq!(intset_width(32_768), 4);
        assert_eq!(intset_width(-2_147_483_648), 4);
        assert_eq!(intset_width(2_147_483_648), 8);
    }
}
