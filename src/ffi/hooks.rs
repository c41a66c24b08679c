//! The module's hooks: registering C entry points with httpd (from its
//! register_hooks, the one time httpd takes them), and the entry points of
//! hooks written as safe Rust functions. As for filters and the SSI element,
//! a hook is a trait implemented by the code above the bindings; the generic
//! `extern "C"` function here turns httpd's raw records into handles once
//! and keeps a panic from crossing into C.
use super::connection::Connection;
use super::guard;
use super::pool::Pool;
use super::raw;
use super::request::Request;
use super::server::Server;
use std::ffi::{c_char, c_int, CStr};

const OK: c_int = raw::OK as c_int;
const DECLINED: c_int = raw::DECLINED;

/// Where a hook runs among the other modules' (httpd's APR_HOOK_*).
#[derive(Clone, Copy)]
pub enum Order {
    ReallyFirst,
    Middle,
    ReallyLast,
}

impl Order {
    fn value(self) -> c_int {
        match self {
            Order::ReallyFirst => raw::APR_HOOK_REALLY_FIRST,
            Order::Middle => raw::APR_HOOK_MIDDLE as c_int,
            Order::ReallyLast => raw::APR_HOOK_REALLY_LAST as c_int,
        }
    }
}

/// A NULL-terminated list of module names ("mod_alias.c"), for a hook that
/// runs after (or before) those modules'. httpd keeps the pointer, so the
/// lists are statics.
#[repr(C)]
pub struct Names<const N: usize> {
    names: [*const c_char; N],
    end: *const c_char,
}

// SAFETY: pointers to 'static C strings (and the NULL end), never written.
unsafe impl<const N: usize> Sync for Names<N> {}

impl<const N: usize> Names<N> {
    pub const fn new(names: [&'static CStr; N]) -> Self {
        let mut out = [std::ptr::null(); N];
        let mut i = 0;
        while i < N {
            out[i] = names[i].as_ptr();
            i += 1;
        }
        Names {
            names: out,
            end: std::ptr::null(),
        }
    }

    fn as_ptr(&'static self) -> *const *const c_char {
        // repr(C): the N names, then the NULL, with no padding (one type).
        self as *const Self as *const *const c_char
    }
}

fn names<const N: usize>(n: Option<&'static Names<N>>) -> *const *const c_char {
    n.map_or(std::ptr::null(), Names::as_ptr)
}

/// A request hook's C entry point, for hooks that take the raw record
/// themselves (an `unsafe extern "C" fn` whose contract is httpd's: a live
/// request, on the thread serving it).
pub type RequestFn = unsafe extern "C" fn(*mut raw::request_rec) -> c_int;

/// The phases of a request a hook can be registered for.
#[derive(Clone, Copy)]
pub enum Phase {
    PostReadRequest,
    TranslateName,
    HeaderParser,
    AccessChecker,
    CheckUserId,
    AuthChecker,
    TypeChecker,
    Fixups,
    Handler,
    LogTransaction,
}

/// A request hook written in safe Rust (the status page's handler...).
pub trait RequestHook {
    /// What httpd gets when `run` panics.
    const ON_PANIC: c_int = raw::HTTP_INTERNAL_SERVER_ERROR as c_int;
    fn run(r: &Request) -> c_int;
}

/// httpd's call of a [`RequestHook`].
///
/// # Safety
/// Called by httpd as a request hook.
unsafe extern "C" fn request_entry<H: RequestHook>(r: *mut raw::request_rec) -> c_int {
    // SAFETY: httpd's live request for the span of this hook, on this thread.
    let Some(r) = (unsafe { Request::from_raw(r) }) else {
        return DECLINED;
    };
    guard::or(H::ON_PANIC, || H::run(r))
}

/// A process_connection hook written in safe Rust: a panic declines.
pub trait ConnectionHook {
    fn run(c: &Connection) -> c_int;
}

/// httpd's call of a [`ConnectionHook`].
///
/// # Safety
/// Called by httpd as a process_connection hook.
unsafe extern "C" fn connection_entry<H: ConnectionHook>(c: *mut raw::conn_rec) -> c_int {
    // SAFETY: httpd's live connection, served by this thread for the whole hook.
    let Some(c) = (unsafe { Connection::from_raw(c) }) else {
        return DECLINED;
    };
    guard::or(DECLINED, || H::run(c))
}

/// The configuration hooks a module can have, in safe Rust: each has a
/// default that does nothing. A panic answers OK (httpd goes on).
pub trait ConfigHooks {
    /// pre_config: httpd starts reading its configuration (again).
    fn pre_config() {}
    /// post_config: the configuration pool and the main server.
    fn post_config(_at: &PostConfig<'_>) -> c_int {
        OK
    }
    /// child_init: a new child's pool (it lives as long as the child, as
    /// `Pool::child()` does) and the main server.
    fn child_init(_pchild: &'static Pool, _s: &Server) {}
    /// pre_mpm: in httpd's parent, after the scoreboard exists.
    fn pre_mpm() -> c_int {
        OK
    }
}

unsafe extern "C" fn pre_config_entry<H: ConfigHooks>(
    _pconf: *mut raw::apr_pool_t,
    _plog: *mut raw::apr_pool_t,
    _ptemp: *mut raw::apr_pool_t,
) -> c_int {
    guard::or(OK, || {
        H::pre_config();
        OK
    })
}

unsafe extern "C" fn post_config_entry<H: ConfigHooks>(
    pconf: *mut raw::apr_pool_t,
    _plog: *mut raw::apr_pool_t,
    _ptemp: *mut raw::apr_pool_t,
    s: *mut raw::server_rec,
) -> c_int {
    guard::or(OK, || {
        // SAFETY: httpd's configuration pool and main server, live for the whole configuration.
        match unsafe { (Pool::from_raw(pconf), Server::from_raw(s)) } {
            (Some(pool), Some(server)) => H::post_config(&PostConfig { pool, server }),
            _ => OK,
        }
    })
}

unsafe extern "C" fn child_init_entry<H: ConfigHooks>(pchild: *mut raw::apr_pool_t, s: *mut raw::server_rec) {
    guard::or((), || {
        // SAFETY: child_init's own pool, which lives until the child exits
        // (lent as 'static, as Pool::child() lends it), and the main server
        // of the configuration the child runs, on the child's only thread.
        if let (Some(p), Some(s)) = unsafe { (Pool::from_raw(pchild), Server::from_raw(s)) } {
            H::child_init(p, s)
        }
    })
}

unsafe extern "C" fn pre_mpm_entry<H: ConfigHooks>(_p: *mut raw::apr_pool_t, _sb: raw::ap_scoreboard_e) -> c_int {
    guard::or(OK, H::pre_mpm)
}

/// A post_config call (made only by its entry point here): proof that every
/// module has registered its hooks and read its configuration.
pub struct PostConfig<'a> {
    pool: &'a Pool,
    server: &'a Server,
}

impl<'a> PostConfig<'a> {
    /// The configuration pool.
    pub fn pool(&self) -> &'a Pool {
        self.pool
    }

