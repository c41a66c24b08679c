//! A daemon process's life as the operating system and httpd's parent see
//! it: forking it and hearing of its end (from the parent's maintenance
//! loop), and the set-up a new daemon does while it is still single-threaded
//! (identity, limits, locale, name, signals, standard error), as safe
//! functions. What needs the process to be single-threaded takes the
//! [`Newborn`] proof, which only [`fork_daemon`] makes.
use super::daemon as hd;
use super::pool::Pool;
use super::server::Server;
use std::ffi::{c_int, c_void, CStr, CString};
use std::marker::PhantomData;

/// Proof that this is a daemon just forked by [`fork_daemon`] that has not
/// started a thread yet: its set-up may change process-wide state. Not
/// `Send`; given up to [`run_child_init`] (the modules' child_init may start threads).
pub struct Newborn(PhantomData<*mut ()>);

/// The pid of httpd's parent that forked this daemon (0 in other processes).
static HTTPD_PARENT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// The pid of httpd's parent that forked this daemon; when the daemon's
/// parent is another, httpd's parent is gone.
pub fn httpd_parent() -> i32 {
    HTTPD_PARENT.load(std::sync::atomic::Ordering::Relaxed)
}

/// Forks a daemon: the child runs `life`, which never returns into httpd's
/// code; the parent gets the child's pid.
pub fn fork_daemon(life: impl FnOnce(Newborn) -> std::convert::Infallible) -> std::io::Result<i32> {
    let parent = std::process::id() as i32;
    // SAFETY: called in httpd's parent (its hooks and maintenance loop),
    // which runs no Python; the child copies the parent, runs `life` on
    // this single thread and leaves with _exit, never back into httpd's code.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        HTTPD_PARENT.store(parent, std::sync::atomic::Ordering::Relaxed);
        // httpd's parent forks from its main thread, which lives as long as
        // it does: when it ends, the kernel tells this daemon at once
        // (SIGTERM, a graceful stop), even if its own watch was never started.
        // SAFETY: prctl with plain values.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong, 0, 0, 0) };
        if super::os::parent_pid() != parent {
            // The parent ended before the request above took effect.
            exit_now(1);
        }
        // A panic must not unwind back into httpd's code in the child.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| life(Newborn(PhantomData))));
        exit_now(1);
    }
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(pid)
}

/// Sends SIGTERM to a daemon this parent forked.
pub fn terminate(pid: i32) {
    // SAFETY: kill takes plain values.
    unsafe { libc::kill(pid, libc::SIGTERM) };
}

/// Leaves the process at once, without the exit handlers (the parent's, or
/// Python's while its other threads may be anywhere).
pub fn exit_now(code: c_int) -> ! {
    // SAFETY: _exit takes a plain value and does not return.
    unsafe { libc::_exit(code) }
}

/// How a watched process ended, as APR reports it to the parent.
pub enum Ended {
    /// It died (APR's status: an exit code or a signal).
    Died(c_int),
    /// APR lost track of it (status as APR gives it).
    Lost(c_int),
}

struct Watch<T> {
    data: T,
    ended: fn(T, Ended),
}

/// Asks httpd's parent to call `ended` with `data` when `pid` ends (from its
/// maintenance loop; the registration lives in `s`'s process pool, so it
/// outlives restarts).
pub fn watch<T: 'static>(pid: i32, s: &Server, data: T, ended: fn(T, Ended)) {
    let w = Box::into_raw(Box::new(Watch { data, ended }));
    // SAFETY: a live server; w stays allocated until maintenance::<T>
    // unwatches it and takes it back, once.
    unsafe { hd::watch(pid, s.as_ptr(), maintenance::<T>, w as *mut c_void) };
}

/// APR's report about a watched process.
unsafe extern "C" fn maintenance<T: 'static>(reason: c_int, data: *mut c_void, status: c_int) {
    super::guard::or((), || {
        let ended = match reason {
            hd::OC_DEATH => Ended::Died(status),
            hd::OC_LOST => Ended::Lost(status),
            _ => return,
        };
        // SAFETY: data is the Watch<T> given to hd::watch by `watch`;
        // unwatched here, so taken back once.
        let w = unsafe {
            hd::unwatch(data);
            Box::from_raw(data as *mut Watch<T>)
        };
        (w.ended)(w.data, ended)
    })
}

