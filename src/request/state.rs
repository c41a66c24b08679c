//! What mod_pyrite keeps for one request across its phases, in the request's
//! own configuration vector: the Python `req` object (one per request, as in
//! mod_python, so attributes set in one phase are seen in the next) and the
//! WSGI alias that mapped it.
use super::life::Life;
use super::request::Request;
use crate::ffi::{self, raw};
use pyo3::prelude::*;
use std::sync::Arc;

#[derive(Default)]
pub struct RequestState {
    pub wsgi_alias: Option<Arc<crate::wsgi::config::WsgiAlias>>,
    pub req: Option<Py<Request>>,
    /// Handlers added at run time with req.add_handler, not yet run.
    pub added: Vec<Arc<crate::config::HandlerDecl>>,
    /// Filters registered at run time with req.register_*_filter.
    pub filters: Vec<Arc<crate::filters::FilterDecl>>,
}

impl RequestState {
    /// Whether handlers were added to `phase` and not yet run.
    pub fn has_added(&self, phase: crate::config::Phase) -> bool {
        self.added.iter().any(|d| d.phase == phase)
    }

    /// Takes the added handlers of `phase`.
    pub fn take_added(&mut self, phase: crate::config::Phase) -> Vec<Arc<crate::config::HandlerDecl>> {
        if self.added.is_empty() {
            return Vec::new(); // the usual case, asked in every phase
        }
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.added).into_iter().partition(|d| d.phase == phase);
        self.added = rest;
        mine
    }
}

/// The state of `r`, made on first use (it lives in, and dies with, r->pool).
///
/// # Safety
/// `r` is a live request served by the calling thread.
pub unsafe fn of<'a>(r: *mut raw::request_rec) -> &'a mut RequestState {
    unsafe {
        let p = ffi::module_config((*r).request_config) as *mut RequestState;
        if let Some(s) = p.as_mut() {
            return s;
        }
        let s = ffi::pool::adopt((*r).pool, RequestState::default());
        ffi::set_module_config((*r).request_config, s as *mut std::ffi::c_void);
        &mut *s
    }
}

/// The state of `r` if it has one.
///
/// # Safety
/// `r` is a live request.
pub unsafe fn get<'a>(r: *mut raw::request_rec) -> Option<&'a mut RequestState> {
    unsafe { (ffi::module_config((*r).request_config) as *mut RequestState).as_mut() }
}

/// The request's `req` object for a filter: the handlers' one, its phase left
/// as it is (a filter runs inside another phase's output or input).
///
/// # Safety
/// `r` is a live request served by the calling thread.
pub unsafe fn request_keep_phase<'py>(py: Python<'py>, r: *mut raw::request_rec, phase: &'static str) -> PyResult<Bound<'py, Request>> {
    if let Some(req) = unsafe { get(r) }.and_then(|st| st.req.as_ref()) {
        return Ok(req.bind(py).clone());
    }
    unsafe { request(py, r, phase) }
}

/// The request's `req` object, made on first use. Making it registers, on
/// r->pool, the end of its life and, as a pre-cleanup (run before every
/// ordinary cleanup), the PythonCleanupHandler phase and req.register_cleanup
/// callables: they then run before the end of `req` and before the release of
/// global locks the request forgot (a session's unlock at request end must
/// come first, or every session would be reported as leaking its lock).
///
/// # Safety
/// `r` is a live request served by the calling thread.
pub unsafe fn request<'py>(py: Python<'py>, r: *mut raw::request_rec, phase: &'static str) -> PyResult<Bound<'py, Request>> {
    let st = unsafe { of(r) };
    if let Some(req) = &st.req {
        let b = req.bind(py).clone();
        b.borrow().set_phase(phase);
        return Ok(b);
    }
    let life = Arc::new(Life::new(r));
    {
        let l = life.clone();
        // SAFETY: r->pool is live; the cleanup runs when httpd clears it.
        unsafe { ffi::pool::on_cleanup((*r).pool, move || l.end()) };
    }
    let req = Bound::new(py, Request::new(life, phase))?;
    st.req = Some(req.clone().unbind());
    let rp = ffi::SendPtr(r);
    // SAFETY: as above; a pre-cleanup runs before the life's end and the lock release.
    unsafe { ffi::pool::on_pre_cleanup((*r).pool, move || crate::handlers::request_cleanup(rp.0)) };
    Ok(req)
}
