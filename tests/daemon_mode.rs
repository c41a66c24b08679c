//! Daemon mode (WSGIDaemonProcess): requests are served by the group's own
//! processes, bodies and responses stream both ways, groups stay apart.
mod common;
use common::*;

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {} {}", r.status, r.text()))
}

fn site(group: &str) -> String {
    format!(
        "WSGIDaemonProcess {group} processes=2 threads=4 display-name=%{{GROUP}}\n\
         WSGIScriptAlias /info {{HANDLERS}}/daemon_apps.py callable-object=info process-group={group} application-group=%{{GLOBAL}}\n\
         WSGIScriptAlias /echo {{HANDLERS}}/daemon_apps.py callable-object=echo process-group={group}\n\
         WSGIScriptAlias /big {{HANDLERS}}/daemon_apps.py callable-object=big process-group={group}\n\
         WSGIScriptAlias /ignore {{HANDLERS}}/daemon_apps.py callable-object=ignore_input process-group={group}\n\
         WSGIScriptAlias /embedded {{HANDLERS}}/daemon_apps.py callable-object=info\n\
         <Location /echo>\n  WSGIChunkedRequest On\n</Location>\n"
    )
}

fn sha256_hex(data: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

fn serves_requests(mpm: Mpm) {
    let h = Httpd::start(mpm, &site("site"));
    // GET: the daemon's environ, as mod_wsgi sets it.
    let v = json(&h.request("GET", "/info?x=1", &[("X-Test", b"hello")], b""));
    assert_eq!(v["mod_wsgi.process_group"], "site");
    assert_eq!(v["wsgi.multiprocess"], true, "processes= given: multiprocess, as mod_wsgi");
    assert_eq!(v["wsgi.multithread"], true);
    assert_eq!(v["QUERY_STRING"], "x=1");
    assert_eq!(v["HTTP_X_TEST"], "hello");
    assert_eq!(v["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(v["SERVER_PORT"], h.port.to_string());
    assert_eq!(v["HTTP_CONNECTION"], "close", "the client's own Connection header");
    assert_eq!(v["ppid"], h.pid().unwrap(), "a daemon is a child of httpd's parent");
    let daemon_pid = v["pid"].as_i64().unwrap();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert_ne!(v["uid"], 0, "a daemon runs as httpd's User, never root");
    }
    let e = json(&h.get("/embedded"));
    assert_eq!(e["mod_wsgi.process_group"], "", "an undelegated script runs embedded");
    assert_ne!(e["pid"].as_i64().unwrap(), daemon_pid);
    // POST: a large body streamed to the application, with Content-Length and chunked.
    let body: Vec<u8> = (0..12_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    let want = format!("{} {}", body.len(), sha256_hex(&body));
    let r = h.request("POST", "/echo", &[], &body);
    assert_eq!((r.status, r.text()), (200, want.clone()));
    let r = h.request("POST", "/echo", &[("Transfer-Encoding", b"chunked")], &chunked(&body, 100_000));
    assert_eq!((r.status, r.text()), (200, want));
    // A large streamed response.
    let r = h.get("/big?120");
    assert_eq!(r.status, 200);
    assert!(!r.truncated);
    assert_eq!(r.body.len(), 120 * 65536);
    assert!(r.body[65536 * 7..65536 * 8].iter().all(|&b| b == b'7'));
    // An application that answers 4 MiB without reading a 12 MB body: no deadlock.
    // (The body is sent from another thread: httpd may close before it is all read.)
    let mut s = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    let head = format!(
        "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut w = s.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        use std::io::Write;
        let _ = w.write_all(head.as_bytes()).and_then(|_| w.write_all(&body));
    });
    s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let r = read_response(&mut s, false);
    assert_eq!((r.status, r.body.len(), r.truncated), (200, 4 << 20, false));
    drop(s);
    sender.join().unwrap();
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn daemon_serves_get_post_and_large_responses_event() {
    serves_requests(Mpm::Event);
}

#[test]
fn daemon_serves_get_post_and_large_responses_prefork() {
    serves_requests(Mpm::Prefork);
}

/// The client's and the server's addresses reach the application in a
/// daemon as the child saw them, on every request of a kept connection
/// (the daemon fills them in itself for numeric addresses).
#[test]
fn a_daemon_sees_the_client_connection_addresses() {
    use std::io::{Read, Write};
    let h = Httpd::start(Mpm::Event, &site("site"));
    for _ in 0..3 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
        let head = format!("GET /info HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", h.port);
        s.write_all(head.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let at = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head") + 4;
        let v: serde_json::Value = serde_json::from_slice(&raw[at..]).unwrap();
        assert_eq!(v["mod_wsgi.process_group"], "site");
        assert_eq!(v["REMOTE_ADDR"], "127.0.0.1");
        assert_eq!(v["REMOTE_PORT"], s.local_addr().unwrap().port().to_string());
        assert_eq!(v["SERVER_ADDR"], "127.0.0.1");
        assert_eq!(v["SERVER_PORT"], h.port.to_string());
    }
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn two_groups_are_separate_processes_with_separate_globals() {
    let site = "WSGIDaemonProcess one processes=1 threads=2\nWSGIDaemonProcess two processes=1 threads=2 lang=C.UTF-8\n\
                WSGIImportScript {HANDLERS}/daemon_import.py process-group=one application-group=%{GLOBAL}\n\
                WSGIScriptAlias /one {HANDLERS}/daemon_apps.py callable-object=info process-group=one application-group=%{GLOBAL}\n\
                WSGIScriptAlias /two {HANDLERS}/daemon_apps.py callable-object=info\n\
                <Location /two>\n  WSGIProcessGroup two\n</Location>\n";
    let h = Httpd::start(Mpm::Event, site);
    let a = json(&h.get("/one?set=first"));
    assert_eq!(a["mark"], "first");
    assert_eq!(
        a["imported"], a["pid"],
        "WSGIImportScript process-group=one ran in group one's daemon"
    );
    assert_eq!(a["wsgi.multiprocess"], true, "processes= given (even 1): multiprocess, as mod_wsgi");
    let b = json(&h.get("/two"));
    assert_eq!(b["mod_wsgi.process_group"], "two", "WSGIProcessGroup in a <Location>");
    assert!(b["mark"].is_null(), "group two has its own module globals");
    assert!(b["imported"].is_null(), "group one's import script did not run in group two");
    assert_ne!(a["pid"], b["pid"]);
    assert_eq!(b["lang"], "C.UTF-8");
    assert_eq!(json(&h.get("/one"))["mark"], "first");
    h.stop();
}

#[test]
fn a_killed_daemon_is_replaced_and_requests_go_on() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess k processes=1 threads=2\n\
        WSGIScriptAlias /pid {HANDLERS}/daemon_apps.py callable-object=pid process-group=k\n",
    );
    let first: i32 = h.get("/pid").text().parse().unwrap();
    // SAFETY: the daemon this test's httpd forked.
    unsafe { libc::kill(first, libc::SIGKILL) };
    // Requests made right away wait in the group's socket for the replacement.
    for _ in 0..5 {
        let r = h.get("/pid");
        assert_eq!(r.status, 200, "{}", h.error_log());
        assert_ne!(r.text().parse::<i32>().unwrap(), first);
    }
    let log = h.wait_log("starting its replacement");
    assert!(log.contains("was killed by signal 9"), "{log}");
    h.stop();
}

#[test]
fn each_group_has_its_own_python_home_and_python_path() {
    let h = Httpd::prepare(
        Mpm::Event,
        "WSGIDaemonProcess venv processes=1 threads=2 python-home={SCRATCH}/venv python-path={SCRATCH}/extra\n\
         WSGIDaemonProcess plain processes=1 threads=2\n\
         WSGIScriptAlias /venv {HANDLERS}/daemon_apps.py callable-object=info process-group=venv\n\
         WSGIScriptAlias /plain {HANDLERS}/daemon_apps.py callable-object=info process-group=plain\n",
    );
    let venv = h.root.join("scratch/venv");
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::create_dir_all(h.root.join("scratch/extra")).unwrap();
    let _ = std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(h.root.join("scratch"))
        .status();
    let out = h.apachectl("start");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut v = serde_json::Value::Null;
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", h.port)) {
            use std::io::Write;
            let _ = s.write_all(b"GET /venv HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let r = read_response(&mut s, false);
            if r.status == 200 {
                v = json(&r);
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(v["sys_prefix"], venv.to_str().unwrap(), "{v}\n{}", h.error_log());
    let p = json(&h.get("/plain"));
    assert_eq!(p["sys_prefix"], "/usr", "the other group keeps the system Python");
}

#[test]
fn daemon_serves_get_post_and_large_responses_worker() {
    serves_requests(Mpm::Worker);
}

/// Waits until `path` contains `needle` (daemons write after the request that
/// triggered them has been answered); returns the file's text.
fn wait_file(path: &std::path::Path, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// As under mod_wsgi: a daemon logs to the ErrorLog of the virtual host that
/// declares its group, and its atexit functions run whenever it ends
/// (maximum-requests, a graceful restart of httpd, httpd's stop).
#[test]
fn a_daemon_logs_to_its_virtual_host_and_runs_atexit_functions_when_it_ends() {
    let mut h = Httpd::start(
        Mpm::Event,
        "<VirtualHost *>\n  ServerName site.test\n  ErrorLog {ROOT}/run/site.log\n\
           WSGIDaemonProcess site processes=1 threads=2 maximum-requests=3\n\
           WSGIScriptAlias /x {HANDLERS}/daemon_atexit.py process-group=site\n\
         </VirtualHost>\n",
    );
    let site_log = h.root.join("run/site.log");
    let pid = |h: &Httpd| -> i32 {
        let r = h.get("/x");
        assert_eq!(r.status, 200, "{}", r.text());
        r.text().parse().unwrap()
    };
    // maximum-requests=3: the third request ends the first daemon.
    let first = pid(&h);
    assert_eq!(pid(&h), first);
    assert_eq!(pid(&h), first);
    let text = wait_file(&site_log, &format!("atexit ran in {first}"));
    assert!(text.contains(&format!("daemon_atexit: atexit ran in {first}")), "{text}");
    // A graceful restart of httpd ends the next daemon the same way.
    let second = pid(&h);
    assert_ne!(second, first);
    assert!(h.apachectl("graceful").status.success());
    let text = wait_file(&site_log, &format!("atexit ran in {second}"));
    assert!(text.contains(&format!("atexit ran in {second}")), "{text}");
    let mut third = pid(&h);
    for _ in 0..50 {
        if third != second {
            break;
        }
        third = pid(&h);
    }
    let main_log = h.stop_in_place();
    let text = wait_file(&site_log, &format!("atexit ran in {third}"));
    assert!(text.contains(&format!("atexit ran in {third}")), "httpd's stop: {text}");
    // The daemons' own lines and their Python output are in the virtual host's log only.
    assert!(text.contains(&format!("daemon_atexit loaded in {first}")), "{text}");
    assert!(text.contains("of group \"site\" ready in"), "{text}");
    assert!(text.contains("stopping (maximum-requests=3 reached)"), "{text}");
    assert!(!main_log.contains("daemon_atexit"), "{main_log}");
    assert!(!main_log.contains("of group \"site\" ready in"), "{main_log}");
    assert!(
        crash_lines(&main_log).is_empty() && crash_lines(&text).is_empty(),
        "{main_log}\n{text}"
    );
}

/// shutdown-timeout: atexit functions that hang do not keep a daemon (and
/// its replacement) waiting longer than that.
#[test]
fn shutdown_timeout_cuts_atexit_functions_that_hang() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess h processes=1 threads=1 maximum-requests=2 shutdown-timeout=1\n\
         WSGIScriptAlias /x {HANDLERS}/daemon_atexit.py process-group=h\n",
    );
    let first: i32 = h.get("/x?hang").text().parse().unwrap();
    assert_eq!(h.get("/x").text().parse::<i32>().unwrap(), first);
    // The next request waits in the socket for the replacement.
    let r = h.get("/x");
    assert_eq!(r.status, 200);
    assert_ne!(r.text().parse::<i32>().unwrap(), first);
    let log = h.stop();
    assert!(log.contains(&format!("atexit ran in {first}")), "{log}");
    assert!(
        log.contains("atexit functions still running after shutdown-timeout (1s); exiting"),
        "{log}"
    );
}

/// The processes whose parent is `parent`, with their names (a daemon's is its display-name).
fn children_of(parent: i32) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid ...: the fields after the last ')'.
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok());
        if ppid == Some(parent) {
            let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            out.push((pid, comm.trim_end().to_string()));
        }
    }
    out
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.rsplit(')').next().unwrap_or("").starts_with(" Z"))
}

