//! The status page shows each daemon group: its processes, busy threads,
//! the connections waiting in its socket, its restarts and why, and its own
//! latency figures, which survive the recycling of its daemons. Work is
//! counted, never timed: each check waits for the state it names.
mod common;
use common::*;
use serde_json::Value;

fn site() -> String {
    format!("LoadModule authz_host_module {MODULES}/mod_authz_host.so\n")
        + "WSGIDaemonProcess busy processes=1 threads=1 listen-backlog=50\n\
           WSGIDaemonProcess pool processes=2 threads=3 maximum-requests=5\n\
           WSGIScriptAlias /slow {HANDLERS}/daemon_apps.py callable-object=slow process-group=busy\n\
           WSGIScriptAlias /pid {HANDLERS}/daemon_apps.py callable-object=pid process-group=pool\n\
           <Location /status>\n  SetHandler pyrite-status\n  PyriteStatus On\n  Require ip 127.0.0.1\n</Location>\n"
}

fn status(port: u16) -> Value {
    let r = request(port, "GET", "/status?json", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_str(&r.text()).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", r.text()))
}

fn group<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["daemon_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no group {name}: {v}"))
}

/// The status once `ok` holds for it (or the last one seen, after 30 s).
fn status_when(port: u16, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let v = status(port);
        if ok(&v) || std::time::Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_status_page_shows_each_daemon_group() {
    let h = Httpd::start(Mpm::Event, &site());
    let port = h.port;
    let v = status_when(port, |v| group(v, "pool")["alive"] == 2 && group(v, "busy")["alive"] == 1);
    let (busy, pool) = (group(&v, "busy"), group(&v, "pool"));
    assert_eq!((busy["processes"].as_u64(), busy["threads"].as_u64()), (Some(1), Some(1)), "{busy}");
    assert_eq!((pool["processes"].as_u64(), pool["threads"].as_u64()), (Some(2), Some(3)), "{pool}");
    assert_eq!(pool["alive"], 2, "{pool}");
    assert_eq!(busy["listen_backlog"], 50, "{busy}");
    assert_eq!(busy["queued"], 0, "the kernel reports the socket's queue: {busy}");
    assert_eq!(pool["restarts"]["total"], 0, "{pool}");
    assert!(pool["last_restart"].is_null(), "{pool}");
    let pids: Vec<i64> = pool["daemons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pid"].as_i64().unwrap())
        .collect();
    assert!(pids.iter().all(|&p| p > 0) && pids[0] != pids[1], "{pool}");

    // 12 requests, 5 per daemon: daemons recycle, the group's counts go on.
    for _ in 0..12 {
        assert_eq!(h.get("/pid").status, 200);
    }
    let v = status_when(port, |v| group(v, "pool")["restarts"]["maximum-requests"].as_u64() >= Some(2));
    let pool = group(&v, "pool");
    assert!(pool["restarts"]["maximum-requests"].as_u64() >= Some(2), "{pool}");
    assert!(
        pool["last_restart"]["reason"]
            .as_str()
            .unwrap()
            .contains("maximum-requests=5 reached"),
        "{pool}"
    );
    assert_eq!(pool["requests"], 12, "the group's count includes its replaced daemons: {pool}");
    assert_eq!(pool["statuses"]["2xx"], 12, "{pool}");
    let hist: u64 = pool["histogram_counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(hist, 12, "{pool}");
    assert!(pool["p99_seconds"].as_f64().is_some_and(|p| p > 0.0), "{pool}");
    let children: u64 = v["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(children, 0, "a request handed to a daemon is counted once, in its group");
    assert_eq!(v["totals"]["requests"], 12, "the site's totals include the daemons' requests");

    // The one thread of `busy` is held for a while; two more requests wait in its socket.
    let slow = std::thread::spawn(move || request(port, "GET", "/slow?8", &[], b""));
    let v = status_when(port, |v| group(v, "busy")["busy_threads"] == 1);
    let busy = group(&v, "busy");
    assert_eq!(busy["busy_threads"], 1, "{busy}");
    assert_eq!(busy["daemons"][0]["active"][0]["request"], "GET /slow?8", "{busy}");
    let queued: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || request(port, "GET", "/slow?0", &[], b"")))
        .collect();
    let v = status_when(port, |v| group(v, "busy")["queued"] == 2);
    assert_eq!(group(&v, "busy")["queued"], 2, "{}", group(&v, "busy"));
    let html = h.get("/status").text();
    assert!(html.contains("Daemon groups") && html.contains("GET /slow?8"), "{html}");
    let prom = h.get("/status?metrics").text();
    assert!(prom.contains("pyrite_daemon_busy_threads{group=\"busy\"} 1"), "{prom}");
    assert!(prom.contains("pyrite_daemon_queued_connections{group=\"busy\"} 2"), "{prom}");
    assert_eq!(slow.join().unwrap().status, 200);
    for q in queued {
        assert_eq!(q.join().unwrap().status, 200);
    }
    let v = status_when(port, |v| group(v, "busy")["requests"] == 3);
    let busy = group(&v, "busy");
    assert_eq!(
        (busy["requests"].as_u64(), busy["queued"].as_u64(), busy["busy_threads"].as_u64()),
        (Some(3), Some(0), Some(0)),
        "{busy}"
    );
    assert!(
        prom.contains("pyrite_daemon_restarts_total{group=\"pool\",reason=\"maximum-requests\"}"),
        "{prom}"
    );

    // A daemon killed with SIGKILL: counted, and the reason says so.
    let victim: i32 = h.get("/pid").text().parse().unwrap();
    // SAFETY: a daemon this test's httpd forked.
    unsafe { libc::kill(victim, libc::SIGKILL) };
    let v = status_when(port, |v| group(v, "pool")["restarts"]["killed"] == 1);
    let pool = group(&v, "pool");
    assert_eq!(pool["restarts"]["killed"], 1, "{pool}");
    assert!(
        pool["last_restart"]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("daemon {victim}: was killed by signal 9")),
        "{pool}"
    );
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

/// A daemon restarted by request-timeout is counted under that reason.
#[test]
fn a_request_timeout_restart_is_counted_with_its_reason() {
    let h = Httpd::start(
        Mpm::Event,
        &(format!("LoadModule authz_host_module {MODULES}/mod_authz_host.so\n")
            + "WSGIDaemonProcess t processes=1 threads=2 request-timeout=1\n\
               WSGIScriptAlias /slow {HANDLERS}/daemon_apps.py callable-object=slow process-group=t\n\
               <Location /status>\n  SetHandler pyrite-status\n  PyriteStatus On\n  Require ip 127.0.0.1\n</Location>\n"),
    );
    assert_eq!(h.get("/slow?30").status, 502);
    let v = status_when(h.port, |v| group(v, "t")["restarts"]["request-timeout"] == 1);
    let t = group(&v, "t");
    assert_eq!(t["restarts"]["request-timeout"], 1, "{t}");
    assert_eq!(t["restarts"]["total"], 1, "{t}");
    h.stop();
}
