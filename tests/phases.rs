//! mod_python handlers of every phase run unchanged: authentication, access,
//! type, fixups, logging, cleanups; one `req` object across them.
mod common;
use common::*;

fn site() -> String {
    let m = MODULES;
    format!(
        "LoadModule authn_core_module {m}/mod_authn_core.so\nLoadModule authz_user_module {m}/mod_authz_user.so\n\
         PythonPath \"sys.path+['{{HANDLERS}}']\"\n\
         PythonOption scratch {{SCRATCH}}\nPythonOption docs {{DOCS}}\n\
         PythonPostReadRequestHandler phases\nPythonTransHandler phases\n\
         <Location /all>\n  SetHandler mod_python\n  PythonInitHandler phases::init\n  PythonHeaderParserHandler phases::headerparser\n  PythonAccessHandler phases::access_ok\n  PythonTypeHandler phases::typehandler\n  PythonFixupHandler phases::fixup_declines phases::fixup\n  PythonHandler phases\n  PythonLogHandler phases\n  PythonCleanupHandler phases\n</Location>\n\
         <Location /denied>\n  SetHandler mod_python\n  PythonAccessHandler phases::access_deny\n  PythonHandler phases\n</Location>\n\
         <Location /secret>\n  AuthType Basic\n  AuthName \"Pyrite Realm\"\n  Require valid-user\n  SetHandler mod_python\n  PythonAuthenHandler phases::authen\n  PythonAuthzHandler phases::authz\n  PythonHandler phases\n</Location>\n\
         <Location /no-user>\n  AuthType Basic\n  AuthName \"x\"\n  Require valid-user\n  SetHandler mod_python\n  PythonAuthenHandler phases::authen_no_user\n  PythonHandler phases\n</Location>\n\
         <Location /cleanup>\n  SetHandler mod_python\n  PythonHandler phases::with_cleanup\n</Location>\n\
         <Location /module>\n  SetHandler mod_python\n  PythonHandlerModule phasemodule\n</Location>\n"
    )
}

#[test]
fn every_phase_runs_in_order_with_one_req_object() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        let h = Httpd::start(mpm, &site());
        let r = h.get("/all");
        assert_eq!(r.status, 200, "{mpm:?}: {}", h.error_log());
        assert_eq!(
            r.text(),
            "postread,init,headerparser,access,type,fixup1,fixup2,handler user=None ctype=text/x-pyrite",
            "{mpm:?}"
        );
        assert_eq!(r.header_str("x-fixup").as_deref(), Some("yes"));
        let scratch = h.root.join("scratch");
        let mut log = String::new();
        for _ in 0..50 {
            log = std::fs::read_to_string(scratch.join("log.txt")).unwrap_or_default();
            if log.contains("logged /all 200") && std::fs::read_to_string(scratch.join("cleanup.txt")).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(log.contains("logged /all 200"), "{log}");
        assert!(std::fs::read_to_string(scratch.join("cleanup.txt"))
            .unwrap_or_default()
            .contains("cleanup /all"));
        let errlog = h.stop();
        assert!(crash_lines(&errlog).is_empty(), "{errlog}");
    }
}

#[test]
fn trans_handler_maps_a_uri_to_a_file() {
    let h = Httpd::start(Mpm::Event, &site());
    assert_eq!(h.get("/trans-me").text(), "static file\n");
}

#[test]
fn access_and_authentication_handlers() {
    let h = Httpd::start(Mpm::Event, &site());
    assert_eq!(h.get("/denied").status, 403);
    let r = h.get("/secret");
    assert_eq!(r.status, 401);
    assert_eq!(r.header_str("www-authenticate").as_deref(), Some("Basic realm=\"Pyrite Realm\""));
    // alice:wrong
    let r = h.request("GET", "/secret", &[("Authorization", b"Basic YWxpY2U6d3Jvbmc=")], b"");
    assert_eq!(r.status, 401);
    // alice:secret
    let r = h.request("GET", "/secret", &[("Authorization", b"Basic YWxpY2U6c2VjcmV0")], b"");
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert!(r.text().contains("authen,authz,handler user=alice"), "{}", r.text());
    // An authentication handler that says OK without naming a user is refused.
    let r = h.request("GET", "/no-user", &[("Authorization", b"Basic YWxpY2U6c2VjcmV0")], b"");
    assert_eq!(r.status, 500);
    let log = h.wait_log("set no req.user");
    assert!(log.contains("set no req.user"), "{log}");
}

#[test]
fn register_cleanup_and_handler_module() {
    let h = Httpd::start(Mpm::Event, &site());
    assert_eq!(h.get("/cleanup").text(), "registered");
    let path = h.root.join("scratch/registered.txt");
    let mut ok = false;
    for _ in 0..50 {
        if std::fs::read_to_string(&path).unwrap_or_default().contains("register_cleanup ran") {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ok, "the cleanup callable did not run");
    assert_eq!(h.get("/module").text(), "module handler after fixup", "{}", h.error_log());
}
