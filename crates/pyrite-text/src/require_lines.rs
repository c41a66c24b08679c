//! `Require` lines as `req.requires()` reports them: the text after
//! `Require`, for the request methods a `<Limit>`/`<LimitExcept>` around it
//! allows; and the top-level ones of an .htaccess file's text.

/// `<Limit GET POST>` is (false, [GET, POST]); `<LimitExcept GET>` is (true, [GET]).
pub type MethodLimit = (bool, Vec<String>);

/// One `Require` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequireLine {
    /// What follows `Require`, e.g. `valid-user` or `user alice bob`.
    pub requirement: String,
    /// The `<Limit>`/`<LimitExcept>` around it.
    pub limit: Option<MethodLimit>,
}

impl RequireLine {
    /// Whether the line applies to a request with `method`.
    pub fn applies_to(&self, method: &str) -> bool {
        match &self.limit {
            None => true,
            Some((except, methods)) => methods.iter().any(|m| m.eq_ignore_ascii_case(method)) != *except,
        }
    }
}

/// A `Require` line's arguments with its spacing made single.
pub fn requirement(args: &str) -> String {
    args.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The containers whose `Require` lines belong to the section around them.
pub fn is_transparent(section: &str) -> bool {
    let s = section.trim_start_matches('<').to_ascii_lowercase();
    matches!(
        s.as_str(),
        "limit"
            | "limitexcept"
            | "requireall"
            | "requireany"
            | "requirenone"
            | "ifmodule"
            | "ifdefine"
            | "ifversion"
            | "ifdirective"
            | "ifsection"
            | "iffile"
    )
}

/// The limit a `<Limit ...>`/`<LimitExcept ...>` container sets, from its name and arguments.
pub fn limit_of(section: &str, args: &str) -> Option<MethodLimit> {
    let s = section.trim_start_matches('<').to_ascii_lowercase();
    let except = match s.as_str() {
        "limit" => false,
        "limitexcept" => true,
        _ => return None,
    };
    let args = args.trim_end().trim_end_matches('>');
    Some((except, args.split_whitespace().map(str::to_string).collect()))
}

/// The `Require` lines of an .htaccess file's text outside its sections
/// (those inside transparent containers included).
pub fn top_level(text: &str) -> Vec<RequireLine> {
    let mut out = Vec::new();
    // For each open container: whether it is transparent, and the limit it sets.
    let mut stack: Vec<(bool, Option<MethodLimit>)> = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(part) = line.strip_suffix('\\') {
            logical.push_str(part);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let line = std::mem::take(&mut logical);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with("</") {
            stack.pop();
            continue;
        }
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        if let Some(section) = word.strip_prefix('<') {
            let section = section.trim_end_matches('>');
            stack.push((is_transparent(section), limit_of(section, rest)));
            continue;
        }
        if !word.eq_ignore_ascii_case("require") || stack.iter().any(|(t, _)| !t) {
            continue;
        }
        out.push(RequireLine {
            requirement: requirement(rest),
            limit: stack.iter().rev().find_map(|(_, l)| l.clone()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htaccess_text() {
        let text = "AuthType Basic\n# Require nobody\nRequire valid-user\n<Files x>\n  Require user x\n</Files>\n\
                    <Limit POST>\n  Require user \\\n    alice bob\n</Limit>\n<IfModule m>\nrequire group g\n</IfModule>\n";
        let lines = top_level(text);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0].requirement, "valid-user");
        assert_eq!(lines[1].requirement, "user alice bob");
        assert!(lines[1].applies_to("POST") && !lines[1].applies_to("GET"));
        assert_eq!(lines[2].requirement, "group g");
    }

    #[test]
    fn limits() {
        let l = RequireLine {
            requirement: "valid-user".into(),
            limit: limit_of("LimitExcept", "GET HEAD>"),
        };
        assert!(!l.applies_to("GET") && l.applies_to("POST"));
    }
}
