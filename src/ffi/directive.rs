//! Directives as httpd reads them: entries of the command table, the
//! directive being read (`cmd_parms`) as a typed handle, and the C entry
//! points that turn httpd's call into a call of a safe Rust function.
//!
//! A directive is a [`Spec`]: its name, a plain Rust function taking
//! `(&Cmd, &mut D, args)` where `D` is the module's per-directory
//! configuration, and httpd's override and help fields. [`entry`] makes the
//! `command_rec` whose `cmd_data` points at the spec; the generic C
//! functions below find it there, check nothing panics, and hand an error
//! text back to httpd, which prints it with the directive's file and line.
use super::module_config::{Kept, PerDir, PerServer};
use super::pool::Pool;
use super::server::Server;
use super::{cstr, module_config, raw};
use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr};

/// What a directive function returns: Err holds the whole message httpd shows.
pub type Outcome = Result<(), String>;

/// The argument shapes httpd parses for a directive (its `cmd_how`).
pub enum Func<D: 'static> {
    /// The rest of the line, unparsed (RAW_ARGS).
    RawArgs(fn(&Cmd, &mut D, &str) -> Outcome),
    /// One word (TAKE1).
    Take1(fn(&Cmd, &mut D, &str) -> Outcome),
    /// Two words (TAKE2).
    Take2(fn(&Cmd, &mut D, &str, &str) -> Outcome),
    /// One or two words (TAKE12).
    Take12(fn(&Cmd, &mut D, &str, Option<&str>) -> Outcome),
    /// On or Off (FLAG).
    Flag(fn(&Cmd, &mut D, bool) -> Outcome),
}

/// One directive of the module.
pub struct Spec<D: 'static> {
    pub name: &'static CStr,
    pub func: Func<D>,
    /// A number the function reads back with [`Cmd::info`] (one function, several directives).
    pub info: usize,
    /// Where it may appear (httpd's RSRC_CONF, OR_ALL ...).
    pub req_override: u32,
    pub help: &'static CStr,
}

impl<D: 'static> Spec<D> {
    pub const fn new(name: &'static CStr, func: Func<D>, info: usize, req_override: u32, help: &'static CStr) -> Self {
        Spec {
            name,
            func,
            info,
            req_override,
            help,
        }
    }
}

/// The command table entry of a directive.
pub const fn entry<D: PerDir>(spec: &'static Spec<D>) -> raw::command_rec {
    let (func, how) = match spec.func {
        Func::RawArgs(_) => (
            raw::cmd_func {
                raw_args: Some(one_arg::<D>),
            },
            raw::cmd_how_RAW_ARGS,
        ),
        Func::Take1(_) => (raw::cmd_func { take1: Some(one_arg::<D>) }, raw::cmd_how_TAKE1),
        Func::Take2(_) | Func::Take12(_) => (
            raw::cmd_func {
                take2: Some(two_args::<D>),
            },
            if matches!(spec.func, Func::Take2(_)) {
                raw::cmd_how_TAKE2
            } else {
                raw::cmd_how_TAKE12
            },
        ),
        Func::Flag(_) => (raw::cmd_func { flag: Some(flag::<D>) }, raw::cmd_how_FLAG),
    };
    raw::command_rec {
        name: spec.name.as_ptr(),
        func,
        cmd_data: spec as *const Spec<D> as *mut c_void,
        req_override: spec.req_override as c_int,
        args_how: how,
        errmsg: spec.help.as_ptr(),
    }
}

/// A command table entry for a C-style callback (directives not yet written
/// as a [`Spec`]; their callbacks read `cmd_parms` themselves).
pub const fn cmd(
    name: &'static CStr,
    func: raw::cmd_func,
    info: usize,
    req_override: u32,
    how: raw::cmd_how,
    help: &'static CStr,
) -> raw::command_rec {
    raw::command_rec {
        name: name.as_ptr(),
        func,
        cmd_data: info as *mut c_void,
        req_override: req_override as c_int,
        args_how: how,
        errmsg: help.as_ptr(),
    }
}

