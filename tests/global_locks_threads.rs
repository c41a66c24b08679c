//! Global locks are owned by the request that took them, not by an OS thread:
//! a Python thread may release them, and the request-end release works when
//! httpd runs the request pool's cleanup on another worker thread (event MPM,
//! asynchronous write completion). With the APR global mutexes mod_pyrite
//! used before, the release from a Python thread raised ("APR error 1",
//! EPERM from the process-shared pthread mutex) and left the lock held.
mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

fn site() -> String {
    "PythonOption scratch {SCRATCH}\nPythonOption mod_python.mutex_locks 16\n".to_string()
        + &location("/handoff", "locking::handoff", "")
        + &location("/trylock", "locking::trylock", "")
        + &location("/leakbig", "locking::leak_big", "")
        + &location("/nap", "locking::nap", "")
        + &location("/misuse", "locking::misuse", "")
}

fn wait_file(p: &Path, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if p.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A request takes a lock and a Python thread releases it (the raw
/// `_global_unlock` or `apache.global_lock`'s `__exit__`); while the request
/// is still running, another request (any process) can take the lock.
fn released_from_a_python_thread(mpm: Mpm) {
    let h = std::sync::Arc::new(Httpd::start(mpm, &site()));
    for (via, idx) in [("raw", 3), ("ctx", 4)] {
        let key = format!("handoff-{via}");
        let path = format!("/handoff?key={key}&idx={idx}&via={via}&hold=3");
        let holder = {
            let h = h.clone();
            std::thread::spawn(move || h.get(&path).text())
        };
        let marker = h.root.join(format!("scratch/handoff-{key}"));
        assert!(
            wait_file(&marker, Duration::from_secs(20)),
            "{mpm:?} {via}: the handler never got past its thread"
        );
        let in_thread = std::fs::read_to_string(&marker).unwrap();
        // The first request is still in its 3 s sleep: only a real release frees the lock now.
        let during = h.get(&format!("/trylock?key={key}&idx={idx}")).text();
        let answer = holder.join().unwrap();
        println!("{mpm:?}, release via {via}: thread said {in_thread:?}; trylock while the request ran: {during}");
        assert_eq!(in_thread, "released_in_thread=ok", "{mpm:?} {via}");
        assert_eq!(during, "free", "{mpm:?} {via}: released by a Python thread but still held");
        assert_eq!(answer, "released_in_thread=ok");
        assert_eq!(h.get(&format!("/trylock?key={key}&idx={idx}")).text(), "free");
    }
    let log = h.error_log();
    assert!(
        !log.contains("was still held"),
        "nothing was left for the request end to release:\n{log}"
    );
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn a_lock_released_by_a_python_thread_is_free_at_once_event() {
    released_from_a_python_thread(Mpm::Event);
}

#[test]
fn a_lock_released_by_a_python_thread_is_free_at_once_prefork() {
    released_from_a_python_thread(Mpm::Prefork);
}

#[test]
fn misuse_raises_instead_of_waiting_for_itself() {
    let h = Httpd::start(Mpm::Event, &site());
    let r = h.get("/misuse");
    assert_eq!(
        r.text(),
        "unlock_not_held=ValueError lock_again=RuntimeError other_key_same_lock=RuntimeError trylock_own=False \
         unlock_twice=ValueError trylock_after=True bad_index=ValueError"
    );
    assert_eq!(h.get("/trylock?key=m&idx=2").text(), "free");
}

/// A client socket with a small receive buffer (set before connecting, so
/// the window stays small): with httpd's `SendBufferSize` also small, a 4 MB
/// response cannot sit in the kernel's loopback buffers, so httpd still holds
/// some of it when the handler returns.
fn connect_with_small_receive_buffer(port: u16) -> TcpStream {
    use std::os::fd::FromRawFd;
    // SAFETY: a new socket, owned by the TcpStream made from it below on success and closed on failure.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let size: libc::c_int = 32768;
        let sp = &size as *const libc::c_int as *const libc::c_void;
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, sp, std::mem::size_of::<libc::c_int>() as u32);
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        let ap = &addr as *const libc::sockaddr_in as *const libc::sockaddr;
        if libc::connect(fd, ap, std::mem::size_of::<libc::sockaddr_in>() as u32) != 0 {
            libc::close(fd);
            panic!("connect: {}", std::io::Error::last_os_error());
        }
        TcpStream::from_raw_fd(fd)
    }
}

/// What one slow-reader run saw.
struct LeakRun {
    /// The lock was still held after the handler returned (the request had not ended).
    held_after_return: bool,
    /// The warning's thread differs from the handler's.
    other_thread: bool,
    released: bool,
}

fn tid_of_line(log: &str, needle: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains(needle))?;
    let at = line.find(":tid ")? + 5;
    Some(line[at..].chars().take_while(|c| c.is_ascii_digit()).collect())
}

