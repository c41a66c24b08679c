//! Python's start in an httpd child or daemon process: initialisation at
//! child start (never in the parent), the embedded `mod_python` package,
//! each interpreter's set-up, the configured PythonImports and preloads, and
//! the thread states the workers will use. It sits above every feature: it
//! is the one place that names them all.
pub mod plan;

use crate::config::{DirConfig, ImportDecl};
use crate::ffi::pool::Pool;
use crate::ffi::server::Server;
use crate::ffi::{log, raw};
use crate::interp::{log_server_py_error, pin_thread, ready};
use crate::interpreters::atexit::RUN_ATEXIT;
use crate::interpreters::{apply_python_path, IMPORTING_FOR};
use crate::metrics::python::pyrite;
use crate::pymodule::_apache;
use crate::request::configs;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyModule};
use std::time::Instant;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_python.rs"));
}

/// Starts Python in this child, installs the embedded package and runs the
/// configured preloads, all before httpd hands the child a connection.
/// `pchild` is the child's pool and `s` the main server of the running
/// configuration (child_init's arguments), on the child's only thread.
pub fn init_child(pchild: &'static Pool, s: &Server) {
    if ready() {
        return;
    }
    crate::ffi::pool::set_child(pchild);
    start_child(pchild, s)
}

fn start_child(pchild: &Pool, s: &Server) {
    let t0 = Instant::now();
    pyo3::append_to_inittab!(_apache);
    pyo3::append_to_inittab!(pyrite);
    // What the modules below call back at run time (they cannot name these).
    let _ = crate::interpreters::BOOT.set(boot_interpreter);
    let _ = crate::request::state::ON_END.set(crate::handlers::request_cleanup);
    let _ = crate::daemon::serve::RUN_PLANNED.set(crate::wsgi::run_planned);
    let home = configs::server(s).and_then(|c| c.python_home.clone());
    // A daemon group's python-home= takes the place of WSGIPythonHome.
    let home = crate::daemon::current().and_then(|d| d.python_home.clone()).or(home);
    let process = configs::server(s).map(|c| c.wsgi_process.clone()).unwrap_or_default();
    // A daemon group's python-eggs= (set at its start) takes the place of WSGIPythonEggs.
    let group_eggs = crate::daemon::current().is_some_and(|d| d.python_eggs.is_some());
    if let (Some(eggs), false) = (&process.eggs, group_eggs) {
        // pkg_resources reads it from the environment (WSGIPythonEggs).
        // No other thread runs in this child yet, so none reads the
        // environment meanwhile (set_var's condition; safe in edition 2021).
        std::env::set_var("PYTHON_EGG_CACHE", eggs);
    }
    if let Err(msg) = start_python(home.as_deref(), &process) {
        s.log(log::APLOG_CRIT, &format!("mod_pyrite: Python could not start: {msg}"));
        return;
    }
    let t_interp = t0.elapsed();
    RUN_ATEXIT.store(process.destroy_interpreter.unwrap_or(true), std::sync::atomic::Ordering::Relaxed);
    if process.destroy_interpreter.unwrap_or(true) && crate::daemon::current().is_none() {
        // As mod_wsgi and mod_python do when a child ends: the application's
        // atexit functions run (the interpreter itself is left to the exit).
        // The child's pool is destroyed after its workers have stopped.
        pchild.on_cleanup(|| {
            Python::attach(|py| {
                if let Err(e) = py.import("atexit").and_then(|m| m.call_method0("_run_exitfuncs")) {
                    log_server_py_error(py, Server::main(), "mod_pyrite: atexit functions failed at child exit", &e);
                }
            })
        });
    }
    // This thread now holds no GIL; pin its thread state like any worker's.
    pin_thread();
    let t1 = Instant::now();
    let boot = Python::attach(|py| -> PyResult<()> {
        if let Some(sc) = configs::server(s) {
            crate::gate::GATE.set_limit(sc.python_threads.unwrap_or(crate::gate::DEFAULT_LIMIT));
            if let Some(v) = sc.switch_interval {
                py.import("sys")?.call_method1("setswitchinterval", (v,))?;
            }
            crate::wsgi::app::VERBOSE.store(sc.wsgi_process.verbose.unwrap_or(false), std::sync::atomic::Ordering::Relaxed);
        }
        boot(py, s)
    });
    if let Err(e) = boot {
        Python::attach(|py| log_server_py_error(py, Some(s), "mod_pyrite: Python start-up failed", &e));
        return;
    }
    let t_boot = t1.elapsed();
    // Which interpreters this configuration names (src/child/plan.rs):
    // more than one, and each gets its own, made now like the main one.
    let plan = plan::of(s);
    crate::interpreters::set_isolating(plan.isolating);
    if plan.isolating {
        Python::attach(|py| {
            if let Err(e) = crate::interpreters::remember_shared(py) {
                log_server_py_error(
                    py,
                    Some(s),
                    "mod_pyrite: could not share the built-in modules with sub-interpreters",
                    &e,
                );
            }
            for name in &plan.names {
                let t = Instant::now();
                match crate::interpreters::make(py, name) {
                    Ok(id) => crate::interpreters::note_cost(id, |c| c.made_ms = t.elapsed().as_secs_f64() * 1e3),
                    Err(msg) => s.log(log::APLOG_ERR, &format!("mod_pyrite: could not make interpreter '{name}': {msg}")),
                }
            }
        });
    }
    let t_subs = t1.elapsed() - t_boot;
    let preload = configs::server(s).and_then(|c| c.preload).unwrap_or(true);
    let (mut n_imports, mut n_handlers, mut n_scripts) = (0, 0, 0);
    let (mut t_imports, mut t_handlers, mut t_scripts) = (std::time::Duration::ZERO, std::time::Duration::ZERO, std::time::Duration::ZERO);
    let ids: Vec<crate::interpreters::Id> = std::iter::once(crate::interpreters::MAIN)
        .chain(crate::interpreters::ids())
        .collect();
    for &id in &ids {
        let t_id = Instant::now();
        let (i, h, w, ti, th, tw) = Python::attach(|py| {
            crate::interpreters::enter(py, id, || {
                let t2 = Instant::now();
                let mut i = 0;
                for server in servers(s) {
                    if let (Some(sc), Some(dc)) = (configs::server(server), configs::server_dir(server)) {
                        for decl in &sc.imports {
                            if crate::interpreters::known(Some(&decl.interpreter)) == Some(id) {
                                i += 1;
                                run_import(py, server, dc, decl);
                            }
                        }
                    }
                }
                let ti: std::time::Duration = t2.elapsed();
                let t3 = Instant::now();
                let h = if preload { crate::handlers::preload(py, s, id) } else { 0 };
                let th = t3.elapsed();
                let t4 = Instant::now();
                let w = crate::wsgi::preload(py, s, id);
                (i, h, w, ti, th, t4.elapsed())
            })
        });
        if id != crate::interpreters::MAIN {
            crate::interpreters::note_cost(id, |c| {
                c.preload_ms = t_id.elapsed().as_secs_f64() * 1e3;
                c.preloaded = i + h + w;
            });
        }
        n_imports += i;
        n_handlers += h;
        n_scripts += w;
        t_imports += ti;
        t_handlers += th;
        t_scripts += tw;
    }
    // Prefork's one worker is this thread, which has its state already.
    let t5 = Instant::now();
    let workers = crate::daemon::current()
        .map(|d| d.threads)
        .unwrap_or_else(crate::ffi::mpm::threads_per_child);
    let n_states = if workers > 1 {
        Python::attach(|py| {
            let mut n = crate::thread_states::prepare(py, workers);
            for &id in &ids[1..] {
                let made = crate::interpreters::prepare_states(py, id, workers);
                crate::interpreters::note_cost(id, |c| c.thread_states = made);
                n += made;
            }
            n
        })
    } else {
        0
    };
    let t_states = t5.elapsed();
    crate::metrics::record::startup(t_interp + t_boot + t_subs + t_states, t_imports + t_handlers + t_scripts);
    s.log(log::APLOG_INFO, &format!(
        "mod_pyrite: child {} ready: interpreter {:.1} ms, mod_python package {:.1} ms, {} sub-interpreter(s) {:.1} ms, {} PythonImport(s) {:.1} ms, {} handler module(s) {:.1} ms, {} WSGI script(s) {:.1} ms, {} thread state(s) {:.2} ms",
        std::process::id(),
        t_interp.as_secs_f64() * 1e3,
        t_boot.as_secs_f64() * 1e3,
        ids.len() - 1,
        t_subs.as_secs_f64() * 1e3,
        n_imports,
        t_imports.as_secs_f64() * 1e3,
        n_handlers,
        t_handlers.as_secs_f64() * 1e3,
        n_scripts,
        t_scripts.as_secs_f64() * 1e3,
        n_states,
        t_states.as_secs_f64() * 1e3
    ));
    for (name, _, cost) in crate::interpreters::list().into_iter().skip(1) {
        s.log(
            log::APLOG_INFO,
            &format!(
                "mod_pyrite: child {} interpreter '{name}': made in {:.1} ms, {} preload(s) in {:.1} ms, {} thread state(s)",
                std::process::id(),
                cost.made_ms,
                cost.preloaded,
                cost.preload_ms,
                cost.thread_states
            ),
        );
    }
}