    /// The main server.
    pub fn server(&self) -> &'a Server {
        self.server
    }
}

/// Which of [`ConfigHooks`] to register.
#[derive(Clone, Copy)]
pub enum Config {
    PreConfig,
    PostConfig,
    ChildInit,
    PreMpm,
}

/// The module's register_hooks, in safe Rust.
pub trait Module {
    fn register_hooks(reg: &Registering<'_>);
}

/// The module record's register_hooks: httpd calls it once per load of the
/// library, single-threaded, before reading the configuration.
///
/// # Safety
/// Called by httpd as a module's register_hooks.
pub unsafe extern "C" fn register_hooks<M: Module>(p: *mut raw::apr_pool_t) {
    guard::or((), || {
        guard::quiet_panics();
        // SAFETY: the pool httpd hands register_hooks, live for the call.
        let Some(pool) = (unsafe { Pool::from_raw(p) }) else {
            return;
        };
        M::register_hooks(&Registering { pool })
    })
}

/// Proof that httpd is running this module's register_hooks (made only by
/// [`register_hooks`]): the time hooks may be registered.
pub struct Registering<'a> {
    pool: &'a Pool,
}

impl Registering<'_> {
    /// The pool httpd handed register_hooks.
    pub fn pool(&self) -> &Pool {
        self.pool
    }

    /// Registers a request hook that takes the raw record itself.
    pub fn request(&self, phase: Phase, f: RequestFn, order: Order) {
        self.request_between::<0, 0>(phase, f, None, None, order)
    }

    /// As [`Registering::request`], ordered after the modules of `pre` and
    /// before those of `succ`.
    pub fn request_between<const P: usize, const S: usize>(
        &self,
        phase: Phase,
        f: RequestFn,
        pre: Option<&'static Names<P>>,
        succ: Option<&'static Names<S>>,
        order: Order,
    ) {
        let (pre, succ, order) = (names(pre), names(succ), order.value());
        let f = Some(f);
        // SAFETY: register_hooks' time (this Registering's proof); f has the
        // hook's signature and lives as long as the library; the name lists
        // are NULL or NULL-terminated statics.
        unsafe {
            match phase {
                Phase::PostReadRequest => raw::ap_hook_post_read_request(f, pre, succ, order),
                Phase::TranslateName => raw::ap_hook_translate_name(f, pre, succ, order),
                Phase::HeaderParser => raw::ap_hook_header_parser(f, pre, succ, order),
                Phase::AccessChecker => raw::ap_hook_access_checker(f, pre, succ, order),
                Phase::CheckUserId => raw::ap_hook_check_user_id(f, pre, succ, order),
                Phase::AuthChecker => raw::ap_hook_auth_checker(f, pre, succ, order),
                Phase::TypeChecker => raw::ap_hook_type_checker(f, pre, succ, order),
                Phase::Fixups => raw::ap_hook_fixups(f, pre, succ, order),
                Phase::Handler => raw::ap_hook_handler(f, pre, succ, order),
                Phase::LogTransaction => raw::ap_hook_log_transaction(f, pre, succ, order),
            }
        }
    }

    /// Registers a [`RequestHook`] for `phase`.
    pub fn request_hook<H: RequestHook>(&self, phase: Phase, order: Order) {
        self.request(phase, request_entry::<H>, order)
    }

    /// Registers a [`ConnectionHook`] as a process_connection hook.
    pub fn process_connection<H: ConnectionHook>(&self, order: Order) {
        let n = std::ptr::null();
        // SAFETY: register_hooks' time; the entry has the hook's signature.
        unsafe { raw::ap_hook_process_connection(Some(connection_entry::<H>), n, n, order.value()) }
    }

    /// Registers one of `H`'s configuration hooks.
    pub fn config<H: ConfigHooks>(&self, which: Config, order: Order) {
        let (n, order) = (std::ptr::null(), order.value());
        // SAFETY: register_hooks' time; each entry has its hook's signature.
        unsafe {
            match which {
                Config::PreConfig => raw::ap_hook_pre_config(Some(pre_config_entry::<H>), n, n, order),
                Config::PostConfig => raw::ap_hook_post_config(Some(post_config_entry::<H>), n, n, order),
                Config::ChildInit => raw::ap_hook_child_init(Some(child_init_entry::<H>), n, n, order),
                Config::PreMpm => raw::ap_hook_pre_mpm(Some(pre_mpm_entry::<H>), n, n, order),
            }
        }
    }
}

