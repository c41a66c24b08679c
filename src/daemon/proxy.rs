//! A child hands a request to its daemon group and relays the response.
//!
//! The child connects to the group's socket, sends what it knows of the
//! client and the request head, and waits for a daemon to pick the
//! connection up (a daemon takes one only with a free thread, and only
//! before the deadline the child wrote in the frame). Until the pickup
//! nothing of the request body has been read, so a connection a daemon
//! closed without picking it up (it was stopping) is simply made again, and
//! one still waiting at the deadline (queue-timeout) is answered 503 with
//! Retry-After and is never run. Then the child sends the body while it
//! reads the response, so an application that answers before reading its
//! input cannot deadlock the two.
use super::directives::Declared;
use super::frame::Meta;
use super::head;
use crate::ffi::{self, log, raw, table};
use std::ffi::c_int;
use std::time::{Duration, Instant};

/// Request headers that describe the client's connection, not the request:
/// kept for the application's environ but not sent to the daemon's httpd.
const HOP: [&str; 6] = ["connection", "keep-alive", "expect", "te", "upgrade", "proxy-connection"];

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A connected, non-blocking socket to a daemon group; closed on drop.
struct Conn(i32);

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: the fd this Conn owns, closed once.
        unsafe { libc::close(self.0) };
    }
}

