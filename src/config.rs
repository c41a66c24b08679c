//! Directives: parsing, the per-directory and per-server structures, and how
//! they merge (server -> virtual host -> <Directory>/<Location>/<Files>), with
//! mod_python's syntax and meaning. What a setting does at run time lives elsewhere.
//!
//! Direction: this module depends on `ffi` (and `sync`, `requires`), never on
//! a feature. Features (handlers, filters, wsgi, daemon, ...) read it, and
//! keep their directive functions beside their code; the types their
//! settings are held in live here (`config::wsgi`, the *Decl types below).
//! `directives` assembles httpd's command table from all of them.
pub mod wsgi;

use crate::ffi::directive::{entry, keep_section, Cmd, Func, Outcome, ServerConfigMut, Spec};
use crate::ffi::module_config::{self, Kept, PerDir, PerServer};
use crate::ffi::request::Request;
use crate::ffi::server::Server;
use crate::ffi::{self, raw};
use crate::sync::LockExt;
pub use pyrite_text::directive::{check_python_expr, parse_handler_args, parse_handler_spec, split_words};
use std::any::Any;
use std::sync::{Arc, OnceLock};

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
    /// This child's resolved module and object (empty in the parent); its
    /// type belongs to the code that runs handlers (handlers.rs).
    pub cache: HandlerCache,
}

/// What the code running handlers keeps beside a declaration in a child:
/// one value of the type it chooses, made on first use.
#[derive(Default)]
pub struct HandlerCache(OnceLock<Box<dyn Any + Send + Sync>>);

impl HandlerCache {
    /// The kept value; `T` must be the same type at every call.
    pub fn get_or_default<T: Any + Default + Send + Sync>(&self) -> &T {
        self.0
            .get_or_init(|| Box::new(T::default()))
            .downcast_ref::<T>()
            .expect("a handler cache read as two types")
    }
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
    section: Kept<DirConfig>,
    server: Kept<Server>,
}

/// The list is emptied when the next configuration read starts, before
/// anything reads it again; a section or server gone sooner is a bug.
const GONE: &str = "a handler declaration outlived its configuration";

impl Declared {
    /// The declaring section's own configuration (not merged with enclosing ones).
    pub fn section(&self) -> &DirConfig {
        self.section.get().expect(GONE)
    }
    /// The server (virtual host) it was declared in.
    pub fn server(&self) -> &Server {
        self.server.get().expect(GONE)
    }
    /// The PythonPath that applies to the declaring section (its own, else the server's).
    pub fn python_path(&self) -> Option<Arc<PathSetting>> {
        let own = self.section().python_path.clone();
        own.or_else(|| DirConfig::server_level(self.server()).and_then(|d| d.python_path.clone()))
    }
}

