//! Python filters: `PythonOutputFilter handler NAME` / `PythonInputFilter
//! handler NAME` (activated with httpd's SetOutputFilter, AddOutputFilter...),
//! `req.register_output_filter` / `req.add_output_filter` and their input
//! twins. httpd calls a filter once per brigade; each call hands the Python
//! handler a fresh filter object (src/request/filter.rs) that reads from the
//! brigade and writes to the next filter.
pub use crate::config::FilterDecl;
use crate::config::{self, DirConfig, Origin};
use crate::ffi::brigade::{BucketBrigade, Front};
use crate::ffi::directive::{entry, Cmd, Func, Outcome, Spec};
use crate::ffi::filter::Filter as FFilter;
use crate::ffi::{self, log, raw};
use crate::interp;
use crate::interpreters;
use crate::request::filter::Filter;
use crate::request::filter_chain::{Ctx, FilterState, DYNAMIC, DYNAMIC_OUT_ID, OUTPUT_RECS};
use crate::sync::LockExt;
use pyo3::prelude::*;
use std::collections::HashSet;
use std::ffi::{c_int, CStr, CString};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// APR's generic error status (APR_OS_START_ERROR + 14; a macro bindgen skips).
const APR_EGENERAL: raw::apr_status_t = 20000 + 14;

impl FilterDecl {
    fn object_name(&self) -> &str {
        self.object
            .as_deref()
            .unwrap_or(if self.input { "inputfilter" } else { "outputfilter" })
    }
    fn directive(&self) -> &'static str {
        if self.input {
            "PythonInputFilter"
        } else {
            "PythonOutputFilter"
        }
    }
    fn spec(&self) -> String {
        match &self.object {
            Some(o) => format!("{}::{}", self.module, o),
            None => self.module.clone(),
        }
    }
}

/// The Python filter named `name` (case-insensitive, as httpd's names) in a configuration.
pub fn find<'a>(conf: &'a DirConfig, name: &str, input: bool) -> Option<&'a Arc<FilterDecl>> {
    conf.filters
        .as_deref()?
        .iter()
        .rev()
        .find(|d| d.input == input && d.name.eq_ignore_ascii_case(name))
}

// ---- registration with httpd --------------------------------------------------

/// httpd keeps a registered filter's name pointer for the life of the process:
/// each distinct name is allocated once and kept.
fn interned(name: &str) -> &'static CStr {
    static NAMES: Mutex<Option<HashSet<&'static CStr>>> = Mutex::new(None);
    let mut guard = NAMES.locked();
    let set = guard.get_or_insert_with(HashSet::new);
    let c = CString::new(name).unwrap_or_default();
    if let Some(known) = set.get(c.as_c_str()) {
        return known;
    }
    let leaked: &'static CStr = Box::leak(c.into_boxed_c_str());
    set.insert(leaked);
    leaked
}

/// Registers a configured Python filter's name with httpd (at configuration time).
fn register_named(name: &str, input: bool) {
    let n = interned(name);
    if input {
        ffi::filter::register_input::<PythonInput>(n);
    } else if let Some(rec) = ffi::filter::register_output::<PythonOutput>(n) {
        OUTPUT_RECS.locked().push(rec.id());
    }
}

/// Registers the run-time filters (from register_hooks).
pub fn register_hooks() {
    let recs = (
        ffi::filter::register_output::<PythonOutput>(c"PYRITE_REQUEST_OUTPUT"),
        ffi::filter::register_input::<PythonInput>(c"PYRITE_REQUEST_INPUT"),
    );
    let recs = match recs {
        (Some(out), Some(inp)) => Some((out, inp)),
        _ => None,
    };
    DYNAMIC_OUT_ID.store(recs.map_or(0, |(out, _)| out.id()), Ordering::Release);
    *DYNAMIC.write().unwrap_or_else(|e| e.into_inner()) = recs;
}

// ---- directives ----------------------------------------------------------------

/// PythonInputFilter (cmd info 0) and PythonOutputFilter (1).
fn set_filter(cmd: &Cmd, conf: &mut DirConfig, handler: &str, name: &str) -> Outcome {
    let input = cmd.info() == 0;
    let directive = if input { "PythonInputFilter" } else { "PythonOutputFilter" };
    let (module, object) = config::parse_handler_spec(handler).map_err(|e| config::fail(directive, &e))?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        return Err(config::fail(
            directive,
            &format!("{name:?} is not a filter name (letters, digits, '_', '-' and '.'; e.g. {directive} mymodule UPCASE)"),
        ));
    }
    register_named(name, input);
    let mut list: Vec<Arc<FilterDecl>> = conf.filters.as_deref().cloned().unwrap_or_default();
    list.push(Arc::new(FilterDecl {
        name: name.to_string(),
        input,
        module,
        object,
        directory: config::declaring_dir(cmd),
        origin: Origin::of(cmd),
    }));
    conf.filters = Some(Arc::new(list));
    Ok(())
}

