//! The response side of a WSGI call: start_response, the write callable, and
//! getting the status, headers and body into httpd.
use super::validate;
use crate::request::life::Life;
use crate::request::output::{Output, WriteFailed};
use crate::sync::LockExt;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use std::sync::{Arc, Mutex};

/// Status and headers as start_response accepted them.
struct Head {
    code: u16,
    status_line: Vec<u8>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    content_length: Option<u64>,
}

pub struct Response {
    life: Arc<Life>,
    pub output: Output,
    head: Option<Head>,
    /// The head has been copied into request_rec (redone if replaced before sending).
    applied: bool,
    /// Body bytes accepted so far (Content-Length is never exceeded).
    written: u64,
    /// Bytes dropped because they went past Content-Length.
    pub overflow: u64,
    /// The application's call has ended: later write() calls raise.
    pub finished: bool,
}

pub type Shared = Arc<Mutex<Response>>;

impl Response {
    pub fn new(life: Arc<Life>) -> Shared {
        Arc::new(Mutex::new(Response {
            life,
            output: Output::default(),
            head: None,
            applied: false,
            written: 0,
            overflow: 0,
            finished: false,
        }))
    }

    /// The status code start_response set, if it was called.
    pub fn code(&self) -> Option<u16> {
        self.head.as_ref().map(|h| h.code)
    }

    pub fn started(&self) -> bool {
        self.head.is_some()
    }

    pub fn sent(&self) -> bool {
        self.output.sent()
    }

    /// Copies status and headers into the request record (before any body leaves).
    fn apply(&mut self) -> PyResult<()> {
        if self.applied {
            return Ok(());
        }
        let r = self.life.request()?;
        let Some(head) = &self.head else {
            return Err(PyRuntimeError::new_err("the application wrote before calling start_response()"));
        };
        r.set_status(head.code as i32);
        let _ = r.set_status_line(Some(&head.status_line));
        let out = r.headers_out();
        out.clear();
        for (k, v) in &head.headers {
            if k.eq_ignore_ascii_case(b"content-type") {
                let _ = r.set_content_type(v);
            } else if k.eq_ignore_ascii_case(b"content-length") {
                r.set_content_length(head.content_length.unwrap_or(0) as i64);
            } else {
                let _ = out.add(k, v);
            }
        }
        self.applied = true;
        Ok(())
    }

    /// Hands body bytes on (buffered; flushed when `flush`), never past Content-Length.
    pub fn write(&mut self, py: Python<'_>, data: &[u8], flush: bool) -> PyResult<()> {
        self.life.check()?;
        self.apply()?;
        let allowed = match self.head.as_ref().and_then(|h| h.content_length) {
            Some(cl) => (cl.saturating_sub(self.written) as usize).min(data.len()),
            None => data.len(),
        };
        self.overflow += (data.len() - allowed) as u64;
        self.written += allowed as u64;
        self.output
            .write(py, self.life.request()?, &data[..allowed], flush)
            .map_err(|WriteFailed| PyOSError::new_err("client closed the connection"))
    }

    /// Hands over what is buffered without flushing (before a file is sent).
    pub fn hand_over_buffered(&mut self, py: Python<'_>) -> PyResult<()> {
        self.life.check()?;
        self.apply()?;
        self.output
            .push(py, self.life.request()?)
            .map_err(|WriteFailed| PyOSError::new_err("client closed the connection"))
    }

    /// Whether the application declared a Content-Length.
    pub fn declared_length(&self) -> bool {
        self.head.as_ref().is_some_and(|h| h.content_length.is_some())
    }

    /// Whether any body bytes were accepted yet.
    pub fn body_started(&self) -> bool {
        self.written > 0
    }

    /// The request, when it may be used from here.
    pub fn request(&self) -> PyResult<&crate::ffi::request::Request> {
        self.life.request()
    }

    /// Content-Length still allowed for a file of `len` bytes.
    pub fn allow(&mut self, len: u64) -> u64 {
        let allowed = match self.head.as_ref().and_then(|h| h.content_length) {
            Some(cl) => cl.saturating_sub(self.written).min(len),
            None => len,
        };
        self.overflow += len - allowed;
        self.written += allowed;
        allowed
    }

    /// Ends the call: applies the head if no body came, returns what is
    /// still buffered (to be handed over once the GIL is released).
    pub fn finish(&mut self) -> PyResult<Vec<u8>> {
        self.finished = true;
        self.apply()?;
        Ok(self.output.take())
    }

    /// Forgets the application's response before anything was sent (an error page follows).
    pub fn reset(&mut self) {
        self.output.discard();
        self.head = None;
        self.finished = true;
        if self.applied {
            if let Ok(r) = self.life.request() {
                r.headers_out().clear();
            }
            self.applied = false;
        }
    }
}

/// The Python type name of `v`, for error messages.
fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type().name().map(|n| n.to_string()).unwrap_or_default()
}

