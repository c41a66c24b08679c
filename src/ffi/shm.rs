//! Anonymous shared memory from APR: made in httpd's parent, inherited by
//! every process it forks afterwards, unmapped with the pool it was made in.

use super::raw;

/// `size` zeroed, page-aligned bytes shared with the processes forked later,
/// or None when APR cannot make them.
///
/// # Safety
/// `pool` is a live pool; the bytes stay mapped until it is cleared, so the
/// caller stops using the pointer in a cleanup registered on the same pool
/// after this call (cleanups run in reverse order).
pub unsafe fn anonymous(pool: *mut raw::apr_pool_t, size: usize) -> Option<*mut u8> {
    let mut shm: *mut raw::apr_shm_t = std::ptr::null_mut();
    // SAFETY: a NULL file name asks for an anonymous mapping, owned by `pool`.
    if unsafe { raw::apr_shm_create(&mut shm, size, std::ptr::null(), pool) } != 0 {
        return None;
    }
    // SAFETY: a mapping of `size` bytes that nothing else uses yet.
    unsafe {
        let base = raw::apr_shm_baseaddr_get(shm) as *mut u8;
        std::ptr::write_bytes(base, 0, size);
        Some(base)
    }
}
