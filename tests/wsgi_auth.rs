//! Access control by Python scripts, as mod_wsgi does it: WSGIAuthUserScript
//! behind AuthBasicProvider/AuthDigestProvider wsgi, WSGIAuthGroupScript
//! behind `Require wsgi-group`, and WSGIAccessScript.
mod common;
use common::*;

fn auth_modules() -> String {
    let m = MODULES;
    format!(
        "LoadModule authn_core_module {m}/mod_authn_core.so\nLoadModule auth_basic_module {m}/mod_auth_basic.so\n\
         LoadModule auth_digest_module {m}/mod_auth_digest.so\nLoadModule authz_user_module {m}/mod_authz_user.so\n"
    )
}

fn site() -> String {
    format!(
        "{mods}\
         WSGIScriptAlias /app {{HANDLERS}}/wsgi_auth.wsgi\n\
         <Location /app/basic>\n  AuthType Basic\n  AuthName \"Members\"\n  AuthBasicProvider wsgi\n\
           WSGIAuthUserScript {{HANDLERS}}/wsgi_auth.wsgi application-group=auth-group\n  WSGIUserAuthoritative On\n  Require valid-user\n</Location>\n\
         <Location /app/digest>\n  AuthType Digest\n  AuthName \"Vault\"\n  AuthDigestProvider wsgi\n\
           WSGIAuthUserScript {{HANDLERS}}/wsgi_auth.wsgi\n  Require valid-user\n</Location>\n\
         <Location /app/editors>\n  AuthType Basic\n  AuthName \"Editors\"\n  AuthBasicProvider wsgi\n\
           WSGIAuthUserScript {{HANDLERS}}/wsgi_auth.wsgi\n  WSGIAuthGroupScript {{HANDLERS}}/wsgi_auth.wsgi\n\
           WSGIGroupAuthoritative Off\n  Require wsgi-group editors\n</Location>\n\
         <Location /app/staff>\n  AuthType Basic\n  AuthName \"Staff\"\n  AuthBasicProvider wsgi\n\
           WSGIAuthUserScript {{HANDLERS}}/wsgi_auth.wsgi\n  WSGIAuthGroupScript {{HANDLERS}}/wsgi_auth.wsgi\n\
           Require wsgi-group staff \"other team\"\n</Location>\n\
         <Location /app/nogroupscript>\n  AuthType Basic\n  AuthName \"Staff\"\n  AuthBasicProvider wsgi\n\
           WSGIAuthUserScript {{HANDLERS}}/wsgi_auth.wsgi\n  Require wsgi-group staff\n</Location>\n\
         <Location /app/gate>\n  WSGIAccessScript {{HANDLERS}}/wsgi_auth.wsgi\n</Location>\n\
         <Location /app/gate/neutral-shut>\n  Require all denied\n</Location>\n",
        mods = auth_modules()
    )
}

fn basic(user: &str, password: &str) -> Vec<u8> {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes())).into_bytes()
}

fn base64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_str(&r.text()).unwrap_or_else(|e| panic!("{e}: {} {}", r.status, r.text()))
}

