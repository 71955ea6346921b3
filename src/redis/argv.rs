//! The arguments of a command as the model and a live server receive them.

/// One argument: borrowed for values (see [`value_bytes`]), owned for names.
pub type Arg = std::borrow::Cow<'static, [u8]>;

/// One command's arguments.
pub type Argv = Vec<Arg>;

/// A value of `n` bytes that no encoding mistakes for an integer (all zero bytes, which are not
/// digits). No allocation per value: a slice of one buffer per thread, replaced by one twice as
/// large (and the old one kept, as earlier values may still borrow it) when a longer value is
/// asked for. The buffers are zeroed allocations the simulator never writes to (the model reads
/// a value's length, not its bytes), so the operating system backs them with no memory: a
/// 4 GiB value costs address space, not RSS.
pub fn value_bytes(n: u64) -> Arg {
    use std::cell::Cell;
    thread_local! {
        static FILLER: Cell<&'static [u8]> = const { Cell::new(&[]) };
    }
    let n = n as usize;
    FILLER.with(|f| {
        if f.get().len() < n {
            let len = n.next_power_of_two().max(1 << 16);
            f.set(Box::leak(vec![0u8; len].into_boxed_slice()));
        }
        Arg::Borrowed(&f.get()[..n])
    })
}

/// Appends element number `e` as a decimal integer of `digits` digits (1 to 19): from
/// 10^(digits-1) up (0 to 9 for one digit), wrapping around past the last. Redis keeps such a
/// string as a number (an integer listpack entry, an intset member, an INT object).
pub fn push_integer(v: &mut Vec<u8>, digits: u64, e: u64) {
    let digits = digits.clamp(1, 19) as u32;
    let (lo, span) = if digits == 1 {
        (0, 10)
    } else {
        let lo = 10u64.pow(digits - 1);
        (lo, 9 * lo)
    };
    v.extend_from_slice((lo + e % span).to_string().as_bytes());
}

/// Appends member number `e` as `size` letters: `e` in base 26 (a to z), padded with `a` in
/// front, so that no member is a number and members differ while `e` is below 26^size.
pub fn push_member(v: &mut Vec<u8>, size: u64, e: u64) {
    let start = v.len();
    v.resize(start + size as usize, b'a');
    let (mut x, mut i) = (e, v.len());
    while x > 0 && i > start {
        i -= 1;
        v[i] = b'a' + (x % 26) as u8;
        x /= 26;
    }
}
