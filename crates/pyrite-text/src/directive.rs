//! The words of a `Python*` or `WSGI*` directive and the handler names in
//! them, checked when httpd reads its configuration.

/// Splits a directive's raw arguments into words, honouring "double" and 'single' quotes.
pub fn split_words(args: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = args.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        let mut word = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(ch) = chars.next() {
                if ch == '\\' && chars.peek() == Some(&c) {
                    word.push(c);
                    chars.next();
                } else if ch == c {
                    closed = true;
                    break;
                } else {
                    word.push(ch);
                }
            }
            if !closed {
                return Err(format!("unterminated {c} quote"));
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                word.push(ch);
                chars.next();
            }
        }
        out.push(word);
    }
    Ok(out)
}

fn is_dotted_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|p| {
            let mut cs = p.chars();
            matches!(cs.next(), Some(c) if c == '_' || c.is_alphabetic()) && cs.all(|c| c == '_' || c.is_alphanumeric())
        })
}

/// Parses `module[::object.path]`.
pub fn parse_handler_spec(spec: &str) -> Result<(String, Option<String>), String> {
    let (module, object) = match spec.split_once("::") {
        Some((m, o)) => (m, Some(o)),
        None => (spec, None),
    };
    if !is_dotted_name(module) {
        return Err(format!(
            "'{spec}' does not name a Python module (expected module[::object], e.g. mysite.views::handler)"
        ));
    }
    if let Some(o) = object {
        if !is_dotted_name(o) {
            return Err(format!("'{spec}': '{o}' is not an object path (expected names separated by dots)"));
        }
    }
    Ok((module.to_string(), object.map(str::to_string)))
}

/// A handler directive's handlers (module, optional object) and its extensions.
pub type HandlerArgs = (Vec<(String, Option<String>)>, Vec<String>);

/// Parses a handler directive's arguments: `handler [handler ...] [| .ext [.ext ...]]`.
pub fn parse_handler_args(args: &str) -> Result<HandlerArgs, String> {
    let words = split_words(args)?;
    let mut handlers = Vec::new();
    let mut exts = Vec::new();
    let mut after_bar = false;
    for w in words {
        if w == "|" {
            if after_bar {
                return Err("more than one '|'".into());
            }
            after_bar = true;
        } else if after_bar {
            if !w.starts_with('.') || w.len() < 2 {
                return Err(format!("'{w}' after '|' is not a file extension (write .py, .html, ...)"));
            }
            exts.push(w);
        } else {
            handlers.push(parse_handler_spec(&w)?);
        }
    }
    if handlers.is_empty() {
        return Err("names no handler (expected module[::object] ...)".into());
    }
    if after_bar && exts.is_empty() {
        return Err("'|' must be followed by at least one file extension".into());
    }
    Ok((handlers, exts))
}

/// A light check of a PythonPath expression (Python cannot run in httpd's
/// parent): brackets balance and quotes close, reading strings (triple-quoted
/// ones too) and comments as Python's tokenizer does, so that nothing Python
/// compiles is refused. Evaluation errors are logged by each child with the
/// directive's file and line.
pub fn check_python_expr(expr: &str) -> Result<(), String> {
    if expr.trim().is_empty() {
        return Err("the expression is empty (e.g. PythonPath \"sys.path+['/srv/app']\")".into());
    }
    let mut stack = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                // A comment runs to the end of its line (Python reads a lone CR as one).
                while chars.next_if(|&c| c != '\n' && c != '\r').is_some() {}
            }
            '\'' | '"' => {
                let closed = if chars.next_if_eq(&c).is_none() {
                    skip_string(&mut chars, c, false)
                } else if chars.next_if_eq(&c).is_some() {
                    skip_string(&mut chars, c, true)
                } else {
                    true // '' or "": the empty string
                };
                if !closed {
                    return Err(format!("unterminated {c} quote in Python expression {expr:?}"));
                }
            }
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(want) {
                    return Err(format!("unbalanced '{c}' in Python expression {expr:?}"));
                }
            }
            _ => {}
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("unclosed '{open}' in Python expression {expr:?}"));
    }
    Ok(())
}

/// Skips the rest of a string opened with `quote` (thrice when `triple`);
/// false when it never closes. A backslash escapes the next character, in raw
/// strings too (`r'\''` does not end at its second quote).
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, quote: char, triple: bool) -> bool {
    let mut run = 0;
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
            run = 0;
        } else if c == quote {
            run += 1;
            if !triple || run == 3 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_args_with_extensions() {
        let (h, e) = parse_handler_args("a b.c::d.e | .py .html").unwrap();
        assert_eq!(h, vec![("a".into(), None), ("b.c".into(), Some("d.e".into()))]);
        assert_eq!(e, vec![".py", ".html"]);
    }

    #[test]
    fn handler_args_errors() {
        assert!(parse_handler_args("").is_err());
        assert!(parse_handler_args("a |").is_err());
        assert!(parse_handler_args("a | py").is_err());
        assert!(parse_handler_args("a/b").is_err());
        assert!(parse_handler_args("a::").is_err());
        assert!(parse_handler_args("a::b..c").is_err());
        assert!(parse_handler_args("9a").is_err());
    }

    #[test]
    fn python_expr_check() {
        assert!(check_python_expr("sys.path+['/x']").is_ok());
        assert!(check_python_expr("sys.path+['/x'").is_err());
        assert!(check_python_expr("sys.path+['/x]").is_err());
        assert!(check_python_expr("[')']").is_ok());
        assert!(check_python_expr("  ").is_err());
    }

    #[test]
    fn python_expr_check_reads_comments_and_triple_quotes_as_python_does() {
        // Found by the `directive` fuzz target: Python compiles this.
        assert!(check_python_expr("\"\"#2)y\u{4}\"").is_ok());
        assert!(check_python_expr("sys.path + ['/x'] # it's [here").is_ok());
        assert!(check_python_expr("'''it's [''' + \"\"\"a\"b\"\"\"").is_ok());
        assert!(check_python_expr(r"['a\'b']").is_ok());
        assert!(check_python_expr("'' + ''").is_ok());
        assert!(check_python_expr("'''a''''").is_err());
        assert!(check_python_expr("'''a''").is_err());
        assert!(check_python_expr("[1 # ]").is_err());
        // Found by the `directive` fuzz target: a comment ends at a lone CR.
        assert!(check_python_expr("(ys\u{17e2}t\n#Tt##\n##\n##\r)").is_ok());
    }
}
