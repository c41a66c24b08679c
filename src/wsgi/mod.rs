//! The WSGI adapter: mod_wsgi's configuration (WSGIScriptAlias and friends)
//! in front of a complete PEP 3333 implementation.
pub mod adapter;
pub mod app;
pub mod auth;
pub mod config;
pub mod directives;
pub mod dispatch;
pub mod environ;
pub mod file_wrapper;
pub mod input;
pub mod logstream;
pub mod notes;
pub mod proxy_headers;
pub mod response;
pub mod ssl;

// The pure rules, shared with the fuzz targets.
pub use pyrite_text::{alias, validate};

use crate::config as conf;
use crate::ffi::hooks::request_hook;
use crate::ffi::regex::UriSubstitution;
use crate::ffi::request::Request as Req;
use crate::ffi::server::Server;
use crate::ffi::{log, raw};
use crate::request::request::Request;
use config as conf_wsgi;
use pyo3::prelude::*;
use std::ffi::c_int;

const DECLINED: c_int = raw::DECLINED;
const HANDLER: &[u8] = b"wsgi-script";

request_hook!(
    /// translate_name: maps URLs under a WSGIScriptAlias to the script file.
    pub translate_name,
    DECLINED,
    |r| crate::guard::or(DECLINED, || translate(r))
);

fn translate(r: &Req) -> c_int {
    let Some(uri) = r.uri() else { return DECLINED };
    if uri.first() != Some(&b'/') {
        return DECLINED;
    }
    let Some(sc) = server_config(r.server()) else {
        return DECLINED;
    };
    for a in &sc.wsgi_aliases {
        let file = match &a.regex {
            Some(re) => {
                let Ok(target) = std::ffi::CString::new(a.target.clone()) else {
                    continue;
                };
                let (found, end) = match re.substitute_in_uri(r, &target) {
                    UriSubstitution::NoMatch => continue,
                    UriSubstitution::Found(found, end) => (found, end),
                    UriSubstitution::TooLong => {
                        r.log(
                            log::APLOG_ERR,
                            &format!("WSGIScriptAliasMatch ({}): substitution result too long", a.origin),
                        );
                        return raw::HTTP_INTERNAL_SERVER_ERROR as c_int;
                    }
                };
                let mut f = found.to_vec();
                f.extend_from_slice(&uri[end..]);
                f
            }
            None => match alias::matches(uri, a.url.as_bytes()) {
                Some(n) => alias::filename(a.target.as_bytes(), a.url.as_bytes(), uri, n),
                None => continue,
            },
        };
        if r.set_filename(Some(&file)).is_err() {
            return DECLINED;
        }
        let _ = r.set_handler(Some(HANDLER));
        // Lets httpd run the script without Options ExecCGI.
        let _ = r.notes().set(b"alias-forced-type", HANDLER);
        crate::request::state::of_request(r).borrow_mut().wsgi_alias = Some(a.clone());
        return raw::OK as c_int;
    }
    DECLINED
}

/// SCRIPT_NAME and PATH_INFO as mod_wsgi computes them, from where httpd's
/// directory walk split the file from the path info.
pub(crate) fn script_name_and_path_info(r: &Req) -> (Vec<u8>, Vec<u8>) {
    let uri = r.uri().unwrap_or_default();
    let path_info = r.path_info().unwrap_or_default();
    let script_end = if path_info.is_empty() { uri.len() } else { r.path_info_start() };
    alias::script_name_and_path_info(uri, path_info, script_end)
}

/// mod_wsgi's application group name (src/interpreters/names.rs): it
/// names the interpreter the application runs in; "" for %{GLOBAL}.
pub(crate) fn application_group(r: &Req, configured: Option<&str>, script_name: &[u8]) -> String {
    crate::interpreters::names::wsgi(r, configured, script_name)
}

request_hook!(
    /// The content handler for `wsgi-script`.
    pub handler,
    DECLINED,
    |r| crate::guard::or(raw::HTTP_INTERNAL_SERVER_ERROR as c_int, || serve(r))
);

