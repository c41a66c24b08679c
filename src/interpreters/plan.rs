//! The interpreter a configured handler, WSGI script or import runs in, as
//! far as start-up can tell (src/child/plan.rs gathers them into what a
//! child makes).
use super::names;
use crate::config::wsgi::WsgiAlias;
use crate::config::{self, Declared};
use crate::ffi::server::{self, Server};

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
    let server_level = config::DirConfig::server_level(d.server());
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
fn likely_port(s: &Server) -> u16 {
    if s.port() != 0 {
        return s.port();
    }
    if s.first_address_port() != 0 {
        return s.first_address_port();
    }
    server::first_listen_port()
}

/// A WSGI group as start-up sees it, for a configured name (None: the default).
fn wsgi_group(s: &Server, configured: Option<&str>, script_name: &str, pattern: bool) -> Guess {
    let host = String::from_utf8_lossy(s.hostname().unwrap_or_default());
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
pub fn alias(s: &Server, a: &WsgiAlias) -> Guess {
    let server_level = config::DirConfig::server_level(s).and_then(|d| d.wsgi.application_group.clone());
    let configured = a.application_group.clone().or(server_level);
    wsgi_group(s, configured.as_deref(), &a.url, a.regex.is_some())
}

/// The group a WSGIImportScript loads into (its application-group=).
pub fn import_script(s: &Server, configured: Option<&str>) -> Guess {
    wsgi_group(s, Some(configured.unwrap_or("%{GLOBAL}")), "", false)
}
