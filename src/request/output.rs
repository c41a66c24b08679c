//! The response body a handler writes, and when it crosses into httpd.
//!
//! Writes collect in a buffer owned by the request. They reach httpd's
//! filters when the handler flushes (mod_python's `req.write` flushes by
//! default), when the buffer passes 64 KB, or after the handler returns and
//! the GIL is released. Handing data to httpd can block on a slow client, so
//! it happens with the GIL released, except for one case that cannot block: a
//! small flush onto a connection whose kernel send queue is empty and on
//! which nothing is left pending in httpd (the kernel then has room for all
//! of it). That case is the common one (a page written and flushed at once),
//! and sparing it a GIL hand-off is what keeps threads from queueing. A
//! finished page is ended by the module itself (`end`), so a small
//! one is on the wire before httpd looks for the client's next request.
use crate::ffi::brigade::BucketBrigade;
use crate::ffi::raw;
use crate::ffi::request::Request;
use pyo3::prelude::*;

/// Unflushed output that makes httpd hand data on by itself.
const HAND_OVER_AT: usize = 64 * 1024;
/// A flush of at most this much (body plus a margin for headers) fits in any
/// TCP send buffer Linux allows (at least 4608 bytes) when the queue is empty.
const SAFE_FLUSH: usize = 4096 - 1024;

#[derive(Default)]
pub struct Output {
    buf: Vec<u8>,
    /// Some data went to httpd.
    sent: bool,
    /// Data went to httpd without a flush: it may still sit in httpd's filters.
    pending_in_httpd: bool,
    /// A flush was asked for and is held back (see held_flush): to the
    /// handler the response has started.
    pub held: bool,
    /// A held flush found the client gone: the next write says so.
    pub failed: bool,
}

/// Why output could not be handed over: the client went away.
pub struct WriteFailed;

impl Output {
    /// Whether anything reached httpd (after which the status line is fixed).
    pub fn sent(&self) -> bool {
        self.sent || self.held
    }

    /// Drops what was written but not yet handed over (before an error page).
    pub fn discard(&mut self) {
        self.buf.clear();
        self.held = false;
    }

    /// Takes what is still buffered, to be handed over after the GIL is released.
    pub fn take(&mut self) -> Vec<u8> {
        self.held = false;
        std::mem::take(&mut self.buf)
    }

    /// Carries out a held flush (see held_flush).
    pub fn carry_out_held(&mut self, py: Python<'_>, r: &Request) {
        if std::mem::take(&mut self.held) && self.flush(py, r).is_err() {
            self.failed = true;
        }
    }

    pub fn write(&mut self, py: Python<'_>, r: &Request, data: &[u8], flush: bool) -> Result<(), WriteFailed> {
        if self.failed {
            return Err(WriteFailed);
        }
        if self.buf.is_empty() && data.len() >= HAND_OVER_AT {
            // Large write: hand it over directly, without copying.
            self.hand_over(py, r, data, flush)?;
            return Ok(());
        }
        self.buf.extend_from_slice(data);
        if flush || self.buf.len() >= HAND_OVER_AT {
            self.hand_over_buffer(py, r, flush)?;
        }
        Ok(())
    }

    /// Hands what is buffered to httpd without a flush (before a file bucket follows it).
    pub fn push(&mut self, py: Python<'_>, r: &Request) -> Result<(), WriteFailed> {
        self.hand_over_buffer(py, r, false)
    }

    pub fn flush(&mut self, py: Python<'_>, r: &Request) -> Result<(), WriteFailed> {
        if self.failed {
            return Err(WriteFailed);
        }
        self.hand_over_buffer(py, r, true)
    }

    /// Hands the whole buffer over, keeping its allocation for later writes.
    fn hand_over_buffer(&mut self, py: Python<'_>, r: &Request, flush: bool) -> Result<(), WriteFailed> {
        let buf = std::mem::take(&mut self.buf);
        let res = self.hand_over(py, r, &buf, flush);
        self.buf = buf;
        self.buf.clear();
        res
    }

    fn hand_over(&mut self, py: Python<'_>, r: &Request, data: &[u8], flush: bool) -> Result<(), WriteFailed> {
        if data.is_empty() && !flush {
            return Ok(());
        }
        self.sent |= !data.is_empty();
        let ok = if flush && !self.pending_in_httpd && data.len() <= SAFE_FLUSH && !crate::interp::contended() && send_queue_empty(r) {
            // The write cannot block (see module doc): no GIL hand-off.
            send(r, data, true)
        } else {
            let rr = r.on_this_thread();
            crate::interp::blocking(py, move || send(&rr, data, flush))
        };
        self.pending_in_httpd = !flush;
        if ok {
            Ok(())
        } else {
            Err(WriteFailed)
        }
    }
}

