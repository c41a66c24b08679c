//! Phase dispatch: which Python handlers run for a request, calling them, and
//! turning what they return (or raise) into what httpd expects.
use crate::config::{self, DirConfig, HandlerDecl, Phase};
use crate::ffi::hooks::request_hook;
use crate::ffi::request::Request as HttpRequest;
use crate::ffi::{current, log, raw};
use crate::interp;
use crate::interpreters;
use crate::request::configs;
use crate::request::request::Request;
use crate::request::server_return::SERVER_RETURN;
use crate::sync::LockExt;
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyTuple};
use std::collections::HashMap;
use std::ffi::c_int;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

const OK: c_int = raw::OK as c_int;
const DECLINED: c_int = raw::DECLINED;
const DONE: c_int = raw::DONE;
const SERVER_ERROR: c_int = raw::HTTP_INTERNAL_SERVER_ERROR as c_int;

/// How often a handler module's file is checked for changes (mod_python's interval).
const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// A handler declaration's resolved object in this child, per interpreter
/// (the same declaration can run in several: PythonInterpPerDirectory).
#[derive(Default)]
pub struct HandlerCache(Mutex<Vec<Cached>>);

impl HandlerCache {
    /// Keeps `c` as the interpreter's entry (replacing an older one).
    fn put(&self, c: Cached) {
        let mut list = self.0.locked();
        list.retain(|o| o.interp != c.interp);
        list.push(c);
    }
}

struct Cached {
    interp: interpreters::Id,
    /// The module generation the object was resolved against.
    generation: u64,
    /// None when the path passes through a class: resolved anew per request.
    object: Option<Py<PyAny>>,
}

/// A handler module as loaded in this child.
struct Loaded {
    module: Py<PyAny>,
    file: Option<PathBuf>,
    mtime: Option<SystemTime>,
    checked: Instant,
    generation: u64,
}

/// Handler modules by interpreter and name.
static MODULES: Mutex<Option<HashMap<interpreters::Id, HashMap<String, Loaded>>>> = Mutex::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(1);

fn file_mtime(p: &Option<PathBuf>) -> Option<SystemTime> {
    p.as_ref().and_then(|p| std::fs::metadata(p).ok()).and_then(|m| m.modified().ok())
}

/// The handler module, imported on first use and re-imported when its file
/// changed (with autoreload). Never holds the registry lock across Python calls:
/// an import may release the GIL, and another thread could then wait for the
/// lock while holding the GIL.
fn load_module<'py>(py: Python<'py>, name: &str, autoreload: bool) -> PyResult<(Bound<'py, PyAny>, u64)> {
    let interp = interpreters::current(py);
    let known = {
        let mut guard = MODULES.locked();
        match guard.get_or_insert_with(HashMap::new).entry(interp).or_default().get_mut(name) {
            Some(l) if !autoreload || l.checked.elapsed() < RELOAD_CHECK => {
                return Ok((l.module.bind(py).clone(), l.generation));
            }
            Some(l) => {
                l.checked = Instant::now();
                Some((l.module.clone_ref(py), l.file.clone(), l.mtime, l.generation))
            }
            None => None,
        }
    };
    if let Some((module, file, mtime, generation)) = known {
        let now_mtime = file_mtime(&file);
        if now_mtime == mtime {
            return Ok((module.into_bound(py), generation));
        }
        let importlib = py.import("importlib")?;
        let fresh = importlib.call_method1("reload", (module.bind(py),))?;
        return Ok(remember(interp, name, fresh, file, now_mtime));
    }
    let module = py.import(name)?.into_any();
    let file: Option<PathBuf> = module
        .getattr("__file__")
        .ok()
        .and_then(|f| f.extract::<String>().ok())
        .map(PathBuf::from);
    let mtime = file_mtime(&file);
    Ok(remember(interp, name, module, file, mtime))
}

fn remember<'py>(
    interp: interpreters::Id,
    name: &str,
    module: Bound<'py, PyAny>,
    file: Option<PathBuf>,
    mtime: Option<SystemTime>,
) -> (Bound<'py, PyAny>, u64) {
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    let mut guard = MODULES.locked();
    guard.get_or_insert_with(HashMap::new).entry(interp).or_default().insert(
        name.to_string(),
        Loaded {
            module: module.clone().unbind(),
            file,
            mtime,
            checked: Instant::now(),
            generation,
        },
    );
    drop(guard);
    (module, generation)
}