fn serve(r: &Req) -> c_int {
    // wsgi-script runs the file itself; a WSGIHandlerScript name runs its
    // script's handle_request for whatever resource the request maps to.
    let dc_full = conf::DirConfig::of(r);
    let handler_script = match r.handler() {
        Some(HANDLER) | Some(b"application/x-httpd-wsgi") => None,
        Some(name) => match dc_full.and_then(|d| d.wsgi.handler_script(name)) {
            Some(h) => Some(h),
            None => return DECLINED,
        },
        None => return DECLINED,
    };
    let script = match &handler_script {
        Some(h) => h.path.clone(),
        None => String::from_utf8_lossy(r.filename().unwrap_or_default()).into_owned(),
    };
    let filetype = r.finfo().map_or(raw::apr_filetype_e_APR_NOFILE as i64, |f| f.filetype);
    match filetype {
        _ if handler_script.is_some() => {}
        t if t == raw::apr_filetype_e_APR_REG as i64 => {}
        t if t == raw::apr_filetype_e_APR_DIR as i64 => {
            r.log(log::APLOG_ERR, &format!("WSGI script {script} is a directory"));
            return raw::HTTP_FORBIDDEN as c_int;
        }
        _ => {
            r.log(log::APLOG_ERR, &format!("Target WSGI script not found or unable to stat: {script}"));
            return raw::HTTP_NOT_FOUND as c_int;
        }
    }
    let alias = crate::request::state::of_request_if_any(r).and_then(|s| s.borrow().wsgi_alias.clone());
    // Borrowed, not cloned: this runs for every request.
    let no_dc;
    let dc: &conf_wsgi::WsgiDirConfig = match dc_full {
        Some(d) => &d.wsgi,
        None => {
            no_dc = conf_wsgi::WsgiDirConfig::default();
            &no_dc
        }
    };
    // Daemon mode: the request may belong to a daemon process group.
    let option = match &handler_script {
        Some(h) => h.process_group.as_deref(),
        None => alias.as_ref().and_then(|a| a.process_group.as_deref()),
    };
    let pass_auth = alias
        .as_ref()
        .and_then(|a| a.pass_authorization)
        .or(handler_script.as_ref().and_then(|h| h.pass_authorization))
        .or(dc.pass_authorization)
        .unwrap_or(false);
    let group_cfg = alias
        .as_ref()
        .and_then(|a| a.application_group.as_deref())
        .or(handler_script.as_ref().and_then(|h| h.application_group.as_deref()))
        .or(dc.application_group.as_deref());
    let (script_name, path_info) = script_name_and_path_info(r);
    let reloading = dc.script_reloading.unwrap_or(true);
    // WSGIDispatchScript: asked here, in httpd's child; a daemon gets its answers with the request.
    let dispatched = match &dc.dispatch_script {
        _ if crate::daemon::current().is_some() => dispatch::forwarded(r),
        None => dispatch::Overrides::default(),
        Some(ds) => {
            let group = application_group(r, group_cfg, &script_name);
            let process_group = crate::daemon::routing::wanted_for(r, option, dc);
            let now = dispatch::Current {
                script_name: &script_name,
                path_info: &path_info,
                application_group: &group,
                process_group: &process_group,
                reloading,
            };
            let asked = match dispatch::run(r, ds, &now) {
                Ok(o) => o,
                Err(code) => return code,
            };
            // Answers are written as the directives are (%{GLOBAL}, %{ENV:..}): resolve them now.
            let o = dispatch::Overrides {
                process_group: asked
                    .process_group
                    .as_deref()
                    .map(|p| crate::daemon::routing::wanted_for(r, Some(p), dc).into_owned()),
                application_group: asked
                    .application_group
                    .as_deref()
                    .map(|g| application_group(r, Some(g), &script_name)),
                callable: asked.callable,
            };
            dispatch::record(r, &o);
            o
        }
    };
    let option = dispatched.process_group.as_deref().or(option);
    let callable = match &handler_script {
        // The name is fixed for handler scripts (WSGICallableObject does not apply).
        Some(_) => "handle_request".to_string(),
        None => dispatched
            .callable
            .clone()
            .or_else(|| alias.as_ref().and_then(|a| a.callable.clone()))
            .or_else(|| dc.callable.clone())
            .unwrap_or_else(|| "application".into()),
    };
    let daemon = match crate::daemon::routing::route_for(r, option, dc) {
        crate::daemon::routing::Route::Here => {
            if dc.dispatch_script.is_some() {
                dispatch::runs_here(r);
            }
            None
        }
        // The daemon runs a plan without httpd's request cycle, except with
        // trusted proxy headers, whose settings it reads from its own.
        crate::daemon::routing::Route::Daemon(g) if dc.proxy.headers.is_some() => {
            return crate::daemon::proxy::handle(r, &g, None);
        }
        crate::daemon::routing::Route::Daemon(g) => Some(g),
        crate::daemon::routing::Route::Refused(why) => {
            r.log(log::APLOG_ERR, &format!("mod_pyrite: {script}: {why}"));
            return raw::HTTP_INTERNAL_SERVER_ERROR as c_int;
        }
    };
    // What the request's values are moved into (built once, whichever runs it).
    let plan = crate::daemon::plan::Plan {
        application_group: match dispatched.application_group {
            Some(g) => g,
            None => application_group(r, group_cfg, &script_name),
        },
        // httpd stat()ed the script itself only when it is the resource.
        mtime_us: if handler_script.is_some() {
            None
        } else {
            r.finfo().map(|f| f.mtime)
        },
        filename: r.filename().unwrap_or_default().to_vec(),
        script_name,
        path_info,
        pass_authorization: pass_auth,
        head_as_get: directives::head_as_get(r, dc.map_head_to_get),
        pass_apache_request: dc.pass_apache_request.unwrap_or(false),
        chunked_ok: dc.chunked_request.unwrap_or(false),
        error_override: dc.error_override.unwrap_or(false),
        sendfile: dc.enable_sendfile.unwrap_or(true),
        script,
        callable,
        reloading,
    };
    if let Some(g) = daemon {
        return crate::daemon::proxy::handle(r, &g, Some(&plan));
    }
    run(r, &plan, &dc.proxy)
}

