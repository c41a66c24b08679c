//! Daemon mode's lean path: the child runs httpd's request cycle (hooks,
//! directory walk, access checks, SetEnv, per-directory WSGI settings) and
//! sends what the request resolved to; the daemon runs the application with
//! it and does not run that cycle a second time.
mod common;
use common::*;

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {} {}", r.status, r.text()))
}

fn site() -> String {
    format!(
        "LoadModule env_module {MODULES}/mod_env.so\n\
         WSGIDaemonProcess lean processes=1 threads=2\n\
         WSGIScriptAlias /lean {{HANDLERS}}/daemon_lean.py process-group=lean application-group=%{{GLOBAL}}\n\
         <Location /lean>\n  WSGIAccessScript {{HANDLERS}}/daemon_lean.py\n  WSGICallableObject env\n  SetEnv FROM_LOCATION yes\n</Location>\n\
         WSGIScriptAlias /fail {{HANDLERS}}/daemon_lean.py process-group=lean callable-object=fail\n\
         <Location /fail>\n  ErrorDocument 500 \"the child's page for 500\"\n</Location>\n\
         WSGIScriptAlias /missing {{HANDLERS}}/daemon_lean.py process-group=lean callable-object=missing\n\
         <Location /missing>\n  WSGIErrorOverride On\n  ErrorDocument 404 \"the child's page for 404\"\n</Location>\n"
    )
}

#[test]
fn the_childs_request_cycle_runs_once_and_its_results_reach_the_daemon() {
    let h = Httpd::start(Mpm::Event, &site());
    let mut daemon_pid = 0;
    for i in 0..3 {
        let r = h.request("GET", &format!("/lean/a/b?n={i}"), &[("X-Test", b"t")], b"");
        let v = json(&r);
        assert_eq!(v["mod_wsgi.process_group"], "lean");
        assert_eq!(v["mod_wsgi.application_group"], "");
        assert_eq!(v["SCRIPT_NAME"], "/lean");
        assert_eq!(v["PATH_INFO"], "/a/b");
        assert_eq!(v["QUERY_STRING"], format!("n={i}"));
        assert!(v["SCRIPT_FILENAME"].as_str().unwrap().ends_with("/handlers/daemon_lean.py"));
        assert_eq!(v["FROM_LOCATION"], "yes", "SetEnv of the child's <Location>");
        assert_eq!(v["HTTP_X_TEST"], "t");
        assert_eq!(v["REMOTE_ADDR"], "127.0.0.1");
        assert_eq!(v["SERVER_PORT"], h.port.to_string());
        assert_eq!(v["wsgi.url_scheme"], "http");
        daemon_pid = v["pid"].as_i64().unwrap();
    }
    // WSGIAccessScript ran once per request, in httpd's child (the daemon
    // did not run the access hooks again).
    let calls = std::fs::read_to_string(h.root.join("scratch/access.log")).unwrap_or_default();
    let pids: Vec<i64> = calls.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(pids.len(), 3, "access script calls: {calls:?}");
    assert!(pids.iter().all(|&p| p != daemon_pid), "{pids:?} vs daemon {daemon_pid}");
    // HEAD reaches the application (as GET or HEAD) and gets no body.
    let r = h.request("HEAD", "/lean/x", &[], b"");
    assert_eq!((r.status, r.body.len()), (200, 0));
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn error_pages_are_the_childs_with_its_directory_configuration() {
    let h = Httpd::start(Mpm::Event, &site());
    let r = h.get("/fail");
    assert_eq!((r.status, r.text().as_str()), (500, "the child's page for 500"));
    let r = h.get("/missing");
    assert_eq!((r.status, r.text().as_str()), (404, "the child's page for 404"));
    // The connection to the daemon is kept after an error page: the next request works.
    let r = h.get("/lean/again");
    assert_eq!(json(&r)["PATH_INFO"], "/again");
    let log = h.wait_log("the application failed on purpose");
    assert!(log.contains("RuntimeError"), "{log}");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

/// The debug lines in which the child says it sent a file the daemon passed.
fn passed_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("passed its response's file")).collect()
}

#[test]
fn a_file_wrapper_file_is_passed_to_the_child_which_sends_it() {
    let site = format!(
        "{}LogLevel debug\n\
         WSGIScriptAlias /file {{HANDLERS}}/daemon_lean.py process-group=lean callable-object=file\n",
        site()
    );
    for mpm in [Mpm::Event, Mpm::Prefork] {
        let h = Httpd::start(mpm, &site);
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
        let path = h.root.join("scratch/big.bin");
        std::fs::write(&path, &data).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        // The whole file, twice on one connection to the daemon.
        for _ in 0..2 {
            let r = h.get("/file?name=big.bin");
            assert_eq!(r.status, 200);
            assert!(r.body == data, "{} bytes, not the file's {}", r.body.len(), data.len());
        }
        // From where the application left the file, and cut at its Content-Length.
        let r = h.get("/file?name=big.bin&skip=1000");
        assert!(r.status == 200 && r.body == data[1000..], "{} bytes", r.body.len());
        let r = h.get("/file?name=big.bin&skip=10&length=5000");
        assert!(r.status == 200 && r.body == data[10..5010], "{} bytes", r.body.len());
        // Not a real file: the daemon sends the bytes.
        let r = h.get("/file?name=big.bin&bytesio=1");
        assert!(r.status == 200 && r.body == data, "{} bytes", r.body.len());
        // HEAD: no body either way.
        let r = h.request("HEAD", "/file?name=big.bin", &[], b"");
        assert_eq!((r.status, r.body.len()), (200, 0));
        // The next request on the same connection to the daemon still works.
        assert_eq!(json(&h.get("/lean/after"))["PATH_INFO"], "/after");
        let log = h.stop();
        let lines = passed_lines(&log);
        assert_eq!(lines.len(), 4, "{mpm:?}: the four real-file responses were passed: {lines:#?}");
        for (line, len) in lines.iter().zip([3_000_000, 3_000_000, 2_999_000, 5000]) {
            assert!(line.contains(&format!("{len} bytes sent from here (0 relayed)")), "{line}");
        }
        assert!(crash_lines(&log).is_empty(), "{log}");
    }
}

#[test]
fn trusted_proxy_headers_still_apply_in_a_daemon() {
    // The daemon runs httpd's request cycle for these (it reads the proxy settings itself).
    let site = format!(
        "{}WSGIScriptAlias /proxied {{HANDLERS}}/daemon_lean.py process-group=lean callable-object=env\n\
         <Location /proxied>\n  WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto\n</Location>\n",
        site()
    );
    let h = Httpd::start(Mpm::Event, &site);
    let v = json(&h.request(
        "GET",
        "/proxied/p",
        &[("X-Forwarded-For", b"203.0.113.5"), ("X-Forwarded-Proto", b"https")],
        b"",
    ));
    assert_eq!(v["REMOTE_ADDR"], "203.0.113.5");
    assert_eq!(v["wsgi.url_scheme"], "https");
    assert_eq!(v["PATH_INFO"], "/p");
    assert_eq!(v["mod_wsgi.process_group"], "lean");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}
