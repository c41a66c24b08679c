//! The PEP 3333 adapter behind WSGIScriptAlias, against a real httpd. Most
//! test applications run inside wsgiref.validate.validator.
mod common;
use common::*;
use std::io::{Read, Write};

const ONE_CHILD: &str = "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";

fn alias(url: &str, callable: &str) -> String {
    format!("WSGIScriptAlias {url} {{HANDLERS}}/wsgi_apps.py callable-object={callable}\n")
}

fn site() -> String {
    let mut s = String::new();
    for (url, c) in [
        ("/env", "env"),
        ("/raw", "raw_env"),
        ("/input", "input_ops"),
        ("/disconnect", "input_disconnect"),
        ("/gen", "generator"),
        ("/midstream", "fails_midstream"),
        ("/before", "fails_before_headers"),
        ("/slow", "slow_stream"),
        ("/closed", "closed"),
        ("/raises", "raises"),
        ("/bad-status", "bad_status"),
        ("/bad-headers", "bad_headers"),
        ("/twice", "twice"),
        ("/exc-before", "exc_info_before"),
        ("/exc-after", "exc_info_after"),
        ("/write", "write_callable"),
        ("/not-bytes", "not_bytes"),
        ("/too-long", "too_long"),
        ("/head", "head"),
        ("/file", "file_wrapper"),
        ("/file-pipe", "file_wrapper_pipe"),
        ("/prints", "prints"),
    ] {
        s += &alias(url, c);
        // The applications that record close() share one interpreter with
        // /closed, which reports them (each alias is its own group otherwise).
        if ["/gen", "/midstream", "/before", "/slow", "/closed", "/file", "/file-pipe"].contains(&url) {
            s.insert_str(s.len() - 1, " application-group=closing");
        }
    }
    s += "<Location /input>\n  WSGIChunkedRequest On\n</Location>\n";
    s
}

fn raw_bytes(port: u16, req: &[u8]) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    s.write_all(req).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_str(&r.text()).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", r.status, r.text()))
}

