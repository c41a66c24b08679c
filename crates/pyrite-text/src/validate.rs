//! PEP 3333's rules for what an application hands back (the status line and
//! the response headers), and httpd's rule for the header bytes it will send.
//! Pure functions, checked before anything reaches httpd.

/// How Python shows these bytes (`b'X\tFoo'`): mod_wsgi's messages quote
/// the offending status or header that way, and applications match on them.
pub fn py_bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') { b'"' } else { b'\'' };
    let mut s = String::with_capacity(b.len() + 3);
    s.push('b');
    s.push(quote as char);
    for &c in b {
        match c {
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\\' => s.push_str("\\\\"),
            _ if c == quote => {
                s.push('\\');
                s.push(c as char);
            }
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push(quote as char);
    s
}

/// Checks a status line ("200 OK") and returns its code. The messages are
/// mod_wsgi's, since applications and tests compare them.
pub fn status(s: &str) -> Result<u16, String> {
    if !s.chars().all(|c| (c as u32) < 256) {
        return Err(format!("status {s:?} is not latin-1"));
    }
    // ASCII text is its own latin-1 bytes (the usual case: no copy).
    let raw = if s.is_ascii() {
        std::borrow::Cow::Borrowed(s.as_bytes())
    } else {
        std::borrow::Cow::Owned(latin1_bytes(s))
    };
    let b = &*raw;
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || b.get(3).is_some_and(u8::is_ascii_digit) {
        return Err(format!("status code must be a 3 digit integer: {}", py_bytes_repr(b)));
    }
    if b.get(3) != Some(&b' ') {
        return Err(format!("no space following status code: {}", py_bytes_repr(b)));
    }
    if b[4..].iter().any(|&c| c < 0x20 || c == 0x7f) {
        return Err(format!("control character in status reason phrase: {}", py_bytes_repr(b)));
    }
    let code: u16 = s[..3].parse().unwrap();
    if !(100..=599).contains(&code) {
        return Err(format!("status code {code} is outside 100-599"));
    }
    Ok(code)
}

/// A byte allowed in an HTTP token (a header name), RFC 9110.
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        )
}

/// A byte httpd sends in a header value: tab, or anything but a control byte or DEL.
pub fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// Whether httpd sends this header as it is (a token name, a value of field
/// bytes); it answers 500 instead when any response header fails this.
pub fn httpd_sends(name: &[u8], value: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| is_token_byte(b)) && value.iter().all(|&b| is_field_byte(b))
}

fn is_token_char(c: char) -> bool {
    c.is_ascii() && is_token_byte(c as u8)
}

/// Hop-by-hop headers that only the server may set (RFC 7230): an
/// application's are dropped with a warning. `Connection` and `Keep-Alive`
/// pass, because httpd itself honours `Connection: close` from a handler.
const SERVER_OWNED: [&str; 6] = [
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// Whether the server, not the application, owns this header.
pub fn server_owned(name: &str) -> bool {
    SERVER_OWNED.contains(&name.to_ascii_lowercase().as_str())
}

/// Checks one response header (mod_wsgi's messages where it has them).
pub fn header(name: &str, value: &str) -> Result<(), String> {
    // The usual header (an ASCII token, printable ASCII or tabs) passes
    // without the copies the messages below need.
    let plain_value = |b: &u8| *b == b'\t' || (0x20..0x7f).contains(b);
    if !name.is_empty() && name.bytes().all(is_token_byte) && value.bytes().all(|b| plain_value(&b)) {
        return Ok(());
    }
    let n = latin1_bytes(name);
    if n.is_empty() {
        return Err("header name is empty".into());
    }
    if n.contains(&b' ') {
        return Err(format!("space character in header name: {}", py_bytes_repr(&n)));
    }
    if n.iter().any(|&c| c < 0x20 || c == 0x7f) {
        return Err(format!("control character in header name: {}", py_bytes_repr(&n)));
    }
    if !name.chars().all(is_token_char) {
        return Err(format!("header name {name:?} is not a valid HTTP token"));
    }
    if !value.chars().all(|c| (c as u32) < 256) {
        return Err(format!("value of header {name:?} is not latin-1: {value:?}"));
    }
    let v = latin1_bytes(value);
    if v.iter().any(|&c| c == b'\r' || c == b'\n') {
        return Err(format!(
            "carriage return/line feed character in header value: {}",
            py_bytes_repr(&v)
        ));
    }
    if v.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
        return Err(format!("control character in header value: {}", py_bytes_repr(&v)));
    }
    Ok(())
}

/// A str that passed the checks above, as the bytes httpd stores (latin-1).
pub fn latin1_bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(status("200 OK"), Ok(200));
        assert_eq!(status("404 Not Found"), Ok(404));
        assert_eq!(status("599 Whatever it is"), Ok(599));
        assert_eq!(status("200 "), Ok(200), "mod_wsgi accepts an empty reason phrase");
        for bad in [
            "200",
            "200OK",
            "20 OK",
            "2000 OK",
            "abc OK",
            " 200 OK",
            "200 OK\r\n",
            "099 Low",
            "200 OK\u{100}",
        ] {
            assert!(status(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn headers() {
        assert!(header("Content-Type", "text/plain").is_ok());
        assert!(header("X-Tab", "a\tb").is_ok());
        assert!(header("X-Latin", "caf\u{e9}").is_ok());
        assert!(header("X-Inject", "a\r\nSet-Cookie: x").is_err());
        assert!(header("X-Nul", "a\0").is_err());
        assert!(header("Bad Name", "x").is_err());
        assert!(header("Bad:Name", "x").is_err());
        assert!(header("", "x").is_err());
        assert!(header("Connection", "close").is_ok());
        assert!(server_owned("Transfer-Encoding") && !server_owned("Connection"));
        assert!(header("X-Snow", "\u{2603}").is_err());
    }

    #[test]
    fn token_bytes_are_rfc_9110_tchar() {
        let tchar = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for b in 0..=255u8 {
            assert_eq!(is_token_byte(b), tchar.contains(&b), "byte {b:#x}");
        }
    }

    #[test]
    fn messages_quote_the_bytes_as_python_does() {
        assert_eq!(status("OK").unwrap_err(), "status code must be a 3 digit integer: b'OK'");
        assert_eq!(status("2000 OK").unwrap_err(), "status code must be a 3 digit integer: b'2000 OK'");
        assert_eq!(status("200OK").unwrap_err(), "no space following status code: b'200OK'");
        assert_eq!(
            status("200 OK\r\nX: y").unwrap_err(),
            "control character in status reason phrase: b'200 OK\\r\\nX: y'"
        );
        assert_eq!(header("", "x").unwrap_err(), "header name is empty");
        assert_eq!(header("X Foo", "x").unwrap_err(), "space character in header name: b'X Foo'");
        assert_eq!(header("X\tFoo", "x").unwrap_err(), "control character in header name: b'X\\tFoo'");
        assert_eq!(
            header("X-Foo", "a\nb").unwrap_err(),
            "carriage return/line feed character in header value: b'a\\nb'"
        );
        assert_eq!(py_bytes_repr(b"it's \x01\\"), "b\"it's \\x01\\\\\"");
        assert_eq!(py_bytes_repr(b"'\""), "b'\\'\"'");
    }

    #[test]
    fn what_httpd_sends() {
        assert!(httpd_sends(b"X-A", b"a\tb \xe9\x85"));
        assert!(!httpd_sends(b"", b"x"));
        assert!(!httpd_sends(b"X A", b"x"));
        assert!(!httpd_sends(b"X-A", b"a\rb"));
        assert!(!httpd_sends(b"X-A", b"\x7f"));
    }
}
