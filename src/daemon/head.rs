//! The daemon's HTTP response head, as the child reads it back, and where
//! the body after it ends (so the connection can carry the next request).

/// A parsed status line and header fields.
#[derive(Debug, PartialEq)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    pub fields: Vec<(String, Vec<u8>)>,
    /// Bytes of the buffer the head took (the body follows).
    pub len: usize,
}

/// The field a daemon answers with, in place of a response, when the
/// application left the response to httpd's error page for a status: the
/// child then makes that page with its own configuration (ErrorDocument).
pub const ERROR_PAGE: &str = "X-Pyrite-Error-Page";

impl Head {
    /// The status whose error page the child makes instead of relaying (see [`ERROR_PAGE`]).
    pub fn error_page(&self) -> Option<u16> {
        let v = std::str::from_utf8(self.field(ERROR_PAGE)?).ok()?;
        v.trim().parse().ok().filter(|c| (400..600).contains(c))
    }

    /// The value of a field (the first of that name).
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Whether a field lists `token` (comma-separated, any case).
    fn lists(&self, name: &str, token: &str) -> bool {
        self.fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
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
    fn bodies_end_by_length_chunks_or_close() {
        let h = |t: &[u8]| parse(t).unwrap().unwrap();
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
    }
}
