//! The `atexit` functions of every interpreter of a process, run when it
//! ends (WSGIDestroyInterpreter, default On).
use crate::ffi::server::Server;
use crate::interp::log_server_py_error;
use pyo3::prelude::*;

/// WSGIDestroyInterpreter (default On): the `atexit` functions run when the process ends.
pub static RUN_ATEXIT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs the functions registered with `atexit` in every interpreter of this
/// process, the main one first (a daemon, as it exits; httpd's children run
/// the main interpreter's from their pool's cleanup). Errors are logged.
pub fn run_exit_functions() {
    if !RUN_ATEXIT.load(std::sync::atomic::Ordering::Relaxed) || !crate::ffi::pystart::is_initialized() {
        return;
    }
    let ids: Vec<crate::interpreters::Id> = std::iter::once(crate::interpreters::MAIN)
        .chain(crate::interpreters::ids())
        .collect();
    for id in ids {
        Python::attach(|py| {
            crate::interpreters::enter(py, id, || {
                if let Err(e) = py.import("atexit").and_then(|m| m.call_method0("_run_exitfuncs")) {
                    log_server_py_error(py, Server::main(), "mod_pyrite: atexit functions failed at exit", &e);
                }
            })
        });
    }
}