/// Imports the modules of the handlers declared in the server configuration
/// (PyritePreload On, the default), so no request in a new child waits for
/// them. A module that fails here is logged and tried again on first use.
pub fn preload(py: Python<'_>, s: &crate::ffi::server::Server, id: interpreters::Id) -> usize {
    // The handlers that run in interpreter `id` (the one the caller is in).
    let declared: Vec<(Arc<HandlerDecl>, Option<Arc<config::PathSetting>>)> = config::declared()
        .iter()
        .filter(|d| interpreters::known_guess(&interpreters::plan::declared(d)) == Some(id))
        .map(|d| (d.decl.clone(), d.python_path()))
        .collect();
    let mut loaded = std::collections::HashSet::new();
    let mut failed = std::collections::HashSet::new();
    for (decl, path) in declared {
        if failed.contains(&decl.module) {
            continue;
        }
        let conf = DirConfig {
            python_path: path,
            ..Default::default()
        };
        // A wildcard section's directory is known per request only.
        let dir = if decl.dir_wildcard { None } else { decl.directory.as_deref() };
        let res = interpreters::apply_python_path(py, &conf, dir).and_then(|_| load_module(py, &decl.module, true));
        match res {
            Ok((module, generation)) => {
                loaded.insert(decl.module.clone());
                // A plain function name is looked up now, so the first request finds it cached.
                let name = decl.object_name();
                if !name.contains('.') {
                    if let Ok(object) = module.getattr(name) {
                        decl.cache.get_or_default::<HandlerCache>().put(Cached {
                            interp: id,
                            generation,
                            object: Some(object.unbind()),
                        });
                    }
                }
            }
            Err(e) => {
                failed.insert(decl.module.clone());
                s.log(
                    log::APLOG_WARNING,
                    &format!(
                        "{} {} ({}): preloading module '{}' at child start failed, will retry on first request: {e}",
                        decl.phase.directive(),
                        decl.spec(),
                        decl.origin,
                        decl.module
                    ),
                );
            }
        }
    }
    loaded.len()
}

/// What a handler's lookup failed on, for the log line.
enum Failure {
    Import(PyErr),
    Missing(PyErr),
    Call(PyErr),
}

/// Finds the callable for `decl`, using the cache while the module is
/// unchanged; `directory` is the handler's directory for this request.
fn resolve<'py>(
    py: Python<'py>,
    decl: &HandlerDecl,
    directory: Option<&str>,
    conf: &DirConfig,
    req: &Bound<'py, Request>,
) -> Result<Bound<'py, PyAny>, Failure> {
    interpreters::apply_python_path(py, conf, directory).map_err(Failure::Import)?;
    let (module, generation) = load_module(py, &decl.module, conf.autoreload()).map_err(Failure::Import)?;
    let interp = interpreters::current(py);
    {
        let cache = decl.cache.get_or_default::<HandlerCache>().0.locked();
        if let Some(c) = cache.iter().find(|c| c.interp == interp && c.generation == generation) {
            if let Some(o) = &c.object {
                return Ok(o.bind(py).clone());
            }
        }
    }
    let name = decl.object_name();
    let apache = py.import("mod_python.apache").map_err(Failure::Import)?;
    let per_request = name.contains('.')
        && apache
            .call_method1("_needs_instance", (&module, name))
            .and_then(|b| b.is_truthy())
            .map_err(Failure::Missing)?;
    let object = if per_request {
        apache
            .call_method1("_resolve_for_request", (&module, name, req))
            .map_err(Failure::Missing)?
    } else {
        object_at(&module, &decl.module, name).map_err(Failure::Missing)?
    };
    decl.cache.get_or_default::<HandlerCache>().put(Cached {
        interp,
        generation,
        object: if per_request { None } else { Some(object.clone().unbind()) },
    });
    Ok(object)
}

/// The object at the dotted `path` in `module`, or an AttributeError naming the module's file.
fn object_at<'py>(module: &Bound<'py, PyAny>, module_name: &str, path: &str) -> PyResult<Bound<'py, PyAny>> {
    let mut obj = module.clone();
    for part in path.split('.') {
        obj = obj.getattr(part).map_err(|_| {
            let file = module
                .getattr("__file__")
                .map(|f| f.to_string())
                .unwrap_or_else(|_| module_name.to_string());
            pyo3::exceptions::PyAttributeError::new_err(format!("module '{file}' contains no '{path}'"))
        })?;
    }
    Ok(obj)
}

