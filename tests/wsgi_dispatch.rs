//! WSGIDispatchScript and WSGIRestrictProcess as mod_wsgi 4.9 has them: a
//! script asked per request for the application group, the callable and the
//! daemon process group; and a list of the process groups a context may use.
mod common;
use common::*;

const ONE_CHILD: &str = "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";

fn json(h: &Httpd, path: &str) -> serde_json::Value {
    let r = h.get(path);
    assert_eq!(r.status, 200, "{path}: {}\n{}", r.text(), h.error_log());
    serde_json::from_str(&r.text()).unwrap()
}

#[test]
fn a_dispatch_script_routes_paths_to_their_own_application_groups() {
    let h = Httpd::start(
        Mpm::Event,
        &format!(
            "{ONE_CHILD}WSGIScriptAlias /app {{HANDLERS}}/dispatch_app.py\n\
             WSGIDispatchScript {{HANDLERS}}/dispatch_route.py\n"
        ),
    );
    let alpha = json(&h, "/app/alpha/x");
    assert_eq!(alpha["application_group"], "alpha");
    // `import mod_wsgi` in the application's interpreter says the same.
    assert_eq!(alpha["module_group"], "alpha", "{alpha}");
    // The hand-over marker for daemons stays out of the application's environ.
    assert_eq!(alpha["marker"], serde_json::Value::Null, "{alpha}");
    assert_eq!(json(&h, "/app/beta")["application_group"], "beta");
    // None keeps the group the configuration gives (%{RESOURCE}: host:port|/app).
    let kept = json(&h, "/app/other");
    assert_eq!(kept["application_group"], format!("127.0.0.1:{}|/app", h.port), "{kept}");
    // Each group is its own interpreter: a global set in one is not seen in the other.
    assert_eq!(json(&h, "/app/alpha?set=a")["mark"], "a");
    assert_eq!(json(&h, "/app/beta")["mark"], serde_json::Value::Null);
    assert_eq!(json(&h, "/app/beta?set=b")["mark"], "b");
    assert_eq!(json(&h, "/app/alpha")["mark"], "a");
    assert_eq!(json(&h, "/app/other")["mark"], serde_json::Value::Null);
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn a_dispatch_script_can_change_the_callable() {
    let h = Httpd::start(
        Mpm::Event,
        "<Location /app>\nWSGIDispatchScript {HANDLERS}/dispatch_callable.py application-group=%{GLOBAL}\n</Location>\n\
         WSGIScriptAlias /app {HANDLERS}/dispatch_app.py\nWSGIScriptAlias /plain {HANDLERS}/dispatch_app.py\n",
    );
    assert_eq!(json(&h, "/app?other")["callable"], "other");
    assert_eq!(json(&h, "/app")["callable"], "application");
    // Outside the <Location> the script is not asked.
    assert_eq!(json(&h, "/plain?other")["callable"], "application");
    h.stop();
}

#[test]
fn a_dispatch_script_that_raises_is_a_clean_500_with_a_log_line() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIScriptAlias /app {HANDLERS}/dispatch_app.py\nWSGIDispatchScript {HANDLERS}/dispatch_raises.py\n",
    );
    let r = h.get("/app");
    assert_eq!(r.status, 500);
    assert!(
        !r.text().contains("Traceback") && !r.text().contains("broke on purpose"),
        "{}",
        r.text()
    );
    let log = h.stop();
    assert!(
        log.contains("WSGI dispatch script") && log.contains("dispatch script broke on purpose"),
        "{log}"
    );
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn a_dispatch_script_that_does_not_load_is_logged_and_the_configuration_applies() {
    // As under mod_wsgi: only a function that raises fails the request.
    let h = Httpd::start(
        Mpm::Event,
        "WSGIScriptAlias /app {HANDLERS}/dispatch_app.py application-group=kept\n\
         WSGIDispatchScript {HANDLERS}/no_such_dispatch.py\n",
    );
    assert_eq!(json(&h, "/app/alpha")["application_group"], "kept");
    let log = h.stop();
    assert!(
        log.contains("no_such_dispatch.py (GET /app/alpha): could not load it, the configuration applies"),
        "{log}"
    );
}

#[test]
fn restrict_process_refuses_other_groups_even_when_a_dispatch_script_picks_them() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIDaemonProcess allowed processes=1 threads=2\nWSGIDaemonProcess elsewhere processes=1 threads=2\n\
         WSGIScriptAlias /ok {HANDLERS}/dispatch_app.py process-group=allowed\n\
         WSGIScriptAlias /no {HANDLERS}/dispatch_app.py process-group=elsewhere\n\
         WSGIScriptAlias /picked {HANDLERS}/dispatch_app.py\n\
         WSGIDispatchScript {HANDLERS}/dispatch_route.py\n\
         WSGIRestrictProcess allowed\n",
    );
    assert_eq!(json(&h, "/ok")["process_group"], "allowed");
    assert_eq!(h.get("/no").status, 500);
    // The dispatch script's choice is routed to the daemon and checked like any other.
    let picked = json(&h, "/picked/alpha?group=allowed");
    assert_eq!(picked["process_group"], "allowed", "{picked}");
    assert_eq!(picked["application_group"], "alpha", "{picked}");
    assert_eq!(picked["marker"], serde_json::Value::Null, "{picked}");
    assert_eq!(h.get("/picked?group=elsewhere").status, 500);
    // Embedded mode is a group too (%{GLOBAL}), and not listed here.
    assert_eq!(h.get("/picked").status, 500);
    let log = h.stop();
    assert!(
        log.contains("daemon process group 'elsewhere' may not be selected here: WSGIRestrictProcess allows only 'allowed'"),
        "{log}"
    );
    assert!(log.contains("daemon process group '%{GLOBAL}' may not be selected here"), "{log}");
}

#[test]
fn bad_dispatch_lines_stop_httpd() {
    assert_lines_refused(&[
        ("WSGIDispatchScript", "needs the dispatch script's file"),
        ("WSGIDispatchScript relative.py", "must be absolute"),
        ("WSGIDispatchScript /x.py process-group=a", "invalid option"),
        ("WSGIDispatchScript /x.py application-group=", "needs a name"),
    ]);
}

#[test]
fn with_restrict_embedded_the_dispatch_script_still_runs_in_httpds_children() {
    let h = Httpd::start(
        Mpm::Event,
        "WSGIRestrictEmbedded On\nWSGIDaemonProcess d processes=1 threads=2\n\
         WSGIScriptAlias /app {HANDLERS}/dispatch_app.py\n\
         WSGIDispatchScript {HANDLERS}/dispatch_route.py\n",
    );
    let r = json(&h, "/app/beta?group=d");
    assert_eq!(r["process_group"], "d", "{r}");
    assert_eq!(r["application_group"], "beta", "{r}");
    // Not delegated: still refused, as WSGIRestrictEmbedded says.
    assert_eq!(h.get("/app/beta").status, 500);
    let log = h.stop();
    assert!(log.contains("start Python only for WSGIDispatchScript"), "{log}");
}
