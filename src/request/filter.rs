//! The `filter` object a Python filter handler gets for one call of httpd's
//! filter: read what came in, write what goes on, flush, close, pass on or
//! disable. It works only during that call; afterwards every method raises.
use super::convert;
use super::request::Request;
use crate::ffi::brigade::{Brigade, Front};
use crate::ffi::{raw, SendPtr};
use crate::filters::{brigade_for, FilterDecl, FilterState};
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// The httpd side of one filter call.
struct Call {
    f: SendPtr<raw::ap_filter_t>,
    /// Output: the brigade httpd passed down. Input: the one to fill for the caller.
    bb: Brigade,
    st: SendPtr<FilterState>,
    /// Input: how much the caller asked for.
    readbytes: usize,
}

// SAFETY: a Call is only used by the thread running the filter call (Life-like
// check below) while that call is in progress.
unsafe impl Send for Call {}

#[pyclass(name = "mp_filter", module = "_apache", frozen)]
pub struct Filter {
    call: Mutex<Option<Call>>,
    owner: libc::pthread_t,
    decl: Arc<FilterDecl>,
    req: Option<Py<Request>>,
    closed: AtomicBool,
    softspace: AtomicI64,
}

impl Filter {
    pub fn new(
        f: *mut raw::ap_filter_t,
        bb: Brigade,
        st: *mut FilterState,
        decl: Arc<FilterDecl>,
        req: Option<Py<Request>>,
        readbytes: usize,
    ) -> Self {
        // SAFETY: st is the live state of f.
        let closed = unsafe { (*st).closed };
        Filter {
            call: Mutex::new(Some(Call {
                f: SendPtr(f),
                bb,
                st: SendPtr(st),
                readbytes,
            })),
            // SAFETY: no preconditions.
            owner: unsafe { libc::pthread_self() },
            decl,
            req,
            closed: AtomicBool::new(closed),
            softspace: AtomicI64::new(0),
        }
    }

    /// The call ended: the brigade and state are no longer ours to touch.
    pub fn end(&self) {
        *self.call.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn with<T>(&self, f: impl FnOnce(&Call, &mut FilterState) -> PyResult<T>) -> PyResult<T> {
        // SAFETY: no preconditions.
        if unsafe { libc::pthread_equal(libc::pthread_self(), self.owner) } == 0 {
            return Err(PyRuntimeError::new_err(
                "a filter object can only be used by the thread running the filter",
            ));
        }
        let guard = self.call.lock().unwrap_or_else(|e| e.into_inner());
        let Some(call) = guard.as_ref() else {
            return Err(PyRuntimeError::new_err(
                "this filter call has ended (the filter object is only valid during its call)",
            ));
        };
        // SAFETY: the state lives in the request's pool, which outlives the call.
        let st = unsafe { &mut *call.st.0 };
        f(call, st)
    }
}

/// Hands `bb` to the next filter with the GIL released.
fn pass(py: Python<'_>, f: *mut raw::ap_filter_t, bb: Brigade) -> PyResult<()> {
    let fp = SendPtr(f);
    let b = SendPtr(bb.0);
    // SAFETY: f and bb are live during the filter call; only this thread uses them.
    let rv = crate::interp::blocking(py, move || unsafe {
        let (fp, b) = (fp, b);
        let rv = raw::ap_pass_brigade((*fp.0).next, b.0);
        Brigade(b.0).cleanup();
        rv
    });
    if rv != raw::APR_SUCCESS as i32 {
        return Err(PyOSError::new_err(
            "passing data to the next filter failed (client closed connection?)",
        ));
    }
    Ok(())
}

impl Filter {
    /// Reads for an output filter: from the brigade httpd passed down.
    fn read_output(call: &Call, st: &mut FilterState, max: usize, line: bool) -> PyResult<Option<Vec<u8>>> {
        let mut out = Vec::new();
        // SAFETY: the brigade is live during the call and used only by this thread.
        unsafe {
            loop {
                match call.bb.front() {
                    Front::Data => {
                        call.bb
                            .take_data(max - out.len(), line, &mut out)
                            .map_err(|rv| PyOSError::new_err(format!("reading a bucket failed ({})", crate::ffi::apr_error(rv))))?;
                        if out.len() >= max || (line && out.ends_with(b"\n")) {
                            break;
                        }
                    }
                    Front::Flush => {
                        st.flush_seen = true;
                        call.bb.drop_first();
                    }
                    Front::Eos => {
                        if out.is_empty() {
                            call.bb.drop_first();
                            st.eos_seen = true;
                            return Ok(None);
                        }
                        break;
                    }
                    // Other metadata (errors) goes on in order: stop before it.
                    Front::Meta | Front::Empty => break,
                }
            }
        }
        Ok(Some(out))
    }

