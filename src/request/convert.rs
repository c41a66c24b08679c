//! The byte/str rules at the Python boundary: the rules themselves live in
//! `pyrite_text::convert` (where the fuzz targets reach them); this adds the
//! one that reads a C string from httpd.
use pyo3::prelude::*;
use std::ffi::c_char;

pub use pyrite_text::convert::{body_bytes, header_bytes, latin1, text};

/// Text (as `text` does) of bytes httpd may not have, None for absent.
pub fn opt_bytes_text<'py>(py: Python<'py>, b: Option<&[u8]>) -> Bound<'py, PyAny> {
    match b {
        Some(b) => text(py, b),
        None => py.None().into_bound(py),
    }
}

/// A C string from httpd as str, or None for NULL.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for this call.
pub unsafe fn opt_text<'py>(py: Python<'py>, p: *const c_char) -> Bound<'py, PyAny> {
    match unsafe { crate::ffi::cstr(p) } {
        Some(b) => text(py, b),
        None => py.None().into_bound(py),
    }
}
