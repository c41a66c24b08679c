//! Graceful restarts, graceful stops and child recycling under continuous
//! keep-alive load: no request fails or is cut, no child crashes, and every
//! child that serves has rebuilt its Python state (its PythonImport ran in it).
//! The short runs are here; `make soak` runs the #[ignore]d long ones.
mod common;
#[path = "support/load.rs"]
mod load;
use common::*;
use load::{Load, Tally, Target};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn site() -> String {
    // Two interpreters per child (the server's name for mod_python, a named
    // group for WSGI), each with its own PythonImport.
    "PythonPath \"sys.path+['{HANDLERS}']\"\nPythonImport rel_generation 127.0.0.1\nPythonImport rel_generation wsgi-load\n".to_string()
        + &location("/mp/load", "reliability::load", "")
        + "WSGIScriptAlias /wsgi/load {HANDLERS}/reliability_wsgi.py callable-object=load application-group=wsgi-load\n"
}

fn targets() -> Vec<Target> {
    vec![Target::new("/mp/load", true), Target::new("/wsgi/load", true)]
}

fn parent_pid(h: &Httpd) -> Option<i32> {
    std::fs::read_to_string(h.root.join("run/httpd.pid")).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only probes whether the pid exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Polls single requests until one is served by generation `gen`.
fn wait_generation(h: &Httpd, gen: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let r = h.get("/mp/load?t=probe&n=10");
        if r.header_str("x-gen").and_then(|g| g.parse::<i64>().ok()) == Some(gen) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("generation {gen} never served\n{}", h.error_log());
}

/// Waits until the restarted httpd answers a request.
fn wait_answering(h: &Httpd) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", h.port)) {
            use std::io::{Read, Write};
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = s.write_all(b"GET /mp/load?t=probe&n=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            if out.starts_with(b"HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("httpd did not answer after start\n{}", h.error_log());
}

/// The import records of rel_generation.py: (pid, uid, ppid) per child.
fn imports(h: &Httpd) -> Vec<(i64, i64, i64)> {
    let text = std::fs::read_to_string(h.root.join("scratch/imports.txt")).unwrap_or_default();
    text.lines()
        .map(|l| {
            let field = |k: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(k))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(-1)
            };
            (field("pid="), field("uid="), field("ppid="))
        })
        .collect()
}

/// Every serving child imported its Python state itself, never as root, never in the parent.
fn check_python_state(h: &Httpd, tally: &Tally, parents: &BTreeSet<i64>) {
    let records = imports(h);
    let imported: BTreeSet<i64> = records.iter().map(|r| r.0).collect();
    for pid in tally.children.keys() {
        assert!(
            imported.contains(pid),
            "child {pid} served without its own PythonImport: {records:?}"
        );
        assert!(!parents.contains(pid), "Python ran in the parent {pid}");
    }
    if unsafe { libc::getuid() } == 0 {
        assert!(records.iter().all(|r| r.1 != 0), "Python ran as root: {records:?}");
    }
    for r in &records {
        assert!(
            parents.contains(&r.2),
            "imported in a process whose parent {} is not httpd: {r:?}",
            r.2
        );
    }
}

fn graceful_restarts(mpm: Mpm, restarts: i64, clients: usize) {
    let h = Httpd::start(mpm, &site());
    let parent = parent_pid(&h).unwrap() as i64;
    let load = Load::start(h.port, clients, targets());
    load.wait_for(200);
    for gen in 1..=restarts {
        let out = h.apachectl("graceful");
        assert!(out.status.success(), "graceful: {}", String::from_utf8_lossy(&out.stderr));
        wait_generation(&h, gen);
        load.wait_for(100);
    }
    let tally = load.finish();
    check_python_state(&h, &tally, &BTreeSet::from([parent]));
    let expected: BTreeSet<i64> = (0..=restarts).collect();
    assert_eq!(tally.generations, expected, "every generation served the load");
    let log = h.stop();
    tally.assert_clean(&format!("{mpm:?}: {restarts} graceful restarts, {clients} clients"), &log);
}

