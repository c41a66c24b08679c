//! No lost request in daemon mode: under constant load, a group recycling
//! itself (maximum-requests) and graceful restarts of httpd answer every
//! request in full. Work is counted, never timed.
mod common;
use common::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Clients that request `paths` in turn until `stop`; failures are kept.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<Mutex<Vec<String>>>,
    pids: Arc<Mutex<std::collections::HashSet<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, clients: usize, paths: &'static [&'static str], per_client: Option<usize>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(Mutex::new(Vec::new()));
        let pids = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let threads = (0..clients)
            .map(|c| {
                let (stop, ok, failed, pids) = (stop.clone(), ok.clone(), failed.clone(), pids.clone());
                std::thread::spawn(move || {
                    let mut i = c;
                    while !stop.load(Ordering::SeqCst) && per_client.is_none_or(|n| i < c + n) {
                        let path = paths[i % paths.len()];
                        i += 1;
                        let r = request(port, "GET", path, &[], b"");
                        let text = r.text();
                        if r.status == 200 && !r.truncated && (text.starts_with("slow ") || text.parse::<u32>().is_ok()) {
                            ok.fetch_add(1, Ordering::SeqCst);
                            pids.lock().unwrap().insert(text.trim_start_matches("slow ").to_string());
                        } else {
                            failed.lock().unwrap().push(format!("{path}: {} {}", r.status, text));
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            pids,
            threads,
        }
    }

    /// Stops open-ended clients (bounded ones finish their count) and collects.
    fn finish(self, bounded: bool) -> (usize, Vec<String>, usize) {
        if !bounded {
            self.stop.store(true, Ordering::SeqCst);
        }
        for t in self.threads {
            t.join().unwrap();
        }
        let pids = self.pids.lock().unwrap().len();
        (self.ok.load(Ordering::SeqCst), self.failed.lock().unwrap().clone(), pids)
    }
}

/// Every request of a load got its full response.
fn assert_none_lost(ok: usize, failed: &[String], h: &Httpd) {
    assert!(
        failed.is_empty(),
        "{} failed of {}: {failed:?}\n{}",
        failed.len(),
        ok + failed.len(),
        h.error_log()
    );
}

fn wait_for(ok: &AtomicUsize, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while ok.load(Ordering::SeqCst) < n && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn maximum_requests_recycling_under_load_loses_no_request() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess r processes=2 threads=2 maximum-requests=25 graceful-timeout=30\n\
         WSGIScriptAlias /pid {HANDLERS}/daemon_apps.py callable-object=pid process-group=r\n\
         WSGIScriptAlias /slow {HANDLERS}/daemon_apps.py callable-object=slow process-group=r\n",
    );
    static PATHS: [&str; 8] = ["/pid", "/pid", "/pid", "/slow?0.2", "/pid", "/pid", "/pid", "/pid"];
    let load = Load::start(h.port, 8, &PATHS, Some(40));
    let (ok, failed, pids) = load.finish(true);
    assert_none_lost(ok, &failed, &h);
    assert_eq!(ok, 8 * 40);
    assert!(pids >= 6, "320 requests at 25 per daemon recycle many daemons, saw {pids} pids");
    let log = h.stop();
    assert!(log.contains("maximum-requests=25 reached"), "{log}");
    assert!(crash_lines(&log).is_empty(), "{log}");
}

fn graceful_restarts_lose_nothing(mpm: Mpm) {
    let h = Httpd::start(
        mpm,
        "WSGIDaemonProcess g processes=2 threads=4 graceful-timeout=30\n\
         WSGIScriptAlias /pid {HANDLERS}/daemon_apps.py callable-object=pid process-group=g\n\
         WSGIScriptAlias /slow {HANDLERS}/daemon_apps.py callable-object=slow process-group=g\n",
    );
    // Some requests take 2 s, so restarts happen while they run.
    static PATHS: [&str; 6] = ["/pid", "/pid", "/slow?2", "/pid", "/slow?0.1", "/pid"];
    let load = Load::start(h.port, 6, &PATHS, None);
    let mut target = 20;
    for _ in 0..3 {
        wait_for(&load.ok, target);
        let out = h.apachectl("graceful");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        target = load.ok.load(Ordering::SeqCst) + 30;
    }
    wait_for(&load.ok, target);
    let (ok, failed, pids) = load.finish(false);
    assert_none_lost(ok, &failed, &h);
    assert!(pids >= 4, "the daemons were replaced at each restart (saw {pids} pids)");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn graceful_restarts_under_load_lose_no_request_event() {
    graceful_restarts_lose_nothing(Mpm::Event);
}

#[test]
fn graceful_restarts_under_load_lose_no_request_prefork() {
    graceful_restarts_lose_nothing(Mpm::Prefork);
}

#[test]
fn queue_timeout_answers_503_with_retry_after() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess q processes=1 threads=1 queue-timeout=1\n\
         WSGIScriptAlias /slow {HANDLERS}/daemon_apps.py callable-object=slow process-group=q\n",
    );
    let port = h.port;
    // The one thread is busy for 6 s; a request queued behind it waits 1 s at most.
    let busy = std::thread::spawn(move || request(port, "GET", "/slow?6", &[], b""));
    // Let the slow request be picked up first.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let r = h.get("/slow?0");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header_str("retry-after").as_deref(), Some("1"));
    assert_eq!(busy.join().unwrap().status, 200);
    let log = h.stop();
    assert!(log.contains("within queue-timeout"), "{log}");
}

#[test]
fn request_timeout_restarts_a_stuck_daemon_and_a_death_mid_request_is_a_502() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess t processes=1 threads=2 request-timeout=1\n\
         WSGIScriptAlias /slow {HANDLERS}/daemon_apps.py callable-object=slow process-group=t\n\
         WSGIScriptAlias /pid {HANDLERS}/daemon_apps.py callable-object=pid process-group=t\n",
    );
    let before: i32 = h.get("/pid").text().parse().unwrap();
    // A request stuck for 30 s: the daemon is restarted, the request answered 502.
    let r = h.get("/slow?30");
    assert_eq!(r.status, 502, "{}", r.text());
    let after: i32 = h.get("/pid").text().parse().unwrap();
    assert_ne!(before, after, "a new daemon serves the next request");
    let log = h.stop();
    assert!(log.contains("ran past request-timeout=1s"), "{log}");
    assert!(log.contains("closed the connection before sending response headers"), "{log}");
}

