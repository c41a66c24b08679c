//! request_rec as a typed handle. httpd hands a hook a raw pointer; the hook
//! turns it into `&'a Request` once (`Request::from_raw`), and code above
//! `src/ffi` reads and changes the record only through these methods. `'a`
//! is at most the life of the request's pool; everything borrowed from the
//! request (its tables, pool, connection) is tied to that borrow.
use super::connection::Connection;
use super::filter::Filter;
use super::pool::Pool;
use super::server::Server;
use super::table::Table;
use super::{cstr, raw};
use std::cell::UnsafeCell;

/// One request (httpd's `request_rec`). Never owned: only `&Request` exists.
/// The `UnsafeCell` says httpd may change the record behind a shared borrow;
/// it also keeps the handle to its thread (`!Sync`, so `&Request` is `!Send`).
#[repr(transparent)]
pub struct Request(UnsafeCell<raw::request_rec>);

impl Request {
    /// The handle of a request record.
    ///
    /// # Safety
    /// `r` is NULL or a live request_rec that stays valid (its pool not
    /// cleared) for `'a`, used only by the calling thread meanwhile.
    #[inline]
    pub unsafe fn from_raw<'a>(r: *mut raw::request_rec) -> Option<&'a Request> {
        // SAFETY: Request is repr(transparent) over the record; validity as the contract says.
        unsafe { (r as *const Request).as_ref() }
    }

    /// The raw record, for the bindings in `src/ffi` and for identity comparisons.
    #[inline]
    pub fn as_ptr(&self) -> *mut raw::request_rec {
        self.0.get()
    }

    #[inline]
    fn rec(&self) -> &raw::request_rec {
        // SAFETY: live for the borrow (from_raw's contract); fields are read, not held across httpd calls.
        unsafe { &*self.0.get() }
    }

    /// The request's pool: lives exactly as long as the request.
    pub fn pool(&self) -> &Pool {
        // SAFETY: every request has a pool that lives at least as long as it.
        unsafe { Pool::from_raw(self.rec().pool) }.expect("request without a pool")
    }

    /// The connection the request arrived on (outlives the request).
    pub fn connection(&self) -> &Connection {
        // SAFETY: every request has a connection that outlives it.
        unsafe { Connection::from_raw(self.rec().connection) }.expect("request without a connection")
    }

    /// The (virtual) server serving the request.
    pub fn server(&self) -> &Server {
        // SAFETY: the server records of the running configuration outlive every request.
        unsafe { Server::from_raw(self.rec().server) }.expect("request without a server")
    }

    /// The main request of a subrequest.
    pub fn main(&self) -> Option<&Request> {
        // SAFETY: a subrequest's main request outlives it.
        unsafe { Request::from_raw(self.rec().main) }
    }

    /// The request an internal redirect came from.
    pub fn prev(&self) -> Option<&Request> {
        // SAFETY: a redirected request's earlier request outlives it.
        unsafe { Request::from_raw(self.rec().prev) }
    }

    /// The file the request maps to, as httpd resolved it.
    pub fn filename(&self) -> Option<&[u8]> {
        // SAFETY: NULL or a string of the request pool.
        unsafe { cstr(self.rec().filename) }
    }

    /// The response's content type, if set.
    pub fn content_type(&self) -> Option<&[u8]> {
        // SAFETY: NULL or a string of a pool that outlives the request.
        unsafe { cstr(self.rec().content_type) }
    }

    /// Body bytes httpd still expects from the client.
    pub fn remaining(&self) -> i64 {
        self.rec().remaining
    }

    /// Whether the end of the response has gone down the filter chain.
    pub fn eos_sent(&self) -> bool {
        self.rec().eos_sent != 0
    }

    pub fn headers_in(&self) -> &Table {
        // SAFETY: the request's tables live in its pool.
        unsafe { Table::from_raw(self.rec().headers_in) }.expect("request without headers_in")
    }

