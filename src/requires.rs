//! The `Require` lines behind `req.requires()`. httpd 2.4 keeps them inside
//! mod_authz_core with no way to list them, so they are read from the
//! configuration itself: when a Python directive is read, the `Require`
//! lines of the same section (or .htaccess file) are noted in that section's
//! configuration, and a section's own lines replace the enclosing ones, as
//! authz's default merging does.
use crate::ffi::{self, raw};
use pyrite_text::require_lines::{is_transparent, limit_of, requirement, top_level, MethodLimit, RequireLine};
use std::sync::Arc;

/// The Require lines of the section `cmd`'s directive is written in (an
/// empty list when it has none).
///
/// # Safety
/// `cmd` is the cmd_parms of a directive callback.
pub unsafe fn of_section(cmd: *const raw::cmd_parms, reading_config: bool) -> Arc<Vec<RequireLine>> {
    unsafe {
        let d = (*cmd).directive;
        let mut out = Vec::new();
        if d.is_null() {
            return Arc::new(out);
        }
        let mut section = (*d).parent;
        while !section.is_null() && is_transparent(&name(section)) {
            section = (*section).parent;
        }
        if !section.is_null() {
            collect((*section).first_child, None, &mut out);
        } else if !reading_config && !(*cmd).config_file.is_null() {
            // An .htaccess file: its nodes have no parent to find the first from.
            let file = ffi::cstr_lossy((*d).filename);
            if let Ok(text) = std::fs::read_to_string(&file) {
                out = top_level(&text);
            }
        }
        // At server level there are none: httpd takes Require in sections only.
        Arc::new(out)
    }
}

unsafe fn name(d: *const raw::ap_directive_t) -> String {
    unsafe { ffi::cstr_lossy((*d).directive) }
}

/// Require lines among `node` and its siblings, descending into transparent containers.
unsafe fn collect(mut node: *const raw::ap_directive_t, limit: Option<MethodLimit>, out: &mut Vec<RequireLine>) {
    unsafe {
        while !node.is_null() {
            let n = name(node);
            let args = ffi::cstr_lossy((*node).args);
            if n.eq_ignore_ascii_case("require") {
                out.push(RequireLine {
                    requirement: requirement(&args),
                    limit: limit.clone(),
                });
            } else if n.starts_with('<') && is_transparent(&n) {
                collect((*node).first_child, limit_of(&n, &args).or_else(|| limit.clone()), out);
            }
            node = (*node).next;
        }
    }
}
