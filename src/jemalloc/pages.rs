//! Touched pages: which virtual pages the program has written and the kernel therefore counts in
//! RSS. jemalloc never writes slab or large pages itself; a page becomes resident when the
//! application writes into it and leaves RSS when jemalloc purges it with `MADV_DONTNEED`.
//! (Pages given `MADV_FREE`, the muzzy state, stay in RSS until the kernel needs memory, so they
//! stay counted here.)
//!
//! One bit per page, over the pages between the lowest and the highest ever written: 1 TiB of
//! simulated address space in use costs 32 MiB.

/// A growable bitmap of written pages over the model's virtual page numbers. Bit `i` of word `w`
/// is page `origin + 64 w + i`; the bitmap grows upward and downward as pages are written.
#[derive(Debug, Clone, Default)]
pub struct TouchedPages {
    words: Vec<u64>,
    count: u64,
    /// First page the bitmap covers (a multiple of 64).
    origin: u64,
}

impl TouchedPages {
    pub fn new() -> Self {
        Self::default()
    }

    /// Pages currently written and not purged: the allocator's share of the kernel's RSS.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Makes the bitmap cover pages `[start, end)`.
    fn ensure(&mut self, start: u64, end_page: u64) {
        if self.words.is_empty() {
            self.origin = start - start % 64;
        }
        if start < self.origin {
            // Grow downward by at least the current size, so that a run of mappings placed
            // top-down costs amortised linear time.
            let want = self.origin - (start - start % 64);
            let grow = want
                .max(self.words.len() as u64 * 64)
                .min(self.origin - self.origin % 64);
            let grow = grow.max(want);
            let add = (grow / 64) as usize;
            self.words.splice(0..0, std::iter::repeat_n(0, add));
            self.origin -= grow;
        }
        let need = (end_page - self.origin).div_ceil(64) as usize;
        if self.words.len() < need {
            self.words.resize(need, 0);
        }
    }

    /// The word and bit of page `p`, if the bitmap covers it.
    #[inline]
    fn slot(&self, p: u64) -> Option<(usize, u64)> {
        let rel = p.checked_sub(self.origin)?;
        let w = (rel / 64) as usize;
        (w < self.words.len()).then_some((w, rel % 64))
    }

    /// Whether page `p` is touched.
    pub fn is_set(&self, p: u64) -> bool {
        self.slot(p).is_some_and(|(w, b)| self.words[w] & (1 << b) != 0)
    }

    /// Marks pages `[start, end)` as written.
    #[inline]
    pub fn set_range(&mut self, start: u64, end: u64) {
        if start < end && end - start == 1 {
            self.set(start);
        } else {
            self.set_range_slow(start, end);
        }
    }

    /// Marks page `p` as written (most writes of small objects, often to a page already
    /// written).
    #[inline]
    pub fn set(&mut self, p: u64) {
        if !self.try_set(p) {
            self.set_range_slow(p, p + 1);
        }
    }

    /// [`TouchedPages::set`] of a page within the bitmap's words; false, with nothing changed,
    /// for a page past them.
    #[inline]
    pub fn try_set(&mut self, p: u64) -> bool {
        let rel = p.wrapping_sub(self.origin);
        let bit = 1u64 << (rel % 64);
        let Some(w) = self.words.get_mut((rel / 64) as usize) else {
            return false;
        };
        if *w & bit == 0 {
            *w |= bit;
            self.count += 1;
        }
        true
    }

    /// [`TouchedPages::set_range`] of several pages, or of a page past the bitmap's end.
    #[inline(never)]
    fn set_range_slow(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        self.ensure(start, end);
        self.apply(start, end, true);
    }

    /// Marks pages `[start, end)` as purged (no longer resident).
    pub fn clear_range(&mut self, start: u64, end: u64) {
        let start = start.max(self.origin);
        let end = end.min(self.origin + self.words.len() as u64 * 64);
        if start >= end {
            return;
        }
        self.apply(start, end, false);
    }

    /// Number of touched pages in `[start, end)`.
    pub fn count_range(&self, start: u64, end: u64) -> u64 {
        let mut n = 0;
        let mut p = start.max(self.origin) - self.origin;
        let end = end.min(self.origin + self.words.len() as u64 * 64);
        let end = end.saturating_sub(self.origin);
        while p < end {
            let w = (p / 64) as usize;
            let lo = p % 64;
            let hi = (end - (p - lo)).min(64);
            let mask = mask_bits(lo, hi);
            n += (self.words[w] & mask).count_ones() as u64;
            p = p - lo + 64;
        }
        n
    }

    /// Sets or clears pages `[start, end)`, which the bitmap covers.
    fn apply(&mut self, start: u64, end: u64, set: bool) {
        let mut p = start - self.origin;
        let end = end - self.origin;
        while p < end {
            let w = (p / 64) as usize;
            let lo = p % 64;
            let hi = (end - (p - lo)).min(64);
            let mask = mask_bits(lo, hi);
            let before = (self.words[w] & mask).count_ones() as u64;
            if set {
                self.words[w] |= mask;
                self.count += mask.count_ones() as u64 - before;
            } else {
                self.words[w] &= !mask;
                self.count -= before;
            }
            p = p - lo + 64;
        }
    }
}

/// Bits `[lo, hi)` of a word.
fn mask_bits(lo: u64, hi: u64) -> u64 {
    let upper = if hi >= 64 { u64::MAX } else { (1u64 << hi) - 1 };
    upper & !((1u64 << lo) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_clear_count_across_words() {
        let mut t = TouchedPages::new();
        t.set_range(60, 130);
        assert_eq!(t.count(), 70);
        t.set_range(100, 140);
        assert_eq!(t.count(), 80);
        assert_eq!(t.count_range(0, 64), 4);
        t.clear_range(0, 100);
        assert_eq!(t.count(), 40);
        assert!(!t.is_set(99));
        assert!(t.is_set(100));
        t.clear_range(1000, 2000);
        assert_eq!(t.count(), 40);
    }

    #[test]
    fn grows_downward() {
        let mut t = TouchedPages::new();
        t.set_range(1 << 36, (1 << 36) + 10);
        t.set_range((1 << 36) - 1000, (1 << 36) - 990);
        t.set((1 << 36) - 100_000);
        assert_eq!(t.count(), 21);
        assert!(t.is_set((1 << 36) - 995) && t.is_set((1 << 36) - 100_000) && !t.is_set(6));
        assert_eq!(t.count_range(0, 1 << 40), 21);
        t.clear_range(0, 1 << 36);
        assert_eq!(t.count(), 10);
        assert!(t.try_set((1 << 36) - 1));
        assert_eq!(t.count(), 11);
    }
}
