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

/// The pairs, in order.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct Meta(pub Vec<(String, Vec<u8>)>);

impl Pairs for Meta {
    fn push(&mut self, k: &str, v: &[u8]) {
        self.0.push((k.to_string(), v.to_vec()));
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
    /// [`Pairs::push`], for callers that do not name the trait.
    pub fn push(&mut self, k: &str, v: &[u8]) {
        Pairs::push(self, k, v);
    }

    pub fn get(&self, k: &str) -> Option<&[u8]> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_slice())
    }

    pub fn get_str(&self, k: &str) -> Option<&str> {
        self.get(k).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The pairs whose names start with `prefix`, without it.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.0
            .iter()
            .filter_map(move |(n, v)| n.strip_prefix(prefix).map(|rest| (rest, v.as_slice())))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        let mut w = Writer::new(&mut out);
        for (k, v) in &self.0 {
            w.push(k, v);
        }
        w.finish();
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
        let mut i = 0;
        let take = |n: usize, i: &mut usize| -> Result<&[u8], String> {
            let end = i.checked_add(n).filter(|e| *e <= body.len()).ok_or("truncated request frame")?;
            let s = &body[*i..end];
            *i = end;
            Ok(s)
        };
        while i < body.len() {
            let kl = u32::from_le_bytes(take(4, &mut i)?.try_into().unwrap()) as usize;
            let k = String::from_utf8(take(kl, &mut i)?.to_vec()).map_err(|_| "bad name in request frame")?;
            let vl = u32::from_le_bytes(take(4, &mut i)?.try_into().unwrap()) as usize;
            let v = take(vl, &mut i)?.to_vec();
            m.0.push((k, v));
        }
        Ok(m)
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
        assert_eq!(back.with_prefix("env:").collect::<Vec<_>>(), vec![("HTTPS", &b"on"[..])]);
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
    }
}
