//! A black-box fuzzer on stable Rust: mutated HTTP requests from a fixed seed
//! (request lines, header names and values with every byte value, chunked
//! encodings, bodies) sent to a real httpd, where a mod_python handler echoes
//! req fields and headers and a WSGI application echoes environ, both setting
//! response headers from the query string (Python values into response
//! headers). After each batch: no child crashed and the server still answers;
//! every response is well-formed HTTP. A fixed count runs in `make test`;
//! `make soak` runs for PYRITE_FUZZ_SECS seconds.
mod common;
use common::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// xorshift64*: small, fast and the same on every machine for one seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    /// Mostly printable bytes, then latin-1 bytes, then any byte value at all
    /// (`wild` percent of them).
    fn bytes(&mut self, max: usize, wild: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n)
            .map(|_| match self.below(100) {
                x if x < wild => self.byte(),
                x if x < wild + 10 => 0x80 | self.byte(),
                _ => b' ' + self.below(95) as u8,
            })
            .collect()
    }
}

fn site() -> String {
    "PythonPath \"sys.path+['{HANDLERS}']\"\nTimeout 5\nLimitRequestBody 200000\n".to_string()
        + &location("/mp", "reliability::echo_fields", "")
        + "WSGIScriptAlias /w {HANDLERS}/reliability_wsgi.py callable-object=echo_environ\n<Location /w>\n  WSGIChunkedRequest On\n</Location>\n"
}

