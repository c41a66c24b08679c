//! A daemon's life: it becomes its group's user, with the group's home,
//! limits, locale and name; starts Python with the group's python-home and
//! python-path; loads the group's scripts and makes its threads' states;
//! then serves its socket until told to stop, when it finishes what it took
//! (within graceful-timeout) and exits.
use super::serve::{self, State};
use super::supervise::Running;
use crate::ffi::process::{self as os, Newborn, Signals};
use crate::ffi::server::KeptServer;
use crate::ffi::{daemon as hd, log};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A user's uid from a name or `#uid`.
pub fn user_id(name: &str) -> Option<u32> {
    if let Some(n) = name.strip_prefix('#') {
        return n.parse().ok();
    }
    os::uid_of(name)
}

fn group_id(name: &str) -> Option<u32> {
    if let Some(n) = name.strip_prefix('#') {
        return n.parse().ok();
    }
    os::gid_of(name)
}

/// Becomes the group's user (when httpd started as root), as mod_wsgi does.
fn take_identity(nb: &Newborn, g: &super::options::GroupSpec) -> Result<(), String> {
    let (huid, hgid) = hd::httpd_ids();
    if crate::ffi::os::euid() != 0 {
        if let Some(home) = &g.home {
            std::env::set_current_dir(home).map_err(|e| format!("home={home}: {e}"))?;
        }
        return Ok(());
    }
    let uid = match &g.user {
        Some(u) => user_id(u).ok_or_else(|| format!("user={u}: no such user"))?,
        None => huid,
    };
    let gid = match &g.group {
        Some(n) => group_id(n).ok_or_else(|| format!("group={n}: no such group"))?,
        None => hgid,
    };
    if uid == 0 {
        return Err("refusing to run a daemon process as root: set user= (or httpd's User)".into());
    }
    os::set_gid(nb, gid).map_err(|e| format!("setgid({gid}): {e}"))?;
    let entry = os::user_entry(uid);
    if !g.supplementary_groups.is_empty() {
        let mut ids = Vec::new();
        for n in &g.supplementary_groups {
            ids.push(group_id(n).ok_or_else(|| format!("supplementary-groups: no group {n}"))?);
        }
        os::set_groups(nb, &ids).map_err(|e| format!("setgroups: {e}"))?;
    } else if let Some((name, _)) = &entry {
        os::init_groups(nb, name, gid).map_err(|e| format!("initgroups({name}): {e}"))?;
    }
    os::set_uid(nb, uid).map_err(|e| format!("setuid({uid}): {e}"))?;
    let home = match (&g.home, &entry) {
        (Some(h), _) => Some(h.clone()),
        (None, Some((_, h))) if uid != huid => Some(h.clone()),
        _ => None,
    };
    if let Some(home) = home {
        std::env::set_current_dir(&home).map_err(|e| format!("home={home}: {e}"))?;
    }
    Ok(())
}

fn apply_limits(nb: &Newborn, g: &super::options::GroupSpec) {
    for (res, v) in [
        (libc::RLIMIT_CPU, g.cpu_time_limit),
        (libc::RLIMIT_DATA, g.memory_limit),
        (libc::RLIMIT_AS, g.virtual_memory_limit),
    ] {
        if let Some(v) = v {
            os::set_limit(nb, res, v);
        }
    }
    if let Some(p) = g.cpu_priority {
        os::set_priority(nb, p);
    }
    if let Some(m) = g.umask {
        os::set_umask(nb, m);
    }
}

fn apply_environment(nb: &Newborn, g: &super::options::GroupSpec) {
    // Single-threaded here (just forked): changing the environment is safe.
    if let Some(l) = &g.lang {
        std::env::set_var("LANG", l);
    }
    if let Some(l) = &g.locale {
        std::env::set_var("LC_ALL", l);
        if let Ok(c) = std::ffi::CString::new(l.as_str()) {
            os::set_locale(nb, &c);
        }
    }
    if let Some(e) = &g.python_eggs {
        std::env::set_var("PYTHON_EGG_CACHE", e);
    }
    if let Some(name) = &g.display_name {
        // The name ps and top show (15 bytes at most).
        if let Ok(c) = std::ffi::CString::new(name.bytes().take(15).collect::<Vec<u8>>()) {
            os::set_name(nb, &c);
        }
    }
}

/// The signals a daemon handles itself (in its main thread, with sigwait).
fn handled_signals() -> Signals {
    Signals::of(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1, libc::SIGXCPU])
}

