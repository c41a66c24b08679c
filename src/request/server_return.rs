//! `SERVER_RETURN`, the exception a handler raises to end its request with a
//! status (`_apache` exports it; request code raises it where httpd refuses).
use pyo3::prelude::*;

mod exc {
    #![allow(non_camel_case_types)]
    pyo3::create_exception!(
        _apache,
        SERVER_RETURN,
        pyo3::exceptions::PyException,
        "Raised by a handler to end it with a status: raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)"
    );
}
pub use exc::SERVER_RETURN;

/// A SERVER_RETURN carrying `code`.
pub fn server_return(_py: Python<'_>, code: i32) -> PyErr {
    SERVER_RETURN::new_err((code,))
}
