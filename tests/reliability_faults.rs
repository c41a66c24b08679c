//! Faults in handlers and applications that tests/handler_errors.rs and
//! tests/wsgi_adapter.rs do not cover: an exception in every request phase,
//! WSGI applications that exit, return garbage or whose close() raises, and
//! handlers that block past httpd's Timeout. Each gives a clean status or a
//! cleanly cut response, a log line, and the same child keeps serving.
mod common;
use common::*;
use std::io::{Read, Write};
use std::time::Duration;

const ONE_EVENT_CHILD: &str = "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";
const ONE_PREFORK_CHILD: &str = "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nServerLimit 1\nMaxRequestWorkers 1\n";

/// Phases that run before the response: an exception there is a 500.
const EARLY_PHASES: [&str; 9] = [
    "PythonPostReadRequestHandler",
    "PythonTransHandler",
    "PythonHeaderParserHandler",
    "PythonAccessHandler",
    "PythonAuthenHandler",
    "PythonAuthzHandler",
    "PythonTypeHandler",
    "PythonFixupHandler",
    "PythonHandler",
];
/// Phases that run after the response went out: the client sees the response.
const LATE_PHASES: [&str; 2] = ["PythonLogHandler", "PythonCleanupHandler"];

fn site(mpm: Mpm) -> String {
    let m = MODULES;
    let one = if mpm == Mpm::Prefork { ONE_PREFORK_CHILD } else { ONE_EVENT_CHILD };
    let mut s = format!(
        "LoadModule authn_core_module {m}/mod_authn_core.so\nLoadModule authz_user_module {m}/mod_authz_user.so\n\
         PythonPath \"sys.path+['{{HANDLERS}}']\"\n\
         PythonPostReadRequestHandler reliability::raise_in_phase\nPythonTransHandler reliability::raise_in_phase\n\
         <Location /fault>\n  SetHandler mod_python\n  AuthType Basic\n  AuthName \"faults\"\n  Require valid-user\n\
         PythonHeaderParserHandler reliability::raise_in_phase\n  PythonAccessHandler reliability::raise_in_phase\n\
         PythonAuthenHandler reliability::raise_in_phase\n  PythonAuthzHandler reliability::raise_in_phase\n\
         PythonTypeHandler reliability::raise_in_phase\n  PythonFixupHandler reliability::raise_in_phase\n\
         PythonHandler reliability::raise_in_phase\n  PythonLogHandler reliability::raise_in_phase\n\
         PythonCleanupHandler reliability::raise_in_phase\n</Location>\n{one}"
    );
    s += &location("/pid", "reliability::pid", "");
    s += &location("/sleeps", "reliability::sleeps", "");
    s += &location("/stalled-body", "reliability::reads_stalled_body", "");
    for (url, app) in [
        ("/w/pid", "pid"),
        ("/w/exit", "sys_exit"),
        ("/w/none", "returns_none"),
        ("/w/int", "returns_int"),
        ("/w/no-start", "no_start_response"),
        ("/w/str-later", "yields_str"),
        ("/w/close-raises", "close_raises"),
    ] {
        s += &format!("WSGIScriptAlias {url} {{HANDLERS}}/reliability_wsgi.py callable-object={app}\n");
    }
    s
}

fn pid_of(h: &Httpd) -> String {
    let r = h.get("/pid");
    assert_eq!(r.status, 200, "{}", h.error_log());
    r.text()
}

/// No traceback, file path or Python version reaches the client.
fn assert_no_leak(label: &str, r: &Response) {
    let mut all = r.text();
    for (k, v) in &r.headers {
        // httpd's banner names Python as mod_python's does; ServerTokens governs it.
        if k.eq_ignore_ascii_case("server") {
            continue;
        }
        all += &format!("\n{k}: {}", String::from_utf8_lossy(v));
    }
    for needle in ["Traceback", "File \"", "/tmp/", ".py", "deliberate", "Python/", "line "] {
        assert!(!all.contains(needle), "{label}: {needle:?} reached the client:\n{all}");
    }
}

