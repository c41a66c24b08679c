//! Python's life in httpd: started in each child (never the parent), preloads
//! run before requests, pinned thread states, autoreload, and many concurrent
//! requests spread over threads and processes.
mod common;
use common::*;
use std::collections::HashSet;
use std::sync::Arc;

#[test]
fn concurrent_requests_over_threads_and_processes_are_all_answered_correctly() {
    for mpm in Mpm::ALL {
        let h = Arc::new(Httpd::start(mpm, &location("/c", "conc", "")));
        let mut workers = Vec::new();
        for t in 0..16 {
            let h = h.clone();
            workers.push(std::thread::spawn(move || {
                let mut seen = Vec::new();
                for i in 0..40 {
                    let token = format!("t{t}i{i}{}", if i % 4 == 0 { "slow" } else { "" });
                    let r = h.get(&format!("/c?{token}"));
                    assert_eq!(r.status, 200);
                    let text = r.text();
                    let parts: Vec<&str> = text.split(' ').collect();
                    assert_eq!(parts[0], token, "a response went to the wrong request");
                    seen.push((parts[1].to_string(), parts[2].to_string(), parts[3].parse::<u64>().unwrap()));
                }
                seen
            }));
        }
        let mut pids = HashSet::new();
        let mut threads = HashSet::new();
        let mut reused_thread_state = false;
        for w in workers {
            for (pid, tid, count) in w.join().unwrap() {
                pids.insert(pid.clone());
                threads.insert((pid, tid));
                reused_thread_state |= count > 1;
            }
        }
        assert!(pids.len() >= 2, "{mpm:?}: all 640 requests went to one child: {pids:?}");
        if mpm != Mpm::Prefork {
            assert!(threads.len() > pids.len(), "{mpm:?}: no thread served more than one... {threads:?}");
        }
        assert!(
            reused_thread_state,
            "{mpm:?}: threading.local never survived between requests (thread state not pinned)"
        );
        let h = Arc::try_unwrap(h).ok().expect("all clients done");
        let log = h.stop();
        assert!(crash_lines(&log).is_empty(), "{mpm:?}:\n{log}");
    }
}

#[test]
fn python_import_runs_in_each_child_before_requests_and_never_in_the_parent() {
    let site = "PythonPath \"sys.path+['{HANDLERS}']\"\nPythonImport preload::init main_interpreter\n".to_string()
        + &location("/check", "preload_check", "");
    for mpm in [Mpm::Prefork, Mpm::Event] {
        let h = Httpd::start(mpm, &site);
        let parent = h.pid().unwrap();
        let mut child_pids = HashSet::new();
        for _ in 0..30 {
            let v: serde_json::Value = serde_json::from_str(&h.get("/check").text()).unwrap();
            assert_eq!(v["preloaded"], true, "{mpm:?}: {v}");
            assert_eq!(v["import_pid"], v["pid"], "imported in the child that serves");
            assert_ne!(v["pid"].as_i64().unwrap(), parent as i64, "Python ran in the parent");
            let called = v["called"].as_array().unwrap();
            assert_eq!(called.len(), 1, "the ::init function ran once: {v}");
            // SAFETY: getuid has no preconditions.
            if unsafe { libc::getuid() } == 0 {
                assert_ne!(v["import_uid"].as_i64().unwrap(), 0, "Python ran as root");
            }
            child_pids.insert(v["pid"].as_i64().unwrap());
        }
        let log = h.stop();
        assert!(log.contains("1 PythonImport(s)"), "{log}");
        assert!(!child_pids.contains(&(parent as i64)));
    }
}

#[test]
fn failing_python_import_is_logged_and_the_child_still_serves() {
    let site = "PythonPath \"sys.path+['{HANDLERS}']\"\nPythonImport no_such_preload_mod main_interpreter\n".to_string()
        + &location("/c", "conc", "");
    let h = Httpd::start(Mpm::Event, &site);
    assert_eq!(h.get("/c?x").status, 200);
    let log = h.wait_log("No module named 'no_such_preload_mod'");
    assert!(log.contains("PythonImport no_such_preload_mod"), "{log}");
}

fn write_module(h: &Httpd, name: &str, body: &str, mtime_offset: i64) {
    let p = h.root.join("handlers").join(format!("{name}.py"));
    std::fs::write(&p, format!("def handler(req):\n    req.write({body:?})\n    return 0\n")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t = libc::timeval {
        tv_sec: now + mtime_offset,
        tv_usec: 0,
    };
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: a valid path and two timevals.
    unsafe { libc::utimes(c.as_ptr(), [t, t].as_ptr()) };
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn autoreload_picks_up_an_edited_handler_and_can_be_turned_off() {
    let one_child = "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";
    let site = location("/on", "reload_on", "") + &location("/off", "reload_off", "  PythonAutoReload Off") + one_child;
    let h = Httpd::start(Mpm::Event, &site);
    write_module(&h, "reload_on", "v1", -10);
    write_module(&h, "reload_off", "v1", -10);
    assert_eq!(h.get("/on").text(), "v1");
    assert_eq!(h.get("/off").text(), "v1");
    write_module(&h, "reload_on", "v2", 0);
    write_module(&h, "reload_off", "v2", 0);
    // Files are checked at most once a second.
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let mut got = String::new();
    for _ in 0..20 {
        got = h.get("/on").text();
        if got == "v2" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(got, "v2", "the edited handler was not reloaded");
    assert_eq!(h.get("/off").text(), "v1", "PythonAutoReload Off keeps the loaded module");
}
