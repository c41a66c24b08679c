//! The shared harness of the integration tests: a real httpd with mod_pyrite
//! in a temporary ServerRoot on a free loopback port, stopped (by its pid)
//! when the test ends, pass or fail; and a small HTTP/1.1 client.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const MODULES: &str = "/usr/lib/apache2/modules";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mpm {
    Prefork,
    Worker,
    Event,
}

impl Mpm {
    pub const ALL: [Mpm; 3] = [Mpm::Prefork, Mpm::Worker, Mpm::Event];
    fn load_line(self) -> String {
        let name = match self {
            Mpm::Prefork => "prefork",
            Mpm::Worker => "worker",
            Mpm::Event => "event",
        };
        format!("LoadModule mpm_{name}_module {MODULES}/mod_mpm_{name}.so")
    }
    fn sizing(self) -> &'static str {
        match self {
            Mpm::Prefork => "StartServers 3\nMinSpareServers 3\nMaxSpareServers 6\nServerLimit 8\nMaxRequestWorkers 8\n",
            _ => "StartServers 2\nServerLimit 3\nThreadsPerChild 8\nThreadLimit 8\nMinSpareThreads 8\nMaxSpareThreads 24\nMaxRequestWorkers 24\n",
        }
    }
}

/// The mod_pyrite.so under test: $PYRITE_SO, else the one cargo built for this profile.
pub fn module_path() -> PathBuf {
    if let Ok(p) = std::env::var("PYRITE_SO") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> -> target/<profile>/libmod_pyrite.so
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let so = profile_dir.join("libmod_pyrite.so");
    // cargo test does not rebuild the cdylib: refuse to test a stale one.
    let built = std::fs::metadata(&so)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: run `make test` (it builds the module first)", so.display()));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if let Some(newer) = newest_source(&root.join("src"))
        .into_iter()
        .chain(newest_source(&root.join("python")))
        .find(|(t, _)| *t > built)
    {
        panic!(
            "{} is older than {}: run `make test` (or cargo build first)",
            so.display(),
            newer.1.display()
        );
    }
    so
}

fn newest_source(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        let cand = if p.is_dir() {
            newest_source(&p)
        } else {
            e.metadata().ok().and_then(|m| m.modified().ok()).map(|t| (t, p))
        };
        if let Some(c) = cand {
            if best.as_ref().is_none_or(|b| c.0 > b.0) {
                best = Some(c);
            }
        }
    }
    best
}

fn handlers_src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/handlers")
}

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn make_temp_dir() -> PathBuf {
    let base = std::env::temp_dir();
    for i in 0..1000u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let p = base.join(format!("pyrite-test-{}-{}-{}", std::process::id(), nanos, i));
        if std::fs::create_dir(&p).is_ok() {
            return p;
        }
    }
    panic!("could not make a temporary directory");
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A running httpd. Dropping it stops httpd (and kills it by pid if it will not stop).
pub struct Httpd {
    pub root: PathBuf,
    pub port: u16,
    pub conf: PathBuf,
    pub mpm: Mpm,
    pid: Option<i32>,
}

/// Placeholders in site configuration: {ROOT} the ServerRoot, {HANDLERS} the
/// handler fixtures' directory, {DOCS} the DocumentRoot, {SCRATCH} a
/// world-writable directory.
pub fn expand(site: &str, root: &Path) -> String {
    site.replace("{ROOT}", root.to_str().unwrap())
        .replace("{HANDLERS}", root.join("handlers").to_str().unwrap())
        .replace("{DOCS}", root.join("htdocs").to_str().unwrap())
        .replace("{SCRATCH}", root.join("scratch").to_str().unwrap())
}

