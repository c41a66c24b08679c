//! The daemon's HTTP response head, as the child reads it back.

/// A parsed status line and header fields.
#[derive(Debug, PartialEq)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    pub fields: Vec<(String, Vec<u8>)>,
    /// Bytes of the buffer the head took (the body follows).
    pub len: usize,
}

/// Parses the head at the start of `buf`: Ok(None) while it is incomplete.
pub fn parse(buf: &[u8]) -> Result<Option<Head>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let text = &buf[..end];
    let mut lines = text.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    let first = std::str::from_utf8(first).map_err(|_| "bad status line")?;
    let mut parts = first.splitn(3, ' ');
    let proto = parts.next().unwrap_or("");
    if !proto.starts_with("HTTP/") {
        return Err(format!("bad status line {first:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .filter(|c| (100..1000).contains(c))
        .ok_or_else(|| format!("bad status line {first:?}"))?;
    let reason = parts.next().unwrap_or("").to_string();
    let mut fields = Vec::new();
    for l in lines {
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            return Err("a response header line without ':'".into());
        };
        let name = String::from_utf8_lossy(&l[..colon]).trim().to_string();
        let mut v = &l[colon + 1..];
        while let [b' ' | b'\t', rest @ ..] = v {
            v = rest;
        }
        fields.push((name, v.to_vec()));
    }
    Ok(Some(Head {
        status,
        reason,
        fields,
        len: end + 4,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_head_and_finds_the_body() {
        let b = b"HTTP/1.1 201 Made It\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nbody";
        let h = parse(b).unwrap().unwrap();
        assert_eq!((h.status, h.reason.as_str()), (201, "Made It"));
        assert_eq!(h.fields.len(), 3);
        assert_eq!(h.fields[2], ("Set-Cookie".to_string(), b"b=2".to_vec()));
        assert_eq!(&b[h.len..], b"body");
    }

    #[test]
    fn incomplete_and_bad_heads() {
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\nA: b\r\n").unwrap(), None);
        assert!(parse(b"garbage\r\n\r\n").is_err());
        assert!(parse(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }
}
