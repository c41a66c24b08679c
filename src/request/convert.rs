//! The byte/str rules at the Python boundary: the rules themselves live in
//! `pyrite_text::convert` (where the fuzz targets reach them); this adds the
//! one for bytes httpd may not have.
use pyo3::prelude::*;

pub use pyrite_text::convert::{body_bytes, header_bytes, latin1, text};

/// Text (as `text` does) of bytes httpd may not have, None for absent.
pub fn opt_bytes_text<'py>(py: Python<'py>, b: Option<&[u8]>) -> Bound<'py, PyAny> {
    match b {
        Some(b) => text(py, b),
        None => py.None().into_bound(py),
    }
}
