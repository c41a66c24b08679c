//! A flush that waits for the handler's next step.
//!
//! mod_python's `req.write` flushes by default. A handler that writes its page
//! and returns then pays for two network writes (the flushed part, then the
//! end of a chunked body) and a GIL hand-off around the first, and the flush
//! bought the client nothing: the response was finished a moment later anyway.
//!
//! So on the thread serving the request a flushing write is held: its data
//! waits in the request's buffer and a profile hook (PyEval_SetProfile, this
//! thread only) carries the flush out before the handler's next function call
//! of any kind, Python or built-in (anything that could take time: a query, a
//! sleep, a read, another write). Changing the response head (status, content
//! type, a header table) carries it out first too, as a real flush would have
//! fixed the head. If instead the handler returns OK or DONE, the data leaves
//! with the end of the response in one write, with a Content-Length. An error,
//! another handler of the phase or any phase but the content handler carries
//! the flush out first (see handlers::run_phase). What the client receives is
//! what an immediate flush gives, in fewer packets.
//!
//! The one thing the hook cannot see is a stretch of pure computation with no
//! function call at all (a bare integer loop): held data waits for its end.
//! Nothing is held while a profiler (sys.setprofile, cProfile) runs on the
//! thread, for writes from threads other than the request's own, nor when
//! the output passes through Python code (a Python output filter, a `#python`
//! SSI element), whose effects the handler could see.
use super::request::Request;
use crate::ffi::pyprofile;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::cell::RefCell;

thread_local! {
    /// The request whose flush is held on this thread (the profile hook is set while there is one).
    static HELD: RefCell<Option<Py<Request>>> = const { RefCell::new(None) };
    /// The thread state the hook was set on: a handler in a sub-interpreter
    /// sets it on that interpreter's state, and disarm may run after the
    /// thread has swapped back (src/interpreters).
    static HOOKED: std::cell::Cell<Option<pyprofile::Hooked>> = const { std::cell::Cell::new(None) };
}

/// Holds back the flush of a write to `req` (serving `r`); false when it must happen now.
pub fn hold(py: Python<'_>, req: &Bound<'_, Request>, r: &crate::ffi::request::Request) -> bool {
    if HELD.with(|h| h.borrow().is_some()) {
        return true;
    }
    let Ok(handle) = req.get().life.request() else {
        return false;
    };
    if !crate::ffi::current::is(r) || !std::ptr::eq(handle, r) || super::filter_chain::python_in_output_chain(handle) || profiler_set(py) {
        return false;
    }
    let hooked = pyprofile::set::<CarryOut>(py);
    HOOKED.with(|t| t.set(Some(hooked)));
    HELD.with(|h| *h.borrow_mut() = Some(req.clone().unbind()));
    true
}

/// Removes the hook; returns the request whose flush was held (its data stays in its output).
pub fn disarm(py: Python<'_>) -> Option<Py<Request>> {
    let held = HELD.with(|h| h.borrow_mut().take());
    if held.is_some() {
        pyprofile::clear(py, HOOKED.with(|t| t.take()));
    }
    held
}

/// Carries out the held flush now, if there is one.
pub fn carry_out(py: Python<'_>) {
    if let Some(req) = disarm(py) {
        req.get().carry_out_held_flush(py);
    }
}

/// Whether someone else's profiler is set on this thread (then nothing is held).
fn profiler_set(py: Python<'_>) -> bool {
    static GETPROFILE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GETPROFILE
        .get_or_try_init(py, || py.import("sys")?.getattr("getprofile").map(Bound::unbind))
        .and_then(|f| f.call0(py))
        .map(|p| !p.is_none(py))
        .unwrap_or(true)
}

/// The profile hook: on the first call of anything, the held flush goes out.
struct CarryOut;

impl pyprofile::OnCall for CarryOut {
    fn on_call(py: Python<'_>, call: pyprofile::Call<'_>) {
        if let pyprofile::Call::Builtin { bound_to, name } = call {
            if more_output(bound_to, name) {
                return;
            }
        }
        carry_out(py);
    }
}

/// Whether a built-in call is the held request's own write or flush: the
/// held data can wait for what that call adds (several writes in a row, then
/// a return, still leave in one piece).
fn more_output(bound_to: usize, name: &[u8]) -> bool {
    let held = HELD.with(|h| h.borrow().as_ref().map(|r| r.as_ptr() as usize));
    held == Some(bound_to) && matches!(name, b"write" | b"flush")
}

/// A change to the response head is coming: a held flush goes out first.
#[inline]
pub fn before_head_change(py: Python<'_>) {
    if HELD.with(|h| h.borrow().is_some()) {
        carry_out(py);
    }
}