/// Runs a reentrant lookup (getpwnam_r ...) with a buffer that grows while
/// the entry does not fit (ERANGE), up to 16 MB.
fn with_buffer<T>(mut lookup: impl FnMut(&mut [libc::c_char]) -> Result<Option<T>, c_int>) -> Option<T> {
    let mut size = 16 * 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; size];
        match lookup(&mut buf) {
            Err(libc::ERANGE) if size < 16 << 20 => size *= 4,
            Ok(found) => return found,
            Err(_) => return None,
        }
    }
}

/// A user's passwd entry: (uid, name, home directory).
fn passwd(by: Result<&CStr, u32>) -> Option<(u32, String, String)> {
    with_buffer(|buf| {
        // SAFETY: all-zero is a valid passwd, which the reentrant calls fill,
        // pointing into buf; the strings are copied before buf goes.
        unsafe {
            let mut pw: libc::passwd = std::mem::zeroed();
            let mut found: *mut libc::passwd = std::ptr::null_mut();
            let rc = match by {
                Ok(name) => libc::getpwnam_r(name.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut found),
                Err(uid) => libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found),
            };
            if rc != 0 {
                return Err(rc);
            }
            Ok((!found.is_null()).then(|| {
                (
                    pw.pw_uid,
                    CStr::from_ptr(pw.pw_name).to_string_lossy().into_owned(),
                    CStr::from_ptr(pw.pw_dir).to_string_lossy().into_owned(),
                )
            }))
        }
    })
}

/// The uid of the user called `name`.
pub fn uid_of(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    passwd(Ok(&c)).map(|(uid, _, _)| uid)
}

/// The name and home directory of a uid.
pub fn user_entry(uid: u32) -> Option<(String, String)> {
    passwd(Err(uid)).map(|(_, name, home)| (name, home))
}

/// The gid of the group called `name`.
pub fn gid_of(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    with_buffer(|buf| {
        // SAFETY: all-zero is a valid group, which getgrnam_r fills, pointing into buf.
        unsafe {
            let mut gr: libc::group = std::mem::zeroed();
            let mut found: *mut libc::group = std::ptr::null_mut();
            let rc = libc::getgrnam_r(c.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut found);
            if rc != 0 {
                return Err(rc);
            }
            Ok((!found.is_null()).then_some(gr.gr_gid))
        }
    })
}

fn check(rc: c_int) -> std::io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// setgid(2), in a daemon's set-up.
pub fn set_gid(_: &Newborn, gid: u32) -> std::io::Result<()> {
    // SAFETY: plain values; the process is single-threaded (Newborn).
    check(unsafe { libc::setgid(gid) })
}

/// setgroups(2), in a daemon's set-up.
pub fn set_groups(_: &Newborn, ids: &[u32]) -> std::io::Result<()> {
    // SAFETY: ids.len() ids are read from the slice; single-threaded (Newborn).
    check(unsafe { libc::setgroups(ids.len(), ids.as_ptr()) })
}

/// initgroups(3): `user`'s supplementary groups plus `gid`, in a daemon's set-up.
pub fn init_groups(_: &Newborn, user: &str, gid: u32) -> std::io::Result<()> {
    let c = CString::new(user).unwrap_or_default();
    // SAFETY: a NUL-terminated name; single-threaded (Newborn).
    check(unsafe { libc::initgroups(c.as_ptr(), gid) })
}

/// setuid(2), in a daemon's set-up.
pub fn set_uid(_: &Newborn, uid: u32) -> std::io::Result<()> {
    // SAFETY: a plain value; single-threaded (Newborn).
    check(unsafe { libc::setuid(uid) })
}

/// Sets the soft limit of `resource` (RLIMIT_*) to `v`, raising the hard
/// limit to it when that is lower (as far as the process may).
pub fn set_limit(_: &Newborn, resource: libc::__rlimit_resource_t, v: u64) {
    // SAFETY: getrlimit fills a valid (all-zero) rlimit; setrlimit reads one.
    unsafe {
        let mut cur: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(resource, &mut cur);
        let l = libc::rlimit {
            rlim_cur: v,
            rlim_max: cur.rlim_max.max(v),
        };
        libc::setrlimit(resource, &l);
    }
}

/// The process's scheduling priority (nice value).
pub fn set_priority(_: &Newborn, p: c_int) {
    // SAFETY: plain values.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, p) };
}

