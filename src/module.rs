//! The module record httpd loads (`LoadModule pyrite_module mod_pyrite.so`) and
//! the hooks it registers.
use crate::config::{DirConfig, ServerConfig};
use crate::ffi::pool::Pool;
use crate::ffi::server::Server;
use crate::ffi::{self, log, module_config, raw};
use std::ffi::{c_char, c_int};

pub use crate::{PYTHON_VERSION, VERSION};

/// The record httpd finds with dlsym. httpd writes `module_index` and links it
/// into its module list; nothing in Rust writes it after load.
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut pyrite_module: raw::module = raw::module {
    version: raw::MODULE_MAGIC_NUMBER_MAJOR as c_int,
    minor_version: raw::MODULE_MAGIC_NUMBER_MINOR as c_int,
    module_index: -1,
    name: c"mod_pyrite.c".as_ptr(),
    dynamic_load_handle: std::ptr::null_mut(),
    next: std::ptr::null_mut(),
    magic: raw::MODULE_MAGIC_COOKIE as std::ffi::c_ulong,
    rewrite_args: None,
    // The types here are the ones config implements PerDir/PerServer for.
    create_dir_config: Some(module_config::create_dir::<DirConfig>),
    merge_dir_config: Some(module_config::merge_dir::<DirConfig>),
    create_server_config: Some(module_config::create_server::<ServerConfig>),
    merge_server_config: Some(module_config::merge_server::<ServerConfig>),
    cmds: crate::directives::COMMANDS.as_ptr(),
    register_hooks: Some(register_hooks),
    flags: 0,
};

pub use crate::ffi::{module_index, module_ptr};

extern "C" fn register_hooks(_p: *mut raw::apr_pool_t) {
    ffi::set_module(&raw mut pyrite_module);
    // SAFETY (documented exception, see README's layout): registering this
    // module's C entry points with httpd; the bindings' types check each
    // function has the signature its hook expects, and they live as long as
    // the library. The name lists are NULL-terminated statics.
    crate::guard::or((), || unsafe {
        crate::guard::quiet_panics();
        let middle = raw::APR_HOOK_MIDDLE as c_int;
        raw::ap_hook_pre_config(
            Some(pre_config),
            std::ptr::null(),
            std::ptr::null(),
            raw::APR_HOOK_REALLY_FIRST as c_int,
        );
        raw::ap_hook_post_config(Some(post_config), std::ptr::null(), std::ptr::null(), middle);
        raw::ap_hook_post_config(Some(crate::ssi::post_config), std::ptr::null(), std::ptr::null(), middle);
        raw::ap_hook_child_init(Some(child_init), std::ptr::null(), std::ptr::null(), middle);
        // After httpd's own pre_mpm (the scoreboard), daemon groups start at a first start.
        raw::ap_hook_pre_mpm(
            Some(crate::daemon::supervise::pre_mpm),
            std::ptr::null(),
            std::ptr::null(),
            raw::APR_HOOK_REALLY_LAST as c_int,
        );
        raw::ap_hook_handler(Some(crate::handlers::content_handler), std::ptr::null(), std::ptr::null(), middle);
        raw::ap_hook_handler(Some(crate::wsgi::handler), std::ptr::null(), std::ptr::null(), middle);
        raw::ap_hook_handler(Some(crate::metrics::page::handler), std::ptr::null(), std::ptr::null(), middle);
        let n = std::ptr::null();
        raw::ap_hook_post_read_request(Some(crate::handlers::post_read_request), n, n, middle);
        // In a daemon, before any other module looks at the request: what the child knew of the client.
        raw::ap_hook_post_read_request(
            Some(crate::daemon::serve::post_read_request),
            n,
            n,
            raw::APR_HOOK_REALLY_FIRST as c_int,
        );
        raw::ap_hook_translate_name(Some(crate::handlers::translate_name), n, n, middle);
        raw::ap_hook_header_parser(Some(crate::handlers::header_parser), n, n, middle);
        raw::ap_hook_access_checker(Some(crate::handlers::access_checker), n, n, middle);
        raw::ap_hook_check_user_id(Some(crate::handlers::check_user_id), n, n, middle);
        raw::ap_hook_auth_checker(Some(crate::handlers::auth_checker), n, n, middle);
        raw::ap_hook_type_checker(Some(crate::handlers::type_checker), n, n, middle);
        raw::ap_hook_fixups(Some(crate::handlers::fixups), n, n, middle);
        raw::ap_hook_log_transaction(Some(crate::handlers::log_transaction), n, n, middle);
        raw::ap_hook_process_connection(Some(crate::conn_handler::process_connection), n, n, middle);
        crate::filters::register_hooks();
        crate::wsgi::auth::register_hooks(_p);
        // After mod_alias, before mod_userdir and mod_vhost_alias, as mod_wsgi.
        raw::ap_hook_translate_name(
            Some(crate::wsgi::translate_name),
            TRANSLATE_PRE.0.as_ptr(),
            TRANSLATE_SUCC.0.as_ptr(),
            middle,
        );
    })
}

