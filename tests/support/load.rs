//! A load generator for the reliability tests: client threads issuing
//! keep-alive requests whose bodies are checked byte for byte, counting every
//! failed, truncated or wrong response.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The body the fixtures send for `token` and `size` (reliability.py's expected_body).
pub fn expected_body(token: &str, size: usize) -> Vec<u8> {
    let unit = format!("{token}|").into_bytes();
    unit.iter().copied().cycle().take(size).collect()
}

/// One response read off a keep-alive connection.
#[derive(Debug, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The server said it closes the connection after this response.
    pub closes: bool,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a response could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The connection ended before any byte of the response.
    NothingReceived,
    /// The connection ended, or sent bad framing, part way through.
    Truncated(String),
}

/// Reads exactly one HTTP/1.1 response (Content-Length, chunked, or until close).
pub fn read_reply(r: &mut BufReader<TcpStream>, head_only: bool) -> Result<Reply, ReadError> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) | Err(_) => return Err(ReadError::NothingReceived),
        Ok(_) => {}
    }
    let cut = |what: &str| ReadError::Truncated(what.to_string());
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| cut(&format!("bad status line {line:?}")))?;
    let mut reply = Reply {
        status,
        ..Default::default()
    };
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).map_err(|e| cut(&e.to_string()))? == 0 {
            return Err(cut("connection ended inside the head"));
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').ok_or_else(|| cut(&format!("bad header line {h:?}")))?;
        reply.headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    reply.closes = reply.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    if head_only || status == 204 || status == 304 {
        return Ok(reply);
    }
    if reply.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            if r.read_line(&mut size_line).map_err(|e| cut(&e.to_string()))? == 0 {
                return Err(cut("connection ended before the last chunk"));
            }
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| cut(&format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                let mut end = String::new();
                r.read_line(&mut end).map_err(|e| cut(&e.to_string()))?;
                return Ok(reply);
            }
            let start = reply.body.len();
            reply.body.resize(start + size + 2, 0);
            r.read_exact(&mut reply.body[start..])
                .map_err(|_| cut("connection ended inside a chunk"))?;
            reply.body.truncate(start + size);
        }
    } else if let Some(cl) = reply.header("content-length") {
        let n: usize = cl.parse().map_err(|_| cut("bad Content-Length"))?;
        reply.body.resize(n, 0);
        r.read_exact(&mut reply.body)
            .map_err(|_| cut("connection ended before Content-Length bytes"))?;
    } else {
        r.read_to_end(&mut reply.body).map_err(|e| cut(&e.to_string()))?;
        reply.closes = true;
    }
    Ok(reply)
}

/// What the load saw; every failure kept with its reason.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub ok: u64,
    pub failed: u64,
    pub truncated: u64,
    pub wrong: u64,
    /// A reused keep-alive connection the server had closed before our
    /// request reached it (the race every HTTP client retries on).
    pub idle_close_retries: u64,
    /// New connections refused (only while httpd is stopped on purpose).
    pub refused: u64,
    /// New connections reset with no byte while httpd was stopping on
    /// purpose: they sat in the kernel's listen queue when httpd closed its
    /// listeners, so httpd never accepted them.
    pub reset_while_stopping: u64,
    pub failures: Vec<String>,
    /// Child pid -> the pid its PythonImport'd module recorded.
    pub children: BTreeMap<i64, i64>,
    pub generations: BTreeSet<i64>,
}

impl Tally {
    pub fn bad(&self) -> u64 {
        self.failed + self.truncated + self.wrong
    }
    fn add(&mut self, o: &Tally) {
        self.ok += o.ok;
        self.failed += o.failed;
        self.truncated += o.truncated;
        self.wrong += o.wrong;
        self.idle_close_retries += o.idle_close_retries;
        self.refused += o.refused;
        self.reset_while_stopping += o.reset_while_stopping;
        self.failures.extend(o.failures.iter().take(20).cloned());
        self.children.extend(o.children.iter());
        self.generations.extend(o.generations.iter());
    }
    pub fn summary(&self) -> String {
        format!(
            "{} ok, {} failed, {} truncated, {} wrong body, {} keep-alive close races retried, {} refused and {} reset while stopped, {} children, generations {:?}",
            self.ok,
            self.failed,
            self.truncated,
            self.wrong,
            self.idle_close_retries,
            self.refused,
            self.reset_while_stopping,
            self.children.len(),
            self.generations
        )
    }
}

