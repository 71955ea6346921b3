//! The hash Redis's dicts use for sds keys (`dictGenHashFunction`, `src/siphash.c`): SipHash
//! with one compression round per 8-byte block and two finalisation rounds (SipHash-1-2),
//! keyed with the 16 random bytes each server process draws at startup
//! (`dictSetHashFunctionSeed`, redis 7.2.6 `src/server.c` `main`). A collection's dict puts a
//! member in bucket `hash & (size - 1)`: with the key of a live server, the model finds each
//! member's bucket as that server does (which buckets collide, which a rehash step moves).

/// SipHash-1-2 of `data` under `key` (`siphash` in redis 7.2.6 `src/siphash.c`, little-endian).
pub fn siphash12(data: &[u8], key: &[u8; 16]) -> u64 {
    let k0 = u64::from_le_bytes(key[..8].try_into().expect("8 bytes"));
    let k1 = u64::from_le_bytes(key[8..].try_into().expect("8 bytes"));
    let mut v = [
        0x736f_6d65_7073_6575 ^ k0,
        0x646f_7261_6e64_6f6d ^ k1,
        0x6c79_6765_6e65_7261 ^ k0,
        0x7465_6462_7974_6573 ^ k1,
    ];
    let mut blocks = data.chunks_exact(8);
    for b in &mut blocks {
        let m = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        v[3] ^= m;
        round(&mut v);
        v[0] ^= m;
    }
    let mut last = (data.len() as u64) << 56;
    for (i, &c) in blocks.remainder().iter().enumerate() {
        last |= (c as u64) << (8 * i);
    }
    v[3] ^= last;
    round(&mut v);
    v[0] ^= last;
    v[2] ^= 0xff;
    round(&mut v);
    round(&mut v);
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// One SipRound (also the keyspace's SipHash-1-3 name hasher's, `server::keytable`).
#[inline(always)]
pub(crate) fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values computed with the reference algorithm (c = 1, d = 2) in an independent script
    /// under the key a live redis-server 7.2.6 had drawn: its 200 members `member:0000` to
    /// `member:0199` fell into 139 of 256 buckets, as `DEBUG HTSTATS-KEY` showed.
    #[test]
    fn matches_a_live_servers_buckets() {
        let key: [u8; 16] = [
            0x8b, 0x5a, 0x70, 0xbb, 0x82, 0xc7, 0x6e, 0x8d, 0x2e, 0xd2, 0xef, 0x96, 0x5f, 0x84, 0xcd, 0xb8,
        ];
        let mut chains = std::collections::BTreeMap::<u64, u32>::new();
        for i in 0..200 {
            *chains
                .entry(siphash12(format!("member:{i:04}").as_bytes(), &key) & 255)
                .or_default() += 1;
        }
        assert_eq!(chains.len(), 139);
        // The chain lengths the server printed: 89 of 1, 41 of 2, 7 of 3, 2 of 4.
        let mut lengths = [0; 5];
        for n in chains.values() {
            lengths[*n as usize] += 1;
        }
        assert_eq!(lengths, [0, 89, 41, 7, 2]);
    }
}
