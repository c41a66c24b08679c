//! A daemon's worker threads: each takes a connection from the group's
//! socket only when it is free, confirms the pickup (so the child knows the
//! request is now this daemon's, or may go elsewhere), reads what the child
//! knows of the client, and runs the request through httpd's own request
//! processing, whose WSGI handler is the embedded one (src/wsgi).
use super::frame::Meta;
use crate::ffi::{self, daemon as hd, log, raw};
use crate::sync::LockExt;
use std::cell::RefCell;
use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The byte a daemon sends when it takes a connection.
pub const PICKED_UP: u8 = b'K';

/// What a daemon's threads share.
pub struct State {
    pub stopping: AtomicBool,
    pub in_flight: AtomicUsize,
    pub served: AtomicU64,
    /// Seconds since the epoch of the last finished request.
    pub last_done: AtomicU64,
    /// Per worker: when its request started (ms since the epoch), 0 when idle.
    pub started: Vec<AtomicU64>,
    reason: Mutex<Option<String>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl State {
    pub fn new(threads: usize) -> State {
        State {
            stopping: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            last_done: AtomicU64::new(now_ms() / 1000),
            started: (0..threads).map(|_| AtomicU64::new(0)).collect(),
            reason: Mutex::new(None),
        }
    }

    /// Why the daemon decided to stop by itself, if it did.
    pub fn reason(&self) -> Option<String> {
        self.reason.locked().clone()
    }

    /// Stops taking requests and lets the main thread drain and exit.
    pub fn request_stop(&self, why: String) {
        let mut r = self.reason.locked();
        if r.is_none() {
            *r = Some(why);
            self.stopping.store(true, Ordering::SeqCst);
            // SAFETY: a signal to this process, taken by the main thread's sigwait.
            unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
        }
    }
}

/// Held by the thread whose turn it is to take the next connection.
static ACCEPT_TURN: Mutex<()> = Mutex::new(());

thread_local! {
    /// What the child sent with the request this thread is serving.
    static META: RefCell<Option<Meta>> = const { RefCell::new(None) };
}

/// One worker thread: takes connections until the daemon stops.
///
/// # Safety
/// `pool` is this thread's own pool; `s` the main server of the running configuration.
pub unsafe fn worker(idx: usize, st: std::sync::Arc<State>, lfd: i32, pool: *mut raw::apr_pool_t, s: *mut raw::server_rec) {
    let spec = super::current().expect("a daemon");
    // SAFETY: s is the main server (caller's promise).
    let httpd_timeout = unsafe { hd::server_timeout_us(s) };
    let timeout = spec
        .socket_timeout
        .unwrap_or_else(|| Duration::from_micros(httpd_timeout.max(1_000_000) as u64));
    let mut pfd = libc::pollfd {
        fd: lfd,
        events: libc::POLLIN,
        revents: 0,
    };
    while !st.stopping.load(Ordering::SeqCst) {
        // One free thread per process waits on the socket (the others wait
        // for this lock), so a connection wakes one thread, not all of them.
        let fd = {
            let _turn = ACCEPT_TURN.locked();
            if st.stopping.load(Ordering::SeqCst) {
                break;
            }
            // SAFETY: polls the group's listener, which this process keeps open.
            let n = unsafe { libc::poll(&mut pfd, 1, 250) };
            if n <= 0 {
                continue;
            }
            // SAFETY: a non-blocking accept on the listener; EAGAIN when another daemon took it.
            unsafe { libc::accept4(lfd, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC) }
        };
        if fd < 0 {
            continue;
        }
        st.in_flight.fetch_add(1, Ordering::SeqCst);
        st.started[idx].store(now_ms(), Ordering::SeqCst);
        let id = ((std::process::id() as i64) << 20) + st.served.load(Ordering::Relaxed) as i64 * 64 + idx as i64;
        handle(fd, pool, s, id, timeout, &spec.name);
        st.started[idx].store(0, Ordering::SeqCst);
        st.last_done.store(now_ms() / 1000, Ordering::SeqCst);
        let served = st.served.fetch_add(1, Ordering::SeqCst) + 1;
        st.in_flight.fetch_sub(1, Ordering::SeqCst);
        if spec.maximum_requests > 0 && served >= spec.maximum_requests {
            st.request_stop(format!("maximum-requests={} reached", spec.maximum_requests));
        }
    }
}

fn set_timeouts(fd: i32, t: Duration) {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: sets a timeval option on a socket this thread owns.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
    }
}