/// NULL-terminated module name lists for hook ordering.
struct Names<const N: usize>([*const c_char; N]);
// SAFETY: pointers to static C string literals.
unsafe impl<const N: usize> Sync for Names<N> {}
static TRANSLATE_PRE: Names<2> = Names([c"mod_alias.c".as_ptr(), std::ptr::null()]);
static TRANSLATE_SUCC: Names<3> = Names([c"mod_userdir.c".as_ptr(), c"mod_vhost_alias.c".as_ptr(), std::ptr::null()]);

const FIRST_PASS_KEY: &std::ffi::CStr = c"mod_pyrite/post_config-seen";

extern "C" fn pre_config(_pconf: *mut raw::apr_pool_t, _plog: *mut raw::apr_pool_t, _ptemp: *mut raw::apr_pool_t) -> c_int {
    crate::guard::or(raw::OK as c_int, || {
        crate::config::config_read_starts();
        crate::wsgi::directives::clear_notes();
        crate::python_flags::config_read_starts();
        crate::daemon::directives::config_read_starts();
        raw::OK as c_int
    })
}

/// Runs in the parent (as root when httpd starts as root): never touches Python.
extern "C" fn post_config(
    pconf: *mut raw::apr_pool_t,
    _plog: *mut raw::apr_pool_t,
    _ptemp: *mut raw::apr_pool_t,
    s: *mut raw::server_rec,
) -> c_int {
    crate::guard::or(raw::OK as c_int, || {
        // SAFETY: httpd's configuration pool and main server, live for the whole configuration.
        let (Some(pool), Some(server)) = (unsafe { Pool::from_raw(pconf) }, unsafe { Server::from_raw(s) }) else {
            return raw::OK as c_int;
        };
        post_config_of(pool, server)
    })
}

fn post_config_of(pconf: &Pool, s: &Server) -> c_int {
    crate::config::config_read_ends();
    // The Server banner names the module and Python/X.Y, as mod_python's
    // does; httpd shows components only under `ServerTokens Full` (its
    // default), so an admin hides them the usual way.
    ffi::add_version_component(pconf, &format!("mod_pyrite/{VERSION}"));
    let major_minor: Vec<&str> = PYTHON_VERSION.splitn(3, '.').take(2).collect();
    ffi::add_version_component(pconf, &format!("Python/{}", major_minor.join(".")));
    // httpd reads its configuration twice at start-up; speak only on the real pass.
    if !ffi::noted_before(s.process_pool(), FIRST_PASS_KEY) {
        return raw::OK as c_int;
    }
    if let Err(e) = crate::locks::create(pconf, s) {
        s.log(log::APLOG_CRIT, &format!("mod_pyrite: {e}"));
        return raw::HTTP_INTERNAL_SERVER_ERROR as c_int;
    }
    crate::metrics::shm::create(pconf, s);
    crate::bytecode::prepare(pconf, s);
    // Forks the daemon groups' processes (Python starts in them, never here).
    // SAFETY (documented exception: the daemon supervisor is not yet on typed
    // handles): the live configuration pool and main server of this post_config.
    if let Err(e) = unsafe { crate::daemon::supervise::start(pconf.as_ptr(), s.as_ptr()) } {
        s.log(log::APLOG_CRIT, &format!("mod_pyrite: {e}"));
        return raw::HTTP_INTERNAL_SERVER_ERROR as c_int;
    }
    crate::capacity::log_summary(s);
    crate::wsgi::notes::flush(s);
    crate::wsgi::directives::log_notes(s);
    if let Some(notice) = crate::python_flags::startup_notice() {
        s.log(log::APLOG_NOTICE, &notice);
    }
    s.log(log::APLOG_NOTICE, &format!(
        "mod_pyrite/{VERSION} (Python {PYTHON_VERSION}) configured: each child starts Python (and one sub-interpreter per interpreter name or application group, when the configuration uses more than one) at child start"
    ));
    raw::OK as c_int
}

/// Runs in every child before it accepts a connection: Python starts here.
extern "C" fn child_init(pchild: *mut raw::apr_pool_t, s: *mut raw::server_rec) {
    crate::guard::or((), || {
        // The metrics slots are for httpd's children (a daemon would take one of theirs).
        if crate::daemon::current().is_none() {
            // SAFETY: child_init's own pool and main server.
            if let (Some(p), Some(sv)) = unsafe { (ffi::pool::Pool::from_raw(pchild), ffi::server::Server::from_raw(s)) } {
                crate::metrics::shm::child_init(p, sv);
            }
        }
        // SAFETY: as above.
        crate::locks::child_init(unsafe { ffi::server::Server::from_raw(s) });
        if crate::daemon::current().is_none() {
            // httpd's children connect to daemons by path; they never accept on their sockets.
            crate::daemon::listener::close_all_but(None);
            // WSGIRestrictEmbedded On: no Python in httpd's children, unless a
            // WSGIDispatchScript must run there (as mod_wsgi starts it then too).
            if crate::daemon::directives::restrict_embedded()
                && !crate::config::wsgi::DISPATCH_SCRIPTS.load(std::sync::atomic::Ordering::Relaxed)
            {
                return;
            }
        }
        // SAFETY: child_init's own pool and main server, before any worker thread.
        unsafe { crate::child::init_child(pchild, s) }
    })
}

/// Marker for pointers httpd hands us as `const char *` strings.
pub type CStrPtr = *const c_char;
