//! mod_wsgi's access control by Python scripts: WSGIAuthUserScript (the
//! `wsgi` provider of AuthBasicProvider and AuthDigestProvider),
//! WSGIAuthGroupScript (`Require wsgi-group ...`) and WSGIAccessScript (an
//! access checker). Each script is a file loaded as a module, as WSGI
//! scripts are, and reloaded when it changes; its functions receive a small
//! environ of the request (never the Authorization header; with
//! `mod_ssl.is_https()` and `mod_ssl.var_lookup(name)`):
//!
//! - `check_password(environ, user, password)`: True, False, None (unknown
//!   user: the next provider may know them) or a str naming the user;
//! - `get_realm_hash(environ, user, realm)`: md5("user:realm:password") in
//!   hex, or None for an unknown user;
//! - `groups_for_user(environ, user)`: the user's group names;
//! - `allow_access(environ, host)`: True, False, or None (no opinion).
use super::environ::{self, Spec};
use super::logstream::LogStream;
pub use crate::config::wsgi::{AuthDirConfig, AuthScript};
use crate::config::{fail, split_words, DirConfig, Origin};
use crate::ffi::auth::{self as provider, Authn, Authz};
use crate::ffi::directive::{entry, Cmd, Func, Outcome, Spec as Directive};
use crate::ffi::hooks::{request_hook, Names, Order, Phase, Registering};
use crate::ffi::request::Request;
use crate::ffi::{log, raw};
use crate::request::convert::latin1;
use crate::request::life::Life;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyString};
use std::ffi::c_int;
use std::sync::Arc;

/// The names httpd's configuration uses for the providers.
const AUTHN_NAME: &std::ffi::CStr = c"wsgi";
const AUTHZ_NAME: &std::ffi::CStr = c"wsgi-group";

/// Registers the providers and the access checker (from register_hooks).
pub fn register_hooks(reg: &Registering<'_>) {
    provider::register(
        reg,
        AUTHN_NAME,
        AUTHZ_NAME,
        provider::Callbacks {
            check_password,
            realm_hash,
            authorize,
        },
    );
    // After mod_ssl (its variables may matter to the script), as mod_wsgi.
    reg.request_between(
        Phase::AccessChecker,
        access_checker,
        Some(&ACCESS_PRE),
        Some(&ACCESS_SUCC),
        Order::Middle,
    );
}

static ACCESS_PRE: Names<1> = Names::new([c"mod_ssl.c"]);
static ACCESS_SUCC: Names<1> = Names::new([c"mod_authz_host.c"]);

/// Which script of the directory's configuration a call needs.
#[derive(Clone, Copy)]
enum Role {
    User,
    Group,
    Access,
}

impl Role {
    fn directive(self) -> &'static str {
        match self {
            Role::User => "WSGIAuthUserScript",
            Role::Group => "WSGIAuthGroupScript",
            Role::Access => "WSGIAccessScript",
        }
    }
    fn script(self, r: &Request) -> Option<Arc<AuthScript>> {
        let dc = DirConfig::of(r)?;
        match self {
            Role::User => dc.wsgi.auth.user_script.clone(),
            Role::Group => dc.wsgi.auth.group_script.clone(),
            Role::Access => dc.wsgi.auth.access_script.clone(),
        }
    }
}

/// The application group an auth script runs in, and its environ reports:
/// the main interpreter unless `application-group=` names another; the
/// names mean what they mean for applications (src/interpreters/names.rs).
fn group_name(r: &Request, configured: Option<&str>) -> String {
    match configured {
        None => String::new(),
        Some(g) => {
            let (script_name, _) = super::script_name_and_path_info(r);
            crate::interpreters::names::wsgi(r, Some(g), &script_name)
        }
    }
}