fn percent(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// A query string with response headers to set (?h=NAME:VALUE) and noise.
fn query(rng: &mut Rng) -> Vec<u8> {
    let mut q = Vec::new();
    for _ in 0..rng.below(4) {
        let name: &[u8] = rng.pick(&[
            &b"X-Fuzz"[..],
            b"Set-Cookie",
            b"Content-Type",
            b"Location",
            b"X-\xe9",
            b"Bad Name",
            b"",
        ]);
        let mut value = rng.bytes(20, 20);
        if rng.chance(30) {
            value.extend_from_slice(rng.pick(&[&b"\r\nX-Injected: 1"[..], b"\n", b"\r", b"\x00", b"\x7f"]));
        }
        q.extend_from_slice(b"h=");
        q.extend_from_slice(percent(name).as_bytes());
        q.extend_from_slice(b"%3A");
        q.extend_from_slice(percent(&value).as_bytes());
        q.push(b'&');
    }
    if rng.chance(30) {
        q.extend_from_slice(&rng.bytes(30, 20));
    }
    q
}

fn chunked_body(rng: &mut Rng, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in body.chunks(1 + rng.below(50)) {
        let size = if rng.chance(3) { part.len() + rng.below(5) } else { part.len() };
        let head: Vec<u8> = match rng.below(60) {
            0 => b"zz".to_vec(),
            1 => b"-1".to_vec(),
            2 => b"ffffffffffffffffffff".to_vec(),
            3 => format!("{size:x};ext=\"v\"").into_bytes(),
            4 => format!(" {size:x} ").into_bytes(),
            _ => format!("{size:x}").into_bytes(),
        };
        out.extend_from_slice(&head);
        out.extend_from_slice(if rng.chance(2) { b"\n" } else { b"\r\n" });
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    if rng.chance(90) {
        out.extend_from_slice(b"0\r\n");
        if rng.chance(20) {
            out.extend_from_slice(b"Trailer-X: t\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One mutated request.
fn request_bytes(rng: &mut Rng) -> Vec<u8> {
    let mut req = Vec::new();
    // A third of the requests are hostile in their head (httpd refuses most of
    // those); the rest reach Python with odd but acceptable bytes.
    let hostile = rng.chance(33);
    let wild = if hostile { 10 } else { 0 };
    let method: &[u8] = if hostile {
        rng.pick(&[&b"GET"[..], b"G\x01T", b"get", b"BREW", b"POST"])
    } else {
        rng.pick(&[&b"GET"[..], b"POST", b"PUT", b"HEAD", b"OPTIONS", b"DELETE", b"PATCH"])
    };
    req.extend_from_slice(method);
    req.push(b' ');
    req.extend_from_slice(rng.pick(&[&b"/mp"[..], b"/w"]));
    if rng.chance(50) {
        req.push(b'/');
        let seg = rng.bytes(30, 20);
        if rng.chance(50) {
            req.extend_from_slice(percent(&seg).as_bytes());
        } else {
            req.extend(seg.into_iter().filter(|b| !b" \r\n".contains(b)));
        }
    }
    req.push(b'?');
    req.extend(query(rng).into_iter().filter(|b| !b" \r\n".contains(b)));
    req.push(b' ');
    req.extend_from_slice(if hostile {
        rng.pick(&[&b"HTTP/1.1"[..], b"HTTP/9.9", b"HTTP/1.1 x", b"http/1.1"])
    } else {
        rng.pick(&[&b"HTTP/1.1"[..], b"HTTP/1.0"])
    });
    req.extend_from_slice(b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for _ in 0..rng.below(6) {
        let name: Vec<u8> = if !hostile || rng.chance(70) {
            rng.pick(&[
                &b"X-Fuzz"[..],
                b"Accept",
                b"Cookie",
                b"Referer",
                b"User-Agent",
                b"Content-Type",
                b"X-A_B",
            ])
            .to_vec()
        } else {
            rng.bytes(12, 30)
        };
        req.extend_from_slice(&name);
        req.extend_from_slice(b": ");
        req.extend(rng.bytes(60, wild).into_iter().filter(|b| rng_keep_line(*b)));
        req.extend_from_slice(b"\r\n");
    }
    let body = rng.bytes(2000, 50);
    match rng.below(4) {
        0 => {}
        1 => req.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes()),
        2 => {
            let wrong = [body.len() + 10, body.len().saturating_sub(10)];
            req.extend_from_slice(format!("Content-Length: {}\r\n", rng.pick(&wrong)).as_bytes());
        }
        _ => req.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    req.extend_from_slice(b"\r\n");
    if req.ends_with(b"chunked\r\n\r\n") {
        let c = chunked_body(rng, &body);
        req.extend_from_slice(&c);
    } else {
        req.extend_from_slice(&body);
    }
    req
}

/// Header values keep their line: a bare CR or LF would just start another header.
fn rng_keep_line(b: u8) -> bool {
    b != b'\r' && b != b'\n'
}

/// Checks a response is well-formed HTTP/1.x; returns its status.
fn well_formed(data: &[u8], head_request: bool) -> Result<u16, String> {
    let end = data.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of head")?;
    // The head with each line's CRLF, without the blank line that ends it.
    let head = &data[..end + 2];
    let mut lines = head.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let status_line = lines.next().unwrap().strip_suffix(b"\r").ok_or("status line without CR")?;
    let text = String::from_utf8_lossy(status_line);
    let status: u16 = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or(format!("bad status line {text:?}"))?;
    let mut length = None;
    let mut chunked = false;
    for l in lines {
        let l = l.strip_suffix(b"\r").ok_or("header line without CR")?;
        if l.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(format!("control byte in header line {:?}", String::from_utf8_lossy(l)));
        }
        let colon = l
            .iter()
            .position(|&b| b == b':')
            .ok_or(format!("header line without colon {:?}", String::from_utf8_lossy(l)))?;
        let name = &l[..colon];
        if name.is_empty() || !name.iter().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b)) {
            return Err(format!("bad header name {:?}", String::from_utf8_lossy(name)));
        }
        let value = String::from_utf8_lossy(&l[colon + 1..]).trim().to_ascii_lowercase();
        if name.eq_ignore_ascii_case(b"content-length") {
            length = Some(value.parse::<usize>().map_err(|_| "bad Content-Length")?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value == "chunked";
        }
    }
    let body = &data[end + 4..];
    if head_request || status == 304 || status == 204 {
        return Ok(status);
    }
    if chunked {
        let r = parse_response(data, false);
        if r.truncated {
            return Err("chunked body cut short".into());
        }
    } else if let Some(n) = length {
        if body.len() != n {
            return Err(format!("Content-Length {n} but {} body bytes", body.len()));
        }
    }
    Ok(status)
}

fn send(port: u16, req: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(req);
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn seed() -> u64 {
    std::env::var("PYRITE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x005e_ed0f_2026)
}

/// Runs until `more()` says stop; panics with the request on the first finding.
fn fuzz(mpm: Mpm, mut more: impl FnMut(u64) -> bool) {
    let h = Httpd::start(mpm, &site());
    let mut rng = Rng(seed());
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let (mut n, mut silent) = (0u64, 0u64);
    while more(n) {
        for _ in 0..100 {
            n += 1;
            let req = request_bytes(&mut rng);
            let resp = send(h.port, &req);
            if resp.is_empty() {
                silent += 1;
                continue;
            }
            match well_formed(&resp, req.starts_with(b"HEAD ")) {
                Ok(status) => *statuses.entry(status).or_default() += 1,
                Err(why) => panic!(
                    "request {n} (seed {}): malformed response: {why}\nrequest: {:?}\nresponse: {:?}",
                    seed(),
                    String::from_utf8_lossy(&req),
                    String::from_utf8_lossy(&resp)
                ),
            }
        }
        let log = h.error_log();
        let crashes = crash_lines(&log);
        assert!(crashes.is_empty(), "after request {n} (seed {}): {crashes:?}", seed());
        for path in ["/mp?h=X-Ok%3Ayes", "/w?h=X-Ok%3Ayes"] {
            let r = h.get(path);
            assert_eq!(
                (r.status, r.header_str("x-ok").as_deref()),
                (200, Some("yes")),
                "after request {n}: {path}"
            );
        }
    }
    println!(
        "{mpm:?}: {n} fuzzed requests (seed {:#x}): statuses {statuses:?}, {silent} closed without a response",
        seed()
    );
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn fuzzed_requests_never_crash_a_child_or_break_http() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        fuzz(mpm, |n| n < 1500);
    }
}

#[test]
#[ignore = "soak: make soak (PYRITE_FUZZ_SECS, default 300)"]
fn soak_fuzz_for_a_fixed_time() {
    let secs: u64 = std::env::var("PYRITE_FUZZ_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    for mpm in Mpm::ALL {
        let until = Instant::now() + Duration::from_secs(secs / 3);
        fuzz(mpm, |_| Instant::now() < until);
    }
}
