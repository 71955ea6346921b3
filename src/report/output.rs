//! Writing output files so that nothing is ever half-written, clobbered or left behind.
//!
//! - One file ([`write_atomic`]): written to a temporary file beside it, flushed to disk and
//!   renamed over it; a symbolic link is followed (its target replaced, the link kept); a
//!   device or FIFO (`/dev/stdout`, a named pipe) is written through, never replaced; a
//!   directory or socket is refused.
//! - A set of files ([`Staging`]): written into a hidden staging directory inside the output
//!   directory and moved into place together, all or nothing: files they replace are set aside
//!   first and put back if any move fails.
//! - Interrupts (SIGINT, SIGTERM, SIGHUP): the temporary files and staging directories in flight
//!   are removed before the process exits (code 130), after any move into place has finished,
//!   so the previous complete output stays. Ones left by a process that was killed outright are
//!   removed by the next run that writes there.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// Paths in flight (temporary files, staging directories): removed on an interrupt.
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();

const STAGING_PREFIX: &str = ".fragsim-staging-";
/// Marks of fragsim's temporary files (`.result.json.fragsim-tmp-<pid>`) and of files set aside
/// while a set moves into place (`.result.json.fragsim-old-<pid>`): only names with these marks
/// are ever removed as stale, never a user's own hidden files.
const TMP_MARK: &str = ".fragsim-tmp-";
const OLD_MARK: &str = ".fragsim-old-";

fn in_flight() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Installs the interrupt handler (once): it waits for any move into place to finish, removes
/// what is in flight and exits with code 130.
pub fn clean_up_on_interrupt() {
    HANDLER.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            let list = in_flight();
            for p in list.iter() {
                if p.is_dir() {
                    let _ = std::fs::remove_dir_all(p);
                } else {
                    let _ = std::fs::remove_file(p);
                }
            }
            let _ = writeln!(
                std::io::stderr(),
                "fragsim: interrupted; outputs not yet in place were removed, earlier ones kept"
            );
            std::process::exit(130);
        });
    });
}

fn track(p: &Path) {
    in_flight().push(p.to_path_buf());
}

fn untrack(p: &Path) {
    in_flight().retain(|q| q != p);
}

/// Whether process `pid` is a live fragsim (so its staging or temporary files are in use).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    // Without /proc (not Linux) whether the process still runs cannot be told: keep its files.
    if !Path::new("/proc/self").exists() {
        return true;
    }
    // `/proc/PID/stat` is "PID (COMM) STATE ...": a fragsim that is not a zombie (a killed
    // process whose parent has not reaped it yet still has an entry, in state Z).
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let comm = &stat[open + 1..close];
    let state = stat[close + 1..].trim_start().chars().next();
    comm.starts_with("fragsim") && !matches!(state, Some('Z') | Some('X') | None)
}

/// The pid in a name like `.fragsim-staging-123`, `.result.json.fragsim-tmp-123` or
/// `.result.json.fragsim-old-123`; `None` for any other name.
fn pid_in(name: &str) -> Option<u32> {
    if let Some(rest) = name.strip_prefix(STAGING_PREFIX) {
        return rest.parse().ok();
    }
    let (_, rest) = name
        .rsplit_once(TMP_MARK)
        .or_else(|| name.rsplit_once(OLD_MARK))?;
    rest.parse().ok()
}

/// Removes staging directories and temporary files that dead fragsim processes left in `dir`.
pub fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            continue;
        }
        let Some(pid) = pid_in(&name) else { continue };
        if alive(pid) {
            continue;
        }
        let p = e.path();
        if name.starts_with(STAGING_PREFIX) {
            let _ = std::fs::remove_dir_all(&p);
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// Follows symbolic links (at most 40) to the path that will really be written.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p)?;
                p = if to.is_absolute() {
                    to
                } else {
                    p.parent().unwrap_or(Path::new(".")).join(to)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// What kind of thing sits at a path about to be written.
enum Target {
    /// Nothing, or a regular file (symbolic links followed to it): replaced atomically.
    File(PathBuf),
    /// A character device or FIFO (`/dev/stdout`, a named pipe): written through.
    Stream(PathBuf),
}

fn target_of(path: &Path) -> std::io::Result<Target> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        // Nothing there, or a link to nothing yet: the link's final target is created.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Target::File(resolve(path)?)),
        Err(e) => Err(e),
        Ok(m) if m.is_file() => Ok(Target::File(resolve(path)?)),
        Ok(m) if m.is_dir() => Err(std::io::Error::other("it is a directory")),
        // Opened by the name given: /dev/stdout is a link the kernel resolves, not a path.
        Ok(m) if m.file_type().is_char_device() || m.file_type().is_fifo() => {
            Ok(Target::Stream(path.to_path_buf()))
        }
        Ok(_) => Err(std::io::Error::other(
            "it is not a regular file, device or pipe; choose another path",
        )),
    }
}

