//! A malformed directive stops httpd at start-up with a message naming the
//! file, the line and the problem.
mod common;
use common::*;

fn configtest(site: &str) -> (bool, String) {
    let h = Httpd::prepare(Mpm::Event, site);
    let out = h.apachectl("configtest");
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let conf = h.conf.display().to_string();
    (out.status.success(), text.replace(&conf, "CONF"))
}

#[test]
fn malformed_directives_are_refused_with_file_and_line() {
    let cases: &[(&str, &str)] = &[
        ("PythonHandler a/b", "PythonHandler: 'a/b' does not name a Python module"),
        ("PythonHandler", "PythonHandler: names no handler"),
        ("PythonHandler mod |", "'|' must be followed by at least one file extension"),
        ("PythonHandler mod | py", "'py' after '|' is not a file extension"),
        ("PythonHandler mod::", "is not an object path"),
        ("PythonDebug Maybe", "PythonDebug"),
        ("PythonAutoReload 2", "PythonAutoReload"),
        ("PythonPath \"sys.path+['/x'\"", "PythonPath: unclosed '['"),
        ("PythonPath \"\"", "PythonPath takes one argument"),
        ("PythonOption", "PythonOption"),
        ("PythonImport onlyone", "PythonImport"),
        (
            "PythonImport bad/name main",
            "PythonImport: 'bad/name' does not name a Python module",
        ),
    ];
    for (line, needle) in cases {
        let site = if line.starts_with("PythonImport") {
            format!("{line}\n")
        } else {
            format!("<Location /x>\n{line}\n</Location>\n")
        };
        let (ok, text) = configtest(&site);
        assert!(!ok, "`{line}` was accepted");
        assert!(text.contains(needle), "`{line}`: message lacks {needle:?}:\n{text}");
        assert!(text.contains("CONF"), "`{line}`: message lacks the file:\n{text}");
        assert!(text.contains("line "), "`{line}`: message lacks the line:\n{text}");
    }
}

#[test]
fn python_import_is_server_wide_only() {
    let (ok, text) = configtest("<Location /x>\nPythonImport mod main\n</Location>\n");
    assert!(!ok);
    assert!(text.contains("PythonImport not allowed in <Location> context"), "{text}");
}

#[test]
fn a_good_configuration_passes() {
    let site = location(
        "/x",
        "basic basic::attrs | .py .html",
        "  PythonOption a b\n  PythonOption a\n  PythonDebug Off\n  PythonAutoReload Off",
    ) + "PythonImport basic main_interpreter\n";
    let (ok, text) = configtest(&site);
    assert!(ok, "{text}");
}
