//! mod_python.util against real httpd: FieldStorage over urlencoded and
//! multipart bodies (mod_python 3.5's types: query-string fields have str
//! names and values, an urlencoded body's bytes ones, multipart parts str
//! names and bytes values; uploads streamed), callbacks,
//! 411/501/400, parse_qs and redirect.
mod common;
use common::*;
use serde_json::{json, Value};

const BOUNDARY: &str = "----pyriteB0undary7";

fn site() -> String {
    let mut s = String::new();
    for f in [
        "dump",
        "dump_blank",
        "dump_small_blocks",
        "mapping",
        "callbacks",
        "text_field_callback",
        "upload_digest",
        "read_whole_body",
        "qs",
        "strict",
        "redirect",
        "redirect_text",
        "redirect_late",
        "list_repr",
    ] {
        s += &location(&format!("/forms/{f}"), &format!("forms::{f}"), "");
    }
    s
}

/// One multipart part: (name, Some(filename) for an upload, content).
type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = b"This preamble is ignored.\r\n".to_vec();
    for (name, filename, content) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\nand an epilogue\r\n").as_bytes());
    body
}

fn post_multipart(h: &Httpd, path: &str, body: &[u8]) -> Response {
    let ctype = format!("multipart/form-data; boundary={BOUNDARY}");
    h.request("POST", path, &[("Content-Type", ctype.as_bytes())], body)
}

fn json_of(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("status {}: not JSON ({e}): {}", r.status, r.text()))
}

