//! conn_rec as a typed handle: a client connection, valid as long as its
//! pool (`'a`), which outlives each request on it.
use super::brigade::{Brigade, BucketBrigade};
use super::filter::Filter;
use super::pool::Pool;
use super::server::Server;
use super::table::Table;
use super::{cstr, raw};
use std::cell::UnsafeCell;

/// One connection (httpd's `conn_rec`). Only `&Connection` exists.
#[repr(transparent)]
pub struct Connection(UnsafeCell<raw::conn_rec>);

impl Connection {
    /// The handle of a connection record.
    ///
    /// # Safety
    /// `c` is NULL or a live conn_rec whose pool stays uncleared for `'a`,
    /// used only by the calling thread meanwhile.
    #[inline]
    pub unsafe fn from_raw<'a>(c: *mut raw::conn_rec) -> Option<&'a Connection> {
        // SAFETY: Connection is repr(transparent) over the record; validity as the contract says.
        unsafe { (c as *const Connection).as_ref() }
    }

    #[inline]
    pub fn as_ptr(&self) -> *mut raw::conn_rec {
        self.0.get()
    }

    /// The record's plain fields.
    #[inline]
    pub fn rec(&self) -> &raw::conn_rec {
        // SAFETY: live for the borrow (from_raw's contract).
        unsafe { &*self.0.get() }
    }

    pub fn pool(&self) -> &Pool {
        // SAFETY: every connection has a pool that lives as long as it.
        unsafe { Pool::from_raw(self.rec().pool) }.expect("connection without a pool")
    }

    /// The server the connection arrived at (by address, before any Host header).
    pub fn base_server(&self) -> &Server {
        // SAFETY: the configuration's servers outlive its connections.
        unsafe { Server::from_raw(self.rec().base_server) }.expect("connection without a base server")
    }

    /// Whether this is a secondary connection (an HTTP/2 stream, say).
    pub fn is_secondary(&self) -> bool {
        !self.rec().master.is_null()
    }

    pub fn output_filters(&self) -> Option<&Filter> {
        // SAFETY: connection filters live in the connection pool.
        unsafe { Filter::from_raw(self.rec().output_filters) }
    }

    pub fn input_filters(&self) -> Option<&Filter> {
        // SAFETY: as for output_filters.
        unsafe { Filter::from_raw(self.rec().input_filters) }
    }

    /// The connection's bucket allocator, for brigades made in `'a`.
    pub(crate) fn bucket_alloc(&self) -> *mut raw::apr_bucket_alloc_t {
        self.rec().bucket_alloc
    }

    /// No keep-alive after the current response.
    pub fn close_after_response(&self) {
        // SAFETY: the live connection, on the thread serving it.
        unsafe { (*self.0.get()).keepalive = raw::ap_conn_keepalive_e_AP_CONN_CLOSE }
    }

    /// Passes `bb` down the connection's output filters.
    pub fn pass_output(&self, bb: &super::brigade::BucketBrigade) -> raw::apr_status_t {
        // SAFETY: the live connection's chain; bb uses its allocator.
        unsafe { raw::ap_pass_brigade(self.rec().output_filters, bb.as_ptr()) }
    }

    /// The socket's descriptor, if it has one.
    pub fn socket_fd(&self) -> Option<i32> {
        // SAFETY: the live connection; the descriptor is only read.
        unsafe {
            let sock = raw::ap_get_conn_socket(self.as_ptr());
            if sock.is_null() {
                return None;
            }
            let mut fd: raw::apr_os_sock_t = -1;
            (raw::apr_os_sock_get(&mut fd, sock) == 0 && fd >= 0).then_some(fd)
        }
    }

