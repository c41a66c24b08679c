//! What mod_wsgi 4.9 does beyond PEP 3333 and a site moved from it relies on:
//! its types and `mod_wsgi` module, start_response's exceptions, the log
//! streams, HEAD mapping, the restrictions, Python's start-up directives, and
//! the directives that only say what happens instead.
mod common;
use common::*;

const ONE_CHILD: &str = "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";

fn mount(url: &str) -> String {
    format!("WSGIScriptAlias {url} {{HANDLERS}}/wsgi_parity.py\n")
}

fn json(h: &Httpd, path: &str) -> serde_json::Value {
    let r = h.get(path);
    assert_eq!(r.status, 200, "{path}: {}\n{}", r.text(), h.error_log());
    serde_json::from_str(&r.text()).unwrap()
}

/// Waits for an httpd started with apachectl("start") (its pid file stops it on drop).
fn wait_started(h: Httpd) -> Httpd {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", h.port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    h
}

fn write_readable(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::set_permissions(path.parent().unwrap(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn start_response_raises_mod_wsgis_exceptions() {
    let h = Httpd::start(Mpm::Event, &mount("/p"));
    let cases: &[(&str, &str)] = &[
        (
            "bad-headers?case=str",
            "TypeError:start_response() argument 2 must be list, not str",
        ),
        (
            "bad-headers?case=tuple",
            "TypeError:start_response() argument 2 must be list, not tuple",
        ),
        (
            "bad-headers?case=dict",
            "TypeError:start_response() argument 2 must be list, not dict",
        ),
        ("bad-headers?case=empty-name", "ValueError:header name is empty"),
        ("bad-headers?case=space-name", "ValueError:space character in header name: b'X Foo'"),
        (
            "bad-headers?case=tab-name",
            "ValueError:control character in header name: b'X\\tFoo'",
        ),
        (
            "bad-headers?case=crlf-value",
            "ValueError:carriage return/line feed character in header value: b'a\\r\\nSet-Cookie: x=1'",
        ),
        ("bad-headers?case=int-name", "TypeError:must be str, not int"),
        (
            "bad-headers?case=non-latin1",
            "UnicodeEncodeError:'latin-1' codec can't encode characters in position 0-1: ordinal not in range(256)",
        ),
        ("bad-headers?case=not-a-tuple", "TypeError:each header must be a 2-tuple, not str"),
        ("bad-headers?case=three", "ValueError:each header must be a 2-tuple, got length 3"),
        (
            "bad-status?case=no-digits",
            "ValueError:status code must be a 3 digit integer: b'OK'",
        ),
        (
            "bad-status?case=four-digits",
            "ValueError:status code must be a 3 digit integer: b'2000 OK'",
        ),
        ("bad-status?case=no-space", "ValueError:no space following status code: b'200OK'"),
        (
            "bad-status?case=ctl",
            "ValueError:control character in status reason phrase: b'200 OK\\r\\nX: y'",
        ),
        (
            "bad-exc-info",
            "RuntimeError:start_response() argument 'exc_info' must be a 3-tuple or None",
        ),
    ];
    for (path, want) in cases {
        let r = h.get(&format!("/p/{path}"));
        assert_eq!((r.status, r.text().as_str()), (200, *want), "{path}");
    }
    // Before any output, a second call replaces the first's status and headers.
    let r = h.get("/p/second-before-output");
    assert_eq!((r.status, r.text().as_str()), (201, "second wins"));
    assert_eq!(r.header_str("x-second").as_deref(), Some("2"));
    assert!(r.header("x-first").is_none(), "{r:?}");
    // After output it is an error.
    let r = h.get("/p/second-after-output");
    assert_eq!(
        r.text(),
        "sent;RuntimeError:start_response() called more than once without exc_info"
    );
}

#[test]
fn types_log_streams_and_the_mod_wsgi_module() {
    let site = mount("/p") + "<Location /q>\n  WSGIPassApacheRequest On\n</Location>\n" + &mount("/q");
    let h = Httpd::start(Mpm::Event, &site);
    let v = json(&h, "/p/types");
    assert_eq!(v["input"], "mod_wsgi.Input");
    assert_eq!(v["file_wrapper"], "mod_wsgi.FileWrapper");
    assert_eq!(v["errors"], "_io.TextIOWrapper");
    assert_eq!(v["errors_buffer"], "mod_wsgi.Log");
    assert_eq!(v["stdout"], "_io.TextIOWrapper", "sys.stdout has a .buffer, as hgweb needs");
    assert_eq!(v["stderr"], "_io.TextIOWrapper");
    assert_eq!(v["environ_version"], serde_json::json!([4, 9, 4]));
    assert!(v["thread_id"].as_u64().is_some_and(|n| n >= 1), "{v}");
    let m = &v["module"];
    assert_eq!(m["version"], serde_json::json!([4, 9, 4]));
    assert_eq!(m["process_group"], "");
    // Two aliases: each runs in its own interpreter, named as mod_wsgi names it.
    assert_eq!(m["application_group"], format!("127.0.0.1:{}|/p", h.port));
    assert_eq!(m["maximum_processes"], 3, "ServerLimit of the test's event MPM");
    assert_eq!(m["threads_per_process"], 8, "ThreadsPerChild of the test's event MPM");
    assert_eq!(m["input_class"], true);
    assert!(v["request_rec"].is_null(), "only with WSGIPassApacheRequest On");
    assert_eq!(json(&h, "/q/types")["request_rec"], "builtins.PyCapsule");
    let log = h.wait_log("PARITY_STDERR_TEXT");
    for marker in [
        "PARITY_BYTES",
        "PARITY_BYTEARRAY",
        "PARITY_MEMORYVIEW",
        "PARITY_WL_A",
        "PARITY_WL_B",
        "PARITY_STDOUT_BUFFER",
        "PARITY_STDERR_TEXT",
    ] {
        assert!(log.contains(marker), "{marker} not logged:\n{log}");
    }
}

#[test]
fn head_reaches_the_application_as_get_when_configured() {
    let site = format!(
        "LoadModule deflate_module {MODULES}/mod_deflate.so\n{}{}{}{}\
         <Location /on>\n  WSGIMapHEADToGET On\n</Location>\n\
         <Location /off>\n  WSGIMapHEADToGET Off\n</Location>\n\
         <Location /filtered>\n  SetOutputFilter DEFLATE\n</Location>\n",
        mount("/auto"),
        mount("/on"),
        mount("/off"),
        mount("/filtered")
    );
    let h = Httpd::start(Mpm::Event, &site);
    for (path, seen) in [
        ("/auto/method", "HEAD"),
        ("/on/method", "GET"),
        ("/off/method", "HEAD"),
        ("/filtered/method", "GET"),
    ] {
        let r = h.request("HEAD", path, &[], b"");
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header_str("x-method-seen").as_deref(), Some(seen), "{path}");
    }
    assert_eq!(h.get("/on/method").text(), "method=GET");
}

#[test]
fn system_exit_is_logged_as_mod_wsgi_does_and_bytes_before_a_bad_item_are_sent() {
    let h = Httpd::start(Mpm::Event, &mount("/p"));
    let r = h.get("/p/system-exit");
    assert_eq!(r.status, 500);
    assert!(!r.text().contains("parity-exit-message"));
    let log = h.wait_log("SystemExit: parity-exit-message");
    assert!(log.contains("SystemExit exception raised by WSGI script"), "{log}");
    let r = h.get("/p/bytes-then-int");
    assert_eq!((r.status, r.text().as_str()), (200, "bytes-ok"));
    assert!(r.truncated, "the response is visibly cut after the bytes: {r:?}");
    let log = h.wait_log("yielded int, not bytes");
    assert!(log.contains("TypeError exception raised processing WSGI script"), "{log}");
    assert_eq!(h.get("/p/method").status, 200, "the child goes on");
}

#[test]
fn restrictions_on_stdin_stdout_and_signals() {
    let h = Httpd::start(Mpm::Event, &mount("/p"));
    assert_eq!(h.get("/p/stdin").text(), "stdin:_io.TextIOWrapper", "not restricted by default");
    assert_eq!(h.get("/p/stdout").text(), "printed");
    assert_eq!(h.get("/p/signal").text(), "unchanged", "WSGIRestrictSignal is On by default");
    let log = h.wait_log("WSGIRestrictSignal On");
    assert!(log.contains("signal.signal(") && log.contains("ignored"), "{log}");
    drop(h);
    let site = mount("/p") + "WSGIRestrictStdin On\nWSGIRestrictStdout On\nWSGIRestrictSignal Off\n";
    let h = Httpd::start(Mpm::Event, &site);
    let t = h.get("/p/stdin").text();
    assert!(t.starts_with("mod_wsgi.Restricted|OSError:sys.stdin access restricted"), "{t}");
    let t = h.get("/p/stdout").text();
    assert!(t.starts_with("OSError:sys.stdout access restricted"), "{t}");
    // The real signal.signal answers: request threads are not Python's main thread.
    let t = h.get("/p/signal").text();
    assert!(t.starts_with("ValueError:signal only works in main thread"), "{t}");
    drop(h);
    // A mod_python-only site keeps mod_python's signal.signal and has no mod_wsgi module.
    let h = Httpd::start(Mpm::Event, &location("/mp", "wsgi_parity", ""));
    assert_eq!(h.get("/mp").text(), "signal.signal|no mod_wsgi");
    drop(h);
    let h = Httpd::start(Mpm::Event, &(location("/mp", "wsgi_parity", "") + &mount("/p")));
    assert_eq!(h.get("/mp").text(), "_pyrite_wsgi._signal_intercept|mod_wsgi (4, 9, 4)");
}

#[test]
fn python_start_up_directives_reach_the_interpreter() {
    let site = mount("/p")
        + "WSGIPythonOptimize 1\nWSGIDontWriteBytecode On\nWSGIPythonWarnings ignore::DeprecationWarning\n\
           WSGIPythonWarnings error::ResourceWarning\nWSGIPythonHashSeed 12345\nWSGIPythonEggs {SCRATCH}/eggs\n";
    let h = Httpd::start(Mpm::Event, &site);
    let v = json(&h, "/p/flags");
    assert_eq!(v["optimize"], 1);
    assert_eq!(v["dont_write_bytecode"], true);
    assert_eq!(
        v["warnoptions"],
        serde_json::json!(["ignore::DeprecationWarning", "error::ResourceWarning"])
    );
    assert_eq!(v["egg_cache"], h.root.join("scratch/eggs").to_str().unwrap());
    // The Python the module embeds (the Makefile exports PYO3_PYTHON).
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let out = std::process::Command::new(python)
        .args(["-c", "print(hash('mod_pyrite parity'))"])
        .env("PYTHONHASHSEED", "12345")
        .output()
        .unwrap();
    let want: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(v["hash"], want, "the hash seed is the one configured");
    // Bad values stop httpd with a message.
    for (line, needle) in [
        ("WSGIPythonOptimize 3", "WSGIPythonOptimize: \"3\": use 0, 1 or 2"),
        ("WSGIPythonHashSeed lots", "WSGIPythonHashSeed: \"lots\": use random or a number"),
        ("WSGIMapHEADToGET Sometimes", "WSGIMapHEADToGET: \"sometimes\": use On, Off or Auto"),
    ] {
        let h = Httpd::prepare(Mpm::Event, &format!("{line}\n"));
        let out = h.apachectl("configtest");
        let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success() && text.contains(needle), "{line}: {text}");
    }
}

#[test]
fn daemon_only_and_outside_directives_start_and_say_what_happens_instead() {
    let site = mount("/p")
        + "WSGIAcceptMutex default\nWSGISocketRotation Off\nWSGIDestroyInterpreter On\n\
           WSGINewRelicConfigFile /etc/newrelic.ini\nWSGINewRelicEnvironment production\nWSGIServerMetrics On\n\
           WSGICaseSensitivity On\nWSGIVerboseDebugging On\n<Location /p>\n  WSGIIgnoreActivity On\n</Location>\n";
    let h = Httpd::start(Mpm::Event, &site);
    let text = h.wait_log("configured: each child");
    for name in [
        "WSGIAcceptMutex",
        "WSGISocketRotation",
        "WSGINewRelicConfigFile",
        "WSGINewRelicEnvironment",
        "WSGIServerMetrics",
        "WSGICaseSensitivity",
        "WSGIIgnoreActivity",
    ] {
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(name) && l.contains("accepted and not applied: "))
            .collect();
        assert_eq!(lines.len(), 1, "one error-log line at start-up for {name}:\n{text}");
    }
    assert_eq!(h.get("/p/method").text(), "method=GET");
    let log = h.wait_log("loaded as module");
    assert!(
        log.contains("wsgi_parity.py loaded as module _mod_wsgi_"),
        "WSGIVerboseDebugging: {log}"
    );
}

