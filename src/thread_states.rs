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
use crate::sync::LockExt;
use pyo3::ffi::PyThreadState;
use pyo3::Python;
use std::sync::Mutex;

extern "C" {
    fn pyrite_tstate_prealloc() -> *mut PyThreadState;
    fn pyrite_tstate_bind(t: *mut PyThreadState);
}

/// Made and not yet bound (addresses, so the pool is Send).
static POOL: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Makes `n` thread states for threads to come; returns how many were made.
pub fn prepare(_py: Python<'_>, n: usize) -> usize {
    let mut pool = POOL.locked();
    for _ in 0..n {
        // SAFETY: the GIL is held (py) and the interpreter is running.
        let t = unsafe { pyrite_tstate_prealloc() };
        if t.is_null() {
            break;
        }
        pool.push(t as usize);
    }
    pool.len()
}

/// Gives the calling thread (which has no thread state and holds no GIL) one
/// of the prepared states; false when none is left.
pub fn bind_prepared() -> bool {
    let Some(t) = POOL.locked().pop() else {
        return false;
    };
    // SAFETY: t came from pyrite_tstate_prealloc and was never bound (popped once);
    // the calling thread has no thread state yet (pin_thread runs once per thread).
    unsafe { pyrite_tstate_bind(t as *mut PyThreadState) };
    true
}
