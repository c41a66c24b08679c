//! Python in an httpd process, once started (src/child starts it): entering
//! it from an httpd thread (the GIL, the gate, a pinned thread state per
//! thread), leaving it around blocking calls, and logging its exceptions.
use crate::ffi::log;
use crate::ffi::server::Server;
use pyo3::prelude::*;
use std::cell::Cell;

thread_local! {
    static PINNED: Cell<bool> = const { Cell::new(false) };
}

/// Gives this httpd thread one Python thread state for its whole life, so
/// entering Python per request reuses it (no create/destroy per request, and
/// `threading.local` survives between requests).
#[inline]
pub fn pin_thread() {
    if PINNED.with(|p| p.get()) {
        return;
    }
    // One made at child start, if any is left (src/thread_states.rs).
    if !crate::thread_states::bind_prepared() {
        crate::ffi::pystart::keep_thread_state();
    }
    PINNED.with(|p| p.set(true));
}

/// Whether Python has been started in this process (false in the parent).
pub fn ready() -> bool {
    crate::ffi::pystart::is_initialized()
}

/// Enters Python on an httpd thread.
#[inline]
pub fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    pin_thread();
    // A filter called from a write made inside Python is already through the gate.
    if crate::gate::holding() {
        return Python::attach(f);
    }
    let asked = crate::metrics::record::python_asked();
    crate::gate::enter();
    WAITING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let r = Python::attach(|py| {
        WAITING.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let entered = crate::metrics::record::python_entered(asked);
        let r = f(py);
        crate::metrics::record::python_left(entered);
        r
    });
    crate::gate::leave();
    r
}

/// Runs a call that may block on httpd or the client (a write, a read) with
/// the GIL released and outside the gate, so other requests go on meanwhile.
#[inline]
pub fn blocking<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> T {
    let t0 = crate::metrics::shm::mono_ns();
    let r = py.detach(|| crate::gate::outside(f));
    crate::metrics::record::python_paused(crate::metrics::shm::mono_ns() - t0);
    r
}

/// httpd threads of this child waiting to enter Python right now.
pub static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether another httpd thread is waiting for the GIL (then blocking work
/// should happen with the GIL released even when it is short).
#[inline]
pub fn contended() -> bool {
    WAITING.load(std::sync::atomic::Ordering::Relaxed) > 0
}

/// Formats a Python exception with its traceback, one string per line.
pub fn traceback_lines(py: Python<'_>, e: &PyErr) -> Vec<String> {
    let formatted = (|| -> PyResult<Vec<String>> {
        let tb = py.import("traceback")?;
        let lines = tb.call_method1("format_exception", (e.get_type(py), e.value(py), e.traceback(py)))?;
        let mut out = Vec::new();
        for chunk in lines.try_iter()? {
            let s: String = chunk?.extract()?;
            out.extend(s.trim_end_matches('\n').split('\n').map(str::to_string));
        }
        Ok(out)
    })();
    formatted.unwrap_or_else(|_| vec![e.to_string()])
}

/// Logs a Python exception for a server (no request), in the main log when
/// None: headline, then the traceback.
pub fn log_server_py_error(py: Python<'_>, s: Option<&Server>, headline: &str, e: &PyErr) {
    let log = |line: &str| match s {
        Some(s) => s.log(log::APLOG_ERR, line),
        None => log::main_error(log::APLOG_ERR, line),
    };
    log(headline);
    for line in traceback_lines(py, e) {
        log(&line);
    }
}
