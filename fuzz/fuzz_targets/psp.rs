//! The PSP translator (a template -> Python source):
//! - it never panics; an error names a line of the template;
//! - template text comes out of the generated code exactly (CRLF as LF):
//!   whatever quotes, backslashes or control characters it holds, the text
//!   can never become code. Checked on the input with its `<%` removed (all
//!   text), and on the input itself when it holds only text and comments.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyrite_text::psp::codegen::generate;
use pyrite_text::psp::lexer::{tokenize, Piece};
use std::path::Path;

/// Runs the generated source with a `req` that records what is written.
fn output_of(py: Python<'_>, source: &str) -> PyResult<String> {
    let code = py.import("builtins")?.getattr("compile")?.call1((source, "t.psp", "exec"))?;
    let globals = PyDict::new(py);
    py.run(
        c"class Req:\n    def __init__(self): self.out = []\n    def write(self, s, flush=1): self.out.append(s)\nreq = Req()\n",
        Some(&globals),
        None,
    )?;
    py.import("builtins")?.getattr("exec")?.call1((code, &globals))?;
    let out: Vec<String> = globals.get_item("req")?.unwrap().getattr("out")?.extract()?;
    Ok(out.concat())
}

/// The text a template of text and comments writes, or None if it holds code.
fn expected_text(template: &str) -> Option<String> {
    let mut out = String::new();
    for t in tokenize(template).ok()? {
        match t.piece {
            Piece::Text(s) => out.push_str(&s.replace("\r\n", "\n")),
            Piece::Comment => {}
            _ => return None,
        }
    }
    Some(out)
}

fn check_text_round_trip(py: Python<'_>, template: &str) {
    let Some(want) = expected_text(template) else { return };
    let t = generate("t.psp", template, None, &|_| unreachable!()).expect("text and comments translate");
    match output_of(py, &t.source) {
        Ok(got) => assert_eq!(got, want, "{template:?} -> {:?}", t.source),
        Err(e) => panic!("{template:?} -> {:?} does not run: {e}", t.source),
    }
}

fuzz_target!(|template: &str| {
    let lines = template.matches('\n').count() + 1;
    match generate("t.psp", template, Some(Path::new("/inc")), &|p| Ok(format!("[{}]", p.display()))) {
        Ok(_) => {}
        Err(e) => assert!(e.line >= 1 && e.line <= lines, "{template:?}: {e}"),
    }
    let mut text_only = template.to_string();
    while text_only.contains("<%") {
        text_only = text_only.replace("<%", "<");
    }
    Python::initialize();
    Python::attach(|py| {
        check_text_round_trip(py, &text_only);
        check_text_round_trip(py, template);
    });
});
