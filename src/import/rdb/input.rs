//! The dump's bytes, read through one fixed buffer ([`BUF`]) and checksummed as they are used.
//!
//! Every byte the parser takes or skips passes through the buffer once; the CRC-64 is brought up
//! to date lazily, over the bytes used so far, each time the buffer is refilled (and once more
//! at the end), so the checksum costs one pass over the file in large slices.

use std::io::{ErrorKind as IoKind, Read};

use crc::{Crc, Digest, Table, CRC_64_REDIS};

use super::{ErrorKind, RdbError, Res};
use crate::redis::lzf::MAX_EXPANSION;

/// Redis's CRC-64 (Jones polynomial, reflected, no final xor), 16 bytes at a time.
pub(super) static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// The read buffer's size: 256 KiB. Values up to this size are decoded where they lie in it.
pub(super) const BUF: usize = 256 << 10;

/// A string's header (`rdbGenericLoadStringObject`): raw bytes to follow, an integer, or
/// LZF-compressed bytes standing for `ulen`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Str {
    Raw(u64),
    Int(i64),
    Lzf { clen: u64, ulen: u64 },
}

/// The input: a reader, the buffer, and the checksum of the bytes used so far.
pub(super) struct Input<R> {
    r: R,
    buf: Box<[u8]>,
    /// The next byte to use.
    pos: usize,
    /// The end of the bytes read into the buffer.
    end: usize,
    /// The file offset of `buf[0]`.
    base: u64,
    /// Bytes before this index (and after the last refill) are in `digest` already.
    crc_from: usize,
    digest: Digest<'static, u64, Table<16>>,
    /// The reader said it has no more.
    eof: bool,
    /// What is being read, for an error's text ("a hash's listpack").
    pub ctx: &'static str,
}

impl<R: Read> Input<R> {
    pub fn new(r: R) -> Self {
        Input {
            r,
            buf: vec![0; BUF].into_boxed_slice(),
            pos: 0,
            end: 0,
            base: 0,
            crc_from: 0,
            digest: CRC64.digest(),
            eof: false,
            ctx: "the header",
        }
    }

    /// The file offset of the next byte.
    #[inline]
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The input ended inside what [`Input::ctx`] says: an error at the end of the data.
    #[cold]
    pub fn truncated(&self) -> Box<RdbError> {
        Box::new(RdbError {
            offset: self.base + self.end as u64,
            kind: ErrorKind::Truncated { inside: self.ctx },
        })
    }

