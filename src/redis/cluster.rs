//! Cluster mode's per-key state (Redis 7.0, cluster.c): each key belongs to a hash slot
//! (`keyHashSlot`: CRC16 of the key, or of its `{hash tag}`, modulo 16,384), and db 0 keeps,
//! per slot, a count and the head of a list of its keys (`clusterSlotToKeyMapping`: 16,384 x
//! 16 B, `zcalloc`ed at startup). Its pages stay untouched, outside RSS, until a key of one of
//! their slots is added (`slotToKeyAddEntry` writes the slot's head and count) or a flush clears
//! them all (`slotToKeyFlush`: a memset of the whole map). The list links themselves live in the
//! keys' dict entries (`clusterDictEntryMetadata`), see
//! [`RedisProfile::key_entry`](super::RedisProfile::key_entry).

/// Hash slots in a cluster.
pub const SLOTS: u64 = 16_384;

/// Bytes of one slot's record in the slot-to-keys map (a count and a list head).
const SLOT_RECORD: u64 = 16;

/// CRC16/XMODEM (polynomial 0x1021, initial 0, not reflected), the checksum `keyHashSlot`
/// uses, byte by byte from a table.
pub fn crc16(bytes: &[u8]) -> u16 {
    const TABLE: [u16; 256] = {
        let mut t = [0u16; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = (i as u16) << 8;
            let mut b = 0;
            while b < 8 {
                c = if c & 0x8000 != 0 {
                    (c << 1) ^ 0x1021
                } else {
                    c << 1
                };
                b += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    bytes.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ TABLE[((crc >> 8) as u8 ^ b) as usize]
    })
}

/// The hash slot of `key`: the CRC16 of the part between its first `{` and the next `}` when
/// that part is not empty, else of the whole key; modulo 16,384.
pub fn key_hash_slot(key: &[u8]) -> u64 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|s| {
        let e = key[s + 1..].iter().position(|&b| b == b'}')?;
        (e > 0).then(|| &key[s + 1..s + 1 + e])
    });
    (crc16(tagged.unwrap_or(key)) as u64) % SLOTS
}

/// The pages of the slot-to-keys map written so far. The map is a large allocation: it starts
/// `offset` bytes into its first page (jemalloc's cache-oblivious random offset, a multiple of
/// 64 B), so its 256 KiB span 64 or 65 pages.
#[derive(Debug, Clone, Default)]
pub struct SlotMap {
    offset: u64,
    touched: u128,
}

impl SlotMap {
    /// A map starting `offset` bytes into its first page.
    pub fn new(offset: u64) -> Self {
        SlotMap { offset, touched: 0 }
    }

    /// A key of slot `slot` is added: its record's page is written.
    pub fn add(&mut self, slot: u64, page: u64) {
        let at = (self.offset + slot * SLOT_RECORD) / page;
        self.touched |= 1 << at;
    }

    /// A flush clears the whole map: every page is written.
    pub fn flush(&mut self, page: u64) {
        let last = (self.offset + SLOTS * SLOT_RECORD - 1) / page;
        self.touched = if last >= 127 {
            u128::MAX
        } else {
            (1u128 << (last + 1)) - 1
        };
    }

    /// Pages written so far.
    pub fn pages(&self) -> u64 {
        self.touched.count_ones() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check value of CRC16/XMODEM, and slots the Redis cluster specification and
    /// `CLUSTER KEYSLOT` give: "foo" 12182, "bar" 5061, a hash tag hashing only its content,
    /// an empty tag hashing the whole key.
    #[test]
    fn slots_are_redis_cluster_slots() {
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(key_hash_slot(b"foo"), 12182);
        assert_eq!(key_hash_slot(b"bar"), 5061);
        assert_eq!(key_hash_slot(b"{user1000}.following"), key_hash_slot(b"user1000"));
        assert_eq!(key_hash_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") as u64 % SLOTS);
        assert_eq!(key_hash_slot(b"foo{{bar}}zap"), key_hash_slot(b"{bar"));
    }

    /// 256 KiB from offset 64: 65 pages of 4 KiB; slot 0 on the first, slot 16,383 on the
    /// 65th; a flush writes all 65.
    #[test]
    fn slot_pages() {
        let mut m = SlotMap::new(64);
        m.add(0, 4096);
        m.add(1, 4096);
        assert_eq!(m.pages(), 1);
        m.add(16_383, 4096);
        assert_eq!(m.pages(), 2);
        m.flush(4096);
        assert_eq!(m.pages(), 65);
        let mut m = SlotMap::new(0);
        m.flush(4096);
        assert_eq!(m.pages(), 64);
    }
}
