//! httpd's authentication provider API (mod_auth.h): an authn provider that
//! AuthBasicProvider and AuthDigestProvider can name, an authz provider that
//! `Require` lines can name, and the few request facts access control needs.
//! The callbacks are plain Rust functions; the C entry points live here.
use super::raw;
use super::request::Request;
use std::ffi::{c_char, c_void, CStr};
use std::sync::OnceLock;

/// An authn provider's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authn {
    /// The password is wrong.
    Denied,
    /// The password is right.
    Granted,
    /// The user exists (a realm hash was found).
    UserFound,
    /// This provider does not know the user (the next provider may).
    UserNotFound,
    /// The provider failed (httpd answers 500).
    GeneralError,
}

impl Authn {
    fn raw(self) -> raw::authn_status {
        match self {
            Authn::Denied => raw::authn_status_AUTH_DENIED,
            Authn::Granted => raw::authn_status_AUTH_GRANTED,
            Authn::UserFound => raw::authn_status_AUTH_USER_FOUND,
            Authn::UserNotFound => raw::authn_status_AUTH_USER_NOT_FOUND,
            Authn::GeneralError => raw::authn_status_AUTH_GENERAL_ERROR,
        }
    }
}

/// An authz provider's answer for one `Require` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authz {
    Denied,
    Granted,
    GeneralError,
    /// Denied because nobody has logged in yet (httpd then asks for credentials).
    DeniedNoUser,
}

impl Authz {
    fn raw(self) -> raw::authz_status {
        match self {
            Authz::Denied => raw::authz_status_AUTHZ_DENIED,
            Authz::Granted => raw::authz_status_AUTHZ_GRANTED,
            Authz::GeneralError => raw::authz_status_AUTHZ_GENERAL_ERROR,
            Authz::DeniedNoUser => raw::authz_status_AUTHZ_DENIED_NO_USER,
        }
    }
}

/// A Digest provider's lookup: the hash, or why there is none.
pub type RealmHash = fn(&Request, &[u8], &[u8]) -> Result<Vec<u8>, Authn>;

/// The Rust side of one authn/authz provider pair.
pub struct Callbacks {
    /// (request, user, password) for Basic authentication.
    pub check_password: fn(&Request, &[u8], &[u8]) -> Authn,
    /// (request, user, realm) for Digest: the hex MD5 of "user:realm:password".
    pub realm_hash: RealmHash,
    /// (request, the words after the provider's name on the Require line).
    pub authorize: fn(&Request, &str) -> Authz,
}

static CALLBACKS: OnceLock<Callbacks> = OnceLock::new();

/// The provider records httpd keeps pointers to (they live as long as the process).
struct Records {
    authn: raw::authn_provider,
    authz: raw::authz_provider,
}
// SAFETY: function pointers only, never written after construction.
unsafe impl Sync for Records {}

static RECORDS: Records = Records {
    authn: raw::authn_provider {
        check_password: Some(check_password),
        get_realm_hash: Some(get_realm_hash),
    },
    authz: raw::authz_provider {
        check_authorization: Some(check_authorization),
        parse_require_line: Some(parse_require_line),
    },
};

unsafe extern "C" fn check_password(r: *mut raw::request_rec, user: *const c_char, password: *const c_char) -> raw::authn_status {
    super::guard::or(raw::authn_status_AUTH_GENERAL_ERROR, || {
        let Some(cb) = CALLBACKS.get() else {
            return raw::authn_status_AUTH_GENERAL_ERROR;
        };
        // SAFETY: mod_auth_basic calls with the live request it authenticates,
        // on its thread, and NUL-terminated strings of the request pool.
        let (r, u, p) = unsafe {
            (
                Request::from_raw(r),
                super::cstr(user).unwrap_or_default(),
                super::cstr(password).unwrap_or_default(),
            )
        };
        let Some(r) = r else {
            return raw::authn_status_AUTH_GENERAL_ERROR;
        };
        (cb.check_password)(r, u, p).raw()
    })
}

