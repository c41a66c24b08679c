//! The daemon's HTTP response head, as the child reads it back, and where
//! the body after it ends (so the connection can carry the next request).

/// How many fields a head holds without an allocation.
const INLINE: usize = 24;

/// A parsed status line and header fields, borrowed from the buffer they
/// were read into (a child parses one per request: no allocation unless
/// it has more than [`INLINE`] fields).
#[derive(Debug, PartialEq)]
pub struct Head<'a> {
    pub status: u16,
    pub reason: &'a str,
    /// The first fields: each name (trimmed) and value (without the blanks
    /// that lead it), in order.
    inline: [(&'a [u8], &'a [u8]); INLINE],
    count: usize,
    /// The fields after the first [`INLINE`].
    more: Vec<(&'a [u8], &'a [u8])>,
    /// Bytes of the buffer the head took (the body follows).
    pub len: usize,
}

/// The field a daemon answers with, in place of a response, when the
/// application left the response to httpd's error page for a status: the
/// child then makes that page with its own configuration (ErrorDocument).
pub const ERROR_PAGE: &str = "X-Pyrite-Error-Page";

impl<'a> Head<'a> {
    /// The status whose error page the child makes instead of relaying (see [`ERROR_PAGE`]).
    pub fn error_page(&self) -> Option<u16> {
        let v = std::str::from_utf8(self.field(ERROR_PAGE)?).ok()?;
        v.trim().parse().ok().filter(|c| (400..600).contains(c))
    }

    /// The header fields in order: each name (trimmed) and value (without
    /// the blanks that lead it).
    pub fn fields(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + '_ {
        self.inline[..self.count].iter().chain(self.more.iter()).copied()
    }

    /// The value of a field (the first of that name).
    pub fn field(&self, name: &str) -> Option<&'a [u8]> {
        self.fields().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
    }

    /// Whether a field lists `token` (comma-separated, any case).
    fn lists(&self, name: &str, token: &str) -> bool {
        self.fields()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .flat_map(|(_, v)| v.split(|&b| b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    }

    /// An interim response (1xx): another head follows.
    pub fn interim(&self) -> bool {
        (100..200).contains(&self.status)
    }

    /// The daemon closes the connection after this response.
    pub fn closes(&self) -> bool {
        self.lists("connection", "close")
    }

    /// How the body that follows ends; `head_only` for a HEAD request.
    pub fn body(&self, head_only: bool) -> Result<Body, String> {
        if head_only || matches!(self.status, 204 | 304) {
            return Ok(Body::Empty);
        }
        if self.field("transfer-encoding").is_some() {
            if self.lists("transfer-encoding", "chunked") {
                return Ok(Body::Chunked(Chunks::default()));
            }
            return Ok(Body::UntilClose);
        }
        match self.field("content-length") {
            Some(v) => std::str::from_utf8(v)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .map(Body::Length)
                .ok_or_else(|| "a bad Content-Length".to_string()),
            None => Ok(Body::UntilClose),
        }
    }
}

/// How a response body ends on a connection that may carry more.
#[derive(Debug, PartialEq)]
pub enum Body {
    /// No body (a HEAD request, 204, 304).
    Empty,
    /// This many bytes are left.
    Length(u64),
    Chunked(Chunks),
    /// The daemon closes the connection at its end (it is not kept then).
    UntilClose,
}

/// A chunked body's decoder.
#[derive(Debug, Default, PartialEq)]
pub struct Chunks {
    state: ChunkState,
    line: Vec<u8>,
}

#[derive(Debug, Default, PartialEq)]
enum ChunkState {
    /// The size line.
    #[default]
    Size,
    /// Bytes of data left in this chunk.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// Trailer lines, up to an empty one.
    Trailer,
    Done,
}

impl Chunks {
    /// Decodes from `input`, adding the body's bytes to `out`; returns how
    /// many bytes of `input` belonged to the body (it stops at its end).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, String> {
        let mut i = 0;
        while i < input.len() && self.state != ChunkState::Done {
            match self.state {
                ChunkState::Data(left) => {
                    let n = (left as usize).min(input.len() - i);
                    out.extend_from_slice(&input[i..i + n]);
                    i += n;
                    self.state = if left == n as u64 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left - n as u64)
                    };
                }
                _ => {
                    let b = input[i];
                    i += 1;
                    if b != b'\n' {
                        if self.line.len() > 4096 {
                            return Err("a chunk line longer than 4096 bytes".into());
                        }
                        self.line.push(b);
                        continue;
                    }
                    let line = std::mem::take(&mut self.line);
                    let line = line.strip_suffix(b"\r").unwrap_or(&line);
                    self.state = match self.state {
                        ChunkState::Size => {
                            let hex = line.split(|&b| b == b';').next().unwrap_or_default();
                            let size = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
                                .ok_or("a bad chunk size")?;
                            if size == 0 {
                                ChunkState::Trailer
                            } else {
                                ChunkState::Data(size)
                            }
                        }
                        ChunkState::DataEnd if line.is_empty() => ChunkState::Size,
                        ChunkState::DataEnd => return Err("chunk data longer than its size".into()),
                        ChunkState::Trailer if line.is_empty() => ChunkState::Done,
                        _ => ChunkState::Trailer,
                    };
                }
            }
        }
        Ok(i)
    }

    /// The last chunk and the trailers are in.
    pub fn done(&self) -> bool {
        self.state == ChunkState::Done
    }
}

