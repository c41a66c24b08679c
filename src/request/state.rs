//! What mod_pyrite keeps for one request across its phases, in the request's
//! own configuration vector: the Python `req` object (one per request, as in
//! mod_python, so attributes set in one phase are seen in the next) and the
//! WSGI alias that mapped it.
use super::life::Life;
use super::request::Request as PyRequest;
use crate::ffi::request::Request;
use pyo3::prelude::*;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

/// What runs as a request that made a `req` ends (src/handlers.rs's
/// request_cleanup: the PythonCleanupHandler phase and req.register_cleanup
/// callables), set at child start: the handlers sit above this module.
pub static ON_END: OnceLock<fn(&Request)> = OnceLock::new();

#[derive(Default)]
pub struct RequestState {
    pub wsgi_alias: Option<Arc<crate::config::wsgi::WsgiAlias>>,
    pub req: Option<Py<PyRequest>>,
    /// Handlers added at run time with req.add_handler, not yet run.
    pub added: Vec<Arc<crate::config::HandlerDecl>>,
    /// Filters registered at run time with req.register_*_filter.
    pub filters: Vec<Arc<crate::config::FilterDecl>>,
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

/// The state of `r`, made on first use (it lives in, and dies with, r's pool).
/// Borrows are short: none is held while Python code runs.
pub fn of_request(r: &Request) -> &RefCell<RequestState> {
    r.kept_state::<RefCell<RequestState>>()
}

/// The state of `r` if it has one.
pub fn of_request_if_any(r: &Request) -> Option<&RefCell<RequestState>> {
    r.kept_state_if_any::<RefCell<RequestState>>()
}

/// The request's `req` object for a filter: the handlers' one, its phase left
/// as it is (a filter runs inside another phase's output or input).
pub fn req_keep_phase<'py>(py: Python<'py>, r: &Request, phase: &'static str) -> PyResult<Bound<'py, PyRequest>> {
    let made = of_request_if_any(r).and_then(|st| st.borrow().req.as_ref().map(|q| q.bind(py).clone()));
    match made {
        Some(req) => Ok(req),
        None => req_object(py, r, phase),
    }
}

/// The request's `req` object, made on first use. Making it registers, on
/// r's pool, the end of its life and, as a pre-cleanup (run before every
/// ordinary cleanup), the PythonCleanupHandler phase and req.register_cleanup
/// callables: they then run before the end of `req` and before the release of
/// global locks the request forgot (a session's unlock at request end must
/// come first, or every session would be reported as leaking its lock).
pub fn req_object<'py>(py: Python<'py>, r: &Request, phase: &'static str) -> PyResult<Bound<'py, PyRequest>> {
    let st = of_request(r);
    let made = st.borrow().req.as_ref().map(|q| q.bind(py).clone());
    if let Some(b) = made {
        b.borrow().set_phase(phase);
        return Ok(b);
    }
    let life = Arc::new(Life::of(r));
    let req = Bound::new(py, PyRequest::new(life, phase))?;
    st.borrow_mut().req = Some(req.clone().unbind());
    if let Some(&end) = ON_END.get() {
        r.on_pre_cleanup(end);
    }
    Ok(req)
}