/// Imports `module` (under the configuration's PythonPath and autoreload
/// setting) and returns the object at `path`: what filters and connection
/// handlers call, which have no per-declaration cache.
pub(crate) fn load_object<'py>(
    py: Python<'py>,
    conf: &DirConfig,
    directory: Option<&str>,
    module: &str,
    path: &str,
) -> PyResult<Bound<'py, PyAny>> {
    interpreters::apply_python_path(py, conf, directory)?;
    let (m, _) = load_module(py, module, conf.autoreload())?;
    object_at(&m, module, path)
}

/// A handler's outcome as an int status, or the error it raised.
fn call<'py>(
    py: Python<'py>,
    decl: &HandlerDecl,
    directory: Option<&str>,
    conf: &DirConfig,
    req: &Bound<'py, Request>,
) -> Result<Bound<'py, PyAny>, Failure> {
    let obj = resolve(py, decl, directory, conf, req)?;
    let outcome = if conf.enable_pdb.unwrap_or(false) {
        // PythonEnablePdb On: mod_python's way of stepping through a handler.
        // The debugger talks to the process's own stdin and stdout (the
        // terminal of `apache2 -X`), not to sys.stdout, which is the error log.
        run_under_pdb(py, &obj, req)
    } else {
        obj.call1((req,))
    };
    match outcome {
        Ok(v) => Ok(v),
        Err(e) if e.is_instance_of::<SERVER_RETURN>(py) => Ok(server_return_value(py, req, &e)),
        Err(e) => Err(Failure::Call(e)),
    }
}

fn run_under_pdb<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>, req: &Bound<'py, Request>) -> PyResult<Bound<'py, PyAny>> {
    let sys = py.import("sys")?;
    let kw = pyo3::types::PyDict::new(py);
    kw.set_item("stdin", sys.getattr("__stdin__")?)?;
    kw.set_item("stdout", sys.getattr("__stdout__")?)?;
    let debugger = py.import("pdb")?.getattr("Pdb")?.call((), Some(&kw))?;
    debugger.call_method1("runcall", (obj, req))
}

/// mod_python's SERVER_RETURN forms: (code), (code, status) and ((code, status)).
fn server_return_value<'py>(py: Python<'py>, req: &Bound<'py, Request>, e: &PyErr) -> Bound<'py, PyAny> {
    let args = e.value(py).getattr("args").ok().and_then(|a| a.cast_into::<PyTuple>().ok());
    let mut items: Vec<Bound<'py, PyAny>> = args.map(|a| a.iter().collect()).unwrap_or_default();
    if items.len() == 1 {
        if let Ok(t) = items[0].cast::<PyTuple>() {
            if t.len() == 2 {
                items = t.iter().collect();
            }
        }
    }
    match items.len() {
        0 => py.None().into_bound(py),
        1 => items.remove(0),
        _ => {
            let status = &items[1];
            if status.is_truthy().unwrap_or(false) {
                let _ = req.setattr("status", status);
            }
            items.remove(0)
        }
    }
}

/// The return codes that let the next handler of the same phase run.
fn continues(phase: Phase, code: c_int) -> bool {
    match phase {
        Phase::Handler | Phase::Cleanup => code == OK,
        Phase::Trans | Phase::Authen | Phase::Authz | Phase::Type => code == DECLINED,
        Phase::PostReadRequest | Phase::HeaderParser | Phase::Init | Phase::Access | Phase::Fixup | Phase::Log => {
            code == DECLINED || code == OK
        }
    }
}

/// The entries of a phase's configured list that apply to a file: those of
/// its extension's `| .ext` list when it has one, else the plain list.
fn for_file<'a>(decls: &'a [Arc<HandlerDecl>], filename: impl FnOnce() -> Option<&'a [u8]>) -> impl Iterator<Item = &'a Arc<HandlerDecl>> {
    // Most phases of most requests have no handlers: then the name is not even read.
    let ext = if decls.is_empty() {
        None
    } else {
        filename().and_then(pyrite_text::dirpath::extension)
    };
    let listed = ext.filter(|e| decls.iter().any(|d| d.ext.as_deref().map(str::as_bytes) == Some(*e)));
    decls.iter().filter(move |d| d.ext.as_deref().map(str::as_bytes) == listed)
}

