//! Questions to httpd's MPM (ap_mpm_query).
use super::raw;

/// httpd's answer to `q` (one of raw::AP_MPMQ_*); 0 when the MPM cannot answer.
pub fn query(q: u32) -> i32 {
    let mut v: i32 = 0;
    // SAFETY: ap_mpm_query writes one int, and leaves it alone when it fails.
    unsafe { raw::ap_mpm_query(q as i32, &mut v) };
    v
}

/// How many worker threads each child runs: 1 for an MPM without threads
/// (prefork), whose one worker is the child's main thread.
pub fn threads_per_child() -> usize {
    if query(raw::AP_MPMQ_IS_THREADED) == raw::AP_MPMQ_NOT_SUPPORTED as i32 {
        1
    } else {
        query(raw::AP_MPMQ_MAX_THREADS).max(1) as usize
    }
}

/// The MPM's name ("event", "worker", "prefork").
pub fn name() -> String {
    // SAFETY: ap_show_mpm returns a static NUL-terminated string.
    unsafe { super::cstr_lossy(raw::ap_show_mpm()) }
}

/// When httpd last (re)started, in seconds since the epoch (0 when unknown).
pub fn restart_time() -> f64 {
    // SAFETY: the scoreboard image is NULL or set up by the MPM, with its global part.
    unsafe {
        let sb = raw::ap_scoreboard_image;
        if sb.is_null() || (*sb).global.is_null() {
            return 0.0;
        }
        (*(*sb).global).restart_time as f64 / 1e6
    }
}
