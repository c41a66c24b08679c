//! wsgi.input: the request body as a binary stream (read, readline,
//! readlines, iteration), reading from httpd with the GIL released.
use crate::request::body::{Body, BodyError};
use crate::request::life::Life;
use crate::sync::LockExt;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::{Arc, Mutex};

#[pyclass(name = "Input", module = "mod_wsgi")]
pub struct Input {
    life: Arc<Life>,
    body: Mutex<Body>,
}

impl Input {
    pub fn new(life: Arc<Life>) -> Self {
        Input {
            life,
            body: Mutex::new(Body::default()),
        }
    }
}

/// Turns httpd's refusal of a body into an OSError the application can see
/// (under WSGI there is no SERVER_RETURN to end the request with).
fn wsgi_err(e: BodyError) -> PyErr {
    match e {
        BodyError::Status(code) => pyo3::exceptions::PyOSError::new_err(format!("request body refused by httpd with status {code}")),
        BodyError::Io(e) => e,
    }
}

fn size_arg(size: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    match size {
        None => Ok(-1),
        Some(s) if s.is_none() => Ok(-1),
        Some(s) => s.extract::<i64>(),
    }
}

impl Input {
    /// Sets up the body reading now; Err(status) when httpd refuses the body.
    pub fn prepare(&self) -> Result<(), i32> {
        let Ok(r) = self.life.request() else { return Ok(()) };
        match self.body.locked().ensure_setup(r) {
            Err(BodyError::Status(code)) => Err(code),
            _ => Ok(()),
        }
    }
}

#[pymethods]
impl Input {
    /// Up to `size` bytes (everything left by default); b'' at the end, at once.
    #[pyo3(signature = (size=None))]
    fn read<'py>(&self, py: Python<'py>, size: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyBytes>> {
        let r = self.life.request()?;
        let n = size_arg(size)?;
        let data = self.body.locked().read(py, r, n).map_err(wsgi_err)?;
        Ok(PyBytes::new(py, &data))
    }

    #[pyo3(signature = (size=None))]
    fn readline<'py>(&self, py: Python<'py>, size: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyBytes>> {
        let r = self.life.request()?;
        let n = size_arg(size)?;
        let data = self.body.locked().readline(py, r, n).map_err(wsgi_err)?;
        Ok(PyBytes::new(py, &data))
    }

    #[pyo3(signature = (hint=None))]
    fn readlines<'py>(&self, py: Python<'py>, hint: Option<&Bound<'py, PyAny>>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let r = self.life.request()?;
        let hint = size_arg(hint)?;
        let lines = self.body.locked().readlines(py, r, hint).map_err(wsgi_err)?;
        Ok(lines.iter().map(|l| PyBytes::new(py, l)).collect())
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.readline(py, None)?;
        Ok(if line.as_bytes().is_empty() { None } else { Some(line) })
    }

    fn close(&self) {}
}