/// Writes through to a device or pipe.
fn write_stream(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let waiting = crate::units::fifo_notice(path, "a reader");
    let f = std::fs::OpenOptions::new().write(true).open(path);
    drop(waiting);
    let mut f = f?;
    f.write_all(bytes)?;
    f.flush()
}

/// Writes `bytes` to a new file `path` and flushes it to disk.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Flushes a directory's entries (a rename into it) to disk.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn parent_of(p: &Path) -> &Path {
    p.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `bytes` into a temporary file beside `target` (tracked for interrupts, flushed to
/// disk) and returns its path; on failure nothing is left. Stale temporary files of dead
/// processes in that directory are removed first.
fn write_beside(target: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let dir = parent_of(target);
    remove_stale(dir);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let tmp = dir.join(format!(".{name}{TMP_MARK}{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    track(&tmp);
    if let Err(e) = write_new(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        untrack(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Writes `bytes` to `path`: atomically for a file (see the module's notes), through for a
/// device or FIFO. On any failure the file is as it was and the error says why.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    clean_up_on_interrupt();
    match target_of(path)? {
        Target::Stream(p) => write_stream(&p, bytes),
        Target::File(target) => {
            let tmp = write_beside(&target, bytes)?;
            let result = {
                let _guard = in_flight();
                std::fs::rename(&tmp, &target)
            };
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            untrack(&tmp);
            sync_dir(parent_of(&target));
            result
        }
    }
}

/// Why [`Staging::commit`] failed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Moving the files into place failed: every file is as it was before.
    #[error("cannot move the outputs into place: {0}; nothing was changed")]
    Move(std::io::Error),
    /// The files are in place but a device or pipe given as an output could not be written.
    #[error("{}: cannot write: {source} (the other outputs were written)", .path.display())]
    Stream { path: PathBuf, source: std::io::Error },
}

/// A set of output files written into a hidden staging directory inside the output directory
/// (and, for files named elsewhere such as `--json`, into temporary files beside them) and moved
/// into place together by [`Staging::commit`], all or nothing. Dropped uncommitted, the staging
/// directory and temporary files are removed, and so are the directories it created on the way.
pub struct Staging {
    out: PathBuf,
    dir: PathBuf,
    committed: bool,
    /// Directories created for the output directory (deepest last): removed again, if empty,
    /// when nothing lands.
    created: Vec<PathBuf>,
    /// Files outside the output directory: (temporary file, target).
    extras: Vec<(PathBuf, PathBuf)>,
    /// Devices and pipes to write through once everything else is in place.
    streams: Vec<(PathBuf, Vec<u8>)>,
}

impl Staging {
    /// Creates `out` (and missing parents) if needed and a staging directory inside it,
    /// removing stale ones. Refuses the root directory and anything that is not a directory.
    pub fn new(out: &Path) -> std::io::Result<Staging> {
        clean_up_on_interrupt();
        let abs = if out.is_absolute() {
            out.to_path_buf()
        } else {
            std::env::current_dir()?.join(out)
        };
        if abs
            .components()
            .all(|c| matches!(c, std::path::Component::RootDir))
        {
            return Err(std::io::Error::other(
                "the root directory is not an output directory",
            ));
        }
        if let Ok(m) = std::fs::metadata(out) {
            if !m.is_dir() {
                return Err(std::io::Error::other("it exists and is not a directory"));
            }
        }
        let mut missing = Vec::new();
        let mut p = Some(out);
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            missing.push(d.to_path_buf());
            p = d.parent();
        }
        missing.reverse();
        let mut st = Staging {
            out: out.to_path_buf(),
            dir: out.join(format!("{STAGING_PREFIX}{}", std::process::id())),
            committed: false,
            created: Vec::new(),
            extras: Vec::new(),
            streams: Vec::new(),
        };
        for d in missing {
            std::fs::create_dir(&d)?;
            st.created.push(d);
        }
        remove_stale(out);
        let _ = std::fs::remove_dir_all(&st.dir);
        track(&st.dir);
        std::fs::create_dir(&st.dir)?;
        Ok(st)
    }

    /// The staging directory (where charts are drawn).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The output directory.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Writes one staged file, flushed to disk.
    pub fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let p = self.dir.join(name);
        let _ = std::fs::remove_file(&p);
        write_new(&p, bytes)
    }

    /// Writes a file outside the output directory (`--json PATH`) into a temporary file beside
    /// it, moved into place with the rest; a device or pipe is written through after the rest.
    pub fn write_elsewhere(&mut self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        match target_of(path)? {
            Target::Stream(p) => self.streams.push((p, bytes.to_vec())),
            Target::File(target) => {
                let tmp = write_beside(&target, bytes)?;
                self.extras.push((tmp, target));
            }
        }
        Ok(())
    }

    /// Moves every staged file into place; returns the output directory's files, sorted.
    /// Files already there are set aside first and put back if a move fails, so the old files
    /// all stay or the new ones all land.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, CommitError> {
        let mut names: Vec<OsString> = std::fs::read_dir(&self.dir)
            .and_then(|d| d.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>())
            .map_err(CommitError::Move)?;
        names.sort();
        let mut moves: Vec<(PathBuf, PathBuf)> = names
            .iter()
            .map(|n| (self.dir.join(n), self.out.join(n)))
            .collect();
        moves.extend(self.extras.iter().cloned());
        for (_, to) in &moves {
            if let Ok(m) = std::fs::symlink_metadata(to) {
                if !m.is_file() {
                    return Err(CommitError::Move(std::io::Error::other(format!(
                        "{} is not a regular file; move it away or choose another output path",
                        to.display()
                    ))));
                }
            }
        }
        // No interrupt while files move: the handler waits for this lock.
        let guard = in_flight();
        let pid = std::process::id();
        let mut set_aside: Vec<(PathBuf, PathBuf)> = Vec::new();
        let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
        let result = (|| -> std::io::Result<()> {
            for (from, to) in &moves {
                if to.exists() {
                    let name = to.file_name().unwrap_or_default().to_string_lossy();
                    let old = parent_of(to).join(format!(".{name}{OLD_MARK}{pid}"));
                    std::fs::rename(to, &old)?;
                    set_aside.push((old, to.clone()));
                }
                std::fs::rename(from, to)?;
                moved.push((from.clone(), to.clone()));
            }
            Ok(())
        })();
        if let Err(e) = result {
            for (from, to) in moved.iter().rev() {
                let _ = std::fs::rename(to, from);
            }
            for (old, to) in set_aside.iter().rev() {
                let _ = std::fs::rename(old, to);
            }
            return Err(CommitError::Move(e));
        }
        for (old, _) in &set_aside {
            let _ = std::fs::remove_file(old);
        }
        let mut dirs: Vec<&Path> = moves.iter().map(|(_, to)| parent_of(to)).collect();
        dirs.dedup();
        for d in dirs {
            sync_dir(d);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        self.committed = true;
        drop(guard);
        untrack(&self.dir);
        for (tmp, _) in &self.extras {
            untrack(tmp);
        }
        for (target, bytes) in std::mem::take(&mut self.streams) {
            write_stream(&target, &bytes).map_err(|source| CommitError::Stream {
                path: target.clone(),
                source,
            })?;
        }
        Ok(names.into_iter().map(|n| self.out.join(n)).collect())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
            untrack(&self.dir);
            for (tmp, _) in &self.extras {
                let _ = std::fs::remove_file(tmp);
                untrack(tmp);
            }
            for d in self.created.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_read_from_staging_and_temporary_names() {
        assert_eq!(pid_in(".fragsim-staging-4242"), Some(4242));
        assert_eq!(pid_in(".result.json.fragsim-tmp-77"), Some(77));
        assert_eq!(pid_in(".result.json.fragsim-old-12"), Some(12));
        // A user's own hidden files are never taken for fragsim's.
        assert_eq!(pid_in(".bashrc.old-2"), None);
        assert_eq!(pid_in(".notes.tmp-12"), None);
        assert_eq!(pid_in(".hidden"), None);
    }
}
