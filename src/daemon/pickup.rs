//! Pickups without a wake-up. A child waiting for its response must know
//! whether a daemon took its request (then a connection that closes is a
//! 502) or not (then the request may go again, and at its queue deadline it
//! is answered 503 and must never run). A byte sent by the daemon says so,
//! but it wakes the child once more per request. Instead, for a request
//! without a body, the child puts a ticket in a slot of memory that httpd's
//! parent shares with every child and daemon, and the daemon takes the
//! request by changing the slot from "waiting" to "taken" while the child,
//! giving up, changes it from "waiting" to free: one atomic exchange each, so
//! exactly one of them wins, and the child reads the slot only when it
//! wonders (the connection closed, a deadline came).
//!
//! A request with a body still waits for the byte: its body is read from
//! the client only once a daemon has taken it.
use crate::ffi::shm::{self, Kept};
use std::sync::atomic::{AtomicU64, Ordering};

/// Slots in the table (8 bytes each).
const SLOTS: usize = 1 << 16;
/// How many slots a child tries before it falls back to the pickup byte.
const PROBES: usize = 64;

const WAITING: u64 = 1;
const TAKEN: u64 = 2;

/// The table every child and daemon shares: the slots, then the counter
/// that makes tickets unique across processes.
struct Table {
    slots: [AtomicU64; SLOTS],
    counter: AtomicU64,
}
shm::zero_valid!(Table { slots, counter });

static TABLE: Kept<Table> = Kept::none();

/// Maps the table, once, in httpd's parent before it forks anything (its
/// children and daemons inherit it across every restart).
pub fn init() {
    if TABLE.get().is_none() {
        TABLE.set(shm::shared_zeroed::<Table>());
    }
}

#[inline]
fn slot(i: usize) -> Option<&'static AtomicU64> {
    TABLE.get()?.slots.get(i)
}

/// A child's claim on a slot for one request; frees the slot when dropped.
pub struct Claim {
    index: usize,
    ticket: u64,
}

/// What a daemon's take of a request found.
#[derive(Debug, PartialEq)]
pub enum Take {
    /// The request is this daemon's to run.
    Taken,
    /// The child gave up on it (its deadline passed): it must not run.
    Abandoned,
}

impl Claim {
    /// A free slot for a request, or None (no table, or no free slot near:
    /// the request then uses the pickup byte).
    pub fn new() -> Option<Claim> {
        // Unique across processes: a counter in the shared table (no system
        // call per request), never 0.
        let counter = &TABLE.get()?.counter;
        let ticket = (counter.fetch_add(1, Ordering::Relaxed) & (u64::MAX >> 3)) + 1;
        let start = (ticket as usize).wrapping_mul(PROBES);
        for k in 0..PROBES {
            let index = (start + k) % SLOTS;
            let s = slot(index)?;
            if s.compare_exchange(0, ticket << 2 | WAITING, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return Some(Claim { index, ticket });
            }
        }
        None
    }

    /// What the frame carries for the daemon: the slot and the ticket.
    pub fn index(&self) -> usize {
        self.index
    }

    pub fn ticket(&self) -> u64 {
        self.ticket
    }

    /// A daemon has taken the request.
    pub fn taken(&self) -> bool {
        slot(self.index).is_some_and(|s| s.load(Ordering::SeqCst) == self.ticket << 2 | TAKEN)
    }

    /// Gives up at the deadline: true when no daemon took the request (and
    /// none ever will); false when one did just before.
    pub fn abandon(&self) -> bool {
        slot(self.index).is_some_and(|s| {
            s.compare_exchange(self.ticket << 2 | WAITING, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(s) = slot(self.index) {
            let v = s.load(Ordering::SeqCst);
            if v >> 2 == self.ticket {
                let _ = s.compare_exchange(v, 0, Ordering::SeqCst, Ordering::SeqCst);
            }
        }
    }
}

/// A daemon takes the request of `ticket` in slot `index`.
pub fn take(index: usize, ticket: u64) -> Take {
    match slot(index) {
        Some(s)
            if s.compare_exchange(ticket << 2 | WAITING, ticket << 2 | TAKEN, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok() =>
        {
            Take::Taken
        }
        _ => Take::Abandoned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_of_take_and_abandon_wins() {
        init();
        let a = Claim::new().expect("a slot");
        assert!(!a.taken());
        assert_eq!(take(a.index(), a.ticket()), Take::Taken);
        assert!(a.taken());
        assert!(!a.abandon(), "taken first: the child must wait for it");
        let b = Claim::new().expect("a slot");
        assert_ne!(a.index(), b.index());
        assert!(b.abandon());
        assert_eq!(take(b.index(), b.ticket()), Take::Abandoned, "abandoned first: never run");
        let (ai, bt) = (a.index(), b.ticket());
        drop(a);
        assert_eq!(take(ai, bt), Take::Abandoned, "a stale ticket takes nothing");
    }
}