/// Whether the server configuration is being read (true from pre_config to post_config).
static READING_CONFIG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether any handler for a phase other than the content phase was ever
/// declared in this process (a directive, in httpd.conf or .htaccess, or
/// req.add_handler): until then the phase hooks have nothing to look up.
static PHASE_HANDLERS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Notes that a handler for `phase` exists somewhere (see `PHASE_HANDLERS`).
pub fn note_phase_handler(phase: Phase) {
    if phase != Phase::Handler {
        PHASE_HANDLERS.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether the phase hooks may have handlers to run (see `PHASE_HANDLERS`).
#[inline]
pub fn phase_handlers_declared() -> bool {
    PHASE_HANDLERS.load(std::sync::atomic::Ordering::Relaxed)
}
static DECLARED: std::sync::Mutex<Vec<Declared>> = std::sync::Mutex::new(Vec::new());

/// A configuration read starts: forget the previous generation's declarations.
pub fn config_read_starts() {
    DECLARED.locked().clear();
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

/// A PythonConnectionHandler line.
pub struct ConnHandlerDecl {
    pub module: String,
    pub object: Option<String>,
    pub origin: Origin,
}

/// One Python filter: the handler and the name httpd knows it by.
pub struct FilterDecl {
    pub name: String,
    pub input: bool,
    pub module: String,
    pub object: Option<String>,
    pub directory: Option<String>,
    pub origin: Origin,
}

/// The PyriteBytecodeCache directive's value.
#[derive(Clone, Debug, PartialEq)]
pub enum BytecodeSetting {
    /// `private` (the default): a directory in httpd's runtime directory.
    Private,
    /// An absolute path: that directory, made and owned as the private one.
    Directory(String),
    /// `beside`: CPython's own rule, `__pycache__` next to the source (mod_python's behaviour).
    Beside,
    /// `off`: application code's bytecode is neither written nor read.
    Off,
}

impl BytecodeSetting {
    pub fn parse(arg: &str) -> Result<BytecodeSetting, String> {
        match arg.to_ascii_lowercase().as_str() {
            "private" => Ok(BytecodeSetting::Private),
            "beside" => Ok(BytecodeSetting::Beside),
            "off" => Ok(BytecodeSetting::Off),
            _ if arg.starts_with('/') && arg.trim_end_matches('/').len() > 1 => {
                Ok(BytecodeSetting::Directory(arg.trim_end_matches('/').to_string()))
            }
            _ => Err(format!("{arg:?} is not private, beside, off or an absolute directory")),
        }
    }
}

/// PythonOption lines in order: key and value (None: remove the key).
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
    pub wsgi: wsgi::WsgiDirConfig,
    /// PythonInputFilter / PythonOutputFilter declarations (later ones win by name).
    pub filters: Option<Arc<Vec<Arc<FilterDecl>>>>,
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
        m.wsgi = wsgi::WsgiDirConfig::merge(&base.wsgi, &new.wsgi);
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
    pub wsgi_aliases: Vec<Arc<wsgi::WsgiAlias>>,
    /// WSGIImportScript lines.
    pub wsgi_imports: Vec<Arc<wsgi::ImportScript>>,
    /// WSGIPythonHome (main server only).
    pub python_home: Option<String>,
    /// WSGIPythonPath directories, added with site.addsitedir (main server only).
    pub python_paths: Vec<String>,
    /// WSGIRestrictStdout (main server only).
    pub restrict_stdout: Option<bool>,
    /// mod_wsgi's process-wide settings: Python start-up, restrictions (main server only).
    pub wsgi_process: wsgi::ProcessOptions,
    /// PyriteMaxPythonThreads: the gate's size per child (main server only).
    pub python_threads: Option<usize>,
    /// PyriteSwitchInterval: sys.setswitchinterval at child start (main server only).
    pub switch_interval: Option<f64>,
    /// PyriteChildScheduling: httpd's children's CPU scheduling policy (main server only).
    pub child_scheduling: Option<ChildScheduling>,
    /// PyritePreload: import handler modules at child start (default On; main server only).
    pub preload: Option<bool>,
    /// PyriteBytecodeCache: where application code's bytecode goes (main server only).
    pub bytecode_cache: Option<BytecodeSetting>,
    /// PythonConnectionHandler: takes over the server's connections from HTTP.
    pub connection_handler: Option<Arc<ConnHandlerDecl>>,
}

/// PyriteChildScheduling: how the kernel schedules httpd's children's threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildScheduling {
    /// Linux's SCHED_BATCH: a woken thread does not preempt a running one
    /// (the default when daemon groups are declared; see src/scheduling.rs).
    Batch,
    /// As httpd's parent started them (usually SCHED_OTHER).
    Normal,
}

impl ChildScheduling {
    pub fn parse(arg: &str) -> Result<ChildScheduling, String> {
        match arg.to_ascii_lowercase().as_str() {
            "batch" => Ok(ChildScheduling::Batch),
            "normal" => Ok(ChildScheduling::Normal),
            _ => Err(format!("{arg:?} is neither batch nor normal")),
        }
    }
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

// ---- how httpd keeps them ---------------------------------------------------

// SAFETY: the module record's create/merge_dir_config are
// ffi::module_config::create_dir/merge_dir::<DirConfig> (src/module.rs), and
// no other type implements PerDir.
unsafe impl PerDir for DirConfig {
    fn merge(base: &Self, new: &Self) -> Self {
        DirConfig::merge(base, new)
    }
}

// SAFETY: as above, with create/merge_server::<ServerConfig>.
unsafe impl PerServer for ServerConfig {
    fn merge(base: &Self, new: &Self) -> Self {
        let mut m = new.clone();
        m.wsgi_aliases.extend(base.wsgi_aliases.iter().cloned());
        if m.connection_handler.is_none() {
            m.connection_handler = base.connection_handler.clone();
        }
        m
    }
}

impl DirConfig {
    /// The per-directory configuration httpd chose for a request.
    pub fn of(r: &Request) -> Option<&DirConfig> {
        module_config::dir_config(r)
    }
    /// A server's per-directory defaults (what `PythonOption` etc. outside any section set).
    pub fn server_level(s: &Server) -> Option<&DirConfig> {
        module_config::server_dir_config(s)
    }
}

impl ServerConfig {
    /// A server's configuration.
    pub fn of(s: &Server) -> Option<&ServerConfig> {
        module_config::server_config(s)
    }
}

// ---- reading directives -----------------------------------------------------

/// The message httpd prints (with the file and line) for a bad directive.
pub fn fail(directive: &str, msg: &str) -> String {
    format!("{directive}: {msg}")
}

impl Origin {
    /// Where the directive being read was written.
    pub fn of(cmd: &Cmd) -> Origin {
        match cmd.node() {
            Some(n) => Origin {
                file: String::from_utf8_lossy(n.file()).into_owned(),
                line: n.line(),
            },
            None => Origin::default(),
        }
    }
}

/// The configuration of the server a directive is being read for.
pub fn server_conf<'c>(cmd: &'c Cmd, name: &str) -> Result<ServerConfigMut<'c, ServerConfig>, String> {
    cmd.server_config().ok_or_else(|| fail(name, "no server configuration"))
}

