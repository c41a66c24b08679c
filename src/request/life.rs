//! Whether the httpd record behind a Python object may still be touched.
//!
//! A request's objects (req, its tables, its connection view) share one
//! `Life`. It ends when httpd clears the request pool; after that every use
//! raises instead of reading freed memory. Only the httpd thread serving the
//! request may use them: that thread releases the GIL inside httpd calls, and
//! another Python thread touching the record then would race with httpd.
use crate::ffi::held::{Held, Tied, Unusable};
use crate::ffi::request::Request;
use pyo3::exceptions::PyRuntimeError;
use pyo3::{PyErr, PyResult};

pub struct Life(Held<Request>);

fn unusable(e: Unusable) -> PyErr {
    PyRuntimeError::new_err(match e {
        Unusable::Ended => "the request this object belongs to has ended",
        Unusable::OtherThread => "request objects can only be used by the thread serving the request",
        Unusable::Absent => "there is no request on this connection (connection handler)",
        Unusable::Unrelated => "this object was used with another request's record",
    })
}

impl Life {
    /// The life of `r`'s objects: it ends when r's pool is cleared.
    pub fn of(r: &Request) -> Self {
        Life(Held::request(r))
    }

    /// A life for a connection handler's objects, lent (with no request) for
    /// the handler's call: it ends when the call does.
    pub fn for_call(held: Held<Request>) -> Self {
        Life(held)
    }

    /// A record reached from the request (its connection, a table), kept
    /// for as long as this life, if the request may be used now.
    pub fn tie<U>(&self, pick: impl for<'a> FnOnce(&'a Request) -> &'a U) -> PyResult<Tied<U>> {
        self.0.tie(pick).map_err(unusable)
    }

    /// A record reached from one tied to this life (a connection's notes).
    pub fn tie_from<T, U>(&self, from: &Tied<T>, pick: impl for<'a> FnOnce(&'a T) -> &'a U) -> PyResult<Tied<U>> {
        from.tie(&self.0, pick).map_err(unusable)
    }

    /// The request, if it may be used from here and now.
    #[inline]
    pub fn request(&self) -> PyResult<&Request> {
        self.0.get().map_err(unusable)
    }

    /// Whether the record may be used from here and now.
    #[inline]
    pub fn check(&self) -> PyResult<()> {
        self.0.check().map_err(unusable)
    }

    /// A record tied to this life (the request's connection), if it may be used now.
    #[inline]
    pub fn tied<'a, T>(&'a self, t: &Tied<T>) -> PyResult<&'a T> {
        t.get(&self.0).map_err(unusable)
    }

    /// Marks the request as ended (called from the request pool's cleanup).
    pub fn end(&self) {
        self.0.end()
    }
}
