//! Cross-process locks for Python code: mod_python's `_apache._global_lock`,
//! `_global_trylock` and `_global_unlock`, and `apache.global_lock(key)`.
//!
//! A fixed set of locks (PythonOption mod_python.mutex_locks N at server
//! level, default 8; index 0 kept for explicit use) is made by httpd's parent
//! as lock files (`files.rs`) and opened in each child (`slot.rs`). A key
//! picks a lock by a hash that is the same in every process (Python's own
//! hash() is not). Waiting happens with the GIL released.
//!
//! A lock belongs to the request that took it, not to a thread: any thread of
//! the process may release it (a Python thread the handler started, or httpd's
//! request-end cleanup on whichever worker thread it runs), and what a request
//! still holds when it ends is released and logged. The request taking a lock
//! it already holds (the same key, or two keys sharing one lock) gets a
//! RuntimeError instead of waiting for itself; trylock then answers False.
//! Releasing a lock the process does not hold is a ValueError.
mod files;
mod slot;

use crate::ffi::log;
use crate::ffi::pool::Pool;
use crate::ffi::request::Request;
use crate::ffi::server::Server;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use slot::{Holder, Owner, Refused, Slot};
use std::sync::OnceLock;

const DEFAULT_LOCKS: usize = 8;

/// This child's locks, by index.
static SLOTS: OnceLock<Vec<Slot>> = OnceLock::new();

/// Calls `f` with the request this thread serves in Python, if any (set by
/// the hooks, handlers.rs, wsgi, ssi.rs, through `ffi::current::serving`).
fn with_current_request<R>(f: impl for<'a> FnOnce(Option<&'a Request>) -> R) -> R {
    crate::ffi::current::with_current(f)
}

/// A server-level PythonOption (mod_python reads these two only there).
fn server_option(s: &Server, name: &str) -> Option<String> {
    let opts = crate::config::DirConfig::server_level(s).map(|c| c.options()).unwrap_or_default();
    opts.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Makes the lock files in httpd's parent (post_config of each generation).
pub fn create(pconf: &Pool, s: &Server) -> Result<(), String> {
    let count = server_option(s, "mod_python.mutex_locks")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_LOCKS)
        .clamp(1, 1024);
    let dir = server_option(s, "mod_python.mutex_directory").filter(|d| !d.is_empty());
    files::create(pconf, s, count, dir.as_deref())
}

