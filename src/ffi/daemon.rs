//! What daemon mode asks of httpd and APR: watching forked processes from the
//! parent's maintenance loop (apr_proc_other_child), serving a connection on
//! a UNIX socket with httpd's own HTTP machinery, httpd's User and Group,
//! and the hooks a daemon leaves out.
use super::raw;
use std::ffi::{c_int, c_void};

extern "C" {
    // ap_listen.h and http_vhost.h (not among the bound headers).
    fn ap_close_listeners();
    fn ap_update_vhost_given_ip(c: *mut raw::conn_rec);
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
    // SAFETY: s is a live server (its process pool outlives the registration); data as the contract says.
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
    // SAFETY: data was registered with watch (the contract).
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
    // SAFETY: a pool for the daemon's life and the main server (the contract).
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

/// A connection from a child, accepted on a daemon socket and kept across
/// requests (HTTP keep-alive on the UNIX socket). It has its own pool with
/// its own allocator, so whichever worker thread serves its next request may
/// use it; the client's addresses, which change from request to request,
/// live in a small pool cleared each time.
pub struct Connection {
    fd: i32,
    pool: *mut raw::apr_pool_t,
    addrs: *mut raw::apr_pool_t,
    c: *mut raw::conn_rec,
    sock: *mut raw::apr_socket_t,
    /// Reused for every read of a frame (nothing accumulates in the pool).
    bb: *mut raw::apr_bucket_brigade,
    /// Reused for the flush after each response served without httpd's request cycle.
    out: *mut raw::apr_bucket_brigade,
    /// The socket's own addresses, put back before each request's.
    own: [(*mut raw::apr_sockaddr_t, *mut std::ffi::c_char); 2],
    served: u32,
}

/// Requests one connection carries before the daemon closes it (after a
/// response; the child's next request then takes a new one): whatever a
/// module leaves in the connection's pool per request is bounded.
const REQUESTS_PER_CONNECTION: u32 = 10_000;

// SAFETY: a Connection is used by one thread at a time (the daemon's registry
// hands it from thread to thread under a lock), and its pool has an allocator
// of its own, so no other thread allocates from it meanwhile.
unsafe impl Send for Connection {}

impl Connection {
    /// Makes httpd's connection record for `fd` (a connected socket the
    /// caller gives up) and runs the pre_connection hooks, as httpd does for
    /// a new client connection; None (with `fd` closed) when that fails.
    pub fn open(fd: std::os::fd::OwnedFd, s: &super::server::Server, id: i64) -> Option<Connection> {
        use std::os::fd::IntoRawFd;
        let s = s.as_ptr();
        let fd = fd.into_raw_fd();
        // SAFETY: s is a live server record (a handle) of the running
        // configuration, and fd a socket given up by its owner: the new
        // connection owns it (closed here on failure, or when dropped).
        unsafe {
            let mut alloc: *mut raw::apr_allocator_t = std::ptr::null_mut();
            if raw::apr_allocator_create(&mut alloc) != 0 {
                libc::close(fd);
                return None;
            }
            let mut pool: *mut raw::apr_pool_t = std::ptr::null_mut();
            // The process pool's allocator is locked for its children's creation.
            if raw::apr_pool_create_ex(&mut pool, (*(*s).process).pool, None, alloc) != 0 {
                raw::apr_allocator_destroy(alloc);
                libc::close(fd);
                return None;
            }
            raw::apr_allocator_owner_set(alloc, pool);
            // Keeps at most 256 KB of freed memory for the next requests.
            raw::apr_allocator_max_free_set(alloc, 256 << 10);
            let mut addrs: *mut raw::apr_pool_t = std::ptr::null_mut();
            raw::apr_pool_create_ex(&mut addrs, pool, None, std::ptr::null_mut());
            let ba = raw::apr_bucket_alloc_create(pool);
            let mut sock: *mut raw::apr_socket_t = std::ptr::null_mut();
            let mut os_fd: raw::apr_os_sock_t = fd;
            if addrs.is_null() || raw::apr_os_sock_put(&mut sock, &mut os_fd, pool) != 0 {
                libc::close(fd);
                raw::apr_pool_destroy(pool);
                return None;
            }
            // Reads and writes wait at most httpd's Timeout, as on a client connection.
            raw::apr_socket_timeout_set(sock, (*s).timeout);
            let c = raw::ap_run_create_connection(pool, s, sock, id as _, std::ptr::null_mut(), ba);
            let bb = raw::apr_brigade_create(pool, ba);
            let out = raw::apr_brigade_create(pool, ba);
            let mut conn = Connection {
                fd,
                pool,
                addrs,
                c,
                sock,
                bb,
                out,
                own: [(std::ptr::null_mut(), std::ptr::null_mut()); 2],
                served: 0,
            };
            if c.is_null() {
                return None; // dropped: closes fd
            }
            conn.own = [((*c).local_addr, (*c).local_ip), ((*c).client_addr, (*c).client_ip)];
            // No MPM connection state exists here for the asynchronous path:
            // requests are processed synchronously on the serving thread.
            (*c).set_clogging_input_filters(1);
            let rc = raw::ap_run_pre_connection(c, sock as *mut c_void);
            if rc != raw::OK as c_int && rc != raw::DONE {
                return None;
            }
            Some(conn)
        }
    }

    /// The socket's descriptor (what the daemon's poller watches).
    pub fn fd(&self) -> i32 {
        self.fd
    }

    /// Reads exactly `buf.len()` bytes through the connection's input
    /// filters (httpd may already hold the bytes: after a response it looks
    /// for a next request, and takes what is there off the socket), waiting
    /// at most httpd's Timeout; false on EOF, error or timeout.
    pub fn read_exact(&mut self, buf: &mut [u8]) -> bool {
        let mut got = 0;
        while got < buf.len() {
            // SAFETY: the connection's own filters and brigade, used by this
            // thread alone; flatten copies at most the room left in buf.
            unsafe {
                let rv = raw::ap_get_brigade(
                    (*self.c).input_filters,
                    self.bb,
                    raw::ap_input_mode_t_AP_MODE_READBYTES,
                    raw::apr_read_type_e_APR_BLOCK_READ,
                    (buf.len() - got) as _,
                );
                if rv != 0 {
                    raw::apr_brigade_cleanup(self.bb as *mut c_void);
                    return false;
                }
                let mut len = (buf.len() - got) as raw::apr_size_t;
                let rv = raw::apr_brigade_flatten(self.bb, buf[got..].as_mut_ptr() as *mut std::ffi::c_char, &mut len);
                raw::apr_brigade_cleanup(self.bb as *mut c_void);
                if rv != 0 || len == 0 {
                    return false;
                }
                got += len as usize;
            }
        }
        true
    }

    /// httpd already holds the start of the next request (it came while the
    /// last one was finishing), so the socket will not signal it.
    pub fn pending(&self) -> bool {
        // SAFETY: a field of the live connection record.
        unsafe { (*self.c).data_in_input_filters != 0 }
    }

    /// Serves the request waiting on the connection, the client's addresses
    /// put where the child had them: with httpd's own request processing, or,
    /// given `handler`, with only httpd's reading of the request (and its
    /// post_read_request hooks), then `handler` as the content handler and
    /// httpd's ending of the response (no translation, directory walk,
    /// access, type or fixup hooks: the child ran them). True when the
    /// connection may carry another request. (`&mut self`: the one thread
    /// now using this connection; when no request is waiting, httpd's read
    /// waits at most its Timeout.)
    pub fn serve_one(&mut self, peer: &Peer<'_>, handler: Option<&mut dyn FnMut(&super::request::Request) -> c_int>) -> bool {
        // SAFETY: only this thread uses the connection now, and its pool and records live as long as self.
        unsafe {
            let c = self.c;
            // The last request's addresses go with the pool cleared here.
            [((*c).local_addr, (*c).local_ip), ((*c).client_addr, (*c).client_ip)] = self.own;
            raw::apr_pool_clear(self.addrs);
            set_addr(self.addrs, peer.local_ip, peer.local_port, &mut (*c).local_addr, &mut (*c).local_ip);
            set_addr(
                self.addrs,
                peer.client_ip,
                peer.client_port,
                &mut (*c).client_addr,
                &mut (*c).client_ip,
            );
            // The virtual host follows the address the client reached.
            ap_update_vhost_given_ip(c);
            // The connection is the daemon's, not a client's: no request limit.
            (*c).keepalives = 0;
            (*c).keepalive = raw::ap_conn_keepalive_e_AP_CONN_UNKNOWN;
            let r = raw::ap_read_request(c);
            if r.is_null() {
                return false;
            }
            if (*r).status != raw::HTTP_OK as c_int {
                // Not processed, so its pool is not released: end the connection.
                return false;
            }
            match (handler, super::request::Request::from_raw(r)) {
                (Some(h), Some(req)) => {
                    // What ap_process_request does around the content handler.
                    let status = match h(req) {
                        raw::DONE => raw::OK as c_int,
                        s => s,
                    };
                    if status == raw::OK as c_int {
                        raw::ap_finalize_request_protocol(r);
                    } else {
                        (*r).status = raw::HTTP_OK as c_int;
                        raw::ap_die(status, r);
                    }
                    // Ends the request (its pool goes with the end-of-request
                    // bucket) and flushes the response, in one pass. Unlike
                    // ap_process_request_after_handler, no read looks for a
                    // pipelined request (a syscall that finds nothing): a child
                    // sends its next request on this connection only once it
                    // has this whole response, so none is held here already,
                    // and one that comes now is seen by the daemon's poller.
                    raw::pyrite_shim_end_request_flushed(r, self.out);
                    (*c).data_in_input_filters = 0;
                }
                // Ends with the response flushed (no more input is pending).
                _ => raw::ap_process_request(r),
            }
            self.served += 1;
            (*c).keepalive == raw::ap_conn_keepalive_e_AP_CONN_KEEPALIVE && (*c).aborted == 0 && self.served < REQUESTS_PER_CONNECTION
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: the socket and pool this Connection owns, released once;
        // destroying the pool also destroys its allocator (its owner).
        unsafe {
            if !self.sock.is_null() {
                raw::apr_socket_close(self.sock);
            } else {
                libc::close(self.fd);
            }
            raw::apr_pool_destroy(self.pool);
        }
    }
}

/// Replaces a connection address with `ip:port` (kept when `ip` does not parse).
unsafe fn set_addr(pool: *mut raw::apr_pool_t, ip: &str, port: u16, addr: &mut *mut raw::apr_sockaddr_t, text: &mut *mut std::ffi::c_char) {
    if ip.is_empty() {
        return;
    }
    // SAFETY: the address strings are NUL-terminated copies in the connection's pool, which outlives the call.
    unsafe {
        let c_ip = super::pool::strdup(pool, ip.as_bytes());
        // The usual numeric address is filled in here: apr_sockaddr_info_get
        // would ask getaddrinfo (and allocate and free its answer) each time.
        if let Ok(parsed) = ip.parse::<std::net::IpAddr>() {
            *addr = numeric_sockaddr(pool, parsed, port, c_ip);
            *text = c_ip;
            return;
        }
        let mut sa: *mut raw::apr_sockaddr_t = std::ptr::null_mut();
        // Numeric addresses only, with their family named: an unnamed family
        // makes the resolver ask the kernel for the host's addresses
        // (AI_ADDRCONFIG, two netlink dumps) on every request.
        let family = if ip.contains(':') { libc::AF_INET6 } else { libc::AF_INET };
        if raw::apr_sockaddr_info_get(&mut sa, c_ip, family, port as _, 0, pool) == 0 && !sa.is_null() {
            *addr = sa;
            *text = c_ip;
        }
    }
}

/// An APR address for `ip:port` in `pool`, as apr_sockaddr_info_get makes
/// one for a numeric host (`host` becomes its hostname).
///
/// # Safety
/// `pool` is a live pool and `host` a string in it.
unsafe fn numeric_sockaddr(
    pool: *mut raw::apr_pool_t,
    ip: std::net::IpAddr,
    port: u16,
    host: *mut std::ffi::c_char,
) -> *mut raw::apr_sockaddr_t {
    // SAFETY: a zeroed apr_sockaddr_t from the pool (as APR's own pcalloc),
    // filled as apr_sockaddr_vars_set does; ipaddr_ptr points into itself.
    unsafe {
        let sa = raw::apr_palloc(pool, std::mem::size_of::<raw::apr_sockaddr_t>()) as *mut raw::apr_sockaddr_t;
        std::ptr::write_bytes(sa, 0, 1);
        (*sa).pool = pool;
        (*sa).hostname = host;
        (*sa).port = port;
        match ip {
            std::net::IpAddr::V4(v4) => {
                (*sa).family = libc::AF_INET;
                (*sa).sa.sin.sin_family = libc::AF_INET as _;
                (*sa).sa.sin.sin_port = port.to_be();
                (*sa).sa.sin.sin_addr.s_addr = u32::from_ne_bytes(v4.octets());
                (*sa).salen = std::mem::size_of::<libc::sockaddr_in>() as _;
                (*sa).addr_str_len = 16;
                (*sa).ipaddr_ptr = std::ptr::addr_of_mut!((*sa).sa.sin.sin_addr) as *mut c_void;
                (*sa).ipaddr_len = 4;
            }
            std::net::IpAddr::V6(v6) => {
                (*sa).family = libc::AF_INET6;
                (*sa).sa.sin6.sin6_family = libc::AF_INET6 as _;
                (*sa).sa.sin6.sin6_port = port.to_be();
                std::ptr::copy_nonoverlapping(v6.octets().as_ptr(), std::ptr::addr_of_mut!((*sa).sa.sin6.sin6_addr) as *mut u8, 16);
                (*sa).salen = std::mem::size_of::<libc::sockaddr_in6>() as _;
                (*sa).addr_str_len = 46;
                (*sa).ipaddr_ptr = std::ptr::addr_of_mut!((*sa).sa.sin6.sin6_addr) as *mut c_void;
                (*sa).ipaddr_len = 16;
            }
        }
        sa
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
    // SAFETY: servers of the running configuration, on a single-threaded process (the contract).
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

/// Sends the one byte `marker` on the UNIX socket `sock` with a copy of the
/// descriptor `fd` attached (SCM_RIGHTS); false when it could not go at once.
pub fn send_fd(sock: i32, fd: std::os::fd::BorrowedFd<'_>, marker: u8) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = [marker];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr() as *mut c_void,
        iov_len: 1,
    };
    // Room for one descriptor's control message, aligned as cmsghdr wants.
    let mut control = [0u64; 8];
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<i32>() as u32) } as usize;
    // SAFETY: msghdr is plain data, valid all zero.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut c_void;
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer has room for one cmsghdr and an int (space <= 64
    // bytes); iov points at `byte`; a failed send changes nothing and raises no SIGPIPE.
    unsafe {
        let cm = libc::CMSG_FIRSTHDR(&msg);
        (*cm).cmsg_level = libc::SOL_SOCKET;
        (*cm).cmsg_type = libc::SCM_RIGHTS;
        (*cm).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<i32>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cm) as *mut i32, fd.as_raw_fd());
        libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) == 1
    }
}

