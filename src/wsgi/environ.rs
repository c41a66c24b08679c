//! The WSGI environ of a request: CGI variables, HTTP_* headers and the wsgi.*
//! keys, every value a native str decoded as latin-1 (PEP 3333). What never
//! changes within a child is built once.
use super::file_wrapper::FileWrapper;
use crate::ffi::request::Request;
use crate::ffi::{self, raw};
use crate::request::convert::latin1;
use crate::sync::LockExt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use pyrite_text::cgi_key::http_key;
use pyrite_text::digits::Digits;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// This child's pid (asked once: it never changes after the fork).
fn child_pid() -> u32 {
    static PID: OnceLock<u32> = OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// Per-child constants of every environ.
struct Constants {
    /// The keys whose values never change within a child, copied into each environ.
    template: Py<PyDict>,
    http: Py<PyString>,
    https: Py<PyString>,
}

/// HTTP_* keys already made, by header name as the client spelled it.
static HEADER_KEYS: Mutex<Option<HashMap<Vec<u8>, Py<PyString>>>> = Mutex::new(None);
/// Header names are the client's to choose: remember only so many.
const HEADER_KEYS_MAX: usize = 512;

/// The environ key for a request header, or None for names that must not pass.
fn header_key<'py>(py: Python<'py>, name: &[u8]) -> Option<Bound<'py, PyString>> {
    let mut guard = HEADER_KEYS.locked();
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(k) = map.get(name) {
        return Some(k.bind(py).clone());
    }
    let key = PyString::intern(py, &http_key(name)?);
    if map.len() < HEADER_KEYS_MAX {
        map.insert(name.to_vec(), key.clone().unbind());
    }
    Some(key)
}

static CONSTANTS: OnceLock<Constants> = OnceLock::new();

/// Builds the per-child constants now (at child start), not on the first request.
pub fn warm(py: Python<'_>) {
    let _ = constants(py);
}

