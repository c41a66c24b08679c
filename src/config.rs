//! Directives: parsing, the per-directory and per-server structures, and how
//! they merge (server -> virtual host -> <Directory>/<Location>/<Files>), with
//! mod_python's syntax and meaning. What a setting does at run time lives elsewhere.
use crate::ffi::{self, raw};
use crate::handlers::HandlerCache;
use crate::sync::LockExt;
pub use pyrite_text::directive::{check_python_expr, parse_handler_args, parse_handler_spec, split_words};
use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

/// The request phases a Python handler can be attached to, in httpd's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    PostReadRequest = 0,
    Trans,
    HeaderParser,
    Init,
    Access,
    Authen,
    Authz,
    Type,
    Fixup,
    Handler,
    Log,
    Cleanup,
}

pub const PHASES: usize = 12;

impl Phase {
    pub const ALL: [Phase; PHASES] = [
        Phase::PostReadRequest,
        Phase::Trans,
        Phase::HeaderParser,
        Phase::Init,
        Phase::Access,
        Phase::Authen,
        Phase::Authz,
        Phase::Type,
        Phase::Fixup,
        Phase::Handler,
        Phase::Log,
        Phase::Cleanup,
    ];

    /// The directive that attaches handlers to this phase.
    pub fn directive(self) -> &'static str {
        match self {
            Phase::PostReadRequest => "PythonPostReadRequestHandler",
            Phase::Trans => "PythonTransHandler",
            Phase::HeaderParser => "PythonHeaderParserHandler",
            Phase::Init => "PythonInitHandler",
            Phase::Access => "PythonAccessHandler",
            Phase::Authen => "PythonAuthenHandler",
            Phase::Authz => "PythonAuthzHandler",
            Phase::Type => "PythonTypeHandler",
            Phase::Fixup => "PythonFixupHandler",
            Phase::Handler => "PythonHandler",
            Phase::Log => "PythonLogHandler",
            Phase::Cleanup => "PythonCleanupHandler",
        }
    }

    /// The object looked up when a handler names only a module (mod_python's rule:
    /// the directive name without "Python", lower-cased).
    pub fn default_object(self) -> &'static str {
        match self {
            Phase::PostReadRequest => "postreadrequesthandler",
            Phase::Trans => "transhandler",
            Phase::HeaderParser => "headerparserhandler",
            Phase::Init => "inithandler",
            Phase::Access => "accesshandler",
            Phase::Authen => "authenhandler",
            Phase::Authz => "authzhandler",
            Phase::Type => "typehandler",
            Phase::Fixup => "fixuphandler",
            Phase::Handler => "handler",
            Phase::Log => "loghandler",
            Phase::Cleanup => "cleanuphandler",
        }
    }

    fn from_index(i: usize) -> Phase {
        Phase::ALL[i.min(PHASES - 1)]
    }
}

/// cmd->info of PythonHandlerModule: one module for every phase.
const HANDLER_MODULE: usize = 100;

/// Where a directive was written, for error messages.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub file: String,
    pub line: u32,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One `module[::object]` named by a handler directive.
pub struct HandlerDecl {
    pub phase: Phase,
    pub module: String,
    /// Dotted object path; None means the phase's default name.
    pub object: Option<String>,
    /// `| .ext`: this entry belongs to the phase's list for files with this
    /// extension, which replaces the plain list for them (mod_python's rule).
    pub ext: Option<String>,
    /// The <Directory> (or .htaccess directory) it was declared in, canonical
    /// and ending in '/', which mod_python prepends to sys.path when no
    /// PythonPath is set. A wildcard section's pattern until resolved.
    pub directory: Option<String>,
    /// `directory` is a wildcard pattern, resolved against each request's file.
    pub dir_wildcard: bool,
    /// A `<Directory ~ re>`/`<DirectoryMatch>` expression, resolved the same way.
    pub dir_regex: Option<Arc<ffi::regex::Regex>>,
    /// The <Location> path (or <LocationMatch> pattern) it was declared in.
    pub location: Option<Arc<str>>,
    /// `location` is a pattern, not a URL prefix.
    pub location_pattern: bool,
    pub origin: Origin,
    /// From PythonHandlerModule: a module without this phase's function is skipped.
    pub silent: bool,
    /// The handler whose req.add_handler call added this one (None for configured ones).
    pub parent: Option<Arc<HandlerDecl>>,
    /// This child's resolved module and object (empty in the parent).
    pub cache: HandlerCache,
}

impl HandlerDecl {
    pub fn object_name(&self) -> &str {
        self.object.as_deref().unwrap_or(self.phase.default_object())
    }
    /// `module::object` as written in the configuration.
    pub fn spec(&self) -> String {
        match &self.object {
            Some(o) => format!("{}::{}", self.module, o),
            None => self.module.clone(),
        }
    }
    /// The directory the handler belongs to for a request whose file is
    /// `filename`: a wildcard section's pattern becomes the directory of the
    /// file that matched it (mod_python's rule).
    pub fn directory_for(&self, filename: Option<&[u8]>) -> Option<std::borrow::Cow<'_, str>> {
        if let Some(re) = &self.dir_regex {
            return matching_prefix(filename?, |p| re.is_match(p)).map(std::borrow::Cow::Owned);
        }
        let dir = self.directory.as_deref()?;
        if !self.dir_wildcard {
            return Some(std::borrow::Cow::Borrowed(dir));
        }
        let pattern = dir.trim_end_matches('/').as_bytes();
        let matched = filename.and_then(|f| matching_prefix(f, |p| ffi::fnmatch_path(pattern, p)));
        Some(matched.map_or(std::borrow::Cow::Borrowed(dir), std::borrow::Cow::Owned))
    }
    /// What req.hlist.directory reports: the <Location> for a handler
    /// declared in one, else its directory.
    pub fn hlist_directory(&self, filename: Option<&[u8]>) -> Option<std::borrow::Cow<'_, str>> {
        match &self.location {
            Some(l) => Some(std::borrow::Cow::Borrowed(l)),
            None => self.directory_for(filename),
        }
    }
}