#[test]
fn basic_authentication_asks_check_password() {
    let h = Httpd::start(Mpm::Event, &site());
    let r = h.get("/app/basic");
    assert_eq!(r.status, 401);
    assert_eq!(r.header_str("WWW-Authenticate").as_deref(), Some("Basic realm=\"Members\""));

    let r = h.request("GET", "/app/basic/page", &[("Authorization", &basic("ann", "pw-ann"))], b"");
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v = json(&r);
    assert_eq!(v["user"], "ann");
    assert_eq!(v["auth_type"], "Basic");
    let seen = &v["seen"]["check_password"];
    assert_eq!(seen["has_authorization"], false, "the credentials never reach the script's environ");
    assert_eq!(seen["has_input"], false);
    assert_eq!(seen["group"], "auth-group", "application-group= names the script's group");
    assert_eq!(seen["path_info"], "/basic/page");
    assert_eq!(seen["errors_write"], true);
    assert_eq!(seen["is_https"], 0, "mod_ssl.is_https() on a plain connection");
    assert_eq!(seen["ssl_protocol"], serde_json::Value::Null, "mod_ssl.var_lookup() without TLS");
    assert!(h
        .wait_log("auth script logs through wsgi.errors: check_password")
        .contains("auth script logs through wsgi.errors"));

    // False: wrong password; None: unknown user (both ask again).
    for (u, p) in [("ann", "nope"), ("nobody", "x")] {
        let r = h.request("GET", "/app/basic", &[("Authorization", &basic(u, p))], b"");
        assert_eq!(r.status, 401, "{u}");
    }
    // A str renames the user.
    let r = h.request("GET", "/app/basic", &[("Authorization", &basic("nick", "pw-ann"))], b"");
    assert_eq!(json(&r)["user"], "ann");
    let r = h.request("GET", "/app/basic", &[("Authorization", &basic("nick", "wrong"))], b"");
    assert_eq!(r.status, 401);

    // A failing script is a 500 with the traceback in the log, never in the page.
    let r = h.request("GET", "/app/basic", &[("Authorization", &basic("boom", "x"))], b"");
    assert_eq!(r.status, 500);
    assert!(!r.text().contains("account store"), "{}", r.text());
    let log = h.wait_log("the account store is down");
    assert!(
        log.contains("WSGIAuthUserScript") && log.contains("RuntimeError: the account store is down"),
        "{log}"
    );
    let r = h.request("GET", "/app/basic", &[("Authorization", &basic("odd", "x"))], b"");
    assert_eq!(r.status, 500);
    assert!(h
        .wait_log("must return True, False, None")
        .contains("check_password() must return True, False, None"));
    // WSGIUserAuthoritative is accepted, and said to have no effect.
    assert!(h.error_log().contains("WSGIUserAuthoritative On"), "{}", h.error_log());
}

fn md5_hex(text: &str) -> String {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import hashlib, sys; print(hashlib.md5(sys.argv[1].encode('latin-1')).hexdigest())")
        .arg(text)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn digest_param(challenge: &str, name: &str) -> String {
    let start = challenge
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("{name} in {challenge}"))
        + name.len()
        + 2;
    challenge[start..].split('"').next().unwrap().to_string()
}

#[test]
fn digest_authentication_asks_get_realm_hash() {
    let h = Httpd::start(Mpm::Prefork, &site());
    let uri = "/app/digest/x";
    let answer = |user: &str, password: &str| {
        let r = h.get(uri);
        assert_eq!(r.status, 401);
        let challenge = r.header_str("WWW-Authenticate").unwrap();
        assert!(challenge.starts_with("Digest"), "{challenge}");
        let (realm, nonce) = (digest_param(&challenge, "realm"), digest_param(&challenge, "nonce"));
        let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
        let ha2 = md5_hex(&format!("GET:{uri}"));
        let response = md5_hex(&format!("{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}"));
        let header = format!(
            "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", qop=auth, nc=00000001, \
             cnonce=\"0a4f113b\", response=\"{response}\", algorithm=MD5"
        );
        h.request("GET", uri, &[("Authorization", header.as_bytes())], b"")
    };
    let r = answer("bob", "pw-bob");
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v = json(&r);
    assert_eq!(v["user"], "bob");
    assert_eq!(v["auth_type"], "Digest");
    assert_eq!(v["seen"]["get_realm_hash"]["group"], "", "the default group is %{{GLOBAL}}");
    assert_eq!(answer("bob", "wrong").status, 401);
    assert_eq!(answer("stranger", "x").status, 401);
}