/// Reads exactly `buf.len()` bytes; false on EOF, error or timeout.
fn read_exact(fd: i32, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reads into the unfilled part of buf.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr() as *mut libc::c_void, buf.len() - got) };
        if n > 0 {
            got += n as usize;
        } else if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        } else {
            return false;
        }
    }
    true
}

/// Whether the connecting process may hand requests over: root (httpd's
/// parent) or the user httpd's children run as (or socket-user=). The
/// socket's mode already says so; this holds even if its file was tampered with.
fn peer_allowed(fd: i32) -> Option<u32> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: reads the peer's credentials into cred.
    let ok = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut _ as *mut libc::c_void,
            &mut len,
        )
    } == 0;
    if !ok {
        return Some(u32::MAX);
    }
    let allowed = cred.uid == 0
        || cred.uid == hd::httpd_ids().0
        || super::current().and_then(|g| g.socket_user.as_deref()).and_then(super::process::user_id) == Some(cred.uid)
        // SAFETY: getuid has no preconditions (a daemon not started as root runs as httpd's own user).
        || cred.uid == unsafe { libc::getuid() };
    if allowed {
        None
    } else {
        Some(cred.uid)
    }
}

fn handle(fd: i32, pool: *mut raw::apr_pool_t, s: *mut raw::server_rec, id: i64, timeout: Duration, group: &str) {
    set_timeouts(fd, timeout);
    let close = || {
        // SAFETY: fd was accepted by this thread and is closed once.
        unsafe { libc::close(fd) };
    };
    if let Some(uid) = peer_allowed(fd) {
        log::serror(
            s,
            log::APLOG_ERR,
            &format!("mod_pyrite: daemon group {group:?}: refused a connection from uid {uid}"),
        );
        return close();
    }
    let mut head = [0u8; 8];
    if !read_exact(fd, &mut head) {
        return close(); // the child gave up
    }
    let meta = match Meta::body_len(&head).and_then(|n| {
        let mut body = vec![0u8; n];
        if read_exact(fd, &mut body) {
            Meta::decode(&body)
        } else {
            Err("the request frame was cut short".into())
        }
    }) {
        Ok(m) => m,
        Err(e) => {
            log::serror(s, log::APLOG_ERR, &format!("mod_pyrite: daemon group {group:?}: {e}"));
            return close();
        }
    };
    // The child waits for the pickup until its deadline (queue-timeout): past
    // it, the child has answered 503 and the request must not run.
    if let Some(deadline) = meta.get_str("deadline_ms").and_then(|v| v.parse::<u64>().ok()) {
        if super::frame::monotonic_ms() >= deadline {
            log::serror(
                s,
                log::APLOG_INFO,
                &format!("mod_pyrite: daemon group {group:?}: a request waited past its queue deadline and is not run"),
            );
            return close();
        }
    }
    // SAFETY: one byte to a socket this thread owns; no SIGPIPE. Sent before
    // the deadline, so the child finds it even if it looks at the last moment.
    if unsafe { libc::send(fd, &PICKED_UP as *const u8 as *const libc::c_void, 1, libc::MSG_NOSIGNAL) } != 1 {
        return close();
    }
    let port = |k: &str| meta.get_str(k).and_then(|v| v.parse().ok()).unwrap_or(0);
    let (client_ip, local_ip) = (
        meta.get_str("client_ip").unwrap_or("").to_string(),
        meta.get_str("local_ip").unwrap_or("").to_string(),
    );
    let peer = hd::Peer {
        client_ip: &client_ip,
        client_port: port("client_port"),
        local_ip: &local_ip,
        local_port: port("local_port"),
    };
    META.with(|m| *m.borrow_mut() = Some(meta.clone()));
    // SAFETY: fd is this thread's connected socket (serve_connection closes it);
    // pool is this thread's own; s is the main server.
    unsafe { hd::serve_connection(fd, pool, s, id, &peer) };
    META.with(|m| *m.borrow_mut() = None);
}