#[test]
fn an_exception_in_every_phase_is_contained() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        let h = Httpd::start(mpm, &site(mpm));
        let child = pid_of(&h);
        for phase in EARLY_PHASES {
            let r = h.get(&format!("/fault/{phase}/x"));
            println!("{mpm:?}: exception in {phase}: status {}", r.status);
            assert_eq!(r.status, 500, "{mpm:?} {phase}: {}", r.text());
            assert_no_leak(phase, &r);
            let log = h.wait_log(&format!("deliberate failure in {phase}"));
            assert!(
                log.contains(&format!("deliberate failure in {phase}")),
                "{phase}: no log line\n{log}"
            );
            assert_eq!(pid_of(&h), child, "{mpm:?} {phase}: the child was replaced");
        }
        for phase in LATE_PHASES {
            let r = h.get(&format!("/fault/{phase}/x"));
            println!("{mpm:?}: exception in {phase}: status {} (the response was already out)", r.status);
            assert_eq!(r.status, 200, "{phase}");
            assert!(r.text().starts_with("content "), "{phase}: {}", r.text());
            let log = h.wait_log(&format!("deliberate failure in {phase}"));
            assert!(
                log.contains(&format!("deliberate failure in {phase}")),
                "{phase}: no log line\n{log}"
            );
            assert_eq!(pid_of(&h), child, "{mpm:?} {phase}: the child was replaced");
        }
        let log = h.stop();
        assert!(crash_lines(&log).is_empty(), "{log}");
    }
}

#[test]
fn wsgi_exit_garbage_and_raising_close_are_contained() {
    let h = Httpd::start(Mpm::Event, &site(Mpm::Event));
    let child = h.get("/w/pid").text();
    for (url, needle) in [
        ("/w/exit", "SystemExit"),
        ("/w/none", "NoneType"),
        ("/w/int", "int"),
        ("/w/no-start", "start_response"),
    ] {
        let r = h.get(url);
        println!("WSGI {url}: status {} ({} body bytes)", r.status, r.body.len());
        assert_eq!(r.status, 500, "{url}: {}", r.text());
        assert_no_leak(url, &r);
        let log = h.wait_log(needle);
        assert!(log.contains(needle), "{url}: no log line naming {needle}\n{log}");
        assert_eq!(h.get("/w/pid").text(), child, "{url}: the child was replaced");
    }
    // A str after bytes went out: the response is cut where it broke.
    let r = h.get("/w/str-later");
    println!("WSGI /w/str-later: status {}, truncated {}", r.status, r.truncated);
    assert_eq!((r.status, r.text().as_str(), r.truncated), (200, "bytes first;", true));
    // close() raising after a complete response: the client has it all, the log has the error.
    let r = h.get("/w/close-raises");
    println!(
        "WSGI /w/close-raises: status {}, {} bytes, truncated {}",
        r.status,
        r.body.len(),
        r.truncated
    );
    assert_eq!((r.status, r.body.len(), r.truncated), (200, 2 * 65536, false));
    let log = h.wait_log("close() of close-raises raised");
    assert!(log.contains("close() of close-raises raised"), "{log}");
    assert_eq!(h.get("/w/pid").text(), child);
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn a_handler_blocking_past_timeout_holds_only_its_own_request() {
    let h = Httpd::start(Mpm::Event, &(site(Mpm::Event) + "Timeout 2\n"));
    let child = pid_of(&h);
    let port = h.port;
    // A handler asleep for longer than Timeout: httpd does not interrupt Python,
    // the client gets the whole response when it wakes.
    let sleeper = std::thread::spawn(move || request(port, "GET", "/sleeps?s=3", &[], b""));
    std::thread::sleep(Duration::from_millis(300));
    // Meanwhile the same child serves other requests.
    for _ in 0..5 {
        assert_eq!(pid_of(&h), child);
    }
    let r = sleeper.join().unwrap();
    println!("handler asleep 3 s with Timeout 2: status {} {:?}", r.status, r.text());
    assert_eq!((r.status, r.text()), (200, format!("woke {child}")));

    // A handler reading a body the client never sends: httpd's Timeout ends the
    // read with an error in Python; the handler still answers a live client.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"POST /stalled-body HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly ten b")
        .unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got).into_owned();
    println!(
        "body stalled past Timeout 2: {:?}",
        text.lines().next().unwrap_or("<connection cut>")
    );
    assert!(
        got.is_empty() || text.starts_with("HTTP/1.1 "),
        "a response or a cut connection: {text:?}"
    );
    let log = h.error_log();
    let note = std::fs::read_to_string(h.root.join("scratch/stalled_body.txt")).unwrap_or_default();
    println!("the handler saw: {}", note.trim());
    assert!(note.contains("Error") || note.contains("read"), "the read ended: {note:?}\n{log}");
    assert_eq!(pid_of(&h), child, "the child keeps serving");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}