#[test]
fn error_override_sendfile_and_restrict_embedded() {
    let site = format!(
        "{}{}ErrorDocument 404 \"httpd's own page\"\n\
         <Location /p>\n  WSGIErrorOverride On\n</Location>\n\
         <Location /q>\n  WSGIEnableSendfile Off\n</Location>\n{ONE_CHILD}",
        mount("/p"),
        mount("/q")
    );
    let h = Httpd::start(Mpm::Event, &site);
    let r = h.get("/p/not-found");
    assert_eq!((r.status, r.text().as_str()), (404, "httpd's own page"));
    let r = h.get("/q/not-found");
    assert_eq!((r.status, r.text().as_str()), (404, "the application's own 404 page"));
    let source = std::fs::read_to_string(h.root.join("handlers/wsgi_parity.py")).unwrap();
    assert_eq!(h.get("/p/file").text(), source);
    assert_eq!(h.get("/p/file-reads").text(), "0", "a real file goes to httpd unread");
    assert_eq!(h.get("/q/file").text(), source);
    let reads: usize = h.get("/q/file-reads").text().parse().unwrap();
    assert!(reads > 0, "WSGIEnableSendfile Off reads the file through Python");
    drop(h);
    let h = Httpd::start(Mpm::Event, &(mount("/p") + "WSGIRestrictEmbedded On\n"));
    assert_eq!(h.get("/p/method").status, 500);
    let log = h.wait_log("WSGIRestrictEmbedded On");
    assert!(log.contains("refused: WSGIRestrictEmbedded On"), "{log}");
}

