//! The few POSIX calls std does not offer, as safe functions: each is sound
//! whatever its arguments (it touches no memory it is not handed).
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The process's effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// flock(2) on an open file: `op` is LOCK_EX, LOCK_UN ... (| LOCK_NB).
pub fn flock(file: &impl AsFd, op: i32) -> std::io::Result<()> {
    // SAFETY: the descriptor is borrowed open for the call; no memory is passed.
    if unsafe { libc::flock(file.as_fd().as_raw_fd(), op) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The memory page size.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(4096) as u64
}

fn clock(id: libc::clockid_t) -> libc::timespec {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec, which lives on this stack.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts
}

/// Wall-clock microseconds (what httpd's request_time uses): a vDSO read, no syscall.
#[inline]
pub fn wall_us() -> u64 {
    let ts = clock(libc::CLOCK_REALTIME);
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

/// Monotonic nanoseconds, the same clock in every process of the machine.
#[inline]
pub fn mono_ns() -> u64 {
    let ts = clock(libc::CLOCK_MONOTONIC);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Whether process `pid` is gone (signal 0 only probes; EPERM means alive
/// under another user).
pub fn process_gone(pid: u32) -> bool {
    // SAFETY: kill with signal 0 sends nothing.
    (unsafe { libc::kill(pid as i32, 0) }) == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// Why a UNIX listening socket could not be made ([`unix_listener`]).
pub enum ListenError {
    /// The path has this many bytes, more than a socket address holds (the limit).
    PathTooLong(usize, usize),
    /// The path holds a NUL byte.
    Nul,
    Socket(std::io::Error),
    Bind(std::io::Error),
    Listen(std::io::Error),
}

/// The address of the UNIX socket at `path`; Err with the longest path
/// that fits when it does not.
fn unix_address(path: &str) -> Result<libc::sockaddr_un, usize> {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if path.len() >= addr.sun_path.len() {
        return Err(addr.sun_path.len() - 1);
    }
    for (d, b) in addr.sun_path.iter_mut().zip(path.bytes()) {
        *d = b as libc::c_char;
    }
    Ok(addr)
}

/// A non-blocking, close-on-exec UNIX stream socket listening at `path`
/// (a file left there is replaced), its file mode 0700 (made under umask
/// 077), with the given queue length and socket buffer sizes.
pub fn unix_listener(
    path: &str,
    backlog: i32,
    send_buffer: Option<usize>,
    receive_buffer: Option<usize>,
) -> Result<std::os::fd::OwnedFd, ListenError> {
    let addr = unix_address(path).map_err(|max| ListenError::PathTooLong(path.len(), max))?;
    let c = std::ffi::CString::new(path).map_err(|_| ListenError::Nul)?;
    // SAFETY: a plain socket call; the new descriptor is owned at once.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0) };
    if fd < 0 {
        return Err(ListenError::Socket(std::io::Error::last_os_error()));
    }
    // SAFETY: fd is the new socket, owned by nothing else (closed when dropped).
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: a NUL-terminated path, the socket this function owns and an
    // address filled above (its size passed); umask takes and returns plain values.
    unsafe {
        libc::unlink(c.as_ptr());
        let old = libc::umask(0o077);
        let bound = libc::bind(
            fd,
            &addr as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_un>() as u32,
        );
        libc::umask(old);
        if bound != 0 {
            return Err(ListenError::Bind(std::io::Error::last_os_error()));
        }
        for (opt, v) in [(libc::SO_SNDBUF, send_buffer), (libc::SO_RCVBUF, receive_buffer)] {
            if let Some(v) = v {
                let v = v as libc::c_int;
                libc::setsockopt(fd, libc::SOL_SOCKET, opt, &v as *const _ as *const libc::c_void, 4);
            }
        }
        if libc::listen(fd, backlog.max(1)) != 0 {
            return Err(ListenError::Listen(std::io::Error::last_os_error()));
        }
    }
    Ok(owned)
}

/// The inode of an open descriptor (0 when fstat fails).
pub fn inode_of(fd: &impl AsFd) -> u64 {
    // SAFETY: all-zero is a valid stat, which fstat fills for the borrowed descriptor.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_fd().as_raw_fd(), &mut st) == 0 {
            st.st_ino
        } else {
            0
        }
    }
}

/// The process's real user id.
pub fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The calling thread's kernel id (as /proc/self/task/ names it).
pub fn thread_id() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// The parent process's id (it changes when the parent dies).
pub fn parent_pid() -> i32 {
    // SAFETY: getppid has no preconditions and cannot fail.
    unsafe { libc::getppid() }
}

/// Sends `sig` to this process (taken by a thread's sigwait, or its default action).
pub fn signal_self(sig: i32) {
    // SAFETY: kill takes plain values.
    unsafe { libc::kill(libc::getpid(), sig) };
}

/// accept4(2) on a listening socket, close-on-exec; the connection is owned
/// by the caller (None when there is none, EAGAIN, or on error).
#[inline]
pub fn accept(listener: RawFd) -> Option<OwnedFd> {
    // SAFETY: no address is asked for (NULL, NULL); the new descriptor is owned at once.
    let fd = unsafe { libc::accept4(listener, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC) };
    // SAFETY: fd is the new connection, owned by nothing else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// send(2) of `bytes` without SIGPIPE; the number sent, or -1.
#[inline]
pub fn send_nosignal(fd: RawFd, bytes: &[u8]) -> isize {
    // SAFETY: the kernel reads at most bytes.len() bytes of the borrowed slice.
    unsafe { libc::send(fd, bytes.as_ptr() as *const libc::c_void, bytes.len(), libc::MSG_NOSIGNAL) }
}

/// Sets a socket's receive and send timeouts (SO_RCVTIMEO, SO_SNDTIMEO).
pub fn set_socket_timeouts(fd: &impl AsFd, t: std::time::Duration) {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: passes a timeval on this stack, with its size, for the borrowed socket.
        unsafe {
            libc::setsockopt(
                fd.as_fd().as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
    }
}

/// The user id of the process at the other end of a UNIX socket (SO_PEERCRED).
pub fn peer_uid(fd: &impl AsFd) -> Option<u32> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into cred, on this stack.
    let ok = unsafe {
        libc::getsockopt(
            fd.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut _ as *mut libc::c_void,
            &mut len,
        )
    } == 0;
    ok.then_some(cred.uid)
}

/// One attempt to connect a new close-on-exec UNIX stream socket to `path`,
/// blocking for at most `wait` (a full queue makes connect wait for room, up
/// to the send timeout); the socket is made non-blocking once connected.
/// The error is the errno of the socket or connect call.
pub fn unix_connect(path: &str, wait: std::time::Duration) -> Result<OwnedFd, i32> {
    if path.as_bytes().contains(&0) {
        return Err(libc::ENAMETOOLONG);
    }
    let addr = unix_address(path).map_err(|_| libc::ENAMETOOLONG)?;
    // SAFETY: plain values; the new descriptor is owned at once below.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: fd is the new socket, owned by nothing else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let tv = libc::timeval {
        tv_sec: wait.as_secs() as libc::time_t,
        tv_usec: wait.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: a timeval on this stack with its size, for the socket owned here.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            &tv as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    // SAFETY: the address filled above, with its size.
    let rc = unsafe {
        libc::connect(
            fd,
            &addr as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_un>() as u32,
        )
    };
    if rc != 0 {
        return Err(last_errno());
    }
    // SAFETY: sets the status flags of the socket owned here.
    unsafe { libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK | libc::O_RDWR) };
    Ok(sock)
}

/// poll(2) on one borrowed descriptor for `events` (POLLIN, POLLOUT), at
/// most `timeout_ms` (-1: no limit): the call's result (0 on timeout, -1 on
/// error or EINTR) and the events that came.
#[inline]
pub fn poll_one(fd: &impl AsFd, events: i16, timeout_ms: i32) -> (i32, i16) {
    let mut p = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one pollfd on this stack, for a descriptor the caller keeps open.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    (n, p.revents)
}

/// Puts the calling thread under Linux's SCHED_BATCH policy (threads it
/// creates afterwards inherit it): when woken, it does not preempt the
/// thread running on its CPU. No privilege is needed.
pub fn schedule_as_batch() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is this thread; param lives on this stack for the call.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The calling thread's errno.
#[inline]
pub fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unix_listener_is_made_at_its_path_and_refuses_a_long_one() {
        let dir = std::env::temp_dir().join(format!("pyrite-listener-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let fd = unix_listener(path.to_str().unwrap(), 4, None, None).ok().expect("listening");
        assert_ne!(inode_of(&fd), 0);
        assert!(std::os::unix::net::UnixStream::connect(&path).is_ok());
        drop(fd);
        let long = format!("{}/{}", dir.display(), "x".repeat(200));
        assert!(matches!(unix_listener(&long, 4, None, None), Err(ListenError::PathTooLong(..))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