/// Maps a handler's int to what httpd accepts, logging what it cannot take.
fn to_httpd(r: &HttpRequest, decl: &HandlerDecl, code: i64) -> c_int {
    match code {
        c if c == OK as i64 || c == DECLINED as i64 || c == DONE as i64 => c as c_int,
        // HTTP_OK is the classic slip for apache.OK: treat it as success.
        200 => OK,
        100..=599 => code as c_int,
        _ => {
            r.log(
                log::APLOG_ERR,
                &format!(
                    "{} {} ({}) returned {code}, which is neither apache.OK, DECLINED, DONE nor an HTTP status",
                    decl.phase.directive(),
                    decl.spec(),
                    decl.origin
                ),
            );
            SERVER_ERROR
        }
    }
}

/// Runs the handlers of one phase in order, with the request's one `req`.
/// Returns the phase's result and the output left buffered (to be handed
/// to httpd once the GIL is released).
fn run_phase(py: Python<'_>, r: &HttpRequest, conf: &DirConfig, phase: Phase, decls: Vec<Arc<HandlerDecl>>) -> (c_int, Vec<u8>) {
    // Shared with req.hlist; copied only when a handler adds to this phase.
    let mut decls: Arc<Vec<Arc<HandlerDecl>>> = Arc::new(decls);
    let req = match crate::request::state::req_object(py, r, phase.directive()) {
        Ok(r) => r,
        Err(e) => {
            r.log(log::APLOG_ERR, &format!("mod_pyrite: could not create the request object: {e}"));
            return (SERVER_ERROR, Vec::new());
        }
    };
    let mut result = DECLINED;
    let mut i = 0;
    while i < decls.len() {
        let decl = decls[i].clone();
        req.get().set_running(crate::request::hlist::Running {
            list: decls.clone(),
            index: i,
        });
        i += 1;
        if decl.location.is_some() && !decl.location_pattern {
            req.get().set_location(decl.location.clone());
        }
        // A flush the previous handler held goes out before this one runs.
        crate::request::held_flush::carry_out(py);
        let filename = r.filename();
        let directory = decl.directory_for(filename);
        // The interpreter the phase's name picks (src/interpreters): its
        // first handler's, as req.interpreter reports it.
        let call_in = || {
            if !interpreters::isolating() {
                return call(py, &decl, directory.as_deref(), conf, &req);
            }
            let name = interpreters::names::for_phase(r, Some(conf), decls.first().map(|d| &**d));
            let Some(id) = interpreters::resolve(py, name.as_deref()) else {
                let msg = format!("no interpreter '{}' for this handler (see the error log)", name.unwrap_or_default());
                return Err(Failure::Import(pyo3::exceptions::PyRuntimeError::new_err(msg)));
            };
            if phase == Phase::Handler {
                interpreters::count_request(id);
            }
            interpreters::enter(py, id, || call(py, &decl, directory.as_deref(), conf, &req))
        };
        let outcome = match call_in() {
            Err(Failure::Missing(_)) if decl.silent => continue,
            other => other,
        };
        // Only the content handler's return can carry a held flush to the
        // end of the response; an error decides on what the client got.
        if outcome.is_err() || phase != Phase::Handler {
            crate::request::held_flush::carry_out(py);
        }
        result = match outcome {
            Ok(v) => {
                if v.get_type().is(py.get_type::<PyInt>()) {
                    match v.extract::<i64>() {
                        Ok(code) => to_httpd(r, &decl, code),
                        Err(_) => to_httpd(r, &decl, i64::MAX),
                    }
                } else {
                    let tname = v.get_type().name().map(|n| n.to_string()).unwrap_or_default();
                    r.log(
                        log::APLOG_ERR,
                        &format!(
                            "{} {} ({}) returned a {tname}, not an int: a handler returns apache.OK, apache.DECLINED or an HTTP status",
                            phase.directive(),
                            decl.spec(),
                            decl.origin
                        ),
                    );
                    SERVER_ERROR
                }
            }
            Err(f) => report(py, r, &req, conf, &decl, f),
        };
        if !continues(phase, result) {
            break;
        }
        // Handlers this one added to its own phase run after the current ones.
        let added = crate::request::state::of_request(r).borrow_mut().take_added(phase);
        if !added.is_empty() {
            Arc::make_mut(&mut decls).extend(added);
        }
    }
    // Finished (OK or DONE): what the content handler flushed last leaves
    // with the end of the response, in one write.
    if !(phase == Phase::Handler && (result == OK || result == DONE)) {
        crate::request::held_flush::carry_out(py);
    }
    crate::request::held_flush::disarm(py);
    let pending = req.get().take_output();
    (result, pending)
}

