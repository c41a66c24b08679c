//! PSP templates (`PythonHandler mod_python.psp` and `psp.PSP` from a
//! handler), CGI scripts through `mod_python.cgihandler`, and the `#python`
//! element of server-side includes.
mod common;
use common::*;
use std::path::Path;

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/handlers")
}

/// Copies the fixture directory `from` (under tests/handlers) to `to` under the DocumentRoot.
fn install_site(h: &Httpd, from: &str, to: &str) {
    fn walk(h: &Httpd, dir: &Path, rel: &str) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let sub = format!("{rel}/{name}");
            if e.path().is_dir() {
                walk(h, &e.path(), &sub);
            } else {
                h.write_doc(&sub, &std::fs::read(e.path()).unwrap());
            }
        }
    }
    walk(h, &fixtures().join(from), to);
}

fn psp_site() -> String {
    let mut s = String::new();
    for (dir, debug) in [("psp", "Off"), ("pspdebug", "On")] {
        s += &format!(
            "<Directory {{DOCS}}/{dir}>\n  SetHandler mod_python\n  PythonHandler mod_python.psp\n  PythonDebug {debug}\n</Directory>\n"
        );
    }
    s + &location("/use-psp", "psp_use", "")
}

fn start_psp(mpm: Mpm) -> Httpd {
    let h = Httpd::start(mpm, &psp_site());
    install_site(&h, "psp_site", "psp");
    install_site(&h, "psp_site", "pspdebug");
    h
}

fn lines(body: &str) -> Vec<&str> {
    body.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

#[test]
fn psp_page_with_text_code_expressions_loop_and_include() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        let h = start_psp(mpm);
        let r = h.get("/psp/page.psp");
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.header_str("content-type").unwrap().starts_with("text/html"));
        assert_eq!(
            lines(&r.text()),
            vec![
                "<html>",
                "<p>Quote \" and backslash \\n stay</p>",
                "<li>0=a</li>",
                "<li>1=b</li>",
                "<li>2=c</li>",
                "<footer>3 items</footer>",
                "</html>",
            ]
        );
        let log = h.stop();
        assert!(crash_lines(&log).is_empty(), "{log}");
    }
}

#[test]
fn malformed_template_is_500_with_file_and_line_in_the_log_only() {
    let h = start_psp(Mpm::Worker);
    let r = h.get("/psp/unclosed.psp");
    assert_eq!(r.status, 500);
    let body = r.text();
    assert!(!body.contains("Traceback") && !body.contains("never closed"), "leaked: {body}");
    let log = h.wait_log("code block '<%' is never closed");
    assert!(
        log.contains("unclosed.psp, line 3: code block '<%' is never closed with '%>'"),
        "{log}"
    );

    let r = h.get("/psp/badpython.psp");
    assert_eq!(r.status, 500);
    assert!(!r.text().contains("IndentationError"), "{}", r.text());
    let log = h.wait_log("IndentationError");
    assert!(
        log.contains("badpython.psp\", line 3"),
        "the Python error points at the template line: {log}"
    );

    // The child keeps serving templates.
    assert_eq!(h.get("/psp/page.psp").status, 200);
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn python_debug_shows_generated_code_for_an_underscore_url() {
    let h = start_psp(Mpm::Event);
    let r = h.get("/pspdebug/page.psp_");
    assert_eq!(r.status, 200);
    let body = r.text();
    assert!(body.contains("PSP-produced Python Code:"), "{body}");
    assert!(body.contains("for&nbsp;n,&nbsp;item&nbsp;in&nbsp;enumerate(items):"), "{body}");
    assert!(body.contains("req.write(&quot;&quot;&quot;"), "{body}");
    // Without PythonDebug the source stays private: no such file.
    assert_eq!(h.get("/psp/page.psp_").status, 404);
    // With PythonDebug a template error reaches the client with its traceback.
    let r = h.get("/pspdebug/unclosed.psp");
    assert_eq!(r.status, 500);
    assert!(r.text().contains("line 3: code block"), "{}", r.text());
}

#[test]
fn error_page_receives_the_exception() {
    let h = start_psp(Mpm::Event);
    let r = h.get("/psp/errpage.psp");
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.text();
    assert!(body.contains("before"), "{body}");
    assert!(body.contains("error page: boom 4711 (ValueError)"), "{body}");
}

#[test]
fn edited_template_and_edited_include_are_reloaded() {
    let one_child = "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";
    let h = Httpd::start(Mpm::Event, &(psp_site() + one_child));
    h.write_doc("psp/reload.psp", b"v1 <%= 40 + 1 %> <%@ include file=\"part.psp\" %>");
    h.write_doc("psp/part.psp", b"part1");
    assert_eq!(h.get("/psp/reload.psp").text(), "v1 41 part1");
    assert_eq!(h.get("/psp/reload.psp").text(), "v1 41 part1", "served from the cache");
    h.write_doc("psp/reload.psp", b"v2 <%= 40 + 2 %> <%@ include file=\"part.psp\" %>");
    assert_eq!(h.get("/psp/reload.psp").text(), "v2 42 part1");
    h.write_doc("psp/part.psp", b"part2, longer");
    assert_eq!(h.get("/psp/reload.psp").text(), "v2 42 part2, longer");
}

#[test]
fn psp_from_a_handler_with_a_string_template() {
    let h = start_psp(Mpm::Event);
    let r = h.get("/use-psp");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        "Hello world!\n0,1,2,\na=1 b=2 sum=42 (req given)\n\
         source starts: req.write(\"\"\"t\"\"\",0)\n\
         error: <string>, line 2: expression '<%=' is never closed with '%>' line 2\n\
         both: Must specify either filename or string\n\
         n=5 x=40\nno session here\nsaved=1 unlocked=1\n"
    );
}

