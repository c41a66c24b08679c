//! The HTML status page: totals, SVG charts of requests/s and latency
//! percentiles over minutes, an hour and a day, one row per child, and the
//! requests in progress. No JavaScript: `?refresh=N` reloads it every N s.
use super::groups::Stop;
use super::layout::{COARSE_STEP_S, FINE_STEP_S};
use super::series::{consolidate, Step};
use super::snapshot::{Counts, Snapshot};
use super::svg::{chart, Line};
use std::fmt::Write;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{:.2}", s * 1e3))
}

fn duration(us: u64) -> String {
    let s = us / 1_000_000;
    match s {
        0..=119 => format!("{:.1} s", us as f64 / 1e6),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{:.1} h", s as f64 / 3600.0),
    }
}

/// Charts for `steps` (each `step_s` long) merged `factor` at a time.
fn charts(out: &mut String, steps: &[Step], step_s: u64, factor: u64, what: &str) {
    let first = steps.first().map_or(0, |s| s.index);
    // A merged step the window only partly covers would show a false dip: drop it.
    let merged: Vec<Step> = consolidate(steps, factor)
        .into_iter()
        .filter(|c| c.index * factor >= first)
        .collect();
    let secs = (step_s * factor) as f64;
    let rps = Line {
        name: "requests/s",
        color: "#1f77b4",
        values: merged.iter().map(|s| Some(s.requests() as f64 / secs)).collect(),
    };
    let pct = |q: f64, name, color| Line {
        name,
        color,
        values: merged.iter().map(|s| s.percentile_s(q).map(|v| v * 1e3)).collect(),
    };
    let step_text = if secs >= 60.0 {
        format!("{} min", secs / 60.0)
    } else {
        format!("{secs} s")
    };
    out.push_str("<div class=\"charts\">");
    out.push_str(&chart(&format!("Requests/s, {what} ({step_text} steps)"), what, "/s", &[rps]));
    out.push_str(&chart(
        &format!("Latency, {what}"),
        what,
        "ms",
        &[pct(0.5, "p50", "#2ca02c"), pct(0.9, "p90", "#ff7f0e"), pct(0.99, "p99", "#d62728")],
    ));
    out.push_str("</div>");
}

/// A process row's cells shared by children and daemons: up, Python start,
/// preload, RSS, requests in progress, then the status counts.
fn process_cells(now_us: u64, c: &super::snapshot::Child) -> String {
    format!(
        "<td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td>{}",
        duration(now_us.saturating_sub(c.started_us)),
        c.interp_us as f64 / 1e3,
        c.preload_us as f64 / 1e3,
        c.rss_bytes.map_or("-".into(), |b| format!("{:.1}", b as f64 / 1048576.0)),
        c.active.len(),
        counts_cells(&c.counts)
    )
}

fn counts_cells(c: &Counts) -> String {
    let h = c.hist_array();
    let n = c.requests();
    let q = |p| ms(super::series::percentile_s(&h, p));
    let mean = if n > 0 { Some(c.sum_us as f64 / 1e6 / n as f64) } else { None };
    let per_req = |ns: u64| {
        if n > 0 {
            format!("{:.1}", ns as f64 / 1e3 / n as f64)
        } else {
            "-".into()
        }
    };
    format!(
        "<td>{n}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
        c.statuses[1],
        c.statuses[2],
        c.statuses[3],
        c.statuses[4],
        ms(mean),
        q(0.5),
        q(0.9),
        q(0.99),
        per_req(c.gate_wait_ns),
        per_req(c.python_wait_ns),
        per_req(c.gil_ns)
    )
}

const COUNT_HEADS: &str =
    "<th>requests</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th>mean ms</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th>\
    <th>gate wait us/req</th><th>Python wait us/req</th><th>GIL hold us/req</th>";

