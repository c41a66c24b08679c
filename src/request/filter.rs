//! The `filter` object a Python filter handler gets for one call of httpd's
//! filter: read what came in, write what goes on, flush, close, pass on or
//! disable. It works only during that call; afterwards every method raises.
use super::convert;
use super::filter_chain::Ctx;
use super::request::Request;
use crate::config::FilterDecl;
use crate::ffi::brigade::{BucketBrigade, Front};
use crate::ffi::filter::Filter as FFilter;
use crate::ffi::held::{Held, Tied, Unusable};
use crate::ffi::raw;
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

#[pyclass(name = "mp_filter", module = "_apache", frozen)]
pub struct Filter {
    /// The httpd filter of this call: usable only during it, on its thread.
    f: Held<FFilter>,
    /// The filter instance's context (lives longer than the call).
    ctx: Tied<Ctx>,
    /// Output: the brigade httpd passed down. Input: the one to fill for the caller.
    bb: Tied<BucketBrigade>,
    /// Input: how much the caller asked for.
    readbytes: usize,
    decl: Arc<FilterDecl>,
    req: Option<Py<Request>>,
    closed: AtomicBool,
    softspace: AtomicI64,
}

impl Filter {
    /// The object for the call in progress of a filter, given the filter, its
    /// brigade and its context as lent for that call (`ffi::held::lend_two_for_call`).
    pub fn new(
        ctx: &Ctx,
        lent: (Held<FFilter>, Tied<BucketBrigade>, Tied<Ctx>),
        decl: Arc<FilterDecl>,
        req: Option<Py<Request>>,
        readbytes: usize,
    ) -> Self {
        let closed = ctx.state.closed.get();
        Filter {
            f: lent.0,
            bb: lent.1,
            ctx: lent.2,
            readbytes,
            decl,
            req,
            closed: AtomicBool::new(closed),
            softspace: AtomicI64::new(0),
        }
    }

    /// The call ended: the brigade and state are no longer ours to touch.
    pub fn end(&self) {
        self.f.end();
    }

    fn with<T>(&self, f: impl FnOnce(&Call<'_>) -> PyResult<T>) -> PyResult<T> {
        let unusable = |e| {
            PyRuntimeError::new_err(match e {
                Unusable::OtherThread => "a filter object can only be used by the thread running the filter",
                _ => "this filter call has ended (the filter object is only valid during its call)",
            })
        };
        let filter = self.f.get().map_err(unusable)?;
        let bb = self.bb.get(&self.f).map_err(unusable)?;
        f(&Call {
            f: filter,
            bb,
            ctx: self.ctx.get(&self.f).map_err(unusable)?,
            readbytes: self.readbytes,
        })
    }
}

/// The httpd side of one filter call.
struct Call<'a> {
    f: &'a FFilter,
    bb: &'a BucketBrigade,
    ctx: &'a Ctx,
    readbytes: usize,
}

