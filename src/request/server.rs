//! `req.server`: the (virtual) server handling a request. server_recs live as
//! long as the configuration, which in a child is its whole life.
use super::convert;
use super::table::Table;
use crate::config;
use crate::ffi::{log, raw};
use crate::sync::LockExt;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

// No module: type(req.server) prints as <class 'mp_server'>, as in mod_python.
#[pyclass(name = "mp_server")]
pub struct Server {
    s: *mut raw::server_rec,
}

// SAFETY: server_recs are read-only after configuration and outlive every
// Python object in the child.
unsafe impl Send for Server {}
unsafe impl Sync for Server {}

/// Each server's options table, made on first use (server_recs never move in a child).
static SERVER_OPTIONS: std::sync::Mutex<Vec<(usize, Py<Table>)>> = std::sync::Mutex::new(Vec::new());

impl Server {
    pub fn new(s: *mut raw::server_rec) -> Self {
        Server { s }
    }
    pub fn ptr(&self) -> *mut raw::server_rec {
        self.s
    }
}

/// ServerAlias names as a tuple, as mod_python gives them.
fn names<'py>(py: Python<'py>, arr: *mut raw::apr_array_header_t) -> PyResult<Bound<'py, PyTuple>> {
    let list = PyList::empty(py);
    if arr.is_null() {
        return Ok(list.to_tuple());
    }
    // SAFETY: an apr array of C strings from the configuration.
    unsafe {
        let elts = (*arr).elts as *const *const std::ffi::c_char;
        for i in 0..(*arr).nelts.max(0) as usize {
            list.append(convert::opt_text(py, *elts.add(i)))?;
        }
    }
    Ok(list.to_tuple())
}

#[pymethods]
impl Server {
    #[getter]
    fn server_hostname<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        unsafe { convert::opt_text(py, (*self.s).server_hostname) }
    }
    #[getter]
    fn server_admin<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        unsafe { convert::opt_text(py, (*self.s).server_admin) }
    }
    #[getter]
    fn defn_name<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        unsafe { convert::opt_text(py, (*self.s).defn_name) }
    }
    #[getter]
    fn defn_line_number(&self) -> u32 {
        unsafe { (*self.s).defn_line_number }
    }
    #[getter]
    fn error_fname<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        unsafe { convert::opt_text(py, (*self.s).error_fname) }
    }
    #[getter]
    fn port(&self) -> u16 {
        unsafe { (*self.s).port }
    }
    #[getter]
    fn is_virtual(&self) -> i32 {
        unsafe { (*self.s).is_virtual as i32 }
    }
    #[getter]
    fn names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        names(py, unsafe { (*self.s).names })
    }
    #[getter]
    fn wild_names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        names(py, unsafe { (*self.s).wild_names })
    }
    /// ServerPath: the path prefix that selects this name-based virtual host.
    #[getter]
    fn path<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        // SAFETY: server_recs outlive every Python object in the child.
        unsafe { convert::opt_text(py, (*self.s).path) }
    }
    #[getter]
    fn pathlen(&self) -> i32 {
        // SAFETY: as above.
        unsafe { (*self.s).pathlen }
    }
    /// httpd's Timeout, in seconds.
    #[getter]
    fn timeout(&self) -> f64 {
        unsafe { (*self.s).timeout as f64 / 1e6 }
    }
    #[getter]
    fn keep_alive_timeout(&self) -> f64 {
        unsafe { (*self.s).keep_alive_timeout as f64 / 1e6 }
    }
    #[getter]
    fn keep_alive_max(&self) -> i32 {
        unsafe { (*self.s).keep_alive_max }
    }
    #[getter]
    fn keep_alive(&self) -> i32 {
        unsafe { (*self.s).keep_alive }
    }
    #[getter]
    fn limit_req_line(&self) -> i32 {
        unsafe { (*self.s).limit_req_line }
    }
    #[getter]
    fn limit_req_fieldsize(&self) -> i32 {
        unsafe { (*self.s).limit_req_fieldsize }
    }
    #[getter]
    fn limit_req_fields(&self) -> i32 {
        unsafe { (*self.s).limit_req_fields }
    }
    /// The configuration generation (it grows with each graceful restart).
    #[getter]
    fn my_generation(&self) -> i32 {
        crate::ffi::mpm::query(raw::AP_MPMQ_GENERATION)
    }

    /// When httpd last (re)started, in seconds since the epoch.
    #[getter]
    fn restart_time(&self) -> f64 {
        // SAFETY: the scoreboard exists in every child; global is set up by the MPM.
        unsafe {
            let sb = raw::ap_scoreboard_image;
            if sb.is_null() || (*sb).global.is_null() {
                return 0.0;
            }
            (*(*sb).global).restart_time as f64 / 1e6
        }
    }

    #[getter]
    fn loglevel(&self) -> i32 {
        unsafe { (*self.s).log.level }
    }

    /// The server-level PythonOption values, as a table. As in mod_python it
    /// is the same table for the child's whole life: what a PythonImport
    /// function stores there, handlers of that child find.
    fn get_options(&self, py: Python<'_>) -> PyResult<Py<Table>> {
        let key = self.s as usize;
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
        // SAFETY: server_recs and their configuration live as long as the child.
        let opts = unsafe { config::server_dir_config(self.s) }
            .map(|c| c.options())
            .unwrap_or_default();
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
        let pairs = unsafe { config::server_dir_config(self.s) }
            .map(super::request::config_pairs)
            .unwrap_or_default();
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
        log::serror(self.s, (level & 0xf) as u32, &message.str()?.to_cow()?);
        Ok(())
    }
}
