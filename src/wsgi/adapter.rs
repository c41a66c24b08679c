//! One WSGI call: environ in, application called, its iterable sent to httpd,
//! close() always called. Errors become a 500 before the response has
//! started, or a visibly cut response after.
use super::environ::{self, Spec};
use super::file_wrapper::{regular_file, FileWrapper};
use super::input::Input;
use super::logstream::RequestErrors;
use super::response::{Response, Shared, StartResponse};
use crate::ffi::request::Request;
use crate::ffi::{log, raw};
use crate::request::life::Life;
use crate::sync::LockExt;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use std::os::fd::BorrowedFd;
use std::sync::Arc;

/// How to run the application.
pub struct Call<'a> {
    /// Names the application in log lines (its script file, or module::callable).
    pub name: &'a str,
    pub chunked_ok: bool,
    /// WSGIErrorOverride: an error status is answered with httpd's own page.
    pub error_override: bool,
    /// WSGIEnableSendfile: real files from wsgi.file_wrapper go to httpd as files.
    pub sendfile: bool,
    /// WSGITrustedProxyHeaders and WSGITrustedProxies.
    pub proxy: &'a super::proxy_headers::ProxyDirConfig,
    pub spec: Spec<'a>,
}

/// How the call ended, for the part that runs after the GIL is released.
pub enum Outcome {
    /// Nothing was sent: httpd answers with this status (an error page).
    Status(i32),
    /// The response is under way: hand over `pending`, then end it (cut when `abort`).
    Sent { pending: Vec<u8>, abort: bool },
}

/// Names the application and request in log lines; formatted only when used.
struct Who<'a> {
    r: &'a Request,
    name: &'a str,
}

impl std::fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe(self.r, self.name))
    }
}

pub fn describe(r: &Request, script: &str) -> String {
    let (m, u) = (
        String::from_utf8_lossy(r.method().unwrap_or_default()),
        String::from_utf8_lossy(r.unparsed_uri().unwrap_or_default()),
    );
    format!("WSGI application {script} ({m} {u})")
}

pub fn log_exception(py: Python<'_>, r: &Request, what: &str, e: &PyErr) {
    r.log(log::APLOG_ERR, &format!("{what}: {e}"));
    for line in crate::interp::traceback_lines(py, e) {
        r.log(log::APLOG_ERR, &format!("{what}: {line}"));
    }
}