#[test]
fn hello_and_environ_under_every_mpm() {
    // Variables other modules set reach the environ too (mod_env here).
    let site = format!(
        "LoadModule env_module {MODULES}/mod_env.so\nSetEnv PYRITE_FROM_SETENV set-by-httpd\n{}",
        site()
    );
    for mpm in Mpm::ALL {
        let h = Httpd::start(mpm, &site);
        let r = h.request(
            "POST",
            "/env/a%20b/c?x=1&y=%C3%A9",
            &[("Content-Type", b"text/plain"), ("X-Custom", b"yes")],
            b"body",
        );
        assert_eq!(r.status, 200, "{mpm:?}: {}", h.error_log());
        let v = json(&r);
        assert_eq!(v["SCRIPT_NAME"], "/env");
        assert_eq!(v["PATH_INFO"], "/a b/c");
        assert_eq!(v["QUERY_STRING"], "x=1&y=%C3%A9");
        assert_eq!(v["REQUEST_METHOD"], "POST");
        assert_eq!(v["CONTENT_TYPE"], "text/plain");
        assert_eq!(v["CONTENT_LENGTH"], "4");
        assert!(
            v.get("HTTP_CONTENT_TYPE").is_none() && v.get("HTTP_CONTENT_LENGTH").is_none(),
            "{v}"
        );
        assert_eq!(v["HTTP_X_CUSTOM"], "yes");
        assert_eq!(v["SERVER_PORT"], h.port.to_string());
        assert_eq!(v["REMOTE_ADDR"], "127.0.0.1");
        assert_eq!(v["SERVER_ADDR"], "127.0.0.1");
        let remote_port: u16 = v["REMOTE_PORT"].as_str().and_then(|p| p.parse().ok()).unwrap_or(0);
        assert!(remote_port > 0 && remote_port != h.port, "{v}");
        assert!(v["SERVER_NAME"].as_str().is_some_and(|n| !n.is_empty()), "{v}");
        assert_eq!(v["REQUEST_URI"], "/env/a%20b/c?x=1&y=%C3%A9");
        assert!(v["SCRIPT_FILENAME"].as_str().is_some_and(|f| f.ends_with("/wsgi_apps.py")), "{v}");
        assert!(v["SERVER_SOFTWARE"].as_str().is_some_and(|f| f.starts_with("Apache")), "{v}");
        assert_eq!(v["GATEWAY_INTERFACE"], "CGI/1.1");
        assert_eq!(v["PYRITE_FROM_SETENV"], "set-by-httpd");
        assert_eq!(v["SERVER_PROTOCOL"], "HTTP/1.1");
        assert_eq!(v["REQUEST_SCHEME"], "http");
        assert_eq!(v["wsgi.url_scheme"], "http");
        assert_eq!(v["wsgi.version"], serde_json::json!([1, 0]));
        assert_eq!(v["wsgi.multithread"], mpm != Mpm::Prefork);
        assert_eq!(v["wsgi.multiprocess"], true);
        assert_eq!(v["wsgi.run_once"], false);
        assert_eq!(v["wsgi.input_terminated"], true);
        assert_eq!(v["_has_file_wrapper"], true);
        assert_eq!(v["_types_ok"], true);
        assert_eq!(v["mod_wsgi.process_group"], "");
        assert_eq!(v["mod_wsgi.application_group"], format!("127.0.0.1:{}|/env", h.port));
        assert_eq!(v["mod_wsgi.script_name"], "/env");
        assert!(v["mod_wsgi.request_id"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(v["apache.version"][0], 2);
        assert!(v["pyrite.request_start"].as_f64().unwrap() > 1.0e9);
        assert!(v["pyrite.queue_time"].as_f64().unwrap() >= 0.0);
        assert_eq!(v["_loaded_pid"], v["_pid"], "the script was loaded in the serving child");
        let log = h.wait_log("wsgi.errors line from env app");
        assert!(log.contains("wsgi.errors line from env app"), "{log}");
        assert!(log.contains("WSGI script(s)"), "{log}");
        let log = h.stop();
        assert!(crash_lines(&log).is_empty(), "{mpm:?}\n{log}");
    }
}

#[test]
fn environ_is_latin1_and_never_strict_utf8() {
    let h = Httpd::start(Mpm::Event, &site());
    // Send raw non-UTF-8 bytes in the header value and the path.
    let raw = b"GET /raw/caf%E9/%C3%A9?q=%FF HTTP/1.1\r\nHost: x\r\nX-Raw: \xe9t\xe9\r\nConnection: close\r\n\r\n";
    let r = raw_request(h.port, raw);
    assert_eq!(r.status, 200, "{}", h.error_log());
    // The app re-encodes each str as latin-1: the bytes come back unchanged.
    let body = r.body.clone();
    assert!(
        body.windows(b"PATH_INFO=/caf\xe9/\xc3\xa9".len())
            .any(|w| w == b"PATH_INFO=/caf\xe9/\xc3\xa9"),
        "{:?}",
        String::from_utf8_lossy(&body)
    );
    assert!(
        body.windows(b"HTTP_X_RAW=\xe9t\xe9".len()).any(|w| w == b"HTTP_X_RAW=\xe9t\xe9"),
        "{:?}",
        String::from_utf8_lossy(&body)
    );
    assert!(body.windows(b"QUERY_STRING=q=%FF".len()).any(|w| w == b"QUERY_STRING=q=%FF"));
}

#[test]
fn script_name_and_path_info_split_as_mod_wsgi() {
    let mut s = "WSGIScriptAlias /app {HANDLERS}/wsgi_apps.py callable-object=raw_env\n".to_string();
    s += "WSGIScriptAlias /slash/ {HANDLERS}/wsgi_apps.py callable-object=raw_env\n";
    s += "WSGIScriptAliasMatch ^/m/(wsgi_apps)\\.x {HANDLERS}/$1.py callable-object=raw_env\n";
    // The first virtual host answers for 127.0.0.1 and inherits the main server's aliases.
    s += "<VirtualHost *:*>\n  ServerName 127.0.0.1\n</VirtualHost>\n";
    s += "<VirtualHost *:*>\n  ServerName vhost.example\n  WSGIScriptAlias / {HANDLERS}/wsgi_apps.py callable-object=raw_env\n</VirtualHost>\n";
    let h = Httpd::start(Mpm::Event, &s);
    let split = |host: &str, path: &str| -> (u16, String, String) {
        let r = raw_request(
            h.port,
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let t = r.text();
        let get = |k: &str| t.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or("?").to_string();
        (r.status, get("SCRIPT_NAME"), get("PATH_INFO"))
    };
    // The main server has no alias for "/", so unmatched paths fall through (404).
    assert_eq!(split("127.0.0.1", "/app"), (200, "/app".into(), "".into()));
    assert_eq!(split("127.0.0.1", "/app/"), (200, "/app".into(), "/".into()));
    assert_eq!(split("127.0.0.1", "/app/x/y"), (200, "/app".into(), "/x/y".into()));
    assert_eq!(split("127.0.0.1", "//app//x"), (200, "/app".into(), "/x".into()));
    assert_eq!(split("127.0.0.1", "/apple").0, 404);
    assert_eq!(split("127.0.0.1", "/slash/"), (200, "/slash/".into(), "".into()));
    assert_eq!(split("127.0.0.1", "/slash").0, 404);
    assert_eq!(
        split("127.0.0.1", "/m/wsgi_apps.x/more"),
        (200, "/m/wsgi_apps.x".into(), "/more".into())
    );
    // The virtual host's "/" alias: SCRIPT_NAME is empty and PATH_INFO the whole path.
    assert_eq!(split("vhost.example", "/"), (200, "".into(), "/".into()));
    assert_eq!(split("vhost.example", "/x/y"), (200, "".into(), "/x/y".into()));
}

#[test]
fn wsgi_input_reads_exactly_and_ends_at_once() {
    let h = Httpd::start(Mpm::Worker, &site());
    let body = b"line one\nline two is longer\nthird\nno newline at end";
    let post = |mode: &str, extra: &[(&str, &[u8])], data: &[u8]| h.request("POST", &format!("/input?{mode}"), extra, data).text();
    assert_eq!(post("read", &[], body), format!("[{}, b'', b'']", py_bytes(body)));
    assert_eq!(
        post("lines", &[], body),
        "[b'line one\\n', b'lin', b'e two is longer\\n', b'third\\n', b'no newline at end', b'']"
    );
    assert_eq!(
        post("hint", &[], body),
        "[b'line one\\n', b'|', b'line two is longer\\nthird\\nno newline at end']"
    );
    assert_eq!(
        post("iter", &[], body),
        "[b'line one\\n', b'line two is longer\\n', b'third\\n', b'no newline at end']"
    );
    let chunks = post("chunks", &[], body);
    assert!(chunks.starts_with("[b'line on', b'e\\nline '"), "{chunks}");
    assert_eq!(post("read", &[], b""), "[b'', b'', b'']");
    // Chunked request body (allowed for /input by WSGIChunkedRequest On).
    let chunked = common::chunked(body, 10);
    assert_eq!(
        post("read", &[("Transfer-Encoding", b"chunked")], &chunked),
        format!("[{}, b'', b'']", py_bytes(body))
    );
    // Elsewhere chunked bodies get 411, as under mod_wsgi.
    let r = h.request("POST", "/env", &[("Transfer-Encoding", b"chunked")], b"0\r\n\r\n");
    assert_eq!(r.status, 411);
}

/// A client that sends `Expect: 100-continue` waits for the interim answer
/// before it sends the body: it comes when the application reads (the body
/// is set up before the application runs, with the GIL held, which must not
/// send anything or block), and the body then reads back whole.
#[test]
fn expect_100_continue_body_reaches_the_application() {
    let h = Httpd::start(Mpm::Event, &(ONE_CHILD.to_string() + &site()));
    let body = b"sent only after 100 Continue";
    let mut s = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /input?read HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut interim = Vec::new();
    let mut b = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut b).unwrap(),
            1,
            "connection ended before the interim answer: {:?}",
            String::from_utf8_lossy(&interim)
        );
        interim.push(b[0]);
    }
    assert!(interim.starts_with(b"HTTP/1.1 100 "), "{}", String::from_utf8_lossy(&interim));
    s.write_all(body).unwrap();
    let r = read_response(&mut s, false);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), format!("[{}, b'', b'']", py_bytes(body)));
    h.stop();
}

