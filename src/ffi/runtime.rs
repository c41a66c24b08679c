//! httpd's runtime directory and the user its children run as.
use std::ffi::{CStr, CString};

use super::raw;

/// `name` inside httpd's runtime directory (DefaultRuntimeDir), as httpd's
/// own modules place their files there.
///
/// # Safety
/// `pconf` is a live pool.
pub unsafe fn path(pconf: *mut raw::apr_pool_t, name: &str) -> Option<CString> {
    let cname = CString::new(name).ok()?;
    // SAFETY: ap_runtime_dir_relative returns a NUL-terminated string in pconf
    // (or NULL when the name cannot be joined); it is copied before the pool goes.
    let p = unsafe { raw::ap_runtime_dir_relative(pconf, cname.as_ptr()) };
    // SAFETY: checked for NULL; a NUL-terminated string as above.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_owned())
}

/// `name` inside httpd's runtime directory, the path allocated in `pconf`.
pub fn path_in(pconf: &super::pool::Pool, name: &str) -> Option<CString> {
    // SAFETY: a live pool for the borrow.
    unsafe { path(pconf.as_ptr(), name) }
}

/// The user and group httpd's children run as (User and Group directives).
pub fn child_user() -> (u32, u32) {
    // SAFETY: ap_unixd_config is filled while the configuration is read, before post_config.
    unsafe { (raw::ap_unixd_config.user_id, raw::ap_unixd_config.group_id) }
}

/// `name` relative to ServerRoot (absolute names unchanged), the way httpd
/// reads paths in its configuration; empty when httpd cannot join them.
pub fn server_root_relative(pool: &super::pool::Pool, name: &str) -> String {
    let Ok(cname) = CString::new(name) else {
        return String::new();
    };
    // SAFETY: a live pool and a NUL-terminated name; the result is NULL or a
    // NUL-terminated string in that pool, copied at once.
    unsafe { super::cstr_lossy(raw::ap_server_root_relative(pool.as_ptr(), cname.as_ptr())) }
}
