//! The real jemalloc, driven through a dedicated arena so that model and allocator can replay
//! the same trace and be compared stat by stat.
//!
//! Two kinds of build can be driven, both behind [`Jemalloc`]: the jemalloc 5.3.0 linked into
//! this crate ([`Linked`]: built from source by `tikv-jemalloc-sys` 0.6.1, symbol prefix
//! `_rjem_`, not the process's global allocator), and a shared library loaded at run time
//! ([`Loaded`]: another jemalloc version or build flavour, e.g. the 5.2.1 Redis 7.0 bundles, as
//! `.ci/build-jemalloc` builds it with the symbol prefix `fsje_`).

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::Mutex;

use tikv_jemalloc_sys as sys;

/// An error from a `mallctl` call, with the name that failed and jemalloc's errno.
#[derive(Debug, thiserror::Error)]
#[error("mallctl {name} failed with errno {errno}")]
pub struct MallctlError {
    pub name: String,
    pub errno: i32,
}

/// The entry points of one jemalloc build that a comparison drives: `mallctl`, `mallocx`,
/// `rallocx`, `dallocx` and `nallocx`, with jemalloc's meanings and flags (`MALLOCX_ARENA`,
/// `MALLOCX_TCACHE`, `MALLOCX_TCACHE_NONE` are encoded alike in 5.2.1 and 5.3.0). The typed
/// helpers ([`read`], [`write`], [`call`], [`usable_size`], [`version_of`]) and [`RealArena`] work
/// on any of them.
pub trait Jemalloc: Sync {
    /// What this build is, for messages: "tikv-jemalloc-sys 0.6.1" or the library's path.
    fn describe(&self) -> String;

    /// `mallctl(name, oldp, oldlenp, newp, newlen)`.
    ///
    /// # Safety
    /// The buffers must be valid for the sizes given (or null), as jemalloc requires.
    unsafe fn mallctl(
        &self,
        name: *const c_char,
        oldp: *mut c_void,
        oldlenp: *mut usize,
        newp: *mut c_void,
        newlen: usize,
    ) -> c_int;

    /// `mallocx(size, flags)`.
    ///
    /// # Safety
    /// `flags` must name live arenas and thread caches of this build.
    unsafe fn mallocx(&self, size: usize, flags: c_int) -> *mut c_void;

    /// `rallocx(p, size, flags)`.
    ///
    /// # Safety
    /// `p` must be a live allocation of this build; on success it is no longer valid.
    unsafe fn rallocx(&self, p: *mut c_void, size: usize, flags: c_int) -> *mut c_void;

    /// `dallocx(p, flags)`.
    ///
    /// # Safety
    /// `p` must be a live allocation of this build, freed once.
    unsafe fn dallocx(&self, p: *mut c_void, flags: c_int);

    /// `nallocx(size, flags)`: the usable size a request would get (computes only).
    fn nallocx(&self, size: usize, flags: c_int) -> usize;
}

/// The jemalloc 5.3.0 linked into this crate (`tikv-jemalloc-sys` 0.6.1, feature `stats`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Linked;

/// The linked jemalloc, as a value to pass where a [`Jemalloc`] is wanted.
pub static LINKED: Linked = Linked;

impl Jemalloc for Linked {
    fn describe(&self) -> String {
        String::from("tikv-jemalloc-sys 0.6.1")
    }
    unsafe fn mallctl(
        &self,
        name: *const c_char,
        oldp: *mut c_void,
        oldlenp: *mut usize,
        newp: *mut c_void,
        newlen: usize,
    ) -> c_int {
        sys::mallctl(name, oldp, oldlenp, newp, newlen)
    }
    unsafe fn mallocx(&self, size: usize, flags: c_int) -> *mut c_void {
        sys::mallocx(size, flags)
    }
    unsafe fn rallocx(&self, p: *mut c_void, size: usize, flags: c_int) -> *mut c_void {
        sys::rallocx(p, size, flags)
    }
    unsafe fn dallocx(&self, p: *mut c_void, flags: c_int) {
        sys::dallocx(p, flags)
    }
    fn nallocx(&self, size: usize, flags: c_int) -> usize {
        // SAFETY: nallocx only computes a size.
        unsafe { sys::nallocx(size, flags) }
    }
}

