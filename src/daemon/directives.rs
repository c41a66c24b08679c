//! The server-wide daemon directives: WSGIDaemonProcess, WSGISocketPrefix and
//! WSGIRestrictEmbedded. What they declare is kept for the configuration
//! generation being read (names are unique across the whole server, as in mod_wsgi).
use super::options::{self, GroupSpec};
use crate::config::{err, origin, split_words, text, Origin};
use crate::ffi::raw;
use crate::sync::LockExt;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One declared group and where it was declared.
pub struct Declared {
    pub spec: GroupSpec,
    pub origin: Origin,
    /// The server (virtual host) whose configuration declares it, as an
    /// address: its ErrorLog is the daemons' (valid for this generation).
    pub server: usize,
}

static GROUPS: Mutex<Vec<Arc<Declared>>> = Mutex::new(Vec::new());
static SOCKET_PREFIX: Mutex<Option<String>> = Mutex::new(None);
static RESTRICT_EMBEDDED: AtomicBool = AtomicBool::new(false);
/// Whether any group is declared (read per request without a lock).
static ANY: AtomicBool = AtomicBool::new(false);

/// Whether the configuration declares any daemon group.
#[inline]
pub fn any() -> bool {
    ANY.load(Ordering::Relaxed)
}

/// Called when httpd starts reading its configuration (again).
pub fn config_read_starts() {
    GROUPS.locked().clear();
    ANY.store(false, Ordering::Relaxed);
    *SOCKET_PREFIX.locked() = None;
    RESTRICT_EMBEDDED.store(false, Ordering::Relaxed);
}

/// The groups of the configuration generation read last.
pub fn groups() -> Vec<Arc<Declared>> {
    GROUPS.locked().clone()
}

/// The group called `name`, if declared.
pub fn group(name: &str) -> Option<Arc<Declared>> {
    GROUPS.locked().iter().find(|g| g.spec.name == name).cloned()
}

/// WSGISocketPrefix, if given (relative to ServerRoot when not absolute).
pub fn socket_prefix() -> Option<String> {
    SOCKET_PREFIX.locked().clone()
}

/// WSGIRestrictEmbedded On: nothing runs in httpd's own children.
pub fn restrict_embedded() -> bool {
    RESTRICT_EMBEDDED.load(Ordering::Relaxed)
}

unsafe extern "C" fn set_daemon_process(cmd: *mut raw::cmd_parms, _m: *mut c_void, args: *const c_char) -> *const c_char {
    // SAFETY: httpd's arguments to a directive callback: a live cmd_parms and a NUL-terminated argument line.
    crate::guard::or(c"mod_pyrite: internal error reading WSGIDaemonProcess".as_ptr(), || unsafe {
        let words = match split_words(text(args)) {
            Ok(w) => w,
            Err(e) => return err(cmd, "WSGIDaemonProcess", &e),
        };
        let spec = match options::parse(&words) {
            Ok(s) => s,
            Err(e) => return err(cmd, "WSGIDaemonProcess", &e),
        };
        let mut groups = GROUPS.locked();
        if let Some(other) = groups.iter().find(|g| g.spec.name == spec.name) {
            let msg = format!(
                "a daemon process group called {:?} is already declared at {}",
                spec.name, other.origin
            );
            return err(cmd, "WSGIDaemonProcess", &msg);
        }
        groups.push(Arc::new(Declared {
            spec,
            origin: origin(cmd),
            server: (*cmd).server as usize,
        }));
        ANY.store(true, Ordering::Relaxed);
        std::ptr::null()
    })
}

unsafe extern "C" fn set_socket_prefix(cmd: *mut raw::cmd_parms, _m: *mut c_void, arg: *const c_char) -> *const c_char {
    // SAFETY: as for set_daemon_process: a live cmd_parms and a NUL-terminated argument.
    crate::guard::or(std::ptr::null(), || unsafe {
        if (*(*cmd).server).is_virtual != 0 {
            return err(cmd, "WSGISocketPrefix", "applies to the whole server: move it out of <VirtualHost>");
        }
        let p = text(arg);
        if p.is_empty() {
            return err(cmd, "WSGISocketPrefix", "needs a path prefix");
        }
        let full = raw::ap_server_root_relative((*cmd).pool, crate::ffi::pool::strdup((*cmd).pool, p.as_bytes()));
        *SOCKET_PREFIX.locked() = Some(crate::ffi::cstr_lossy(full));
        std::ptr::null()
    })
}

/// WSGIRestrictEmbedded (read by src/wsgi/directives.rs).
pub fn set_restrict_embedded(on: bool) {
    RESTRICT_EMBEDDED.store(on, Ordering::Relaxed);
}

pub const COMMANDS: [raw::command_rec; 2] = [
    crate::config::cmd(
        c"WSGIDaemonProcess",
        raw::cmd_func {
            raw_args: Some(set_daemon_process),
        },
        0,
        raw::RSRC_CONF,
        raw::cmd_how_RAW_ARGS,
        c"name [option=value ...]: a group of daemon processes that run WSGI applications (mod_wsgi's options)",
    ),
    crate::config::cmd(
        c"WSGISocketPrefix",
        raw::cmd_func {
            take1: Some(set_socket_prefix),
        },
        0,
        raw::RSRC_CONF,
        raw::cmd_how_TAKE1,
        c"path prefix of the daemon groups' UNIX sockets (default: DefaultRuntimeDir/wsgi)",
    ),
];
