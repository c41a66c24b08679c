//! A mod_python handler runs unchanged: the request object, tables, options,
//! return values and the Server header, against a real httpd.
mod common;
use common::*;

fn site() -> String {
    let mut s = String::from("PythonOption server_level yes\nPythonOption overridden server\nPythonOption removed here\n");
    s += &location("/hello", "basic", "");
    s += &location("/bytes", "basic::write_bytes", "");
    s += &location(
        "/attrs",
        "basic::attrs",
        "  PythonOption overridden location\n  PythonOption removed\n  PythonOption loc 1\n  PythonDebug On",
    );
    s += &location("/headers", "basic::headers", "");
    s += &location("/teapot", "basic::status_teapot", "");
    s += &location("/404", "basic::return_404", "");
    s += &location("/403", "basic::server_return_403", "");
    s += &location("/chain", "basic::first basic::second", "");
    s += &location("/chain-stop", "basic::first basic::stop_chain basic::second", "");
    s += &location("/log", "basic::log_something", "");
    s += &location("/class", "basic::Page.show", "");
    s += &location("/keep", "basic::keep_table", "");
    s += &location("/use-kept", "basic::use_kept_table", "");
    s +=
        "<Location /py-ext>\n  SetHandler mod_python\n  PythonHandler basic | .py\n  PythonPath \"sys.path+['{HANDLERS}']\"\n</Location>\n";
    s += "<Location /legacy>\n  SetHandler python-program\n  PythonHandler basic\n  PythonPath \"sys.path+['{HANDLERS}']\"\n</Location>\n";
    s
}

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_str(&r.text()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
}

#[test]
fn hello_world_under_every_mpm() {
    for mpm in Mpm::ALL {
        let h = Httpd::start(mpm, &site());
        let r = h.get("/hello");
        assert_eq!(r.status, 200, "{mpm:?}: {}", h.error_log());
        assert_eq!(r.text(), "Hello World!");
        assert_eq!(r.header_str("content-type").as_deref(), Some("text/plain"));
        let server = r.header_str("server").unwrap();
        // mod_python's banner names Python too (ServerTokens hides both).
        assert!(
            server.contains("mod_pyrite/0.1") && server.contains("Python/3."),
            "Server header: {server}"
        );
        let r = h.get("/legacy");
        assert_eq!(r.text(), "Hello World!", "SetHandler python-program works too");
        let log = h.stop();
        assert!(log.contains("mod_pyrite/0.1.0 (Python 3."), "notice line missing:\n{log}");
        assert_eq!(
            log.matches("configured: each child starts Python").count(),
            1,
            "notice logged once per start:\n{log}"
        );
        assert!(log.contains("ready: interpreter"), "child start-up line missing:\n{log}");
        assert!(crash_lines(&log).is_empty(), "{mpm:?} crashed:\n{log}");
        assert!(
            log.contains("caught SIGTERM, shutting down"),
            "{mpm:?} did not stop cleanly:\n{log}"
        );
    }
}

#[test]
fn request_attributes_and_options() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        check_request_attributes(mpm);
    }
}

fn check_request_attributes(mpm: Mpm) {
    let h = Httpd::start(mpm, &site());
    let r = h.get("/attrs/extra/path?a=1&b=%C3%A9");
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v = json(&r);
    assert_eq!(v["uri"].as_str(), Some("/attrs/extra/path"));
    assert_eq!(v["unparsed_uri"].as_str(), Some("/attrs/extra/path?a=1&b=%C3%A9"));
    assert_eq!(v["args"].as_str(), Some("a=1&b=%C3%A9"));
    assert_eq!(v["method"].as_str(), Some("GET"));
    assert_eq!(v["protocol"].as_str(), Some("HTTP/1.1"));
    assert_eq!(v["hostname"].as_str(), Some("127.0.0.1"));
    assert_eq!(v["the_request"].as_str(), Some("GET /attrs/extra/path?a=1&b=%C3%A9 HTTP/1.1"));
    assert!(v["user"].is_null());
    assert_eq!(v["client_ip"].as_str(), Some("127.0.0.1"));
    assert_eq!(v["remote_ip"].as_str(), Some("127.0.0.1"));
    assert_eq!(v["server_hostname"].as_str(), Some("127.0.0.1"));
    assert_eq!(v["proto_num"].as_i64(), Some(1001));
    assert_eq!(v["method_number"].as_i64(), Some(0));
    assert_eq!(v["header_only"].as_i64(), Some(0));
    assert_eq!(v["request_time_is_float"].as_bool(), Some(true));
    assert_eq!(v["status_before"].as_i64(), Some(200));
    assert_eq!(v["phase"].as_str(), Some("PythonHandler"));
    assert_eq!(v["dict_attr"].as_str(), Some("kept"));
    assert_eq!(v["req_type"].as_str(), Some("mp_request"));
    let filename = v["filename"].as_str().unwrap().to_string();
    assert!(filename.ends_with("/htdocs/attrs"), "filename {filename}");
    assert_eq!(v["path_info"].as_str(), Some("/extra/path"));
    // PythonOption merges server -> location; a bare key removes it.
    let opts = &v["options"];
    assert_eq!(opts["server_level"].as_str(), Some("yes"));
    assert_eq!(opts["overridden"].as_str(), Some("location"));
    assert_eq!(opts["loc"].as_str(), Some("1"));
    assert!(opts["removed"].is_null(), "bare PythonOption key removes it: {}", r.text());
    let cfg = &v["config"];
    assert_eq!(cfg["PythonDebug"].as_str(), Some("1"));
    assert!(cfg["PythonPath"].as_str().unwrap().contains("sys.path"));
}