#[test]
fn require_wsgi_group_asks_groups_for_user() {
    let h = Httpd::start(Mpm::Worker, &site());
    let r = h.request("GET", "/app/editors", &[("Authorization", &basic("ann", "pw-ann"))], b"");
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert!(json(&r)["seen"]["groups_for_user"].is_object());
    // Authenticated but not a member: 401, as httpd answers a failed Require.
    let r = h.request("GET", "/app/editors", &[("Authorization", &basic("bob", "pw-bob"))], b"");
    assert_eq!(r.status, 401);
    assert!(h.wait_log("is in none of the groups").contains("user 'bob'"));
    let r = h.request("GET", "/app/editors", &[("Authorization", &basic("carol", "pw-carol"))], b"");
    assert_eq!(r.status, 401);
    assert!(h.wait_log("the user is in no group").contains("user 'carol'"));
    // Group names may come back as bytes; any group of the line will do.
    let r = h.request("GET", "/app/staff", &[("Authorization", &basic("bob", "pw-bob"))], b"");
    assert_eq!(r.status, 200, "{}", h.error_log());
    // The password is checked before the groups.
    let r = h.request("GET", "/app/staff", &[("Authorization", &basic("bob", "wrong"))], b"");
    assert_eq!(r.status, 401);
    // Require wsgi-group without WSGIAuthGroupScript: a clean 500 and a log line saying why.
    let r = h.request("GET", "/app/nogroupscript", &[("Authorization", &basic("bob", "pw-bob"))], b"");
    assert_eq!(r.status, 500);
    assert!(h
        .wait_log("WSGIAuthGroupScript is not set")
        .contains("WSGIAuthGroupScript is not set for this location"));
    // WSGIGroupAuthoritative is accepted, and said to have no effect.
    assert!(h.error_log().contains("WSGIGroupAuthoritative Off"), "{}", h.error_log());
}

#[test]
fn access_script_lets_in_keeps_out_or_leaves_it_to_require() {
    let h = Httpd::start(Mpm::Event, &site());
    let r = h.get("/app/gate/open");
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v = json(&r);
    assert_eq!(v["user"], serde_json::Value::Null);
    assert_eq!(v["seen"]["host"], "127.0.0.1", "without HostnameLookups the host is the address");
    assert_eq!(v["seen"]["allow_access"]["path_info"], "/gate/open");

    let r = h.get("/app/gate/closed");
    assert_eq!(r.status, 403);
    assert!(h
        .wait_log("WSGIAccessScript")
        .contains("client denied by server configuration (WSGIAccessScript)"));
    // None: no opinion, the Require lines decide.
    assert_eq!(h.get("/app/gate/neutral").status, 200);
    assert_eq!(h.get("/app/gate/neutral-shut").status, 403);
    // A wrong answer keeps the client out and says why.
    assert_eq!(h.get("/app/gate/broken").status, 403);
    assert!(h
        .wait_log("must return True, False or None")
        .contains("allow_access() must return True, False or None"));
}

#[test]
fn bad_auth_lines_stop_httpd_with_a_reason() {
    let cases = [
        (
            "<Location /x>\n  WSGIAuthUserScript relative.wsgi\n</Location>\n",
            "must be absolute",
        ),
        (
            "<Location /x>\n  WSGIAccessScript /a.wsgi process-group=x\n</Location>\n",
            "the only option is application-group=",
        ),
        ("<Location /x>\n  WSGIAuthGroupScript\n</Location>\n", "needs the script file"),
        ("<Location /x>\n  WSGIUserAuthoritative maybe\n</Location>\n", "must be On or Off"),
        (
            "<Location /x>\n  AuthType Basic\n  AuthName x\n  Require wsgi-group\n</Location>\n",
            "at least one group name",
        ),
    ];
    for (conf, why) in cases {
        let h = Httpd::prepare(Mpm::Event, &format!("{}{conf}", auth_modules()));
        let out = h.apachectl("configtest");
        let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success() && text.contains(why), "{conf}: {text}");
    }
}

