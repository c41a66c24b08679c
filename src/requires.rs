//! The `Require` lines behind `req.requires()`. httpd 2.4 keeps them inside
//! mod_authz_core with no way to list them, so they are read from the
//! configuration itself: when a Python directive is read, the `Require`
//! lines of the same section (or .htaccess file) are noted in that section's
//! configuration, and a section's own lines replace the enclosing ones, as
//! authz's default merging does.
use crate::ffi::directive::Directive;
use crate::ffi::raw;
use pyrite_text::require_lines::{is_transparent, limit_of, requirement, top_level, MethodLimit, RequireLine};
use std::sync::Arc;

/// The Require lines of the section `cmd`'s directive is written in (an
/// empty list when it has none).
///
/// # Safety
/// `cmd` is the cmd_parms of a directive callback.
pub unsafe fn of_section(cmd: *const raw::cmd_parms, reading_config: bool) -> Arc<Vec<RequireLine>> {
    // SAFETY: the contract; the tree outlives this call.
    let (directive, from_file) = unsafe { Directive::of_cmd(cmd) };
    let Some(d) = directive else {
        return Arc::new(Vec::new());
    };
    Arc::new(in_section_of(d, !reading_config && from_file))
}

/// The Require lines of the section `d` is written in.
fn in_section_of(d: &Directive, htaccess: bool) -> Vec<RequireLine> {
    let mut out = Vec::new();
    let mut section = d.parent();
    while let Some(s) = section.filter(|s| is_transparent(&name(s))) {
        section = s.parent();
    }
    if let Some(s) = section {
        if let Some(first) = s.first_child() {
            collect(first, None, &mut out);
        }
    } else if htaccess {
        // An .htaccess file: its nodes have no parent to find the first from.
        let file = lossy(d.filename());
        if let Ok(text) = std::fs::read_to_string(&file) {
            out = top_level(&text);
        }
    }
    // At server level there are none: httpd takes Require in sections only.
    out
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn name(d: &Directive) -> String {
    lossy(d.name())
}

/// Require lines among `node` and its siblings, descending into transparent containers.
fn collect(node: &Directive, limit: Option<MethodLimit>, out: &mut Vec<RequireLine>) {
    for node in node.siblings() {
        let n = name(node);
        let args = lossy(node.args());
        if n.eq_ignore_ascii_case("require") {
            out.push(RequireLine {
                requirement: requirement(&args),
                limit: limit.clone(),
            });
        } else if n.starts_with('<') && is_transparent(&n) {
            if let Some(first) = node.first_child() {
                collect(first, limit_of(&n, &args).or_else(|| limit.clone()), out);
            }
        }
    }
}
