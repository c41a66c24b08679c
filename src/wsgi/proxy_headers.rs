//! WSGITrustedProxyHeaders and WSGITrustedProxies: a site behind a load
//! balancer sees the client's address, scheme, host and mount point the
//! proxy reports, and a client cannot fake them. The rules are in
//! `pyrite_text::proxy`; this file holds the directives and applies the
//! rules' edits to a request's environ.
pub use crate::config::wsgi::ProxyDirConfig;
use crate::config::{fail, split_words, DirConfig, Origin};
use crate::ffi::directive::{entry, Cmd, Func, Outcome, Spec};
use crate::ffi::raw;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyrite_text::cgi_key::http_key;
use pyrite_text::proxy::{self, Edit, Subnet};
use std::collections::HashMap;
use std::sync::Arc;

/// Rewrites `env` as the trusted proxy headers say, and removes the
/// untrusted ones of the categories the configuration names.
pub fn apply(py: Python<'_>, conf: &ProxyDirConfig, env: &Bound<'_, PyDict>) -> PyResult<()> {
    let Some(headers) = conf.headers.as_deref() else { return Ok(()) };
    let read = |k: &str| -> Option<String> {
        env.get_item(k)
            .ok()
            .flatten()
            .and_then(|v| v.cast::<PyString>().ok().and_then(|s| s.to_str().ok().map(str::to_string)))
    };
    let remote_addr = read("REMOTE_ADDR").unwrap_or_default();
    let mut present: HashMap<String, String> = HashMap::new();
    // Only the keys the rules read: the configured ones are among them or without effect.
    for k in proxy::keys() {
        if let Some(v) = read(k) {
            present.insert(k.to_string(), v);
        }
    }
    let edits = proxy::plan(headers, conf.proxies.as_deref().map(Vec::as_slice), &remote_addr, |k| {
        present.get(k).map(String::as_str)
    });
    for e in edits {
        match e {
            Edit::Set(k, v) => env.set_item(k, PyString::new(py, &v))?,
            Edit::Remove(k) => env.del_item(k)?,
            Edit::Https(on) => {
                env.set_item(pyo3::intern!(py, "wsgi.url_scheme"), if on { "https" } else { "http" })?;
                // As mod_wsgi: the scheme is in wsgi.url_scheme, not in a second key that could disagree.
                if env.contains("HTTPS")? {
                    env.del_item("HTTPS")?;
                }
            }
        }
    }
    Ok(())
}

fn set_headers(cmd: &Cmd, m: &mut DirConfig, args: &str) -> Outcome {
    const NAME: &str = "WSGITrustedProxyHeaders";
    let words = match split_words(args) {
        Ok(w) => w,
        Err(e) => return Err(fail(NAME, &e)),
    };
    if words.is_empty() {
        return Err(fail(NAME, "needs at least one header name (X-Forwarded-For X-Forwarded-Proto ...)"));
    }
    let mut keys = Vec::with_capacity(words.len());
    for w in &words {
        let Some(key) = http_key(w.as_bytes()) else {
            return Err(fail(
                NAME,
                &format!("{w:?} is not a header name (letters, digits and '-', as in X-Forwarded-For)"),
            ));
        };
        if proxy::category(&key).is_none() {
            super::notes::defer(format!(
                "{NAME} {w} ({}) has no effect: the headers read are X-Forwarded-For, X-Client-IP, X-Real-IP, \
                         X-Forwarded-Host, X-Host, X-Forwarded-Server, X-Forwarded-Port, X-Script-Name, \
                         X-Forwarded-Script-Name, X-Forwarded-Proto, X-Forwarded-Scheme, X-Scheme, X-Forwarded-HTTPS, \
                         X-Forwarded-SSL and X-HTTPS",
                Origin::of(cmd)
            ));
        }
        keys.push(key);
    }
    let p = &mut m.wsgi.proxy;
    let mut all = p.headers.as_deref().cloned().unwrap_or_default();
    all.extend(keys);
    p.headers = Some(Arc::new(all));
    Ok(())
}

fn set_proxies(_cmd: &Cmd, m: &mut DirConfig, args: &str) -> Outcome {
    const NAME: &str = "WSGITrustedProxies";
    let words = match split_words(args) {
        Ok(w) => w,
        Err(e) => return Err(fail(NAME, &e)),
    };
    if words.is_empty() {
        return Err(fail(NAME, "needs at least one address or subnet (10.0.0.1, 10.0.0.0/8, fd00::/8)"));
    }
    let mut nets = Vec::with_capacity(words.len());
    for w in &words {
        match Subnet::parse(w) {
            Ok(s) => nets.push(s),
            Err(e) => return Err(fail(NAME, &e)),
        }
    }
    let p = &mut m.wsgi.proxy;
    let mut all = p.proxies.as_deref().cloned().unwrap_or_default();
    all.extend(nets);
    p.proxies = Some(Arc::new(all));
    Ok(())
}

const WHERE: u32 = raw::RSRC_CONF | raw::ACCESS_CONF | raw::OR_FILEINFO;

pub const COMMANDS: [raw::command_rec; 2] = [
    entry(&Spec::new(c"WSGITrustedProxyHeaders", Func::RawArgs(set_headers), 0, WHERE, c"header names a front-end proxy sets (X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Script-Name ...): believed from trusted peers, removed otherwise")),
    entry(&Spec::new(c"WSGITrustedProxies", Func::RawArgs(set_proxies), 0, WHERE, c"addresses or subnets of the front-end proxies allowed to set the WSGITrustedProxyHeaders (default: every peer)")),
];
