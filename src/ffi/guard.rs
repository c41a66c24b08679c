//! Every entry point httpd calls goes through here: a Rust panic becomes an
//! error-log line and a fallback value instead of unwinding into C (which
//! would abort the child and cut every connection it serves).
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; on panic logs it and returns `fallback`.
pub fn or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            crate::ffi::log::main_error(crate::ffi::log::APLOG_ERR, &format!("mod_pyrite: internal error (panic): {what}"));
            fallback
        }
    }
}

/// Installs a panic hook that stays quiet: the panic is logged by [`or`] with
/// httpd's logger, not printed to stderr mid-line.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}