/// httpd's command table: the entries, then the all-zero one that ends it.
#[repr(transparent)]
pub struct CommandTable<const N: usize>(pub [raw::command_rec; N]);
// SAFETY: read-only after construction; its pointers are to 'static data.
unsafe impl<const N: usize> Sync for CommandTable<N> {}

impl<const N: usize> CommandTable<N> {
    pub const fn as_ptr(&self) -> *const raw::command_rec {
        self.0.as_ptr()
    }
}

/// The entry that ends a command table.
// SAFETY: an all-zero command_rec (NULL name and function) is httpd's end marker.
pub const END: raw::command_rec = unsafe { std::mem::zeroed() };

/// The directive being read, valid for the callback (`'a`).
pub struct Cmd<'a> {
    parms: &'a raw::cmd_parms,
    info: usize,
    /// A server configuration is lent out (see `server_config`).
    server_lent: Cell<bool>,
}

impl<'a> Cmd<'a> {
    /// The handle of a cmd_parms, for directive callbacks not written as a
    /// [`Spec`] (their `info` is cmd->info itself).
    ///
    /// # Safety
    /// `cmd` is NULL or the live cmd_parms of the directive callback running.
    pub unsafe fn from_raw(cmd: *mut raw::cmd_parms) -> Option<Cmd<'a>> {
        // SAFETY: as the contract says.
        let parms = unsafe { cmd.as_ref() }?;
        Some(Cmd {
            parms,
            info: parms.info as usize,
            server_lent: Cell::new(false),
        })
    }

    /// The number of the directive's [`Spec`].
    pub fn info(&self) -> usize {
        self.info
    }

    /// The directive's name as httpd knows it.
    pub fn name(&self) -> String {
        // SAFETY: cmd is the command_rec being run, from a 'static table.
        unsafe { super::cstr_lossy((*self.parms.cmd).name) }
    }

    /// The server (main or virtual host) the directive is read for.
    pub fn server(&self) -> &'a Server {
        // SAFETY: httpd sets cmd->server to a server of the configuration being read.
        unsafe { Server::from_raw(self.parms.server) }.expect("directive without a server")
    }

    /// The pool the configuration read lives in (the request's for .htaccess).
    pub fn pool(&self) -> &'a Pool {
        // SAFETY: cmd->pool is live for the whole read.
        unsafe { Pool::from_raw(self.parms.pool) }.expect("directive without a pool")
    }

    /// The directive's node in the configuration tree.
    pub fn node(&self) -> Option<Node<'a>> {
        // SAFETY: NULL or the node being run, part of a tree that outlives the callback.
        unsafe { self.parms.directive.as_ref() }.map(Node)
    }

    /// The section path (`<Directory /x>`'s /x), None at server level.
    pub fn section_path(&self) -> Option<&'a [u8]> {
        // SAFETY: NULL or a string of the configuration pool.
        unsafe { cstr(self.parms.path) }
    }

    /// Whether a file is being read line by line: the server configuration's
    /// include files and .htaccess files (NULL when httpd walks a tree it parsed).
    pub fn reads_a_file(&self) -> bool {
        !self.parms.config_file.is_null()
    }

    /// The configuration of the server the directive is read for. None when
    /// it has none, or when it is already lent out by an earlier call whose
    /// result is still held.
    pub fn server_config<S: PerServer>(&self) -> Option<ServerConfigMut<'_, S>> {
        if self.server_lent.replace(true) {
            return None;
        }
        // SAFETY: the server's slot holds an S (PerServer's contract) in the
        // configuration pool; httpd reads the configuration on one thread and
        // nothing else reads a server configuration during the read, and the
        // flag above lends at most one &mut from this Cmd at a time.
        let conf = unsafe { (module_config(self.server().rec().module_config) as *mut S).as_mut() };
        match conf {
            Some(conf) => Some(ServerConfigMut {
                conf,
                lent: &self.server_lent,
            }),
            None => {
                self.server_lent.set(false);
                None
            }
        }
    }

    /// The server record, kept until the configuration pool is cleared.
    pub fn keep_server(&self) -> Kept<Server> {
        Kept::new(self.server(), self.pool())
    }

    /// Compiles a regular expression with httpd's flags into the configuration
    /// pool (freed with it); None when it does not compile.
    pub fn regex(&self, pattern: &str) -> Option<PoolRegex> {
        let c = std::ffi::CString::new(pattern).ok()?;
        // SAFETY: a live pool and a NUL-terminated pattern; the result lives in the pool.
        let re = unsafe { raw::ap_pregcomp(self.parms.pool, c.as_ptr(), raw::AP_REG_EXTENDED as c_int) };
        (!re.is_null()).then_some(PoolRegex(re))
    }
}

