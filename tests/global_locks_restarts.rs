//! Global locks across a graceful restart and at stop: the lock files keep
//! their names across generations (so a lock held by an old-generation child
//! still excludes the new children), follow `mod_python.mutex_directory`,
//! and are removed when httpd stops.
mod common;
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn site() -> String {
    "PythonOption scratch {SCRATCH}\nPythonOption mod_python.mutex_locks 4\nPythonOption mod_python.mutex_directory {ROOT}/locks\n"
        .to_string()
        + &location("/count", "locking::count", "")
        + &location("/hold", "locking::hold", "")
        + &location("/trylock", "locking::trylock", "")
}

fn lock_files(h: &Httpd) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(h.root.join("locks"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn generation_of(h: &Httpd) -> Option<i64> {
    h.get("/count").header_str("x-gen").and_then(|g| g.parse().ok())
}

fn locks_survive_a_graceful_restart(mpm: Mpm) {
    let h = Httpd::prepare(mpm, &site());
    std::fs::create_dir(h.root.join("locks")).unwrap();
    assert!(h.apachectl("start").status.success(), "{}", h.error_log());
    let deadline = Instant::now() + Duration::from_secs(20);
    while generation_of_safe(&h).is_none() {
        assert!(Instant::now() < deadline, "httpd did not come up\n{}", h.error_log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = lock_files(&h);
    assert_eq!(before.len(), 4, "one file per lock in mod_python.mutex_directory: {before:?}");
    let h = Arc::new(h);
    // An old-generation request holds the lock of "across" through the restart.
    let holder = {
        let h = h.clone();
        std::thread::spawn(move || h.get("/hold?key=across&secs=4").text())
    };
    std::thread::sleep(Duration::from_millis(800));
    assert!(h.apachectl("graceful").status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while generation_of(&h) != Some(1) {
        assert!(Instant::now() < deadline, "generation 1 never served\n{}", h.error_log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let busy_across = h.get("/trylock?key=across").text();
    assert_eq!(holder.join().unwrap(), "held");
    let free_after = h.get("/trylock?key=across").text();
    // New-generation children contend with each other as before.
    let ts: Vec<_> = (0..4)
        .map(|_| {
            let h = h.clone();
            std::thread::spawn(move || (0..5).for_each(|_| assert_eq!(h.get("/count").text(), "counted")))
        })
        .collect();
    ts.into_iter().for_each(|t| t.join().unwrap());
    let after = lock_files(&h);
    println!(
        "{mpm:?}: lock files {before:?} before and {after:?} after the restart; a lock held by an old child during the restart: \
         {busy_across} to the new generation, {free_after} once released"
    );
    assert_eq!(busy_across, "busy", "the new generation took a lock an old-generation child held");
    assert_eq!(free_after, "free");
    assert_eq!(after, before, "the same files after the restart");
    let mut h = Arc::try_unwrap(h).ok().expect("threads joined");
    let log = h.stop_in_place();
    let left = lock_files(&h);
    assert!(left.is_empty(), "lock files left after stop: {left:?}");
    assert!(crash_lines(&log).is_empty(), "{log}");
    let counter = std::fs::read_to_string(h.root.join("scratch/counter.txt")).unwrap();
    // The readiness probes and the generation probes also counted: just check it is whole.
    assert!(counter.trim().parse::<u32>().unwrap() >= 20);
}

/// A probe that tolerates httpd not listening yet.
fn generation_of_safe(h: &Httpd) -> Option<i64> {
    std::net::TcpStream::connect(("127.0.0.1", h.port)).ok()?;
    generation_of(h)
}

#[test]
fn locks_survive_a_graceful_restart_event() {
    locks_survive_a_graceful_restart(Mpm::Event);
}

#[test]
fn locks_survive_a_graceful_restart_prefork() {
    locks_survive_a_graceful_restart(Mpm::Prefork);
}
