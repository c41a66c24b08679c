//! The lock files behind the global locks: made by httpd's parent, opened by
//! each child (its own open file description, so flock excludes between
//! children), removed when the parent stops.
//!
//! Their names hold the parent's pid and the lock's index, not the
//! generation: after a graceful restart the new children lock the same files
//! as the old children still finishing their requests, so exclusion holds
//! across the restart.
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use crate::ffi::pool::Pool;
use crate::ffi::server::Server;
use crate::sync::LockExt;

/// This generation's lock files, by index (set in the parent, inherited by the children).
static PATHS: Mutex<Vec<CString>> = Mutex::new(Vec::new());
/// Every lock file this parent made, for removal at stop (counts may change across restarts).
static MADE: Mutex<Vec<CString>> = Mutex::new(Vec::new());
/// The process that made them: only it removes them.
static MAKER: AtomicI32 = AtomicI32::new(0);

/// Makes (or keeps, across a graceful restart) `count` lock files in `dir`,
/// else in httpd's runtime directory.
/// Called in httpd's parent from post_config, with the configuration pool and main server.
pub fn create(pconf: &Pool, s: &Server, count: usize, dir: Option<&str>) -> Result<(), String> {
    let pid = std::process::id();
    let mut paths = Vec::with_capacity(count);
    for i in 0..count {
        let name = format!("mod_pyrite-lock.{pid}.{i}");
        let path = match dir {
            Some(d) => CString::new(format!("{}/{name}", d.trim_end_matches('/')))
                .map_err(|_| "PythonOption mod_python.mutex_directory holds a NUL byte".to_string())?,
            None => crate::ffi::runtime::path_in(pconf, &name)
                .ok_or_else(|| format!("httpd's runtime directory gave no path for the global lock file {name}"))?,
        };
        make_file(&path).map_err(|e| format!("could not make the global lock file {}: {e}", path.to_string_lossy()))?;
        paths.push(path);
    }
    let first_time = MAKER.swap(pid as i32, Ordering::Relaxed) == 0;
    {
        let mut made = MADE.locked();
        for p in &paths {
            if !made.contains(p) {
                made.push(p.clone());
            }
        }
    }
    *PATHS.locked() = paths;
    if first_time {
        // The process pool lasts until httpd stops; restarts only clear pconf.
        s.process_pool().on_cleanup(remove_all);
    }
    Ok(())
}

/// Creates the file if missing, refuses one that is not ours (a symlink, a
/// directory, another user's), and gives it to the user the children run as.
fn make_file(path: &CStr) -> std::io::Result<()> {
    // std adds O_CLOEXEC itself.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(as_path(path))?;
    let meta = file.metadata()?;
    use std::os::unix::fs::MetadataExt;
    let me = crate::ffi::os::euid();
    if !meta.is_file() || meta.uid() != me && meta.uid() != child_uid() {
        return Err(std::io::Error::other("it exists and is not a regular file made by httpd"));
    }
    if me == 0 {
        std::os::unix::fs::fchown(&file, Some(child_uid()), None)?;
    }
    Ok(())
}

/// The user httpd's children run as (User directive).
fn child_uid() -> u32 {
    crate::ffi::runtime::child_user().0
}

fn as_path(p: &CStr) -> &Path {
    Path::new(OsStr::from_bytes(p.to_bytes()))
}

/// Opens this generation's lock files in a child, one descriptor each.
pub fn open_all() -> Result<Vec<OwnedFd>, String> {
    let paths = PATHS.locked().clone();
    let mut fds = Vec::with_capacity(paths.len());
    for p in &paths {
        // flock works on a read-only descriptor; the child needs no write access.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(as_path(p))
            .map_err(|e| format!("{}: {e}", p.to_string_lossy()))?;
        fds.push(OwnedFd::from(file));
    }
    Ok(fds)
}

/// Removes the lock files when httpd's parent stops.
fn remove_all() {
    if MAKER.load(Ordering::Relaxed) != std::process::id() as i32 {
        return;
    }
    for p in MADE.locked().drain(..) {
        let _ = std::fs::remove_file(as_path(&p));
    }
}