/// A request the load issues: a path prefix answered by reliability.py's
/// `load` or reliability_wsgi.py's `load`.
#[derive(Clone)]
pub struct Target {
    pub prefix: String,
    /// Every tenth request stays in the handler 0.2 s (requests in flight at restarts).
    pub sleepy: bool,
    /// The Host header (a name-based virtual host), 127.0.0.1 by default.
    pub host: String,
    /// The X-Site header every answer must carry (the site whose code ran).
    pub site: Option<String>,
}

impl Target {
    pub fn new(prefix: &str, sleepy: bool) -> Target {
        Target {
            prefix: prefix.to_string(),
            sleepy,
            host: "127.0.0.1".to_string(),
            site: None,
        }
    }

    /// A target of one site among several: its Host, and the X-Site it must answer with.
    pub fn site(prefix: &str, host: &str, site: &str) -> Target {
        Target {
            host: host.to_string(),
            site: Some(site.to_string()),
            ..Target::new(prefix, true)
        }
    }
}

/// Client threads issuing keep-alive GETs until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Tally>>,
    pub live: Arc<Mutex<Tally>>,
}

impl Load {
    pub fn start(port: u16, clients: usize, targets: Vec<Target>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Mutex::new(Tally::default()));
        let threads = (0..clients)
            .map(|c| {
                let stop = stop.clone();
                let stopping = stopping.clone();
                let targets = targets.clone();
                let live = live.clone();
                std::thread::spawn(move || client(port, c, &targets, &stop, &stopping, &live))
            })
            .collect();
        Load {
            stop,
            stopping,
            threads,
            live,
        }
    }

    /// Marks the time httpd is being stopped on purpose (graceful-stop to start).
    pub fn set_stopping(&self, on: bool) {
        self.stopping.store(on, Ordering::SeqCst);
    }

    /// Requests answered so far (for waiting on progress, not for timing).
    pub fn answered(&self) -> u64 {
        self.live.lock().unwrap().ok
    }

    /// Waits until at least `more` further requests have been answered (or a minute passed).
    pub fn wait_for(&self, more: u64) {
        self.wait_for_within(more, Duration::from_secs(60));
    }

    /// Waits until at least `more` further requests have been answered, or `bound` passed.
    pub fn wait_for_within(&self, more: u64, bound: Duration) {
        let goal = self.answered() + more;
        let deadline = std::time::Instant::now() + bound;
        while self.answered() < goal && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn finish(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = Tally::default();
        for t in self.threads {
            total.add(&t.join().unwrap());
        }
        total
    }
}

fn connect(port: u16) -> std::io::Result<BufReader<TcpStream>> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.set_nodelay(true)?;
    Ok(BufReader::new(s))
}

