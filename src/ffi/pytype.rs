//! The C name of a Python type, for the few types whose printed form
//! mod_python code compares: `str(type(req.connection)) == "<class 'mp_conn'>"`.
//! PyO3 always names a class `module.name` in C; CPython prints a type of
//! module `builtins` by that C name, so the module part has to go.
use pyo3::prelude::*;
use pyo3::types::PyType;
use std::ffi::CStr;

/// Makes `ty` print as `<class 'NAME'>`. Call once, when the type is created.
pub fn set_plain_name(ty: &Bound<'_, PyType>, name: &'static CStr) {
    debug_assert_eq!(ty.name().map(|n| n.to_string()).ok().as_deref(), name.to_str().ok());
    // SAFETY: the type object is live (we hold a reference) and was just
    // created by this module; tp_name only needs to stay valid as long as the
    // type does, and `name` is static. The GIL is held, so no thread reads it now.
    unsafe { (*ty.as_type_ptr()).tp_name = name.as_ptr() };
}
