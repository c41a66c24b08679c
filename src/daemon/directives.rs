//! The server-wide daemon directives: WSGIDaemonProcess, WSGISocketPrefix and
//! WSGIRestrictEmbedded. What they declare is kept for the configuration
//! generation being read (names are unique across the whole server, as in mod_wsgi).
use super::options::{self, GroupSpec};
use crate::config::{fail, split_words, DirConfig, Origin};
use crate::ffi::directive::{entry, Cmd, Func, Outcome, Spec};
use crate::ffi::raw;
use crate::ffi::server::KeptServer;
use crate::sync::LockExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One declared group and where it was declared.
pub struct Declared {
    pub spec: GroupSpec,
    pub origin: Origin,
    /// The server (virtual host) whose configuration declares it: its
    /// ErrorLog is the daemons' (valid for this generation).
    pub server: KeptServer,
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

fn set_daemon_process(cmd: &Cmd, _conf: &mut DirConfig, args: &str) -> Outcome {
    let words = split_words(args).map_err(|e| fail("WSGIDaemonProcess", &e))?;
    let spec = options::parse(&words).map_err(|e| fail("WSGIDaemonProcess", &e))?;
    let mut groups = GROUPS.locked();
    if let Some(other) = groups.iter().find(|g| g.spec.name == spec.name) {
        let msg = format!(
            "a daemon process group called {:?} is already declared at {}",
            spec.name, other.origin
        );
        return Err(fail("WSGIDaemonProcess", &msg));
    }
    groups.push(Arc::new(Declared {
        spec,
        origin: Origin::of(cmd),
        server: KeptServer::of(cmd.server()),
    }));
    ANY.store(true, Ordering::Relaxed);
    Ok(())
}

fn set_socket_prefix(cmd: &Cmd, _conf: &mut DirConfig, p: &str) -> Outcome {
    if cmd.server().rec().is_virtual != 0 {
        return Err(fail(
            "WSGISocketPrefix",
            "applies to the whole server: move it out of <VirtualHost>",
        ));
    }
    if p.is_empty() {
        return Err(fail("WSGISocketPrefix", "needs a path prefix"));
    }
    *SOCKET_PREFIX.locked() = Some(crate::ffi::runtime::server_root_relative(cmd.pool(), p));
    Ok(())
}

/// WSGIRestrictEmbedded (read by src/wsgi/directives.rs).
pub fn set_restrict_embedded(on: bool) {
    RESTRICT_EMBEDDED.store(on, Ordering::Relaxed);
}

pub const COMMANDS: [raw::command_rec; 2] = [
    entry(&Spec::new(
        c"WSGIDaemonProcess",
        Func::RawArgs(set_daemon_process),
        0,
        raw::RSRC_CONF,
        c"name [option=value ...]: a group of daemon processes that run WSGI applications (mod_wsgi's options)",
    )),
    entry(&Spec::new(
        c"WSGISocketPrefix",
        Func::Take1(set_socket_prefix),
        0,
        raw::RSRC_CONF,
        c"path prefix of the daemon groups' UNIX sockets (default: DefaultRuntimeDir/wsgi)",
    )),
];
