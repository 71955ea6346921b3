//! LZF, the compressor Redis 7.0 uses for the interior nodes of a list under
//! `list-compress-depth` > 0 (`__quicklistCompressNode`), as the Debian build runs it (the
//! system liblzf 3.6, whose settings are those of Redis's bundled copy: a 2^16-slot hash table
//! of positions, the "very fast" variant, the table not cleared between calls).
//!
//! What the model needs is the compressed size to the byte, and whether the compressor gives
//! up: a node's LZF block is asked for at 8 bytes plus that size. So this is the same
//! algorithm, step for step, written anew:
//! - the output is a sequence of literal runs (a control byte `n - 1`, then `n` bytes, `n` up
//!   to 32) and back-references (3 bits of length and 5 of offset in the control byte, a
//!   second length byte when the length field is full, then 8 more bits of offset: copies of
//!   3 to 264 bytes from at most 8 KiB back);
//! - at each position the next three bytes are hashed into a table that remembers the last
//!   position with that hash; a candidate is taken when it lies within 8 KiB, is not the
//!   input's first byte, and its three bytes are equal; the match is then extended (sixteen
//!   bytes at a time while more than sixteen may follow, then byte by byte);
//! - after a match only its last two positions go into the table;
//! - the compressor gives up (returns nothing) when the output would not fit in the space it
//!   is given, with the same conservative tests as the original.
//!
//! The original does not clear its table between calls (stack garbage, or the positions of an
//! earlier input). That cannot change its output: a stale slot could only matter for a hash not
//! yet seen in this input, and a candidate is only taken when its three bytes equal the current
//! ones; such bytes at an earlier position were either hashed there or copied by a match from
//! a still earlier position, back to one that was hashed, so the slot would have been written
//! in this call. This port starts each call from an empty table.

use std::cell::RefCell;

/// `HLOG`: the hash table has 2^16 slots.
const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
/// The longest literal run.
const MAX_LIT: usize = 1 << 5;
/// Back-references reach at most this far back (8 KiB).
const MAX_OFF: usize = 1 << 13;
/// The longest back-reference, in bytes.
const MAX_REF: usize = (1 << 8) + (1 << 3);
/// An empty slot.
const EMPTY: u32 = u32::MAX;

thread_local! {
    /// The hash table, kept between calls (cleared at each).
    static TABLE: RefCell<Vec<u32>> = RefCell::new(vec![EMPTY; HSIZE]);
}

/// The hash of the first two bytes at `p` (`FRST`).
fn first(input: &[u8], p: usize) -> u32 {
    (u32::from(input[p]) << 8) | u32::from(input[p + 1])
}

/// The running hash moved on by the byte two past `p` (`NEXT`); only its low bits matter.
fn next(h: u32, input: &[u8], p: usize) -> u32 {
    (h << 8) | u32::from(input[p + 2])
}

/// The table slot of hash `h` (`IDX` of the very fast variant).
fn slot(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) & (HSIZE as u32 - 1)) as usize
}

/// `lzf_compress(input, in_len, out, out_len)`: the compressed bytes, or `None` where the
/// original returns 0 (an empty input, or output that would not fit in `out_len` bytes).
pub fn compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    TABLE.with(|t| {
        let mut table = t.borrow_mut();
        table.fill(EMPTY);
        compress_with(input, out_len, &mut table)
    })
}

/// The size `lzf_compress` returns for `input` with `out_len` bytes of room: 0 when it gives
/// up.
pub fn compressed_len(input: &[u8], out_len: usize) -> usize {
    compress(input, out_len).map_or(0, |c| c.len())
}

