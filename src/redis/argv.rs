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
