//! Python filters (PythonOutputFilter, PythonInputFilter, req.register_*_filter,
//! req.add_*_filter) and PythonConnectionHandler, against a real httpd.
mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};

fn site() -> String {
    let filters = "PythonPath \"sys.path+['{HANDLERS}']\"\n\
        PythonOutputFilter filters UPCASE\n\
        PythonOutputFilter filters::counting COUNT\n\
        PythonOutputFilter filters::lines LINES\n\
        PythonOutputFilter filters::raising RAISES\n\
        PythonOutputFilter filters::passer PASS\n\
        PythonOutputFilter filters::disabler DISABLE\n\
        PythonOutputFilter filters::forgets_close NOCLOSE\n\
        PythonOutputFilter filters::reentrant REENTRANT\n\
        PythonInputFilter filters UPIN\n";
    let mut s = filters.to_string();
    s += &location("/up", "filters", "  SetOutputFilter UPCASE");
    s += &location("/count", "filters", "  SetOutputFilter COUNT");
    s += &location("/lines", "filters::multiline", "  SetOutputFilter LINES");
    s += &location("/raises", "filters", "  SetOutputFilter RAISES");
    s += &location("/chain", "filters", "  SetOutputFilter COUNT;UPCASE");
    s += &location("/pass", "filters", "  SetOutputFilter PASS");
    s += &location("/disable", "filters", "  SetOutputFilter DISABLE;COUNT");
    s += &location("/noclose", "filters", "  SetOutputFilter NOCLOSE");
    s += &location("/reentrant", "filters", "  SetOutputFilter REENTRANT");
    s += &location("/echo", "filters::echo", "  SetInputFilter UPIN");
    s += &location("/plain-echo", "filters::echo", "");
    s += &location("/dynamic", "filters::dynamic", "");
    s += &location("/dynamic-in", "filters::dynamic_input", "");
    s += &location("/unknown", "filters::unknown_filter", "");
    s += &location("/late", "filters::late_use", "");
    s += "<Location /index.txt>\n  SetOutputFilter UPCASE\n</Location>\n";
    s += "WSGIScriptAlias /wsgi {HANDLERS}/wsgi_apps.py callable-object=hello\n<Location /wsgi>\n  SetOutputFilter UPCASE\n</Location>\n";
    s
}

fn check_filters(mpm: Mpm) {
    let h = Httpd::start(mpm, &site());
    let r = h.get("/up");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "HELLO FILTERED WORLD\n");

    // One call per flushed brigade, plus the end; the filter keeps state on req.
    let r = h.get("/count");
    assert_eq!(r.status, 200);
    let t = r.text();
    assert!(t.starts_with("hello filtered world\n[calls="), "{t}");
    let calls: u32 = t.split("calls=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(calls >= 2, "a flushing handler gives the filter several calls: {t}");
    assert!(t.ends_with("name=COUNT input=False]"), "{t}");

    let r = h.get("/lines");
    assert_eq!(r.text(), "1: line 0\n2: line 1\n3: line 2\n");

    // Two Python filters in a chain, and a static file and a WSGI app filtered.
    let r = h.get("/chain");
    assert!(r.text().starts_with("HELLO FILTERED WORLD\n[CALLS="), "{}", r.text());
    let r = h.get("/index.txt");
    assert_eq!(r.text(), "STATIC FILE\n");
    let r = h.get("/wsgi");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), r.text().to_uppercase());
    assert!(!r.text().is_empty());

    // req.write from inside the filter the request's output is passing through: refused, no hang.
    let t = h.get("/reentrant").text();
    assert!(t.starts_with("refused(req.write called from inside a filter"), "{t}");
    assert!(t.contains("hello "), "{t}");

    // pass_on, disable, and a filter that never closes.
    assert_eq!(h.get("/pass").text(), "hello filtered world\n");
    let t = h.get("/disable").text();
    assert!(t.starts_with("hello filtered world\n[calls="), "{t}");
    assert_eq!(h.get("/noclose").text(), "hell0 filtered w0rld\n");

    // Input filter: the handler reads the filtered body, also a large one in pieces.
    let r = h.request("POST", "/echo", &[], b"some body text");
    assert!(r.text().starts_with("len=14 "), "{}", r.text());
    assert!(r.text().ends_with("head=SOME BODY TEXT"), "{}", r.text());
    let big: Vec<u8> = (0..3_000_000u32).map(|i| b"abcdefghij"[(i % 10) as usize]).collect();
    let upper: Vec<u8> = big.to_ascii_uppercase();
    let want = h.request("POST", "/plain-echo", &[], &upper).text();
    let got = h.request("POST", "/echo", &[], &big).text();
    assert_eq!(got, want, "the filtered body equals the upper-cased one");
    let r = h.request("POST", "/echo", &[("Transfer-Encoding", b"chunked")], &chunked(b"chunked body", 5));
    assert!(r.text().ends_with("head=CHUNKED BODY"), "{}", r.text());

    // Filters registered and added at run time.
    assert_eq!(h.get("/dynamic").text(), "fedcba");
    let r = h.request("POST", "/dynamic-in", &[], b"lower");
    assert!(r.text().ends_with("head=LOWER"), "{}", r.text());
    let t = h.get("/unknown").text();
    assert!(t.starts_with("refused: no output filter named 'NO_SUCH_FILTER'"), "{t}");
    let t = h.get("/late").text();
    assert!(t.contains("refused: this filter call has ended"), "{t}");

    // A raising filter: a clean 500, a log line with the traceback, and the child goes on.
    for _ in 0..3 {
        let r = h.get("/raises");
        assert_eq!(r.status, 500, "{}", r.text());
        assert!(!r.text().contains("Traceback"), "{}", r.text());
        assert_eq!(h.get("/up").text(), "HELLO FILTERED WORLD\n");
    }
    let log = h.stop();
    assert!(log.contains("PythonOutputFilter filters::raising RAISES"), "{log}");
    assert!(log.contains("ValueError: boom in a filter"), "{log}");
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn filters_event() {
    check_filters(Mpm::Event);
}

