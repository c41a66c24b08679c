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
//! finished page is ended by the module itself (`end_response`), so a small
//! one is on the wire before httpd looks for the client's next request.
use crate::ffi::{raw, SendPtr};
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
    pub fn carry_out_held(&mut self, py: Python<'_>, r: *mut raw::request_rec) {
        if std::mem::take(&mut self.held) && self.flush(py, r).is_err() {
            self.failed = true;
        }
    }

    pub fn write(&mut self, py: Python<'_>, r: *mut raw::request_rec, data: &[u8], flush: bool) -> Result<(), WriteFailed> {
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
    pub fn push(&mut self, py: Python<'_>, r: *mut raw::request_rec) -> Result<(), WriteFailed> {
        self.hand_over_buffer(py, r, false)
    }

    pub fn flush(&mut self, py: Python<'_>, r: *mut raw::request_rec) -> Result<(), WriteFailed> {
        if self.failed {
            return Err(WriteFailed);
        }
        self.hand_over_buffer(py, r, true)
    }

    /// Hands the whole buffer over, keeping its allocation for later writes.
    fn hand_over_buffer(&mut self, py: Python<'_>, r: *mut raw::request_rec, flush: bool) -> Result<(), WriteFailed> {
        let buf = std::mem::take(&mut self.buf);
        let res = self.hand_over(py, r, &buf, flush);
        self.buf = buf;
        self.buf.clear();
        res
    }

    fn hand_over(&mut self, py: Python<'_>, r: *mut raw::request_rec, data: &[u8], flush: bool) -> Result<(), WriteFailed> {
        if data.is_empty() && !flush {
            return Ok(());
        }
        self.sent |= !data.is_empty();
        let ok =
            if flush && !self.pending_in_httpd && data.len() <= SAFE_FLUSH && !crate::interp::contended() && unsafe { send_queue_empty(r) }
            {
                // SAFETY: r is live and served by this thread; the write cannot block (see module doc).
                unsafe { write_to_httpd(r, data, true) }
            } else {
                let rp = SendPtr(r);
                let d = SendPtr(data.as_ptr() as *mut u8);
                let len = data.len();
                // SAFETY: as above; `data` outlives the call and nothing else uses r meanwhile.
                crate::interp::blocking(py, move || unsafe {
                    let (rp, d) = (rp, d);
                    write_to_httpd(rp.0, std::slice::from_raw_parts(d.0, len), flush)
                })
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
///
/// # Safety
/// `r` is a live request served by the calling thread.
pub unsafe fn write_to_httpd(r: *mut raw::request_rec, data: &[u8], flush: bool) -> bool {
    let mut off = 0usize;
    while off < data.len() {
        let n = (data.len() - off).min(1 << 30);
        if unsafe { raw::ap_rwrite(data.as_ptr().add(off) as *const std::ffi::c_void, n as i32, r) } < 0 {
            return false;
        }
        off += n;
    }
    !flush || unsafe { raw::ap_rflush(r) } >= 0
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
///
/// # Safety
/// `r` is a live request served by the calling thread, in its content handler.
pub unsafe fn end_response(r: *mut raw::request_rec, data: &[u8]) -> std::ffi::c_int {
    let sent = unsafe { send_end(r, data) };
    if sent {
        return raw::OK as std::ffi::c_int;
    }
    // SAFETY: r and its connection are live.
    unsafe { (*(*r).connection).keepalive = raw::ap_conn_keepalive_e_AP_CONN_CLOSE };
    raw::DONE
}

/// The sending part of [`end_response`]; false when the client is gone.
///
/// # Safety
/// As for [`end_response`].
unsafe fn send_end(r: *mut raw::request_rec, data: &[u8]) -> bool {
    unsafe {
        if (*r).eos_sent != 0 || !(*r).main.is_null() {
            // Ended already (an internal redirect, say), or a subrequest, whose
            // page is part of another: httpd ends it as before.
            return data.is_empty() || write_to_httpd(r, data, false);
        }
        let c = (*r).connection;
        let bb = crate::ffi::brigade::Brigade::new((*r).pool, (*c).bucket_alloc);
        bb.append(data);
        // As httpd's own end of a request: the unread request body is read
        // first, and a body it could not read ends the connection after this.
        let status = raw::ap_discard_request_body(r);
        if status != raw::OK as i32 {
            bb.append_error(status, (*r).pool);
        }
        bb.append_eos();
        let ok = raw::ap_pass_brigade((*r).output_filters, bb.0) == 0;
        bb.cleanup();
        if !ok {
            return false;
        }
        if data.len() <= SAFE_FLUSH && send_queue_empty(r) {
            bb.append_flush();
            let ok = raw::ap_pass_brigade((*c).output_filters, bb.0) == 0;
            bb.cleanup();
            return ok;
        }
        true
    }
}

/// Whether the client's TCP send queue holds no bytes (so a small write fits).
/// False for anything but a plain top-level connection (HTTP/2 streams, say).
///
/// # Safety
/// `r` is a live request.
unsafe fn send_queue_empty(r: *mut raw::request_rec) -> bool {
    unsafe {
        let c = (*r).connection;
        if c.is_null() || !(*c).master.is_null() {
            return false;
        }
        let sock = raw::ap_get_conn_socket(c);
        if sock.is_null() {
            return false;
        }
        let mut fd: raw::apr_os_sock_t = -1;
        if raw::apr_os_sock_get(&mut fd, sock) != 0 || fd < 0 {
            return false;
        }
        let mut queued: libc::c_int = 0;
        libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) == 0 && queued == 0
    }
}

/// The first response header httpd would refuse to send (a name that is not
/// an HTTP token, or a value with a control character other than tab), as
/// "name" for the log. httpd checks the same when the headers go out, but if
/// body bytes were flushed first its 500 page carries a Content-Length that
/// counts them too; checking before the first flush keeps the refusal clean.
///
/// # Safety
/// `r` is a live request served by the calling thread.
pub unsafe fn refused_response_header(r: *mut raw::request_rec) -> Option<String> {
    use crate::wsgi::validate::{httpd_sends, is_field_byte};
    // SAFETY: r is live; content_type is null or a NUL-terminated string.
    let content_type = unsafe { (*r).content_type };
    if !content_type.is_null()
        && !unsafe { std::ffi::CStr::from_ptr(content_type) }
            .to_bytes()
            .iter()
            .all(|&b| is_field_byte(b))
    {
        return Some("Content-Type".to_string());
    }
    for t in unsafe { [(*r).headers_out, (*r).err_headers_out] } {
        if t.is_null() {
            continue;
        }
        // SAFETY: a live table of r; entries' key and val are NUL-terminated strings or null.
        for e in unsafe { crate::ffi::table::entries(t) } {
            if e.key.is_null() {
                continue;
            }
            let key = unsafe { std::ffi::CStr::from_ptr(e.key) }.to_bytes();
            let val = if e.val.is_null() {
                &b""[..]
            } else {
                unsafe { std::ffi::CStr::from_ptr(e.val) }.to_bytes()
            };
            if !httpd_sends(key, val) {
                return Some(String::from_utf8_lossy(key).into_owned());
            }
        }
    }
    None
}
