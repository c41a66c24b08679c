//! An epoll set, as a safe handle: registering a descriptor passes no
//! memory the kernel keeps (only a 64-bit key), so any descriptor number is
//! sound (a bad one is refused with EBADF).
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One event the set reported: the key given at registration.
pub type Event = libc::epoll_event;

/// An empty event, for the buffers [`Epoll::wait`] fills.
pub const NO_EVENT: Event = libc::epoll_event { events: 0, u64: 0 };

pub const IN: u32 = libc::EPOLLIN as u32;
pub const ONESHOT: u32 = libc::EPOLLONESHOT as u32;
pub const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;

/// An epoll set this process owns (closed when dropped).
pub struct Epoll(OwnedFd);

impl Epoll {
    /// A new close-on-exec set.
    pub fn new() -> std::io::Result<Epoll> {
        // SAFETY: a plain call; the new descriptor is owned at once.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is the new set, owned by nothing else.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    #[inline]
    fn ctl(&self, op: i32, fd: RawFd, events: u32, key: u64) -> std::io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: key };
        // SAFETY: ev lives on this stack for the call (the kernel copies it).
        if unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &mut ev) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// Adds `fd`, reported with `key`.
    #[inline]
    pub fn add(&self, fd: RawFd, events: u32, key: u64) -> std::io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, key)
    }

    /// Changes (re-arms) `fd`'s registration.
    #[inline]
    pub fn modify(&self, fd: RawFd, events: u32, key: u64) -> std::io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, key)
    }

    /// Removes `fd` from the set.
    #[inline]
    pub fn delete(&self, fd: RawFd) -> std::io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Waits at most `timeout_ms` (-1: without end, 0: a look) for events,
    /// filling the start of `events`; the number filled (0 on error or timeout).
    #[inline]
    pub fn wait(&self, events: &mut [Event], timeout_ms: i32) -> usize {
        let max = events.len().min(i32::MAX as usize) as i32;
        // SAFETY: the kernel writes at most `max` events into the buffer.
        let n = unsafe { libc::epoll_wait(self.0.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
        n.max(0) as usize
    }
}
