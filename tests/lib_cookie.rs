//! mod_python.Cookie: Set-Cookie output, parsing, signed and marshalled cookies.
mod common;
use common::*;

fn site() -> String {
    location("/set", "mp_cookies::set_cookies", "")
        + &location("/echo", "mp_cookies::echo", "")
        + &location("/sign", "mp_cookies::sign", "")
        + &location("/verify", "mp_cookies::verify", "")
        + &location("/marshal_set", "mp_cookies::marshal_set", "")
        + &location("/marshal_get", "mp_cookies::marshal_get", "")
}

fn set_cookies(r: &Response) -> Vec<String> {
    r.headers_named("set-cookie")
        .iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

/// The name=value part of the Set-Cookie header for `name`.
fn pair(r: &Response, name: &str) -> String {
    set_cookies(r)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no Set-Cookie for {name}: {:?}", r.headers))
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn with_cookie(h: &Httpd, path: &str, cookie: &str) -> String {
    let r = h.request("GET", path, &[("Cookie", cookie.as_bytes())], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

#[test]
fn cookies_set_with_attributes_parse_back_and_bad_ones_are_refused() {
    let h = Httpd::start(Mpm::Event, &site());
    let r = h.get("/set");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        set_cookies(&r),
        vec![
            "spam=eggs; path=/shop; domain=example.com; secure; expires=Thu, 01-Jan-2026 00:00:00 GMT; max-age=300; httponly",
            "plain=v1; expires=Sat, 14-Jun-2003 02:42:36 GMT",
            "flags_off=x",
        ]
    );
    // One Cache-Control for the cookies, as mod_python sends.
    let cc: Vec<_> = r.headers_named("cache-control");
    assert_eq!(cc, vec![b"no-cache=\"set-cookie\"".as_slice()]);
    let lines: Vec<String> = r.text().lines().map(str::to_string).collect();
    assert_eq!(
        lines[0],
        "Cookie(name='spam' value='eggs' path='/shop' domain='example.com' \
         expires='Thu, 01-Jan-2026 00:00:00 GMT' max_age='300' secure httponly)"
    );
    // Bad expires, a name that is not a token, CR LF in a value, an unknown attribute.
    assert_eq!(&lines[1..], ["ValueError", "CookieError", "CookieError", "AttributeError"]);
    assert!(crash_lines(&h.stop()).is_empty());
}

#[test]
fn get_cookies_reads_several_cookies_and_headers() {
    let h = Httpd::start(Mpm::Event, &site());
    let r = h.request(
        "GET",
        "/echo",
        &[("Cookie", b"a=1; b=two; $Version=1; version=3;c=\"quoted\"")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // In a request every pair is a cookie (a cookie may be called "version"); $-names are RFC 2965 attributes.
    assert_eq!(r.text(), "a=1 b=two c=\"quoted\" version=3\nb=two missing=None");
    assert_eq!(h.get("/echo").text(), "\nb=None missing=None");
}

#[test]
fn signed_cookie_accepted_untouched_and_rejected_when_tampered() {
    let h = Httpd::start(Mpm::Event, &site());
    let signed = pair(&h.get("/sign"), "user");
    let value = signed.strip_prefix("user=").unwrap();
    assert_eq!(value.len(), 64 + 5, "a SHA-256 signature then the value: {value}");
    assert!(value.ends_with("alice"));
    assert_eq!(with_cookie(&h, "/verify", &signed), "SignedCookie alice strict=ok ignore=['user']");

    // The value changed, the signature kept: downgraded to a plain Cookie with the raw value.
    let forged_value = signed.replace("alice", "admin");
    assert_eq!(
        with_cookie(&h, "/verify", &forged_value),
        format!(
            "Cookie {} strict=CookieError ignore=[]",
            forged_value.strip_prefix("user=").unwrap()
        )
    );
    // One signature digit changed.
    let mut sig: Vec<u8> = value.as_bytes().to_vec();
    sig[10] = if sig[10] == b'0' { b'1' } else { b'0' };
    let forged_sig = format!("user={}", String::from_utf8(sig).unwrap());
    assert!(with_cookie(&h, "/verify", &forged_sig).starts_with("Cookie "));
    // Unsigned, and signed with another secret.
    assert_eq!(
        with_cookie(&h, "/verify", "user=alice"),
        "Cookie alice strict=CookieError ignore=[]"
    );
    assert!(with_cookie(&h, "/verify?other-secret", &signed).starts_with("Cookie "));
}

#[test]
fn marshal_cookie_round_trip_and_tampering_refused() {
    let h = Httpd::start(Mpm::Event, &site());
    let cookie = pair(&h.get("/marshal_set"), "data");
    assert_eq!(with_cookie(&h, "/marshal_get", &cookie), "MarshalCookie equal=True");
    // Flip one character of the marshalled data: the signature fails and nothing is unmarshalled.
    let mut bytes = cookie.into_bytes();
    let i = bytes.len() - 6;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(with_cookie(&h, "/marshal_get", &tampered), "Cookie value_is_str=True");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

/// The work of parsing hostile Cookie headers (runs of spaces, tabs, quotes,
/// backslashes, semicolons, commas, up to httpd's 8190-byte header limit) stays
/// within a fixed amount per character: tests/support/cookie_work.py counts the
/// lines the shipped Cookie.py runs and every step of its patterns on a
/// backtracking machine (the pattern used before took work quadratic in a run
/// of spaces).
#[test]
fn cookie_parsing_work_is_linear_in_the_header_length() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .arg(root.join("tests/support/cookie_work.py"))
        .arg(root.join("python/mod_python/Cookie.py"))
        .output()
        .expect("python3 runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(report.lines().filter(|l| l.contains("(ok,")).count(), 63, "{report}");
}

#[test]
fn hostile_cookie_headers_parse_as_before() {
    let h = Httpd::start(Mpm::Event, &site());
    // A run of spaces inside a value is kept, trailing ones are dropped; a
    // quoted value keeps its quotes and its ';'; text that is no pair is skipped.
    let spaces = " ".repeat(4000);
    let header = format!("a=x{spaces}y{spaces}; b=\"q;r\"  ; junk junk; c=\t3\t");
    assert_eq!(
        with_cookie(&h, "/echo", &header),
        format!("a=x{spaces}y b=\"q;r\" c=3\nb=\"q;r\" missing=None")
    );
    let r = h.request("GET", "/echo", &[("Cookie", ";".repeat(8100).as_bytes())], b"");
    assert_eq!(r.text(), "\nb=None missing=None");
    assert!(crash_lines(&h.stop()).is_empty());
}
