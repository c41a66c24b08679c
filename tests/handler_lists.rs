//! mod_python's handler lists: `req.hlist`, `req.add_handler` (its directory
//! argument, phases with no handler configured, a missing handler), `| .ext`
//! lists, a content phase with nothing to run, and the interpreter names
//! `req.interpreter` reports under PythonInterpPerDirective/PerDirectory.
mod common;
use common::*;

const PATH: &str = "  PythonPath \"sys.path+['{HANDLERS}']\"\n";

#[test]
fn hlist_describes_the_running_handler() {
    let site = format!(
        "<Directory {{DOCS}}/files>\n  <Files *.hl>\n    SetHandler mod_python\n    PythonHandler hlists::show\n{PATH}  </Files>\n</Directory>\n\
         <Location /loc>\n  SetHandler mod_python\n  PythonHandler hlists::show\n{PATH}</Location>\n\
         <Location /walk>\n  SetHandler mod_python\n  PythonHandler hlists::walk hlists::second\n{PATH}</Location>\n\
         <Directory {{DOCS}}/ht>\n  AllowOverride All\n</Directory>\n"
    );
    let h = Httpd::start(Mpm::Event, &site);
    h.write_doc("files/a.hl", b"");
    let htaccess = format!(
        "SetHandler mod_python\nPythonHandler hlists::show\nPythonPath \"sys.path+['{}']\"\n",
        h.root.join("handlers").display()
    );
    h.write_doc("ht/.htaccess", htaccess.as_bytes());
    h.write_doc("ht/x.txt", b"");
    let docs = h.root.join("htdocs").display().to_string();
    // A <Files> section is looked through: the directory is the enclosing <Directory>'s.
    let r = h.get("/files/a.hl");
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert_eq!(r.text(), format!("hlists::show|{docs}/files/|False|0|parent=None"));
    assert_eq!(h.get("/loc").text(), "hlists::show|/loc|True|0|parent=None");
    // An .htaccess file's handlers belong to its directory.
    assert_eq!(h.get("/ht/x.txt").text(), format!("hlists::show|{docs}/ht/|False|0|parent=None"));
    // next() walks the rest of the list; the dispatcher still runs every entry.
    assert_eq!(h.get("/walk").text(), "hlists::walk,hlists::second;second;");
    let errlog = h.stop();
    assert!(crash_lines(&errlog).is_empty(), "{errlog}");
}

#[test]
fn add_handler_directory_empty_phases_and_req_handler() {
    let site = format!(
        "PythonOption adddir {{HANDLERS}}\n\
         <Location /add-dir>\n  SetHandler mod_python\n  PythonFixupHandler hlists::add_with_dir\n{PATH}</Location>\n\
         <Location /access-adds>\n  SetHandler mod_python\n  PythonAccessHandler hlists::access_adds\n{PATH}</Location>\n\
         <Location /sets-handler>\n  PythonFixupHandler hlists::sets_handler\n{PATH}</Location>\n\
         <Location /bad-phase>\n  SetHandler mod_python\n  PythonHandler hlists::bad_phase\n{PATH}</Location>\n"
    );
    let h = Httpd::start(Mpm::Event, &site);
    let handlers = h.root.join("handlers").display().to_string();
    // The directory comes back absolute and canonical, ending in '/'; the
    // parent is the fixup handler that added it; no PythonHandler was configured.
    let r = h.get("/add-dir");
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert_eq!(r.text(), format!("hlists::show|{handlers}/|False|0|parent=hlists::add_with_dir"));
    let r = h.get("/access-adds");
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert_eq!(r.text(), "PythonHandler added by hlists::access_adds");
    // No SetHandler: a fixup sets req.handler itself and adds the content handler.
    let r = h.get("/sets-handler");
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert_eq!(r.text(), "content phase after req.handler was set");
    assert_eq!(
        h.get("/bad-phase").text(),
        "IndexError: Invalid phase: PythonNoSuchHandler (e.g. \"PythonFixupHandler\")"
    );
}

#[test]
fn an_added_handler_that_does_not_exist_is_logged_by_name() {
    let site = location("/add-bad", "hlists::add_bad", "");
    let h = Httpd::start(Mpm::Event, &site);
    let r = h.get("/add-bad");
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(
        !r.text().contains("no_such_function"),
        "PythonDebug is off: no traceback to the client"
    );
    let log = h.wait_log("contains no 'no_such_function'");
    assert!(log.contains("add_bad running as hlists::add_bad"), "{log}");
    assert!(log.contains("hlists.py' contains no 'no_such_function'"), "{log}");
}

