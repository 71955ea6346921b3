//! Reports: text tables and JSON for people and notebooks.
pub mod charts;
pub mod document;
pub mod explain;
pub mod run;

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: into a temporary file beside it, then renamed over it,
/// so a failure never leaves a half-written output.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A set of output files written into a hidden staging directory inside the output directory
/// and moved into place together by [`Staging::commit`]; dropped uncommitted, the staging
/// directory and everything in it is removed, so a failure leaves no partial output.
pub struct Staging {
    out: std::path::PathBuf,
    dir: std::path::PathBuf,
    committed: bool,
    /// The output directory did not exist before: removed again if nothing lands in it.
    created: bool,
}

impl Staging {
    /// Creates `out` if needed and a staging directory inside it.
    pub fn new(out: &Path) -> std::io::Result<Staging> {
        let created = !out.exists();
        std::fs::create_dir_all(out)?;
        let dir = out.join(format!(".fragsim-staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = std::fs::create_dir(&dir) {
            if created {
                let _ = std::fs::remove_dir(out);
            }
            return Err(e);
        }
        Ok(Staging {
            out: out.to_path_buf(),
            dir,
            committed: false,
            created,
        })
    }

    /// The staging directory (where charts are drawn).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one staged file.
    pub fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::write(self.dir.join(name), bytes)
    }

    /// Moves every staged file into the output directory; returns their final paths, sorted.
    pub fn commit(mut self) -> std::io::Result<Vec<std::path::PathBuf>> {
        let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(&self.dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        // Nothing moves unless everything can: a directory in the way would stop a rename
        // half-way through.
        for n in &names {
            let to = self.out.join(n);
            if to.is_dir() {
                return Err(std::io::Error::other(format!("{} is a directory", to.display())));
            }
        }
        let mut out = Vec::new();
        for n in names {
            let to = self.out.join(&n);
            std::fs::rename(self.dir.join(&n), &to)?;
            out.push(to);
        }
        std::fs::remove_dir(&self.dir)?;
        self.committed = true;
        Ok(out)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
            if self.created {
                let _ = std::fs::remove_dir(&self.out);
            }
        }
    }
}
