//! The metrics: exact totals across children, the three formats of the
//! status page, its access control, pyrite.metrics(), requests in progress
//! and a graceful restart.
mod common;
use common::*;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PREFORK_TWO: &str = "StartServers 2\nMinSpareServers 2\nMaxSpareServers 4\n";

fn site() -> String {
    format!("LoadModule authz_host_module {MODULES}/mod_authz_host.so\n")
        + &location("/m", "metrics_app", "  PythonOption release {SCRATCH}/release")
        + "WSGIScriptAlias /w {HANDLERS}/metrics_app.py\n\
           <Location /status>\n  SetHandler pyrite-status\n  PyriteStatus On\n  Require ip 127.0.0.1\n</Location>\n\
           <Location /closed>\n  SetHandler pyrite-status\n</Location>\n"
}

fn status_json(h: &Httpd) -> Value {
    let r = h.get("/status?json");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header_str("content-type").unwrap().starts_with("application/json"));
    serde_json::from_str(&r.text()).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", r.text()))
}

/// Sends 7 x 200 (5 handler, 2 WSGI), 3 x 404 and 2 x 500; returns the request count.
fn known_traffic(h: &Httpd) -> u64 {
    for _ in 0..5 {
        assert_eq!(h.get("/m/ok").status, 200);
    }
    for _ in 0..2 {
        assert_eq!(h.get("/w").text(), "wsgi ok");
    }
    for _ in 0..3 {
        assert_eq!(h.get("/m/missing").status, 404);
    }
    for _ in 0..2 {
        assert_eq!(h.get("/m/boom").status, 500);
    }
    12
}

fn check_totals(v: &Value, n: u64) {
    let t = &v["totals"];
    assert_eq!(t["requests"], n, "{t}");
    assert_eq!(t["statuses"]["2xx"], 7, "{t}");
    assert_eq!(t["statuses"]["4xx"], 3, "{t}");
    assert_eq!(t["statuses"]["5xx"], 2, "{t}");
    let hist_sum: u64 = t["histogram_counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum();
    assert_eq!(hist_sum, n);
    let per_child: u64 = v["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(per_child, n, "live children's counts add up to the total: {}", v["children"]);
    // The 10 s series covers completed steps only: it never holds more than the total.
    let series: u64 = v["series"]["10s"]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert!(series <= n, "{series} > {n}");
}

/// Checks every line against the text exposition grammar; returns (name{labels}, value) pairs.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut out = Vec::new();
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(name_ok(name), "HELP name: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut p = rest.split(' ');
            let (name, kind) = (p.next().unwrap(), p.next().unwrap_or(""));
            assert!(name_ok(name), "TYPE name: {line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "TYPE kind: {line}"
            );
            assert!(typed.insert(name.to_string()), "TYPE twice: {line}");
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "stray line: {line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(name_ok(name), "sample name: {line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
        assert!(typed.contains(name) || typed.contains(family), "sample before its TYPE: {line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                let inner = labels
                    .strip_prefix('{')
                    .and_then(|l| l.strip_suffix('}'))
                    .unwrap_or_else(|| panic!("labels: {line}"));
                for pair in inner.split(',') {
                    let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("label: {line}"));
                    assert!(
                        name_ok(k) && v.len() >= 2 && v.starts_with('"') && v.ends_with('"'),
                        "label: {line}"
                    );
                }
            }
        }
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value: {line}")),
        };
        out.push((series.to_string(), v));
    }
    out
}