/// What every interpreter of a child holds before it runs application code
/// (the main one in init_child, each sub-interpreter in src/interpreters):
/// mod_python's sys.argv, the embedded package, apache.main_server, the log
/// streams with their restrictions, the `mod_wsgi` module's sizes and the
/// PythonPath site directories.
pub(crate) fn boot_interpreter(py: Python<'_>) -> PyResult<()> {
    match Server::main() {
        Some(main) => boot(py, main),
        None => Err(pyo3::exceptions::PyRuntimeError::new_err(
            "an interpreter boots before httpd named its main server",
        )),
    }
}

/// [`boot_interpreter`] for the handle of the main server.
fn boot(py: Python<'_>, s: &Server) -> PyResult<()> {
    let sys = py.import("sys")?;
    sys.setattr("argv", PyList::new(py, ["mod_python"])?)?; // what mod_python sets: code may test for it
    install_embedded(py)?;
    let apache = py.import("mod_python.apache")?;
    apache.setattr("main_server", crate::request::server::Server::of(s))?;
    if let Some(sc) = configs::server(s) {
        let w = &sc.wsgi_process;
        let wsgi_site = uses_wsgi(s);
        crate::wsgi::logstream::install_std_streams(
            py,
            crate::wsgi::logstream::Restrictions {
                stdin: w.restrict_stdin.unwrap_or(false),
                stdout: sc.restrict_stdout.unwrap_or(false),
                // On by default where WSGI applications run, as under mod_wsgi;
                // a mod_python-only site keeps mod_python's unrestricted signal.signal.
                signal: w.restrict_signal.unwrap_or(wsgi_site),
                as_mod_wsgi: wsgi_site,
            },
        )?;
        let mod_wsgi = py.import("_pyrite_wsgi")?;
        match crate::daemon::current() {
            // A daemon process: its group's name and size, as mod_wsgi reports them.
            Some(d) => {
                mod_wsgi.setattr("process_group", d.name.as_str())?;
                mod_wsgi.setattr("maximum_processes", d.processes.max(1))?;
                mod_wsgi.setattr("threads_per_process", d.threads.max(1))?;
            }
            None => {
                mod_wsgi.setattr("maximum_processes", crate::ffi::mpm::query(raw::AP_MPMQ_MAX_DAEMONS).max(1))?;
                mod_wsgi.setattr("threads_per_process", crate::ffi::mpm::query(raw::AP_MPMQ_MAX_THREADS).max(1))?;
            }
        }
        let site = py.import("site")?;
        // In a daemon process, its group's python-path= follows.
        let group_paths = crate::daemon::current().map(|d| d.python_path.as_slice()).unwrap_or_default();
        for dir in sc.python_paths.iter().chain(group_paths) {
            site.call_method1("addsitedir", (dir.as_str(),))?;
        }
    }
    Ok(())
}

