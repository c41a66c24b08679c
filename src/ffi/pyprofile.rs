//! A profile hook on the calling thread (CPython's PyEval_SetProfile), told
//! of every call the thread is about to make: src/request/held_flush.rs uses
//! it to send a held flush before the handler's next step.
use pyo3::ffi;
use pyo3::Python;
use std::os::raw::c_int;

/// What the hooked thread is about to call.
pub enum Call<'a> {
    /// A Python function.
    Python,
    /// A built-in function or method: the address of the object it is
    /// bound to (for identity only, never read) and its name.
    Builtin { bound_to: usize, name: &'a [u8] },
    /// Another callable implemented in C.
    Other,
}

/// The work a hook does; it runs with the GIL held and must not unwind
/// (a panic is caught and dropped).
pub trait OnCall {
    fn on_call(py: Python<'_>, call: Call<'_>);
}

/// The thread state a hook was set on (a sub-interpreter's state may be
/// swapped in when it is set, and swapped out when it is cleared).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hooked(*mut ffi::PyThreadState);

/// Sets `H` as the calling thread's profile hook.
pub fn set<H: OnCall>(_py: Python<'_>) -> Hooked {
    // SAFETY: the GIL is held (py), so there is a current thread state; the
    // hook needs no object of its own.
    unsafe {
        ffi::PyEval_SetProfile(Some(trampoline::<H>), std::ptr::null_mut());
        Hooked(ffi::PyThreadState_Get())
    }
}

/// Removes the profile hook from the state it was set on (`hooked`; the
/// current one if None), swapping that state in for the moment if need be.
pub fn clear(_py: Python<'_>, hooked: Option<Hooked>) {
    // SAFETY: the GIL is held (py). `hooked` is a state of this thread (set
    // returned it on this thread, and states are never freed while their
    // thread lives: src/thread_states.rs, pin_thread); swapping it in and
    // back only changes which of this thread's states is current.
    unsafe {
        let now = ffi::PyThreadState_Get();
        match hooked {
            Some(Hooked(h)) if !h.is_null() && h != now => {
                ffi::PyThreadState_Swap(h);
                ffi::PyEval_SetProfile(None, std::ptr::null_mut());
                ffi::PyThreadState_Swap(now);
            }
            _ => ffi::PyEval_SetProfile(None, std::ptr::null_mut()),
        }
    }
}

/// What CPython calls: turns its event into a `Call` for `H`.
///
/// # Safety
/// Called by CPython with the GIL held, `arg` the callable of a C call.
unsafe extern "C" fn trampoline<H: OnCall>(
    _obj: *mut ffi::PyObject,
    _frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> c_int {
    let call = match what {
        ffi::PyTrace_CALL => Call::Python,
        // SAFETY: for a C call, arg is the live callable CPython is about to call.
        ffi::PyTrace_C_CALL => unsafe { builtin(arg) },
        _ => return 0,
    };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: CPython calls profile hooks with the GIL held.
        H::on_call(unsafe { Python::assume_attached() }, call)
    }));
    0
}

/// The bound object and name of a built-in callable.
///
/// # Safety
/// The GIL is held and `callable` is a live object.
unsafe fn builtin<'a>(callable: *mut ffi::PyObject) -> Call<'a> {
    // SAFETY: the contract; a PyCFunction's method table and name are static C data.
    unsafe {
        if ffi::PyCFunction_Check(callable) == 0 {
            return Call::Other;
        }
        let f = callable as *mut ffi::PyCFunctionObject;
        if (*f).m_ml.is_null() || (*(*f).m_ml).ml_name.is_null() {
            return Call::Other;
        }
        Call::Builtin {
            bound_to: (*f).m_self as usize,
            name: std::ffi::CStr::from_ptr((*(*f).m_ml).ml_name).to_bytes(),
        }
    }
}
