//! mod_python.Session: counters kept across requests in memory, dbm and file
//! sessions, expiry, invalidation, id validation and cross-process locking.
mod common;
use common::*;
use std::path::Path;
use std::sync::Arc;

const ONE_CHILD: &str = "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";

/// The session handlers under /s/..., with `options` (PythonOption lines) for every one.
fn site(options: &str) -> String {
    ["counter", "invalidate", "slow", "forget", "twice", "cleanup", "two_ids"]
        .iter()
        .map(|f| location(&format!("/s/{f}"), &format!("mp_sessions::{f}"), options))
        .collect()
}

fn file_options() -> &'static str {
    "PythonOption mod_python.session.session_type FileSession\n\
     PythonOption mod_python.session.database_directory {SCRATCH}/sessions\n\
     PythonOption mod_python.file_session.cleanup_grace_period 0"
}

fn dbm_options() -> &'static str {
    "PythonOption mod_python.dbm_session.database_directory {SCRATCH}"
}

/// A parsed counter response.
#[derive(Debug)]
struct Hit {
    n: u32,
    id: String,
    new: bool,
    class: String,
    cookie: Option<String>,
}

fn hit(h: &Httpd, path: &str, sid: Option<&str>) -> Hit {
    let cookie = sid.map(|s| format!("pysid={s}"));
    let headers: Vec<(&str, &[u8])> = cookie.iter().map(|c| ("Cookie", c.as_bytes())).collect();
    let r = h.request("GET", path, &headers, b"");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), h.error_log());
    let text = r.text();
    let field = |k: &str| {
        text.split(' ')
            .find_map(|f| f.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {text}"))
            .to_string()
    };
    Hit {
        n: field("n").parse().unwrap(),
        id: field("id"),
        new: field("new") == "True",
        class: field("class"),
        cookie: r.header_str("set-cookie"),
    }
}

