//! mod_wsgi's settings as the configuration holds them: what its directives
//! (read in src/wsgi/) record per directory and per server. Kept here, below
//! the WSGI code that reads them, so that the configuration depends on no feature.
use super::Origin;
use pyrite_text::proxy::Subnet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A compiled WSGIScriptAliasMatch pattern (lives in the configuration pool).
pub use crate::ffi::directive::PoolRegex as Regex;

/// Some WSGIDispatchScript was read in this configuration pass: its
/// application groups are known only per request (src/child/plan.rs).
pub static DISPATCH_SCRIPTS: AtomicBool = AtomicBool::new(false);

/// WSGI settings that vary per directory.
#[derive(Clone, Default)]
pub struct WsgiDirConfig {
    pub callable: Option<String>,
    pub pass_authorization: Option<bool>,
    pub chunked_request: Option<bool>,
    pub script_reloading: Option<bool>,
    pub application_group: Option<String>,
    /// WSGIProcessGroup: a daemon group's name, %{GLOBAL} or %{ENV:var}.
    pub process_group: Option<String>,
    /// WSGIAuthUserScript, WSGIAuthGroupScript, WSGIAccessScript.
    pub auth: AuthDirConfig,
    /// WSGITrustedProxyHeaders, WSGITrustedProxies.
    pub proxy: ProxyDirConfig,
    /// WSGIMapHEADToGET: when a HEAD request reaches the application as GET.
    pub map_head_to_get: Option<MapHead>,
    /// WSGIErrorOverride: error statuses get httpd's ErrorDocument page.
    pub error_override: Option<bool>,
    /// WSGIPassApacheRequest: environ['apache.request_rec'] holds the request_rec.
    pub pass_apache_request: Option<bool>,
    /// WSGIEnableSendfile: Off reads wsgi.file_wrapper files through Python.
    pub enable_sendfile: Option<bool>,
    /// WSGIHandlerScript lines: handler names (for SetHandler/AddHandler) and their scripts.
    pub handler_scripts: Option<Arc<Vec<Arc<HandlerScript>>>>,
    /// WSGIDispatchScript: asked per request to change the groups and the callable.
    pub dispatch_script: Option<Arc<DispatchScript>>,
    /// WSGIRestrictProcess: the only process groups ("" = embedded) requests here may select.
    pub restrict_process: Option<Arc<Vec<String>>>,
}

impl WsgiDirConfig {
    /// The WSGIHandlerScript registered under `name` (the innermost, latest one).
    pub fn handler_script(&self, name: &[u8]) -> Option<Arc<HandlerScript>> {
        self.handler_scripts
            .as_ref()?
            .iter()
            .rev()
            .find(|h| h.name.as_bytes() == name)
            .cloned()
    }

    pub fn merge(base: &Self, new: &Self) -> Self {
        WsgiDirConfig {
            callable: new.callable.clone().or_else(|| base.callable.clone()),
            pass_authorization: new.pass_authorization.or(base.pass_authorization),
            chunked_request: new.chunked_request.or(base.chunked_request),
            script_reloading: new.script_reloading.or(base.script_reloading),
            application_group: new.application_group.clone().or_else(|| base.application_group.clone()),
            process_group: new.process_group.clone().or_else(|| base.process_group.clone()),
            auth: AuthDirConfig::merge(&base.auth, &new.auth),
            proxy: ProxyDirConfig::merge(&base.proxy, &new.proxy),
            map_head_to_get: new.map_head_to_get.or(base.map_head_to_get),
            error_override: new.error_override.or(base.error_override),
            pass_apache_request: new.pass_apache_request.or(base.pass_apache_request),
            enable_sendfile: new.enable_sendfile.or(base.enable_sendfile),
            dispatch_script: new.dispatch_script.clone().or_else(|| base.dispatch_script.clone()),
            restrict_process: new.restrict_process.clone().or_else(|| base.restrict_process.clone()),
            handler_scripts: match (&base.handler_scripts, &new.handler_scripts) {
                (Some(b), Some(n)) => Some(Arc::new(b.iter().chain(n.iter()).cloned().collect())),
                (b, None) => b.clone(),
                (None, n) => n.clone(),
            },
        }
    }
}

