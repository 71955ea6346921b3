//! The real jemalloc 5.3.0 (built from source by `tikv-jemalloc-sys` 0.6.1, symbol prefix
//! `_rjem_`, not the process's global allocator), driven through a dedicated arena so that model
//! and allocator can replay the same trace and be compared stat by stat.

use std::ffi::{c_void, CString};
use std::ptr;

use tikv_jemalloc_sys as sys;

/// An error from a `mallctl` call, with the name that failed and jemalloc's errno.
#[derive(Debug, thiserror::Error)]
#[error("mallctl {name} failed with errno {errno}")]
pub struct MallctlError {
    pub name: String,
    pub errno: i32,
}

fn cname(name: &str) -> CString {
    CString::new(name).expect("mallctl names have no NUL")
}

/// One `mallctl` call with raw old/new buffers; jemalloc's errno becomes an error naming `name`.
fn mallctl_raw(
    name: &str,
    oldp: *mut c_void,
    oldlenp: *mut usize,
    newp: *mut c_void,
    newlen: usize,
) -> Result<(), MallctlError> {
    let n = cname(name);
    // SAFETY: the callers pass buffers valid for the sizes they give (or null pointers).
    let rc = unsafe { sys::mallctl(n.as_ptr(), oldp, oldlenp, newp, newlen) };
    if rc != 0 {
        return Err(MallctlError {
            name: name.into(),
            errno: rc,
        });
    }
    Ok(())
}

/// Reads a mallctl value of type `T` (`size_t`, `unsigned`, `ssize_t`, `bool`, `uint64_t`).
pub fn mallctl_read<T: Copy + Default>(name: &str) -> Result<T, MallctlError> {
    let mut v = T::default();
    let mut len = std::mem::size_of::<T>();
    mallctl_raw(
        name,
        &mut v as *mut T as *mut c_void,
        &mut len,
        ptr::null_mut(),
        0,
    )?;
    Ok(v)
}

/// Writes a mallctl value of type `T`.
pub fn mallctl_write<T: Copy>(name: &str, mut v: T) -> Result<(), MallctlError> {
    let size = std::mem::size_of::<T>();
    mallctl_raw(
        name,
        ptr::null_mut(),
        ptr::null_mut(),
        &mut v as *mut T as *mut c_void,
        size,
    )
}

/// Calls a `void` mallctl such as `arena.<i>.purge`.
pub fn mallctl_void(name: &str) -> Result<(), MallctlError> {
    mallctl_raw(name, ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), 0)
}

/// `nallocx(size, 0)`: the usable size the real allocator gives a request.
pub fn nallocx(size: usize) -> usize {
    // SAFETY: nallocx only computes a size.
    unsafe { sys::nallocx(size, 0) }
}

/// The real allocator's version string (`version` mallctl), e.g. "5.3.0-…".
pub fn version() -> String {
    let p: *const std::ffi::c_char = mallctl_read("version").unwrap_or(ptr::null());
    if p.is_null() {
        return String::from("unknown");
    }
    // SAFETY: jemalloc returns a pointer to a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

/// Stats of one real arena, read after an `epoch` refresh. Pages are 4 KiB on x86-64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RealArenaStats {
    /// `stats.arenas.<i>.small.allocated + large.allocated`.
    pub allocated: u64,
    /// `stats.arenas.<i>.pactive`.
    pub pactive: u64,
    /// `stats.arenas.<i>.pdirty`.
    pub pdirty: u64,
    /// `stats.arenas.<i>.pmuzzy`.
    pub pmuzzy: u64,
    /// `stats.arenas.<i>.retained` (bytes).
    pub retained: u64,
    /// `stats.arenas.<i>.mapped` (bytes).
    pub mapped: u64,
    /// `stats.arenas.<i>.base` (bytes).
    pub base: u64,
    /// `stats.arenas.<i>.internal` (bytes).
    pub internal: u64,
    /// `stats.arenas.<i>.resident` (bytes).
    pub resident: u64,
}

/// A dedicated real arena (`arenas.create`) used without the thread cache, or with one explicit
/// thread cache (`tcache.create`).
pub struct RealArena {
    pub index: u32,
    flags: i32,
    tcache: Option<u32>,
}

