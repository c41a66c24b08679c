//! Which httpd this is: its version numbers and its banner.

/// httpd's (major, minor, patch) version.
pub fn revision() -> (i32, i32, i32) {
    let mut v = super::raw::ap_version_t::default();
    // SAFETY: fills a plain struct on this stack.
    unsafe { super::raw::ap_get_server_revision(&mut v) };
    (v.major, v.minor, v.patch)
}

/// The Server header's product text, as ServerTokens shapes it.
pub fn banner() -> String {
    // SAFETY: a static string of httpd's, or one of the configuration that runs.
    unsafe { super::cstr_lossy(super::raw::ap_get_server_banner()) }
}
