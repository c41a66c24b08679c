//! Where the bytecode of application code goes (PyriteBytecodeCache).
//!
//! CPython writes a module's bytecode to `__pycache__` beside its source; for
//! a handler under a DocumentRoot or an Alias that directory is served, so the
//! compiled module could be downloaded. By default httpd's parent makes a
//! private directory in its runtime directory, owned by the children's user
//! with mode 0700, and each child keeps there the bytecode of every module it
//! imports from outside Python's own installation (python/_pyrite_boot.py).
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Mutex;

pub use crate::config::BytecodeSetting as Setting;
use crate::ffi::{log, raw, runtime};
use crate::sync::LockExt;

/// The directory's name in httpd's runtime directory.
pub const PRIVATE_NAME: &str = "mod_pyrite-bytecode";

/// What the children do, chosen by the parent at each (re)start.
#[derive(Clone, Debug)]
pub enum Chosen {
    Directory(String),
    Beside,
    Off,
}

static CHOSEN: Mutex<Option<Chosen>> = Mutex::new(None);

/// Makes the directory the children will use and logs the choice.
///
/// # Safety
/// Called in httpd's parent from post_config with the configuration pool and main server.
pub unsafe fn prepare(pconf: *mut raw::apr_pool_t, s: *mut raw::server_rec) {
    // SAFETY: s is the main server of the configuration being read.
    let setting = unsafe { crate::config::server_config(s) }
        .and_then(|c| c.bytecode_cache.clone())
        .unwrap_or(Setting::Private);
    let dir = match setting {
        Setting::Beside => Ok(Chosen::Beside),
        Setting::Off => Ok(Chosen::Off),
        // SAFETY: pconf is live (this function's contract).
        Setting::Private => unsafe { runtime::path(pconf, PRIVATE_NAME) }
            .ok_or_else(|| "httpd's runtime directory could not be named".to_string())
            .and_then(|p| make_dir(&p).map(|()| Chosen::Directory(p.to_string_lossy().into_owned()))),
        Setting::Directory(d) => CString::new(d.as_str())
            .map_err(|_| "the path holds a NUL byte".to_string())
            .and_then(|p| make_dir(&p).map(|()| Chosen::Directory(d))),
    };
    let chosen = match dir {
        Ok(c) => {
            let what = match &c {
                Chosen::Directory(d) => format!("in {d} (mode 0700, the children's user's)"),
                Chosen::Beside => "in __pycache__ beside its source (PyriteBytecodeCache beside)".into(),
                Chosen::Off => "nowhere: it is compiled at each import (PyriteBytecodeCache off)".into(),
            };
            log::serror(
                s,
                log::APLOG_INFO,
                &format!("mod_pyrite: the bytecode of application code is kept {what}"),
            );
            c
        }
        Err(e) => {
            log::serror(s, log::APLOG_ERR, &format!(
                "mod_pyrite: the private bytecode directory cannot be used ({e}): application code's bytecode will be neither written nor read"
            ));
            Chosen::Off
        }
    };
    *CHOSEN.locked() = Some(chosen);
}

/// The choice the parent made (read in a child).
pub fn chosen() -> Chosen {
    CHOSEN.locked().clone().unwrap_or(Chosen::Off)
}

/// Makes `path` a directory only the children's user can enter: creates it
/// if missing, refuses a symlink, a file or another user's directory.
fn make_dir(path: &std::ffi::CStr) -> Result<(), String> {
    let fail = |what: &str, e: std::io::Error| format!("{}: {what}: {e}", path.to_string_lossy());
    // SAFETY: path is NUL-terminated.
    if unsafe { libc::mkdir(path.as_ptr(), 0o700) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(fail("mkdir", e));
        }
    }
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: path is NUL-terminated; the descriptor is owned right away.
    let fd = unsafe { libc::open(path.as_ptr(), flags) };
    if fd < 0 {
        return Err(fail(
            "open (it must be a directory, not a symlink)",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd was just opened and is not owned elsewhere.
    let dir = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = dir.metadata().map_err(|e| format!("{}: {e}", path.to_string_lossy()))?;
    let (uid, gid) = runtime::child_user();
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me && meta.uid() != uid {
        return Err(format!("{} belongs to another user (uid {})", path.to_string_lossy(), meta.uid()));
    }
    if me == 0 {
        std::os::unix::fs::fchown(&dir, Some(uid), Some(gid)).map_err(|e| format!("{}: chown: {e}", path.to_string_lossy()))?;
    }
    dir.set_permissions(std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("{}: chmod: {e}", path.to_string_lossy()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse() {
        assert_eq!(Setting::parse("Private"), Ok(Setting::Private));
        assert_eq!(Setting::parse("beside"), Ok(Setting::Beside));
        assert_eq!(Setting::parse("OFF"), Ok(Setting::Off));
        assert_eq!(Setting::parse("/var/cache/pyc/"), Ok(Setting::Directory("/var/cache/pyc".into())));
        for bad in ["", "/", "//", "relative/dir", "on"] {
            assert!(Setting::parse(bad).is_err(), "{bad:?}");
        }
    }
}
