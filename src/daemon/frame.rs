//! What a child tells a daemon before the HTTP request itself: the facts of
//! the client connection that a UNIX socket cannot carry (addresses, TLS,
//! the authenticated user, variables other modules set). A tag, a length,
//! then name/value pairs.
const MAGIC: &[u8; 4] = b"PYR1";
/// A frame larger than this is refused (protects the daemon from a bad peer).
pub const MAX: usize = 16 << 20;

/// Milliseconds of the system-wide monotonic clock (the same in every
/// process): how a child tells a daemon until when it will wait.
pub fn monotonic_ms() -> u64 {
    crate::ffi::os::mono_ns() / 1_000_000
}

/// Something name/value pairs are put in: a [`Meta`], or a [`Writer`]
/// encoding them as they come.
pub trait Pairs {
    fn push(&mut self, k: &str, v: &[u8]);
}

/// The pairs, in order: the frame's body as it came, and where each name
/// and value lies in it. A daemon thread reads each request's frame into the
/// same Meta (no allocation per pair, nor per request once warm).
#[derive(Default, Debug, Clone, PartialEq)]
pub struct Meta {
    body: Vec<u8>,
    /// Per pair: the name's start and end, the value's start and end, in `body`.
    spans: Vec<[u32; 4]>,
}

impl Pairs for Meta {
    fn push(&mut self, k: &str, v: &[u8]) {
        let at = self.body.len();
        let mut w = Writer {
            out: &mut self.body,
            start: at,
        };
        w.push_named(k, b"", v);
        let k0 = at + 4;
        let v0 = k0 + k.len() + 4;
        self.spans
            .push([k0 as u32, (k0 + k.len()) as u32, v0 as u32, (v0 + v.len()) as u32]);
    }
}

/// Encodes a frame straight into a buffer the caller reuses (a child
/// writes one per request: no allocation per pair, no copy of the whole).
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> Writer<'a> {
    /// Starts a frame at the end of `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Writer<'a> {
        let start = out.len();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[0; 4]);
        Writer { out, start }
    }

    /// A pair whose name is `prefix` then `name` (no joined copy made).
    pub fn push_named(&mut self, prefix: &str, name: &[u8], v: &[u8]) {
        self.out.extend_from_slice(&((prefix.len() + name.len()) as u32).to_le_bytes());
        self.out.extend_from_slice(prefix.as_bytes());
        self.out.extend_from_slice(name);
        self.out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        self.out.extend_from_slice(v);
    }

    /// Ends the frame: its length goes in its header.
    pub fn finish(self) {
        let n = (self.out.len() - self.start - 8) as u32;
        self.out[self.start + 4..self.start + 8].copy_from_slice(&n.to_le_bytes());
    }
}

impl Pairs for Writer<'_> {
    fn push(&mut self, k: &str, v: &[u8]) {
        self.push_named(k, b"", v);
    }
}

