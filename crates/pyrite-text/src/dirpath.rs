//! Directory names as mod_python writes them: the path a configuration
//! section names, a directory in its canonical form (absolute, one trailing
//! slash), the directory a request's file is in, and a file name's extension
//! as `| .ext` handler lists match it.

/// What a `<Directory>`/`<Location>` section's arguments name.
#[derive(Debug, PartialEq, Eq)]
pub enum SectionPath {
    /// A plain path.
    Plain(String),
    /// A wildcard pattern (`*`, `?` or `[`), matched against the request's path.
    Wildcard(String),
    /// A regular expression (`<Directory ~ re>` or a `...Match` section).
    Regex(String),
}

/// The path a section's raw arguments (`/srv/www>`, `"/my www">`, `~ ^/x>`) name.
/// `is_match` is set for `<DirectoryMatch>`/`<LocationMatch>`.
pub fn section_path(args: &str, is_match: bool) -> Option<SectionPath> {
    let args = args.trim_end();
    let args = args.strip_suffix('>').unwrap_or(args);
    let mut words = crate::directive::split_words(args).ok()?.into_iter();
    let first = words.next()?;
    if is_match {
        return Some(SectionPath::Regex(first));
    }
    if first == "~" {
        return words.next().map(SectionPath::Regex);
    }
    if first.contains(['*', '?', '[']) {
        return Some(SectionPath::Wildcard(first));
    }
    Some(SectionPath::Plain(first))
}

/// `dir` made absolute against `cwd`, with `.`, `..` and repeated slashes
/// resolved by name (symbolic links are left alone), ending in one `/`.
pub fn canonical_dir(dir: &str, cwd: &str) -> String {
    let joined = if dir.starts_with('/') {
        dir.to_string()
    } else {
        format!("{cwd}/{dir}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = String::from("/");
    for p in parts {
        out.push_str(p);
        out.push('/');
    }
    out
}

/// The directory holding `filename`, ending in `/`; a directory is its own
/// (`/srv/www/sub` that is a directory -> `/srv/www/sub/`). None for a name without a slash.
pub fn containing_dir(filename: &[u8], is_dir: bool) -> Option<Vec<u8>> {
    if is_dir {
        let mut d = filename.to_vec();
        if d.last() != Some(&b'/') {
            d.push(b'/');
        }
        return Some(d);
    }
    let i = filename.iter().rposition(|&b| b == b'/')?;
    Some(filename[..=i].to_vec())
}

/// The extension `| .ext` lists are matched with: everything from the first
/// dot of the file's base name (`a.tar.gz` -> `.tar.gz`). None without a dot.
pub fn extension(filename: &[u8]) -> Option<&[u8]> {
    let base = filename.rsplit(|&b| b == b'/').next().unwrap_or(filename);
    let i = base.iter().position(|&b| b == b'.')?;
    let ext = &base[i..];
    (ext.len() > 1).then_some(ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections() {
        assert_eq!(section_path("/srv/www>", false), Some(SectionPath::Plain("/srv/www".into())));
        assert_eq!(section_path("\"/my www\">", false), Some(SectionPath::Plain("/my www".into())));
        assert_eq!(section_path("~ ^/x$>", false), Some(SectionPath::Regex("^/x$".into())));
        assert_eq!(section_path("/srv/*/www>", false), Some(SectionPath::Wildcard("/srv/*/www".into())));
        assert_eq!(section_path("^/app>", true), Some(SectionPath::Regex("^/app".into())));
        assert_eq!(section_path(">", false), None);
    }

    #[test]
    fn canonical() {
        assert_eq!(canonical_dir("/srv/www", "/"), "/srv/www/");
        assert_eq!(canonical_dir("/srv//www/./a/../", "/"), "/srv/www/");
        assert_eq!(canonical_dir("app", "/srv"), "/srv/app/");
        assert_eq!(canonical_dir("/", "/x"), "/");
    }

    #[test]
    fn containing() {
        assert_eq!(containing_dir(b"/srv/www/a.py", false).unwrap(), b"/srv/www/");
        assert_eq!(containing_dir(b"/srv/www/sub", true).unwrap(), b"/srv/www/sub/");
        assert_eq!(containing_dir(b"/srv/www/sub/", true).unwrap(), b"/srv/www/sub/");
        assert_eq!(containing_dir(b"noslash", false), None);
    }

    #[test]
    fn extensions() {
        assert_eq!(extension(b"/srv/www/tests.py"), Some(&b".py"[..]));
        assert_eq!(extension(b"/srv/w.w/a.tar.gz"), Some(&b".tar.gz"[..]));
        assert_eq!(extension(b"/srv/www/tests"), None);
        assert_eq!(extension(b"/srv/www/dot."), None);
    }
}
