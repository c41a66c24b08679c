//! Start-up preloading, the per-child gate and the switch interval.
mod common;
use common::*;
use std::sync::Arc;

const ONE_CHILD: &str = "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";

fn max_inside(gate: Option<usize>) -> (usize, String) {
    let mut site = location("/g", "gated", "") + &location("/report", "gated::report", "") + ONE_CHILD;
    if let Some(n) = gate {
        site += &format!("PyriteMaxPythonThreads {n}\nPyriteSwitchInterval 0.02\n");
    }
    let h = Arc::new(Httpd::start(Mpm::Event, &site));
    let hs: Vec<_> = (0..6)
        .map(|_| {
            let h = h.clone();
            std::thread::spawn(move || assert_eq!(h.get("/g").text(), "ok"))
        })
        .collect();
    for t in hs {
        t.join().unwrap();
    }
    let report = h.get("/report").text();
    let mut parts = report.split(' ');
    (parts.next().unwrap().parse().unwrap(), parts.next().unwrap().to_string())
}

#[test]
fn gate_limits_threads_inside_python_per_child() {
    let (gated, interval) = max_inside(Some(1));
    assert_eq!(gated, 1, "with PyriteMaxPythonThreads 1 requests run one at a time");
    assert_eq!(interval, "0.02", "PyriteSwitchInterval applies");
    let (open, interval) = max_inside(None);
    assert!(open > 1, "without the gate requests overlap (saw {open})");
    assert_eq!(interval, "0.005", "Python's default switch interval");
}

#[test]
fn handler_modules_are_preloaded_at_child_start() {
    let site = location("/c", "preload_check", "") + &location("/p", "preload", "");
    let h = Httpd::start(Mpm::Event, &site);
    let log = h.wait_log("handler module(s)");
    assert!(log.contains("2 handler module(s)"), "{log}");
    let v: serde_json::Value = serde_json::from_str(&h.get("/c").text()).unwrap();
    assert_eq!(
        v["preloaded"], true,
        "the module named by PythonHandler /p was imported at start: {v}"
    );
    drop(h);
    let h = Httpd::start(Mpm::Event, &(site + "PyritePreload Off\n"));
    let v: serde_json::Value = serde_json::from_str(&h.get("/c").text()).unwrap();
    assert_eq!(v["preloaded"], false, "PyritePreload Off imports on first use: {v}");
}

#[test]
fn tuning_directives_refuse_bad_values() {
    for (line, needle) in [
        ("PyriteMaxPythonThreads lots", "is not a number of threads"),
        ("PyriteSwitchInterval 0", "is not a number of seconds"),
        ("PyriteSwitchInterval -1", "is not a number of seconds"),
        (
            "<VirtualHost *:*>\nPyriteMaxPythonThreads 2\n</VirtualHost>",
            "applies to the whole server",
        ),
        ("PyritePreload maybe", "PyritePreload"),
        ("PyriteChildScheduling fast", "is neither batch nor normal"),
        (
            "<VirtualHost *:*>\nPyriteChildScheduling batch\n</VirtualHost>",
            "applies to the whole server",
        ),
    ] {
        let h = Httpd::prepare(Mpm::Event, &format!("{line}\n"));
        let out = h.apachectl("configtest");
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "`{line}` accepted");
        assert!(text.contains(needle), "`{line}`: {text}");
    }
}

#[test]
fn start_up_logs_a_capacity_summary_and_warnings() {
    let site = location("/p", "preload", "") + "WSGIScriptAlias /w {HANDLERS}/wsgi_reload.py\nMaxConnectionsPerChild 100\n";
    let h = Httpd::start(Mpm::Event, &site);
    let log = h.stop();
    assert!(
        log.contains("mod_pyrite capacity: MPM event, up to 3 process(es) x 8 thread(s) = 24 workers; Python gate off; each child preloads 1 handler module(s), 0 PythonImport(s), 1 WSGI script(s)"),
        "{log}"
    );
    assert!(log.contains("MaxConnectionsPerChild 100 starts a new child"), "{log}");
    let h = Httpd::start(Mpm::Prefork, &location("/p", "preload", ""));
    let log = h.stop();
    assert!(log.contains("the prefork MPM holds a whole interpreter and application"), "{log}");
}

#[test]
fn worker_thread_states_are_made_at_child_start() {
    let h = Httpd::start(Mpm::Event, &location("/ts", "thread_state", ""));
    let log = h.wait_log("thread state(s)");
    // The harness runs 8 threads per child: each child makes 8 states before serving.
    assert!(log.contains(", 8 thread state(s) "), "{log}");
    // Requests on several threads: each runs with a state that is really its own.
    let mut threads = std::collections::HashSet::new();
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let port = h.port;
            std::thread::spawn(move || (0..10).map(|_| request(port, "GET", "/ts", &[], b"").text()).collect::<Vec<_>>())
        })
        .collect();
    for t in hs {
        for text in t.join().unwrap() {
            assert!(text.starts_with("frames=True gilstate=1 thread="), "{text}");
            threads.insert(text);
        }
    }
    assert!(threads.len() > 1, "requests ran on one thread only: {threads:?}");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
    // Prefork's one worker is the child's main thread: nothing to make.
    let h = Httpd::start(Mpm::Prefork, &location("/ts", "thread_state", ""));
    assert!(h.get("/ts").text().starts_with("frames=True gilstate=1"));
    let log = h.stop();
    assert!(log.contains(", 0 thread state(s) "), "{log}");
}

#[test]
fn a_child_imports_only_what_it_needs() {
    // Each of these costs a child megabytes (importlib.abc pulls in
    // importlib.resources, pathlib, tempfile and typing; hashlib loads OpenSSL).
    let h = Httpd::start(Mpm::Event, "WSGIScriptAlias /m {HANDLERS}/wsgi_modules.py\n");
    let r = h.get("/m");
    assert_eq!(r.status, 200, "{}", h.error_log());
    let modules: Vec<String> = r.text().split(' ').map(str::to_string).collect();
    for heavy in ["importlib.resources", "pathlib", "tempfile", "typing", "_hashlib", "ssl"] {
        assert!(!modules.iter().any(|m| m == heavy), "{heavy} imported: {modules:?}");
    }
    h.stop();
}
