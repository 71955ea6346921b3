//! Real jemalloc builds besides the linked 5.3.0: shared libraries built by
//! `.ci/build-jemalloc` (the Redis-bundled flavours), loaded at run time from the directory in
//! `$FRAGSIM_JEMALLOC_LIBS`, one file per allocator preset (`redis-7.0-bundled.so`, ...).

use std::sync::Mutex;

use fragsim::validate::real_jemalloc::Loaded;

/// The jemalloc build that allocator preset `preset` stands for, loaded from
/// `$FRAGSIM_JEMALLOC_LIBS/<preset>.so` (once per process; never unloaded). `None`, with a
/// notice, when the variable is unset or names no such file; when
/// `$FRAGSIM_REQUIRE_JEMALLOC_LIBS` is 1 or `all`, or lists the preset (comma-separated), that
/// is a failure instead. A file that is there but does not load is always a failure.
pub fn jemalloc_lib(preset: &str) -> Option<&'static Loaded> {
    static LOADED: Mutex<Vec<(String, &'static Loaded)>> = Mutex::new(Vec::new());
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, l)) = loaded.iter().find(|(p, _)| p == preset) {
        return Some(*l);
    }
    let dir = std::env::var("FRAGSIM_JEMALLOC_LIBS").ok();
    let path = dir
        .as_ref()
        .map(|d| std::path::Path::new(d).join(format!("{preset}.so")));
    let Some(path) = path.filter(|p| p.is_file()) else {
        let what = match &dir {
            None => format!("no {preset} jemalloc: FRAGSIM_JEMALLOC_LIBS is not set"),
            Some(d) => format!("no {preset} jemalloc: {d}/{preset}.so does not exist"),
        };
        let required = std::env::var("FRAGSIM_REQUIRE_JEMALLOC_LIBS").unwrap_or_default();
        if required == "1" || required == "all" || required.split(',').any(|r| r.trim() == preset) {
            panic!("FRAGSIM_REQUIRE_JEMALLOC_LIBS={required} but {what}");
        }
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!(
                "SKIPPED: {what} (build it with `.ci/build-jemalloc SRC_DIR DIR {preset} \
                 [configure flags]` and set FRAGSIM_JEMALLOC_LIBS=DIR; \
                 FRAGSIM_REQUIRE_JEMALLOC_LIBS=1 fails instead)\n"
            ),
        );
        return None;
    };
    let lib: &'static Loaded = Box::leak(Box::new(Loaded::open(&path).unwrap_or_else(|e| panic!("{e}"))));
    loaded.push((preset.to_string(), lib));
    Some(lib)
}