/// Whether the configuration mounts, imports or names a WSGI script.
fn uses_wsgi(s: &Server) -> bool {
    if crate::wsgi::directives::HANDLER_SCRIPTS.load(std::sync::atomic::Ordering::Relaxed)
        || crate::config::wsgi::DISPATCH_SCRIPTS.load(std::sync::atomic::Ordering::Relaxed)
    {
        return true;
    }
    servers(s)
        .filter_map(configs::server)
        .any(|sc| !sc.wsgi_aliases.is_empty() || !sc.wsgi_imports.is_empty())
}

/// `s` and the servers after it in the configuration's list.
fn servers(s: &Server) -> impl Iterator<Item = &Server> {
    std::iter::successors(Some(s), |s| s.next())
}

fn run_import(py: Python<'_>, s: &Server, dc: &DirConfig, decl: &ImportDecl) {
    IMPORTING_FOR.with(|i| *i.borrow_mut() = Some(decl.interpreter.clone()));
    let res = (|| -> PyResult<()> {
        apply_python_path(py, dc, None)?;
        let m = py.import(decl.module.as_str())?;
        if let Some(f) = &decl.function {
            m.getattr(f.as_str())?.call0()?;
        }
        Ok(())
    })();
    IMPORTING_FOR.with(|i| *i.borrow_mut() = None);
    if let Err(e) = res {
        let what = match &decl.function {
            Some(f) => format!("{}::{}", decl.module, f),
            None => decl.module.clone(),
        };
        log_server_py_error(py, Some(s), &format!("PythonImport {what} ({}) failed", decl.origin), &e);
    }
}

