//! The CGI name of a request header in a WSGI environ (`HTTP_*`).

/// `Content-Type` -> `HTTP_CONTENT_TYPE`; None for names a CGI variable cannot
/// carry safely (anything but letters, digits and '-': "X_Forwarded" must not
/// pass for "X-Forwarded").
pub fn http_key(name: &[u8]) -> Option<String> {
    if name.is_empty() || !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-') {
        return None;
    }
    let mut k = String::with_capacity(5 + name.len());
    k.push_str("HTTP_");
    k.extend(name.iter().map(|&b| if b == b'-' { '_' } else { b.to_ascii_uppercase() as char }));
    Some(k)
}

#[cfg(test)]
mod tests {
    use super::http_key;

    #[test]
    fn header_names_become_cgi_keys() {
        assert_eq!(http_key(b"User-Agent").as_deref(), Some("HTTP_USER_AGENT"));
        assert_eq!(http_key(b"x-forwarded-for").as_deref(), Some("HTTP_X_FORWARDED_FOR"));
        assert_eq!(http_key(b"X_Forwarded_For"), None);
        assert_eq!(http_key(b"Bad Header"), None);
        assert_eq!(http_key(b""), None);
    }
}