/// Connects to `path`, retrying while the group cannot take connections
/// (no socket yet, queue full) until `deadline`.
fn connect(path: &str, deadline: Instant) -> Result<Conn, String> {
    // SAFETY: a sockaddr_un filled here; socket calls on the new fd.
    unsafe {
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        if path.len() >= addr.sun_path.len() {
            return Err("socket path too long".into());
        }
        for (i, b) in path.bytes().enumerate() {
            addr.sun_path[i] = b as libc::c_char;
        }
        let mut pause = Duration::from_millis(5);
        loop {
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0);
            if fd < 0 {
                return Err(std::io::Error::last_os_error().to_string());
            }
            let c = Conn(fd);
            if libc::connect(
                fd,
                &addr as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_un>() as u32,
            ) == 0
            {
                return Ok(c);
            }
            let e = errno();
            let retry = matches!(e, libc::EAGAIN | libc::ECONNREFUSED | libc::ENOENT);
            if !retry || Instant::now() + pause > deadline {
                return Err(std::io::Error::from_raw_os_error(e).to_string());
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }
}

enum Pickup {
    Taken,
    /// Closed without a pickup: the daemon was stopping; nothing was sent.
    Closed,
    TimedOut,
}

/// Waits for the daemon's pickup byte until `deadline` (monotonic ms). A
/// daemon sends it only before the deadline, and it is looked for once more
/// after the wait, so a pickup is never missed.
fn wait_pickup(c: &Conn, deadline: u64) -> Pickup {
    let mut last_look = false;
    loop {
        let left = deadline.saturating_sub(super::frame::monotonic_ms());
        if left == 0 {
            if last_look {
                return Pickup::TimedOut;
            }
            last_look = true;
        }
        let mut p = libc::pollfd {
            fd: c.0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polls this Conn's fd.
        let n = unsafe { libc::poll(&mut p, 1, left.min(i32::MAX as u64) as i32) };
        if n == 0 {
            continue;
        }
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return Pickup::Closed;
        }
        let mut b = 0u8;
        // SAFETY: reads one byte into b.
        let got = unsafe { libc::recv(c.0, &mut b as *mut u8 as *mut libc::c_void, 1, 0) };
        return match got {
            1 if b == super::serve::PICKED_UP => Pickup::Taken,
            -1 if errno() == libc::EAGAIN || errno() == libc::EINTR => continue,
            _ => Pickup::Closed,
        };
    }
}

/// Sends all of `data` on the non-blocking socket; false when the daemon
/// closed it or `deadline` (monotonic ms) passed.
fn send_all(c: &Conn, data: &[u8], deadline: u64) -> bool {
    let mut off = 0;
    while off < data.len() {
        // SAFETY: sends from data; no SIGPIPE.
        let n = unsafe {
            libc::send(
                c.0,
                data[off..].as_ptr() as *const libc::c_void,
                data.len() - off,
                libc::MSG_NOSIGNAL,
            )
        };
        if n > 0 {
            off += n as usize;
            continue;
        }
        if n < 0 && matches!(errno(), libc::EAGAIN | libc::EINTR) {
            let left = deadline.saturating_sub(super::frame::monotonic_ms());
            if left == 0 {
                return false;
            }
            let mut p = libc::pollfd {
                fd: c.0,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: polls this Conn's fd.
            unsafe { libc::poll(&mut p, 1, left.min(i32::MAX as u64) as i32) };
            continue;
        }
        return false;
    }
    true
}

/// The bytes sent after the pickup: the frame, then the HTTP request head.
///
/// # Safety
/// `r` is a live request.
unsafe fn request_bytes(r: *mut raw::request_rec, group: &str, chunked: bool, deadline: u64) -> Vec<u8> {
    let mut m = Meta::default();
    unsafe {
        let c = (*r).connection;
        m.push("group", group.as_bytes());
        m.push("deadline_ms", deadline.to_string().as_bytes());
        m.push("client_ip", ffi::cstr((*c).client_ip).unwrap_or_default());
        if !(*c).client_addr.is_null() {
            m.push("client_port", (*(*c).client_addr).port.to_string().as_bytes());
        }
        m.push("local_ip", ffi::cstr((*c).local_ip).unwrap_or_default());
        if !(*c).local_addr.is_null() {
            m.push("local_port", (*(*c).local_addr).port.to_string().as_bytes());
        }
        m.push("useragent_ip", ffi::cstr((*r).useragent_ip).unwrap_or_default());
        m.push("protocol", ffi::cstr((*r).protocol).unwrap_or(b"HTTP/1.1"));
        if let Some(u) = ffi::cstr((*r).user) {
            m.push("user", u);
        }
        if let Some(a) = ffi::cstr((*r).ap_auth_type) {
            m.push("auth_type", a);
        }
        if ffi::cstr(raw::ap_run_http_scheme(r)) == Some(b"https") {
            m.push("env:HTTPS", b"on");
        }
        for e in table::entries((*r).subprocess_env) {
            let k = String::from_utf8_lossy(ffi::cstr(e.key).unwrap_or_default());
            m.push(&format!("env:{k}"), ffi::cstr(e.val).unwrap_or_default());
        }
        let mut h = Vec::with_capacity(1024);
        h.extend_from_slice(ffi::cstr((*r).method).unwrap_or(b"GET"));
        h.push(b' ');
        h.extend_from_slice(ffi::cstr((*r).unparsed_uri).unwrap_or(b"/"));
        h.extend_from_slice(b" HTTP/1.1\r\n");
        let mut host = false;
        let mut connection = false;
        for e in table::entries((*r).headers_in) {
            let name = ffi::cstr(e.key).unwrap_or_default();
            let val = ffi::cstr(e.val).unwrap_or_default();
            let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
            connection |= lower == "connection";
            if HOP.contains(&lower.as_str()) {
                m.push(&format!("hdr:{}", String::from_utf8_lossy(name)), val);
                continue;
            }
            if lower == "transfer-encoding" || (lower == "content-length" && chunked) {
                continue;
            }
            host |= lower == "host";
            h.extend_from_slice(name);
            h.extend_from_slice(b": ");
            h.extend_from_slice(val);
            h.extend_from_slice(b"\r\n");
        }
        if !host {
            // HTTP/1.1 needs one; the application sees none, as the client sent none.
            h.extend_from_slice(b"Host: ");
            h.extend_from_slice(ffi::cstr(raw::ap_get_server_name(r)).unwrap_or(b"localhost"));
            h.extend_from_slice(b"\r\n");
            m.push("drop:Host", b"");
        }
        if !connection {
            m.push("drop:Connection", b"");
        }
        if chunked {
            h.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
        h.extend_from_slice(b"Connection: close\r\n\r\n");
        let mut out = m.encode();
        out.extend_from_slice(&h);
        out
    }
}

/// Puts the daemon's status and headers on the request.
///
/// # Safety
/// `r` is a live request served by the calling thread.
unsafe fn apply_head(r: *mut raw::request_rec, h: &head::Head) -> Option<u64> {
    let mut length = None;
    unsafe {
        let p = (*r).pool;
        (*r).status = h.status as c_int;
        let line = format!("{} {}", h.status, h.reason);
        (*r).status_line = ffi::pool::strdup(p, line.as_bytes());
        for (name, v) in &h.fields {
            match name.to_ascii_lowercase().as_str() {
                "connection" | "keep-alive" | "transfer-encoding" | "date" | "server" => {}
                "content-type" => raw::ap_set_content_type(r, ffi::pool::strdup(p, v)),
                lower => {
                    if lower == "content-length" {
                        length = std::str::from_utf8(v).ok().and_then(|s| s.trim().parse().ok());
                    }
                    let (k, v) = (ffi::pool::strdup(p, name.as_bytes()), ffi::pool::strdup(p, v));
                    // Repeated fields join into one, as httpd joins a script's
                    // (and mod_wsgi's daemon mode does), except those that cannot be joined.
                    if matches!(lower, "set-cookie" | "www-authenticate" | "proxy-authenticate") {
                        raw::apr_table_add((*r).headers_out, k, v);
                    } else {
                        raw::apr_table_merge((*r).headers_out, k, v);
                    }
                }
            }
        }
    }
    length
}

/// Answers 503 with Retry-After.
///
/// # Safety
/// `r` is a live request.
unsafe fn unavailable(r: *mut raw::request_rec, retry_after: u64, why: &str) -> c_int {
    log::rerror(r, log::APLOG_ERR, why);
    unsafe {
        let v = ffi::pool::strdup((*r).pool, retry_after.max(1).to_string().as_bytes());
        raw::apr_table_setn((*r).err_headers_out, c"Retry-After".as_ptr(), v);
    }
    raw::HTTP_SERVICE_UNAVAILABLE as c_int
}

/// Hands `r` to the group and relays the response; returns the handler's status.
///
/// # Safety
/// `r` is a live request served by the calling thread, in its content handler.
pub unsafe fn handle(r: *mut raw::request_rec, g: &Declared) -> c_int {
    let spec = &g.spec;
    let name = &spec.name;
    let Some(path) = super::supervise::socket_of(name) else {
        log::rerror(
            r,
            log::APLOG_ERR,
            &format!("mod_pyrite: daemon process group {name:?} has no socket in this process"),
        );
        return raw::HTTP_INTERNAL_SERVER_ERROR as c_int;
    };
    let socket_timeout = spec
        .socket_timeout
        // SAFETY: r is live.
        .unwrap_or_else(|| Duration::from_micros(unsafe { ffi::daemon::server_timeout_us((*r).server) }.max(1_000_000) as u64));
    unsafe {
        let rc = raw::ap_setup_client_block(r, raw::REQUEST_CHUNKED_DECHUNK as c_int);
        if rc != raw::OK as c_int {
            return rc;
        }
    }
    let has_body = unsafe { raw::ap_should_client_block(r) } != 0;
    let chunked = unsafe { (*r).read_chunked } != 0;
    let connect_deadline = Instant::now() + spec.connect_timeout;
    let pickup_wait = spec.queue_timeout.unwrap_or(socket_timeout);
    let pickup_deadline = super::frame::monotonic_ms() + pickup_wait.as_millis() as u64;
    // The frame and the request head go at once; the body waits for the pickup.
    let head = unsafe { request_bytes(r, name, chunked, pickup_deadline) };
    let conn = loop {
        let c = match connect(&path, connect_deadline) {
            Ok(c) => c,
            Err(e) => {
                return unsafe {
                    unavailable(
                        r,
                        1,
                        &format!("mod_pyrite: cannot connect to daemon process group {name:?} at {path}: {e}"),
                    )
                }
            }
        };
        if !send_all(&c, &head, pickup_deadline) && Instant::now() < connect_deadline && super::frame::monotonic_ms() < pickup_deadline {
            continue; // the daemon closed it unread (it was stopping)
        }
        match wait_pickup(&c, pickup_deadline) {
            Pickup::Taken => break c,
            Pickup::Closed if Instant::now() < connect_deadline => continue,
            Pickup::Closed => {
                return unsafe {
                    unavailable(
                        r,
                        1,
                        &format!("mod_pyrite: daemon process group {name:?} closed every connection for connect-timeout"),
                    )
                }
            }
            Pickup::TimedOut => {
                let what = if spec.queue_timeout.is_some() {
                    "queue-timeout"
                } else {
                    "socket-timeout"
                };
                return unsafe {
                    unavailable(
                        r,
                        pickup_wait.as_secs(),
                        &format!(
                            "mod_pyrite: no daemon of process group {name:?} took the request within {what} ({}s)",
                            pickup_wait.as_secs()
                        ),
                    )
                };
            }
        }
    };
    let mut out = Vec::new();
    unsafe { relay(r, &conn, &mut out, has_body, chunked, socket_timeout, spec.header_buffer_size, name) }
}

/// Sends the request (head, then body) and relays the response, both at once.
///
/// # Safety
/// As for [`handle`].
#[allow(clippy::too_many_arguments)]
unsafe fn relay(
    r: *mut raw::request_rec,
    conn: &Conn,
    out: &mut Vec<u8>,
    has_body: bool,
    chunked: bool,
    timeout: Duration,
    head_max: usize,
    name: &str,
) -> c_int {
    let fd = conn.0;
    let mut off = 0usize;
    let mut body_left = has_body;
    let mut sending = true;
    let mut inbuf: Vec<u8> = Vec::new();
    let mut started: Option<Option<u64>> = None; // Some(declared length) once the head is in
    let mut relayed = 0u64;
    let mut unflushed = false;
    let mut rbuf = vec![0u8; 64 * 1024];
    let mut cbuf = vec![0u8; 64 * 1024];
    loop {
        if off == out.len() && body_left && sending {
            out.clear();
            off = 0;
            // SAFETY: r is live; cbuf is writable for its length.
            let n = unsafe { raw::ap_get_client_block(r, cbuf.as_mut_ptr() as *mut std::ffi::c_char, cbuf.len() as _) };
            if n < 0 {
                log::rerror(
                    r,
                    log::APLOG_INFO,
                    &format!("mod_pyrite: reading the request body for daemon group {name:?} failed"),
                );
                return if started.is_none() {
                    raw::HTTP_BAD_REQUEST as c_int
                } else {
                    raw::DONE
                };
            }
            if n == 0 {
                body_left = false;
                if chunked {
                    out.extend_from_slice(b"0\r\n\r\n");
                }
            } else if chunked {
                out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                out.extend_from_slice(&cbuf[..n as usize]);
                out.extend_from_slice(b"\r\n");
            } else {
                out.extend_from_slice(&cbuf[..n as usize]);
            }
        }
        let want_write = sending && off < out.len();
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN | if want_write { libc::POLLOUT } else { 0 },
            revents: 0,
        };
        // SAFETY: polls the daemon connection.
        let n = unsafe { libc::poll(&mut p, 1, timeout.as_millis().min(i32::MAX as u128) as i32) };
        if n == 0 {
            if started.is_none() {
                log::rerror(
                    r,
                    log::APLOG_ERR,
                    &format!(
                        "mod_pyrite: timeout ({}s) waiting for the response of daemon process group {name:?}",
                        timeout.as_secs()
                    ),
                );
                return raw::HTTP_GATEWAY_TIME_OUT as c_int;
            }
            log::rerror(
                r,
                log::APLOG_ERR,
                &format!("mod_pyrite: daemon process group {name:?} stopped sending the response"),
            );
            unsafe { raw::pyrite_shim_abort_response(r) };
            return raw::DONE;
        }
        if n < 0 {
            continue; // EINTR
        }
        if want_write && p.revents & libc::POLLOUT != 0 {
            // SAFETY: sends from the unsent part of out; no SIGPIPE.
            let w = unsafe { libc::send(fd, out[off..].as_ptr() as *const libc::c_void, out.len() - off, libc::MSG_NOSIGNAL) };
            if w > 0 {
                off += w as usize;
            } else if w < 0 && !matches!(errno(), libc::EAGAIN | libc::EINTR) {
                // The daemon reads no more (its response is complete, or it is gone).
                sending = false;
                body_left = false;
            }
        }
        if p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
            continue;
        }
        // Read what is there; flush to the client when the daemon pauses.
        let eof = loop {
            // SAFETY: reads into rbuf.
            let got = unsafe { libc::recv(fd, rbuf.as_mut_ptr() as *mut libc::c_void, rbuf.len(), 0) };
            if got < 0 {
                match errno() {
                    libc::EAGAIN | libc::EINTR => break false,
                    _ => break true,
                }
            }
            if got == 0 {
                break true;
            }
            let data = &rbuf[..got as usize];
            let body: &[u8] = match started {
                Some(_) => data,
                None => {
                    inbuf.extend_from_slice(data);
                    match head::parse(&inbuf) {
                        Ok(Some(h)) => {
                            started = Some(unsafe { apply_head(r, &h) });
                            inbuf.drain(..h.len);
                            &inbuf[..]
                        }
                        Ok(None) if inbuf.len() <= head_max => continue,
                        Ok(None) => {
                            log::rerror(r, log::APLOG_ERR, &format!("mod_pyrite: response headers from daemon process group {name:?} are larger than header-buffer-size ({head_max})"));
                            return raw::HTTP_BAD_GATEWAY as c_int;
                        }
                        Err(e) => {
                            log::rerror(
                                r,
                                log::APLOG_ERR,
                                &format!("mod_pyrite: bad response from daemon process group {name:?}: {e}"),
                            );
                            return raw::HTTP_BAD_GATEWAY as c_int;
                        }
                    }
                }
            };
            if !body.is_empty() {
                relayed += body.len() as u64;
                // SAFETY: r is live and served by this thread.
                if !unsafe { crate::request::output::write_to_httpd(r, body, false) } {
                    unsafe { (*(*r).connection).keepalive = raw::ap_conn_keepalive_e_AP_CONN_CLOSE };
                    return raw::DONE;
                }
                unflushed = true;
            }
            if started.is_some() && !inbuf.is_empty() {
                inbuf.clear();
            }
        };
        if eof {
            return match started {
                None => {
                    log::rerror(r, log::APLOG_ERR, &format!(
                        "mod_pyrite: daemon process group {name:?} closed the connection before sending response headers (the daemon died or was stopped mid-request)"
                    ));
                    raw::HTTP_BAD_GATEWAY as c_int
                }
                // SAFETY: r is live.
                Some(Some(len)) if relayed < len && unsafe { (*r).header_only == 0 && !matches!((*r).status, 204 | 304) } => {
                    log::rerror(
                        r,
                        log::APLOG_ERR,
                        &format!("mod_pyrite: daemon process group {name:?} ended the response after {relayed} of {len} bytes"),
                    );
                    unsafe { raw::pyrite_shim_abort_response(r) };
                    raw::DONE
                }
                // SAFETY: r is live, in its content handler.
                Some(_) => unsafe { crate::request::output::end_response(r, &[]) },
            };
        }
        if unflushed {
            // SAFETY: r is live and served by this thread.
            if unsafe { raw::ap_rflush(r) } < 0 {
                return raw::DONE;
            }
            unflushed = false;
        }
    }
}
