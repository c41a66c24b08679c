//! `req.server`: the (virtual) server handling a request. server_recs live as
//! long as the configuration, which in a child is its whole life.
use super::convert;
use super::table::Table;
use crate::config;
use crate::ffi::server::{KeptServer, Server as FfiServer};
use crate::ffi::{log, raw};
use crate::sync::LockExt;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

// No module: type(req.server) prints as <class 'mp_server'>, as in mod_python.
#[pyclass(name = "mp_server")]
pub struct Server {
    s: Option<KeptServer>,
}

/// Each server's options table, made on first use (server_recs never move in a child).
static SERVER_OPTIONS: std::sync::Mutex<Vec<(usize, Py<Table>)>> = std::sync::Mutex::new(Vec::new());

impl Server {
    /// `req.server`, `conn.base_server`: a view of `s`.
    pub fn of(s: &FfiServer) -> Self {
        Server {
            s: Some(KeptServer::of(s)),
        }
    }
    /// The server record (None for an object made without one).
    pub fn handle(&self) -> Option<&FfiServer> {
        self.s.as_ref().map(KeptServer::get)
    }
    fn s(&self) -> PyResult<&FfiServer> {
        self.s
            .as_ref()
            .map(KeptServer::get)
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("no server record"))
    }
    /// mod_pyrite's configuration at the server's top level.
    fn dir_config(&self) -> Option<&config::DirConfig> {
        super::configs::server_dir(self.s.as_ref()?.get())
    }
}

/// ServerAlias names as a tuple, as mod_python gives them.
fn names<'py>(py: Python<'py>, names: Vec<&[u8]>) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, names.into_iter().map(|n| convert::text(py, n)))
}

#[pymethods]
impl Server {
    #[getter]
    fn server_hostname<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.s()?.hostname()))
    }
    #[getter]
    fn server_admin<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.s()?.admin()))
    }
    #[getter]
    fn defn_name<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.s()?.defn_name()))
    }
    #[getter]
    fn defn_line_number(&self) -> PyResult<u32> {
        Ok(self.s()?.rec().defn_line_number)
    }
    #[getter]
    fn error_fname<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.s()?.error_fname()))
    }
    #[getter]
    fn port(&self) -> PyResult<u16> {
        Ok(self.s()?.rec().port)
    }
    #[getter]
    fn is_virtual(&self) -> PyResult<i32> {
        Ok(self.s()?.rec().is_virtual as i32)
    }
    #[getter]
    fn names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        names(py, self.s()?.names())
    }
    #[getter]
    fn wild_names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        names(py, self.s()?.wild_names())
    }
    /// ServerPath: the path prefix that selects this name-based virtual host.
    #[getter]
    fn path<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(convert::opt_bytes_text(py, self.s()?.path()))
    }
    #[getter]
    fn pathlen(&self) -> PyResult<i32> {
        Ok(self.s()?.rec().pathlen)
    }
    /// httpd's Timeout, in seconds.
    #[getter]
    fn timeout(&self) -> PyResult<f64> {
        Ok(self.s()?.rec().timeout as f64 / 1e6)
    }
    #[getter]
    fn keep_alive_timeout(&self) -> PyResult<f64> {
        Ok(self.s()?.rec().keep_alive_timeout as f64 / 1e6)
    }
    #[getter]
    fn keep_alive_max(&self) -> PyResult<i32> {
        Ok(self.s()?.rec().keep_alive_max)
    }
    #[getter]
    fn keep_alive(&self) -> PyResult<i32> {
        Ok(self.s()?.rec().keep_alive)
    }
    #[getter]
    fn limit_req_line(&self) -> PyResult<i32> {
        Ok(self.s()?.rec().limit_req_line)
    }
    #[getter]
    fn limit_req_fieldsize(&self) -> PyResult<i32> {
        Ok(self.s()?.rec().limit_req_fieldsize)
    }
    #[getter]
    fn limit_req_fields(&self) -> PyResult<i32> {
        Ok(self.s()?.rec().limit_req_fields)
    }
    /// The configuration generation (it grows with each graceful restart).
    #[getter]
    fn my_generation(&self) -> i32 {
        crate::ffi::mpm::query(raw::AP_MPMQ_GENERATION)
    }

    /// When httpd last (re)started, in seconds since the epoch.
    #[getter]
    fn restart_time(&self) -> f64 {
        crate::ffi::mpm::restart_time()
    }

    #[getter]
    fn loglevel(&self) -> PyResult<i32> {
        Ok(self.s()?.rec().log.level)
    }

    /// The server-level PythonOption values, as a table. As in mod_python it
    /// is the same table for the child's whole life: what a PythonImport
    /// function stores there, handlers of that child find.
    fn get_options(&self, py: Python<'_>) -> PyResult<Py<Table>> {
        // The record's address, as a key only.
        let key = self.handle().map_or(0, |s| s.as_ptr() as usize);
        let known = |py| {
            SERVER_OPTIONS
                .locked()
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, t)| t.clone_ref(py))
        };
        if let Some(t) = known(py) {
            return Ok(t);
        }
        // Built outside the lock: making Python objects may run arbitrary Python code.
        let opts = self.dir_config().map(|c| c.options()).unwrap_or_default();
        let table = Py::new(py, Table::from_pairs(opts)?)?;
        let mut tables = SERVER_OPTIONS.locked();
        if let Some((_, t)) = tables.iter().find(|(k, _)| *k == key) {
            return Ok(t.clone_ref(py));
        }
        tables.push((key, table.clone_ref(py)));
        Ok(table)
    }

    /// The server-level Python* directives, as a table.
    fn get_config(&self) -> PyResult<Table> {
        let pairs = self.dir_config().map(super::request::config_pairs).unwrap_or_default();
        Table::from_pairs(pairs)
    }

    /// mod_python's server.register_cleanup(req, callable[, data]): runs when the child exits.
    #[pyo3(signature = (req, callable, data=None))]
    fn register_cleanup(&self, py: Python<'_>, req: &Bound<'_, PyAny>, callable: Py<PyAny>, data: Option<Py<PyAny>>) -> PyResult<()> {
        let _ = req;
        super::pool::register_cleanup(py, callable, data)
    }

    #[pyo3(signature = (message, level=log::APLOG_ERR as i32))]
    fn log_error(&self, message: &Bound<'_, PyAny>, level: i32) -> PyResult<()> {
        self.s()?.log((level & 0xf) as u32, &message.str()?.to_cow()?);
        Ok(())
    }
}
