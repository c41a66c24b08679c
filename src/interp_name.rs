//! The name of the interpreter a phase's handlers run in, chosen by
//! mod_python's rules: PythonInterpreter if set; with
//! PythonInterpPerDirectory the directory of the request's file; with
//! PythonInterpPerDirective the directory (or <Location>) the first handler
//! was declared in; otherwise the virtual host's name. None means the main
//! interpreter ("main_interpreter"): a directive-less handler, or a
//! per-directory request whose file is not known yet.
//!
//! Every name runs in the child's one main interpreter today; the name is
//! what req.interpreter reports, and the key a per-name interpreter would use.
use crate::config::{DirConfig, HandlerDecl};
use crate::ffi::{self, raw};

/// mod_python's name for the interpreter that exists before any other.
pub const MAIN: &str = "main_interpreter";

/// The interpreter name for `r`'s handlers configured by `conf`, the first
/// of which is `first` (None for code that runs outside a handler list).
///
/// # Safety
/// `r` is a live request.
pub unsafe fn for_request(r: *mut raw::request_rec, conf: Option<&DirConfig>, first: Option<&HandlerDecl>) -> Option<String> {
    unsafe {
        if let Some(name) = conf.and_then(|c| c.interpreter.clone()) {
            return Some(name);
        }
        let filename = ffi::cstr((*r).filename).filter(|f| !f.is_empty());
        if conf.is_some_and(|c| c.interp_per_directory == Some(true)) {
            let f = filename?;
            let is_dir = (*r).finfo.filetype == raw::apr_filetype_e_APR_DIR
                || std::fs::metadata(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(f)).is_ok_and(|m| m.is_dir());
            return pyrite_text::dirpath::containing_dir(f, is_dir).map(|d| String::from_utf8_lossy(&d).into_owned());
        }
        if conf.is_some_and(|c| c.interp_per_directive == Some(true)) {
            return first
                .and_then(|d| d.hlist_directory(filename).map(|s| s.into_owned()))
                .filter(|s| !s.is_empty());
        }
        Some(ffi::cstr_lossy((*(*r).server).server_hostname))
    }
}