/// The main server's configuration, or the error for a directive written inside <VirtualHost>.
pub fn main_server<'c>(cmd: &'c Cmd, name: &str) -> Result<ServerConfigMut<'c, ServerConfig>, String> {
    if cmd.server().rec().is_virtual != 0 {
        return Err(fail(name, "applies to the whole server: move it out of <VirtualHost>"));
    }
    server_conf(cmd, name)
}

/// Where a handler or filter directive was written, as mod_python records it
/// (an enclosing <Files> is looked through).
#[derive(Default)]
pub struct DeclaredIn {
    pub directory: Option<String>,
    pub dir_wildcard: bool,
    pub dir_regex: Option<Arc<ffi::regex::Regex>>,
    pub location: Option<Arc<str>>,
    pub location_pattern: bool,
}

impl DeclaredIn {
    /// The nearest enclosing <Directory>/<Location> (or their ...Match forms), or
    /// the .htaccess file's directory; nothing at server or virtual host level.
    pub fn of(cmd: &Cmd) -> DeclaredIn {
        use pyrite_text::dirpath::{canonical_dir, section_path, SectionPath};
        let Some(d) = cmd.node() else {
            return DeclaredIn::default();
        };
        let mut p = d.parent();
        while let Some(section) = p {
            let name = section.name().to_ascii_lowercase();
            let args = String::from_utf8_lossy(section.args()).into_owned();
            let (is_location, is_match) = match name.as_slice() {
                b"<location" => (true, false),
                b"<locationmatch" => (true, true),
                b"<directory" => (false, false),
                b"<directorymatch" => (false, true),
                _ => {
                    p = section.parent();
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
        if !cmd.reads_a_file() || READING_CONFIG.load(std::sync::atomic::Ordering::Relaxed) {
            return DeclaredIn::default();
        }
        // An .htaccess file: the directory it is in.
        let directory = pyrite_text::dirpath::containing_dir(d.file(), false).map(|f| String::from_utf8_lossy(&f).into_owned());
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

/// The directory a filter declared here belongs to (see DeclaredIn).
pub fn declaring_dir(cmd: &Cmd) -> Option<String> {
    let d = DeclaredIn::of(cmd);
    if d.dir_wildcard {
        None
    } else {
        d.directory
    }
}

/// A section's configuration for a Python directive written in it, with the
/// section's Require lines noted on first use.
fn section_conf<'d>(cmd: &Cmd, conf: &'d mut DirConfig) -> &'d mut DirConfig {
    if conf.requires.is_none() && cmd.section_path().is_some() {
        let reading = READING_CONFIG.load(std::sync::atomic::Ordering::Relaxed);
        conf.requires = Some(crate::requires::of_section(cmd, reading));
    }
    conf
}

// ---- the directives ---------------------------------------------------------

/// PythonHandler and the other phase directives (cmd info: the phase), and
/// PythonHandlerModule.
fn set_handler(cmd: &Cmd, mconfig: &mut DirConfig, args: &str) -> Outcome {
    let info = cmd.info();
    let (phases, silent, dname): (Vec<Phase>, bool, &str) = if info == HANDLER_MODULE {
        (Phase::ALL.to_vec(), true, "PythonHandlerModule")
    } else {
        let p = Phase::from_index(info);
        (vec![p], false, p.directive())
    };
    let (handlers, exts) = parse_handler_args(args).map_err(|e| fail(dname, &e))?;
    if silent && (handlers.len() != 1 || handlers[0].1.is_some()) {
        return Err(fail(dname, "names one module (its functions are looked up by phase)"));
    }
    let conf = section_conf(cmd, mconfig);
    let within = DeclaredIn::of(cmd);
    let org = Origin::of(cmd);
    let reading_config = READING_CONFIG.load(std::sync::atomic::Ordering::Relaxed);
    // "| .ext1 .ext2": one entry per extension, in that extension's list.
    let ext_keys: Vec<Option<String>> = if exts.is_empty() {
        vec![None]
    } else {
        exts.iter().cloned().map(Some).collect()
    };
    let mut noted = Vec::new();
    for phase in phases {
        note_phase_handler(phase);
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
                    noted.push(decl.clone());
                }
                list.push(decl);
            }
        }
        conf.handlers[phase as usize] = Some(Arc::new(list));
    }
    // The section is kept, not copied: directives later in it (PythonPath) count too.
    let mut declared = DECLARED.locked();
    for decl in noted {
        declared.push(Declared {
            decl,
            section: keep_section(cmd, &*conf),
            server: cmd.keep_server(),
        });
    }
    Ok(())
}

