//! What daemon mode asks of httpd and APR: watching forked processes from the
//! parent's maintenance loop (apr_proc_other_child), serving a connection on
//! a UNIX socket with httpd's own HTTP machinery, httpd's User and Group,
//! and the hooks a daemon leaves out.
use super::raw;
use std::ffi::{c_int, c_void};

extern "C" {
    // ap_listen.h (not among the bound headers).
    fn ap_close_listeners();
}

/// Why APR calls a watched process's maintenance function (apr_thread_proc.h).
pub const OC_DEATH: c_int = 0;
pub const OC_LOST: c_int = 4;

/// Called by APR in the parent: (reason, data, wait status).
pub type Maintenance = unsafe extern "C" fn(c_int, *mut c_void, c_int);

/// Asks httpd's parent to report `pid`'s death to `f` with `data`. The
/// registration lives in httpd's process pool, so it outlives restarts.
///
/// # Safety
/// `data` stays valid until `f` is called with OC_DEATH or OC_LOST and unwatches it.
pub unsafe fn watch(pid: i32, s: *mut raw::server_rec, f: Maintenance, data: *mut c_void) {
    unsafe {
        let pool = (*(*s).process).pool;
        let proc_ = raw::apr_palloc(pool, std::mem::size_of::<raw::apr_proc_t>()) as *mut raw::apr_proc_t;
        std::ptr::write_bytes(proc_, 0, 1);
        (*proc_).pid = pid;
        (*proc_).in_ = std::ptr::null_mut();
        raw::apr_proc_other_child_register(proc_, Some(f), data, std::ptr::null_mut(), pool);
    }
}

/// Ends a registration made by [`watch`].
///
/// # Safety
/// `data` was registered with [`watch`].
pub unsafe fn unwatch(data: *mut c_void) {
    unsafe { raw::apr_proc_other_child_unregister(data) };
}

/// Closes httpd's listening TCP sockets (in a daemon, which never serves them).
pub fn close_http_listeners() {
    // SAFETY: closes the listener records httpd opened; called once in a new daemon.
    unsafe { ap_close_listeners() };
}

/// httpd's User and Group ids (what its children run as).
pub fn httpd_ids() -> (u32, u32) {
    // SAFETY: a plain read of mod_unixd's configuration, set while reading the configuration.
    unsafe { (raw::ap_unixd_config.user_id, raw::ap_unixd_config.group_id) }
}

/// `DefaultRuntimeDir/<name>`.
///
/// # Safety
/// `s` is a live server record.
pub unsafe fn runtime_path(s: *mut raw::server_rec, name: &str) -> String {
    // SAFETY: the process pool of a live server; the result is a pool string.
    unsafe {
        let pool = (*(*s).process).pool;
        let n = super::pool::strdup(pool, name.as_bytes());
        super::cstr_lossy(raw::ap_runtime_dir_relative(pool, n))
    }
}

/// httpd's Timeout for a server, in microseconds.
///
/// # Safety
/// `s` is a live server record.
pub unsafe fn server_timeout_us(s: *mut raw::server_rec) -> i64 {
    // SAFETY: a live server record.
    unsafe { (*s).timeout }
}

/// Runs every module's child_init in a new daemon, as httpd does in a new child.
///
/// # Safety
/// `pool` is a pool for the daemon's life; `s` the main server.
pub unsafe fn run_child_init(pool: *mut raw::apr_pool_t, s: *mut raw::server_rec) {
    unsafe { raw::ap_run_child_init(pool, s) };
}

/// Drops the log_transaction hooks in a daemon: the child that handed the
/// request over writes the access log line, so it is not written twice.
pub fn drop_transaction_logging() {
    // SAFETY: the hook array httpd keeps for log_transaction; emptied before any request runs here.
    unsafe {
        let a = raw::ap_hook_get_log_transaction();
        if !a.is_null() {
            (*a).nelts = 0;
        }
    }
}

/// Drops the request and connection hooks of httpd's MPM in a daemon: the
/// connections a daemon serves are not the MPM's, and the event MPM's hooks
/// expect the connection state it keeps for its own.
pub fn drop_mpm_request_hooks() {
    // SAFETY: ap_show_mpm returns a static string; the shim edits httpd's hook
    // arrays before any request runs in this process.
    unsafe {
        let name = format!("{}.c\0", super::cstr_lossy(raw::ap_show_mpm()));
        raw::pyrite_shim_drop_mpm_request_hooks(name.as_ptr() as *const std::ffi::c_char);
    }
}

/// Whether httpd's scoreboard exists yet (not before pre_mpm at a first start).
pub fn scoreboard_exists() -> bool {
    // SAFETY: a plain query.
    unsafe { raw::ap_exists_scoreboard_image() != 0 }
}

