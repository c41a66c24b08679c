//! One cross-process lock, owned by whoever took it rather than by an OS thread.
//!
//! Between processes: flock() on this child's own open of the lock file. A
//! flock belongs to the open file description, not to a thread, so any thread
//! of the process may release it, and the kernel drops it when the process
//! dies. Inside the process every thread shares that one descriptor (a second
//! LOCK_EX on it would succeed at once), so threads take turns through a
//! plain "held" state behind a Mutex and Condvar; the std Mutex is only held
//! for a few instructions, never while waiting, so no thread owns the lock
//! itself and a release from any thread is well defined.
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread::ThreadId;

use crate::sync::LockExt;

/// Who took a lock: the request being served (0 outside a request) and the thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub request: usize,
    pub thread: ThreadId,
}

/// One taking of a lock; the ticket tells a later taking apart from this one.
#[derive(Clone, Copy, Debug)]
pub struct Holder {
    pub ticket: u64,
    pub owner: Owner,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Free,
    /// This process's turn is taken; its flock is still being waited for.
    Acquiring(Holder),
    Held(Holder),
}

pub enum Refused {
    /// The owner already holds (or is taking) this lock: waiting would never end.
    Reentry,
    /// trylock: another thread or process holds it.
    Busy,
    Os(std::io::Error),
}

pub struct Slot {
    file: OwnedFd,
    state: Mutex<State>,
    freed: Condvar,
}

static TICKETS: AtomicU64 = AtomicU64::new(1);

impl Slot {
    pub fn new(file: OwnedFd) -> Slot {
        Slot {
            file,
            state: Mutex::new(State::Free),
            freed: Condvar::new(),
        }
    }

    /// Takes the lock for `owner`, waiting for it when `wait` (call without the
    /// GIL). `is_reentry` says whether a current holder is the owner itself.
    pub fn acquire(&self, owner: Owner, wait: bool, is_reentry: impl Fn(&Holder) -> bool) -> Result<Holder, Refused> {
        let me = Holder {
            ticket: TICKETS.fetch_add(1, Ordering::Relaxed),
            owner,
        };
        {
            let mut st = self.state.locked();
            loop {
                match *st {
                    State::Free => break,
                    State::Acquiring(h) | State::Held(h) if is_reentry(&h) => return Err(Refused::Reentry),
                    _ if !wait => return Err(Refused::Busy),
                    _ => st = self.freed.wait(st).unwrap_or_else(|p| p.into_inner()),
                }
            }
            *st = State::Acquiring(me);
        }
        // Only this thread of the process is in flock on this descriptor now.
        match flock_exclusive(&self.file, wait) {
            Ok(true) => {
                *self.state.locked() = State::Held(me);
                Ok(me)
            }
            Ok(false) => {
                self.give_back_turn();
                Err(Refused::Busy)
            }
            Err(e) => {
                self.give_back_turn();
                Err(Refused::Os(e))
            }
        }
    }

    fn give_back_turn(&self) {
        *self.state.locked() = State::Free;
        self.freed.notify_one();
    }

    /// Releases the lock if it is held, by anyone of this process, or only
    /// when it is still the taking `ticket` names. Returns whether it released.
    pub fn release(&self, ticket: Option<u64>) -> std::io::Result<bool> {
        let mut st = self.state.locked();
        let State::Held(h) = *st else { return Ok(false) };
        if ticket.is_some_and(|t| t != h.ticket) {
            return Ok(false);
        }
        // Under the state lock: no other thread can be in LOCK_EX on this descriptor meanwhile.
        flock_unlock(&self.file)?;
        *st = State::Free;
        drop(st);
        self.freed.notify_one();
        Ok(true)
    }
}

/// flock(LOCK_EX), blocking or not; Ok(false) when not blocking and another holds it.
fn flock_exclusive(file: &OwnedFd, wait: bool) -> std::io::Result<bool> {
    let op = if wait { libc::LOCK_EX } else { libc::LOCK_EX | libc::LOCK_NB };
    loop {
        let Err(e) = crate::ffi::os::flock(file, op) else {
            return Ok(true);
        };
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) if !wait => return Ok(false),
            _ => return Err(e),
        }
    }
}

fn flock_unlock(file: &OwnedFd) -> std::io::Result<()> {
    crate::ffi::os::flock(file, libc::LOCK_UN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn temp_slot(path: &std::path::Path) -> Slot {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        Slot::new(OwnedFd::from(f))
    }

    fn owner() -> Owner {
        Owner {
            request: 0,
            thread: std::thread::current().id(),
        }
    }

    fn same_thread(h: &Holder) -> bool {
        h.owner.thread == std::thread::current().id()
    }

    #[test]
    fn released_by_another_thread_then_taken_again() {
        let path = std::env::temp_dir().join(format!("pyrite-slot-test-{}", std::process::id()));
        let slot = Arc::new(temp_slot(&path));
        slot.acquire(owner(), true, same_thread).ok().unwrap();
        assert!(matches!(slot.acquire(owner(), false, same_thread), Err(Refused::Reentry)));
        let s2 = slot.clone();
        assert!(std::thread::spawn(move || s2.release(None).unwrap()).join().unwrap());
        assert!(!slot.release(None).unwrap(), "a second release finds it free");
        // A second open of the file is a second open file description: it sees the first's flock.
        let other = temp_slot(&path);
        other.acquire(owner(), false, same_thread).ok().unwrap();
        assert!(matches!(slot.acquire(owner(), false, |_| false), Err(Refused::Busy)));
        assert!(other.release(None).unwrap());
        let h = slot.acquire(owner(), false, |_| false).ok().unwrap();
        assert!(
            !slot.release(Some(h.ticket + 1)).unwrap(),
            "another taking's ticket releases nothing"
        );
        assert!(slot.release(Some(h.ticket)).unwrap());
        let _ = std::fs::remove_file(path);
    }
}