/// The shortest run of leading directories of `filename` that `matches`
/// accepts, with or without its trailing '/'; returned ending in '/'.
fn matching_prefix(filename: &[u8], matches: impl Fn(&[u8]) -> bool) -> Option<String> {
    let mut end = 0;
    while let Some(i) = filename[end..].iter().position(|&b| b == b'/') {
        end += i + 1;
        let prefix = &filename[..end];
        if matches(prefix) || (prefix.len() > 1 && matches(&prefix[..prefix.len() - 1])) {
            return Some(String::from_utf8_lossy(prefix).into_owned());
        }
    }
    None
}

/// Every handler declared in the server configuration (not .htaccess), with
/// the section it was declared in: what a child preloads at start.
pub struct Declared {
    pub decl: Arc<HandlerDecl>,
    /// The DirConfig of the declaring section (lives in the configuration pool).
    section: usize,
    server: usize,
}

impl Declared {
    /// The declaring section's own configuration (not merged with enclosing ones).
    pub fn section(&self) -> &DirConfig {
        // SAFETY: the section belongs to the running configuration generation.
        unsafe { &*(self.section as *const DirConfig) }
    }
    /// The server (virtual host) it was declared in.
    pub fn server(&self) -> *mut raw::server_rec {
        self.server as *mut raw::server_rec
    }
    /// The PythonPath that applies to the declaring section (its own, else the server's).
    pub fn python_path(&self) -> Option<Arc<PathSetting>> {
        // SAFETY: both pointers belong to the running configuration generation.
        unsafe {
            let own = (*(self.section as *const DirConfig)).python_path.clone();
            own.or_else(|| server_dir_config(self.server as *const raw::server_rec).and_then(|d| d.python_path.clone()))
        }
    }
}

/// Whether the server configuration is being read (true from pre_config to post_config).
static READING_CONFIG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static DECLARED: std::sync::Mutex<Vec<Declared>> = std::sync::Mutex::new(Vec::new());

/// A configuration read starts: forget the previous generation's declarations.
pub fn config_read_starts() {
    DECLARED.locked().clear();
    crate::wsgi::directives::clear_notes();
    crate::python_flags::config_read_starts();
    READING_CONFIG.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The configuration is complete.
pub fn config_read_ends() {
    READING_CONFIG.store(false, std::sync::atomic::Ordering::Relaxed);
}

/// The handlers declared in the server configuration.
pub fn declared() -> std::sync::MutexGuard<'static, Vec<Declared>> {
    DECLARED.locked()
}

/// A `PythonPath` expression and where it was written.
pub struct PathSetting {
    pub expr: String,
    pub origin: Origin,
}

/// A `PythonImport module[::function] interpreter` line.
pub struct ImportDecl {
    pub module: String,
    pub function: Option<String>,
    pub interpreter: String,
    pub origin: Origin,
}

/// PythonOption lines in order: (key, value), a None value removing the key.
pub type OptionLines = Vec<(String, Option<String>)>;

/// Per-directory configuration (also the server's defaults for its sections).
#[derive(Clone, Default)]
pub struct DirConfig {
    pub handlers: [Option<Arc<Vec<Arc<HandlerDecl>>>>; PHASES],
    pub python_path: Option<Arc<PathSetting>>,
    /// PythonOption lines in order; a None value removes the key.
    pub options: Option<Arc<OptionLines>>,
    pub debug: Option<bool>,
    pub autoreload: Option<bool>,
    /// PythonInterpreter: the interpreter handlers here run in (src/interpreters).
    pub interpreter: Option<String>,
    /// PythonInterpPerDirectory / PythonInterpPerDirective.
    pub interp_per_directory: Option<bool>,
    pub interp_per_directive: Option<bool>,
    /// WSGI settings that can vary per directory (mod_wsgi's).
    pub wsgi: crate::wsgi::config::WsgiDirConfig,
    /// PythonInputFilter / PythonOutputFilter declarations (later ones win by name).
    pub filters: Option<Arc<Vec<Arc<crate::filters::FilterDecl>>>>,
    /// PyriteStatus: `SetHandler pyrite-status` serves the metrics here (default Off).
    pub status_page: Option<bool>,
    /// The section's Require lines, noted with its Python directives (req.requires()).
    pub requires: Option<Arc<Vec<pyrite_text::require_lines::RequireLine>>>,
    /// PythonEnablePdb: handlers here run under pdb.runcall (default Off).
    pub enable_pdb: Option<bool>,
}

impl DirConfig {
    pub fn handlers(&self, phase: Phase) -> &[Arc<HandlerDecl>] {
        self.handlers[phase as usize].as_deref().map_or(&[], |v| v.as_slice())
    }
    pub fn debug(&self) -> bool {
        self.debug.unwrap_or(false)
    }
    /// mod_python reloads changed handler modules unless told not to.
    pub fn autoreload(&self) -> bool {
        self.autoreload.unwrap_or(true)
    }
    /// The effective PythonOption table, in the order keys were first set.
    pub fn options(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in self.options.iter().flat_map(|o| o.iter()) {
            out.retain(|(ek, _)| ek != k);
            if let Some(v) = v {
                out.push((k.clone(), v.clone()));
            }
        }
        out
    }