impl RealArena {
    /// Creates an arena and sets its decay times (`arena.<i>.dirty_decay_ms`, `muzzy_decay_ms`).
    pub fn create(dirty_decay_ms: isize, muzzy_decay_ms: isize) -> Result<Self, MallctlError> {
        let index: u32 = mallctl_read("arenas.create")?;
        mallctl_write(&format!("arena.{index}.dirty_decay_ms"), dirty_decay_ms)?;
        mallctl_write(&format!("arena.{index}.muzzy_decay_ms"), muzzy_decay_ms)?;
        let flags = sys::MALLOCX_ARENA(index as usize) | sys::MALLOCX_TCACHE_NONE;
        Ok(RealArena {
            index,
            flags,
            tcache: None,
        })
    }

    /// Routes allocations through a fresh explicit thread cache (`tcache.create`). Explicit caches
    /// are never visited by the incremental GC.
    pub fn with_explicit_tcache(mut self) -> Result<Self, MallctlError> {
        let tc: u32 = mallctl_read("tcache.create")?;
        self.flags = sys::MALLOCX_ARENA(self.index as usize) | sys::MALLOCX_TCACHE(tc as usize);
        self.tcache = Some(tc);
        Ok(self)
    }

    /// `mallocx(size)` in this arena. Returns null on failure.
    pub fn malloc(&self, size: usize) -> *mut u8 {
        // SAFETY: size > 0 is the caller's business; flags name a live arena/tcache.
        unsafe { sys::mallocx(size.max(1), self.flags) as *mut u8 }
    }

    /// `rallocx(ptr, size)` in this arena. Returns null on failure (then `p` is still live).
    ///
    /// # Safety
    /// `p` must come from this arena and not be freed yet; on success it is no longer valid.
    pub unsafe fn realloc(&self, p: *mut u8, size: usize) -> *mut u8 {
        sys::rallocx(p as *mut c_void, size.max(1), self.flags) as *mut u8
    }

    /// `dallocx(ptr)` in this arena.
    ///
    /// # Safety
    /// `p` must come from [`RealArena::malloc`] on this arena and not be freed yet.
    pub unsafe fn free(&self, p: *mut u8) {
        sys::dallocx(p as *mut c_void, self.flags)
    }

    /// `arena.<i>.purge`.
    pub fn purge(&self) -> Result<(), MallctlError> {
        mallctl_void(&format!("arena.{}.purge", self.index))
    }

    /// `tcache.flush` of the explicit cache.
    pub fn flush_tcache(&self) -> Result<(), MallctlError> {
        if let Some(tc) = self.tcache {
            mallctl_write("tcache.flush", tc)?;
        }
        Ok(())
    }

    /// Refreshes (`epoch`) and reads this arena's stats.
    pub fn stats(&self) -> Result<RealArenaStats, MallctlError> {
        mallctl_write("epoch", 1u64)?;
        let i = self.index;
        let r = |k: &str| mallctl_read::<usize>(&format!("stats.arenas.{i}.{k}")).map(|v| v as u64);
        Ok(RealArenaStats {
            allocated: r("small.allocated")? + r("large.allocated")?,
            pactive: r("pactive")?,
            pdirty: r("pdirty")?,
            pmuzzy: r("pmuzzy")?,
            retained: r("retained")?,
            mapped: r("mapped")?,
            base: r("base")?,
            internal: r("internal")?,
            resident: r("resident")?,
        })
    }

    /// Current slabs and regions of small bin `b` (`stats.arenas.<i>.bins.<b>.curslabs/curregs`).
    pub fn bin_stats(&self, b: usize) -> Result<(u64, u64), MallctlError> {
        let i = self.index;
        let s: usize = mallctl_read(&format!("stats.arenas.{i}.bins.{b}.curslabs"))?;
        let r: usize = mallctl_read(&format!("stats.arenas.{i}.bins.{b}.curregs"))?;
        Ok((s as u64, r as u64))
    }
}

impl Drop for RealArena {
    fn drop(&mut self) {
        if let Some(tc) = self.tcache {
            let _ = mallctl_write("tcache.destroy", tc);
        }
        let _ = mallctl_void(&format!("arena.{}.destroy", self.index));
    }
}
