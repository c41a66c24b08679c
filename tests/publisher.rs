//! PythonHandler mod_python.publisher against real httpd: URL to page and
//! object, form arguments, content types, 403/404/405, __auth__/__access__
//! (module level, functions, nested in functions and methods), page reload.
mod common;
use common::*;
use std::time::{Duration, SystemTime};

const PAGES: [(&str, &[u8]); 4] = [
    ("pub/index.py", include_bytes!("handlers/pub_index.py")),
    ("pub/other.py", include_bytes!("handlers/pub_other.py")),
    ("pub/secure.py", include_bytes!("handlers/pub_secure.py")),
    ("pub/funcs.py", include_bytes!("handlers/pub_funcs.py")),
];

fn site() -> String {
    "<Directory {DOCS}/pub>\n  SetHandler mod_python\n  PythonHandler mod_python.publisher\n</Directory>\n\
     <Directory {DOCS}/frozen>\n  SetHandler mod_python\n  PythonHandler mod_python.publisher\n  PythonAutoReload Off\n</Directory>\n"
        .to_string()
}

fn start(mpm: Mpm) -> Httpd {
    start_with(mpm, "")
}

fn start_with(mpm: Mpm, extra: &str) -> Httpd {
    let h = Httpd::start(mpm, &(site() + extra));
    for (path, text) in PAGES {
        h.write_doc(path, text);
    }
    h.write_doc("pub/readme.txt", b"def index():\n    return 'text files are not pages'\n");
    h
}

fn basic(user: &str, password: &str) -> Vec<u8> {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes())).into_bytes()
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn get_as(h: &Httpd, path: &str, user: &str, password: &str) -> Response {
    let auth = basic(user, password);
    h.request("GET", path, &[("Authorization", auth.as_slice())], b"")
}

fn body_of(h: &Httpd, path: &str) -> (u16, String) {
    let r = h.get(path);
    (r.status, r.text())
}

#[test]
fn urls_map_to_pages_and_objects_with_index_defaults() {
    let h = start(Mpm::Event);
    for (path, expect) in [
        ("/pub/", "index of pub"),
        ("/pub/index.py", "index of pub"),
        ("/pub/index.py/", "index of pub"),
        ("/pub/index", "index of pub"),
        ("/pub/index/hello", "hello world"),
        ("/pub/index.py/hello", "hello world"),
        ("/pub/hello", "hello world"),
        ("/pub/other.py", "other index"),
        ("/pub/other", "other index"),
        ("/pub/other/", "other index"),
        ("/pub/shop/greeting", "welcome"),
        ("/pub/index.py/shop/buy", "bought nothing"),
        ("/pub/counter", "42"),
        // Iterables are written item by item, as mod_python does (a dict: its keys).
        ("/pub/settings", "key"),
        ("/pub/pieces", "one two three"),
        ("/pub/nothing", "written directly"),
    ] {
        assert_eq!(body_of(&h, path), (200, expect.to_string()), "{path}\n{}", h.error_log());
    }
}

#[test]
fn form_fields_become_the_arguments_the_callable_accepts() {
    let h = start(Mpm::Prefork);
    assert_eq!(body_of(&h, "/pub/hello?name=Ann"), (200, "hello Ann".into()));
    let r = h.request(
        "POST",
        "/pub/hello",
        &[("Content-Type", b"application/x-www-form-urlencoded")],
        b"name=B%C3%A9a",
    );
    // An urlencoded body's fields (bytes in req.form) are passed as str.
    assert_eq!((r.status, r.text()), (200, "hello Béa".into()));
    // Unknown fields are dropped; keyword-only parameters are filled too.
    assert_eq!(body_of(&h, "/pub/args?a=1&c=3&zzz=9"), (200, "a=1 b=B c=3".into()));
    // **kwargs takes every field (req is not a form field).
    assert_eq!(body_of(&h, "/pub/kwargs?x=1&y=2"), (200, "kw=x:1,y:2".into()));
    // A repeated field is a list of str; a single one a str.
    assert_eq!(body_of(&h, "/pub/multi?tag=a&tag=b"), (200, "['a', 'b']".into()));
    assert_eq!(body_of(&h, "/pub/multi?tag=a"), (200, "'a'".into()));
    assert_eq!(body_of(&h, "/pub/other/greet?who=you"), (200, "greetings, you".into()));
    assert_eq!(body_of(&h, "/pub/shop/buy?item=milk"), (200, "bought milk".into()));
    // A required argument missing from the form is the client's error.
    assert_eq!(h.get("/pub/args?b=2").status, 400);

    // An upload arrives as a Field with bytes; a multipart text field as
    // bytes too (mod_python 3.5 passes the part's value).
    let boundary = "xXpubB";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n0123\r\n456\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--{boundary}--\r\n"
    );
    let ctype = format!("multipart/form-data; boundary={boundary}");
    let r = h.request("POST", "/pub/upload", &[("Content-Type", ctype.as_bytes())], body.as_bytes());
    assert_eq!((r.status, r.text()), (200, "a.bin 9 bytes bytes b'hi'".into()), "{}", h.error_log());
}

