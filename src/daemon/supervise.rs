//! httpd's parent forks each group's daemons (before Python exists in it),
//! watches them from its maintenance loop and replaces one that dies. A
//! graceful restart starts the new generation's daemons on the same
//! sockets and asks the old ones to finish what they took and leave.
use super::directives::{self, Declared};
use super::listener;
use crate::ffi::pool::Pool;
use crate::ffi::process::{self as os, Ended};
use crate::ffi::server::{KeptServer, Server};
use crate::ffi::{daemon as hd, log, raw};
use crate::metrics::groups as metrics;
use crate::sync::LockExt;
use std::ffi::c_int;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A group of the running configuration, with its socket.
pub struct Running {
    pub decl: Arc<Declared>,
    pub path: String,
    pub fd: i32,
}

/// The configuration generation (one per start or restart of httpd).
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// The main server of the running generation (its configuration lives until the next restart).
static SERVER: Mutex<Option<KeptServer>> = Mutex::new(None);
/// The groups of the running generation.
static RUNNING: Mutex<Vec<Arc<Running>>> = Mutex::new(Vec::new());
/// Live daemons: (generation, pid).
static PIDS: Mutex<Vec<(u64, i32)>> = Mutex::new(Vec::new());
/// The pid of httpd's parent (cleanups that also run in its children check it).
static PARENT: AtomicUsize = AtomicUsize::new(0);

/// The socket path of a running group (what children connect to).
pub fn socket_of(name: &str) -> Option<Arc<Running>> {
    RUNNING.locked().iter().find(|g| g.decl.spec.name == name).cloned()
}

/// What a watched daemon is, for its maintenance call.
struct Watched {
    generation: u64,
    group: String,
    slot: usize,
    pid: i32,
}

