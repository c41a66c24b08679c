//! PyriteChildScheduling: with daemon groups, httpd's children run under
//! Linux's SCHED_BATCH (a child thread woken by a daemon's response does not
//! preempt the daemon); the daemons, and configurations without groups, keep
//! the normal policy; the directive says otherwise either way.
mod common;
use common::*;

const SCHED_OTHER: i64 = 0;
const SCHED_BATCH: i64 = 3;

/// The policy of each thread of process `pid` (field 41 of its stat).
fn thread_policies(pid: i64) -> Vec<i64> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
        .filter_map(|stat| {
            // After the command name, fields start at the third (the state).
            let (_, rest) = stat.rsplit_once(") ")?;
            rest.split(' ').nth(41 - 3)?.parse().ok()
        })
        .collect()
}

/// httpd's processes under its parent: (pid, policies of its threads).
fn processes(h: &Httpd) -> Vec<(i64, Vec<i64>)> {
    children_rss(h.pid().expect("httpd runs"))
        .keys()
        .map(|&pid| (pid, thread_policies(pid)))
        .filter(|(_, p)| !p.is_empty())
        .collect()
}

/// Which process served `path` and its thread's policy, as the application saw them.
fn served(h: &Httpd, path: &str) -> (i64, i64) {
    let r = h.get(path);
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let mut w = text.split(' ').map(|v| v.parse().unwrap());
    (w.next().unwrap(), w.next().unwrap())
}

fn daemon_site(extra: &str) -> String {
    format!(
        "WSGIDaemonProcess sched processes=1 threads=2\n\
         WSGIScriptAlias /d {{HANDLERS}}/sched_report.py process-group=sched application-group=%{{GLOBAL}}\n{extra}"
    )
}

#[test]
fn with_daemon_groups_children_run_as_batch_and_daemons_as_before() {
    let h = Httpd::start(Mpm::Event, &daemon_site(""));
    let (daemon, policy) = served(&h, "/d");
    assert_eq!(policy, SCHED_OTHER, "the daemon's thread keeps the normal policy");
    let procs = processes(&h);
    assert!(procs.iter().any(|(p, _)| *p == daemon), "the daemon is among {procs:?}");
    for (pid, policies) in &procs {
        let want = if *pid == daemon { SCHED_OTHER } else { SCHED_BATCH };
        assert!(policies.iter().all(|&p| p == want), "process {pid} (daemon {daemon}): {policies:?}");
    }
    assert!(procs.len() >= 2, "at least one child besides the daemon: {procs:?}");
    let log = h.stop();
    assert!(
        log.contains("httpd's children run under SCHED_BATCH (the default with daemon groups"),
        "{log}"
    );
}

#[test]
fn normal_keeps_the_childrens_policy_with_daemon_groups() {
    let h = Httpd::start(Mpm::Event, &daemon_site("PyriteChildScheduling normal\n"));
    let (daemon, _) = served(&h, "/d");
    for (pid, policies) in processes(&h) {
        assert!(
            policies.iter().all(|&p| p == SCHED_OTHER),
            "process {pid} (daemon {daemon}): {policies:?}"
        );
    }
    let log = h.stop();
    assert!(
        log.contains("keep the scheduling policy httpd started them with (PyriteChildScheduling normal)"),
        "{log}"
    );
}

#[test]
fn without_daemon_groups_the_policy_is_kept_unless_batch_is_asked_for() {
    for mpm in Mpm::ALL {
        let site = "WSGIScriptAlias /e {HANDLERS}/sched_report.py\n";
        let h = Httpd::start(mpm, site);
        let (child, policy) = served(&h, "/e");
        assert_eq!(policy, SCHED_OTHER, "{mpm:?}: embedded, no groups: child {child}");
        let log = h.stop();
        assert!(log.contains("started them with (the default without daemon groups)"), "{log}");
        let h = Httpd::start(mpm, &format!("{site}PyriteChildScheduling batch\n"));
        let (child, policy) = served(&h, "/e");
        assert_eq!(policy, SCHED_BATCH, "{mpm:?}: asked for: child {child}");
        let all = processes(&h);
        assert!(all.iter().all(|(_, p)| p.iter().all(|&p| p == SCHED_BATCH)), "{mpm:?}: {all:?}");
        let log = h.stop();
        assert!(log.contains("run under SCHED_BATCH (PyriteChildScheduling batch)"), "{log}");
    }
}