/// Runs the application for the request.
pub fn run<'py>(py: Python<'py>, r: &Request, app: &Bound<'py, PyAny>, call: &Call<'_>) -> Outcome {
    let who = Who { r, name: call.name };
    let chunked = !r.headers_in().get_all(b"transfer-encoding").is_empty();
    if chunked && !call.chunked_ok {
        r.log(
            log::APLOG_INFO,
            &format!("{who}: chunked request body refused (WSGIChunkedRequest Off)"),
        );
        return Outcome::Status(raw::HTTP_LENGTH_REQUIRED as i32);
    }
    // Ends itself when r's pool is cleared.
    let life = Arc::new(Life::of(r));
    let errors = match RequestErrors::new(py, life.clone()) {
        Ok(e) => e,
        Err(e) => {
            log_exception(py, r, &who.to_string(), &e);
            return Outcome::Status(500);
        }
    };
    let response = Response::new(life.clone());
    let outcome = (|| -> PyResult<Outcome> {
        let input = Py::new(py, Input::new(life.clone()))?;
        // As mod_wsgi: a body httpd refuses (past LimitRequestBody) ends the
        // request with httpd's status before the application runs.
        if let Err(code) = input.borrow(py).prepare() {
            r.log(log::APLOG_INFO, &format!("{who}: request body refused by httpd with status {code}"));
            return Ok(Outcome::Status(code));
        }
        let env = environ::build(py, r, &call.spec, input.into_bound(py).into_any(), errors.stream(py))?;
        super::proxy_headers::apply(py, call.proxy, &env)?;
        let start_response = Py::new(
            py,
            StartResponse {
                response: response.clone(),
            },
        )?;
        let result = match app.call1((env, start_response)) {
            Ok(v) => v,
            Err(e) => return Ok(failed(py, r, &who.to_string(), &response, &e)),
        };
        let sent = send(py, r, &response, &result, call.sendfile);
        let closed = close(py, &result);
        match (sent, closed) {
            (Err(Failure::Client), _) => {
                r.log(
                    log::APLOG_INFO,
                    &format!("{who}: the client closed the connection before the response was complete"),
                );
                let pending = response.locked().finish().unwrap_or_default();
                Ok(Outcome::Sent { pending, abort: true })
            }
            (Err(Failure::App(e)), close) => {
                if let Err(ce) = close {
                    log_exception(py, r, &format!("{who}: close() failed"), &ce);
                }
                Ok(failed(py, r, &who.to_string(), &response, &e))
            }
            (Ok(()), close) => {
                if let Err(ce) = close {
                    log_exception(py, r, &format!("{who}: close() failed"), &ce);
                }
                let mut resp = response.locked();
                if !resp.started() {
                    drop(resp);
                    let e = pyo3::exceptions::PyRuntimeError::new_err("the application returned without calling start_response()");
                    return Ok(failed(py, r, &who.to_string(), &response, &e));
                }
                if resp.overflow > 0 {
                    r.log(
                        log::APLOG_WARNING,
                        &format!(
                            "{who}: {} bytes past the Content-Length the application declared were not sent",
                            resp.overflow
                        ),
                    );
                }
                if call.error_override && !resp.sent() {
                    if let Some(code) = resp.code().filter(|c| *c >= 400) {
                        // httpd's ErrorDocument answers instead of the application's body.
                        resp.reset();
                        return Ok(Outcome::Status(code as i32));
                    }
                }
                let pending = resp.finish()?;
                Ok(Outcome::Sent { pending, abort: false })
            }
        }
    })();
    errors.finish(py);
    match outcome {
        Ok(o) => o,
        Err(e) => failed(py, r, &who.to_string(), &response, &e),
    }
}

/// Calls the iterable's close(), if it has one (lists and tuples have none:
/// they are not even asked, which would cost an AttributeError).
fn close(py: Python<'_>, result: &Bound<'_, PyAny>) -> PyResult<()> {
    if result.is_exact_instance_of::<PyList>() || result.is_exact_instance_of::<PyTuple>() || result.is_exact_instance_of::<PyBytes>() {
        return Ok(());
    }
    if let Some(close) = result.getattr_opt(pyo3::intern!(py, "close"))? {
        close.call0()?;
    }
    Ok(())
}

/// Logs an application error and decides the response.
fn failed(py: Python<'_>, r: &Request, who: &str, response: &Shared, e: &PyErr) -> Outcome {
    // mod_wsgi's header lines, which log watchers match: SystemExit is
    // named as ignored (the child goes on), anything else by its class.
    let kind = e.get_type(py).name().map(|n| n.to_string()).unwrap_or_default();
    let headline = if e.is_instance_of::<pyo3::exceptions::PySystemExit>(py) {
        format!("{who}: {kind} exception raised by WSGI script ignored")
    } else {
        format!("{who}: {kind} exception raised processing WSGI script")
    };
    log_exception(py, r, &headline, e);
    let mut resp = response.locked();
    // Body bytes already accepted go out, as mod_wsgi sends each block as it
    // comes; the response is then cut so the client sees it is incomplete.
    if resp.sent() || resp.body_started() {
        let pending = resp.output.take();
        resp.finished = true;
        Outcome::Sent { pending, abort: true }
    } else {
        resp.reset();
        Outcome::Status(500)
    }
}

enum Failure {
    /// The client went away: stop quietly.
    Client,
    App(PyErr),
}

