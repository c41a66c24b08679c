//! mod_wsgi's directives: a mod_wsgi (embedded) configuration works with one
//! LoadModule line changed (daemon mode: tests/daemon_*.rs).
mod common;
use common::*;

fn info(h: &Httpd, path: &str, headers: &[(&str, &[u8])]) -> serde_json::Value {
    let r = h.request("GET", path, headers, b"");
    assert_eq!(r.status, 200, "{path}: {}\n{}", r.text(), h.error_log());
    serde_json::from_str(&r.text()).unwrap()
}

#[test]
fn callable_group_authorization_and_python_path() {
    let extra_dir = "{SCRATCH}/extra";
    let site = format!(
        "WSGIPythonPath {extra_dir}\n\
         WSGIScriptAlias /info {{HANDLERS}}/wsgi_config_apps.py callable-object=info\n\
         WSGIScriptAlias /global {{HANDLERS}}/wsgi_config_apps.py callable-object=info application-group=%{{GLOBAL}} pass-authorization=On\n\
         WSGIScriptAlias /named {{HANDLERS}}/wsgi_config_apps.py\n\
         <Location /named>\n  WSGICallableObject other_name\n</Location>\n\
         <Location /info>\n  WSGIApplicationGroup custom-group\n</Location>\n"
    );
    let h = Httpd::prepare(Mpm::Event, &site);
    let extra = h.root.join("scratch/extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("on_wsgi_python_path.py"), "MARK = 'found via WSGIPythonPath'\n").unwrap();
    for p in [&extra, &extra.join("on_wsgi_python_path.py")] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(if p.is_dir() { 0o755 } else { 0o644 })).unwrap();
    }
    let out = h.apachectl("start");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let h = wait_started(h);
    let v = info(&h, "/info", &[("Authorization", b"Basic dXNlcjpwdw==")]);
    assert_eq!(v["group"], "custom-group");
    assert!(v["auth"].is_null(), "Authorization is hidden by default");
    assert_eq!(v["python_path_mark"], "found via WSGIPythonPath");
    let v = info(&h, "/global", &[("Authorization", b"Basic dXNlcjpwdw==")]);
    assert_eq!(v["group"], "");
    assert_eq!(v["auth"], "Basic dXNlcjpwdw==");
    assert_eq!(h.get("/named").text(), "called other_name");
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

#[test]
fn scripts_are_preloaded_at_child_start_unless_told_not_to() {
    let site = "WSGIScriptAlias /pre {HANDLERS}/wsgi_config_apps.py callable-object=info\n\
                WSGIScriptAlias /lazy {HANDLERS}/wsgi_reload.py preload=Off\n\
                WSGIImportScript {HANDLERS}/wsgi_apps.py process-group=%{GLOBAL} application-group=%{GLOBAL}\n";
    let h = Httpd::start(Mpm::Event, site);
    let log = h.wait_log("WSGI script(s)");
    assert!(
        log.contains("2 WSGI script(s)"),
        "the alias target and the import script load at start:\n{log}"
    );
    let v = info(&h, "/pre", &[]);
    assert_eq!(v["loaded_pid"], v["pid"]);
    assert_eq!(v["loaded_before_first_request"], true);
    assert_eq!(h.get("/lazy").text(), "version 1");
}

#[test]
fn edited_script_is_reloaded_unless_reloading_is_off() {
    let one_child = "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";
    let site = format!("WSGIScriptAlias /r {{SCRATCH}}/r.wsgi\nWSGIScriptAlias /n {{SCRATCH}}/n.wsgi\n<Location /n>\n  WSGIScriptReloading Off\n</Location>\n{one_child}");
    let h = Httpd::prepare(Mpm::Event, &site);
    let scratch = h.root.join("scratch");
    let write = |name: &str, v: &str| {
        let p = scratch.join(name);
        std::fs::write(&p, format!("def application(e, sr):\n    sr('200 OK', [])\n    return [b'{v}']\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    };
    write("r.wsgi", "one");
    write("n.wsgi", "one");
    assert!(h.apachectl("start").status.success());
    let h = wait_started(h);
    assert_eq!(h.get("/r").text(), "one");
    assert_eq!(h.get("/n").text(), "one");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write("r.wsgi", "two");
    write("n.wsgi", "two");
    assert_eq!(h.get("/r").text(), "two", "changed script reloaded on the next request");
    assert_eq!(h.get("/n").text(), "one", "WSGIScriptReloading Off keeps the loaded script");
}

#[test]
fn python_home_runs_applications_in_a_virtualenv() {
    let h = Httpd::prepare(
        Mpm::Event,
        "WSGIPythonHome {SCRATCH}/venv\nWSGIScriptAlias /info {HANDLERS}/wsgi_config_apps.py callable-object=info\n",
    );
    let venv = h.root.join("scratch/venv");
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let site_packages = venv
        .join("lib")
        .read_dir()
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
        .join("site-packages");
    std::fs::write(site_packages.join("venv_only_module.py"), "X = 1\n").unwrap();
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&venv).status();
    assert!(h.apachectl("start").status.success(), "{}", h.error_log());
    let h = wait_started(h);
    let v = info(&h, "/info", &[]);
    assert_eq!(v["prefix"], venv.to_str().unwrap(), "{v}");
    let path: Vec<String> = serde_json::from_value(v["sys_path"].clone()).unwrap();
    assert!(
        path.iter().any(|p| p == site_packages.to_str().unwrap()),
        "venv site-packages on sys.path: {path:?}"
    );
    assert!(
        !path.iter().any(|p| p.contains("dist-packages")),
        "the system's packages are not: {path:?}"
    );
}

#[test]
fn mod_python_wsgi_handler_runs_the_same_adapter() {
    let site = "<Location /mpw>\n  SetHandler mod_python\n  PythonHandler mod_python.wsgi\n  PythonPath \"sys.path+['{HANDLERS}']\"\n  PythonOption mod_python.wsgi.application mp_wsgi_app::app\n</Location>\n\
                <Location /based>\n  SetHandler mod_python\n  PythonHandler mod_python.wsgi\n  PythonPath \"sys.path+['{HANDLERS}']\"\n  PythonOption mod_python.wsgi.application mp_wsgi_app::app\n  PythonOption mod_python.wsgi.base_uri /based/deeper\n</Location>\n";
    let h = Httpd::start(Mpm::Event, site);
    assert_eq!(h.get("/mpw/x/y").text(), "/mpw|/x/y|http");
    assert_eq!(h.get("/based/deeper/z").text(), "/based/deeper|/z|http");
}