/// A regular expression compiled into a configuration pool.
pub struct PoolRegex(pub *mut raw::ap_regex_t);
// SAFETY: compiled once at configuration time and only read (ap_regexec) after.
unsafe impl Send for PoolRegex {}
unsafe impl Sync for PoolRegex {}

/// A server configuration lent by [`Cmd::server_config`].
pub struct ServerConfigMut<'c, S> {
    conf: &'c mut S,
    lent: &'c Cell<bool>,
}

impl<S> std::ops::Deref for ServerConfigMut<'_, S> {
    type Target = S;
    fn deref(&self) -> &S {
        self.conf
    }
}

impl<S> std::ops::DerefMut for ServerConfigMut<'_, S> {
    fn deref_mut(&mut self) -> &mut S {
        self.conf
    }
}

impl<S> Drop for ServerConfigMut<'_, S> {
    fn drop(&mut self) {
        self.lent.set(false);
    }
}

/// A node of the configuration tree (`ap_directive_t`): a directive or a
/// section, with its arguments and where it was written.
#[derive(Clone, Copy)]
pub struct Node<'a>(&'a raw::ap_directive_t);

impl<'a> Node<'a> {
    /// The directive's name as written (`<Directory` for a section).
    pub fn name(&self) -> &'a [u8] {
        // SAFETY: NULL or a string of the configuration tree.
        unsafe { cstr(self.0.directive) }.unwrap_or_default()
    }

    pub fn args(&self) -> &'a [u8] {
        // SAFETY: NULL or a string of the configuration tree.
        unsafe { cstr(self.0.args) }.unwrap_or_default()
    }

    /// The file it was written in.
    pub fn file(&self) -> &'a [u8] {
        // SAFETY: NULL or a string of the configuration tree.
        unsafe { cstr(self.0.filename) }.unwrap_or_default()
    }

    pub fn line(&self) -> u32 {
        self.0.line_num.max(0) as u32
    }

    /// The enclosing section.
    pub fn parent(&self) -> Option<Node<'a>> {
        // SAFETY: NULL or a node of the same tree.
        unsafe { self.0.parent.as_ref() }.map(Node)
    }

    /// A section's first inner directive.
    pub fn first_child(&self) -> Option<Node<'a>> {
        // SAFETY: NULL or a node of the same tree.
        unsafe { self.0.first_child.as_ref() }.map(Node)
    }

    /// The next directive at the same level.
    pub fn next(&self) -> Option<Node<'a>> {
        // SAFETY: NULL or a node of the same tree.
        unsafe { self.0.next.as_ref() }.map(Node)
    }
}

/// A section's configuration, kept until its pool is cleared.
pub fn keep_section<D: PerDir>(cmd: &Cmd, section: &D) -> Kept<D> {
    // The section's configuration was made in cmd->pool (a <Directory>'s in
    // the configuration pool, an .htaccess file's in the request's).
    Kept::new(section, cmd.pool())
}