fn compress_with(input: &[u8], out_len: usize, table: &mut [u32]) -> Option<Vec<u8>> {
    let in_end = input.len();
    let out_end = out_len;
    if in_end == 0 || out_end == 0 {
        return None;
    }
    // Room past the end for the control byte a run reserves, which the tests below never let
    // be written there.
    let mut out = vec![0u8; out_end + 4];
    let mut ip = 0usize;
    // The first literal run's control byte is reserved.
    let mut op = 1usize;
    let mut lit = 0usize;
    let mut hval = if in_end >= 2 { first(input, 0) } else { 0 };
    while ip + 2 < in_end {
        hval = next(hval, input, ip);
        let s = slot(hval);
        let candidate = table[s];
        table[s] = ip as u32;
        let r = candidate as usize;
        let matched = candidate != EMPTY
            && r < ip
            && ip - r - 1 < MAX_OFF
            && r > 0
            && input[r + 2] == input[ip + 2]
            && input[r] == input[ip]
            && input[r + 1] == input[ip + 1];
        if matched {
            let off = ip - r - 1;
            let mut len = 2usize;
            let maxlen = (in_end - ip - len).min(MAX_REF);
            // Room for the reference and the next run's control byte (the exact test only
            // when the quick one fails, as in the original).
            if op + 3 + 1 >= out_end && op - usize::from(lit == 0) + 3 + 1 >= out_end {
                return None;
            }
            // Close the literal run (or take back its control byte when it is empty).
            out[op - lit - 1] = (lit as u8).wrapping_sub(1);
            op -= usize::from(lit == 0);
            'extend: {
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[r + len] != input[ip + len] {
                            break 'extend;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            // `len` is now the match's length less 2, as the format stores it.
            len -= 2;
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            // A new literal run.
            lit = 0;
            op += 1;
            ip += len + 1;
            if ip + 2 >= in_end {
                break;
            }
            // The match's last two positions go into the table.
            ip -= 2;
            hval = first(input, ip);
            hval = next(hval, input, ip);
            table[slot(hval)] = ip as u32;
            ip += 1;
            hval = next(hval, input, ip);
            table[slot(hval)] = ip as u32;
            ip += 1;
        } else {
            if op >= out_end {
                return None;
            }
            copy_literal(&mut out, &mut op, &mut lit, input[ip]);
            ip += 1;
        }
    }
    // At most the last two bytes are left, and a control byte.
    if op + 3 > out_end {
        return None;
    }
    while ip < in_end {
        copy_literal(&mut out, &mut op, &mut lit, input[ip]);
        ip += 1;
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(out)
}

/// Appends `byte` to the literal run under way; a run of [`MAX_LIT`] bytes gets its control
/// byte and the next run's is reserved.
#[inline]
fn copy_literal(out: &mut [u8], op: &mut usize, lit: &mut usize, byte: u8) {
    *lit += 1;
    out[*op] = byte;
    *op += 1;
    if *lit == MAX_LIT {
        out[*op - *lit - 1] = (*lit - 1) as u8;
        *lit = 0;
        *op += 1;
    }
}

/// The most bytes one byte of LZF data can stand for: a 3-byte back-reference copies at most
/// [`MAX_REF`] + 2 = 264 bytes, 88 a byte (literal runs and 2-byte references expand less).
pub const MAX_EXPANSION: usize = 88;

/// `lzf_decompress`: the bytes `data` stands for, or `None` when it is not valid LZF or would
/// pass `out_len` bytes. Never allocates more than `data` can expand to ([`MAX_EXPANSION`]
/// times its length), whatever `out_len` claims.
pub fn decompress(data: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0; out_len.min(data.len().saturating_mul(MAX_EXPANSION))];
    let n = decompress_to(data, &mut out)?;
    out.truncate(n);
    Some(out)
}

/// Decompresses `data` into `out` (a reused buffer, resized) when it stands for exactly
/// `out_len` bytes; `false` when it is not valid LZF or stands for another length (what
/// Redis's RDB loading calls a corrupt string). A claimed length more than `data` can expand
/// to is refused before anything is allocated.
pub fn decompress_exact(data: &[u8], out_len: usize, out: &mut Vec<u8>) -> bool {
    if out_len > data.len().saturating_mul(MAX_EXPANSION) {
        return false;
    }
    out.clear();
    out.resize(out_len, 0);
    decompress_to(data, out) == Some(out_len)
}

/// Decompresses `data` into the front of `out`; the length written, or `None` when `data` is
/// not valid LZF or needs more room than `out` has. Where there is room, short copies are
/// done 32 or 16 bytes at a time, past their end (later bytes overwrite the excess).
pub fn decompress_to(data: &[u8], out: &mut [u8]) -> Option<usize> {
    let (n, cap) = (data.len(), out.len());
    let (mut ip, mut op) = (0usize, 0usize);
    while ip < n {
        let ctrl = usize::from(data[ip]);
        ip += 1;
        if ctrl < 1 << 5 {
            // A literal run of ctrl + 1 bytes.
            let len = ctrl + 1;
            if ip + MAX_LIT <= n && op + MAX_LIT <= cap {
                out[op..op + MAX_LIT].copy_from_slice(&data[ip..ip + MAX_LIT]);
            } else {
                if ip + len > n || op + len > cap {
                    return None;
                }
                out[op..op + len].copy_from_slice(&data[ip..ip + len]);
            }
            ip += len;
            op += len;
        } else {
            // A back-reference: 3 bits of length (7: one more length byte), 13 of offset.
            let mut len = ctrl >> 5;
            if ip >= n {
                return None;
            }
            if len == 7 {
                len += usize::from(data[ip]);
                ip += 1;
                if ip >= n {
                    return None;
                }
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(data[ip]) + 1;
            ip += 1;
            len += 2;
            if back > op || op + len > cap {
                return None;
            }
            let from = op - back;
            if back >= 16 && op + len + 16 <= cap {
                // 16 bytes at a time: each chunk's source lies wholly before its target.
                let mut k = 0;
                while k < len {
                    let (done, rest) = out.split_at_mut(op + k);
                    rest[..16].copy_from_slice(&done[from + k..from + k + 16]);
                    k += 16;
                }
            } else if back == 1 {
                let b = out[from];
                out[op..op + len].fill(b);
            } else {
                // Overlapping: each byte may be one just written.
                for k in 0..len {
                    out[op + k] = out[from + k];
                }
            }
            op += len;
        }
    }
    Some(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: the generator the reference sizes below were made with.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    /// Test input `i`: its bytes and the room given to the compressor (its length, or three
    /// quarters of it for every third input). Five kinds: random bytes; letters from an
    /// alphabet of 1 to 4; a random phrase of up to 300 bytes repeated with a byte in 97
    /// changed; zeros with a random byte in 50; random decimal digits. Lengths up to 9,000
    /// bytes, and up to 70,000 for every seventh input.
    fn input(i: u64) -> (Vec<u8>, usize) {
        let mut g = Gen(0x9E37_79B9_7F4A_7C15 ^ (i + 1).wrapping_mul(0x0100_0000_01B3));
        let len = 1 + (g.next() % if i % 7 == 6 { 70_000 } else { 9_000 }) as usize;
        let mut b = Vec::with_capacity(len);
        match i % 5 {
            0 => b.extend((0..len).map(|_| (g.next() >> 56) as u8)),
            1 => {
                let a = 1 + g.next() % 4;
                b.extend((0..len).map(|_| b'a' + ((g.next() >> 40) % a) as u8));
            }
            2 => {
                let p = 1 + (g.next() % 300) as usize;
                let phrase: Vec<u8> = (0..p).map(|_| (g.next() >> 56) as u8).collect();
                for k in 0..len {
                    b.push(phrase[k % p]);
                    if g.next() % 97 == 0 {
                        b[k] = (g.next() >> 56) as u8;
                    }
                }
            }
            3 => b.extend((0..len).map(|_| {
                if g.next() % 50 == 0 {
                    (g.next() >> 56) as u8
                } else {
                    0
                }
            })),
            _ => b.extend((0..len).map(|_| b"0123456789"[((g.next() >> 33) % 10) as usize])),
        }
        let room = if i % 3 == 2 { len * 3 / 4 } else { len };
        (b, room)
    }

    /// Sizes from liblzf's `lzf_compress` (the Debian system library Redis links, and Redis's
    /// bundled copy alike) for inputs 0 to 11: (input length, room, compressed size; 0 where
    /// it gives up).
    #[test]
    fn sizes_match_the_c_library() {
        let expected = [
            (3460, 3460, 0),
            (1358, 1358, 830),
            (3168, 2376, 495),
            (3474, 3474, 390),
            (6833, 6833, 4796),
            (7137, 5352, 0),
            (49_201, 49_201, 28_253),
            (325, 325, 108),
            (6630, 4972, 750),
            (2703, 2703, 2137),
            (2049, 2049, 0),
            (8599, 6449, 4944),
        ];
        for (i, &(len, room, size)) in expected.iter().enumerate() {
            let (b, r) = input(i as u64);
            assert_eq!((b.len(), r), (len, room), "input {i}");
            assert_eq!(compressed_len(&b, r), size, "input {i}");
        }
    }

    /// Inputs 0 to 499 against the C library, summed up: how many it compresses, the sizes'
    /// total, and a polynomial hash of the sizes in order (31 x h + size, mod 10^9 + 7). And
    /// every output decompresses to its input.
    #[test]
    fn five_hundred_sizes_match_the_c_library() {
        let (mut total, mut gave_up, mut h) = (0u64, 0, 0u64);
        for i in 0..500 {
            let (b, room) = input(i);
            let c = compress(&b, room);
            let size = c.as_ref().map_or(0, Vec::len) as u64;
            if let Some(c) = &c {
                assert_eq!(decompress(c, b.len()).as_deref(), Some(&b[..]), "input {i}");
            }
            total += size;
            gave_up += u64::from(size == 0);
            h = (h * 31 + size) % 1_000_000_007;
        }
        assert_eq!((total, gave_up, h), (1_144_731, 118, 624_803_829));
    }

    /// Corrupt input: refused, never a panic, and a claimed length beyond what the data can
    /// stand for allocates nothing.
    #[test]
    fn corrupt_input_is_refused() {
        let c = compress(&[0u8; 48], 48).unwrap();
        let mut out = Vec::new();
        assert!(decompress_exact(&c, 48, &mut out));
        assert_eq!(out, [0u8; 48]);
        assert!(!decompress_exact(&c, 47, &mut out));
        assert!(!decompress_exact(&c, 49, &mut out));
        // 9 bytes can stand for at most 9 x 88.
        assert!(!decompress_exact(&c, 9 * MAX_EXPANSION + 1, &mut out));
        assert!(out.capacity() < 1000);
        assert_eq!(decompress(&c, usize::MAX).as_deref(), Some(&[0u8; 48][..]));
        // A back-reference before the start; a literal run past the end; a cut reference.
        assert_eq!(decompress(&[0x20, 0x05], 100), None);
        assert_eq!(decompress(&[0x05, 1, 2], 100), None);
        assert_eq!(decompress(&[0, 1, 0xE0], 100), None);
        assert_eq!(decompress(&[0, 1, 0xE0, 3], 100), None);
        // The longest reference: 3 bytes for 264.
        let mut long = vec![0, b'a', 0xE0, 255, 0];
        let mut out = Vec::new();
        assert!(decompress_exact(&long, 1 + 264, &mut out));
        assert!(out.iter().all(|&b| b == b'a'));
        long.truncate(4);
        assert_eq!(decompress(&long, 1000), None);
        // Every truncation and every 1-bit flip of a real block: no panic.
        let (b, room) = input(6);
        let c = compress(&b, room).unwrap();
        for cut in 0..c.len().min(2000) {
            let _ = decompress(&c[..cut], b.len());
        }
        for i in 0..c.len().min(2000) {
            for bit in 0..8 {
                let mut d = c.clone();
                d[i] ^= 1 << bit;
                let _ = decompress_exact(&d, b.len(), &mut out);
            }
        }
    }

    /// Small cases worked by hand (and checked against the C library). 48 zero bytes: a
    /// literal at position 0; at position 1 the only candidate is position 0, which is never
    /// taken (a second literal); at position 2 the candidate is position 1, and the match runs
    /// as far as it may, to 2 bytes before the end (44 bytes: length field 7, then 44 - 2 - 7 =
    /// 35, then the offset 0); the last 2 bytes are a literal run: [1 0 0] [224 35 0] [1 0 0].
    /// It needs 10 bytes of room: the last run is only written with 3 bytes to spare.
    #[test]
    fn small_inputs_by_hand() {
        let z = [0u8; 48];
        let c = compress(&z, 48).unwrap();
        assert_eq!(c, [1, 0, 0, 224, 35, 0, 1, 0, 0]);
        assert_eq!(decompress(&c, 48).unwrap(), z);
        assert_eq!(compress(&z, 9), None);
        assert_eq!(compressed_len(&z, 10), 9);
        // Two bytes never fit in 3 (the 3 bytes to spare after the run's control byte).
        assert_eq!(compress(b"ab", 3), None);
        assert_eq!(compress(b"ab", 4).unwrap(), [1, b'a', b'b']);
        assert_eq!(compress(b"", 8), None);
        // 33 distinct bytes: a full run of 32, then a run of 1.
        let d: Vec<u8> = (0..33).collect();
        let c = compress(&d, 64).unwrap();
        assert_eq!(c.len(), 35);
        assert_eq!((c[0], c[33]), (31, 0));
    }
}