/// Why a jemalloc shared library could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `dlopen` failed; the text is `dlerror()`'s.
    #[error("cannot load {path}: {reason}")]
    Open { path: String, reason: String },
    /// The library lacks one of the entry points (it was not built with the prefix `fsje_`).
    #[error("{path} has no symbol {symbol} (build it with .ci/build-jemalloc, prefix fsje_)")]
    Symbol { path: String, symbol: String },
}

type MallctlFn = unsafe extern "C" fn(*const c_char, *mut c_void, *mut usize, *mut c_void, usize) -> c_int;
type MallocxFn = unsafe extern "C" fn(usize, c_int) -> *mut c_void;
type RallocxFn = unsafe extern "C" fn(*mut c_void, usize, c_int) -> *mut c_void;
type DallocxFn = unsafe extern "C" fn(*mut c_void, c_int);
type NallocxFn = unsafe extern "C" fn(usize, c_int) -> usize;

/// A jemalloc shared library loaded at run time (`dlopen`, `RTLD_LOCAL`, so that its symbols
/// stay its own), its public symbols prefixed `fsje_` as `.ci/build-jemalloc` builds it. It is
/// never unloaded: jemalloc keeps per-thread state whose destructors live in the library.
#[derive(Debug)]
pub struct Loaded {
    path: PathBuf,
    mallctl: MallctlFn,
    mallocx: MallocxFn,
    rallocx: RallocxFn,
    dallocx: DallocxFn,
    nallocx: NallocxFn,
}

/// `dlerror()`'s text, or a placeholder.
fn dlerror_text() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated string owned by the loader.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        return String::from("unknown dlopen error");
    }
    // SAFETY: non-null, NUL-terminated (above).
    unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
}

impl Loaded {
    /// The symbol prefix `.ci/build-jemalloc` gives every library it builds.
    pub const PREFIX: &'static str = "fsje_";

    /// Loads the library at `path` and looks up its entry points.
    pub fn open(path: &Path) -> Result<Self, LoadError> {
        let shown = path.display().to_string();
        let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| LoadError::Open {
            path: shown.clone(),
            reason: String::from("the path contains a NUL byte"),
        })?;
        // SAFETY: a NUL-terminated path; loading runs the library's constructors, which for
        // jemalloc only set up its own state.
        let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(LoadError::Open {
                path: shown,
                reason: dlerror_text(),
            });
        }
        let sym = |name: &str| -> Result<*mut c_void, LoadError> {
            let full = format!("{}{name}", Self::PREFIX);
            let cs = CString::new(full.clone()).expect("symbol names have no NUL");
            // SAFETY: a live handle and a NUL-terminated name.
            let p = unsafe { libc::dlsym(handle, cs.as_ptr()) };
            if p.is_null() {
                return Err(LoadError::Symbol {
                    path: shown.clone(),
                    symbol: full,
                });
            }
            Ok(p)
        };
        // SAFETY: each symbol is the jemalloc function of that name, whose C signature the
        // function pointer type spells out.
        unsafe {
            Ok(Loaded {
                mallctl: std::mem::transmute::<*mut c_void, MallctlFn>(sym("mallctl")?),
                mallocx: std::mem::transmute::<*mut c_void, MallocxFn>(sym("mallocx")?),
                rallocx: std::mem::transmute::<*mut c_void, RallocxFn>(sym("rallocx")?),
                dallocx: std::mem::transmute::<*mut c_void, DallocxFn>(sym("dallocx")?),
                nallocx: std::mem::transmute::<*mut c_void, NallocxFn>(sym("nallocx")?),
                path: path.to_path_buf(),
            })
        }
    }

    /// The library's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Jemalloc for Loaded {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
    unsafe fn mallctl(
        &self,
        name: *const c_char,
        oldp: *mut c_void,
        oldlenp: *mut usize,
        newp: *mut c_void,
        newlen: usize,
    ) -> c_int {
        (self.mallctl)(name, oldp, oldlenp, newp, newlen)
    }
    unsafe fn mallocx(&self, size: usize, flags: c_int) -> *mut c_void {
        (self.mallocx)(size, flags)
    }
    unsafe fn rallocx(&self, p: *mut c_void, size: usize, flags: c_int) -> *mut c_void {
        (self.rallocx)(p, size, flags)
    }
    unsafe fn dallocx(&self, p: *mut c_void, flags: c_int) {
        (self.dallocx)(p, flags)
    }
    fn nallocx(&self, size: usize, flags: c_int) -> usize {
        // SAFETY: nallocx only computes a size.
        unsafe { (self.nallocx)(size, flags) }
    }
}