/// post_read_request in a daemon: gives the request what the child knew of
/// the client (protocol, address, user, variables, the headers it did not pass on).
///
/// # Safety
/// Called by httpd with a live request.
pub unsafe extern "C" fn post_read_request(r: *mut raw::request_rec) -> c_int {
    crate::guard::or(raw::DECLINED, || unsafe {
        if super::current().is_none() {
            return raw::DECLINED;
        }
        META.with(|m| {
            let m = m.borrow();
            let Some(meta) = m.as_ref() else { return };
            let p = (*r).pool;
            // One request per connection: the child decides about keep-alive with the client.
            (*(*r).connection).keepalive = raw::ap_conn_keepalive_e_AP_CONN_CLOSE;
            if let Some(proto) = meta.get_str("protocol") {
                (*r).protocol = ffi::pool::strdup(p, proto.as_bytes());
                if let Some((maj, min)) = proto.strip_prefix("HTTP/").and_then(|v| v.split_once('.')) {
                    let (maj, min) = (maj.parse::<i32>().unwrap_or(1), min.parse::<i32>().unwrap_or(1));
                    (*r).proto_num = maj * 1000 + min;
                }
            }
            if let Some(ip) = meta.get("useragent_ip") {
                (*r).useragent_ip = ffi::pool::strdup(p, ip);
            }
            if let Some(u) = meta.get("user") {
                (*r).user = ffi::pool::strdup(p, u);
            }
            if let Some(a) = meta.get("auth_type") {
                (*r).ap_auth_type = ffi::pool::strdup(p, a);
            }
            for (k, v) in meta.with_prefix("env:") {
                raw::apr_table_set((*r).subprocess_env, ffi::pool::strdup(p, k.as_bytes()), ffi::pool::strdup(p, v));
            }
            for (k, v) in meta.with_prefix("hdr:") {
                raw::apr_table_set((*r).headers_in, ffi::pool::strdup(p, k.as_bytes()), ffi::pool::strdup(p, v));
            }
            for (k, _) in meta.with_prefix("drop:") {
                raw::apr_table_unset((*r).headers_in, ffi::pool::strdup(p, k.as_bytes()));
            }
        });
        raw::DECLINED
    })
}

/// The daemon's watch over itself, once a second: httpd's parent gone,
/// restart-interval, inactivity-timeout, request-timeout.
pub fn monitor(st: std::sync::Arc<State>, spec: &super::options::GroupSpec, s: usize) {
    let s = s as *mut raw::server_rec;
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    let born = std::time::Instant::now();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        if st.stopping.load(Ordering::SeqCst) {
            return;
        }
        // SAFETY: as above.
        if unsafe { libc::getppid() } != parent {
            st.request_stop("httpd's parent is gone".into());
            return;
        }
        if let Some(t) = spec.restart_interval {
            if born.elapsed() >= t {
                st.request_stop(format!("restart-interval={}s reached", t.as_secs()));
                return;
            }
        }
        if let Some(t) = spec.inactivity_timeout {
            let idle = now_ms() / 1000 - st.last_done.load(Ordering::SeqCst);
            if st.in_flight.load(Ordering::SeqCst) == 0 && idle >= t.as_secs() {
                st.request_stop(format!("inactivity-timeout={}s reached", t.as_secs()));
                return;
            }
        }
        if let Some(t) = spec.request_timeout {
            let now = now_ms();
            let stuck = st
                .started
                .iter()
                .map(|a| a.load(Ordering::SeqCst))
                .filter(|&t0| t0 > 0 && now - t0 >= t.as_millis() as u64)
                .count();
            if stuck > 0 {
                log::serror(s, log::APLOG_ERR, &format!(
                    "mod_pyrite: daemon {} of group {:?}: {stuck} request(s) ran past request-timeout={}s; restarting the process (its requests are cut)",
                    std::process::id(), spec.name, t.as_secs()
                ));
                crate::metrics::groups::exiting(&format!("request-timeout={}s reached", t.as_secs()));
                // SAFETY: leaves at once, as request-timeout promises.
                unsafe { libc::_exit(3) };
            }
        }
    }
}
