//! A flushing req.write whose handler then just returns goes out with the end
//! of the response in one piece; a handler that keeps working still gets its
//! flushed data to the client first; and whatever a handler changes after a
//! flush does not reach the head that flush fixed (src/request/held_flush.rs).
mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn site() -> String {
    let mut s = String::new();
    for (path, h) in [
        ("/page", "flushing::page"),
        ("/two", "flushing::two_writes"),
        ("/stream", "flushing::stream"),
        ("/head-after", "flushing::head_after"),
        ("/raise-after", "flushing::raise_after"),
        ("/404-after", "flushing::not_found_after"),
        ("/profiled", "flushing::profiled"),
        ("/not-flushed", "flushing::not_flushed"),
    ] {
        s += &location(path, h, "");
    }
    s
}

fn chunked(r: &Response) -> bool {
    r.header_str("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
}

/// part1 must reach the client while the handler is still running: the
/// handler waits for a marker file the test creates only after reading part1.
fn streaming_is_not_held(h: &Httpd) {
    let marker = h.root.join("scratch").join("got-part1");
    let mut s = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /stream?{} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        marker.display()
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("part1") {
        let n = s.read(&mut buf).expect("part1 arrives while the handler still runs");
        assert!(n > 0, "connection closed before part1: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    std::fs::write(&marker, b"").unwrap();
    s.read_to_end(&mut got).unwrap();
    let r = parse_response(&got, false);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        "part1\npart2\n",
        "the handler saw the marker, so part1 was sent before it returned"
    );
}

#[test]
fn held_flush_under_event_and_prefork() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        let h = Httpd::start(mpm, &site());

        let r = h.get("/page");
        assert_eq!((r.status, r.text().as_str()), (200, "Hello"), "{mpm:?}");
        assert_eq!(
            r.header_str("Content-Length").as_deref(),
            Some("5"),
            "{mpm:?}: one piece, with its length"
        );
        assert!(!chunked(&r), "{mpm:?}");

        let r = h.get("/two");
        assert_eq!((r.status, r.text().as_str()), (200, "ab"), "{mpm:?}");
        assert_eq!(r.header_str("Content-Length").as_deref(), Some("2"), "{mpm:?}");

        streaming_is_not_held(&h);

        // The head was fixed by the flush: later changes do not reach it.
        let r = h.get("/head-after");
        assert_eq!((r.status, r.text().as_str()), (200, "x"), "{mpm:?}");
        assert!(r.header("X-Late").is_none(), "{mpm:?}: a header set after the flush was sent");

        // An error after a flush: the client sees the started response cut off.
        let r = h.get("/raise-after");
        assert_eq!(r.status, 200, "{mpm:?}");
        assert!(r.text().starts_with("partial"), "{mpm:?}: {}", r.text());
        assert!(r.truncated || chunked(&r), "{mpm:?}: a cut response, not a complete one");
        h.wait_log("after the flush");

        let r = h.get("/404-after");
        assert_eq!(r.status, 200, "{mpm:?}: the 200 went out with the flush");
        assert!(r.text().starts_with('x'), "{mpm:?}: {}", r.text());

        // Under a profiler of the application's own, flushes are not held.
        let r = h.get("/profiled");
        assert_eq!((r.status, r.text().as_str()), (200, "p"), "{mpm:?}");
        assert!(chunked(&r), "{mpm:?}: a real flush makes the response chunked");

        let r = h.get("/not-flushed");
        assert_eq!(r.header_str("Content-Length").as_deref(), Some("1"), "{mpm:?}");

        let log = h.stop();
        assert!(crash_lines(&log).is_empty(), "{mpm:?}: {log}");
    }
}