    fn merge(base: &DirConfig, new: &DirConfig) -> DirConfig {
        let mut m = base.clone();
        for (i, h) in new.handlers.iter().enumerate() {
            if let Some(n) = h {
                m.handlers[i] = Some(merge_handler_lists(base.handlers[i].as_ref(), n));
            }
        }
        if new.python_path.is_some() {
            m.python_path = new.python_path.clone();
        }
        m.options = match (&base.options, &new.options) {
            (Some(b), Some(n)) => Some(Arc::new(b.iter().chain(n.iter()).cloned().collect())),
            (b, None) => b.clone(),
            (None, n) => n.clone(),
        };
        m.debug = new.debug.or(base.debug);
        m.autoreload = new.autoreload.or(base.autoreload);
        m.interpreter = new.interpreter.clone().or_else(|| base.interpreter.clone());
        m.interp_per_directory = new.interp_per_directory.or(base.interp_per_directory);
        m.interp_per_directive = new.interp_per_directive.or(base.interp_per_directive);
        m.wsgi = crate::wsgi::config::WsgiDirConfig::merge(&base.wsgi, &new.wsgi);
        m.filters = match (&base.filters, &new.filters) {
            (Some(b), Some(n)) => Some(Arc::new(b.iter().chain(n.iter()).cloned().collect())),
            (b, None) => b.clone(),
            (None, n) => n.clone(),
        };
        m.status_page = new.status_page.or(base.status_page);
        // A section with Require lines of its own replaces the enclosing ones.
        if new.requires.as_ref().is_some_and(|r| !r.is_empty()) {
            m.requires = new.requires.clone();
        }
        m.enable_pdb = new.enable_pdb.or(base.enable_pdb);
        m
    }
}

/// Per-server configuration.
#[derive(Clone, Default)]
pub struct ServerConfig {
    pub imports: Vec<Arc<ImportDecl>>,
    /// WSGIScriptAlias(Match) lines, in order; a virtual host's come before the main server's.
    pub wsgi_aliases: Vec<Arc<crate::wsgi::config::WsgiAlias>>,
    /// WSGIImportScript lines.
    pub wsgi_imports: Vec<Arc<crate::wsgi::config::ImportScript>>,
    /// WSGIPythonHome (main server only).
    pub python_home: Option<String>,
    /// WSGIPythonPath directories, added with site.addsitedir (main server only).
    pub python_paths: Vec<String>,
    /// WSGIRestrictStdout (main server only).
    pub restrict_stdout: Option<bool>,
    /// mod_wsgi's process-wide settings: Python start-up, restrictions (main server only).
    pub wsgi_process: crate::wsgi::directives::ProcessOptions,
    /// PyriteMaxPythonThreads: the gate's size per child (main server only).
    pub python_threads: Option<usize>,
    /// PyriteSwitchInterval: sys.setswitchinterval at child start (main server only).
    pub switch_interval: Option<f64>,
    /// PyritePreload: import handler modules at child start (default On; main server only).
    pub preload: Option<bool>,
    /// PyriteBytecodeCache: where application code's bytecode goes (main server only).
    pub bytecode_cache: Option<crate::bytecode::Setting>,
    /// PythonConnectionHandler: takes over the server's connections from HTTP.
    pub connection_handler: Option<Arc<crate::conn_handler::ConnHandlerDecl>>,
}

/// A section's handlers of one phase over the enclosing ones: each list (the
/// plain one and each `| .ext` one) is replaced by the section's own when it
/// has one, and kept otherwise (mod_python keys its lists by phase and extension).
fn merge_handler_lists(base: Option<&Arc<Vec<Arc<HandlerDecl>>>>, new: &Arc<Vec<Arc<HandlerDecl>>>) -> Arc<Vec<Arc<HandlerDecl>>> {
    let Some(base) = base else { return new.clone() };
    let replaced = |d: &Arc<HandlerDecl>| new.iter().any(|n| n.ext == d.ext);
    if base.iter().all(replaced) {
        return new.clone();
    }
    Arc::new(base.iter().filter(|d| !replaced(d)).chain(new.iter()).cloned().collect())
}

// ---- httpd callbacks: create and merge -------------------------------------

/// # Safety
/// Called by httpd with a live pool.
pub unsafe extern "C" fn create_dir_config(p: *mut raw::apr_pool_t, _dir: *mut c_char) -> *mut c_void {
    crate::guard::or(std::ptr::null_mut(), || unsafe {
        ffi::pool::adopt(p, DirConfig::default()) as *mut c_void
    })
}

/// # Safety
/// Called by httpd with two configurations made by create/merge_dir_config.
pub unsafe extern "C" fn merge_dir_config(p: *mut raw::apr_pool_t, base: *mut c_void, new: *mut c_void) -> *mut c_void {
    crate::guard::or(base, || {
        // SAFETY: both were made by this module's create/merge, live in pools that outlive p.
        let (b, n) = unsafe { (&*(base as *const DirConfig), &*(new as *const DirConfig)) };
        unsafe { ffi::pool::adopt(p, DirConfig::merge(b, n)) as *mut c_void }
    })
}