    /// Reads for an input filter: from the filter below, fetching as needed.
    fn read_input(py: Python<'_>, call: &Call, st: &mut FilterState, max: usize, line: bool) -> PyResult<Option<Vec<u8>>> {
        let f = call.f.0;
        // SAFETY: f is live during the call.
        let held = unsafe { brigade_for(f, &mut st.held) };
        let mut out = Vec::new();
        loop {
            // SAFETY: as above.
            unsafe {
                match held.front() {
                    Front::Data => {
                        held.take_data(max - out.len(), line, &mut out)
                            .map_err(|rv| PyOSError::new_err(format!("reading a bucket failed ({})", crate::ffi::apr_error(rv))))?;
                        if out.len() >= max || (line && out.ends_with(b"\n")) || !line {
                            break;
                        }
                        continue;
                    }
                    Front::Eos => {
                        if out.is_empty() {
                            held.drop_first();
                            st.eos_seen = true;
                            return Ok(None);
                        }
                        break;
                    }
                    Front::Flush | Front::Meta => {
                        held.drop_first();
                        continue;
                    }
                    Front::Empty => {}
                }
            }
            if st.eos_seen {
                return Ok(if out.is_empty() { None } else { Some(out) });
            }
            let want = (max - out.len()).min(call.readbytes.max(8192)) as raw::apr_off_t;
            let fp = SendPtr(f);
            let hp = SendPtr(held.0);
            // SAFETY: as above; the read may wait for the client, so without the GIL.
            let rv = crate::interp::blocking(py, move || unsafe {
                let (fp, hp) = (fp, hp);
                raw::ap_get_brigade(
                    (*fp.0).next,
                    hp.0,
                    raw::ap_input_mode_t_AP_MODE_READBYTES,
                    raw::apr_read_type_e_APR_BLOCK_READ,
                    want,
                )
            });
            if rv == raw::APR_EOF as i32 {
                // SAFETY: as above.
                unsafe { held.append_eos() };
            } else if rv != raw::APR_SUCCESS as i32 {
                return Err(PyOSError::new_err(format!(
                    "reading the request body failed ({})",
                    crate::ffi::apr_error(rv)
                )));
            }
        }
        Ok(Some(out))
    }