/// httpd's parent killed outright (SIGKILL) just after it started, while
/// its daemons may still be starting Python: they do not stay behind (the
/// kernel's parent-death signal reaches them even before their own watch
/// runs, and that watch compares with the parent that forked them).
#[test]
fn daemons_end_when_httpds_parent_is_killed() {
    let h = Httpd::start(Mpm::Event, &site("orphans"));
    let parent = h.pid().expect("httpd's pid");
    let mut daemons: Vec<i32> = Vec::new();
    for _ in 0..200 {
        daemons = children_of(parent)
            .into_iter()
            .filter(|(_, c)| c.starts_with("(wsgi:orphans)"))
            .map(|(p, _)| p)
            .collect();
        if daemons.len() == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let seen = children_of(parent);
    let children: Vec<i32> = seen.iter().map(|(p, _)| *p).collect();
    // SAFETY: the httpd this test started.
    unsafe { libc::kill(parent, libc::SIGKILL) };
    let mut left = daemons.clone();
    for _ in 0..300 {
        left.retain(|&p| alive(p));
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // What is left of this httpd (its children; daemons too if the test
    // fails) is stopped here, so a failure leaves nothing running.
    for pid in children {
        // SAFETY: processes the httpd this test started forked.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert_eq!(daemons.len(), 2, "the group's two daemons, among {seen:?}");
    assert!(left.is_empty(), "daemons {left:?} outlived httpd's parent");
}
