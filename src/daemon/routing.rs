//! Which process group runs a request: process-group= on its WSGIScriptAlias,
//! else WSGIProcessGroup where it is; %{GLOBAL} (or nothing) means httpd's
//! own children, %{ENV:var} names the group through a request variable.
use super::directives::{self, Declared};
use crate::config::wsgi::WsgiDirConfig;
use crate::ffi::request::Request;
use std::borrow::Cow;
use std::sync::Arc;

/// Where a request's application runs.
pub enum Route {
    /// Here, in this process (an httpd child in embedded mode, or the daemon of the request's group).
    Here,
    /// In a daemon group: hand the request over.
    Daemon(Arc<Declared>),
    /// Nowhere: answer 500 and log why.
    Refused(String),
}

/// The group name a request asks for ("" for embedded mode); borrowed
/// from the configuration unless a request variable names it.
pub fn wanted_for<'a>(r: &Request, option: Option<&'a str>, dc: &'a WsgiDirConfig) -> Cow<'a, str> {
    let written = option.or(dc.process_group.as_deref()).unwrap_or("");
    if written == "%{GLOBAL}" {
        return Cow::Borrowed("");
    }
    if let Some(var) = written.strip_prefix("%{ENV:").and_then(|v| v.strip_suffix('}')) {
        let vals = r.subprocess_env().get_all(var.as_bytes());
        let v = vals.first().map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default();
        return if v == "%{GLOBAL}" { Cow::Borrowed("") } else { Cow::Owned(v) };
    }
    Cow::Borrowed(written)
}

/// Decides where the request's application runs. `option` is the
/// process-group= of the WSGIScriptAlias or WSGIHandlerScript that maps it.
#[inline]
pub fn route_for(r: &Request, option: Option<&str>, dc: &WsgiDirConfig) -> Route {
    // The common case (no daemon groups, embedded mode) costs one lock-free check.
    if !directives::any()
        && !directives::restrict_embedded()
        && option.is_none()
        && dc.process_group.is_none()
        && dc.restrict_process.is_none()
    {
        return Route::Here;
    }
    let name = wanted_for(r, option, dc);
    // WSGIRestrictProcess: only the listed groups may be selected here.
    if let Some(allowed) = &dc.restrict_process {
        if super::current().is_none() && !allowed.iter().any(|a| *a == *name) {
            let shown = if name.is_empty() { "%{GLOBAL}" } else { &*name };
            return Route::Refused(format!(
                "daemon process group '{shown}' may not be selected here: WSGIRestrictProcess allows only {}",
                allowed
                    .iter()
                    .map(|g| if g.is_empty() { "%{GLOBAL}".to_string() } else { format!("'{g}'") })
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    match super::current() {
        Some(me) if me.name == *name => Route::Here,
        Some(me) => Route::Refused(format!(
            "the request belongs to process group {name:?} but reached daemon group {:?}",
            me.name
        )),
        None if name.is_empty() => {
            if directives::restrict_embedded() {
                Route::Refused(
                    "refused: WSGIRestrictEmbedded On disables embedded mode (delegate the script with process-group= or WSGIProcessGroup)"
                        .into(),
                )
            } else {
                Route::Here
            }
        }
        None => match directives::group(&name) {
            Some(g) => Route::Daemon(g),
            None => Route::Refused(format!("no WSGI daemon process called {name:?} has been configured")),
        },
    }
}

/// Whether a script declared with `process-group=` `written` is loaded by
/// this process at start: a daemon loads its group's, httpd's children the
/// embedded ones (%{ENV:..} is decided per request, so nobody preloads it).
pub fn runs_here(written: Option<&str>) -> bool {
    let embedded = matches!(written, None | Some("") | Some("%{GLOBAL}"));
    match super::current() {
        Some(me) => written == Some(me.name.as_str()),
        None => embedded && !directives::restrict_embedded(),
    }
}
