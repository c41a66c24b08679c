//! The `#python` element of server-side includes, as mod_python has it:
//! in a page filtered by mod_include (`Options +Includes`),
//! `<!--#python exec="code" -->` runs Python and `<!--#python eval="expr" -->`
//! inserts `str(expr)`. The code sees `filter` (its `write` inserts text in
//! the page; `filter.req` is the request) and the globals of earlier blocks
//! of the same request, kept in `req.ssi_globals` (a handler may fill it
//! first). `IncludesNOEXEC` forbids the element, as it forbids `#exec`.
//!
//! mod_include may not be loaded: its functions are looked up by name after
//! configuration, and without them nothing is registered.
use crate::ffi::brigade::BucketBrigade;
use crate::ffi::filter::Filter;
use crate::ffi::held::{Held, Tied, Unusable};
use crate::ffi::hooks::{ConfigHooks, PostConfig};
use crate::ffi::include::Include;
use crate::ffi::request::Request;
use crate::ffi::{log, raw};
use crate::interp;
use crate::interpreters;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use std::ffi::c_int;

const SUCCESS: raw::apr_status_t = raw::APR_SUCCESS as raw::apr_status_t;

/// The `#python` element's post_config hook (src/module.rs registers it).
pub struct Hooks;

impl ConfigHooks for Hooks {
    /// Registers the `python` element with mod_include (on every
    /// configuration pass: mod_include makes its table of elements anew in
    /// each pre_config).
    fn post_config(at: &PostConfig<'_>) -> c_int {
        crate::ffi::include::register::<PythonElement>(at, c"python");
        raw::OK as c_int
    }
}

/// Inserts mod_include's error text ("[an error occurred while processing this directive]").
fn append_error(ctx: &Include, bb: &BucketBrigade) {
    if let Some(msg) = ctx.error_text() {
        bb.write(msg);
    }
}

/// The request's per-directory configuration.
fn dir_config(r: &Request) -> Option<&crate::config::DirConfig> {
    crate::config::DirConfig::of(r)
}

/// What mod_include calls for each `<!--#python ... -->` (src/ffi/include.rs
/// makes the entry point).
struct PythonElement;

impl crate::ffi::include::Element for PythonElement {
    // A failure is logged and shown in the page; mod_include goes on with the rest.
    const FAILED: raw::apr_status_t = SUCCESS;
    fn run(ctx: &Include, f: &Filter, bb: &BucketBrigade) -> raw::apr_status_t {
        element(ctx, f, bb)
    }
}

fn element(ctx: &Include, f: &Filter, bb: &BucketBrigade) -> raw::apr_status_t {
    let Some(r) = f.request() else {
        return SUCCESS;
    };
    let page = String::from_utf8_lossy(r.filename().unwrap_or_default()).into_owned();
    if ctx.argc() == 0 {
        r.log(log::APLOG_ERR, &format!("missing argument for python element in {page}"));
        append_error(ctx, bb);
        return SUCCESS;
    }
    if !ctx.printing() {
        return SUCCESS; // inside a false <!--#if -->
    }
    if ctx.no_exec() {
        r.log(log::APLOG_ERR, &format!("#python used but not allowed in {page} (IncludesNOEXEC)"));
        append_error(ctx, bb);
        return SUCCESS;
    }
    let attrs = ctx.attributes();
    if !interp::ready() {
        r.log(log::APLOG_ERR, &format!("#python in {page}: Python is not running in this child"));
        append_error(ctx, bb);
        return SUCCESS;
    }
    let debug = dir_config(r).is_some_and(|c| c.debug());
    for (tag, code) in attrs {
        if tag != "exec" && tag != "eval" {
            r.log(log::APLOG_ERR, &format!("unknown parameter \"{tag}\" to tag python in {page}"));
            append_error(ctx, bb);
            continue;
        }
        let failed = in_python(r, true, |py| run_block(py, ctx, r, bb, &tag, &code, debug));
        if failed {
            append_error(ctx, bb);
        }
    }
    SUCCESS
}

/// Enters Python for request `r`, also from inside a write made by a Python
/// handler (the GIL and a gate place are then already this thread's).
fn in_python<R>(r: &Request, refused: R, f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    // Global locks the code forgets are released when this request ends.
    // with_python also serves a call from inside a handler's write (the
    // thread is then through the gate and holds the GIL). PyGILState_Check
    // cannot tell: CPython turns it off once a sub-interpreter exists.
    let name = || crate::interpreters::names::mod_python(Some(r), r.server(), dir_config(r), None);
    crate::ffi::current::serving(r, || interpreters::with_python_named(name, refused, f))
}