fn cgi_site() -> String {
    "<Directory {DOCS}/cgi>\n  SetHandler mod_python\n  PythonHandler mod_python.cgihandler\n</Directory>\n".to_string()
        + &location("/state", "cgi_state", "")
}

#[test]
fn cgi_script_headers_body_and_environment() {
    let h = Httpd::start(Mpm::Worker, &cgi_site());
    install_site(&h, "cgi_site", "cgi");
    let r = h.get("/cgi/hello.py?a=1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header_str("content-type").as_deref(), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header_str("x-cgi").as_deref(), Some("yes"));
    assert_eq!(
        r.text(),
        "method=GET query=a=1\ngateway=Python-CGI/1.1\ncwd=cgi\nname=__main__ argv=hello.py\nhelper=from beside the script\n"
    );

    let r = h.request("POST", "/cgi/post.py", &[("Content-Type", b"text/plain")], b"posted body");
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.text(), "got 11 bytes: posted body");

    let r = h.get("/cgi/redirect.py");
    assert_eq!(r.status, 302);
    assert_eq!(r.header_str("location").as_deref(), Some("http://example.com/elsewhere"));

    let r = h.get("/cgi/noheader.py");
    assert_eq!(r.status, 500);
    assert!(!r.text().contains("just some text"), "{}", r.text());
    let log = h.wait_log("malformed header from script");
    assert!(log.contains("noheader.py"), "{log}");
    assert_eq!(h.get("/cgi/missing.py").status, 404);
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn raising_cgi_script_leaves_the_process_globals_intact() {
    let one_child = "StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";
    let h = Httpd::start(Mpm::Event, &(cgi_site() + one_child));
    install_site(&h, "cgi_site", "cgi");
    let before = h.get("/state").text();
    assert!(before.contains("cgi_env=False"), "{before}");
    let r = h.get("/cgi/raises.py");
    assert_eq!(r.status, 500);
    assert!(!r.text().contains("cgi script failed"), "{}", r.text());
    h.wait_log("RuntimeError: cgi script failed 9876");
    assert_eq!(h.get("/state").text(), before);
    // A script that succeeds afterwards still sees its own stdin/stdout.
    assert_eq!(h.get("/cgi/hello.py").status, 200);
    assert_eq!(h.get("/state").text(), before);
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
}

fn ssi_site() -> String {
    format!(
        "LoadModule include_module {MODULES}/mod_include.so\nAddType text/html .shtml\n\
         <Directory {{DOCS}}/ssi>\n  Options +Includes\n  AddOutputFilter INCLUDES .shtml\n\
         PythonPath \"sys.path+['{{HANDLERS}}']\"\n  PythonFixupHandler ssi_setup\n</Directory>\n\
         <Directory {{DOCS}}/ssinoexec>\n  Options IncludesNOEXEC\n  AddOutputFilter INCLUDES .shtml\n</Directory>\n{}",
        location("/ssi-handler", "ssi_handler", "  Options +Includes\n  SetOutputFilter INCLUDES")
    )
}

#[test]
fn ssi_python_exec_and_eval() {
    for mpm in [Mpm::Event, Mpm::Prefork] {
        let h = Httpd::start(mpm, &ssi_site());
        install_site(&h, "ssi_site", "ssi");
        let r = h.get("/ssi/page.shtml");
        assert_eq!(r.status, 200);
        let body = r.text();
        assert!(body.starts_with("exec wrote 42\n"), "{body}");
        assert!(body.contains("|43||/ssi/page.shtml|hi from the fixup|\n"), "{body}");
        assert!(body.contains("[an error occurred while processing this directive]"), "{body}");
        assert!(!body.contains("hidden"), "{body}");
        assert!(body.ends_with("printed 7\nend\n"), "{body}");
        // A Python handler's own output through mod_include.
        let r = h.get("/ssi-handler");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "<p>/ssi-handler42</p>\n3\n");
        let log = h.wait_log("ZeroDivisionError");
        assert!(log.contains("#python eval in") && log.contains("page.shtml failed"), "{log}");
        let log = h.stop();
        assert!(crash_lines(&log).is_empty(), "{log}");
    }
}

#[test]
fn ssi_python_is_refused_under_includes_noexec() {
    let h = Httpd::start(Mpm::Event, &ssi_site());
    install_site(&h, "ssi_site", "ssinoexec");
    let r = h.get("/ssinoexec/noexec.shtml");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "a[an error occurred while processing this directive]b\n");
    let log = h.wait_log("IncludesNOEXEC");
    assert!(log.contains("#python used but not allowed"), "{log}");
}
