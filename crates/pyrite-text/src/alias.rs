//! Which WSGIScriptAlias a URL belongs to, the script file it maps to (with
//! mod_alias's, and so mod_wsgi's, matching rules), and how the URL splits
//! into SCRIPT_NAME and PATH_INFO.

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

/// SCRIPT_NAME and PATH_INFO as mod_wsgi computes them: the URI up to
/// `script_end` (where httpd's directory walk found the path info to begin;
/// the whole URI when there is no path info) and the path info, runs of '/'
/// collapsed in both.
pub fn script_name_and_path_info(uri: &[u8], path_info: &[u8], script_end: usize) -> (Vec<u8>, Vec<u8>) {
    let script_name = if path_info.is_empty() {
        uri
    } else {
        &uri[..script_end.min(uri.len())]
    };
    (collapse_slashes(script_name), collapse_slashes(path_info))
}

/// SCRIPT_NAME and PATH_INFO of an application mounted at `mount`
/// (`PythonHandler mod_python.wsgi`): the mount without trailing '/', and the
/// rest of the URI (all of it when the URI lies outside the mount).
pub fn mount_split(uri: &[u8], mount: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let end = mount.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    let base = &mount[..end];
    let path_info = uri.strip_prefix(base).unwrap_or(uri);
    (base.to_vec(), path_info.to_vec())
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

    #[test]
    fn script_name_and_path_info_split() {
        let split = |u: &[u8], p: &[u8], n| script_name_and_path_info(u, p, n);
        assert_eq!(split(b"/app//x", b"//x", 4), (b"/app".to_vec(), b"/x".to_vec()));
        assert_eq!(split(b"//app", b"", 0), (b"/app".to_vec(), b"".to_vec()));
        assert_eq!(split(b"/a", b"/b", 99), (b"/a".to_vec(), b"/b".to_vec()));
        assert_eq!(mount_split(b"/m/x", b"/m/"), (b"/m".to_vec(), b"/x".to_vec()));
        assert_eq!(mount_split(b"/other", b"/m"), (b"/m".to_vec(), b"/other".to_vec()));
        assert_eq!(mount_split(b"/x", b""), (b"".to_vec(), b"/x".to_vec()));
        assert_eq!(mount_split(b"/x", b"///"), (b"".to_vec(), b"/x".to_vec()));
    }
}
