//! The lock files behind the global locks: made by httpd's parent, opened by
//! each child (its own open file description, so flock excludes between
//! children), removed when the parent stops.
//!
//! Their names hold the parent's pid and the lock's index, not the
//! generation: after a graceful restart the new children lock the same files
//! as the old children still finishing their requests, so exclusion holds
//! across the restart.
use std::ffi::{CStr, CString};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use crate::ffi::{self, raw};
use crate::sync::LockExt;

/// This generation's lock files, by index (set in the parent, inherited by the children).
static PATHS: Mutex<Vec<CString>> = Mutex::new(Vec::new());
/// Every lock file this parent made, for removal at stop (counts may change across restarts).
static MADE: Mutex<Vec<CString>> = Mutex::new(Vec::new());
/// The process that made them: only it removes them.
static MAKER: AtomicI32 = AtomicI32::new(0);

/// Makes (or keeps, across a graceful restart) `count` lock files in `dir`,
/// else in httpd's runtime directory.
///
/// # Safety
/// Called in httpd's parent from post_config, with the configuration pool and main server.
pub unsafe fn create(pconf: *mut raw::apr_pool_t, s: *mut raw::server_rec, count: usize, dir: Option<&str>) -> Result<(), String> {
    let pid = std::process::id();
    let mut paths = Vec::with_capacity(count);
    for i in 0..count {
        let name = format!("mod_pyrite-lock.{pid}.{i}");
        let path = match dir {
            Some(d) => CString::new(format!("{}/{name}", d.trim_end_matches('/'))),
            // SAFETY: pconf is live; the result is copied before the pool is cleared.
            None => Ok(unsafe { runtime_path(pconf, &name) }),
        }
        .map_err(|_| "PythonOption mod_python.mutex_directory holds a NUL byte".to_string())?;
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
        // SAFETY: s is the main server; its process pool outlives every generation.
        unsafe { ffi::pool::on_cleanup((*(*s).process).pool, remove_all) };
    }
    Ok(())
}

/// # Safety
/// `pconf` is a live pool.
unsafe fn runtime_path(pconf: *mut raw::apr_pool_t, name: &str) -> CString {
    let cname = CString::new(name).expect("a lock file name has no NUL");
    // SAFETY: ap_runtime_dir_relative returns a NUL-terminated string in pconf.
    unsafe { CStr::from_ptr(raw::ap_runtime_dir_relative(pconf, cname.as_ptr())).to_owned() }
}

/// Creates the file if missing, refuses one that is not ours (a symlink, a
/// directory, another user's), and gives it to the user the children run as.
fn make_file(path: &CStr) -> std::io::Result<()> {
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: path is NUL-terminated; the descriptor is owned right away.
    let fd = unsafe { libc::open(path.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is not owned elsewhere.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let meta = file.metadata()?;
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
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
    // SAFETY: ap_unixd_config is filled while the configuration is read, before post_config.
    unsafe { raw::ap_unixd_config.user_id }
}

/// Opens this generation's lock files in a child, one descriptor each.
pub fn open_all() -> Result<Vec<OwnedFd>, String> {
    let paths = PATHS.locked().clone();
    let mut fds = Vec::with_capacity(paths.len());
    for p in &paths {
        // flock works on a read-only descriptor; the child needs no write access.
        // SAFETY: p is NUL-terminated; the descriptor is owned right away.
        let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(format!("{}: {}", p.to_string_lossy(), std::io::Error::last_os_error()));
        }
        // SAFETY: fd was just opened and is not owned elsewhere.
        fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    Ok(fds)
}

/// Removes the lock files when httpd's parent stops.
fn remove_all() {
    if MAKER.load(Ordering::Relaxed) != std::process::id() as i32 {
        return;
    }
    for p in MADE.locked().drain(..) {
        // SAFETY: p is NUL-terminated.
        unsafe { libc::unlink(p.as_ptr()) };
    }
}
