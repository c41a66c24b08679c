//! Warnings about the configuration that httpd's error log should carry:
//! while the configuration is read the log is not open yet (a line written
//! then reaches only the terminal), so they wait for post_config.
use crate::ffi::log;
use crate::ffi::server::Server;
use crate::sync::LockExt;
use std::sync::Mutex;

static PENDING: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Keeps a warning for the error log (once, though httpd reads its configuration twice).
pub fn defer(msg: String) {
    let mut p = PENDING.locked();
    if !p.contains(&msg) {
        p.push(msg);
    }
}

/// Writes the kept warnings to the error log (post_config, real pass).
pub fn flush(s: &Server) {
    for msg in std::mem::take(&mut *PENDING.locked()) {
        s.log(log::APLOG_WARNING, &msg);
    }
}