/// Where the head at the start of `buf` ends: the index of the "\r\n\r\n".
fn head_end(buf: &[u8]) -> Option<usize> {
    // Line by line: a line end followed by an empty line.
    let mut at = 0;
    while let Some(i) = buf[at..].iter().position(|&b| b == b'\n') {
        let nl = at + i;
        if nl >= 3 && &buf[nl - 3..=nl] == b"\r\n\r\n" {
            return Some(nl - 3);
        }
        at = nl + 1;
    }
    None
}

/// Parses the head at the start of `buf`: Ok(None) while it is incomplete.
pub fn parse(buf: &[u8]) -> Result<Option<Head<'_>>, String> {
    let Some(end) = head_end(buf) else {
        return Ok(None);
    };
    let text = &buf[..end];
    let (first, lines) = match text.iter().position(|&b| b == b'\n') {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let first = first.strip_suffix(b"\r").unwrap_or(first);
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
    let reason = parts.next().unwrap_or("");
    let mut head = Head {
        status,
        reason,
        inline: [(&[], &[]); INLINE],
        count: 0,
        more: Vec::new(),
        len: end + 4,
    };
    // Every line after the status line is a field (an empty one too would be wrong).
    let Some(lines) = lines else {
        return Ok(Some(head));
    };
    for l in lines.split(|&b| b == b'\n') {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            return Err("a response header line without ':'".into());
        };
        let mut v = &l[colon + 1..];
        while let [b' ' | b'\t', rest @ ..] = v {
            v = rest;
        }
        let field = (l[..colon].trim_ascii(), v);
        match head.inline.get_mut(head.count) {
            Some(slot) => {
                *slot = field;
                head.count += 1;
            }
            None => head.more.push(field),
        }
    }
    Ok(Some(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_head_and_finds_the_body() {
        let b = b"HTTP/1.1 201 Made It\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nbody";
        let h = parse(b).unwrap().unwrap();
        assert_eq!((h.status, h.reason), (201, "Made It"));
        let fields: Vec<_> = h.fields().collect();
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[2], (&b"Set-Cookie"[..], &b"b=2"[..]));
        assert_eq!(h.field("content-type"), Some(&b"text/plain"[..]));
        assert_eq!(&b[h.len..], b"body");
        let bare = parse(b"HTTP/1.1 204\r\n\r\n").unwrap().unwrap();
        assert_eq!((bare.status, bare.reason, bare.fields().count(), bare.len), (204, "", 0, 16));
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..30 {
            many.extend_from_slice(format!("F{i}: {i}\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let parsed = parse(&many).unwrap().unwrap();
        assert_eq!(parsed.fields().count(), 30, "more fields than are held inline");
        assert_eq!(
            (parsed.field("f23"), parsed.field("F24"), parsed.field("f29")),
            (Some(&b"23"[..]), Some(&b"24"[..]), Some(&b"29"[..]))
        );
        let odd = parse(b"HTTP/1.1 200 OK\r\n  X-Odd :\t  v \r\nNo-Space:v\r\n\r\n").unwrap().unwrap();
        assert_eq!(
            odd.fields().collect::<Vec<_>>(),
            vec![(&b"X-Odd"[..], &b"v "[..]), (&b"No-Space"[..], &b"v"[..])]
        );
    }

    #[test]
    fn bodies_end_by_length_chunks_or_close() {
        fn h(t: &[u8]) -> Head<'_> {
            parse(t).unwrap().unwrap()
        }
        assert_eq!(
            h(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n").body(false),
            Ok(Body::Length(12))
        );
        assert_eq!(h(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n").body(true), Ok(Body::Empty));
        assert_eq!(h(b"HTTP/1.1 304 Not Modified\r\n\r\n").body(false), Ok(Body::Empty));
        assert_eq!(h(b"HTTP/1.1 200 OK\r\n\r\n").body(false), Ok(Body::UntilClose));
        assert!(h(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").body(false).is_err());
        let chunked = h(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: Keep-Alive, close\r\n\r\n");
        assert!(chunked.closes());
        assert!(matches!(chunked.body(false), Ok(Body::Chunked(_))));
        assert!(h(b"HTTP/1.1 103 Early Hints\r\n\r\n").interim());
    }

    #[test]
    fn chunks_decode_in_any_pieces() {
        let wire = b"5\r\nHello\r\n7;ext=1\r\n, World\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, wire.len()] {
            let mut c = Chunks::default();
            let mut out = Vec::new();
            let mut used = 0;
            for piece in wire.chunks(step) {
                if c.done() {
                    break;
                }
                used += c.feed(piece, &mut out).unwrap();
            }
            assert!(c.done(), "step {step}");
            assert_eq!(out, b"Hello, World");
            assert_eq!(&wire[used..], b"NEXT", "step {step}");
        }
        assert!(Chunks::default().feed(b"zz\r\n", &mut Vec::new()).is_err());
        assert!(Chunks::default().feed(b"1\r\nab\r\n", &mut Vec::new()).is_err());
    }

    #[test]
    fn incomplete_and_bad_heads() {
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\nA: b\r\n").unwrap(), None);
        assert!(parse(b"garbage\r\n\r\n").is_err());
        assert!(parse(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nA: b\r\nno colon\r\n\r\n").is_err());
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\nA: b\r\n\r").unwrap(), None);
        assert!(parse(b"HTTP/1.1 200 OK\n\r\n\r\n").is_err(), "an empty line inside the head");
    }
}