/// Runs the directive function `f` for the callback httpd made, turning its
/// error (or a panic) into a message in the configuration pool.
///
/// # Safety
/// `cmd` is the cmd_parms of a callback of an [`entry`] made from a
/// `Spec<D>`; `mconfig` is the per-directory configuration httpd passes.
unsafe fn run<D: PerDir>(
    cmd: *mut raw::cmd_parms,
    mconfig: *mut c_void,
    f: impl FnOnce(&Cmd, &Spec<D>, &mut D) -> Outcome,
) -> *const c_char {
    // SAFETY: httpd passes the live cmd_parms of the directive being read.
    let Some(parms) = (unsafe { cmd.as_ref() }) else {
        return c"mod_pyrite: directive called without its parameters".as_ptr();
    };
    // SAFETY: entry() set cmd_data, which httpd hands back as info, to a 'static Spec<D>.
    let spec = unsafe { &*(parms.info as *const Spec<D>) };
    let c = Cmd {
        parms,
        info: spec.info,
        server_lent: Cell::new(false),
    };
    // SAFETY: mconfig is this module's per-directory configuration of the
    // section being read: a D (PerDir's contract), used by this call only.
    let Some(dir) = (unsafe { (mconfig as *mut D).as_mut() }) else {
        return error(&c, "mod_pyrite: no per-directory configuration");
    };
    let outcome = super::guard::or(None, || Some(f(&c, spec, dir)));
    match outcome {
        Some(Ok(())) => std::ptr::null(),
        Some(Err(msg)) => error(&c, &msg),
        None => error(&c, &format!("mod_pyrite: internal error reading {}", spec.name.to_string_lossy())),
    }
}

/// `msg` copied into the configuration pool, for httpd to print and stop.
fn error(cmd: &Cmd, msg: &str) -> *const c_char {
    // SAFETY: a live pool; NULs are removed first.
    unsafe { super::pool::strdup(cmd.parms.pool, msg.replace('\0', "").as_bytes()) }
}

/// An argument as text (as the directives always read them: invalid UTF-8 as empty).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string living for the callback.
unsafe fn text<'a>(p: *const c_char) -> &'a str {
    // SAFETY: as the contract says.
    std::str::from_utf8(unsafe { cstr(p) }.unwrap_or_default()).unwrap_or("")
}

unsafe extern "C" fn one_arg<D: PerDir>(cmd: *mut raw::cmd_parms, mconfig: *mut c_void, arg: *const c_char) -> *const c_char {
    // SAFETY: httpd's arguments to a RAW_ARGS/TAKE1 entry made by `entry`.
    unsafe {
        run::<D>(cmd, mconfig, |c, spec, dir| match spec.func {
            Func::RawArgs(f) | Func::Take1(f) => f(c, dir, text(arg)),
            _ => Err("mod_pyrite: directive table mismatch".into()),
        })
    }
}

unsafe extern "C" fn two_args<D: PerDir>(
    cmd: *mut raw::cmd_parms,
    mconfig: *mut c_void,
    a: *const c_char,
    b: *const c_char,
) -> *const c_char {
    // SAFETY: httpd's arguments to a TAKE2/TAKE12 entry made by `entry` (b is NULL when absent).
    unsafe {
        run::<D>(cmd, mconfig, |c, spec, dir| match spec.func {
            Func::Take2(f) => f(c, dir, text(a), text(b)),
            Func::Take12(f) => f(c, dir, text(a), (!b.is_null()).then(|| text(b))),
            _ => Err("mod_pyrite: directive table mismatch".into()),
        })
    }
}

unsafe extern "C" fn flag<D: PerDir>(cmd: *mut raw::cmd_parms, mconfig: *mut c_void, on: c_int) -> *const c_char {
    // SAFETY: httpd's arguments to a FLAG entry made by `entry`.
    unsafe {
        run::<D>(cmd, mconfig, |c, spec, dir| match spec.func {
            Func::Flag(f) => f(c, dir, on != 0),
            _ => Err("mod_pyrite: directive table mismatch".into()),
        })
    }
}