/// Calls `function` of the role's script with (environ, *args) and hands the
/// result to `read`. Every failure is logged; None then.
fn call<T>(
    r: &Request,
    role: Role,
    function: &str,
    args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>>,
    read: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyAny>) -> Result<T, String>,
) -> Option<T> {
    let Some(script) = role.script(r) else {
        r.log(
            log::APLOG_ERR,
            &format!("mod_pyrite: {} is not set for this location; it is needed here", role.directive()),
        );
        return None;
    };
    if !crate::interp::ready() {
        r.log(log::APLOG_ERR, "mod_pyrite: Python is not running in this process");
        return None;
    }
    let path = script.path.as_str();
    let what = format!("{} {path} ({})", role.directive(), script.origin);
    let reloading = DirConfig::of(r).and_then(|d| d.wsgi.script_reloading).unwrap_or(true);
    let group = group_name(r, script.application_group.as_deref());
    crate::interpreters::with_python_named(
        || Some(group.clone()),
        None,
        |py| {
            let func = match super::app::module(py, path, reloading, None) {
                Ok(m) => match m.getattr(function) {
                    Ok(f) => f,
                    Err(_) => {
                        r.log(log::APLOG_ERR, &format!("{what}: the script defines no '{function}' function"));
                        return None;
                    }
                },
                Err(e) => {
                    super::adapter::log_exception(py, r, &format!("{what}: could not load the script"), &e);
                    return None;
                }
            };
            // Ends itself when r's pool is cleared.
            let life = Arc::new(Life::of(r));
            let errors = match Py::new(py, LogStream::for_request(life.clone())) {
                Ok(e) => e,
                Err(e) => {
                    super::adapter::log_exception(py, r, &what, &e);
                    return None;
                }
            };
            let outcome = (|| -> PyResult<Bound<'_, PyAny>> {
                let (script_name, path_info) = super::script_name_and_path_info(r);
                let spec = Spec {
                    script_name: &script_name,
                    path_info: &path_info,
                    pass_authorization: false,
                    application_group: &group,
                    process_group: "",
                    head_as_get: false,
                    pass_apache_request: false,
                };
                let env = environ::build(
                    py,
                    r,
                    &spec,
                    py.None().into_bound(py),
                    super::logstream::text_stream(py, errors.bind(py))?,
                )?;
                // An access check reads no request body.
                env.del_item("wsgi.input")?;
                super::ssl::add_to_environ(py, &env, life.clone())?;
                let mut call_args = vec![env.into_any()];
                call_args.extend(args(py)?);
                func.call1(pyo3::types::PyTuple::new(py, call_args)?)
            })();
            errors.borrow(py).finish();
            match outcome {
                Ok(v) => match read(py, &v) {
                    Ok(t) => Some(t),
                    Err(msg) => {
                        r.log(log::APLOG_ERR, &format!("{what}: {function}() {msg}"));
                        None
                    }
                },
                Err(e) => {
                    super::adapter::log_exception(py, r, &format!("{what}: {function}() failed"), &e);
                    None
                }
            }
        },
    )
}

/// A str (latin-1, as PEP 3333 strings are) or bytes value.
fn bytes_of(v: &Bound<'_, PyAny>) -> Option<Vec<u8>> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Some(b.as_bytes().to_vec());
    }
    let s = v.cast::<PyString>().ok()?.to_str().ok()?;
    s.chars().map(|c| u8::try_from(c as u32).ok()).collect()
}

fn check_password(r: &Request, user: &[u8], password: &[u8]) -> Authn {
    let (user, password) = (user.to_vec(), password.to_vec());
    let answer = call(
        r,
        Role::User,
        "check_password",
        move |py| Ok(vec![latin1(py, &user), latin1(py, &password)]),
        |_py, v| {
            if v.is_none() {
                return Ok(None);
            }
            if let Ok(b) = v.cast::<PyBool>() {
                return Ok(Some(Err(b.is_true())));
            }
            if let Ok(s) = v.cast::<PyString>() {
                let name = s.to_str().map_err(|_| "returned a user name that is not valid text".to_string())?;
                if name.is_empty() || name.contains('\0') {
                    return Err("returned an empty user name (or one holding NUL)".into());
                }
                return Ok(Some(Ok(name.as_bytes().to_vec())));
            }
            Err("must return True, False, None or the user's name as a str".into())
        },
    );
    match answer {
        None => Authn::GeneralError,
        Some(None) => Authn::UserNotFound,
        Some(Some(Err(true))) => Authn::Granted,
        Some(Some(Err(false))) => Authn::Denied,
        Some(Some(Ok(name))) => {
            // The copy lives in the request's pool, as r->user must; name holds no NUL.
            let _ = r.set_user(Some(&name));
            Authn::Granted
        }
    }
}

