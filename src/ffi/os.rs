//! The few POSIX calls std does not offer, as safe functions: each is sound
//! whatever its arguments (it touches no memory it is not handed).
use std::os::fd::{AsFd, AsRawFd};

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
