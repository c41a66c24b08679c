//! request_rec as a typed handle. httpd hands a hook a raw pointer; the hook
//! turns it into `&'a Request` once (`Request::from_raw`), and code above
//! `src/ffi` reads and changes the record only through these methods. `'a`
//! is at most the life of the request's pool; everything borrowed from the
//! request (its tables, pool, connection) is tied to that borrow.
use super::connection::Connection;
use super::filter::Filter;
use super::pool::Pool;
use super::server::Server;
use super::table::{NulError, Table};
use super::{cstr, raw};
use std::cell::UnsafeCell;
use std::ffi::c_char;

/// Getters for the record's string fields (None for NULL).
macro_rules! text_fields {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Option<&[u8]> {
            // SAFETY: live for the borrow; the field is NULL or a string of a
            // pool that outlives the request (httpd never frees it earlier).
            unsafe { cstr((*self.0.get()).$name) }
        }
    )*};
}

/// Setters for string fields: the value is copied into the request pool.
macro_rules! text_setters {
    ($($(#[$doc:meta])* $set:ident => $field:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $set(&self, value: Option<&[u8]>) -> Result<(), NulError> {
            let v = self.pool_copy(value)?;
            // SAFETY: the live record, on its own thread; v lives in its pool.
            unsafe { (*self.0.get()).$field = v as _ };
            Ok(())
        }
    )*};
}

/// Getters for the record's plain (number) fields.
macro_rules! plain_fields {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> $ty {
            // SAFETY: live for the borrow; a copy of a number field.
            unsafe { (*self.0.get()).$name as $ty }
        }
    )*};
}

