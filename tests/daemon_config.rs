//! Daemon mode's directives: every option mod_wsgi 4.9 accepts loads, an
//! unknown one stops httpd, options not acted on are said in the log, and
//! WSGIRestrictEmbedded keeps applications (and Python) out of httpd's children.
mod common;
use common::*;

const ALL_OPTIONS: &str = "user=www-data group=www-data supplementary-groups=www-data processes=1 threads=2 umask=0022 \
    chroot=/ home=/tmp lang=C.UTF-8 locale=C.UTF-8 python-path=/tmp python-eggs=/tmp stack-size=1048576 \
    maximum-requests=1000 startup-timeout=10 shutdown-timeout=5 deadlock-timeout=60 inactivity-timeout=600 \
    request-timeout=600 graceful-timeout=5 eviction-timeout=5 restart-interval=3600 connect-timeout=15 \
    socket-timeout=60 queue-timeout=30 listen-backlog=50 display-name=%{GROUP} send-buffer-size=65536 \
    receive-buffer-size=65536 header-buffer-size=65536 response-buffer-size=65536 response-socket-timeout=60 \
    socket-user=www-data script-user=www-data script-group=www-data cpu-time-limit=3600 cpu-priority=0 \
    memory-limit=4000000000 virtual-memory-limit=8000000000 server-metrics=Off newrelic-config-file=/tmp/n.ini \
    newrelic-environment=prod";

#[test]
fn every_mod_wsgi_option_loads_and_the_ignored_ones_are_logged() {
    let h = Httpd::start(
        Mpm::Event,
        &format!(
            "WSGIDaemonProcess full {ALL_OPTIONS}\nWSGISocketPrefix run/wsgi\n\
             WSGIScriptAlias /info {{HANDLERS}}/daemon_apps.py callable-object=info process-group=full application-group=%{{GLOBAL}}\n"
        ),
    );
    let r = h.get("/info");
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["cwd"], "/tmp", "home=");
    assert_eq!(v["lang"], "C.UTF-8", "lang=");
    let log = h.stop();
    for opt in [
        "chroot=/",
        "deadlock-timeout=60",
        "script-user=www-data",
        "newrelic-environment=prod",
    ] {
        assert!(log.contains(&format!("{opt} is accepted but not acted on")), "{opt}: {log}");
    }
}

#[test]
fn unknown_options_and_duplicate_names_stop_httpd() {
    assert_lines_refused(&[
        ("WSGIDaemonProcess g bogus=1", "Invalid option to WSGI daemon process definition"),
        ("WSGIDaemonProcess g threads=many", "threads=many: expected a number"),
        ("WSGIDaemonProcess g\nWSGIDaemonProcess g", "already declared"),
        ("WSGIProcessGroup %{SERVER}", "use a group name"),
    ]);
}

#[test]
fn an_unknown_group_is_a_500_and_restrict_embedded_keeps_python_out_of_children() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIRestrictEmbedded On\nWSGIDaemonProcess d processes=1 threads=2\n\
         WSGIScriptAlias /d {HANDLERS}/daemon_apps.py callable-object=pid process-group=d\n\
         WSGIScriptAlias /nowhere {HANDLERS}/daemon_apps.py callable-object=pid process-group=missing\n\
         WSGIScriptAlias /embedded {HANDLERS}/daemon_apps.py callable-object=pid\n",
    );
    assert_eq!(h.get("/d").status, 200);
    assert_eq!(h.get("/nowhere").status, 500);
    assert_eq!(h.get("/embedded").status, 500);
    let log = h.stop();
    assert!(log.contains("no WSGI daemon process called \"missing\""), "{log}");
    assert!(log.contains("refused: WSGIRestrictEmbedded On"), "{log}");
    assert!(
        log.contains("configured: httpd's children start no Python (WSGIRestrictEmbedded On); each daemon of a group starts it"),
        "{log}"
    );
    // Only the daemon started Python ("child N ready" is logged where Python starts).
    let ready = log
        .lines()
        .filter(|l| l.contains("] mod_pyrite: child ") && l.contains(" ready: "))
        .count();
    assert_eq!(ready, 1, "{log}");
}

#[test]
fn a_python_home_of_another_python_stops_httpd_with_a_clear_message() {
    let h = Httpd::prepare(Mpm::Event, "WSGIDaemonProcess v python-home={SCRATCH}/venv\n");
    // A virtualenv layout of another Python version.
    std::fs::create_dir_all(h.root.join("scratch/venv/lib/python2.7")).unwrap();
    let out = h.apachectl("start");
    let log = h.wait_log("python-home=");
    let text = format!("{}{log}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("not a Python 3."), "{text}");
    assert!(text.contains("make the virtualenv with python3."), "{text}");
}

/// The start-up capacity summary has a line per daemon group (its size,
/// what each daemon preloads, how it recycles and queues) and warns about a
/// one-process group that recycles and about frequent recycling.
#[test]
fn the_capacity_summary_covers_daemon_groups() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess cap processes=1 threads=3 maximum-requests=100 queue-timeout=7 listen-backlog=40\n\
         WSGIDaemonProcess big processes=4 threads=10\n\
         WSGIScriptAlias /cap {HANDLERS}/daemon_apps.py callable-object=pid process-group=cap\n\
         WSGIImportScript {HANDLERS}/daemon_import.py process-group=cap application-group=%{GLOBAL}\n",
    );
    let log = h.stop();
    assert!(
        log.contains(
            "mod_pyrite capacity: daemon group \"cap\": 1 process(es) x 3 thread(s) = 3 workers, all started with httpd; \
             each daemon preloads 1 WSGI script(s) and 1 WSGIImportScript(s) and makes its 3 thread states before its first request; \
             recycled every 100 requests; up to 40 connections wait in its socket; queued requests get 503 after 7s (queue-timeout)"
        ),
        "{log}"
    );
    assert!(
        log.contains("daemon group \"big\": 4 process(es) x 10 thread(s) = 40 workers"),
        "{log}"
    );
    assert!(log.contains("never recycled"), "{log}");
    assert!(log.contains("daemon group \"cap\" has one process and is recycled"), "{log}");
    assert!(
        log.contains("daemon group \"cap\": maximum-requests=100 restarts a daemon"),
        "{log}"
    );
    // The test sizing gives event 24 request workers, fewer than the 43 daemon threads.
    assert!(log.contains("fewer than the 43 daemon threads"), "{log}");
}
