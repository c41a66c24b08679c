//! What a child relays from its daemon: the status line as the application
//! wrote it, every header field in order (however many), bodies with and
//! without a length, and a client connection that goes on after each.
mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn site() -> String {
    "WSGIDaemonProcess relay processes=1 threads=2\n\
     WSGIScriptAlias /many {HANDLERS}/daemon_relay.py process-group=relay application-group=%{GLOBAL} callable-object=many\n\
     WSGIScriptAlias /pieces {HANDLERS}/daemon_relay.py process-group=relay application-group=%{GLOBAL} callable-object=pieces\n\
     WSGIScriptAlias /small {HANDLERS}/daemon_relay.py process-group=relay application-group=%{GLOBAL} callable-object=small\n"
        .to_string()
}

#[test]
fn a_head_with_many_fields_arrives_whole_and_in_order() {
    let h = Httpd::start(Mpm::Event, &site());
    let mut s = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /many HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 299 Quite Fine Indeed\r\n"), "{text}");
    let r = parse_response(&raw, false);
    let fields: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("X-Field-"))
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    let want: Vec<(String, String)> = (0..36).map(|i| (format!("X-Field-{i:02}"), format!("value {i}"))).collect();
    assert_eq!(fields, want);
    assert_eq!(r.headers_named("Set-Cookie"), vec![&b"a=1"[..], &b"b=2"[..]]);
    assert_eq!(r.header_str("X-Spaced").as_deref(), Some("kept inside  "));
    assert_eq!(r.header_str("Content-Type").as_deref(), Some("text/plain; charset=utf-8"));
    assert_eq!(
        (r.header_str("Content-Length").as_deref(), r.body.as_slice()),
        (Some("11"), &b"many fields"[..])
    );
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn responses_follow_each_other_on_one_client_connection() {
    let h = Httpd::start(Mpm::Event, &site());
    let mut s = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // Pipelined: sized, chunked, HEAD, sized again; the last closes.
    s.write_all(
        b"GET /small/1 HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /pieces HTTP/1.1\r\nHost: x\r\n\r\n\
          HEAD /small/3 HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /small/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let heads: Vec<&str> = text.matches("HTTP/1.1 ").collect();
    assert_eq!(heads.len(), 4, "{text}");
    let first = text.find("small:/1").expect("first body");
    let pieces = text.find("piece 0;").expect("chunked body");
    let last = text.find("small:/4").expect("last body");
    assert!(first < pieces && pieces < last, "{text}");
    assert!(text.contains("piece 4;"), "{text}");
    assert!(!text.contains("small:/3"), "HEAD has no body: {text}");
    assert_eq!(text.matches("HTTP/1.1 201 Made\r\n").count(), 3, "{text}");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}