/// ap_rwrite (in pieces under 2 GB) and optionally ap_rflush; false when the client is gone.
pub fn send(r: &Request, data: &[u8], flush: bool) -> bool {
    for piece in data.chunks(1 << 30) {
        if r.write(piece) < 0 {
            return false;
        }
    }
    !flush || r.flush() >= 0
}

/// Ends a successful response: the last of the body and the end-of-stream
/// marker in one pass (so httpd can still add a Content-Length), then, when
/// the response is small and the connection idle, a flush to the connection.
///
/// Why the flush: httpd's core output filter keeps a response under 4 KB back
/// until the request is over, and only then looks for the client's next
/// request. The response has not left yet, so that look finds nothing and
/// the connection goes back to the MPM's listener: a thread switch to park it
/// and two more to wake a worker for the next request. Sent now, the client's
/// next request is usually there by the time httpd looks, and the same
/// worker goes on with it, as it does for static files. A small write to an
/// empty send queue cannot block. The unread request body is read first, as
/// httpd does before it ends a request.
///
/// Returns what the handler hook returns to httpd: OK, or DONE when the
/// client is gone (the connection is then not kept alive).
pub fn end(r: &Request, data: &[u8]) -> std::ffi::c_int {
    if send_end(r, data) {
        return raw::OK as std::ffi::c_int;
    }
    r.connection().close_after_response();
    raw::DONE
}

/// The sending part of [`end`]; false when the client is gone.
fn send_end(r: &Request, data: &[u8]) -> bool {
    if r.eos_sent() || r.main().is_some() {
        // Ended already (an internal redirect, say), or a subrequest, whose
        // page is part of another: httpd ends it as before.
        return data.is_empty() || send(r, data, false);
    }
    let c = r.connection();
    let bb = BucketBrigade::new_in(r.pool(), c);
    bb.append(data);
    // As httpd's own end of a request: the unread request body is read
    // first, and a body it could not read ends the connection after this.
    let status = r.discard_body();
    if status != raw::OK as i32 {
        bb.append_error(status, r.pool());
    }
    bb.append_eos();
    let ok = r.pass_output(bb) == 0;
    bb.cleanup();
    if !ok {
        return false;
    }
    // A daemon flushes each response as it ends it (src/ffi/daemon.rs).
    if data.len() <= SAFE_FLUSH && !IN_A_DAEMON.load(std::sync::atomic::Ordering::Relaxed) && send_queue_empty(r) {
        bb.append_flush();
        let ok = c.pass_output(bb) == 0;
        bb.cleanup();
        return ok;
    }
    true
}

/// Whether the client's TCP send queue holds no bytes (so a small write fits).
/// False for anything but a plain top-level connection (HTTP/2 streams, say).
fn send_queue_empty(r: &Request) -> bool {
    let c = r.connection();
    !c.is_secondary() && c.send_queue_empty()
}

/// The first response header httpd would refuse to send (a name that is not
/// an HTTP token, or a value with a control character other than tab), as
/// "name" for the log. httpd checks the same when the headers go out, but if
/// body bytes were flushed first its 500 page carries a Content-Length that
/// counts them too; checking before the first flush keeps the refusal clean.
pub fn refused_header(r: &Request) -> Option<String> {
    use pyrite_text::validate::{httpd_sends, is_field_byte};
    if let Some(ct) = r.content_type() {
        if !ct.iter().all(|&b| is_field_byte(b)) {
            return Some("Content-Type".to_string());
        }
    }
    for t in [r.headers_out(), r.err_headers_out()] {
        for (key, val) in t.pairs() {
            if !httpd_sends(key, val) {
                return Some(String::from_utf8_lossy(key).into_owned());
            }
        }
    }
    None
}

/// Set once in a daemon process (daemon mode), which flushes each response
/// itself: `end` then leaves the flush to it. Set at the daemon's start by
/// src/daemon, which sits above this module.
static IN_A_DAEMON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// This process is a daemon of daemon mode (see `IN_A_DAEMON`).
pub fn note_in_a_daemon() {
    IN_A_DAEMON.store(true, std::sync::atomic::Ordering::Relaxed);
}
