//! The rest of mod_wsgi 4.9's directives: those with a meaning in embedded
//! mode are implemented (HEAD mapping, error override, the request capsule,
//! the std stream and signal restrictions, Python's start-up flags); those
//! that only steer daemon processes or outside services are accepted with a
//! start-up log line that says what happens instead.
pub use crate::config::wsgi::{HandlerScript, MapHead, ProcessOptions};
use crate::config::{fail, main_server, DirConfig, Origin};
use crate::ffi::directive::{entry, Cmd, Func, Outcome, Spec};
use crate::ffi::request::Request;
use crate::ffi::{log, raw};
use crate::sync::LockExt;

fn set_handler_script(_cmd: &Cmd, m: &mut DirConfig, args: &str) -> Outcome {
    const NAME: &str = "WSGIHandlerScript";
    let words = match crate::config::split_words(args) {
        Ok(w) => w,
        Err(e) => return Err(fail(NAME, &e)),
    };
    let [name, path, options @ ..] = words.as_slice() else {
        return Err(fail(
            NAME,
            "needs a handler name and a script file (WSGIHandlerScript my-handler /srv/handler.wsgi)",
        ));
    };
    if !path.starts_with('/') {
        return Err(fail(NAME, &format!("the script path {path:?} must be absolute")));
    }
    let mut h = HandlerScript {
        name: name.clone(),
        path: path.clone(),
        process_group: None,
        application_group: None,
        pass_authorization: None,
    };
    for w in options {
        match w.split_once('=') {
            Some(("process-group", v)) => h.process_group = Some(v.to_string()),
            Some(("application-group", v)) => h.application_group = Some(v.to_string()),
            Some(("pass-authorization", v)) => {
                h.pass_authorization = Some(match v.to_ascii_lowercase().as_str() {
                    "on" => true,
                    "off" => false,
                    _ => return Err(fail(NAME, &format!("pass-authorization={v}: use On or Off"))),
                })
            }
            _ => {
                return Err(fail(
                    NAME,
                    &format!("invalid option {w:?} (process-group=, application-group=, pass-authorization=)"),
                ))
            }
        }
    }
    let w = &mut m.wsgi;
    let mut list: Vec<_> = w.handler_scripts.as_deref().cloned().unwrap_or_default();
    list.push(std::sync::Arc::new(h));
    w.handler_scripts = Some(std::sync::Arc::new(list));
    HANDLER_SCRIPTS.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// Start-up lines about directives read in this pass of the configuration,
/// written to the error log once it is open (post_config), where an
/// administrator looks, rather than to the terminal during parsing.
static NOTES: std::sync::Mutex<Vec<(u32, String)>> = std::sync::Mutex::new(Vec::new());

fn note(level: u32, line: String) {
    NOTES.locked().push((level, line));
}

/// Some WSGIHandlerScript was read in this configuration pass.
pub static HANDLER_SCRIPTS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A configuration pass begins: forget the last one's lines.
pub fn clear_notes() {
    NOTES.locked().clear();
    HANDLER_SCRIPTS.store(false, std::sync::atomic::Ordering::Relaxed);
    crate::config::wsgi::DISPATCH_SCRIPTS.store(false, std::sync::atomic::Ordering::Relaxed);
}

/// Writes this pass's lines to the error log of `s` (the main server).
pub fn log_notes(s: &crate::ffi::server::Server) {
    for (level, line) in NOTES.locked().iter() {
        s.log(*level, line);
    }
}

fn set_map_head(_cmd: &Cmd, m: &mut DirConfig, arg: &str) -> Outcome {
    let v = match arg.to_ascii_lowercase().as_str() {
        "on" => MapHead::On,
        "off" => MapHead::Off,
        "auto" => MapHead::Auto,
        other => return Err(fail("WSGIMapHEADToGET", &format!("{other:?}: use On, Off or Auto"))),
    };
    m.wsgi.map_head_to_get = Some(v);
    Ok(())
}

fn set_dir_flag(cmd: &Cmd, m: &mut DirConfig, on: bool) -> Outcome {
    let w = &mut m.wsgi;
    match cmd.info() {
        0 => w.error_override = Some(on),
        1 => w.pass_apache_request = Some(on),
        _ => w.enable_sendfile = Some(on),
    }
    Ok(())
}

fn set_process_flag(cmd: &Cmd, _m: &mut DirConfig, on: bool) -> Outcome {
    let n = cmd.name();
    let mut sc = main_server(cmd, &n)?;
    let o = &mut sc.wsgi_process;
    let v = Some(on);
    match cmd.info() {
        0 => o.restrict_stdin = v,
        1 => o.restrict_signal = v,
        2 => {
            // Daemon mode (src/daemon): httpd's children then run no application and start no Python.
            o.restrict_embedded = v;
            crate::daemon::directives::set_restrict_embedded(on);
        }
        3 => o.dont_write_bytecode = v,
        5 => o.destroy_interpreter = v,
        _ => {
            o.verbose = v;
            if on {
                note(
                        log::APLOG_NOTICE,
                        format!(
                            "WSGIVerboseDebugging On ({}): each WSGI script load and reload is logged at notice level; for more, raise LogLevel",
                            Origin::of(cmd)
                        ),
                    );
            }
        }
    }
    Ok(())
}

fn set_process_value(cmd: &Cmd, _m: &mut DirConfig, arg: &str) -> Outcome {
    let n = cmd.name();
    let mut sc = main_server(cmd, &n)?;
    let o = &mut sc.wsgi_process;
    let v = arg.trim();
    match cmd.info() {
        0 => match v.parse::<i32>() {
            Ok(level @ 0..=2) => o.optimize = Some(level),
            _ => return Err(fail(&n, &format!("{v:?}: use 0, 1 or 2 (as python -O / -OO)"))),
        },
        1 => {
            if v.eq_ignore_ascii_case("random") {
                o.hash_seed = Some(None);
            } else {
                match v.parse::<u32>() {
                    Ok(seed) => o.hash_seed = Some(Some(seed)),
                    Err(_) => return Err(fail(&n, &format!("{v:?}: use random or a number from 0 to 4294967295"))),
                }
            }
        }
        2 => {
            if v.is_empty() {
                return Err(fail(
                    &n,
                    "needs a warning filter (as python -W action:message:category:module:lineno)",
                ));
            }
            o.warnings.push(v.to_string());
        }
        _ => {
            if !v.starts_with('/') {
                return Err(fail(&n, &format!("{v:?}: the egg cache directory must be an absolute path")));
            }
            o.eggs = Some(v.to_string());
        }
    }
    Ok(())
}

/// What each accepted-but-not-applicable directive does here instead.
fn instead(directive: &str) -> &'static str {
    match directive {
        "WSGIAcceptMutex" => "it picks the lock daemon processes take around accept(); mod_pyrite's daemons take turns on their group's socket without one",
        "WSGISocketRotation" => "it names daemon process sockets per restart; mod_pyrite's daemon sockets keep their path across restarts (httpd's parent keeps them open)",
        "WSGIIgnoreActivity" => "it exempts URLs from a daemon process's inactivity-timeout; every request counts as activity here",
        "WSGINewRelicConfigFile" | "WSGINewRelicEnvironment" => {
            "mod_pyrite does not start the New Relic agent; call newrelic.agent.initialize() in the WSGI script instead"
        }
        "WSGIServerMetrics" => "mod_pyrite's own metrics are always collected; read them with SetHandler pyrite-status (PyriteStatus On)",
        "WSGICaseSensitivity" => "file names are compared exactly as given (case-sensitive on this platform)",
        _ => "it has no meaning for mod_pyrite",
    }
}