/// `MALLOCX_ARENA(a)`.
fn mallocx_arena(a: u32) -> c_int {
    (a as c_int + 1) << 20
}

/// `MALLOCX_TCACHE(tc)`; `MALLOCX_TCACHE_NONE` is `MALLOCX_TCACHE(-1)`.
fn mallocx_tcache(tc: c_int) -> c_int {
    (tc + 2) << 8
}

fn cname(name: &str) -> CString {
    CString::new(name).expect("mallctl names have no NUL")
}

/// One `mallctl` call with raw old/new buffers; jemalloc's errno becomes an error naming `name`.
fn mallctl_raw(
    j: &dyn Jemalloc,
    name: &str,
    oldp: *mut c_void,
    oldlenp: *mut usize,
    newp: *mut c_void,
    newlen: usize,
) -> Result<(), MallctlError> {
    let n = cname(name);
    // SAFETY: the callers pass buffers valid for the sizes they give (or null pointers).
    let rc = unsafe { j.mallctl(n.as_ptr(), oldp, oldlenp, newp, newlen) };
    if rc != 0 {
        return Err(MallctlError {
            name: name.into(),
            errno: rc,
        });
    }
    Ok(())
}

/// Reads a mallctl value of type `T` (`size_t`, `unsigned`, `ssize_t`, `bool`, `uint64_t`) from
/// build `j`.
pub fn read<T: Copy + Default>(j: &dyn Jemalloc, name: &str) -> Result<T, MallctlError> {
    let mut v = T::default();
    let mut len = std::mem::size_of::<T>();
    mallctl_raw(
        j,
        name,
        &mut v as *mut T as *mut c_void,
        &mut len,
        ptr::null_mut(),
        0,
    )?;
    Ok(v)
}

/// Writes a mallctl value of type `T` in build `j`.
pub fn write<T: Copy>(j: &dyn Jemalloc, name: &str, mut v: T) -> Result<(), MallctlError> {
    let size = std::mem::size_of::<T>();
    mallctl_raw(
        j,
        name,
        ptr::null_mut(),
        ptr::null_mut(),
        &mut v as *mut T as *mut c_void,
        size,
    )
}

/// Calls a `void` mallctl such as `arena.<i>.purge` in build `j`.
pub fn call(j: &dyn Jemalloc, name: &str) -> Result<(), MallctlError> {
    mallctl_raw(j, name, ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), 0)
}

/// `nallocx(size, 0)` of build `j`: the usable size it gives a request.
pub fn usable_size(j: &dyn Jemalloc, size: usize) -> usize {
    j.nallocx(size, 0)
}