/// Logs a failed handler with its traceback and decides the response:
/// 500 (or a cut response when output had started); with PythonDebug On the
/// traceback also goes to the client.
fn report(py: Python<'_>, r: &HttpRequest, req: &Bound<'_, Request>, conf: &DirConfig, decl: &HandlerDecl, f: Failure) -> c_int {
    let (what, e) = match f {
        Failure::Import(e) => (format!("could not import module '{}'", decl.module), e),
        Failure::Missing(e) => (format!("found no '{}' in module '{}'", decl.object_name(), decl.module), e),
        Failure::Call(e) => ("raised an exception".to_string(), e),
    };
    let head = format!("{} {}", decl.phase.directive(), decl.spec());
    let lossy = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
    let (method, uri) = (lossy(r.method()), lossy(r.unparsed_uri()));
    r.log(
        log::APLOG_ERR,
        &format!("{head} ({}) {what} while serving {method} {uri}: {e}", decl.origin),
    );
    let lines = interp::traceback_lines(py, &e);
    for line in &lines {
        r.log(log::APLOG_ERR, &format!("{head}: {line}"));
    }
    let wrote = req.get().sent();
    if !wrote {
        // Nothing reached the client: drop the partial page and answer 500 cleanly.
        req.get().discard_output();
    }
    if conf.debug() {
        let page = py
            .import("mod_python.apache")
            .and_then(|a| a.call_method1("_error_page", (decl.phase.directive(), decl.spec(), lines)));
        if let Ok(page) = page {
            let _ = (|| -> PyResult<()> {
                if !wrote {
                    req.setattr("status", SERVER_ERROR)?;
                    req.setattr("content_type", "text/html")?;
                }
                req.call_method1("write", (page,))?;
                Ok(())
            })();
            return DONE;
        }
    }
    if wrote {
        // Headers are out: end the response so the client sees it was cut.
        r.abort_response();
        return DONE;
    }
    SERVER_ERROR
}

/// The handlers a phase runs for `r`, and the configuration they run with.
/// PostReadRequest and Trans run before httpd has chosen the per-directory
/// configuration: they use the server's. PythonInitHandler is a
/// post-read-request handler at server level and a header-parser handler in
/// sections.
///
fn phase_handlers(r: &HttpRequest, phase: Phase) -> Option<(&DirConfig, Vec<Arc<HandlerDecl>>)> {
    let early = matches!(phase, Phase::PostReadRequest | Phase::Trans);
    let conf = if early {
        configs::server_dir(r.server())?
    } else {
        configs::dir(r)?
    };
    let filename = || r.filename();
    let mut list: Vec<Arc<HandlerDecl>> = Vec::new();
    match phase {
        Phase::PostReadRequest => {
            list.extend(for_file(conf.handlers(Phase::Init), filename).cloned());
            list.extend(for_file(conf.handlers(Phase::PostReadRequest), filename).cloned());
        }
        Phase::HeaderParser => {
            let server_init = configs::server_dir(r.server()).and_then(|s| s.handlers[Phase::Init as usize].as_ref());
            if let Some(own) = &conf.handlers[Phase::Init as usize] {
                if !server_init.is_some_and(|s| Arc::ptr_eq(s, own)) {
                    list.extend(for_file(own, filename).cloned());
                }
            }
            list.extend(for_file(conf.handlers(Phase::HeaderParser), filename).cloned());
        }
        _ => list.extend(for_file(conf.handlers(phase), filename).cloned()),
    }
    // Handlers added at run time (req.add_handler) for this phase.
    if let Some(st) = crate::request::state::of_request_if_any(r) {
        list.extend(st.borrow_mut().take_added(phase));
    }
    if list.is_empty() {
        return None;
    }
    Some((conf, list))
}

