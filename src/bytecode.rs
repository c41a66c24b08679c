//! Where the bytecode of application code goes (PyriteBytecodeCache).
//!
//! CPython writes a module's bytecode to `__pycache__` beside its source; for
//! a handler under a DocumentRoot or an Alias that directory is served, so the
//! compiled module could be downloaded. By default httpd's parent makes a
//! private directory in its runtime directory, owned by the children's user
//! with mode 0700, and each child keeps there the bytecode of every module it
//! imports from outside Python's own installation (python/_pyrite_boot.py).
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::sync::Mutex;

pub use crate::config::BytecodeSetting as Setting;
use crate::ffi::pool::Pool;
use crate::ffi::server::Server;
use crate::ffi::{log, runtime};
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

/// Makes the directory the children will use and logs the choice (httpd's
/// parent, post_config: `pconf` the configuration pool, `s` the main server).
pub fn prepare(pconf: &Pool, s: &Server) {
    let setting = crate::config::ServerConfig::of(s)
        .and_then(|c| c.bytecode_cache.clone())
        .unwrap_or(Setting::Private);
    let dir = match setting {
        Setting::Beside => Ok(Chosen::Beside),
        Setting::Off => Ok(Chosen::Off),
        Setting::Private => runtime::path_in(pconf, PRIVATE_NAME)
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
            s.log(
                log::APLOG_INFO,
                &format!("mod_pyrite: the bytecode of application code is kept {what}"),
            );
            c
        }
        Err(e) => {
            s.log(log::APLOG_ERR, &format!(
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
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    let p = std::path::Path::new(std::ffi::OsStr::from_bytes(path.to_bytes()));
    if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(p) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(fail("mkdir", e));
        }
    }
    // std adds O_CLOEXEC itself.
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(p)
        .map_err(|e| fail("open (it must be a directory, not a symlink)", e))?;
    let meta = dir.metadata().map_err(|e| format!("{}: {e}", path.to_string_lossy()))?;
    let (uid, gid) = runtime::child_user();
    let me = crate::ffi::os::euid();
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
