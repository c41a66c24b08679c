//! `PythonConnectionHandler module[::object]`: a server (typically a
//! `<VirtualHost>` on its own `Listen` port) whose connections are handed to
//! Python instead of HTTP. The handler gets the connection object and talks
//! the protocol itself with `conn.read`, `conn.readline` and `conn.write`.
pub use crate::config::ConnHandlerDecl;
use crate::config::{self, DirConfig, Origin};
use crate::ffi::directive::{entry, Cmd, Func, Outcome, Spec};
use crate::ffi::{self, log, raw};
use crate::interp;
use crate::interpreters;
use crate::request::connection::Connection;
use crate::request::life::Life;
use crate::request::server_return::SERVER_RETURN;
use pyo3::prelude::*;
use std::ffi::c_int;
use std::sync::Arc;

const OK: c_int = raw::OK as c_int;
const DECLINED: c_int = raw::DECLINED;

impl ConnHandlerDecl {
    fn object_name(&self) -> &str {
        self.object.as_deref().unwrap_or("connectionhandler")
    }
}

fn set_connection_handler(cmd: &Cmd, _m: &mut DirConfig, spec: &str) -> Outcome {
    let (module, object) = config::parse_handler_spec(spec).map_err(|e| config::fail("PythonConnectionHandler", &e))?;
    let origin = Origin::of(cmd);
    config::server_conf(cmd, "PythonConnectionHandler")?.connection_handler = Some(Arc::new(ConnHandlerDecl { module, object, origin }));
    Ok(())
}

/// The directive, for the command table (src/directives.rs).
pub const COMMAND: raw::command_rec = entry(&Spec::new(
    c"PythonConnectionHandler",
    Func::Take1(set_connection_handler),
    0,
    raw::RSRC_CONF,
    c"module[::object]: handles this server's connections in Python (raw protocol, e.g. on its own Listen port)",
));

/// httpd's process_connection hook: runs before HTTP's, only where configured
/// (src/module.rs registers it; its C entry point is made in src/ffi/hooks.rs).
pub struct Hook;

impl ffi::hooks::ConnectionHook for Hook {
    fn run(c: &ffi::connection::Connection) -> c_int {
        serve(c)
    }
}

/// The configuration of the server a connection arrived at.
fn settings(c: &ffi::connection::Connection) -> (Option<&config::ServerConfig>, Option<&config::DirConfig>) {
    let s = c.base_server();
    (config::ServerConfig::of(s), config::DirConfig::server_level(s))
}

fn serve(c: &ffi::connection::Connection) -> c_int {
    let Some(decl) = settings(c).0.and_then(|sc| sc.connection_handler.clone()) else {
        return DECLINED;
    };
    // HTTP/2 streams and other secondary connections belong to their protocol.
    if c.is_secondary() {
        return DECLINED;
    }
    if !interp::ready() {
        c.log(
            log::APLOG_ERR,
            "mod_pyrite: Python is not running in this process (child_init did not run?)",
        );
        return DECLINED;
    }
    // mod_python's interpreter for a connection: its virtual host's.
    let name = || crate::interpreters::names::mod_python(None, c.base_server(), settings(c).1, None);
    // Refused (no interpreter): the connection is closed, as after an error.
    let result = interpreters::with_python_named(name, OK, |py| run(py, c, &decl));
    if result == DECLINED {
        return DECLINED;
    }
    // The connection is done: no keep-alive, and under the event MPM a
    // lingering close rather than waiting for another request.
    c.close_after_this();
    OK
}

fn run(py: Python<'_>, c: &ffi::connection::Connection, decl: &ConnHandlerDecl) -> c_int {
    // The connection object may outlive the call: the connection is lent for the call only.
    let res = ffi::held::lend_for_call(None::<&ffi::request::Request>, c, |none, lent| {
        let life = Arc::new(Life::for_call(none));
        let res = (|| -> PyResult<Bound<'_, PyAny>> {
            let no_conf = config::DirConfig::default();
            let conf = settings(c).1.unwrap_or(&no_conf);
            let handler = crate::handlers::load_object(py, conf, None, &decl.module, decl.object_name())?;
            let conn = Bound::new(py, Connection::new(life.clone(), lent))?;
            match handler.call1((conn,)) {
                Err(e) if e.is_instance_of::<SERVER_RETURN>(py) => Ok(e
                    .value(py)
                    .getattr("args")
                    .and_then(|a| a.get_item(0))
                    .unwrap_or_else(|_| py.None().into_bound(py))),
                other => other,
            }
        })();
        life.end();
        res
    });
    let spec = match &decl.object {
        Some(o) => format!("{}::{}", decl.module, o),
        None => decl.module.clone(),
    };
    match res {
        Ok(v) => match v.extract::<i64>() {
            Ok(code) if code == DECLINED as i64 => DECLINED,
            Ok(code) if code == OK as i64 => OK,
            _ => {
                c.log(
                    log::APLOG_ERR,
                    &format!(
                        "PythonConnectionHandler {spec} ({}) returned {}, not apache.OK or apache.DECLINED: closing the connection",
                        decl.origin,
                        v.repr().map(|r| r.to_string()).unwrap_or_default()
                    ),
                );
                OK
            }
        },
        Err(e) => {
            c.log(
                log::APLOG_ERR,
                &format!("PythonConnectionHandler {spec} ({}) raised an exception: {e}", decl.origin),
            );
            for line in interp::traceback_lines(py, &e) {
                c.log(log::APLOG_ERR, &format!("PythonConnectionHandler {spec}: {line}"));
            }
            OK
        }
    }
}
