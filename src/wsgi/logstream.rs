//! A Python stream that writes lines to httpd's error log, mod_wsgi's
//! `mod_wsgi.Log`: the binary `.buffer` under wsgi.errors (in the request's
//! context) and under sys.stdout/sys.stderr (server context), each of which is
//! an io.TextIOWrapper over it as under mod_wsgi. It takes str too.
use crate::ffi::log;
use crate::request::life::Life;
use crate::sync::LockExt;
use pyo3::prelude::*;
use std::sync::{Arc, Mutex};

#[pyclass(name = "Log", module = "mod_wsgi")]
pub struct LogStream {
    /// The request whose context the lines carry (None: the server's log).
    /// A thread's spare wsgi.errors is lent to one request after another.
    life: Mutex<Option<Arc<Life>>>,
    /// wsgi.errors (a request's), rather than sys.stdout/sys.stderr.
    per_request: bool,
    level: u32,
    pending: Mutex<String>,
}

impl LogStream {
    pub fn for_request(life: Arc<Life>) -> Self {
        LogStream {
            life: Mutex::new(Some(life)),
            per_request: true,
            level: log::APLOG_ERR,
            pending: Mutex::new(String::new()),
        }
    }

    pub fn for_server(level: u32) -> Self {
        LogStream {
            life: Mutex::new(None),
            per_request: false,
            level,
            pending: Mutex::new(String::new()),
        }
    }

    fn emit(&self, line: &str) {
        // A request's lines carry its context while it lives; afterwards (or
        // from another thread) they go to the server's log.
        let life = self.life.locked().clone();
        match life.as_ref().and_then(|l| l.request().ok()) {
            Some(r) => r.log(self.level, line),
            None => log::main_error(self.level, line),
        }
    }

    /// Writes out a last line that had no newline (end of request).
    pub fn finish(&self) {
        let rest = std::mem::take(&mut *self.pending.locked());
        if !rest.is_empty() {
            self.emit(&rest);
        }
    }
}

#[pymethods]
impl LogStream {
    fn write(&self, text: &Bound<'_, PyAny>) -> PyResult<usize> {
        // Any bytes-like object (bytes, bytearray, memoryview) or a str.
        let (s, n) = if let Ok(s) = text.cast::<pyo3::types::PyString>() {
            let s = s.to_cow()?.into_owned();
            let n = s.chars().count();
            (s, n)
        } else if let Ok(b) = pyo3::buffer::PyBuffer::<u8>::get(text) {
            let bytes = b.to_vec(text.py())?;
            (String::from_utf8_lossy(&bytes).into_owned(), bytes.len())
        } else {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "write() argument must be str or a bytes-like object, not {}",
                text.get_type().name()?
            )));
        };
        let lines: Vec<String> = {
            let mut pending = self.pending.locked();
            pending.push_str(&s);
            let mut out = Vec::new();
            while let Some(i) = pending.find('\n') {
                out.push(pending[..i].to_string());
                pending.drain(..=i);
            }
            out
        };
        for l in lines {
            self.emit(&l);
        }
        Ok(n)
    }

    fn writelines(&self, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for l in lines.try_iter()? {
            self.write(&l?)?;
        }
        Ok(())
    }

    /// Writes out a partial line.
    fn flush(&self) {
        self.finish();
    }

    fn close(&self) {}

    fn isatty(&self) -> bool {
        false
    }

    fn writable(&self) -> bool {
        true
    }

    fn readable(&self) -> bool {
        false
    }

    fn seekable(&self) -> bool {
        false
    }

    /// There is no descriptor to hand out: the lines go through httpd's logger.
    fn fileno(&self, py: Python<'_>) -> PyResult<i32> {
        let unsupported = py.import("io")?.getattr("UnsupportedOperation")?;
        Err(PyErr::from_value(
            unsupported.call1(("the error log stream has no file descriptor",))?,
        ))
    }

    #[getter]
    fn name(&self) -> &'static str {
        if self.per_request {
            "wsgi.errors"
        } else {
            "<httpd error log>"
        }
    }

    /// io.TextIOWrapper asks its buffer this when it is collected unclosed;
    /// answering saves raising and clearing an AttributeError each request.
    fn _dealloc_warn(&self, _source: &Bound<'_, PyAny>) {}

    #[getter]
    fn closed(&self) -> bool {
        false
    }

    #[getter]
    fn encoding(&self) -> &'static str {
        "utf-8"
    }
}

/// Points sys.stdout and sys.stderr at httpd's error log (an httpd child has
/// no terminal: output would otherwise be lost), as io.TextIOWrapper streams
/// with a `.buffer`; applies WSGIRestrictStdin/Stdout/Signal.
pub fn install_std_streams(py: Python<'_>, restrict: Restrictions) -> PyResult<()> {
    let m = py.import("_pyrite_wsgi")?;
    let stdout = Py::new(py, LogStream::for_server(log::APLOG_ERR))?;
    let stderr = Py::new(py, LogStream::for_server(log::APLOG_ERR))?;
    m.getattr("_install")?.call1((
        stdout,
        stderr,
        restrict.stdin,
        restrict.stdout,
        restrict.signal,
        restrict.as_mod_wsgi,
    ))?;
    Ok(())
}

