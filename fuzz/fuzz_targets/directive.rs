//! The words of a directive and the handler names in them:
//! - `split_words` of text without quotes is the text split at whitespace,
//!   and words re-quoted split back to themselves;
//! - a handler list it accepts names dotted names (ASCII ones are Python
//!   identifiers) and extensions starting with '.';
//! - the light `PythonPath` check never refuses an expression Python itself
//!   compiles (it runs in httpd's parent, where Python cannot).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyo3::prelude::*;
use pyrite_text::directive::{check_python_expr, parse_handler_args, split_words};

fn python_compiles(py: Python<'_>, expr: &str) -> bool {
    let builtins = py.import("builtins").unwrap();
    // Warnings (invalid escapes and the like) would only fill the log.
    py.import("warnings").unwrap().call_method1("simplefilter", ("ignore",)).unwrap();
    builtins.getattr("compile").unwrap().call1((expr, "<PythonPath>", "eval")).is_ok()
}

fuzz_target!(|text: &str| {
    if let Ok(words) = split_words(text) {
        if !text.contains(['"', '\'']) {
            assert_eq!(words, text.split_whitespace().collect::<Vec<_>>());
        }
        if words.iter().all(|w| !w.contains('\\')) {
            let quoted: Vec<String> = words.iter().map(|w| format!("\"{}\"", w.replace('"', "\\\""))).collect();
            assert_eq!(split_words(&quoted.join(" ")).as_ref(), Ok(&words), "{text:?}");
        }
    }
    if let Ok((handlers, exts)) = parse_handler_args(text) {
        assert!(!handlers.is_empty());
        for (module, object) in &handlers {
            for part in module.split('.').chain(object.iter().flat_map(|o| o.split('.'))) {
                assert!(
                    !part.is_empty() && !part.contains(|c: char| c.is_whitespace() || c == ':'),
                    "{text:?}"
                );
                // Non-ASCII names follow Unicode's letter classes (U+2181 is a letter and a number).
                if part.is_ascii() {
                    assert!(!part.starts_with(|c: char| c.is_ascii_digit()), "{text:?}");
                    assert!(part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{text:?}");
                }
            }
        }
        assert!(exts.iter().all(|e| e.starts_with('.') && e.len() >= 2));
    }
    if text.contains('\0') {
        return;
    }
    let verdict = check_python_expr(text);
    Python::initialize();
    Python::attach(|py| {
        if python_compiles(py, text) {
            assert!(verdict.is_ok(), "Python compiles {text:?} but the check refuses it: {verdict:?}");
        }
    });
});