unsafe extern "C" fn get_realm_hash(
    r: *mut raw::request_rec,
    user: *const c_char,
    realm: *const c_char,
    rethash: *mut *mut c_char,
) -> raw::authn_status {
    super::guard::or(raw::authn_status_AUTH_GENERAL_ERROR, || {
        let Some(cb) = CALLBACKS.get() else {
            return raw::authn_status_AUTH_GENERAL_ERROR;
        };
        // SAFETY: mod_auth_digest calls with the live request it authenticates,
        // on its thread, and NUL-terminated strings of the request pool.
        let (r, u, realm) = unsafe {
            (
                Request::from_raw(r),
                super::cstr(user).unwrap_or_default(),
                super::cstr(realm).unwrap_or_default(),
            )
        };
        let Some(r) = r else {
            return raw::authn_status_AUTH_GENERAL_ERROR;
        };
        match (cb.realm_hash)(r, u, realm) {
            Ok(hash) => {
                // SAFETY: rethash is mod_auth_digest's out parameter; the copy
                // lives in the request's pool, as httpd expects.
                unsafe { *rethash = super::pool::strdup(r.pool().as_ptr(), &hash) };
                raw::authn_status_AUTH_USER_FOUND
            }
            Err(status) => status.raw(),
        }
    })
}

unsafe extern "C" fn check_authorization(
    r: *mut raw::request_rec,
    require_args: *const c_char,
    _parsed: *const c_void,
) -> raw::authz_status {
    super::guard::or(raw::authz_status_AUTHZ_GENERAL_ERROR, || {
        let Some(cb) = CALLBACKS.get() else {
            return raw::authz_status_AUTHZ_GENERAL_ERROR;
        };
        // SAFETY: mod_authz_core calls with the live request, on its thread,
        // and the Require line's text from the configuration pool.
        let (r, args) = unsafe { (Request::from_raw(r), super::cstr_lossy(require_args)) };
        let Some(r) = r else {
            return raw::authz_status_AUTHZ_GENERAL_ERROR;
        };
        (cb.authorize)(r, &args).raw()
    })
}

/// A Require line naming the group provider must name at least one group.
unsafe extern "C" fn parse_require_line(
    cmd: *mut raw::cmd_parms,
    require_line: *const c_char,
    _parsed: *mut *const c_void,
) -> *const c_char {
    // SAFETY: mod_authz_core passes the Require directive's cmd_parms and text.
    super::guard::or(std::ptr::null(), || unsafe {
        if super::cstr_lossy(require_line).trim().is_empty() {
            return super::pool::strdup((*cmd).pool, b"Require wsgi-group needs at least one group name");
        }
        std::ptr::null()
    })
}

/// Registers `authn_name` (for AuthBasicProvider/AuthDigestProvider) and
/// `authz_name` (for Require) with httpd. Called once, from register_hooks
/// (the `Registering` proof), so the names are known when the configuration
/// is read.
pub fn register(reg: &super::hooks::Registering<'_>, authn_name: &'static CStr, authz_name: &'static CStr, callbacks: Callbacks) {
    let _ = CALLBACKS.set(callbacks);
    let pool = reg.pool().as_ptr();
    // SAFETY: register_hooks' time and pool (the proof); the records and
    // names are 'static; httpd keeps the pointers.
    unsafe {
        raw::ap_register_auth_provider(
            pool,
            raw::AUTHN_PROVIDER_GROUP.as_ptr() as *const c_char,
            authn_name.as_ptr(),
            raw::AUTHN_PROVIDER_VERSION.as_ptr() as *const c_char,
            &RECORDS.authn as *const raw::authn_provider as *const c_void,
            raw::AP_AUTH_INTERNAL_PER_CONF as i32,
        );
        raw::ap_register_auth_provider(
            pool,
            raw::AUTHZ_PROVIDER_GROUP.as_ptr() as *const c_char,
            authz_name.as_ptr(),
            raw::AUTHZ_PROVIDER_VERSION.as_ptr() as *const c_char,
            &RECORDS.authz as *const raw::authz_provider as *const c_void,
            raw::AP_AUTH_INTERNAL_PER_CONF as i32,
        );
    }
}

/// The client's host name when HostnameLookups found one, else its address.
pub fn remote_host(r: &Request) -> Vec<u8> {
    // SAFETY: the live request, on its thread; the strings returned live in
    // the connection's or request's pool.
    let name = unsafe {
        super::cstr(raw::ap_get_remote_host(
            r.connection().as_ptr(),
            (*r.as_ptr()).per_dir_config as *mut c_void,
            raw::REMOTE_HOST as i32,
            std::ptr::null_mut(),
        ))
    };
    name.or_else(|| r.useragent_ip()).unwrap_or_default().to_vec()
}

/// Whether a refusal by an access checker is the last word: not so under
/// `Satisfy Any` with authentication configured, where a login may still let
/// the client in (then the refusal is not worth an error line).
pub fn refusal_is_final(r: &Request) -> bool {
    // SAFETY: the live request, on its thread; both only read its configuration.
    unsafe { raw::ap_satisfies(r.as_ptr()) != raw::SATISFY_ANY as i32 || raw::ap_some_auth_required(r.as_ptr()) == 0 }
}