fn totals_and_formats(mpm: Mpm, extra: &str) {
    let h = Httpd::start(mpm, &(site() + extra));
    let n = known_traffic(&h);
    let v = status_json(&h);
    check_totals(&v, n);
    let children = v["children"].as_array().unwrap();
    assert!(children.len() >= 2, "two children started: {}", v["children"]);
    for c in children {
        assert!(c["rss_bytes"].as_u64().unwrap() > 1_000_000, "{c}");
        // A child still starting has no start-up times yet; one that served requests has.
        if c["requests"].as_u64().unwrap() > 0 {
            assert!(c["interpreter_start_seconds"].as_f64().unwrap() > 0.0, "{c}");
        }
    }
    assert!(v["totals"]["gil_hold_seconds"].as_f64().unwrap() > 0.0, "{}", v["totals"]);

    let r = h.get("/status?metrics");
    assert_eq!(r.status, 200);
    assert!(r.header_str("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    let samples = parse_prometheus(&r.text());
    let get = |k: &str| samples.iter().find(|(s, _)| s == k).unwrap_or_else(|| panic!("no {k}")).1;
    assert_eq!(get("pyrite_requests_total"), n as f64);
    assert_eq!(get("pyrite_request_duration_seconds_count"), n as f64);
    assert_eq!(get("pyrite_request_duration_seconds_bucket{le=\"+Inf\"}"), n as f64);
    assert_eq!(get("pyrite_responses_total{class=\"5xx\"}"), 2.0);
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|(s, _)| s.starts_with("pyrite_request_duration_seconds_bucket"))
        .map(|x| x.1)
        .collect();
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "buckets are cumulative");

    let r = h.get("/status");
    assert_eq!(r.status, 200);
    assert!(r.header_str("content-type").unwrap().starts_with("text/html"));
    let page = r.text();
    assert!(page.contains("<svg") && page.contains("</svg>"), "{page}");
    assert!(!page.contains("<script"), "no JavaScript");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn totals_across_children_are_exact_and_formats_parse_event() {
    totals_and_formats(Mpm::Event, "");
}

#[test]
fn totals_across_children_are_exact_and_formats_parse_prefork() {
    totals_and_formats(Mpm::Prefork, PREFORK_TWO);
}

#[test]
fn status_page_needs_pyrite_status_on() {
    let h = Httpd::start(Mpm::Event, &site());
    for q in ["", "?json", "?metrics"] {
        assert_eq!(h.get(&format!("/closed{q}")).status, 403, "{q}");
    }
    let refused = h.request("POST", "/status", &[], b"x");
    assert_eq!(refused.status, 405);
    // A 405 says what is allowed: the page is read with GET.
    let allow = refused.header_str("Allow").unwrap_or_default();
    assert!(allow.split(',').any(|m| m.trim() == "GET"), "Allow: {allow:?}");
    let log = h.stop();
    assert!(log.contains("add `PyriteStatus On`"), "{log}");
}

#[test]
fn pyrite_metrics_from_python_matches_the_page() {
    let h = Httpd::start(Mpm::Event, &site());
    let n = known_traffic(&h);
    let page = status_json(&h);
    let r = h.get("/m/py");
    assert_eq!(r.status, 200, "{}", r.text());
    let py: Value = serde_json::from_str(&r.text()).unwrap();
    // The /m/py request itself is in progress, not yet counted.
    assert_eq!(py["totals"]["requests"], n);
    assert_eq!(py["totals"]["statuses"], page["totals"]["statuses"]);
    assert_eq!(py["totals"]["histogram_counts"], page["totals"]["histogram_counts"]);
    let active: Vec<String> = py["active"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["request"].as_str().unwrap().to_string())
        .collect();
    assert!(active.iter().any(|a| a == "GET /m/py"), "{active:?}");
    assert_eq!(status_json(&h)["totals"]["requests"], n + 1);
}

#[test]
fn active_requests_show_a_slow_request() {
    let h = Arc::new(Httpd::start(Mpm::Event, &site()));
    let slow = {
        let h = h.clone();
        std::thread::spawn(move || h.get("/m/slow?which=this-one").text())
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let seen = loop {
        let v = status_json(&h);
        let found = v["active"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["request"] == "GET /m/slow?which=this-one")
            .cloned();
        if let Some(a) = found {
            break a;
        }
        assert!(Instant::now() < deadline, "the slow request never showed: {v}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(seen["seconds"].as_f64().unwrap() >= 0.0);
    assert!(h.get("/status").text().contains("GET /m/slow?which=this-one"));
    std::fs::write(h.root.join("scratch/release"), b"").unwrap();
    assert_eq!(slow.join().unwrap(), "released");
    let v = status_json(&h);
    assert!(v["active"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(v["totals"]["requests"], 1);
}

#[test]
fn graceful_restart_keeps_serving_the_page() {
    let h = Httpd::start(Mpm::Event, &site());
    assert_eq!(h.get("/m/ok").status, 200);
    let before = status_json(&h)["generation_started"].as_f64().unwrap();
    let out = h.apachectl("graceful");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = h.get("/status?json");
        if r.status == 200 {
            let v: Value = serde_json::from_str(&r.text()).unwrap();
            if v["generation_started"].as_f64().unwrap() != before {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no new generation after a graceful restart:\n{}",
            h.error_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(h.get("/status").text().contains("<svg"));
    assert_eq!(h.get("/status?metrics").status, 200);
    assert_eq!(h.get("/m/ok").status, 200);
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}