fn sha256_hex(data: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Deterministic bytes covering every value, with CR, LF and boundary-like
/// runs (none of them a real delimiter: a CRLF, "--" and the boundary, then
/// "--", blanks or a line end).
fn awkward_content(n: usize) -> Vec<u8> {
    let mut x: u32 = 99;
    let mut out = Vec::with_capacity(n + 256);
    while out.len() < n {
        x = x.wrapping_mul(1103515245).wrapping_add(12345);
        match (x >> 24) % 16 {
            0 => out.extend_from_slice(b"\r\n"),
            1 => out.extend_from_slice(format!("x--{BOUNDARY}").as_bytes()), // not after CRLF: content
            2 => out.extend_from_slice(format!("\r\n--{}Q", &BOUNDARY[..BOUNDARY.len() - 1]).as_bytes()),
            3 => out.extend_from_slice(format!("\r\n--{BOUNDARY}X").as_bytes()), // boundary then a letter: content
            4 => out.push(b'\r'),
            5 => out.push(b'\n'),
            _ => out.push((x >> 16) as u8),
        }
    }
    out
}

#[test]
fn urlencoded_query_and_body_give_fields_in_order_with_mod_python_types() {
    let h = Httpd::start(Mpm::Event, &site());
    let r = h.request(
        "POST",
        "/forms/dump?q=1&tag=from+query",
        &[("Content-Type", b"application/x-www-form-urlencoded")],
        "tag=x%20y&name=J%C3%BCrgen&empty=&tag=z".as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v = json_of(&r);
    let fields = v["fields"].as_array().unwrap();
    let pairs: Vec<(String, String)> = fields
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_string(), f["value"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        pairs,
        [("q", "1"), ("tag", "from query"), ("tag", "x y"), ("name", "Jürgen"), ("tag", "z")].map(|(a, b)| (a.to_string(), b.to_string()))
    );
    for (i, f) in fields.iter().enumerate() {
        // mod_python 3.5: the query string (req.args) gives str, the body bytes.
        let want = if i < 2 { "str" } else { "bytes" };
        assert_eq!((f["name_type"].as_str(), f["value_type"].as_str()), (Some(want), Some(want)), "{f}");
        assert_eq!(f["class"], "StringField");
        assert_eq!(f["is_bytes"], true, "a StringField is bytes: {f}");
    }
    assert_eq!(fields[0]["repr"], "Field('q', '1')");
    assert_eq!(fields[3]["repr"], "Field(b'name', b'J\\xc3\\xbcrgen')");
    assert_eq!(v["keys"], json!(["q", "tag", "tag", "name"]), "str 'tag' and b'tag' are two keys");
    assert_eq!(v["key_types"], json!(["str", "str", "bytes", "bytes"]));
    assert_eq!(v["len"], 4);

    // GET: the query string alone; a HEAD-less GET never reads a body.
    let v = json_of(&h.get("/forms/dump?a=1&a=2&b=%E2%82%AC"));
    assert_eq!(v["keys"], json!(["a", "b"]));
    assert_eq!(v["fields"][2]["value"], "€");
    assert_eq!(v["fields"][2]["value_type"], "str");
}

#[test]
fn urlencoded_post_field_list_repr_is_mod_python_s() {
    // The exact text mod_python 3.5 prints for a form POSTed urlencoded:
    // fields read from the body have bytes names and values.
    let h = Httpd::start(Mpm::Event, &site());
    let r = h.request(
        "POST",
        "/forms/list_repr",
        &[("Content-Type", b"application/x-www-form-urlencoded")],
        b"spam=1&spam=2&eggs=3&bacon=4",
    );
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert_eq!(
        r.text(),
        "[Field(b'spam', b'1'), Field(b'spam', b'2'), Field(b'eggs', b'3'), Field(b'bacon', b'4')]"
    );
    // From the query string the same fields are str.
    assert_eq!(
        h.get("/forms/list_repr?spam=1&eggs=3").text(),
        "[Field('spam', '1'), Field('eggs', '3')]"
    );
}

#[test]
fn blank_values_dropped_unless_keep_blank_values() {
    let h = Httpd::start(Mpm::Prefork, &site());
    let body = b"a=&b=2&c&d=";
    let hdr = [("Content-Type", &b"application/x-www-form-urlencoded"[..])];
    let v = json_of(&h.request("POST", "/forms/dump?e=", &hdr, body));
    assert_eq!(v["keys"], json!(["b"]));
    assert_eq!(v["key_types"], json!(["bytes"]));
    let v = json_of(&h.request("POST", "/forms/dump_blank?e=", &hdr, body));
    assert_eq!(v["keys"], json!(["e", "a", "b", "c", "d"]));
    assert_eq!(v["fields"][1]["value"], "");
    assert_eq!(v["fields"][3]["value"], "", "a name without '=' is a blank value");
}

#[test]
fn mapping_api_over_repeated_fields() {
    let h = Httpd::start(Mpm::Worker, &site());
    let v = json_of(&h.get("/forms/mapping?a=1&b=two&a=3"));
    assert_eq!(v["getitem_a"], json!(["1", "3"]), "a repeated field gives a list");
    assert_eq!(v["getitem_b"], "two");
    assert_eq!(
        (v["getitem_b_bytes"].as_str(), v["getitem_b_type"].as_str()),
        (Some("two"), Some("bytes"))
    );
    assert_eq!(v["get_missing"], "dflt");
    assert_eq!(v["getfirst_a"], "1");
    assert_eq!(v["getfirst_missing"], Value::Null);
    assert_eq!(v["getlist_a"], json!(["1", "3"]));
    assert_eq!(v["getlist_missing"], json!([]));
    assert_eq!(v["has_key_b"], true);
    assert_eq!(v["in_zz"], false);
    assert_eq!(v["keys"], json!(["a", "b"]));
    assert_eq!(v["len"], 2);
    assert_eq!(v["items"], json!([["a", "1"], ["b", "two"], ["a", "3"]]));
    assert_eq!(v["list_len"], 3);
    assert_eq!(v["value_attr"], "two");
    assert_eq!(v["file_attr"], "two");
    assert_eq!(v["repr"], "{'a': [Field('a', '1'), Field('a', '3')], 'b': [Field('b', 'two')]}");
    assert_eq!(v["after_add"], json!(["two", "added"]));
    assert_eq!(
        v["set_str"], "TypeError: Field value must be bytes",
        "fs[key] = value takes bytes, as in mod_python"
    );
    assert_eq!(v["after_set"], "Field(b'a', b'replaced')");
    assert_eq!(v["after_del"], json!(["a", "a"]), "str 'a' stays beside the new b'a'");
    assert_eq!(v["after_clear"], json!([0, []]));
}

#[test]
fn multipart_values_are_bytes_with_crlf_and_boundary_like_content() {
    let h = Httpd::start(Mpm::Event, &site());
    let content = awkward_content(300_000);
    assert!(content.windows(BOUNDARY.len() + 2).any(|w| w == format!("--{BOUNDARY}").as_bytes()));
    let tricky_text = format!("line one\r\nline two\n--{BOUNDARY}x é");
    let body = multipart(&[
        ("title", None, "Grüße".as_bytes()),
        ("upload", Some("data.bin"), &content),
        ("tag", None, b"a"),
        ("tag", None, b"b"),
        ("notes", None, tricky_text.as_bytes()),
        ("empty", None, b""),
        ("nothing", Some("empty.txt"), b""),
    ]);
    let r = post_multipart(&h, "/forms/dump?from=query", &body);
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v = json_of(&r);
    let f = v["fields"].as_array().unwrap();
    assert_eq!(f.len(), 8);
    assert_eq!(f[0]["value"], "query");
    assert_eq!(f[1]["name"], "title");
    assert_eq!(f[1]["value"], "Grüße");
    assert_eq!(
        (f[1]["name_type"].as_str(), f[1]["value_type"].as_str()),
        (Some("str"), Some("bytes"))
    );
    assert_eq!(f[1]["class"], "StringField");
    assert_eq!(f[2]["name_type"], "str");
    assert_eq!(f[2]["class"], "Field");
    assert_eq!(f[2]["filename"], "data.bin");
    assert_eq!(f[2]["value_type"], "bytes", "an upload's value is bytes");
    assert_eq!(f[2]["file_mode"], "rb+", "uploads are binary temporary files");
    assert_eq!(f[2]["content_type"], "application/octet-stream");
    assert_eq!(f[2]["len"], content.len());
    assert_eq!(f[2]["sha256"], sha256_hex(&content), "upload bytes changed in transit");
    assert_eq!((f[3]["value"].as_str(), f[4]["value"].as_str()), (Some("a"), Some("b")));
    assert_eq!(f[5]["value"], tricky_text.as_str());
    assert_eq!(f[6]["value"], "", "an empty multipart field is kept");
    assert_eq!(f[7]["len"], 0);
    assert_eq!(v["keys"], json!(["from", "title", "upload", "tag", "notes", "empty", "nothing"]));
}

#[test]
fn parts_split_across_tiny_read_blocks_parse_the_same() {
    let h = Httpd::start(Mpm::Prefork, &site());
    let content = awkward_content(20_000);
    let body = multipart(&[
        ("a", None, b"x\r\ny"),
        ("f", Some("f.bin"), &content),
        ("b", None, format!("\r\n--{BOUNDARY}-").as_bytes()),
        ("g", Some("g.bin"), b"\r"),
    ]);
    let normal = post_multipart(&h, "/forms/dump", &body);
    let tiny = post_multipart(&h, "/forms/dump_small_blocks", &body);
    assert_eq!(normal.status, 200, "{}", h.error_log());
    assert_eq!(tiny.status, 200, "{}", h.error_log());
    assert_eq!(json_of(&normal), json_of(&tiny), "7-byte reads must parse like 64 KB reads");
    let v = json_of(&tiny);
    assert_eq!(v["fields"][0]["value"], "x\r\ny");
    assert_eq!(v["fields"][1]["sha256"], sha256_hex(&content));
    assert_eq!(v["fields"][2]["value"], format!("\r\n--{BOUNDARY}-"));
    assert_eq!(v["fields"][3]["len"], 1);
}

#[test]
fn file_and_field_callbacks_make_the_file_objects() {
    let h = Httpd::start(Mpm::Worker, &site());
    let body = multipart(&[
        ("a", None, b"1"),
        ("up", Some("report.pdf"), b"%PDF\r\n\x00\xff"),
        ("b", None, b"2"),
    ]);
    let v = json_of(&post_multipart(&h, "/forms/callbacks", &body));
    assert_eq!(v["calls"], json!([["field"], ["file", "report.pdf"], ["field"]]));
    assert_eq!(v["file_objects"], json!(["BytesIO", "_Recorder", "BytesIO"]));
    assert_eq!(v["advisory"][1], "report.pdf");
    assert_eq!(v["fields"][1]["len"], 8);
    assert_eq!(v["fields"][1]["sha256"], sha256_hex(b"%PDF\r\n\x00\xff"));
    assert_eq!(
        (v["fields"][0]["value"].as_str(), v["fields"][2]["value"].as_str()),
        (Some("1"), Some("2"))
    );

    // A Python 2 style field_callback (a text StringIO) still works: the
    // field keeps the text as its value.
    let v = json_of(&post_multipart(
        &h,
        "/forms/text_field_callback",
        &multipart(&[("t", None, "ünï".as_bytes())]),
    ));
    assert_eq!(v["fields"][0]["value"], "ünï");
}

#[test]
fn post_without_length_is_411_unknown_type_501_and_bad_multipart_400() {
    let h = Httpd::start(Mpm::Event, &site());
    let raw = format!(
        "POST /forms/dump HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
        h.port
    );
    assert_eq!(raw_request(h.port, raw.as_bytes()).status, 411);

    let r = h.request("POST", "/forms/dump", &[("Content-Type", b"application/json")], b"{\"a\": 1}");
    assert_eq!(r.status, 501);

    // A chunked body has no Content-Length but a known end: it is read.
    let r = h.request(
        "POST",
        "/forms/dump",
        &[
            ("Transfer-Encoding", b"chunked"),
            ("Content-Type", b"application/x-www-form-urlencoded"),
        ],
        &chunked(b"k=v&k2=v2", 4),
    );
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert_eq!(json_of(&r)["keys"], json!(["k", "k2"]));

    // multipart without a boundary, and one cut off inside a part.
    let r = h.request("POST", "/forms/dump", &[("Content-Type", b"multipart/form-data")], b"x");
    assert_eq!(r.status, 400);
    let mut cut = multipart(&[("f", Some("f.bin"), b"0123456789")]);
    cut.truncate(cut.len() - 40);
    assert_eq!(post_multipart(&h, "/forms/dump", &cut).status, 400);

    // strict_parsing refuses a field without '='.
    assert_eq!(h.get("/forms/strict?a=1&b").status, 400);
    assert_eq!(h.get("/forms/strict?a=1&b=").status, 200);

    assert_eq!(h.get("/forms/dump").status, 200, "the child keeps serving");
    let log = h.stop();
    assert!(crash_lines(&log).is_empty(), "{log}");
    assert!(!log.contains("Traceback"), "status refusals are not errors: {log}");
}

#[test]
fn parse_qs_and_parse_qsl_return_str() {
    let h = Httpd::start(Mpm::Prefork, &site());
    let v = json_of(&h.get("/forms/qs?a=1&b=&a=x+y;c=%C3%A9&d"));
    assert_eq!(v["parse_qs"], json!({"a": ["1", "x y"], "c": ["é"]}));
    assert_eq!(v["parse_qs_blank"], json!({"a": ["1", "x y"], "b": [""], "c": ["é"], "d": [""]}));
    assert_eq!(v["parse_qsl"], json!([["a", "1"], ["a", "x y"], ["c", "é"]]));
    assert_eq!(
        v["parse_qsl_blank"],
        json!([["a", "1"], ["b", ""], ["a", "x y"], ["c", "é"], ["d", ""]])
    );
}

#[test]
fn redirect_sets_location_and_status_and_ends_the_request() {
    let h = Httpd::start(Mpm::Worker, &site());
    let r = h.get("/forms/redirect");
    assert_eq!(r.status, 302);
    assert_eq!(r.header_str("location").as_deref(), Some("/elsewhere?x=1"));
    assert!(r.text().contains("href=\"/elsewhere?x=1\""), "{}", r.text());
    assert!(!r.text().contains("not reached"), "SERVER_RETURN(DONE) ends the handler");

    let r = h.get("/forms/redirect?permanent");
    assert_eq!(r.status, 301);
    assert_eq!(r.header_str("location").as_deref(), Some("/elsewhere?x=1"));

    let r = h.get("/forms/redirect_text");
    assert_eq!((r.status, r.text().as_str()), (302, "moved, see /there"));

    let r = h.get("/forms/redirect_late");
    assert_eq!(r.status, 200);
    assert!(r.header("location").is_none());
    assert!(
        r.text().contains("IOError: Cannot redirect after headers have already been sent"),
        "{}",
        r.text()
    );
}

/// A 20 MB upload through FieldStorage: the digest matches and the child's
/// peak memory grows by less than 5 MB (the body is streamed to a temporary
/// file); reading the same body at once (the control) does raise the peak.
fn big_upload_streams(mpm: Mpm, sizing: &str) {
    let site = format!("{}{sizing}LimitRequestBody 0\n", site());
    let h = Httpd::start(mpm, &site);
    let content = awkward_content(20 * 1024 * 1024);
    let body = multipart(&[("note", None, b"big one"), ("file", Some("big.bin"), &content)]);
    let r = post_multipart(&h, "/forms/upload_digest", &body);
    assert_eq!(r.status, 200, "{}", h.error_log());
    let v = json_of(&r);
    assert_eq!(v["len"], content.len());
    assert_eq!(v["sha256"], sha256_hex(&content));
    assert_eq!(v["chunk_type"], "bytes");
    assert_eq!(v["note"], "big one");
    let growth = v["peak_growth_kb"].as_i64().unwrap();
    eprintln!(
        "{mpm:?}: 20 MB upload: peak RSS growth {growth} kB (ru_maxrss {} kB)",
        v["maxrss_growth_kb"]
    );
    assert!(
        growth < 5 * 1024,
        "{mpm:?}: peak RSS grew by {growth} kB while parsing a 20 MB upload"
    );
    assert!(v["maxrss_growth_kb"].as_i64().unwrap() < 5 * 1024, "{v}");

    let r = h.request("POST", "/forms/read_whole_body", &[], &content);
    let control = json_of(&r);
    eprintln!(
        "{mpm:?}: control (req.read() of 20 MB): peak RSS growth {} kB",
        control["peak_growth_kb"]
    );
    assert_eq!(control["len"], content.len());
    assert!(
        control["peak_growth_kb"].as_i64().unwrap() > 15 * 1024,
        "the measurement must see a whole-body read: {control}"
    );
}

#[test]
fn big_upload_is_streamed_under_prefork() {
    big_upload_streams(
        Mpm::Prefork,
        "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nServerLimit 1\nMaxRequestWorkers 1\n",
    );
}

#[test]
fn big_upload_is_streamed_under_event() {
    big_upload_streams(
        Mpm::Event,
        "StartServers 1\nServerLimit 1\nThreadsPerChild 8\nMaxRequestWorkers 8\nMinSpareThreads 1\nMaxSpareThreads 8\n",
    );
}
