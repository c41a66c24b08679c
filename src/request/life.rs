//! Whether the httpd record behind a Python object may still be touched.
//!
//! A request's objects (req, its tables, its connection view) share one
//! `Life`. It ends when httpd clears the request pool; after that every use
//! raises instead of reading freed memory. Only the httpd thread serving the
//! request may use them: that thread releases the GIL inside httpd calls, and
//! another Python thread touching the record then would race with httpd.
use crate::ffi::raw;
use pyo3::exceptions::PyRuntimeError;
use pyo3::PyResult;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Life {
    r: *mut raw::request_rec,
    alive: AtomicBool,
    owner: libc::pthread_t,
}

// SAFETY: the pointer is only dereferenced through `get`, which checks that
// the request is alive and that the caller is the thread serving it.
unsafe impl Send for Life {}
unsafe impl Sync for Life {}

impl Life {
    /// A life for `r`, owned by the calling thread.
    pub fn new(r: *mut raw::request_rec) -> Self {
        // SAFETY: pthread_self has no preconditions.
        Life {
            r,
            alive: AtomicBool::new(true),
            owner: unsafe { libc::pthread_self() },
        }
    }

    /// A life for a connection handler's objects, which have no request.
    pub fn without_request() -> Self {
        Life::new(std::ptr::null_mut())
    }

    /// The request record, if it may be used from here and now.
    #[inline]
    pub fn get(&self) -> PyResult<*mut raw::request_rec> {
        self.check()?;
        if self.r.is_null() {
            return Err(PyRuntimeError::new_err(
                "there is no request on this connection (connection handler)",
            ));
        }
        Ok(self.r)
    }

    /// Whether the record may be used from here and now.
    #[inline]
    pub fn check(&self) -> PyResult<()> {
        if !self.alive.load(Ordering::Acquire) {
            return Err(PyRuntimeError::new_err("the request this object belongs to has ended"));
        }
        // SAFETY: pthread_equal/pthread_self have no preconditions.
        if unsafe { libc::pthread_equal(libc::pthread_self(), self.owner) } == 0 {
            return Err(PyRuntimeError::new_err(
                "request objects can only be used by the thread serving the request",
            ));
        }
        Ok(())
    }

    /// Marks the request as ended (called from the request pool's cleanup).
    pub fn end(&self) {
        self.alive.store(false, Ordering::Release);
    }
}