/// The request's URI as httpd parsed it (`apr_uri_t`): pool strings.
pub struct ParsedUri<'a> {
    pub scheme: Option<&'a [u8]>,
    pub hostinfo: Option<&'a [u8]>,
    pub user: Option<&'a [u8]>,
    pub password: Option<&'a [u8]>,
    pub hostname: Option<&'a [u8]>,
    /// The port, when the URI named one.
    pub port: Option<u16>,
    pub path: Option<&'a [u8]>,
    pub query: Option<&'a [u8]>,
    pub fragment: Option<&'a [u8]>,
}

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

    /// The request a redirected request was handed to.
    pub fn next(&self) -> Option<&Request> {
        // SAFETY: the later request of an internal redirect lives in a pool
        // that outlives the earlier one.
        unsafe { Request::from_raw(self.rec().next) }
    }

    text_fields! {
        /// The request line as the client sent it.
        the_request,
        protocol,
        hostname,
        status_line,
        method,
        range,
        /// The response's content type, if set.
        content_type,
        handler,
        content_encoding,
        user,
        ap_auth_type,
        unparsed_uri,
        uri,
        /// The file the request maps to, as httpd resolved it.
        filename,
        canonical_filename,
        path_info,
        args,
        useragent_ip,
        vlist_validator,
        log_id,
    }

    text_setters! {
        set_status_line => status_line,
        set_protocol => protocol,
        set_useragent_ip => useragent_ip,
        set_user => user,
        set_filename => filename,
        set_canonical_filename => canonical_filename,
        set_path_info => path_info,
        set_args => args,
        set_uri => uri,
        set_handler => handler,
        set_ap_auth_type => ap_auth_type,
        set_content_encoding => content_encoding,
    }

    plain_fields! {
        status: i32,
        no_cache: i32,
        no_local_copy: i32,
        method_number: i32,
        proto_num: i32,
        header_only: i32,
        assbackwards: i32,
        proxyreq: i32,
        /// When the request arrived (microseconds since the epoch).
        request_time: i64,
        mtime: i64,
        sent_bodyct: i64,
        bytes_sent: i64,
        clength: i64,
        /// Body bytes httpd still expects from the client.
        remaining: i64,
        read_length: i64,
        read_chunked: i32,
        chunked: i32,
        expecting_100: i32,
        used_path_info: i32,
        allowed: i64,
    }

    /// `value` copied into the request pool as a C string (NULL for None).
    fn pool_copy(&self, value: Option<&[u8]>) -> Result<*mut c_char, NulError> {
        match value {
            None => Ok(std::ptr::null_mut()),
            Some(b) if b.contains(&0) => Err(NulError),
            // SAFETY: the request's live pool; b holds no NUL.
            Some(b) => Ok(unsafe { super::pool::strdup(self.rec().pool, b) }),
        }
    }

    pub fn set_status(&self, status: i32) {
        // SAFETY: the live record, on its own thread.
        unsafe { (*self.0.get()).status = status }
    }

    pub fn set_no_cache(&self, value: i32) {
        // SAFETY: the live record, on its own thread.
        unsafe { (*self.0.get()).no_cache = value }
    }

    /// `ap_set_content_length`.
    pub fn set_content_length(&self, length: i64) {
        // SAFETY: the live request, on its own thread.
        unsafe { raw::ap_set_content_length(self.as_ptr(), length) }
    }

    /// `ap_set_content_type` with a copy of `ct` in the request pool.
    pub fn set_content_type(&self, ct: &[u8]) -> Result<(), NulError> {
        let v = self.pool_copy(Some(ct))?;
        // SAFETY: the live request, on its own thread; v lives in its pool.
        unsafe { raw::ap_set_content_type(self.as_ptr(), v) };
        Ok(())
    }

    /// (ip, port) of the user agent (behind mod_remoteip: the real client).
    pub fn useragent_addr(&self) -> Option<(Option<&[u8]>, u16)> {
        // SAFETY: NULL or a socket address of the request or connection pool.
        unsafe { super::connection::sockaddr(self.rec().useragent_addr) }
    }

    /// The stat httpd's directory walk made of the request's file (None without a file).
    pub fn finfo(&self) -> Option<super::finfo::FileInfo<'_>> {
        // SAFETY: the record's finfo; its strings are NULL or of the request pool.
        unsafe { super::finfo::FileInfo::of(&self.rec().finfo) }
    }

    /// The request's URI as httpd parsed it.
    pub fn parsed_uri(&self) -> ParsedUri<'_> {
        let u = &self.rec().parsed_uri;
        // SAFETY: each string is NULL or in the request pool.
        unsafe {
            ParsedUri {
                scheme: cstr(u.scheme),
                hostinfo: cstr(u.hostinfo),
                user: cstr(u.user),
                password: cstr(u.password),
                hostname: cstr(u.hostname),
                port: cstr(u.port_str).map(|_| u.port),
                path: cstr(u.path),
                query: cstr(u.query),
                fragment: cstr(u.fragment),
            }
        }
    }

    /// The Content-Language values set for the response.
    pub fn content_languages(&self) -> Vec<Option<&[u8]>> {
        // SAFETY: NULL or an apr array of pool strings.
        unsafe { strings(self.rec().content_languages) }
    }

    /// The extension methods the resource allows.
    pub fn allowed_xmethods(&self) -> Vec<Option<&[u8]>> {
        // SAFETY: NULL or an apr array of pool strings.
        unsafe { strings(self.rec().allowed_xmethods) }
    }

    /// The names in the request's list of allowed methods.
    pub fn allowed_methods(&self) -> Vec<Option<&[u8]>> {
        let list = self.rec().allowed_methods;
        if list.is_null() {
            return Vec::new();
        }
        // SAFETY: a live method list of the request pool; its array holds pool strings.
        unsafe { strings((*list).method_list) }
    }

    /// Adds `method` to the Allow list (`ap_allow_methods`), emptying it first if `reset`.
    pub fn allow_method(&self, reset: bool, method: &std::ffi::CStr) {
        // SAFETY: the live request; the list is NULL-terminated; httpd copies the name.
        unsafe { raw::ap_allow_methods(self.as_ptr(), reset as i32, method.as_ptr(), std::ptr::null::<c_char>()) }
    }

    /// An SSL variable from mod_ssl (None without mod_ssl or when unset).
    pub fn ssl_var_lookup(&self, name: &[u8]) -> Option<&[u8]> {
        type Lookup = unsafe extern "C" fn(
            *mut raw::apr_pool_t,
            *mut raw::server_rec,
            *mut raw::conn_rec,
            *mut raw::request_rec,
            *mut c_char,
        ) -> *mut c_char;
        let n: Vec<u8> = name.iter().copied().filter(|&b| b != 0).collect();
        // SAFETY: mod_ssl registers ssl_var_lookup with exactly this signature;
        // the live request's own pool, server and connection; the result is
        // NULL or a string of the request pool.
        unsafe {
            let f = raw::apr_dynamic_fn_retrieve(c"ssl_var_lookup".as_ptr())?;
            let f: Lookup = std::mem::transmute(f);
            let r = self.rec();
            let n = super::pool::strdup(r.pool, &n);
            cstr(f(r.pool, r.server, r.connection, self.as_ptr(), n))
        }
    }

    /// `ap_meets_conditions`: OK, or the status the conditional headers call for.
    pub fn meets_conditions(&self) -> i32 {
        // SAFETY: the live request, on its own thread.
        unsafe { raw::ap_meets_conditions(self.as_ptr()) }
    }

    pub fn set_etag(&self) {
        // SAFETY: the live request, on its own thread.
        unsafe { raw::ap_set_etag(self.as_ptr()) }
    }

    pub fn set_last_modified(&self) {
        // SAFETY: the live request, on its own thread.
        unsafe { raw::ap_set_last_modified(self.as_ptr()) }
    }

    /// Makes mtime at least `dependency` (microseconds since the epoch).
    pub fn update_mtime(&self, dependency: raw::apr_time_t) {
        // SAFETY: the live request, on its own thread.
        unsafe { raw::ap_update_mtime(self.as_ptr(), dependency) }
    }

    /// AuthName in force.
    pub fn auth_name(&self) -> Option<&[u8]> {
        // SAFETY: the live request; the result is NULL or a configuration string.
        unsafe { cstr(raw::ap_auth_name(self.as_ptr())) }
    }

    /// AuthType in force.
    pub fn auth_type(&self) -> Option<&[u8]> {
        // SAFETY: as for auth_name.
        unsafe { cstr(raw::ap_auth_type(self.as_ptr())) }
    }

    /// The password of HTTP Basic credentials (httpd then sets `user`);
    /// None without them.
    pub fn basic_auth_pw(&self) -> Option<&[u8]> {
        let mut pw: *const c_char = std::ptr::null();
        // SAFETY: the live request; httpd fills pw from the request pool.
        let rc = unsafe { raw::ap_get_basic_auth_pw(self.as_ptr(), &mut pw) };
        if rc != raw::OK as i32 {
            return None;
        }
        // SAFETY: NULL or a string of the request pool.
        unsafe { cstr(pw) }
    }

    /// The client's host name (`ap_get_useragent_host`; may do a DNS lookup).
    pub fn useragent_host(&self, lookup_type: i32) -> Option<&[u8]> {
        // SAFETY: the live request, on its own thread; the result is NULL or a pool string.
        unsafe { cstr(raw::ap_get_useragent_host(self.as_ptr(), lookup_type, std::ptr::null_mut())) }
    }

    /// DocumentRoot in force.
    pub fn document_root(&self) -> Option<&[u8]> {
        // SAFETY: the live request; a configuration string.
        unsafe { cstr(raw::ap_document_root(self.as_ptr())) }
    }

    /// An absolute URL for `uri` on this server (`ap_construct_url`).
    pub fn construct_url(&self, uri: &[u8]) -> Result<Option<&[u8]>, NulError> {
        let u = self.pool_copy(Some(uri))?;
        // SAFETY: the live request and its pool; u and the result live in that pool.
        Ok(unsafe { cstr(raw::ap_construct_url(self.rec().pool, u, self.as_ptr())) })
    }

    /// `ap_add_common_vars` (into subprocess_env).
    pub fn add_common_vars(&self) {
        // SAFETY: the live request, on its own thread.
        unsafe { raw::ap_add_common_vars(self.as_ptr()) }
    }

    /// `ap_add_cgi_vars` (into subprocess_env).
    pub fn add_cgi_vars(&self) {
        // SAFETY: the live request, on its own thread.
        unsafe { raw::ap_add_cgi_vars(self.as_ptr()) }
    }

    /// The server name as httpd reports it for the request (`ap_get_server_name`, UseCanonicalName).
    #[inline]
    pub fn server_name(&self) -> Option<&[u8]> {
        // SAFETY: the live request; the name is a pool or configuration string.
        unsafe { super::cstr(raw::ap_get_server_name(self.as_ptr())) }
    }

    /// The request's scheme as httpd's modules say (`ap_run_http_scheme`: "http", "https").
    #[inline]
    pub fn http_scheme(&self) -> Option<&[u8]> {
        // SAFETY: the live request; the scheme is a static or configuration string.
        unsafe { super::cstr(raw::ap_run_http_scheme(self.as_ptr())) }
    }

    /// Whether the request's connection uses TLS.
    pub fn is_https(&self) -> bool {
        // SAFETY: the live request's connection.
        unsafe { raw::ap_ssl_conn_is_ssl(self.rec().connection) != 0 }
    }

    /// Serves `uri` instead, as a new internal request (`ap_internal_redirect`).
    pub fn internal_redirect(&self, uri: &[u8]) -> Result<(), NulError> {
        let u = self.pool_copy(Some(uri))?;
        // SAFETY: the live request, on its own thread; u lives in its pool.
        unsafe { raw::ap_internal_redirect(u, self.as_ptr()) };
        Ok(())
    }

    /// Sends `len` bytes of the open file `fd` from `offset` (see
    /// `sendfile::send_file`); false when the client is gone.
    pub fn send_file(&self, fd: &std::os::fd::BorrowedFd<'_>, offset: i64, len: i64) -> bool {
        use std::os::fd::AsRawFd;
        // SAFETY: the live request, on its own thread; fd is open for the call.
        unsafe { super::sendfile::send_file(self.as_ptr(), fd.as_raw_fd(), offset, len) }
    }

    /// How the body may be read (httpd's REQUEST_NO_BODY, REQUEST_CHUNKED_ERROR, ...).
    pub fn read_body_policy(&self) -> i32 {
        self.rec().read_body
    }

    /// Ends a response whose head went out: the client sees it was cut.
    pub fn abort_response(&self) -> raw::apr_status_t {
        // SAFETY: the live request, on its own thread.
        unsafe { raw::pyrite_shim_abort_response(self.as_ptr()) }
    }

    /// Runs `f` with this request when its pool is cleared, before the
    /// ordinary cleanups (the record and everything in its pool still intact).
    pub fn on_pre_cleanup<F: FnOnce(&Request) + 'static>(&self, f: F) {
        let r = self.as_ptr();
        self.pool().on_pre_cleanup(move || {
            // SAFETY: pre-cleanups run before the pool frees anything, on the
            // thread ending the request, which owns it then.
            if let Some(r) = unsafe { Request::from_raw(r) } {
                f(r)
            }
        });
    }

    /// The value mod_pyrite keeps in this request's `request_config` slot,
    /// made with `T::default()` on first use and dropped with the request
    /// pool. Only one type is ever kept there (`request::state::RequestState`).
    pub fn kept_state<T: Default + 'static>(&self) -> &T {
        if let Some(s) = self.kept_state_if_any::<T>() {
            return s;
        }
        // SAFETY: the live request; the slot is ours, set only here, to a value
        // the request pool owns until it is cleared (after every borrow of self).
        unsafe {
            let s = super::pool::adopt(self.rec().pool, T::default());
            super::set_module_config(self.rec().request_config, s as *mut std::ffi::c_void);
            &*s
        }
    }

    /// The kept value (see `kept_state`) if one was made.
    pub fn kept_state_if_any<T: 'static>(&self) -> Option<&T> {
        // SAFETY: the live request's request_config; our slot is NULL or
        // the value set by `kept_state`, of the one type kept there.
        unsafe { (super::module_config(self.rec().request_config) as *const T).as_ref() }
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

    /// Where the path info begins in the URI, as httpd finds it
    /// (`ap_find_path_info`, which allows for repeated slashes); the URI's
    /// length without path info.
    pub fn path_info_start(&self) -> usize {
        let (uri, path_info) = (self.rec().uri, self.rec().path_info);
        if uri.is_null() {
            return 0;
        }
        if path_info.is_null() {
            return self.uri().map_or(0, <[u8]>::len);
        }
        // SAFETY: both are NUL-terminated strings of the request pool.
        (unsafe { raw::ap_find_path_info(uri, path_info) }).max(0) as usize
    }
}

