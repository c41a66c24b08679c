//! The `Require` lines behind `req.requires()`. httpd 2.4 keeps them inside
//! mod_authz_core with no way to list them, so they are read from the
//! configuration itself: when a Python directive is read, the `Require`
//! lines of the same section (or .htaccess file) are noted in that section's
//! configuration, and a section's own lines replace the enclosing ones, as
//! authz's default merging does.
use crate::ffi::directive::{Cmd, Node};
use pyrite_text::require_lines::{is_transparent, limit_of, requirement, top_level, MethodLimit, RequireLine};
use std::sync::Arc;

/// The Require lines of the section `cmd`'s directive is written in (an
/// empty list when it has none).
pub fn of_section(cmd: &Cmd, reading_config: bool) -> Arc<Vec<RequireLine>> {
    let mut out = Vec::new();
    let Some(d) = cmd.node() else {
        return Arc::new(out);
    };
    let mut section = d.parent();
    while let Some(s) = section.filter(|s| is_transparent(&name(s))) {
        section = s.parent();
    }
    if let Some(section) = section {
        collect(section.first_child(), None, &mut out);
    } else if !reading_config && cmd.reads_a_file() {
        // An .htaccess file: its nodes have no parent to find the first from.
        let file = String::from_utf8_lossy(d.file()).into_owned();
        if let Ok(text) = std::fs::read_to_string(&file) {
            out = top_level(&text);
        }
    }
    // At server level there are none: httpd takes Require in sections only.
    Arc::new(out)
}

fn name(d: &Node) -> String {
    String::from_utf8_lossy(d.name()).into_owned()
}

/// Require lines among `node` and its siblings, descending into transparent containers.
fn collect(mut node: Option<Node>, limit: Option<MethodLimit>, out: &mut Vec<RequireLine>) {
    while let Some(n) = node {
        let dname = name(&n);
        let args = String::from_utf8_lossy(n.args()).into_owned();
        if dname.eq_ignore_ascii_case("require") {
            out.push(RequireLine {
                requirement: requirement(&args),
                limit: limit.clone(),
            });
        } else if dname.starts_with('<') && is_transparent(&dname) {
            collect(n.first_child(), limit_of(&dname, &args).or_else(|| limit.clone()), out);
        }
        node = n.next();
    }
}
