//! `?json`: the snapshot as one JSON document (also what `pyrite.metrics()` returns, parsed).
use super::groups::{Group, Stop};
use super::layout::{BOUNDS_US, COARSE_STEP_S, FINE_STEP_S};
use super::series::Step;
use super::snapshot::{Counts, Snapshot};
use std::fmt::Write;

const CLASS_NAMES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// A JSON string literal.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number, or null for none / not finite.
fn num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x}"),
        _ => "null".into(),
    }
}

fn secs(us: u64) -> String {
    num(Some(us as f64 / 1e6))
}

fn counts(c: &Counts) -> String {
    let hist = c.hist_array();
    let statuses: Vec<String> = CLASS_NAMES.iter().zip(&c.statuses).map(|(n, v)| format!("\"{n}\":{v}")).collect();
    let q = |p| num(super::series::percentile_s(&hist, p));
    format!(
        "\"requests\":{},\"statuses\":{{{}}},\"service_seconds_sum\":{},\"p50_seconds\":{},\"p90_seconds\":{},\"p99_seconds\":{},\
         \"gate_wait_seconds\":{},\"python_wait_seconds\":{},\"gil_hold_seconds\":{},\"histogram_counts\":[{}]",
        c.requests(),
        statuses.join(","),
        secs(c.sum_us),
        q(0.5),
        q(0.9),
        q(0.99),
        num(Some(c.gate_wait_ns as f64 / 1e9)),
        num(Some(c.python_wait_ns as f64 / 1e9)),
        num(Some(c.gil_ns as f64 / 1e9)),
        hist.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
    )
}

fn series(steps: &[Step], step_s: u64) -> String {
    let list = |f: &dyn Fn(&Step) -> String| steps.iter().map(f).collect::<Vec<_>>().join(",");
    format!(
        "{{\"step_seconds\":{step_s},\"first_step_start\":{},\"requests\":[{}],\"service_seconds_sum\":[{}],\"p50_seconds\":[{}],\"p90_seconds\":[{}],\"p99_seconds\":[{}]}}",
        steps.first().map_or(0, |s| s.index * step_s),
        list(&|s| s.requests().to_string()),
        list(&|s| secs(s.sum_us)),
        list(&|s| num(s.percentile_s(0.5))),
        list(&|s| num(s.percentile_s(0.9))),
        list(&|s| num(s.percentile_s(0.99))),
    )
}

pub fn render(s: &Snapshot) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "{{\"version\":{},\"now\":{},\"generation_started\":{},\"histogram_bounds_seconds\":[{}],\"totals\":{{{}}},\"children\":[",
        string(crate::VERSION),
        secs(s.now_us),
        secs(s.generation_us),
        BOUNDS_US.iter().map(|&b| secs(b)).collect::<Vec<_>>().join(","),
        counts(&s.totals)
    );
    let mut all_active = Vec::new();
    for (i, c) in s.children.iter().enumerate() {
        let active: Vec<String> = c
            .active
            .iter()
            .map(|a| {
                all_active.push(format!(
                    "{{\"pid\":{},\"request\":{},\"seconds\":{}}}",
                    c.pid,
                    string(&a.text),
                    secs(a.duration_us)
                ));
                format!("{{\"request\":{},\"seconds\":{}}}", string(&a.text), secs(a.duration_us))
            })
            .collect();
        let interpreters: Vec<String> = c
            .interpreters
            .iter()
            .map(|(name, n)| format!("{{\"name\":{},\"requests\":{n}}}", string(name)))
            .collect();
        let _ = write!(
            out,
            "{}{{\"slot\":{},\"pid\":{},\"started\":{},\"interpreter_start_seconds\":{},\"preload_seconds\":{},\"rss_bytes\":{},{},\"interpreters\":[{}],\"active\":[{}]}}",
            if i > 0 { "," } else { "" },
            c.slot,
            c.pid,
            secs(c.started_us),
            secs(c.interp_us),
            secs(c.preload_us),
            c.rss_bytes.map_or("null".into(), |v| v.to_string()),
            counts(&c.counts),
            interpreters.join(","),
            active.join(",")
        );
    }
    let _ = write!(
        out,
        "],\"active\":[{}],\"daemon_groups\":[{}],\"series\":{{\"10s\":{},\"5min\":{}}}}}",
        all_active.join(","),
        s.groups.iter().map(group).collect::<Vec<_>>().join(","),
        series(&s.fine, FINE_STEP_S),
        series(&s.coarse, COARSE_STEP_S)
    );
    out
}

/// One daemon group: its size, what it is doing, its restarts and its latency.
fn group(g: &Group) -> String {
    let restarts: Vec<String> = Stop::ALL
        .iter()
        .map(|k| format!("{}:{}", string(k.name()), g.restarts[*k as usize]))
        .collect();
    let last = match &g.last_restart {
        Some((at, why)) => format!("{{\"at\":{},\"reason\":{}}}", secs(*at), string(why)),
        None => "null".into(),
    };
    let daemons: Vec<String> = g
        .daemons
        .iter()
        .map(|d| {
            let c = &d.child;
            let active: Vec<String> = c
                .active
                .iter()
                .map(|a| format!("{{\"request\":{},\"seconds\":{}}}", string(&a.text), secs(a.duration_us)))
                .collect();
            format!(
                "{{\"slot\":{},\"pid\":{},\"alive\":{},\"stopping\":{},\"started\":{},\"interpreter_start_seconds\":{},\"preload_seconds\":{},\"rss_bytes\":{},\"busy_threads\":{},{},\"active\":[{}]}}",
                c.slot,
                d.pid,
                d.alive,
                d.stopping.as_deref().map_or("null".into(), string),
                secs(c.started_us),
                secs(c.interp_us),
                secs(c.preload_us),
                c.rss_bytes.map_or("null".into(), |v| v.to_string()),
                c.active.len(),
                counts(&c.counts),
                active.join(",")
            )
        })
        .collect();
    format!(
        "{{\"name\":{},\"processes\":{},\"threads\":{},\"alive\":{},\"busy_threads\":{},\"queued\":{},\"listen_backlog\":{},\
         \"restarts\":{{\"total\":{},{}}},\"last_restart\":{last},{},\"daemons\":[{}]}}",
        string(&g.name),
        g.processes,
        g.threads,
        g.daemons.iter().filter(|d| d.alive).count(),
        g.busy(),
        g.queued.map_or("null".into(), |q| q.to_string()),
        g.backlog,
        g.restarts_total(),
        restarts.join(","),
        counts(&g.counts),
        daemons.join(",")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn strings_are_escaped() {
        assert_eq!(super::string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
