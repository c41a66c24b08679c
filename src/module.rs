//! The module record httpd loads (`LoadModule pyrite_module mod_pyrite.so`) and
//! the hooks it registers.
use crate::config::{DirConfig, ServerConfig};
use crate::ffi::hooks::{self, Config, ConfigHooks, Module, Names, Order, Phase, PostConfig, Registering};
use crate::ffi::pool::Pool;
use crate::ffi::server::Server;
use crate::ffi::{self, log, module_config, raw};
use std::ffi::c_int;

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
    register_hooks: Some(hooks::register_hooks::<Pyrite>),
    flags: 0,
};

pub use crate::ffi::{module_index, module_ptr};

/// This module, for the generic entry points of src/ffi/hooks.rs.
struct Pyrite;

impl Module for Pyrite {
    fn register_hooks(reg: &Registering<'_>) {
        ffi::set_module(&raw mut pyrite_module);
        reg.config::<Pyrite>(Config::PreConfig, Order::ReallyFirst);
        reg.config::<Pyrite>(Config::PostConfig, Order::Middle);
        reg.config::<crate::ssi::Hooks>(Config::PostConfig, Order::Middle);
        reg.config::<Pyrite>(Config::ChildInit, Order::Middle);
        // After httpd's own pre_mpm (the scoreboard), daemon groups start at a first start.
        reg.config::<crate::daemon::supervise::Hooks>(Config::PreMpm, Order::ReallyLast);
        reg.request(Phase::Handler, crate::handlers::content_handler, Order::Middle);
        reg.request(Phase::Handler, crate::wsgi::handler, Order::Middle);
        reg.request_hook::<crate::metrics::page::Handler>(Phase::Handler, Order::Middle);
        reg.request(Phase::PostReadRequest, crate::handlers::post_read_request, Order::Middle);
        // In a daemon, before any other module looks at the request: what the child knew of the client.
        reg.request_hook::<crate::daemon::serve::PostReadRequest>(Phase::PostReadRequest, Order::ReallyFirst);
        reg.request(Phase::TranslateName, crate::handlers::translate_name, Order::Middle);
        reg.request(Phase::HeaderParser, crate::handlers::header_parser, Order::Middle);
        reg.request(Phase::AccessChecker, crate::handlers::access_checker, Order::Middle);
        reg.request(Phase::CheckUserId, crate::handlers::check_user_id, Order::Middle);
        reg.request(Phase::AuthChecker, crate::handlers::auth_checker, Order::Middle);
        reg.request(Phase::TypeChecker, crate::handlers::type_checker, Order::Middle);
        reg.request(Phase::Fixups, crate::handlers::fixups, Order::Middle);
        reg.request(Phase::LogTransaction, crate::handlers::log_transaction, Order::Middle);
        reg.process_connection::<crate::conn_handler::Hook>(Order::Middle);
        crate::filters::register_hooks();
        crate::wsgi::auth::register_hooks(reg);
        // After mod_alias, before mod_userdir and mod_vhost_alias, as mod_wsgi.
        reg.request_between(
            Phase::TranslateName,
            crate::wsgi::translate_name,
            Some(&TRANSLATE_PRE),
            Some(&TRANSLATE_SUCC),
            Order::Middle,
        );
    }
}

/// Module name lists for hook ordering.
static TRANSLATE_PRE: Names<1> = Names::new([c"mod_alias.c"]);
static TRANSLATE_SUCC: Names<2> = Names::new([c"mod_userdir.c", c"mod_vhost_alias.c"]);

const FIRST_PASS_KEY: &std::ffi::CStr = c"mod_pyrite/post_config-seen";

impl ConfigHooks for Pyrite {
    fn pre_config() {
        crate::config::config_read_starts();
        crate::wsgi::directives::clear_notes();
        crate::python_flags::config_read_starts();
        crate::daemon::directives::config_read_starts();
    }

    /// Runs in the parent (as root when httpd starts as root): never touches Python.
    fn post_config(at: &PostConfig<'_>) -> c_int {
        post_config_of(at.pool(), at.server())
    }

    /// Runs in every child before it accepts a connection: Python starts here.
    fn child_init(pchild: &'static Pool, s: &Server) {
        child_init_of(pchild, s)
    }
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
    if let Err(e) = crate::daemon::supervise::start(pconf, s) {
        s.log(log::APLOG_CRIT, &format!("mod_pyrite: {e}"));
        return raw::HTTP_INTERNAL_SERVER_ERROR as c_int;
    }
    crate::capacity::log_summary(s);
    s.log(log::APLOG_NOTICE, crate::scheduling::startup_notice(s));
    crate::wsgi::notes::flush(s);
    crate::wsgi::directives::log_notes(s);
    if let Some(notice) = crate::python_flags::startup_notice() {
        s.log(log::APLOG_NOTICE, &notice);
    }
    let who = if children_start_python() {
        "each child starts Python"
    } else {
        "httpd's children start no Python (WSGIRestrictEmbedded On); each daemon of a group starts it"
    };
    s.log(log::APLOG_NOTICE, &format!(
        "mod_pyrite/{VERSION} (Python {PYTHON_VERSION}) configured: {who} (and one sub-interpreter per interpreter name or application group, when the configuration uses more than one) at its start"
    ));
    raw::OK as c_int
}

fn child_init_of(pchild: &'static Pool, s: &Server) {
    if crate::daemon::current().is_none() {
        // First, so that every thread the child starts from here inherits it.
        crate::scheduling::apply_in_child(s);
        // The metrics slots are for httpd's children (a daemon would take one of theirs).
        crate::metrics::shm::child_init(pchild, s);
    }
    crate::locks::child_init(Some(s));
    if crate::daemon::current().is_none() {
        // httpd's children connect to daemons by path; they never accept on their sockets.
        crate::daemon::listener::close_all_but(None);
        if !children_start_python() {
            return;
        }
    }
    crate::child::init_child(pchild, s)
}

/// Whether httpd's children start Python: not under WSGIRestrictEmbedded On,
/// unless a WSGIDispatchScript must run there (as mod_wsgi starts it then too).
fn children_start_python() -> bool {
    !crate::daemon::directives::restrict_embedded() || crate::config::wsgi::DISPATCH_SCRIPTS.load(std::sync::atomic::Ordering::Relaxed)
}
