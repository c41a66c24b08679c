//! A daemon's life: it becomes its group's user, with the group's home,
//! limits, locale and name; starts Python with the group's python-home and
//! python-path; loads the group's scripts and makes its threads' states;
//! then serves its socket until told to stop, when it finishes what it took
//! (within graceful-timeout) and exits.
use super::serve::{self, State};
use super::supervise::Running;
use crate::ffi::{daemon as hd, log, raw};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A user's uid from a name or `#uid`.
pub fn user_id(name: &str) -> Option<u32> {
    if let Some(n) = name.strip_prefix('#') {
        return n.parse().ok();
    }
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam with a valid name; the record is read at once (single-threaded here).
    unsafe {
        let pw = libc::getpwnam(c.as_ptr());
        (!pw.is_null()).then(|| (*pw).pw_uid)
    }
}

fn group_id(name: &str) -> Option<u32> {
    if let Some(n) = name.strip_prefix('#') {
        return n.parse().ok();
    }
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: as in user_id.
    unsafe {
        let gr = libc::getgrnam(c.as_ptr());
        (!gr.is_null()).then(|| (*gr).gr_gid)
    }
}

/// The name and home directory of a uid.
fn user_entry(uid: u32) -> Option<(String, String)> {
    // SAFETY: getpwuid; the record is copied at once (single-threaded here).
    unsafe {
        let pw = libc::getpwuid(uid);
        if pw.is_null() {
            return None;
        }
        Some((
            std::ffi::CStr::from_ptr((*pw).pw_name).to_string_lossy().into_owned(),
            std::ffi::CStr::from_ptr((*pw).pw_dir).to_string_lossy().into_owned(),
        ))
    }
}

/// Becomes the group's user (when httpd started as root), as mod_wsgi does.
fn take_identity(g: &super::options::GroupSpec) -> Result<(), String> {
    let (huid, hgid) = hd::httpd_ids();
    // SAFETY: plain credential calls, single-threaded (just forked).
    unsafe {
        if libc::geteuid() != 0 {
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
        if libc::setgid(gid) != 0 {
            return Err(format!("setgid({gid}): {}", std::io::Error::last_os_error()));
        }
        let entry = user_entry(uid);
        if !g.supplementary_groups.is_empty() {
            let mut ids = Vec::new();
            for n in &g.supplementary_groups {
                ids.push(group_id(n).ok_or_else(|| format!("supplementary-groups: no group {n}"))?);
            }
            if libc::setgroups(ids.len(), ids.as_ptr()) != 0 {
                return Err(format!("setgroups: {}", std::io::Error::last_os_error()));
            }
        } else if let Some((name, _)) = &entry {
            let c = std::ffi::CString::new(name.as_str()).unwrap_or_default();
            if libc::initgroups(c.as_ptr(), gid) != 0 {
                return Err(format!("initgroups({name}): {}", std::io::Error::last_os_error()));
            }
        }
        if libc::setuid(uid) != 0 {
            return Err(format!("setuid({uid}): {}", std::io::Error::last_os_error()));
        }
        let home = match (&g.home, &entry) {
            (Some(h), _) => Some(h.clone()),
            (None, Some((_, h))) if uid != huid => Some(h.clone()),
            _ => None,
        };
        if let Some(home) = home {
            std::env::set_current_dir(&home).map_err(|e| format!("home={home}: {e}"))?;
        }
    }
    Ok(())
}

fn apply_limits(g: &super::options::GroupSpec) {
    // SAFETY: setrlimit/setpriority/umask with plain values.
    unsafe {
        let set = |res, v: Option<u64>| {
            if let Some(v) = v {
                let l = libc::rlimit {
                    rlim_cur: v,
                    rlim_max: libc::RLIM_INFINITY,
                };
                let mut cur: libc::rlimit = std::mem::zeroed();
                libc::getrlimit(res, &mut cur);
                let l = libc::rlimit {
                    rlim_max: cur.rlim_max.max(l.rlim_cur),
                    ..l
                };
                libc::setrlimit(res, &l);
            }
        };
        set(libc::RLIMIT_CPU, g.cpu_time_limit);
        set(libc::RLIMIT_DATA, g.memory_limit);
        set(libc::RLIMIT_AS, g.virtual_memory_limit);
        if let Some(p) = g.cpu_priority {
            libc::setpriority(libc::PRIO_PROCESS, 0, p);
        }
        if let Some(m) = g.umask {
            libc::umask(m as libc::mode_t);
        }
    }
}

fn apply_environment(g: &super::options::GroupSpec) {
    // Single-threaded here (just forked): changing the environment is safe.
    if let Some(l) = &g.lang {
        std::env::set_var("LANG", l);
    }
    if let Some(l) = &g.locale {
        std::env::set_var("LC_ALL", l);
        if let Ok(c) = std::ffi::CString::new(l.as_str()) {
            // SAFETY: a valid locale name string; single-threaded.
            unsafe { libc::setlocale(libc::LC_ALL, c.as_ptr()) };
        }
    }
    if let Some(e) = &g.python_eggs {
        std::env::set_var("PYTHON_EGG_CACHE", e);
    }
    if let Some(name) = &g.display_name {
        // The name ps and top show (15 bytes at most).
        if let Ok(c) = std::ffi::CString::new(name.bytes().take(15).collect::<Vec<u8>>()) {
            // SAFETY: PR_SET_NAME reads a NUL-terminated string.
            unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr()) };
        }
    }
}

