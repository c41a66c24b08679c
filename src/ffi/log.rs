//! httpd's error log, with mod_pyrite's module index so `LogLevel pyrite:debug` works.
use super::raw;
use std::ffi::CString;
use std::sync::atomic::{AtomicPtr, Ordering};

pub use raw::{APLOG_CRIT, APLOG_DEBUG, APLOG_ERR, APLOG_INFO, APLOG_NOTICE, APLOG_WARNING};

fn c_msg(msg: &str) -> CString {
    // A NUL inside a message would truncate it; show it instead.
    CString::new(msg.replace('\0', "\\0")).unwrap_or_default()
}

/// Logs a line in the context of a request (httpd adds client and request id).
// Kept raw for callers not yet converted to the handles (Request::log,
// Connection::log, Server::log); they pass the live record of their hook.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn rerror(r: *const raw::request_rec, level: u32, msg: &str) {
    let m = c_msg(msg);
    // SAFETY: r is the live request of the calling hook; the shim formats with "%s".
    unsafe { raw::pyrite_shim_log_rerror(c"mod_pyrite".as_ptr(), 0, super::module_index(), level as i32, 0, r, m.as_ptr()) }
}

/// Logs a line for a server (NULL logs to the main server's log).
// Kept raw for callers not yet converted to the handles (Request::log,
// Connection::log, Server::log); they pass the live record of their hook.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn serror(s: *const raw::server_rec, level: u32, msg: &str) {
    let m = c_msg(msg);
    let s = own_server(s);
    // SAFETY: s is NULL or a server_rec of the running configuration.
    unsafe { raw::pyrite_shim_log_error(c"mod_pyrite".as_ptr(), 0, super::module_index(), level as i32, 0, s, m.as_ptr()) }
}

/// The server whose log gets this process's server-wide lines (null: the main server's).
static PROCESS_SERVER: AtomicPtr<raw::server_rec> = AtomicPtr::new(std::ptr::null_mut());

/// Sends the lines this process logs for the main server to `s`'s error log
/// instead: a daemon logs where its group is declared, as under mod_wsgi.
pub fn set_process_server(s: &super::server::Server) {
    PROCESS_SERVER.store(s.as_ptr(), Ordering::Relaxed);
}

/// `s`, unless it is the main server (or NULL) and this process logs elsewhere.
fn own_server(s: *const raw::server_rec) -> *const raw::server_rec {
    let own = PROCESS_SERVER.load(Ordering::Relaxed);
    // SAFETY: ap_server_conf is set by httpd before any module hook runs.
    if !own.is_null() && (s.is_null() || std::ptr::eq(s, unsafe { raw::ap_server_conf })) {
        own
    } else {
        s
    }
}

/// Logs a line in the context of a connection (httpd adds the client address).
// Kept raw for callers not yet converted to the handles (Request::log,
// Connection::log, Server::log); they pass the live record of their hook.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn cerror(c: *const raw::conn_rec, level: u32, msg: &str) {
    let m = c_msg(msg);
    // SAFETY: c is the live connection of the calling hook; the shim formats with "%s".
    unsafe { raw::pyrite_shim_log_cerror(c"mod_pyrite".as_ptr(), 0, super::module_index(), level as i32, 0, c, m.as_ptr()) }
}

/// Whether a request-level message at `level` would be written at all.
// Kept raw for callers not yet converted to the handles (Request::log,
// Connection::log, Server::log); they pass the live record of their hook.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn r_enabled(r: *const raw::request_rec, level: u32) -> bool {
    // SAFETY: r is the live request of the calling hook.
    unsafe { raw::pyrite_shim_rlog_enabled(r, super::module_index(), level as i32) != 0 }
}

/// Logs to the main server's log: for code with no request or server at hand.
pub fn main_error(level: u32, msg: &str) {
    // SAFETY: ap_server_conf is set by httpd before any module hook runs.
    let s = unsafe { raw::ap_server_conf };
    serror(s, level, msg)
}