#[test]
fn tables_are_case_insensitive_and_multi_valued() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        check_tables(mpm);
    }
}

fn check_tables(mpm: Mpm) {
    let h = Httpd::start(mpm, &site());
    let r = h.request(
        "GET",
        "/headers",
        &[
            ("X-One", b"1"),
            ("X-Rep", b"a"),
            ("X-Rep", b"b"),
            ("X-Echo", "caf\u{e9} \u{2603}".as_bytes()),
        ],
        b"",
    );
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v = json(&r);
    assert_eq!(v["x_one_lower"].as_str(), Some("1"));
    assert_eq!(v["x_one_upper"].as_str(), Some("1"));
    // httpd folds a repeated request header into one comma-separated value.
    assert_eq!(v["repeated"].as_str(), Some("a, b"));
    assert_eq!(v["contains"].as_bool(), Some(true));
    assert_eq!(v["missing_get"].as_str(), Some("dflt"));
    assert_eq!(v["keyerror"].as_bool(), Some(true));
    assert_eq!(v["keys_have_host"].as_bool(), Some(true));
    assert_eq!(v["own_table"][1].as_str(), Some("2"));
    assert_eq!(v["own_table_len"].as_i64(), Some(2));
    assert_eq!(v["int_value_typeerror"].as_bool(), Some(true));
    // Non-ASCII bytes survive the round trip unchanged.
    assert_eq!(r.header("x-echo"), Some("caf\u{e9} \u{2603}".as_bytes()));
    assert_eq!(r.headers_named("x-multi"), vec![b"1".as_slice(), b"2".as_slice()]);
    assert_eq!(r.header("x-bytes"), Some(b"raw-bytes".as_slice()));
    assert_eq!(r.header("x-err"), Some(b"err-header".as_slice()));

    // Latin-1 (not UTF-8) bytes in a header value come back byte for byte.
    let r = h.request(
        "GET",
        "/headers",
        &[("X-One", b"1"), ("X-Rep", b"x"), ("X-Echo", b"\xe9t\xe9")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-echo"), Some(b"\xe9t\xe9".as_slice()));
}

#[test]
fn return_values_decide_the_status() {
    let h = Httpd::start(Mpm::Event, &site());
    let r = h.get("/teapot");
    assert_eq!((r.status, r.text().as_str()), (202, "short and stout"));
    assert_eq!(h.get("/404").status, 404);
    assert_eq!(h.get("/403").status, 403);
    assert_eq!(
        h.get("/chain").text(),
        "first;second;",
        "handlers run in order while they return OK"
    );
    assert_eq!(h.get("/chain-stop").text(), "first;stop;", "a non-OK result ends the chain");
    let r = h.get("/bytes");
    assert_eq!(r.body, b"\x00\x01binary\xff-more");
    assert_eq!(h.get("/class").text(), "method of an instance made for /class");
    // `| .py`: the handler applies only to files with that extension.
    h.write_doc("py-ext/x.py", b"# not served as a file");
    h.write_doc("py-ext/x.txt", b"plain file");
    assert_eq!(h.get("/py-ext/x.py").text(), "Hello World!");
    assert_eq!(
        h.get("/py-ext/x.txt").text(),
        "plain file",
        "DECLINED: httpd serves other files itself"
    );
    let r = h.get("/log");
    assert_eq!(r.text(), "logged");
    let log = h.wait_log("module level log line");
    assert!(log.contains("handler says hello at notice"), "{log}");
    assert!(log.contains("module level log line"), "{log}");
}

#[test]
fn table_used_after_its_request_raises() {
    // One child, so the second request meets the table the first one kept.
    let one_child = "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";
    let h = Httpd::start(Mpm::Event, &(site() + one_child));
    assert_eq!(h.get("/keep").text(), "kept");
    let t = h.get("/use-kept").text();
    assert!(t.starts_with("RuntimeError") && t.contains("has ended"), "{t}");
}
