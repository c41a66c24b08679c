//! Security: no traceback, file path or Python version in any response (the
//! Server header aside, which names Python/X.Y as mod_python's does) unless
//! PythonDebug On; CR/LF header injection refused from handlers and WSGI
//! applications; Python* directives in .htaccess only where AllowOverride
//! permits (the override classes mod_python uses); Python never runs as root
//! or in httpd's parent.
mod common;
use common::*;

fn fault_site(debug: bool) -> String {
    let extra = if debug { "  PythonDebug On" } else { "" };
    let mut s = "PythonPath \"sys.path+['{HANDLERS}']\"\n".to_string();
    for (path, h) in [
        ("/raises", "errors::raises"),
        ("/after-write", "errors::raises_after_write"),
        ("/after-buffered", "errors::raises_after_buffered_write"),
        ("/string", "errors::returns_string"),
        ("/none", "errors::returns_none"),
        ("/weird", "errors::returns_weird"),
        ("/panic", "errors::rust_panic"),
        ("/exit", "errors::sys_exit"),
        ("/no-module", "no_such_module_xyz"),
        ("/no-function", "errors::no_such_function"),
        ("/inject", "reliability::inject_headers"),
    ] {
        s += &location(path, h, extra);
    }
    for (url, file, app) in [
        ("/w/raises", "wsgi_apps.py", "raises"),
        ("/w/midstream", "wsgi_apps.py", "fails_midstream"),
        ("/w/before", "wsgi_apps.py", "fails_before_headers"),
        ("/w/bad-status", "wsgi_apps.py", "bad_status"),
        ("/w/bad-headers", "wsgi_apps.py", "bad_headers"),
        ("/w/exit", "reliability_wsgi.py", "sys_exit"),
        ("/w/none", "reliability_wsgi.py", "returns_none"),
        ("/w/no-start", "reliability_wsgi.py", "no_start_response"),
        ("/w/str-later", "reliability_wsgi.py", "yields_str"),
        ("/w/inject", "reliability_wsgi.py", "inject"),
    ] {
        s += &format!("WSGIScriptAlias {url} {{HANDLERS}}/{file} callable-object={app}\n");
    }
    s
}

const FAULT_URLS: [&str; 20] = [
    "/raises",
    "/after-write",
    "/after-buffered",
    "/string",
    "/none",
    "/weird",
    "/panic",
    "/exit",
    "/no-module",
    "/no-function",
    "/w/raises",
    "/w/midstream",
    "/w/before",
    "/w/bad-status?ctl",
    "/w/bad-headers?crlf",
    "/w/exit",
    "/w/none",
    "/w/no-start",
    "/w/str-later",
    "/no-such-path",
];

/// Everything the client received, head and body, as text.
/// The response as text, but for the Server header: that names `Python/X.Y`
/// as mod_python's does (httpd's ServerTokens decides, tested in mp_package.rs).
fn everything(r: &Response) -> String {
    let mut all: String = r
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("server"))
        .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v)))
        .collect();
    all += &r.text();
    all
}

fn python_version() -> String {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sys; print(sys.version.split()[0])")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn no_traceback_path_or_python_version_reaches_a_client_without_python_debug() {
    let h = Httpd::start(Mpm::Event, &fault_site(false));
    let root = h.root.display().to_string();
    let version = python_version();
    let mut checked = 0;
    for url in FAULT_URLS {
        let r = h.get(url);
        let all = everything(&r);
        for needle in [
            "Traceback",
            "File \"",
            root.as_str(),
            "/usr/lib/python",
            ".py",
            "Python/",
            version.as_str(),
            "line ",
        ] {
            assert!(!all.contains(needle), "{url}: {needle:?} reached the client:\n{all}");
        }
        checked += 1;
        println!("{url}: status {}, {} bytes, nothing revealing", r.status, r.body.len());
    }
    let log = h.stop();
    assert!(log.contains("Traceback"), "the details are in the error log instead");
    assert!(crash_lines(&log).is_empty(), "{log}");
    println!("{checked} fault responses checked");

    // With PythonDebug On the handler's traceback is sent, as mod_python does.
    let h = Httpd::start(Mpm::Event, &fault_site(true));
    let r = h.get("/raises");
    assert!(r.text().contains("Traceback"), "{}", r.text());
}

