//! The Python filters in a request's chains: what each instance keeps
//! between httpd's calls, the records httpd registered them under
//! (src/filters.rs registers them), and adding one to a request.
use crate::config::FilterDecl;
use crate::ffi;
use crate::ffi::filter::FilterRec;
use crate::ffi::request::Request;
use crate::sync::LockExt;
use std::cell::{Cell, RefCell};
use std::ffi::CString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// What a filter instance keeps between httpd's calls (in its ctx, owned by
/// the pool; the brigades are the ctx's `out` and `held`).
#[derive(Default)]
pub struct FilterState {
    pub decl: RefCell<Option<Arc<FilterDecl>>>,
    /// filter.disable(): pass everything through from now on.
    pub disabled: Cell<bool>,
    /// The handler raised: the response was ended; drop what still comes.
    pub failed: Cell<bool>,
    /// filter.close() ran: EOS went (output) or is queued (input).
    pub closed: Cell<bool>,
    /// The end of the stream was read (read() returned None).
    pub eos_seen: Cell<bool>,
    /// A FLUSH bucket was consumed by read(): flush after the handler.
    pub flush_seen: Cell<bool>,
    /// filter.pass_on() handed the rest of this brigade on.
    pub passed_on: Cell<bool>,
}

impl FilterState {
    pub fn new(decl: Option<Arc<FilterDecl>>) -> Self {
        FilterState {
            decl: RefCell::new(decl),
            ..Default::default()
        }
    }
}

/// A filter instance's context: its brigades and its state.
pub type Ctx = ffi::filter::Ctx<FilterState>;

/// httpd's records of the configured Python output filters (read by python_in_output_chain).
pub static OUTPUT_RECS: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

/// The filters req.register_*_filter adds by handle (registering names in a
/// running child would race with other threads looking names up): output, input.
pub static DYNAMIC: RwLock<Option<(FilterRec<FilterState>, FilterRec<FilterState>)>> = RwLock::new(None);
/// The dynamic output filter's record, as python_in_output_chain compares it.
pub static DYNAMIC_OUT_ID: AtomicUsize = AtomicUsize::new(0);

/// `req.add_output_filter(name)` / `req.add_input_filter(name)`: a filter the
/// request registered with req.register_*_filter, else any filter httpd knows.
pub fn add_to_request(r: &Request, name: &str, input: bool) -> Result<(), String> {
    let own = crate::request::state::of_request(r)
        .borrow()
        .filters
        .iter()
        .rev()
        .find(|d| d.input == input && d.name.eq_ignore_ascii_case(name))
        .cloned();
    if let Some(decl) = own {
        let Some((out, inp)) = *DYNAMIC.read().unwrap_or_else(|e| e.into_inner()) else {
            return Err("the run-time Python filters are not registered".to_string());
        };
        let rec = if input { inp } else { out };
        return if ffi::filter::add_with_state(r, rec, FilterState::new(Some(decl)), input) {
            Ok(())
        } else {
            Err(format!("httpd refused to add filter '{name}'"))
        };
    }
    let cname = CString::new(name).map_err(|_| "a filter name cannot contain NUL".to_string())?;
    if !ffi::filter::add_by_name(r, &cname, input) {
        let kind = if input { "input" } else { "output" };
        return Err(format!(
            "no {kind} filter named '{name}' (register it with PythonOutputFilter/PythonInputFilter, req.register_{kind}_filter, or load the module that provides it)"
        ));
    }
    Ok(())
}

/// Whether output written to `r` passes through Python code on its way out
/// (a Python output filter, or mod_include, which runs `#python` elements):
/// then a flush has effects a handler can observe, and is never held back.
pub fn python_in_output_chain(r: &Request) -> bool {
    let dynamic = DYNAMIC_OUT_ID.load(Ordering::Acquire);
    let named = OUTPUT_RECS.locked();
    let mut f = r.output_filters();
    while let Some(this) = f {
        if let Some(rec) = this.record() {
            if rec == dynamic || named.contains(&rec) {
                return true;
            }
            if this.name().is_some_and(|n| n.eq_ignore_ascii_case(b"includes")) {
                return true;
            }
        }
        f = this.next();
    }
    false
}