fn set_python_path(cmd: &Cmd, mconfig: &mut DirConfig, expr: &str) -> Outcome {
    check_python_expr(expr).map_err(|e| fail("PythonPath", &e))?;
    section_conf(cmd, mconfig).python_path = Some(Arc::new(PathSetting {
        expr: expr.to_string(),
        origin: Origin::of(cmd),
    }));
    Ok(())
}

fn set_option(cmd: &Cmd, mconfig: &mut DirConfig, key: &str, val: Option<&str>) -> Outcome {
    if key.is_empty() {
        return Err(fail("PythonOption", "the key is empty"));
    }
    // No value, or an empty one, removes the key (mod_python 3.3 and later).
    let v = val.filter(|v| !v.is_empty()).map(str::to_string);
    let conf = section_conf(cmd, mconfig);
    let mut opts: Vec<_> = conf.options.as_deref().cloned().unwrap_or_default();
    opts.push((key.to_string(), v));
    conf.options = Some(Arc::new(opts));
    Ok(())
}

fn set_status_page(_cmd: &Cmd, mconfig: &mut DirConfig, on: bool) -> Outcome {
    mconfig.status_page = Some(on);
    Ok(())
}

fn set_debug(cmd: &Cmd, mconfig: &mut DirConfig, on: bool) -> Outcome {
    section_conf(cmd, mconfig).debug = Some(on);
    Ok(())
}

fn set_interpreter(_cmd: &Cmd, mconfig: &mut DirConfig, name: &str) -> Outcome {
    mconfig.interpreter = Some(name.to_string());
    Ok(())
}

/// PythonInterpPerDirectory (info 0) and PythonInterpPerDirective (info 1).
fn set_interp_per(cmd: &Cmd, mconfig: &mut DirConfig, on: bool) -> Outcome {
    if cmd.info() == 0 {
        mconfig.interp_per_directory = Some(on);
    } else {
        mconfig.interp_per_directive = Some(on);
    }
    Ok(())
}

fn set_autoreload(cmd: &Cmd, mconfig: &mut DirConfig, on: bool) -> Outcome {
    section_conf(cmd, mconfig).autoreload = Some(on);
    Ok(())
}

fn set_import(cmd: &Cmd, _m: &mut DirConfig, spec: &str, interp: &str) -> Outcome {
    let (module, function) = parse_handler_spec(spec).map_err(|e| fail("PythonImport", &e))?;
    let origin = Origin::of(cmd);
    server_conf(cmd, "PythonImport")?.imports.push(Arc::new(ImportDecl {
        module,
        function,
        interpreter: interp.to_string(),
        origin,
    }));
    Ok(())
}