#[test]
fn cr_lf_header_injection_is_refused() {
    let h = Httpd::start(Mpm::Event, &fault_site(false));
    for url in [
        "/inject?headers_out",
        "/inject?headers_out_add",
        "/inject?err_headers_out",
        "/inject?name",
        "/inject?content_type",
        "/inject?lf",
        "/inject?del",
        "/w/inject?value",
        "/w/inject?name",
        "/w/inject?status",
        "/w/inject?lf",
    ] {
        let r = h.get(url);
        println!("{url}: status {}", r.status);
        assert!(
            r.header("set-cookie").is_none()
                && !r
                    .headers
                    .iter()
                    .any(|(k, v)| k.contains("injected") || v.windows(8).any(|w| w == b"injected")),
            "{url}: injection got through: {:?}",
            r.headers
        );
        assert!(r.status == 500 || r.status == 200, "{url}: {}", r.status);
        // The refusal is a whole response: its Content-Length counts only what is sent
        // (httpd's own late check counted the flushed body too; found by tests/fuzz_http.rs).
        assert!(!r.truncated, "{url}: the response's framing is wrong: {r:?}");
        if r.status == 200 {
            assert!(r.header("x-inject").is_none(), "{url}: {:?}", r.headers);
        }
    }
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

fn htaccess_site(allow: &str) -> String {
    format!(
        "PythonPath \"sys.path+['{{HANDLERS}}']\"\n<Directory {{DOCS}}/app>\n  AllowOverride {allow}\n</Directory>\n\
         <Directory {{DOCS}}/imports>\n  AllowOverride {allow}\n</Directory>\n\
         <Directory {{DOCS}}/trans>\n  AllowOverride {allow}\n</Directory>\n"
    )
}

fn write_htaccess_dirs(h: &Httpd) {
    h.write_doc("app/page.txt", b"static text\n");
    h.write_doc(
        "app/.htaccess",
        format!(
            "SetHandler mod_python\nPythonHandler reliability::pid\nPythonPath \"sys.path+['{}']\"\nPythonDebug On\n",
            h.root.join("handlers").display()
        )
        .as_bytes(),
    );
    h.write_doc("imports/page.txt", b"static text\n");
    h.write_doc("imports/.htaccess", b"PythonImport rel_generation main_interpreter\n");
    h.write_doc("trans/page.txt", b"static text\n");
    h.write_doc("trans/.htaccess", b"PythonTransHandler reliability::raise_in_phase\n");
}

#[test]
fn htaccess_python_directives_follow_allow_override_as_in_mod_python() {
    // mod_python's command table: the Python*Handler phases past translation,
    // PythonPath, PythonOption, PythonDebug, PythonAutoReload and the
    // PythonInterp* flags are OR_ALL (any AllowOverride class admits them);
    // PythonImport, PythonPostReadRequestHandler and PythonTransHandler are
    // RSRC_CONF (never in .htaccess). src/config.rs uses the same classes.
    let h = Httpd::start(Mpm::Event, &htaccess_site("None"));
    write_htaccess_dirs(&h);
    let r = h.get("/app/page.txt");
    println!("AllowOverride None: .htaccess with PythonHandler -> {} {:?}", r.status, r.text());
    assert_eq!((r.status, r.text().as_str()), (200, "static text\n"), ".htaccess was read");
    assert_eq!(h.get("/imports/page.txt").status, 200);
    drop(h);

    for allow in ["All", "FileInfo"] {
        let h = Httpd::start(Mpm::Event, &htaccess_site(allow));
        write_htaccess_dirs(&h);
        let r = h.get("/app/page.txt");
        println!("AllowOverride {allow}: .htaccess with PythonHandler -> {} {:?}", r.status, r.text());
        assert_eq!(r.status, 200);
        assert!(r.text().parse::<i32>().is_ok(), "the handler ran: {}", r.text());
        for dir in ["imports", "trans"] {
            let r = h.get(&format!("/{dir}/page.txt"));
            println!(
                "AllowOverride {allow}: .htaccess with a server-only directive ({dir}) -> {}",
                r.status
            );
            assert_eq!(r.status, 500, "{dir}: a server-only directive is refused in .htaccess");
        }
        let log = h.stop();
        assert!(log.contains("PythonImport not allowed here"), "{log}");
        assert!(log.contains("PythonTransHandler not allowed here"), "{log}");
        assert!(crash_lines(&log).is_empty(), "{log}");
    }

    // AuthConfig only: the Python* directives (OR_ALL) are admitted, SetHandler (FileInfo) is not.
    let h = Httpd::start(Mpm::Event, &htaccess_site("AuthConfig"));
    h.write_doc("app/page.txt", b"static text\n");
    h.write_doc("app/.htaccess", b"PythonDebug On\nPythonOption answer 42\n");
    let r = h.get("/app/page.txt");
    println!("AllowOverride AuthConfig: .htaccess with PythonDebug/PythonOption -> {}", r.status);
    assert_eq!(r.status, 200, "{}", h.error_log());
}

#[test]
fn python_never_runs_as_root_or_in_the_parent() {
    let site = "PythonPath \"sys.path+['{HANDLERS}']\"\nPythonImport rel_generation main_interpreter\n".to_string()
        + &location("/pid", "reliability::pid", "");
    for mpm in [Mpm::Prefork, Mpm::Event] {
        let mut h = Httpd::start(mpm, &site);
        let parent = std::fs::read_to_string(h.root.join("run/httpd.pid"))
            .unwrap()
            .trim()
            .parse::<i64>()
            .unwrap();
        for _ in 0..10 {
            assert_eq!(h.get("/pid").status, 200);
        }
        let out = h.apachectl("graceful");
        assert!(out.status.success());
        std::thread::sleep(std::time::Duration::from_millis(500));
        for _ in 0..10 {
            assert_eq!(h.get("/pid").status, 200);
        }
        h.stop_in_place();
        let records = std::fs::read_to_string(h.root.join("scratch/imports.txt")).unwrap();
        println!("{mpm:?}: parent {parent}; PythonImport ran in:\n{}", records.trim());
        assert!(!records.is_empty());
        for line in records.lines() {
            assert!(!line.starts_with(&format!("pid={parent} ")), "Python ran in the parent: {line}");
            assert!(line.contains(&format!(" ppid={parent} ")), "not a child of httpd: {line}");
            // SAFETY: getuid has no preconditions.
            if unsafe { libc::getuid() } == 0 {
                assert!(!line.contains(" uid=0 "), "Python ran as root: {line}");
            }
        }
    }
}
