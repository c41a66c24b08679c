//! Which interpreters a configuration uses, as far as start-up can tell:
//! the names a child makes (and preloads) before its first request, and
//! whether it needs more than one interpreter at all.
use super::names;
use crate::config::wsgi::WsgiAlias;
use crate::config::{self, Declared};
use crate::ffi::{self, raw};

/// What a child makes at start.
pub struct Plan {
    /// Sub-interpreters, in order of first mention (never a main name).
    pub names: Vec<String>,
    /// More than one name, or names that depend on the request: isolate.
    pub isolating: bool,
    /// Some names are known only per request.
    pub per_request: bool,
}

/// A name as start-up sees it: known (None = main), or known only per request.
pub enum Guess {
    Known(Option<String>),
    PerRequest,
}

/// The name a handler declared in the server configuration runs under
/// (names::mod_python with what start-up knows: the section's own settings,
/// else the server's).
pub fn declared(d: &Declared) -> Guess {
    let own = d.section();
    // SAFETY: the server of the running configuration.
    let server_level = unsafe { config::server_dir_config(d.server().as_ptr()) };
    let view = config::DirConfig {
        interpreter: own.interpreter.clone().or_else(|| server_level.and_then(|c| c.interpreter.clone())),
        interp_per_directory: own.interp_per_directory.or(server_level.and_then(|c| c.interp_per_directory)),
        interp_per_directive: own.interp_per_directive.or(server_level.and_then(|c| c.interp_per_directive)),
        ..Default::default()
    };
    if view.interpreter.is_none() && view.interp_per_directory == Some(true) {
        return Guess::PerRequest;
    }
    Guess::Known(names::mod_python(None, d.server(), Some(&view), d.decl.directory.as_deref()))
}

/// The port requests to `s` most likely carry (mod_wsgi puts it in names).
fn likely_port(s: *const raw::server_rec) -> u16 {
    // SAFETY: configuration data of the running generation.
    unsafe {
        if (*s).port != 0 {
            return (*s).port;
        }
        let a = (*s).addrs;
        if !a.is_null() && (*a).host_port != 0 {
            return (*a).host_port;
        }
        raw::pyrite_shim_first_listen_port() as u16
    }
}

/// A WSGI group as start-up sees it, for a configured name (None: the default).
fn wsgi_group(s: *const raw::server_rec, configured: Option<&str>, script_name: &str, pattern: bool) -> Guess {
    // SAFETY: configuration data.
    let host = unsafe { ffi::cstr_lossy((*s).server_hostname) };
    match configured {
        None | Some("%{RESOURCE}") if pattern => Guess::PerRequest,
        None | Some("%{RESOURCE}") => Guess::Known(Some(names::resource(
            names::host_port(&host, likely_port(s)),
            script_name.trim_end_matches('/').as_bytes(),
        ))),
        Some("%{GLOBAL}") => Guess::Known(None),
        Some("%{SERVER}") => Guess::Known(Some(names::host_port(&host, likely_port(s)))),
        Some(g) if names::wsgi_is_dynamic(g) => Guess::PerRequest,
        Some(g) => Guess::Known(Some(g.to_string())),
    }
}

/// The group a WSGIScriptAlias of server `s` runs its application in.
///
/// # Safety
/// `s` is a server of the running configuration.
pub unsafe fn alias(s: *const raw::server_rec, a: &WsgiAlias) -> Guess {
    // SAFETY: the server of the running configuration.
    let server_level = unsafe { config::server_dir_config(s) }.and_then(|d| d.wsgi.application_group.clone());
    let configured = a.application_group.clone().or(server_level);
    wsgi_group(s, configured.as_deref(), &a.url, a.regex.is_some())
}

/// The group a WSGIImportScript loads into (its application-group=).
///
/// # Safety
/// `s` is a server of the running configuration.
pub unsafe fn import_script(s: *const raw::server_rec, configured: Option<&str>) -> Guess {
    wsgi_group(s, Some(configured.unwrap_or("%{GLOBAL}")), "", false)
}

/// Walks every server's declarations. `f` gets each server, the guess of
/// one thing that runs Python there, and whether that thing serves requests
/// (a handler or a WSGI application) or only runs at child start (an import).
///
/// # Safety
/// `main` is the main server of the running configuration.
pub unsafe fn each(main: *mut raw::server_rec, mut f: impl FnMut(*mut raw::server_rec, Guess, bool)) {
    // Only what runs in this process counts: a daemon (daemon mode) runs its
    // group's WSGI scripts and nothing else; httpd's children the rest.
    let here = |group: &Option<String>| crate::daemon::routing::runs_here(group.as_deref());
    let in_daemon = crate::daemon::current().is_some();
    for d in config::declared().iter().filter(|_| !in_daemon) {
        f(d.server().as_ptr(), declared(d), true);
    }
    // SAFETY: the main server's configuration.
    let main_aliases = unsafe { config::server_config(main) }
        .map(|c| c.wsgi_aliases.clone())
        .unwrap_or_default();
    let mut s = main;
    while !s.is_null() {
        // SAFETY: the server list of the running configuration.
        if let Some(sc) = unsafe { config::server_config(s) } {
            for decl in sc.imports.iter().filter(|_| !in_daemon) {
                f(s, Guess::Known(Some(decl.interpreter.clone())), false);
            }
            for a in sc.wsgi_aliases.iter().filter(|a| here(&a.process_group)) {
                // A main-server alias seen through a virtual host is the main server's.
                if s != main && main_aliases.iter().any(|m| std::sync::Arc::ptr_eq(m, a)) {
                    continue;
                }
                f(s, alias(s, a), true);
            }
            for i in sc.wsgi_imports.iter().filter(|i| here(&i.process_group)) {
                f(s, import_script(s, i.application_group.as_deref()), false);
            }
        }
        // SAFETY: s is a server of the running configuration; next is NULL or the next one.
        s = unsafe { (*s).next };
    }
}

/// The plan for this configuration. Only what serves requests decides
/// whether a child isolates: an interpreter that would only run a
/// PythonImport or WSGIImportScript serves nothing, so a single site whose
/// import names another interpreter (`PythonImport mod main_interpreter`)
/// stays in the main interpreter, imports included. Once a child isolates,
/// every name gets its interpreter, as in mod_python and mod_wsgi.
///
/// # Safety
/// As for [`each`].
pub unsafe fn of(main: *mut raw::server_rec) -> Plan {
    let mut all: Vec<Option<String>> = Vec::new();
    let mut serving: Vec<Option<String>> = Vec::new();
    let mut per_request = false;
    each(main, |_, g, serves| match g {
        Guess::Known(n) => {
            let n = n.filter(|n| !names::is_main(Some(n)));
            if serves && !serving.contains(&n) {
                serving.push(n.clone());
            }
            if !all.contains(&n) {
                all.push(n);
            }
        }
        Guess::PerRequest => per_request = true,
    });
    // A dispatch script names application groups per request.
    if crate::config::wsgi::DISPATCH_SCRIPTS.load(std::sync::atomic::Ordering::Relaxed) {
        per_request = true;
    }
    let isolating = serving.len() > 1 || per_request;
    Plan {
        names: if isolating {
            all.into_iter().flatten().collect()
        } else {
            Vec::new()
        },
        isolating,
        per_request,
    }
}