/// One WSGIScriptAlias or WSGIScriptAliasMatch line.
pub struct WsgiAlias {
    /// The URL path (WSGIScriptAlias) or the pattern's text (WSGIScriptAliasMatch).
    pub url: String,
    pub regex: Option<Regex>,
    /// The script file (for a match, may hold $1.. substitutions).
    pub target: String,
    /// process-group=: the daemon group that runs the script (None or %{GLOBAL}: embedded).
    pub process_group: Option<String>,
    pub application_group: Option<String>,
    pub callable: Option<String>,
    pub pass_authorization: Option<bool>,
    /// Load the script when the child starts (the default) instead of on first request.
    pub preload: bool,
    pub origin: Origin,
}

/// One WSGIImportScript line.
pub struct ImportScript {
    pub path: String,
    /// application-group=: the interpreter it is loaded in.
    pub application_group: Option<String>,
    /// process-group=: the daemon group that loads it (None or %{GLOBAL}: httpd's children).
    pub process_group: Option<String>,
    pub origin: Origin,
}

/// One WSGIAuthUserScript, WSGIAuthGroupScript or WSGIAccessScript line.
pub struct AuthScript {
    pub path: String,
    /// application-group=: the name the environ reports (every group runs in
    /// the child's one interpreter); the default is %{GLOBAL}.
    pub application_group: Option<String>,
    pub origin: Origin,
}

/// The access-control settings of a directory or location.
#[derive(Clone, Default)]
pub struct AuthDirConfig {
    pub user_script: Option<Arc<AuthScript>>,
    pub group_script: Option<Arc<AuthScript>>,
    pub access_script: Option<Arc<AuthScript>>,
}

impl AuthDirConfig {
    pub fn merge(base: &Self, new: &Self) -> Self {
        AuthDirConfig {
            user_script: new.user_script.clone().or_else(|| base.user_script.clone()),
            group_script: new.group_script.clone().or_else(|| base.group_script.clone()),
            access_script: new.access_script.clone().or_else(|| base.access_script.clone()),
        }
    }
}

/// The proxy settings of a server, directory or location.
#[derive(Clone, Default)]
pub struct ProxyDirConfig {
    /// Environ keys (HTTP_X_FORWARDED_FOR ...) of the headers to believe, in order.
    pub headers: Option<Arc<Vec<String>>>,
    /// The peers allowed to send them; None: every peer.
    pub proxies: Option<Arc<Vec<Subnet>>>,
}

impl ProxyDirConfig {
    pub fn merge(base: &Self, new: &Self) -> Self {
        ProxyDirConfig {
            headers: new.headers.clone().or_else(|| base.headers.clone()),
            proxies: new.proxies.clone().or_else(|| base.proxies.clone()),
        }
    }
}

/// WSGIMapHEADToGET's three settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapHead {
    Off,
    On,
    /// Only when an output filter that needs the body is in the chain (the default).
    Auto,
}

/// One WSGIHandlerScript line: `SetHandler name` or `AddHandler name .ext`
/// then runs the script's `handle_request` for the resource.
pub struct HandlerScript {
    pub name: String,
    pub path: String,
    /// process-group=: the daemon group that runs it (None or %{GLOBAL}: embedded).
    pub process_group: Option<String>,
    pub application_group: Option<String>,
    pub pass_authorization: Option<bool>,
}

/// Process-wide settings, read from the main server when a child starts.
#[derive(Clone, Default)]
pub struct ProcessOptions {
    pub restrict_stdin: Option<bool>,
    /// Default On where WSGI scripts are configured, as in mod_wsgi.
    pub restrict_signal: Option<bool>,
    /// WSGIRestrictEmbedded On: WSGI requests not delegated to a daemon group are refused.
    pub restrict_embedded: Option<bool>,
    pub optimize: Option<i32>,
    /// None: Python's default; Some(None): random; Some(Some(n)): fixed.
    pub hash_seed: Option<Option<u32>>,
    pub warnings: Vec<String>,
    pub dont_write_bytecode: Option<bool>,
    /// WSGIPythonEggs: PYTHON_EGG_CACHE for pkg_resources.
    pub eggs: Option<String>,
    pub verbose: Option<bool>,
    /// WSGIDestroyInterpreter (default On): atexit functions run when the child exits.
    pub destroy_interpreter: Option<bool>,
}

/// One WSGIDispatchScript line.
pub struct DispatchScript {
    pub path: String,
    /// application-group=: the interpreter the script runs in (None: the main one).
    pub application_group: Option<String>,
}
