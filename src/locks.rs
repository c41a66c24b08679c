//! Cross-process locks for Python code: mod_python's `_apache._global_lock`,
//! `_global_trylock` and `_global_unlock`, and `apache.global_lock(key)`.
//!
//! A fixed set of APR global mutexes is created in the parent before the
//! children fork (PythonOption mod_python.mutex_locks N at server level,
//! default 8) and re-attached in each child. A key picks a lock by a hash that
//! is the same in every process (Python's own hash() is not). Waiting happens
//! with the GIL released. A lock a request still holds when it ends is
//! released and logged, so one forgotten unlock cannot wedge the site.
use crate::ffi::{self, log, raw};
use crate::sync::LockExt;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::cell::Cell;
use std::sync::Mutex;

const DEFAULT_LOCKS: usize = 8;

struct Locks {
    mutexes: Vec<usize>,
    files: Vec<std::ffi::CString>,
}

static LOCKS: Mutex<Locks> = Mutex::new(Locks {
    mutexes: Vec::new(),
    files: Vec::new(),
});

thread_local! {
    /// The request this thread is serving in Python (for releasing forgotten locks).
    pub static CURRENT_REQUEST: Cell<*mut raw::request_rec> = const { Cell::new(std::ptr::null_mut()) };
}

fn configured_count(s: *mut raw::server_rec) -> usize {
    // SAFETY: s is the main server of the configuration being finished.
    let opts = unsafe { crate::config::server_dir_config(s) }
        .map(|c| c.options())
        .unwrap_or_default();
    opts.iter()
        .find(|(k, _)| k == "mod_python.mutex_locks")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_LOCKS)
        .clamp(1, 1024)
}

/// Creates the locks in the parent (post_config of each generation).
///
/// # Safety
/// Called from post_config with the configuration pool and main server.
pub unsafe fn create(pconf: *mut raw::apr_pool_t, s: *mut raw::server_rec) -> Result<(), String> {
    let n = configured_count(s);
    let mut locks = LOCKS.locked();
    locks.mutexes.clear();
    locks.files.clear();
    for i in 0..n {
        let name = format!("mod_pyrite-lock.{}.{}", std::process::id(), i);
        let cname = std::ffi::CString::new(name).unwrap();
        unsafe {
            let path = raw::ap_runtime_dir_relative(pconf, cname.as_ptr());
            let mut m: *mut raw::apr_global_mutex_t = std::ptr::null_mut();
            let rv = raw::apr_global_mutex_create(&mut m, path, raw::apr_lockmech_e_APR_LOCK_DEFAULT, pconf);
            if rv != 0 {
                return Err(format!(
                    "could not create global lock {i} ({}): APR error {rv}",
                    ffi::cstr_lossy(path)
                ));
            }
            raw::ap_unixd_set_global_mutex_perms(m);
            locks.mutexes.push(m as usize);
            locks.files.push(std::ffi::CStr::from_ptr(path).to_owned());
        }
    }
    Ok(())
}

/// Re-attaches the locks in a child.
///
/// # Safety
/// Called from child_init with the child's pool.
pub unsafe fn child_init(pchild: *mut raw::apr_pool_t, s: *mut raw::server_rec) {
    let mut locks = LOCKS.locked();
    let files = locks.files.clone();
    for (i, m) in locks.mutexes.iter_mut().enumerate() {
        let mut mp = *m as *mut raw::apr_global_mutex_t;
        let rv = unsafe { raw::apr_global_mutex_child_init(&mut mp, files[i].as_ptr(), pchild) };
        if rv != 0 {
            log::serror(
                s,
                log::APLOG_ERR,
                &format!("mod_pyrite: global lock {i} could not be re-attached in the child: APR error {rv}"),
            );
        }
        *m = mp as usize;
    }
}

/// FNV-1a: the same index for a key in every process.
fn stable_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn pick(key: &str, index: i64) -> PyResult<(usize, usize)> {
    let locks = LOCKS.locked();
    let n = locks.mutexes.len();
    if n == 0 {
        return Err(PyRuntimeError::new_err("global locks are not available in this process"));
    }
    let i = if index >= 0 {
        if index as usize >= n {
            return Err(PyValueError::new_err(format!(
                "lock index {index} out of range (there are {n}: PythonOption mod_python.mutex_locks)"
            )));
        }
        index as usize
    } else if n == 1 {
        0
    } else {
        // Index 0 is kept for explicit use, as in mod_python.
        1 + (stable_hash(key.as_bytes()) % (n as u64 - 1)) as usize
    };
    Ok((i, locks.mutexes[i]))
}

/// Remembers that the current request holds lock `i`, so its end releases it.
fn track(i: usize, m: usize) {
    let r = CURRENT_REQUEST.with(|c| c.get());
    if r.is_null() {
        return;
    }
    HELD.with(|h| h.borrow_mut().push(i));
    // SAFETY: r is the live request this thread serves; the cleanup runs at its end on this thread.
    unsafe {
        ffi::pool::on_cleanup((*r).pool, move || {
            let still = HELD.with(|h| {
                let mut h = h.borrow_mut();
                match h.iter().position(|&x| x == i) {
                    Some(p) => {
                        h.remove(p);
                        true
                    }
                    None => false,
                }
            });
            if still {
                raw::apr_global_mutex_unlock(m as *mut raw::apr_global_mutex_t);
                log::main_error(
                    log::APLOG_WARNING,
                    &format!("mod_pyrite: global lock {i} was still held when its request ended: released"),
                );
            }
        })
    };
}

thread_local! {
    static HELD: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[pyfunction]
#[pyo3(signature = (server, key, index=-1))]
pub fn _global_lock(py: Python<'_>, server: &Bound<'_, PyAny>, key: &str, index: i64) -> PyResult<()> {
    let _ = server;
    let (i, m) = pick(key, index)?;
    let mp = ffi::SendPtr(m as *mut raw::apr_global_mutex_t);
    // SAFETY: a mutex of this generation, attached in this child; waiting without the GIL.
    let rv = crate::interp::blocking(py, move || unsafe {
        let mp = mp;
        raw::apr_global_mutex_lock(mp.0)
    });
    if rv != 0 {
        return Err(PyRuntimeError::new_err(format!(
            "global lock {i} could not be taken: APR error {rv}"
        )));
    }
    track(i, m);
    Ok(())
}

#[pyfunction]
#[pyo3(signature = (server, key, index=-1))]
pub fn _global_trylock(server: &Bound<'_, PyAny>, key: &str, index: i64) -> PyResult<bool> {
    let _ = server;
    let (i, m) = pick(key, index)?;
    // SAFETY: as above; trylock does not wait.
    let rv = unsafe { raw::apr_global_mutex_trylock(m as *mut raw::apr_global_mutex_t) };
    if rv == 0 {
        track(i, m);
        Ok(true)
    } else {
        Ok(false)
    }
}

#[pyfunction]
#[pyo3(signature = (server, key, index=-1))]
pub fn _global_unlock(server: &Bound<'_, PyAny>, key: &str, index: i64) -> PyResult<()> {
    let _ = server;
    let (i, m) = pick(key, index)?;
    HELD.with(|h| {
        let mut h = h.borrow_mut();
        if let Some(p) = h.iter().position(|&x| x == i) {
            h.remove(p);
        }
    });
    // SAFETY: as above.
    let rv = unsafe { raw::apr_global_mutex_unlock(m as *mut raw::apr_global_mutex_t) };
    if rv != 0 {
        return Err(PyRuntimeError::new_err(format!(
            "global lock {i} could not be released: APR error {rv}"
        )));
    }
    Ok(())
}
