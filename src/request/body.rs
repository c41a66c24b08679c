//! Reading the request body for `req.read`, `req.readline` and `req.readlines`,
//! with the GIL released while httpd waits for the client.
use crate::ffi::request::Request;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

const BLOCK: usize = 64 * 1024;

/// The body's read state for one request.
#[derive(Default)]
pub struct Body {
    setup: bool,
    eof: bool,
    /// Read ahead of what the handler has consumed (readline's leftovers).
    buf: Vec<u8>,
    pos: usize,
}

/// What went wrong setting up or reading the body.
pub enum BodyError {
    /// httpd refused the body (411, 413, 501...): ends the handler with this status.
    Status(i32),
    Io(PyErr),
}

impl From<BodyError> for PyErr {
    fn from(e: BodyError) -> PyErr {
        match e {
            BodyError::Status(code) => Python::attach(|py| super::server_return::server_return(py, code)),
            BodyError::Io(e) => e,
        }
    }
}

impl Body {
    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn consume(&mut self, n: usize) -> Vec<u8> {
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        out
    }

    /// Sets up httpd's body reading once; chunked bodies are de-chunked.
    /// Called up front by the WSGI adapter, so a body httpd refuses (413 past
    /// LimitRequestBody) gets httpd's status before the application runs.
    pub fn ensure_setup(&mut self, r: &Request) -> Result<(), BodyError> {
        if self.setup {
            return Ok(());
        }
        self.setup = true;
        // Called with the GIL held: httpd 2.4's ap_setup_client_block and
        // ap_should_client_block only read the request's headers (a 100
        // Continue goes out with the first read), so releasing the GIL here
        // only cost every WSGI request a second GIL hand-over.
        let (rc, has_body) = r.setup_body();
        if rc != crate::ffi::raw::OK as i32 {
            self.eof = true;
            return Err(BodyError::Status(rc));
        }
        if !has_body {
            self.eof = true;
        }
        Ok(())
    }

    /// Reads one more block from the client into the buffer; false at the end.
    fn fill(&mut self, py: Python<'_>, r: &Request, want: usize) -> Result<bool, BodyError> {
        self.ensure_setup(r)?;
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let start = self.buf.len();
        let want = want.clamp(1, BLOCK);
        self.buf.resize(start + want, 0);
        let dst = &mut self.buf[start..];
        let rr = r.on_this_thread();
        let n = crate::interp::blocking(py, move || rr.read_body(dst));
        if n < 0 {
            self.buf.truncate(start);
            self.eof = true;
            return Err(BodyError::Io(PyOSError::new_err("Client read error (Timeout?)")));
        }
        self.buf.truncate(start + n as usize);
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        Ok(true)
    }

    /// Up to `n` bytes (all that is left for a negative n); b"" at the end.
    pub fn read(&mut self, py: Python<'_>, r: &Request, n: i64) -> Result<Vec<u8>, BodyError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        if n < 0 {
            let hint = r.remaining().max(0) as usize;
            self.buf.reserve(hint.min(64 << 20));
            while self.fill(py, r, BLOCK)? {}
            let len = self.buffered().len();
            return Ok(self.consume(len));
        }
        let n = n as usize;
        while self.buffered().len() < n {
            let need = n - self.buffered().len();
            if !self.fill(py, r, need)? {
                break;
            }
        }
        let len = self.buffered().len().min(n);
        Ok(self.consume(len))
    }

    /// The remaining lines, stopping once about `hint` bytes are read (hint > 0).
    pub fn readlines(&mut self, py: Python<'_>, r: &Request, hint: i64) -> Result<Vec<Vec<u8>>, BodyError> {
        let mut out = Vec::new();
        let mut total = 0i64;
        loop {
            let line = self.readline(py, r, -1)?;
            if line.is_empty() {
                break;
            }
            total += line.len() as i64;
            out.push(line);
            if hint > 0 && total >= hint {
                break;
            }
        }
        Ok(out)
    }

    /// One line including its b"\n", at most `limit` bytes when limit >= 0.
    pub fn readline(&mut self, py: Python<'_>, r: &Request, limit: i64) -> Result<Vec<u8>, BodyError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let cap = if limit < 0 { usize::MAX } else { limit as usize };
        let mut scanned = 0;
        loop {
            let avail = self.buffered();
            if let Some(i) = avail[scanned..].iter().position(|&b| b == b'\n') {
                let end = (scanned + i + 1).min(cap);
                return Ok(self.consume(end));
            }
            if avail.len() >= cap {
                return Ok(self.consume(cap));
            }
            scanned = avail.len();
            if !self.fill(py, r, 8192)? {
                let len = self.buffered().len().min(cap);
                return Ok(self.consume(len));
            }
        }
    }
}