/// The filter directives, for config.rs's table.
pub const COMMANDS: [raw::command_rec; 2] = [
    entry(&Spec::new(
        c"PythonInputFilter",
        Func::Take2(set_filter),
        0,
        raw::RSRC_CONF | raw::ACCESS_CONF,
        c"module[::object] NAME: a Python input filter, activated with SetInputFilter/AddInputFilter NAME",
    )),
    entry(&Spec::new(
        c"PythonOutputFilter",
        Func::Take2(set_filter),
        1,
        raw::RSRC_CONF | raw::ACCESS_CONF,
        c"module[::object] NAME: a Python output filter, activated with SetOutputFilter/AddOutputFilter NAME",
    )),
];

// ---- one filter instance's state --------------------------------------------------

/// The configuration the filter's handler runs with.
fn conf_of(f: &FFilter) -> Option<&DirConfig> {
    match f.request() {
        None => DirConfig::server_level(f.connection().base_server()),
        Some(r) => DirConfig::of(r),
    }
}

/// The handler of this filter instance: fixed for run-time filters, looked up
/// by the name httpd called it under for configured ones.
fn decl_of(f: &FFilter, st: &FilterState, input: bool) -> Option<Arc<FilterDecl>> {
    let mut decl = st.decl.borrow_mut();
    if decl.is_none() {
        let name = String::from_utf8_lossy(f.name().unwrap_or_default()).into_owned();
        *decl = conf_of(f).and_then(|c| find(c, &name, input)).cloned();
        if decl.is_none() {
            let kind = if input { "PythonInputFilter" } else { "PythonOutputFilter" };
            let msg = format!("filter '{name}' is active here but no {kind} declares it for this location: passing data through");
            f.log(log::APLOG_ERR, &msg);
        }
    }
    decl.clone()
}

/// Calls the Python handler with a filter object for this call. The object
/// is cut off from the brigade when the call returns.
fn call_handler(f: &FFilter, ctx: &Ctx, bb: &BucketBrigade, decl: &Arc<FilterDecl>, readbytes: usize) -> bool {
    let no_conf = DirConfig::default();
    let conf = conf_of(f).unwrap_or(&no_conf);
    // mod_python's interpreter for the filter's request (or connection) and directive.
    let name = || {
        let server = match f.request() {
            None => f.connection().base_server(),
            Some(r) => r.server(),
        };
        crate::interpreters::names::mod_python(f.request(), server, Some(conf), decl.directory.as_deref())
    };
    let ok = interpreters::with_python_named(name, false, |py| {
        let res = (|| -> PyResult<()> {
            let handler = crate::handlers::load_object(py, conf, decl.directory.as_deref(), &decl.module, decl.object_name())?;
            let req = match f.request() {
                None => None,
                Some(r) => Some(crate::request::state::req_keep_phase(py, r, decl.directive())?.unbind()),
            };
            // The filter object may outlive the call: its filter, brigade and context are lent for the call only.
            ffi::held::lend_two_for_call(Some(f), bb, ctx, |hf, hbb, hctx| {
                let filter = Bound::new(py, Filter::new(ctx, (hf, hbb, hctx), decl.clone(), req, readbytes))?;
                let res = handler.call1((&filter,));
                filter.get().end();
                res.map(|_| ())
            })
        })();
        match res {
            Ok(()) => true,
            Err(e) => {
                f.log(
                    log::APLOG_ERR,
                    &format!(
                        "{} {} {} ({}) raised an exception: {e}",
                        decl.directive(),
                        decl.spec(),
                        decl.name,
                        decl.origin
                    ),
                );
                for line in interp::traceback_lines(py, &e) {
                    f.log(log::APLOG_ERR, &format!("{} {}: {line}", decl.directive(), decl.name));
                }
                false
            }
        }
    });
    ok
}

// ---- httpd's filter callbacks -------------------------------------------------------

/// Every Python output filter, as httpd calls it (src/ffi/filter.rs makes the entry point).
struct PythonOutput;

impl ffi::filter::OutputFilter for PythonOutput {
    type State = FilterState;
    const FAILED: raw::apr_status_t = APR_EGENERAL;
    fn call(f: &FFilter, ctx: &Ctx, bb: &BucketBrigade) -> raw::apr_status_t {
        output_call(f, ctx, bb)
    }
}

