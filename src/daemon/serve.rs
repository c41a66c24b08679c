//! A daemon's worker threads: each, only when it is free, takes the next
//! request, from a new connection on the group's socket or from a connection
//! a child kept, confirms the pickup (so the child knows the request is now
//! this daemon's, or may go elsewhere), reads what the child knows of the
//! client, and runs the request through httpd's own request processing,
//! whose WSGI handler is the embedded one (src/wsgi). The connection is
//! then kept for the child's next request.
use super::admission::{Admission, Seen};
use super::frame::Meta;
use super::plan::Plan;
use crate::ffi::epoll::{self, Epoll};
use crate::ffi::process::ThreadPool;
use crate::ffi::server::{KeptServer, Server};
use crate::ffi::{self, daemon as hd, log, os, raw};
use crate::sync::LockExt;
use std::cell::{Cell, RefCell};
use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Runs a planned request (the WSGI adapter's, registered at the process's
/// start by src/child: the adapter sits above daemon mode).
pub static RUN_PLANNED: OnceLock<fn(&ffi::request::Request, &super::plan::Plan) -> c_int> = OnceLock::new();

/// The byte a daemon sends when it takes a connection.
pub const PICKED_UP: u8 = b'K';

/// What a daemon's threads share.
pub struct State {
    pub stopping: AtomicBool,
    pub in_flight: AtomicUsize,
    pub served: AtomicU64,
    /// Seconds since the epoch of the last finished request.
    pub last_done: AtomicU64,
    /// Per worker: when its request started (ms since the epoch), 0 when idle.
    pub started: Vec<AtomicU64>,
    /// How many threads take requests at once.
    pub admission: Admission,
    reason: Mutex<Option<String>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl State {
    pub fn new(threads: usize) -> State {
        State {
            stopping: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            last_done: AtomicU64::new(now_ms() / 1000),
            started: (0..threads).map(|_| AtomicU64::new(0)).collect(),
            admission: Admission::new(threads),
            reason: Mutex::new(None),
        }
    }

    /// Why the daemon decided to stop by itself, if it did.
    pub fn reason(&self) -> Option<String> {
        self.reason.locked().clone()
    }

    /// Stops taking requests and lets the main thread drain and exit.
    pub fn request_stop(&self, why: String) {
        let mut r = self.reason.locked();
        if r.is_none() {
            *r = Some(why);
            self.stopping.store(true, Ordering::SeqCst);
            // Taken by the main thread's sigwait.
            os::signal_self(libc::SIGTERM);
        }
    }
}

thread_local! {
    /// What the child sent with the request this thread is serving (or
    /// served last: the room is reused).
    static META: RefCell<Meta> = const { RefCell::new(Meta::new()) };
    /// Whether this thread is serving the request META came with.
    static SERVING: Cell<bool> = const { Cell::new(false) };
}

/// The epoll key of the group's listener (connections are keyed by their fd).
const LISTENER: u64 = u64::MAX;

/// How often the watcher looks for requests waiting on kept connections
/// while every thread of this daemon is busy, and, after a second without
/// that, how often it looks whether they are (an idle daemon sleeps).
const WATCH_TICK: Duration = Duration::from_millis(5);
const WATCH_IDLE_TICK: Duration = Duration::from_millis(100);
/// Busy ticks in a row with an admitted thread computing before one thread
/// fewer takes requests (a blocked application keeps its threads).
const NARROW_AFTER: u32 = 8;

/// What a daemon's threads share to take requests: one epoll set with the
/// group's listener and the kept connections waiting for their next request
/// (each armed for one event, so one thread takes it), and those connections.
///
/// Only a free thread waits in the set, so a daemon still takes a request
/// only when it has a thread for it. A request sent on a kept connection of
/// a daemon whose threads are all busy is not left waiting there: the
/// watcher closes such a connection before pickup, and the child sends the
/// request again on a new connection, which any daemon of the group with a
/// free thread takes from the shared listener.
struct Hub {
    ep: Epoll,
    lfd: i32,
    /// Indexed by descriptor (small numbers: no hashing per request).
    kept: Mutex<Vec<Option<hd::Connection>>>,
    /// Threads waiting in the set.
    free: AtomicUsize,
}

static HUB: OnceLock<Hub> = OnceLock::new();

/// Registers the group's listener in the epoll set `ep` for level events,
/// woken in one daemon of the group at a time (EPOLLEXCLUSIVE).
fn watch_listener(ep: &Epoll, lfd: i32) {
    // Without EPOLLEXCLUSIVE (kernels before 4.5) every daemon wakes.
    if let Err(e) = ep.add(lfd, epoll::IN | epoll::EXCLUSIVE, LISTENER) {
        if e.raw_os_error() != Some(libc::EEXIST) {
            let _ = ep.add(lfd, epoll::IN, LISTENER);
        }
    }
}

fn hub(lfd: i32) -> &'static Hub {
    HUB.get_or_init(|| {
        let ep = Epoll::new().expect("epoll_create1");
        watch_listener(&ep, lfd);
        Hub {
            ep,
            lfd,
            kept: Mutex::new(Vec::new()),
            free: AtomicUsize::new(0),
        }
    })
}

impl Hub {
    /// Keeps `conn` for its next request (armed for one event).
    fn keep(&self, conn: hd::Connection, first: bool) {
        let fd = conn.fd();
        {
            let mut kept = self.kept.locked();
            let at = fd.max(0) as usize;
            if kept.len() <= at {
                kept.resize_with(at + 1, || None);
            }
            kept[at] = Some(conn);
        }
        // (Re)arms a socket this process holds in `kept`.
        let events = epoll::IN | epoll::ONESHOT;
        let _ = if first {
            self.ep.add(fd, events, fd as u64)
        } else {
            self.ep.modify(fd, events, fd as u64)
        };
    }

    /// Puts this daemon last in line for the group's next new connection.
    /// The kernel wakes the first daemon in the listener's queue that has a
    /// thread waiting, so without this one daemon takes nearly every
    /// connection (and keeps it) while the others idle: its GIL then serves
    /// the whole group. Leaving the queue and joining it again after each
    /// accept makes the daemons with free threads take turns.
    fn rotate(&self) {
        // A connection that comes meanwhile is seen at the rejoin (level events).
        let _ = self.ep.delete(self.lfd);
        watch_listener(&self.ep, self.lfd);
    }

    /// Takes the kept connection an event named, unless another thread took it.
    fn take(&self, fd: i32) -> Option<hd::Connection> {
        self.kept.locked().get_mut(fd.max(0) as usize).and_then(Option::take)
    }
}

/// Consecutive looks on which a thread serving a request was computing.
#[derive(Default)]
struct Computing(u32);

impl Computing {
    /// One look at the admitted threads: one thread fewer takes requests
    /// once they have been computing (not blocked) for a while.
    fn look(&mut self, a: &Admission) {
        match a.seen() {
            Seen::SomeRunning => {
                self.0 += 1;
                if self.0 >= NARROW_AFTER {
                    a.narrow();
                    self.0 = 0;
                }
            }
            Seen::NoneRunning | Seen::NoneServing => self.0 = 0,
        }
    }
}

/// The watcher: closes, before pickup, connections whose request has waited
/// a whole tick while every thread was busy (their children send them again
/// to the shared listener), and every kept connection once the daemon stops.
/// While the daemon has threads that admission keeps out, such a request
/// lets more of them in instead (see admission.rs).
fn watch(h: &'static Hub, st: Arc<State>) {
    let mut suspects: Vec<i32> = Vec::new();
    let mut listener_waiting = false;
    let mut events = [epoll::NO_EVENT; 16];
    let mut quiet = 0u32;
    let mut computing = Computing::default();
    loop {
        std::thread::sleep(if quiet > 200 { WATCH_IDLE_TICK } else { WATCH_TICK });
        if st.stopping.load(Ordering::SeqCst) {
            // Closed before pickup: their children go to the other daemons.
            h.kept.locked().clear();
            continue;
        }
        let adm = &st.admission;
        if h.free.load(Ordering::SeqCst) > 0 {
            suspects.clear();
            listener_waiting = false;
            quiet = quiet.saturating_add(1);
            if adm.above_base() {
                computing.look(adm);
            }
            continue;
        }
        quiet = 0;
        let spare = adm.has_spare_threads();
        // A look at the set without waiting.
        let n = h.ep.wait(&mut events, 0);
        let mut seen = Vec::new();
        let mut waited = false;
        let mut listener = false;
        for ev in &events[..n] {
            let key = ev.u64;
            if key == LISTENER {
                // Level-triggered: left for a free thread.
                listener = true;
                waited |= listener_waiting;
                continue;
            }
            let fd = key as i32;
            if h.free.load(Ordering::SeqCst) == 0 && suspects.contains(&fd) {
                if !spare {
                    drop(h.take(fd));
                    continue;
                }
                waited = true;
            }
            seen.push(fd);
            // Re-arms a kept socket whose event this thread took.
            let _ = h.ep.modify(fd, epoll::IN | epoll::ONESHOT, key);
        }
        suspects = seen;
        listener_waiting = listener;
        if spare {
            if waited && widening_helps(&st) {
                // A request waited a whole tick for the admitted threads.
                adm.widen();
                suspects.clear();
                listener_waiting = false;
            } else if adm.above_base() {
                computing.look(adm);
            }
        }
    }
}

/// How long the admitted threads' requests must have run, when one of them
/// is on a CPU, before a waiting request lets more threads in.
const LONG_REQUEST_MS: u64 = 20;

/// Whether more threads would serve a request that waited a whole tick:
/// yes when the admitted threads are blocked in the application, or have
/// each been on their request for a while (a long computation, which the
/// GIL shares every 5 ms). Not when the requests are short and the threads
/// only wait for a CPU (a loaded machine): more threads would then only
/// queue for the GIL and the CPUs, and the waiting request is served next.
fn widening_helps(st: &State) -> bool {
    match st.admission.seen() {
        Seen::NoneRunning => true,
        Seen::NoneServing => false,
        Seen::SomeRunning => {
            let now = now_ms();
            let mut serving = st.started.iter().map(|a| a.load(Ordering::SeqCst)).filter(|&t0| t0 > 0).peekable();
            serving.peek().is_some() && serving.all(|t0| now.saturating_sub(t0) >= LONG_REQUEST_MS)
        }
    }
}

/// One worker thread (with its own pool): takes requests until the daemon
/// stops; `s` is the main server of the running configuration.
pub fn worker(idx: usize, st: std::sync::Arc<State>, lfd: i32, _pool: ThreadPool, s: KeptServer) {
    let spec = super::current().expect("a daemon");
    let server = s.get();
    let httpd_timeout = server.rec().timeout;
    let timeout = spec
        .socket_timeout
        .unwrap_or_else(|| Duration::from_micros(httpd_timeout.max(1_000_000) as u64));
    let h = hub(lfd);
    static WATCHER: std::sync::Once = std::sync::Once::new();
    WATCHER.call_once(|| {
        let st = st.clone();
        let _ = std::thread::Builder::new().name("pyrite-watch".into()).spawn(move || watch(h, st));
    });
    let mut ev = [epoll::NO_EVENT];
    let mut accepted = 0u64;
    let mut plan = Plan::default();
    // Kept from one request to the next while the limit allows it.
    let mut place = None;
    while !st.stopping.load(Ordering::SeqCst) {
        // Only admitted threads take requests (see admission.rs).
        if place.as_ref().is_some_and(|p: &super::admission::Place| !p.holds()) {
            place = None; // given back: the limit came down
        }
        if place.is_none() {
            place = st.admission.enter(idx, &st.stopping);
        }
        let Some(place) = place.as_ref() else {
            break;
        };
        h.free.fetch_add(1, Ordering::SeqCst);
        // One event of the set; 250 ms so a stop is seen soon.
        let n = h.ep.wait(&mut ev, 250);
        h.free.fetch_sub(1, Ordering::SeqCst);
        if n == 0 {
            continue;
        }
        let key = ev[0].u64;
        let (conn, first) = if key == LISTENER {
            // A non-blocking accept on the listener; none when another daemon took it.
            let Some(fd) = os::accept(h.lfd) else {
                continue;
            };
            h.rotate();
            os::set_socket_timeouts(&fd, timeout);
            if let Some(uid) = peer_allowed(&fd) {
                server.log(
                    log::APLOG_ERR,
                    &format!("mod_pyrite: daemon group {:?}: refused a connection from uid {uid}", spec.name),
                );
                drop(fd); // closed
                continue;
            }
            accepted += 1;
            server.log(
                log::APLOG_DEBUG,
                &format!(
                    "mod_pyrite: daemon {} of group {:?} took a new connection",
                    std::process::id(),
                    spec.name
                ),
            );
            let id = ((std::process::id() as i64) << 24) + ((accepted as i64) << 6) + idx as i64;
            // fd is given up to the Connection.
            match hd::Connection::open(fd, server, id) {
                Some(c) => (c, true),
                None => continue,
            }
        } else {
            match h.take(key as i32) {
                Some(c) => (c, false),
                None => continue,
            }
        };
        let mut conn = conn;
        place.serving();
        loop {
            let Some(c) = serve(conn, idx, &st, server, &spec.name, &mut plan) else {
                break;
            };
            if st.stopping.load(Ordering::SeqCst) {
                break;
            }
            if c.pending() {
                conn = c; // its next request is in already: no event will say so
                continue;
            }
            h.keep(c, first);
            break;
        }
        place.idle();
    }
    // Kept connections close before pickup: their children go elsewhere.
    if let Some(h) = HUB.get() {
        h.kept.locked().clear();
    }
}

/// Serves the request waiting on `conn`; gives the connection back when it
/// may carry another.
/// (`plan`: the thread's, reused for each request.)
fn serve(conn: hd::Connection, idx: usize, st: &State, s: &Server, group: &str, plan: &mut Plan) -> Option<hd::Connection> {
    META.with(|cell| serve_with(conn, idx, st, s, group, cell, plan))
}

/// [`serve`], with the thread's frame (read into the same Meta each time).
fn serve_with(
    mut conn: hd::Connection,
    idx: usize,
    st: &State,
    s: &Server,
    group: &str,
    cell: &RefCell<Meta>,
    plan: &mut Plan,
) -> Option<hd::Connection> {
    let fd = conn.fd();
    let mut head = [0u8; 8];
    if !conn.read_exact(&mut head) {
        return None; // the child closed it, or gave up
    }
    if let Err(e) = Meta::body_len(&head).and_then(|n| {
        let mut meta = cell.borrow_mut();
        if conn.read_exact(meta.body_to_fill(n)) {
            meta.index()
        } else {
            Err("the request frame was cut short".into())
        }
    }) {
        s.log(log::APLOG_ERR, &format!("mod_pyrite: daemon group {group:?}: {e}"));
        return None;
    }
    // Read only from here on (the post_read_request hook reads it too).
    let meta = cell.borrow();
    // Taken through the shared slot (the child's deadline decides there), or
    // with the pickup byte (the deadline is judged here).
    let slot = meta
        .get_str("slot")
        .and_then(|v| v.parse::<usize>().ok())
        .zip(meta.get_str("ticket").and_then(|v| v.parse::<u64>().ok()));
    // The child waits for the pickup until its deadline (queue-timeout): past
    // it, the child has answered 503 and the request must not run.
    if let (None, Some(deadline)) = (slot, meta.get_str("deadline_ms").and_then(|v| v.parse::<u64>().ok())) {
        if super::frame::monotonic_ms() >= deadline {
            s.log(
                log::APLOG_INFO,
                &format!("mod_pyrite: daemon group {group:?}: a request waited past its queue deadline and is not run"),
            );
            return None;
        }
    }
    // Counted before the pickup and the stop looked at after: a stopping
    // daemon either waits for this request or never confirms it.
    st.in_flight.fetch_add(1, Ordering::SeqCst);
    let done = |st: &State| st.in_flight.fetch_sub(1, Ordering::SeqCst);
    if st.stopping.load(Ordering::SeqCst) {
        done(st);
        return None;
    }
    match slot {
        Some((index, ticket)) => {
            if super::pickup::take(index, ticket) != super::pickup::Take::Taken {
                s.log(
                    log::APLOG_INFO,
                    &format!("mod_pyrite: daemon group {group:?}: a request waited past its queue deadline and is not run"),
                );
                done(st);
                return None;
            }
        }
        // One byte to a socket this thread now serves; no SIGPIPE. Sent before
        // the deadline, so the child finds it even if it looks at the last moment.
        None => {
            if os::send_nosignal(fd, &[PICKED_UP]) != 1 {
                done(st);
                return None;
            }
        }
    }
    st.started[idx].store(now_ms(), Ordering::SeqCst);
    let port = |k: &str| meta.get_str(k).and_then(|v| v.parse().ok()).unwrap_or(0);
    let peer = hd::Peer {
        client_ip: meta.get_str("client_ip").unwrap_or(""),
        client_port: port("client_port"),
        local_ip: meta.get_str("local_ip").unwrap_or(""),
        local_port: port("local_port"),
    };
    // A child that ran httpd's request cycle sends the plan of the request:
    // the daemon then runs only the application (see wsgi::plan).
    let planned = plan.fill_from(&meta);
    let plan = &*plan;
    let mut run = |r: &ffi::request::Request| match RUN_PLANNED.get() {
        Some(run) => run(r, plan),
        None => raw::HTTP_INTERNAL_SERVER_ERROR as c_int,
    };
    let handler: Option<&mut dyn FnMut(&ffi::request::Request) -> c_int> = if planned { Some(&mut run) } else { None };
    // This thread alone uses conn now, and it has a request waiting; the
    // post_read_request hook finds the frame in META meanwhile.
    SERVING.with(|f| f.set(true));
    let again = conn.serve_one(&peer, handler);
    SERVING.with(|f| f.set(false));
    drop(meta);
    st.started[idx].store(0, Ordering::SeqCst);
    st.last_done.store(now_ms() / 1000, Ordering::SeqCst);
    let served = st.served.fetch_add(1, Ordering::SeqCst) + 1;
    done(st);
    let spec = super::current().expect("a daemon");
    if spec.maximum_requests > 0 && served >= spec.maximum_requests {
        st.request_stop(format!("maximum-requests={} reached", spec.maximum_requests));
    }
    again.then_some(conn)
}

/// Whether the connecting process may hand requests over: root (httpd's
/// parent) or the user httpd's children run as (or socket-user=). The
/// socket's mode already says so; this holds even if its file was tampered with.
fn peer_allowed(fd: &std::os::fd::OwnedFd) -> Option<u32> {
    let Some(uid) = os::peer_uid(fd) else {
        return Some(u32::MAX);
    };
    let allowed = uid == 0
        || uid == hd::httpd_ids().0
        || super::current().and_then(|g| g.socket_user.as_deref()).and_then(super::process::user_id) == Some(uid)
        // A daemon not started as root runs as httpd's own user.
        || uid == os::uid();
    if allowed {
        None
    } else {
        Some(uid)
    }
}

/// post_read_request in a daemon: gives the request what the child knew of
/// the client (protocol, address, user, variables, the headers it did not pass on).
pub struct PostReadRequest;

impl ffi::hooks::RequestHook for PostReadRequest {
    const ON_PANIC: c_int = raw::DECLINED;
    fn run(r: &ffi::request::Request) -> c_int {
        if super::current().is_some() && SERVING.with(|f| f.get()) {
            META.with(|m| apply_meta(r, &m.borrow()));
        }
        raw::DECLINED
    }
}

fn apply_meta(r: &ffi::request::Request, meta: &Meta) {
    // The client's protocol, for the application; the connection from the
    // child stays HTTP/1.1 (proto_num), so it is kept whatever the client
    // speaks: the child frames the response for the client.
    if let Some(proto) = meta.get("protocol") {
        let _ = r.set_protocol(Some(proto));
    }
    if let Some(ip) = meta.get("useragent_ip") {
        let _ = r.set_useragent_ip(Some(ip));
    }
    if let Some(u) = meta.get("user") {
        let _ = r.set_user(Some(u));
    }
    if let Some(a) = meta.get("auth_type") {
        let _ = r.set_ap_auth_type(Some(a));
    }
    let env = r.subprocess_env();
    for (k, v) in meta.with_prefix("env:") {
        let _ = env.set(k, v);
    }
    let headers = r.headers_in();
    for (k, v) in meta.with_prefix("hdr:") {
        if k.eq_ignore_ascii_case(b"connection") {
            // Seen by the application (HTTP_CONNECTION) but not by httpd
            // here: the client's wish is for its own connection, not this one.
            let _ = env.set(b"HTTP_CONNECTION", v);
            continue;
        }
        let _ = headers.set(k, v);
    }
    for (k, _) in meta.with_prefix("drop:") {
        let _ = headers.unset(k);
    }
}

/// The daemon's watch over itself, once a second: httpd's parent gone,
/// restart-interval, inactivity-timeout, request-timeout.
pub fn monitor(st: std::sync::Arc<State>, spec: &super::options::GroupSpec, s: KeptServer) {
    let s = s.get();
    let parent = crate::ffi::process::httpd_parent();
    let born = std::time::Instant::now();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        if st.stopping.load(Ordering::SeqCst) {
            return;
        }
        if os::parent_pid() != parent {
            st.request_stop("httpd's parent is gone".into());
            return;
        }
        if let Some(t) = spec.restart_interval {
            if born.elapsed() >= t {
                st.request_stop(format!("restart-interval={}s reached", t.as_secs()));
                return;
            }
        }
        if let Some(t) = spec.inactivity_timeout {
            let idle = now_ms() / 1000 - st.last_done.load(Ordering::SeqCst);
            if st.in_flight.load(Ordering::SeqCst) == 0 && idle >= t.as_secs() {
                st.request_stop(format!("inactivity-timeout={}s reached", t.as_secs()));
                return;
            }
        }
        if let Some(t) = spec.request_timeout {
            let now = now_ms();
            let stuck = st
                .started
                .iter()
                .map(|a| a.load(Ordering::SeqCst))
                .filter(|&t0| t0 > 0 && now - t0 >= t.as_millis() as u64)
                .count();
            if stuck > 0 {
                s.log(log::APLOG_ERR, &format!(
                    "mod_pyrite: daemon {} of group {:?}: {stuck} request(s) ran past request-timeout={}s; restarting the process (its requests are cut)",
                    std::process::id(), spec.name, t.as_secs()
                ));
                crate::metrics::groups::exiting(&format!("request-timeout={}s reached", t.as_secs()));
                // Leaves at once, as request-timeout promises.
                ffi::process::exit_now(3);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_requests_on_a_cpu_do_not_widen_the_admission_but_long_ones_do() {
        let st = State::new(4);
        let stop = AtomicBool::new(false);
        let place = st.admission.enter(0, &stop).expect("a place");
        assert!(!widening_helps(&st), "no thread serves a request");
        // This thread serves a request it took just now, and runs.
        place.serving();
        st.started[0].store(now_ms(), Ordering::SeqCst);
        assert!(!widening_helps(&st), "a short request waiting for a CPU");
        // The same request, running for a while: a long computation.
        st.started[0].store(now_ms() - 2 * LONG_REQUEST_MS, Ordering::SeqCst);
        assert!(widening_helps(&st), "a long computation");
        place.idle();
        st.started[0].store(0, Ordering::SeqCst);
        assert!(!widening_helps(&st));
    }
}
