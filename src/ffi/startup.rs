//! What httpd was started with: its ServerRoot and the `-D` defines.
use super::raw;

/// httpd's ServerRoot.
pub fn server_root() -> String {
    // SAFETY: ap_server_root is set once by httpd at start-up (NULL before: empty).
    unsafe { super::cstr_lossy(raw::ap_server_root) }
}

/// Whether `httpd -D name` was given.
pub fn defined(name: &std::ffi::CStr) -> bool {
    // SAFETY: reads httpd's define list; name is NUL-terminated.
    unsafe { raw::ap_exists_config_define(name.as_ptr()) != 0 }
}
