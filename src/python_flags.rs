//! mod_python's two interpreter switches:
//!
//! - `PythonOptimize On` (server config): Python runs as with `-O` in every
//!   child (`assert` statements and `if __debug__:` blocks are skipped). It is
//!   one setting for the whole process, as in mod_python, wherever it is written.
//! - `PythonEnablePdb On` (any section): handlers there run under
//!   `pdb.runcall` on the process's own stdin and stdout, so a developer
//!   running `apache2 -X` in a terminal steps through them. Without a terminal pdb reads end-of-file at once, quits and
//!   the handler does not run; start-up says so in the error log.
use crate::config::DirConfig;
use crate::ffi::directive::{entry, Cmd, Func, Outcome, Spec};
use crate::ffi::raw;
use std::ffi::c_int;
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

fn set_optimize(_cmd: &Cmd, _m: &mut DirConfig, on: bool) -> Outcome {
    OPTIMIZE.store(on, Ordering::Relaxed);
    Ok(())
}

fn set_enable_pdb(_cmd: &Cmd, mconfig: &mut DirConfig, on: bool) -> Outcome {
    mconfig.enable_pdb = Some(on);
    if on {
        PDB_NAMED.store(true, Ordering::Relaxed);
    }
    Ok(())
}

/// The directives, for the command table (src/directives.rs).
pub const COMMANDS: [raw::command_rec; 2] = [
    entry(&Spec::new(
        c"PythonOptimize",
        Func::Flag(set_optimize),
        0,
        raw::RSRC_CONF,
        c"On: Python runs as with -O in every child (assert statements skipped); Off (default)",
    )),
    entry(&Spec::new(
        c"PythonEnablePdb",
        Func::Flag(set_enable_pdb),
        0,
        raw::OR_ALL,
        c"On: handlers here run under pdb.runcall (for `apache2 -X` in a terminal); Off (default)",
    )),
];