/// Runs a request a child planned, in a daemon that has not run httpd's
/// request cycle for it: answers with the status when nothing was sent (the
/// child then makes the error page, with its own ErrorDocument settings).
pub fn run_planned(r: &Req, p: &crate::daemon::plan::Plan) -> c_int {
    let _ = r.set_filename(Some(&p.filename));
    // The marker WSGIDispatchScript leaves for daemons is not the application's.
    let _ = dispatch::forwarded(r);
    let code = crate::daemon::file_pass::planned(|| run(r, p, &proxy_headers::ProxyDirConfig::default()));
    if code >= 400 {
        // Nothing was sent: the child answers with its error page for `code`
        // (this request has only the server's configuration, not the
        // directory's, so its ErrorDocument may not be the right one here).
        r.set_status(raw::HTTP_OK as i32);
        let _ = r
            .headers_out()
            .set(crate::daemon::head::ERROR_PAGE.as_bytes(), code.to_string().as_bytes());
        return raw::OK as c_int;
    }
    code
}

/// Runs the application a plan names for `r` and ends the response.
fn run(r: &Req, p: &crate::daemon::plan::Plan, proxy: &proxy_headers::ProxyDirConfig) -> c_int {
    if !crate::interp::ready() {
        r.log(log::APLOG_ERR, "mod_pyrite: Python is not running in this process");
        return raw::HTTP_INTERNAL_SERVER_ERROR as c_int;
    }
    let timing = crate::metrics::begin(r);
    // The group names the interpreter (src/interpreters).
    let in_group = || Some(p.application_group.clone());
    let refused = adapter::Outcome::Status(raw::HTTP_INTERNAL_SERVER_ERROR as i32);
    let outcome = crate::ffi::current::serving(r, || {
        crate::interpreters::with_python_named(in_group, refused, |py| {
            crate::interpreters::count_request(crate::interpreters::current(py));
            let app = match app::application(py, &p.script, &p.callable, p.reloading, p.mtime_us) {
                Ok(a) => a,
                Err(e) => {
                    let who = adapter::describe(r, &p.script);
                    adapter::log_exception(py, r, &format!("{who}: could not load the application"), &e);
                    return adapter::Outcome::Status(raw::HTTP_INTERNAL_SERVER_ERROR as i32);
                }
            };
            let call = adapter::Call {
                name: &p.script,
                chunked_ok: p.chunked_ok,
                error_override: p.error_override,
                sendfile: p.sendfile,
                proxy,
                spec: environ::Spec {
                    script_name: &p.script_name,
                    path_info: &p.path_info,
                    pass_authorization: p.pass_authorization,
                    application_group: &p.application_group,
                    process_group: crate::daemon::current().map(|d| d.name.as_str()).unwrap_or(""),
                    head_as_get: p.head_as_get,
                    pass_apache_request: p.pass_apache_request,
                },
            };
            adapter::run(py, r, &app, &call)
        })
    });
    let code = adapter::complete(r, outcome);
    crate::metrics::end(timing, if code >= 100 { code } else { r.status() });
    code
}