/// # Safety
/// Called by httpd with a live pool.
pub unsafe extern "C" fn create_server_config(p: *mut raw::apr_pool_t, _s: *mut raw::server_rec) -> *mut c_void {
    crate::guard::or(std::ptr::null_mut(), || unsafe {
        ffi::pool::adopt(p, ServerConfig::default()) as *mut c_void
    })
}

/// # Safety
/// Called by httpd with two configurations made by create/merge_server_config.
pub unsafe extern "C" fn merge_server_config(p: *mut raw::apr_pool_t, base: *mut c_void, new: *mut c_void) -> *mut c_void {
    crate::guard::or(new, || {
        // SAFETY: both were made by create_server_config and live in the config pool.
        let (b, n) = unsafe { (&*(base as *const ServerConfig), &*(new as *const ServerConfig)) };
        let mut m = n.clone();
        m.wsgi_aliases.extend(b.wsgi_aliases.iter().cloned());
        if m.connection_handler.is_none() {
            m.connection_handler = b.connection_handler.clone();
        }
        unsafe { ffi::pool::adopt(p, m) as *mut c_void }
    })
}

/// The per-directory configuration httpd chose for a request.
///
/// # Safety
/// `r` is a live request.
pub unsafe fn dir_config<'a>(r: *const raw::request_rec) -> Option<&'a DirConfig> {
    let c = unsafe { ffi::module_config((*r).per_dir_config) } as *const DirConfig;
    unsafe { c.as_ref() }
}

/// A server's configuration.
///
/// # Safety
/// `s` is a server_rec of the running configuration.
pub unsafe fn server_config<'a>(s: *const raw::server_rec) -> Option<&'a ServerConfig> {
    let c = unsafe { ffi::module_config((*s).module_config) } as *const ServerConfig;
    unsafe { c.as_ref() }
}

/// The server-level per-directory defaults (what `PythonOption` etc. at server level set).
///
/// # Safety
/// `s` is a server_rec of the running configuration.
pub unsafe fn server_dir_config<'a>(s: *const raw::server_rec) -> Option<&'a DirConfig> {
    let c = unsafe { ffi::module_config((*s).lookup_defaults) } as *const DirConfig;
    unsafe { c.as_ref() }
}

// ---- directive callbacks ----------------------------------------------------

/// An error message httpd prints with the file and line of the directive.
pub(crate) unsafe fn err(cmd: *mut raw::cmd_parms, directive: &str, msg: &str) -> *const c_char {
    let text = format!("{directive}: {msg}");
    unsafe { ffi::pool::strdup((*cmd).pool, text.replace('\0', "").as_bytes()) }
}

pub(crate) unsafe fn origin(cmd: *const raw::cmd_parms) -> Origin {
    unsafe {
        let d = (*cmd).directive;
        if d.is_null() {
            return Origin::default();
        }
        Origin {
            file: ffi::cstr_lossy((*d).filename),
            line: (*d).line_num.max(0) as u32,
        }
    }
}

/// Where a handler or filter directive was written, as mod_python records it
/// (an enclosing <Files> is looked through).
#[derive(Default)]
pub(crate) struct DeclaredIn {
    pub directory: Option<String>,
    pub dir_wildcard: bool,
    pub dir_regex: Option<Arc<ffi::regex::Regex>>,
    pub location: Option<Arc<str>>,
    pub location_pattern: bool,
}

/// The nearest enclosing <Directory>/<Location> (or their ...Match forms), or
/// the .htaccess file's directory; nothing at server or virtual host level.
pub(crate) unsafe fn declared_in(cmd: *const raw::cmd_parms) -> DeclaredIn {
    use pyrite_text::dirpath::{canonical_dir, section_path, SectionPath};
    unsafe {
        let d = (*cmd).directive;
        if d.is_null() {
            return DeclaredIn::default();
        }
        let mut p = (*d).parent;
        while !p.is_null() {
            let name = ffi::cstr((*p).directive).unwrap_or_default().to_ascii_lowercase();
            let args = String::from_utf8_lossy(ffi::cstr((*p).args).unwrap_or_default()).into_owned();
            let (is_location, is_match) = match name.as_slice() {
                b"<location" => (true, false),
                b"<locationmatch" => (true, true),
                b"<directory" => (false, false),
                b"<directorymatch" => (false, true),
                _ => {
                    p = (*p).parent;
                    continue;
                }
            };
            let Some(path) = section_path(&args, is_match) else {
                return DeclaredIn::default();
            };
            return match (is_location, path) {
                (true, SectionPath::Plain(l)) => DeclaredIn {
                    location: Some(Arc::from(l.as_str())),
                    ..Default::default()
                },
                (true, SectionPath::Wildcard(l) | SectionPath::Regex(l)) => DeclaredIn {
                    location: Some(Arc::from(l.as_str())),
                    location_pattern: true,
                    ..Default::default()
                },
                (false, SectionPath::Plain(dir)) => DeclaredIn {
                    directory: Some(canonical_dir(&dir, &cwd())),
                    ..Default::default()
                },
                (false, SectionPath::Wildcard(dir)) => DeclaredIn {
                    directory: Some(dir),
                    dir_wildcard: true,
                    ..Default::default()
                },
                // Matched against each request's file, as mod_python does.
                (false, SectionPath::Regex(re)) => DeclaredIn {
                    dir_regex: ffi::regex::Regex::new(&re).map(Arc::new),
                    ..Default::default()
                },
            };
        }
        if (*cmd).config_file.is_null() || READING_CONFIG.load(std::sync::atomic::Ordering::Relaxed) {
            return DeclaredIn::default();
        }
        // An .htaccess file: the directory it is in.
        let file = ffi::cstr((*d).filename).unwrap_or_default();
        let directory = pyrite_text::dirpath::containing_dir(file, false).map(|f| String::from_utf8_lossy(&f).into_owned());
        DeclaredIn {
            directory,
            ..Default::default()
        }
    }
}

