//! The thin unsafe boundary to httpd and APR. Every wrapper states the
//! invariant it relies on; the rest of the crate calls these, not `raw`.
pub mod raw;

pub mod auth;
pub mod brigade;
pub mod conftree;
pub mod connection;
pub mod current;
pub mod daemon;
pub mod directive;
pub mod epoll;
pub mod filter;
pub mod finfo;
pub mod guard;
pub mod held;
pub mod hooks;
pub mod include;
pub mod log;
pub mod module_config;
pub mod mpm;
pub mod os;
pub mod pool;
pub mod process;
pub mod pyprofile;
pub mod pystart;
pub mod pythread;
pub mod pytype;
pub mod refcount;
pub mod regex;
pub mod request;
pub mod runtime;
pub mod sendfile;
pub mod server;
pub mod shm;
pub mod ssl;
pub mod startup;
pub mod subinterp;
pub mod table;
pub mod unix_diag;
pub mod version;

use std::ffi::{c_char, CStr};

/// Borrows a NUL-terminated C string, None for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`
/// (httpd strings live in a pool that outlives the call using them).
#[inline]
pub unsafe fn cstr<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        // SAFETY: non-NULL and NUL-terminated, living for 'a (the contract).
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// Borrows a C string as text (lossy): for names and paths in log lines.
///
/// # Safety
/// As for [`cstr`].
pub unsafe fn cstr_lossy(p: *const c_char) -> String {
    // SAFETY: as this function's contract.
    match unsafe { cstr(p) } {
        Some(b) => String::from_utf8_lossy(b).into_owned(),
        None => String::new(),
    }
}

/// This module's record (`pyrite_module`), noted by its register_hooks, which
/// httpd calls right after giving the record its index and before any
/// configuration or request callback. Kept here so that the bindings need
/// nothing from the layers above them.
static MODULE: std::sync::atomic::AtomicPtr<raw::module> = std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// Notes the module record httpd loaded (from its register_hooks).
pub fn set_module(m: *mut raw::module) {
    MODULE.store(m, std::sync::atomic::Ordering::Release);
}

/// The module record, for httpd calls that take `module *` (NULL before register_hooks).
pub fn module_ptr() -> *mut raw::module {
    MODULE.load(std::sync::atomic::Ordering::Acquire)
}

/// The index httpd gave this module (for configuration vectors and logging),
/// -1 before it has one.
#[inline]
pub fn module_index() -> std::ffi::c_int {
    let m = module_ptr();
    if m.is_null() {
        return -1;
    }
    // SAFETY: the record is a static of this library; httpd writes its index
    // once, when it loads the module, before register_hooks noted it here.
    unsafe { (*m).module_index }
}

/// Adds `component` ("name/version") to the Server banner (post_config).
pub fn add_version_component(pconf: &pool::Pool, component: &str) {
    let bytes = component.replace('\0', "");
    // SAFETY: a live configuration pool; the copy lives as long as it, as httpd keeps the pointer.
    unsafe { raw::ap_add_version_component(pconf.as_ptr(), pool::strdup(pconf.as_ptr(), bytes.as_bytes())) }
}

/// Notes `key` in `pool`; true if it was noted there before. For what is
/// done once per process across httpd's configuration passes: the note
/// holds no memory and no cleanup of this library (which httpd unloads and
/// loads again at a restart, while the process pool stays).
pub fn noted_before(pool: &pool::Pool, key: &'static CStr) -> bool {
    let mut seen: *mut std::ffi::c_void = std::ptr::null_mut();
    // SAFETY: a live pool and a NUL-terminated static key; the value is a
    // non-NULL marker never dereferenced, with APR's own no-op cleanup.
    unsafe {
        raw::apr_pool_userdata_get(&mut seen, key.as_ptr(), pool.as_ptr());
        if seen.is_null() {
            raw::apr_pool_userdata_set(
                std::ptr::dangling::<std::ffi::c_void>(),
                key.as_ptr(),
                Some(raw::apr_pool_cleanup_null),
                pool.as_ptr(),
            );
        }
    }
    !seen.is_null()
}

/// The per-module slot of a configuration vector (what httpd's
/// `ap_get_module_config` macro reads).
///
/// # Safety
/// `v` is a configuration vector of the running configuration (per-dir,
/// per-server or request_config) and the module has been assigned its index.
#[inline]
pub unsafe fn module_config(v: *mut raw::ap_conf_vector_t) -> *mut std::ffi::c_void {
    let idx = module_index();
    // SAFETY: a configuration vector has one slot per module; idx is ours (the contract).
    unsafe { *(v as *mut *mut std::ffi::c_void).add(idx as usize) }
}

/// Sets the per-module slot of a configuration vector (`ap_set_module_config`).
///
/// # Safety
/// As for [`module_config`].
#[inline]
pub unsafe fn set_module_config(v: *mut raw::ap_conf_vector_t, val: *mut std::ffi::c_void) {
    let idx = module_index();
    // SAFETY: as for module_config.
    unsafe { *(v as *mut *mut std::ffi::c_void).add(idx as usize) = val };
}

/// A raw pointer that may cross `Python::detach`: the code holding it
/// guarantees the pointee is used by one thread at a time.
#[derive(Clone, Copy)]
pub struct SendPtr<T>(pub *mut T);
// SAFETY: only moved into a closure that runs synchronously on the same
// thread while the GIL is released; nothing else touches the pointee then.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

/// A handle lent to work that runs with the GIL released (`Python::detach`).
/// That work runs synchronously on the lending thread; the handle is
/// `!Send`, so this wrapper carries it across and refuses (panics) to be
/// used on any other thread.
pub struct OnThisThread<'a, T> {
    handle: &'a T,
    owner: std::thread::ThreadId,
}
// SAFETY: the handle is only reachable through Deref, which checks that the
// thread using it is the one that lent it.
unsafe impl<T> Send for OnThisThread<'_, T> {}

impl<'a, T> OnThisThread<'a, T> {
    /// Lends `handle` to work run on this same thread.
    pub fn lend(handle: &'a T) -> Self {
        OnThisThread {
            handle,
            owner: std::thread::current().id(),
        }
    }
}

impl<T> std::ops::Deref for OnThisThread<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        assert_eq!(std::thread::current().id(), self.owner, "an httpd handle used on another thread");
        self.handle
    }
}

/// APR's text for a status code (for log lines and exceptions).
pub fn apr_error(status: i32) -> String {
    let mut buf = [0 as std::ffi::c_char; 256];
    // SAFETY: apr_strerror writes a NUL-terminated string of at most buf.len() bytes.
    unsafe {
        raw::apr_strerror(status, buf.as_mut_ptr(), buf.len());
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    }
}

/// Whether `name` matches the shell wildcard `pattern`, a `*` never crossing
/// a '/' (fnmatch with FNM_PATHNAME, as httpd matches <Directory> wildcards).
pub fn fnmatch_path(pattern: &[u8], name: &[u8]) -> bool {
    let (Ok(p), Ok(n)) = (std::ffi::CString::new(pattern), std::ffi::CString::new(name)) else {
        return false;
    };
    // SAFETY: both are NUL-terminated strings that outlive the call.
    unsafe { libc::fnmatch(p.as_ptr(), n.as_ptr(), libc::FNM_PATHNAME) == 0 }
}
