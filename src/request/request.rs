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
use crate::ffi::{self, log, raw, SendPtr};
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
        let r = self.r()?;
        if name.is_empty() {
            return Err(PyValueError::new_err("a filter needs a name"));
        }
        let (module, object) = config::parse_handler_spec(handler).map_err(PyValueError::new_err)?;
        let decl = std::sync::Arc::new(crate::filters::FilterDecl {
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
        // SAFETY: r is live and served by this thread.
        unsafe { super::state::of(r) }.filters.push(decl);
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

    fn r(&self) -> PyResult<*mut raw::request_rec> {
        self.life.get()
    }

    fn table<'py>(
        &self,
        py: Python<'py>,
        cell: &OnceLock<Py<Table>>,
        pick: impl FnOnce(*mut raw::request_rec) -> *mut raw::apr_table_t,
    ) -> PyResult<Bound<'py, Table>> {
        let r = self.r()?;
        if let Some(t) = cell.get() {
            return Ok(t.bind(py).clone());
        }
        let t = Py::new(py, Table::of_request(self.life.clone(), pick(r)))?;
        let _ = cell.set(t.clone_ref(py));
        Ok(t.into_bound(py))
    }

    /// A view of a related request record (main, prev, next). Its life ends
    /// with this request's, which it outlives in httpd.
    fn related(&self, py: Python<'_>, other: *mut raw::request_rec) -> PyResult<Option<Py<Request>>> {
        if other.is_null() {
            return Ok(None);
        }
        let r = self.r()?;
        let life = std::sync::Arc::new(Life::new(other));
        let l = life.clone();
        // SAFETY: r->pool is live; the related record outlives this request's pool.
        unsafe { ffi::pool::on_cleanup((*r).pool, move || l.end()) };
        Ok(Some(Py::new(py, Request::new(life, "PythonHandler"))?))
    }

    /// Copies `value` into the request pool as a C string.
    fn pool_str(&self, value: &Bound<'_, PyAny>, what: &str) -> PyResult<*mut std::ffi::c_char> {
        let r = self.r()?;
        let b = convert::header_bytes(value, what)?;
        // SAFETY: r is live; header_bytes refused NUL bytes.
        Ok(unsafe { ffi::pool::strdup((*r).pool, &b) })
    }

    /// A string field of the record as str (None for NULL).
    fn text_field<'py>(
        &self,
        py: Python<'py>,
        pick: impl FnOnce(*mut raw::request_rec) -> *const std::ffi::c_char,
    ) -> PyResult<Bound<'py, PyAny>> {
        let r = self.r()?;
        // SAFETY: r is live; the field is NULL or a string of the request pool.
        Ok(unsafe { convert::opt_text(py, pick(r)) })
    }

    fn opt_pool_str(&self, value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<*mut std::ffi::c_char> {
        match value {
            Some(v) if !v.is_none() => self.pool_str(v, what),
            _ => Ok(std::ptr::null_mut()),
        }
    }
}

fn seconds(t: raw::apr_time_t) -> f64 {
    t as f64 / 1e6
}

#[pymethods]
impl Request {
    // ---- string fields ----------------------------------------------------

