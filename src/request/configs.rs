//! mod_pyrite's configuration as a request or a server sees it, through the
//! handles.
use crate::config::{DirConfig, ServerConfig};
use crate::ffi::request::Request;
use crate::ffi::server::Server;

/// The Python directives in force for `r` (None outside mod_pyrite's sections).
pub fn dir(r: &Request) -> Option<&DirConfig> {
    DirConfig::of(r)
}

/// The directives at `s`'s top level (what the early phases run with).
pub fn server_dir(s: &Server) -> Option<&DirConfig> {
    DirConfig::server_level(s)
}

/// `s`'s server-wide settings.
pub fn server(s: &Server) -> Option<&ServerConfig> {
    ServerConfig::of(s)
}
