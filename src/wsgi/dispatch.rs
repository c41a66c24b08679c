//! WSGIDispatchScript and WSGIRestrictProcess, with mod_wsgi 4.9's meaning.
//!
//! A dispatch script is a Python file whose optional functions
//! `process_group(environ)`, `application_group(environ)` and
//! `callable_object(environ)` are asked, per request and before the request
//! is routed, to change those three choices (None keeps the configured one).
//! It runs in an httpd child, in the interpreter its application-group=
//! names (the main one by default). WSGIRestrictProcess lists the process
//! groups a context may select; any other answers 500 with a log line.
pub use crate::config::wsgi::DispatchScript;
use crate::config::wsgi::DISPATCH_SCRIPTS;
use crate::config::{fail, split_words, DirConfig};
use crate::ffi::directive::{entry, Cmd, Func, Outcome, Spec};
use crate::ffi::request::Request;
use crate::ffi::{log, raw};
use pyo3::prelude::*;
use std::ffi::c_int;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What a dispatch script changed for one request (None: keep). After
/// `run`'s caller resolves them, the groups are final names, not patterns.
#[derive(Default)]
pub struct Overrides {
    pub process_group: Option<String>,
    pub application_group: Option<String>,
    pub callable: Option<String>,
}

/// Keys a dispatched request carries to a daemon in its subprocess_env (as
/// mod_wsgi does), so the daemon runs the group and callable chosen here.
const ENV_PROCESS_GROUP: &[u8] = b"mod_wsgi.process_group";
const ENV_APPLICATION_GROUP: &[u8] = b"mod_wsgi.application_group";
const ENV_CALLABLE: &[u8] = b"mod_wsgi.callable_object";
const ENV_DISPATCHED: &[u8] = b"mod_pyrite.dispatched";

fn set_dispatch_script(_cmd: &Cmd, m: &mut DirConfig, args: &str) -> Outcome {
    const NAME: &str = "WSGIDispatchScript";
    let words = match split_words(args) {
        Ok(w) => w,
        Err(e) => return Err(fail(NAME, &e)),
    };
    let Some((path, options)) = words.split_first() else {
        return Err(fail(NAME, "needs the dispatch script's file (WSGIDispatchScript /srv/dispatch.py)"));
    };
    if !path.starts_with('/') {
        return Err(fail(NAME, &format!("the script path {path:?} must be absolute")));
    }
    let mut application_group = None;
    for w in options {
        match w.split_once('=') {
            Some(("application-group", "")) => return Err(fail(NAME, "application-group= needs a name")),
            Some(("application-group", v)) => application_group = Some(v.to_string()),
            _ => return Err(fail(NAME, &format!("invalid option {w:?} (the only option is application-group=)"))),
        }
    }
    m.wsgi.dispatch_script = Some(Arc::new(DispatchScript {
        path: path.clone(),
        application_group,
    }));
    DISPATCH_SCRIPTS.store(true, Ordering::Relaxed);
    Ok(())
}

fn set_restrict_process(_cmd: &Cmd, m: &mut DirConfig, args: &str) -> Outcome {
    let words = match split_words(args) {
        Ok(w) => w,
        Err(e) => return Err(fail("WSGIRestrictProcess", &e)),
    };
    // %{GLOBAL} stands for embedded mode (the empty group name).
    let allowed = words
        .into_iter()
        .map(|w| if w == "%{GLOBAL}" { String::new() } else { w })
        .collect();
    m.wsgi.restrict_process = Some(Arc::new(allowed));
    Ok(())
}

const DIR: u32 = raw::RSRC_CONF | raw::ACCESS_CONF | raw::OR_FILEINFO;

pub const COMMANDS: [raw::command_rec; 2] = [
    entry(&Spec::new(
        c"WSGIDispatchScript",
        Func::RawArgs(set_dispatch_script),
        0,
        DIR,
        c"script-file [application-group=...]: its process_group(), application_group() and callable_object() may change those per request",
    )),
    entry(&Spec::new(
        c"WSGIRestrictProcess",
        Func::RawArgs(set_restrict_process),
        0,
        raw::RSRC_CONF | raw::ACCESS_CONF,
        c"group...: the only daemon process groups requests here may select (%{GLOBAL}: embedded mode)",
    )),
];

/// What the request's current choices are, for the dispatch script's environ.
pub struct Current<'a> {
    pub script_name: &'a [u8],
    pub path_info: &'a [u8],
    pub application_group: &'a str,
    pub process_group: &'a str,
    pub reloading: bool,
}