/// Initialises CPython in this process (signal handlers left to httpd) and
/// releases the GIL. With a home (WSGIPythonHome: a virtualenv or another
/// installation), Python starts as that environment's interpreter would, so a
/// virtualenv's site-packages are used and the system's are not.
fn start_python(home: Option<&str>, opts: &crate::wsgi::directives::ProcessOptions) -> Result<(), String> {
    use crate::ffi::pystart::{self, Home, StartError};
    let home_text = home.unwrap_or_default();
    let home = home.map(|home| {
        let venv_python = std::path::Path::new(home).join("bin/python3");
        if std::path::Path::new(home).join("pyvenv.cfg").exists() && venv_python.exists() {
            // A virtualenv: Python finds pyvenv.cfg beside its executable.
            Home::Program(venv_python.to_string_lossy().into_owned())
        } else {
            Home::Prefix(home.to_string())
        }
    });
    let options = pystart::StartOptions {
        // PythonOptimize (mod_python) and WSGIPythonOptimize: the higher level wins.
        optimization_level: opts.optimize.unwrap_or(0).max(crate::python_flags::optimization_level()),
        // WSGIPythonHashSeed, WSGIDontWriteBytecode, WSGIPythonWarnings.
        hash_seed: opts.hash_seed,
        write_bytecode: opts.dont_write_bytecode != Some(true),
        warnings: &opts.warnings,
        home,
    };
    pystart::start(&options).map_err(|e| match e {
        StartError::WarningNul => "NUL in WSGIPythonWarnings".to_string(),
        StartError::WarningDecode(w) => format!("could not decode WSGIPythonWarnings {w}"),
        StartError::WarningUse(w) => format!("could not use WSGIPythonWarnings {w}"),
        StartError::HomeNul => "NUL in WSGIPythonHome".to_string(),
        StartError::HomeUse => format!("could not use WSGIPythonHome {home_text}"),
        StartError::Init(msg) => msg,
    })
}

/// Makes `import mod_python...` load the copy compiled into this module,
/// ahead of anything else on sys.path, and sends the bytecode of application
/// code where PyriteBytecodeCache says (src/bytecode.rs).
pub(crate) fn install_embedded(py: Python<'_>) -> PyResult<()> {
    let sources = PyDict::new(py);
    let mut boot_src = None;
    for (name, is_pkg, src) in embedded::EMBEDDED {
        if *name == "_pyrite_boot" {
            boot_src = Some(*src);
        } else {
            sources.set_item(*name, (*is_pkg, *src))?;
        }
    }
    let boot_src = boot_src.expect("python/_pyrite_boot.py is embedded");
    let code = std::ffi::CString::new(boot_src).expect("no NUL in boot source");
    let boot = PyModule::from_code(py, &code, c"<mod_pyrite>/_pyrite_boot.py", c"_pyrite_boot")?;
    boot.getattr("install")?.call1((sources,))?;
    match crate::bytecode::chosen() {
        crate::bytecode::Chosen::Beside => {}
        crate::bytecode::Chosen::Directory(d) => {
            boot.getattr("private_bytecode")?.call1((d,))?;
        }
        crate::bytecode::Chosen::Off => {
            boot.getattr("private_bytecode")?.call1((py.None(),))?;
        }
    }
    Ok(())
}
