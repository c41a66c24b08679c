//! WSGITrustedProxyHeaders and WSGITrustedProxies: behind a load balancer the
//! application sees the client's address, scheme, host and mount point as the
//! proxy reports them; a client talking directly cannot fake them.
mod common;
use common::*;
use serde_json::Value;

fn site() -> String {
    "WSGIScriptAlias /env {HANDLERS}/wsgi_proxy_env.py\n\
     WSGITrustedProxyHeaders X-Forwarded-For\n\
     <Location /env/open>\n  WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Host X-Forwarded-Proto X-Forwarded-SSL X-Script-Name\n</Location>\n\
     <Location /env/behind>\n  WSGITrustedProxyHeaders X-Real-IP X-Forwarded-For X-Forwarded-Host X-Forwarded-Proto\n\
       WSGITrustedProxyHeaders X-Forwarded-Server X-Forwarded-Port X-Forwarded-Prefix\n  WSGITrustedProxies 10.0.0.0/8 127.0.0.1\n</Location>\n\
     <Location /env/elsewhere>\n  WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Host X-Forwarded-Proto X-Forwarded-Server X-Forwarded-Port X-Script-Name\n\
       WSGITrustedProxies 192.0.2.0/24\n</Location>\n"
        .to_string()
}

fn env(h: &Httpd, path: &str, headers: &[(&str, &str)]) -> Value {
    let hs: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
    let r = h.request("GET", path, &hs, b"");
    assert_eq!(r.status, 200, "{path}: {}\n{}", r.text(), h.error_log());
    serde_json::from_str(&r.text()).unwrap()
}

#[test]
fn without_a_proxy_list_every_peer_is_believed() {
    let h = Httpd::start(Mpm::Event, &site());
    let v = env(&h, "/env/open/x", &[("X-Forwarded-For", ", 203.0.113.5, 10.0.0.1")]);
    assert_eq!(v["REMOTE_ADDR"], "203.0.113.5", "the leftmost entry, empty ones skipped");
    assert_eq!(
        v["HTTP_X_FORWARDED_FOR"], ", 203.0.113.5, 10.0.0.1",
        "the header itself is left as sent"
    );

    let v = env(
        &h,
        "/env/open/x",
        &[
            ("X-Forwarded-Host", "shop.example"),
            ("X-Forwarded-Proto", "https"),
            ("X-Script-Name", "/shop"),
        ],
    );
    assert_eq!(v["HTTP_HOST"], "shop.example");
    assert_eq!(v["wsgi.url_scheme"], "https");
    assert_eq!(v["SCRIPT_NAME"], "/shop");
    assert_eq!(v["mod_wsgi.mount_point"], "/shop");
    assert_eq!(v["PATH_INFO"], "/open/x", "PATH_INFO is left as it was");
    assert_eq!(v["HTTPS"], Value::Null);
    for (flag, scheme) in [("On", "https"), ("true", "https"), ("1", "https"), ("off", "http"), ("0", "http")] {
        assert_eq!(
            env(&h, "/env/open/", &[("X-Forwarded-SSL", flag)])["wsgi.url_scheme"],
            scheme,
            "{flag}"
        );
    }

    // Other headers of a trusted category are dropped: X-Forwarded-For speaks for the client.
    let v = env(
        &h,
        "/env/open/",
        &[
            ("X-Forwarded-For", "203.0.113.5"),
            ("X-Real-IP", "198.51.100.1"),
            ("X-Client-IP", "198.51.100.2"),
            ("X-Host", "other"),
        ],
    );
    assert_eq!(v["REMOTE_ADDR"], "203.0.113.5");
    assert_eq!(v["HTTP_X_REAL_IP"], Value::Null);
    assert_eq!(v["HTTP_X_CLIENT_IP"], Value::Null);
    assert_eq!(v["HTTP_X_HOST"], Value::Null, "X-Forwarded-Host's category");
}

#[test]
fn a_proxy_list_walks_the_chain_and_rewrites_what_the_proxy_says() {
    let h = Httpd::start(Mpm::Worker, &site());
    let v = env(
        &h,
        "/env/behind/",
        &[("X-Forwarded-For", "198.51.100.7, 203.0.113.5,, 10.1.2.3, 127.0.0.1,")],
    );
    assert_eq!(v["REMOTE_ADDR"], "203.0.113.5", "the address just before the trusted proxies");
    assert_eq!(v["HTTP_X_FORWARDED_FOR"], "203.0.113.5, 10.1.2.3, 127.0.0.1");
    let v = env(&h, "/env/behind/", &[("X-Forwarded-For", "10.0.0.9, 127.0.0.1")]);
    assert_eq!(v["REMOTE_ADDR"], "10.0.0.9", "all trusted: the leftmost");
    let v = env(&h, "/env/behind/", &[("X-Forwarded-For", "198.51.100.9, 203.0.113.5")]);
    assert_eq!(v["REMOTE_ADDR"], "203.0.113.5", "no trusted entry: the rightmost");
    assert_eq!(v["HTTP_X_FORWARDED_FOR"], "203.0.113.5");

    let v = env(
        &h,
        "/env/behind/",
        &[
            ("X-Forwarded-Server", "www.example"),
            ("X-Forwarded-Port", "8443"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "www.example:8443"),
            ("X-Forwarded-Prefix", "/kept"),
        ],
    );
    assert_eq!(v["SERVER_NAME"], "www.example");
    assert_eq!(v["SERVER_PORT"], "8443");
    assert_eq!(v["wsgi.url_scheme"], "https");
    assert_eq!(v["HTTP_HOST"], "www.example:8443");
    assert_eq!(v["HTTP_X_FORWARDED_PREFIX"], "/kept", "a header no rule reads passes unchanged");
    // X-Real-IP is named first, X-Forwarded-For after it: the later one decides.
    let v = env(
        &h,
        "/env/behind/",
        &[("X-Real-IP", "198.51.100.1"), ("X-Forwarded-For", "203.0.113.5")],
    );
    assert_eq!(v["REMOTE_ADDR"], "203.0.113.5");
    assert_eq!(v["HTTP_X_REAL_IP"], Value::Null);
    let v = env(&h, "/env/behind/", &[("X-Real-IP", "198.51.100.1")]);
    assert_eq!(v["REMOTE_ADDR"], "198.51.100.1");
    // A header listed without a rule is said to have no effect.
    assert!(
        h.error_log().contains("WSGITrustedProxyHeaders X-Forwarded-Prefix"),
        "{}",
        h.error_log()
    );
}

