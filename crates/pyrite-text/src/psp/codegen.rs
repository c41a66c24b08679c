//! Writes the Python for a tokenized PSP template, with mod_python's rules:
//!
//! - text becomes `req.write("""...""",0)`; its characters are kept exactly
//!   (backslashes and quotes are escaped, CRLF becomes LF);
//! - `<%= e %>` becomes `req.write(str( e ),0)`;
//! - `<% code %>` is copied as written, and the text after it is indented
//!   like the code block's last line; a block whose last line is only `%>`
//!   keeps the indentation of the line before, so `<%\n%>` ends a block;
//!   a last line ending in `:` indents the following text one level (a tab);
//!   a block on one line (`<% x = 1 %>`) continues the line with `;`;
//! - `<%@ include file="..." %>` inserts that file's template in place;
//!   relative names are looked up in the main template's directory;
//! - `<%-- comments --%>` vanish.
//!
//! Statements are joined with `;` so that every line of the main template
//! stays on the same line of the Python source (tracebacks point at it).
use super::lexer::{self, Piece};
use super::{PspError, Translation, MAX_INCLUDE_DEPTH};
use std::path::{Path, PathBuf};

/// Reads an included file (a parameter so tests need no files).
pub type Loader<'a> = dyn Fn(&Path) -> std::io::Result<String> + 'a;

/// Translates `text` (named `name` in errors); includes are resolved against `dir`.
pub fn generate(name: &str, text: &str, dir: Option<&Path>, load: &Loader<'_>) -> Result<Translation, PspError> {
    let mut g = Generator {
        out: String::with_capacity(text.len() + text.len() / 4 + 32),
        dir,
        load,
        includes: Vec::new(),
    };
    g.out.push_str(OPEN_TEXT);
    g.template(name, text, 0)?;
    g.out.push_str("\"\"\",0)\n");
    Ok(Translation {
        source: g.out,
        includes: g.includes,
    })
}

const OPEN_TEXT: &str = "req.write(\"\"\"";
const CLOSE_TEXT: &str = "\"\"\",0);";

struct Generator<'a> {
    out: String,
    dir: Option<&'a Path>,
    load: &'a Loader<'a>,
    includes: Vec<PathBuf>,
}

impl Generator<'_> {
    /// Emits one template's pieces; the output is inside a text string
    /// before and after.
    fn template(&mut self, name: &str, text: &str, depth: usize) -> Result<(), PspError> {
        let tokens = lexer::tokenize(text).map_err(|(line, message)| PspError {
            file: name.to_string(),
            line,
            message,
            errno: None,
        })?;
        for t in tokens {
            match t.piece {
                Piece::Text(s) => self.text(s),
                Piece::Expr(e) => {
                    self.out.push_str(CLOSE_TEXT);
                    self.out.push_str(" req.write(str(");
                    push_code(&mut self.out, e);
                    self.out.push_str("),0); ");
                    self.out.push_str(OPEN_TEXT);
                }
                Piece::Code(c) => self.code(c),
                Piece::Comment => {}
                Piece::Directive(d) => {
                    let err = |message: String, errno| PspError {
                        file: name.to_string(),
                        line: t.line,
                        message,
                        errno,
                    };
                    let file = include_target(d).map_err(|m| err(m, None))?;
                    if depth + 1 > MAX_INCLUDE_DEPTH {
                        return Err(err(
                            format!("includes nest deeper than {MAX_INCLUDE_DEPTH} files (does '{file}' include itself?)"),
                            None,
                        ));
                    }
                    let path = match self.dir {
                        _ if Path::new(&file).is_absolute() => PathBuf::from(&file),
                        Some(dir) => dir.join(&file),
                        None => {
                            return Err(err(
                                format!("cannot include '{file}': a relative include needs the template's directory"),
                                None,
                            ))
                        }
                    };
                    let included =
                        (self.load)(&path).map_err(|e| err(format!("cannot include '{}': {e}", path.display()), e.raw_os_error()))?;
                    self.includes.push(path.clone());
                    self.template(&path.display().to_string(), &included, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// Literal text inside `"""..."""`: kept exactly as written.
    fn text(&mut self, s: &str) {
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '"' => self.out.push_str("\\\""),
                '\r' if chars.peek() == Some(&'\n') => {}
                '\r' => self.out.push_str("\\r"),
                '\0' => self.out.push_str("\\x00"),
                c => self.out.push(c),
            }
        }
    }

    /// A code block, and the indentation the text after it gets.
    fn code(&mut self, code: &str) {
        self.out.push_str(CLOSE_TEXT);
        let lines: Vec<&str> = split_lines(code);
        let last = lines.len() - 1;
        let mut indent: &str = "";
        let mut after_colon = false;
        for (i, line) in lines.iter().enumerate() {
            let body = if i == 0 { *line } else { line.trim_start_matches([' ', '\t']) };
            if i > 0 {
                self.out.push('\n');
                // A last line holding only `%>` keeps the indentation before it.
                if !(i == last && line.is_empty()) {
                    indent = &line[..line.len() - body.len()];
                }
            }
            // The whitespace of a last line before `%>` is written once, as the indentation.
            if !(i == last && i > 0 && body.is_empty()) {
                self.out.push_str(line);
            }
            if !body.is_empty() {
                after_colon = body.ends_with(':');
            }
        }
        // `<%%>` or `<% %>` adds nothing (mod_python wrote `;;`, which does not compile).
        if last == 0 && !code.trim().is_empty() {
            self.out.push(';');
        }
        self.out.push_str(indent);
        if after_colon {
            self.out.push('\t');
        }
        self.out.push_str(OPEN_TEXT);
    }
}

/// Code with its line ends made LF (as Python's own reader would).
fn push_code(out: &mut String, code: &str) {
    for (i, line) in split_lines(code).into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
    }
}

/// Lines split at CRLF, LF or CR; always at least one (possibly empty).
fn split_lines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'\n' => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&s[start..i]);
                if b.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