/// Build `j`'s version string (`version` mallctl), e.g. "5.3.0-…".
pub fn version_of(j: &dyn Jemalloc) -> String {
    let p: *const c_char = read(j, "version").unwrap_or(ptr::null());
    if p.is_null() {
        return String::from("unknown");
    }
    // SAFETY: jemalloc returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Reads a mallctl value of type `T` from the linked jemalloc ([`read`] on [`LINKED`]).
pub fn mallctl_read<T: Copy + Default>(name: &str) -> Result<T, MallctlError> {
    read(&LINKED, name)
}

/// Writes a mallctl value of type `T` in the linked jemalloc.
pub fn mallctl_write<T: Copy>(name: &str, v: T) -> Result<(), MallctlError> {
    write(&LINKED, name, v)
}

/// Calls a `void` mallctl of the linked jemalloc.
pub fn mallctl_void(name: &str) -> Result<(), MallctlError> {
    call(&LINKED, name)
}

/// `nallocx(size, 0)` of the linked jemalloc.
pub fn nallocx(size: usize) -> usize {
    usable_size(&LINKED, size)
}

/// The linked jemalloc's version string.
pub fn version() -> String {
    version_of(&LINKED)
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

/// jemalloc's `extent_hooks_t` (the same nine entries in 5.2.1 and 5.3.0); only `alloc` is
/// called from here, the others are passed through untouched.
#[repr(C)]
#[derive(Clone, Copy)]
struct ExtentHooks {
    alloc: Option<AllocHook>,
    rest: [*const c_void; 8],
}

/// `extent_alloc_t`.
type AllocHook = unsafe extern "C" fn(
    *mut ExtentHooks,
    *mut c_void,
    usize,
    usize,
    *mut bool,
    *mut bool,
    c_uint,
) -> *mut c_void;

/// An arena's extent hooks with `alloc` wrapped so that every new mapping for extents (page
/// alignment, no address asked for: `extent_grow_retained`) is noted; the hooks table must stay
/// first, as jemalloc hands the hooks back as a pointer to it.
#[repr(C)]
struct MappingRecorder {
    hooks: ExtentHooks,
    orig: *mut ExtentHooks,
    maps: Mutex<Vec<(usize, usize)>>,
}

// SAFETY: the raw pointers are jemalloc's static default hooks table and function pointers,
// valid for the life of the library; the list is behind a mutex.
unsafe impl Sync for MappingRecorder {}
// SAFETY: as above.
unsafe impl Send for MappingRecorder {}

/// The wrapped `alloc` hook: calls the arena's original one, notes new extent mappings.
unsafe extern "C" fn recording_alloc(
    hooks: *mut ExtentHooks,
    new_addr: *mut c_void,
    size: usize,
    alignment: usize,
    zero: *mut bool,
    commit: *mut bool,
    arena_ind: c_uint,
) -> *mut c_void {
    // SAFETY: jemalloc passes back the table it was given, the first field of a recorder.
    let rec = &*(hooks as *const MappingRecorder);
    let alloc = (*rec.orig).alloc.expect("jemalloc's default hooks have alloc");
    let p = alloc(rec.orig, new_addr, size, alignment, zero, commit, arena_ind);
    // Base blocks are huge-page aligned; extent growth asks for page alignment.
    if !p.is_null() && new_addr.is_null() && alignment <= 4096 {
        rec.maps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((p as usize, size));
    }
    p
}

/// A dedicated real arena (`arenas.create`) of one jemalloc build, used without the thread
/// cache, or with one explicit thread cache (`tcache.create`).
pub struct RealArena<'j> {
    pub index: u32,
    jem: &'j dyn Jemalloc,
    flags: c_int,
    tcache: Option<u32>,
    recorder: Option<&'static MappingRecorder>,
}

impl RealArena<'static> {
    /// An arena of the linked jemalloc ([`RealArena::create_in`] on [`LINKED`]).
    pub fn create(dirty_decay_ms: isize, muzzy_decay_ms: isize) -> Result<Self, MallctlError> {
        RealArena::create_in(&LINKED, dirty_decay_ms, muzzy_decay_ms)
    }
}

impl<'j> RealArena<'j> {
    /// Creates an arena in build `jem` and sets its decay times (`arena.<i>.dirty_decay_ms`,
    /// `muzzy_decay_ms`).
    pub fn create_in(
        jem: &'j dyn Jemalloc,
        dirty_decay_ms: isize,
        muzzy_decay_ms: isize,
    ) -> Result<Self, MallctlError> {
        let index: u32 = read(jem, "arenas.create")?;
        write(jem, &format!("arena.{index}.dirty_decay_ms"), dirty_decay_ms)?;
        write(jem, &format!("arena.{index}.muzzy_decay_ms"), muzzy_decay_ms)?;
        Ok(RealArena {
            index,
            jem,
            flags: mallocx_arena(index) | mallocx_tcache(-1),
            tcache: None,
            recorder: None,
        })
    }