fn cwd() -> String {
    std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".into())
}

/// The directory a filter declared here belongs to (see declared_in).
pub(crate) unsafe fn declaring_directory(cmd: *const raw::cmd_parms) -> Option<String> {
    let d = unsafe { declared_in(cmd) };
    if d.dir_wildcard {
        None
    } else {
        d.directory
    }
}

pub(crate) unsafe fn text<'a>(p: *const c_char) -> &'a str {
    unsafe { std::str::from_utf8(ffi::cstr(p).unwrap_or_default()).unwrap_or("") }
}

pub(crate) unsafe fn dir_conf<'a>(mconfig: *mut c_void) -> &'a mut DirConfig {
    unsafe { &mut *(mconfig as *mut DirConfig) }
}

/// A section's configuration for a Python directive written in it, with the
/// section's Require lines noted on first use.
unsafe fn section_conf<'a>(cmd: *mut raw::cmd_parms, mconfig: *mut c_void) -> &'a mut DirConfig {
    unsafe {
        let conf = dir_conf(mconfig);
        if conf.requires.is_none() && !(*cmd).path.is_null() {
            let reading = READING_CONFIG.load(std::sync::atomic::Ordering::Relaxed);
            conf.requires = Some(crate::requires::of_section(cmd, reading));
        }
        conf
    }
}

/// PythonHandler (and later the other phase directives): cmd->info holds the phase.
unsafe extern "C" fn set_handler(cmd: *mut raw::cmd_parms, mconfig: *mut c_void, args: *const c_char) -> *const c_char {
    crate::guard::or(c"mod_pyrite: internal error reading a handler directive".as_ptr(), || unsafe {
        let info = (*cmd).info as usize;
        let (phases, silent, dname): (Vec<Phase>, bool, &str) = if info == HANDLER_MODULE {
            (Phase::ALL.to_vec(), true, "PythonHandlerModule")
        } else {
            let p = Phase::from_index(info);
            (vec![p], false, p.directive())
        };
        let (handlers, exts) = match parse_handler_args(text(args)) {
            Ok(v) => v,
            Err(e) => return err(cmd, dname, &e),
        };
        if silent && (handlers.len() != 1 || handlers[0].1.is_some()) {
            return err(cmd, dname, "names one module (its functions are looked up by phase)");
        }
        let conf = section_conf(cmd, mconfig);
        let within = declared_in(cmd);
        let org = origin(cmd);
        let reading_config = READING_CONFIG.load(std::sync::atomic::Ordering::Relaxed);
        // "| .ext1 .ext2": one entry per extension, in that extension's list.
        let ext_keys: Vec<Option<String>> = if exts.is_empty() {
            vec![None]
        } else {
            exts.iter().cloned().map(Some).collect()
        };
        for phase in phases {
            let mut list: Vec<Arc<HandlerDecl>> = conf.handlers[phase as usize].as_deref().cloned().unwrap_or_default();
            for ext in &ext_keys {
                for (module, object) in handlers.iter().cloned() {
                    let decl = Arc::new(HandlerDecl {
                        phase,
                        module,
                        object,
                        ext: ext.clone(),
                        directory: within.directory.clone(),
                        dir_wildcard: within.dir_wildcard,
                        dir_regex: within.dir_regex.clone(),
                        location: within.location.clone(),
                        location_pattern: within.location_pattern,
                        origin: org.clone(),
                        silent,
                        parent: None,
                        cache: HandlerCache::default(),
                    });
                    if reading_config {
                        DECLARED.locked().push(Declared {
                            decl: decl.clone(),
                            section: mconfig as usize,
                            server: (*cmd).server as usize,
                        });
                    }
                    list.push(decl);
                }
            }
            conf.handlers[phase as usize] = Some(Arc::new(list));
        }
        std::ptr::null()
    })
}

unsafe extern "C" fn set_python_path(cmd: *mut raw::cmd_parms, mconfig: *mut c_void, arg: *const c_char) -> *const c_char {
    crate::guard::or(c"mod_pyrite: internal error reading PythonPath".as_ptr(), || unsafe {
        let expr = text(arg);
        if let Err(e) = check_python_expr(expr) {
            return err(cmd, "PythonPath", &e);
        }
        section_conf(cmd, mconfig).python_path = Some(Arc::new(PathSetting {
            expr: expr.to_string(),
            origin: origin(cmd),
        }));
        std::ptr::null()
    })
}

unsafe extern "C" fn set_option(cmd: *mut raw::cmd_parms, mconfig: *mut c_void, key: *const c_char, val: *const c_char) -> *const c_char {
    crate::guard::or(c"mod_pyrite: internal error reading PythonOption".as_ptr(), || unsafe {
        let k = text(key);
        if k.is_empty() {
            return err(cmd, "PythonOption", "the key is empty");
        }
        // No value, or an empty one, removes the key (mod_python 3.3 and later).
        let v = if val.is_null() || text(val).is_empty() {
            None
        } else {
            Some(text(val).to_string())
        };
        let conf = section_conf(cmd, mconfig);
        let mut opts: Vec<_> = conf.options.as_deref().cloned().unwrap_or_default();
        opts.push((k.to_string(), v));
        conf.options = Some(Arc::new(opts));
        std::ptr::null()
    })
}

