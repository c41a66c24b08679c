//! Handlers that fail: a clean status for the client, the whole story in the
//! error log, and the child keeps serving.
mod common;
use common::*;

fn site(debug: bool) -> String {
    let extra = if debug { "  PythonDebug On" } else { "" };
    let mut s = String::new();
    for (path, h) in [
        ("/raises", "errors::raises"),
        ("/after-write", "errors::raises_after_write"),
        ("/after-buffered", "errors::raises_after_buffered_write"),
        ("/string", "errors::returns_string"),
        ("/none", "errors::returns_none"),
        ("/bool", "errors::returns_bool"),
        ("/weird", "errors::returns_weird"),
        ("/panic", "errors::rust_panic"),
        ("/exit", "errors::sys_exit"),
        ("/ok", "errors::ok"),
        ("/no-module", "no_such_module_xyz"),
        ("/no-function", "errors::no_such_function"),
        ("/bad-syntax", "broken_syntax"),
    ] {
        s += &location(path, h, extra);
    }
    s
}

fn write_broken_module(h: &Httpd) {
    let p = h.root.join("handlers/broken_syntax.py");
    std::fs::write(&p, "def handler(req)\n    return 0\n").unwrap();
}

#[test]
fn exception_gives_500_and_traceback_in_log_only() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        let h = Httpd::start(mpm, &site(false));
        let r = h.get("/raises?q=1");
        assert_eq!(r.status, 500);
        let body = r.text();
        assert!(
            !body.contains("Traceback") && !body.contains("deliberate failure"),
            "traceback leaked: {body}"
        );
        let log = h.wait_log("ValueError: deliberate failure 12345");
        assert!(log.contains("PythonHandler errors::raises"), "{log}");
        assert!(log.contains("GET /raises?q=1"), "the URI is logged: {log}");
        assert!(log.contains("Traceback (most recent call last):"), "{log}");
        assert!(log.contains("in raises"), "{log}");
        assert_eq!(h.get("/ok").text(), "still serving");
        let log = h.stop();
        assert!(crash_lines(&log).is_empty(), "{log}");
    }
}

#[test]
fn python_debug_on_sends_the_traceback() {
    let h = Httpd::start(Mpm::Event, &site(true));
    let r = h.get("/raises");
    assert_eq!(r.status, 500);
    let body = r.text();
    assert!(body.contains("Traceback (most recent call last):"), "{body}");
    assert!(body.contains("ValueError: deliberate failure 12345"), "{body}");
    assert!(
        body.contains("Mod_python error: &quot;PythonHandler errors::raises&quot;")
            || body.contains("Mod_python error: \"PythonHandler errors::raises\""),
        "{body}"
    );
}

#[test]
fn bad_return_values_are_500_with_a_log_line_naming_the_handler() {
    let h = Httpd::start(Mpm::Worker, &site(false));
    for (path, needle) in [
        ("/string", "PythonHandler errors::returns_string"),
        ("/none", "PythonHandler errors::returns_none"),
        ("/bool", "PythonHandler errors::returns_bool"),
        ("/weird", "PythonHandler errors::returns_weird"),
    ] {
        let r = h.get(path);
        assert_eq!(r.status, 500, "{path}");
        let log = h.wait_log(needle);
        assert!(log.contains(needle), "{path}: {log}");
    }
    let log = h.error_log();
    assert!(log.contains("returned a str, not an int"), "{log}");
    assert!(log.contains("returned a NoneType, not an int"), "{log}");
    assert!(log.contains("returned a bool, not an int"), "{log}");
    assert!(log.contains("returned 12345"), "{log}");
    // The log line names the directive's file and line.
    assert!(log.contains(&format!("{}:", h.conf.display())), "{log}");
    assert_eq!(h.get("/ok").text(), "still serving");
}

#[test]
fn missing_module_function_and_syntax_errors() {
    let h = Httpd::start(Mpm::Event, &site(false));
    write_broken_module(&h);
    let r = h.get("/no-module");
    assert_eq!(r.status, 500);
    let log = h.wait_log("No module named 'no_such_module_xyz'");
    assert!(log.contains("PythonHandler no_such_module_xyz"), "{log}");
    assert!(log.contains("could not import module 'no_such_module_xyz'"), "{log}");

    let r = h.get("/no-function");
    assert_eq!(r.status, 500);
    let log = h.wait_log("contains no 'no_such_function'");
    assert!(log.contains("found no 'no_such_function' in module 'errors'"), "{log}");

    let r = h.get("/bad-syntax");
    assert_eq!(r.status, 500);
    let log = h.wait_log("SyntaxError");
    assert!(log.contains("PythonHandler broken_syntax"), "{log}");
    assert_eq!(h.get("/ok").text(), "still serving");
}

#[test]
fn output_then_exception_cuts_the_response_visibly() {
    let h = Httpd::start(Mpm::Event, &site(false));
    // Flushed output then an exception: the status is already out, so the
    // response is cut (no final chunk) and the connection closed.
    let r = h.get("/after-write");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "partial output");
    assert!(r.truncated, "the client can tell the response is incomplete");
    // Buffered output that never left: discarded, a clean 500.
    let r = h.get("/after-buffered");
    assert_eq!(r.status, 500);
    assert!(!r.text().contains("buffered only"));
    assert_eq!(h.get("/ok").text(), "still serving");
}

#[test]
fn rust_panic_and_sys_exit_do_not_kill_the_child() {
    let h = Httpd::start(Mpm::Event, &site(false));
    let pids_before = h.get("/ok").status;
    assert_eq!(pids_before, 200);
    for _ in 0..5 {
        assert_eq!(h.get("/panic").status, 500);
        assert_eq!(h.get("/exit").status, 500);
    }
    let log = h.wait_log("SystemExit");
    assert!(log.contains("deliberate panic"), "{log}");
    for _ in 0..10 {
        assert_eq!(h.get("/ok").text(), "still serving");
    }
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}
