//! Request bodies reach handlers exactly: req.read, read(n), readline, readlines.
mod common;
use common::*;

fn site() -> String {
    let mut s = location("/echo", "body::echo", "");
    s += &location("/digest", "body::digest", "");
    s += &location("/lines", "body::lines", "");
    s += &location("/after-end", "body::after_end", "");
    s += "LimitRequestBody 20000000\n";
    s
}

/// Deterministic bytes covering every value.
fn pattern(n: usize) -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}

#[test]
fn post_bodies_of_0_1_and_10mb_read_back_exactly() {
    let h = Httpd::start(Mpm::Event, &site());
    for n in [0usize, 1, 10 * 1024 * 1024] {
        let body = pattern(n);
        let r = h.request("POST", "/echo", &[("Content-Type", b"application/octet-stream")], &body);
        assert_eq!(r.status, 200, "{n} bytes: {}", h.error_log());
        assert_eq!(r.header_str("x-read-len"), Some(n.to_string()));
        assert_eq!(r.body.len(), n);
        assert!(r.body == body, "{n}-byte body came back changed");
    }
}

#[test]
fn read_in_blocks_and_chunked_request_bodies() {
    let h = Httpd::start(Mpm::Worker, &site());
    let body = pattern(3 * 1024 * 1024 + 17);
    let r = h.request("POST", "/digest", &[], &body);
    let text = r.text();
    assert!(text.starts_with(&format!("{} ", body.len())), "{text}");

    // Chunked transfer encoding is de-chunked for the handler.
    let chunked = common::chunked(&body, 100_000);
    let r2 = h.request("POST", "/digest", &[("Transfer-Encoding", b"chunked")], &chunked);
    assert_eq!(r2.status, 200, "{}", h.error_log());
    assert_eq!(r2.text(), text, "chunked and plain bodies read the same");
}

#[test]
fn readline_readlines_and_reading_past_the_end() {
    let h = Httpd::start(Mpm::Prefork, &site());
    let r = h.request("POST", "/lines", &[], b"first line\nabcdef\nthird\nlast no newline");
    assert_eq!(
        r.text(),
        "[b'first line\\n', b'abc', b'def\\n', b'third\\n', b'last no newline', b'']"
    );
    let r = h.request("POST", "/after-end", &[], b"xyz");
    assert_eq!(r.text(), "3 b'' b''");
    let r = h.request("GET", "/after-end", &[], b"");
    assert_eq!(r.text(), "0 b'' b''");
}

#[test]
fn body_over_limit_is_refused_with_413() {
    let h = Httpd::start(Mpm::Event, &(site() + "<Location /echo>\n LimitRequestBody 1000\n</Location>\n"));
    let r = h.request("POST", "/echo", &[], &pattern(5000));
    assert_eq!(r.status, 413, "{}", h.error_log());
    assert_eq!(h.get("/digest").status, 200, "child keeps serving");
}