unsafe extern "C" fn set_status_page(_cmd: *mut raw::cmd_parms, mconfig: *mut c_void, on: c_int) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        dir_conf(mconfig).status_page = Some(on != 0);
        std::ptr::null()
    })
}

unsafe extern "C" fn set_debug(cmd: *mut raw::cmd_parms, mconfig: *mut c_void, on: c_int) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        section_conf(cmd, mconfig).debug = Some(on != 0);
        std::ptr::null()
    })
}

unsafe extern "C" fn set_interpreter(_cmd: *mut raw::cmd_parms, mconfig: *mut c_void, arg: *const c_char) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        dir_conf(mconfig).interpreter = Some(text(arg).to_string());
        std::ptr::null()
    })
}

unsafe extern "C" fn set_interp_per(cmd: *mut raw::cmd_parms, mconfig: *mut c_void, on: c_int) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        let c = dir_conf(mconfig);
        if (*cmd).info.is_null() {
            c.interp_per_directory = Some(on != 0);
        } else {
            c.interp_per_directive = Some(on != 0);
        }
        std::ptr::null()
    })
}

unsafe extern "C" fn set_autoreload(cmd: *mut raw::cmd_parms, mconfig: *mut c_void, on: c_int) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        section_conf(cmd, mconfig).autoreload = Some(on != 0);
        std::ptr::null()
    })
}

unsafe extern "C" fn set_import(
    cmd: *mut raw::cmd_parms,
    _mconfig: *mut c_void,
    spec: *const c_char,
    interp: *const c_char,
) -> *const c_char {
    crate::guard::or(c"mod_pyrite: internal error reading PythonImport".as_ptr(), || unsafe {
        let (module, function) = match parse_handler_spec(text(spec)) {
            Ok(v) => v,
            Err(e) => return err(cmd, "PythonImport", &e),
        };
        let Some(sc) = server_conf_mut(cmd) else {
            return err(cmd, "PythonImport", "no server configuration");
        };
        sc.imports.push(Arc::new(ImportDecl {
            module,
            function,
            interpreter: text(interp).to_string(),
            origin: origin(cmd),
        }));
        std::ptr::null()
    })
}

/// The configuration of the server a directive is being read for.
///
/// # Safety
/// `cmd` is the cmd_parms of a directive callback.
pub(crate) unsafe fn server_conf_mut<'a>(cmd: *mut raw::cmd_parms) -> Option<&'a mut ServerConfig> {
    unsafe { (ffi::module_config((*(*cmd).server).module_config) as *mut ServerConfig).as_mut() }
}

/// The main server's configuration, or the error for a directive written inside <VirtualHost>.
pub(crate) unsafe fn main_server_conf<'a>(cmd: *mut raw::cmd_parms, name: &str) -> Result<&'a mut ServerConfig, *const c_char> {
    unsafe {
        if (*(*cmd).server).is_virtual != 0 {
            return Err(err(cmd, name, "applies to the whole server: move it out of <VirtualHost>"));
        }
        server_conf_mut(cmd).ok_or_else(|| err(cmd, name, "no server configuration"))
    }
}

unsafe extern "C" fn set_python_threads(cmd: *mut raw::cmd_parms, _m: *mut c_void, arg: *const c_char) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        let sc = match main_server_conf(cmd, "PyriteMaxPythonThreads") {
            Ok(sc) => sc,
            Err(e) => return e,
        };
        match text(arg).parse::<usize>() {
            Ok(n) if n <= 10_000 => sc.python_threads = Some(n),
            _ => {
                return err(
                    cmd,
                    "PyriteMaxPythonThreads",
                    &format!("{:?} is not a number of threads (0 turns the limit off)", text(arg)),
                )
            }
        }
        std::ptr::null()
    })
}

unsafe extern "C" fn set_preload(cmd: *mut raw::cmd_parms, _m: *mut c_void, on: c_int) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        match main_server_conf(cmd, "PyritePreload") {
            Ok(sc) => sc.preload = Some(on != 0),
            Err(e) => return e,
        }
        std::ptr::null()
    })
}

unsafe extern "C" fn set_bytecode_cache(cmd: *mut raw::cmd_parms, _m: *mut c_void, arg: *const c_char) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        let sc = match main_server_conf(cmd, "PyriteBytecodeCache") {
            Ok(sc) => sc,
            Err(e) => return e,
        };
        match crate::bytecode::Setting::parse(text(arg)) {
            Ok(v) => sc.bytecode_cache = Some(v),
            Err(e) => return err(cmd, "PyriteBytecodeCache", &e),
        }
        std::ptr::null()
    })
}

unsafe extern "C" fn set_switch_interval(cmd: *mut raw::cmd_parms, _m: *mut c_void, arg: *const c_char) -> *const c_char {
    crate::guard::or(std::ptr::null(), || unsafe {
        let sc = match main_server_conf(cmd, "PyriteSwitchInterval") {
            Ok(sc) => sc,
            Err(e) => return e,
        };
        match text(arg).parse::<f64>() {
            Ok(v) if v > 0.0 && v <= 10.0 => sc.switch_interval = Some(v),
            _ => {
                return err(
                    cmd,
                    "PyriteSwitchInterval",
                    &format!(
                        "{:?} is not a number of seconds between 0 and 10 (Python's default is 0.005)",
                        text(arg)
                    ),
                )
            }
        }
        std::ptr::null()
    })
}

// ---- the directive table ----------------------------------------------------

