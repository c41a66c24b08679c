//! Which interpreter a handler or WSGI application runs in, by name, as
//! mod_python and mod_wsgi name them. Every rule is here, so req.interpreter,
//! mod_wsgi.application_group and the interpreter that really runs the code
//! always agree. `None` (mod_python) and `""` (mod_wsgi) mean the main one.
use crate::config::{DirConfig, HandlerDecl};
use crate::ffi::raw;
use crate::ffi::request::Request;
use crate::ffi::server::Server;
use std::os::unix::ffi::OsStrExt;

/// The name mod_python uses for the main interpreter.
pub const MAIN_INTERPRETER: &str = "main_interpreter";

/// mod_python's rule, for a request (`r`, None for a connection handler) of
/// `server` configured by `conf`, in a handler list whose first handler was
/// declared in `directive_dir` (see `for_phase`): PythonInterpreter; else
/// PythonInterpPerDirectory (the directory of the request's file, with a
/// trailing slash; main before the file is known); else
/// PythonInterpPerDirective (the directive's directory or <Location>; main
/// for the server level); else the virtual host's ServerName.
pub fn mod_python(r: Option<&Request>, server: &Server, conf: Option<&DirConfig>, directive_dir: Option<&str>) -> Option<String> {
    if let Some(name) = conf.and_then(|c| c.interpreter.as_deref()) {
        return Some(name.to_string());
    }
    if conf.is_some_and(|c| c.interp_per_directory == Some(true)) {
        let r = r?;
        let file = r.filename().filter(|f| !f.is_empty())?;
        let known_dir = r.finfo().is_some_and(|f| f.filetype == raw::apr_filetype_e_APR_DIR as i64);
        // Before the map-to-storage phase finfo is not filled in yet.
        let is_dir = known_dir || std::fs::metadata(std::ffi::OsStr::from_bytes(file)).is_ok_and(|m| m.is_dir());
        return pyrite_text::dirpath::containing_dir(file, is_dir).map(|d| String::from_utf8_lossy(&d).into_owned());
    }
    if conf.is_some_and(|c| c.interp_per_directive == Some(true)) {
        return directive_dir.filter(|d| !d.is_empty()).map(str::to_string);
    }
    Some(String::from_utf8_lossy(server.hostname().unwrap_or_default()).into_owned())
}

/// mod_python's name for the interpreter a phase runs in: the whole phase
/// runs where its first handler's name points, and req.interpreter says so.
pub fn for_phase(r: &Request, conf: Option<&DirConfig>, first: Option<&HandlerDecl>) -> Option<String> {
    let filename = r.filename().filter(|f| !f.is_empty());
    let dir = first.and_then(|d| d.hlist_directory(filename));
    mod_python(Some(r), r.server(), conf, dir.as_deref())
}

/// mod_wsgi's rule for an application group: the configured name, or the
/// resource (`host[:port]|script_name`, the port unless 80 or 443, the script
/// name lower-cased) by default and for %{RESOURCE}; %{GLOBAL} is "" (the
/// main interpreter); %{SERVER} and %{HOST} are host[:port]; %{ENV:var}
/// takes the request's note or environment variable, else the process's.
pub fn wsgi(r: &Request, configured: Option<&str>, script_name: &[u8]) -> String {
    match configured {
        None | Some("%{RESOURCE}") => resource(server_and_port(r, false), script_name),
        Some("%{GLOBAL}") => String::new(),
        Some("%{SERVER}") => server_and_port(r, false),
        Some("%{HOST}") => server_and_port(r, true),
        Some(g) if g.starts_with("%{ENV:") && g.ends_with('}') && g.len() > 7 => {
            let var = &g[6..g.len() - 1];
            match env_value(r, var) {
                // A value naming another form (not %{ENV:...} again) is expanded once.
                Some(v) if v.starts_with('%') && !v.starts_with("%{ENV:") => wsgi(r, Some(&v), script_name),
                Some(v) => v,
                None => g.to_string(),
            }
        }
        Some(g) => g.to_string(),
    }
}

/// "host[:port]": ServerName (or the request's Host with `from_host`), the
/// port when it is neither 80 nor 443.
fn server_and_port(r: &Request, from_host: bool) -> String {
    let asked = if from_host { r.hostname().filter(|h| !h.is_empty()) } else { None };
    let host = String::from_utf8_lossy(asked.or(r.server().hostname()).unwrap_or_default());
    host_port(&host, r.server_port())
}

/// "host[:port]", the port left out when it is 80 or 443.
pub fn host_port(host: &str, port: u16) -> String {
    // Built by hand: this runs for every WSGI request (core::fmt costs more than the rest).
    let mut g = String::with_capacity(host.len() + 32);
    g.push_str(host);
    if port != 80 && port != 443 {
        g.push(':');
        let mut digits = pyrite_text::digits::Digits::default();
        g.push_str(std::str::from_utf8(digits.of(port as u64, 10)).unwrap_or_default());
    }
    g
}

/// mod_wsgi's resource name: "host[:port]|script_name", the script name lower-cased.
pub fn resource(mut host_and_port: String, script_name: &[u8]) -> String {
    host_and_port.push('|');
    if script_name.is_ascii() {
        // Lower-cased in place: this runs for every WSGI request.
        let start = host_and_port.len();
        host_and_port.push_str(std::str::from_utf8(script_name).unwrap_or_default());
        host_and_port[start..].make_ascii_lowercase();
    } else {
        host_and_port.push_str(&String::from_utf8_lossy(script_name).to_lowercase());
    }
    host_and_port
}

/// %{ENV:var}: the request's note, else its environment, else the process's.
fn env_value(r: &Request, var: &str) -> Option<String> {
    for t in [r.notes(), r.subprocess_env()] {
        if let Some(v) = t.get(var.as_bytes()) {
            return Some(String::from_utf8_lossy(v).into_owned());
        }
    }
    std::env::var(var).ok()
}

/// Whether a name (mod_python's or mod_wsgi's) means the main interpreter.
pub fn is_main(name: Option<&str>) -> bool {
    matches!(name, None | Some("") | Some(MAIN_INTERPRETER))
}

/// Whether a configured name depends on the request (then the interpreters a
/// configuration uses cannot all be known at start-up).
pub fn wsgi_is_dynamic(configured: &str) -> bool {
    configured.starts_with("%{ENV:") || configured == "%{HOST}"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_names() {
        assert!(is_main(None));
        assert!(is_main(Some("")));
        assert!(is_main(Some("main_interpreter")));
        assert!(!is_main(Some("a.test")));
    }

    #[test]
    fn resource_names_lower_case_the_script_name() {
        assert_eq!(resource(host_port("a.test", 8080), b"/Hello/World"), "a.test:8080|/hello/world");
        assert_eq!(resource(host_port("a.test", 80), b""), "a.test|");
        assert_eq!(resource(host_port("A.test", 443), "/Über".as_bytes()), "A.test|/über");
    }
}