    #[getter]
    fn the_request<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).the_request })
    }
    #[getter]
    fn protocol<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).protocol })
    }
    #[getter]
    fn hostname<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).hostname })
    }
    #[getter]
    fn status_line<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).status_line })
    }
    #[getter]
    fn method<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).method })
    }
    #[getter]
    fn range<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).range })
    }
    #[getter]
    fn content_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).content_type })
    }
    #[getter]
    fn handler<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).handler })
    }
    #[getter]
    fn content_encoding<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).content_encoding })
    }
    #[getter]
    fn user<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).user })
    }
    #[getter]
    fn ap_auth_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).ap_auth_type })
    }
    #[getter]
    fn unparsed_uri<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).unparsed_uri })
    }
    #[getter]
    fn uri<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).uri })
    }
    #[getter]
    fn filename<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).filename })
    }
    #[getter]
    fn canonical_filename<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).canonical_filename })
    }
    #[getter]
    fn path_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).path_info })
    }
    #[getter]
    fn args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).args })
    }
    #[getter]
    fn useragent_ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).useragent_ip })
    }
    /// The client's (ip, port), as useragent_ip (behind mod_remoteip: the real client).
    #[getter]
    fn useragent_addr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.r()?;
        // SAFETY: r is live; its useragent_addr is NULL or a pool sockaddr.
        unsafe { super::connection::addr_tuple(py, (*r).useragent_addr) }
    }
    /// The variant list validator (mod_negotiation's), None when unset.
    #[getter]
    fn vlist_validator<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: text_field passes a live request; the field is NULL or a pool string.
        self.text_field(py, |r| unsafe { (*r).vlist_validator })
    }
    /// Whether the response may not be served from a local copy (a proxy's cache).
    #[getter]
    fn no_local_copy(&self) -> PyResult<i32> {
        // SAFETY: r() checked the request is live.
        Ok(unsafe { (*self.r()?).no_local_copy })
    }
    #[getter]
    fn log_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.text_field(py, |r| unsafe { (*r).log_id })
    }

    // ---- output ---------------------------------------------------------

    /// Sends `data` (str as UTF-8, or bytes) to the client; with flush (the
    /// default, as in mod_python) it leaves httpd at once.
    #[pyo3(signature = (data, flush=1))]
    fn write(slf: &Bound<'_, Self>, py: Python<'_>, data: &Bound<'_, PyAny>, flush: i32) -> PyResult<()> {
        let this = slf.get();
        let r = this.r()?;
        let bytes = convert::body_bytes(data)?;
        if bytes.is_empty() {
            return Ok(());
        }
        let mut out = this.output_in_use()?;
        if !out.sent() {
            refuse_bad_headers(r)?;
        }
        let failed = |_| PyOSError::new_err("Write failed, client closed connection.");
        out.write(py, this.life.request()?, &bytes, false).map_err(failed)?;
        if flush != 0 {
            if held_flush::hold(py, slf, r) {
                out.held = true;
            } else {
                out.flush(py, this.life.request()?).map_err(failed)?;
            }
        }
        Ok(())
    }

    /// Pushes buffered output to the client.
    fn flush(slf: &Bound<'_, Self>, py: Python<'_>) -> PyResult<()> {
        let this = slf.get();
        let r = this.r()?;
        let mut out = this.output_in_use()?;
        if !out.sent() {
            refuse_bad_headers(r)?;
        }
        if held_flush::hold(py, slf, r) {
            out.held = true;
            return Ok(());
        }
        out.flush(py, this.life.request()?)
            .map_err(|_| PyOSError::new_err("Flush failed, client closed connection."))
    }

    /// Kept for old handlers: httpd sends the headers with the first output.
    fn send_http_header(&self) -> PyResult<()> {
        self.r().map(|_| ())
    }

    fn set_content_length(&self, length: i64) -> PyResult<()> {
        let r = self.r()?;
        if length < 0 {
            return Err(PyValueError::new_err("content length must not be negative"));
        }
        // SAFETY: r is live.
        unsafe { raw::ap_set_content_length(r, length) };
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
        let rp = SendPtr(self.r()?);
        // SAFETY: r is live and used by this thread only.
        Ok(crate::interp::blocking(py, move || unsafe {
            let rp = rp;
            raw::ap_discard_request_body(rp.0)
        }))
    }

    // ---- tables -----------------------------------------------------------

    #[getter]
    fn headers_in<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Table>> {
        // SAFETY (closures): r is live when table() calls them.
        self.table(py, &self.headers_in, |r| unsafe { (*r).headers_in })
    }
    #[getter]
    fn headers_out<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Table>> {
        self.table(py, &self.headers_out, |r| unsafe { (*r).headers_out })
    }
    #[getter]
    fn err_headers_out<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Table>> {
        self.table(py, &self.err_headers_out, |r| unsafe { (*r).err_headers_out })
    }
    #[getter]
    fn subprocess_env<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Table>> {
        self.table(py, &self.subprocess_env, |r| unsafe { (*r).subprocess_env })
    }
    #[getter]
    fn notes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Table>> {
        self.table(py, &self.notes, |r| unsafe { (*r).notes })
    }

    // ---- settable fields ----------------------------------------------------

    #[setter]
    fn set_content_type(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        held_flush::before_head_change(py);
        let r = self.r()?;
        let ct = self.pool_str(value, "content_type")?;
        // SAFETY: r is live; ct is a pool string of r.
        unsafe { raw::ap_set_content_type(r, ct) };
        self.content_type_set.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Whether a handler assigned req.content_type during this request.
    #[getter]
    fn _content_type_set(&self) -> PyResult<bool> {
        self.r()?;
        Ok(self.content_type_set.load(std::sync::atomic::Ordering::Relaxed))
    }

    #[getter]
    fn status(&self) -> PyResult<i32> {
        // SAFETY: r is live.
        Ok(unsafe { (*self.r()?).status })
    }
    #[setter]
    fn set_status(&self, py: Python<'_>, value: i32) -> PyResult<()> {
        held_flush::before_head_change(py);
        // SAFETY: r is live.
        unsafe { (*self.r()?).status = value };
        Ok(())
    }

    #[setter]
    fn set_status_line(&self, py: Python<'_>, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        held_flush::before_head_change(py);
        let v = self.opt_pool_str(value.as_ref(), "status_line")?;
        unsafe { (*self.r()?).status_line = v };
        Ok(())
    }
    #[setter]
    fn set_user(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let v = self.opt_pool_str(value.as_ref(), "user")?;
        unsafe { (*self.r()?).user = v };
        Ok(())
    }
    #[setter]
    fn set_filename(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let v = self.opt_pool_str(value.as_ref(), "filename")?;
        unsafe { (*self.r()?).filename = v };
        Ok(())
    }
    #[setter]
    fn set_canonical_filename(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let v = self.opt_pool_str(value.as_ref(), "canonical_filename")?;
        unsafe { (*self.r()?).canonical_filename = v };
        Ok(())
    }
    #[setter]
    fn set_path_info(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let v = self.opt_pool_str(value.as_ref(), "path_info")?;
        unsafe { (*self.r()?).path_info = v };
        Ok(())
    }
    #[setter]
    fn set_args(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let v = self.opt_pool_str(value.as_ref(), "args")?;
        unsafe { (*self.r()?).args = v };
        Ok(())
    }
    #[setter]
    fn set_uri(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let v = self.opt_pool_str(value.as_ref(), "uri")?;
        unsafe { (*self.r()?).uri = v };
        Ok(())
    }
    #[setter]
    fn set_handler(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let v = self.opt_pool_str(value.as_ref(), "handler")?;
        unsafe { (*self.r()?).handler = v };
        Ok(())
    }
    #[setter]
    fn set_ap_auth_type(&self, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let v = self.opt_pool_str(value.as_ref(), "ap_auth_type")?;
        unsafe { (*self.r()?).ap_auth_type = v };
        Ok(())
    }
    #[setter]
    fn set_content_encoding(&self, py: Python<'_>, value: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        held_flush::before_head_change(py);
        let v = self.opt_pool_str(value.as_ref(), "content_encoding")?;
        unsafe { (*self.r()?).content_encoding = v };
        Ok(())
    }

    #[getter]
    fn no_cache(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.r()?).no_cache })
    }
    #[setter]
    fn set_no_cache(&self, py: Python<'_>, value: i32) -> PyResult<()> {
        held_flush::before_head_change(py);
        unsafe { (*self.r()?).no_cache = value };
        Ok(())
    }

    // ---- read-only fields -------------------------------------------------

    #[getter]
    fn method_number(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.r()?).method_number })
    }
    #[getter]
    fn proto_num(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.r()?).proto_num })
    }
    #[getter]
    fn header_only(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.r()?).header_only })
    }
    #[getter]
    fn assbackwards(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.r()?).assbackwards })
    }
    #[getter]
    fn proxyreq(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.r()?).proxyreq })
    }
    /// When the request arrived, in seconds since the epoch.
    #[getter]
    fn request_time(&self) -> PyResult<f64> {
        Ok(seconds(unsafe { (*self.r()?).request_time }))
    }
    #[getter]
    fn mtime(&self) -> PyResult<f64> {
        Ok(seconds(unsafe { (*self.r()?).mtime }))
    }
    /// True once the response head went to the client (output can no longer change it).
    #[getter]
    fn sent_bodyct(&self) -> PyResult<bool> {
        // SAFETY: r is live.
        Ok(unsafe { (*self.r()?).sent_bodyct } != 0 || self.sent())
    }
    #[getter]
    fn bytes_sent(&self) -> PyResult<i64> {
        Ok(unsafe { (*self.r()?).bytes_sent })
    }
    #[getter]
    fn clength(&self) -> PyResult<i64> {
        Ok(unsafe { (*self.r()?).clength })
    }
    #[getter]
    fn remaining(&self) -> PyResult<i64> {
        Ok(unsafe { (*self.r()?).remaining })
    }
    #[getter]
    fn read_length(&self) -> PyResult<i64> {
        Ok(unsafe { (*self.r()?).read_length })
    }
    /// How the body may be read (httpd's REQUEST_NO_BODY, REQUEST_CHUNKED_ERROR, ...).
    #[getter]
    fn read_body(&self) -> PyResult<i32> {
        // SAFETY: r() checked the request is live.
        Ok(unsafe { (*self.r()?).read_body })
    }
    #[getter]
    fn read_chunked(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.r()?).read_chunked })
    }
    #[getter]
    fn chunked(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.r()?).chunked })
    }
    #[getter]
    fn expecting_100(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.r()?).expecting_100 } as i32)
    }
    #[getter]
    fn used_path_info(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.r()?).used_path_info })
    }
    #[getter]
    fn eos_sent(&self) -> PyResult<i32> {
        Ok(unsafe { (*self.r()?).eos_sent })
    }
    /// The handler directive running now (mod_python's phase name).
    #[getter]
    fn phase(&self) -> PyResult<&'static str> {
        self.r()?;
        Ok(*self.phase.locked())
    }
    /// The name of the interpreter the running phase runs in, by mod_python's
    /// rule (src/interpreters/names.rs, from the phase's first handler): the
    /// same name picks the interpreter.
    #[getter]
    fn interpreter(&self) -> PyResult<String> {
        let r = self.r()?;
        let first = self.running.locked().list.first().cloned();
        let phase = *self.phase.locked();
        let early = phase == config::Phase::PostReadRequest.directive() || phase == config::Phase::Trans.directive();
        // SAFETY: r is live; the early phases run with the server's configuration.
        let conf = unsafe {
            if early {
                config::server_dir_config((*r).server)
            } else {
                config::dir_config(r)
            }
        };
        let name = crate::interpreters::names::for_phase(self.life.request()?, conf, first.as_deref());
        Ok(name.unwrap_or_else(|| crate::interpreters::names::MAIN_INTERPRETER.to_string()))
    }

    /// The handler list of the running phase, at the handler that runs.
    #[getter]
    fn hlist(&self) -> PyResult<super::hlist::HandlerList> {
        let r = self.r()?;
        let running = self.running.locked().clone();
        // SAFETY: r is live.
        let filename = unsafe { ffi::cstr((*r).filename) }.map(<[u8]>::to_vec);
        Ok(super::hlist::HandlerList::new(running, filename))
    }

    /// The request's pool: values and cleanups that end with this request.
    #[getter]
    fn pool(&self, py: Python<'_>) -> PyResult<Py<super::pool::Pool>> {
        let r = self.r()?;
        // SAFETY: r is live; its pool's cleanups run on this thread.
        unsafe { super::pool::of(py, (*r).pool) }
    }

    /// The stat of req.filename as a tuple indexed by apache.FINFO_* (None without a file).
    #[getter]
    fn finfo<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.r()?;
        // SAFETY: r is live; finfo is filled by httpd's directory walk.
        unsafe { finfo_tuple(py, &(*r).finfo) }
    }

    /// The request's URI split as a tuple indexed by apache.URI_*.
    #[getter]
    fn parsed_uri<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.r()?;
        // SAFETY: r is live; parsed_uri's strings live in its pool.
        unsafe {
            let u = &(*r).parsed_uri;
            let port: Bound<'py, PyAny> = match ffi::cstr(u.port_str) {
                Some(_) => (u.port as i64).into_pyobject(py)?.into_any(),
                None => py.None().into_bound(py),
            };
            let items = [
                convert::opt_text(py, u.scheme),
                convert::opt_text(py, u.hostinfo),
                convert::opt_text(py, u.user),
                convert::opt_text(py, u.password),
                convert::opt_text(py, u.hostname),
                port,
                convert::opt_text(py, u.path),
                convert::opt_text(py, u.query),
                convert::opt_text(py, u.fragment),
            ];
            Ok(pyo3::types::PyTuple::new(py, items)?.into_any())
        }
    }

    /// The Content-Language values set for the response, as a tuple (empty when none).
    #[getter]
    fn content_languages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.r()?;
        // SAFETY: r is live; an apr array of pool strings or NULL.
        unsafe { string_tuple(py, (*r).content_languages) }
    }

    /// The extension methods (names) the resource allows, as a tuple.
    #[getter]
    fn allowed_xmethods<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.r()?;
        // SAFETY: r is live; an apr array of pool strings or NULL.
        unsafe { string_tuple(py, (*r).allowed_xmethods) }
    }

    /// The names in the request's list of allowed methods, as a tuple.
    #[getter]
    fn allowed_methods<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.r()?;
        // SAFETY: r is live; allowed_methods is NULL or a list whose array holds pool strings.
        unsafe {
            let list = (*r).allowed_methods;
            string_tuple(
                py,
                if list.is_null() {
                    std::ptr::null_mut()
                } else {
                    (*list).method_list
                },
            )
        }
    }

    /// The bit mask of methods the resource allows (1 << apache.M_*).
    #[getter]
    fn allowed(&self) -> PyResult<i64> {
        Ok(unsafe { (*self.r()?).allowed })
    }

    /// An SSL variable from mod_ssl (None without mod_ssl or for plain HTTP).
    fn ssl_var_lookup<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let r = self.r()?;
        type Lookup = unsafe extern "C" fn(
            *mut raw::apr_pool_t,
            *mut raw::server_rec,
            *mut raw::conn_rec,
            *mut raw::request_rec,
            *mut std::ffi::c_char,
        ) -> *mut std::ffi::c_char;
        // SAFETY: mod_ssl registers ssl_var_lookup with exactly this signature.
        unsafe {
            let Some(f) = raw::apr_dynamic_fn_retrieve(c"ssl_var_lookup".as_ptr()) else {
                return Ok(py.None().into_bound(py));
            };
            let f: Lookup = std::mem::transmute(f);
            let n = ffi::pool::strdup((*r).pool, name.replace('\0', "").as_bytes());
            Ok(convert::opt_text(py, f((*r).pool, (*r).server, (*r).connection, r, n)))
        }
    }

    /// The <Location> path of the running handler's directive (None outside one).
    #[getter]
    fn _pyrite_location(&self) -> PyResult<Option<String>> {
        self.r()?;
        Ok(self.location.locked().as_deref().map(str::to_string))
    }

    #[getter]
    fn connection(&self) -> PyResult<Connection> {
        let r = self.r()?;
        // SAFETY: r is live; its connection outlives it.
        Ok(Connection::new(self.life.clone(), unsafe { (*r).connection }))
    }
    #[getter]
    fn server(&self) -> PyResult<Server> {
        let r = self.r()?;
        Ok(Server::new(unsafe { (*r).server }))
    }

    // ---- helpers -------------------------------------------------------------

    /// Writes `message` to the error log in this request's context.
    #[pyo3(signature = (message, level=log::APLOG_ERR as i32))]
    fn log_error(&self, message: &Bound<'_, PyAny>, level: i32) -> PyResult<()> {
        let r = self.r()?;
        log::rerror(r, (level & 0xf) as u32, &message.str()?.to_cow()?);
        Ok(())
    }

    /// The PythonOption values in force here, as a table.
    fn get_options(&self) -> PyResult<Table> {
        let r = self.r()?;
        // SAFETY: r is live.
        let opts = unsafe { config::dir_config(r) }.map(|c| c.options()).unwrap_or_default();
        Table::from_pairs(opts)
    }

    /// The `Require` lines in force here that apply to this request's method,
    /// each as the text after `Require` (mod_python's req.requires() on httpd
    /// 2.2). Lines are known for sections that also hold a Python directive.
    fn requires<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
        let r = self.r()?;
        // SAFETY: r is live; its method lives in its pool.
        let (conf, method) = unsafe { (config::dir_config(r), ffi::cstr_lossy((*r).method)) };
        let lines: Vec<String> = conf
            .and_then(|c| c.requires.as_ref())
            .map(|l| l.iter().filter(|l| l.applies_to(&method)).map(|l| l.requirement.clone()).collect())
            .unwrap_or_default();
        pyo3::types::PyTuple::new(py, lines)
    }

    /// The Python* directives in force here, as a table (flags as "1"/"0").
    fn get_config(&self) -> PyResult<Table> {
        let r = self.r()?;
        // SAFETY: r is live.
        let pairs = unsafe { config::dir_config(r) }.map(config_pairs).unwrap_or_default();
        Table::from_pairs(pairs)
    }

    /// Adds `handler` ("module[::object]") to `phase` ("PythonFixupHandler", ...)
    /// for this request: in the running phase it runs after the current
    /// handlers, in a later phase after that phase's configured ones (a phase
    /// with none configured runs it all the same). `dir` is put on sys.path
    /// (made absolute, ending in '/'), as a <Directory> would be.
    #[pyo3(signature = (phase, handler, dir=None))]
    fn add_handler(&self, phase: &str, handler: &str, dir: Option<String>) -> PyResult<()> {
        let r = self.r()?;
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
        // SAFETY: r is live and served by this thread.
        unsafe { super::state::of(r) }.added.push(decl);
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
        crate::filters::add_to_request(self.life.request()?, name, false).map_err(PyValueError::new_err)
    }

    /// Adds an input filter to this request (see add_output_filter); it sees the body req.read reads.
    fn add_input_filter(&self, name: &str) -> PyResult<()> {
        crate::filters::add_to_request(self.life.request()?, name, true).map_err(PyValueError::new_err)
    }

    /// Calls `callable(data)` (or `callable()`) when the request ends.
    #[pyo3(signature = (callable, data=None))]
    fn register_cleanup(&self, py: Python<'_>, callable: Py<PyAny>, data: Option<Py<PyAny>>) -> PyResult<()> {
        self.r()?;
        self.cleanups.locked().push((callable, data, crate::interpreters::current(py)));
        Ok(())
    }

    /// The password of HTTP Basic credentials (and sets req.user); None without them.
    fn get_basic_auth_pw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.r()?;
        let mut pw: *const std::ffi::c_char = std::ptr::null();
        // SAFETY: r is live; ap_get_basic_auth_pw fills pw from the request pool.
        let rc = unsafe { raw::ap_get_basic_auth_pw(r, &mut pw) };
        if rc != raw::OK as i32 || pw.is_null() {
            return Ok(py.None().into_bound(py));
        }
        Ok(unsafe { convert::opt_text(py, pw) })
    }

    /// Sends (part of) a file through httpd's file buckets; returns the bytes sent.
    #[pyo3(signature = (path, offset=0, len=-1))]
    fn sendfile(&self, py: Python<'_>, path: &str, offset: i64, len: i64) -> PyResult<i64> {
        let r = self.r()?;
        let file = std::fs::File::open(path).map_err(|e| PyOSError::new_err(format!("could not open file for reading: {path}: {e}")))?;
        let size = file.metadata().map(|m| m.len() as i64).unwrap_or(0);
        let offset = offset.clamp(0, size);
        let n = if len < 0 { size - offset } else { len.min(size - offset) };
        // What was written before goes first.
        self.output_in_use()?
            .push(py, self.life.request()?)
            .map_err(|_| PyOSError::new_err("Write failed, client closed connection."))?;
        use std::os::fd::AsRawFd;
        let (fd, rp) = (file.as_raw_fd(), SendPtr(r));
        // SAFETY: r is live and served by this thread; fd stays open (file lives to the end of this call).
        let ok = crate::interp::blocking(py, move || unsafe {
            let rp = rp;
            ffi::sendfile::send_file(rp.0, fd, offset, n)
        });
        drop(file);
        if !ok {
            return Err(PyOSError::new_err("Write failed, client closed connection."));
        }
        Ok(n)
    }

    /// Serves `uri` instead, as a new internal request (the current response is abandoned).
    fn internal_redirect(&self, py: Python<'_>, uri: &Bound<'_, PyAny>) -> PyResult<()> {
        let r = self.r()?;
        let u = SendPtr(self.pool_str(uri, "uri")?);
        self.output.locked().discard();
        let rp = SendPtr(r);
        // SAFETY: r is live and served by this thread; u is a string of its pool.
        crate::interp::blocking(py, move || unsafe {
            let (rp, u) = (rp, u);
            raw::ap_internal_redirect(u.0, rp.0)
        });
        Ok(())
    }

    /// Adds methods to the Allow header of a 405/OPTIONS response (reset first when asked).
    #[pyo3(signature = (methods, reset=0))]
    fn allow_methods(&self, methods: Vec<String>, reset: i32) -> PyResult<()> {
        let r = self.r()?;
        let mut first = reset != 0;
        for m in methods {
            let c = std::ffi::CString::new(m).map_err(|_| PyValueError::new_err("NUL in method name"))?;
            // SAFETY: r is live; the list is NULL-terminated; httpd copies the name.
            unsafe { raw::ap_allow_methods(r, first as i32, c.as_ptr(), std::ptr::null::<std::ffi::c_char>()) };
            first = false;
        }
        Ok(())
    }

    /// Evaluates the request's conditional headers (If-Match, If-Modified-Since, ...).
    fn meets_conditions(&self) -> PyResult<i32> {
        Ok(unsafe { raw::ap_meets_conditions(self.r()?) })
    }

    fn set_etag(&self) -> PyResult<()> {
        unsafe { raw::ap_set_etag(self.r()?) };
        Ok(())
    }

    fn set_last_modified(&self) -> PyResult<()> {
        unsafe { raw::ap_set_last_modified(self.r()?) };
        Ok(())
    }

    /// Makes req.mtime at least `dependency_mtime` (seconds since the epoch).
    fn update_mtime(&self, dependency_mtime: f64) -> PyResult<()> {
        unsafe { raw::ap_update_mtime(self.r()?, (dependency_mtime * 1e6) as raw::apr_time_t) };
        Ok(())
    }

    fn auth_name<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(unsafe { convert::opt_text(py, raw::ap_auth_name(self.r()?)) })
    }

    fn auth_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(unsafe { convert::opt_text(py, raw::ap_auth_type(self.r()?)) })
    }

    /// The client's host name (DNS lookups as httpd's HostnameLookups and `type` allow).
    #[pyo3(signature = (r#type=1))]
    fn get_remote_host<'py>(&self, py: Python<'py>, r#type: i32) -> PyResult<Bound<'py, PyAny>> {
        let rp = SendPtr(self.r()?);
        // A DNS lookup may block: without the GIL. SAFETY: r is live and ours.
        let host = crate::interp::blocking(py, move || unsafe {
            let rp = rp;
            SendPtr(raw::ap_get_useragent_host(rp.0, r#type, std::ptr::null_mut()) as *mut std::ffi::c_char)
        });
        Ok(unsafe { convert::opt_text(py, host.0) })
    }

    /// The main request of a subrequest (None otherwise).
    #[getter]
    fn main(&self, py: Python<'_>) -> PyResult<Option<Py<Request>>> {
        let r = self.r()?;
        self.related(py, unsafe { (*r).main })
    }

    /// The request this one was internally redirected from.
    #[getter]
    fn prev(&self, py: Python<'_>) -> PyResult<Option<Py<Request>>> {
        let r = self.r()?;
        self.related(py, unsafe { (*r).prev })
    }

    /// The request this one was internally redirected to.
    #[getter]
    fn next(&self, py: Python<'_>) -> PyResult<Option<Py<Request>>> {
        let r = self.r()?;
        self.related(py, unsafe { (*r).next })
    }

    fn document_root<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.r()?;
        Ok(unsafe { convert::opt_text(py, raw::ap_document_root(r)) })
    }

    /// An absolute URL for `uri` on this server (scheme, host and port as the client sees them).
    fn construct_url<'py>(&self, py: Python<'py>, uri: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.r()?;
        let u = self.pool_str(uri, "uri")?;
        Ok(unsafe { convert::opt_text(py, raw::ap_construct_url((*r).pool, u, r)) })
    }

    /// Adds httpd's common CGI variables to req.subprocess_env.
    fn add_common_vars(&self) -> PyResult<()> {
        unsafe { raw::ap_add_common_vars(self.r()?) };
        Ok(())
    }

    /// Adds the CGI/1.1 variables to req.subprocess_env: httpd's common ones
    /// (every request header as HTTP_*, the server's and the connection's)
    /// and the request's own, as mod_python 3.5 does (CGI-style code such as
    /// Roundup's reads HTTP_HOST and REMOTE_ADDR after calling only this).
    fn add_cgi_vars(&self) -> PyResult<()> {
        let r = self.r()?;
        // SAFETY: r is live and served by this thread; httpd fills r->subprocess_env.
        unsafe {
            raw::ap_add_common_vars(r);
            raw::ap_add_cgi_vars(r);
        }
        Ok(())
    }

    fn is_https(&self) -> PyResult<bool> {
        let r = self.r()?;
        Ok(unsafe { raw::ap_ssl_conn_is_ssl((*r).connection) } != 0)
    }

    fn __repr__(&self) -> String {
        match self.r() {
            Ok(r) => format!("<mp_request {}>", unsafe { ffi::cstr_lossy((*r).the_request) }),
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

/// An APR finfo as mod_python's tuple (indexed by apache.FINFO_*), None without a file.
///
/// # Safety
/// `f` is a filled apr_finfo_t whose strings are NULL or live.
pub unsafe fn finfo_tuple<'py>(py: Python<'py>, f: &raw::apr_finfo_t) -> PyResult<Bound<'py, PyAny>> {
    if f.filetype == raw::apr_filetype_e_APR_NOFILE {
        return Ok(py.None().into_bound(py));
    }
    let t = |v: raw::apr_time_t| v as f64 / 1e6;
    let items: Vec<Bound<'py, PyAny>> = vec![
        (f.protection as i64).into_pyobject(py)?.into_any(),
        (f.inode as i64).into_pyobject(py)?.into_any(),
        (f.device as i64).into_pyobject(py)?.into_any(),
        (f.nlink as i64).into_pyobject(py)?.into_any(),
        (f.user as i64).into_pyobject(py)?.into_any(),
        (f.group as i64).into_pyobject(py)?.into_any(),
        f.size.into_pyobject(py)?.into_any(),
        t(f.atime).into_pyobject(py)?.into_any(),
        t(f.mtime).into_pyobject(py)?.into_any(),
        t(f.ctime).into_pyobject(py)?.into_any(),
        unsafe { convert::opt_text(py, f.fname) },
        unsafe { convert::opt_text(py, f.name) },
        (f.filetype as i64).into_pyobject(py)?.into_any(),
    ];
    Ok(pyo3::types::PyTuple::new(py, items)?.into_any())
}

