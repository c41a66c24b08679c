//! The groups' UNIX sockets. httpd's parent makes and owns them, and keeps
//! them open across graceful restarts: a connection waiting in a socket's
//! queue outlives any one daemon, so a recycled, restarted or killed daemon
//! loses nothing queued; its siblings or its replacement take it.
use crate::ffi::os::{self, ListenError};
use crate::sync::LockExt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Mutex;

/// Open listeners: (socket path, fd), in the parent and (before they close them) its children.
static OPEN: Mutex<Vec<(String, OwnedFd)>> = Mutex::new(Vec::new());

/// The socket path of a group: `<prefix>.<parent pid>.<name>.sock`, the name
/// kept readable and made safe for a file name.
pub fn path_for(prefix: &str, name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._-:".contains(c) { c } else { '_' })
        .collect();
    // Names that differ only in replaced characters still get their own socket.
    let tag = name.bytes().fold(5381u32, |h, b| h.wrapping_mul(33) ^ b as u32);
    format!("{prefix}.{}.{safe}-{tag:08x}.sock", std::process::id())
}

/// What a listener is made with.
pub struct Params {
    pub backlog: i32,
    /// The uid that owns the socket file (only it and root may connect; mode 0700).
    pub owner: Option<u32>,
    pub send_buffer: Option<usize>,
    pub receive_buffer: Option<usize>,
}

fn os_err(what: &str, path: &str) -> String {
    format!("{what} {path}: {}", std::io::Error::last_os_error())
}

/// The listener at `path`: the one already open (from an earlier generation), or a new one.
pub fn open(path: &str, p: &Params) -> Result<i32, String> {
    // The pickup table is shared the same way: made before anything forks.
    super::pickup::init();
    let existing = OPEN.locked().iter().find(|(q, _)| q == path).map(|(_, fd)| fd.as_raw_fd());
    let fd = match existing {
        Some(fd) => fd,
        None => {
            let owned = bind(path, p)?;
            let fd = owned.as_raw_fd();
            OPEN.locked().push((path.to_string(), owned));
            fd
        }
    };
    if let Some(uid) = p.owner {
        if path.contains('\0') {
            return Err("NUL in socket path".to_string());
        }
        if std::os::unix::fs::chown(path, Some(uid), None).is_err() {
            return Err(os_err("cannot give to the connecting user the socket", path));
        }
    }
    Ok(fd)
}

fn bind(path: &str, p: &Params) -> Result<OwnedFd, String> {
    os::unix_listener(path, p.backlog, p.send_buffer, p.receive_buffer).map_err(|e| match e {
        ListenError::PathTooLong(len, max) => {
            format!("the socket path {path} is {len} bytes, longer than a UNIX socket allows ({max}): use a shorter WSGISocketPrefix")
        }
        ListenError::Nul => "NUL in socket path".to_string(),
        ListenError::Socket(e) => format!("cannot make the socket {path}: {e}"),
        ListenError::Bind(e) => format!("cannot bind the socket (does its directory exist? see WSGISocketPrefix) {path}: {e}"),
        ListenError::Listen(e) => format!("cannot listen on the socket {path}: {e}"),
    })
}

/// The inode of the listener `fd` (what the kernel's socket diagnostics
/// report its queue under), 0 when it is not one of these.
pub fn inode(fd: i32) -> u64 {
    OPEN.locked()
        .iter()
        .find(|(_, o)| o.as_raw_fd() == fd)
        .map_or(0, |(_, o)| os::inode_of(o))
}

/// Closes and removes the listeners of groups no longer configured.
pub fn retain_only(paths: &[String]) {
    OPEN.locked().retain(|(p, _)| {
        if paths.contains(p) {
            return true;
        }
        // Dropping the entry closes the listener.
        let _ = std::fs::remove_file(p);
        false
    });
}

/// Closes every listener except `keep` (in httpd's children, which only
/// connect by path, and in a daemon, which serves only its own group).
pub fn close_all_but(keep: Option<i32>) {
    OPEN.locked().retain(|(_, fd)| {
        // Dropping the entry closes this process's copy of the listener.
        Some(fd.as_raw_fd()) == keep
    });
}

/// Removes every socket file (the parent's exit).
pub fn unlink_all() {
    for (p, _) in OPEN.locked().iter() {
        let _ = std::fs::remove_file(p);
    }
}
