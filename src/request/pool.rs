//! APR pools as Python objects: `req.pool`, `req.connection.pool` and the
//! child's pool (`apache.child_pool()`). Each has `register_cleanup(callable,
//! data=None)`, run when httpd clears the pool (exceptions logged, never
//! raised into httpd), and mapping access to values that live exactly as long
//! as the pool (per-connection state across keep-alive requests, per-child
//! state). One Python object per pool, kept in the pool's userdata.
use crate::ffi;
use crate::sync::LockExt;
use pyo3::exceptions::{PyKeyError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

const KEY: &std::ffi::CStr = c"mod_pyrite/pool-object";

#[pyclass(name = "mp_pool", module = "_apache", frozen, mapping)]
pub struct Pool {
    alive: AtomicBool,
    values: Mutex<Option<Py<PyDict>>>,
    cleanups: Mutex<Vec<Cleanup>>,
}

/// A registered cleanup: `callable(data)`, run in the interpreter it was registered from.
pub type Cleanup = (Py<PyAny>, Option<Py<PyAny>>, crate::interpreters::Id);

/// The Python object kept in a pool; clearing the pool runs its cleanups.
struct Kept(Py<Pool>);

impl Drop for Kept {
    fn drop(&mut self) {
        if crate::interp::ready() {
            crate::interp::with_python(|py| self.0.get().clear(py));
        }
    }
}

/// The Python object of `pool`, made on first use.
pub fn of_pool(py: Python<'_>, pool: &ffi::pool::Pool) -> PyResult<Py<Pool>> {
    if let Some(kept) = pool.kept::<Kept>(KEY) {
        return Ok(kept.0.clone_ref(py));
    }
    let obj = Py::new(
        py,
        Pool {
            alive: AtomicBool::new(true),
            values: Mutex::new(Some(PyDict::new(py).unbind())),
            cleanups: Mutex::new(Vec::new()),
        },
    )?;
    pool.keep(KEY, Kept(obj.clone_ref(py)));
    Ok(obj)
}

/// Calls each `callable(data)` (or `callable()`), logging what raises: the
/// cleanups of pools and of requests never raise into httpd.
pub fn run_callables(py: Python<'_>, list: impl IntoIterator<Item = Cleanup>, what: &str) {
    for (f, data, interp) in list {
        crate::interpreters::enter(py, interp, || {
            let res = match data {
                Some(d) => f.bind(py).call1((d,)),
                None => f.bind(py).call0(),
            };
            if let Err(e) = res {
                crate::interp::log_server_py_error(py, crate::ffi::server::Server::main(), what, &e);
            }
        });
    }
}

impl Pool {
    /// Runs the cleanups (newest first, as APR does) and forgets the values.
    fn clear(&self, py: Python<'_>) {
        self.alive.store(false, Ordering::Release);
        let list = std::mem::take(&mut *self.cleanups.locked());
        run_callables(py, list.into_iter().rev(), "mod_pyrite: a pool cleanup raised");
        drop(self.values.locked().take());
    }

    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        match &*self.values.locked() {
            Some(d) if self.alive.load(Ordering::Acquire) => Ok(d.bind(py).clone()),
            _ => Err(PyRuntimeError::new_err("this pool has been cleared")),
        }
    }
}

#[pymethods]
impl Pool {
    /// Calls `callable(data)` (or `callable()`) when httpd clears the pool.
    #[pyo3(signature = (callable, data=None))]
    fn register_cleanup(&self, py: Python<'_>, callable: Py<PyAny>, data: Option<Py<PyAny>>) -> PyResult<()> {
        if !self.alive.load(Ordering::Acquire) {
            return Err(PyRuntimeError::new_err("this pool has been cleared"));
        }
        self.cleanups.locked().push((callable, data, crate::interpreters::current(py)));
        Ok(())
    }

    fn __getitem__<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.values(py)?
            .get_item(key)?
            .ok_or_else(|| PyKeyError::new_err(key.clone().unbind()))
    }

    fn __setitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.values(py)?.set_item(key, value)
    }

    fn __delitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        self.values(py)?.del_item(key)
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.values(py)?.contains(key)
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.values(py)?.len())
    }

    #[pyo3(signature = (key, default=None))]
    fn get<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>, default: Option<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self
            .values(py)?
            .get_item(key)?
            .or(default)
            .unwrap_or_else(|| py.None().into_bound(py)))
    }

    #[pyo3(signature = (key, default=None))]
    fn setdefault<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>, default: Option<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let d = self.values(py)?;
        if let Some(v) = d.get_item(key)? {
            return Ok(v);
        }
        let v = default.unwrap_or_else(|| py.None().into_bound(py));
        d.set_item(key, &v)?;
        Ok(v)
    }
}

/// `apache.child_pool()`: the pool that lives as long as this child.
#[pyfunction]
pub fn child_pool(py: Python<'_>) -> PyResult<Py<Pool>> {
    match ffi::pool::Pool::child() {
        Some(p) => of_pool(py, p),
        None => Err(PyRuntimeError::new_err("no child pool in this process")),
    }
}

/// `apache.register_cleanup(callable, data=None)`: runs when the child exits.
#[pyfunction]
#[pyo3(signature = (callable, data=None))]
pub fn register_cleanup(py: Python<'_>, callable: Py<PyAny>, data: Option<Py<PyAny>>) -> PyResult<()> {
    child_pool(py)?.get().register_cleanup(py, callable, data)
}
