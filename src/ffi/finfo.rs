//! A file's status as APR reports it (`apr_finfo_t`), copied out of the
//! record into plain Rust values: req.finfo and apache.stat show these.
use super::{cstr, raw};

/// apr_file_info.h's flag for a filled `name` (a macro bindgen skips).
const APR_FINFO_NAME: i32 = 0x0200_0000;

/// The fields of an `apr_finfo_t` mod_python shows (times in microseconds).
pub struct FileInfo<'a> {
    pub protection: i64,
    pub inode: i64,
    pub device: i64,
    pub nlink: i64,
    pub user: i64,
    pub group: i64,
    pub size: i64,
    pub atime: raw::apr_time_t,
    pub mtime: raw::apr_time_t,
    pub ctime: raw::apr_time_t,
    pub fname: Option<&'a [u8]>,
    pub name: Option<&'a [u8]>,
    pub filetype: i64,
}

impl<'a> FileInfo<'a> {
    /// The info of a filled record, None when it names no file.
    ///
    /// # Safety
    /// `f`'s fname and name are NULL or strings valid for `'a`.
    pub(crate) unsafe fn of(f: &'a raw::apr_finfo_t) -> Option<FileInfo<'a>> {
        if f.filetype == raw::apr_filetype_e_APR_NOFILE {
            return None;
        }
        Some(FileInfo {
            protection: f.protection as i64,
            inode: f.inode as i64,
            device: f.device as i64,
            nlink: f.nlink as i64,
            user: f.user as i64,
            group: f.group as i64,
            size: f.size,
            atime: f.atime,
            mtime: f.mtime,
            ctime: f.ctime,
            // SAFETY: the contract.
            fname: unsafe { cstr(f.fname) },
            // SAFETY: the contract; `name` is filled only when asked for
            // (APR_FINFO_NAME): httpd's directory walk copies a stat made
            // without it, whose `name` is whatever was on the stack.
            name: if f.valid & APR_FINFO_NAME != 0 {
                unsafe { cstr(f.name) }
            } else {
                None
            },
            filetype: f.filetype as i64,
        })
    }
}

/// Why `stat` has no answer.
pub enum StatError {
    /// APR could not make the pool the call needs.
    NoPool,
    /// apr_stat's status: it filled nothing.
    Apr(i32),
}

/// `apr_stat` of `path` asking for the `wanted` fields (APR_FINFO_*), handed
/// to `f` (None when APR reports no file); the strings `f` sees live only
/// for the call.
pub fn stat<R>(path: &std::ffi::CStr, wanted: i32, f: impl FnOnce(Option<FileInfo<'_>>) -> R) -> Result<R, StatError> {
    let mut pool: *mut raw::apr_pool_t = std::ptr::null_mut();
    // SAFETY: a fresh top-level pool, destroyed below after `f` has copied what it needs.
    unsafe {
        if raw::apr_pool_create_ex(&mut pool, std::ptr::null_mut(), None, std::ptr::null_mut()) != 0 {
            return Err(StatError::NoPool);
        }
        let mut info = raw::apr_finfo_t::default();
        let rv = raw::apr_stat(&mut info, path.as_ptr(), wanted, pool);
        let out = if rv != 0 && info.valid == 0 {
            Err(StatError::Apr(rv))
        } else {
            // The strings are in `pool` (or `path`), alive until the destroy below.
            Ok(f(FileInfo::of(&info)))
        };
        raw::apr_pool_destroy(pool);
        out
    }
}
