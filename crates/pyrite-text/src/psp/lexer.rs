//! Splits a PSP template into its pieces. The brackets are mod_python's:
//! `<%-- comment --%>`, `<%@ directive %>`, `<%= expression %>` and
//! `<% code %>`; everything else is literal text. A block ends at the first
//! `%>` (or `--%>`), even inside a Python string, as in mod_python.

/// One piece of a template; slices borrow the template text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Code(&'a str),
    Expr(&'a str),
    Directive(&'a str),
    Comment,
}

/// A piece and the 1-based line it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub piece: Piece<'a>,
    pub line: usize,
}

/// A bracket opened and never closed: (line it opened on, message).
pub type LexError = (usize, String);

/// The pieces of `src`, in order; empty text between blocks is left out.
pub fn tokenize(src: &str) -> Result<Vec<Token<'_>>, LexError> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    let mut line = 1;
    while pos < src.len() {
        let Some(rel) = src[pos..].find("<%") else {
            tokens.push(Token {
                piece: Piece::Text(&src[pos..]),
                line,
            });
            break;
        };
        if rel > 0 {
            let text = &src[pos..pos + rel];
            tokens.push(Token {
                piece: Piece::Text(text),
                line,
            });
            line += newlines(text);
        }
        let open = pos + rel;
        let rest = &src[open..];
        // The longest opening bracket wins, as in mod_python's scanner.
        let (skip, close, what): (usize, &str, &str) = if rest.starts_with("<%--") {
            (4, "--%>", "comment '<%--'")
        } else if rest.starts_with("<%@") {
            (3, "%>", "directive '<%@'")
        } else if rest.starts_with("<%=") {
            (3, "%>", "expression '<%='")
        } else {
            (2, "%>", "code block '<%'")
        };
        let body_start = open + skip;
        let Some(len) = src[body_start..].find(close) else {
            return Err((line, format!("{what} is never closed with '{close}'")));
        };
        let body = &src[body_start..body_start + len];
        let piece = match skip {
            4 => Piece::Comment,
            3 if rest.as_bytes()[2] == b'@' => Piece::Directive(body),
            3 => Piece::Expr(body),
            _ => Piece::Code(body),
        };
        tokens.push(Token { piece, line });
        line += newlines(&src[open..body_start + len + close.len()]);
        pos = body_start + len + close.len();
    }
    Ok(tokens)
}

/// Lines a piece of text spans beyond its first (CRLF counts once).
pub fn newlines(s: &str) -> usize {
    s.bytes().filter(|&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_code_expressions_directives_and_comments() {
        let t = tokenize("a<% x %>b<%= y %>c<%@ include file=\"f\" %><%-- no --%>d").unwrap();
        let pieces: Vec<Piece> = t.iter().map(|t| t.piece).collect();
        assert_eq!(
            pieces,
            vec![
                Piece::Text("a"),
                Piece::Code(" x "),
                Piece::Text("b"),
                Piece::Expr(" y "),
                Piece::Text("c"),
                Piece::Directive(" include file=\"f\" "),
                Piece::Comment,
                Piece::Text("d"),
            ]
        );
    }

    #[test]
    fn tokens_know_their_line() {
        let t = tokenize("one\ntwo<%\nx\n%>three\n<%= 1 %>").unwrap();
        let lines: Vec<usize> = t.iter().map(|t| t.line).collect();
        assert_eq!(lines, vec![1, 2, 4, 5]);
    }

    #[test]
    fn comment_may_hold_percent_brackets() {
        let t = tokenize("<%-- <% not code %> --%>x").unwrap();
        assert_eq!(t[0].piece, Piece::Comment);
        assert_eq!(t[1].piece, Piece::Text("x"));
    }

    #[test]
    fn unclosed_blocks_are_errors_naming_the_line() {
        assert_eq!(tokenize("a\nb <% x = 1\n").unwrap_err().0, 2);
        assert!(tokenize("<%= x").unwrap_err().1.contains("expression"));
        assert!(tokenize("\n\n<%-- x %>").unwrap_err().1.contains("'--%>'"));
        assert_eq!(tokenize("\n\n<%-- x %>").unwrap_err().0, 3);
        assert!(tokenize("<%@ include").unwrap_err().1.contains("directive"));
    }

    #[test]
    fn plain_text_is_one_piece() {
        assert_eq!(
            tokenize("just % text > here").unwrap(),
            vec![Token {
                piece: Piece::Text("just % text > here"),
                line: 1
            }]
        );
        assert!(tokenize("").unwrap().is_empty());
    }
}
