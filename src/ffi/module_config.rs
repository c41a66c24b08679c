//! This module's per-directory and per-server configuration as httpd keeps
//! it: the create/merge callbacks of the module record, and typed access to
//! the slot httpd keeps for the module in each configuration vector.
//!
//! httpd stores a `void *` per module; the types behind it are named once,
//! by the configuration layer implementing [`PerDir`] and [`PerServer`] for
//! the types the module record's callbacks ([`create_dir`], [`merge_dir`],
//! [`create_server`], [`merge_server`]) make.
use super::pool::{self, Pool};
use super::request::Request;
use super::server::Server;
use super::{module_config, raw};
use std::ffi::{c_char, c_void};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The module's per-directory configuration type.
///
/// # Safety
/// Implemented by exactly one type, the one the module record's
/// `create_dir_config`/`merge_dir_config` make (`create_dir::<Self>` and
/// `merge_dir::<Self>`): every per-directory slot of this module then holds one.
pub unsafe trait PerDir: Default + 'static {
    fn merge(base: &Self, new: &Self) -> Self;
}

/// The module's per-server configuration type.
///
/// # Safety
/// As for [`PerDir`], with `create_server::<Self>`/`merge_server::<Self>`.
pub unsafe trait PerServer: Default + 'static {
    fn merge(base: &Self, new: &Self) -> Self;
}

/// create_dir_config: a default `D`, dropped with the pool.
///
/// # Safety
/// Called by httpd with a live pool.
pub unsafe extern "C" fn create_dir<D: PerDir>(p: *mut raw::apr_pool_t, _dir: *mut c_char) -> *mut c_void {
    super::guard::or(std::ptr::null_mut(), || {
        // SAFETY: httpd's pool for the new configuration; the value lives as long as it.
        unsafe { pool::adopt(p, D::default()) as *mut c_void }
    })
}

/// merge_dir_config: `new` over `base`.
///
/// # Safety
/// Called by httpd with two configurations made by create_dir/merge_dir.
pub unsafe extern "C" fn merge_dir<D: PerDir>(p: *mut raw::apr_pool_t, base: *mut c_void, new: *mut c_void) -> *mut c_void {
    super::guard::or(base, || {
        // SAFETY: both were made by create_dir/merge_dir::<D> (PerDir's contract)
        // and live in pools that outlive `p`.
        let (b, n) = unsafe { (&*(base as *const D), &*(new as *const D)) };
        // SAFETY: p is the live pool of the merged configuration.
        unsafe { pool::adopt(p, D::merge(b, n)) as *mut c_void }
    })
}

/// create_server_config: a default `S`, dropped with the pool.
///
/// # Safety
/// Called by httpd with a live pool.
pub unsafe extern "C" fn create_server<S: PerServer>(p: *mut raw::apr_pool_t, _s: *mut raw::server_rec) -> *mut c_void {
    super::guard::or(std::ptr::null_mut(), || {
        // SAFETY: httpd's configuration pool; the value lives as long as it.
        unsafe { pool::adopt(p, S::default()) as *mut c_void }
    })
}

/// merge_server_config: a virtual host (`new`) over the main server (`base`).
///
/// # Safety
/// Called by httpd with two configurations made by create_server/merge_server.
pub unsafe extern "C" fn merge_server<S: PerServer>(p: *mut raw::apr_pool_t, base: *mut c_void, new: *mut c_void) -> *mut c_void {
    super::guard::or(new, || {
        // SAFETY: both were made by create_server::<S> (PerServer's contract) and
        // live in the configuration pool.
        let (b, n) = unsafe { (&*(base as *const S), &*(new as *const S)) };
        // SAFETY: p is the live configuration pool.
        unsafe { pool::adopt(p, S::merge(b, n)) as *mut c_void }
    })
}

/// The per-directory configuration httpd chose for a request.
pub fn dir_config<D: PerDir>(r: &Request) -> Option<&D> {
    // SAFETY: a live request's per_dir_config is a configuration vector of the
    // running configuration; this module's slot holds a D (PerDir's contract)
    // that lives at least as long as the request.
    unsafe { (module_config((*r.as_ptr()).per_dir_config) as *const D).as_ref() }
}

/// A server's own configuration.
pub fn server_config<S: PerServer>(s: &Server) -> Option<&S> {
    // SAFETY: module_config is the server's configuration vector; the slot
    // holds an S (PerServer's contract) living as long as the server record.
    unsafe { (module_config(s.rec().module_config) as *const S).as_ref() }
}

/// A server's per-directory defaults (what directives at server or virtual
/// host level, outside any section, set).
pub fn server_dir_config<D: PerDir>(s: &Server) -> Option<&D> {
    // SAFETY: lookup_defaults is the server's per-directory vector; the slot
    // holds a D (PerDir's contract) living as long as the server record.
    unsafe { (module_config(s.rec().lookup_defaults) as *const D).as_ref() }
}

/// A configuration object (a section's `D`, a server record) kept past the
/// directive callback that saw it, for as long as the pool it lives in is not
/// cleared: `get` answers None after that.
pub struct Kept<T: 'static> {
    at: NonNull<T>,
    alive: Arc<AtomicBool>,
}

// SAFETY: only shared references are lent (`get`), to configuration data
// that is read-only once httpd has read its configuration; liveness is checked.
unsafe impl<T: PerDir + Sync> Send for Kept<T> {}
unsafe impl<T: PerDir + Sync> Sync for Kept<T> {}
// SAFETY: a server record is read-only once the configuration is read.
unsafe impl Send for Kept<Server> {}
unsafe impl Sync for Kept<Server> {}

impl<T: 'static> Kept<T> {
    /// Keeps `value`, which lives in `pool` (or in a pool that outlives it):
    /// only the bindings know where a value lives, so only they make these.
    pub(super) fn new(value: &T, pool: &Pool) -> Kept<T> {
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        // Before the pool's ordinary cleanups free what lives in it.
        pool.on_pre_cleanup(move || flag.store(false, Ordering::Release));
        Kept {
            at: NonNull::from(value),
            alive,
        }
    }

    /// The object, None once its pool has been cleared.
    pub fn get(&self) -> Option<&T> {
        if !self.alive.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: the pool's pre-cleanup clears `alive` before the memory goes;
        // configuration pools are cleared only by httpd's main thread between
        // generations, when no reader of the old generation runs.
        Some(unsafe { self.at.as_ref() })
    }
}
