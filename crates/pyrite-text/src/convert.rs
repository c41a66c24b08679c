//! The byte/str rules at the Python boundary, in one place.
//!
//! httpd hands us bytes. Text coming out decodes as UTF-8 (what mod_python
//! does) and falls back to latin-1 for bytes that are not UTF-8, so nothing a
//! client sends can make an attribute unreadable. Text going in encodes as
//! latin-1 (mod_python's rule, exact for HTTP header bytes) and, for
//! characters latin-1 cannot hold, as UTF-8.
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use std::borrow::Cow;
use std::ffi::c_char;

/// Decodes bytes from httpd into a Python str.
pub fn text<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyAny> {
    match std::str::from_utf8(b) {
        Ok(s) => PyString::new(py, s).into_any(),
        Err(_) => latin1(py, b),
    }
}

/// Decodes bytes as latin-1 (every byte is one character): exact and lossless.
pub fn latin1<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyAny> {
    // SAFETY: PyUnicode_DecodeLatin1 reads exactly len bytes and cannot fail
    // except on memory exhaustion, which from_owned_ptr_or_err turns into an error.
    unsafe {
        let p = pyo3::ffi::PyUnicode_DecodeLatin1(b.as_ptr() as *const c_char, b.len() as isize, std::ptr::null());
        match Bound::from_owned_ptr_or_err(py, p) {
            Ok(o) => o,
            Err(_) => PyString::new(py, &String::from_utf8_lossy(b)).into_any(),
        }
    }
}

/// The bytes of a str (latin-1, else UTF-8) or bytes value bound for httpd.
pub fn header_bytes<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Cow<'a, [u8]>> {
    let b: Cow<'a, [u8]> = if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_cow()?;
        if s.chars().all(|c| (c as u32) < 256) {
            Cow::Owned(s.chars().map(|c| c as u8).collect())
        } else {
            Cow::Owned(s.as_bytes().to_vec())
        }
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        Cow::Borrowed(b.as_bytes())
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} must be str or bytes, not {}",
            obj.get_type().name()?
        )));
    };
    if b.contains(&0) {
        return Err(PyValueError::new_err(format!("{what} must not contain a NUL character")));
    }
    Ok(b)
}

/// The bytes a handler writes: bytes as they are, str as UTF-8, any other
/// buffer (bytearray, memoryview) copied.
pub fn body_bytes<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        Ok(Cow::Borrowed(b.as_bytes()))
    } else if let Ok(s) = obj.cast::<PyString>() {
        Ok(Cow::Owned(s.to_cow()?.into_owned().into_bytes()))
    } else if unsafe { pyo3::ffi::PyObject_CheckBuffer(obj.as_ptr()) } != 0 {
        let py = obj.py();
        let bytes = py.get_type::<PyBytes>().call1((obj,)).map_err(|_| {
            PyTypeError::new_err(format!(
                "write() takes str or bytes, not {}",
                obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            ))
        })?;
        let b: Vec<u8> = bytes.cast::<PyBytes>()?.as_bytes().to_vec();
        Ok(Cow::Owned(b))
    } else {
        Err(PyTypeError::new_err(format!(
            "write() takes str or bytes, not {}",
            obj.get_type().name()?
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::{PyByteArray, PyInt};

    fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
        Python::initialize();
        Python::attach(f)
    }

    #[test]
    fn utf8_decodes_as_utf8_and_other_bytes_as_latin1() {
        with_python(|py| {
            assert_eq!(text(py, "caf\u{e9}".as_bytes()).extract::<String>().unwrap(), "caf\u{e9}");
            assert_eq!(text(py, b"caf\xe9").extract::<String>().unwrap(), "caf\u{e9}");
            assert_eq!(latin1(py, b"\xc3\xa9").extract::<String>().unwrap(), "\u{c3}\u{a9}");
        });
    }

    #[test]
    fn header_bytes_are_latin1_else_utf8_and_never_hold_nul() {
        with_python(|py| {
            let s = |v: &str| PyString::new(py, v).into_any();
            assert_eq!(&*header_bytes(&s("caf\u{e9}"), "v").unwrap(), b"caf\xe9");
            assert_eq!(&*header_bytes(&s("\u{2603}"), "v").unwrap(), "\u{2603}".as_bytes());
            assert_eq!(&*header_bytes(&PyBytes::new(py, b"x\xff").into_any(), "v").unwrap(), b"x\xff");
            assert!(header_bytes(&s("a\0b"), "v").unwrap_err().is_instance_of::<PyValueError>(py));
            assert!(header_bytes(&PyInt::new(py, 1).into_any(), "v")
                .unwrap_err()
                .is_instance_of::<PyTypeError>(py));
        });
    }

    #[test]
    fn body_bytes_take_str_bytes_and_buffers() {
        with_python(|py| {
            assert_eq!(&*body_bytes(&PyString::new(py, "\u{e9}").into_any()).unwrap(), "\u{e9}".as_bytes());
            assert_eq!(&*body_bytes(&PyByteArray::new(py, b"ab").into_any()).unwrap(), b"ab");
            assert!(body_bytes(&PyInt::new(py, 1).into_any())
                .unwrap_err()
                .is_instance_of::<PyTypeError>(py));
        });
    }
}