/// A header name or value as latin-1 text: a str whose characters all fit
/// (the same TypeError and UnicodeEncodeError as mod_wsgi otherwise).
fn header_text(v: &Bound<'_, PyAny>) -> PyResult<String> {
    let s = v
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("must be str, not {}", type_name(v))))?;
    let text = s.to_cow()?.into_owned();
    if !text.chars().all(|c| (c as u32) < 256) {
        // Python's own codec raises, so the message names the positions as mod_wsgi's does.
        s.call_method1(pyo3::intern!(v.py(), "encode"), ("latin-1",))?;
    }
    Ok(text)
}

fn accept_head(status: &Bound<'_, PyAny>, headers: &Bound<'_, PyAny>) -> PyResult<Head> {
    let status = status
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("start_response() argument 1 must be str, not {}", type_name(status))))?
        .to_cow()?
        .into_owned();
    let code = validate::status(&status).map_err(PyValueError::new_err)?;
    let list = headers
        .cast::<PyList>()
        .map_err(|_| PyTypeError::new_err(format!("start_response() argument 2 must be list, not {}", type_name(headers))))?;
    let mut out = Vec::with_capacity(list.len());
    let mut content_length = None;
    let mut dropped = Vec::new();
    for item in list.iter() {
        let pair = item
            .cast::<PyTuple>()
            .map_err(|_| PyTypeError::new_err(format!("each header must be a 2-tuple, not {}", type_name(&item))))?;
        if pair.len() != 2 {
            return Err(PyValueError::new_err(format!(
                "each header must be a 2-tuple, got length {}",
                pair.len()
            )));
        }
        let (k, v) = (header_text(&pair.get_item(0)?)?, header_text(&pair.get_item(1)?)?);
        validate::header(&k, &v).map_err(PyValueError::new_err)?;
        if validate::server_owned(&k) {
            dropped.push(k);
            continue;
        }
        if k.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| PyValueError::new_err(format!("Content-Length {v:?} is not a number")))?,
            );
        }
        out.push((validate::latin1_bytes(&k), validate::latin1_bytes(&v)));
    }
    if !dropped.is_empty() {
        crate::ffi::log::main_error(
            crate::ffi::log::APLOG_WARNING,
            &format!("WSGI application set hop-by-hop header(s) {dropped:?}, which httpd manages: dropped"),
        );
    }
    Ok(Head {
        code,
        status_line: validate::latin1_bytes(&status),
        headers: out,
        content_length,
    })
}

/// The start_response callable handed to the application.
#[pyclass(name = "StartResponse", module = "_apache")]
pub struct StartResponse {
    pub response: Shared,
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, response_headers, exc_info=None))]
    fn __call__(
        &self,
        py: Python<'_>,
        status: &Bound<'_, PyAny>,
        response_headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Write> {
        let (started, sent) = {
            let resp = self.response.locked();
            resp.life.check()?;
            if resp.finished {
                return Err(PyRuntimeError::new_err("start_response() called after the application returned"));
            }
            (resp.started(), resp.sent())
        };
        let has_exc = exc_info.is_some_and(|e| !e.is_none());
        if has_exc && !exc_info.is_some_and(|e| e.cast::<PyTuple>().is_ok_and(|t| t.len() == 3)) {
            return Err(PyRuntimeError::new_err(
                "start_response() argument 'exc_info' must be a 3-tuple or None",
            ));
        }
        if has_exc {
            if sent {
                // Too late to change the status: re-raise what the application caught.
                let info = exc_info.unwrap();
                let value = info.get_item(1)?;
                let tb = info.get_item(2)?;
                let exc = if tb.is_none() {
                    value
                } else {
                    value.call_method1("with_traceback", (tb,))?
                };
                return Err(PyErr::from_value(exc));
            }
        } else if started && sent {
            // Before anything went out a second call simply replaces the first
            // (as mod_wsgi allows); after, the status is on the wire.
            return Err(PyRuntimeError::new_err("start_response() called more than once without exc_info"));
        }
        let head = accept_head(status, response_headers)?;
        let mut resp = self.response.locked();
        if has_exc || started {
            // The body written so far belonged to the response being replaced.
            resp.output.discard();
            resp.written = 0;
            resp.overflow = 0;
        }
        resp.head = Some(head);
        resp.applied = false;
        drop(resp);
        let _ = py;
        Ok(Write {
            response: self.response.clone(),
        })
    }
}

/// The write() callable start_response returns (for old-style applications).
#[pyclass(name = "Write", module = "_apache")]
pub struct Write {
    response: Shared,
}

#[pymethods]
impl Write {
    fn __call__(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let bytes = data.cast::<pyo3::types::PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!(
                "write() takes bytes, not {}",
                data.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            ))
        })?;
        let mut resp = self.response.locked();
        resp.life.check()?;
        if resp.finished {
            return Err(PyRuntimeError::new_err("write() called after the application returned"));
        }
        // PEP 3333: data passed to write() is transmitted before write returns.
        resp.write(py, bytes.as_bytes(), true)
    }
}
