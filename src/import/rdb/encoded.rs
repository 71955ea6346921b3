//! The encoded values a dump carries whole: listpacks, ziplists, intsets and zipmaps, walked
//! entry by entry with the checks Redis's deep integrity validation makes
//! (`lpValidateIntegrity`, `ziplistValidateIntegrity`, `intsetValidateIntegrity`,
//! `zipmapValidateIntegrity`): the header's byte count equals the blob's length, every entry
//! lies inside, an entry's back-length (listpack) or the next entry's previous-length
//! (ziplist) matches it, the end marker is where it should be, and element counts agree where
//! the format has them. Also Redis's `string2ll`.

/// One entry of an encoded value: bytes, or an integer stored as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry<'a> {
    Str(&'a [u8]),
    Int(i64),
}

/// Why an encoded value is rejected: at which byte of it, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bad {
    pub at: usize,
    pub why: &'static str,
}

fn bad<T>(at: usize, why: &'static str) -> Result<T, Bad> {
    Err(Bad { at, why })
}

/// Redis's `string2ll`: the integer `s` is the canonical decimal text of (an optional minus,
/// no leading zeros, no "-0", no spaces, at most 20 bytes, within i64), if it is one.
#[inline]
pub(crate) fn string2ll(s: &[u8]) -> Option<i64> {
    let n = s.len();
    if n == 0 || n > 20 {
        return None;
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        Some(b'0') if n == 1 => return Some(0),
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    if neg {
        if v > 1 << 63 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// The length of `v`'s decimal text (with its minus sign).
#[inline]
pub(crate) fn int_len(v: i64) -> u64 {
    let mut u = v.unsigned_abs();
    let mut n = 1 + u64::from(v < 0);
    while u >= 10 {
        u /= 10;
        n += 1;
    }
    n
}

fn le16(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn le32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn le64(b: &[u8], i: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

/// Sign-extends the low `bits` bits of `v`.
fn sext(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Bytes of a listpack back-length for an entry of `l` bytes (`lpEncodeBacklen`).
pub(crate) fn backlen_size(l: u64) -> usize {
    if l <= 127 {
        1
    } else if l < 16_383 {
        2
    } else if l < 2_097_151 {
        3
    } else if l < 268_435_455 {
        4
    } else {
        5
    }
}

/// The back-length that ends just before `end` (`lpDecodeBacklen`): 7 bits a byte, read
/// backwards, at most 5 bytes.
fn decode_backlen(lp: &[u8], end: usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    let mut i = end;
    loop {
        i = i.checked_sub(1)?;
        let b = lp[i];
        v |= u64::from(b & 127) << shift;
        if b & 128 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
}

/// Walks a listpack, giving each entry to `f`; the number of entries.
pub(crate) fn listpack<'a>(
    lp: &'a [u8],
    mut f: impl FnMut(Entry<'a>) -> Result<(), &'static str>,
) -> Result<usize, Bad> {
    const HDR: usize = 6;
    let size = lp.len();
    if size < HDR + 1 {
        return bad(0, "shorter than a listpack's header and end byte");
    }
    if le32(lp, 0) as usize != size {
        return bad(
            0,
            "the listpack's header gives another total size than its length",
        );
    }
    let last = size - 1;
    if lp[last] != 0xFF {
        return bad(last, "the listpack does not end with its end byte");
    }
    let numele = le16(lp, 4);
    let mut p = HDR;
    let mut count = 0usize;
    while lp[p] != 0xFF {
        let b = lp[p];
        // (header bytes, string length, entry)
        let (hdr, slen, int) = match b {
            0x00..=0x7F => (1, 0, Some(i64::from(b))),
            0x80..=0xBF => (1, u64::from(b & 0x3F), None),
            0xC0..=0xDF => {
                // lp[p + 1] exists: lp[p] is not the end byte, which is last.
                let v = (u64::from(b & 0x1F) << 8) | u64::from(lp[p + 1]);
                (2, 0, Some(sext(v, 13)))
            }
            0xE0..=0xEF => {
                if p + 2 > last {
                    return bad(p, "a listpack entry's header runs past the end");
                }
                (2, (u64::from(b & 0x0F) << 8) | u64::from(lp[p + 1]), None)
            }
            0xF0 => {
                if p + 5 > last {
                    return bad(p, "a listpack entry's header runs past the end");
                }
                (5, u64::from(le32(lp, p + 1)), None)
            }
            0xF1..=0xF4 => {
                let w = match b {
                    0xF1 => 2,
                    0xF2 => 3,
                    0xF3 => 4,
                    _ => 8,
                };
                if p + 1 + w > last {
                    return bad(p, "a listpack entry runs past the end");
                }
                let mut v = 0u64;
                for k in (0..w).rev() {
                    v = (v << 8) | u64::from(lp[p + 1 + k]);
                }
                (1 + w, 0, Some(sext(v, 8 * w as u32)))
            }
            _ => return bad(p, "a listpack entry has an unknown encoding byte"),
        };
        let enc = hdr as u64 + slen;
        let next = p as u64 + enc + backlen_size(enc) as u64;
        if next > last as u64 {
            return bad(p, "a listpack entry runs past the end");
        }
        let next = next as usize;
        if decode_backlen(lp, next) != Some(enc) {
            return bad(p, "a listpack entry's back-length does not match its size");
        }
        let e = match int {
            Some(v) => Entry::Int(v),
            None => Entry::Str(&lp[p + hdr..p + enc as usize]),
        };
        if let Err(why) = f(e) {
            return bad(p, why);
        }
        count += 1;
        p = next;
    }
    if p != last {
        return bad(p, "the listpack's end byte comes before its end");
    }
    if numele != u16::MAX && usize::from(numele) != count {
        return bad(
            4,
            "the listpack's header gives another number of entries than it has",
        );
    }
    Ok(count)
}

/// Walks a ziplist, giving each entry to `f`; the number of entries.
pub(crate) fn ziplist<'a>(
    zl: &'a [u8],
    mut f: impl FnMut(Entry<'a>) -> Result<(), &'static str>,
) -> Result<usize, Bad> {
    const HDR: usize = 10;
    let size = zl.len();
    if size < HDR + 1 {
        return bad(0, "shorter than a ziplist's header and end byte");
    }
    if le32(zl, 0) as usize != size {
        return bad(0, "the ziplist's header gives another total size than its length");
    }
    let last = size - 1;
    if zl[last] != 0xFF {
        return bad(last, "the ziplist does not end with its end byte");
    }
    let tail = le32(zl, 4) as usize;
    if tail > last {
        return bad(4, "the ziplist's tail offset points past its end");
    }
    let zllen = le16(zl, 8);
    let mut p = HDR;
    let mut prev_size = 0u64;
    let mut prev = None;
    let mut count = 0usize;
    while zl[p] != 0xFF {
        let (prs, prevlen) = if zl[p] < 254 {
            (1, u64::from(zl[p]))
        } else {
            if p + 5 > last {
                return bad(p, "a ziplist entry's header runs past the end");
            }
            (5, u64::from(le32(zl, p + 1)))
        };
        let q = p + prs;
        if q > last {
            return bad(p, "a ziplist entry's header runs past the end");
        }
        let e = zl[q];
        // (length bytes, data length, integer width or immediate)
        let (lensize, len) = if e < 0xC0 {
            match e >> 6 {
                0 => (1, u64::from(e & 0x3F)),
                1 => {
                    if q + 1 > last {
                        return bad(p, "a ziplist entry's header runs past the end");
                    }
                    (2, (u64::from(e & 0x3F) << 8) | u64::from(zl[q + 1]))
                }
                _ => {
                    if q + 4 > last {
                        return bad(p, "a ziplist entry's header runs past the end");
                    }
                    let v = u32::from_be_bytes([zl[q + 1], zl[q + 2], zl[q + 3], zl[q + 4]]);
                    (5, u64::from(v))
                }
            }
        } else {
            match e {
                0xC0 => (1, 2),
                0xD0 => (1, 4),
                0xE0 => (1, 8),
                0xF0 => (1, 3),
                0xFE => (1, 1),
                0xF1..=0xFD => (1, 0),
                _ => return bad(p, "a ziplist entry has an unknown encoding byte"),
            }
        };
        if q + lensize > last {
            return bad(p, "a ziplist entry's header runs past the end");
        }
        let data = q + lensize;
        let next = data as u64 + len;
        if next > last as u64 {
            return bad(p, "a ziplist entry runs past the end");
        }
        if prevlen != prev_size {
            return bad(p, "a ziplist entry's previous-entry length does not match");
        }
        let next = next as usize;
        let entry = if e < 0xC0 {
            Entry::Str(&zl[data..next])
        } else {
            let w = len as usize;
            let v = match e {
                0xF1..=0xFD => i64::from(e & 0x0F) - 1,
                _ => {
                    let mut v = 0u64;
                    for k in (0..w).rev() {
                        v = (v << 8) | u64::from(zl[data + k]);
                    }
                    sext(v, 8 * w as u32)
                }
            };
            Entry::Int(v)
        };
        if let Err(why) = f(entry) {
            return bad(p, why);
        }
        prev_size = (next - p) as u64;
        prev = Some(p);
        p = next;
        count += 1;
    }
    if p != last {
        return bad(p, "the ziplist's end byte comes before its end");
    }
    if prev.is_some_and(|q| q != tail) {
        return bad(4, "the ziplist's tail offset is not its last entry");
    }
    if zllen != u16::MAX && usize::from(zllen) != count {
        return bad(
            8,
            "the ziplist's header gives another number of entries than it has",
        );
    }
    Ok(count)
}

/// Walks an intset (ascending integers of 2, 4 or 8 bytes), giving each to `f`.
pub(crate) fn intset(is: &[u8], mut f: impl FnMut(i64)) -> Result<usize, Bad> {
    if is.len() < 8 {
        return bad(0, "shorter than an intset's header");
    }
    let w = le32(is, 0) as usize;
    if !matches!(w, 2 | 4 | 8) {
        return bad(0, "the intset's integer width is not 2, 4 or 8");
    }
    let count = le32(is, 4) as u64;
    if 8 + count * w as u64 != is.len() as u64 {
        return bad(4, "the intset's header gives another size than its length");
    }
    if count == 0 {
        return bad(4, "the intset is empty");
    }
    let mut prev = i64::MIN;
    for i in 0..count as usize {
        let at = 8 + i * w;
        let v = match w {
            2 => i64::from(le16(is, at) as i16),
            4 => i64::from(le32(is, at) as i32),
            _ => le64(is, at) as i64,
        };
        if i > 0 && v <= prev {
            return bad(at, "the intset's integers are not in ascending order");
        }
        prev = v;
        f(v);
    }
    Ok(count as usize)
}

/// Walks a zipmap (Redis 2.x hashes: field, value, field, value, ...), giving each string to
/// `f`; the number of pairs.
pub(crate) fn zipmap<'a>(zm: &'a [u8], mut f: impl FnMut(&'a [u8])) -> Result<usize, Bad> {
    let size = zm.len();
    if size < 2 {
        return bad(0, "shorter than a zipmap's header and end byte");
    }
    let last = size - 1;
    if zm[last] != 0xFF {
        return bad(last, "the zipmap does not end with its end byte");
    }
    // A length: 1 byte below 254, else 254 (or 255) and 4 bytes.
    let length = |p: usize| -> Result<(usize, u64), Bad> {
        if zm[p] < 254 {
            Ok((1, u64::from(zm[p])))
        } else if p + 5 > last {
            bad(p, "a zipmap length runs past the end")
        } else {
            Ok((5, u64::from(le32(zm, p + 1))))
        }
    };
    let mut p = 1usize;
    let mut count = 0usize;
    while zm[p] != 0xFF {
        let (s, l) = length(p)?;
        let field = p + s;
        let end = field as u64 + l;
        if end > last as u64 {
            return bad(p, "a zipmap field runs past the end");
        }
        let q = end as usize;
        let (s, l) = length(q)?;
        let free = q + s;
        let value = free + 1;
        let end = value as u64 + l + u64::from(zm[free]);
        if end > last as u64 {
            return bad(q, "a zipmap value runs past the end");
        }
        f(&zm[field..q]);
        f(&zm[value..value + l as usize]);
        p = end as usize;
        count += 1;
    }
    if count == 0 {
        return bad(0, "the zipmap is empty");
    }
    if zm[0] != 254 && usize::from(zm[0]) != count {
        return bad(0, "the zipmap's header gives another number of pairs than it has");
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp_collect(lp: &[u8]) -> Result<Vec<Entry<'_>>, Bad> {
        let mut v = Vec::new();
        listpack(lp, |e| {
            v.push(e);
            Ok(())
        })?;
        Ok(v)
    }

    fn zl_collect(zl: &[u8]) -> Result<Vec<Entry<'_>>, Bad> {
        let mut v = Vec::new();
        ziplist(zl, |e| {
            v.push(e);
            Ok(())
        })?;
        Ok(v)
    }

    /// A listpack of `entries` (each an encoded entry without its back-length), with a
    /// correct header.
    fn lp_of(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut b = vec![0; 6];
        for e in entries {
            b.extend_from_slice(e);
            let l = e.len() as u64;
            // lpEncodeBacklen
            match backlen_size(l) {
                1 => b.push(l as u8),
                2 => b.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]),
                3 => b.extend_from_slice(&[
                    (l >> 14) as u8,
                    ((l >> 7) & 127) as u8 | 128,
                    (l & 127) as u8 | 128,
                ]),
                _ => unreachable!(),
            }
        }
        b.push(0xFF);
        let n = b.len() as u32;
        b[0..4].copy_from_slice(&n.to_le_bytes());
        b[4..6].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        b
    }

    #[test]
    fn string2ll_follows_redis() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"123"), Some(123));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for s in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1.0",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"123456789012345678901",
            b"abc",
        ] {
            assert_eq!(string2ll(s), None, "{:?}", String::from_utf8_lossy(s));
        }
        // The same answers as the model's own parser on a sweep of texts.
        for s in [
            "7",
            "-7",
            "10",
            "-10",
            "99999999999999999999",
            "1e3",
            "0x1",
            "-",
            "00",
        ] {
            assert_eq!(
                string2ll(s.as_bytes()),
                crate::redis::encoding::as_integer(s.as_bytes()),
                "{s}"
            );
        }
    }

    #[test]
    fn int_len_counts_digits_and_sign() {
        assert_eq!(int_len(0), 1);
        assert_eq!(int_len(9), 1);
        assert_eq!(int_len(10), 2);
        assert_eq!(int_len(-1), 2);
        assert_eq!(int_len(-4096), 5);
        assert_eq!(int_len(i64::MAX), 19);
        assert_eq!(int_len(i64::MIN), 20);
    }

    /// Every listpack encoding: 7-bit unsigned, 13, 16, 24, 32 and 64-bit signed integers,
    /// strings with 6, 12 and 32-bit lengths, with exact values.
    #[test]
    fn listpack_every_encoding() {
        let s70 = vec![b'x'; 70];
        let s5000 = vec![b'y'; 5000];
        let mut e32 = vec![0xF0];
        e32.extend_from_slice(&5000u32.to_le_bytes());
        e32.extend_from_slice(&s5000);
        let mut e12 = vec![0xE0u8, 70]; // 12-bit length 70
        e12.extend_from_slice(&s70);
        let lp = lp_of(&[
            vec![0x05],                         // 7-bit: 5
            vec![0x7F],                         // 7-bit: 127
            vec![0xC0 | 0x1F, 0xFF],            // 13-bit: -1
            vec![0xC0 | 0x10, 0x00],            // 13-bit: -4096
            vec![0xC0 | 0x0F, 0xFF],            // 13-bit: 4095
            vec![0xF1, 0x00, 0x80],             // 16-bit: -32768
            vec![0xF1, 0x39, 0x30],             // 16-bit: 12345
            vec![0xF2, 0x00, 0x00, 0x80],       // 24-bit: -8388608
            vec![0xF2, 0x87, 0xD6, 0x12],       // 24-bit: 1234567
            vec![0xF3, 0xD2, 0x02, 0x96, 0x49], // 32-bit: 1234567890
            vec![0xF3, 0x00, 0x00, 0x00, 0x80], // 32-bit: i32::MIN
            {
                let mut e = vec![0xF4];
                e.extend_from_slice(&i64::MIN.to_le_bytes());
                e
            },
            vec![0x83, b'a', b'b', b'c'], // 6-bit string
            vec![0x80],                   // empty string
            e12,
            e32,
        ]);
        let got = lp_collect(&lp).unwrap();
        let want = [
            Entry::Int(5),
            Entry::Int(127),
            Entry::Int(-1),
            Entry::Int(-4096),
            Entry::Int(4095),
            Entry::Int(-32768),
            Entry::Int(12345),
            Entry::Int(-8_388_608),
            Entry::Int(1_234_567),
            Entry::Int(1_234_567_890),
            Entry::Int(i64::from(i32::MIN)),
            Entry::Int(i64::MIN),
            Entry::Str(b"abc"),
            Entry::Str(b""),
            Entry::Str(&s70),
            Entry::Str(&s5000),
        ];
        assert_eq!(got, want);
        // The 5,005-byte entry's back-length takes 2 bytes (5,005 < 16,383), the 72-byte
        // one's 1.
        assert_eq!(
            (backlen_size(5005), backlen_size(72), backlen_size(16_383)),
            (2, 1, 3)
        );
    }

    #[test]
    fn listpack_rejects_corruption() {
        let good = lp_of(&[vec![0x05], vec![0x83, b'a', b'b', b'c']]);
        assert_eq!(lp_collect(&good).unwrap().len(), 2);
        // Total bytes off by one.
        let mut b = good.clone();
        b[0] += 1;
        assert_eq!(lp_collect(&b).unwrap_err().at, 0);
        // The count in the header.
        let mut b = good.clone();
        b[4] = 3;
        assert_eq!(lp_collect(&b).unwrap_err().at, 4);
        // 65535 means "unknown": accepted.
        let mut b = good.clone();
        b[4..6].copy_from_slice(&[0xFF, 0xFF]);
        assert!(lp_collect(&b).is_ok());
        // A back-length that does not match.
        let mut b = good.clone();
        b[7] = 2;
        assert_eq!(lp_collect(&b).unwrap_err().at, 6);
        // A string longer than what is left.
        let mut b = good.clone();
        b[8] = 0x80 | 40;
        assert_eq!(lp_collect(&b).unwrap_err().at, 8);
        // An unknown encoding byte.
        let mut b = good.clone();
        b[6] = 0xF5;
        assert_eq!(lp_collect(&b).unwrap_err().at, 6);
        // No end byte.
        let mut b = good.clone();
        *b.last_mut().unwrap() = 0;
        assert!(lp_collect(&b).is_err());
        // An end byte too early.
        let mut b = lp_of(&[vec![0x05], vec![0x06]]);
        b[8] = 0xFF;
        assert_eq!(lp_collect(&b).unwrap_err().at, 8);
        // Too short for a header.
        assert!(lp_collect(&[7, 0, 0, 0, 0, 0]).is_err());
        // The empty listpack.
        assert_eq!(lp_collect(&[7, 0, 0, 0, 0, 0, 0xFF]).unwrap(), []);
        // A 32-bit string length near 4 GiB: rejected, not read.
        let b = lp_of(&[vec![0xF0, 0xFF, 0xFF, 0xFF, 0xFF]]);
        assert!(lp_collect(&b).is_err());
    }

    /// A ziplist of `entries` (each an encoding and data, without the previous length),
    /// with correct prevlens, header and tail.
    fn zl_of(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut b = vec![0; 10];
        let mut prev = 0usize;
        let mut tail = 10;
        for e in entries {
            tail = b.len();
            if prev < 254 {
                b.push(prev as u8);
            } else {
                b.push(254);
                b.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            b.extend_from_slice(e);
            prev = b.len() - tail;
        }
        b.push(0xFF);
        let n = b.len() as u32;
        b[0..4].copy_from_slice(&n.to_le_bytes());
        b[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
        b[8..10].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        b
    }

    /// Every ziplist encoding, and previous lengths of 1 and 5 bytes: an entry of 300 bytes
    /// makes the next one's previous length take 5.
    #[test]
    fn ziplist_every_encoding_and_prevlen() {
        let s300 = vec![b'z'; 300];
        let mut e14 = vec![0x40 | (300 >> 8) as u8, (300 & 0xFF) as u8];
        e14.extend_from_slice(&s300);
        let mut e32 = vec![0x80, 0, 0, 0x01, 0x2C]; // 32-bit big-endian length 300
        e32.extend_from_slice(&s300);
        let zl = zl_of(&[
            vec![0x03, b'a', b'b', b'c'], // 6-bit string
            e14,                          // 14-bit string
            vec![0xF1],                   // immediate 0
            vec![0xFD],                   // immediate 12
            vec![0xFE, 0x80],             // int8 -128
            vec![0xC0, 0x39, 0x30],       // int16 12345
            vec![0xF0, 0x00, 0x00, 0x80], // int24 -8388608
            vec![0xD0, 0xD2, 0x02, 0x96, 0x49],
            {
                let mut e = vec![0xE0];
                e.extend_from_slice(&(-5_000_000_000i64).to_le_bytes());
                e
            },
            e32,
            vec![0x00], // empty string after a 306-byte entry: 5-byte prevlen
        ]);
        let got = zl_collect(&zl).unwrap();
        assert_eq!(
            got,
            [
                Entry::Str(b"abc"),
                Entry::Str(&s300),
                Entry::Int(0),
                Entry::Int(12),
                Entry::Int(-128),
                Entry::Int(12345),
                Entry::Int(-8_388_608),
                Entry::Int(1_234_567_890),
                Entry::Int(-5_000_000_000),
                Entry::Str(&s300),
                Entry::Str(b""),
            ]
        );
        // The last entry's prevlen is 5 bytes: 254, then 306 (1 byte of prevlen, 5 of header,
        // 300 of data) little-endian; the entries before it have 1-byte prevlens.
        let last = zl.len() - 1 - 6;
        assert_eq!(&zl[last..last + 5], &[254, 0x32, 0x01, 0, 0]);
        assert_eq!(zl[10], 0);
    }

    #[test]
    fn ziplist_rejects_corruption() {
        let good = zl_of(&[vec![0x01, b'a'], vec![0xF2]]);
        assert_eq!(zl_collect(&good).unwrap(), [Entry::Str(b"a"), Entry::Int(1)]);
        // A previous length that does not match.
        let mut b = good.clone();
        b[13] = 2;
        assert_eq!(zl_collect(&b).unwrap_err().at, 13);
        // The tail offset.
        let mut b = good.clone();
        b[4] = 10;
        assert_eq!(zl_collect(&b).unwrap_err().at, 4);
        // The count.
        let mut b = good.clone();
        b[8] = 5;
        assert_eq!(zl_collect(&b).unwrap_err().at, 8);
        // An invalid integer encoding (0xC1).
        let mut b = good.clone();
        b[14] = 0xC1;
        assert!(zl_collect(&b).is_err());
        // A string running past the end.
        let mut b = good.clone();
        b[11] = 0x3F;
        assert!(zl_collect(&b).is_err());
        // The total size.
        let mut b = good.clone();
        b[0] -= 1;
        assert_eq!(zl_collect(&b).unwrap_err().at, 0);
    }

    #[test]
    fn intset_widths_and_order() {
        let mut is = vec![2, 0, 0, 0, 3, 0, 0, 0];
        for v in [-5i16, 7, 300] {
            is.extend_from_slice(&v.to_le_bytes());
        }
        let mut got = Vec::new();
        assert_eq!(intset(&is, |v| got.push(v)), Ok(3));
        assert_eq!(got, [-5, 7, 300]);
        let mut is8 = vec![8, 0, 0, 0, 2, 0, 0, 0];
        for v in [i64::MIN, i64::MAX] {
            is8.extend_from_slice(&v.to_le_bytes());
        }
        got.clear();
        assert_eq!(intset(&is8, |v| got.push(v)), Ok(2));
        assert_eq!(got, [i64::MIN, i64::MAX]);
        // Out of order, a wrong width, a wrong count, empty.
        let mut b = is.clone();
        b[8..10].copy_from_slice(&400i16.to_le_bytes());
        assert_eq!(intset(&b, |_| {}).unwrap_err().at, 10);
        let mut b = is.clone();
        b[0] = 3;
        assert!(intset(&b, |_| {}).is_err());
        let mut b = is.clone();
        b[4] = 4;
        assert!(intset(&b, |_| {}).is_err());
        assert!(intset(&[2, 0, 0, 0, 0, 0, 0, 0], |_| {}).is_err());
    }

    #[test]
    fn zipmap_pairs() {
        // 2 pairs: "a" -> "bb" (1 free byte), "ccc" -> "" ; then the end.
        let zm = [2, 1, b'a', 2, 1, b'b', b'b', 0, 3, b'c', b'c', b'c', 0, 0, 0xFF];
        let mut got: Vec<&[u8]> = Vec::new();
        assert_eq!(zipmap(&zm, |s| got.push(s)), Ok(2));
        assert_eq!(got, [&b"a"[..], b"bb", b"ccc", b""]);
        // A wrong count, a value past the end, empty.
        let mut b = zm;
        b[0] = 3;
        assert!(zipmap(&b, |_| {}).is_err());
        let mut b = zm;
        b[3] = 20;
        assert!(zipmap(&b, |_| {}).is_err());
        assert!(zipmap(&[0, 0xFF], |_| {}).is_err());
    }
}
