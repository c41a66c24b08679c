//! The `req` object handed to mod_python handlers: a view of httpd's
//! request_rec with mod_python's attributes and methods.
use super::body::Body;
use super::connection::Connection;
use super::convert;
use super::held_flush;
use super::life::Life;
use super::output::Output;
use super::server::Server;
use super::table::Table;
use crate::config;
use crate::ffi::{self, log, raw};
use crate::sync::LockExt;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::{Arc, Mutex, OnceLock};

#[pyclass(name = "mp_request", module = "_apache", dict, frozen)]
pub struct Request {
    pub life: Arc<Life>,
    body: Mutex<Body>,
    output: Mutex<Output>,
    phase: Mutex<&'static str>,
    /// The <Location> of the handler running now.
    location: Mutex<Option<std::sync::Arc<str>>>,
    /// The running phase's handler list and place in it (req.hlist).
    running: Mutex<super::hlist::Running>,
    headers_in: OnceLock<Py<Table>>,
    headers_out: OnceLock<Py<Table>>,
    err_headers_out: OnceLock<Py<Table>>,
    subprocess_env: OnceLock<Py<Table>>,
    notes: OnceLock<Py<Table>>,
    /// req.register_cleanup callables, run when the request's pool is cleared.
    cleanups: Mutex<Vec<super::pool::Cleanup>>,
    /// Python code assigned req.content_type (mod_python's `_content_type_set`;
    /// the publisher guesses a type only when it was not).
    content_type_set: std::sync::atomic::AtomicBool,
}

impl Request {
    fn register_filter(&self, name: &str, handler: &str, dir: Option<String>, input: bool) -> PyResult<()> {
        let r = self.req()?;
        if name.is_empty() {
            return Err(PyValueError::new_err("a filter needs a name"));
        }
        let (module, object) = config::parse_handler_spec(handler).map_err(PyValueError::new_err)?;
        let decl = std::sync::Arc::new(crate::config::FilterDecl {
            name: name.to_string(),
            input,
            module,
            object,
            directory: dir,
            origin: config::Origin {
                file: if input {
                    "req.register_input_filter"
                } else {
                    "req.register_output_filter"
                }
                .into(),
                line: 0,
            },
        });
        super::state::of_request(r).borrow_mut().filters.push(decl);
        Ok(())
    }

    /// The output buffer, for a write from Python. A filter (or a `#python`
    /// element) runs inside the write that reached it, on the same thread:
    /// writing through `req` from there would wait for itself.
    fn output_in_use(&self) -> PyResult<std::sync::MutexGuard<'_, Output>> {
        match self.output.try_lock() {
            Ok(g) => Ok(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(pyo3::exceptions::PyRuntimeError::new_err(
                "req.write called from inside a filter that this request's own output is passing through: use filter.write",
            )),
        }
    }