fn realm_hash(r: &Request, user: &[u8], realm: &[u8]) -> Result<Vec<u8>, Authn> {
    let (user, realm) = (user.to_vec(), realm.to_vec());
    let answer = call(
        r,
        Role::User,
        "get_realm_hash",
        move |py| Ok(vec![latin1(py, &user), latin1(py, &realm)]),
        |_py, v| {
            if v.is_none() {
                return Ok(None);
            }
            match bytes_of(v) {
                Some(h) if !h.is_empty() && !h.contains(&0) => Ok(Some(h)),
                Some(_) => Err("returned an empty hash".into()),
                None => Err("must return None or the hash as a str (latin-1) or bytes".into()),
            }
        },
    );
    match answer {
        None => Err(Authn::GeneralError),
        Some(None) => Err(Authn::UserNotFound),
        Some(Some(h)) => Ok(h),
    }
}

fn authorize(r: &Request, require_args: &str) -> Authz {
    let Some(user) = r.user().map(<[u8]>::to_vec) else {
        return Authz::DeniedNoUser;
    };
    let u = user.clone();
    let groups = call(
        r,
        Role::Group,
        "groups_for_user",
        move |py| Ok(vec![latin1(py, &u)]),
        |_py, v| {
            let mut out = Vec::new();
            let items = v.try_iter().map_err(|_| "must return an iterable of group names".to_string())?;
            for item in items {
                let item = item.map_err(|e| format!("failed while its result was read: {e}"))?;
                out.push(bytes_of(&item).ok_or("returned a group name that is not a str (latin-1) or bytes")?);
            }
            Ok(out)
        },
    );
    let Some(groups) = groups else { return Authz::GeneralError };
    let (u, uri) = (String::from_utf8_lossy(&user), String::from_utf8_lossy(r.uri().unwrap_or_default()));
    if groups.is_empty() {
        r.log(
            log::APLOG_ERR,
            &format!("Authorization of user '{u}' to access '{uri}' failed: the user is in no group"),
        );
        return Authz::Denied;
    }
    let wanted = split_words(require_args).unwrap_or_default();
    if wanted.iter().any(|w| groups.iter().any(|g| g == w.as_bytes())) {
        return Authz::Granted;
    }
    r.log(
        log::APLOG_ERR,
        &format!("Authorization of user '{u}' to access '{uri}' failed: the user is in none of the groups {require_args}"),
    );
    Authz::Denied
}

request_hook!(
    /// The access checker: runs allow_access where WSGIAccessScript is set.
    access_checker,
    raw::DECLINED as c_int,
    |r: &Request| crate::guard::or(raw::HTTP_INTERNAL_SERVER_ERROR as c_int, || {
        if Role::Access.script(r).is_none() {
            return raw::DECLINED as c_int;
        }
        let host = provider::remote_host(r);
        let answer = call(
            r,
            Role::Access,
            "allow_access",
            move |py| Ok(vec![latin1(py, &host)]),
            |_py, v| {
                if v.is_none() {
                    return Ok(None);
                }
                match v.cast::<PyBool>() {
                    Ok(b) => Ok(Some(b.is_true())),
                    Err(_) => Err("must return True, False or None".into()),
                }
            },
        );
        match answer {
            Some(None) => raw::DECLINED as c_int,
            Some(Some(true)) => raw::OK as c_int,
            // False, or a failure (logged): the client stays out.
            _ => {
                if provider::refusal_is_final(r) {
                    r.log(
                        log::APLOG_ERR,
                        &format!(
                            "client denied by server configuration (WSGIAccessScript): {}",
                            String::from_utf8_lossy(r.filename().unwrap_or_default())
                        ),
                    );
                }
                raw::HTTP_FORBIDDEN as c_int
            }
        }
    })
);