    /// Whether the socket's kernel send queue is empty (false when unknown).
    pub fn send_queue_empty(&self) -> bool {
        // SAFETY: the live connection; the descriptor is only queried.
        unsafe {
            let sock = raw::ap_get_conn_socket(self.as_ptr());
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

    /// No keep-alive; under the event MPM a lingering close rather than
    /// waiting for another request.
    pub fn close_after_this(&self) {
        // SAFETY: the live connection, on its own thread (the hook serving it).
        unsafe {
            let c = self.0.get();
            (*c).keepalive = raw::ap_conn_keepalive_e_AP_CONN_CLOSE;
            if !(*c).cs.is_null() {
                (*(*c).cs).state = raw::conn_state_e_CONN_STATE_LINGER;
            }
        }
    }

    pub fn client_ip(&self) -> Option<&[u8]> {
        // SAFETY: NULL or a string of the connection pool.
        unsafe { cstr(self.rec().client_ip) }
    }

    pub fn local_ip(&self) -> Option<&[u8]> {
        // SAFETY: as for client_ip.
        unsafe { cstr(self.rec().local_ip) }
    }

    pub fn local_host(&self) -> Option<&[u8]> {
        // SAFETY: as for client_ip.
        unsafe { cstr(self.rec().local_host) }
    }

    pub fn remote_host(&self) -> Option<&[u8]> {
        // SAFETY: as for client_ip.
        unsafe { cstr(self.rec().remote_host) }
    }

    pub fn remote_logname(&self) -> Option<&[u8]> {
        // SAFETY: as for client_ip.
        unsafe { cstr(self.rec().remote_logname) }
    }

    /// (ip, port) of the client's end of the connection.
    pub fn client_addr(&self) -> Option<(Option<&[u8]>, u16)> {
        self.addr(self.rec().client_addr)
    }

    /// (ip, port) of the server's end of the connection.
    pub fn local_addr(&self) -> Option<(Option<&[u8]>, u16)> {
        self.addr(self.rec().local_addr)
    }

    /// The ip text and port of one of the connection's socket addresses.
    fn addr(&self, sa: *mut raw::apr_sockaddr_t) -> Option<(Option<&[u8]>, u16)> {
        // SAFETY: sa is NULL or a live socket address of this connection,
        // whose ip text is allocated in the connection's pool.
        unsafe { sockaddr(sa) }
    }

    pub fn notes(&self) -> &Table {
        // SAFETY: the connection's notes live in its pool.
        unsafe { Table::from_raw(self.rec().notes) }.expect("connection without notes")
    }

    /// The connection's own pair of brigades (input, output) for raw reads
    /// and writes, made once in its pool and kept in mod_pyrite's slot of
    /// conn_config: every view of the connection shares them, so a read's
    /// leftovers wait for the next read.
    pub fn io_brigades(&self) -> (&BucketBrigade, &BucketBrigade) {
        // SAFETY: conn_config is the live connection's configuration vector;
        // mod_pyrite's slot in it is only ever set here, to a [Brigade; 2]
        // adopted by the connection pool, whose brigades live in that pool.
        unsafe {
            let conf = self.rec().conn_config;
            let mut slot = super::module_config(conf) as *const [Brigade; 2];
            if slot.is_null() {
                let pair = [
                    Brigade::new(self.rec().pool, self.bucket_alloc()),
                    Brigade::new(self.rec().pool, self.bucket_alloc()),
                ];
                let p = super::pool::adopt(self.rec().pool, pair);
                super::set_module_config(conf, p as *mut std::ffi::c_void);
                slot = p;
            }
            let [i, o] = *slot;
            (
                BucketBrigade::from_raw(i.0).expect("connection brigade"),
                BucketBrigade::from_raw(o.0).expect("connection brigade"),
            )
        }
    }

    /// Reads from the connection's input filters into `bb`.
    pub fn get_input(
        &self,
        bb: &BucketBrigade,
        mode: raw::ap_input_mode_t,
        block: raw::apr_read_type_e,
        readbytes: raw::apr_off_t,
    ) -> raw::apr_status_t {
        // SAFETY: the live connection's chain; bb uses its allocator.
        unsafe { raw::ap_get_brigade(self.rec().input_filters, bb.as_ptr(), mode, block, readbytes) }
    }

    /// A `Send` view for work done with the GIL released on this same thread.
    pub fn on_this_thread(&self) -> super::OnThisThread<'_, Connection> {
        super::OnThisThread::lend(self)
    }

    /// Logs a line for the connection (httpd adds the client address).
    pub fn log(&self, level: u32, msg: &str) {
        super::log::cerror(self.as_ptr(), level, msg)
    }
}

/// The ip text and port of an APR socket address, None for NULL.
///
/// # Safety
/// `sa` is NULL or a live apr_sockaddr_t whose pool outlives `'a`.
pub unsafe fn sockaddr<'a>(sa: *mut raw::apr_sockaddr_t) -> Option<(Option<&'a [u8]>, u16)> {
    if sa.is_null() {
        return None;
    }
    let mut ip: *mut std::ffi::c_char = std::ptr::null_mut();
    // SAFETY: the contract; apr_sockaddr_ip_get allocates the text in sa's pool.
    unsafe {
        raw::apr_sockaddr_ip_get(&mut ip, sa);
        Some((cstr(ip), (*sa).port))
    }
}

// What the WSGI environ reads of a connection.
impl Connection {
    /// The client's port (None without a client address).
    #[inline]
    pub fn client_port(&self) -> Option<u16> {
        let sa = self.rec().client_addr;
        // SAFETY: NULL or the connection's live socket address.
        (!sa.is_null()).then(|| unsafe { (*sa).port })
    }
}
