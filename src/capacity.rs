//! The start-up capacity summary the parent logs once per configuration:
//! MPM, processes x threads, what each child preloads, and warnings for
//! settings known to cause spin-up stalls or waste. The parent never runs
//! Python: this reads only httpd's and mod_pyrite's configuration.
use crate::config;
use crate::ffi::server::Server;
use crate::ffi::{self, log, raw};

/// Logs the summary for the configuration whose main server is `s`.
pub fn log_summary(s: &Server) {
    summary(s)
}

/// The configuration's mod_pyrite settings for server `s`.
fn settings(s: &Server) -> Option<&config::ServerConfig> {
    config::ServerConfig::of(s)
}

fn summary(s: &Server) {
    let name = ffi::mpm::name();
    let threaded = ffi::mpm::query(raw::AP_MPMQ_IS_THREADED) != raw::AP_MPMQ_NOT_SUPPORTED as i32;
    let threads = ffi::mpm::threads_per_child() as i32;
    let daemons = ffi::mpm::query(raw::AP_MPMQ_MAX_DAEMONS).max(1);
    let per_child = ffi::mpm::query(raw::AP_MPMQ_MAX_REQUESTS_DAEMON);
    let (min_spare, max_spare) = (
        ffi::mpm::query(raw::AP_MPMQ_MIN_SPARE_THREADS),
        ffi::mpm::query(raw::AP_MPMQ_MAX_SPARE_THREADS),
    );
    let handlers = config::declared()
        .iter()
        .map(|d| d.decl.module.clone())
        .collect::<std::collections::BTreeSet<_>>();
    let (mut imports, mut scripts, mut preload, mut gate) = (0usize, 0usize, true, 0usize);
    let mut server = Some(s);
    while let Some(this) = server {
        if let Some(sc) = settings(this) {
            imports += sc.imports.len();
            scripts += sc.wsgi_imports.len() + sc.wsgi_aliases.iter().filter(|a| a.preload && a.regex.is_none()).count();
            if std::ptr::eq(this, s) {
                preload = sc.preload.unwrap_or(true);
                gate = sc.python_threads.unwrap_or(crate::gate::DEFAULT_LIMIT);
            }
        }
        server = this.next();
    }
    let handler_count = if preload { handlers.len() } else { 0 };
    let gate_text = if gate == 0 {
        "off".to_string()
    } else {
        format!("{gate} per child")
    };
    s.log(log::APLOG_NOTICE, &format!(
        "mod_pyrite capacity: MPM {name}, up to {daemons} process(es) x {threads} thread(s) = {} workers; \
         Python gate {gate_text}; each child preloads {handler_count} handler module(s), {imports} PythonImport(s), {scripts} WSGI script(s)",
        daemons * threads
    ));
    // The interpreters each child makes (src/child/plan.rs).
    let plan = crate::child::plan::of(s);
    if plan.isolating {
        let mut counts: Vec<(Option<String>, usize)> = Vec::new();
        crate::child::plan::each(s, |_, g, _| {
            let key = match g {
                crate::interpreters::plan::Guess::Known(n) => n.filter(|n| !crate::interpreters::names::is_main(Some(n))),
                crate::interpreters::plan::Guess::PerRequest => return,
            };
            match counts.iter_mut().find(|c| c.0 == key) {
                Some(c) => c.1 += 1,
                None => counts.push((key, 1)),
            }
        });
        let listed: Vec<String> = counts
            .iter()
            .map(|(n, k)| {
                format!(
                    "'{}' ({k} preload(s) or handler(s))",
                    n.as_deref().unwrap_or(crate::interpreters::names::MAIN_INTERPRETER)
                )
            })
            .collect();
        s.log(log::APLOG_NOTICE, &format!(
            "mod_pyrite interpreters: each child makes {} sub-interpreter(s) at start besides the main one: {}{}; each costs a few ms and a few MB per child before its application (the child's start-up lines give the figures; docs/interpreters.md)",
            plan.names.len(),
            listed.join(", "),
            if plan.per_request { "; names that depend on the request get theirs on their first request" } else { "" }
        ));
    }
    daemon_groups(s, daemons * threads);
    let apps = handler_count + imports + scripts;
    if per_child > 0 && per_child < 10_000 && apps > 0 {
        s.log(log::APLOG_WARNING, &format!(
            "mod_pyrite: MaxConnectionsPerChild {per_child} starts a new child (which imports its applications again) every {per_child} connections; with large applications raise it (docs/tuning.md)"
        ));
    }
    if threaded && max_spare > 0 && max_spare - min_spare < threads {
        s.log(log::APLOG_WARNING, &format!(
            "mod_pyrite: MaxSpareThreads {max_spare} is less than ThreadsPerChild ({threads}) above MinSpareThreads {min_spare}: a normal swing in load stops and starts children (docs/tuning.md)"
        ));
    }
    if !threaded && apps > 0 {
        s.log(log::APLOG_WARNING, &format!(
            "mod_pyrite: the {name} MPM holds a whole interpreter and application in each of up to {daemons} processes; size MaxRequestWorkers by memory, or use event (docs/tuning.md)"
        ));
    }
}

