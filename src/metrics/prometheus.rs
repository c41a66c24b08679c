//! `?metrics`: Prometheus' text exposition format (version 0.0.4).
use super::groups::{Group, Stop};
use super::layout::BOUNDS_US;
use super::snapshot::Snapshot;
use std::fmt::Write;

const CLASS_NAMES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A float as Prometheus writes it.
fn f(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else if v > 0.0 {
        "+Inf".into()
    } else {
        "NaN".into()
    }
}

pub fn render(s: &Snapshot) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let t = &s.totals;
    head(
        &mut out,
        "pyrite_requests_total",
        "counter",
        "Requests served by Python (handlers and WSGI) since the last restart.",
    );
    let _ = writeln!(out, "pyrite_requests_total {}", t.requests());
    head(&mut out, "pyrite_responses_total", "counter", "Python requests by status class.");
    for (n, v) in CLASS_NAMES.iter().zip(&t.statuses) {
        let _ = writeln!(out, "pyrite_responses_total{{class=\"{n}\"}} {v}");
    }
    head(
        &mut out,
        "pyrite_request_duration_seconds",
        "histogram",
        "Service time, from httpd reading the request line to the end of the handler.",
    );
    let mut cumulative = 0u64;
    for (i, c) in t.hist.iter().enumerate() {
        cumulative += c;
        let le = BOUNDS_US.get(i).map_or("+Inf".to_string(), |&b| f(b as f64 / 1e6));
        let _ = writeln!(out, "pyrite_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(out, "pyrite_request_duration_seconds_sum {}", f(t.sum_us as f64 / 1e6));
    let _ = writeln!(out, "pyrite_request_duration_seconds_count {cumulative}");
    for (name, help, ns) in [
        (
            "pyrite_gate_wait_seconds_total",
            "Time requests queued at the PyriteMaxPythonThreads gate.",
            t.gate_wait_ns,
        ),
        (
            "pyrite_python_wait_seconds_total",
            "Time requests waited to run Python (gate and GIL).",
            t.python_wait_ns,
        ),
        (
            "pyrite_gil_hold_seconds_total",
            "Time request threads held the GIL (ran Python).",
            t.gil_ns,
        ),
    ] {
        head(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {}", f(ns as f64 / 1e9));
    }
    head(&mut out, "pyrite_children", "gauge", "Live httpd children with metrics.");
    let _ = writeln!(out, "pyrite_children {}", s.children.len());
    head(&mut out, "pyrite_active_requests", "gauge", "Python requests in progress.");
    let _ = writeln!(
        out,
        "pyrite_active_requests {}",
        s.children.iter().map(|c| c.active.len()).sum::<usize>()
    );
    type PerChild = (&'static str, &'static str, &'static str, fn(&super::snapshot::Child) -> f64);
    let per_child: [PerChild; 4] = [
        (
            "pyrite_child_requests_total",
            "counter",
            "Python requests served by this child.",
            |c| c.counts.requests() as f64,
        ),
        ("pyrite_child_rss_bytes", "gauge", "Resident memory of this child.", |c| {
            c.rss_bytes.unwrap_or(0) as f64
        }),
        (
            "pyrite_child_interpreter_start_seconds",
            "gauge",
            "Time this child took to start Python.",
            |c| c.interp_us as f64 / 1e6,
        ),
        (
            "pyrite_child_preload_seconds",
            "gauge",
            "Time this child took to load its applications before serving.",
            |c| c.preload_us as f64 / 1e6,
        ),
    ];
    for (name, kind, help, value) in per_child {
        head(&mut out, name, kind, help);
        for c in &s.children {
            let _ = writeln!(out, "{name}{{slot=\"{}\",pid=\"{}\"}} {}", c.slot, c.pid, f(value(c)));
        }
    }
    if s.children.iter().any(|c| !c.interpreters.is_empty()) {
        let name = "pyrite_interpreter_requests_total";
        head(&mut out, name, "counter", "Requests served by each interpreter of this child.");
        for c in &s.children {
            for (interp, n) in &c.interpreters {
                let label: String = interp
                    .chars()
                    .flat_map(|ch| match ch {
                        '\\' => vec!['\\', '\\'],
                        '"' => vec!['\\', '"'],
                        '\n' => vec!['\\', 'n'],
                        c => vec![c],
                    })
                    .collect();
                let _ = writeln!(out, "{name}{{slot=\"{}\",pid=\"{}\",interpreter=\"{label}\"}} {n}", c.slot, c.pid);
            }
        }
    }
    groups(&mut out, s);
    out
}

fn label(v: &str) -> String {
    v.chars()
        .flat_map(|ch| match ch {
            '\\' => vec!['\\', '\\'],
            '"' => vec!['\\', '"'],
            '\n' => vec!['\\', 'n'],
            c => vec![c],
        })
        .collect()
}

/// The daemon groups: size, busy threads, queue, restarts by reason, latency.
fn groups(out: &mut String, s: &Snapshot) {
    if s.groups.is_empty() {
        return;
    }
    type PerGroup = (&'static str, &'static str, &'static str, fn(&Group) -> f64);
    let per_group: [PerGroup; 5] = [
        ("pyrite_daemon_processes", "gauge", "Live daemon processes of the group.", |g| {
            g.daemons.iter().filter(|d| d.alive).count() as f64
        }),
        ("pyrite_daemon_threads", "gauge", "Threads per daemon process (threads=).", |g| {
            g.threads as f64
        }),
        (
            "pyrite_daemon_busy_threads",
            "gauge",
            "Daemon threads serving a request now.",
            |g| g.busy() as f64,
        ),
        (
            "pyrite_daemon_queued_connections",
            "gauge",
            "Connections waiting in the group's socket for a free daemon thread.",
            |g| g.queued.map_or(f64::NAN, |q| q as f64),
        ),
        (
            "pyrite_daemon_requests_total",
            "counter",
            "Requests the group's daemons served since the last restart of httpd.",
            |g| g.counts.requests() as f64,
        ),
    ];
    for (name, kind, help, value) in per_group {
        head(out, name, kind, help);
        for g in &s.groups {
            let _ = writeln!(out, "{name}{{group=\"{}\"}} {}", label(&g.name), f(value(g)));
        }
    }
    let name = "pyrite_daemon_restarts_total";
    head(out, name, "counter", "Daemons replaced, by why they ended.");
    for g in &s.groups {
        for k in Stop::ALL {
            let _ = writeln!(
                out,
                "{name}{{group=\"{}\",reason=\"{}\"}} {}",
                label(&g.name),
                k.name(),
                g.restarts[k as usize]
            );
        }
    }
    let name = "pyrite_daemon_request_duration_seconds";
    head(out, name, "histogram", "Service time of the group's requests, in the daemon.");
    for g in &s.groups {
        let gl = label(&g.name);
        let mut cumulative = 0u64;
        for (i, c) in g.counts.hist_array().iter().enumerate() {
            cumulative += c;
            let le = BOUNDS_US.get(i).map_or("+Inf".to_string(), |&b| f(b as f64 / 1e6));
            let _ = writeln!(out, "{name}_bucket{{group=\"{gl}\",le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum{{group=\"{gl}\"}} {}", f(g.counts.sum_us as f64 / 1e6));
        let _ = writeln!(out, "{name}_count{{group=\"{gl}\"}} {cumulative}");
    }
}
