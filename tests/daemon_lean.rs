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