impl Httpd {
    /// Prepares a ServerRoot and configuration without starting httpd.
    pub fn prepare(mpm: Mpm, site: &str) -> Httpd {
        let root = make_temp_dir();
        chmod(&root, 0o755);
        for d in ["handlers", "htdocs", "run", "scratch"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        chmod(&root.join("handlers"), 0o755);
        chmod(&root.join("htdocs"), 0o755);
        chmod(&root.join("run"), 0o755);
        chmod(&root.join("scratch"), 0o777);
        for e in std::fs::read_dir(handlers_src()).unwrap().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "py" || x == "wsgi") {
                let dst = root.join("handlers").join(p.file_name().unwrap());
                std::fs::copy(&p, &dst).unwrap();
                chmod(&dst, 0o644);
            }
        }
        std::fs::write(root.join("htdocs/index.txt"), "static file\n").unwrap();
        chmod(&root.join("htdocs/index.txt"), 0o644);
        let port = free_port();
        let user = if is_root() { "User www-data\nGroup www-data\n" } else { "" };
        let conf_text = format!(
            "ServerRoot {root}\nPidFile {root}/run/httpd.pid\nDefaultRuntimeDir {root}/run\nServerName 127.0.0.1\n\
             Listen 127.0.0.1:{port}\n{mpm}\n{sizing}\
             LoadModule authz_core_module {m}/mod_authz_core.so\nLoadModule mime_module {m}/mod_mime.so\n\
             TypesConfig /etc/mime.types\nErrorLog {root}/run/error.log\nLogLevel info\n{user}\
             DocumentRoot {root}/htdocs\nTimeout 20\nKeepAlive On\n\
             LoadModule pyrite_module {so}\n\n{site}\n",
            root = root.display(),
            mpm = mpm.load_line(),
            sizing = mpm.sizing(),
            m = MODULES,
            so = module_path().display(),
            site = expand(site, &root),
        );
        let conf = root.join("httpd.conf");
        std::fs::write(&conf, conf_text).unwrap();
        chmod(&conf, 0o644);
        Httpd {
            root,
            port,
            conf,
            mpm,
            pid: None,
        }
    }

    /// Starts httpd with `site` appended to a minimal configuration and waits
    /// until it answers.
    pub fn start(mpm: Mpm, site: &str) -> Httpd {
        let mut h = Httpd::prepare(mpm, site);
        let out = h.apachectl("start");
        assert!(
            out.status.success(),
            "httpd did not start: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            h.error_log()
        );
        h.wait_ready();
        h
    }

    /// Runs `apache2 -f conf -k <verb>` (or `-t` for "configtest").
    pub fn apachectl(&self, verb: &str) -> std::process::Output {
        let mut cmd = Command::new("apache2");
        cmd.arg("-f").arg(&self.conf);
        if verb == "configtest" {
            cmd.arg("-t");
        } else {
            cmd.arg("-k").arg(verb);
        }
        cmd.output().expect("run apache2 (install apache2)")
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(s) = std::fs::read_to_string(self.root.join("run/httpd.pid")) {
                if let Ok(pid) = s.trim().parse::<i32>() {
                    self.pid = Some(pid);
                }
            }
            if self.pid.is_some() && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                // Children are up once the notice line is written and a request is answered.
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("httpd did not come up on port {}\n{}", self.port, self.error_log());
    }

    /// Writes a file under the DocumentRoot (world-readable), making directories.
    pub fn write_doc(&self, rel: &str, content: &[u8]) -> PathBuf {
        let p = self.root.join("htdocs").join(rel);
        let mut dir = p.parent().unwrap().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        while dir.starts_with(self.root.join("htdocs")) {
            chmod(&dir, 0o755);
            dir = dir.parent().unwrap().to_path_buf();
        }
        std::fs::write(&p, content).unwrap();
        chmod(&p, 0o644);
        p
    }

    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.root.join("run/error.log")).unwrap_or_default()
    }

    /// Waits until the error log contains `needle` (lines arrive asynchronously).
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.error_log();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Response {
        request(self.port, method, path, headers, body)
    }

    /// Stops httpd and waits for it to exit; returns the error log.
    pub fn stop(mut self) -> String {
        self.shutdown();
        self.error_log()
    }

    /// Stops httpd but keeps the ServerRoot (to read what it left behind).
    pub fn stop_in_place(&mut self) -> String {
        self.shutdown();
        self.error_log()
    }

    fn shutdown(&mut self) {
        if self.pid.is_none() {
            // Started through apachectl("start") without wait_ready: read the pid file.
            self.pid = std::fs::read_to_string(self.root.join("run/httpd.pid"))
                .ok()
                .and_then(|s| s.trim().parse().ok());
        }
        let Some(pid) = self.pid.take() else { return };
        let _ = self.apachectl("stop");
        let deadline = Instant::now() + Duration::from_secs(15);
        // SAFETY: kill with signal 0 only probes the pid we started.
        while Instant::now() < deadline && unsafe { libc::kill(pid, 0) } == 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        if unsafe { libc::kill(pid, 0) } == 0 {
            // SAFETY: the httpd parent this harness started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

impl Drop for Httpd {
    fn drop(&mut self) {
        self.shutdown();
        if std::env::var_os("PYRITE_KEEP_TEST_ROOT").is_none() && !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        } else if std::thread::panicking() {
            eprintln!("test ServerRoot kept at {}", self.root.display());
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// The body ended early (connection closed before the declared end).
    pub truncated: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
    pub fn header_str(&self, name: &str) -> Option<String> {
        self.header(name).map(|v| String::from_utf8_lossy(v).into_owned())
    }
    pub fn headers_named(&self, name: &str) -> Vec<&[u8]> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .collect()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a new connection (Connection: close), read to the end.
pub fn request(port: u16, method: &str, path: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n").into_bytes();
    let mut has_te = false;
    for (k, v) in headers {
        has_te |= k.eq_ignore_ascii_case("transfer-encoding");
        req.extend_from_slice(k.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    if !has_te && (!body.is_empty() || method == "POST" || method == "PUT") {
        req.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    s.write_all(&req).unwrap();
    s.write_all(body).unwrap();
    read_response(&mut s, method == "HEAD")
}

/// Sends raw bytes and reads one response.
pub fn raw_request(port: u16, raw: &[u8]) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(raw).unwrap();
    read_response(&mut s, false)
}

pub fn read_response(s: &mut TcpStream, head: bool) -> Response {
    let mut data = Vec::new();
    let _ = s.read_to_end(&mut data);
    parse_response(&data, head)
}

pub fn parse_response(data: &[u8], head: bool) -> Response {
    let end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(data)));
    let head_text = &data[..end];
    let mut lines = head_text.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = String::from_utf8_lossy(lines.next().unwrap()).into_owned();
    let status: u16 = status_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    for l in lines {
        if let Some(i) = l.iter().position(|&b| b == b':') {
            let k = String::from_utf8_lossy(&l[..i]).trim().to_string();
            let v = l[i + 1..].strip_prefix(b" ").unwrap_or(&l[i + 1..]).to_vec();
            headers.push((k, v));
        }
    }
    let rest = &data[end + 4..];
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
        truncated: false,
    };
    if head {
        return resp;
    }
    let chunked = resp.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"));
    if chunked {
        let mut i = 0;
        loop {
            let Some(nl) = rest[i..].windows(2).position(|w| w == b"\r\n") else {
                resp.truncated = true;
                break;
            };
            let size_txt = String::from_utf8_lossy(&rest[i..i + nl]).to_string();
            let size = usize::from_str_radix(size_txt.split(';').next().unwrap().trim(), 16).unwrap_or(0);
            i += nl + 2;
            if size == 0 {
                break;
            }
            if i + size > rest.len() {
                resp.body.extend_from_slice(&rest[i..]);
                resp.truncated = true;
                break;
            }
            resp.body.extend_from_slice(&rest[i..i + size]);
            i += size + 2;
        }
    } else if let Some(cl) = resp.header("content-length") {
        let n: usize = String::from_utf8_lossy(cl).trim().parse().unwrap();
        resp.truncated = rest.len() < n;
        resp.body = rest[..n.min(rest.len())].to_vec();
    } else {
        resp.body = rest.to_vec();
    }
    resp
}

/// A handler location block: SetHandler mod_python with the fixtures on sys.path.
pub fn location(path: &str, handler: &str, extra: &str) -> String {
    format!(
        "<Location {path}>\n  SetHandler mod_python\n  PythonHandler {handler}\n  PythonPath \"sys.path+['{{HANDLERS}}']\"\n{extra}\n</Location>\n"
    )
}

/// Lines of the error log that show a crashed child.
pub fn crash_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("exit signal") || l.contains("Segmentation fault") || l.contains("AH00052") || l.contains("panicked"))
        .collect()
}

/// `body` in HTTP/1.1 chunked transfer encoding, in chunks of `size` bytes.
pub fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

impl Httpd {
    /// Starts httpd with `site` plus a TLS virtual host (self-signed
    /// certificate made with openssl) holding `tls_site`; returns its port.
    pub fn start_with_tls(mpm: Mpm, site: &str, tls_site: &str) -> (Httpd, u16) {
        let tls_port = free_port();
        let m = MODULES;
        let conf = format!(
            "{site}LoadModule ssl_module {m}/mod_ssl.so\nLoadModule socache_shmcb_module {m}/mod_socache_shmcb.so\n\
             Listen 127.0.0.1:{tls_port}\n<VirtualHost 127.0.0.1:{tls_port}>\n  SSLEngine on\n\
               SSLCertificateFile {{SCRATCH}}/cert.pem\n  SSLCertificateKeyFile {{SCRATCH}}/key.pem\n{tls_site}</VirtualHost>\n"
        );
        let mut h = Httpd::prepare(mpm, &conf);
        let scratch = h.root.join("scratch");
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
            ])
            .arg("-keyout")
            .arg(scratch.join("key.pem"))
            .arg("-out")
            .arg(scratch.join("cert.pem"))
            .output()
            .expect("run openssl");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for f in ["key.pem", "cert.pem"] {
            chmod(&scratch.join(f), 0o644);
        }
        let out = h.apachectl("start");
        assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stderr), h.error_log());
        h.wait_ready();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", tls_port)).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        (h, tls_port)
    }
}