/// Sends the application's iterable. A list or tuple is complete already, so
/// its blocks are buffered (and httpd can add a Content-Length); blocks from
/// a generator are flushed one by one, as PEP 3333 requires.
fn send(py: Python<'_>, r: &Request, response: &Shared, result: &Bound<'_, PyAny>, sendfile: bool) -> Result<(), Failure> {
    let write = |data: &[u8], flush: bool| -> Result<(), Failure> {
        let mut resp = response.locked();
        if !resp.started() {
            return Err(Failure::App(pyo3::exceptions::PyRuntimeError::new_err(
                "the application yielded data before calling start_response()",
            )));
        }
        resp.write(py, data, flush).map_err(|e| {
            if resp.request().is_ok() && e.is_instance_of::<pyo3::exceptions::PyOSError>(py) {
                Failure::Client
            } else {
                Failure::App(e)
            }
        })
    };
    let as_bytes = |item: &Bound<'_, PyAny>| -> Result<Vec<u8>, Failure> {
        item.cast::<PyBytes>().map(|b| b.as_bytes().to_vec()).map_err(|_| {
            Failure::App(pyo3::exceptions::PyTypeError::new_err(format!(
                "the application's iterable yielded {}, not bytes",
                item.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            )))
        })
    };
    if let Ok(list) = result.cast::<PyList>() {
        for item in list.iter() {
            write(&as_bytes(&item)?, false)?;
        }
        return Ok(());
    }
    if let Ok(tuple) = result.cast::<PyTuple>() {
        for item in tuple.iter() {
            write(&as_bytes(&item)?, false)?;
        }
        return Ok(());
    }
    if let Some(fw) = result.cast::<FileWrapper>().ok().filter(|_| sendfile) {
        let filelike = fw.borrow().filelike.clone_ref(py);
        if let Some((fd, pos, size)) = regular_file(filelike.bind(py)) {
            return send_file(py, r, response, fd, pos, size);
        }
    }
    let iter = result.try_iter().map_err(Failure::App)?;
    for item in iter {
        let item = item.map_err(Failure::App)?;
        let data = as_bytes(&item)?;
        if !data.is_empty() {
            write(&data, true)?;
        }
    }
    Ok(())
}

/// A real file from wsgi.file_wrapper: out through httpd's file buckets.
fn send_file(py: Python<'_>, r: &Request, response: &Shared, file: BorrowedFd<'_>, pos: i64, size: i64) -> Result<(), Failure> {
    let mut resp = response.locked();
    if !resp.started() {
        return Err(Failure::App(pyo3::exceptions::PyRuntimeError::new_err(
            "the application returned a file before calling start_response()",
        )));
    }
    let fresh = !resp.body_started();
    let len = resp.allow((size - pos).max(0) as u64);
    // The request is still being served (its Life has not ended).
    resp.request().map_err(Failure::App)?;
    resp.hand_over_buffered(py).map_err(|_| Failure::Client)?;
    if fresh && !resp.declared_length() {
        // The whole body is this file: httpd can announce its length.
        resp.request().map_err(Failure::App)?.set_content_length(len as i64);
    }
    if len == 0 {
        return Ok(());
    }
    // In a daemon: the child sends the file itself when it can.
    if fresh && crate::daemon::file_pass::offer(r, file, pos, len) {
        return Ok(());
    }
    // The descriptor is duplicated for httpd's bucket.
    let rr = r.on_this_thread();
    let ok = crate::interp::blocking(py, move || rr.send_file(&file, pos, len as i64));
    if ok {
        Ok(())
    } else {
        Err(Failure::Client)
    }
}

/// Hands over what the call left buffered and ends the response; runs with
/// the GIL released. Returns what the handler hook returns to httpd.
pub fn complete(r: &Request, outcome: Outcome) -> i32 {
    match outcome {
        Outcome::Status(code) => code,
        Outcome::Sent { pending, abort } => {
            if !abort {
                return crate::request::output::end(r, &pending);
            }
            if !pending.is_empty() {
                // Flushed, so the head and these bytes leave before the cut.
                crate::request::output::send(r, &pending, true);
            }
            r.abort_response();
            raw::DONE
        }
    }
}