// Request hooks whose C entry point is a named function (module.rs
// registers handlers.rs's and wsgi's by name, `Registering::request`).

/// Defines `$vis unsafe extern "C" fn $name(r: *mut request_rec) -> c_int`
/// that calls `$body` (a `FnOnce(&Request) -> c_int`) with the request's
/// handle, or answers `$null` when httpd passes NULL.
///
/// ```ignore
/// request_hook!(
///     /// The content handler for `wsgi-script`.
///     pub handler, DECLINED, |r| serve(r)
/// );
/// ```
macro_rules! request_hook {
    ($(#[$doc:meta])* $vis:vis $name:ident, $null:expr, $body:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Called by httpd with a live request.
        $vis unsafe extern "C" fn $name(r: *mut $crate::ffi::raw::request_rec) -> ::std::ffi::c_int {
            // SAFETY: httpd calls a request hook with a live request (or NULL),
            // served by this thread for the span of the call.
            $crate::ffi::hooks::enter(unsafe { $crate::ffi::request::Request::from_raw(r) }, $null, $body)
        }
    };
}
pub(crate) use request_hook;

/// Calls `body` with the request (`$null` for NULL). `body` takes any
/// borrow's lifetime, so it cannot keep the handle past the call.
#[doc(hidden)]
#[inline(always)]
pub fn enter(r: Option<&Request>, null: c_int, body: impl FnOnce(&Request) -> c_int) -> c_int {
    match r {
        Some(r) => body(r),
        None => null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_list_ends_with_null() {
        static NAMES: Names<2> = Names::new([c"mod_a.c", c"mod_b.c"]);
        let p = NAMES.as_ptr();
        // SAFETY: the list holds two names and the NULL end.
        let (a, b, end) = unsafe { (CStr::from_ptr(*p), CStr::from_ptr(*p.add(1)), *p.add(2)) };
        assert_eq!((a, b), (c"mod_a.c", c"mod_b.c"));
        assert!(end.is_null());
        assert!(names::<0>(None).is_null());
    }
}