#[test]
fn ten_graceful_restarts_with_recycling_and_a_touched_script_lose_no_request() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess s processes=2 threads=4 maximum-requests=150 graceful-timeout=30\n\
         WSGIScriptAlias /pid {HANDLERS}/daemon_apps.py callable-object=pid process-group=s\n\
         WSGIScriptAlias /slow {HANDLERS}/daemon_apps.py callable-object=slow process-group=s\n",
    );
    static PATHS: [&str; 8] = ["/pid", "/pid", "/slow?1", "/pid", "/pid", "/slow?0.05", "/pid", "/pid"];
    let load = Load::start(h.port, 8, &PATHS, None);
    let script = h.root.join("handlers/daemon_apps.py");
    let mut target = 30;
    for i in 0..10 {
        wait_for(&load.ok, target);
        if i == 5 {
            // Touching the script reloads it in the daemons (WSGIScriptReloading On).
            let text = std::fs::read_to_string(&script).unwrap();
            std::fs::write(&script, format!("{text}\n# touched\n")).unwrap();
        }
        let out = h.apachectl("graceful");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        target = load.ok.load(Ordering::SeqCst) + 30;
    }
    wait_for(&load.ok, target + 200);
    let (ok, failed, pids) = load.finish(false);
    assert_none_lost(ok, &failed, &h);
    assert!(pids >= 10, "saw {pids} daemon pids");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