fn is_sid(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Three requests carrying the cookie of the first count 1, 2, 3 in one session.
fn count_three(h: &Httpd, class: &str) -> String {
    let first = hit(h, "/s/counter", None);
    assert_eq!((first.n, first.new, first.class.as_str()), (1, true, class), "{first:?}");
    assert!(is_sid(&first.id), "{first:?}");
    let cookie = first.cookie.clone().expect("a new session sets its cookie");
    // mod_python's form: lower-case names, no flags unless asked for, so every
    // part is name=value (mod_python's own suite parses the cookie that way).
    assert_eq!(cookie, format!("pysid={}; path=/", first.id));
    for n in 2..=3 {
        let next = hit(h, "/s/counter", Some(&first.id));
        assert_eq!((next.n, next.new, next.id.as_str()), (n, false, first.id.as_str()), "{next:?}");
        assert!(next.cookie.is_none(), "a loaded session sends no new cookie: {next:?}");
    }
    first.id
}

fn session_file(h: &Httpd, sid: &str) -> std::path::PathBuf {
    h.root.join("scratch/sessions/mp_sess").join(&sid[..2]).join(sid)
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn memory_session_counts_in_the_one_child_of_the_event_mpm() {
    let options = "PythonOption mod_python.session.session_type MemorySession";
    let h = Httpd::start(Mpm::Event, &(site(options) + ONE_CHILD));
    count_three(&h, "MemorySession");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn dbm_session_is_the_default_under_prefork_and_counts_across_children() {
    let h = Httpd::start(Mpm::Prefork, &site(dbm_options()));
    count_three(&h, "DbmSession");
    assert!(
        files_under(&h.root.join("scratch"))
            .iter()
            .any(|p| p.to_string_lossy().contains("mp_sess.dbm")),
        "the dbm file is in the configured directory"
    );
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn file_session_counts_and_keeps_one_file_per_session() {
    let h = Httpd::start(Mpm::Worker, &site(file_options()));
    let sid = count_three(&h, "FileSession");
    assert!(session_file(&h, &sid).is_file(), "{:?}", files_under(&h.root.join("scratch")));
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn expired_sessions_are_not_loaded_and_invalidate_drops_the_session() {
    for (mpm, options) in [(Mpm::Prefork, file_options()), (Mpm::Prefork, dbm_options())] {
        let h = Httpd::start(mpm, &site(options));
        // A session with a one-second timeout, past its time.
        let short = hit(&h, "/s/counter?1", None);
        hit(&h, "/s/counter", Some(&short.id));
        std::thread::sleep(std::time::Duration::from_millis(2500));
        let after = hit(&h, "/s/counter", Some(&short.id));
        assert!(after.new && after.n == 1 && after.id != short.id, "{options}: {after:?}");
        assert!(after.cookie.is_some());
        if options.contains("FileSession") {
            assert!(
                !session_file(&h, &short.id).exists(),
                "the expired session's file is deleted when met"
            );
        }

        // invalidate: the record goes and the browser is told to drop the cookie.
        let sid = hit(&h, "/s/counter", None).id;
        hit(&h, "/s/counter", Some(&sid));
        let cookie = format!("pysid={sid}");
        let r = h.request("GET", "/s/invalidate", &[("Cookie", cookie.as_bytes())], b"");
        assert_eq!(r.text(), format!("invalidated {sid}"));
        let expiry = r.header_str("set-cookie").unwrap();
        assert!(
            expiry.starts_with(&format!("pysid={sid}; path=/; expires=Thu, 01-Jan-1970 00:00:00 GMT; max-age=0")),
            "{expiry}"
        );
        let again = hit(&h, "/s/counter", Some(&sid));
        assert!(again.new && again.n == 1 && again.id != sid, "{options}: {again:?}");
        if options.contains("FileSession") {
            assert!(!session_file(&h, &sid).exists());
        }
        let log = h.stop();
        assert!(crash_lines(&log).is_empty(), "{log}");
    }
}

#[test]
fn malformed_session_ids_are_replaced_and_never_become_paths() {
    let h = Httpd::start(Mpm::Prefork, &site(file_options()));
    let long = "a".repeat(4000);
    let bad = [
        "../../etc/passwd",
        "../../../../scratch/planted",
        "..%2F..%2Fescape",
        long.as_str(),
        "0123456789ABCDEF0123456789ABCDEF",  // upper case is not an id we make
        "0123456789abcdef0123456789abcdef0", // 33 digits
        "/tmp/x",
    ];
    for sid in bad {
        let got = hit(&h, "/s/counter", Some(sid));
        assert!(got.new && got.n == 1 && is_sid(&got.id) && got.id != sid, "{sid}: {got:?}");
    }
    // Only session files, each where its id says, under the session directory.
    let scratch = h.root.join("scratch");
    let files = files_under(&scratch);
    assert_eq!(files.len(), bad.len(), "{files:?}");
    for f in &files {
        let rel = f
            .strip_prefix(scratch.join("sessions/mp_sess"))
            .unwrap_or_else(|_| panic!("outside: {f:?}"));
        let name = rel.file_name().unwrap().to_str().unwrap();
        assert!(is_sid(name) && rel.parent().unwrap() == Path::new(&name[..2]), "{f:?}");
    }
    assert!(!h.root.join("etc").exists() && !h.root.join("scratch/planted").exists());
    let log = h.stop();
    assert!(log.contains("ignored a malformed session id"), "{log}");
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn one_session_is_held_by_one_request_at_a_time_across_processes() {
    let h = Arc::new(Httpd::start(Mpm::Prefork, &site(dbm_options())));
    let sid = hit(&h, "/s/counter", None).id;
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let h = h.clone();
            let cookie = format!("pysid={sid}");
            std::thread::spawn(move || {
                let r = h.request("GET", "/s/slow", &[("Cookie", cookie.as_bytes())], b"");
                assert_eq!(r.status, 200, "{}", r.text());
                let f: Vec<String> = r.text().split(' ').map(str::to_string).collect();
                (
                    f[0].clone(),
                    f[1].parse::<f64>().unwrap(),
                    f[2].parse::<f64>().unwrap(),
                    f[3].parse::<u32>().unwrap(),
                )
            })
        })
        .collect();
    let mut spans: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    spans.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap());
    assert_ne!(
        spans[0].0, spans[1].0,
        "two concurrent connections under prefork are two processes: {spans:?}"
    );
    assert!(spans[1].1 >= spans[0].2, "both requests held the session at once: {spans:?}");
    // Each read the other's save: no increment lost.
    let counts: Vec<u32> = spans.iter().map(|s| s.3).collect();
    assert_eq!(counts, vec![2, 3], "{spans:?}");
    assert_eq!(hit(&h, "/s/counter", Some(&sid)).n, 4);
}

#[test]
fn a_session_left_locked_does_not_wedge_the_next_request() {
    for mpm in [Mpm::Prefork, Mpm::Event] {
        let h = Httpd::start(mpm, &site(dbm_options()));
        let sid = hit(&h, "/s/forget", None).id;
        // The handler kept the session object and never unlocked it; then one that raised.
        assert_eq!(hit(&h, "/s/forget", Some(&sid)).n, 2);
        let cookie = format!("pysid={sid}");
        let r = h.request("GET", "/s/forget?raise", &[("Cookie", cookie.as_bytes())], b"");
        assert_eq!(r.status, 500);
        assert_eq!(hit(&h, "/s/forget", Some(&sid)).n, 4);
        // Two session objects for one id in one request share the lock.
        let r = h.request("GET", "/s/twice", &[("Cookie", cookie.as_bytes())], b"");
        assert_eq!(r.text(), "a=5 b=5 same=True");
        assert_eq!(hit(&h, "/s/counter", Some(&sid)).n, 6);
        let log = h.stop();
        // The session released its lock itself at the end of each request.
        assert!(!log.contains("was still held"), "{log}");
        assert!(crash_lines(&log).is_empty(), "{log}");
    }
}

#[test]
fn expired_session_files_are_cleaned_up_after_a_request() {
    // The fast test alone would judge every file by this request's own 30-minute timeout.
    let options = file_options().to_string() + "\nPythonOption mod_python.file_session.enable_fast_cleanup Off";
    let h = Httpd::start(Mpm::Prefork, &site(&options));
    let old = hit(&h, "/s/counter?1", None).id;
    let live = hit(&h, "/s/counter", None).id;
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let r = h.get("/s/cleanup");
    assert!(r.text().starts_with("cleanup started by "), "{}", r.text());
    let starter = r.text().rsplit(' ').next().unwrap().to_string();
    // The cleanup runs after the response: wait for it.
    let mut gone = false;
    for _ in 0..100 {
        if !session_file(&h, &old).exists() {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(gone, "the expired session file was not removed\n{}", h.error_log());
    assert!(session_file(&h, &live).exists() && session_file(&h, &starter).exists());
    let log = h.stop();
    assert!(log.contains("FileSession cleanup removed 1 expired sessions"), "{log}");
}

/// Session counts its holds per global lock: two sessions whose ids share a
/// lock in one request take it once (a second take would be a RuntimeError,
/// and under mod_python's threaded MPMs a wait for itself).
#[test]
fn two_sessions_sharing_a_lock_in_one_request() {
    let options = format!("{}\nPythonOption mod_python.mutex_locks 2", dbm_options());
    let h = Httpd::start(Mpm::Event, &site(&options));
    assert_eq!(h.get("/s/two_ids").text(), "two sessions True");
    assert_eq!(h.get("/s/two_ids").text(), "two sessions True", "the lock was released");
    let log = h.stop();
    assert!(!log.contains("was still held") && crash_lines(&log).is_empty(), "{log}");
}
