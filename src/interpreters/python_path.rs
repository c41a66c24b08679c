//! PythonPath: the expression evaluated once per interpreter and text, or
//! the handler's directory put first on sys.path.
use crate::config::{DirConfig, PathSetting};
use crate::sync::LockExt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// PythonPath expressions already applied, per interpreter (each has its sys.path).
static PATHS_APPLIED: Mutex<Option<std::collections::HashMap<crate::interpreters::Id, HashSet<String>>>> = Mutex::new(None);

thread_local! {
    /// The setting this thread last found applied, and where: a request
    /// usually names the same one again, and this answers it without the lock
    /// or hashing the text. Holding the Arc keeps its address from being
    /// reused by another setting (an .htaccess one lives per request).
    static LAST_APPLIED: RefCell<Option<(crate::interpreters::Id, Arc<PathSetting>)>> = const { RefCell::new(None) };
}

/// mod_python's sys.path rule: a PythonPath expression is evaluated once per
/// child per distinct text and replaces sys.path; without one, the directory
/// of the <Directory> that declared the handler is put first.
pub fn apply_python_path(py: Python<'_>, conf: &DirConfig, directory: Option<&str>) -> PyResult<()> {
    if let Some(p) = &conf.python_path {
        let interp = crate::interpreters::current(py);
        let seen = |l: &RefCell<Option<(crate::interpreters::Id, Arc<PathSetting>)>>| {
            l.borrow().as_ref().is_some_and(|(i, a)| *i == interp && Arc::ptr_eq(a, p))
        };
        if LAST_APPLIED.with(seen) {
            return Ok(());
        }
        let remember = || LAST_APPLIED.with(|l| *l.borrow_mut() = Some((interp, p.clone())));
        {
            let guard = PATHS_APPLIED.locked();
            if guard.as_ref().and_then(|m| m.get(&interp)).is_some_and(|s| s.contains(&p.expr)) {
                drop(guard);
                remember();
                return Ok(());
            }
        }
        let globals = PyDict::new(py);
        globals.set_item("sys", py.import("sys")?)?;
        globals.set_item("os", py.import("os")?)?;
        let code = std::ffi::CString::new(p.expr.as_str()).map_err(|_| pyo3::exceptions::PyValueError::new_err("NUL in PythonPath"))?;
        let value = py.eval(&code, Some(&globals), None).map_err(|e| {
            let msg = format!("PythonPath {:?} ({}) could not be evaluated: {}", p.expr, p.origin, e);
            pyo3::exceptions::PyRuntimeError::new_err(msg)
        })?;
        let list = PyList::new(py, value.try_iter()?.collect::<PyResult<Vec<_>>>()?)?;
        py.import("sys")?.setattr("path", list)?;
        PATHS_APPLIED
            .locked()
            .get_or_insert_with(Default::default)
            .entry(interp)
            .or_default()
            .insert(p.expr.clone());
        remember();
    } else if let Some(dir) = directory {
        let path = py.import("sys")?.getattr("path")?;
        if !path.contains(dir)? {
            path.call_method1("insert", (0, dir))?;
        }
    }
    Ok(())
}