/// Runs the dispatch script for `r`. Err is the status to answer (logged).
pub fn run(r: &Request, ds: &DispatchScript, now: &Current<'_>) -> Result<Overrides, c_int> {
    const FAILED: c_int = raw::HTTP_INTERNAL_SERVER_ERROR as c_int;
    if !crate::interp::ready() {
        r.log(log::APLOG_ERR, "mod_pyrite: Python is not running in this process");
        return Err(FAILED);
    }
    let interp = crate::interpreters::names::wsgi(r, Some(ds.application_group.as_deref().unwrap_or("%{GLOBAL}")), now.script_name);
    let (method, uri) = (
        String::from_utf8_lossy(r.method().unwrap_or_default()),
        String::from_utf8_lossy(r.unparsed_uri().unwrap_or_default()),
    );
    let what = format!("WSGI dispatch script {} ({method} {uri})", ds.path);
    crate::interpreters::with_python_named(
        || Some(interp),
        Err(FAILED),
        |py| {
            // A script that does not load is logged and the request goes on
            // as configured, as under mod_wsgi; a function that raises is a 500.
            let module = match crate::wsgi::app::module(py, &ds.path, now.reloading, None) {
                Ok(m) => m,
                Err(e) => {
                    crate::wsgi::adapter::log_exception(py, r, &format!("{what}: could not load it, the configuration applies"), &e);
                    return Ok(Overrides::default());
                }
            };
            let asked = (|| -> PyResult<Overrides> {
                let env = environ(py, r, now)?;
                let ask = |name: &str| -> PyResult<Option<String>> {
                    let Ok(f) = module.getattr(name) else { return Ok(None) };
                    let v = f.call1((&env,))?;
                    if v.is_none() {
                        return Ok(None);
                    }
                    v.extract::<String>()
                        .map(Some)
                        .map_err(|_| pyo3::exceptions::PyTypeError::new_err(format!("{name}() must return a str or None")))
                };
                Ok(Overrides {
                    process_group: ask("process_group")?,
                    application_group: ask("application_group")?,
                    callable: ask("callable_object")?,
                })
            })();
            asked.map_err(|e| {
                crate::wsgi::adapter::log_exception(py, r, &what, &e);
                FAILED
            })
        },
    )
}

/// The environ a dispatch script's functions get: the request's CGI
/// variables and the choices as they stand (no body: the request is not
/// the script's to read).
fn environ<'py>(py: Python<'py>, r: &Request, now: &Current<'_>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let spec = crate::wsgi::environ::Spec {
        script_name: now.script_name,
        path_info: now.path_info,
        pass_authorization: false,
        application_group: now.application_group,
        process_group: now.process_group,
        head_as_get: false,
        pass_apache_request: false,
    };
    let errors = py.import("sys")?.getattr("stderr")?;
    crate::wsgi::environ::build(py, r, &spec, py.None().into_bound(py), errors)
}

/// Records the overrides in the request's subprocess_env, where a daemon
/// that serves the request finds them (`forwarded`) and the application
/// sees them, as under mod_wsgi.
pub fn record(r: &Request, o: &Overrides) {
    let env = r.subprocess_env();
    // A value holding NUL cannot be stored (httpd's strings end there): not recorded.
    let set = |k: &[u8], v: &str| {
        let _ = env.set(k, v.as_bytes());
    };
    set(ENV_DISPATCHED, "1");
    if let Some(g) = &o.process_group {
        set(ENV_PROCESS_GROUP, g);
    }
    if let Some(g) = &o.application_group {
        set(ENV_APPLICATION_GROUP, g);
    }
    if let Some(c) = &o.callable {
        set(ENV_CALLABLE, c);
    }
}

/// The request runs here after all: the marker is for daemons only, not the application's environ.
pub fn runs_here(r: &Request) {
    let _ = r.subprocess_env().unset(ENV_DISPATCHED);
}

/// In a daemon: the overrides the httpd child's dispatch script recorded.
pub fn forwarded(r: &Request) -> Overrides {
    let env = r.subprocess_env();
    let get = |k: &[u8]| env.get(k).map(|v| String::from_utf8_lossy(v).into_owned());
    if get(ENV_DISPATCHED).is_none() {
        return Overrides::default();
    }
    // The marker is ours, not the application's.
    let _ = env.unset(ENV_DISPATCHED);
    Overrides {
        process_group: get(ENV_PROCESS_GROUP),
        application_group: get(ENV_APPLICATION_GROUP),
        callable: get(ENV_CALLABLE),
    }
}
