//! The bytecode of handlers is kept out of the served directories: by default
//! in a private directory in httpd's runtime directory (PyriteBytecodeCache),
//! and the shipped apache-conf/pyrite.conf refuses to serve `__pycache__` and
//! `.pyc` files that are there anyway.
mod common;
use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PAGE: &str = "from mod_python import apache\nimport helper\nSECRET = 'the-handlers-secret'\n\n\
def handler(req):\n    req.write('page ' + helper.NAME)\n    return apache.OK\n";
const HELPER: &str = "NAME = 'helper'\n";

/// A handler directory under the DocumentRoot (on PythonPath, as in
/// mod_python's documentation) and one behind an Alias, both writable by the
/// children's user, with the shipped pyrite.conf included.
fn site(setting: &str) -> String {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("apache-conf/pyrite.conf");
    format!(
        "LoadModule alias_module {MODULES}/mod_alias.so\nInclude {conf}\n{setting}\n\
         Alias /aliased {{ROOT}}/aliased\n\
         <Directory {{DOCS}}/app>\n  AddHandler mod_python .py\n  PythonHandler page\n  \
         PythonPath \"sys.path + ['{{DOCS}}/app']\"\n</Directory>\n\
         <Directory {{ROOT}}/aliased>\n  Require all granted\n  AddHandler mod_python .py\n  PythonHandler other\n</Directory>\n",
        conf = conf.display()
    )
}

fn writable_dir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
}

fn write(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// Starts httpd on a site whose handler directories exist before it starts.
fn start(setting: &str) -> Httpd {
    // The harness's environment may say not to write bytecode at all, which
    // would make every check below pass vacuously.
    std::env::remove_var("PYTHONDONTWRITEBYTECODE");
    std::env::remove_var("PYTHONPYCACHEPREFIX");
    let mut h = Httpd::prepare(Mpm::Event, &site(setting));
    let app = h.root.join("htdocs/app");
    let aliased = h.root.join("aliased");
    for d in [&app, &aliased] {
        writable_dir(d);
    }
    write(&app.join("page.py"), PAGE);
    write(&app.join("helper.py"), HELPER);
    write(
        &aliased.join("other.py"),
        &PAGE.replace("import helper", "helper = type('h', (), {'NAME': 'aliased'})"),
    );
    restart(&mut h);
    h
}

fn restart(h: &mut Httpd) {
    assert!(h.apachectl("start").status.success(), "{}", h.error_log());
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", h.port)).is_err() || h.get("/index.txt").status != 200 {
        assert!(Instant::now() < deadline, "httpd did not come up\n{}", h.error_log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn files_named(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_named(&p, suffix));
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn children_uid() -> u32 {
    // SAFETY: getuid has no preconditions; getpwnam returns a static record or NULL.
    unsafe {
        if libc::getuid() != 0 {
            return libc::getuid();
        }
        let pw = libc::getpwnam(c"www-data".as_ptr());
        assert!(!pw.is_null(), "the harness runs children as www-data");
        (*pw).pw_uid
    }
}

#[test]
fn handler_bytecode_goes_to_a_private_directory_and_is_read_back_from_it() {
    let mut h = start("");
    assert_eq!(h.get("/app/page.py").text(), "page helper");
    assert_eq!(h.get("/aliased/other.py").text(), "page aliased");
    let (app, aliased) = (h.root.join("htdocs/app"), h.root.join("aliased"));
    assert!(files_named(&app, ".pyc").is_empty(), "{:?}", files_named(&app, ".pyc"));
    assert!(!app.join("__pycache__").exists() && !aliased.join("__pycache__").exists());

    let cache = h.root.join("run/mod_pyrite-bytecode");
    let meta = std::fs::symlink_metadata(&cache).expect("the private directory exists");
    assert!(meta.is_dir());
    assert_eq!(meta.mode() & 0o777, 0o700, "only the children's user enters it");
    assert_eq!(meta.uid(), children_uid());
    let mirrored = cache.join(app.strip_prefix("/").unwrap());
    let pycs = files_named(&cache, ".pyc");
    for name in ["page", "helper"] {
        assert!(
            pycs.iter().any(|p| p.parent() == Some(&mirrored) && p.file_name().unwrap().to_string_lossy().starts_with(&format!("{name}.cpython-"))),
            "{name}'s bytecode in {}: {pycs:?}; there: {:?}\n{}",
            mirrored.display(),
            std::fs::read_dir(&mirrored).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>()),
            h.error_log()
        );
    }
    assert!(
        pycs.iter().any(|p| p.to_string_lossy().contains("/aliased/other.cpython-")),
        "{pycs:?}"
    );
    assert!(
        h.error_log().contains("the bytecode of application code is kept in"),
        "{}",
        h.error_log()
    );

    // The next start reads the bytecode back: replace page's with the
    // compilation of another text under page's header (its source's mtime and
    // size), and the new children run that.
    let page_pyc = pycs
        .iter()
        .find(|p| p.parent() == Some(&mirrored) && p.to_string_lossy().contains("/page."))
        .unwrap();
    h.stop_in_place();
    let script = "import marshal,sys\nhead=open(sys.argv[1],'rb').read()[:16]\n\
                  code=compile(\"from mod_python import apache\\ndef handler(req):\\n    req.write('read from the private directory')\\n    return apache.OK\\n\",sys.argv[2],'exec')\n\
                  open(sys.argv[1],'wb').write(head+marshal.dumps(code))\n";
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .arg(page_pyc)
        .arg(app.join("page.py"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    restart(&mut h);
    assert_eq!(h.get("/app/page.py").text(), "read from the private directory");
    assert!(!app.join("__pycache__").exists());
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn compiled_python_in_a_served_directory_is_not_served() {
    // PyriteBytecodeCache beside is mod_python's behaviour: __pycache__ is
    // written beside the handler, and pyrite.conf still refuses to serve it.
    let h = start("PyriteBytecodeCache beside");
    assert_eq!(h.get("/app/page.py").text(), "page helper");
    let app = h.root.join("htdocs/app");
    let pycs = files_named(&app.join("__pycache__"), ".pyc");
    assert!(!pycs.is_empty(), "beside writes __pycache__ next to the source");
    std::fs::copy(&pycs[0], app.join("page.pyc")).unwrap();
    std::fs::set_permissions(app.join("page.pyc"), std::fs::Permissions::from_mode(0o644)).unwrap();
    for p in &pycs {
        let url = format!("/app/__pycache__/{}", p.file_name().unwrap().to_string_lossy());
        let r = h.get(&url);
        assert_eq!(r.status, 403, "{url}: {}", r.status);
        assert!(!r.text().contains("the-handlers-secret"));
    }
    for url in ["/app/__pycache__/", "/app/__pycache__", "/app/page.pyc", "/app/page.pyo"] {
        assert_eq!(h.get(url).status, 403, "{url}");
    }
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn off_keeps_no_bytecode_and_a_bad_setting_is_refused() {
    let h = start("PyriteBytecodeCache off");
    assert_eq!(h.get("/app/page.py").text(), "page helper");
    assert!(files_named(&h.root, ".pyc").is_empty(), "{:?}", files_named(&h.root, ".pyc"));
    drop(h);

    let h = Httpd::prepare(Mpm::Event, "PyriteBytecodeCache somewhere\n");
    let out = h.apachectl("configtest");
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("PyriteBytecodeCache") && msg.contains("absolute directory"), "{msg}");
}
