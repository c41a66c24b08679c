//! Daemon mode keeps its connections: a child sends its next request to the
//! group on the connection its last one used; a request that waits on a
//! busy daemon's connection goes to a free daemon instead; a daemon that
//! dies or recycles while connections wait idle loses no request. Work is
//! counted (connections taken, pids that answered), never timed.
mod common;
use common::*;

/// How many connections the daemons took (their debug line).
fn connections_taken(log: &str) -> usize {
    log.lines().filter(|l| l.contains("took a new connection")).count()
}

#[test]
fn one_connection_carries_many_requests() {
    let h = Httpd::start(
        Mpm::Prefork,
        "LogLevel info pyrite:debug\n\
         WSGIDaemonProcess keep processes=2 threads=2\n\
         WSGIScriptAlias /pid {HANDLERS}/daemon_apps.py callable-object=pid process-group=keep\n\
         WSGIScriptAlias /echo {HANDLERS}/daemon_apps.py callable-object=echo process-group=keep\n\
         WSGIScriptAlias /big {HANDLERS}/daemon_apps.py callable-object=big process-group=keep\n",
    );
    // Sizes of every kind on the same connections: no body, a body, a
    // streamed (chunked) response, a HEAD; each must end where it should.
    let mut served = 0;
    for i in 0..20 {
        let r = h.get("/pid");
        assert_eq!(r.status, 200, "{}", h.error_log());
        assert!(r.text().parse::<i32>().is_ok(), "{}", r.text());
        let body = vec![b'a' + (i % 26) as u8; 1000 * i as usize];
        let r = h.request("POST", "/echo", &[], &body);
        assert_eq!(r.status, 200);
        assert!(r.text().starts_with(&format!("{} ", body.len())), "{}", r.text());
        let r = h.get("/big?3");
        assert_eq!((r.status, r.body.len()), (200, 3 * 65536));
        let r = h.request("HEAD", "/pid", &[], b"");
        assert_eq!((r.status, r.body.len()), (200, 0));
        served += 4;
    }
    let log = h.stop();
    let taken = connections_taken(&log);
    // At most one connection per child (prefork: one thread each, at most
    // 8 children), never one per request.
    assert!((1..=8).contains(&taken), "{served} requests took {taken} connections\n{log}");
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn a_request_waiting_on_a_busy_daemon_goes_to_a_free_one() {
    let h = Httpd::start(
        Mpm::Prefork,
        "WSGIDaemonProcess busy processes=2 threads=1\n\
         WSGIScriptAlias /pid {HANDLERS}/daemon_apps.py callable-object=pid process-group=busy\n\
         WSGIScriptAlias /slow {HANDLERS}/daemon_apps.py callable-object=slow process-group=busy\n",
    );
    // Every child keeps connections to the daemons.
    for _ in 0..30 {
        assert_eq!(h.get("/pid").status, 200, "{}", h.error_log());
    }
    let port = h.port;
    let slow = std::thread::spawn(move || request(port, "GET", "/slow?6", &[], b""));
    // Until the slow request is taken, quick ones may still go to its daemon.
    let mut pids = std::collections::HashSet::new();
    for _ in 0..300 {
        pids.insert(h.get("/pid").text());
        if pids.len() == 1 {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    // While one daemon's only thread is busy, every quick request is answered
    // by the other daemon, whichever connection its child had kept.
    let during: Vec<String> = (0..24).map(|_| h.get("/pid").text()).collect();
    let r = slow.join().unwrap();
    assert_eq!(r.status, 200);
    let slow_pid = r.text().trim_start_matches("slow ").to_string();
    let waited = during.iter().filter(|p| **p == slow_pid).count();
    assert_eq!(
        waited, 0,
        "{waited} of 24 quick requests waited for the busy daemon {slow_pid}: {during:?}"
    );
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn a_daemon_killed_while_connections_are_idle_loses_no_request() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess idle processes=2 threads=2\n\
         WSGIScriptAlias /pid {HANDLERS}/daemon_apps.py callable-object=pid process-group=idle\n",
    );
    // Connections to both daemons, kept by many child threads.
    let port = h.port;
    let warm: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || (0..10).map(|_| request(port, "GET", "/pid", &[], b"").text()).collect::<Vec<_>>()))
        .collect();
    let mut seen: Vec<String> = Vec::new();
    for t in warm {
        seen.extend(t.join().unwrap());
    }
    let mut pids: Vec<String> = seen.clone();
    pids.sort_by_key(|p| std::cmp::Reverse(seen.iter().filter(|q| *q == p).count()));
    pids.dedup();
    // The daemon that took the most requests holds the most kept connections.
    let victim: i32 = pids.first().unwrap().parse().unwrap();
    // SAFETY: a daemon this test's httpd forked.
    unsafe { libc::kill(victim, libc::SIGKILL) };
    // Every kept connection to it is now dead: each request still gets its answer.
    let after: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || (0..10).map(|_| request(port, "GET", "/pid", &[], b"")).collect::<Vec<_>>()))
        .collect();
    let mut failed = Vec::new();
    for t in after {
        for r in t.join().unwrap() {
            if r.status != 200 || r.text().parse::<i32>().map_or(true, |p| p == victim) {
                failed.push(format!("{} {}", r.status, r.text()));
            }
        }
    }
    assert!(failed.is_empty(), "{} of 80 failed: {failed:?}\n{}", failed.len(), h.error_log());
    let log = h.stop();
    assert!(crash_lines(&log).iter().all(|l| l.contains("signal 9")), "{log}");
}