#[test]
fn a_failed_script_import_leaves_no_half_imported_modules() {
    let site = mount("/p") + "WSGIPythonPath {SCRATCH}/lib\nWSGIScriptAlias /broken {SCRATCH}/broken.wsgi\n" + ONE_CHILD;
    let h = Httpd::prepare(Mpm::Event, &site);
    let scratch = h.root.join("scratch");
    write_readable(&scratch.join("lib/parity_half.py"), "LOADED = True\n");
    write_readable(
        &scratch.join("broken.wsgi"),
        "import parity_half\nraise RuntimeError('parity script fails after its imports')\n",
    );
    let out = h.apachectl("start");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let h = wait_started(h);
    for _ in 0..2 {
        assert_eq!(h.get("/broken").status, 500);
        assert_eq!(json(&h, "/p/modules"), serde_json::json!([]), "{}", h.error_log());
    }
    let log = h.error_log();
    assert!(log.contains("removed from sys.modules again"), "{log}");
    assert!(log.contains("parity script fails after its imports"), "{log}");
}

#[test]
fn atexit_functions_run_when_a_child_exits_unless_destroy_interpreter_is_off() {
    for (setting, runs) in [("", true), ("WSGIDestroyInterpreter Off\n", false)] {
        let mut h = Httpd::start(Mpm::Event, &(mount("/p") + setting + ONE_CHILD));
        let marker = h.root.join("scratch/atexit-ran");
        let r = h.get(&format!("/p/atexit?file={}", marker.display()));
        assert_eq!(r.text(), "registered");
        let log = h.stop_in_place();
        assert_eq!(marker.exists(), runs, "{setting:?}:\n{log}");
        assert!(crash_lines(&log).is_empty(), "{log}");
    }
}

