//! Cross-process locks (mod_python's _apache._global_lock and friends).
mod common;
use common::*;
use std::sync::Arc;

fn site() -> String {
    "PythonOption scratch {SCRATCH}\n".to_string()
        + &location("/serial", "locking::serialised", "")
        + &location("/ctx", "locking::with_context", "")
        + &location("/leak", "locking::leak", "")
        + &location("/count", "locking::count", "")
}

#[test]
fn global_lock_serialises_requests_across_processes() {
    let h = Arc::new(Httpd::start(Mpm::Prefork, &site()));
    let ts: Vec<_> = (0..6)
        .map(|_| {
            let h = h.clone();
            std::thread::spawn(move || assert_eq!(h.get("/serial").text(), "done"))
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    let text = std::fs::read_to_string(h.root.join("scratch/locks.txt")).unwrap();
    let mut spans: Vec<(String, f64, f64)> = text
        .lines()
        .map(|l| {
            let p: Vec<&str> = l.split(' ').collect();
            (p[0].to_string(), p[1].parse().unwrap(), p[2].parse().unwrap())
        })
        .collect();
    assert_eq!(spans.len(), 6);
    spans.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap());
    for w in spans.windows(2) {
        assert!(w[1].1 >= w[0].2, "two requests held the lock at once: {w:?}");
    }
    let pids: std::collections::HashSet<_> = spans.iter().map(|s| s.0.clone()).collect();
    assert!(pids.len() >= 2, "all in one process, nothing shown across processes: {pids:?}");
}

#[test]
fn context_manager_trylock_and_a_leaked_lock() {
    let h = Httpd::start(Mpm::Event, &site());
    assert_eq!(h.get("/ctx").text(), "inside_trylock=False after_trylock=True");
    // A handler that never unlocks must not wedge the next one.
    assert_eq!(h.get("/leak").text(), "leaked");
    assert_eq!(h.get("/leak").text(), "leaked");
    let log = h.wait_log("was still held when its request ended");
    assert!(log.contains("was still held when its request ended: released"), "{log}");
    // The lock files live in the runtime directory until httpd stops.
    let lock_files = |h: &Httpd| {
        std::fs::read_dir(h.root.join("run"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("mod_pyrite-lock."))
            .count()
    };
    assert_eq!(lock_files(&h), 8, "PythonOption mod_python.mutex_locks defaults to 8");
    let mut h = h;
    h.stop_in_place();
    assert_eq!(lock_files(&h), 0, "lock files left in the runtime directory after stop");
}

/// Many requests in several processes (and, under event, several threads of
/// each) do a read-sleep-write of one counter under one lock, half of them
/// releasing it from a Python thread: a lost update would show two holders.
fn counter_is_exact_under_contention(mpm: Mpm) {
    let h = Arc::new(Httpd::start(mpm, &site()));
    let per_client = 8;
    let clients = 8;
    let ts: Vec<_> = (0..clients)
        .map(|c| {
            let h = h.clone();
            std::thread::spawn(move || {
                for k in 0..per_client {
                    let via = if (c + k) % 2 == 0 { "thread" } else { "same" };
                    assert_eq!(h.get(&format!("/count?via={via}")).text(), "counted");
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    let total = std::fs::read_to_string(h.root.join("scratch/counter.txt")).unwrap();
    let lines = std::fs::read_to_string(h.root.join("scratch/locks.txt")).unwrap();
    let pids: std::collections::HashSet<&str> = lines.lines().filter_map(|l| l.split(' ').next()).collect();
    println!(
        "{mpm:?}: {} increments by {} processes, counter {total}",
        clients * per_client,
        pids.len()
    );
    assert_eq!(
        total.trim(),
        (clients * per_client).to_string(),
        "an update was lost: two holders at once"
    );
    assert!(pids.len() >= 2, "all in one process, nothing shown across processes: {pids:?}");
    let log = h.error_log();
    assert!(crash_lines(&log).is_empty() && !log.contains("was still held"), "{log}");
}

#[test]
fn counter_is_exact_under_contention_prefork() {
    counter_is_exact_under_contention(Mpm::Prefork);
}

#[test]
fn counter_is_exact_under_contention_event() {
    counter_is_exact_under_contention(Mpm::Event);
}
