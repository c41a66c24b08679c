/* Thread states made ahead of time, for the threads httpd starts later.
 *
 * CPython's public API creates a thread state on the thread that will use it
 * (PyGILState_Ensure), so a worker would pay for it on its first request.
 * CPython's own threading module instead allocates the state in the thread
 * that starts the new one and binds it in the new thread; these two
 * functions do the same with the same (exported, version-specific) calls.
 * Built for CPython 3.11 only: elsewhere they report "not available" and
 * threads create their state on first use, as before. */
#include <Python.h>

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
/* Exported by libpython 3.11 (Include/internal/pycore_pystate.h). */
PyAPI_FUNC(void) _PyThreadState_SetCurrent(PyThreadState *tstate);

/* A thread state of the main interpreter bound to no thread yet; NULL when
 * not available. Call with the GIL held. */
PyThreadState *pyrite_tstate_prealloc(void)
{
    return _PyThreadState_Prealloc(PyInterpreterState_Main());
}

/* Makes `t` (from pyrite_tstate_prealloc, never used) the calling thread's
 * own thread state, as PyGILState_Ensure would have made one: the thread
 * holds no GIL before or after. */
void pyrite_tstate_bind(PyThreadState *t)
{
    t->thread_id = PyThread_get_thread_ident();
#ifdef PY_HAVE_THREAD_NATIVE_ID
    t->native_thread_id = PyThread_get_thread_native_id();
#endif
    _PyThreadState_SetCurrent(t);
}

/* A thread state of a sub-interpreter, bound to no thread yet. Call with
 * the GIL held. */
PyThreadState *pyrite_tstate_prealloc_in(PyInterpreterState *interp)
{
    return _PyThreadState_Prealloc(interp);
}

/* Makes `t` (from pyrite_tstate_prealloc_in, never used) usable by the
 * calling thread through PyThreadState_Swap. Unlike pyrite_tstate_bind it
 * does not make `t` the thread's PyGILState state: that stays the thread's
 * main-interpreter state. */
void pyrite_tstate_adopt(PyThreadState *t)
{
    t->thread_id = PyThread_get_thread_ident();
#ifdef PY_HAVE_THREAD_NATIVE_ID
    t->native_thread_id = PyThread_get_thread_native_id();
#endif
}
#else
PyThreadState *pyrite_tstate_prealloc(void) { return NULL; }
void pyrite_tstate_bind(PyThreadState *t) { (void)t; }
PyThreadState *pyrite_tstate_prealloc_in(PyInterpreterState *interp) { (void)interp; return NULL; }
void pyrite_tstate_adopt(PyThreadState *t) { (void)t; }
#endif
