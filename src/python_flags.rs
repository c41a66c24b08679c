//! mod_python's two interpreter switches:
//!
//! - `PythonOptimize On` (server config): Python runs as with `-O` in every
//!   child (`assert` statements and `if __debug__:` blocks are skipped). It is
//!   one setting for the whole process, as in mod_python, wherever it is written.
//! - `PythonEnablePdb On` (any section): handlers there run under
//!   `pdb.runcall` on the process's own stdin and stdout, so a developer
//!   running `apache2 -X` in a terminal steps through them. Without a terminal pdb reads end-of-file at once, quits and
//!   the handler does not run; start-up says so in the error log.
use crate::config;
use crate::ffi::raw;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

/// PythonOptimize as last read from the configuration.
static OPTIMIZE: AtomicBool = AtomicBool::new(false);
/// Whether any section of the configuration says PythonEnablePdb On.
static PDB_NAMED: AtomicBool = AtomicBool::new(false);

/// A configuration read starts: the previous generation's settings go.
pub fn config_read_starts() {
    OPTIMIZE.store(false, Ordering::Relaxed);
    PDB_NAMED.store(false, Ordering::Relaxed);
}

/// Python's optimization level for the children (0, or 1 for `-O`).
pub fn optimization_level() -> c_int {
    OPTIMIZE.load(Ordering::Relaxed) as c_int
}

/// The start-up notice for what these settings do, if any is on.
pub fn startup_notice() -> Option<String> {
    let mut parts = Vec::new();
    if OPTIMIZE.load(Ordering::Relaxed) {
        parts.push("PythonOptimize On: Python runs as with -O (assert statements are skipped)");
    }
    if PDB_NAMED.load(Ordering::Relaxed) {
        parts.push(
            "PythonEnablePdb On: handlers there run under pdb.runcall on the process's stdin and stdout; \
             this needs `apache2 -X` in a terminal, otherwise pdb reads end-of-file and the handler is skipped",
        );
    }
    (!parts.is_empty()).then(|| format!("mod_pyrite: {}", parts.join("; ")))
}

unsafe extern "C" fn set_optimize(_cmd: *mut raw::cmd_parms, _m: *mut c_void, on: c_int) -> *const c_char {
    crate::guard::or(std::ptr::null(), || {
        OPTIMIZE.store(on != 0, Ordering::Relaxed);
        std::ptr::null()
    })
}

unsafe extern "C" fn set_enable_pdb(_cmd: *mut raw::cmd_parms, mconfig: *mut c_void, on: c_int) -> *const c_char {
    // SAFETY: httpd passes this module's per-directory configuration as mconfig.
    crate::guard::or(std::ptr::null(), || unsafe {
        config::dir_conf(mconfig).enable_pdb = Some(on != 0);
        if on != 0 {
            PDB_NAMED.store(true, Ordering::Relaxed);
        }
        std::ptr::null()
    })
}

/// The directives, for config.rs's table.
pub const COMMANDS: [raw::command_rec; 2] = [
    config::cmd(
        c"PythonOptimize",
        raw::cmd_func { flag: Some(set_optimize) },
        0,
        raw::RSRC_CONF,
        raw::cmd_how_FLAG,
        c"On: Python runs as with -O in every child (assert statements skipped); Off (default)",
    ),
    config::cmd(
        c"PythonEnablePdb",
        raw::cmd_func {
            flag: Some(set_enable_pdb),
        },
        0,
        raw::OR_ALL,
        raw::cmd_how_FLAG,
        c"On: handlers here run under pdb.runcall (for `apache2 -X` in a terminal); Off (default)",
    ),
];
