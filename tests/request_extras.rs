//! More of the request object: sendfile, internal redirects, Allow, and the
//! mod_python.apache module functions.
mod common;
use common::*;

fn site() -> String {
    location("/send", "extras::send_part", "")
        + &location("/redirect-src", "extras::redirect_src", "")
        + &location("/redirect-dst", "extras::redirect_dst", "")
        + &location("/info", "extras::info", "")
        + &location("/not-allowed", "extras::not_allowed", "")
}

#[test]
fn sendfile_internal_redirect_and_module_functions() {
    let h = Httpd::start(Mpm::Worker, &site());
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    h.write_doc("big.bin", &data);
    let r = h.get("/send");
    assert_eq!(r.status, 200, "{}", h.error_log());
    let mut want = b"[".to_vec();
    want.extend_from_slice(&data[10..1010]);
    want.extend_from_slice(b"]1000");
    assert!(r.body == want, "sendfile bytes differ");

    let r = h.get("/redirect-src");
    assert_eq!(r.text(), "dst args=from=src prev_uri=/redirect-src main=None");

    let v: serde_json::Value = serde_json::from_str(&h.get("/info").text()).unwrap();
    assert_eq!(v["threaded"], 1);
    assert_eq!(v["max_threads"], 8);
    assert_eq!(v["server_root"], h.root.to_str().unwrap());
    assert_eq!(v["define_x"], false);
    assert_eq!(v["tree_has_listen"], true);
    assert_eq!(v["remote_host"], "127.0.0.1");
    assert!(v["auth_type"].is_null());
    assert_eq!(v["meets"], 0);
    assert_eq!(v["main_server"], "127.0.0.1");
    assert_eq!(v["imported"], "extras");

    let r = h.get("/not-allowed");
    assert_eq!(r.status, 405);
    let allow = r.header_str("allow").unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("PUT"), "Allow: {allow}");
}

#[test]
fn interpreter_directives_are_reported_and_made() {
    let site = location("/named", "extras::interp", "  PythonInterpreter my_interp") + &location("/default", "extras::interp", "");
    let h = Httpd::start(Mpm::Event, &site);
    assert_eq!(h.get("/named").text(), "my_interp");
    assert_eq!(h.get("/default").text(), "127.0.0.1", "mod_python's default: the server name");
    let log = h.stop();
    assert_eq!(
        log.matches("each child makes 2 sub-interpreter(s) at start").count(),
        1,
        "two names, two interpreters per child, said once by the parent:\n{log}"
    );
}

#[test]
fn add_handler_at_run_time() {
    let site = location("/add", "extras::adds", "") + &location("/fixup-adds", "extras::adds", "  PythonFixupHandler extras::fixup_adds");
    let h = Httpd::start(Mpm::Event, &site);
    assert_eq!(h.get("/add").text(), "first;added;", "{}", h.error_log());
    assert_eq!(
        h.get("/fixup-adds").text(),
        "first;added;added;",
        "a handler added by a fixup runs in the content phase"
    );
}

#[test]
fn a_handler_added_for_a_later_phase_runs_where_no_other_phase_has_one() {
    // Only a PythonHandler is configured, so until the content handler adds
    // one no phase after it has a Python handler to look for.
    let h = Httpd::start(Mpm::Event, &location("/addlog", "extras::adds_log", ""));
    assert_eq!(h.get("/addlog").text(), "logged later", "{}", h.error_log());
    let log = h.stop();
    assert_eq!(log.matches("the added log handler ran").count(), 1, "{log}");
}

#[test]
fn finfo_parsed_uri_and_stat() {
    let site = "<Directory {DOCS}/fi>\n  SetHandler mod_python\n  PythonHandler extras::fileinfo\n  PythonPath \"sys.path+['{HANDLERS}']\"\n</Directory>\n";
    let h = Httpd::start(Mpm::Event, site);
    h.write_doc("fi/file.txt", b"12345678");
    let r = h.get("/fi/file.txt?q=1");
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(v["size"], 8);
    assert_eq!(v["type"], true);
    assert_eq!(v["stat_size"], 8);
    assert_eq!(v["mtime_float"], true);
    assert_eq!(v["path"], "/fi/file.txt");
    assert_eq!(v["query"], "q=1");
    assert!(v["generation"].as_i64().is_some());
    assert!(v["ssl"].is_null(), "no mod_ssl here");
    assert_eq!(v["allowed_int"], true);
}

#[test]
fn build_cgi_env_and_restart_time() {
    let h = Httpd::start(Mpm::Prefork, &location("/cgi", "extras::cgi_env", ""));
    assert_eq!(h.get("/cgi?a=b").text(), "GET /cgi a=b True");
}
