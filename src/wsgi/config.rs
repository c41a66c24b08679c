//! mod_wsgi's directives, with mod_wsgi's meaning. Which process group runs
//! a script (process-group=, WSGIProcessGroup) is recorded here; the daemon
//! groups themselves are declared in src/daemon/directives.rs.
pub use crate::config::wsgi::{ImportScript, Regex, WsgiAlias, WsgiDirConfig};
use crate::config::{fail, main_server, server_conf, split_words, DirConfig, Origin};
use crate::ffi::directive::{entry, Cmd, Func, Outcome, Spec};
use crate::ffi::{log, raw};
use std::sync::Arc;

const GLOBAL: &str = "%{GLOBAL}";

fn on_off(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

/// Parses the `name=value` options after a WSGIScriptAlias target.
fn parse_alias_options(words: &[String], alias: &mut WsgiAlias) -> Result<(), String> {
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!("invalid option {w:?} (options are name=value)"));
        };
        match k {
            "process-group" => alias.process_group = Some(v.to_string()),
            "application-group" => alias.application_group = Some(v.to_string()),
            "callable-object" => {
                if v.is_empty() {
                    return Err("callable-object= needs a name".into());
                }
                alias.callable = Some(v.to_string());
            }
            "pass-authorization" => {
                alias.pass_authorization = Some(on_off(v).ok_or_else(|| format!("pass-authorization={v}: use On or Off"))?);
            }
            "preload" => alias.preload = on_off(v).ok_or_else(|| format!("preload={v}: use On or Off"))?,
            _ => return Err(format!("invalid option {k:?} to a WSGI script alias (known: process-group, application-group, callable-object, pass-authorization, preload)")),
        }
    }
    Ok(())
}

fn set_script_alias(cmd: &Cmd, _m: &mut DirConfig, args: &str) -> Outcome {
    let is_match = cmd.info() != 0;
    let name = if is_match { "WSGIScriptAliasMatch" } else { "WSGIScriptAlias" };
    let words = match split_words(args) {
        Ok(w) => w,
        Err(e) => return Err(fail(name, &e)),
    };
    if words.len() < 2 {
        return Err(fail(
            name,
            "needs a URL path and a script file (WSGIScriptAlias /app /srv/app/app.wsgi)",
        ));
    }
    let mut alias = WsgiAlias {
        url: words[0].clone(),
        regex: None,
        target: words[1].clone(),
        process_group: None,
        application_group: None,
        callable: None,
        pass_authorization: None,
        preload: true,
        origin: Origin::of(cmd),
    };
    if let Err(e) = parse_alias_options(&words[2..], &mut alias) {
        return Err(fail(name, &e));
    }
    if is_match {
        if alias.url.contains('\0') {
            return Err(fail(name, "NUL in pattern"));
        }
        let Some(re) = cmd.regex(&alias.url) else {
            return Err(fail(name, &format!("{:?} is not a valid regular expression", alias.url)));
        };
        alias.regex = Some(re);
    } else if !alias.url.starts_with('/') {
        return Err(fail(name, &format!("the URL path {:?} must start with '/'", alias.url)));
    }
    if !alias.target.starts_with('/') {
        return Err(fail(name, &format!("the script path {:?} must be absolute", alias.target)));
    }
    let mut sc = server_conf(cmd, name)?;
    sc.wsgi_aliases.push(Arc::new(alias));
    Ok(())
}

fn set_import_script(cmd: &Cmd, _m: &mut DirConfig, args: &str) -> Outcome {
    let words = match split_words(args) {
        Ok(w) => w,
        Err(e) => return Err(fail("WSGIImportScript", &e)),
    };
    let Some(path) = words.first() else {
        return Err(fail("WSGIImportScript", "needs a script file"));
    };
    let mut application_group = None;
    let mut process_group = None;
    for w in &words[1..] {
        match w.split_once('=') {
            Some(("process-group", v)) => process_group = Some(v.to_string()),
            Some(("application-group", v)) => application_group = Some(v.to_string()),
            _ => {
                return Err(fail(
                    "WSGIImportScript",
                    &format!("invalid option {w:?} (process-group=, application-group=)"),
                ))
            }
        }
    }
    let mut sc = server_conf(cmd, "WSGIImportScript")?;
    sc.wsgi_imports.push(Arc::new(ImportScript {
        path: path.clone(),
        application_group,
        process_group,
        origin: Origin::of(cmd),
    }));
    Ok(())
}

fn set_python_path(cmd: &Cmd, _m: &mut DirConfig, arg: &str) -> Outcome {
    let mut sc = main_server(cmd, "WSGIPythonPath")?;
    sc.python_paths.extend(arg.split(':').filter(|p| !p.is_empty()).map(str::to_string));
    Ok(())
}

fn set_python_home(cmd: &Cmd, _m: &mut DirConfig, arg: &str) -> Outcome {
    let mut sc = main_server(cmd, "WSGIPythonHome")?;
    let home = arg;
    if !std::path::Path::new(home).is_dir() {
        return Err(fail("WSGIPythonHome", &format!("{home} is not a directory")));
    }
    sc.python_home = Some(home.to_string());
    Ok(())
}

