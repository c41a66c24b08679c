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
use crate::ffi::{self, log, raw, SendPtr};
use crate::interp;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicPtr, Ordering};

type GetTagAndValue = unsafe extern "C" fn(*mut raw::include_ctx_t, *mut *mut c_char, *mut *mut c_char, c_int);
type RegisterHandler = unsafe extern "C" fn(*mut c_char, Option<IncludeHandler>);
type IncludeHandler =
    unsafe extern "C" fn(*mut raw::include_ctx_t, *mut raw::ap_filter_t, *mut raw::apr_bucket_brigade) -> raw::apr_status_t;

/// mod_include's `ap_ssi_get_tag_and_value`, once found.
static GET_TAG_AND_VALUE: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

const SUCCESS: raw::apr_status_t = raw::APR_SUCCESS as raw::apr_status_t;

/// mod_include's optional function `name`, or NULL when mod_include is not loaded.
///
/// # Safety
/// Called after the modules' register_hooks ran (optional functions are
/// registered there); `name` is NUL-terminated.
unsafe fn optional_fn(name: &std::ffi::CStr) -> *mut c_void {
    unsafe { raw::apr_dynamic_fn_retrieve(name.as_ptr()) }.map_or(std::ptr::null_mut(), |f| f as *mut c_void)
}

/// post_config hook: registers the `python` element with mod_include (on
/// every configuration pass: mod_include makes its table of elements anew
/// in each pre_config).
///
/// # Safety
/// Called by httpd as a post_config hook.
pub unsafe extern "C" fn post_config(
    _pconf: *mut raw::apr_pool_t,
    _plog: *mut raw::apr_pool_t,
    _ptemp: *mut raw::apr_pool_t,
    _s: *mut raw::server_rec,
) -> c_int {
    crate::guard::or(raw::OK as c_int, || unsafe {
        let register = optional_fn(c"ap_register_include_handler");
        let get = optional_fn(c"ap_ssi_get_tag_and_value");
        if register.is_null() || get.is_null() {
            return raw::OK as c_int;
        }
        GET_TAG_AND_VALUE.store(get, Ordering::Release);
        // SAFETY: the pointer is mod_include's function of exactly this type (mod_include.h).
        let register: RegisterHandler = std::mem::transmute::<*mut c_void, RegisterHandler>(register);
        // mod_include keeps the name pointer: a static string.
        register(c"python".as_ptr() as *mut c_char, Some(handle_python));
        raw::OK as c_int
    })
}

/// The element's attributes as (name, value) pairs, values entity-decoded.
///
/// # Safety
/// `ctx` is the context mod_include passed to the element's handler, and
/// GET_TAG_AND_VALUE was set (the handler is registered only then).
unsafe fn attributes(ctx: *mut raw::include_ctx_t) -> Vec<(String, String)> {
    let f = GET_TAG_AND_VALUE.load(Ordering::Acquire);
    // SAFETY: stored from mod_include's ap_ssi_get_tag_and_value (see post_config).
    let get: GetTagAndValue = unsafe { std::mem::transmute::<*mut c_void, GetTagAndValue>(f) };
    let mut out = Vec::new();
    loop {
        let (mut tag, mut val): (*mut c_char, *mut c_char) = (std::ptr::null_mut(), std::ptr::null_mut());
        unsafe { get(ctx, &mut tag, &mut val, raw::SSI_VALUE_DECODED as c_int) };
        if tag.is_null() {
            return out;
        }
        // SAFETY: both strings live in ctx's pools for the directive.
        out.push(unsafe { (ffi::cstr_lossy(tag), ffi::cstr_lossy(val)) });
    }
}

/// Appends `data` (copied) to the brigade mod_include is building.
///
/// # Safety
/// `bb` is the brigade passed to the running element handler.
unsafe fn append(bb: *mut raw::apr_bucket_brigade, data: &[u8]) {
    // Without a flush function apr_brigade_write copies into heap buckets.
    unsafe { raw::apr_brigade_write(bb, None, std::ptr::null_mut(), data.as_ptr() as *const c_char, data.len()) };
}

/// Inserts mod_include's error text ("[an error occurred while processing this directive]").
///
/// # Safety
/// As for [`append`]; `ctx` is the running element's context.
unsafe fn append_error(ctx: *mut raw::include_ctx_t, bb: *mut raw::apr_bucket_brigade) {
    if let Some(msg) = unsafe { ffi::cstr((*ctx).error_str) } {
        unsafe { append(bb, msg) };
    }
}

/// mod_include calls this for each `<!--#python ... -->`.
unsafe extern "C" fn handle_python(
    ctx: *mut raw::include_ctx_t,
    f: *mut raw::ap_filter_t,
    bb: *mut raw::apr_bucket_brigade,
) -> raw::apr_status_t {
    crate::guard::or(SUCCESS, || unsafe {
        let r = (*f).r;
        let page = ffi::cstr_lossy((*r).filename);
        if (*ctx).argc == 0 {
            log::rerror(r, log::APLOG_ERR, &format!("missing argument for python element in {page}"));
            append_error(ctx, bb);
            return SUCCESS;
        }
        if (*ctx).flags & raw::SSI_FLAG_PRINTING as c_int == 0 {
            return SUCCESS; // inside a false <!--#if -->
        }
        if (*ctx).flags & raw::SSI_FLAG_NO_EXEC as c_int != 0 {
            log::rerror(
                r,
                log::APLOG_ERR,
                &format!("#python used but not allowed in {page} (IncludesNOEXEC)"),
            );
            append_error(ctx, bb);
            return SUCCESS;
        }
        let attrs = attributes(ctx);
        if !interp::ready() {
            log::rerror(
                r,
                log::APLOG_ERR,
                &format!("#python in {page}: Python is not running in this child"),
            );
            append_error(ctx, bb);
            return SUCCESS;
        }
        let debug = crate::config::dir_config(r).is_some_and(|c| c.debug());
        for (tag, code) in attrs {
            if tag != "exec" && tag != "eval" {
                log::rerror(r, log::APLOG_ERR, &format!("unknown parameter \"{tag}\" to tag python in {page}"));
                append_error(ctx, bb);
                continue;
            }
            let failed = in_python(r, true, |py| run_block(py, ctx, f, bb, &tag, &code, debug));
            if failed {
                append_error(ctx, bb);
            }
        }
        SUCCESS
    })
}

