//! Thread states made before the threads that use them (src/ffi/pythread.c):
//! the binding used by src/thread_states.rs.
use pyo3::ffi::PyThreadState;
use pyo3::Python;

extern "C" {
    fn pyrite_tstate_prealloc() -> *mut PyThreadState;
    fn pyrite_tstate_bind(t: *mut PyThreadState);
}

/// A thread state made for a thread to come and not yet given to one.
pub struct Prepared(std::ptr::NonNull<PyThreadState>);

// SAFETY: a made state belongs to no thread until `bind` gives it to one; it
// is only moved between threads (in a pool) before that.
unsafe impl Send for Prepared {}

/// Makes one thread state in the current interpreter (None where the Python
/// built against offers no way to, or on failure).
pub fn prepare(_py: Python<'_>) -> Option<Prepared> {
    // SAFETY: the GIL is held (py) and the interpreter is running.
    std::ptr::NonNull::new(unsafe { pyrite_tstate_prealloc() }).map(Prepared)
}

impl Prepared {
    /// Gives the state to the calling thread; refused (the state handed
    /// back) when the thread has one already.
    pub fn bind(self) -> Result<(), Prepared> {
        // SAFETY: asks only; callable from any thread once Python runs (a
        // state exists, so the interpreter does).
        if !unsafe { pyo3::ffi::PyGILState_GetThisThreadState() }.is_null() {
            return Err(self);
        }
        // SAFETY: made by pyrite_tstate_prealloc and bound once (self is
        // consumed), to a thread without a state (so holding no GIL).
        unsafe { pyrite_tstate_bind(self.0.as_ptr()) };
        Ok(())
    }
}
