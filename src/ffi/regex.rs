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
