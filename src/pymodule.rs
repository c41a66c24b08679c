//! `_apache`: the built-in module mod_python's Python code is written against
//! (mod_python.apache imports it), registered before Python starts.
use crate::ffi::log;
use crate::request::server_return::SERVER_RETURN;
use crate::request::{connection::Connection, request::Request, server::Server, table::Table};
use pyo3::prelude::*;

/// Writes a message to httpd's error log (a server's, when given).
#[pyfunction]
#[pyo3(signature = (message, level=log::APLOG_ERR as i32, server=None))]
fn log_error(message: &Bound<'_, PyAny>, level: i32, server: Option<PyRef<'_, Server>>) -> PyResult<()> {
    let text = message.str()?.to_cow()?.into_owned();
    let s = match &server {
        Some(s) => s.handle(),
        None => crate::ffi::server::Server::main(),
    };
    match s {
        Some(s) => s.log((level & 0xf) as u32, &text),
        None => log::main_error((level & 0xf) as u32, &text),
    }
    Ok(())
}

/// httpd's answer to an MPM query (apache.AP_MPMQ_*).
#[pyfunction]
fn mpm_query(code: i32) -> i32 {
    crate::ffi::mpm::query(code as u32)
}

/// httpd's ServerRoot.
#[pyfunction]
fn server_root() -> String {
    crate::ffi::startup::server_root()
}

/// Whether `httpd -D name` was given.
#[pyfunction]
fn exists_config_define(name: &str) -> PyResult<bool> {
    let c = std::ffi::CString::new(name).map_err(|_| pyo3::exceptions::PyValueError::new_err("NUL in name"))?;
    Ok(crate::ffi::startup::defined(&c))
}

/// The parsed configuration as mod_python shows it: a list of
/// (directive, args) and, for sections, (directive, args, [children]).
#[pyfunction]
fn config_tree(py: Python<'_>) -> PyResult<Py<PyAny>> {
    use crate::ffi::conftree::Directive;
    fn walk<'py>(py: Python<'py>, first: Option<&Directive>) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        let out = pyo3::types::PyList::empty(py);
        for d in first.into_iter().flat_map(Directive::siblings) {
            let name = String::from_utf8_lossy(d.name());
            let args = String::from_utf8_lossy(d.args());
            match d.first_child() {
                None => out.append((name, args))?,
                Some(child) => out.append((name, args, walk(py, Some(child))?))?,
            }
        }
        Ok(out)
    }
    Ok(walk(py, Directive::conftree())?.into_any().unbind())
}

/// `apache.stat(fname[, wanted])`: a file's finfo tuple (indexed by FINFO_*), as APR sees it.
#[pyfunction]
#[pyo3(signature = (fname, wanted=0x7fff))]
fn stat<'py>(py: Python<'py>, fname: &str, wanted: i32) -> PyResult<Bound<'py, PyAny>> {
    let c = std::ffi::CString::new(fname).map_err(|_| pyo3::exceptions::PyValueError::new_err("NUL in file name"))?;
    use crate::ffi::finfo::{stat, StatError};
    match stat(&c, wanted, |f| crate::request::request::finfo_tuple(py, f)) {
        Ok(tuple) => tuple,
        Err(StatError::NoPool) => Err(pyo3::exceptions::PyMemoryError::new_err("no pool")),
        Err(StatError::Apr(rv)) => Err(pyo3::exceptions::PyOSError::new_err(format!(
            "could not stat {fname}: APR error {rv}"
        ))),
    }
}

/// The interpreter name mod_python would be running the calling code in:
/// the current request's `req.interpreter`, the interpreter a running
/// PythonImport names, else "main_interpreter" (other code run at child start). mod_python gives each name its own copy of
/// mod_python.apache whose `interpreter` is that name.
#[pyfunction]
fn _current_interpreter(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let req = crate::ffi::current::with_current(|r| {
        r.and_then(crate::request::state::of_request_if_any)
            .and_then(|st| st.borrow().req.as_ref().map(|q| q.clone_ref(py)))
    });
    if let Some(req) = req {
        return Ok(req.bind(py).getattr("interpreter")?.unbind());
    }
    let name = crate::interpreters::importing_for().unwrap_or_else(|| "main_interpreter".to_string());
    Ok(pyo3::types::PyString::new(py, &name).into_any().unbind())
}

/// Panics in Rust: lets the tests show that a panic becomes an exception
/// (and a 500), never a dead child.
#[pyfunction]
fn _panic_for_test() {
    panic!("deliberate panic requested by _apache._panic_for_test()");
}

#[pymodule]
pub fn _apache(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SERVER_RETURN", m.py().get_type::<SERVER_RETURN>())?;
    m.add_function(wrap_pyfunction!(log_error, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(mpm_query, m)?)?;
    m.add_function(wrap_pyfunction!(stat, m)?)?;
    m.add_function(wrap_pyfunction!(crate::request::pool::child_pool, m)?)?;
    m.add_function(wrap_pyfunction!(crate::request::pool::register_cleanup, m)?)?;
    m.add_class::<crate::request::pool::Pool>()?;
    m.add_function(wrap_pyfunction!(crate::locks::_global_lock, m)?)?;
    m.add_function(wrap_pyfunction!(crate::locks::_global_trylock, m)?)?;
    m.add_function(wrap_pyfunction!(crate::locks::_global_unlock, m)?)?;
    m.add_function(wrap_pyfunction!(crate::locks::_global_lock_index, m)?)?;
    m.add_function(wrap_pyfunction!(server_root, m)?)?;
    m.add_function(wrap_pyfunction!(exists_config_define, m)?)?;
    m.add_function(wrap_pyfunction!(config_tree, m)?)?;
    m.add_function(wrap_pyfunction!(_current_interpreter, m)?)?;
    m.add_class::<Table>()?;
    m.add_class::<Request>()?;
    m.add_class::<Connection>()?;
    m.add_class::<Server>()?;
    crate::ffi::pytype::set_plain_name(&m.py().get_type::<Connection>(), c"mp_conn");
    crate::ffi::pytype::set_plain_name(&m.py().get_type::<Server>(), c"mp_server");
    m.add_class::<crate::request::filter::Filter>()?;
    m.add_class::<crate::wsgi::file_wrapper::FileWrapper>()?;
    m.add_class::<crate::wsgi::input::Input>()?;
    m.add_class::<crate::wsgi::logstream::LogStream>()?;
    // Made here, at child start, so no request pays for creating the types.
    m.add_class::<crate::wsgi::response::StartResponse>()?;
    m.add_class::<crate::wsgi::response::Write>()?;
    m.add_function(wrap_pyfunction!(crate::wsgi::wsgi_call, m)?)?;
    crate::psp::python::add_to(m)?;
    m.add("pyrite_version", crate::VERSION)?;
    // The httpd API version this module was built against (mod_python's apache.MODULE_MAGIC_NUMBER_*).
    m.add("MODULE_MAGIC_NUMBER_MAJOR", crate::ffi::raw::MODULE_MAGIC_NUMBER_MAJOR)?;
    m.add("MODULE_MAGIC_NUMBER_MINOR", crate::ffi::raw::MODULE_MAGIC_NUMBER_MINOR)?;
    Ok(())
}