/// The process's file mode creation mask.
pub fn set_umask(_: &Newborn, m: u32) {
    // SAFETY: a plain value.
    unsafe { libc::umask(m as libc::mode_t) };
}

/// setlocale(LC_ALL, name), in a daemon's set-up.
pub fn set_locale(_: &Newborn, name: &CStr) {
    // SAFETY: a NUL-terminated name; no other thread reads the locale (Newborn).
    unsafe { libc::setlocale(libc::LC_ALL, name.as_ptr()) };
}

/// The process name ps and top show (the kernel keeps 15 bytes).
pub fn set_name(_: &Newborn, name: &CStr) {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
}

/// A set of signals.
pub struct Signals(libc::sigset_t);

impl Signals {
    pub fn of(signals: &[c_int]) -> Signals {
        // SAFETY: sigemptyset initialises the set before sigaddset adds to it.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &s in signals {
                libc::sigaddset(&mut set, s);
            }
            Signals(set)
        }
    }

    /// Blocks the set in this thread (threads started later inherit the
    /// mask), and ignores SIGPIPE: the daemon takes these with [`Signals::wait`].
    pub fn block_ignoring_sigpipe(&self, _: &Newborn) {
        // SAFETY: signal dispositions and the mask of a single-threaded process (Newborn).
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            libc::pthread_sigmask(libc::SIG_BLOCK, &self.0, std::ptr::null_mut());
        }
    }

    /// Waits for one of the (blocked) signals of the set; its number.
    pub fn wait(&self) -> c_int {
        let mut sig: c_int = 0;
        // SAFETY: a valid set and an int sigwait writes.
        while unsafe { libc::sigwait(&self.0, &mut sig) } != 0 {}
        sig
    }
}

/// Points standard error at `vs`'s ErrorLog when that virtual host has its
/// own (not `main`'s).
pub fn stderr_to_error_log(_: &Newborn, vs: &Server, main: &Server) {
    // SAFETY: servers of the running configuration, single-threaded (Newborn).
    unsafe { hd::stderr_to_error_log(vs.as_ptr(), main.as_ptr()) }
}

/// A pool for the daemon's life (a child of the process pool).
pub fn daemon_pool(_: &Newborn, main: &Server) -> &'static Pool {
    // SAFETY: a live server; one thread (Newborn). The pool is never
    // destroyed: it lives as long as the daemon.
    let p = unsafe { hd::daemon_pool(main.as_ptr()) };
    // SAFETY: just made, never destroyed.
    unsafe { Pool::from_raw(p) }.expect("apr_pool_create failed")
}

/// A pool for one worker thread's life (a child of the process pool), given
/// to that thread: not Copy and not Sync, so one thread at a time uses it.
pub struct ThreadPool(std::ptr::NonNull<Pool>);

// SAFETY: the handle is unique (made once per pool, never copied), so moving
// it moves the only way to reach the pool; Pool's own !Sync keeps the
// borrows it lends on the thread that holds it.
unsafe impl Send for ThreadPool {}

impl ThreadPool {
    /// The pool, for as long as this handle is held.
    pub fn get(&self) -> &Pool {
        // SAFETY: the pool is never destroyed (it lives as long as the daemon).
        unsafe { self.0.as_ref() }
    }
}

/// A pool for one of the daemon's worker threads, made before any thread starts.
pub fn thread_pool(_: &Newborn, main: &Server) -> ThreadPool {
    // SAFETY: a live server; one thread (Newborn). The pool is never destroyed.
    let p = unsafe { hd::daemon_pool(main.as_ptr()) };
    ThreadPool(std::ptr::NonNull::new(p as *mut Pool).expect("apr_pool_create failed"))
}

/// Runs every module's child_init in a new daemon, as httpd does in a new
/// child; the set-up ends here.
pub fn run_child_init(_: Newborn, pool: &'static Pool, main: &Server) {
    // SAFETY: a pool for the daemon's life and the main server, before any thread (Newborn).
    unsafe { hd::run_child_init(pool.as_ptr(), main.as_ptr()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_groups_are_looked_up_reentrantly() {
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(gid_of("root"), Some(0));
        assert_eq!(user_entry(0).map(|(name, _)| name), Some("root".to_string()));
        assert_eq!(uid_of("no-such-user-here"), None);
        assert_eq!(gid_of("no-such-group-here"), None);
    }
}