/// A pool for a daemon's life (a child of the process pool).
///
/// # Safety
/// `s` is a live server record; called by one thread at a time.
pub unsafe fn daemon_pool(s: *mut raw::server_rec) -> *mut raw::apr_pool_t {
    let mut p: *mut raw::apr_pool_t = std::ptr::null_mut();
    // SAFETY: the process pool outlives the daemon.
    unsafe { raw::apr_pool_create_ex(&mut p, (*(*s).process).pool, None, std::ptr::null_mut()) };
    p
}

/// The addresses of the client's connection, as the child saw them.
pub struct Peer<'a> {
    pub client_ip: &'a str,
    pub client_port: u16,
    pub local_ip: &'a str,
    pub local_port: u16,
}

/// Serves one connection accepted on a daemon socket with httpd's own
/// connection and request processing, as a child serves a TCP connection,
/// with the client's addresses put where the child had them. Closes `fd`.
///
/// # Safety
/// `fd` is a connected socket this thread owns; `parent` a pool that outlives
/// the call and is not used by another thread meanwhile (a thread's own);
/// `s` the main server.
pub unsafe fn serve_connection(fd: i32, parent: *mut raw::apr_pool_t, s: *mut raw::server_rec, id: i64, peer: &Peer<'_>) {
    unsafe {
        let mut ptrans: *mut raw::apr_pool_t = std::ptr::null_mut();
        if raw::apr_pool_create_ex(&mut ptrans, parent, None, std::ptr::null_mut()) != 0 {
            libc::close(fd);
            return;
        }
        let ba = raw::apr_bucket_alloc_create(ptrans);
        let mut sock: *mut raw::apr_socket_t = std::ptr::null_mut();
        let mut os_fd: raw::apr_os_sock_t = fd;
        if raw::apr_os_sock_put(&mut sock, &mut os_fd, ptrans) != 0 {
            libc::close(fd);
            raw::apr_pool_destroy(ptrans);
            return;
        }
        // Reads and writes wait at most httpd's Timeout, as on a client connection.
        raw::apr_socket_timeout_set(sock, (*s).timeout);
        let c = raw::ap_run_create_connection(ptrans, s, sock, id as _, std::ptr::null_mut(), ba);
        if c.is_null() {
            libc::close(fd);
            raw::apr_pool_destroy(ptrans);
            return;
        }
        set_addr(ptrans, peer.local_ip, peer.local_port, &mut (*c).local_addr, &mut (*c).local_ip);
        set_addr(ptrans, peer.client_ip, peer.client_port, &mut (*c).client_addr, &mut (*c).client_ip);
        // One request, processed synchronously on this thread: no MPM
        // connection state exists here for the asynchronous path.
        (*c).set_clogging_input_filters(1);
        raw::ap_process_connection(c, sock as *mut c_void);
        // The response has left once flushed; the child reads it to the end
        // (no lingering close: the child closes only after it has read it all).
        raw::ap_flush_conn(c);
        raw::apr_socket_close(sock);
        raw::apr_pool_destroy(ptrans);
    }
}

/// Replaces a connection address with `ip:port` (kept when `ip` does not parse).
unsafe fn set_addr(pool: *mut raw::apr_pool_t, ip: &str, port: u16, addr: &mut *mut raw::apr_sockaddr_t, text: &mut *mut std::ffi::c_char) {
    if ip.is_empty() {
        return;
    }
    unsafe {
        let c_ip = super::pool::strdup(pool, ip.as_bytes());
        let mut sa: *mut raw::apr_sockaddr_t = std::ptr::null_mut();
        // Numeric addresses only: no name lookup happens.
        if raw::apr_sockaddr_info_get(&mut sa, c_ip, 0, port as _, 0, pool) == 0 && !sa.is_null() {
            *addr = sa;
            *text = c_ip;
        }
    }
}

/// Points this process's standard error at `vs`'s ErrorLog when that virtual
/// host has its own (a daemon's C-level and interpreter output then lands
/// where its group is declared, as under mod_wsgi).
///
/// # Safety
/// `vs` and `main` are servers of the running configuration; called while
/// the process is single-threaded.
pub unsafe fn stderr_to_error_log(vs: *mut raw::server_rec, main: *mut raw::server_rec) {
    unsafe {
        let log = (*vs).error_log;
        if log.is_null() || std::ptr::eq(log, (*main).error_log) {
            return;
        }
        let mut fd: raw::apr_os_file_t = -1;
        if raw::apr_os_file_get(&mut fd, log) == 0 && fd >= 0 && fd != libc::STDERR_FILENO {
            libc::dup2(fd, libc::STDERR_FILENO);
        }
    }
}