    /// Moves the unused bytes to the front of the buffer and reads until `need` bytes are
    /// there or the reader has no more; whether they are.
    #[cold]
    fn refill(&mut self, need: usize) -> Res<bool> {
        debug_assert!(need <= BUF);
        self.digest.update(&self.buf[self.crc_from..self.pos]);
        self.buf.copy_within(self.pos..self.end, 0);
        self.base += self.pos as u64;
        self.end -= self.pos;
        self.pos = 0;
        self.crc_from = 0;
        while self.end < need && !self.eof {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => {
                    return Err(Box::new(RdbError {
                        offset: self.base + self.end as u64,
                        kind: ErrorKind::Io(e),
                    }))
                }
            }
        }
        Ok(self.end >= need)
    }

    /// One byte.
    #[inline]
    pub fn u8(&mut self) -> Res<u8> {
        if self.pos < self.end {
            let b = self.buf[self.pos];
            self.pos += 1;
            Ok(b)
        } else {
            self.u8_slow()
        }
    }

    #[cold]
    fn u8_slow(&mut self) -> Res<u8> {
        if !self.refill(1)? {
            return Err(self.truncated());
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    /// The next `n` bytes (`n` at most [`BUF`]), where they lie in the buffer.
    #[inline]
    pub fn take(&mut self, n: usize) -> Res<&[u8]> {
        if self.end - self.pos < n && !self.refill(n)? {
            return Err(self.truncated());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A string of at most 63 bytes (a 1-byte header) that lies whole in the buffer, taken;
    /// `None` (nothing taken) for any other.
    #[inline]
    pub fn short_str(&mut self) -> Option<&[u8]> {
        let b = *self.buf[..self.end].get(self.pos)?;
        let n = usize::from(b);
        if n >= 0x40 || self.pos + 1 + n > self.end {
            return None;
        }
        let s = &self.buf[self.pos + 1..self.pos + 1 + n];
        self.pos += 1 + n;
        Some(s)
    }

    /// The next `N` bytes, copied.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Res<[u8; N]> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// Skips `n` bytes (checksummed all the same).
    pub fn skip(&mut self, mut n: u64) -> Res<()> {
        loop {
            let a = (self.end - self.pos) as u64;
            if n <= a {
                self.pos += n as usize;
                return Ok(());
            }
            n -= a;
            self.pos = self.end;
            if !self.refill(1)? {
                return Err(self.truncated());
            }
        }
    }

    /// Appends the next `n` bytes to `out`, which grows only as they arrive.
    pub fn append(&mut self, mut n: u64, out: &mut Vec<u8>) -> Res<()> {
        loop {
            let a = (self.end - self.pos) as u64;
            let k = n.min(a) as usize;
            out.extend_from_slice(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            n -= k as u64;
            if n == 0 {
                return Ok(());
            }
            if !self.refill(1)? {
                return Err(self.truncated());
            }
        }
    }

    /// The CRC-64 of every byte used so far.
    pub fn checksum(&mut self) -> u64 {
        self.digest.update(&self.buf[self.crc_from..self.pos]);
        self.crc_from = self.pos;
        self.digest.clone().finalize()
    }

    /// How many bytes are left unused, reading the input to its end.
    pub fn rest(&mut self) -> Res<u64> {
        let mut n = 0;
        loop {
            n += (self.end - self.pos) as u64;
            self.pos = self.end;
            if !self.refill(1)? {
                return Ok(n);
            }
        }
    }

    /// The value at the current offset is malformed, as `detail` says.
    #[cold]
    pub fn corrupt(&self, detail: String) -> Box<RdbError> {
        self.corrupt_at(self.offset(), detail)
    }

    /// What [`Input::ctx`] names, at `offset`, is malformed, as `detail` says.
    #[cold]
    pub fn corrupt_at(&self, offset: u64, detail: String) -> Box<RdbError> {
        Box::new(RdbError {
            offset,
            kind: ErrorKind::Corrupt {
                inside: self.ctx,
                detail,
            },
        })
    }

    /// A length (`rdbLoadLen`): 6 bits, 14 bits, or 32 or 64 bits big-endian.
    #[inline]
    pub fn len(&mut self) -> Res<u64> {
        let b = self.u8()?;
        match b >> 6 {
            0 => Ok(u64::from(b & 0x3F)),
            1 => Ok((u64::from(b & 0x3F) << 8) | u64::from(self.u8()?)),
            _ => self.len_long(b),
        }
    }

    /// A 32 or 64-bit length after its first byte `b`.
    fn len_long(&mut self, b: u8) -> Res<u64> {
        match b {
            0x80 => Ok(u64::from(u32::from_be_bytes(self.array()?))),
            0x81 => Ok(u64::from_be_bytes(self.array()?)),
            _ => Err(self.corrupt(format!(
                "a length starts with the byte 0x{b:02x}, which no length encoding has"
            ))),
        }
    }

    /// A string's header; an LZF header is checked: neither length zero, and the claimed
    /// length no more than the compressed bytes can stand for.
    #[inline]
    pub fn str_header(&mut self) -> Res<Str> {
        let b = self.u8()?;
        match b >> 6 {
            0 => Ok(Str::Raw(u64::from(b & 0x3F))),
            1 => Ok(Str::Raw((u64::from(b & 0x3F) << 8) | u64::from(self.u8()?))),
            2 => Ok(Str::Raw(self.len_long(b)?)),
            _ => self.str_special(b & 0x3F),
        }
    }

    fn str_special(&mut self, enc: u8) -> Res<Str> {
        match enc {
            0 => Ok(Str::Int(i64::from(self.u8()? as i8))),
            1 => Ok(Str::Int(i64::from(i16::from_le_bytes(self.array()?)))),
            2 => Ok(Str::Int(i64::from(i32::from_le_bytes(self.array()?)))),
            3 => {
                let clen = self.len()?;
                let ulen = self.len()?;
                if clen == 0 || ulen == 0 {
                    return Err(self.corrupt(format!(
                        "an LZF-compressed string of {clen} bytes claims to stand for {ulen}"
                    )));
                }
                if ulen > clen.saturating_mul(MAX_EXPANSION as u64) {
                    return Err(self.corrupt(format!(
                        "an LZF-compressed string of {clen} bytes claims to stand for {ulen}, \
                         more than LZF can expand that to"
                    )));
                }
                Ok(Str::Lzf { clen, ulen })
            }
            _ => Err(self.corrupt(format!(
                "a string has the special encoding {enc}, which does not exist"
            ))),
        }
    }

    /// Skips a string.
    pub fn skip_string(&mut self) -> Res<()> {
        match self.str_header()? {
            Str::Raw(n) => self.skip(n),
            Str::Int(_) => Ok(()),
            Str::Lzf { clen, .. } => self.skip(clen),
        }
    }
}
