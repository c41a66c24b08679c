//! The WSGI environ of a request: CGI variables, HTTP_* headers and the wsgi.*
//! keys, every value a native str decoded as latin-1 (PEP 3333). What never
//! changes within a child is built once.
use super::file_wrapper::FileWrapper;
use crate::ffi::{self, raw};
use crate::request::convert::latin1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use std::sync::OnceLock;

/// Per-child constants of every environ.
struct Constants {
    version: Py<PyTuple>,
    multithread: bool,
    multiprocess: bool,
    apache_version: Py<PyTuple>,
    server_software: Py<PyString>,
    gateway: Py<PyString>,
    empty: Py<PyString>,
    http: Py<PyString>,
    https: Py<PyString>,
    file_wrapper: Py<PyAny>,
}

static CONSTANTS: OnceLock<Constants> = OnceLock::new();

fn mpm_query(q: u32) -> i32 {
    let mut v: i32 = 0;
    // SAFETY: ap_mpm_query writes one int.
    if unsafe { raw::ap_mpm_query(q as i32, &mut v) } != 0 {
        return 0;
    }
    v
}

fn constants(py: Python<'_>) -> &'static Constants {
    CONSTANTS.get_or_init(|| {
        let mut v = raw::ap_version_t::default();
        // SAFETY: fills a plain struct.
        unsafe { raw::ap_get_server_revision(&mut v) };
        let banner = unsafe { ffi::cstr_lossy(raw::ap_get_server_banner()) };
        Constants {
            version: PyTuple::new(py, [1, 0]).unwrap().unbind(),
            multithread: mpm_query(raw::AP_MPMQ_MAX_THREADS) > 1,
            multiprocess: mpm_query(raw::AP_MPMQ_MAX_DAEMONS) > 1,
            apache_version: PyTuple::new(py, [v.major, v.minor, v.patch]).unwrap().unbind(),
            server_software: PyString::new(py, &banner).unbind(),
            gateway: PyString::new(py, "CGI/1.1").unbind(),
            empty: PyString::new(py, "").unbind(),
            http: PyString::new(py, "http").unbind(),
            https: PyString::new(py, "https").unbind(),
            file_wrapper: py.get_type::<FileWrapper>().into_any().unbind(),
        }
    })
}

/// What the caller knows that the request record does not.
pub struct Spec<'a> {
    pub script_name: &'a [u8],
    pub path_info: &'a [u8],
    pub pass_authorization: bool,
    pub application_group: &'a str,
    pub process_group: &'a str,
}

/// `Content-Type` -> `HTTP_CONTENT_TYPE`; None for names a CGI variable cannot
/// carry safely (anything but letters, digits and '-': "X_Forwarded" must not
/// pass for "X-Forwarded").
fn http_key(name: &[u8]) -> Option<String> {
    if name.is_empty() || !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-') {
        return None;
    }
    let mut k = String::with_capacity(5 + name.len());
    k.push_str("HTTP_");
    k.extend(name.iter().map(|&b| if b == b'-' { '_' } else { b.to_ascii_uppercase() as char }));
    Some(k)
}

