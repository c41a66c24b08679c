//! mod_pyrite: an Apache httpd 2.4 module that embeds CPython and runs
//! mod_python handlers (and, later, WSGI applications).
//!
//! Layout: `ffi` is the only unsafe boundary to httpd/APR; `module` holds the
//! record and hooks; `config` the directives; `interp` Python's life in a
//! child; `request` the Python-visible objects; `handlers` phase dispatch.
pub mod bytecode;
pub mod capacity;
pub mod child;
pub mod config;
pub mod conn_handler;
pub mod daemon;
pub mod directives;
pub mod ffi;
pub mod filters;
pub mod gate;
pub mod guard;
pub mod handlers;
pub mod interp;
pub mod interpreters;
pub mod locks;
pub mod metrics;
pub mod module;
pub mod psp;
pub mod pymodule;
pub mod python_flags;
pub mod request;
pub mod requires;
pub mod scheduling;
pub mod ssi;
pub mod sync;
pub mod thread_states;
pub mod wsgi;

/// mod_pyrite's version, as it appears in the Server header.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The Python this module was built against (major.minor.patch).
pub const PYTHON_VERSION: &str = env!("PYRITE_PYTHON_VERSION");