fn set_python_threads(cmd: &Cmd, _m: &mut DirConfig, arg: &str) -> Outcome {
    let mut sc = main_server(cmd, "PyriteMaxPythonThreads")?;
    match arg.parse::<usize>() {
        Ok(n) if n <= 10_000 => sc.python_threads = Some(n),
        _ => {
            return Err(fail(
                "PyriteMaxPythonThreads",
                &format!("{arg:?} is not a number of threads (0 turns the limit off)"),
            ))
        }
    }
    Ok(())
}

fn set_preload(cmd: &Cmd, _m: &mut DirConfig, on: bool) -> Outcome {
    main_server(cmd, "PyritePreload")?.preload = Some(on);
    Ok(())
}

fn set_bytecode_cache(cmd: &Cmd, _m: &mut DirConfig, arg: &str) -> Outcome {
    let mut sc = main_server(cmd, "PyriteBytecodeCache")?;
    sc.bytecode_cache = Some(BytecodeSetting::parse(arg).map_err(|e| fail("PyriteBytecodeCache", &e))?);
    Ok(())
}

fn set_switch_interval(cmd: &Cmd, _m: &mut DirConfig, arg: &str) -> Outcome {
    let mut sc = main_server(cmd, "PyriteSwitchInterval")?;
    match arg.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 10.0 => sc.switch_interval = Some(v),
        _ => {
            return Err(fail(
                "PyriteSwitchInterval",
                &format!("{arg:?} is not a number of seconds between 0 and 10 (Python's default is 0.005)"),
            ))
        }
    }
    Ok(())
}

fn set_child_scheduling(cmd: &Cmd, _m: &mut DirConfig, arg: &str) -> Outcome {
    let mut sc = main_server(cmd, "PyriteChildScheduling")?;
    sc.child_scheduling = Some(ChildScheduling::parse(arg).map_err(|e| fail("PyriteChildScheduling", &e))?);
    Ok(())
}

// ---- this file's part of the directive table (src/directives.rs has it all) ----

/// A command table entry for a C-style directive callback.
pub use ffi::directive::cmd;

const fn handler_directive(
    name: &'static std::ffi::CStr,
    phase: Phase,
    req_override: u32,
    help: &'static std::ffi::CStr,
) -> Spec<DirConfig> {
    Spec::new(name, Func::RawArgs(set_handler), phase as usize, req_override, help)
}

