//! Several sites in one httpd stay apart: each mod_python interpreter name
//! and each mod_wsgi application group runs in its own interpreter of the
//! child (modules, module globals, sys.path and os.environ), %{GLOBAL} and
//! main_interpreter in the main one, and a single site in the main one.
mod common;
use common::*;
use std::io::{Read, Write};

/// A GET with its own Host header, `host:port` as a client sends it (the
/// harness's request() sends 127.0.0.1).
fn get_host(port: u16, host: &str, path: &str) -> Response {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut data = Vec::new();
    let _ = s.read_to_end(&mut data);
    parse_response(&data, false)
}

/// Writes `rel` under the ServerRoot, world-readable, making directories.
fn write_file(root: &std::path::Path, rel: &str, content: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = root.join(rel);
    let mut dir = p.parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    while dir.starts_with(root) && dir != root {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir = dir.parent().unwrap().to_path_buf();
    }
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// One site's mod_python handler: the same module name (`app`) in each
/// site, a module global, os.environ and sys.path that must stay the site's.
fn mp_app(site: &str) -> String {
    format!(
        r#"import os, sys
from mod_python import apache

os.environ.setdefault("PYRITE_TEST_SITE", "{site}")
SEEN = []

def handler(req):
    SEEN.append(1)
    req.content_type = "text/plain"
    others = [p for p in sys.path if p.endswith("/site_a") or p.endswith("/site_b")]
    req.write("site {site} interp=%s apache=%s env=%s calls=%d path=%s" % (
        req.interpreter, apache.interpreter, os.environ["PYRITE_TEST_SITE"], len(SEEN), ",".join(o[-6:] for o in others)))
    return apache.OK
"#
    )
}

fn mp_vhost(name: &str, dir: &str) -> String {
    format!(
        "<VirtualHost *>\n  ServerName {name}\n  DocumentRoot {{ROOT}}/{dir}\n  <Directory {{ROOT}}/{dir}>\n    SetHandler mod_python\n    PythonHandler app\n    PythonPath \"['{{ROOT}}/{dir}'] + sys.path\"\n  </Directory>\n</VirtualHost>\n"
    )
}

fn mp_sites(mpm: Mpm, extra: &str) -> Httpd {
    let site = mp_vhost("a.test", "site_a") + &mp_vhost("b.test", "site_b") + extra;
    let h = Httpd::prepare(mpm, &site);
    write_file(&h.root, "site_a/app.py", &mp_app("A"));
    write_file(&h.root, "site_b/app.py", &mp_app("B"));
    write_file(&h.root, "site_a/index.txt", "a\n");
    write_file(&h.root, "site_b/index.txt", "b\n");
    start_prepared(h)
}

fn start_prepared(h: Httpd) -> Httpd {
    let out = h.apachectl("start");
    assert!(
        out.status.success(),
        "httpd did not start: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        h.error_log()
    );
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", h.port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    h
}

fn check_mp_site(h: &Httpd, host: &str, site: &str) {
    let r = get_host(h.port, host, "/index.txt");
    let text = r.text();
    assert_eq!(r.status, 200, "{host}: {text}\n{}", h.error_log());
    assert!(text.starts_with(&format!("site {site} ")), "{host} answered {text:?}");
    assert!(
        text.contains(&format!("interp={host} apache={host} ")),
        "{host} ran in its own interpreter: {text:?}"
    );
    assert!(text.contains(&format!("env={site} ")), "{host}: os.environ is the site's: {text:?}");
    let own = if site == "A" { "site_a" } else { "site_b" };
    assert!(
        text.ends_with(&format!("path={own}")),
        "{host}: sys.path holds only its own directory: {text:?}"
    );
}

fn two_mod_python_vhosts(mpm: Mpm) {
    let h = mp_sites(mpm, "");
    for _ in 0..6 {
        check_mp_site(&h, "a.test", "A");
        check_mp_site(&h, "b.test", "B");
    }
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
    assert!(
        log.contains("2 sub-interpreter(s)"),
        "each child made both interpreters at start:\n{log}"
    );
}

#[test]
fn two_mod_python_vhosts_prefork() {
    two_mod_python_vhosts(Mpm::Prefork);
}

#[test]
fn two_mod_python_vhosts_worker() {
    two_mod_python_vhosts(Mpm::Worker);
}

#[test]
fn two_mod_python_vhosts_event() {
    two_mod_python_vhosts(Mpm::Event);
}

/// A Django-like wsgi.py: settings chosen through os.environ.setdefault.
fn wsgi_app(site: &str) -> String {
    format!(
        r#"import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_{site}.settings")
import mod_python.apache as _mp
COUNTER = [0]

def application(environ, start_response):
    COUNTER[0] += 1
    body = "settings=%s group=%s interp=%s" % (
        os.environ["DJANGO_SETTINGS_MODULE"], environ["mod_wsgi.application_group"], _mp.interpreter)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
"#
    )
}

fn wsgi_sites(mpm: Mpm) -> Httpd {
    let site = "<VirtualHost *>\n  ServerName a.test\n  WSGIScriptAlias /global {ROOT}/wsgi_g/wsgi.py application-group=%{GLOBAL}\n  WSGIScriptAlias / {ROOT}/wsgi_a/wsgi.py\n</VirtualHost>\n\
                <VirtualHost *>\n  ServerName b.test\n  WSGIScriptAlias / {ROOT}/wsgi_b/wsgi.py\n</VirtualHost>\n";
    let h = Httpd::prepare(mpm, site);
    write_file(&h.root, "wsgi_a/wsgi.py", &wsgi_app("a"));
    write_file(&h.root, "wsgi_b/wsgi.py", &wsgi_app("b"));
    write_file(&h.root, "wsgi_g/wsgi.py", &wsgi_app("g"));
    start_prepared(h)
}

fn check_wsgi(h: &Httpd, host: &str, path: &str, site: &str, group: &str, interp: &str) {
    let r = get_host(h.port, host, path);
    let text = r.text();
    assert_eq!(r.status, 200, "{host}{path}: {text}\n{}", h.error_log());
    assert_eq!(
        text,
        format!("settings=site_{site}.settings group={group} interp={interp}"),
        "{host}{path}"
    );
}

fn two_wsgi_sites(mpm: Mpm) {
    let h = wsgi_sites(mpm);
    let port = h.port;
    let a = format!("a.test:{port}|");
    let b = format!("b.test:{port}|");
    for _ in 0..10 {
        check_wsgi(&h, "a.test", "/", "a", &a, &a);
        check_wsgi(&h, "b.test", "/", "b", &b, &b);
        check_wsgi(&h, "a.test", "/global", "g", "", "main_interpreter");
    }
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
    assert!(
        !log.contains("made on first request"),
        "the groups were made at child start:\n{log}"
    );
}

#[test]
fn two_wsgi_sites_prefork() {
    two_wsgi_sites(Mpm::Prefork);
}

#[test]
fn two_wsgi_sites_worker() {
    two_wsgi_sites(Mpm::Worker);
}

#[test]
fn two_wsgi_sites_event() {
    two_wsgi_sites(Mpm::Event);
}

#[test]
fn one_site_runs_in_the_main_interpreter() {
    let h = Httpd::prepare(Mpm::Event, &mp_vhost("a.test", "site_a"));
    write_file(&h.root, "site_a/app.py", &mp_app("A"));
    write_file(&h.root, "site_a/index.txt", "a\n");
    let h = start_prepared(h);
    let text = get_host(h.port, "a.test", "/index.txt").text();
    // The site runs in the main interpreter under its mod_python name.
    assert!(text.contains("interp=a.test apache=a.test "), "{text}");
    let log = h.stop();
    assert!(log.contains("0 sub-interpreter(s)"), "{log}");
}

#[test]
fn main_interpreter_by_name() {
    let extra = "<VirtualHost *>\n  ServerName m.test\n  DocumentRoot {ROOT}/site_a\n  <Directory {ROOT}/site_a>\n    SetHandler mod_python\n    PythonHandler app\n    PythonInterpreter main_interpreter\n    PythonPath \"['{ROOT}/site_a'] + sys.path\"\n  </Directory>\n</VirtualHost>\n";
    let site = mp_vhost("a.test", "site_a") + &mp_vhost("b.test", "site_b") + extra;
    let h = Httpd::prepare(Mpm::Event, &site);
    write_file(&h.root, "site_a/app.py", &mp_app("A"));
    write_file(&h.root, "site_b/app.py", &mp_app("B"));
    write_file(&h.root, "site_a/index.txt", "a\n");
    write_file(&h.root, "site_b/index.txt", "b\n");
    let h = start_prepared(h);
    let text = get_host(h.port, "m.test", "/index.txt").text();
    assert!(
        text.contains("interp=main_interpreter apache=main_interpreter "),
        "{text}\n{}",
        h.error_log()
    );
    check_mp_site(&h, "a.test", "A");
    check_mp_site(&h, "b.test", "B");
    h.stop();
}

/// Many threads of the event MPM in two interpreters at once, mod_python
/// and WSGI: every answer is its site's, and no child dies.
#[test]
fn many_threads_two_interpreters_event() {
    let site = mp_vhost("a.test", "site_a")
        + &mp_vhost("b.test", "site_b")
        + "<VirtualHost *>\n  ServerName wa.test\n  WSGIScriptAlias / {ROOT}/wsgi_a/wsgi.py\n</VirtualHost>\n\
           <VirtualHost *>\n  ServerName wb.test\n  WSGIScriptAlias / {ROOT}/wsgi_b/wsgi.py\n</VirtualHost>\n";
    let h = Httpd::prepare(Mpm::Event, &site);
    write_file(&h.root, "site_a/app.py", &mp_app("A"));
    write_file(&h.root, "site_b/app.py", &mp_app("B"));
    write_file(&h.root, "site_a/index.txt", "a\n");
    write_file(&h.root, "site_b/index.txt", "b\n");
    write_file(&h.root, "wsgi_a/wsgi.py", &wsgi_app("a"));
    write_file(&h.root, "wsgi_b/wsgi.py", &wsgi_app("b"));
    let h = start_prepared(h);
    let port = h.port;
    let threads: Vec<_> = (0..12)
        .map(|t| {
            std::thread::spawn(move || {
                let mut wrong = Vec::new();
                for i in 0..40 {
                    let (host, path, want) = match (t + i) % 4 {
                        0 => ("a.test", "/index.txt", "site A ".to_string()),
                        1 => ("b.test", "/index.txt", "site B ".to_string()),
                        2 => ("wa.test", "/", "settings=site_a.settings".to_string()),
                        _ => ("wb.test", "/", "settings=site_b.settings".to_string()),
                    };
                    let r = get_host(port, host, path);
                    if r.status != 200 || !r.text().starts_with(&want) {
                        wrong.push(format!("{host}{path}: {} {}", r.status, r.text()));
                    }
                }
                wrong
            })
        })
        .collect();
    let wrong: Vec<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let log = h.stop();
    assert!(wrong.is_empty(), "{} wrong answers, first: {:?}\n{log}", wrong.len(), wrong.first());
    assert!(crash_lines(&log).is_empty(), "{log}");
}

/// A graceful restart with two interpreters: the new children make both again.
#[test]
fn graceful_restart_with_two_interpreters() {
    for mpm in [Mpm::Prefork, Mpm::Event] {
        let h = mp_sites(mpm, "");
        check_mp_site(&h, "a.test", "A");
        check_mp_site(&h, "b.test", "B");
        for _ in 0..2 {
            let out = h.apachectl("graceful");
            assert!(out.status.success(), "graceful: {}", String::from_utf8_lossy(&out.stderr));
            for _ in 0..10 {
                check_mp_site(&h, "a.test", "A");
                check_mp_site(&h, "b.test", "B");
            }
        }
        let log = h.stop();
        assert!(crash_lines(&log).is_empty(), "{mpm:?}: {log}");
    }
}

/// The status page counts requests per interpreter (JSON, HTML, Prometheus).
#[test]
fn status_page_counts_requests_per_interpreter() {
    let site = "<VirtualHost *>\n  ServerName status.test\n  <Location /status>\n    SetHandler pyrite-status\n    PyriteStatus On\n  </Location>\n</VirtualHost>\n\
                <VirtualHost *>\n  ServerName a.test\n  WSGIScriptAlias / {ROOT}/wsgi_a/wsgi.py\n</VirtualHost>\n\
                <VirtualHost *>\n  ServerName b.test\n  WSGIScriptAlias / {ROOT}/wsgi_b/wsgi.py\n</VirtualHost>\n";
    let h = Httpd::prepare(Mpm::Event, site);
    write_file(&h.root, "wsgi_a/wsgi.py", &wsgi_app("a"));
    write_file(&h.root, "wsgi_b/wsgi.py", &wsgi_app("b"));
    let h = start_prepared(h);
    for _ in 0..5 {
        assert_eq!(get_host(h.port, "a.test", "/").status, 200);
    }
    for _ in 0..3 {
        assert_eq!(get_host(h.port, "b.test", "/").status, 200);
    }
    let r = get_host(h.port, "status.test", "/status?json");
    assert_eq!(r.status, 200, "{}", r.text());
    let v: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
    let mut by_name = std::collections::BTreeMap::new();
    for c in v["children"].as_array().unwrap() {
        for i in c["interpreters"].as_array().unwrap() {
            *by_name.entry(i["name"].as_str().unwrap().to_string()).or_insert(0) += i["requests"].as_u64().unwrap();
        }
    }
    let port = h.port;
    assert_eq!(by_name.get(&format!("a.test:{port}|")), Some(&5), "{by_name:?}");
    assert_eq!(by_name.get(&format!("b.test:{port}|")), Some(&3), "{by_name:?}");
    let html = get_host(h.port, "status.test", "/status").text();
    assert!(
        html.contains("<h2>Interpreters</h2>") && html.contains(&format!("a.test:{port}|")),
        "{html}"
    );
    let prom = get_host(h.port, "status.test", "/status?metrics").text();
    assert!(prom.contains(&format!("interpreter=\"b.test:{port}|\"}} ")), "{prom}");
    h.stop();
}

/// PythonInterpPerDirectory and PythonInterpPerDirective: req.interpreter
/// names the interpreter that really runs the handler (mod_python's suite
/// checks the names the same way).
#[test]
fn per_directory_and_per_directive_names_are_the_interpreters() {
    let handler = "from mod_python import apache\n\ndef names(req):\n    req.write('%s|%s' % (req.interpreter, apache.interpreter))\n    return apache.DONE\n";
    let site = "<VirtualHost *>\n  ServerName pd.test\n  DocumentRoot {ROOT}/pd\n  <Directory {ROOT}/pd>\n    SetHandler mod_python\n    PythonInterpPerDirectory On\n    PythonFixupHandler names_app::names\n    PythonPath \"['{ROOT}/lib'] + sys.path\"\n  </Directory>\n</VirtualHost>\n\
                <VirtualHost *>\n  ServerName pv.test\n  DocumentRoot {ROOT}/pd\n  <Directory {ROOT}/pd>\n    SetHandler mod_python\n    PythonInterpPerDirective On\n    PythonHandler names_app::names\n    PythonPath \"['{ROOT}/lib'] + sys.path\"\n  </Directory>\n</VirtualHost>\n";
    let h = Httpd::prepare(Mpm::Event, site);
    write_file(&h.root, "lib/names_app.py", handler);
    write_file(&h.root, "pd/index.txt", "x\n");
    write_file(&h.root, "pd/subdir/index.txt", "x\n");
    let h = start_prepared(h);
    let root = format!("{}/pd/", h.root.display());
    let sub = format!("{root}subdir/");
    for (host, path, want) in [
        ("pv.test", "/", &root),
        ("pv.test", "/subdir/foo.py", &root),
        ("pv.test", "/subdir/", &root),
        ("pd.test", "/", &root),
        ("pd.test", "/subdir/foo.py", &sub),
        ("pd.test", "/subdir/", &sub),
        ("pd.test", "/subdir", &sub),
    ] {
        let r = get_host(h.port, host, path);
        assert_eq!(r.text(), format!("{want}|{want}"), "{host}{path}\n{}", h.error_log());
    }
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

/// A single site whose PythonImport names another interpreter: an
/// interpreter that would only run an import serves nothing, so the child
/// stays in the main interpreter and the handler sees what was imported.
#[test]
fn an_import_alone_does_not_make_a_second_interpreter() {
    let handler = "import sys\nfrom mod_python import apache\n\ndef handler(req):\n    req.write('%s colorsys=%s' % (apache.interpreter, 'colorsys' in sys.modules))\n    return apache.OK\n";
    let site = "PythonImport colorsys main_interpreter\n\
                <Location /one>\n  SetHandler mod_python\n  PythonHandler one_app\n  PythonPath \"['{ROOT}/lib'] + sys.path\"\n</Location>\n";
    let h = Httpd::prepare(Mpm::Event, site);
    write_file(&h.root, "lib/one_app.py", handler);
    let h = start_prepared(h);
    // The handler runs under its virtual host's name, in the main interpreter,
    // where the import ran.
    assert_eq!(h.get("/one").text(), "127.0.0.1 colorsys=True", "{}", h.error_log());
    let log = h.stop();
    assert!(log.contains("0 sub-interpreter(s)"), "{log}");
}

/// Names from the request (%{ENV:var}, here fed by a header through
/// SetEnvIf) get their interpreter on first use, up to a limit per child;
/// past it the request is refused, never run in another interpreter.
#[test]
fn names_from_requests_are_made_on_demand_up_to_a_limit() {
    let site = format!(
        "LoadModule setenvif_module {MODULES}/mod_setenvif.so\n\
         SetEnvIf X-Group \"^(g[0-9]+)$\" PYRITE_GROUP=$1\n\
         StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n\
         <VirtualHost *>\n  ServerName a.test\n  WSGIScriptAlias / {{ROOT}}/wsgi_a/wsgi.py\n</VirtualHost>\n\
         <VirtualHost *>\n  ServerName e.test\n  WSGIScriptAlias / {{ROOT}}/wsgi_b/wsgi.py application-group=%{{ENV:PYRITE_GROUP}}\n</VirtualHost>\n"
    );
    let h = Httpd::prepare(Mpm::Event, &site);
    write_file(&h.root, "wsgi_a/wsgi.py", &wsgi_app("a"));
    write_file(&h.root, "wsgi_b/wsgi.py", &wsgi_app("b"));
    let h = start_prepared(h);
    let ask = |group: &str| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
        let req = format!(
            "GET / HTTP/1.1\r\nHost: e.test:{}\r\nX-Group: {group}\r\nConnection: close\r\n\r\n",
            h.port
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut data = Vec::new();
        let _ = s.read_to_end(&mut data);
        parse_response(&data, false)
    };
    for i in 0..64 {
        let g = format!("g{i}");
        let r = ask(&g);
        assert_eq!(r.status, 200, "{g}: {}\n{}", r.text(), h.error_log());
        assert_eq!(r.text(), format!("settings=site_b.settings group={g} interp={g}"));
    }
    assert_eq!(ask("g64").status, 500, "the 65th name made on demand is refused");
    assert_eq!(ask("g3").status, 200, "names already made still serve");
    check_wsgi(
        &h,
        "a.test",
        "/",
        "a",
        &format!("a.test:{}|", h.port),
        &format!("a.test:{}|", h.port),
    );
    let log = h.stop();
    assert!(log.contains("not making interpreter 'g64'"), "{log}");
    assert!(crash_lines(&log).is_empty(), "{log}");
}