    /// Notes every mapping the arena makes for extents from now on ([`RealArena::new_mappings`])
    /// by wrapping its `alloc` extent hook (`arena.<i>.extent_hooks`); the other hooks stay
    /// jemalloc's defaults, so placement is unchanged. The wrapper is never freed (jemalloc
    /// keeps using it until the arena is destroyed).
    pub fn record_mappings(&mut self) -> Result<(), MallctlError> {
        let name = format!("arena.{}.extent_hooks", self.index);
        let orig: *mut ExtentHooks = read(self.jem, &name)?;
        // SAFETY: jemalloc returned its live hooks table.
        let table = unsafe { *orig };
        let rec: &'static MappingRecorder = Box::leak(Box::new(MappingRecorder {
            hooks: ExtentHooks {
                alloc: Some(recording_alloc),
                rest: table.rest,
            },
            orig,
            maps: Mutex::new(Vec::new()),
        }));
        write(
            self.jem,
            &name,
            &rec.hooks as *const ExtentHooks as *mut ExtentHooks,
        )?;
        self.recorder = Some(rec);
        Ok(())
    }

    /// The mappings (address, bytes) made for extents since the last call, oldest first; empty
    /// unless [`RealArena::record_mappings`] was called.
    pub fn new_mappings(&self) -> Vec<(usize, usize)> {
        self.recorder.map_or(Vec::new(), |r| {
            std::mem::take(&mut *r.maps.lock().unwrap_or_else(|e| e.into_inner()))
        })
    }

    /// The build this arena belongs to.
    pub fn jemalloc(&self) -> &'j dyn Jemalloc {
        self.jem
    }

    /// Routes allocations through a fresh explicit thread cache (`tcache.create`). Explicit caches
    /// are never visited by the incremental GC.
    pub fn with_explicit_tcache(mut self) -> Result<Self, MallctlError> {
        let tc: u32 = read(self.jem, "tcache.create")?;
        self.flags = mallocx_arena(self.index) | mallocx_tcache(tc as c_int);
        self.tcache = Some(tc);
        Ok(self)
    }

    /// `mallocx(size)` in this arena. Returns null on failure.
    pub fn malloc(&self, size: usize) -> *mut u8 {
        // SAFETY: flags name this live arena (and its live explicit tcache).
        unsafe { self.jem.mallocx(size.max(1), self.flags) as *mut u8 }
    }

    /// `rallocx(ptr, size)` in this arena. Returns null on failure (then `p` is still live).
    ///
    /// # Safety
    /// `p` must come from this arena and not be freed yet; on success it is no longer valid.
    pub unsafe fn realloc(&self, p: *mut u8, size: usize) -> *mut u8 {
        self.jem.rallocx(p as *mut c_void, size.max(1), self.flags) as *mut u8
    }

    /// `dallocx(ptr)` in this arena.
    ///
    /// # Safety
    /// `p` must come from [`RealArena::malloc`] on this arena and not be freed yet.
    pub unsafe fn free(&self, p: *mut u8) {
        self.jem.dallocx(p as *mut c_void, self.flags)
    }

    /// `arena.<i>.purge`.
    pub fn purge(&self) -> Result<(), MallctlError> {
        call(self.jem, &format!("arena.{}.purge", self.index))
    }

    /// `tcache.flush` of the explicit cache.
    pub fn flush_tcache(&self) -> Result<(), MallctlError> {
        if let Some(tc) = self.tcache {
            write(self.jem, "tcache.flush", tc)?;
        }
        Ok(())
    }

    /// Refreshes (`epoch`) and reads this arena's stats.
    pub fn stats(&self) -> Result<RealArenaStats, MallctlError> {
        write(self.jem, "epoch", 1u64)?;
        let i = self.index;
        let r = |k: &str| read::<usize>(self.jem, &format!("stats.arenas.{i}.{k}")).map(|v| v as u64);
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
        let s: usize = read(self.jem, &format!("stats.arenas.{i}.bins.{b}.curslabs"))?;
        let r: usize = read(self.jem, &format!("stats.arenas.{i}.bins.{b}.curregs"))?;
        Ok((s as u64, r as u64))
    }
}

impl Drop for RealArena<'_> {
    fn drop(&mut self) {
        if let Some(tc) = self.tcache {
            let _ = write(self.jem, "tcache.destroy", tc);
        }
        let _ = call(self.jem, &format!("arena.{}.destroy", self.index));
    }
}