/// Opens the locks in a child (`s`: the main server, for the log).
pub fn child_init(s: Option<&Server>) {
    match files::open_all() {
        Ok(fds) => {
            let _ = SLOTS.set(fds.into_iter().map(Slot::new).collect());
        }
        Err(e) => {
            let msg = format!("mod_pyrite: the global locks could not be opened in this child (they will raise): {e}");
            match s {
                Some(s) => s.log(log::APLOG_ERR, &msg),
                None => log::main_error(log::APLOG_ERR, &msg),
            }
        }
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

fn pick(key: &str, index: i64) -> PyResult<(usize, &'static Slot)> {
    let slots = SLOTS
        .get()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| PyRuntimeError::new_err("global locks are not available in this process"))?;
    let n = slots.len();
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
    Ok((i, &slots[i]))
}

fn current_owner() -> Owner {
    Owner {
        request: crate::ffi::current::id(),
        thread: std::thread::current().id(),
    }
}

/// Whether `holder` is `me` or a request `me` is part of (an internal
/// redirect's earlier request, a subrequest's main request): waiting for it
/// would wait for ourselves. Outside a request, the same thread.
fn is_reentry(me: &Owner, holder: &Holder) -> bool {
    if me.request == 0 {
        return holder.owner.request == 0 && holder.owner.thread == me.thread;
    }
    holder.owner.request != 0 && with_current_request(|r| r.is_some_and(|r| request_chain_contains(r, holder.owner.request)))
}

/// Whether `target` is `r` or reachable through its `main` and `prev` links.
fn request_chain_contains(r: &Request, target: usize) -> bool {
    let mut todo = vec![r];
    let mut seen = 0;
    while let Some(p) = todo.pop() {
        if seen > 64 {
            continue;
        }
        if p.as_ptr() as usize == target {
            return true;
        }
        seen += 1;
        todo.extend(p.main());
        todo.extend(p.prev());
    }
    false
}

/// When the current request ends (its pool's cleanup, on whichever thread
/// runs it), releases this taking of lock `i` if it is still held.
fn release_at_request_end(i: usize, slot: &'static Slot, holder: Holder) {
    with_current_request(|r| {
        // The holder was made from this thread's current request just now.
        let Some(r) = r.filter(|r| r.as_ptr() as usize == holder.owner.request) else {
            return;
        };
        r.pool().on_cleanup(move || match slot.release(Some(holder.ticket)) {
            Ok(true) => log::main_error(
                log::APLOG_WARNING,
                &format!("mod_pyrite: global lock {i} was still held when its request ended: released"),
            ),
            Ok(false) => {}
            Err(e) => log::main_error(
                log::APLOG_ERR,
                &format!("mod_pyrite: global lock {i}, still held when its request ended, could not be released: {e}"),
            ),
        })
    })
}

fn reentry_error(i: usize) -> PyErr {
    PyRuntimeError::new_err(format!(
        "global lock {i} is already held by this request: the same key was locked twice, or two keys \
         share lock {i} (keys are hashed onto PythonOption mod_python.mutex_locks locks); unlock it first"
    ))
}

/// A lock key as text: mod_python accepts any object as a key (the suite
/// passes the int 1); non-str keys are hashed by their str(), which is the same
/// in every process.
fn key_text(key: &Bound<'_, PyAny>) -> PyResult<String> {
    match key.extract::<String>() {
        Ok(s) => Ok(s),
        Err(_) => Ok(key.str()?.to_string()),
    }
}

#[pyfunction]
#[pyo3(signature = (server, key, index=-1))]
pub fn _global_lock(py: Python<'_>, server: &Bound<'_, PyAny>, key: &Bound<'_, PyAny>, index: i64) -> PyResult<()> {
    let _ = server;
    let (i, slot) = pick(&key_text(key)?, index)?;
    let me = current_owner();
    let taken = crate::interp::blocking(py, move || slot.acquire(me, true, |h| is_reentry(&me, h)));
    match taken {
        Ok(holder) => {
            release_at_request_end(i, slot, holder);
            Ok(())
        }
        Err(Refused::Reentry) => Err(reentry_error(i)),
        Err(Refused::Busy) => Err(PyRuntimeError::new_err(format!("global lock {i} could not be taken"))),
        Err(Refused::Os(e)) => Err(PyRuntimeError::new_err(format!("global lock {i} could not be taken: {e}"))),
    }
}

#[pyfunction]
#[pyo3(signature = (server, key, index=-1))]
pub fn _global_trylock(server: &Bound<'_, PyAny>, key: &Bound<'_, PyAny>, index: i64) -> PyResult<bool> {
    let _ = server;
    let (i, slot) = pick(&key_text(key)?, index)?;
    let me = current_owner();
    // Never waits: the state lock is only held for a few instructions and flock gets LOCK_NB.
    match slot.acquire(me, false, |h| is_reentry(&me, h)) {
        Ok(holder) => {
            release_at_request_end(i, slot, holder);
            Ok(true)
        }
        Err(Refused::Reentry) | Err(Refused::Busy) => Ok(false),
        Err(Refused::Os(e)) => Err(PyRuntimeError::new_err(format!("global lock {i} could not be tried: {e}"))),
    }
}

#[pyfunction]
#[pyo3(signature = (server, key, index=-1))]
pub fn _global_unlock(server: &Bound<'_, PyAny>, key: &Bound<'_, PyAny>, index: i64) -> PyResult<()> {
    let _ = server;
    let (i, slot) = pick(&key_text(key)?, index)?;
    match slot.release(None) {
        Ok(true) => Ok(()),
        // ValueError: what mod_python raised when a release failed.
        Ok(false) => Err(PyValueError::new_err(format!(
            "global lock {i} is not held by this process: nothing to release"
        ))),
        Err(e) => Err(PyRuntimeError::new_err(format!("global lock {i} could not be released: {e}"))),
    }
}

/// The lock index a key maps to (Session counts its holds per lock, so two
/// sessions whose ids share a lock do not take it twice).
#[pyfunction]
pub fn _global_lock_index(key: &Bound<'_, PyAny>) -> PyResult<usize> {
    pick(&key_text(key)?, -1).map(|(i, _)| i)
}
