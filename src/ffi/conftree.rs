//! ap_directive_t as a typed handle: one node of the configuration tree httpd
//! parsed (a directive with its arguments, or a section with children).
//! Nodes live in the configuration pool, as long as the configuration (`'a`).
use super::{cstr, raw};

/// One configuration node. Only `&Directive` exists; httpd does not change
/// the tree once it is read.
#[repr(transparent)]
pub struct Directive(raw::ap_directive_t);

impl Directive {
    /// The handle of a node.
    ///
    /// # Safety
    /// `d` is NULL or a node of a configuration tree that stays loaded for `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(d: *const raw::ap_directive_t) -> Option<&'a Directive> {
        // SAFETY: repr(transparent) over the node; validity as the contract says.
        unsafe { (d as *const Directive).as_ref() }
    }

    /// The directive a configuration callback is reading (None for one
    /// given on the command line), and whether it comes from a file
    /// (a config_file is open: the main configuration or an .htaccess).
    ///
    /// # Safety
    /// `cmd` is the cmd_parms of a directive callback running now; its tree
    /// stays loaded for `'a`.
    pub unsafe fn of_cmd<'a>(cmd: *const raw::cmd_parms) -> (Option<&'a Directive>, bool) {
        // SAFETY: the contract.
        unsafe { (Directive::from_raw((*cmd).directive), !(*cmd).config_file.is_null()) }
    }

    /// The root of the configuration tree httpd keeps (None before it is read).
    pub fn conftree() -> Option<&'static Directive> {
        // SAFETY: ap_conftree is NULL or the tree of the configuration being
        // run, which outlives everything that runs under it.
        unsafe { Directive::from_raw(raw::ap_conftree) }
    }

    /// The directive's name (`<Location` for a section).
    pub fn name(&self) -> &[u8] {
        // SAFETY: a configuration string (never NULL for a parsed node).
        unsafe { cstr(self.0.directive) }.unwrap_or_default()
    }

    /// The arguments as written.
    pub fn args(&self) -> &[u8] {
        // SAFETY: NULL or a configuration string.
        unsafe { cstr(self.0.args) }.unwrap_or_default()
    }

    /// The file the node was read from.
    pub fn filename(&self) -> &[u8] {
        // SAFETY: NULL or a configuration string.
        unsafe { cstr(self.0.filename) }.unwrap_or_default()
    }

    /// The next node at the same level.
    pub fn next(&self) -> Option<&Directive> {
        // SAFETY: a node of the same tree, or NULL.
        unsafe { Directive::from_raw(self.0.next) }
    }

    /// The section's first child (None for a plain directive).
    pub fn first_child(&self) -> Option<&Directive> {
        // SAFETY: as for next.
        unsafe { Directive::from_raw(self.0.first_child) }
    }

    /// The enclosing section.
    pub fn parent(&self) -> Option<&Directive> {
        // SAFETY: as for next.
        unsafe { Directive::from_raw(self.0.parent) }
    }

    /// This node and the ones after it at its level.
    pub fn siblings(&self) -> impl Iterator<Item = &Directive> {
        std::iter::successors(Some(self), |d| d.next())
    }
}
