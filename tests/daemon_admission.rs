//! A daemon lets only a few of its threads take requests at once (one GIL:
//! more would only queue for it), and more as soon as those block or compute
//! for long: threads=N still serves N requests that wait at once, and a quick
//! request never waits for long computations. Counted, never timed.
mod common;
use common::*;

#[test]
fn every_thread_serves_when_requests_wait_in_the_application() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess waiting processes=1 threads=8\n\
         WSGIScriptAlias /together {HANDLERS}/daemon_apps.py callable-object=together process-group=waiting\n",
    );
    // Eight requests that each wait until all eight are in the application:
    // they can only meet if the daemon runs all eight at once.
    let port = h.port;
    let all: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || request(port, "GET", "/together?8", &[], b"")))
        .collect();
    for t in all {
        let r = t.join().unwrap();
        assert_eq!((r.status, r.text()), (200, "together".to_string()), "{}", h.error_log());
    }
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn a_quick_request_does_not_wait_for_long_computations() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess busy processes=1 threads=4\n\
         WSGIScriptAlias /compute {HANDLERS}/daemon_apps.py callable-object=compute process-group=busy application-group=%{GLOBAL}\n\
         WSGIScriptAlias /computing {HANDLERS}/daemon_apps.py callable-object=computing process-group=busy application-group=%{GLOBAL}\n",
    );
    assert_eq!(h.get("/computing").text(), "0", "{}", h.error_log());
    // Two requests compute for 8 s each: as many as the daemon first admits.
    let port = h.port;
    let long: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || request(port, "GET", "/compute?8", &[], b"")))
        .collect();
    let mut seen = String::new();
    for _ in 0..300 {
        seen = h.get("/computing").text();
        if seen == "2" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Answered while both still computed: a third thread took it.
    assert_eq!(
        seen,
        "2",
        "a quick request was not answered during both computations\n{}",
        h.error_log()
    );
    for t in long {
        assert_eq!(t.join().unwrap().text(), "computed");
    }
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}
