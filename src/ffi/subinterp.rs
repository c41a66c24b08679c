//! Sub-interpreters and the thread states that enter them: the C API calls
//! behind src/interpreters. A child's interpreters are never ended while it
//! runs, and no thread state made here is ever deleted, so the handles are
//! plain addresses; what they may be used for is in their types (an
//! [`Interpreter`] anywhere, a [`ThreadState`] only on its own thread).
use pyo3::ffi;
use pyo3::Python;
use std::marker::PhantomData;
use std::ptr::NonNull;

extern "C" {
    fn pyrite_tstate_prealloc_in(interp: *mut ffi::PyInterpreterState) -> *mut ffi::PyThreadState;
    fn pyrite_tstate_adopt(t: *mut ffi::PyThreadState);
}

/// CPython's id of the interpreter the calling thread is in.
#[inline]
pub fn current_id(_py: Python<'_>) -> i64 {
    // SAFETY: the GIL is held (py), so the thread has a current state.
    unsafe { ffi::PyInterpreterState_GetID(ffi::PyInterpreterState_Get()) }
}

/// One interpreter of this process; it lives as long as the process.
#[derive(Clone, Copy)]
pub struct Interpreter(NonNull<ffi::PyInterpreterState>);

// SAFETY: the interpreter outlives every thread; the handle only passes its
// address to C API calls made with the GIL held.
unsafe impl Send for Interpreter {}
unsafe impl Sync for Interpreter {}

impl Interpreter {
    /// CPython's id of the interpreter.
    pub fn id(&self, _py: Python<'_>) -> i64 {
        // SAFETY: a live interpreter; the GIL is held (py).
        unsafe { ffi::PyInterpreterState_GetID(self.0.as_ptr()) }
    }

    /// A thread state in this interpreter made now for a thread to come
    /// (None where the Python built against offers no way to, or on failure).
    pub fn prepare_state(&self, _py: Python<'_>) -> Option<PreparedState> {
        // SAFETY: a live interpreter; the GIL is held (py).
        NonNull::new(unsafe { pyrite_tstate_prealloc_in(self.0.as_ptr()) }).map(PreparedState)
    }

    /// A new thread state of the calling thread in this interpreter (None on failure).
    pub fn new_state(&self, _py: Python<'_>) -> Option<ThreadState> {
        // SAFETY: a live interpreter; the GIL is held (py). The state is
        // made for the calling thread and not made current.
        NonNull::new(unsafe { ffi::PyThreadState_New(self.0.as_ptr()) }).map(ThreadState::of_this_thread)
    }
}

/// A thread state made ahead of time in a sub-interpreter, no thread's yet.
pub struct PreparedState(NonNull<ffi::PyThreadState>);

// SAFETY: the state belongs to no thread until `adopt` gives it to one; it
// is only moved between threads (in a pool) before that.
unsafe impl Send for PreparedState {}

impl PreparedState {
    /// Gives the state to the calling thread.
    pub fn adopt(self) -> ThreadState {
        // SAFETY: made by pyrite_tstate_prealloc_in, never used, and adopted
        // once (self is consumed), by the thread that will use it.
        unsafe { pyrite_tstate_adopt(self.0.as_ptr()) };
        ThreadState::of_this_thread(self.0)
    }
}

/// A thread state of the calling thread (never sent to another one: the
/// handle is `!Send`). Entering it is a swap with the GIL held.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ThreadState(NonNull<ffi::PyThreadState>, PhantomData<*mut ()>);

impl ThreadState {
    fn of_this_thread(t: NonNull<ffi::PyThreadState>) -> ThreadState {
        ThreadState(t, PhantomData)
    }

    /// The calling thread's current state.
    #[inline]
    pub fn current(_py: Python<'_>) -> ThreadState {
        // SAFETY: the GIL is held (py), so there is a current state (CPython
        // aborts rather than return NULL), and it is this thread's.
        ThreadState::of_this_thread(unsafe { NonNull::new_unchecked(ffi::PyThreadState_Get()) })
    }

    /// The calling thread's own state in the main interpreter (the one
    /// PyGILState keeps for it), if it has one.
    #[inline]
    pub fn main_of_this_thread() -> Option<ThreadState> {
        // SAFETY: only asks; callable from any thread once Python runs.
        NonNull::new(unsafe { ffi::PyGILState_GetThisThreadState() }).map(ThreadState::of_this_thread)
    }

    /// Runs `f` with this state current (so in its interpreter), then makes
    /// current again the state that was.
    #[inline]
    pub fn enter<R>(self, _py: Python<'_>, f: impl FnOnce() -> R) -> R {
        // SAFETY: the GIL is held (py) and stays held for the swap and the
        // swap back (Restore; code in between that releases it restores
        // the state it found); the state is this thread's (the handle never
        // leaves its thread) and no state made here is deleted.
        let _back = Restore(unsafe { ffi::PyThreadState_Swap(self.0.as_ptr()) });
        f()
    }
}

/// Puts the thread state that was current back when dropped.
struct Restore(*mut ffi::PyThreadState);

impl Drop for Restore {
    fn drop(&mut self) {
        // SAFETY: the GIL is still held (see ThreadState::enter); the state
        // is the one this thread had current before.
        unsafe { ffi::PyThreadState_Swap(self.0) };
    }
}

/// Makes a sub-interpreter and runs `populate` in it (its first thread
/// state, the calling thread's, current); the state that was current is
/// current again when this returns. Returns the interpreter, the calling
/// thread's state in it and what `populate` returned; None when CPython
/// cannot make one.
pub fn new_interpreter<R>(py: Python<'_>, populate: impl FnOnce() -> R) -> Option<(Interpreter, ThreadState, R)> {
    let _back = Restore(ThreadState::current(py).0.as_ptr());
    // SAFETY: the GIL is held (py). Py_NewInterpreter makes the new
    // interpreter's thread state current (NULL and no change on failure);
    // Restore swaps the caller's back on every path.
    let t = NonNull::new(unsafe { ffi::Py_NewInterpreter() })?;
    let outcome = populate();
    // SAFETY: t is the live state just made; its interpreter lives as long as the process.
    let state = NonNull::new(unsafe { ffi::PyThreadState_GetInterpreter(t.as_ptr()) })?;
    Some((Interpreter(state), ThreadState::of_this_thread(t), outcome))
}