/// One line per daemon group (WSGIDaemonProcess): its fixed size, what each
/// daemon loads before its first request, how long a request may wait; and
/// warnings for settings known to stall or starve a group (docs/tuning.md).
fn daemon_groups(s: &Server, httpd_workers: i32) {
    let groups = crate::daemon::directives::groups();
    if groups.is_empty() {
        return;
    }
    let mut total = 0usize;
    for g in &groups {
        let spec = &g.spec;
        let (mut scripts, mut imports) = (0usize, 0usize);
        let mut server = Some(s);
        while let Some(this) = server {
            if let Some(sc) = settings(this) {
                let ours = |pg: &Option<String>| pg.as_deref() == Some(spec.name.as_str());
                scripts += sc
                    .wsgi_aliases
                    .iter()
                    .filter(|a| a.preload && a.regex.is_none() && ours(&a.process_group))
                    .count();
                imports += sc.wsgi_imports.iter().filter(|i| ours(&i.process_group)).count();
            }
            server = this.next();
        }
        let workers = spec.processes * spec.threads;
        total += workers;
        let recycle = match (spec.maximum_requests, spec.restart_interval) {
            (0, None) => "never recycled".to_string(),
            (n, None) => format!("recycled every {n} requests"),
            (0, Some(t)) => format!("recycled every {}s", t.as_secs()),
            (n, Some(t)) => format!("recycled every {n} requests or {}s", t.as_secs()),
        };
        let wait = match spec.queue_timeout {
            Some(t) => format!("queued requests get 503 after {}s (queue-timeout)", t.as_secs()),
            None => "queued requests wait without limit (no queue-timeout)".to_string(),
        };
        s.log(log::APLOG_NOTICE, &format!(
            "mod_pyrite capacity: daemon group {:?}: {} process(es) x {} thread(s) = {workers} workers, all started with httpd; \
             each daemon preloads {scripts} WSGI script(s) and {imports} WSGIImportScript(s) and makes its {} thread states before its first request; \
             {recycle}; up to {} connections wait in its socket; {wait}",
            spec.name, spec.processes, spec.threads, spec.threads, spec.listen_backlog
        ));
        if spec.processes == 1 && (spec.maximum_requests > 0 || spec.restart_interval.is_some()) {
            s.log(log::APLOG_WARNING, &format!(
                "mod_pyrite: daemon group {:?} has one process and is recycled ({recycle}): while its replacement loads, its requests wait in the queue; use processes=2 or more (docs/tuning.md)",
                spec.name
            ));
        }
        if spec.maximum_requests > 0 && spec.maximum_requests < 500 && scripts + imports > 0 {
            s.log(log::APLOG_WARNING, &format!(
                "mod_pyrite: daemon group {:?}: maximum-requests={} restarts a daemon (which imports its application again) every {} requests; with large applications raise it (docs/tuning.md)",
                spec.name, spec.maximum_requests, spec.maximum_requests
            ));
        }
    }
    if (httpd_workers as usize) < total {
        s.log(log::APLOG_WARNING, &format!(
            "mod_pyrite: httpd's children can hand over {httpd_workers} request(s) at once, fewer than the {total} daemon threads: raise MaxRequestWorkers or lower threads= (docs/tuning.md)"
        ));
    }
}
