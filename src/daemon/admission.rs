//! How many of a daemon's threads take requests at once.
//!
//! A daemon process has one GIL. When every free thread waits for requests,
//! each request that comes while another runs Python wakes a thread that
//! then only waits for the GIL: two more thread switches per request, and
//! threads that queue for the GIL in no fair order (the tail latency). So
//! only `limit` threads take requests; the others wait here, and a request
//! that comes while those are busy waits in its socket for the next one to
//! finish, which then takes it without sleeping.
//!
//! A thread keeps its place from one request to the next: giving it back
//! after each request would wake a waiting thread to take it and put this
//! one to sleep, two thread switches per request for nothing. A place is
//! given back only when the limit comes down.
//!
//! The limit starts at two (one runs Python while the other reads or writes)
//! and follows what the threads do, as the daemon's watcher sees it every
//! 5 ms: when a request has waited a whole tick for the admitted threads
//! (they are blocked in the application: a database, a sleep, a service; or
//! their requests compute for long), the limit doubles, up to every thread of
//! the daemon. Short requests that only wait for a CPU on a loaded machine do
//! not widen it: more threads would only queue for the GIL (measured for
//! hello world: about 20% fewer requests/s and half again the p99). When
//! the threads serving requests have been computing (on a CPU, not blocked)
//! for eight looks in a row, it comes down by one. An
//! application that waits gets its threads within a few ticks; one that
//! computes keeps one GIL busy without handing it round.
use crate::sync::LockExt;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The limit a daemon starts with (or all its threads, if fewer).
const BASE: usize = 2;

struct Counts {
    limit: usize,
    inside: usize,
    /// Threads waiting here for a place.
    outside: usize,
}

pub struct Admission {
    counts: Mutex<Counts>,
    room: Condvar,
    base: usize,
    threads: usize,
    /// Per worker: its kernel thread id while it serves a request, else 0.
    holders: Vec<AtomicI32>,
}

/// A worker's place; given back when dropped.
pub struct Place<'a> {
    of: &'a Admission,
    idx: usize,
}

/// What the admitted threads are doing, from the kernel's view of them.
#[derive(Debug, PartialEq)]
pub enum Seen {
    /// No admitted thread serves a request.
    NoneServing,
    /// Those serving requests are all off the CPU: blocked in the
    /// application (or between two steps).
    NoneRunning,
    SomeRunning,
}

impl Admission {
    pub fn new(threads: usize) -> Admission {
        let base = BASE.min(threads.max(1));
        Admission {
            counts: Mutex::new(Counts {
                limit: base,
                inside: 0,
                outside: 0,
            }),
            room: Condvar::new(),
            base,
            threads: threads.max(1),
            holders: (0..threads.max(1)).map(|_| AtomicI32::new(0)).collect(),
        }
    }

    /// Waits for a place for worker `idx`; None once `stopping` is set.
    pub fn enter(&self, idx: usize, stopping: &AtomicBool) -> Option<Place<'_>> {
        let mut c = self.counts.locked();
        while c.inside >= c.limit {
            if stopping.load(Ordering::SeqCst) {
                return None;
            }
            c.outside += 1;
            c = self
                .room
                .wait_timeout(c, Duration::from_millis(250))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
            c.outside -= 1;
        }
        c.inside += 1;
        Some(Place { of: self, idx })
    }

    pub fn limit(&self) -> usize {
        self.counts.locked().limit
    }

    /// Whether a thread waits here that a wider limit would let in.
    pub fn has_spare_threads(&self) -> bool {
        self.counts.locked().outside > 0
    }

    /// Lets more threads take requests (the admitted ones are all blocked).
    pub fn widen(&self) {
        let mut c = self.counts.locked();
        let wider = (c.limit * 2).min(self.threads);
        if wider > c.limit {
            c.limit = wider;
            self.room.notify_all();
        }
    }

    /// Lets one thread fewer take requests, down to the base.
    pub fn narrow(&self) {
        let mut c = self.counts.locked();
        if c.limit > self.base {
            c.limit -= 1;
        }
    }

    pub fn above_base(&self) -> bool {
        self.limit() > self.base
    }

    /// Looks at the admitted threads' states (a read of /proc per thread).
    pub fn seen(&self) -> Seen {
        let mut serving = false;
        for h in &self.holders {
            let tid = h.load(Ordering::Relaxed);
            if tid != 0 {
                serving = true;
                if on_cpu(tid) {
                    return Seen::SomeRunning;
                }
            }
        }
        if serving {
            Seen::NoneRunning
        } else {
            Seen::NoneServing
        }
    }
}