/// Runs one `exec` or `eval`; true when it failed (already logged; with
/// PythonDebug On the traceback is put in the page instead of the error text).
fn run_block(py: Python<'_>, ctx: &Include, r: &Request, bb: &BucketBrigade, tag: &str, code: &str, debug: bool) -> bool {
    // The filter object may outlive the element: its context and brigade are lent for the call only.
    let res = crate::ffi::held::lend_for_call(Some(ctx), bb, |hctx, hbb| {
        Py::new(py, SsiFilter::new(hctx, hbb)).and_then(|filter| {
            let res = run_code(py, r, &filter, tag, code);
            filter.borrow(py).close();
            res
        })
    });
    let Err(e) = res else { return false };
    let headline = format!(
        "mod_pyrite: #python {tag} in {} failed",
        String::from_utf8_lossy(r.filename().unwrap_or_default())
    );
    r.log(log::APLOG_ERR, &headline);
    let lines = interp::traceback_lines(py, &e);
    for line in &lines {
        r.log(log::APLOG_ERR, line);
    }
    if !debug {
        return true;
    }
    let escaped = lines.join("\n").replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    bb.write(format!("<pre>\n{headline}\n\n{escaped}\n</pre>\n").as_bytes());
    false
}

/// Compiles and runs the block in the request's SSI globals.
fn run_code(py: Python<'_>, r: &Request, filter: &Py<SsiFilter>, tag: &str, code: &str) -> PyResult<()> {
    let req = crate::request::state::req_object(py, r, "PythonOutputFilter")?;
    if let Some(conf) = dir_config(r) {
        interpreters::apply_python_path(py, conf, None)?;
    }
    let _ = filter.borrow(py).req.set(req.clone().into_any().unbind());
    let globals = match req.getattr("ssi_globals") {
        Ok(g) if g.is_instance_of::<PyDict>() => g.cast_into::<PyDict>()?,
        _ => {
            let g = PyDict::new(py);
            req.setattr("ssi_globals", &g)?;
            g
        }
    };
    let builtins = py.import("builtins")?;
    if !globals.contains("__builtins__")? {
        globals.set_item("__builtins__", &builtins)?;
    }
    globals.set_item("filter", filter)?;
    globals.set_item("__file__", req.getattr("filename")?)?;
    // As mod_python: CRLF made LF and trailing blanks dropped; the code starts in column 0.
    let source = code.replace("\r\n", "\n");
    let name = format!("<#python {tag} in {}>", String::from_utf8_lossy(r.filename().unwrap_or_default()));
    let compiled = builtins.call_method1("compile", (source.trim_end(), name, tag))?;
    let result = builtins.call_method1(tag, (compiled, &globals))?;
    if tag == "eval" && !result.is_none() {
        filter.borrow(py).write_text(py, &result.str()?.into_any())?;
    }
    Ok(())
}

/// The `filter` object of a `#python` block: what it writes goes into the
/// page in place of the element. It works only while its block runs.
#[pyclass(module = "_apache")]
pub struct SsiFilter {
    /// The element's context: usable only while its block runs, on its thread.
    ctx: Held<Include>,
    /// The brigade mod_include is building for the element.
    bb: Tied<BucketBrigade>,
    req: std::sync::OnceLock<Py<PyAny>>,
}

impl SsiFilter {
    /// The element's context and brigade, lent for its call (`ffi::held::lend_for_call`).
    fn new(ctx: Held<Include>, bb: Tied<BucketBrigade>) -> Self {
        SsiFilter {
            ctx,
            bb,
            req: std::sync::OnceLock::new(),
        }
    }

    /// The live context and brigade, or why they cannot be used.
    fn live(&self) -> PyResult<(&Include, &BucketBrigade)> {
        let unusable = |e| {
            pyo3::exceptions::PyRuntimeError::new_err(match e {
                Unusable::OtherThread => "the SSI filter object was used from another thread",
                _ => "the SSI filter object was used after its #python element ended",
            })
        };
        Ok((self.ctx.get().map_err(unusable)?, self.bb.get(&self.ctx).map_err(unusable)?))
    }

    fn close(&self) {
        self.ctx.end();
    }

    fn write_text(&self, _py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let (_, bb) = self.live()?;
        if let Ok(s) = data.cast::<PyString>() {
            bb.write(s.to_cow()?.as_bytes());
        } else if let Ok(b) = data.cast::<PyBytes>() {
            bb.write(b.as_bytes());
        } else {
            return Err(pyo3::exceptions::PyTypeError::new_err("filter.write() takes str or bytes"));
        }
        Ok(())
    }
}

#[pymethods]
impl SsiFilter {
    /// Inserts text (str as UTF-8, or bytes) into the page.
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        self.write_text(py, data)
    }

    /// Asks mod_include to pass what the page has so far on to the client.
    fn flush(&self) -> PyResult<()> {
        self.live()?.0.request_flush();
        Ok(())
    }

    #[getter]
    fn req(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.req.get().map(|r| r.clone_ref(py))
    }

    #[getter]
    fn name(&self) -> &'static str {
        "INCLUDES"
    }

    #[getter]
    fn is_input(&self) -> bool {
        false
    }

    #[getter]
    fn closed(&self) -> bool {
        self.ctx.ended()
    }
}
