//! A child hands a request to its daemon group and relays the response.
//!
//! The child takes a connection to the group it kept from an earlier request
//! (or connects to the group's socket), sends what it knows of the client
//! and the request head, and waits for a daemon to pick the request up (a
//! daemon takes one only with a free thread, and only before the deadline
//! the child wrote in the frame). A small request body goes with the head
//! (the child read it first and keeps it); of a larger one nothing is read
//! until the pickup. So a connection a daemon closed without picking the
//! request up (it was stopping, busy, or gone) is simply tried again, on a
//! new connection if need be, and one still waiting at the deadline
//! (queue-timeout) is answered 503 with Retry-After and is never run. Then
//! the child sends the body while it reads the response, so an application
//! that answers before reading its input cannot deadlock the two. Responses
//! are framed (Content-Length or chunked), so a connection whose exchange
//! ended cleanly is kept for the child's next request to the group.
use super::directives::Declared;
use super::frame::{Pairs, Writer};
use super::head;
use super::pickup::Claim;
use super::plan::Plan;
use crate::ffi::request::Request;
use crate::ffi::{self, log, os, raw};
use std::cell::RefCell;
use std::ffi::c_int;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Request headers that describe the client's connection, not the request:
/// kept for the application's environ but not sent to the daemon's httpd.
const HOP: [&str; 6] = ["connection", "keep-alive", "expect", "te", "upgrade", "proxy-connection"];

/// A connected, non-blocking socket to a daemon group; closed on drop.
struct Conn(OwnedFd);

impl Conn {
    #[inline]
    fn fd(&self) -> i32 {
        self.0.as_raw_fd()
    }
}

thread_local! {
    /// Connections this thread kept after a clean exchange, by socket path,
    /// for its next request to the same group. A thread's own: no lock, and
    /// a thread serves one request at a time, so one per group is enough.
    static KEPT: RefCell<Vec<(String, Conn)>> = const { RefCell::new(Vec::new()) };
}

/// A connection kept for `path`, with the key it was kept under (reused
/// when it is kept again: no allocation per request).
fn take_kept(path: &str) -> Option<(String, Conn)> {
    KEPT.with(|k| {
        let mut k = k.borrow_mut();
        let i = k.iter().position(|(p, _)| p == path)?;
        Some(k.swap_remove(i))
    })
}

fn keep(key: String, c: Conn) {
    KEPT.with(|k| k.borrow_mut().push((key, c)));
}