/// A GET over HTTPS with curl (the client above speaks plain HTTP): status and body.
pub fn https_get(port: u16, path: &str, headers: &[&str]) -> (u16, Vec<u8>) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-k", "--noproxy", "*", "--max-time", "20", "-w", "\n%{http_code}"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.arg(format!("https://127.0.0.1:{port}{path}")).output().expect("run curl");
    let mut body = out.stdout;
    let at = body.iter().rposition(|b| *b == b'\n').unwrap_or(0);
    let status = String::from_utf8_lossy(&body[at..]).trim().parse().unwrap_or(0);
    body.truncate(at);
    (status, body)
}

/// Each `(line, want)`: a configuration holding `line` stops `apache2 -t`,
/// and what it prints contains `want`.
pub fn assert_lines_refused(cases: &[(&str, &str)]) {
    for (line, want) in cases {
        let h = Httpd::prepare(Mpm::Event, &format!("{line}\n"));
        let out = h.apachectl("configtest");
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "`{line}` accepted");
        assert!(text.contains(want), "`{line}`: {text}");
    }
}

/// A soak run's size: the environment variable `var` when set to a number, else `default`.
pub fn soak_count<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Resident memory (kB) of each child of `parent`, by pid, as `ps` reports it.
pub fn children_rss(parent: i32) -> std::collections::BTreeMap<i64, i64> {
    let out = Command::new("ps")
        .args(["--ppid", &parent.to_string(), "-o", "pid=,rss="])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
        })
        .collect()
}

/// The memory runs' check: the same children at the end as at the start,
/// and none whose RSS grew by `bound_pct` percent or more.
pub fn assert_children_grew_less_than(
    before: &std::collections::BTreeMap<i64, i64>,
    after: &std::collections::BTreeMap<i64, i64>,
    bound_pct: f64,
) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the same children throughout"
    );
    for (pid, b) in before {
        let a = after[pid];
        let pct = (a - b) as f64 * 100.0 / *b as f64;
        println!("child {pid}: {b} kB -> {a} kB ({pct:+.2}%)");
        assert!(pct < bound_pct, "child {pid} grew {pct:.2}%");
    }
}
