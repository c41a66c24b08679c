//! Pools as Python objects: values and cleanups that live exactly as long as
//! the request, the connection and the child.
mod common;
use common::*;
use std::io::{Read, Write};

#[test]
fn request_connection_and_child_pools() {
    check_pools(
        Mpm::Event,
        "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n",
    );
    check_pools(
        Mpm::Prefork,
        "StartServers 1\nServerLimit 1\nMinSpareServers 1\nMaxSpareServers 1\nMaxRequestWorkers 1\n",
    );
}

fn check_pools(mpm: Mpm, one_child: &str) {
    let site = "PythonOption scratch {SCRATCH}\n".to_string() + &location("/p", "pools", "") + one_child;
    let mut h = Httpd::start(mpm, &site);
    // Two requests on one keep-alive connection share its pool.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /p HTTP/1.1\r\nHost: x\r\n\r\nGET /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    drop(s);
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("conn=1 child=1 mine=request value"), "{text}");
    assert!(text.contains("conn=2 child=2"), "{text}");
    let scratch = h.root.join("scratch");
    let read = |f: &str| std::fs::read_to_string(scratch.join(f)).unwrap_or_default();
    for _ in 0..50 {
        if read("request_pool.txt").lines().count() == 2 && !read("conn_pool.txt").is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(read("request_pool.txt").lines().count(), 2, "one request-pool cleanup per request");
    assert_eq!(
        read("conn_pool.txt").lines().count(),
        1,
        "one connection-pool cleanup for the connection"
    );
    assert!(read("child_exit.txt").is_empty(), "the child has not exited yet");
    let log = h.stop_in_place();
    assert!(crash_lines(&log).is_empty(), "{log}");
    for _ in 0..50 {
        if !read("child_exit.txt").is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        std::fs::read_to_string(scratch.join("child_exit.txt"))
            .unwrap_or_default()
            .lines()
            .count(),
        1,
        "child-exit cleanup ran:\n{log}"
    );
}