pub const COMMANDS: [raw::command_rec; 27] = [
    entry(&handler_directive(
        c"PythonHandler",
        Phase::Handler,
        raw::OR_ALL,
        c"module[::object] [module[::object] ...] [| .ext ...]: the content handler(s), active where SetHandler mod_python",
    )),
    entry(&handler_directive(
        c"PythonPostReadRequestHandler",
        Phase::PostReadRequest,
        raw::RSRC_CONF,
        c"handler(s) run right after the request is read (server context)",
    )),
    entry(&handler_directive(
        c"PythonTransHandler",
        Phase::Trans,
        raw::RSRC_CONF,
        c"handler(s) translating the URI to a file (server context)",
    )),
    entry(&handler_directive(
        c"PythonHeaderParserHandler",
        Phase::HeaderParser,
        raw::OR_ALL,
        c"handler(s) run in the header-parser phase",
    )),
    entry(&handler_directive(
        c"PythonInitHandler",
        Phase::Init,
        raw::OR_ALL,
        c"handler(s) run first: post-read-request at server level, header-parser elsewhere",
    )),
    entry(&handler_directive(
        c"PythonAccessHandler",
        Phase::Access,
        raw::OR_ALL,
        c"handler(s) run in the access-control phase",
    )),
    entry(&handler_directive(
        c"PythonAuthenHandler",
        Phase::Authen,
        raw::OR_ALL,
        c"handler(s) authenticating the user (set req.user); 401 sends a Basic challenge",
    )),
    entry(&handler_directive(
        c"PythonAuthzHandler",
        Phase::Authz,
        raw::OR_ALL,
        c"handler(s) deciding whether the authenticated user may have the resource",
    )),
    entry(&handler_directive(
        c"PythonTypeHandler",
        Phase::Type,
        raw::OR_ALL,
        c"handler(s) run in the type-checker phase",
    )),
    entry(&handler_directive(
        c"PythonFixupHandler",
        Phase::Fixup,
        raw::OR_ALL,
        c"handler(s) run in the fixups phase, just before the content handler",
    )),
    entry(&handler_directive(
        c"PythonLogHandler",
        Phase::Log,
        raw::OR_ALL,
        c"handler(s) run in the logging phase, after the response",
    )),
    entry(&handler_directive(
        c"PythonCleanupHandler",
        Phase::Cleanup,
        raw::OR_ALL,
        c"handler(s) run when the request's pool is cleared",
    )),
    entry(&Spec::new(
        c"PythonHandlerModule",
        Func::RawArgs(set_handler),
        HANDLER_MODULE,
        raw::OR_ALL,
        c"module: one module for every phase; phases whose function it lacks are skipped",
    )),
    entry(&Spec::new(
        c"PythonPath",
        Func::Take1(set_python_path),
        0,
        raw::OR_ALL,
        c"a Python expression giving the new sys.path, e.g. \"sys.path+['/srv/app']\"",
    )),
    entry(&Spec::new(
        c"PythonOption",
        Func::Take12(set_option),
        0,
        raw::OR_ALL,
        c"key [value]: an option handlers read with req.get_options(); no value removes the key",
    )),
    entry(&Spec::new(
        c"PythonDebug",
        Func::Flag(set_debug),
        0,
        raw::OR_ALL,
        c"On sends Python tracebacks to the client; Off (default) logs them only",
    )),
    entry(&Spec::new(
        c"PythonAutoReload",
        Func::Flag(set_autoreload),
        0,
        raw::OR_ALL,
        c"On (default) re-imports a handler module whose file changed",
    )),
    entry(&Spec::new(
        c"PythonInterpreter",
        Func::Take1(set_interpreter),
        0,
        raw::OR_ALL,
        c"name: the interpreter handlers here run in (main_interpreter: the main one)",
    )),
    entry(&Spec::new(
        c"PythonInterpPerDirectory",
        Func::Flag(set_interp_per),
        0,
        raw::OR_ALL,
        c"On: one interpreter per directory of the requested file",
    )),
    entry(&Spec::new(
        c"PythonInterpPerDirective",
        Func::Flag(set_interp_per),
        1,
        raw::OR_ALL,
        c"On: one interpreter per directory holding the handler directive",
    )),
    entry(&Spec::new(
        c"PythonImport",
        Func::Take2(set_import),
        0,
        raw::RSRC_CONF,
        c"module[::function] interpreter: import at child start, before any request",
    )),
    entry(&Spec::new(
        c"PyriteMaxPythonThreads",
        Func::Take1(set_python_threads),
        0,
        raw::RSRC_CONF,
        c"N: at most N threads of a child run Python at once, the rest queue in order (0: no limit)",
    )),
    entry(&Spec::new(
        c"PyritePreload",
        Func::Flag(set_preload),
        0,
        raw::RSRC_CONF,
        c"On (default): import the modules PythonHandler directives name when a child starts, before it takes requests",
    )),
    entry(&Spec::new(
        c"PyriteSwitchInterval",
        Func::Take1(set_switch_interval),
        0,
        raw::RSRC_CONF,
        c"seconds: Python's thread switch interval (sys.setswitchinterval) in each child",
    )),
    entry(&Spec::new(
        c"PyriteChildScheduling",
        Func::Take1(set_child_scheduling),
        0,
        raw::RSRC_CONF,
        c"batch | normal: Linux scheduling policy of httpd's children (batch: a woken thread does not preempt; the default with daemon groups)",
    )),
    entry(&Spec::new(
        c"PyriteBytecodeCache",
        Func::Take1(set_bytecode_cache),
        0,
        raw::RSRC_CONF,
        c"private (default), beside, off or a directory: where the bytecode of modules imported from outside Python's installation is kept",
    )),
    entry(&Spec::new(
        c"PyriteStatus",
        Func::Flag(set_status_page),
        0,
        raw::RSRC_CONF | raw::ACCESS_CONF,
        c"On lets SetHandler pyrite-status serve the metrics in this section (Off, the default, answers 403); limit it with Require",
    )),
];

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
