//! mod_wsgi's directives, with mod_wsgi's meaning. Which process group runs
//! a script (process-group=, WSGIProcessGroup) is recorded here; the daemon
//! groups themselves are declared in src/daemon/directives.rs.
use crate::config::{cmd, dir_conf, err, main_server_conf, origin, server_conf_mut, split_words, text};
use crate::ffi::{self, log, raw};
use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;
pub use crate::config::wsgi::{ImportScript, Regex, WsgiAlias, WsgiDirConfig};


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

unsafe extern "C" fn set_script_alias(cmd: *mut raw::cmd_parms, _m: *mut c_void, args: *const c_char) -> *const c_char {
    crate::guard::or(c"mod_pyrite: internal error reading WSGIScriptAlias".as_ptr(), || unsafe {
        let is_match = !(*cmd).info.is_null();
        let name = if is_match { "WSGIScriptAliasMatch" } else { "WSGIScriptAlias" };
        let words = match split_words(text(args)) {
            Ok(w) => w,
            Err(e) => return err(cmd, name, &e),
        };
        if words.len() < 2 {
            return err(
                cmd,
                name,
                "needs a URL path and a script file (WSGIScriptAlias /app /srv/app/app.wsgi)",
            );
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
            origin: origin(cmd),
        };
        if let Err(e) = parse_alias_options(&words[2..], &mut alias) {
            return err(cmd, name, &e);
        }
        if is_match {
            let Ok(pattern) = std::ffi::CString::new(alias.url.clone()) else {
                return err(cmd, name, "NUL in pattern");
            };
            let re = raw::ap_pregcomp((*cmd).pool, pattern.as_ptr(), raw::AP_REG_EXTENDED as c_int);
            if re.is_null() {
                return err(cmd, name, &format!("{:?} is not a valid regular expression", alias.url));
            }
            alias.regex = Some(Regex(re));
        } else if !alias.url.starts_with('/') {
            return err(cmd, name, &format!("the URL path {:?} must start with '/'", alias.url));
        }
        if !alias.target.starts_with('/') {
            return err(cmd, name, &format!("the script path {:?} must be absolute", alias.target));
        }
        let Some(sc) = server_conf_mut(cmd) else {
            return err(cmd, name, "no server configuration");
        };
        sc.wsgi_aliases.push(Arc::new(alias));
        std::ptr::null()
    })
}

unsafe extern "C" fn set_import_script(cmd: *mut raw::cmd_parms, _m: *mut c_void, args: *const c_char) -> *const c_char {
    crate::guard::or(c"mod_pyrite: internal error reading WSGIImportScript".as_ptr(), || unsafe {
        let words = match split_words(text(args)) {
            Ok(w) => w,
            Err(e) => return err(cmd, "WSGIImportScript", &e),
        };
        let Some(path) = words.first() else {
            return err(cmd, "WSGIImportScript", "needs a script file");
        };
        let mut application_group = None;
        let mut process_group = None;
        for w in &words[1..] {
            match w.split_once('=') {
                Some(("process-group", v)) => process_group = Some(v.to_string()),
                Some(("application-group", v)) => application_group = Some(v.to_string()),
                _ => {
                    return err(
                        cmd,
                        "WSGIImportScript",
                        &format!("invalid option {w:?} (process-group=, application-group=)"),
                    )
                }
            }
        }
        let Some(sc) = server_conf_mut(cmd) else {
            return err(cmd, "WSGIImportScript", "no server configuration");
        };
        sc.wsgi_imports.push(Arc::new(ImportScript {
            path: path.clone(),
            application_group,
            process_group,
            origin: origin(cmd),
        }));
        std::ptr::null()
    })
}

unsafe extern "C" fn set_python_path(cmd: *mut raw::cmd_parms, _m: *mut c_void, arg: *const c_char) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        let sc = match main_server_conf(cmd, "WSGIPythonPath") {
            Ok(sc) => sc,
            Err(e) => return e,
        };
        sc.python_paths
            .extend(text(arg).split(':').filter(|p| !p.is_empty()).map(str::to_string));
        std::ptr::null()
    })
}

unsafe extern "C" fn set_python_home(cmd: *mut raw::cmd_parms, _m: *mut c_void, arg: *const c_char) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        let sc = match main_server_conf(cmd, "WSGIPythonHome") {
            Ok(sc) => sc,
            Err(e) => return e,
        };
        let home = text(arg);
        if !std::path::Path::new(home).is_dir() {
            return err(cmd, "WSGIPythonHome", &format!("{home} is not a directory"));
        }
        sc.python_home = Some(home.to_string());
        std::ptr::null()
    })
}

unsafe extern "C" fn set_restrict_stdout(cmd: *mut raw::cmd_parms, _m: *mut c_void, on: c_int) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        match main_server_conf(cmd, "WSGIRestrictStdout") {
            Ok(sc) => sc.restrict_stdout = Some(on != 0),
            Err(e) => return e,
        }
        std::ptr::null()
    })
}

unsafe extern "C" fn set_callable(cmd: *mut raw::cmd_parms, m: *mut c_void, arg: *const c_char) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        let name = text(arg);
        if name.is_empty() {
            return err(cmd, "WSGICallableObject", "needs a name");
        }
        dir_conf(m).wsgi.callable = Some(name.to_string());
        std::ptr::null()
    })
}