#[test]
fn content_type_is_guessed_unless_the_callable_set_one() {
    let h = start(Mpm::Worker);
    let ct = |path: &str| h.get(path).header_str("content-type").unwrap_or_default();
    assert_eq!(ct("/pub/page"), "text/html; charset=UTF-8");
    assert_eq!(ct("/pub/fragment"), "text/plain; charset=UTF-8");
    assert_eq!(ct("/pub/hello"), "text/plain; charset=UTF-8");
    let r = h.get("/pub/typed");
    assert_eq!(r.header_str("content-type").as_deref(), Some("application/json; charset=UTF-8"));
    assert_eq!(r.text(), "{\"a\": \"é\"}");
    let r = h.get("/pub/raw_bytes");
    assert_eq!(r.body, b"\x00\x01bytes", "bytes are written as they are");
    assert_eq!(r.header_str("content-type").as_deref(), Some("text/plain"));
    // HEAD gets the head alone.
    let r = h.request("HEAD", "/pub/hello", &[], b"");
    assert_eq!(r.status, 200);
}

#[test]
fn private_names_modules_classes_and_code_are_403_missing_objects_404() {
    let h = start(Mpm::Event);
    for path in [
        "/pub/_private",
        "/pub/index.py/_private",
        "/pub/shop/_internal",
        "/pub/__builtins__",
        "/pub/os",
        "/pub/os/getcwd",
        "/pub/apache",
        "/pub/Thing",
        "/pub/Shop",
        "/pub/Shop/buy",
        "/pub/code",
        "/pub/hello/__code__",
        "/pub/hello/anything",
        "/pub/settings/keys",
        "/pub/counter/real",
    ] {
        assert_eq!(h.get(path).status, 403, "{path}");
    }
    for path in [
        "/pub/nothing_here",
        "/pub/shop/missing",
        "/pub/index.py/missing",
        "/pub/missing.py",
        "/pub/readme.txt",
    ] {
        assert_eq!(h.get(path).status, 404, "{path}");
    }
    assert_eq!(h.request("PUT", "/pub/hello", &[], b"x").status, 405);
    assert_eq!(h.get("/pub/hello").status, 200, "the child keeps serving");
    let log = h.stop();
    assert!(log.contains("cannot traverse _private"), "refusals are logged: {log}");
    assert!(!log.contains("Traceback"), "refusals are not errors: {log}");
    assert!(crash_lines(&log).is_empty(), "{log}");
}

#[test]
fn module_level_auth_dict_and_access_list() {
    let h = start(Mpm::Prefork);
    let r = h.get("/pub/secure.py");
    assert_eq!(r.status, 401);
    assert_eq!(r.header_str("www-authenticate").as_deref(), Some("Basic realm=\"Members only\""));
    let r = get_as(&h, "/pub/secure.py", "eggs", "spam");
    assert_eq!((r.status, r.text()), (200, "secure for eggs".into()));
    assert_eq!(get_as(&h, "/pub/secure.py", "eggs", "wrong").status, 401);
    assert_eq!(get_as(&h, "/pub/secure.py", "nobody", "spam").status, 401);
    // joe authenticates but is not in __access__.
    assert_eq!(get_as(&h, "/pub/secure.py", "joe", "eoj").status, 403);
    // A malformed Basic header is a bad request.
    let r = h.request("GET", "/pub/secure.py", &[("Authorization", b"Basic !!notbase64!!")], b"");
    assert_eq!(r.status, 400);
}

#[test]
fn function_auth_and_access_at_module_level() {
    let h = start(Mpm::Worker);
    assert_eq!(h.get("/pub/funcs.py").status, 401);
    let r = get_as(&h, "/pub/funcs.py", "bob", "pw");
    assert_eq!((r.status, r.text()), (200, "welcome bob".into()));
    assert_eq!(get_as(&h, "/pub/funcs.py", "bob", "nope").status, 401);
    assert_eq!(get_as(&h, "/pub/funcs.py", "mallory", "pw").status, 403);
    let r = h.get("/pub/funcs.py");
    assert_eq!(r.header_str("www-authenticate").as_deref(), Some("Basic realm=\"unknown\""));
}

