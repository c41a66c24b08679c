//! Which WSGIScriptAlias a URL belongs to, and the script file it maps to,
//! with mod_alias's (and so mod_wsgi's) matching rules.

/// How many bytes of `uri` the alias `alias` matches, or None.
///
/// Characters compare literally; a '/' in the alias matches one or more '/'
/// in the URI; the match must end at the end of the URI, before a '/', or
/// after an alias that ends in '/' (so "/app" never matches "/apple").
pub fn matches(uri: &[u8], alias: &[u8]) -> Option<usize> {
    let (mut a, mut u) = (0usize, 0usize);
    while a < alias.len() {
        if alias[a] == b'/' {
            if uri.get(u) != Some(&b'/') {
                return None;
            }
            while alias.get(a) == Some(&b'/') {
                a += 1;
            }
            while uri.get(u) == Some(&b'/') {
                u += 1;
            }
        } else {
            if uri.get(u) != Some(&alias[a]) {
                return None;
            }
            a += 1;
            u += 1;
        }
    }
    let alias_ends_in_slash = alias.last() == Some(&b'/');
    if !alias_ends_in_slash && u < uri.len() && uri[u] != b'/' {
        return None;
    }
    Some(u)
}

/// The file a matched URI maps to: the target plus what follows the match;
/// for the alias "/" the whole URI follows the target.
pub fn filename(target: &[u8], alias: &[u8], uri: &[u8], matched: usize) -> Vec<u8> {
    let rest = if alias == b"/" { uri } else { &uri[matched..] };
    let mut f = target.to_vec();
    f.extend_from_slice(rest);
    f
}

/// Collapses runs of '/' into one (mod_wsgi does this to SCRIPT_NAME and PATH_INFO).
pub fn collapse_slashes(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        if b == b'/' && out.last() == Some(&b'/') {
            continue;
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_matching() {
        assert_eq!(matches(b"/app", b"/app"), Some(4));
        assert_eq!(matches(b"/app/", b"/app"), Some(4));
        assert_eq!(matches(b"/app/x/y", b"/app"), Some(4));
        assert_eq!(matches(b"/apple", b"/app"), None);
        assert_eq!(matches(b"//app//x", b"/app"), Some(5));
        assert_eq!(matches(b"/", b"/"), Some(1));
        assert_eq!(matches(b"/x", b"/"), Some(1));
        assert_eq!(matches(b"/app/", b"/app/"), Some(5));
        assert_eq!(matches(b"/app/x", b"/app/"), Some(5));
        assert_eq!(matches(b"/app", b"/app/"), None);
        assert_eq!(matches(b"/other", b"/app"), None);
    }

    #[test]
    fn filenames() {
        assert_eq!(filename(b"/s/a.wsgi", b"/app", b"/app/x", 4), b"/s/a.wsgi/x");
        assert_eq!(filename(b"/s/a.wsgi", b"/", b"/x/y", 1), b"/s/a.wsgi/x/y");
        assert_eq!(filename(b"/s/a.wsgi", b"/", b"/", 1), b"/s/a.wsgi/");
        assert_eq!(collapse_slashes(b"//a///b/"), b"/a/b/");
    }
}
