//! How many references a Python object has: tells whether anything beyond
//! the caller's own handles still holds it (PyO3 deprecated its getter).
use pyo3::prelude::*;

/// The reference count of `obj`, counting the caller's `obj` itself.
pub fn of(obj: &Bound<'_, PyAny>) -> isize {
    // SAFETY: obj is a live object (we hold a reference) and the GIL is held
    // (the Bound's token), so the count is not changing under us.
    unsafe { pyo3::ffi::Py_REFCNT(obj.as_ptr()) }
}