/// Builds the environ dict for `r`.
///
/// # Safety
/// `r` is a live request served by the calling thread.
pub unsafe fn build<'py>(py: Python<'py>, r: *mut raw::request_rec, spec: &Spec<'_>, input: Bound<'py, PyAny>, errors: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let k = constants(py);
    let env = PyDict::new(py);
    macro_rules! set {
        ($key:literal, $val:expr) => {
            env.set_item(pyo3::intern!(py, $key), latin1(py, $val))
        };
    }
    unsafe {
        let c = (*r).connection;
        // Variables other modules set (SetEnv, mod_rewrite, mod_ssl) come first:
        // what follows is computed from the request and takes precedence.
        for e in table::entries((*r).subprocess_env) {
            let key = ffi::cstr(e.key).unwrap_or_default();
            env.set_item(latin1(py, key), latin1(py, ffi::cstr(e.val).unwrap_or_default()))?;
        }
        for e in table::entries((*r).headers_in) {
            let name = ffi::cstr(e.key).unwrap_or_default();
            let val = ffi::cstr(e.val).unwrap_or_default();
            if name.eq_ignore_ascii_case(b"content-type") {
                set!("CONTENT_TYPE", val)?;
            } else if name.eq_ignore_ascii_case(b"content-length") {
                set!("CONTENT_LENGTH", val)?;
            } else if name.eq_ignore_ascii_case(b"authorization") && !spec.pass_authorization {
                continue;
            } else if name.eq_ignore_ascii_case(b"proxy-authorization") {
                continue;
            } else if let Some(key) = http_key(name) {
                env.set_item(PyString::new(py, &key), latin1(py, val))?;
            }
        }
        set!("REQUEST_METHOD", ffi::cstr((*r).method).unwrap_or(b"GET"))?;
        set!("SCRIPT_NAME", spec.script_name)?;
        set!("PATH_INFO", spec.path_info)?;
        set!("QUERY_STRING", ffi::cstr((*r).args).unwrap_or_default())?;
        set!("REQUEST_URI", ffi::cstr((*r).unparsed_uri).unwrap_or_default())?;
        set!("SERVER_PROTOCOL", ffi::cstr((*r).protocol).unwrap_or(b"HTTP/1.0"))?;
        set!("SERVER_NAME", ffi::cstr(raw::ap_get_server_name(r)).unwrap_or_default())?;
        set!("SERVER_PORT", raw::ap_get_server_port(r).to_string().as_bytes())?;
        set!("SERVER_ADDR", ffi::cstr((*c).local_ip).unwrap_or_default())?;
        set!("REMOTE_ADDR", ffi::cstr((*r).useragent_ip).unwrap_or_default())?;
        if !(*c).client_addr.is_null() {
            set!("REMOTE_PORT", (*(*c).client_addr).port.to_string().as_bytes())?;
        }
        set!("DOCUMENT_ROOT", ffi::cstr(raw::ap_document_root(r)).unwrap_or_default())?;
        set!("SCRIPT_FILENAME", ffi::cstr((*r).filename).unwrap_or_default())?;
        if let Some(u) = ffi::cstr((*r).user) {
            set!("REMOTE_USER", u)?;
        }
        if let Some(a) = ffi::cstr((*r).ap_auth_type) {
            set!("AUTH_TYPE", a)?;
        }
        env.set_item(pyo3::intern!(py, "GATEWAY_INTERFACE"), k.gateway.bind(py))?;
        env.set_item(pyo3::intern!(py, "SERVER_SOFTWARE"), k.server_software.bind(py))?;

        let scheme_https = ffi::cstr(raw::ap_run_http_scheme(r)) == Some(b"https")
            || env
                .get_item("HTTPS")?
                .and_then(|v| v.extract::<String>().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("on") || v == "1");
        let scheme = if scheme_https { &k.https } else { &k.http };
        env.set_item(pyo3::intern!(py, "REQUEST_SCHEME"), scheme.bind(py))?;
        env.set_item(pyo3::intern!(py, "wsgi.url_scheme"), scheme.bind(py))?;
        env.set_item(pyo3::intern!(py, "wsgi.version"), k.version.bind(py))?;
        env.set_item(pyo3::intern!(py, "wsgi.input"), input)?;
        env.set_item(pyo3::intern!(py, "wsgi.errors"), errors)?;
        env.set_item(pyo3::intern!(py, "wsgi.multithread"), k.multithread)?;
        env.set_item(pyo3::intern!(py, "wsgi.multiprocess"), k.multiprocess)?;
        env.set_item(pyo3::intern!(py, "wsgi.run_once"), false)?;
        env.set_item(pyo3::intern!(py, "wsgi.input_terminated"), true)?;
        env.set_item(pyo3::intern!(py, "wsgi.file_wrapper"), k.file_wrapper.bind(py))?;
        env.set_item(pyo3::intern!(py, "mod_wsgi.process_group"), PyString::new(py, spec.process_group))?;
        env.set_item(pyo3::intern!(py, "mod_wsgi.application_group"), PyString::new(py, spec.application_group))?;
        set!("mod_wsgi.script_name", spec.script_name)?;
        let request_id = match ffi::cstr((*r).log_id) {
            Some(id) => String::from_utf8_lossy(id).into_owned(),
            None => format!("{:x}-{:x}-{:x}", std::process::id(), (*c).id, (*c).keepalives),
        };
        set!("mod_wsgi.request_id", request_id.as_bytes())?;
        env.set_item(pyo3::intern!(py, "apache.version"), k.apache_version.bind(py))?;
        let start = (*r).request_time as f64 / 1e6;
        env.set_item(pyo3::intern!(py, "pyrite.request_start"), start)?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(start);
        env.set_item(pyo3::intern!(py, "pyrite.queue_time"), (now - start).max(0.0))?;
        let _ = &k.empty;
    }
    Ok(env)
}

use crate::ffi::table;

#[cfg(test)]
mod tests {
    use super::http_key;

    #[test]
    fn header_names_become_cgi_keys() {
        assert_eq!(http_key(b"User-Agent").as_deref(), Some("HTTP_USER_AGENT"));
        assert_eq!(http_key(b"x-forwarded-for").as_deref(), Some("HTTP_X_FORWARDED_FOR"));
        assert_eq!(http_key(b"X_Forwarded_For"), None);
        assert_eq!(http_key(b"Bad Header"), None);
        assert_eq!(http_key(b""), None);
    }
}