// ---- directives -------------------------------------------------------------

fn set_script(cmd: &Cmd, m: &mut DirConfig, args: &str) -> Outcome {
    {
        let role = match cmd.info() {
            0 => Role::User,
            1 => Role::Group,
            _ => Role::Access,
        };
        let name = role.directive();
        let words = match split_words(args) {
            Ok(w) => w,
            Err(e) => return Err(fail(name, &e)),
        };
        let Some(path) = words.first().filter(|p| !p.is_empty()) else {
            return Err(fail(name, "needs the script file (and optionally application-group=name)"));
        };
        if !path.starts_with('/') {
            return Err(fail(name, &format!("the script path {path:?} must be absolute")));
        }
        let mut group = None;
        for w in &words[1..] {
            match w.split_once('=') {
                Some(("application-group", v)) if !v.is_empty() => group = Some(v.to_string()),
                Some(("application-group", _)) => return Err(fail(name, "application-group= needs a name")),
                _ => return Err(fail(name, &format!("invalid option {w:?} (the only option is application-group=)"))),
            }
        }
        let script = Some(Arc::new(AuthScript {
            path: path.clone(),
            application_group: group,
            origin: Origin::of(cmd),
        }));
        let a = &mut m.wsgi.auth;
        match role {
            Role::User => a.user_script = script,
            Role::Group => a.group_script = script,
            Role::Access => a.access_script = script,
        }
        Ok(())
    }
}

/// WSGIUserAuthoritative / WSGIGroupAuthoritative: under httpd 2.4 the
/// provider API decides (mod_wsgi 4.9 ignores them there too), so they are
/// checked, accepted and said to have no effect.
fn set_authoritative(cmd: &Cmd, _m: &mut DirConfig, arg: &str) -> Outcome {
    let name = cmd.name();
    let v = arg;
    if !v.eq_ignore_ascii_case("on") && !v.eq_ignore_ascii_case("off") {
        return Err(fail(&name, "must be On or Off"));
    }
    let instead = if cmd.info() == 0 {
        "AuthBasicAuthoritative / AuthDigestProvider order decide whether other providers are asked"
    } else {
        "<RequireAny>/<RequireAll> around the Require lines decide how wsgi-group combines with others"
    };
    super::notes::defer(format!(
        "{name} {v} ({}) has no effect: with httpd 2.4's provider API (as under mod_wsgi 4.9) {instead}",
        Origin::of(cmd)
    ));
    Ok(())
}

pub const COMMANDS: [raw::command_rec; 5] = [
    entry(&Directive::new(
        c"WSGIAuthUserScript",
        Func::RawArgs(set_script),
        0,
        raw::OR_AUTHCFG,
        c"script-file [application-group=...]: check_password()/get_realm_hash() for AuthBasicProvider/AuthDigestProvider wsgi",
    )),
    entry(&Directive::new(
        c"WSGIAuthGroupScript",
        Func::RawArgs(set_script),
        1,
        raw::OR_AUTHCFG,
        c"script-file [application-group=...]: groups_for_user() for Require wsgi-group",
    )),
    entry(&Directive::new(
        c"WSGIAccessScript",
        Func::RawArgs(set_script),
        2,
        raw::OR_AUTHCFG,
        c"script-file [application-group=...]: allow_access(environ, host) decides who may enter",
    )),
    entry(&Directive::new(
        c"WSGIUserAuthoritative",
        Func::Take1(set_authoritative),
        0,
        raw::OR_AUTHCFG,
        c"On|Off: no effect under httpd 2.4 (AuthBasicAuthoritative decides)",
    )),
    entry(&Directive::new(
        c"WSGIGroupAuthoritative",
        Func::Take1(set_authoritative),
        1,
        raw::OR_AUTHCFG,
        c"On|Off: no effect under httpd 2.4 (<RequireAny>/<RequireAll> decide)",
    )),
];