fn output_call(f: &FFilter, ctx: &Ctx, bb: &BucketBrigade) -> raw::apr_status_t {
    let st = &ctx.state;
    if st.failed.get() || st.closed.get() {
        // The response already ended: what still comes has nowhere to go.
        bb.cleanup();
        return raw::APR_SUCCESS as raw::apr_status_t;
    }
    if st.disabled.get() || !interp::ready() {
        return f.pass_next(bb);
    }
    let Some(decl) = decl_of(f, st, false) else {
        st.disabled.set(true);
        return f.pass_next(bb);
    };
    // Buckets the handler left unread last time come first.
    if let Some(held) = ctx.held_if_made().filter(|h| !h.is_empty()) {
        bb.move_all_to(held);
        held.move_all_to(bb);
    }
    st.passed_on.set(false);
    st.flush_seen.set(false);
    if !call_handler(f, ctx, bb, &decl, 0) {
        st.failed.set(true);
        bb.cleanup();
        if let Some(out) = ctx.out_if_made() {
            out.cleanup();
        }
        return f.abort(raw::HTTP_INTERNAL_SERVER_ERROR as c_int);
    }
    if st.passed_on.get() || st.closed.get() {
        bb.cleanup();
        return raw::APR_SUCCESS as raw::apr_status_t;
    }
    let out = ctx.out();
    if st.eos_seen.get() || bb.contains_eos() {
        // The stream ended and the handler did not close: hand on what it left
        // unread unchanged, then the end, so the response always completes.
        bb.move_all_to(out);
        if st.eos_seen.get() {
            out.append_eos();
        }
        st.closed.set(true);
    } else {
        if !bb.is_empty() {
            let rv = f.save_brigade(ctx.held(), bb);
            if rv != raw::APR_SUCCESS as raw::apr_status_t {
                return rv;
            }
        }
        if st.flush_seen.get() {
            out.append_flush();
        }
    }
    if out.is_empty() {
        return raw::APR_SUCCESS as raw::apr_status_t;
    }
    let rv = f.pass_next(out);
    out.cleanup();
    rv
}

/// Every Python input filter, as httpd calls it (src/ffi/filter.rs makes the entry point).
struct PythonInput;

impl ffi::filter::InputFilter for PythonInput {
    type State = FilterState;
    const FAILED: raw::apr_status_t = APR_EGENERAL;
    fn call(
        f: &FFilter,
        ctx: &Ctx,
        bb: &BucketBrigade,
        mode: raw::ap_input_mode_t,
        block: raw::apr_read_type_e,
        readbytes: raw::apr_off_t,
    ) -> raw::apr_status_t {
        input_call(f, ctx, bb, mode, block, readbytes)
    }
}

fn input_call(
    f: &FFilter,
    ctx: &Ctx,
    bb: &BucketBrigade,
    mode: raw::ap_input_mode_t,
    block: raw::apr_read_type_e,
    readbytes: raw::apr_off_t,
) -> raw::apr_status_t {
    let st = &ctx.state;
    // Only body reads go through Python; line and speculative reads pass.
    if mode != raw::ap_input_mode_t_AP_MODE_READBYTES || st.disabled.get() || !interp::ready() {
        return f.get_next(bb, mode, block, readbytes);
    }
    if st.failed.get() {
        return APR_EGENERAL;
    }
    let want = if readbytes > 0 { readbytes as usize } else { 8192 };
    let out = ctx.out();
    if out.is_empty() && !st.closed.get() {
        let Some(decl) = decl_of(f, st, true) else {
            st.disabled.set(true);
            return f.get_next(bb, mode, block, readbytes);
        };
        // Call the handler until it produces something or the input ends
        // (a call may consume input without writing).
        for _ in 0..64 {
            let before_eos = st.eos_seen.get();
            if !call_handler(f, ctx, bb, &decl, want) {
                st.failed.set(true);
                return APR_EGENERAL;
            }
            if st.eos_seen.get() && !st.closed.get() {
                out.append_eos();
                st.closed.set(true);
            }
            if !out.is_empty() || st.closed.get() || (st.eos_seen.get() && before_eos) {
                break;
            }
        }
    }
    if out.is_empty() {
        if st.closed.get() {
            bb.append_eos();
            return raw::APR_SUCCESS as raw::apr_status_t;
        }
        // The handler neither read nor wrote: step aside rather than loop.
        f.log(
            log::APLOG_WARNING,
            "Python input filter produced no data and did not close: passing input through unchanged",
        );
        st.disabled.set(true);
        return f.get_next(bb, mode, block, readbytes);
    }
    // Hand up at most `want` bytes (callers size their buffers by it), then an EOS that follows.
    let mut data = Vec::new();
    if let Err(rv) = out.take_data(want, false, &mut data) {
        return rv;
    }
    bb.append(&data);
    while matches!(out.front(), Front::Eos | Front::Flush | Front::Meta) {
        out.move_first_to(bb);
    }
    raw::APR_SUCCESS as raw::apr_status_t
}
