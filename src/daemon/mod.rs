//! Daemon mode (mod_wsgi's WSGIDaemonProcess): groups of processes, forked
//! from httpd's parent before Python exists there, that run WSGI
//! applications for httpd's children, which hand each request over a UNIX
//! socket. One idea per file:
//! - `options`: WSGIDaemonProcess's options; `directives`: the server-wide directives;
//! - `routing`: which group a request belongs to;
//! - `listener`: the groups' UNIX sockets, owned by the parent across restarts;
//! - `supervise`: the parent forks, watches and replaces daemons;
//! - `process`: a daemon's life (identity, limits, Python, threads, draining);
//! - `serve`: a daemon takes a connection and runs it through httpd's own request path;
//! - `admission`: how many of a daemon's threads take requests at once;
//! - `frame`: what a child tells a daemon besides the HTTP request;
//! - `plan`: a request's resolved WSGI settings, which the child sends with it;
//! - `pickup`: how a daemon takes a request and a child knows it, without a wake-up;
//! - `proxy`: a child hands a request to its group and relays the response;
//! - `file_pass`: a response's file goes to the child, which sends it (sendfile).
pub mod admission;
pub mod directives;
pub mod file_pass;
pub mod frame;
pub mod head;
pub mod listener;
pub mod options;
pub mod pickup;
pub mod plan;
pub mod process;
pub mod proxy;
pub mod routing;
pub mod serve;
pub mod supervise;

use std::sync::OnceLock;

/// The group this process serves, once it is a daemon (None in httpd's own processes).
static CURRENT: OnceLock<options::GroupSpec> = OnceLock::new();

/// The group this process serves, if it is a daemon.
#[inline]
pub fn current() -> Option<&'static options::GroupSpec> {
    CURRENT.get()
}
