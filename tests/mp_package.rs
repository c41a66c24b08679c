//! What mod_python 3.5's own test suite checks beyond single handlers: every
//! module of its package (python22, cache, httpdconf, testhandler, version),
//! the Server banner, sys.argv, req.add_cgi_vars(), the members of the
//! request, server and connection objects, tables, global locks with any key,
//! server options kept from PythonImport, mod_python.wsgi, PythonOptimize,
//! PythonEnablePdb and the `mod_python` command.
mod common;
use common::*;
use serde_json::Value;

fn json(r: &Response) -> Value {
    serde_json::from_str(&r.text()).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

#[test]
fn every_module_of_the_package_imports_and_works() {
    let site = location("/modules", "mp_package::modules", "")
        + &location("/mpinfo", "mod_python.testhandler", "  PythonOption shown <b>value</b>");
    let h = Httpd::start(Mpm::Event, &site);
    let r = h.get("/modules");
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v = json(&r);
    assert_eq!(v["argv"], serde_json::json!(["mod_python"]), "sys.argv as mod_python sets it");
    assert_eq!(v["version"], "3.5.0");
    assert_eq!(v["mp_version"], "3.5.0");
    assert_eq!(v["memo"], serde_json::json!([2, 2, 4, 6]));
    assert_eq!(v["calls"], serde_json::json!([1, 2, 3]), "FunctionCache built each value once");
    assert_eq!(v["lru"], serde_json::json!([2]), "max_size 2 dropped the least recently used");
    assert_eq!(
        v["conf"],
        "Listen 127.0.0.1:1\n<Location /app>\n  SetHandler mod_python\n  PythonHandler a.b\n</Location>\n"
    );
    assert_eq!(v["conf_again"], true, "repr() of an httpdconf object builds it again");
    assert_eq!(v["testhandler"], true);
    assert_eq!(v["psp"], true, "mod_python._psp translates PSP");

    // The manual's diagnostic page, with what it shows escaped.
    let r = h.request("GET", "/mpinfo", &[("X-Probe", b"<script>x</script>")], b"");
    assert_eq!(r.status, 200, "{}", h.error_log());
    let page = r.text();
    assert!(page.contains("<title>mod_python test page</title>"), "{page}");
    assert!(
        page.contains("&lt;script&gt;x&lt;/script&gt;") && !page.contains("<script>"),
        "{page}"
    );
    assert!(page.contains("&lt;b&gt;value&lt;/b&gt;"), "the options are listed, escaped: {page}");
    assert!(page.contains("Python/3."), "the server banner is shown: {page}");
    assert!(crash_lines(&h.stop()).is_empty());
}

#[test]
fn server_header_names_python_unless_server_tokens_hides_it() {
    let h = Httpd::start(Mpm::Event, &location("/", "mp_package::ran", ""));
    let server = h.get("/").header_str("server").unwrap_or_default();
    let python = format!("Python/{}", python_major_minor());
    assert!(server.contains("mod_pyrite/") && server.contains(&python), "{server}");
    drop(h);
    let h = Httpd::start(
        Mpm::Event,
        &("ServerTokens Prod\n".to_string() + &location("/", "mp_package::ran", "")),
    );
    let server = h.get("/").header_str("server").unwrap_or_default();
    assert_eq!(server, "Apache", "ServerTokens Prod hides every component");
}

fn python_major_minor() -> String {
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn add_cgi_vars_adds_httpds_common_variables_too() {
    let h = Httpd::start(Mpm::Event, &location("/cgi", "mp_package::cgi_vars", ""));
    let r = h.request(
        "POST",
        "/cgi?a=1",
        &[
            ("Referer", b"http://example.test/form"),
            ("Content-Type", b"application/x-www-form-urlencoded"),
        ],
        b"x=1",
    );
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v = json(&r);
    let values = &v["values"];
    assert_eq!(values["HTTP_HOST"], format!("127.0.0.1:{}", h.port));
    assert_eq!(values["HTTP_REFERER"], "http://example.test/form");
    assert_eq!(values["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(values["CONTENT_TYPE"], "application/x-www-form-urlencoded");
    assert_eq!(values["CONTENT_LENGTH"], "3");
    assert_eq!(values["QUERY_STRING"], "a=1");
    assert_eq!(values["GATEWAY_INTERFACE"], "CGI/1.1");
    assert!(values["SERVER_SOFTWARE"].as_str().unwrap().contains("Python/"), "{values}");
    for name in [
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_ADDR",
        "REMOTE_PORT",
        "DOCUMENT_ROOT",
        "REQUEST_URI",
        "SCRIPT_NAME",
    ] {
        assert!(v["added"].as_array().unwrap().iter().any(|a| a == name), "{name} missing: {v}");
    }
}

#[test]
fn request_server_and_connection_members_as_mod_python_gives_them() {
    let site = "<VirtualHost *>\n  ServerName 127.0.0.1\n  ServerPath /some/path\n".to_string()
        + &location("/members", "mp_package::members", "")
        + "</VirtualHost>\n";
    let h = Httpd::start(Mpm::Event, &site);
    let r = h.get("/members");
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v = json(&r);
    assert_eq!(v["conn_type"], "<class 'mp_conn'>");
    assert_eq!(v["server_type"], "<class 'mp_server'>");
    assert_eq!(v["path"], "/some/path");
    assert_eq!(v["pathlen"], 10);
    assert_eq!(v["names_type"], "tuple");
    assert_eq!(v["content_languages"], serde_json::json!([]));
    assert_eq!(v["allowed_xmethods"], serde_json::json!([]));
    assert_eq!(v["allowed_methods"], serde_json::json!([]));
    assert_eq!(v["read_body"], 0, "REQUEST_NO_BODY until the body is read");
    assert_eq!(v["double_reverse"], 0);
    assert!(v["vlist_validator"].is_null());
    assert_eq!(v["no_local_copy"], 0);
    assert_eq!(v["useragent_addr"][0], "127.0.0.1");
    assert!(v["mmn"].as_u64().unwrap() >= 20120211, "{v}");
    assert_eq!(
        v["interpreter"],
        serde_json::json!(["127.0.0.1", "127.0.0.1"]),
        "apache.interpreter is the request's"
    );
    // {"a": ["1", "2"], "b": "3"} less its last entry, then update() with a keys()-only mapping.
    assert_eq!(v["popped"], serde_json::json!(["b", "3"]), "update() writes an int value as str()");
    assert_eq!(v["table"], serde_json::json!([["a", "1"], ["a", "2"], ["k", "v"]]));
    assert_eq!(v["update_none"], "AttributeError");
    assert_eq!(v["subclass"], "Mine");
}

#[test]
fn server_options_keep_what_a_python_import_stored() {
    let site = "PythonPath \"sys.path+['{HANDLERS}']\"\nPythonImport mp_package::store_option imports_here\n".to_string()
        + &location("/read", "mp_package::read_option", "")
        + &location("/lock", "mp_package::lock_int_key", "");
    let h = Httpd::start(Mpm::Prefork, &site);
    for _ in 0..3 {
        assert_eq!(h.get("/read").text(), "yes from imports_here", "{}", h.error_log());
    }
    assert_eq!(
        h.get("/lock").text(),
        "locked and unlocked",
        "a lock key may be an int: {}",
        h.error_log()
    );
}

#[test]
fn mod_python_wsgi_passes_the_request_and_accepts_str() {
    let site = location(
        "/foo",
        "mod_python.wsgi",
        "  PythonOption mod_python.wsgi.application mp_package::wsgi_app",
    );
    let h = Httpd::start(Mpm::Event, &site);
    let r = h.request("POST", "/foo/bar", &[("Content-Type", b"text/plain")], b"posted");
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert_eq!(
        r.text(),
        "input=mp_request errors_is_stderr=True script=/foo path=/bar body=posted",
        "str and bytes items both arrive"
    );
}

#[test]
fn python_optimize_runs_python_as_with_dash_o() {
    let h = Httpd::start(
        Mpm::Event,
        &("PythonOptimize On\n".to_string() + &location("/o", "mp_package::optimize", "")),
    );
    assert_eq!(h.get("/o").text(), "optimize=1 debug=False", "{}", h.error_log());
    let log = h.stop();
    assert!(log.contains("PythonOptimize On: Python runs as with -O"), "{log}");
    let h = Httpd::start(Mpm::Event, &location("/o", "mp_package::optimize", ""));
    assert_eq!(h.get("/o").text(), "optimize=0 debug=True");
}

#[test]
fn python_enable_pdb_runs_handlers_under_the_debugger() {
    let site = location("/pdb", "mp_package::ran", "  PythonEnablePdb On")
        + &location("/plain", "mp_package::ran", "")
        + &location("/pdb/off", "mp_package::ran", "  PythonEnablePdb Off");
    let h = Httpd::start(Mpm::Prefork, &site);
    assert_eq!(h.get("/plain").text(), "the handler ran; PythonEnablePdb=None");
    // httpd's stdin is not a terminal: pdb reads end-of-file at its first
    // prompt and quits, so the handler does not run (as under mod_python).
    let r = h.get("/pdb");
    assert!(!r.text().contains("the handler ran"), "{} {}", r.status, r.text());
    assert_eq!(
        h.get("/pdb/off").text(),
        "the handler ran; PythonEnablePdb=0",
        "Off in an inner section wins"
    );
    let log = h.stop();
    assert!(log.contains("PythonEnablePdb On: handlers there run under pdb.runcall"), "{log}");
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn session_cookie_is_httponly_only_when_asked() {
    let plain = location(
        "/s/counter",
        "mp_sessions::counter",
        "PythonOption mod_python.session.session_type MemorySession",
    );
    let h = Httpd::start(Mpm::Event, &plain);
    let cookie = h.get("/s/counter").header_str("set-cookie").unwrap();
    assert!(
        cookie.split("; ").all(|part| part.contains('=')),
        "every part is name=value: {cookie}"
    );
    assert!(cookie.contains("; path=/"), "{cookie}");
    drop(h);
    let asked = location(
        "/s/counter",
        "mp_sessions::counter",
        "PythonOption mod_python.session.session_type MemorySession\nPythonOption mod_python.session.cookie_httponly On",
    );
    let h = Httpd::start(Mpm::Event, &asked);
    let cookie = h.get("/s/counter").header_str("set-cookie").unwrap();
    assert!(cookie.ends_with("; httponly"), "{cookie}");
}

#[test]
fn the_mod_python_command_creates_starts_and_stops_a_server() {
    let dir = std::env::temp_dir().join(format!("mp-cmd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let tool = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mod_python");
    let so = module_path();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&tool).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    };
    run(&[
        "create",
        dir.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--pythonhandler",
        "mod_python.testhandler",
        "--module",
        so.to_str().unwrap(),
    ]);
    // the server runs as www-data when started as root: it must reach its files
    for p in [&dir, &dir.join("public"), &dir.join("conf")] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let conf = dir.join("conf/httpd.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains(&format!("LoadModule pyrite_module {}", so.display())), "{text}");
    assert!(text.contains("PythonHandler mod_python.testhandler"), "{text}");
    let again = std::process::Command::new(&tool)
        .args(["genconfig", dir.join("conf/httpd_conf.py").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        text,
        "genconfig prints the same configuration"
    );

    run(&["start", conf.to_str().unwrap()]);
    let mut page = None;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            page = Some(request(port, "GET", "/", &[], b""));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid_file = dir.join("logs/httpd.pid");
    let pid: Option<i32> = std::fs::read_to_string(&pid_file).ok().and_then(|p| p.trim().parse().ok());
    let stopped = std::process::Command::new(&tool)
        .args(["stop", conf.to_str().unwrap()])
        .output()
        .unwrap();
    for _ in 0..100 {
        if !pid_file.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if pid_file.exists() {
        if let Some(pid) = pid {
            // SAFETY: the pid of the httpd this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let page = page.expect("the server did not answer");
    assert!(stopped.status.success());
    assert_eq!(page.status, 200);
    assert!(page.text().contains("mod_python test page"), "{}", page.text());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn setup_cgi_and_the_remaining_apache_constants() {
    let site = location("/cgi-style", "mp_package::cgi_style", "") + &location("/constants", "mp_package::constants", "");
    let h = Httpd::start(Mpm::Event, &site);
    let r = h.request("POST", "/cgi-style", &[("Content-Type", b"text/plain")], b"abc");
    assert_eq!(r.status, 201, "{}", h.error_log());
    assert_eq!(r.header_str("content-type").as_deref(), Some("text/plain"));
    assert_eq!(r.text(), "method=POST body=abc argv=[] after=False", "os.environ is put back");
    let v = json(&h.get("/constants"));
    assert_eq!(v["dir"], true);
    assert_eq!(v["values"], serde_json::json!([0, 2, 2, 500, -1, 418]));
    assert_eq!(v["dir_type"], "httpd/unix-directory");
    assert_eq!(v["mtime"], true);
}