#[test]
fn a_peer_outside_the_list_cannot_fake_anything() {
    let h = Httpd::start(Mpm::Prefork, &site());
    let v = env(
        &h,
        "/env/elsewhere/",
        &[
            ("X-Forwarded-For", "203.0.113.5"),
            ("X-Forwarded-Host", "spoof.example"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Server", "spoof.example"),
            ("X-Forwarded-Port", "1"),
            ("X-Script-Name", "/spoof"),
        ],
    );
    assert_eq!(v["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(v["HTTP_HOST"], format!("127.0.0.1:{}", h.port));
    assert_eq!(v["wsgi.url_scheme"], "http");
    assert_eq!(v["SERVER_PORT"], h.port.to_string());
    assert_eq!(v["SCRIPT_NAME"], "/env");
    for k in [
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_FORWARDED_HOST",
        "HTTP_X_FORWARDED_PROTO",
        "HTTP_X_FORWARDED_SERVER",
        "HTTP_X_FORWARDED_PORT",
        "HTTP_X_SCRIPT_NAME",
        "mod_wsgi.mount_point",
    ] {
        assert_eq!(v[k], Value::Null, "{k}");
    }
}

#[test]
fn only_the_named_categories_change() {
    let h = Httpd::start(Mpm::Event, &site());
    // The server-wide line (X-Forwarded-For only) applies outside the locations.
    let v = env(
        &h,
        "/env/",
        &[
            ("X-Forwarded-For", "203.0.113.5"),
            ("X-Forwarded-Host", "proxy.example"),
            ("X-Forwarded-Proto", "https"),
            ("X-Script-Name", "/app"),
        ],
    );
    assert_eq!(v["REMOTE_ADDR"], "203.0.113.5");
    assert_eq!(v["HTTP_HOST"], format!("127.0.0.1:{}", h.port));
    assert_eq!(v["HTTP_X_FORWARDED_HOST"], "proxy.example");
    assert_eq!(v["wsgi.url_scheme"], "http");
    assert_eq!(v["HTTP_X_FORWARDED_PROTO"], "https");
    assert_eq!(v["SCRIPT_NAME"], "/env");
    assert_eq!(v["HTTP_X_SCRIPT_NAME"], "/app");
}

#[test]
fn bad_proxy_lines_stop_httpd_with_a_reason() {
    for (conf, why) in [
        ("WSGITrustedProxies proxy.example.com\n", "is not an IP address or subnet"),
        ("WSGITrustedProxies 10.0.0.0/40\n", "is not an IP address or subnet"),
        ("WSGITrustedProxyHeaders X_Forwarded_For\n", "is not a header name"),
        ("WSGITrustedProxyHeaders\n", "needs at least one header name"),
    ] {
        let h = Httpd::prepare(Mpm::Event, conf);
        let out = h.apachectl("configtest");
        let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success() && text.contains(why), "{conf}: {text}");
    }
}

/// An HTTPS request: the JSON the application answered.
fn tls_env(port: u16, path: &str, headers: &[&str]) -> Value {
    let (_, body) = https_get(port, path, headers);
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)))
}

#[test]
fn over_tls_a_trusted_scheme_header_still_wins() {
    let (h, port) = Httpd::start_with_tls(
        Mpm::Event,
        "",
        "  WSGIScriptAlias /env {HANDLERS}/wsgi_proxy_env.py\n\
         <Location /env/trusted>\n    WSGITrustedProxyHeaders X-Forwarded-Proto X-Forwarded-SSL\n  </Location>\n\
         <Location /env/partial>\n    WSGITrustedProxyHeaders X-Forwarded-For\n  </Location>\n",
    );
    assert_eq!(tls_env(port, "/env/trusted/", &[])["wsgi.url_scheme"], "https", "{}", h.error_log());
    assert_eq!(
        tls_env(port, "/env/trusted/", &["X-Forwarded-Proto: http"])["wsgi.url_scheme"],
        "http"
    );
    assert_eq!(
        tls_env(port, "/env/trusted/", &["X-Forwarded-Proto: https"])["wsgi.url_scheme"],
        "https"
    );
    assert_eq!(tls_env(port, "/env/trusted/", &["X-Forwarded-SSL: Off"])["wsgi.url_scheme"], "http");
    // A scheme header nobody named changes nothing.
    let v = tls_env(port, "/env/partial/", &["X-Forwarded-Proto: http"]);
    assert_eq!(v["wsgi.url_scheme"], "https");
    assert_eq!(v["HTTP_X_FORWARDED_PROTO"], "http");
}