#[test]
fn ext_lists_replace_the_plain_list_for_their_files() {
    let site = format!(
        "<Directory {{DOCS}}/pipe>\n  SetHandler mod_python\n  PythonHandler hlists::ext_py | .py\n  PythonHandler hlists::plain\n{PATH}</Directory>\n\
         <Directory {{DOCS}}/pipe/sub>\n  PythonHandler hlists::inner\n</Directory>\n"
    );
    let h = Httpd::start(Mpm::Event, &site);
    for f in ["pipe/a.py", "pipe/a.txt", "pipe/sub/b.py", "pipe/sub/b.txt"] {
        h.write_doc(f, b"");
    }
    assert_eq!(h.get("/pipe/a.py").text(), "ext list;", "{}", h.error_log());
    assert_eq!(h.get("/pipe/a.txt").text(), "plain list;");
    // A nested section replaces the plain list only; the .py list stays.
    assert_eq!(h.get("/pipe/sub/b.py").text(), "ext list;");
    assert_eq!(h.get("/pipe/sub/b.txt").text(), "inner plain list;");
}

#[test]
fn nothing_to_run_declines_to_httpds_own_handler() {
    // A trans handler maps the URI to a file; SetHandler mod_python there
    // has no PythonHandler, so httpd serves the file (mod_python's behaviour).
    let site = format!("PythonTransHandler hlists::trans\n{PATH}<Location /trans-static>\n  SetHandler mod_python\n</Location>\n");
    let h = Httpd::start(Mpm::Event, &site);
    let r = h.get("/trans-static");
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert_eq!(r.text(), "static file\n");
}

#[test]
fn interpreter_names_follow_mod_pythons_rules() {
    let site = format!(
        "<Directory {{DOCS}}/pd>\n  PythonInterpPerDirective On\n  SetHandler mod_python\n  PythonHandler hlists::interp\n{PATH}</Directory>\n\
         <Directory {{DOCS}}/pdir>\n  PythonInterpPerDirectory On\n  SetHandler mod_python\n  PythonFixupHandler hlists::interp\n{PATH}</Directory>\n\
         <Directory {{DOCS}}/w*>\n  PythonInterpPerDirective On\n  SetHandler mod_python\n  PythonHandler hlists::interp\n{PATH}</Directory>\n\
         <DirectoryMatch \"^{{DOCS}}/re[a-z]+\">\n  PythonInterpPerDirective On\n  SetHandler mod_python\n  PythonHandler hlists::interp\n{PATH}</DirectoryMatch>\n\
         <Location /ploc>\n  PythonInterpPerDirective On\n  SetHandler mod_python\n  PythonHandler hlists::interp\n{PATH}</Location>\n"
    );
    let h = Httpd::start(Mpm::Prefork, &site);
    for f in ["pd/a.py", "pd/sub/b.py", "pdir/a.py", "pdir/sub/b.py", "wild/c.py", "rex/sub/d.py"] {
        h.write_doc(f, b"");
    }
    let docs = h.root.join("htdocs").display().to_string();
    // Per directive: where the directive was written, whatever the file.
    assert_eq!(h.get("/pd/a.py").text(), format!("{docs}/pd/"), "{}", h.error_log());
    assert_eq!(h.get("/pd/sub/b.py").text(), format!("{docs}/pd/"));
    assert_eq!(h.get("/pd/sub/").text(), format!("{docs}/pd/"));
    assert_eq!(h.get("/ploc").text(), "/ploc");
    // A wildcard <Directory> names the directory that matched it...
    assert_eq!(h.get("/wild/c.py").text(), format!("{docs}/wild/"));
    // So does a regular expression (the shortest run of directories it matches).
    assert_eq!(h.get("/rex/sub/d.py").text(), format!("{docs}/rex/"));
    // Per directory: the directory of the request's file; a directory is its own.
    assert_eq!(h.get("/pdir/a.py").text(), format!("{docs}/pdir/"));
    assert_eq!(h.get("/pdir/sub/b.py").text(), format!("{docs}/pdir/sub/"));
    assert_eq!(h.get("/pdir/sub/").text(), format!("{docs}/pdir/sub/"));
    assert_eq!(h.get("/pdir/sub").text(), format!("{docs}/pdir/sub/"));
    let errlog = h.stop();
    assert!(crash_lines(&errlog).is_empty(), "{errlog}");
}