    pub fn headers_out(&self) -> &Table {
        // SAFETY: as for headers_in.
        unsafe { Table::from_raw(self.rec().headers_out) }.expect("request without headers_out")
    }

    pub fn err_headers_out(&self) -> &Table {
        // SAFETY: as for headers_in.
        unsafe { Table::from_raw(self.rec().err_headers_out) }.expect("request without err_headers_out")
    }

    pub fn notes(&self) -> &Table {
        // SAFETY: as for headers_in.
        unsafe { Table::from_raw(self.rec().notes) }.expect("request without notes")
    }

    pub fn subprocess_env(&self) -> &Table {
        // SAFETY: as for headers_in.
        unsafe { Table::from_raw(self.rec().subprocess_env) }.expect("request without subprocess_env")
    }

    /// The first output filter of the request's chain.
    pub fn output_filters(&self) -> Option<&Filter> {
        // SAFETY: filters live in the request or connection pool.
        unsafe { Filter::from_raw(self.rec().output_filters) }
    }

    /// The first input filter of the request's chain.
    pub fn input_filters(&self) -> Option<&Filter> {
        // SAFETY: as for output_filters.
        unsafe { Filter::from_raw(self.rec().input_filters) }
    }

    /// Logs a line in the request's context (httpd adds client and request id).
    pub fn log(&self, level: u32, msg: &str) {
        super::log::rerror(self.as_ptr(), level, msg)
    }

    /// Whether a line at `level` would be written.
    pub fn log_enabled(&self, level: u32) -> bool {
        super::log::r_enabled(self.as_ptr(), level)
    }

    /// `ap_setup_client_block` with de-chunking, then `ap_should_client_block`:
    /// httpd's status (OK or a refusal such as 413) and whether a body follows.
    pub fn setup_body(&self) -> (i32, bool) {
        // SAFETY: the live request, on its own thread.
        unsafe {
            let rc = raw::ap_setup_client_block(self.as_ptr(), raw::REQUEST_CHUNKED_DECHUNK as i32);
            let has = rc == raw::OK as i32 && raw::ap_should_client_block(self.as_ptr()) != 0;
            (rc, has)
        }
    }

    /// Reads body bytes into `buf`: the count, 0 at the end, negative on error.
    pub fn read_body(&self, buf: &mut [u8]) -> i64 {
        // SAFETY: buf is writable for its length; the live request, on its own thread.
        unsafe {
            raw::ap_get_client_block(
                self.as_ptr(),
                buf.as_mut_ptr() as *mut std::ffi::c_char,
                buf.len() as raw::apr_size_t,
            ) as i64
        }
    }

    /// Reads and throws away the body (`ap_discard_request_body`).
    pub fn discard_body(&self) -> i32 {
        // SAFETY: the live request, on its own thread.
        unsafe { raw::ap_discard_request_body(self.as_ptr()) }
    }

    /// Writes response bytes (`ap_rwrite`): the count or a negative error.
    pub fn write(&self, data: &[u8]) -> i32 {
        // SAFETY: data readable for its length; the live request, on its own thread.
        unsafe { raw::ap_rwrite(data.as_ptr() as *const std::ffi::c_void, data.len() as i32, self.as_ptr()) }
    }

    /// Sends what is buffered to the client (`ap_rflush`).
    pub fn flush(&self) -> i32 {
        // SAFETY: the live request, on its own thread.
        unsafe { raw::ap_rflush(self.as_ptr()) }
    }

    /// Passes `bb` down the request's output filters.
    pub fn pass_output(&self, bb: &super::brigade::BucketBrigade) -> raw::apr_status_t {
        // SAFETY: the live request's chain; bb belongs to its connection.
        unsafe { raw::ap_pass_brigade(self.rec().output_filters, bb.as_ptr()) }
    }

    /// A `Send` view for work done with the GIL released on this same thread.
    pub fn on_this_thread(&self) -> super::OnThisThread<'_, Request> {
        super::OnThisThread::lend(self)
    }
}
