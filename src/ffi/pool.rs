//! APR pools: copying bytes into them and tying Rust values to their lifetime.
use super::raw;
use std::ffi::{c_char, c_void};

/// Copies `bytes` into `pool` as a NUL-terminated string.
///
/// # Safety
/// `pool` is a live pool; the result lives as long as it. `bytes` holds no NUL
/// (callers check; a NUL would silently truncate the string for httpd).
pub unsafe fn strdup(pool: *mut raw::apr_pool_t, bytes: &[u8]) -> *mut c_char {
    unsafe { raw::apr_pstrmemdup(pool, bytes.as_ptr() as *const c_char, bytes.len()) }
}

unsafe extern "C" fn run_boxed_cleanup<F: FnOnce()>(data: *mut c_void) -> raw::apr_status_t {
    // SAFETY: data is the Box<Option<F>> registered below, run exactly once by APR.
    let slot = unsafe { &mut *(data as *mut Option<F>) };
    if let Some(f) = slot.take() {
        // A panic must not unwind into APR.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
            super::log::main_error(raw::APLOG_ERR, "mod_pyrite: a pool cleanup panicked");
        }
    }
    // SAFETY: the box was leaked by on_cleanup and is freed once, here.
    drop(unsafe { Box::from_raw(data as *mut Option<F>) });
    0
}

/// Runs `f` when `pool` is cleared or destroyed (not in forked children's exec cleanup).
///
/// # Safety
/// `pool` is a live pool.
pub unsafe fn on_cleanup<F: FnOnce() + 'static>(pool: *mut raw::apr_pool_t, f: F) {
    let data = Box::into_raw(Box::new(Some(f))) as *const c_void;
    unsafe { raw::apr_pool_cleanup_register(pool, data, Some(run_boxed_cleanup::<F>), Some(raw::apr_pool_cleanup_null)) }
}

/// Runs `f` when `pool` is cleared or destroyed, before any cleanup registered
/// with `on_cleanup` (APR runs pre-cleanups first, while everything in the pool is intact).
///
/// # Safety
/// `pool` is a live pool.
pub unsafe fn on_pre_cleanup<F: FnOnce() + 'static>(pool: *mut raw::apr_pool_t, f: F) {
    let data = Box::into_raw(Box::new(Some(f))) as *const c_void;
    unsafe { raw::apr_pool_pre_cleanup_register(pool, data, Some(run_boxed_cleanup::<F>)) }
}

/// Moves `value` into memory whose lifetime is the pool's: it is dropped when
/// the pool is cleared. Returns a pointer valid until then.
///
/// # Safety
/// `pool` is a live pool, and the pointer is not used after the pool is cleared.
pub unsafe fn adopt<T: 'static>(pool: *mut raw::apr_pool_t, value: T) -> *mut T {
    let p = Box::into_raw(Box::new(value));
    let addr = p as usize;
    unsafe {
        on_cleanup(pool, move || {
            // SAFETY: the box made above, freed once when the pool goes.
            drop(Box::from_raw(addr as *mut T));
        })
    };
    p
}

/// The pool of this child process (set once, by child_init).
static CHILD_POOL: std::sync::atomic::AtomicPtr<raw::apr_pool_t> = std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// Remembers the child's pool.
///
/// # Safety
/// `p` is the pool httpd gave this child at child_init: live until the child exits.
pub unsafe fn set_child(p: *mut raw::apr_pool_t) {
    CHILD_POOL.store(p, std::sync::atomic::Ordering::Relaxed);
}

/// An APR pool as a typed handle: `&'a Pool` is valid until the pool is
/// cleared, which is no sooner than `'a` ends.
#[repr(transparent)]
pub struct Pool(std::cell::UnsafeCell<raw::apr_pool_t>);

impl Pool {
    /// The handle of a pool.
    ///
    /// # Safety
    /// `p` is NULL or a live pool that is not cleared or destroyed during `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(p: *mut raw::apr_pool_t) -> Option<&'a Pool> {
        // SAFETY: repr(transparent) over the pool; validity as the contract says.
        unsafe { (p as *const Pool).as_ref() }
    }

    #[inline]
    pub fn as_ptr(&self) -> *mut raw::apr_pool_t {
        self.0.get()
    }

    /// The pool of this child process (None before child_init).
    pub fn child() -> Option<&'static Pool> {
        // SAFETY: NULL or the child's pool (set_child's contract), which lives until the process exits.
        unsafe { Pool::from_raw(CHILD_POOL.load(std::sync::atomic::Ordering::Relaxed)) }
    }

    /// Runs `f` when the pool is cleared or destroyed.
    pub fn on_cleanup<F: FnOnce() + 'static>(&self, f: F) {
        // SAFETY: live for the borrow.
        unsafe { on_cleanup(self.as_ptr(), f) }
    }

    /// Runs `f` when the pool is cleared, before the ordinary cleanups.
    pub fn on_pre_cleanup<F: FnOnce() + 'static>(&self, f: F) {
        // SAFETY: live for the borrow.
        unsafe { on_pre_cleanup(self.as_ptr(), f) }
    }

    /// The value kept under `key` by [`Pool::keep`], if any.
    pub fn kept<T: 'static>(&self, key: &'static std::ffi::CStr) -> Option<&T> {
        let mut existing: *mut c_void = std::ptr::null_mut();
        // SAFETY: live pool; key is NUL-terminated. Values under our keys are
        // only ever set by `keep` with the type its key stands for.
        unsafe {
            raw::apr_pool_userdata_get(&mut existing, key.as_ptr(), self.as_ptr());
            (existing as *const T).as_ref()
        }
    }

    /// Keeps `value` under `key` until the pool is cleared (then it is dropped).
    /// Each key must always be used with the same `T`.
    pub fn keep<T: 'static>(&self, key: &'static std::ffi::CStr, value: T) -> &T {
        // SAFETY: live pool; the value lives until the pool's cleanup drops it,
        // which is after every borrow of `self` ends.
        unsafe {
            let p = adopt(self.as_ptr(), value);
            raw::apr_pool_userdata_setn(p as *const c_void, key.as_ptr(), None, self.as_ptr());
            &*p
        }
    }
}