fn graceful_stops(mpm: Mpm, cycles: usize, clients: usize) {
    let h = Httpd::start(mpm, &site());
    let mut parents = BTreeSet::new();
    let load = Load::start(h.port, clients, targets());
    load.wait_for(200);
    for cycle in 0..cycles {
        let parent = parent_pid(&h).expect("pid file");
        parents.insert(parent as i64);
        load.set_stopping(true);
        let out = h.apachectl("graceful-stop");
        assert!(out.status.success(), "graceful-stop: {}", String::from_utf8_lossy(&out.stderr));
        // In-flight requests finish before the parent exits (GracefulShutdownTimeout 0 waits for them).
        let deadline = Instant::now() + Duration::from_secs(60);
        while alive(parent) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(parent), "cycle {cycle}: httpd did not stop gracefully\n{}", h.error_log());
        let out = h.apachectl("start");
        assert!(out.status.success(), "start: {}", String::from_utf8_lossy(&out.stderr));
        wait_answering(&h);
        load.set_stopping(false);
        load.wait_for(100);
    }
    let tally = load.finish();
    parents.insert(parent_pid(&h).unwrap() as i64);
    check_python_state(&h, &tally, &parents);
    // The harness knows only the first parent: stop the current one here.
    let last = parent_pid(&h).unwrap();
    let _ = h.apachectl("stop");
    while alive(last) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = h.error_log();
    tally.assert_clean(&format!("{mpm:?}: {cycles} graceful-stop + start cycles, {clients} clients"), &log);
    assert!(tally.refused > 0 || cycles == 0, "the load ran across the stops");
}

fn recycling(mpm: Mpm, requests: u64) {
    let site = site() + "MaxConnectionsPerChild 15\nMaxKeepAliveRequests 4\n";
    let h = Httpd::start(mpm, &site);
    let load = Load::start(h.port, 6, targets());
    load.wait_for_within(requests, Duration::from_secs(600));
    let tally = load.finish();
    let parent = parent_pid(&h).unwrap() as i64;
    check_python_state(&h, &tally, &BTreeSet::from([parent]));
    let mut h = h;
    let log = h.stop_in_place();
    tally.assert_clean(&format!("{mpm:?}: MaxConnectionsPerChild 15"), &log);
    assert!(tally.children.len() >= 4, "children were recycled: {}", tally.summary());
    // Every child that imported Python ran its child-pool cleanup on exit.
    let exits = std::fs::read_to_string(h.root.join("scratch/child_exits.txt")).unwrap_or_default();
    let exited: BTreeSet<i64> = exits.lines().filter_map(|l| l.strip_prefix("pid=")?.parse().ok()).collect();
    let imported: BTreeSet<i64> = imports(&h).iter().map(|r| r.0).collect();
    let missing: Vec<_> = imported.difference(&exited).collect();
    println!(
        "{mpm:?}: {} children imported Python, {} ran their exit cleanup",
        imported.len(),
        exited.len()
    );
    assert!(missing.is_empty(), "children without an exit cleanup: {missing:?}\n{log}");
}

#[test]
fn five_graceful_restarts_under_load_lose_nothing() {
    graceful_restarts(Mpm::Event, 5, 6);
}

#[test]
fn graceful_stop_and_start_under_load_finish_every_accepted_request() {
    graceful_stops(Mpm::Prefork, 2, 4);
}

#[test]
fn child_recycling_under_load_loses_nothing_and_runs_cleanups() {
    recycling(Mpm::Worker, 1500);
}

#[test]
#[ignore = "soak: make soak"]
fn soak_twenty_graceful_restarts_every_mpm() {
    let n = soak_count("PYRITE_RESTARTS", 20) as i64;
    for mpm in Mpm::ALL {
        graceful_restarts(mpm, n, 16);
    }
}

#[test]
#[ignore = "soak: make soak"]
fn soak_twenty_graceful_stops_every_mpm() {
    let n = soak_count("PYRITE_RESTARTS", 20);
    for mpm in Mpm::ALL {
        graceful_stops(mpm, n, 16);
    }
}

#[test]
#[ignore = "soak: make soak"]
fn soak_child_recycling_every_mpm() {
    for mpm in Mpm::ALL {
        recycling(mpm, 10_000);
    }
}