/// The same load against mod_wsgi 4.9 (Debian's build) loses requests: its
/// daemons are killed 3 s into a graceful restart. Shows what the tests above
/// guard against; run with `--ignored` where mod_wsgi is installed.
#[test]
#[ignore]
fn mod_wsgi_loses_requests_across_graceful_restarts() {
    let so = "/usr/lib/apache2/modules/mod_wsgi.so";
    if !std::path::Path::new(so).exists() {
        return;
    }
    let h = Httpd::prepare(
        Mpm::Event,
        "WSGIDaemonProcess g processes=2 threads=4 graceful-timeout=30\n\
         WSGIScriptAlias /pid {HANDLERS}/daemon_apps.py callable-object=pid process-group=g application-group=%{GLOBAL}\n\
         WSGIScriptAlias /slow {HANDLERS}/daemon_apps.py callable-object=slow process-group=g application-group=%{GLOBAL}\n",
    );
    let conf = std::fs::read_to_string(&h.conf).unwrap();
    let conf: String = conf
        .lines()
        .map(|l| {
            if l.starts_with("LoadModule pyrite_module") {
                format!("LoadModule wsgi_module {so}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&h.conf, conf).unwrap();
    assert!(h.apachectl("start").status.success());
    for _ in 0..100 {
        if request(h.port, "GET", "/pid", &[], b"").status == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    static PATHS: [&str; 4] = ["/pid", "/slow?5", "/pid", "/pid"];
    let load = Load::start(h.port, 6, &PATHS, None);
    let mut target = 20;
    for _ in 0..3 {
        wait_for(&load.ok, target);
        assert!(h.apachectl("graceful").status.success());
        target = load.ok.load(Ordering::SeqCst) + 30;
    }
    wait_for(&load.ok, target);
    let (_, failed, _) = load.finish(false);
    assert!(!failed.is_empty(), "mod_wsgi lost no request this time");
    eprintln!("mod_wsgi 4.9: {} failed requests, e.g. {:?}", failed.len(), failed.first());
}

#[test]
fn socket_timeout_answers_504_when_the_application_is_silent_too_long() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess st processes=1 threads=2 socket-timeout=1\n\
         WSGIScriptAlias /slow {HANDLERS}/daemon_apps.py callable-object=slow process-group=st\n",
    );
    assert_eq!(h.get("/slow?0").status, 200);
    assert_eq!(h.get("/slow?4").status, 504);
    let log = h.stop();
    assert!(log.contains("timeout (1s) waiting for the response"), "{log}");
}

/// Which module runs the long scenario.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Module {
    Pyrite,
    ModWsgi,
}

const MOD_WSGI: &str = "/usr/lib/apache2/modules/mod_wsgi.so";

/// httpd for the long scenario: one group of 3 daemons x 4 threads, each
/// recycled every 100 requests, and one for 4 s requests, under this module
/// or mod_wsgi 4.9.
fn soak_httpd(mpm: Mpm, module: Module) -> Httpd {
    let mut site = String::from(
        "WSGIDaemonProcess s processes=3 threads=4 maximum-requests=100 graceful-timeout=30\n\
         WSGIScriptAlias /pid {HANDLERS}/daemon_apps.py callable-object=pid process-group=s application-group=%{GLOBAL}\n\
         WSGIScriptAlias /slow {HANDLERS}/daemon_apps.py callable-object=slow process-group=s application-group=%{GLOBAL}\n\
         WSGIDaemonProcess long processes=1 threads=4 graceful-timeout=30\n\
         WSGIScriptAlias /long {HANDLERS}/daemon_apps.py callable-object=slow process-group=long application-group=%{GLOBAL}\n",
    );
    if module == Module::Pyrite {
        site = format!("LoadModule authz_host_module {MODULES}/mod_authz_host.so\n")
            + &site
            + "<Location /status>\n  SetHandler pyrite-status\n  PyriteStatus On\n  Require ip 127.0.0.1\n</Location>\n";
        return Httpd::start(mpm, &site);
    }
    let h = Httpd::prepare(mpm, &site);
    let conf: String = std::fs::read_to_string(&h.conf)
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("LoadModule pyrite_module") {
                format!("LoadModule wsgi_module {MOD_WSGI}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&h.conf, conf).unwrap();
    assert!(h.apachectl("start").status.success(), "{}", h.error_log());
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", h.port)).is_ok() && request(h.port, "GET", "/pid", &[], b"").status == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    h
}

/// A daemon of group `s` caught idle: stopped (SIGSTOP), seen on the status
/// page with no request in progress, then killed with SIGKILL. A thread
/// that accepted a connection just before the stop is not yet on the page,
/// so the kill may still cut a request; the caller counts those.
fn kill_an_idle_daemon(h: &Httpd) -> i32 {
    let daemons = |h: &Httpd| -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_str(&h.get("/status?json").text()).unwrap();
        let groups = v["daemon_groups"].as_array().cloned().unwrap_or_default();
        let s = groups.iter().find(|g| g["name"] == "s");
        s.and_then(|g| g["daemons"].as_array().cloned()).unwrap_or_default()
    };
    for _ in 0..500 {
        let Some(pid) = daemons(h)
            .iter()
            .find(|d| d["alive"] == true && d["stopping"].is_null())
            .and_then(|d| d["pid"].as_i64())
        else {
            continue;
        };
        let pid = pid as i32;
        // SAFETY: a daemon this test's httpd forked.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        let idle = daemons(h).iter().any(|d| d["pid"] == pid && d["busy_threads"] == 0);
        // SAFETY: as above.
        unsafe { libc::kill(pid, if idle { libc::SIGKILL } else { libc::SIGCONT }) };
        if idle {
            return pid;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Never idle: kill one anyway; what it had taken is counted as cut.
    let pid = daemons(h).iter().find_map(|d| d["pid"].as_i64()).expect("a daemon") as i32;
    eprintln!("  no daemon was seen idle; killing {pid} with requests in progress");
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    pid
}

/// What a long run did.
struct SoakRun {
    ok: usize,
    failed: Vec<String>,
    pids: usize,
    log: String,
}

/// Issue 15's scenario: constant load (8 clients, some requests taking
/// 0.5 s, and 2 clients whose requests take 4 s in a second group) through `restarts` graceful restarts of httpd, with the group
/// recycling (maximum-requests=100), the script touched once (WSGIScriptReloading)
/// and one daemon killed with SIGKILL; `phase` requests between events.
fn daemon_soak(mpm: Mpm, module: Module, restarts: usize, phase: usize) -> SoakRun {
    let h = soak_httpd(mpm, module);
    static PATHS: [&str; 10] = [
        "/pid",
        "/pid",
        "/slow?0.5",
        "/pid",
        "/pid",
        "/slow?0.02",
        "/pid",
        "/pid",
        "/pid",
        "/slow?0.1",
    ];
    let load = Load::start(h.port, 8, &PATHS, None);
    // Two more clients whose requests take 4 s, in a second group: every
    // restart finds some in flight past the 3 s after which mod_wsgi 4.9
    // kills old daemons.
    static LONG: [&str; 1] = ["/long?4"];
    let long = Load::start(h.port, 2, &LONG, None);
    let script = h.root.join("handlers/daemon_apps.py");
    let mut target = phase;
    for i in 0..restarts {
        wait_for(&load.ok, target);
        if i == restarts / 3 {
            let text = std::fs::read_to_string(&script).unwrap();
            std::fs::write(&script, format!("{text}\n# touched\n")).unwrap();
        }
        if i == 2 * restarts / 3 {
            let victim = match module {
                Module::Pyrite => kill_an_idle_daemon(&h),
                Module::ModWsgi => {
                    let pid: i32 = h.get("/pid").text().parse().unwrap_or(0);
                    // SAFETY: a daemon this test's httpd forked (0 is never sent).
                    if pid > 0 {
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                    pid
                }
            };
            eprintln!("  killed daemon {victim} with SIGKILL");
            target = load.ok.load(Ordering::SeqCst) + phase;
            wait_for(&load.ok, target);
        }
        let out = h.apachectl("graceful");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        target = load.ok.load(Ordering::SeqCst) + phase;
    }
    wait_for(&load.ok, target);
    let (ok, mut failed, pids) = load.finish(false);
    let (long_ok, long_failed, _) = long.finish(false);
    failed.extend(long_failed);
    let log = h.stop();
    SoakRun {
        ok: ok + long_ok,
        failed,
        pids,
        log,
    }
}

/// The failures grouped by status ("502: 3, 500: 1").
fn by_status(failed: &[String]) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for f in failed {
        let status = f.split_whitespace().nth(1).unwrap_or("?").to_string();
        *counts.entry(status).or_default() += 1;
    }
    counts.iter().map(|(s, n)| format!("{s}: {n}")).collect::<Vec<_>>().join(", ")
}

/// `make soak`: the long version of the tests above on every MPM.
/// PYRITE_DAEMON_RESTARTS (default 10) graceful restarts,
/// PYRITE_DAEMON_PHASE (default 500) requests between events.
#[test]
#[ignore = "soak: make soak"]
fn soak_daemon_restarts_recycling_touch_and_kill_every_mpm() {
    let restarts = soak_count("PYRITE_DAEMON_RESTARTS", 10);
    let phase = soak_count("PYRITE_DAEMON_PHASE", 500);
    for mpm in Mpm::ALL {
        let run = daemon_soak(mpm, Module::Pyrite, restarts, phase);
        // A request the killed daemon had already taken is cut (502, logged):
        // SIGKILL leaves nothing to finish it. Everything else is answered.
        let cut: Vec<&String> = run.failed.iter().filter(|f| f.contains(": 502 ")).collect();
        let others: Vec<&String> = run.failed.iter().filter(|f| !f.contains(": 502 ")).collect();
        eprintln!(
            "{mpm:?}: {} requests answered in full, {} daemons, {restarts} graceful restarts, {} recycled at maximum-requests, {} cut by the SIGKILL",
            run.ok,
            run.pids,
            run.log.matches("stopping (maximum-requests=100 reached)").count(),
            cut.len()
        );
        assert!(others.is_empty(), "{mpm:?}: lost {others:?}\n{}", run.log);
        assert!(cut.len() <= 4, "{mpm:?}: more cut than the killed daemon's 4 threads: {cut:?}");
        assert!(run.log.contains("maximum-requests=100 reached"), "{mpm:?}");
        assert!(run.log.contains("was killed by signal 9"), "{mpm:?}");
        assert!(crash_lines(&run.log).is_empty(), "{mpm:?}: {}", run.log);
    }
}

/// `make soak`: the same scenario against Debian's mod_wsgi 4.9, which
/// loses requests at each graceful restart (its daemons are killed 3 s in)
/// and at each recycling. Reports; never fails the run on mod_wsgi's count.
#[test]
#[ignore = "soak: make soak (reports on mod_wsgi 4.9)"]
fn soak_mod_wsgi_same_scenario_report() {
    if !std::path::Path::new(MOD_WSGI).exists() {
        eprintln!("mod_wsgi 4.9 comparison skipped: {MOD_WSGI} is not installed");
        return;
    }
    let restarts = soak_count("PYRITE_DAEMON_RESTARTS", 10);
    let phase = soak_count("PYRITE_DAEMON_PHASE", 500);
    let run = daemon_soak(Mpm::Event, Module::ModWsgi, restarts, phase);
    eprintln!(
        "mod_wsgi 4.9 (event): {} answered in full, {} failed ({}) through {restarts} graceful restarts, recycling, a touched script and a SIGKILL; e.g. {:?}",
        run.ok,
        run.failed.len(),
        by_status(&run.failed),
        run.failed.first()
    );
}
