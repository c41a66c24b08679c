//! What mod_ssl knows about a request's connection, through httpd's own
//! SSL API (http_ssl.h): answers "no" and None when mod_ssl is not loaded.
use super::raw;

/// Whether the request's connection is TLS.
///
/// # Safety
/// `r` is a live request.
pub unsafe fn is_https(r: *mut raw::request_rec) -> bool {
    // SAFETY: r and its connection are live.
    unsafe { raw::ap_ssl_conn_is_ssl((*r).connection) != 0 }
}

/// An SSL variable (SSL_CLIENT_S_DN, SSL_PROTOCOL, HTTPS ...); None when unset.
///
/// # Safety
/// `r` is a live request.
pub unsafe fn var(r: *mut raw::request_rec, name: &[u8]) -> Option<Vec<u8>> {
    if name.contains(&0) {
        return None;
    }
    // SAFETY: r is live; the name and the answer live in its pool.
    unsafe {
        let n = super::pool::strdup((*r).pool, name);
        let v = raw::ap_ssl_var_lookup((*r).pool, (*r).server, (*r).connection, r, n);
        super::cstr(v).filter(|v| !v.is_empty()).map(<[u8]>::to_vec)
    }
}
