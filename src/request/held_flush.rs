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
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::cell::RefCell;
use std::os::raw::c_int;

thread_local! {
    /// The request whose flush is held on this thread (the profile hook is set while there is one).
    static HELD: RefCell<Option<Py<Request>>> = const { RefCell::new(None) };
    /// The thread state the hook was set on: a handler in a sub-interpreter
    /// sets it on that interpreter's state, and disarm may run after the
    /// thread has swapped back (src/interpreters).
    static HOOKED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Holds back the flush of a write to `req` (serving `r`); false when it must happen now.
pub fn hold(py: Python<'_>, req: &Bound<'_, Request>, r: &crate::ffi::request::Request) -> bool {
    if HELD.with(|h| h.borrow().is_some()) {
        return true;
    }
    let Ok(handle) = req.get().life.request() else {
        return false;
    };
    if crate::locks::CURRENT_REQUEST.with(|c| c.get()) != r.as_ptr()
        || !std::ptr::eq(handle, r)
        || crate::filters::python_in_output_chain(handle)
        || profiler_set(py)
    {
        return false;
    }
    // SAFETY: the GIL is held (py); the hook needs no object of its own.
    unsafe { ffi::PyEval_SetProfile(Some(on_event), std::ptr::null_mut()) };
    // SAFETY: the GIL is held, so there is a current thread state.
    HOOKED.with(|t| t.set(unsafe { ffi::PyThreadState_Get() } as usize));
    HELD.with(|h| *h.borrow_mut() = Some(req.clone().unbind()));
    true
}

/// Removes the hook; returns the request whose flush was held (its data stays in its output).
pub fn disarm(_py: Python<'_>) -> Option<Py<Request>> {
    let held = HELD.with(|h| h.borrow_mut().take());
    if held.is_some() {
        let hooked = HOOKED.with(|t| t.replace(0)) as *mut ffi::PyThreadState;
        // SAFETY: the GIL is held; this only clears this thread's profile
        // hook, on the state it was set on (this thread's, swapped in for
        // the call and back).
        unsafe {
            let now = ffi::PyThreadState_Get();
            if hooked.is_null() || hooked == now {
                ffi::PyEval_SetProfile(None, std::ptr::null_mut());
            } else {
                ffi::PyThreadState_Swap(hooked);
                ffi::PyEval_SetProfile(None, std::ptr::null_mut());
                ffi::PyThreadState_Swap(now);
            }
        }
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
///
/// # Safety
/// Called by CPython with the GIL held.
unsafe extern "C" fn on_event(_obj: *mut ffi::PyObject, _frame: *mut ffi::PyFrameObject, what: c_int, arg: *mut ffi::PyObject) -> c_int {
    if what != ffi::PyTrace_CALL && what != ffi::PyTrace_C_CALL {
        return 0;
    }
    // SAFETY: for a C call, arg is the callable CPython is about to call.
    if what == ffi::PyTrace_C_CALL && unsafe { more_output(arg) } {
        return 0;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: CPython calls profile hooks with the GIL held.
        carry_out(unsafe { Python::assume_attached() });
    });
    0
}

/// Whether `callable` is the held request's own write or flush: the held
/// data can wait for what that call adds (several writes in a row, then a
/// return, still leave in one piece).
///
/// # Safety
/// The GIL is held and `callable` is a live object.
unsafe fn more_output(callable: *mut ffi::PyObject) -> bool {
    unsafe {
        if ffi::PyCFunction_Check(callable) == 0 {
            return false;
        }
        let f = callable as *mut ffi::PyCFunctionObject;
        let held = HELD.with(|h| h.borrow().as_ref().map(|r| r.as_ptr()));
        if held.is_none() || held != Some((*f).m_self) || (*f).m_ml.is_null() || (*(*f).m_ml).ml_name.is_null() {
            return false;
        }
        matches!(std::ffi::CStr::from_ptr((*(*f).m_ml).ml_name).to_bytes(), b"write" | b"flush")
    }
}

/// A change to the response head is coming: a held flush goes out first.
#[inline]
pub fn before_head_change(py: Python<'_>) {
    if HELD.with(|h| h.borrow().is_some()) {
        carry_out(py);
    }
}