impl Meta {
    pub const fn new() -> Meta {
        Meta {
            body: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// [`Pairs::push`], for callers that do not name the trait.
    pub fn push(&mut self, k: &str, v: &[u8]) {
        Pairs::push(self, k, v);
    }

    fn name(&self, s: &[u32; 4]) -> &[u8] {
        &self.body[s[0] as usize..s[1] as usize]
    }

    fn value(&self, s: &[u32; 4]) -> &[u8] {
        &self.body[s[2] as usize..s[3] as usize]
    }

    pub fn get(&self, k: &str) -> Option<&[u8]> {
        self.spans.iter().find(|s| self.name(s) == k.as_bytes()).map(|s| self.value(s))
    }

    pub fn get_str(&self, k: &str) -> Option<&str> {
        self.get(k).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The pairs whose names start with `prefix`, without it (names are
    /// UTF-8, checked when the frame was read; given as bytes).
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.spans
            .iter()
            .filter_map(move |s| self.name(s).strip_prefix(prefix.as_bytes()).map(|rest| (rest, self.value(s))))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.body.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// The body length a header announces, or why the header is bad.
    pub fn body_len(header: &[u8; 8]) -> Result<usize, String> {
        if &header[..4] != MAGIC {
            return Err("not a mod_pyrite daemon request".into());
        }
        let n = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if n > MAX {
            return Err(format!("request frame of {n} bytes is larger than {MAX}"));
        }
        Ok(n)
    }

    pub fn decode(body: &[u8]) -> Result<Meta, String> {
        let mut m = Meta::default();
        m.body_to_fill(body.len()).copy_from_slice(body);
        m.index()?;
        Ok(m)
    }

    /// Empties the Meta and gives room for a frame body of `n` bytes, to be
    /// read in and then [`index`](Meta::index)ed (the room is kept for the
    /// next frame, unless it grew large).
    pub fn body_to_fill(&mut self, n: usize) -> &mut [u8] {
        const KEEP: usize = 64 << 10;
        if self.body.capacity() > KEEP && n <= KEEP {
            self.body = Vec::new();
        }
        self.spans.clear();
        self.body.clear();
        self.body.resize(n, 0);
        &mut self.body
    }

    /// Finds the pairs of the body just read, or says why it is bad.
    pub fn index(&mut self) -> Result<(), String> {
        let body = &self.body;
        let mut i = 0;
        let take = |n: usize, i: &mut usize| -> Result<(usize, usize), String> {
            let end = i.checked_add(n).filter(|e| *e <= body.len()).ok_or("truncated request frame")?;
            let span = (*i, end);
            *i = end;
            Ok(span)
        };
        let len = |(a, b): (usize, usize)| u32::from_le_bytes(body[a..b].try_into().unwrap()) as usize;
        self.spans.clear();
        while i < body.len() {
            let kl = len(take(4, &mut i)?);
            let (k0, k1) = take(kl, &mut i)?;
            let name = &body[k0..k1];
            if !name.is_ascii() && std::str::from_utf8(name).is_err() {
                return Err("bad name in request frame".into());
            }
            let vl = len(take(4, &mut i)?);
            let (v0, v1) = take(vl, &mut i)?;
            self.spans.push([k0 as u32, k1 as u32, v0 as u32, v1 as u32]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut m = Meta::default();
        m.push("client_ip", b"127.0.0.1");
        m.push("env:HTTPS", b"on");
        m.push("empty", b"");
        let bytes = m.encode();
        let n = Meta::body_len(bytes[..8].try_into().unwrap()).unwrap();
        let back = Meta::decode(&bytes[8..8 + n]).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.get_str("client_ip"), Some("127.0.0.1"));
        assert_eq!(back.with_prefix("env:").collect::<Vec<_>>(), vec![(&b"HTTPS"[..], &b"on"[..])]);
    }

    #[test]
    fn a_writer_encodes_as_meta_does() {
        let mut out = b"before".to_vec();
        let mut w = Writer::new(&mut out);
        w.push("client_ip", b"127.0.0.1");
        w.push_named("env:", b"HTTPS", b"on");
        w.finish();
        let mut m = Meta::default();
        m.push("client_ip", b"127.0.0.1");
        m.push("env:HTTPS", b"on");
        assert_eq!(&out[6..], &m.encode()[..]);
    }

    #[test]
    fn bad_frames_are_refused() {
        assert!(Meta::body_len(b"GET / HT").is_err());
        let mut h = *b"PYR1\0\0\0\0";
        h[4..8].copy_from_slice(&((MAX + 1) as u32).to_le_bytes());
        assert!(Meta::body_len(&h).is_err());
        assert!(Meta::decode(&[5, 0, 0, 0, b'a']).is_err());
        // A name must be UTF-8 (ASCII or not); a value may be any bytes.
        let pair = |name: &[u8]| [&[name.len() as u8, 0, 0, 0][..], name, &[1, 0, 0, 0, 0xff]].concat();
        assert!(Meta::decode(&pair(b"\xff")).is_err());
        let m = Meta::decode(&pair("env:\u{e9}".as_bytes())).unwrap();
        assert_eq!(m.with_prefix("env:").collect::<Vec<_>>(), vec![("\u{e9}".as_bytes(), &[0xff][..])]);
    }
}
