//! APR shared memory: an anonymous segment made before fork, shared by
//! every child forked after.
use super::pool::Pool;
use super::raw;
use std::ptr::NonNull;

/// A zeroed anonymous shared segment of `size` bytes (page aligned) that
/// lives until `pool` is cleared; the APR status when it cannot be made.
/// What the bytes mean, and who may touch them when, is the caller's layout.
pub fn anonymous(pool: &Pool, size: usize) -> Result<NonNull<u8>, raw::apr_status_t> {
    let mut shm: *mut raw::apr_shm_t = std::ptr::null_mut();
    // SAFETY: a live pool; a NULL file name asks for anonymous memory.
    let rv = unsafe { raw::apr_shm_create(&mut shm, size, std::ptr::null(), pool.as_ptr()) };
    if rv != 0 {
        return Err(rv);
    }
    // SAFETY: shm was just made; its base address is valid for `size` bytes.
    let base = unsafe { raw::apr_shm_baseaddr_get(shm) } as *mut u8;
    let base = NonNull::new(base).ok_or(libc::ENOMEM)?;
    // SAFETY: the segment is `size` writable bytes, not yet shared with anyone.
    unsafe { std::ptr::write_bytes(base.as_ptr(), 0, size) };
    Ok(base)
}
