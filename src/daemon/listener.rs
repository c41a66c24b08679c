//! The groups' UNIX sockets. httpd's parent makes and owns them, and keeps
//! them open across graceful restarts: a connection waiting in a socket's
//! queue outlives any one daemon, so a recycled, restarted or killed daemon
//! loses nothing queued; its siblings or its replacement take it.
use crate::sync::LockExt;
use std::sync::Mutex;

/// Open listeners: (socket path, fd), in the parent and (before they close them) its children.
static OPEN: Mutex<Vec<(String, i32)>> = Mutex::new(Vec::new());

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
    let existing = OPEN.locked().iter().find(|(q, _)| q == path).map(|(_, fd)| *fd);
    let fd = match existing {
        Some(fd) => fd,
        None => {
            let fd = bind(path, p)?;
            OPEN.locked().push((path.to_string(), fd));
            fd
        }
    };
    if let Some(uid) = p.owner {
        let c = std::ffi::CString::new(path).map_err(|_| "NUL in socket path".to_string())?;
        // SAFETY: c is a valid path; chown changes only the owner.
        if unsafe { libc::chown(c.as_ptr(), uid, u32::MAX) } != 0 {
            return Err(os_err("cannot give to the connecting user the socket", path));
        }
    }
    Ok(fd)
}

fn bind(path: &str, p: &Params) -> Result<i32, String> {
    // SAFETY: plain socket calls on a new fd and a sockaddr_un filled here.
    unsafe {
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        if path.len() >= addr.sun_path.len() {
            return Err(format!(
                "the socket path {path} is {} bytes, longer than a UNIX socket allows ({}): use a shorter WSGISocketPrefix",
                path.len(),
                addr.sun_path.len() - 1
            ));
        }
        for (i, b) in path.bytes().enumerate() {
            addr.sun_path[i] = b as libc::c_char;
        }
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0);
        if fd < 0 {
            return Err(os_err("cannot make the socket", path));
        }
        let c = std::ffi::CString::new(path).map_err(|_| "NUL in socket path".to_string())?;
        libc::unlink(c.as_ptr());
        let old = libc::umask(0o077);
        let bound = libc::bind(
            fd,
            &addr as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_un>() as u32,
        );
        libc::umask(old);
        if bound != 0 {
            let e = os_err("cannot bind the socket (does its directory exist? see WSGISocketPrefix)", path);
            libc::close(fd);
            return Err(e);
        }
        for (opt, v) in [(libc::SO_SNDBUF, p.send_buffer), (libc::SO_RCVBUF, p.receive_buffer)] {
            if let Some(v) = v {
                let v = v as libc::c_int;
                libc::setsockopt(fd, libc::SOL_SOCKET, opt, &v as *const _ as *const libc::c_void, 4);
            }
        }
        if libc::listen(fd, p.backlog.max(1)) != 0 {
            let e = os_err("cannot listen on the socket", path);
            libc::close(fd);
            return Err(e);
        }
        Ok(fd)
    }
}

/// Closes and removes the listeners of groups no longer configured.
pub fn retain_only(paths: &[String]) {
    OPEN.locked().retain(|(p, fd)| {
        if paths.contains(p) {
            return true;
        }
        // SAFETY: fd is a listener this module opened and nothing else closes.
        unsafe { libc::close(*fd) };
        if let Ok(c) = std::ffi::CString::new(p.as_str()) {
            // SAFETY: c is a valid path.
            unsafe { libc::unlink(c.as_ptr()) };
        }
        false
    });
}

/// Closes every listener except `keep` (in httpd's children, which only
/// connect by path, and in a daemon, which serves only its own group).
pub fn close_all_but(keep: Option<i32>) {
    OPEN.locked().retain(|(_, fd)| {
        if Some(*fd) == keep {
            return true;
        }
        // SAFETY: as in retain_only; this process's copy of the fd.
        unsafe { libc::close(*fd) };
        false
    });
}

/// Removes every socket file (the parent's exit).
pub fn unlink_all() {
    for (p, _) in OPEN.locked().iter() {
        if let Ok(c) = std::ffi::CString::new(p.as_str()) {
            // SAFETY: c is a valid path.
            unsafe { libc::unlink(c.as_ptr()) };
        }
    }
}