/// The file named by `include file="..."` (the only directive PSP has).
fn include_target(directive: &str) -> Result<String, String> {
    let bad = || format!("unknown directive '<%@{directive}%>': PSP knows only <%@ include file=\"name\" %>");
    let rest = directive.trim().strip_prefix("include").ok_or_else(bad)?;
    if !rest.starts_with([' ', '\t', '\r', '\n']) {
        return Err(bad());
    }
    let rest = rest.trim_start().strip_prefix("file").ok_or_else(bad)?;
    let rest = rest.trim_start().strip_prefix('=').ok_or_else(bad)?.trim();
    let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'').ok_or_else(bad)?;
    let inner = &rest[1..];
    let end = inner.find(quote).ok_or_else(bad)?;
    if !inner[end + 1..].trim().is_empty() || end == 0 {
        return Err(bad());
    }
    Ok(inner[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn py(src: &str) -> String {
        generate("t.psp", src, None, &|_| Err(std::io::Error::from(std::io::ErrorKind::NotFound)))
            .unwrap()
            .source
    }

    fn with_files(src: &str, files: &[(&str, &str)]) -> Result<Translation, PspError> {
        let map: HashMap<PathBuf, String> = files.iter().map(|(k, v)| (PathBuf::from(k), v.to_string())).collect();
        generate("/site/t.psp", src, Some(Path::new("/site")), &move |p| {
            map.get(p).cloned().ok_or_else(|| std::io::Error::from_raw_os_error(libc::ENOENT))
        })
    }

    #[test]
    fn text_only() {
        assert_eq!(py("<html>\n</html>\n"), "req.write(\"\"\"<html>\n</html>\n\"\"\",0)\n");
    }

    #[test]
    fn expression_is_written_as_str() {
        assert_eq!(
            py("a<%= x %>b"),
            "req.write(\"\"\"a\"\"\",0); req.write(str( x ),0); req.write(\"\"\"b\"\"\",0)\n"
        );
    }

    #[test]
    fn one_line_code_continues_the_line() {
        assert_eq!(py("<% x = 1 %>t"), "req.write(\"\"\"\"\"\",0); x = 1 ;req.write(\"\"\"t\"\"\",0)\n");
    }

    #[test]
    fn last_code_line_indentation_carries_to_text() {
        let src = "<%\nfor n in range(3):\n    # persists\n%>\np\n<%\n# ends\n%>\nend";
        assert_eq!(
            py(src),
            "req.write(\"\"\"\"\"\",0);\nfor n in range(3):\n    # persists\n    req.write(\"\"\"\np\n\"\"\",0);\n# ends\nreq.write(\"\"\"\nend\"\"\",0)\n"
        );
    }

    #[test]
    fn colon_before_lone_close_indents_with_a_tab_and_empty_block_dedents() {
        let src = "<%\nfor n in range(3):\n%>p<%\n%>e";
        assert_eq!(
            py(src),
            "req.write(\"\"\"\"\"\",0);\nfor n in range(3):\n\treq.write(\"\"\"p\"\"\",0);\nreq.write(\"\"\"e\"\"\",0)\n"
        );
    }

    #[test]
    fn indented_close_sets_the_indentation_once() {
        let src = "<%\nif x:\n    y = 1\n    %>t";
        assert_eq!(
            py(src),
            "req.write(\"\"\"\"\"\",0);\nif x:\n    y = 1\n    req.write(\"\"\"t\"\"\",0)\n"
        );
    }

    #[test]
    fn nested_blocks_use_absolute_indentation() {
        let src = "<%\nfor i in a:\n    if i:\n%>y<%\n    # end if\n%>\n<%\n%>";
        let out = py(src);
        assert!(
            out.contains("    if i:\n    \treq.write(\"\"\"y\"\"\",0);\n    # end if\n    req.write"),
            "{out}"
        );
        assert!(out.ends_with("\nreq.write(\"\"\"\"\"\",0)\n"), "{out}");
    }

    #[test]
    fn main_template_lines_keep_their_numbers() {
        let src = "a\r\nb<%\nx = 1\r\ny = 2\n%>c\n<%= z\n %>\nd";
        let out = py(src);
        assert_eq!(out.matches('\n').count(), src.matches('\n').count() + 1, "{out}");
        assert!(!out.contains('\r'));
    }

    #[test]
    fn backslashes_quotes_and_cr_in_text_are_kept_exactly() {
        assert_eq!(
            py("a\\nb\"c\\\\d\\x41\"\"\"\\"),
            "req.write(\"\"\"a\\\\nb\\\"c\\\\\\\\d\\\\x41\\\"\\\"\\\"\\\\\"\"\",0)\n"
        );
        assert_eq!(py("a\rb\0"), "req.write(\"\"\"a\\rb\\x00\"\"\",0)\n");
    }

    #[test]
    fn empty_one_line_block_adds_nothing() {
        assert_eq!(
            py("a<%%>b<% %>c"),
            "req.write(\"\"\"a\"\"\",0);req.write(\"\"\"b\"\"\",0); req.write(\"\"\"c\"\"\",0)\n"
        );
    }

    #[test]
    fn code_keeps_its_backslashes_and_quotes() {
        assert_eq!(
            py("<% s = \"a\\n\" %>"),
            "req.write(\"\"\"\"\"\",0); s = \"a\\n\" ;req.write(\"\"\"\"\"\",0)\n"
        );
    }

    #[test]
    fn comments_vanish() {
        assert_eq!(py("a<%-- <%= secret %> --%>b"), "req.write(\"\"\"ab\"\"\",0)\n");
    }

    #[test]
    fn include_inserts_the_file_in_place() {
        let t = with_files("a<%@ include file=\"inc.psp\" %>b", &[("/site/inc.psp", "[<%= 1 %>]")]).unwrap();
        assert_eq!(
            t.source,
            "req.write(\"\"\"a[\"\"\",0); req.write(str( 1 ),0); req.write(\"\"\"]b\"\"\",0)\n"
        );
        assert_eq!(t.includes, vec![PathBuf::from("/site/inc.psp")]);
    }

    #[test]
    fn includes_nest_relative_to_the_main_template_and_take_absolute_paths() {
        let t = with_files(
            "<%@ include file='sub/one.psp'%>",
            &[
                ("/site/sub/one.psp", "1<%@include  file = \"/abs/two.psp\" %>"),
                ("/abs/two.psp", "2<%@ include file=\"three\" %>"),
                ("/site/three", "3"),
            ],
        )
        .unwrap();
        assert_eq!(t.source, "req.write(\"\"\"123\"\"\",0)\n");
        assert_eq!(t.includes.len(), 3);
    }

    #[test]
    fn self_include_stops_at_the_depth_limit() {
        let e = with_files(
            "<%@ include file=\"loop.psp\" %>",
            &[("/site/loop.psp", "x<%@ include file=\"loop.psp\" %>")],
        )
        .unwrap_err();
        assert!(e.message.contains("deeper than"), "{e}");
        assert_eq!(e.file, "/site/loop.psp");
    }

    #[test]
    fn missing_include_names_the_file_and_line() {
        let e = with_files("a\n\n<%@ include file=\"nope.psp\" %>", &[]).unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("/site/t.psp", 3));
        assert!(e.message.contains("/site/nope.psp"), "{e}");
        assert_eq!(e.errno, Some(libc::ENOENT));
    }

    #[test]
    fn errors_inside_an_included_file_name_that_file() {
        let e = with_files("<%@ include file=\"bad.psp\" %>", &[("/site/bad.psp", "ok\n<%= oops")]).unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("/site/bad.psp", 2));
    }

    #[test]
    fn unknown_or_malformed_directives_are_errors() {
        for d in [
            "<%@ page x %>",
            "<%@ include %>",
            "<%@ include file=nope %>",
            "<%@ includefile=\"a\" %>",
            "<%@ include file=\"\" %>",
        ] {
            let e = generate("t.psp", d, None, &|_| Ok(String::new())).unwrap_err();
            assert!(e.message.contains("unknown directive"), "{d}: {e}");
        }
    }

    #[test]
    fn relative_include_from_a_string_needs_a_directory() {
        let e = generate("<string>", "<%@ include file=\"x\" %>", None, &|_| Ok(String::new())).unwrap_err();
        assert!(e.message.contains("relative include"), "{e}");
    }

    #[test]
    fn unclosed_code_is_an_error_with_its_line() {
        let e = generate("t.psp", "a\nb\n<% x = 1", None, &|_| Ok(String::new())).unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.to_string(), "t.psp, line 3: code block '<%' is never closed with '%>'");
    }
}