/// The daemon's whole life, in the forked child (daemon `slot` of its
/// group; `main` the main server of the running configuration). Never returns.
pub fn run(nb: Newborn, g: Arc<Running>, slot: usize, main: KeptServer) -> ! {
    let main = main.get();
    let spec = g.decl.spec.clone();
    let _ = super::CURRENT.set(spec.clone());
    crate::request::output::note_in_a_daemon();
    // The daemon logs where its group is declared (that virtual host's ErrorLog).
    let s = g.decl.server.get();
    log::set_process_server(s);
    os::stderr_to_error_log(&nb, s, main);
    crate::metrics::groups::adopt(&spec.name, slot);
    let signals = handled_signals();
    signals.block_ignoring_sigpipe(&nb);
    super::listener::close_all_but(Some(g.fd));
    hd::close_http_listeners();
    if let Err(e) = take_identity(&nb, &spec) {
        s.log(
            log::APLOG_CRIT,
            &format!("mod_pyrite: daemon group {:?} cannot start: {e}", spec.name),
        );
        crate::metrics::groups::exiting(&format!("could not start: {e}"));
        // As mod_wsgi: wait before exiting, so a broken setup does not fork in a tight loop.
        std::thread::sleep(Duration::from_secs(20));
        os::exit_now(1);
    }
    apply_limits(&nb, &spec);
    apply_environment(&nb, &spec);
    hd::drop_transaction_logging();
    hd::drop_mpm_request_hooks();
    let pool = os::daemon_pool(&nb, main);
    // Each worker thread's own pool, made while this thread is the only one.
    let pools: Vec<os::ThreadPool> = (0..spec.threads).map(|_| os::thread_pool(&nb, main)).collect();
    let t0 = Instant::now();
    // Runs every module's child_init, this module's included (which starts
    // Python): the set-up ends there, as those may start threads.
    os::run_child_init(nb, pool, main);
    if !crate::interp::ready() {
        s.log(
            log::APLOG_CRIT,
            &format!("mod_pyrite: daemon group {:?}: Python did not start; see above", spec.name),
        );
        crate::metrics::groups::exiting("could not start Python");
        std::thread::sleep(Duration::from_secs(5));
        os::exit_now(1);
    }
    let state = Arc::new(State::new(spec.threads));
    let mut workers = Vec::new();
    for (i, tpool) in pools.into_iter().enumerate() {
        let st = state.clone();
        let fd = g.fd;
        let server = KeptServer::of(main);
        let mut b = std::thread::Builder::new().name(format!("pyrite-daemon-{i}"));
        if let Some(sz) = spec.stack_size {
            b = b.stack_size(sz);
        }
        // Each thread gets its own pool; main is the main server, alive for the daemon's life.
        match b.spawn(move || serve::worker(i, st, fd, tpool, server)) {
            Ok(h) => workers.push(h),
            Err(e) => s.log(log::APLOG_ERR, &format!("mod_pyrite: daemon cannot start a thread: {e}")),
        }
    }
    s.log(
        log::APLOG_INFO,
        &format!(
            "mod_pyrite: daemon {} of group {:?} ready in {:.1} ms ({} threads)",
            std::process::id(),
            spec.name,
            t0.elapsed().as_secs_f64() * 1e3,
            workers.len()
        ),
    );
    {
        let st = state.clone();
        let spec = spec.clone();
        let sp = KeptServer::of(s);
        let _ = std::thread::Builder::new()
            .name("pyrite-monitor".into())
            .spawn(move || serve::monitor(st, &spec, sp));
    }
    // The main thread waits for a signal (from httpd's parent, or one the daemon sends itself).
    let sig = signals.wait();
    let timeout = match sig {
        libc::SIGUSR1 => spec.eviction_timeout.unwrap_or(spec.graceful_timeout),
        _ => spec.graceful_timeout,
    };
    let why = state.reason().unwrap_or_else(|| format!("signal {sig}"));
    state.stopping.store(true, Ordering::SeqCst);
    crate::metrics::groups::stopping(&why);
    s.log(
        log::APLOG_INFO,
        &format!(
            "mod_pyrite: daemon {} of group {:?} stopping ({why}); {} request(s) in progress",
            std::process::id(),
            spec.name,
            state.in_flight.load(Ordering::SeqCst)
        ),
    );
    let deadline = Instant::now() + timeout;
    while state.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = state.in_flight.load(Ordering::SeqCst);
    if left > 0 {
        s.log(
            log::APLOG_WARNING,
            &format!(
                "mod_pyrite: daemon {} of group {:?}: {left} request(s) still running after graceful-timeout ({}s) are cut",
                std::process::id(),
                spec.name,
                timeout.as_secs()
            ),
        );
    }
    exit_after_atexit(&spec, g.decl.server, &why)
}

/// Runs the applications' `atexit` functions, as mod_wsgi does when a daemon
/// ends (WSGIDestroyInterpreter On), then leaves; functions that take longer
/// than shutdown-timeout are cut.
fn exit_after_atexit(spec: &super::options::GroupSpec, s: KeptServer, why: &str) -> ! {
    let limit = spec.shutdown_timeout;
    let (name, reason) = (spec.name.clone(), why.to_string());
    let _ = std::thread::Builder::new().name("pyrite-shutdown".into()).spawn(move || {
        std::thread::sleep(limit);
        s.get().log(
            log::APLOG_WARNING,
            &format!(
                "mod_pyrite: daemon {} of group {name:?}: atexit functions still running after shutdown-timeout ({}s); exiting",
                std::process::id(),
                limit.as_secs()
            ),
        );
        crate::metrics::groups::exiting(&reason);
        os::exit_now(0);
    });
    crate::interpreters::atexit::run_exit_functions();
    crate::metrics::groups::exiting(why);
    // Leaves at once: Python's other threads may be anywhere, and httpd's
    // exit handlers belong to the parent.
    os::exit_now(0)
}