/// Django documents this use: files httpd serves itself, guarded by the
/// application's users (no WSGIScriptAlias involved).
#[test]
fn static_files_are_guarded_by_the_scripts_too() {
    let site = format!(
        "{mods}\
         <Location /index.txt>\n  AuthType Basic\n  AuthName \"Files\"\n  AuthBasicProvider wsgi\n\
           WSGIAuthUserScript {{HANDLERS}}/wsgi_auth.wsgi\n  Require valid-user\n</Location>\n\
         <Location /closed>\n  WSGIAccessScript {{HANDLERS}}/wsgi_auth.wsgi\n</Location>\n",
        mods = auth_modules()
    );
    let h = Httpd::start(Mpm::Prefork, &site);
    h.write_doc("closed", b"never served\n");
    assert_eq!(h.get("/index.txt").status, 401);
    assert_eq!(
        h.request("GET", "/index.txt", &[("Authorization", &basic("ann", "wrong"))], b"")
            .status,
        401
    );
    let r = h.request("GET", "/index.txt", &[("Authorization", &basic("ann", "pw-ann"))], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "static file\n"), "{}", h.error_log());
    let r = h.get("/closed");
    assert_eq!(r.status, 403, "{}", h.error_log());
    assert!(!r.text().contains("never served"));
}

/// Over TLS the script can ask mod_ssl about the connection.
#[test]
fn auth_scripts_see_mod_ssl_over_tls() {
    let (h, port) = Httpd::start_with_tls(
        Mpm::Event,
        &auth_modules(),
        "  WSGIScriptAlias /app {HANDLERS}/wsgi_auth.wsgi\n\
         <Location /app/basic>\n    AuthType Basic\n    AuthName \"Members\"\n    AuthBasicProvider wsgi\n\
             WSGIAuthUserScript {HANDLERS}/wsgi_auth.wsgi\n    Require valid-user\n  </Location>\n",
    );
    let auth = format!("Authorization: {}", String::from_utf8(basic("ann", "pw-ann")).unwrap());
    let (status, body) = https_get(port, "/app/basic", &[&auth]);
    assert_eq!(status, 200, "{}", h.error_log());
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["seen"]["check_password"]["is_https"], 1);
    assert!(
        v["seen"]["check_password"]["ssl_protocol"]
            .as_str()
            .is_some_and(|p| p.starts_with("TLS")),
        "{v}"
    );
}