/// Hands `bb` to the next filter with the GIL released.
fn pass(py: Python<'_>, f: &FFilter, bb: &BucketBrigade) -> PyResult<()> {
    let (f, bb) = (f.on_this_thread(), bb.on_this_thread());
    let rv = crate::interp::blocking(py, move || {
        let rv = f.pass_next(&bb);
        bb.cleanup();
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
    fn read_output(call: &Call<'_>, max: usize, line: bool) -> PyResult<Option<Vec<u8>>> {
        let st = &call.ctx.state;
        let mut out = Vec::new();
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
                    st.flush_seen.set(true);
                    call.bb.drop_first();
                }
                Front::Eos => {
                    if out.is_empty() {
                        call.bb.drop_first();
                        st.eos_seen.set(true);
                        return Ok(None);
                    }
                    break;
                }
                // Other metadata (errors) goes on in order: stop before it.
                Front::Meta | Front::Empty => break,
            }
        }
        Ok(Some(out))
    }

    /// Reads for an input filter: from the filter below, fetching as needed.
    fn read_input(py: Python<'_>, call: &Call<'_>, max: usize, line: bool) -> PyResult<Option<Vec<u8>>> {
        let st = &call.ctx.state;
        let held = call.ctx.held();
        let mut out = Vec::new();
        loop {
            match held.front() {
                Front::Data => {
                    held.take_data(max - out.len(), line, &mut out)
                        .map_err(|rv| PyOSError::new_err(format!("reading a bucket failed ({})", crate::ffi::apr_error(rv))))?;
                    if out.len() >= max || !line || out.ends_with(b"\n") {
                        break;
                    }
                    continue;
                }
                Front::Eos => {
                    if out.is_empty() {
                        held.drop_first();
                        st.eos_seen.set(true);
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
            if st.eos_seen.get() {
                return Ok(if out.is_empty() { None } else { Some(out) });
            }
            let want = (max - out.len()).min(call.readbytes.max(8192)) as raw::apr_off_t;
            // The read may wait for the client, so without the GIL.
            let (f, h) = (call.f.on_this_thread(), held.on_this_thread());
            let rv = crate::interp::blocking(py, move || {
                f.get_next(
                    &h,
                    raw::ap_input_mode_t_AP_MODE_READBYTES,
                    raw::apr_read_type_e_APR_BLOCK_READ,
                    want,
                )
            });
            if rv == raw::APR_EOF as i32 {
                held.append_eos();
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
        self.with(|call| {
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
                Filter::read_input(py, call, max, line)
            } else {
                Filter::read_output(call, max, line)
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
        self.with(|call| {
            if call.ctx.state.closed.get() {
                return Err(PyRuntimeError::new_err("write() on a closed filter"));
            }
            call.ctx.out().append(&bytes);
            Ok(())
        })
    }

    /// Hands what was written so far to the next filter, with a flush.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let input = self.decl.input;
        self.with(|call| {
            if input || call.ctx.state.closed.get() {
                return Ok(());
            }
            let out = call.ctx.out();
            out.append_flush();
            pass(py, call.f, out)
        })
    }

    /// Ends the stream: what was written, then the end marker.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let input = self.decl.input;
        let done = self.with(|call| {
            let st = &call.ctx.state;
            if st.closed.get() {
                return Ok(());
            }
            st.closed.set(true);
            let out = call.ctx.out();
            out.append_eos();
            if input {
                Ok(())
            } else {
                pass(py, call.f, out)
            }
        });
        self.closed.store(true, Ordering::Relaxed);
        done
    }

    /// Hands the rest of the incoming data on unchanged.
    fn pass_on(&self, py: Python<'_>) -> PyResult<()> {
        let input = self.decl.input;
        self.with(|call| {
            let st = &call.ctx.state;
            let out = call.ctx.out();
            if input {
                call.ctx.held().move_all_to(out);
                if out.is_empty() {
                    let want = call.readbytes.max(1) as raw::apr_off_t;
                    let (f, o) = (call.f.on_this_thread(), out.on_this_thread());
                    crate::interp::blocking(py, move || {
                        f.get_next(
                            &o,
                            raw::ap_input_mode_t_AP_MODE_READBYTES,
                            raw::apr_read_type_e_APR_BLOCK_READ,
                            want,
                        )
                    });
                }
                if out.contains_eos() {
                    st.closed.set(true);
                }
                return Ok(());
            }
            st.passed_on.set(true);
            call.bb.move_all_to(out);
            if out.contains_eos() {
                st.closed.set(true);
            }
            pass(py, call.f, out)
        })
    }

    /// From now on the data passes through without calling the handler.
    fn disable(&self) -> PyResult<()> {
        self.with(|call| {
            call.ctx.state.disabled.set(true);
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
        self.with(|call| {
            call.f.log(level.unwrap_or(crate::ffi::log::APLOG_ERR as i32) as u32 & 0xf, &text);
            Ok(())
        })
    }
}