/// Connects to `path`. While the group's queue is full the connect itself
/// waits for room (until `deadline`); while the socket is missing or refuses
/// (httpd is starting the group) it is tried again after a short pause.
fn connect(path: &str, deadline: Instant) -> Result<Conn, String> {
    let mut pause = Duration::from_millis(2);
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        let e = match os::unix_connect(path, left) {
            Ok(fd) => return Ok(Conn(fd)),
            Err(libc::ENAMETOOLONG) => return Err("socket path too long".into()),
            Err(e) => e,
        };
        let retry = matches!(e, libc::EAGAIN | libc::ECONNREFUSED | libc::ENOENT | libc::EINTR);
        if !retry || Instant::now() + pause > deadline {
            return Err(std::io::Error::from_raw_os_error(e).to_string());
        }
        if e != libc::EAGAIN {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// Sends all of `data` on the non-blocking socket; false when the daemon
/// closed it or `deadline` (monotonic ms) passed.
fn send_all(c: &Conn, data: &[u8], deadline: u64) -> bool {
    let mut off = 0;
    while off < data.len() {
        let n = os::send_nosignal(c.fd(), &data[off..]);
        if n > 0 {
            off += n as usize;
            continue;
        }
        if n < 0 && matches!(os::last_errno(), libc::EAGAIN | libc::EINTR) {
            let left = deadline.saturating_sub(super::frame::monotonic_ms());
            if left == 0 {
                return false;
            }
            os::poll_one(&c.0, libc::POLLOUT, left.min(i32::MAX as u64) as i32);
            continue;
        }
        return false;
    }
    true
}

/// Puts `n` in decimal (no allocation).
fn push_num(w: &mut Writer<'_>, k: &str, mut n: u64) {
    let mut b = [0u8; 20];
    let mut i = b.len();
    loop {
        i -= 1;
        b[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    w.push(k, &b[i..]);
}

/// A pair named `prefix` then `name`; a name that is not UTF-8 goes
/// lossily (the daemon reads names as text).
fn push_named(w: &mut Writer<'_>, prefix: &str, name: &[u8], v: &[u8]) {
    match std::str::from_utf8(name) {
        Ok(_) => w.push_named(prefix, name, v),
        Err(_) => w.push_named(prefix, String::from_utf8_lossy(name).as_bytes(), v),
    }
}

/// Appends to `out` the bytes sent after the pickup: the frame, then the
/// HTTP request head.
#[allow(clippy::too_many_arguments)]
fn request_bytes(out: &mut Vec<u8>, r: &Request, group: &str, chunked: bool, deadline: u64, claim: Option<&Claim>, plan: Option<&Plan>) {
    let mut m = Writer::new(out);
    if let Some(p) = plan {
        p.push_into(&mut m);
    }
    let c = r.connection();
    m.push("group", group.as_bytes());
    push_num(&mut m, "deadline_ms", deadline);
    if let Some(cl) = claim {
        push_num(&mut m, "slot", cl.index() as u64);
        push_num(&mut m, "ticket", cl.ticket());
    }
    m.push("client_ip", c.client_ip().unwrap_or_default());
    if let Some((_, port)) = c.client_addr() {
        push_num(&mut m, "client_port", port as u64);
    }
    m.push("local_ip", c.local_ip().unwrap_or_default());
    if let Some((_, port)) = c.local_addr() {
        push_num(&mut m, "local_port", port as u64);
    }
    m.push("useragent_ip", r.useragent_ip().unwrap_or_default());
    m.push("protocol", r.protocol().unwrap_or(b"HTTP/1.1"));
    if let Some(u) = r.user() {
        m.push("user", u);
    }
    if let Some(a) = r.ap_auth_type() {
        m.push("auth_type", a);
    }
    if r.http_scheme() == Some(b"https") {
        m.push("env:HTTPS", b"on");
    }
    for (k, v) in r.subprocess_env().iter() {
        push_named(&mut m, "env:", k, v);
    }
    let is = |name: &[u8], what: &str| name.eq_ignore_ascii_case(what.as_bytes());
    let hop = |name: &[u8]| HOP.iter().any(|h| is(name, h));
    // The frame first: the client's connection headers, and what the head lacks.
    let mut host = false;
    let mut connection = false;
    for (name, val) in r.headers_in().iter() {
        connection |= is(name, "connection");
        if hop(name) {
            push_named(&mut m, "hdr:", name, val);
        } else {
            host |= is(name, "host");
        }
    }
    if !host {
        m.push("drop:Host", b"");
    }
    if !connection {
        m.push("drop:Connection", b"");
    }
    m.finish();
    out.extend_from_slice(r.method().unwrap_or(b"GET"));
    out.push(b' ');
    out.extend_from_slice(r.unparsed_uri().unwrap_or(b"/"));
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, val) in r.headers_in().iter() {
        if hop(name) || is(name, "transfer-encoding") || (chunked && is(name, "content-length")) {
            continue;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(val);
        out.extend_from_slice(b"\r\n");
    }
    if !host {
        // HTTP/1.1 needs one; the application sees none, as the client sent none.
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(r.server_name().unwrap_or(b"localhost"));
        out.extend_from_slice(b"\r\n");
    }
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Puts the daemon's status and headers on the request.
fn apply_head(r: &Request, h: &head::Head<'_>) {
    r.set_status(h.status as c_int);
    // "200 OK": the status (three digits, see head::parse) and the reason.
    let mut line = [0u8; 128];
    let reason = h.reason.as_bytes();
    if reason.len() + 4 <= line.len() {
        let code = [
            b'0' + (h.status / 100) as u8,
            b'0' + (h.status / 10 % 10) as u8,
            b'0' + (h.status % 10) as u8,
        ];
        line[..3].copy_from_slice(&code);
        line[3] = b' ';
        line[4..4 + reason.len()].copy_from_slice(reason);
        let _ = r.set_status_line(Some(&line[..4 + reason.len()]));
    } else {
        let _ = r.set_status_line(Some(format!("{} {}", h.status, h.reason).as_bytes()));
    }
    let out = r.headers_out();
    let any = |name: &[u8], of: &[&str]| of.iter().any(|o| name.eq_ignore_ascii_case(o.as_bytes()));
    for (name, v) in h.fields() {
        if any(
            name,
            &["connection", "keep-alive", "transfer-encoding", "date", "server", "x-pyrite-file"],
        ) {
            continue;
        }
        // A name that is not UTF-8 goes lossily (as the daemon reads names).
        let lossy;
        let name = match std::str::from_utf8(name) {
            Ok(_) => name,
            Err(_) => {
                lossy = String::from_utf8_lossy(name).into_owned();
                lossy.as_bytes()
            }
        };
        if name.eq_ignore_ascii_case(b"content-type") {
            let _ = r.set_content_type(v);
        } else if any(name, &["set-cookie", "www-authenticate", "proxy-authenticate"]) {
            // Repeated fields join into one, as httpd joins a script's (and
            // mod_wsgi's daemon mode does), except those that cannot be joined.
            let _ = out.add(name, v);
        } else {
            let _ = out.merge(name, v);
        }
    }
}

/// Answers 503 with Retry-After.
fn unavailable(r: &Request, retry_after: u64, why: &str) -> c_int {
    r.log(log::APLOG_ERR, why);
    let _ = r.err_headers_out().set(b"Retry-After", retry_after.max(1).to_string().as_bytes());
    raw::HTTP_SERVICE_UNAVAILABLE as c_int
}

/// Hands `r` to the group and relays the response; returns the handler's
/// status. With a `plan`, the daemon runs the application with it instead
/// of running httpd's request cycle again.
///
/// `r` is the request of the calling thread's content handler.
pub fn handle(r: &Request, g: &Declared, plan: Option<&Plan>) -> c_int {
    let spec = &g.spec;
    let name = &spec.name;
    let Some(running) = super::supervise::socket_of(name) else {
        r.log(
            log::APLOG_ERR,
            &format!("mod_pyrite: daemon process group {name:?} has no socket in this process"),
        );
        return raw::HTTP_INTERNAL_SERVER_ERROR as c_int;
    };
    let path = running.path.as_str();
    let socket_timeout = spec
        .socket_timeout
        .unwrap_or_else(|| Duration::from_micros(r.server().rec().timeout.max(1_000_000) as u64));
    let (rc, has_body) = r.setup_body();
    if rc != raw::OK as c_int {
        return rc;
    }
    let chunked = r.read_chunked() != 0;
    let mut bufs = Buffers::get();
    // A small body (a form, a JSON document) is read before the hand-over
    // and goes with the head: the request is then taken like one without a
    // body (no pickup byte, no round trip), and can still go again whole.
    // Not with Expect: 100-continue (the client waits for a daemon to take it).
    let small = has_body
        && !chunked
        && r.headers_in().get(b"Expect").is_none()
        && r.headers_in()
            .get(b"Content-Length")
            .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<usize>().ok())
            .is_some_and(|n| n <= SMALL_BODY);
    let mut body = std::mem::take(&mut bufs.out);
    body.clear();
    if small {
        body.resize(SMALL_BODY + 1, 0);
        let mut got = 0;
        loop {
            let n = r.read_body(&mut body[got..]);
            if n < 0 {
                r.log(
                    log::APLOG_INFO,
                    &format!("mod_pyrite: reading the request body for daemon group {name:?} failed"),
                );
                return raw::HTTP_BAD_REQUEST as c_int;
            }
            if n == 0 || got + n as usize > SMALL_BODY {
                break;
            }
            got += n as usize;
        }
        body.truncate(got);
    }
    let has_body = has_body && !small;
    let connect_deadline = Instant::now() + spec.connect_timeout;
    let pickup_wait = spec.queue_timeout.unwrap_or(socket_timeout);
    let pickup_deadline = super::frame::monotonic_ms() + pickup_wait.as_millis() as u64;
    // A request without a body still to read is taken through the shared
    // table (no byte, no wake-up); one with a body waits for the pickup
    // byte before its body is read from the client.
    let claim = if has_body { None } else { Claim::new() };
    // The frame, the request head (and a small body) go at once.
    let mut head = std::mem::take(&mut bufs.frame);
    head.clear();
    request_bytes(&mut head, r, name, chunked, pickup_deadline, claim.as_ref(), plan);
    head.extend_from_slice(&body);
    bufs.out = body;
    let x = Exchange {
        claim: claim.as_ref(),
        has_body,
        chunked,
        timeout: socket_timeout,
        pickup_deadline,
        head_max: spec.header_buffer_size,
        name,
    };
    loop {
        let (key, conn) = match take_kept(path) {
            Some(kc) => (Some(kc.0), kc.1),
            None => match connect(path, connect_deadline) {
                Ok(c) => (None, c),
                Err(e) => {
                    return unavailable(
                        r,
                        1,
                        &format!("mod_pyrite: cannot connect to daemon process group {name:?} at {path}: {e}"),
                    );
                }
            },
        };
        let outcome = if send_all(&conn, &head, pickup_deadline) {
            relay(r, &conn, &x, &mut bufs)
        } else {
            Outcome::NotTaken
        };
        match outcome {
            Outcome::Done(status, reusable) => {
                if reusable {
                    keep(key.unwrap_or_else(|| path.to_string()), conn);
                }
                bufs.frame = head;
                bufs.put();
                return status;
            }
            // Closed before the pickup (the daemon was stopping, busy or
            // gone): nothing of the request was used, so it goes again; a
            // kept connection whose daemon has gone costs only this turn.
            Outcome::NotTaken if Instant::now() < connect_deadline && super::frame::monotonic_ms() < pickup_deadline => continue,
            Outcome::NotTaken => {
                return unavailable(
                    r,
                    1,
                    &format!("mod_pyrite: daemon process group {name:?} closed every connection for connect-timeout"),
                );
            }
            Outcome::TimedOut => {
                let what = if spec.queue_timeout.is_some() {
                    "queue-timeout"
                } else {
                    "socket-timeout"
                };
                return unavailable(
                    r,
                    pickup_wait.as_secs(),
                    &format!(
                        "mod_pyrite: no daemon of process group {name:?} took the request within {what} ({}s)",
                        pickup_wait.as_secs()
                    ),
                );
            }
        }
    }
}

/// A thread's relay buffers, kept for its next request (no allocation and
/// no zeroing of 64 KB per request).
struct Buffers {
    read: Vec<u8>,
    out: Vec<u8>,
    decoded: Vec<u8>,
    inbuf: Vec<u8>,
    /// The frame and head of the request.
    frame: Vec<u8>,
}

thread_local! {
    static BUFFERS: std::cell::RefCell<Option<Buffers>> = const { std::cell::RefCell::new(None) };
}

impl Buffers {
    fn get() -> Buffers {
        BUFFERS.with(|b| b.borrow_mut().take()).unwrap_or_else(|| Buffers {
            read: vec![0u8; 64 * 1024],
            out: Vec::new(),
            decoded: Vec::new(),
            inbuf: Vec::new(),
            frame: Vec::new(),
        })
    }

    /// Gives the buffers back to the thread (not when one grew large).
    fn put(mut self) {
        let big = 256 << 10;
        if self.out.capacity() > big || self.inbuf.capacity() > big || self.decoded.capacity() > big || self.frame.capacity() > big {
            return;
        }
        self.out.clear();
        self.decoded.clear();
        self.inbuf.clear();
        BUFFERS.with(|b| *b.borrow_mut() = Some(self));
    }
}

/// What one exchange with a daemon needs to know.
struct Exchange<'a> {
    /// The request's slot, when the daemon takes it there (no pickup byte).
    claim: Option<&'a Claim>,
    has_body: bool,
    chunked: bool,
    timeout: Duration,
    /// Until when (monotonic ms) the child waits for the pickup.
    pickup_deadline: u64,
    head_max: usize,
    name: &'a str,
}

/// How an exchange ended.
enum Outcome {
    /// The handler's status, and whether the connection may carry another request.
    Done(c_int, bool),
    /// Closed before the pickup: the request may go again.
    NotTaken,
    /// No pickup before the deadline.
    TimedOut,
}

/// How much of the request body is read from the client at a time.
const BLOCK: usize = 64 * 1024;

/// A request body up to this size is read before the hand-over and sent
/// with the head (it fits a UNIX socket's send buffer).
const SMALL_BODY: usize = 64 * 1024;

/// Waits for the pickup, then sends the request body while it relays the
/// response, both at once, until the response's end.
///
fn relay(req: &Request, conn: &Conn, x: &Exchange<'_>, bufs: &mut Buffers) -> Outcome {
    let name = x.name;
    let fd = conn.fd();
    let Buffers {
        read: rbuf,
        out,
        decoded,
        inbuf,
        ..
    } = bufs;
    out.clear();
    inbuf.clear();
    let mut off = 0usize;
    let mut body_left = x.has_body;
    let mut sending = true;
    let mut picked = false;
    let mut last_look = false;
    let mut body: Option<head::Body> = None; // Some once the head is in
    let mut closes = false;
    let mut relayed = 0u64;
    let mut unflushed = false;
    // The status whose error page this child makes (the daemon sent no response).
    let mut error_page: Option<u16> = None;
    // A file the daemon passed for this child to send, and the part of it that is the body.
    let mut file: Option<(std::os::fd::OwnedFd, Option<(i64, i64)>)> = None;
    let head_only = req.header_only() != 0;
    let done = |status: c_int| Outcome::Done(status, false);
    loop {
        if picked && off == out.len() && body_left && sending {
            out.clear();
            off = 0;
            let at = if x.chunked { 10 } else { 0 }; // room for the chunk's size line
            out.resize(at + BLOCK, 0);
            let n = req.read_body(&mut out[at..at + BLOCK]);
            if n < 0 {
                req.log(
                    log::APLOG_INFO,
                    &format!("mod_pyrite: reading the request body for daemon group {name:?} failed"),
                );
                return done(if body.is_none() {
                    raw::HTTP_BAD_REQUEST as c_int
                } else {
                    raw::DONE
                });
            }
            let n = n as usize;
            out.truncate(at + n);
            if n == 0 {
                body_left = false;
                out.clear();
                if x.chunked {
                    out.extend_from_slice(b"0\r\n\r\n");
                }
            } else if x.chunked {
                let size = format!("{n:x}\r\n");
                off = at - size.len();
                out[off..at].copy_from_slice(size.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        let want_write = picked && sending && off < out.len();
        let wait = if picked {
            x.timeout.as_millis().min(i32::MAX as u128) as i32
        } else {
            let left = x.pickup_deadline.saturating_sub(super::frame::monotonic_ms());
            match x.claim {
                // Taken through the slot: from now on, the response's timeout.
                Some(cl) if cl.taken() => {
                    picked = true;
                    continue;
                }
                // Exactly one of this and the daemon's take wins.
                Some(cl) if left == 0 => {
                    if cl.abandon() {
                        return Outcome::TimedOut;
                    }
                    picked = true;
                    continue;
                }
                // A look at the slot each second, to start the response's timeout.
                Some(_) => left.min(1000) as i32,
                None => {
                    if left == 0 {
                        if last_look {
                            return Outcome::TimedOut;
                        }
                        last_look = true; // a pickup sent before the deadline is in by now
                    }
                    left.min(i32::MAX as u64) as i32
                }
            }
        };
        let (n, revents) = os::poll_one(&conn.0, libc::POLLIN | if want_write { libc::POLLOUT } else { 0 }, wait);
        if n == 0 {
            if !picked {
                continue;
            }
            if body.is_none() {
                req.log(
                    log::APLOG_ERR,
                    &format!(
                        "mod_pyrite: timeout ({}s) waiting for the response of daemon process group {name:?}",
                        x.timeout.as_secs()
                    ),
                );
                return done(raw::HTTP_GATEWAY_TIME_OUT as c_int);
            }
            req.log(
                log::APLOG_ERR,
                &format!("mod_pyrite: daemon process group {name:?} stopped sending the response"),
            );
            req.abort_response();
            return done(raw::DONE);
        }
        if n < 0 {
            continue; // EINTR
        }
        if want_write && revents & libc::POLLOUT != 0 {
            let w = os::send_nosignal(fd, &out[off..]);
            if w > 0 {
                off += w as usize;
            } else if w < 0 && !matches!(os::last_errno(), libc::EAGAIN | libc::EINTR) {
                // The daemon reads no more (its response is complete, or it is gone).
                sending = false;
                body_left = false;
            }
        }
        if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
            continue;
        }
        // Read what is there; flush to the client when the daemon pauses.
        let eof = loop {
            let (got, passed) = ffi::daemon::recv_with_fd(fd, rbuf);
            if got < 0 {
                match os::last_errno() {
                    libc::EAGAIN => break false,
                    libc::EINTR => continue,
                    _ => break true,
                }
            }
            if got == 0 {
                break true;
            }
            // A read shorter than the buffer most likely emptied the socket:
            // the next look is poll's (no read that would only say EAGAIN).
            let drained = (got as usize) < rbuf.len();
            let mut data = &rbuf[..got as usize];
            if let Some(f) = passed {
                // The descriptor rides on the marker byte, the last of this read.
                if data.last() != Some(&super::file_pass::MARKER) || file.is_some() {
                    req.log(
                        log::APLOG_ERR,
                        &format!("mod_pyrite: daemon process group {name:?} passed a file out of turn"),
                    );
                    return done(raw::HTTP_BAD_GATEWAY as c_int);
                }
                file = Some((f, None));
                data = &data[..data.len() - 1];
                if data.is_empty() {
                    continue;
                }
            }
            if !picked && x.claim.is_some() {
                picked = true; // a response comes only after the take
            }
            if !picked {
                if data[0] != super::serve::PICKED_UP {
                    req.log(
                        log::APLOG_ERR,
                        &format!("mod_pyrite: daemon process group {name:?} answered without a pickup"),
                    );
                    return done(raw::HTTP_BAD_GATEWAY as c_int);
                }
                picked = true;
                data = &data[1..];
            }
            if body.is_none() {
                // The head is parsed where it lies: in this read (the usual
                // case), or in what earlier reads left in inbuf.
                let held = !inbuf.is_empty();
                if held {
                    inbuf.extend_from_slice(data);
                }
                let src: &[u8] = if held { inbuf } else { data };
                let mut at = 0;
                loop {
                    match head::parse(&src[at..]) {
                        Ok(Some(h)) if h.interim() => at += h.len,
                        Ok(Some(h)) => {
                            match h.body(head_only) {
                                Ok(b) => body = Some(b),
                                Err(e) => {
                                    req.log(
                                        log::APLOG_ERR,
                                        &format!("mod_pyrite: bad response from daemon process group {name:?}: {e}"),
                                    );
                                    return done(raw::HTTP_BAD_GATEWAY as c_int);
                                }
                            }
                            closes = h.closes();
                            error_page = h.error_page();
                            if error_page.is_none() {
                                apply_head(req, &h);
                            }
                            if let Some((_, part)) = file.as_mut() {
                                *part = h.field(super::file_pass::FIELD).and_then(super::file_pass::part);
                                match part {
                                    Some((_, len)) => req.set_content_length(*len),
                                    None => {
                                        req.log(
                                            log::APLOG_ERR,
                                            &format!(
                                                "mod_pyrite: daemon process group {name:?} passed a file without saying which part to send"
                                            ),
                                        );
                                        return done(raw::HTTP_BAD_GATEWAY as c_int);
                                    }
                                }
                            }
                            at += h.len;
                            break;
                        }
                        Ok(None) if src.len() - at <= x.head_max => break,
                        Ok(None) => {
                            req.log(log::APLOG_ERR, &format!("mod_pyrite: response headers from daemon process group {name:?} are larger than header-buffer-size ({})", x.head_max));
                            return done(raw::HTTP_BAD_GATEWAY as c_int);
                        }
                        Err(e) => {
                            req.log(
                                log::APLOG_ERR,
                                &format!("mod_pyrite: bad response from daemon process group {name:?}: {e}"),
                            );
                            return done(raw::HTTP_BAD_GATEWAY as c_int);
                        }
                    }
                }
                if held {
                    inbuf.drain(..at);
                }
                if body.is_none() {
                    // Incomplete: what is left waits in inbuf for the next read.
                    if !held {
                        inbuf.extend_from_slice(&data[at..]);
                    }
                    if drained {
                        break false;
                    }
                    continue;
                }
                data = if held { &inbuf[..] } else { &data[at..] };
            }
            // This read's part of the body, whether the body ended in it, and
            // whether bytes followed its end.
            let (piece, ended, extra): (&[u8], bool, bool) = match body.as_mut() {
                Some(head::Body::Empty) => (&[], true, !data.is_empty()),
                Some(head::Body::Length(left)) => {
                    let n = (*left).min(data.len() as u64) as usize;
                    *left -= n as u64;
                    (&data[..n], *left == 0, data.len() > n)
                }
                Some(head::Body::Chunked(c)) => {
                    decoded.clear();
                    match c.feed(data, decoded) {
                        Ok(used) => (&decoded[..], c.done(), used < data.len()),
                        Err(e) => {
                            req.log(
                                log::APLOG_ERR,
                                &format!("mod_pyrite: bad chunked response from daemon process group {name:?}: {e}"),
                            );
                            req.abort_response();
                            return done(raw::DONE);
                        }
                    }
                }
                _ => (data, false, false),
            };
            // Kept only after a clean exchange: the whole request sent,
            // nothing after the response, the daemon keeping it open.
            let reusable = ended && !extra && !closes && !body_left && off == out.len() && sending;
            if ended && error_page.is_none() && file.is_none() {
                // The last of the body and its end go down httpd's filters
                // in one pass (most responses: the whole of it at once).
                return Outcome::Done(crate::request::output::end(req, piece), reusable);
            }
            if !piece.is_empty() && error_page.is_none() {
                relayed += piece.len() as u64;
                if !crate::request::output::send(req, piece, false) {
                    req.connection().close_after_response();
                    return done(raw::DONE);
                }
                unflushed = true;
            }
            inbuf.clear();
            if !ended && drained {
                break false;
            }
            if ended {
                if let Some(code) = error_page {
                    return Outcome::Done(code as c_int, reusable);
                }
                if let Some((f, Some((offset, len)))) = file.take() {
                    use std::os::fd::AsFd;
                    req.log(
                        log::APLOG_DEBUG,
                        &format!("mod_pyrite: daemon process group {name:?} passed its response's file: {len} bytes sent from here ({relayed} relayed)"),
                    );
                    if !req.send_file(&f.as_fd(), offset, len) {
                        req.connection().close_after_response();
                        return done(raw::DONE);
                    }
                }
                let status = crate::request::output::end(req, &[]);
                return Outcome::Done(status, reusable);
            }
        };
        if eof {
            return match body {
                // Closed with the slot still waiting: no daemon took it, none will.
                None if !picked && x.claim.is_none_or(|cl| !cl.taken()) => Outcome::NotTaken,
                None => {
                    req.log(log::APLOG_ERR, &format!(
                        "mod_pyrite: daemon process group {name:?} closed the connection before sending response headers (the daemon died or was stopped mid-request)"
                    ));
                    done(raw::HTTP_BAD_GATEWAY as c_int)
                }
                Some(head::Body::UntilClose) => done(crate::request::output::end(req, &[])),
                Some(_) => {
                    req.log(
                        log::APLOG_ERR,
                        &format!("mod_pyrite: daemon process group {name:?} ended the response early ({relayed} bytes relayed)"),
                    );
                    req.abort_response();
                    done(raw::DONE)
                }
            };
        }
        if unflushed {
            if req.flush() < 0 {
                return done(raw::DONE);
            }
            unflushed = false;
        }
    }
}