fn set_restrict_stdout(cmd: &Cmd, _m: &mut DirConfig, on: bool) -> Outcome {
    main_server(cmd, "WSGIRestrictStdout")?.restrict_stdout = Some(on);
    Ok(())
}

fn set_callable(_cmd: &Cmd, m: &mut DirConfig, arg: &str) -> Outcome {
    let name = arg;
    if name.is_empty() {
        return Err(fail("WSGICallableObject", "needs a name"));
    }
    m.wsgi.callable = Some(name.to_string());
    Ok(())
}

fn set_application_group(_cmd: &Cmd, m: &mut DirConfig, arg: &str) -> Outcome {
    m.wsgi.application_group = Some(arg.to_string());
    Ok(())
}

fn set_process_group(_cmd: &Cmd, m: &mut DirConfig, arg: &str) -> Outcome {
    let v = arg;
    if v.starts_with("%{") && v != GLOBAL && !(v.starts_with("%{ENV:") && v.ends_with('}')) {
        return Err(fail(
            "WSGIProcessGroup",
            &format!("{v}: use a group name, %{{GLOBAL}} or %{{ENV:variable}}"),
        ));
    }
    m.wsgi.process_group = Some(v.to_string());
    Ok(())
}

fn set_flag(cmd: &Cmd, m: &mut DirConfig, on: bool) -> Outcome {
    let w = &mut m.wsgi;
    let v = Some(on);
    match cmd.info() {
        0 => w.pass_authorization = v,
        1 => w.chunked_request = v,
        _ => w.script_reloading = v,
    }
    Ok(())
}

/// Directives with no meaning for embedded-only operation: accepted so
/// existing configurations load, and said plainly in the log.
fn note_ignored(cmd: &Cmd, _m: &mut DirConfig, args: &str) -> Outcome {
    let name = cmd.name();
    let o = Origin::of(cmd);
    log::main_error(
        log::APLOG_WARNING,
        &format!(
            "{name} {} ({o}) is ignored: mod_pyrite runs applications embedded and initialises Python in each child",
            args
        ),
    );
    Ok(())
}

const DIR: u32 = raw::RSRC_CONF | raw::ACCESS_CONF | raw::OR_FILEINFO;

pub const COMMANDS: [raw::command_rec; 13] = [
    entry(&Spec::new(c"WSGIScriptAlias", Func::RawArgs(set_script_alias), 0, raw::RSRC_CONF, c"URL-path script-file [process-group=...] [application-group=...] [callable-object=...] [pass-authorization=On|Off] [preload=On|Off]")),
    entry(&Spec::new(c"WSGIScriptAliasMatch", Func::RawArgs(set_script_alias), 1, raw::RSRC_CONF, c"regex script-file-with-$N [options as for WSGIScriptAlias]")),
    entry(&Spec::new(c"WSGICallableObject", Func::Take1(set_callable), 0, DIR, c"name of the application object in the WSGI script (default: application)")),
    entry(&Spec::new(c"WSGIPythonPath", Func::Take1(set_python_path), 0, raw::RSRC_CONF, c"directories (':'-separated) added to sys.path with site.addsitedir at child start")),
    entry(&Spec::new(c"WSGIPythonHome", Func::Take1(set_python_home), 0, raw::RSRC_CONF, c"the Python installation or virtualenv to run applications in")),
    entry(&Spec::new(c"WSGIImportScript", Func::RawArgs(set_import_script), 0, raw::RSRC_CONF, c"script-file [process-group=...] [application-group=...]: load at process start")),
    entry(&Spec::new(c"WSGIApplicationGroup", Func::Take1(set_application_group), 0, DIR, c"application group: the interpreter the applications here run in (%{GLOBAL}: the main one)")),
    entry(&Spec::new(c"WSGIProcessGroup", Func::Take1(set_process_group), 0, DIR, c"the daemon process group (WSGIDaemonProcess) that runs applications here; %{GLOBAL} or %{ENV:var}")),
    entry(&Spec::new(c"WSGIPassAuthorization", Func::Flag(set_flag), 0, DIR, c"On passes the Authorization header to the application as HTTP_AUTHORIZATION")),
    entry(&Spec::new(c"WSGIChunkedRequest", Func::Flag(set_flag), 1, DIR, c"On accepts chunked request bodies (Off answers them with 411)")),
    entry(&Spec::new(c"WSGIScriptReloading", Func::Flag(set_flag), 2, DIR, c"On (default) reloads a WSGI script whose file changed")),
    entry(&Spec::new(c"WSGIRestrictStdout", Func::Flag(set_restrict_stdout), 0, raw::RSRC_CONF, c"On makes any use of sys.stdout raise (Off: it goes to the error log)")),
    entry(&Spec::new(c"WSGILazyInitialization", Func::RawArgs(note_ignored), 0, raw::RSRC_CONF, c"ignored (Python always starts in the children)")),
];