/// Django's documented recipe: its users and groups guard an application and
/// files httpd serves (django.contrib.auth.handlers.modwsgi, Debian's python3-django).
#[test]
fn djangos_modwsgi_handlers_guard_urls() {
    let site = format!(
        "{mods}\
         WSGIScriptAlias /dj {{HANDLERS}}/django_auth.wsgi\n\
         <Location /dj>\n  AuthType Basic\n  AuthName \"Django\"\n  AuthBasicProvider wsgi\n\
           WSGIAuthUserScript {{HANDLERS}}/django_auth.wsgi\n  Require valid-user\n</Location>\n\
         <Location /dj/editors>\n  WSGIAuthGroupScript {{HANDLERS}}/django_auth.wsgi\n  Require wsgi-group editors\n</Location>\n\
         <Location /index.txt>\n  AuthType Basic\n  AuthName \"Django\"\n  AuthBasicProvider wsgi\n\
           WSGIAuthUserScript {{HANDLERS}}/django_auth.wsgi\n  Require valid-user\n</Location>\n",
        mods = auth_modules()
    );
    let h = Httpd::prepare(Mpm::Event, &site);
    let setup = "import os, sys\nsys.path.insert(0, '.')\nos.environ['DJANGO_SETTINGS_MODULE'] = 'django_auth_settings'\n\
                 import django\ndjango.setup()\nfrom django.core.management import call_command\ncall_command('migrate', verbosity=0)\n\
                 from django.contrib.auth.models import Group, User\ng = Group.objects.create(name='editors')\n\
                 User.objects.create_user('dj', password='dj-pw').groups.add(g)\nUser.objects.create_user('plain', password='plain-pw')\n\
                 gone = User.objects.create_user('gone', password='gone-pw')\ngone.is_active = False\ngone.save()\n";
    let out = std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(setup)
        .current_dir(h.root.join("handlers"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    {
        use std::os::unix::fs::PermissionsExt;
        let db = h.root.join("scratch/django_auth.sqlite3");
        std::fs::set_permissions(db, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
    let out = h.apachectl("start");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", h.port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let get = |path: &str, user: &str, pw: &str| h.request("GET", path, &[("Authorization", &basic(user, pw))], b"");
    let r = get("/dj/", "dj", "dj-pw");
    assert_eq!((r.status, r.text().as_str()), (200, "user=dj"), "{}", h.error_log());
    assert_eq!(get("/dj/", "dj", "wrong").status, 401);
    assert_eq!(get("/dj/", "gone", "gone-pw").status, 401, "an inactive user is unknown");
    assert_eq!(get("/dj/", "nobody", "x").status, 401);
    assert_eq!(get("/dj/editors/", "dj", "dj-pw").status, 200, "{}", h.error_log());
    assert_eq!(get("/dj/editors/", "plain", "plain-pw").status, 401);
    let r = get("/index.txt", "plain", "plain-pw");
    assert_eq!((r.status, r.text().as_str()), (200, "static file\n"));
    assert_eq!(get("/index.txt", "plain", "nope").status, 401);
}

/// httpd re-reads its configuration on a graceful restart: the provider
/// names must still be known, and the scripts still answer.
#[test]
fn the_providers_survive_a_graceful_restart() {
    let h = Httpd::start(Mpm::Prefork, &site());
    let ok = |h: &Httpd| {
        h.request("GET", "/app/staff", &[("Authorization", &basic("bob", "pw-bob"))], b"")
            .status
    };
    assert_eq!(ok(&h), 200, "{}", h.error_log());
    assert!(h.apachectl("graceful").status.success(), "{}", h.error_log());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while h.error_log().matches("resuming normal operations").count() < 2 {
        assert!(std::time::Instant::now() < deadline, "no restart\n{}", h.error_log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(ok(&h), 200, "{}", h.error_log());
    assert_eq!(h.get("/app/gate/closed").status, 403);
    assert!(crash_lines(&h.error_log()).is_empty(), "{}", h.error_log());
}

/// An edited auth script is loaded again, as WSGI scripts are (WSGIScriptReloading).
#[test]
fn an_edited_auth_script_is_reloaded() {
    let site = format!(
        "{mods}<Location /index.txt>\n  AuthType Basic\n  AuthName \"Files\"\n  AuthBasicProvider wsgi\n\
           WSGIAuthUserScript {{SCRATCH}}/pw.wsgi\n  Require valid-user\n</Location>\n",
        mods = auth_modules()
    );
    let h = Httpd::prepare(Mpm::Prefork, &site);
    let script = h.root.join("scratch/pw.wsgi");
    let write = |pw: &str| {
        std::fs::write(
            &script,
            format!("def check_password(environ, user, password):\n    return password == '{pw}'\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    };
    write("first");
    assert!(h.apachectl("start").status.success(), "{}", h.error_log());
    let status = |pw: &str| loop {
        match std::net::TcpStream::connect(("127.0.0.1", h.port)) {
            Ok(_) => break h.request("GET", "/index.txt", &[("Authorization", &basic("u", pw))], b"").status,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    };
    assert_eq!(status("first"), 200, "{}", h.error_log());
    write("second");
    // The file's change is noticed within about a second in every child.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (0..6).any(|_| status("second") != 200) {
        assert!(std::time::Instant::now() < deadline, "never reloaded\n{}", h.error_log());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    while (0..6).any(|_| status("first") != 401) {
        assert!(
            std::time::Instant::now() < deadline,
            "the old password still works\n{}",
            h.error_log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