#[test]
fn handler_script_serves_resources_by_handler_name() {
    let site = "WSGIHandlerScript parity-resource {HANDLERS}/wsgi_parity_handler.wsgi application-group=%{GLOBAL}\n\
                <Directory {DOCS}>\n  AddHandler parity-resource .myext\n</Directory>\n";
    let h = Httpd::start(Mpm::Event, site);
    h.write_doc("page.myext", b"the resource");
    let r = h.get("/page.myext");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "handled page.myext: the resource"),
        "{}",
        h.error_log()
    );
    assert_eq!(r.header_str("x-group").as_deref(), Some(""));
    assert_eq!(r.header_str("x-mod-wsgi").as_deref(), Some("4.9.4"), "a WSGI site sees mod_wsgi");
    assert_eq!(h.get("/index.txt").text(), "static file\n", "other files are not touched");
    // Daemon mode: process-group= names a WSGIDaemonProcess group (tests/daemon_*.rs).
    let h = Httpd::prepare(
        Mpm::Event,
        "WSGIDaemonProcess daemon1\nWSGIHandlerScript x {HANDLERS}/wsgi_parity_handler.wsgi process-group=daemon1\n",
    );
    let out = h.apachectl("configtest");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A thread lends its wsgi.errors to its next request only when nothing kept