fn constants(py: Python<'_>) -> &'static Constants {
    CONSTANTS.get_or_init(|| {
        let (major, minor, patch) = ffi::version::revision();
        let banner = ffi::version::banner();
        let t = PyDict::new(py);
        let fill = || -> PyResult<()> {
            t.set_item("wsgi.version", PyTuple::new(py, [1, 0])?)?;
            // A daemon (daemon mode) has its group's threads and processes, as mod_wsgi reports them.
            let (threads, processes) = match crate::daemon::current() {
                Some(d) => (d.threads > 1, d.multiprocess),
                None => (
                    ffi::mpm::query(raw::AP_MPMQ_MAX_THREADS) > 1,
                    ffi::mpm::query(raw::AP_MPMQ_MAX_DAEMONS) > 1,
                ),
            };
            t.set_item("wsgi.multithread", threads)?;
            t.set_item("wsgi.multiprocess", processes)?;
            t.set_item("wsgi.run_once", false)?;
            t.set_item("wsgi.input_terminated", true)?;
            t.set_item("wsgi.file_wrapper", py.get_type::<FileWrapper>())?;
            t.set_item("apache.version", PyTuple::new(py, [major, minor, patch])?)?;
            t.set_item("SERVER_SOFTWARE", PyString::new(py, &banner))?;
            t.set_item("GATEWAY_INTERFACE", "CGI/1.1")?;
            t.set_item("mod_wsgi.process_group", "")?;
            t.set_item("mod_wsgi.version", py.import("_pyrite_wsgi")?.getattr("version")?)?;
            Ok(())
        };
        fill().expect("environ constants");
        Constants {
            template: t.unbind(),
            http: PyString::new(py, "http").unbind(),
            https: PyString::new(py, "https").unbind(),
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
    /// WSGIMapHEADToGET decided this HEAD request reaches the application as GET.
    pub head_as_get: bool,
    /// WSGIPassApacheRequest On: environ['apache.request_rec'] is set.
    pub pass_apache_request: bool,
}

/// A small number for the calling thread, stable for its life (mod_wsgi.thread_id).
fn thread_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static ID: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    ID.with(|id| *id)
}

/// Builds the environ dict for `r`.
pub fn build<'py>(
    py: Python<'py>,
    r: &Request,
    spec: &Spec<'_>,
    input: Bound<'py, PyAny>,
    errors: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let k = constants(py);
    let env = k.template.bind(py).copy()?;
    macro_rules! set {
        ($key:literal, $val:expr) => {
            env.set_item(pyo3::intern!(py, $key), latin1(py, $val))
        };
    }
    let c = r.connection();
    // Variables other modules set (SetEnv, mod_rewrite, mod_ssl) come first:
    // what follows is computed from the request and takes precedence.
    for (key, val) in r.subprocess_env().iter() {
        env.set_item(latin1(py, key), latin1(py, val))?;
    }
    for (name, val) in r.headers_in().iter() {
        if name.eq_ignore_ascii_case(b"content-type") {
            set!("CONTENT_TYPE", val)?;
        } else if name.eq_ignore_ascii_case(b"content-length") {
            set!("CONTENT_LENGTH", val)?;
        } else if (name.eq_ignore_ascii_case(b"authorization") && !spec.pass_authorization)
            || name.eq_ignore_ascii_case(b"proxy-authorization")
        {
            continue;
        } else if let Some(key) = header_key(py, name) {
            env.set_item(key, latin1(py, val))?;
        }
    }
    if spec.head_as_get {
        set!("REQUEST_METHOD", b"GET")?;
    } else {
        set!("REQUEST_METHOD", r.method().unwrap_or(b"GET"))?;
    }
    set!("SCRIPT_NAME", spec.script_name)?;
    set!("PATH_INFO", spec.path_info)?;
    set!("QUERY_STRING", r.args().unwrap_or_default())?;
    set!("REQUEST_URI", r.unparsed_uri().unwrap_or_default())?;
    set!("SERVER_PROTOCOL", r.protocol().unwrap_or(b"HTTP/1.0"))?;
    set!("SERVER_NAME", r.server_name().unwrap_or_default())?;
    let mut digits = Digits::default();
    set!("SERVER_PORT", digits.of(r.server_port() as u64, 10))?;
    set!("SERVER_ADDR", c.local_ip().unwrap_or_default())?;
    set!("REMOTE_ADDR", r.useragent_ip().unwrap_or_default())?;
    if let Some(port) = c.client_port() {
        set!("REMOTE_PORT", digits.of(port as u64, 10))?;
    }
    set!("DOCUMENT_ROOT", r.document_root().unwrap_or_default())?;
    set!("SCRIPT_FILENAME", r.filename().unwrap_or_default())?;
    if let Some(u) = r.user() {
        set!("REMOTE_USER", u)?;
    }
    if let Some(a) = r.ap_auth_type() {
        set!("AUTH_TYPE", a)?;
    }

    let https_var = r.subprocess_env().get_all(b"HTTPS");
    let scheme_https = r.http_scheme() == Some(b"https") || https_var.iter().any(|v| v.eq_ignore_ascii_case(b"on") || *v == b"1");
    let scheme = if scheme_https { &k.https } else { &k.http };
    env.set_item(pyo3::intern!(py, "REQUEST_SCHEME"), scheme.bind(py))?;
    env.set_item(pyo3::intern!(py, "wsgi.url_scheme"), scheme.bind(py))?;
    env.set_item(pyo3::intern!(py, "wsgi.input"), input)?;
    env.set_item(pyo3::intern!(py, "wsgi.errors"), errors)?;
    if !spec.process_group.is_empty() {
        env.set_item(pyo3::intern!(py, "mod_wsgi.process_group"), PyString::new(py, spec.process_group))?;
    }
    env.set_item(
        pyo3::intern!(py, "mod_wsgi.application_group"),
        PyString::new(py, spec.application_group),
    )?;
    set!("mod_wsgi.script_name", spec.script_name)?;
    env.set_item(pyo3::intern!(py, "mod_wsgi.thread_id"), thread_id())?;
    if spec.pass_apache_request {
        // A capsule without a name, as mod_wsgi makes it, for C extensions.
        env.set_item(pyo3::intern!(py, "apache.request_rec"), r.capsule(py)?)?;
    }
    match r.log_id() {
        Some(id) => set!("mod_wsgi.request_id", id)?,
        None => {
            // "<pid>-<connection>-<request on it>" in hex, as mod_wsgi forms it.
            let mut id = Vec::with_capacity(40);
            id.extend_from_slice(digits.of(child_pid() as u64, 16));
            id.push(b'-');
            id.extend_from_slice(digits.of(c.rec().id as u64, 16));
            id.push(b'-');
            id.extend_from_slice(digits.of(c.rec().keepalives as u64, 16));
            set!("mod_wsgi.request_id", &id)?
        }
    }
    let start = r.request_time() as f64 / 1e6;
    env.set_item(pyo3::intern!(py, "pyrite.request_start"), start)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(start);
    env.set_item(pyo3::intern!(py, "pyrite.queue_time"), (now - start).max(0.0))?;
    Ok(env)
}
