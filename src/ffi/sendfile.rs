//! Sending part of an open file through httpd's file buckets (sendfile where
//! the platform and filters allow).
use super::raw;

/// Sends `len` bytes of `fd` from `offset`. The descriptor is duplicated into
/// the request pool, so the bucket stays valid even if httpd sets it aside
/// past the caller's close(). Returns false when the client is gone.
///
/// # Safety
/// `r` is a live request served by the calling thread; `fd` is open for reading.
pub unsafe fn send_file(r: *mut raw::request_rec, fd: i32, offset: i64, len: i64) -> bool {
    // SAFETY: the contract: a live request on this thread; fd open for reading; the file and bucket live in the request pool.
    unsafe {
        let pool = (*r).pool;
        let mut borrowed: *mut raw::apr_file_t = std::ptr::null_mut();
        let mut os_fd: raw::apr_os_file_t = fd;
        if raw::apr_os_file_put(&mut borrowed, &mut os_fd, raw::APR_FOPEN_READ as i32, pool) != 0 {
            return false;
        }
        let mut owned: *mut raw::apr_file_t = std::ptr::null_mut();
        if raw::apr_file_dup(&mut owned, borrowed, pool) != 0 {
            return false;
        }
        let c = (*r).connection;
        let bb = raw::apr_brigade_create(pool, (*c).bucket_alloc);
        raw::apr_brigade_insert_file(bb, owned, offset, len as raw::apr_off_t, pool);
        raw::ap_pass_brigade((*r).output_filters, bb) == 0
    }
}

/// The descriptor of a Python file object (its `fileno()`), borrowed for as
/// long as the caller holds the object: the object owns the descriptor and
/// closes it only when closed or freed, which the borrow of `file` puts off
/// for this thread (an application closing it meanwhile from another thread
/// breaks the file object's own contract, as for any C extension using it).
pub fn python_file_fd<'a>(file: &'a pyo3::Bound<'_, pyo3::PyAny>) -> Option<std::os::fd::BorrowedFd<'a>> {
    use pyo3::prelude::*;
    let fd: i32 = file.call_method0("fileno").ok()?.extract().ok()?;
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is the file object's own open descriptor (fileno()), and the
    // object, borrowed for 'a, keeps it open while it lives.
    Some(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
}

/// The size of the regular file open as `fd`; None for anything else (a pipe,
/// a socket, a descriptor that is not open).
pub fn regular_file_size(fd: i32) -> Option<i64> {
    // SAFETY: stat is plain data, valid all zero.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat only writes into `st`, whatever `fd` is (a bad one is EBADF).
    if unsafe { libc::fstat(fd, &mut st) } != 0 || (st.st_mode & libc::S_IFMT) != libc::S_IFREG {
        return None;
    }
    Some(st.st_size)
}
