//! `SetHandler pyrite-status`: the metrics as HTML, JSON (`?json`) or
//! Prometheus text (`?metrics`). Pure Rust: no GIL and no Python, so the page
//! answers while Python is wedged. Served only where `PyriteStatus On` is set.
use super::{html, json, prometheus, snapshot};
use crate::ffi::request::Request;
use crate::ffi::{log, raw};
use std::ffi::c_int;

const HANDLER: &[u8] = b"pyrite-status";

enum Format {
    Html { refresh: Option<u32> },
    Json,
    Prometheus,
}

/// What the query string asks for: `json`, `metrics`, else HTML (`refresh=N` adds a reload).
fn format_of(args: &[u8]) -> Format {
    let mut refresh = None;
    for part in args.split(|&b| b == b'&') {
        let (k, v) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        match k {
            b"json" => return Format::Json,
            b"metrics" => return Format::Prometheus,
            b"refresh" => {
                refresh = std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| v.parse::<u32>().ok())
                    .map(|n| n.clamp(1, 3600))
            }
            _ => {}
        }
    }
    Format::Html { refresh }
}

/// httpd's content hook for `pyrite-status` (src/module.rs registers it).
pub struct Handler;

impl crate::ffi::hooks::RequestHook for Handler {
    fn run(r: &Request) -> c_int {
        serve(r)
    }
}

fn serve(r: &Request) -> c_int {
    if r.handler() != Some(HANDLER) {
        return raw::DECLINED;
    }
    let enabled = crate::config::DirConfig::of(r).is_some_and(|c| c.status_page == Some(true));
    if !enabled {
        r.log(
            log::APLOG_ERR,
            &format!(
                "SetHandler pyrite-status at {}: access denied because PyriteStatus On is not set there; add `PyriteStatus On` \
                 to that <Location> (with `Require ip 127.0.0.1` or another Require that limits who may read it)",
                String::from_utf8_lossy(r.uri().unwrap_or_default())
            ),
        );
        return raw::HTTP_FORBIDDEN as c_int;
    }
    if r.method_number() != raw::M_GET as c_int {
        r.allow_method(true, c"GET");
        return raw::HTTP_METHOD_NOT_ALLOWED as c_int;
    }
    let Some(snap) = snapshot::take() else {
        r.log(
            log::APLOG_ERR,
            "pyrite-status: metrics are off (no shared memory, see the start-up log)",
        );
        return raw::HTTP_SERVICE_UNAVAILABLE as c_int;
    };
    let (ctype, body) = match format_of(r.args().unwrap_or_default()) {
        Format::Json => (&b"application/json"[..], json::render(&snap)),
        Format::Prometheus => (&b"text/plain; version=0.0.4; charset=utf-8"[..], prometheus::render(&snap)),
        Format::Html { refresh } => (&b"text/html; charset=utf-8"[..], html::render(&snap, refresh)),
    };
    let _ = r.set_content_type(ctype);
    let _ = r.headers_out().set(b"Cache-Control", b"no-store");
    r.set_content_length(body.len() as i64);
    if r.header_only() == 0 {
        r.write(body.as_bytes());
    }
    raw::OK as c_int
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_picks_the_format() {
        assert!(matches!(format_of(b"json"), Format::Json));
        assert!(matches!(format_of(b"a=1&metrics"), Format::Prometheus));
        assert!(matches!(format_of(b""), Format::Html { refresh: None }));
        assert!(matches!(format_of(b"refresh=5"), Format::Html { refresh: Some(5) }));
        assert!(matches!(format_of(b"refresh=0"), Format::Html { refresh: Some(1) }));
        assert!(matches!(format_of(b"refresh=x"), Format::Html { refresh: None }));
    }
}
