//! Which interpreters a configuration uses, as far as start-up can tell:
//! the names a child makes (and preloads) before its first request, and
//! whether it needs more than one interpreter at all.
use crate::config;
use crate::ffi::server::Server;
use crate::interpreters::names;
use crate::interpreters::plan::{alias, declared, import_script, Guess};

/// What a child makes at start.
pub struct Plan {
    /// Sub-interpreters, in order of first mention (never a main name).
    pub names: Vec<String>,
    /// More than one name, or names that depend on the request: isolate.
    pub isolating: bool,
    /// Some names are known only per request.
    pub per_request: bool,
}

/// Walks every server's declarations. `f` gets each server, the guess of
/// one thing that runs Python there, and whether that thing serves requests
/// (a handler or a WSGI application) or only runs at child start (an import).
/// `main` is the main server of the running configuration.
pub fn each(main: &Server, mut f: impl FnMut(&Server, Guess, bool)) {
    // Only what runs in this process counts: a daemon (daemon mode) runs its
    // group's WSGI scripts and nothing else; httpd's children the rest.
    let here = |group: &Option<String>| crate::daemon::routing::runs_here(group.as_deref());
    let in_daemon = crate::daemon::current().is_some();
    for d in config::declared().iter().filter(|_| !in_daemon) {
        f(d.server(), declared(d), true);
    }
    let main_aliases = config::ServerConfig::of(main).map(|c| c.wsgi_aliases.clone()).unwrap_or_default();
    let mut next = Some(main);
    while let Some(s) = next {
        if let Some(sc) = config::ServerConfig::of(s) {
            for decl in sc.imports.iter().filter(|_| !in_daemon) {
                f(s, Guess::Known(Some(decl.interpreter.clone())), false);
            }
            for a in sc.wsgi_aliases.iter().filter(|a| here(&a.process_group)) {
                // A main-server alias seen through a virtual host is the main server's.
                if !std::ptr::eq(s, main) && main_aliases.iter().any(|m| std::sync::Arc::ptr_eq(m, a)) {
                    continue;
                }
                f(s, alias(s, a), true);
            }
            for i in sc.wsgi_imports.iter().filter(|i| here(&i.process_group)) {
                f(s, import_script(s, i.application_group.as_deref()), false);
            }
        }
        next = s.next();
    }
}

/// The plan for this configuration. Only what serves requests decides
/// whether a child isolates: an interpreter that would only run a
/// PythonImport or WSGIImportScript serves nothing, so a single site whose
/// import names another interpreter (`PythonImport mod main_interpreter`)
/// stays in the main interpreter, imports included. Once a child isolates,
/// every name gets its interpreter, as in mod_python and mod_wsgi.
/// `main` is as for [`each`].
pub fn of(main: &Server) -> Plan {
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
