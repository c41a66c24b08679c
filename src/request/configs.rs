//! mod_pyrite's configuration as a request or a server sees it, through the
//! handles. config.rs's accessors still take the raw records (they move to
//! the handles with config.rs); until then these three calls are the request
//! layer's only way in, each with its reason.
use crate::config::{self, DirConfig, ServerConfig};
use crate::ffi::request::Request;
use crate::ffi::server::Server;

/// The Python directives in force for `r` (None outside mod_pyrite's sections).
pub fn dir(r: &Request) -> Option<&DirConfig> {
    // SAFETY (documented exception until config.rs takes the handle): r is
    // a live request, all dir_config asks; the configuration outlives it.
    unsafe { config::dir_config(r.as_ptr()) }
}

/// The directives at `s`'s top level (what the early phases run with).
pub fn server_dir(s: &Server) -> Option<&DirConfig> {
    // SAFETY (as for `dir`): a server record of the running configuration.
    unsafe { config::server_dir_config(s.as_ptr()) }
}

/// `s`'s server-wide settings.
pub fn server(s: &Server) -> Option<&ServerConfig> {
    // SAFETY (as for `dir`): a server record of the running configuration.
    unsafe { config::server_config(s.as_ptr()) }
}