    pub fn new(life: Arc<Life>, phase: &'static str) -> Self {
        Request {
            life,
            body: Mutex::new(Body::default()),
            output: Mutex::new(Output::default()),
            phase: Mutex::new(phase),
            location: Mutex::new(None),
            running: Mutex::new(Default::default()),
            headers_in: OnceLock::new(),
            headers_out: OnceLock::new(),
            err_headers_out: OnceLock::new(),
            subprocess_env: OnceLock::new(),
            notes: OnceLock::new(),
            cleanups: Mutex::new(Vec::new()),
            content_type_set: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn has_cleanups(&self) -> bool {
        !self.cleanups.locked().is_empty()
    }

    /// Runs the registered cleanups (each once), logging their exceptions.
    pub fn run_cleanups(&self, py: Python<'_>) {
        let list = std::mem::take(&mut *self.cleanups.locked());
        super::pool::run_callables(py, list, "req.register_cleanup callable failed");
    }

    pub fn set_location(&self, location: Option<std::sync::Arc<str>>) {
        *self.location.locked() = location;
    }

    /// Records the handler about to run (what req.hlist shows).
    pub fn set_running(&self, running: super::hlist::Running) {
        *self.running.locked() = running;
    }

    pub fn set_phase(&self, phase: &'static str) {
        *self.phase.locked() = phase;
    }

    /// Whether any output went to httpd's filters (the status is then fixed).
    pub fn sent(&self) -> bool {
        self.output.locked().sent()
    }

    /// Drops output not yet handed to httpd (before an error response).
    pub fn discard_output(&self) {
        self.output.locked().discard();
    }

    /// Sends a flush that was held back (see held_flush); a client found gone
    /// makes the next write raise.
    pub fn carry_out_held_flush(&self, py: Python<'_>) {
        if let (Ok(r), Ok(mut out)) = (self.life.request(), self.output.try_lock()) {
            out.carry_out_held(py, r);
        }
    }

    /// Output still buffered, for the dispatcher to hand over once the GIL is released.
    pub fn take_output(&self) -> Vec<u8> {
        self.output.locked().take()
    }

    /// The request record, if it may be used from here and now.
    #[inline]
    fn req(&self) -> PyResult<&ffi::request::Request> {
        self.life.request()
    }

    fn table<'py>(
        &self,
        py: Python<'py>,
        cell: &OnceLock<Py<Table>>,
        pick: impl for<'a> FnOnce(&'a ffi::request::Request) -> &'a ffi::table::Table,
    ) -> PyResult<Bound<'py, Table>> {
        self.req()?;
        if let Some(t) = cell.get() {
            return Ok(t.bind(py).clone());
        }
        let t = Py::new(py, Table::of_request(self.life.clone(), self.life.tie(pick)?))?;
        let _ = cell.set(t.clone_ref(py));
        Ok(t.into_bound(py))
    }

    /// A view of a related request record (main, prev, next).
    fn related(
        &self,
        py: Python<'_>,
        pick: impl FnOnce(&ffi::request::Request) -> Option<&ffi::request::Request>,
    ) -> PyResult<Option<Py<Request>>> {
        let r = self.req()?;
        let Some(other) = pick(r) else {
            return Ok(None);
        };
        // Its life ends with its own pool: this request's, or (for a
        // subrequest's main request) one that outlives it.
        let life = std::sync::Arc::new(Life::of(other));
        Ok(Some(Py::new(py, Request::new(life, "PythonHandler"))?))
    }

    /// A string field of the record as str (None for NULL).
    fn text_field<'py>(&self, py: Python<'py>, pick: impl FnOnce(&ffi::request::Request) -> Option<&[u8]>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, pick(self.req()?)))
    }
}