pub fn render(s: &Snapshot, refresh: Option<u32>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mod_pyrite status</title>");
    if let Some(n) = refresh {
        let _ = write!(out, "<meta http-equiv=\"refresh\" content=\"{n}\">");
    }
    out.push_str(
        "<style>body{font-family:sans-serif;margin:1em 2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}\
         td,th{border:1px solid #ccc;padding:2px 8px;text-align:right;font-size:13px}th{background:#f3f3f3}\
         td.l{text-align:left;font-family:monospace}.charts svg{margin:0 1em 1em 0;border:1px solid #eee}</style></head><body>",
    );
    let active: usize = s.children.iter().map(|c| c.active.len()).sum();
    let _ = write!(
        out,
        "<h1>mod_pyrite status</h1><p>mod_pyrite/{} &middot; configuration loaded {} ago &middot; {} children &middot; {} requests in progress &middot; \
         <a href=\"?json\">JSON</a> &middot; <a href=\"?metrics\">Prometheus</a> &middot; <a href=\"?refresh=10\">reload every 10 s</a></p>",
        escape(crate::VERSION),
        duration(s.now_us.saturating_sub(s.generation_us)),
        s.children.len(),
        active
    );
    let _ = write!(
        out,
        "<h2>Since the configuration was loaded</h2><table><tr>{COUNT_HEADS}</tr><tr>{}</tr></table>",
        counts_cells(&s.totals)
    );
    let fine_last_15 = &s.fine[s.fine.len().saturating_sub(90)..];
    charts(&mut out, fine_last_15, FINE_STEP_S, 1, "last 15 minutes");
    charts(&mut out, &s.fine, FINE_STEP_S, 6, "last hour");
    charts(&mut out, &s.coarse, COARSE_STEP_S, 3, "last 24 hours");
    let _ = write!(
        out,
        "<h2>Children</h2><table><tr><th>slot</th><th>pid</th><th>up</th><th>Python start ms</th><th>preload ms</th><th>RSS MB</th><th>active</th>{COUNT_HEADS}</tr>"
    );
    for c in &s.children {
        let _ = write!(out, "<tr><td>{}</td><td>{}</td>{}</tr>", c.slot, c.pid, process_cells(s.now_us, c));
    }
    out.push_str("</table>");
    groups(&mut out, s);
    interpreters(&mut out, s);
    out.push_str("<h2>Requests in progress</h2><table><tr><th>pid</th><th>seconds</th><th>request</th></tr>");
    let daemons = s.groups.iter().flat_map(|g| g.daemons.iter().map(|d| &d.child));
    let mut rows: Vec<(u32, &super::snapshot::Active)> = s
        .children
        .iter()
        .chain(daemons)
        .flat_map(|c| c.active.iter().map(move |a| (c.pid, a)))
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.duration_us));
    for (pid, a) in rows {
        let _ = write!(
            out,
            "<tr><td>{pid}</td><td>{:.3}</td><td class=\"l\">{}</td></tr>",
            a.duration_us as f64 / 1e6,
            escape(&a.text)
        );
    }
    out.push_str("</table><p>Service time runs from httpd reading the request line to the end of the Python handler. \
        Python wait is the time to get the GIL (and the gate, when set); GIL hold is time spent running Python. See docs/tuning.md.</p></body></html>\n");
    out
}

/// The daemon groups (WSGIDaemonProcess), then each group's daemons.
fn groups(out: &mut String, s: &Snapshot) {
    if s.groups.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<h2>Daemon groups</h2><table><tr><th class=\"l\">group</th><th>processes</th><th>threads</th><th>busy</th><th>queued</th>\
         <th>restarts</th><th class=\"l\">last restart</th>{COUNT_HEADS}</tr>"
    );
    for g in &s.groups {
        let why: Vec<String> = Stop::ALL
            .iter()
            .filter(|k| g.restarts[**k as usize] > 0)
            .map(|k| format!("{} {}", g.restarts[*k as usize], k.name()))
            .collect();
        let last = g.last_restart.as_ref().map_or("-".into(), |(at, text)| {
            format!("{} ago: {}", duration(s.now_us.saturating_sub(*at)), escape(text))
        });
        let _ =
            write!(
            out,
            "<tr><td class=\"l\">{}</td><td>{} of {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td class=\"l\">{last}</td>{}</tr>",
            escape(&g.name),
            g.daemons.iter().filter(|d| d.alive).count(),
            g.processes,
            g.threads,
            g.busy(),
            g.queued.map_or("-".into(), |q| q.to_string()),
            g.restarts_total(),
            if why.is_empty() { String::new() } else { format!(" ({})", why.join(", ")) },
            counts_cells(&g.counts)
        );
    }
    let _ = write!(
        out,
        "</table><table><tr><th class=\"l\">group</th><th>slot</th><th>pid</th><th>state</th><th>up</th><th>Python start ms</th><th>preload ms</th>\
         <th>RSS MB</th><th>busy</th>{COUNT_HEADS}</tr>"
    );
    for g in &s.groups {
        for d in &g.daemons {
            let c = &d.child;
            let state = match (&d.stopping, d.alive) {
                (_, false) => "gone".to_string(),
                (Some(why), true) => format!("stopping: {}", escape(why)),
                (None, true) => "serving".to_string(),
            };
            let _ = write!(
                out,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{state}</td>{}</tr>",
                escape(&g.name),
                c.slot,
                d.pid,
                process_cells(s.now_us, c)
            );
        }
    }
    out.push_str("</table>");
}

/// Requests per interpreter, summed over live children (shown when children
/// run more than one interpreter).
fn interpreters(out: &mut String, s: &Snapshot) {
    let mut rows: Vec<(String, usize, u64)> = Vec::new();
    for c in &s.children {
        for (name, n) in &c.interpreters {
            match rows.iter_mut().find(|r| &r.0 == name) {
                Some(r) => {
                    r.1 += 1;
                    r.2 += n;
                }
                None => rows.push((name.clone(), 1, *n)),
            }
        }
    }
    if rows.is_empty() {
        return;
    }
    out.push_str("<h2>Interpreters</h2><table><tr><th class=\"l\">name</th><th>children</th><th>requests</th></tr>");
    for (name, children, n) in rows {
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td>{children}</td><td>{n}</td></tr>",
            escape(&name)
        );
    }
    out.push_str("</table>");
}
