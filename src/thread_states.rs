//! One Python thread state per httpd worker thread, made at child start.
//!
//! A thread's state would otherwise be created on its first request
//! (PyGILState_Ensure: allocation, registration with the interpreter), a
//! cost every new child's first requests would pay. Here the child makes
//! them all while it starts, before httpd hands it a connection, and each
//! worker binds one the first time it enters Python (src/ffi/pythread.c, the
//! way CPython's own threading module hands a state to a new thread). Where
//! the Python built against offers no way to do that (not 3.11), or the pool
//! runs dry, a thread makes its own as before.
use crate::ffi::pythread::{self, Prepared};
use crate::sync::LockExt;
use pyo3::Python;
use std::sync::Mutex;

/// Made and not yet bound.
static POOL: Mutex<Vec<Prepared>> = Mutex::new(Vec::new());

/// Makes `n` thread states for threads to come; returns how many were made.
pub fn prepare(py: Python<'_>, n: usize) -> usize {
    let mut pool = POOL.locked();
    for _ in 0..n {
        let Some(t) = pythread::prepare(py) else {
            break;
        };
        pool.push(t);
    }
    pool.len()
}

/// Gives the calling thread (which has no thread state and holds no GIL) one
/// of the prepared states; false when none is left.
pub fn bind_prepared() -> bool {
    let Some(t) = POOL.locked().pop() else {
        return false;
    };
    match t.bind() {
        Ok(()) => true,
        // The thread has a state already: the prepared one waits for another.
        Err(t) => {
            POOL.locked().push(t);
            false
        }
    }
}
