//! httpd's regular expressions (PCRE, as `<DirectoryMatch>` uses them),
//! compiled into memory this handle owns and frees.
use super::raw;

pub struct Regex(Box<raw::ap_regex_t>);

// SAFETY: a compiled expression is only read after ap_regcomp; httpd itself
// matches one expression from many threads at once (ap_regexec keeps its
// match data per call).
unsafe impl Send for Regex {}
unsafe impl Sync for Regex {}

impl Regex {
    /// Compiles `pattern` with httpd's default flags; None when it does not compile.
    pub fn new(pattern: &str) -> Option<Regex> {
        let c = std::ffi::CString::new(pattern).ok()?;
        let mut re = Box::new(raw::ap_regex_t::default());
        // SAFETY: re is a writable ap_regex_t and c a NUL-terminated string.
        let rc = unsafe { raw::ap_regcomp(&mut *re, c.as_ptr(), raw::AP_REG_EXTENDED as i32) };
        (rc == 0).then_some(Regex(re))
    }

    /// Whether the expression matches somewhere in `text`.
    pub fn is_match(&self, text: &[u8]) -> bool {
        let Ok(c) = std::ffi::CString::new(text) else { return false };
        // SAFETY: the expression was compiled by ap_regcomp; no match offsets are asked for.
        unsafe { raw::ap_regexec(&*self.0, c.as_ptr(), 0, std::ptr::null_mut(), 0) == 0 }
    }
}

// The unit-test executable has no httpd to link ap_regfree against, and its
// tests never compile an expression (ap_regcomp is httpd's too); drop glue
// they reach through a configuration must still link.
#[cfg(not(test))]
impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: compiled by ap_regcomp and freed once, here.
        unsafe { raw::ap_regfree(&mut *self.0) };
    }
}

/// What a pattern compiled into the configuration (WSGIScriptAliasMatch)
/// made of a request's URI.
pub enum UriSubstitution<'r> {
    /// No match, or an empty one at the start.
    NoMatch,
    /// The template with its $N filled in (in the request pool), and where
    /// the match ends in the URI.
    Found(&'r [u8], usize),
    /// httpd refused the substitution: its result would be too long.
    TooLong,
}

impl super::directive::PoolRegex {
    /// Matches the request's URI and fills `template`'s $0..$9 from the match
    /// (`ap_regexec`, then `ap_pregsub` into the request pool).
    pub fn substitute_in_uri<'r>(&self, r: &'r super::request::Request, template: &std::ffi::CStr) -> UriSubstitution<'r> {
        // SAFETY: the expression was compiled into the configuration pool,
        // which outlives every request of that configuration (PoolRegex's
        // invariant), and is only read; the URI is NULL or a string of the
        // live request's pool, where the substitution is made too.
        unsafe {
            let uri = (*r.as_ptr()).uri;
            if uri.is_null() {
                return UriSubstitution::NoMatch;
            }
            let mut m: [raw::ap_regmatch_t; 10] = std::mem::zeroed();
            if raw::ap_regexec(self.0, uri, m.len(), m.as_mut_ptr(), 0) != 0 || m[0].rm_eo <= 0 {
                return UriSubstitution::NoMatch;
            }
            let found = raw::ap_pregsub(r.pool().as_ptr(), template.as_ptr(), uri, m.len(), m.as_mut_ptr());
            match super::cstr(found) {
                Some(f) => UriSubstitution::Found(f, m[0].rm_eo as usize),
                None => UriSubstitution::TooLong,
            }
        }
    }
}