/// or changed it: a kept stream stays its request's, a reconfigured one or
/// one given an attribute is not seen again, and one let go is reused.
#[test]
fn wsgi_errors_is_lent_to_the_next_request_only_when_left_as_made() {
    // One process with one thread: every request runs on the same thread.
    let one = "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nServerLimit 1\nMaxRequestWorkers 1\n";
    let h = Httpd::start(Mpm::Prefork, &(mount("/p") + one));
    let first = json(&h, "/p/errors-lent?then=leave");
    assert_eq!(first["errors"], "backslashreplace");
    assert_eq!(first["name"], "wsgi.errors");
    // Let go: the next request gets the same stream, as made.
    let v = json(&h, "/p/errors-lent?then=keep");
    assert_eq!(v["same_as_last"], true, "a stream nobody holds is lent again: {v}");
    // Kept by the application: the next request gets another one.
    let v = json(&h, "/p/errors-lent?then=change");
    assert_eq!(v["same_as_last"], false, "{v}");
    assert_eq!(v["kept_is_other"], true, "{v}");
    // Reconfigured and given an attribute: never lent again.
    let v = json(&h, "/p/errors-lent?then=leave");
    assert_eq!(v["same_as_last"], false, "{v}");
    assert_eq!(v["errors"], "backslashreplace", "{v}");
    assert_eq!(v["line_buffering"], false, "{v}");
    assert_eq!(v["attr"], serde_json::Value::Null, "{v}");
    // A kept stream still writes, to the server's log now its request is over.
    assert_eq!(h.get("/p/errors-write-kept").text(), "1");
    let log = h.wait_log("PARITY_KEPT_STREAM");
    assert!(log.contains("errors-lent change"), "{log}");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}
