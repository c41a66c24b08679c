//! server_rec as a typed handle: a server (main or virtual host) of the
//! running configuration, valid as long as that configuration (`'a`).
use super::pool::Pool;
use super::{cstr, raw};
use std::cell::UnsafeCell;

/// One server (httpd's `server_rec`). Only `&Server` exists.
#[repr(transparent)]
pub struct Server(UnsafeCell<raw::server_rec>);

impl Server {
    /// The handle of a server record.
    ///
    /// # Safety
    /// `s` is NULL or a server_rec of a configuration that stays loaded for `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(s: *mut raw::server_rec) -> Option<&'a Server> {
        // SAFETY: Server is repr(transparent) over the record; validity as the contract says.
        unsafe { (s as *const Server).as_ref() }
    }

    /// The main server of the running configuration (NULL before httpd sets it).
    pub fn main() -> Option<&'static Server> {
        // SAFETY: ap_server_conf is set by httpd before module hooks run and
        // names a server of the configuration the process runs.
        unsafe { Server::from_raw(raw::ap_server_conf) }
    }

    #[inline]
    pub fn as_ptr(&self) -> *mut raw::server_rec {
        self.0.get()
    }

    /// The record's fields (plain data; strings through the methods below).
    #[inline]
    pub fn rec(&self) -> &raw::server_rec {
        // SAFETY: live for the borrow; httpd does not change a server record after configuration.
        unsafe { &*self.0.get() }
    }

    /// The next server of the configuration's list (main server first).
    pub fn next(&self) -> Option<&Server> {
        // SAFETY: the list's servers share the configuration's life.
        unsafe { Server::from_raw(self.rec().next) }
    }

    /// The process pool (lives until the process exits).
    pub fn process_pool(&self) -> &Pool {
        // SAFETY: process is set for every server; its pool outlives the configuration.
        unsafe { Pool::from_raw((*self.rec().process).pool) }.expect("server without a process pool")
    }

    pub fn hostname(&self) -> Option<&[u8]> {
        // SAFETY: NULL or a configuration string.
        unsafe { cstr(self.rec().server_hostname) }
    }

    pub fn admin(&self) -> Option<&[u8]> {
        // SAFETY: NULL or a configuration string.
        unsafe { cstr(self.rec().server_admin) }
    }

    pub fn error_fname(&self) -> Option<&[u8]> {
        // SAFETY: NULL or a configuration string.
        unsafe { cstr(self.rec().error_fname) }
    }

    /// ServerPath: the path prefix that selects a name-based virtual host.
    pub fn path(&self) -> Option<&[u8]> {
        // SAFETY: NULL or a configuration string.
        unsafe { cstr(self.rec().path) }
    }

    pub fn defn_name(&self) -> Option<&[u8]> {
        // SAFETY: NULL or a configuration string.
        unsafe { cstr(self.rec().defn_name) }
    }

    /// The ServerName/ServerAlias names without wildcards.
    pub fn names(&self) -> Vec<&[u8]> {
        self.strings(self.rec().names)
    }

    /// The ServerAlias names with wildcards.
    pub fn wild_names(&self) -> Vec<&[u8]> {
        self.strings(self.rec().wild_names)
    }

    fn strings(&self, arr: *mut raw::apr_array_header_t) -> Vec<&[u8]> {
        if arr.is_null() {
            return Vec::new();
        }
        // SAFETY: an apr array of C strings of the configuration, live with the server.
        unsafe {
            let elts = (*arr).elts as *const *const std::ffi::c_char;
            (0..(*arr).nelts.max(0) as usize).filter_map(|i| cstr(*elts.add(i))).collect()
        }
    }

    /// Logs a line for this server.
    pub fn log(&self, level: u32, msg: &str) {
        super::log::serror(self.as_ptr(), level, msg)
    }
}

/// A server record kept by a Python object (`req.server`,
/// `apache.main_server`): in a child, the configuration, and with it every
/// server record, lives as long as the process.
#[derive(Clone, Copy)]
pub struct KeptServer(std::ptr::NonNull<Server>);

// SAFETY: server records are read-only after configuration and outlive
// every object in the child; `get` only lends shared references.
unsafe impl Send for KeptServer {}
unsafe impl Sync for KeptServer {}

impl KeptServer {
    /// Keeps `s` (None for NULL).
    ///
    /// # Safety
    /// `s` is NULL or a server record of the configuration this process runs
    /// for the rest of its life (a child's, or the parent's current one for
    /// code that does not outlive the configuration).
    pub unsafe fn new(s: *mut raw::server_rec) -> Option<Self> {
        std::ptr::NonNull::new(s as *mut Server).map(KeptServer)
    }

    /// Keeps `s` for a Python object (`req.server`).
    pub fn of(s: &Server) -> Self {
        // SAFETY: Python objects that keep a server are made while serving
        // requests in a child (whose configuration lives as long as it) or
        // at start-up for the configuration being started: `new`'s contract.
        KeptServer(std::ptr::NonNull::from(s))
    }

    pub fn get(&self) -> &Server {
        // SAFETY: `new`'s contract: valid for the life of the process.
        unsafe { self.0.as_ref() }
    }
}

// What start-up reads of a server to guess the names mod_wsgi gives interpreters.
impl Server {
    /// The server's own port (ServerName's or the virtual host's), 0 if none.
    pub fn port(&self) -> u16 {
        self.rec().port
    }

    /// The port of the server's first address (`<VirtualHost *:port>`), 0 if none.
    pub fn first_address_port(&self) -> u16 {
        let a = self.rec().addrs;
        if a.is_null() {
            return 0;
        }
        // SAFETY: the server's address list lives with the configuration.
        unsafe { (*a).host_port }
    }
}

/// The port of the first Listen line, 0 when none.
pub fn first_listen_port() -> u16 {
    // SAFETY: reads httpd's listener list, set before any module hook of a child runs.
    unsafe { raw::pyrite_shim_first_listen_port() as u16 }
}
