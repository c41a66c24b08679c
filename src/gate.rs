//! The per-child gate in front of the GIL: at most N httpd threads of a child
//! run Python (or wait for the GIL) at once; the rest queue here in arrival
//! order.
//!
//! Why: 25 threads of an event-MPM child all asking CPython for the GIL make
//! its condition variable and mutex the bottleneck: every release wakes
//! waiters that fight over the GIL's mutex, waiters that time out (the switch
//! interval) force hand-offs, and the order is unfair, which is where the
//! tail latency comes from. Behind the gate the GIL changes hands between at
//! most N threads, and the queue is FIFO. A thread leaves the gate while it
//! waits on httpd (writes, reads), so slow clients never hold it.
use crate::sync::LockExt;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Thread;

struct Waiter {
    thread: Thread,
    granted: AtomicBool,
}

struct State {
    active: usize,
    queue: VecDeque<Arc<Waiter>>,
}

pub struct Gate {
    /// 0: no gate.
    limit: AtomicUsize,
    state: Mutex<State>,
}

/// The gate's size when PyriteMaxPythonThreads is not set (see docs/tuning.md for the measurements).
/// Off: applications that wait inside Python (databases, HTTP calls) release
/// the GIL but not the gate, so a small gate would cap them at N requests at
/// a time per child; for CPU-bound applications a gate of 1-2 cuts p99 several
/// times over (docs/tuning.md has the figures).
pub const DEFAULT_LIMIT: usize = 0;

pub static GATE: Gate = Gate {
    limit: AtomicUsize::new(0),
    state: Mutex::new(State {
        active: 0,
        queue: VecDeque::new(),
    }),
};

impl Gate {
    /// Sets how many threads may be inside (0 turns the gate off). Called at child start.
    pub fn set_limit(&self, n: usize) {
        self.limit.store(n, Ordering::Relaxed);
    }

    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Waits for a place; returns whether one was taken (to give back with `leave`).
    #[inline]
    pub fn enter(&self) -> bool {
        let limit = self.limit();
        if limit == 0 {
            return false;
        }
        let waiter = {
            let mut st = self.state.locked();
            if st.active < limit && st.queue.is_empty() {
                st.active += 1;
                return true;
            }
            let w = Arc::new(Waiter {
                thread: std::thread::current(),
                granted: AtomicBool::new(false),
            });
            st.queue.push_back(w.clone());
            w
        };
        let t0 = std::time::Instant::now();
        while !waiter.granted.load(Ordering::Acquire) {
            std::thread::park();
        }
        crate::metrics::record::gate_waited(t0.elapsed().as_nanos() as u64);
        true
    }

    /// Gives the place back: straight to the longest waiter, if any.
    #[inline]
    pub fn leave(&self, entered: bool) {
        if !entered {
            return;
        }
        let next = {
            let mut st = self.state.locked();
            match st.queue.pop_front() {
                Some(w) => Some(w),
                None => {
                    st.active -= 1;
                    None
                }
            }
        };
        if let Some(w) = next {
            w.granted.store(true, Ordering::Release);
            w.thread.unpark();
        }
    }
}

thread_local! {
    /// Whether this thread holds a place (so blocking calls can give it up).
    static HOLDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the current thread is inside the gate (running Python).
#[inline]
pub fn holding() -> bool {
    HOLDING.with(|h| h.get())
}

/// Enters the gate for the current thread.
#[inline]
pub fn enter() {
    let e = GATE.enter();
    HOLDING.with(|h| h.set(e));
}

/// Leaves the gate for the current thread.
#[inline]
pub fn leave() {
    let e = HOLDING.with(|h| h.replace(false));
    GATE.leave(e);
}

/// Runs `f` (a blocking httpd call, GIL already released) outside the gate.
#[inline]
pub fn outside<T>(f: impl FnOnce() -> T) -> T {
    let held = HOLDING.with(|h| h.replace(false));
    GATE.leave(held);
    let r = f();
    if held {
        let e = GATE.enter();
        HOLDING.with(|h| h.set(e));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_limit_inside_and_fifo() {
        static G: Gate = Gate {
            limit: AtomicUsize::new(2),
            state: Mutex::new(State {
                active: 0,
                queue: VecDeque::new(),
            }),
        };
        static INSIDE: AtomicUsize = AtomicUsize::new(0);
        static MAX: AtomicUsize = AtomicUsize::new(0);
        let mut hs = Vec::new();
        for _ in 0..8 {
            hs.push(std::thread::spawn(|| {
                for _ in 0..200 {
                    let e = G.enter();
                    let n = INSIDE.fetch_add(1, Ordering::SeqCst) + 1;
                    MAX.fetch_max(n, Ordering::SeqCst);
                    std::thread::yield_now();
                    INSIDE.fetch_sub(1, Ordering::SeqCst);
                    G.leave(e);
                }
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
        assert!(MAX.load(Ordering::SeqCst) <= 2, "more than the limit inside");
        assert_eq!(G.state.locked().active, 0);
    }

    #[test]
    fn order_is_first_come_first_served() {
        static G: Gate = Gate {
            limit: AtomicUsize::new(1),
            state: Mutex::new(State {
                active: 0,
                queue: VecDeque::new(),
            }),
        };
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = G.enter();
        let mut hs = Vec::new();
        for i in 0..5 {
            let order = order.clone();
            hs.push(std::thread::spawn(move || {
                let e = G.enter();
                order.locked().push(i);
                G.leave(e);
            }));
            // Let thread i queue before thread i+1.
            while G.state.locked().queue.len() < i + 1 {
                std::thread::yield_now();
            }
        }
        G.leave(first);
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*order.locked(), vec![0, 1, 2, 3, 4]);
    }
}