/// The signals a daemon handles itself (in its main thread, with sigwait).
fn handled_signals() -> libc::sigset_t {
    // SAFETY: builds a signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1, libc::SIGXCPU] {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// The daemon's whole life, in the forked child (daemon `slot` of its
/// group). Never returns.
///
/// # Safety
/// Called in a process just forked from httpd's parent; `main` is the main
/// server of the running configuration.
pub unsafe fn run(g: Arc<Running>, slot: usize, main: *mut raw::server_rec) -> ! {
    let spec = g.decl.spec.clone();
    let _ = super::CURRENT.set(spec.clone());
    // The daemon logs where its group is declared (that virtual host's ErrorLog).
    let s = g.decl.server.get().as_ptr();
    log::set_process_server(s);
    // SAFETY: both servers belong to the running configuration; one thread runs here.
    unsafe { hd::stderr_to_error_log(s, main) };
    crate::metrics::groups::adopt(&spec.name, slot);
    // SAFETY: just forked, single-threaded: signal dispositions and masks are ours to set.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let set = handled_signals();
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    super::listener::close_all_but(Some(g.fd));
    hd::close_http_listeners();
    if let Err(e) = take_identity(&spec) {
        log::serror(
            s,
            log::APLOG_CRIT,
            &format!("mod_pyrite: daemon group {:?} cannot start: {e}", spec.name),
        );
        crate::metrics::groups::exiting(&format!("could not start: {e}"));
        // As mod_wsgi: wait before exiting, so a broken setup does not fork in a tight loop.
        std::thread::sleep(Duration::from_secs(20));
        // SAFETY: leaves without running the parent's exit handlers.
        unsafe { libc::_exit(1) };
    }
    apply_limits(&spec);
    apply_environment(&spec);
    hd::drop_transaction_logging();
    hd::drop_mpm_request_hooks();
    // SAFETY: main is the main server; one thread runs here yet.
    let pool = unsafe { hd::daemon_pool(main) };
    let t0 = Instant::now();
    // SAFETY: pool lives for the daemon's life; main is the main server. Runs
    // every module's child_init, this module's included (which starts Python).
    unsafe { hd::run_child_init(pool, main) };
    if !crate::interp::ready() {
        log::serror(
            s,
            log::APLOG_CRIT,
            &format!("mod_pyrite: daemon group {:?}: Python did not start; see above", spec.name),
        );
        crate::metrics::groups::exiting("could not start Python");
        std::thread::sleep(Duration::from_secs(5));
        // SAFETY: as above.
        unsafe { libc::_exit(1) };
    }
    let state = Arc::new(State::new(spec.threads));
    let mut workers = Vec::new();
    for i in 0..spec.threads {
        let st = state.clone();
        let fd = g.fd;
        // SAFETY: main is the main server; pools are made by this thread only.
        let tpool = unsafe { hd::daemon_pool(main) } as usize;
        let sp = main as usize;
        let mut b = std::thread::Builder::new().name(format!("pyrite-daemon-{i}"));
        if let Some(sz) = spec.stack_size {
            b = b.stack_size(sz);
        }
        // SAFETY: each thread gets its own pool; main is the main server, alive for the daemon's life.
        match b.spawn(move || unsafe { serve::worker(i, st, fd, tpool as *mut raw::apr_pool_t, sp as *mut raw::server_rec) }) {
            Ok(h) => workers.push(h),
            Err(e) => log::serror(s, log::APLOG_ERR, &format!("mod_pyrite: daemon cannot start a thread: {e}")),
        }
    }
    log::serror(
        s,
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
        let sp = s as usize;
        let _ = std::thread::Builder::new()
            .name("pyrite-monitor".into())
            .spawn(move || serve::monitor(st, &spec, sp));
    }
    // The main thread waits for a signal (from httpd's parent, or one the daemon sends itself).
    let set = handled_signals();
    let mut sig: libc::c_int = 0;
    // SAFETY: waits on the blocked set built above.
    while unsafe { libc::sigwait(&set, &mut sig) } != 0 {}
    let timeout = match sig {
        libc::SIGUSR1 => spec.eviction_timeout.unwrap_or(spec.graceful_timeout),
        _ => spec.graceful_timeout,
    };
    let why = state.reason().unwrap_or_else(|| format!("signal {sig}"));
    state.stopping.store(true, Ordering::SeqCst);
    crate::metrics::groups::stopping(&why);
    log::serror(
        s,
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
        log::serror(
            s,
            log::APLOG_WARNING,
            &format!(
                "mod_pyrite: daemon {} of group {:?}: {left} request(s) still running after graceful-timeout ({}s) are cut",
                std::process::id(),
                spec.name,
                timeout.as_secs()
            ),
        );
    }
    exit_after_atexit(&spec, s, &why)
}

/// Runs the applications' `atexit` functions, as mod_wsgi does when a daemon
/// ends (WSGIDestroyInterpreter On), then leaves; functions that take longer
/// than shutdown-timeout are cut.
fn exit_after_atexit(spec: &super::options::GroupSpec, s: *mut raw::server_rec, why: &str) -> ! {
    let limit = spec.shutdown_timeout;
    let (name, sp, reason) = (spec.name.clone(), s as usize, why.to_string());
    let _ = std::thread::Builder::new().name("pyrite-shutdown".into()).spawn(move || {
        std::thread::sleep(limit);
        log::serror(
            sp as *mut raw::server_rec,
            log::APLOG_WARNING,
            &format!(
                "mod_pyrite: daemon {} of group {name:?}: atexit functions still running after shutdown-timeout ({}s); exiting",
                std::process::id(),
                limit.as_secs()
            ),
        );
        crate::metrics::groups::exiting(&reason);
        // SAFETY: leaves at once (see below).
        unsafe { libc::_exit(0) };
    });
    crate::interpreters::atexit::run_exit_functions();
    crate::metrics::groups::exiting(why);
    // SAFETY: leaves at once: Python's other threads may be anywhere, and
    // httpd's exit handlers belong to the parent.
    unsafe { libc::_exit(0) }
}