/// Called from post_config on the real pass, in httpd's parent: opens the
/// sockets and forks the daemons of this generation. Err stops httpd.
/// (`pconf` the configuration pool and `s` the main server of this generation.)
pub fn start(pconf: &Pool, s: &Server) -> Result<(), String> {
    PARENT.store(std::process::id() as usize, Ordering::Relaxed);
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
    *SERVER.locked() = Some(KeptServer::of(s));
    let groups = directives::groups();
    let prefix = directives::socket_prefix().unwrap_or_else(|| {
        crate::ffi::runtime::path_in(s.process_pool(), "wsgi")
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let root = crate::ffi::os::euid() == 0;
    let mut running = Vec::new();
    for g in &groups {
        let spec = &g.spec;
        let owner = if root {
            match &spec.socket_user {
                Some(u) => Some(
                    super::process::user_id(u)
                        .ok_or_else(|| format!("WSGIDaemonProcess {} ({}): socket-user={u}: no such user", spec.name, g.origin))?,
                ),
                None => Some(hd::httpd_ids().0),
            }
        } else {
            None
        };
        if let Some(home) = &spec.python_home {
            check_python_home(home).map_err(|e| format!("WSGIDaemonProcess {} ({}): python-home={home}: {e}", spec.name, g.origin))?;
        }
        let path = listener::path_for(&prefix, &spec.name);
        let params = listener::Params {
            backlog: spec.listen_backlog,
            owner,
            send_buffer: spec.send_buffer_size,
            receive_buffer: spec.receive_buffer_size,
        };
        let fd = listener::open(&path, &params).map_err(|e| format!("WSGIDaemonProcess {} ({}): {e}", spec.name, g.origin))?;
        running.push(Arc::new(Running { decl: g.clone(), path, fd }));
    }
    listener::retain_only(&running.iter().map(|r| r.path.clone()).collect::<Vec<_>>());
    let shown: Vec<metrics::Declared<'_>> = running
        .iter()
        .map(|r| metrics::Declared {
            name: &r.decl.spec.name,
            processes: r.decl.spec.processes,
            threads: r.decl.spec.threads,
            backlog: r.decl.spec.listen_backlog,
            socket_inode: listener::inode(r.fd),
        })
        .collect();
    metrics::create(pconf, s, &shown);
    *RUNNING.locked() = running.clone();
    // The cleanups run when this generation's configuration pool is cleared.
    pconf.on_cleanup(move || retire(generation));
    if running.is_empty() {
        return Ok(());
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The process pool lives until httpd's parent exits.
        s.process_pool().on_cleanup(|| {
            if PARENT.load(Ordering::Relaxed) == std::process::id() as usize {
                listener::unlink_all();
            }
        });
    });
    if !hd::scoreboard_exists() {
        // A first start (or a full restart): httpd makes its scoreboard in
        // pre_mpm, which daemons inherit; they are forked there (pre_mpm below).
        DEFERRED.store(generation, Ordering::Relaxed);
    } else {
        spawn_all(generation, &running, KeptServer::of(s));
    }
    if directives::restrict_embedded() {
        let line = if crate::config::wsgi::DISPATCH_SCRIPTS.load(Ordering::Relaxed) {
            "mod_pyrite: WSGIRestrictEmbedded On: httpd's children run no application; they start Python only for WSGIDispatchScript"
        } else {
            "mod_pyrite: WSGIRestrictEmbedded On: httpd's children run no application and start no Python"
        };
        s.log(log::APLOG_NOTICE, line);
    }
    Ok(())
}

/// A generation whose daemons wait for pre_mpm (0: none).
static DEFERRED: AtomicU64 = AtomicU64::new(0);

/// pre_mpm: forks the daemons whose start waited for the scoreboard.
///
/// (src/module.rs registers it, in httpd's parent.)
pub struct Hooks;

impl crate::ffi::hooks::ConfigHooks for Hooks {
    fn pre_mpm() -> c_int {
        let generation = DEFERRED.swap(0, Ordering::Relaxed);
        if generation != 0 && generation == GENERATION.load(Ordering::Relaxed) {
            let running = RUNNING.locked().clone();
            if let Some(s) = *SERVER.locked() {
                spawn_all(generation, &running, s);
            }
        }
        raw::OK as c_int
    }
}

fn spawn_all(generation: u64, running: &[Arc<Running>], s: KeptServer) {
    for g in running {
        let spec = &g.decl.spec;
        s.get().log(
            log::APLOG_NOTICE,
            &format!(
                "mod_pyrite: daemon process group {:?} ({}): {} process(es) x {} thread(s), socket {}",
                spec.name, g.decl.origin, spec.processes, spec.threads, g.path
            ),
        );
        for (opt, why) in &spec.not_honoured {
            s.get().log(
                log::APLOG_WARNING,
                &format!(
                    "mod_pyrite: WSGIDaemonProcess {} ({}): {opt} is accepted but not acted on: {why}",
                    spec.name, g.decl.origin
                ),
            );
        }
        for slot in 0..spec.processes {
            spawn(generation, g, slot, s);
        }
    }
}

/// A python-home must be an environment of the Python this module was built
/// against (a virtualenv made with it, or its installation).
fn check_python_home(home: &str) -> Result<(), String> {
    let p = std::path::Path::new(home);
    if !p.is_dir() {
        return Err("not a directory".into());
    }
    let version = crate::PYTHON_VERSION;
    let major_minor = version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
    let lib = p.join(format!("lib/python{major_minor}"));
    if !lib.is_dir() {
        return Err(format!(
            "not a Python {major_minor} environment (no {}): mod_pyrite runs Python {version}; make the virtualenv with python{major_minor}",
            lib.display()
        ));
    }
    Ok(())
}

/// Forks one daemon of `g` into `slot`.
fn spawn(generation: u64, g: &Arc<Running>, slot: usize, s: KeptServer) {
    metrics::prepare(&g.decl.spec.name, slot);
    // The child goes straight to the daemon's life and never returns here;
    // s is the main server of the running generation, inherited by the fork.
    let pid = match os::fork_daemon(|nb| super::process::run(nb, g.clone(), slot, s)) {
        Ok(pid) => pid,
        Err(e) => {
            s.get().log(
                log::APLOG_ERR,
                &format!("mod_pyrite: cannot fork a daemon for group {:?}: {e}", g.decl.spec.name),
            );
            return;
        }
    };
    PIDS.locked().push((generation, pid));
    metrics::forked(&g.decl.spec.name, slot, pid);
    let w = Watched {
        generation,
        group: g.decl.spec.name.clone(),
        slot,
        pid,
    };
    os::watch(pid, s.get(), w, ended);
}

/// APR's report about a watched daemon (in the parent's maintenance loop).
fn ended(w: Watched, how: Ended) {
    let status = match how {
        Ended::Died(n) | Ended::Lost(n) => n,
    };
    PIDS.locked().retain(|(_, p)| *p != w.pid);
    let current = GENERATION.load(Ordering::Relaxed);
    // httpd passes a number that is an exit code or a signal: a daemon
    // that leaves by itself says so (and why) in its metrics slot first.
    let own = if w.generation == current {
        metrics::exit_reason(&w.group, w.slot)
    } else {
        None
    };
    let killed = own.is_none() && status > 0 && w.generation == current;
    let how = match (&own, status) {
        (Some(why), _) => format!("exited ({why})"),
        (None, _) if killed => format!("was killed by signal {status}"),
        (None, 0) => "exited".to_string(),
        (None, n) if n > 0 => format!("ended (exit status or signal {n})"),
        (None, _) => "was lost".to_string(),
    };
    let s = *SERVER.locked();
    let stopping = crate::ffi::mpm::query(raw::AP_MPMQ_MPM_STATE) == raw::AP_MPMQ_STOPPING as i32;
    let g = RUNNING.locked().iter().find(|g| g.decl.spec.name == w.group).cloned();
    match (g, s) {
        (Some(g), Some(s)) if w.generation == current && !stopping => {
            let level = if own.is_some() { log::APLOG_INFO } else { log::APLOG_WARNING };
            s.get().log(
                level,
                &format!(
                    "mod_pyrite: daemon {} of group {:?} {how}; starting its replacement",
                    w.pid, w.group
                ),
            );
            metrics::replaced(&w.group, w.slot, &how, killed);
            spawn(current, &g, w.slot, s);
        }
        _ => log::main_error(
            log::APLOG_INFO,
            &format!("mod_pyrite: daemon {} of group {:?} {how}", w.pid, w.group),
        ),
    }
}

/// A generation ends (httpd restarts or stops): its daemons finish the
/// requests they took, within graceful-timeout, and leave. The sockets stay
/// with the parent, so what waits in their queues goes to the next generation.
fn retire(generation: u64) {
    if PARENT.load(Ordering::Relaxed) != std::process::id() as usize {
        return; // a cleanup run in a child on its exit
    }
    for (g, pid) in PIDS.locked().iter() {
        if *g == generation {
            // A daemon this parent forked and has not reaped yet.
            os::terminate(*pid);
        }
    }
}