/// Receives into `buf` from the UNIX socket `sock` (a non-blocking read),
/// with the descriptor a peer attached to these bytes, if any: the byte
/// count (or -1 with errno set) and that descriptor, owned.
pub fn recv_with_fd(sock: i32, buf: &mut [u8]) -> (isize, Option<std::os::fd::OwnedFd>) {
    use std::os::fd::FromRawFd;
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut c_void,
        iov_len: buf.len(),
    };
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data, valid all zero.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut c_void;
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: iov covers buf; the kernel writes at most msg_controllen bytes of
    // control data; received descriptors are close-on-exec.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n <= 0 || msg.msg_controllen == 0 {
        return (n as isize, None);
    }
    let mut got = None;
    // SAFETY: walks the control messages the kernel wrote into `control`;
    // each SCM_RIGHTS descriptor is now this process's and is owned (closed) here.
    unsafe {
        let mut cm = libc::CMSG_FIRSTHDR(&msg);
        while !cm.is_null() {
            if (*cm).cmsg_level == libc::SOL_SOCKET && (*cm).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cm) as *const i32;
                let count = ((*cm).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<i32>();
                for i in 0..count {
                    let fd = std::os::fd::OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i)));
                    // One is expected; any other is closed as it drops.
                    if got.is_none() {
                        got = Some(fd);
                    }
                }
            }
            cm = libc::CMSG_NXTHDR(&msg, cm);
        }
    }
    (n as isize, got)
}