/// An apr array of C strings (empty for NULL).
///
/// # Safety
/// `arr` is NULL or a live apr array of NULL or NUL-terminated strings that outlive `'a`.
unsafe fn strings<'a>(arr: *mut raw::apr_array_header_t) -> Vec<Option<&'a [u8]>> {
    if arr.is_null() {
        return Vec::new();
    }
    // SAFETY: the contract.
    unsafe {
        let elts = (*arr).elts as *const *const c_char;
        (0..(*arr).nelts.max(0) as usize).map(|i| cstr(*elts.add(i))).collect()
    }
}

// What the WSGI environ and mod_wsgi's names read of a request.
impl Request {
    /// The port the request is answered on (`ap_get_server_port`, as UseCanonicalName says).
    #[inline]
    pub fn server_port(&self) -> u16 {
        // SAFETY: the live request, on its own thread.
        unsafe { raw::ap_get_server_port(self.as_ptr()) }
    }

    /// A nameless capsule of the record for C extensions (mod_wsgi's
    /// `apache.request_rec`): the address only, nothing reads it here.
    pub fn capsule<'py>(&self, py: pyo3::Python<'py>) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::PyAny>> {
        // SAFETY: the GIL is held (py); the capsule holds the non-NULL
        // address without a destructor, and the new reference is owned.
        unsafe {
            let cap = pyo3::ffi::PyCapsule_New(self.as_ptr() as *mut std::ffi::c_void, std::ptr::null(), None);
            pyo3::Bound::from_owned_ptr_or_err(py, cap)
        }
    }
}