thread_local! {
    /// The worker thread's kernel id, asked once (a gettid per request otherwise;
    /// worker threads start in the daemon and never fork).
    static THREAD_ID: i32 = crate::ffi::os::thread_id();
}

impl Place<'_> {
    /// The thread serves a request now (until `idle`): the watcher looks at it.
    pub fn serving(&self) {
        if let Some(h) = self.of.holders.get(self.idx) {
            h.store(THREAD_ID.with(|t| *t), Ordering::Relaxed);
        }
    }

    /// The thread's request is done; it waits for the next one.
    pub fn idle(&self) {
        if let Some(h) = self.of.holders.get(self.idx) {
            h.store(0, Ordering::Relaxed);
        }
    }

    /// Whether the place still holds: false when the limit came down below
    /// the threads inside, and then this place is to be given back (dropped).
    pub fn holds(&self) -> bool {
        let c = self.of.counts.locked();
        c.inside <= c.limit
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.idle();
        let mut c = self.of.counts.locked();
        c.inside -= 1;
        if c.outside > 0 && c.inside < c.limit {
            self.of.room.notify_one();
        }
    }
}

/// Whether thread `tid` of this process is running or waiting for a CPU
/// (state R), rather than sleeping in a system call or on a lock.
fn on_cpu(tid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // The state follows the command name, which may itself hold ") ".
    stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('R'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_follow_the_limit() {
        let a = Admission::new(8);
        let stop = AtomicBool::new(false);
        let p1 = a.enter(0, &stop).expect("a place");
        let p2 = a.enter(1, &stop).expect("a place");
        assert_eq!(a.limit(), 2);
        stop.store(true, Ordering::SeqCst);
        assert!(a.enter(2, &stop).is_none(), "full and stopping: no place");
        stop.store(false, Ordering::SeqCst);
        a.widen();
        assert_eq!(a.limit(), 4);
        let p3 = a.enter(2, &stop).expect("a place after widening");
        drop((p1, p2, p3));
        a.widen();
        a.widen();
        assert_eq!(a.limit(), 8, "never above the daemon's threads");
        for _ in 0..10 {
            a.narrow();
        }
        assert_eq!(a.limit(), 2, "never below the base");
    }

    #[test]
    fn this_thread_is_seen_running() {
        let a = Admission::new(4);
        let stop = AtomicBool::new(false);
        let p = a.enter(0, &stop).expect("a place");
        assert_eq!(a.seen(), Seen::NoneServing, "admitted, but waiting for a request");
        p.serving();
        // The only thread serving is this one, which is on a CPU now.
        assert_eq!(a.seen(), Seen::SomeRunning);
        p.idle();
        assert_eq!(a.seen(), Seen::NoneServing, "kept, between two requests");
    }

    #[test]
    fn a_place_is_kept_until_the_limit_comes_down() {
        let a = Admission::new(8);
        let stop = AtomicBool::new(false);
        a.widen();
        let places: Vec<_> = (0..4).map(|i| a.enter(i, &stop).expect("a place")).collect();
        assert!(places.iter().all(Place::holds));
        a.narrow();
        // Three places for four threads: each sees it, the first to give
        // its place back makes the others' hold again.
        assert!(!places[0].holds());
        let mut places = places.into_iter();
        drop(places.next());
        assert!(places.all(|p| p.holds()));
    }
}