/// httpd's command table; it holds only pointers to statics.
#[repr(transparent)]
pub struct CommandTable(pub [raw::command_rec; 78]);
// SAFETY: read-only after construction; the pointers are to 'static data.
unsafe impl Sync for CommandTable {}

pub(crate) const fn cmd(
    name: &'static std::ffi::CStr,
    func: raw::cmd_func,
    info: usize,
    req_override: u32,
    how: raw::cmd_how,
    help: &'static std::ffi::CStr,
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

pub static COMMANDS: CommandTable = CommandTable([
    cmd(
        c"PythonHandler",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        Phase::Handler as usize,
        raw::OR_ALL,
        raw::cmd_how_RAW_ARGS,
        c"module[::object] [module[::object] ...] [| .ext ...]: the content handler(s), active where SetHandler mod_python",
    ),
    cmd(
        c"PythonPostReadRequestHandler",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        Phase::PostReadRequest as usize,
        raw::RSRC_CONF,
        raw::cmd_how_RAW_ARGS,
        c"handler(s) run right after the request is read (server context)",
    ),
    cmd(
        c"PythonTransHandler",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        Phase::Trans as usize,
        raw::RSRC_CONF,
        raw::cmd_how_RAW_ARGS,
        c"handler(s) translating the URI to a file (server context)",
    ),
    cmd(
        c"PythonHeaderParserHandler",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        Phase::HeaderParser as usize,
        raw::OR_ALL,
        raw::cmd_how_RAW_ARGS,
        c"handler(s) run in the header-parser phase",
    ),
    cmd(
        c"PythonInitHandler",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        Phase::Init as usize,
        raw::OR_ALL,
        raw::cmd_how_RAW_ARGS,
        c"handler(s) run first: post-read-request at server level, header-parser elsewhere",
    ),
    cmd(
        c"PythonAccessHandler",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        Phase::Access as usize,
        raw::OR_ALL,
        raw::cmd_how_RAW_ARGS,
        c"handler(s) run in the access-control phase",
    ),
    cmd(
        c"PythonAuthenHandler",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        Phase::Authen as usize,
        raw::OR_ALL,
        raw::cmd_how_RAW_ARGS,
        c"handler(s) authenticating the user (set req.user); 401 sends a Basic challenge",
    ),
    cmd(
        c"PythonAuthzHandler",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        Phase::Authz as usize,
        raw::OR_ALL,
        raw::cmd_how_RAW_ARGS,
        c"handler(s) deciding whether the authenticated user may have the resource",
    ),
    cmd(
        c"PythonTypeHandler",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        Phase::Type as usize,
        raw::OR_ALL,
        raw::cmd_how_RAW_ARGS,
        c"handler(s) run in the type-checker phase",
    ),
    cmd(
        c"PythonFixupHandler",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        Phase::Fixup as usize,
        raw::OR_ALL,
        raw::cmd_how_RAW_ARGS,
        c"handler(s) run in the fixups phase, just before the content handler",
    ),
    cmd(
        c"PythonLogHandler",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        Phase::Log as usize,
        raw::OR_ALL,
        raw::cmd_how_RAW_ARGS,
        c"handler(s) run in the logging phase, after the response",
    ),
    cmd(
        c"PythonCleanupHandler",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        Phase::Cleanup as usize,
        raw::OR_ALL,
        raw::cmd_how_RAW_ARGS,
        c"handler(s) run when the request's pool is cleared",
    ),
    cmd(
        c"PythonHandlerModule",
        raw::cmd_func {
            raw_args: Some(set_handler),
        },
        HANDLER_MODULE,
        raw::OR_ALL,
        raw::cmd_how_RAW_ARGS,
        c"module: one module for every phase; phases whose function it lacks are skipped",
    ),
    cmd(
        c"PythonPath",
        raw::cmd_func {
            take1: Some(set_python_path),
        },
        0,
        raw::OR_ALL,
        raw::cmd_how_TAKE1,
        c"a Python expression giving the new sys.path, e.g. \"sys.path+['/srv/app']\"",
    ),
    cmd(
        c"PythonOption",
        raw::cmd_func { take2: Some(set_option) },
        0,
        raw::OR_ALL,
        raw::cmd_how_TAKE12,
        c"key [value]: an option handlers read with req.get_options(); no value removes the key",
    ),
    cmd(
        c"PythonDebug",
        raw::cmd_func { flag: Some(set_debug) },
        0,
        raw::OR_ALL,
        raw::cmd_how_FLAG,
        c"On sends Python tracebacks to the client; Off (default) logs them only",
    ),
    cmd(
        c"PythonAutoReload",
        raw::cmd_func {
            flag: Some(set_autoreload),
        },
        0,
        raw::OR_ALL,
        raw::cmd_how_FLAG,
        c"On (default) re-imports a handler module whose file changed",
    ),
    cmd(
        c"PythonInterpreter",
        raw::cmd_func {
            take1: Some(set_interpreter),
        },
        0,
        raw::OR_ALL,
        raw::cmd_how_TAKE1,
        c"name: the interpreter handlers here run in (main_interpreter: the main one)",
    ),
    cmd(
        c"PythonInterpPerDirectory",
        raw::cmd_func {
            flag: Some(set_interp_per),
        },
        0,
        raw::OR_ALL,
        raw::cmd_how_FLAG,
        c"On: one interpreter per directory of the requested file",
    ),
    cmd(
        c"PythonInterpPerDirective",
        raw::cmd_func {
            flag: Some(set_interp_per),
        },
        1,
        raw::OR_ALL,
        raw::cmd_how_FLAG,
        c"On: one interpreter per directory holding the handler directive",
    ),
    cmd(
        c"PythonImport",
        raw::cmd_func { take2: Some(set_import) },
        0,
        raw::RSRC_CONF,
        raw::cmd_how_TAKE2,
        c"module[::function] interpreter: import at child start, before any request",
    ),
    crate::filters::COMMANDS[0],
    crate::filters::COMMANDS[1],
    crate::conn_handler::COMMAND,
    crate::python_flags::COMMANDS[0],
    crate::python_flags::COMMANDS[1],
    crate::wsgi::config::COMMANDS[0],
    crate::wsgi::config::COMMANDS[1],
    crate::wsgi::config::COMMANDS[2],
    crate::wsgi::config::COMMANDS[3],
    crate::wsgi::config::COMMANDS[4],
    crate::wsgi::config::COMMANDS[5],
    crate::wsgi::config::COMMANDS[6],
    crate::wsgi::config::COMMANDS[7],
    crate::wsgi::config::COMMANDS[8],
    crate::wsgi::config::COMMANDS[9],
    crate::wsgi::config::COMMANDS[10],
    crate::wsgi::config::COMMANDS[11],
    crate::wsgi::config::COMMANDS[12],
    crate::wsgi::auth::COMMANDS[0],
    crate::wsgi::auth::COMMANDS[1],
    crate::wsgi::auth::COMMANDS[2],
    crate::wsgi::auth::COMMANDS[3],
    crate::wsgi::auth::COMMANDS[4],
    crate::wsgi::proxy_headers::COMMANDS[0],
    crate::wsgi::proxy_headers::COMMANDS[1],
    crate::daemon::directives::COMMANDS[0],
    crate::daemon::directives::COMMANDS[1],
    crate::wsgi::dispatch::COMMANDS[0],
    crate::wsgi::dispatch::COMMANDS[1],
    cmd(
        c"PyriteMaxPythonThreads",
        raw::cmd_func {
            take1: Some(set_python_threads),
        },
        0,
        raw::RSRC_CONF,
        raw::cmd_how_TAKE1,
        c"N: at most N threads of a child run Python at once, the rest queue in order (0: no limit)",
    ),
    cmd(
        c"PyritePreload",
        raw::cmd_func { flag: Some(set_preload) },
        0,
        raw::RSRC_CONF,
        raw::cmd_how_FLAG,
        c"On (default): import the modules PythonHandler directives name when a child starts, before it takes requests",
    ),
    cmd(
        c"PyriteSwitchInterval",
        raw::cmd_func {
            take1: Some(set_switch_interval),
        },
        0,
        raw::RSRC_CONF,
        raw::cmd_how_TAKE1,
        c"seconds: Python's thread switch interval (sys.setswitchinterval) in each child",
    ),
    cmd(
        c"PyriteBytecodeCache",
        raw::cmd_func {
            take1: Some(set_bytecode_cache),
        },
        0,
        raw::RSRC_CONF,
        raw::cmd_how_TAKE1,
        c"private (default), beside, off or a directory: where the bytecode of modules imported from outside Python's installation is kept",
    ),
    cmd(
        c"PyriteStatus",
        raw::cmd_func {
            flag: Some(set_status_page),
        },
        0,
        raw::RSRC_CONF | raw::ACCESS_CONF,
        raw::cmd_how_FLAG,
        c"On lets SetHandler pyrite-status serve the metrics in this section (Off, the default, answers 403); limit it with Require",
    ),
    crate::wsgi::directives::COMMANDS[0],
    crate::wsgi::directives::COMMANDS[1],
    crate::wsgi::directives::COMMANDS[2],
    crate::wsgi::directives::COMMANDS[3],
    crate::wsgi::directives::COMMANDS[4],
    crate::wsgi::directives::COMMANDS[5],
    crate::wsgi::directives::COMMANDS[6],
    crate::wsgi::directives::COMMANDS[7],
    crate::wsgi::directives::COMMANDS[8],
    crate::wsgi::directives::COMMANDS[9],
    crate::wsgi::directives::COMMANDS[10],
    crate::wsgi::directives::COMMANDS[11],
    crate::wsgi::directives::COMMANDS[12],
    crate::wsgi::directives::COMMANDS[13],
    crate::wsgi::directives::COMMANDS[14],
    crate::wsgi::directives::COMMANDS[15],
    crate::wsgi::directives::COMMANDS[16],
    crate::wsgi::directives::COMMANDS[17],
    crate::wsgi::directives::COMMANDS[18],
    crate::wsgi::directives::COMMANDS[19],
    crate::wsgi::directives::COMMANDS[20],
    crate::wsgi::directives::COMMANDS[21],
    // SAFETY: an all-zero command_rec ends the table, as httpd expects.
    unsafe { std::mem::zeroed() },
]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_merge_and_remove() {
        let base = DirConfig {
            options: Some(Arc::new(vec![("a".into(), Some("1".into())), ("b".into(), Some("2".into()))])),
            ..Default::default()
        };
        let new = DirConfig {
            options: Some(Arc::new(vec![
                ("a".into(), None),
                ("c".into(), Some("3".into())),
                ("b".into(), Some("9".into())),
            ])),
            ..Default::default()
        };
        let m = DirConfig::merge(&base, &new);
        assert_eq!(
            m.options(),
            vec![("c".to_string(), "3".to_string()), ("b".to_string(), "9".to_string())]
        );
    }
}
