//! Making a sub-interpreter ready for handlers: CPython's Py_NewInterpreter,
//! then the built-in modules of this module and the embedded mod_python
//! package, as the main interpreter has them.
//!
//! `_apache` and `pyrite` are PyO3 modules, which refuse to be initialised in
//! a second interpreter (PyO3 keeps their state in process statics). Each
//! sub-interpreter gets instead a fresh module object of the same name whose
//! attributes are the main interpreter's functions, classes and exception
//! type: the same objects, shared under the one GIL (docs/interpreters.md).
use crate::ffi::subinterp::{self, Interpreter, ThreadState};
use crate::sync::LockExt;
use pyo3::prelude::*;
use pyo3::types::PyModule;
use std::sync::{Mutex, OnceLock};

/// The main interpreter's `_apache` and `pyrite` modules (set at child start).
static SHARED: Mutex<Vec<(&'static str, Py<PyModule>)>> = Mutex::new(Vec::new());

/// The process environment when the child started, before any application
/// code: what each new interpreter's `os.environ` starts from.
static ENVIRONMENT: Mutex<Vec<(Vec<u8>, Vec<u8>)>> = Mutex::new(Vec::new());

/// Remembers the main interpreter's built-in modules and the child's
/// environment; call in the main interpreter before any application code.
pub fn remember_shared(py: Python<'_>) -> PyResult<()> {
    use std::os::unix::ffi::OsStrExt;
    *ENVIRONMENT.locked() = std::env::vars_os()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    let mut shared = SHARED.locked();
    shared.clear();
    for name in ["_apache", "pyrite"] {
        shared.push((name, py.import(name)?.unbind()));
    }
    Ok(())
}

/// Makes a sub-interpreter named `name` and sets it up; the calling thread
/// is back in the interpreter it was in when this returns. Returns the new
/// interpreter and the calling thread's state in it.
pub(super) fn new_interpreter(py: Python<'_>, name: &str) -> Result<(Interpreter, ThreadState), String> {
    let shared: Vec<(&'static str, Py<PyModule>)> = SHARED.locked().iter().map(|(n, m)| (*n, m.clone_ref(py))).collect();
    if shared.is_empty() {
        return Err("the main interpreter did not start".into());
    }
    let made = subinterp::new_interpreter(py, || {
        populate(py, name, &shared).map_err(|e| {
            let lines = crate::interp::traceback_lines(py, &e);
            lines.join("\n")
        })
    });
    let Some((state, t, outcome)) = made else {
        return Err("Py_NewInterpreter failed".into());
    };
    // Even when setting up failed the interpreter stays: it is never
    // ended while the process lives (objects may already cross), and
    // handlers then fail with the import error in the log.
    if let Err(msg) = outcome {
        crate::ffi::log::main_error(
            crate::ffi::log::APLOG_ERR,
            &format!("mod_pyrite: setting up interpreter '{name}' failed: {msg}"),
        );
    }
    Ok((state, t))
}

/// What fills an interpreter as child start filled the main one (sys.argv,
/// the embedded package, log streams, site directories): src/child sets it
/// as it starts Python, since it names modules above this one.
pub static BOOT: OnceLock<fn(Python<'_>) -> PyResult<()>> = OnceLock::new();

/// Fills the new (current) interpreter as init_child fills the main one.
fn populate(py: Python<'_>, name: &str, shared: &[(&'static str, Py<PyModule>)]) -> PyResult<()> {
    let modules = py.import("sys")?.getattr("modules")?;
    for (mname, main_module) in shared {
        let m = PyModule::new(py, mname)?;
        for (k, v) in main_module.bind(py).dict().iter() {
            let key: String = k.extract()?;
            if matches!(key.as_str(), "__name__" | "__spec__" | "__loader__" | "__package__") {
                continue;
            }
            m.setattr(key.as_str(), v)?;
        }
        modules.set_item(*mname, m)?;
    }
    // os.environ is made from the process environment, where another
    // interpreter's os.environ changes (putenv) have landed by now: start
    // from the child's environment as it was before any application ran.
    // Only this interpreter's mapping changes (its private dict), not the
    // process environment.
    let data = py.import("os")?.getattr("environ")?.getattr("_data")?;
    data.call_method0("clear")?;
    for (k, v) in ENVIRONMENT.locked().iter() {
        data.set_item(pyo3::types::PyBytes::new(py, k), pyo3::types::PyBytes::new(py, v))?;
    }
    let boot = BOOT
        .get()
        .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("an interpreter is made before child start set it up"))?;
    boot(py)?;
    py.import("mod_python.apache")?.setattr("interpreter", name)?;
    // Under mod_wsgi this is the interpreter's application group.
    py.import("_pyrite_wsgi")?.setattr("application_group", name)?;
    Ok(())
}