/// Leaves lock `idx` held by a request whose 4 MB response a client reads
/// slowly: the handler returns with output still queued, so the request ends
/// (and its pool's cleanup runs) during write completion, handled by
/// whichever worker thread the listener picks when the socket drains. While
/// the client pauses, other requests keep workers busy so that the original
/// thread is less likely to be the idle one.
fn leak_during_async_write(h: &Httpd, idx: usize) -> LeakRun {
    let mut s = connect_with_small_receive_buffer(h.port);
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(format!("GET /leakbig?idx={idx}&n=4194304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let marker = h.root.join(format!("scratch/returned-{idx}"));
    let mut data = Vec::new();
    let mut buf = vec![0u8; 16384];
    let deadline = Instant::now() + Duration::from_secs(60);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the handler never returned");
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "response ended before the handler returned");
        data.extend_from_slice(&buf[..n]);
        std::thread::sleep(Duration::from_millis(5));
    }
    // The handler has returned; the client stops reading for a moment.
    let needle = format!("global lock {idx} was still held when its request ended: released");
    let nappers: Vec<_> = (0..10)
        .map(|_| {
            let port = h.port;
            std::thread::spawn(move || request(port, "GET", "/nap?secs=0.6", &[], b"").status)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let held_after_return = h.get(&format!("/trylock?key=x&idx={idx}")).text() == "busy" && !h.error_log().contains(&needle);
    s.read_to_end(&mut data).unwrap();
    let resp = parse_response(&data, false);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), 4194304, "the whole response arrived");
    for n in nappers {
        assert_eq!(n.join().unwrap(), 200);
    }
    let log = h.wait_log(&needle);
    let handler_tid = resp.header_str("x-tid").unwrap();
    let cleanup_tid = tid_of_line(&log, &needle);
    let released = cleanup_tid.is_some() && h.get(&format!("/trylock?key=x&idx={idx}")).text() == "free";
    println!(
        "lock {idx}: handler on tid {handler_tid}, released at request end on tid {cleanup_tid:?}; \
         still held after the handler returned: {held_after_return}"
    );
    LeakRun {
        held_after_return,
        other_thread: cleanup_tid.as_deref().is_some_and(|t| t != handler_tid),
        released,
    }
}

/// The request-end release on another thread. httpd picks the thread, so a
/// run cannot force it; the test repeats until at least one run had the
/// cleanup asynchronous and on another thread (every run must release).
#[test]
fn a_forgotten_lock_is_released_when_write_completion_ends_the_request_on_another_thread() {
    let h = Httpd::start(Mpm::Event, &("SendBufferSize 32768\n".to_string() + &site()));
    let mut runs = Vec::new();
    for idx in 1..=10 {
        let run = leak_during_async_write(&h, idx);
        assert!(run.released, "lock {idx} stayed held after its request ended:\n{}", h.error_log());
        runs.push(run);
        if runs.iter().filter(|r| r.held_after_return && r.other_thread).count() >= 2 {
            break;
        }
    }
    let crossed = runs.iter().filter(|r| r.held_after_return && r.other_thread).count();
    println!(
        "{} runs: {} ended asynchronously, {} with the cleanup on another thread, {} both",
        runs.len(),
        runs.iter().filter(|r| r.held_after_return).count(),
        runs.iter().filter(|r| r.other_thread).count(),
        crossed
    );
    assert!(
        crossed >= 1,
        "no run had the request end on another thread: the case was not exercised"
    );
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}