/// Loads the configured WSGI scripts in a starting child (WSGIImportScript,
/// and every WSGIScriptAlias target unless preload=Off), so no request waits.
pub fn preload(py: Python<'_>, s: &Server, id: crate::interpreters::Id) -> usize {
    use crate::interpreters::{known_guess, plan};
    environ::warm(py);
    let main_aliases = server_config(s).map(|c| c.wsgi_aliases.clone()).unwrap_or_default();
    let mut n = 0;
    let mut seen = std::collections::HashSet::new();
    let mut next = Some(s);
    while let Some(server) = next {
        next = server.next();
        if let Some(sc) = server_config(server) {
            // What loads in interpreter `id` (the one the caller is in); a
            // main-server alias seen through a virtual host counts once.
            let own = |a: &std::sync::Arc<conf_wsgi::WsgiAlias>| {
                std::ptr::eq(server, s) || !main_aliases.iter().any(|m| std::sync::Arc::ptr_eq(m, a))
            };
            // Each process loads the scripts of its own process group (daemon mode).
            let mine = |g: &Option<String>| crate::daemon::routing::runs_here(g.as_deref());
            let scripts = sc
                .wsgi_imports
                .iter()
                .filter(|i| mine(&i.process_group) && known_guess(&plan::import_script(server, i.application_group.as_deref())) == Some(id))
                .map(|i| (i.path.clone(), None, i.origin.clone(), "WSGIImportScript"))
                .chain(
                    sc.wsgi_aliases
                        .iter()
                        .filter(|a| {
                            a.preload
                                && a.regex.is_none()
                                && mine(&a.process_group)
                                && own(a)
                                && known_guess(&plan::alias(server, a)) == Some(id)
                        })
                        .map(|a| {
                            (
                                a.target.clone(),
                                Some(a.callable.clone().unwrap_or_else(|| "application".into())),
                                a.origin.clone(),
                                "WSGIScriptAlias",
                            )
                        }),
                );
            for (path, callable, origin, what) in scripts {
                if !seen.insert((path.clone(), callable.clone())) {
                    continue;
                }
                if what == "WSGIScriptAlias" && !app::exists(&path) {
                    continue; // a directory target, or a file that is not there yet
                }
                n += 1;
                let loaded = match &callable {
                    // Look the application up too, so the first request finds it cached.
                    Some(c) => app::module(py, &path, true, None).map(|_| {
                        let _ = app::application(py, &path, c, false, None);
                    }),
                    None => app::module(py, &path, true, None).map(|_| ()),
                };
                if let Err(e) = loaded {
                    crate::interp::log_server_py_error(
                        py,
                        Some(server),
                        &format!("{what} {path} ({origin}): loading at child start failed"),
                        &e,
                    );
                }
            }
        }
    }
    n
}

/// mod_pyrite's configuration of server `s`.
fn server_config(s: &Server) -> Option<&conf::ServerConfig> {
    conf::ServerConfig::of(s)
}

/// `_apache.wsgi_call(req, application, script_name)`: runs a WSGI
/// application for a mod_python request (`PythonHandler mod_python.wsgi`).
#[pyfunction]
#[pyo3(signature = (req, application, script_name=""))]
pub fn wsgi_call(py: Python<'_>, req: PyRef<'_, Request>, application: &Bound<'_, PyAny>, script_name: &str) -> PyResult<i32> {
    let r = req.life.request()?;
    let (base, path_info) = alias::mount_split(r.uri().unwrap_or_default(), script_name.as_bytes());
    let dc = conf::DirConfig::of(r).map(|d| d.wsgi.clone()).unwrap_or_default();
    let group = application_group(r, dc.application_group.as_deref(), &base);
    let call = adapter::Call {
        name: "mod_python.wsgi application",
        chunked_ok: true,
        error_override: false,
        sendfile: true,
        proxy: &dc.proxy,
        spec: environ::Spec {
            script_name: &base,
            path_info: &path_info,
            pass_authorization: dc.pass_authorization.unwrap_or(false),
            application_group: &group,
            process_group: "",
            head_as_get: false,
            pass_apache_request: false,
        },
    };
    let outcome = adapter::run(py, r, application, &call);
    let rr = r.on_this_thread();
    // The GIL is released meanwhile; the request stays on this thread.
    Ok(crate::interp::blocking(py, move || adapter::complete(&rr, outcome)))
}