#[test]
fn filters_prefork() {
    check_filters(Mpm::Prefork);
}

#[test]
fn filter_directive_errors() {
    let h = Httpd::prepare(Mpm::Event, "PythonOutputFilter not/a/module UP\n");
    let out = h.apachectl("configtest");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("PythonOutputFilter") && err.contains("not/a/module"), "{err}");
    let h = Httpd::prepare(Mpm::Event, "PythonInputFilter mod \"bad name\"\n");
    let out = h.apachectl("configtest");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("is not a filter name"), "{err}");
}

/// A server-speaks-first protocol needs its own Listen protocol name: for
/// "http" httpd defers accept() until the client sends data.
fn conn_site(port2: u16) -> String {
    format!(
        "Listen 127.0.0.1:{port2} pyecho\n<VirtualHost 127.0.0.1:{port2}>\n  PythonPath \"sys.path+['{{HANDLERS}}']\"\n  \
         PythonConnectionHandler conn_echo\n</VirtualHost>\n{}",
        location("/up", "filters", "")
    )
}

fn check_connection_handler(mpm: Mpm) {
    let port2 = free_port();
    let h = Httpd::start(mpm, &conn_site(port2));
    for _ in 0..3 {
        let s = std::net::TcpStream::connect(("127.0.0.1", port2)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.starts_with("hello from pid ") && line.ends_with("on 127.0.0.1\n"), "{line}");
        w.write_all(b"first line\nsecond\n").unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "echo: first line\n");
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "echo: second\n");
        // conn.read(n) waits for the rest of what was asked.
        w.write_all(b"read 12\nabcdef").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        w.write_all(b"ghijkl").unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "read 12 bytes: abcdefghij\n");
        w.write_all(b"split\nabcdefgh\n").unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(
            line, "split: abcd|efgh\n",
            "readline(4) keeps the rest of the line for the next read"
        );
        w.write_all(b"quit\n").unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "bye\n");
        line.clear();
        assert_eq!(
            r.read_line(&mut line).unwrap(),
            0,
            "the server closes the connection after the handler"
        );
    }
    // A client that goes away, and a handler that raises: logged, the child goes on.
    {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port2)).unwrap();
        s.write_all(b"half a li").unwrap();
    }
    {
        let s = std::net::TcpStream::connect(("127.0.0.1", port2)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        w.write_all(b"raise\n").unwrap();
        line.clear();
        assert_eq!(r.read_line(&mut line).unwrap_or(0), 0, "closed after the exception");
    }
    // HTTP on the main port is untouched.
    assert_eq!(h.get("/up").text(), "hello filtered world\n");
    let log = h.stop();
    assert!(log.contains("PythonConnectionHandler conn_echo"), "{log}");
    assert!(log.contains("RuntimeError: connection handler failed on purpose"), "{log}");
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn connection_handler_event() {
    check_connection_handler(Mpm::Event);
}

#[test]
fn connection_handler_prefork() {
    check_connection_handler(Mpm::Prefork);
}

#[test]
fn connection_handler_worker() {
    check_connection_handler(Mpm::Worker);
}
