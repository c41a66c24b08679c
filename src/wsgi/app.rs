//! Loading WSGI scripts: each file is run as its own module (named as
//! mod_wsgi names it, `_mod_wsgi_` + md5 of the path) and reloaded when the
//! file changes (WSGIScriptReloading, checked at most once a second).
use crate::sync::LockExt;
use pyo3::prelude::*;
use pyo3::types::PyModule;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

struct Script {
    module: Py<PyModule>,
    /// Application objects looked up in this module, by name.
    apps: Vec<(String, Py<PyAny>)>,
    /// The file's modification time in microseconds (APR's unit).
    mtime: Option<i64>,
    checked: Instant,
}

/// Loaded scripts by interpreter (application group) and file.
static SCRIPTS: Mutex<Option<HashMap<crate::interpreters::Id, HashMap<String, Script>>>> = Mutex::new(None);
/// WSGIVerboseDebugging On: script loads are logged at notice level.
pub static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
const RELOAD_CHECK: Duration = Duration::from_secs(1);

fn mtime(path: &str) -> Option<i64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(t.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_micros() as i64)
}

/// Runs the script file as a fresh module.
fn load<'py>(py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyModule>> {
    let source = std::fs::read(path).map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("cannot read WSGI script {path}: {e}")))?;
    // CPython's own MD5 (built in) where it has one: hashlib would load
    // OpenSSL into every child just to name a module.
    let md5 = py.import("_md5").or_else(|_| py.import("hashlib"))?;
    let digest: String = md5
        .call_method1("md5", (pyo3::types::PyBytes::new(py, path.as_bytes()),))?
        .call_method0("hexdigest")?
        .extract()?;
    let name = format!("_mod_wsgi_{digest}");
    let module = PyModule::new(py, &name)?;
    module.setattr("__file__", path)?;
    module.setattr("__builtins__", py.import("builtins")?)?;
    let sys_modules = py.import("sys")?.getattr("modules")?;
    // What was imported before, so a failed run can take back what it added.
    let before: std::collections::HashSet<String> = sys_modules
        .call_method0("keys")?
        .try_iter()?
        .filter_map(|k| k.ok()?.extract::<String>().ok())
        .collect();
    sys_modules.set_item(&name, &module)?;
    let builtins = py.import("builtins")?;
    let run = (|| -> PyResult<()> {
        let code = builtins.call_method1("compile", (pyo3::types::PyBytes::new(py, &source), path, "exec"))?;
        builtins.call_method1("exec", (code, module.dict()))?;
        Ok(())
    })();
    if let Err(e) = run {
        // Modules the script's imports left half set up would make later
        // requests fail with misleading errors: the next try starts clean.
        let added: Vec<String> = sys_modules
            .call_method0("keys")?
            .try_iter()?
            .filter_map(|k| k.ok()?.extract::<String>().ok())
            .filter(|k| !before.contains(k))
            .collect();
        for k in &added {
            let _ = sys_modules.del_item(k);
        }
        let _ = sys_modules.del_item(&name);
        if !added.is_empty() {
            crate::ffi::log::main_error(
                crate::ffi::log::APLOG_INFO,
                &format!(
                    "WSGI script {path} failed to load: {} module(s) it imported were removed from sys.modules again",
                    added.len()
                ),
            );
        }
        return Err(e);
    }
    if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
        crate::ffi::log::main_error(
            crate::ffi::log::APLOG_NOTICE,
            &format!("WSGI script {path} loaded as module {name} (pid {})", std::process::id()),
        );
    }
    Ok(module)
}

/// The script's module, loading it on first use and again after its file
/// changed. `known_mtime` is the file's mtime when httpd has just stat()ed it
/// (then every request compares, as mod_wsgi does, at no cost); without it
/// the file is checked at most once a second.
pub fn module<'py>(py: Python<'py>, path: &str, reloading: bool, known_mtime: Option<i64>) -> PyResult<Bound<'py, PyModule>> {
    let interp = crate::interpreters::current(py);
    let stale_check = {
        let mut guard = SCRIPTS.locked();
        match guard.get_or_insert_with(HashMap::new).entry(interp).or_default().get_mut(path) {
            Some(s) if !reloading => return Ok(s.module.bind(py).clone()),
            Some(s) if known_mtime.is_some() && known_mtime == s.mtime => return Ok(s.module.bind(py).clone()),
            Some(s) if known_mtime.is_none() && s.checked.elapsed() < RELOAD_CHECK => return Ok(s.module.bind(py).clone()),
            Some(s) => {
                s.checked = Instant::now();
                Some((s.module.clone_ref(py), s.mtime))
            }
            None => None,
        }
    };
    // No lock is held across Python code (an import can release the GIL).
    let now_mtime = known_mtime.or_else(|| mtime(path));
    if let Some((module, old)) = stale_check {
        if old == now_mtime {
            return Ok(module.into_bound(py));
        }
    }
    let module = load(py, path)?;
    SCRIPTS.locked().get_or_insert_with(HashMap::new).entry(interp).or_default().insert(
        path.to_string(),
        Script {
            module: module.clone().unbind(),
            apps: Vec::new(),
            mtime: now_mtime,
            checked: Instant::now(),
        },
    );
    Ok(module)
}

/// The application object `callable` of the script at `path`.
pub fn application<'py>(
    py: Python<'py>,
    path: &str,
    callable: &str,
    reloading: bool,
    known_mtime: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    // Fast path: the module is current and the object was looked up before.
    let interp = crate::interpreters::current(py);
    {
        let guard = SCRIPTS.locked();
        if let Some(s) = guard.as_ref().and_then(|m| m.get(&interp)).and_then(|m| m.get(path)) {
            let current = !reloading || (known_mtime.is_some() && known_mtime == s.mtime);
            if current {
                if let Some((_, app)) = s.apps.iter().find(|(n, _)| n == callable) {
                    return Ok(app.bind(py).clone());
                }
            }
        }
    }
    let m = module(py, path, reloading, known_mtime)?;
    let app = m.getattr(callable).map_err(|_| {
        pyo3::exceptions::PyAttributeError::new_err(format!(
            "WSGI script {path} has no object named '{callable}' (WSGICallableObject / callable-object=)"
        ))
    })?;
    if let Some(s) = SCRIPTS
        .locked()
        .as_mut()
        .and_then(|m| m.get_mut(&interp))
        .and_then(|m| m.get_mut(path))
    {
        if s.module.bind(py).is(&m) {
            s.apps.retain(|(n, _)| n != callable);
            s.apps.push((callable.to_string(), app.clone().unbind()));
        }
    }
    Ok(app)
}

/// Whether a script file exists and can be read, for clear 404s.
pub fn exists(path: &str) -> bool {
    Path::new(path).is_file()
}