fn py_bytes(b: &[u8]) -> String {
    let mut s = String::from("b'");
    for &c in b {
        match c {
            b'\n' => s.push_str("\\n"),
            b'\'' => s.push_str("\\'"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('\'');
    s
}

#[test]
fn client_disconnect_mid_body_raises_oserror_in_the_app() {
    let h = Httpd::start(Mpm::Event, &site());
    let mut s = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    s.write_all(b"POST /disconnect HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nonly a few bytes")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(s);
    let log = h.wait_log("input_disconnect saw");
    assert!(log.contains("input_disconnect saw OSError"), "{log}");
    assert_eq!(h.get("/env").status, 200, "child keeps serving");
}

#[test]
fn start_response_rejects_bad_status_and_headers_with_500() {
    let h = Httpd::start(Mpm::Event, &site());
    for kind in ["nodigits", "short", "ctl", "nonlatin", "bytes", "newline"] {
        let r = h.get(&format!("/bad-status?{kind}"));
        assert_eq!(r.status, 500, "status {kind}");
        assert!(!r.text().contains("should not be sent"));
    }
    for kind in ["crlf", "lf", "tuple", "notpair", "bytesname", "nonlatin", "badname", "cl"] {
        let r = h.get(&format!("/bad-headers?{kind}"));
        assert_eq!(r.status, 500, "headers {kind}");
        assert!(
            r.header("set-cookie").is_none() && r.header("x-bad").is_none(),
            "header injection got through: {r:?}"
        );
    }
    let log = h.error_log();
    assert!(log.contains("carriage return/line feed character in header value"), "{log}");
    assert!(log.contains("start_response() argument 2 must be list"), "{log}");
    assert!(log.contains("status code must be a 3 digit integer"), "{log}");
    assert_eq!(h.get("/env").status, 200);
}

#[test]
fn start_response_exc_info_and_write_callable() {
    let h = Httpd::start(Mpm::Event, &site());
    // As mod_wsgi: before any output a second call replaces the first.
    let r = h.get("/twice");
    assert_eq!((r.status, r.text().as_str()), (500, "second call was allowed"));
    let r = h.get("/exc-before");
    assert_eq!((r.status, r.text().as_str()), (503, "replaced"));
    assert!(r.header("x-first").is_none(), "the replaced headers are gone");
    let r = h.get("/exc-after");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "already sent;");
    assert!(r.truncated, "an error after the headers went out cuts the response");
    let log = h.wait_log("KeyError: 'late'");
    assert!(log.contains("KeyError: 'late'"), "{log}");
    assert_eq!(h.get("/write").text(), "from write;from iterable;end");
}

#[test]
fn response_bodies_close_and_errors() {
    let h = Httpd::start(Mpm::Event, &(site() + ONE_CHILD));
    let r = h.get("/gen");
    assert_eq!(r.text(), "one,two,three");
    let r = h.get("/raises");
    assert_eq!(r.status, 500);
    assert!(!r.text().contains("wsgi app failure 777"));
    let log = h.wait_log("wsgi app failure 777");
    assert!(log.contains("Traceback (most recent call last)"), "{log}");
    let r = h.get("/before");
    assert_eq!(r.status, 500);
    let r = h.get("/midstream");
    assert_eq!(r.status, 200);
    assert!(r.truncated, "cut response must be visible: {r:?}");
    assert_eq!(h.get("/not-bytes").status, 500);
    let r = h.get("/too-long");
    assert_eq!(r.text(), "12345", "never more than Content-Length");
    let r = h.request("HEAD", "/head", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header_str("content-length").as_deref(), Some("17"));
    // Nothing follows the head of a HEAD response on the wire.
    let raw = raw_bytes(h.port, b"HEAD /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(raw.ends_with(b"\r\n\r\n"), "HEAD sent a body: {:?}", String::from_utf8_lossy(&raw));
    // A client that goes away during a streaming response: close() still runs.
    {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
        s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 1000];
        let _ = s.read(&mut buf);
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let closed: Vec<String> = serde_json::from_str(&h.get("/closed").text()).unwrap();
    for name in ["gen", "midstream", "before", "slow"] {
        assert!(closed.contains(&name.to_string()), "close() not called for {name}: {closed:?}");
    }
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn file_wrapper_sends_real_files_through_httpd() {
    let h = Httpd::start(Mpm::Event, &(site() + ONE_CHILD));
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    h.write_doc("big.bin", &data);
    let r = h.get("/file");
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert_eq!(r.header_str("content-length"), Some(data.len().to_string()));
    assert!(r.body == data, "file body differs");
    let r = h.get("/file?offset");
    assert!(r.body == data[1000..], "offset from tell() honoured");
    assert_eq!(h.get("/file-pipe").text(), "not a real file, read in blocks");
    let closed: Vec<String> = serde_json::from_str(&h.get("/closed").text()).unwrap();
    assert!(closed.iter().filter(|c| *c == "file").count() >= 2, "{closed:?}");
}

#[test]
fn stdout_goes_to_the_error_log_or_is_restricted() {
    let h = Httpd::start(Mpm::Event, &site());
    assert_eq!(h.get("/prints").text(), "printed");
    let log = h.wait_log("printed to stdout by a WSGI app");
    assert!(log.contains("printed to stdout by a WSGI app"), "{log}");
    drop(h);
    let h = Httpd::start(Mpm::Event, &(site() + "WSGIRestrictStdout On\n"));
    assert!(h.get("/prints").text().starts_with("OSError: sys.stdout access restricted"));
}