fn note_accepted(cmd: &Cmd, _m: &mut DirConfig, args: &str) -> Outcome {
    let n = cmd.name();
    note(
        log::APLOG_NOTICE,
        format!("{n} {} ({}) accepted and not applied: {}", args, Origin::of(cmd), instead(&n)),
    );
    Ok(())
}

const DIR: u32 = raw::RSRC_CONF | raw::ACCESS_CONF | raw::OR_FILEINFO;

pub const COMMANDS: [raw::command_rec; 22] = [
    entry(&Spec::new(c"WSGIHandlerScript", Func::RawArgs(set_handler_script), 0, DIR, c"name script-file [application-group=...] [pass-authorization=On|Off]: SetHandler/AddHandler name runs the script's handle_request")),
    entry(&Spec::new(c"WSGIMapHEADToGET", Func::Take1(set_map_head), 0, DIR, c"On|Off|Auto: a HEAD request reaches the application as GET (Auto: only when an output filter needs the body)")),
    entry(&Spec::new(c"WSGIErrorOverride", Func::Flag(set_dir_flag), 0, DIR, c"On: an error status from the application is answered with httpd's ErrorDocument page instead of its body")),
    entry(&Spec::new(c"WSGIPassApacheRequest", Func::Flag(set_dir_flag), 1, DIR, c"On: environ['apache.request_rec'] is a capsule holding httpd's request_rec")),
    entry(&Spec::new(c"WSGIRestrictStdin", Func::Flag(set_process_flag), 0, raw::RSRC_CONF, c"On: any use of sys.stdin raises OSError (default Off)")),
    entry(&Spec::new(c"WSGIRestrictSignal", Func::Flag(set_process_flag), 1, raw::RSRC_CONF, c"On (default where WSGI scripts are configured): signal.signal() from applications is logged and ignored (httpd owns the signals)")),
    entry(&Spec::new(c"WSGIRestrictEmbedded", Func::Flag(set_process_flag), 2, raw::RSRC_CONF, c"On: refuses WSGI requests not delegated to a daemon process group; httpd's children then start no Python")),
    entry(&Spec::new(c"WSGIDontWriteBytecode", Func::Flag(set_process_flag), 3, raw::RSRC_CONF, c"On: Python writes no .pyc files (as python -B)")),
    entry(&Spec::new(c"WSGIVerboseDebugging", Func::Flag(set_process_flag), 4, raw::RSRC_CONF, c"On: WSGI script loads and reloads are logged at notice level")),
    entry(&Spec::new(c"WSGIPythonOptimize", Func::Take1(set_process_value), 0, raw::RSRC_CONF, c"0|1|2: Python's optimisation level (as python -O / -OO)")),
    entry(&Spec::new(c"WSGIPythonHashSeed", Func::Take1(set_process_value), 1, raw::RSRC_CONF, c"random|N: Python's hash seed (as PYTHONHASHSEED)")),
    entry(&Spec::new(c"WSGIPythonWarnings", Func::Take1(set_process_value), 2, raw::RSRC_CONF, c"a warning filter (as python -W); may be repeated")),
    entry(&Spec::new(c"WSGIPythonEggs", Func::Take1(set_process_value), 3, raw::RSRC_CONF, c"directory for pkg_resources' egg cache (PYTHON_EGG_CACHE)")),
    entry(&Spec::new(c"WSGIAcceptMutex", Func::RawArgs(note_accepted), 0, raw::RSRC_CONF, c"accepted, not applied: daemons take turns without an accept mutex")),
    entry(&Spec::new(c"WSGISocketRotation", Func::RawArgs(note_accepted), 0, raw::RSRC_CONF, c"accepted, not applied: daemon sockets keep their path across restarts")),
    entry(&Spec::new(c"WSGIIgnoreActivity", Func::RawArgs(note_accepted), 0, DIR, c"accepted, not applied: every request counts as a daemon's activity")),
    entry(&Spec::new(c"WSGIDestroyInterpreter", Func::Flag(set_process_flag), 5, raw::RSRC_CONF, c"On (default): the functions registered with atexit run when a child exits; Off: they do not")),
    entry(&Spec::new(c"WSGINewRelicConfigFile", Func::RawArgs(note_accepted), 0, raw::RSRC_CONF, c"accepted, not applied: start the New Relic agent in the WSGI script")),
    entry(&Spec::new(c"WSGINewRelicEnvironment", Func::RawArgs(note_accepted), 0, raw::RSRC_CONF, c"accepted, not applied: start the New Relic agent in the WSGI script")),
    entry(&Spec::new(c"WSGIServerMetrics", Func::RawArgs(note_accepted), 0, raw::RSRC_CONF, c"accepted, not applied: mod_pyrite's metrics are always on (PyriteStatus)")),
    entry(&Spec::new(c"WSGICaseSensitivity", Func::RawArgs(note_accepted), 0, raw::RSRC_CONF, c"accepted, not applied: file names are compared as given")),
    entry(&Spec::new(c"WSGIEnableSendfile", Func::Flag(set_dir_flag), 2, DIR, c"Off: a file from wsgi.file_wrapper is read through Python in blocks; On (mod_pyrite's default): handed to httpd as a file (EnableSendfile applies)")),
];

/// Whether a HEAD request should reach the application as GET.
pub fn head_as_get(r: &Request, setting: Option<MapHead>) -> bool {
    if r.header_only() == 0 {
        return false;
    }
    match setting.unwrap_or(MapHead::Auto) {
        MapHead::Off => false,
        MapHead::On => true,
        MapHead::Auto => {
            // A content filter (mod_deflate, mod_cache's save, ...) must see the real body.
            let mut f = r.output_filters();
            while let Some(filter) = f {
                if filter.works_on_content() {
                    return true;
                }
                f = filter.next();
            }
            false
        }
    }
}