/// A value for a string field: its bytes (NUL refused), None for None.
fn opt_bytes(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Vec<u8>>> {
    match value {
        Some(v) if !v.is_none() => Ok(Some(convert::header_bytes(v, what)?.into_owned())),
        _ => Ok(None),
    }
}

/// httpd cannot store a NUL byte (header_bytes refuses them before this).
fn nul_err(_: ffi::table::NulError) -> PyErr {
    PyValueError::new_err("a NUL byte cannot be stored in a request field")
}

use super::configs::dir as dir_config;

fn seconds(t: raw::apr_time_t) -> f64 {
    t as f64 / 1e6
}

#[pymethods]
impl Request {
    // ---- string fields ----------------------------------------------------

    #[getter]
    fn the_request<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.the_request())
    }
    #[getter]
    fn protocol<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.protocol())
    }
    #[getter]
    fn hostname<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.hostname())
    }
    #[getter]
    fn status_line<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.status_line())
    }
    #[getter]
    fn method<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.method())
    }
    #[getter]
    fn range<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.range())
    }
    #[getter]
    fn content_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.content_type())
    }
    #[getter]
    fn handler<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.handler())
    }
    #[getter]
    fn content_encoding<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.content_encoding())
    }
    #[getter]
    fn user<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.user())
    }
    #[getter]
    fn ap_auth_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.ap_auth_type())
    }
    #[getter]
    fn unparsed_uri<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.unparsed_uri())
    }
    #[getter]
    fn uri<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.uri())
    }
    #[getter]
    fn filename<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.filename())
    }
    #[getter]
    fn canonical_filename<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.canonical_filename())
    }
    #[getter]
    fn path_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.path_info())
    }
    #[getter]
    fn args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.args())
    }
    #[getter]
    fn useragent_ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.useragent_ip())
    }
    /// The client's (ip, port), as useragent_ip (behind mod_remoteip: the real client).
    #[getter]
    fn useragent_addr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::connection::addr_pair(py, self.req()?.useragent_addr())
    }
    /// The variant list validator (mod_negotiation's), None when unset.
    #[getter]
    fn vlist_validator<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.vlist_validator())
    }
    /// Whether the response may not be served from a local copy (a proxy's cache).
    #[getter]
    fn no_local_copy(&self) -> PyResult<i32> {
        Ok(self.req()?.no_local_copy())
    }
    #[getter]
    fn log_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| r.log_id())
    }

    // ---- output ---------------------------------------------------------

    /// Sends `data` (str as UTF-8, or bytes) to the client; with flush (the
    /// default, as in mod_python) it leaves httpd at once.
    #[pyo3(signature = (data, flush=1))]
    fn write(slf: &Bound<'_, Self>, py: Python<'_>, data: &Bound<'_, PyAny>, flush: i32) -> PyResult<()> {
        let this = slf.get();
        let r = this.req()?;
        let bytes = convert::body_bytes(data)?;
        if bytes.is_empty() {
            return Ok(());
        }
        let mut out = this.output_in_use()?;
        if !out.sent() {
            refuse_bad_headers(r)?;
        }
        let failed = |_| PyOSError::new_err("Write failed, client closed connection.");
        out.write(py, r, &bytes, false).map_err(failed)?;
        if flush != 0 {
            if held_flush::hold(py, slf, r) {
                out.held = true;
            } else {
                out.flush(py, r).map_err(failed)?;
            }
        }
        Ok(())
    }

    /// Pushes buffered output to the client.
    fn flush(slf: &Bound<'_, Self>, py: Python<'_>) -> PyResult<()> {
        let this = slf.get();
        let r = this.req()?;
        let mut out = this.output_in_use()?;
        if !out.sent() {
            refuse_bad_headers(r)?;
        }
        if held_flush::hold(py, slf, r) {
            out.held = true;
            return Ok(());
        }
        out.flush(py, r)
            .map_err(|_| PyOSError::new_err("Flush failed, client closed connection."))
    }

    /// Kept for old handlers: httpd sends the headers with the first output.
    fn send_http_header(&self) -> PyResult<()> {
        self.req().map(|_| ())
    }

    fn set_content_length(&self, length: i64) -> PyResult<()> {
        let r = self.req()?;
        if length < 0 {
            return Err(PyValueError::new_err("content length must not be negative"));
        }
        r.set_content_length(length);
        Ok(())
    }

    // ---- input ----------------------------------------------------------

    /// Up to `len` bytes of the request body (all of it by default); b'' at the end.
    #[pyo3(signature = (len=-1))]
    fn read<'py>(&self, py: Python<'py>, len: i64) -> PyResult<Bound<'py, PyBytes>> {
        let r = self.life.request()?;
        let data = self.body.locked().read(py, r, len)?;
        Ok(PyBytes::new(py, &data))
    }

    /// One line of the body including its newline, at most `len` bytes.
    #[pyo3(signature = (len=-1))]
    fn readline<'py>(&self, py: Python<'py>, len: i64) -> PyResult<Bound<'py, PyBytes>> {
        let r = self.life.request()?;
        let data = self.body.locked().readline(py, r, len)?;
        Ok(PyBytes::new(py, &data))
    }

    /// The remaining lines of the body (stopping once about `sizehint` bytes are read).
    #[pyo3(signature = (sizehint=-1))]
    fn readlines<'py>(&self, py: Python<'py>, sizehint: i64) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let r = self.life.request()?;
        let lines = self.body.locked().readlines(py, r, sizehint)?;
        Ok(lines.iter().map(|l| PyBytes::new(py, l)).collect())
    }

    /// Reads and throws away the body (before an error response, say).
    fn discard_request_body(&self, py: Python<'_>) -> PyResult<i32> {
        let r = self.req()?.on_this_thread();
        Ok(crate::interp::blocking(py, move || r.discard_body()))
    }

    // ---- tables -----------------------------------------------------------

    #[getter]
    fn headers_in<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Table>> {
        self.table(py, &self.headers_in, |r| r.headers_in())
    }
    #[getter]
    fn headers_out<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Table>> {
        self.table(py, &self.headers_out, |r| r.headers_out())
    }
    #[getter]
    fn err_headers_out<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Table>> {
        self.table(py, &self.err_headers_out, |r| r.err_headers_out())
    }
    #[getter]
    fn subprocess_env<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Table>> {
        self.table(py, &self.subprocess_env, |r| r.subprocess_env())
    }
    #[getter]
    fn notes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Table>> {
        self.table(py, &self.notes, |r| r.notes())
    }

    // ---- settable fields ----------------------------------------------------

    #[setter]
    fn set_content_type(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        held_flush::before_head_change(py);
        let r = self.req()?;
        let ct = convert::header_bytes(value, "content_type")?;
        r.set_content_type(&ct).map_err(nul_err)?;
        self.content_type_set.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Whether a handler assigned req.content_type during this request.
    #[getter]
    fn _content_type_set(&self) -> PyResult<bool> {
        self.req()?;
        Ok(self.content_type_set.load(std::sync::atomic::Ordering::Relaxed))
    }

    #[getter]
    fn status(&self) -> PyResult<i32> {
        Ok(self.req()?.status())
    }
    #[setter]
    fn set_status(&self, py: Python<'_>, value: i32) -> PyResult<()> {
        held_flush::before_head_change(py);
        self.req()?.set_status(value);
        Ok(())
    }

    #[setter]
    fn set_status_line(&self, py: Python<'_>, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        held_flush::before_head_change(py);
        let r = self.req()?;
        let v = opt_bytes(value.as_ref(), "status_line")?;
        r.set_status_line(v.as_deref()).map_err(nul_err)
    }
    #[setter]
    fn set_user(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let r = self.req()?;
        let v = opt_bytes(value.as_ref(), "user")?;
        r.set_user(v.as_deref()).map_err(nul_err)
    }
    #[setter]
    fn set_filename(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let r = self.req()?;
        let v = opt_bytes(value.as_ref(), "filename")?;
        r.set_filename(v.as_deref()).map_err(nul_err)
    }
    #[setter]
    fn set_canonical_filename(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let r = self.req()?;
        let v = opt_bytes(value.as_ref(), "canonical_filename")?;
        r.set_canonical_filename(v.as_deref()).map_err(nul_err)
    }
    #[setter]
    fn set_path_info(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let r = self.req()?;
        let v = opt_bytes(value.as_ref(), "path_info")?;
        r.set_path_info(v.as_deref()).map_err(nul_err)
    }
    #[setter]
    fn set_args(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let r = self.req()?;
        let v = opt_bytes(value.as_ref(), "args")?;
        r.set_args(v.as_deref()).map_err(nul_err)
    }
    #[setter]
    fn set_uri(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let r = self.req()?;
        let v = opt_bytes(value.as_ref(), "uri")?;
        r.set_uri(v.as_deref()).map_err(nul_err)
    }
    #[setter]
    fn set_handler(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let r = self.req()?;
        let v = opt_bytes(value.as_ref(), "handler")?;
        r.set_handler(v.as_deref()).map_err(nul_err)
    }
    #[setter]
    fn set_ap_auth_type(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let r = self.req()?;
        let v = opt_bytes(value.as_ref(), "ap_auth_type")?;
        r.set_ap_auth_type(v.as_deref()).map_err(nul_err)
    }
    #[setter]
    fn set_content_encoding(&self, py: Python<'_>, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        held_flush::before_head_change(py);
        let r = self.req()?;
        let v = opt_bytes(value.as_ref(), "content_encoding")?;
        r.set_content_encoding(v.as_deref()).map_err(nul_err)
    }

    #[getter]
    fn no_cache(&self) -> PyResult<i32> {
        Ok(self.req()?.no_cache())
    }
    #[setter]
    fn set_no_cache(&self, py: Python<'_>, value: i32) -> PyResult<()> {
        held_flush::before_head_change(py);
        self.req()?.set_no_cache(value);
        Ok(())
    }

    // ---- read-only fields -------------------------------------------------

    #[getter]
    fn method_number(&self) -> PyResult<i32> {
        Ok(self.req()?.method_number())
    }
    #[getter]
    fn proto_num(&self) -> PyResult<i32> {
        Ok(self.req()?.proto_num())
    }
    #[getter]
    fn header_only(&self) -> PyResult<i32> {
        Ok(self.req()?.header_only())
    }
    #[getter]
    fn assbackwards(&self) -> PyResult<i32> {
        Ok(self.req()?.assbackwards())
    }
    #[getter]
    fn proxyreq(&self) -> PyResult<i32> {
        Ok(self.req()?.proxyreq())
    }
    /// When the request arrived, in seconds since the epoch.
    #[getter]
    fn request_time(&self) -> PyResult<f64> {
        Ok(seconds(self.req()?.request_time()))
    }
    #[getter]
    fn mtime(&self) -> PyResult<f64> {
        Ok(seconds(self.req()?.mtime()))
    }
    /// True once the response head went to the client (output can no longer change it).
    #[getter]
    fn sent_bodyct(&self) -> PyResult<bool> {
        Ok(self.req()?.sent_bodyct() != 0 || self.sent())
    }
    #[getter]
    fn bytes_sent(&self) -> PyResult<i64> {
        Ok(self.req()?.bytes_sent())
    }
    #[getter]
    fn clength(&self) -> PyResult<i64> {
        Ok(self.req()?.clength())
    }
    #[getter]
    fn remaining(&self) -> PyResult<i64> {
        Ok(self.req()?.remaining())
    }
    #[getter]
    fn read_length(&self) -> PyResult<i64> {
        Ok(self.req()?.read_length())
    }
    /// How the body may be read (httpd's REQUEST_NO_BODY, REQUEST_CHUNKED_ERROR, ...).
    #[getter]
    fn read_body(&self) -> PyResult<i32> {
        Ok(self.req()?.read_body_policy())
    }
    #[getter]
    fn read_chunked(&self) -> PyResult<i32> {
        Ok(self.req()?.read_chunked())
    }
    #[getter]
    fn chunked(&self) -> PyResult<i32> {
        Ok(self.req()?.chunked())
    }
    #[getter]
    fn expecting_100(&self) -> PyResult<i32> {
        Ok(self.req()?.expecting_100())
    }
    #[getter]
    fn used_path_info(&self) -> PyResult<i32> {
        Ok(self.req()?.used_path_info())
    }
    #[getter]
    fn eos_sent(&self) -> PyResult<i32> {
        Ok(self.req()?.eos_sent() as i32)
    }
    /// The handler directive running now (mod_python's phase name).
    #[getter]
    fn phase(&self) -> PyResult<&'static str> {
        self.req()?;
        Ok(*self.phase.locked())
    }
    /// The name of the interpreter the running phase runs in, by mod_python's
    /// rule (src/interpreters/names.rs, from the phase's first handler): the
    /// same name picks the interpreter.
    #[getter]
    fn interpreter(&self) -> PyResult<String> {
        let r = self.req()?;
        let first = self.running.locked().list.first().cloned();
        let phase = *self.phase.locked();
        let early = phase == config::Phase::PostReadRequest.directive() || phase == config::Phase::Trans.directive();
        let conf = if early {
            super::configs::server_dir(r.server())
        } else {
            dir_config(r)
        };
        let name = crate::interpreters::names::for_phase(r, conf, first.as_deref());
        Ok(name.unwrap_or_else(|| crate::interpreters::names::MAIN_INTERPRETER.to_string()))
    }

    /// The handler list of the running phase, at the handler that runs.
    #[getter]
    fn hlist(&self) -> PyResult<super::hlist::HandlerList> {
        let r = self.req()?;
        let running = self.running.locked().clone();
        let filename = r.filename().map(<[u8]>::to_vec);
        Ok(super::hlist::HandlerList::new(running, filename))
    }

    /// The request's pool: values and cleanups that end with this request.
    #[getter]
    fn pool(&self, py: Python<'_>) -> PyResult<Py<super::pool::Pool>> {
        super::pool::of_pool(py, self.req()?.pool())
    }

    /// The stat of req.filename as a tuple indexed by apache.FINFO_* (None without a file).
    #[getter]
    fn finfo<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        finfo_tuple(py, self.req()?.finfo())
    }

    /// The request's URI split as a tuple indexed by apache.URI_*.
    #[getter]
    fn parsed_uri<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let u = self.req()?.parsed_uri();
        let port: Bound<'py, PyAny> = match u.port {
            Some(p) => (p as i64).into_pyobject(py)?.into_any(),
            None => py.None().into_bound(py),
        };
        let text = |b| convert::opt_bytes_text(py, b);
        let items = [
            text(u.scheme),
            text(u.hostinfo),
            text(u.user),
            text(u.password),
            text(u.hostname),
            port,
            text(u.path),
            text(u.query),
            text(u.fragment),
        ];
        Ok(pyo3::types::PyTuple::new(py, items)?.into_any())
    }

    /// The Content-Language values set for the response, as a tuple (empty when none).
    #[getter]
    fn content_languages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        string_tuple(py, self.req()?.content_languages())
    }

    /// The extension methods (names) the resource allows, as a tuple.
    #[getter]
    fn allowed_xmethods<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        string_tuple(py, self.req()?.allowed_xmethods())
    }

    /// The names in the request's list of allowed methods, as a tuple.
    #[getter]
    fn allowed_methods<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        string_tuple(py, self.req()?.allowed_methods())
    }

    /// The bit mask of methods the resource allows (1 << apache.M_*).
    #[getter]
    fn allowed(&self) -> PyResult<i64> {
        Ok(self.req()?.allowed())
    }

    /// An SSL variable from mod_ssl (None without mod_ssl or for plain HTTP).
    fn ssl_var_lookup<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.req()?.ssl_var_lookup(name.as_bytes())))
    }

    /// The <Location> path of the running handler's directive (None outside one).
    #[getter]
    fn _pyrite_location(&self) -> PyResult<Option<String>> {
        self.req()?;
        Ok(self.location.locked().as_deref().map(str::to_string))
    }

    #[getter]
    fn connection(&self) -> PyResult<Connection> {
        Connection::of_request(self.life.clone())
    }
    #[getter]
    fn server(&self) -> PyResult<Server> {
        Ok(Server::of(self.req()?.server()))
    }

    // ---- helpers -------------------------------------------------------------

    /// Writes `message` to the error log in this request's context.
    #[pyo3(signature = (message, level=log::APLOG_ERR as i32))]
    fn log_error(&self, message: &Bound<'_, PyAny>, level: i32) -> PyResult<()> {
        let r = self.req()?;
        r.log((level & 0xf) as u32, &message.str()?.to_cow()?);
        Ok(())
    }

    /// The PythonOption values in force here, as a table.
    fn get_options(&self) -> PyResult<Table> {
        let opts = dir_config(self.req()?).map(|c| c.options()).unwrap_or_default();
        Table::from_pairs(opts)
    }

    /// The `Require` lines in force here that apply to this request's method,
    /// each as the text after `Require` (mod_python's req.requires() on httpd
    /// 2.2). Lines are known for sections that also hold a Python directive.
    fn requires<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
        let r = self.req()?;
        let (conf, method) = (dir_config(r), String::from_utf8_lossy(r.method().unwrap_or_default()));
        let lines: Vec<String> = conf
            .and_then(|c| c.requires.as_ref())
            .map(|l| l.iter().filter(|l| l.applies_to(&method)).map(|l| l.requirement.clone()).collect())
            .unwrap_or_default();
        pyo3::types::PyTuple::new(py, lines)
    }

    /// The Python* directives in force here, as a table (flags as "1"/"0").
    fn get_config(&self) -> PyResult<Table> {
        let pairs = dir_config(self.req()?).map(config_pairs).unwrap_or_default();
        Table::from_pairs(pairs)
    }

    /// Adds `handler` ("module[::object]") to `phase` ("PythonFixupHandler", ...)
    /// for this request: in the running phase it runs after the current
    /// handlers, in a later phase after that phase's configured ones (a phase
    /// with none configured runs it all the same). `dir` is put on sys.path
    /// (made absolute, ending in '/'), as a <Directory> would be.
    #[pyo3(signature = (phase, handler, dir=None))]
    fn add_handler(&self, phase: &str, handler: &str, dir: Option<String>) -> PyResult<()> {
        let r = self.req()?;
        let p = config::Phase::ALL
            .iter()
            .copied()
            .find(|p| p.directive().eq_ignore_ascii_case(phase))
            .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err(format!("Invalid phase: {phase} (e.g. \"PythonFixupHandler\")")))?;
        let (module, object) = config::parse_handler_spec(handler).map_err(PyValueError::new_err)?;
        let directory = dir.map(|d| {
            let cwd = std::env::current_dir()
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "/".into());
            pyrite_text::dirpath::canonical_dir(&d, &cwd)
        });
        let parent = {
            let running = self.running.locked();
            running.list.get(running.index).cloned()
        };
        let decl = std::sync::Arc::new(config::HandlerDecl {
            phase: p,
            module,
            object,
            ext: None,
            directory,
            dir_wildcard: false,
            dir_regex: None,
            location: None,
            location_pattern: false,
            origin: config::Origin {
                file: "req.add_handler".into(),
                line: 0,
            },
            silent: false,
            parent,
            cache: Default::default(),
        });
        config::note_phase_handler(p);
        super::state::of_request(r).borrow_mut().added.push(decl);
        Ok(())
    }

    /// Registers a Python output filter for this request only, under `name`
    /// (activate it with req.add_output_filter(name)).
    #[pyo3(signature = (name, handler, dir=None))]
    fn register_output_filter(&self, name: &str, handler: &str, dir: Option<String>) -> PyResult<()> {
        self.register_filter(name, handler, dir, false)
    }

    /// Registers a Python input filter for this request only (see register_output_filter).
    #[pyo3(signature = (name, handler, dir=None))]
    fn register_input_filter(&self, name: &str, handler: &str, dir: Option<String>) -> PyResult<()> {
        self.register_filter(name, handler, dir, true)
    }

    /// Adds an output filter to this request: one registered with
    /// req.register_output_filter or PythonOutputFilter, or any httpd filter (DEFLATE, ...).
    fn add_output_filter(&self, name: &str) -> PyResult<()> {
        super::filter_chain::add_to_request(self.req()?, name, false).map_err(PyValueError::new_err)
    }

    /// Adds an input filter to this request (see add_output_filter); it sees the body req.read reads.
    fn add_input_filter(&self, name: &str) -> PyResult<()> {
        super::filter_chain::add_to_request(self.req()?, name, true).map_err(PyValueError::new_err)
    }

    /// Calls `callable(data)` (or `callable()`) when the request ends.
    #[pyo3(signature = (callable, data=None))]
    fn register_cleanup(&self, py: Python<'_>, callable: Py<PyAny>, data: Option<Py<PyAny>>) -> PyResult<()> {
        self.req()?;
        self.cleanups.locked().push((callable, data, crate::interpreters::current(py)));
        Ok(())
    }

    /// The password of HTTP Basic credentials (and sets req.user); None without them.
    fn get_basic_auth_pw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.req()?.basic_auth_pw()))
    }

    /// Sends (part of) a file through httpd's file buckets; returns the bytes sent.
    #[pyo3(signature = (path, offset=0, len=-1))]
    fn sendfile(&self, py: Python<'_>, path: &str, offset: i64, len: i64) -> PyResult<i64> {
        let r = self.req()?;
        let file = std::fs::File::open(path).map_err(|e| PyOSError::new_err(format!("could not open file for reading: {path}: {e}")))?;
        let size = file.metadata().map(|m| m.len() as i64).unwrap_or(0);
        let offset = offset.clamp(0, size);
        let n = if len < 0 { size - offset } else { len.min(size - offset) };
        // What was written before goes first.
        self.output_in_use()?
            .push(py, r)
            .map_err(|_| PyOSError::new_err("Write failed, client closed connection."))?;
        use std::os::fd::AsFd;
        let (fd, r) = (file.as_fd(), r.on_this_thread());
        let ok = crate::interp::blocking(py, move || r.send_file(&fd, offset, n));
        drop(file);
        if !ok {
            return Err(PyOSError::new_err("Write failed, client closed connection."));
        }
        Ok(n)
    }

    /// Serves `uri` instead, as a new internal request (the current response is abandoned).
    fn internal_redirect(&self, py: Python<'_>, uri: &Bound<'_, PyAny>) -> PyResult<()> {
        let r = self.req()?;
        let u = convert::header_bytes(uri, "uri")?;
        self.output.locked().discard();
        let r = r.on_this_thread();
        crate::interp::blocking(py, move || r.internal_redirect(&u)).map_err(nul_err)
    }

    /// Adds methods to the Allow header of a 405/OPTIONS response (reset first when asked).
    #[pyo3(signature = (methods, reset=0))]
    fn allow_methods(&self, methods: Vec<String>, reset: i32) -> PyResult<()> {
        let r = self.req()?;
        let mut first = reset != 0;
        for m in methods {
            let c = std::ffi::CString::new(m).map_err(|_| PyValueError::new_err("NUL in method name"))?;
            r.allow_method(first, &c);
            first = false;
        }
        Ok(())
    }

    /// Evaluates the request's conditional headers (If-Match, If-Modified-Since, ...).
    fn meets_conditions(&self) -> PyResult<i32> {
        Ok(self.req()?.meets_conditions())
    }

    fn set_etag(&self) -> PyResult<()> {
        self.req()?.set_etag();
        Ok(())
    }

    fn set_last_modified(&self) -> PyResult<()> {
        self.req()?.set_last_modified();
        Ok(())
    }

    /// Makes req.mtime at least `dependency_mtime` (seconds since the epoch).
    fn update_mtime(&self, dependency_mtime: f64) -> PyResult<()> {
        self.req()?.update_mtime((dependency_mtime * 1e6) as raw::apr_time_t);
        Ok(())
    }

    fn auth_name<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.req()?.auth_name()))
    }

    fn auth_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.req()?.auth_type()))
    }

    /// The client's host name (DNS lookups as httpd's HostnameLookups and `type` allow).
    #[pyo3(signature = (r#type=1))]
    fn get_remote_host<'py>(&self, py: Python<'py>, r#type: i32) -> PyResult<Bound<'py, PyAny>> {
        let r = self.req()?.on_this_thread();
        // A DNS lookup may block: without the GIL.
        let host = crate::interp::blocking(py, move || r.useragent_host(r#type).map(<[u8]>::to_vec));
        Ok(convert::opt_bytes_text(py, host.as_deref()))
    }

    /// The main request of a subrequest (None otherwise).
    #[getter]
    fn main(&self, py: Python<'_>) -> PyResult<Option<Py<Request>>> {
        self.related(py, |r| r.main())
    }

    /// The request this one was internally redirected from.
    #[getter]
    fn prev(&self, py: Python<'_>) -> PyResult<Option<Py<Request>>> {
        self.related(py, |r| r.prev())
    }

    /// The request this one was internally redirected to.
    #[getter]
    fn next(&self, py: Python<'_>) -> PyResult<Option<Py<Request>>> {
        self.related(py, |r| r.next())
    }

    fn document_root<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.req()?.document_root()))
    }

    /// An absolute URL for `uri` on this server (scheme, host and port as the client sees them).
    fn construct_url<'py>(&self, py: Python<'py>, uri: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.req()?;
        let u = convert::header_bytes(uri, "uri")?;
        Ok(convert::opt_bytes_text(py, r.construct_url(&u).map_err(nul_err)?))
    }

    /// Adds httpd's common CGI variables to req.subprocess_env.
    fn add_common_vars(&self) -> PyResult<()> {
        self.req()?.add_common_vars();
        Ok(())
    }

    /// Adds the CGI/1.1 variables to req.subprocess_env: httpd's common ones
    /// (every request header as HTTP_*, the server's and the connection's)
    /// and the request's own, as mod_python 3.5 does (CGI-style code such as
    /// Roundup's reads HTTP_HOST and REMOTE_ADDR after calling only this).
    fn add_cgi_vars(&self) -> PyResult<()> {
        let r = self.req()?;
        r.add_common_vars();
        r.add_cgi_vars();
        Ok(())
    }

    fn is_https(&self) -> PyResult<bool> {
        Ok(self.req()?.is_https())
    }

    fn __repr__(&self) -> String {
        match self.req() {
            Ok(r) => format!("<mp_request {}>", String::from_utf8_lossy(r.the_request().unwrap_or_default())),
            Err(_) => "<mp_request (ended)>".to_string(),
        }
    }
}