/// Runs a phase for httpd and maps its result as mod_python does.
fn phase_hook(r: &HttpRequest, phase: Phase) -> c_int {
    let Some((conf, decls)) = phase_handlers(r, phase) else {
        return DECLINED;
    };
    if decls.is_empty() {
        return DECLINED;
    }
    if !interp::ready() {
        r.log(
            log::APLOG_ERR,
            "mod_pyrite: Python is not running in this process (child_init did not run?)",
        );
        return SERVER_ERROR;
    }
    let (mut result, pending) = current::serving(r, || interp::with_python(|py| run_phase(py, r, conf, phase, decls)));
    // What the handlers left buffered goes out now, without the GIL; a
    // finished page ends here (see output::end).
    if phase == Phase::Handler && result == OK {
        result = crate::request::output::end(r, &pending);
    } else if !pending.is_empty() && !crate::request::output::send(r, &pending, false) {
        return if result == OK { DONE } else { result };
    }
    if phase == Phase::Authen {
        if result == OK && r.user().is_none() {
            r.log(
                log::APLOG_ERR,
                "PythonAuthenHandler returned apache.OK but set no req.user: refusing the request",
            );
            result = SERVER_ERROR;
        } else if result == raw::HTTP_UNAUTHORIZED as c_int {
            note_basic_challenge(r);
        }
    }
    result
}

/// Adds the Basic challenge to a 401 from an authentication handler.
fn note_basic_challenge(r: &HttpRequest) {
    let realm = r
        .auth_name()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_else(|| "Restricted".into());
    let value = format!("Basic realm=\"{}\"", realm.replace('"', "'"));
    let _ = r.err_headers_out().set(b"WWW-Authenticate", value.as_bytes());
}

request_hook!(
    /// httpd's content hook: serves requests whose handler is mod_python.
    pub content_handler,
    DECLINED,
    |r: &HttpRequest| crate::guard::or(SERVER_ERROR, || {
        match r.handler() {
            Some(b"mod_python") | Some(b"python-program") => {}
            _ => return DECLINED,
        }
        // Nothing to run (no PythonHandler for this file, none added with
        // req.add_handler): decline as mod_python does, so httpd's own
        // handler serves the file.
        let configured = configs::dir(r).is_some_and(|c| for_file(c.handlers(Phase::Handler), || r.filename()).next().is_some());
        let added = crate::request::state::of_request_if_any(r).is_some_and(|st| st.borrow().has_added(Phase::Handler));
        if !configured && !added {
            r.log(
                log::APLOG_INFO,
                &format!(
                    "SetHandler mod_python applies to {} but no PythonHandler is configured there: declined, httpd's default handler serves it",
                    String::from_utf8_lossy(r.uri().unwrap_or_default())
                ),
            );
            return DECLINED;
        }
        let timing = crate::metrics::begin(r);
        let code = phase_hook(r, Phase::Handler);
        crate::metrics::end(timing, if code >= 100 { code } else { r.status() });
        code
    })
);

macro_rules! hook {
    ($name:ident, $phase:expr) => {
        request_hook!(pub $name, DECLINED, |r| {
            // No Python*Handler for any phase but the content one anywhere
            // (a WSGI-only site): nothing to look up.
            if !config::phase_handlers_declared() {
                return DECLINED;
            }
            crate::guard::or(SERVER_ERROR, || phase_hook(r, $phase))
        });
    };
}

hook!(post_read_request, Phase::PostReadRequest);
hook!(translate_name, Phase::Trans);
hook!(header_parser, Phase::HeaderParser);
hook!(access_checker, Phase::Access);
hook!(check_user_id, Phase::Authen);
hook!(auth_checker, Phase::Authz);
hook!(type_checker, Phase::Type);
hook!(fixups, Phase::Fixup);
hook!(log_transaction, Phase::Log);

/// Runs at the request pool's cleanup (when the request had a `req`):
/// PythonCleanupHandler and the callables given to req.register_cleanup.
/// Exceptions are logged, never raised into httpd.
pub fn request_cleanup(r: &HttpRequest) {
    let handlers = phase_handlers(r, Phase::Cleanup);
    let Some(st) = crate::request::state::of_request_if_any(r) else {
        return;
    };
    let Some(has_callables) = st.borrow().req.as_ref().map(|req| req.get().has_cleanups()) else {
        return;
    };
    if handlers.as_ref().is_none_or(|(_, d)| d.is_empty()) && !has_callables {
        return;
    }
    if !interp::ready() {
        return;
    }
    current::outside(|| {
        interp::with_python(|py| {
            let Some(req) = st.borrow().req.as_ref().map(|req| req.clone_ref(py)) else {
                return;
            };
            if let Some((conf, decls)) = &handlers {
                if !decls.is_empty() {
                    let _ = run_phase(py, r, conf, Phase::Cleanup, decls.clone());
                }
            }
            req.get().run_cleanups(py);
        })
    });
}
