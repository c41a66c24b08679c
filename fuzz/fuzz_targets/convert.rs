//! Bytes <-> Python values at the request boundary:
//! - request bytes decode to a str that encodes back to the same bytes
//!   (UTF-8 when they are UTF-8, latin-1 otherwise); latin-1 always;
//! - a str or bytes bound for a header comes back as latin-1 (else UTF-8)
//!   bytes without NUL, or as a Python exception (ValueError for NUL,
//!   UnicodeEncodeError for lone surrogates), never a panic;
//! - a body value (str, bytes, bytearray, memoryview, anything else) gives
//!   its bytes or a TypeError.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyo3::exceptions::{PyTypeError, PyUnicodeEncodeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyInt};
use pyrite_text::convert::{body_bytes, header_bytes, latin1, text};

/// Any sequence of code points, lone surrogates included: the input read as UTF-16.
fn any_str<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyAny> {
    let even = &b[..b.len() & !1];
    PyBytes::new(py, even)
        .call_method1("decode", ("utf-16-le", "surrogatepass"))
        .unwrap()
}

fn check(py: Python<'_>, data: &[u8]) {
    let t = text(py, data);
    let back: Vec<u8> = match std::str::from_utf8(data) {
        Ok(_) => t.call_method1("encode", ("utf-8",)).unwrap().extract().unwrap(),
        Err(_) => t.call_method1("encode", ("latin-1",)).unwrap().extract().unwrap(),
    };
    assert_eq!(back, data);
    let l = latin1(py, data);
    let back: Vec<u8> = l.call_method1("encode", ("latin-1",)).unwrap().extract().unwrap();
    assert_eq!(back, data);

    // A request value handed back as a header comes out as the bytes that came in.
    match header_bytes(&l, "v") {
        Ok(b) => assert_eq!(&*b, data),
        Err(e) => assert!(data.contains(&0) && e.is_instance_of::<PyValueError>(py), "{data:?}: {e}"),
    }
    match header_bytes(&PyBytes::new(py, data).into_any(), "v") {
        Ok(b) => assert_eq!(&*b, data),
        Err(e) => assert!(data.contains(&0) && e.is_instance_of::<PyValueError>(py), "{data:?}: {e}"),
    }

    let s = any_str(py, data);
    match header_bytes(&s, "v") {
        Ok(b) => {
            assert!(!b.contains(&0));
            let chars: Vec<u32> = s.extract::<String>().unwrap().chars().map(|c| c as u32).collect();
            if chars.iter().all(|&c| c < 256) {
                assert_eq!(chars.iter().map(|&c| c as u8).collect::<Vec<u8>>(), &*b);
            } else {
                assert_eq!(s.extract::<String>().unwrap().as_bytes(), &*b);
            }
        }
        Err(e) => assert!(
            e.is_instance_of::<PyValueError>(py) || e.is_instance_of::<PyUnicodeEncodeError>(py),
            "{e}"
        ),
    }
    match body_bytes(&s) {
        Ok(b) => assert_eq!(s.extract::<String>().unwrap().as_bytes(), &*b),
        Err(e) => assert!(e.is_instance_of::<PyUnicodeEncodeError>(py), "{e}"),
    }

    let bytes = PyBytes::new(py, data).into_any();
    let array = PyByteArray::new(py, data).into_any();
    let view = py
        .import("builtins")
        .unwrap()
        .getattr("memoryview")
        .unwrap()
        .call1((&array,))
        .unwrap();
    for v in [bytes, array, view] {
        assert_eq!(&*body_bytes(&v).unwrap(), data);
    }
    let n = PyInt::new(py, data.len()).into_any();
    assert!(body_bytes(&n).unwrap_err().is_instance_of::<PyTypeError>(py));
    assert!(header_bytes(&n, "v").unwrap_err().is_instance_of::<PyTypeError>(py));
}

fuzz_target!(|data: &[u8]| {
    Python::initialize();
    Python::attach(|py| check(py, data));
});
