//! A Python text stream that writes lines to httpd's error log: wsgi.errors
//! (in the request's context) and sys.stdout/sys.stderr (server context).
use crate::ffi::log;
use crate::request::life::Life;
use crate::sync::LockExt;
use pyo3::exceptions::PyOSError as OSError;
use pyo3::prelude::*;
use std::sync::{Arc, Mutex};

#[pyclass(name = "Log", module = "_apache")]
pub struct LogStream {
    life: Option<Arc<Life>>,
    level: u32,
    pending: Mutex<String>,
}

impl LogStream {
    pub fn for_request(life: Arc<Life>) -> Self {
        LogStream {
            life: Some(life),
            level: log::APLOG_ERR,
            pending: Mutex::new(String::new()),
        }
    }

    pub fn for_server(level: u32) -> Self {
        LogStream {
            life: None,
            level,
            pending: Mutex::new(String::new()),
        }
    }

    fn emit(&self, line: &str) {
        // A request's lines carry its context while it lives; afterwards (or
        // from another thread) they go to the server's log.
        if let Some(r) = self.life.as_ref().and_then(|l| l.get().ok()) {
            log::rerror(r, self.level, line);
        } else {
            log::main_error(self.level, line);
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
        let s: String = if let Ok(s) = text.extract::<String>() {
            s
        } else if let Ok(b) = text.extract::<Vec<u8>>() {
            String::from_utf8_lossy(&b).into_owned()
        } else {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "write() argument must be str, not {}",
                text.get_type().name()?
            )));
        };
        let n = s.chars().count();
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

    #[getter]
    fn closed(&self) -> bool {
        false
    }

    #[getter]
    fn encoding(&self) -> &'static str {
        "utf-8"
    }
}

/// What sys.stdout becomes under WSGIRestrictStdout On: any use raises.
#[pyclass(name = "RestrictedStdout", module = "_apache")]
pub struct Restricted;

#[pymethods]
impl Restricted {
    fn write(&self, _text: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyErr::new::<OSError, _>(
            "sys.stdout access restricted by mod_pyrite (WSGIRestrictStdout On): write to sys.stderr or wsgi.errors",
        ))
    }
    fn flush(&self) {}
    fn isatty(&self) -> bool {
        false
    }
}

/// Points sys.stdout and sys.stderr at httpd's error log (an httpd child has
/// no terminal: output would otherwise be lost).
pub fn install_std_streams(py: Python<'_>, restrict_stdout: bool) -> PyResult<()> {
    let sys = py.import("sys")?;
    if restrict_stdout {
        sys.setattr("stdout", Py::new(py, Restricted)?)?;
    } else {
        sys.setattr("stdout", Py::new(py, LogStream::for_server(log::APLOG_ERR))?)?;
    }
    sys.setattr("stderr", Py::new(py, LogStream::for_server(log::APLOG_ERR))?)?;
    Ok(())
}
