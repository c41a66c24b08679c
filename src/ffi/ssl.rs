//! What mod_ssl knows about a request's connection, through httpd's own
//! SSL API (http_ssl.h): answers "no" and None when mod_ssl is not loaded.
use super::raw;
use super::request::Request;

/// Whether the request's connection is TLS.
pub fn is_https(r: &Request) -> bool {
    // SAFETY: the request's connection is live for the borrow.
    unsafe { raw::ap_ssl_conn_is_ssl(r.connection().as_ptr()) != 0 }
}

/// An SSL variable (SSL_CLIENT_S_DN, SSL_PROTOCOL, HTTPS ...); None when unset.
pub fn var(r: &Request, name: &[u8]) -> Option<Vec<u8>> {
    if name.contains(&0) {
        return None;
    }
    let pool = r.pool().as_ptr();
    // SAFETY: the live request and its records, on its own thread; the name
    // (checked for NUL above) and the answer live in its pool.
    unsafe {
        let n = super::pool::strdup(pool, name);
        let v = raw::ap_ssl_var_lookup(pool, r.server().as_ptr(), r.connection().as_ptr(), r.as_ptr(), n);
        super::cstr(v).filter(|v| !v.is_empty()).map(<[u8]>::to_vec)
    }
}