fn client(port: u16, id: usize, targets: &[Target], stop: &AtomicBool, stopping: &AtomicBool, live: &Mutex<Tally>) -> Tally {
    let mut t = Tally::default();
    let mut conn: Option<BufReader<TcpStream>> = None;
    let mut served_on_conn = 0u32;
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let target = &targets[(n as usize + id) % targets.len()];
        // Sizes from a few bytes to 40 KB; some bodies in several parts (chunked).
        let size = ((n * 7919 + id as u64 * 104729) % 40000) as usize + 1;
        let parts = 1 + (n % 4);
        let token = format!("c{id}n{n}");
        // Every tenth request stays in the handler a little, so restarts find requests in flight.
        let sleep = if target.sleepy && n.is_multiple_of(10) { "&sleep=0.2" } else { "" };
        let req = format!(
            "GET {}?t={token}&n={size}&parts={parts}{sleep} HTTP/1.1\r\nHost: {}\r\n\r\n",
            target.prefix, target.host
        );
        let mut attempt = 0;
        loop {
            attempt += 1;
            if conn.is_none() {
                match connect(port) {
                    Ok(c) => {
                        conn = Some(c);
                        served_on_conn = 0;
                    }
                    Err(_) => {
                        // Refused: httpd is between graceful-stop and start.
                        t.refused += 1;
                        std::thread::sleep(Duration::from_millis(20));
                        if stop.load(Ordering::SeqCst) {
                            return t;
                        }
                        continue;
                    }
                }
            }
            let c = conn.as_mut().unwrap();
            let reused = served_on_conn > 0;
            let sent = c.get_mut().write_all(req.as_bytes());
            let result = match sent {
                Ok(()) => read_reply(c, false),
                Err(_) => Err(ReadError::NothingReceived),
            };
            match result {
                Ok(reply) => {
                    served_on_conn += 1;
                    check(&mut t, &reply, &token, size, target);
                    if reply.closes {
                        conn = None;
                    }
                    break;
                }
                Err(ReadError::NothingReceived) if reused && attempt < 3 => {
                    t.idle_close_retries += 1;
                    conn = None;
                }
                Err(ReadError::NothingReceived) if stopping.load(Ordering::SeqCst) => {
                    t.reset_while_stopping += 1;
                    conn = None;
                }
                Err(ReadError::NothingReceived) => {
                    t.failed += 1;
                    t.failures
                        .push(format!("{} {token}: no response on a new connection", target.prefix));
                    conn = None;
                    break;
                }
                Err(ReadError::Truncated(why)) => {
                    t.truncated += 1;
                    t.failures.push(format!("{} {token}: truncated: {why}", target.prefix));
                    conn = None;
                    break;
                }
            }
        }
        let mut l = live.lock().unwrap();
        l.ok += 1;
    }
    t
}

fn check(t: &mut Tally, reply: &Reply, token: &str, size: usize, target: &Target) {
    let prefix = &target.prefix;
    if reply.status != 200 {
        t.wrong += 1;
        t.failures.push(format!("{prefix} {token}: status {}", reply.status));
        return;
    }
    if reply.body != expected_body(token, size) {
        t.wrong += 1;
        t.failures.push(format!(
            "{prefix} {token}: body of {} bytes differs (expected {size})",
            reply.body.len()
        ));
        return;
    }
    let num = |h: &str| reply.header(h).and_then(|v| v.parse::<i64>().ok()).unwrap_or(-1);
    let (pid, import_pid) = (num("x-pid"), num("x-import-pid"));
    if pid != import_pid {
        t.wrong += 1;
        t.failures
            .push(format!("{prefix} {token}: child {pid} serves with Python state of {import_pid}"));
        return;
    }
    if let Some(site) = &target.site {
        if reply.header("x-site") != Some(site.as_str()) {
            t.wrong += 1;
            t.failures.push(format!(
                "{}{prefix} {token}: answered by {:?}, not {site}",
                target.host,
                reply.header("x-site")
            ));
            return;
        }
    }
    t.children.insert(pid, import_pid);
    if reply.header("x-gen").is_some() {
        t.generations.insert(num("x-gen"));
    }
    t.ok += 1;
}

impl Tally {
    /// Every request answered in full, at least one answered, and no child
    /// crash or Python traceback in the error log `log`.
    pub fn assert_clean(&self, label: &str, log: &str) {
        println!("{label}: {}", self.summary());
        assert_eq!(self.bad(), 0, "{label}: {:#?}\n{log}", self.failures);
        assert!(self.ok > 0, "{label}: no request answered");
        let crashes = crate::common::crash_lines(log);
        assert!(crashes.is_empty(), "{label}: child crashes: {crashes:?}");
        assert!(!log.contains("Traceback"), "{label}: a handler failed:\n{log}");
    }
}
