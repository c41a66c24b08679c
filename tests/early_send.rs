//! A finished small page leaves before the request ends (output::end),
//! so the worker that served it finds the client's next request waiting and
//! goes on with it, instead of handing the connection back to the event MPM's
//! listener. Without the early send httpd holds a response under 4 KB until
//! after the log phase and looks for the next request before the client has
//! even received the first, so the next request comes back on another worker.
mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn site() -> String {
    let log = "  PythonLogHandler early_send::wait_for_marker\n";
    let mut s = location("/page", "early_send::page", log);
    s += "WSGIScriptAlias /app {HANDLERS}/early_send.py\n";
    s += &format!("<Location /app>\n  PythonPath \"sys.path+['{{HANDLERS}}']\"\n{log}</Location>\n");
    s
}

/// Reads one Content-Length framed response from a kept-alive connection.
fn one_response(s: &mut TcpStream) -> Response {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let r = parse_response(&got, true);
            let len: usize = r
                .header_str("Content-Length")
                .expect("a small finished page carries its length")
                .trim()
                .parse()
                .unwrap();
            if got.len() >= end + 4 + len {
                return parse_response(&got[..end + 4 + len], false);
            }
        }
        let n = s
            .read(&mut buf)
            .expect("the response arrives while the log phase still waits for the test");
        assert!(n > 0, "connection closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
}

/// Request 1's log phase waits until the test has read response 1 and sent
/// request 2; the worker then finds request 2 already there.
fn next_request_stays_on_the_worker(h: &Httpd, path: &str) {
    for round in 0..3 {
        let marker = h.root.join("scratch").join(format!("sent-next{}{round}", path.replace('/', "-")));
        let mut s = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        write!(s, "GET {path}?{} HTTP/1.1\r\nHost: t\r\n\r\n", marker.display()).unwrap();
        let first = one_response(&mut s);
        assert_eq!(first.status, 200, "{path}");
        write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
        std::fs::write(&marker, b"").unwrap();
        let second = one_response(&mut s);
        assert_eq!(second.status, 200, "{path}");
        assert_eq!(
            first.text(),
            second.text(),
            "{path} round {round}: the next request went to another worker thread"
        );
    }
}

/// A body the handler never read is read and dropped before the page ends, so
/// the connection goes on with the next request; a body httpd cannot read
/// (broken chunking) ends the connection after the page instead.
fn unread_bodies(h: &Httpd) {
    for path in ["/page", "/app"] {
        let mut s = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        write!(s, "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789").unwrap();
        assert_eq!(one_response(&mut s).status, 200, "{path}");
        write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
        assert_eq!(
            one_response(&mut s).status,
            200,
            "{path}: the unread body was not taken for a request"
        );

        let mut s = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET {path} HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        .unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        let text = String::from_utf8_lossy(&rest);
        assert_eq!(
            text.matches("HTTP/1.1 ").count(),
            1,
            "{path}: one response, then the connection closes: {text}"
        );
    }
}

#[test]
fn small_pages_leave_before_the_request_ends() {
    let h = Httpd::start(Mpm::Event, &site());
    next_request_stays_on_the_worker(&h, "/page");
    next_request_stays_on_the_worker(&h, "/app");
    // Still one piece with its length, for both paths.
    for path in ["/page", "/app"] {
        let r = h.get(path);
        assert_eq!(r.status, 200);
        assert!(r.header_str("Content-Length").is_some(), "{path}: {:?}", r.headers);
        assert!(r.header_str("Transfer-Encoding").is_none(), "{path}");
    }
    unread_bodies(&h);
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}