/// Enters Python for request `r`, also from inside a write made by a Python
/// handler (the GIL and a gate place are then already this thread's).
fn in_python<R>(r: *mut raw::request_rec, refused: R, f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    // Global locks the code forgets are released when this request ends.
    let outer = crate::locks::CURRENT_REQUEST.with(|c| c.replace(r));
    // with_python also serves a call from inside a handler's write (the
    // thread is then through the gate and holds the GIL). PyGILState_Check
    // cannot tell: CPython turns it off once a sub-interpreter exists.
    let name = || {
        // SAFETY: r is the live request this thread serves.
        unsafe { crate::interpreters::names::mod_python(r, (*r).server, crate::config::dir_config(r), None) }
    };
    let res = interp::with_python_named(name, refused, f);
    crate::locks::CURRENT_REQUEST.with(|c| c.set(outer));
    res
}

/// Runs one `exec` or `eval`; true when it failed (already logged; with
/// PythonDebug On the traceback is put in the page instead of the error text).
fn run_block(
    py: Python<'_>,
    ctx: *mut raw::include_ctx_t,
    f: *mut raw::ap_filter_t,
    bb: *mut raw::apr_bucket_brigade,
    tag: &str,
    code: &str,
    debug: bool,
) -> bool {
    // SAFETY: f is the running filter; f->r the live request this thread serves.
    let r = unsafe { (*f).r };
    let res = Py::new(py, SsiFilter::new(ctx, bb)).and_then(|filter| {
        let res = run_code(py, r, &filter, tag, code);
        filter.borrow(py).close();
        res
    });
    let Err(e) = res else { return false };
    // SAFETY: as above.
    let headline = format!("mod_pyrite: #python {tag} in {} failed", unsafe { ffi::cstr_lossy((*r).filename) });
    log::rerror(r, log::APLOG_ERR, &headline);
    let lines = interp::traceback_lines(py, &e);
    for line in &lines {
        log::rerror(r, log::APLOG_ERR, line);
    }
    if !debug {
        return true;
    }
    let escaped = lines.join("\n").replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    // SAFETY: bb is the running handler's brigade.
    unsafe { append(bb, format!("<pre>\n{headline}\n\n{escaped}\n</pre>\n").as_bytes()) };
    false
}

/// Compiles and runs the block in the request's SSI globals.
fn run_code(py: Python<'_>, r: *mut raw::request_rec, filter: &Py<SsiFilter>, tag: &str, code: &str) -> PyResult<()> {
    // SAFETY: r is the live request this thread is filtering.
    let req = unsafe { crate::request::state::request(py, r, "PythonOutputFilter")? };
    if let Some(conf) = unsafe { crate::config::dir_config(r) } {
        interp::apply_python_path(py, conf, None)?;
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
    // SAFETY: as above.
    let name = format!("<#python {tag} in {}>", unsafe { ffi::cstr_lossy((*r).filename) });
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
    ctx: std::sync::Mutex<Option<(SendPtr<raw::include_ctx_t>, SendPtr<raw::apr_bucket_brigade>)>>,
    thread: std::thread::ThreadId,
    req: std::sync::OnceLock<Py<PyAny>>,
}

impl SsiFilter {
    fn new(ctx: *mut raw::include_ctx_t, bb: *mut raw::apr_bucket_brigade) -> Self {
        SsiFilter {
            ctx: std::sync::Mutex::new(Some((SendPtr(ctx), SendPtr(bb)))),
            thread: std::thread::current().id(),
            req: std::sync::OnceLock::new(),
        }
    }

    /// The live context, or why it cannot be used.
    fn live(&self) -> PyResult<(SendPtr<raw::include_ctx_t>, SendPtr<raw::apr_bucket_brigade>)> {
        if std::thread::current().id() != self.thread {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the SSI filter object was used from another thread",
            ));
        }
        (*self.ctx.lock().unwrap())
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("the SSI filter object was used after its #python element ended"))
    }

    fn close(&self) {
        *self.ctx.lock().unwrap() = None;
    }

    fn write_text(&self, _py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let (_, bb) = self.live()?;
        if let Ok(s) = data.cast::<PyString>() {
            // SAFETY: bb belongs to the element handler running on this thread (checked by live()).
            unsafe { append(bb.0, s.to_cow()?.as_bytes()) };
        } else if let Ok(b) = data.cast::<PyBytes>() {
            unsafe { append(bb.0, b.as_bytes()) };
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
        let (ctx, _) = self.live()?;
        // SAFETY: ctx is the running element's context (checked by live()).
        unsafe { (*ctx.0).flush_now = 1 };
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
        self.ctx.lock().unwrap().is_none()
    }
}