unsafe extern "C" fn set_application_group(_cmd: *mut raw::cmd_parms, m: *mut c_void, arg: *const c_char) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        dir_conf(m).wsgi.application_group = Some(text(arg).to_string());
        std::ptr::null()
    })
}

unsafe extern "C" fn set_process_group(cmd: *mut raw::cmd_parms, m: *mut c_void, arg: *const c_char) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        let v = text(arg);
        if v.starts_with("%{") && v != GLOBAL && !(v.starts_with("%{ENV:") && v.ends_with('}')) {
            return err(
                cmd,
                "WSGIProcessGroup",
                &format!("{v}: use a group name, %{{GLOBAL}} or %{{ENV:variable}}"),
            );
        }
        dir_conf(m).wsgi.process_group = Some(v.to_string());
        std::ptr::null()
    })
}

unsafe extern "C" fn set_flag(cmd: *mut raw::cmd_parms, m: *mut c_void, on: c_int) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        let w = &mut dir_conf(m).wsgi;
        let v = Some(on != 0);
        match (*cmd).info as usize {
            0 => w.pass_authorization = v,
            1 => w.chunked_request = v,
            _ => w.script_reloading = v,
        }
        std::ptr::null()
    })
}

/// Directives with no meaning for embedded-only operation: accepted so
/// existing configurations load, and said plainly in the log.
unsafe extern "C" fn note_ignored(cmd: *mut raw::cmd_parms, _m: *mut c_void, args: *const c_char) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        let name = ffi::cstr_lossy((*(*cmd).cmd).name);
        let o = origin(cmd);
        log::serror(
            std::ptr::null(),
            log::APLOG_WARNING,
            &format!(
                "{name} {} ({o}) is ignored: mod_pyrite runs applications embedded and initialises Python in each child",
                text(args)
            ),
        );
        std::ptr::null()
    })
}

const DIR: u32 = raw::RSRC_CONF | raw::ACCESS_CONF | raw::OR_FILEINFO;

pub const COMMANDS: [raw::command_rec; 13] = [
    cmd(c"WSGIScriptAlias", raw::cmd_func { raw_args: Some(set_script_alias) }, 0, raw::RSRC_CONF, raw::cmd_how_RAW_ARGS,
        c"URL-path script-file [process-group=...] [application-group=...] [callable-object=...] [pass-authorization=On|Off] [preload=On|Off]"),
    cmd(c"WSGIScriptAliasMatch", raw::cmd_func { raw_args: Some(set_script_alias) }, 1, raw::RSRC_CONF, raw::cmd_how_RAW_ARGS,
        c"regex script-file-with-$N [options as for WSGIScriptAlias]"),
    cmd(c"WSGICallableObject", raw::cmd_func { take1: Some(set_callable) }, 0, DIR, raw::cmd_how_TAKE1,
        c"name of the application object in the WSGI script (default: application)"),
    cmd(c"WSGIPythonPath", raw::cmd_func { take1: Some(set_python_path) }, 0, raw::RSRC_CONF, raw::cmd_how_TAKE1,
        c"directories (':'-separated) added to sys.path with site.addsitedir at child start"),
    cmd(c"WSGIPythonHome", raw::cmd_func { take1: Some(set_python_home) }, 0, raw::RSRC_CONF, raw::cmd_how_TAKE1,
        c"the Python installation or virtualenv to run applications in"),
    cmd(c"WSGIImportScript", raw::cmd_func { raw_args: Some(set_import_script) }, 0, raw::RSRC_CONF, raw::cmd_how_RAW_ARGS,
        c"script-file [process-group=...] [application-group=...]: load at process start"),
    cmd(c"WSGIApplicationGroup", raw::cmd_func { take1: Some(set_application_group) }, 0, DIR, raw::cmd_how_TAKE1,
        c"application group: the interpreter the applications here run in (%{GLOBAL}: the main one)"),
    cmd(c"WSGIProcessGroup", raw::cmd_func { take1: Some(set_process_group) }, 0, DIR, raw::cmd_how_TAKE1,
        c"the daemon process group (WSGIDaemonProcess) that runs applications here; %{GLOBAL} or %{ENV:var}"),
    cmd(c"WSGIPassAuthorization", raw::cmd_func { flag: Some(set_flag) }, 0, DIR, raw::cmd_how_FLAG,
        c"On passes the Authorization header to the application as HTTP_AUTHORIZATION"),
    cmd(c"WSGIChunkedRequest", raw::cmd_func { flag: Some(set_flag) }, 1, DIR, raw::cmd_how_FLAG,
        c"On accepts chunked request bodies (Off answers them with 411)"),
    cmd(c"WSGIScriptReloading", raw::cmd_func { flag: Some(set_flag) }, 2, DIR, raw::cmd_how_FLAG,
        c"On (default) reloads a WSGI script whose file changed"),
    cmd(c"WSGIRestrictStdout", raw::cmd_func { flag: Some(set_restrict_stdout) }, 0, raw::RSRC_CONF, raw::cmd_how_FLAG,
        c"On makes any use of sys.stdout raise (Off: it goes to the error log)"),
    cmd(c"WSGILazyInitialization", raw::cmd_func { raw_args: Some(note_ignored) }, 0, raw::RSRC_CONF, raw::cmd_how_RAW_ARGS,
        c"ignored (Python always starts in the children)"),
];