    fn read_any(&self, py: Python<'_>, len: i64, line: bool) -> PyResult<Option<Vec<u8>>> {
        let input = self.decl.input;
        self.with(|call, st| {
            let max = if len < 0 {
                if input {
                    call.readbytes.max(1)
                } else {
                    usize::MAX
                }
            } else {
                len as usize
            };
            if max == 0 {
                return Ok(Some(Vec::new()));
            }
            if input {
                Filter::read_input(py, call, st, max, line)
            } else {
                Filter::read_output(call, st, max, line)
            }
        })
    }
}

#[pymethods]
impl Filter {
    /// Data that came in (bytes): at most `length` bytes; b'' when this call's
    /// data is used up, None at the end of the stream.
    #[pyo3(signature = (length=-1))]
    fn read<'py>(&self, py: Python<'py>, length: i64) -> PyResult<Option<Bound<'py, PyBytes>>> {
        Ok(self.read_any(py, length, false)?.map(|d| PyBytes::new(py, &d)))
    }

    /// One line (up to and including b'\n'), at most `length` bytes; None at the end.
    #[pyo3(signature = (length=-1))]
    fn readline<'py>(&self, py: Python<'py>, length: i64) -> PyResult<Option<Bound<'py, PyBytes>>> {
        Ok(self.read_any(py, length, true)?.map(|d| PyBytes::new(py, &d)))
    }

    /// Sends data (bytes, or str as UTF-8) on to the next filter.
    fn write(&self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let bytes = convert::body_bytes(data)?;
        self.with(|call, st| {
            if st.closed {
                return Err(PyRuntimeError::new_err("write() on a closed filter"));
            }
            // SAFETY: f is live during the call.
            let out = unsafe { brigade_for(call.f.0, &mut st.out) };
            unsafe { out.append(&bytes) };
            Ok(())
        })
    }

    /// Hands what was written so far to the next filter, with a flush.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let input = self.decl.input;
        self.with(|call, st| {
            if input || st.closed {
                return Ok(());
            }
            // SAFETY: f is live during the call.
            let out = unsafe { brigade_for(call.f.0, &mut st.out) };
            unsafe { out.append_flush() };
            pass(py, call.f.0, out)
        })
    }

    /// Ends the stream: what was written, then the end marker.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let input = self.decl.input;
        let done = self.with(|call, st| {
            if st.closed {
                return Ok(());
            }
            st.closed = true;
            // SAFETY: f is live during the call.
            let out = unsafe { brigade_for(call.f.0, &mut st.out) };
            unsafe { out.append_eos() };
            if input {
                Ok(())
            } else {
                pass(py, call.f.0, out)
            }
        });
        self.closed.store(true, Ordering::Relaxed);
        done
    }

    /// Hands the rest of the incoming data on unchanged.
    fn pass_on(&self, py: Python<'_>) -> PyResult<()> {
        let input = self.decl.input;
        self.with(|call, st| {
            // SAFETY: f and the brigades are live during the call.
            unsafe {
                let out = brigade_for(call.f.0, &mut st.out);
                if input {
                    let held = brigade_for(call.f.0, &mut st.held);
                    held.move_all_to(out);
                    if out.is_empty() {
                        let fp = SendPtr(call.f.0);
                        let op = SendPtr(out.0);
                        let want = call.readbytes.max(1) as raw::apr_off_t;
                        crate::interp::blocking(py, move || {
                            let (fp, op) = (fp, op);
                            raw::ap_get_brigade(
                                (*fp.0).next,
                                op.0,
                                raw::ap_input_mode_t_AP_MODE_READBYTES,
                                raw::apr_read_type_e_APR_BLOCK_READ,
                                want,
                            )
                        });
                    }
                    if out.contains_eos() {
                        st.closed = true;
                    }
                    return Ok(());
                }
                st.passed_on = true;
                call.bb.move_all_to(out);
                if out.contains_eos() {
                    st.closed = true;
                }
                pass(py, call.f.0, out)
            }
        })
    }

    /// From now on the data passes through without calling the handler.
    fn disable(&self) -> PyResult<()> {
        self.with(|_, st| {
            st.disabled = true;
            Ok(())
        })
    }

    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
    #[getter]
    fn name(&self) -> String {
        self.decl.name.clone()
    }
    #[getter]
    fn is_input(&self) -> bool {
        self.decl.input
    }
    /// The request (None for a connection-level filter).
    #[getter]
    fn req(&self, py: Python<'_>) -> Option<Py<Request>> {
        self.req.as_ref().map(|r| r.clone_ref(py))
    }
    #[getter]
    fn handler(&self) -> String {
        self.decl.module.clone()
    }
    /// For `print(..., file=filter)` habits of old code.
    #[getter]
    fn softspace(&self) -> i64 {
        self.softspace.load(Ordering::Relaxed)
    }
    #[setter]
    fn set_softspace(&self, v: i64) {
        self.softspace.store(v, Ordering::Relaxed);
    }

    fn log_error(&self, message: &Bound<'_, PyAny>, level: Option<i32>) -> PyResult<()> {
        let text = message.str()?.to_cow()?.into_owned();
        self.with(|call, _| {
            // SAFETY: f is live during the call.
            unsafe { crate::filters::log_for(call.f.0, level.unwrap_or(crate::ffi::log::APLOG_ERR as i32) as u32 & 0xf, &text) };
            Ok(())
        })
    }
}