#[test]
fn auth_nested_in_functions_and_methods() {
    let h = start(Mpm::Event);
    // The rest of the page is open.
    assert_eq!(body_of(&h, "/pub/other.py/greet?who=x"), (200, "greetings, x".into()));

    let r = h.get("/pub/other.py/protected");
    assert_eq!(r.status, 401);
    assert_eq!(r.header_str("www-authenticate").as_deref(), Some("Basic realm=\"Nested realm\""));
    let r = get_as(&h, "/pub/other.py/protected", "spam", "eggs");
    assert_eq!((r.status, r.text()), (200, "protected for spam".into()));
    assert_eq!(get_as(&h, "/pub/other.py/protected", "spam", "ham").status, 401);

    // Literal dict and tuple forms inside a function.
    assert_eq!(h.get("/pub/other/members").status, 401);
    assert_eq!(get_as(&h, "/pub/other/members", "alice", "wonderland").status, 200);
    assert_eq!(get_as(&h, "/pub/other/members", "alice", "nope").status, 401);

    // In a method.
    assert_eq!(h.get("/pub/other/panel/admin").status, 401);
    let r = get_as(&h, "/pub/other/panel/admin", "root", "toor");
    assert_eq!((r.status, r.text()), (200, "admin panel".into()));
    assert_eq!(body_of(&h, "/pub/other/panel/public"), (200, "public panel".into()));

    // An __access__ computed when the function runs cannot be checked first: refused, never let through.
    assert_eq!(h.get("/pub/other/computed").status, 500);
    let log = h.stop();
    assert!(log.contains("__access__ in computed is computed when the function runs"), "{log}");
}

/// Rewrites a page with a later mtime (as an editor saving it would).
fn rewrite(h: &Httpd, rel: &str, text: &str, ahead: u64) {
    let path = h.write_doc(rel, text.as_bytes());
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(ahead)).unwrap();
}

#[test]
fn a_changed_page_is_loaded_again_unless_autoreload_is_off() {
    // One child, so "a child keeps the page it loaded" is about the child that loaded it.
    let h = start_with(
        Mpm::Prefork,
        "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nServerLimit 1\nMaxRequestWorkers 1\n",
    );
    rewrite(&h, "pub/live.py", "def index():\n    return 'version 1'\n", 0);
    rewrite(&h, "frozen/live.py", "def index():\n    return 'frozen 1'\n", 0);
    assert_eq!(body_of(&h, "/pub/live.py"), (200, "version 1".into()));
    assert_eq!(body_of(&h, "/frozen/live.py"), (200, "frozen 1".into()));
    rewrite(
        &h,
        "pub/live.py",
        "def index():\n    return 'version 2'\n\ndef extra():\n    return 'new function'\n",
        10,
    );
    rewrite(&h, "frozen/live.py", "def index():\n    return 'frozen 2'\n", 10);
    assert_eq!(body_of(&h, "/pub/live.py"), (200, "version 2".into()));
    assert_eq!(body_of(&h, "/pub/live.py/extra"), (200, "new function".into()));
    // PythonAutoReload Off: a child keeps the page it loaded.
    assert_eq!(body_of(&h, "/frozen/live.py"), (200, "frozen 1".into()));

    // A page that fails to load is a 500 with its traceback in the log, and
    // fixing it is enough.
    rewrite(&h, "pub/live.py", "def index(:\n", 20);
    assert_eq!(h.get("/pub/live.py").status, 500);
    rewrite(&h, "pub/live.py", "def index():\n    return 'version 3'\n", 30);
    assert_eq!(body_of(&h, "/pub/live.py"), (200, "version 3".into()));
    let log = h.stop();
    assert!(log.contains("SyntaxError"), "{log}");
}

#[test]
fn concurrent_first_requests_load_a_page_once_per_child() {
    let h = start(Mpm::Event);
    let log_file = h.root.join("scratch/loads.txt");
    let page = format!(
        "import os\nwith open({:?}, 'a') as f:\n    f.write('%d\\n' % os.getpid())\n\ndef index(req, n='0'):\n    return 'loaded ' + n\n",
        log_file.to_str().unwrap()
    );
    h.write_doc("pub/counted.py", page.as_bytes());
    let port = h.port;
    let threads: Vec<_> = (0..24)
        .map(|i| std::thread::spawn(move || request(port, "GET", &format!("/pub/counted.py?n={i}"), &[], b"")))
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let r = t.join().unwrap();
        assert_eq!((r.status, r.text()), (200, format!("loaded {i}")));
    }
    let loads = std::fs::read_to_string(&log_file).unwrap();
    let mut pids: Vec<&str> = loads.lines().collect();
    let total = pids.len();
    pids.sort();
    pids.dedup();
    assert_eq!(total, pids.len(), "a child loaded the page more than once: {loads}");
}