/// Which of the process's standard streams and calls are closed to applications.
pub struct Restrictions {
    pub stdin: bool,
    pub stdout: bool,
    pub signal: bool,
    /// WSGI scripts are configured: `import mod_wsgi` finds the module, as under mod_wsgi.
    pub as_mod_wsgi: bool,
}

/// io.TextIOWrapper over a request's log stream: what wsgi.errors is.
pub fn text_stream<'py>(py: Python<'py>, raw: &Bound<'py, LogStream>) -> PyResult<Bound<'py, PyAny>> {
    // Looked up in the current interpreter each time (not cached process-wide):
    // the function and its globals belong to the interpreter that imported
    // it. Threads lend their last wrapper to their next request, so this runs
    // only when a thread has no spare of its interpreter.
    py.import(pyo3::intern!(py, "_pyrite_wsgi"))?
        .getattr(pyo3::intern!(py, "_text_stream"))?
        .call1((raw,))
}

/// A request's wsgi.errors: an io.TextIOWrapper over a request LogStream.
///
/// Making the wrapper costs more than the rest of a hello-world request's
/// Python work, so each thread keeps the last one and lends it to its next
/// request in the same interpreter, but only when nothing else kept either
/// object or changed the wrapper: an application never sees a stream that
/// served another request. Anything kept stays with its own request.
pub struct RequestErrors {
    interp: crate::interpreters::Id,
    raw: Py<LogStream>,
    text: Py<PyAny>,
    /// The wrapper's encoding and errors objects as made (see as_made).
    made: [Py<PyAny>; 2],
}

thread_local! {
    static SPARE: std::cell::RefCell<Option<RequestErrors>> = const { std::cell::RefCell::new(None) };
}

impl RequestErrors {
    /// wsgi.errors for a request whose context is `life`.
    pub fn new(py: Python<'_>, life: Arc<Life>) -> PyResult<Self> {
        let interp = crate::interpreters::current(py);
        // A spare of another interpreter is dropped (the thread moved on).
        if let Some(spare) = SPARE.with(|s| s.borrow_mut().take()).filter(|s| s.interp == interp) {
            *spare.raw.borrow(py).life.locked() = Some(life);
            return Ok(spare);
        }
        let raw = Py::new(py, LogStream::for_request(life))?;
        let text = text_stream(py, raw.bind(py))?;
        let made = [
            text.getattr(pyo3::intern!(py, "encoding"))?.unbind(),
            text.getattr(pyo3::intern!(py, "errors"))?.unbind(),
        ];
        Ok(RequestErrors {
            interp,
            raw,
            text: text.unbind(),
            made,
        })
    }

    /// The stream the environ holds.
    pub fn stream<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.text.bind(py).clone()
    }

    /// The end of the request: writes out a last partial line, then keeps
    /// the pair as the thread's spare if no one else holds it.
    pub fn finish(self, py: Python<'_>) {
        self.raw.borrow(py).finish();
        // Only this handle holds the wrapper, and only it and the wrapper's
        // .buffer hold the log stream: nothing can write to them any more.
        let count = |o: &Py<PyAny>| crate::ffi::refcount::of(o.bind(py));
        let alone = count(&self.text) == 1 && count(self.raw.as_any()) == 2;
        if !alone || !as_made(self.text.bind(py), &self.made) {
            return;
        }
        self.raw.borrow(py).life.locked().take();
        SPARE.with(|s| *s.borrow_mut() = Some(self));
    }
}

/// Whether the application left the wrapper as text_stream made it
/// (reconfigure() and attributes it set would otherwise reach the next
/// request). `made` holds the encoding and errors objects the wrapper had
/// then: reconfigure() stores new ones, so identity tells (without copying
/// text); a stream set back to the same values is merely not lent again.
/// reconfigure(newline=...) has no attribute to read back; a log stream
/// ends lines at "\n" whatever it is set to.
fn as_made(text: &Bound<'_, PyAny>, made: &[Py<PyAny>; 2]) -> bool {
    let py = text.py();
    let is = |name: &Bound<'_, pyo3::types::PyString>, want: &Bound<'_, PyAny>| text.getattr(name).is_ok_and(|v| v.is(want));
    is(pyo3::intern!(py, "encoding"), made[0].bind(py))
        && is(pyo3::intern!(py, "errors"), made[1].bind(py))
        && is(pyo3::intern!(py, "write_through"), pyo3::types::PyBool::new(py, true).as_any())
        && is(pyo3::intern!(py, "line_buffering"), pyo3::types::PyBool::new(py, false).as_any())
        && text.getattr(pyo3::intern!(py, "__dict__")).ok().and_then(|d| d.len().ok()) == Some(0)
}
