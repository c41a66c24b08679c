//! The C entry points of request hooks: httpd calls them with a raw
//! `request_rec *`; the macro below turns it into `&Request` once, there,
//! so the hook's body (code above `src/ffi`) is safe Rust.
use super::raw;
use std::ffi::c_int;

/// A request hook's C entry point, as httpd's `ap_hook_*` functions take it.
pub type RequestHook = unsafe extern "C" fn(*mut raw::request_rec) -> c_int;

/// Defines `$vis unsafe extern "C" fn $name(r: *mut request_rec) -> c_int`
/// that calls `$body` (a `FnOnce(&Request) -> c_int`) with the request's
/// handle, or answers `$null` when httpd passes NULL.
///
/// ```ignore
/// request_hook!(
///     /// The content handler for `wsgi-script`.
///     pub handler, DECLINED, |r| serve(r)
/// );
/// ```
macro_rules! request_hook {
    ($(#[$doc:meta])* $vis:vis $name:ident, $null:expr, $body:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Called by httpd with a live request.
        $vis unsafe extern "C" fn $name(r: *mut $crate::ffi::raw::request_rec) -> ::std::ffi::c_int {
            // SAFETY: httpd calls a request hook with a live request (or NULL),
            // served by this thread for the span of the call.
            $crate::ffi::hook::enter(unsafe { $crate::ffi::request::Request::from_raw(r) }, $null, $body)
        }
    };
}
pub(crate) use request_hook;

/// Calls `body` with the request (`$null` for NULL). `body` takes any
/// borrow's lifetime, so it cannot keep the handle past the call.
#[doc(hidden)]
#[inline(always)]
pub fn enter(r: Option<&super::request::Request>, null: c_int, body: impl FnOnce(&super::request::Request) -> c_int) -> c_int {
    match r {
        Some(r) => body(r),
        None => null,
    }
}

/// A NULL-terminated list of module file names ("mod_ssl.c") that orders a
/// hook before or after those modules', as httpd's `ap_hook_*` take it.
/// `N` counts the final NULL.
pub struct ModuleOrder<const N: usize>([*const std::ffi::c_char; N]);

// SAFETY: pointers to 'static C strings (or NULL), never written.
unsafe impl<const N: usize> Sync for ModuleOrder<N> {}

impl<const N: usize> ModuleOrder<N> {
    pub const fn new(names: &[&'static std::ffi::CStr]) -> Self {
        assert!(names.len() < N, "a module order list needs room for its NULL");
        let mut list = [std::ptr::null(); N];
        let mut i = 0;
        while i < names.len() {
            list[i] = names[i].as_ptr();
            i += 1;
        }
        ModuleOrder(list)
    }
}

/// Registers `hook` as an access checker, after the modules in `pre` and
/// before those in `succ`, at `order` (raw::APR_HOOK_MIDDLE, ...).
///
/// # Safety
/// Called from the module's register_hooks (httpd fills its hook tables
/// then, on one thread).
pub unsafe fn access_checker<const A: usize, const B: usize>(
    hook: RequestHook,
    pre: &'static ModuleOrder<A>,
    succ: &'static ModuleOrder<B>,
    order: c_int,
) {
    // SAFETY: the contract; the lists are 'static and NULL-terminated
    // (ModuleOrder::new), and httpd keeps the hook pointer.
    unsafe { raw::ap_hook_access_checker(Some(hook), pre.0.as_ptr(), succ.0.as_ptr(), order) }
}