#[test]
fn a_request_shed_by_queue_timeout_never_runs_with_or_without_a_body() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess q processes=1 threads=1 queue-timeout=1\n\
         WSGIScriptAlias /slow {HANDLERS}/daemon_apps.py callable-object=slow process-group=q\n\
         WSGIScriptAlias /echo {HANDLERS}/daemon_apps.py callable-object=echo process-group=q\n",
    );
    let port = h.port;
    // The one thread is busy for 5 s; requests queued behind it wait 1 s at most.
    let busy = std::thread::spawn(move || request(port, "GET", "/slow?5", &[], b""));
    std::thread::sleep(std::time::Duration::from_millis(1000));
    // Without a body the daemon takes a request through the shared slot; with
    // one, with the pickup byte: in both, the child's 503 means it never runs.
    let r = h.get("/slow?0");
    assert_eq!(r.status, 503, "{}", r.text());
    let r = h.request("POST", "/echo", &[], b"a body");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(busy.join().unwrap().status, 200);
    // The daemon, free again, finds both given up: neither runs.
    let log = h.wait_log("is not run");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut log = log;
    while log.matches("is not run").count() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        log = h.error_log();
    }
    assert_eq!(log.matches("is not run").count(), 2, "{log}");
    // And the group serves on.
    assert_eq!(h.get("/slow?0").status, 200);
    h.stop();
}

#[test]
fn a_client_slow_to_send_a_small_body_holds_no_daemon_thread() {
    // One daemon thread, and requests that wait for it get 503 after 2 s.
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess one processes=1 threads=1 queue-timeout=2\n\
         WSGIScriptAlias /pid {HANDLERS}/daemon_apps.py callable-object=pid process-group=one\n\
         WSGIScriptAlias /echo {HANDLERS}/daemon_apps.py callable-object=echo process-group=one\n",
    );
    assert_eq!(h.get("/pid").status, 200, "{}", h.error_log());
    use std::io::{Read, Write};
    // A POST whose head is sent, not yet its small body: the child reads
    // such a body before it hands the request over, so the daemon's only
    // thread stays free for others meanwhile.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
        .unwrap();
    for _ in 0..5 {
        assert_eq!(h.get("/pid").status, 200, "{}", h.error_log());
    }
    s.write_all(b"hello").unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\r\n\r\n5 "), "{answer}");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}