/// The directive values mod_python's req.get_config() shows.
pub fn config_pairs(c: &config::DirConfig) -> Vec<(String, String)> {
    let flag = |b: bool| if b { "1" } else { "0" }.to_string();
    let mut out = Vec::new();
    if let Some(d) = c.debug {
        out.push(("PythonDebug".to_string(), flag(d)));
    }
    if let Some(a) = c.autoreload {
        out.push(("PythonAutoReload".to_string(), flag(a)));
    }
    if let Some(p) = &c.python_path {
        out.push(("PythonPath".to_string(), p.expr.clone()));
    }
    if let Some(pdb) = c.enable_pdb {
        out.push(("PythonEnablePdb".to_string(), flag(pdb)));
    }
    out
}

/// A file's info as mod_python's tuple (indexed by apache.FINFO_*), None without a file.
pub fn finfo_tuple<'py>(py: Python<'py>, f: Option<ffi::finfo::FileInfo<'_>>) -> PyResult<Bound<'py, PyAny>> {
    let Some(f) = f else {
        return Ok(py.None().into_bound(py));
    };
    let t = |v: raw::apr_time_t| v as f64 / 1e6;
    let items: Vec<Bound<'py, PyAny>> = vec![
        f.protection.into_pyobject(py)?.into_any(),
        f.inode.into_pyobject(py)?.into_any(),
        f.device.into_pyobject(py)?.into_any(),
        f.nlink.into_pyobject(py)?.into_any(),
        f.user.into_pyobject(py)?.into_any(),
        f.group.into_pyobject(py)?.into_any(),
        f.size.into_pyobject(py)?.into_any(),
        t(f.atime).into_pyobject(py)?.into_any(),
        t(f.mtime).into_pyobject(py)?.into_any(),
        t(f.ctime).into_pyobject(py)?.into_any(),
        convert::opt_bytes_text(py, f.fname),
        convert::opt_bytes_text(py, f.name),
        f.filetype.into_pyobject(py)?.into_any(),
    ];
    Ok(pyo3::types::PyTuple::new(py, items)?.into_any())
}

/// A ValueError naming a response header httpd would refuse, before any body
/// byte goes out (so the handler fails with a clean 500).
fn refuse_bad_headers(r: &ffi::request::Request) -> PyResult<()> {
    match crate::request::output::refused_header(r) {
        Some(name) => Err(PyValueError::new_err(format!(
            "response header {name:?} has a control character in its value or is not a valid name: refused"
        ))),
        None => Ok(()),
    }
}

/// Pool strings (None for NULL) as a tuple of str.
fn string_tuple<'py>(py: Python<'py>, items: Vec<Option<&[u8]>>) -> PyResult<Bound<'py, PyAny>> {
    pyo3::types::PyTuple::new(py, items.into_iter().map(|b| convert::opt_bytes_text(py, b))).map(Bound::into_any)
}