/// A ValueError naming a response header httpd would refuse, before any body
/// byte goes out (so the handler fails with a clean 500).
fn refuse_bad_headers(r: *mut raw::request_rec) -> PyResult<()> {
    // SAFETY: r is the live request of this handler's thread (from self.r()).
    match unsafe { crate::request::output::refused_response_header(r) } {
        Some(name) => Err(PyValueError::new_err(format!(
            "response header {name:?} has a control character in its value or is not a valid name: refused"
        ))),
        None => Ok(()),
    }
}

/// An apr array of C strings as a tuple of str (empty for NULL).
///
/// # Safety
/// `arr` is NULL or a live apr array whose elements are NUL-terminated strings.
unsafe fn string_tuple<'py>(py: Python<'py>, arr: *mut raw::apr_array_header_t) -> PyResult<Bound<'py, PyAny>> {
    if arr.is_null() {
        return Ok(pyo3::types::PyTuple::empty(py).into_any());
    }
    // SAFETY: as the caller promises.
    let items: Vec<Bound<'py, PyAny>> = unsafe {
        let elts = (*arr).elts as *const *const std::ffi::c_char;
        (0..(*arr).nelts.max(0) as usize)
            .map(|i| convert::opt_text(py, *elts.add(i)))
            .collect()
    };
    Ok(pyo3::types::PyTuple::new(py, items)?.into_any())
}
