//! Real frameworks from Debian's packages (python3-flask, python3-django)
//! behind WSGIScriptAlias, answering correctly under concurrent load.
mod common;
use common::*;
use std::sync::Arc;

fn site() -> String {
    "WSGIScriptAlias /flask {HANDLERS}/flask_app.py\nWSGIScriptAlias /django {HANDLERS}/django_site.wsgi\n".to_string()
}

fn cookie(r: &Response, name: &str) -> Option<String> {
    r.headers_named("set-cookie").iter().find_map(|v| {
        let v = String::from_utf8_lossy(v);
        let first = v.split(';').next()?.trim().to_string();
        let (k, val) = first.split_once('=')?;
        (k == name).then(|| val.to_string())
    })
}

fn flask_checks(h: &Httpd) {
    assert_eq!(h.get("/flask/").text(), "flask index");
    assert_eq!(h.get("/flask/hello/world").text(), "hello world");
    let r = h.request(
        "POST",
        "/flask/form",
        &[("Content-Type", b"application/x-www-form-urlencoded")],
        b"a=2&b=40",
    );
    assert_eq!(r.text(), "sum=42");
    let r = h.request(
        "POST",
        "/flask/json",
        &[("Content-Type", b"application/json")],
        br#"{"items": [1, 2, 3]}"#,
    );
    let v: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(v["count"], 3);
    assert_eq!(v["received"]["items"][2], 3);
    let r = h.get("/flask/cookie/set");
    assert_eq!(cookie(&r, "flavour").as_deref(), Some("oatmeal"));
    let r = h.request("GET", "/flask/cookie/get", &[("Cookie", b"flavour=oatmeal")], b"");
    assert_eq!(r.text(), "flavour=oatmeal");
    let r = h.get("/flask/redirect");
    assert_eq!(r.status, 302);
    assert!(r.header_str("location").unwrap().ends_with("/flask/hello/redirected"));
    let r = h.get("/flask/stream");
    assert_eq!(r.text(), "chunk0;chunk1;chunk2;chunk3;chunk4;");
    let r = h.get("/flask/nowhere");
    assert_eq!((r.status, r.text().as_str()), (404, "custom not found"));
    let r = h.get("/flask/boom");
    assert_eq!((r.status, r.text().as_str()), (500, "handled error"));
}

fn django_checks(h: &Httpd) {
    let r = h.get("/django/");
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert_eq!(r.text(), "django index /django/");
    // CSRF: the token from a GET (and its cookie) lets a POST through; without it, 403.
    let r = h.get("/django/form/");
    let token = r.text();
    let csrf_cookie = cookie(&r, "csrftoken").expect("csrftoken cookie");
    let body = format!("name=pyrite&csrfmiddlewaretoken={token}");
    let cookie_header = format!("csrftoken={csrf_cookie}");
    let r = h.request(
        "POST",
        "/django/form/",
        &[
            ("Content-Type", b"application/x-www-form-urlencoded"),
            ("Cookie", cookie_header.as_bytes()),
        ],
        body.as_bytes(),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "posted pyrite"));
    let r = h.request(
        "POST",
        "/django/form/",
        &[("Content-Type", b"application/x-www-form-urlencoded")],
        b"name=x",
    );
    assert_eq!(r.status, 403, "no CSRF token, no POST");
    let r = h.get("/django/stream/");
    assert_eq!(r.text(), "part0;part1;part2;part3;");
}

#[test]
fn flask_application() {
    let h = Httpd::start(Mpm::Event, &site());
    flask_checks(&h);
    let log = h.wait_log("flask view failed");
    assert!(
        log.contains("flask view failed"),
        "Flask logs its error through wsgi.errors:\n{log}"
    );
}

#[test]
fn django_project() {
    let h = Httpd::start(Mpm::Worker, &site());
    django_checks(&h);
}

#[test]
fn both_frameworks_under_concurrent_load() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        let h = Arc::new(Httpd::start(mpm, &site()));
        let workers: Vec<_> = (0..8)
            .map(|i| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for _ in 0..6 {
                        if i % 2 == 0 {
                            flask_checks(&h);
                        } else {
                            django_checks(&h);
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("a client saw a wrong answer");
        }
        let h = Arc::try_unwrap(h).ok().unwrap();
        let log = h.stop();
        assert!(crash_lines(&log).is_empty(), "{mpm:?}\n{log}");
    }
}
