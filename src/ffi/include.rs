//! mod_include's element API: `ap_register_include_handler` and
//! `ap_ssi_get_tag_and_value`, optional functions found by name once the
//! modules have registered their hooks (mod_include may not be loaded), and
//! the element's context (`include_ctx_t`) as a typed handle.
use super::{cstr, cstr_lossy, raw};
use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicPtr, Ordering};

type GetTagAndValue = unsafe extern "C" fn(*mut raw::include_ctx_t, *mut *mut c_char, *mut *mut c_char, c_int);
type RegisterHandler = unsafe extern "C" fn(*mut c_char, Option<ElementHandler>);
/// What mod_include calls for an element registered here.
type ElementHandler =
    unsafe extern "C" fn(*mut raw::include_ctx_t, *mut raw::ap_filter_t, *mut raw::apr_bucket_brigade) -> raw::apr_status_t;

/// mod_include's `ap_ssi_get_tag_and_value`, once found.
static GET_TAG_AND_VALUE: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

/// mod_include's optional function `name`, or NULL when mod_include is not loaded.
///
/// # Safety
/// Called after the modules' register_hooks ran (optional functions are registered there).
unsafe fn optional_fn(name: &CStr) -> *mut c_void {
    // SAFETY: name is NUL-terminated; optional functions are registered before this is called (the contract).
    unsafe { raw::apr_dynamic_fn_retrieve(name.as_ptr()) }.map_or(std::ptr::null_mut(), |f| f as *mut c_void)
}

/// An element mod_pyrite handles (`<!--#name ... -->`): mod_pyrite's side of
/// [`register`]. The C entry point mod_include calls is made here, once.
pub trait Element {
    /// What a failed or panicking call returns to mod_include.
    const FAILED: raw::apr_status_t;
    /// Runs one element: its context, mod_include's filter, and the brigade
    /// the element's output goes into.
    fn run(ctx: &Include, f: &super::filter::Filter, bb: &super::brigade::BucketBrigade) -> raw::apr_status_t;
}

unsafe extern "C" fn element_entry<T: Element>(
    ctx: *mut raw::include_ctx_t,
    f: *mut raw::ap_filter_t,
    bb: *mut raw::apr_bucket_brigade,
) -> raw::apr_status_t {
    // SAFETY: mod_include's live element context, filter and brigade for this call, on this thread.
    let handles = unsafe {
        (
            Include::from_raw(ctx),
            super::filter::Filter::from_raw(f),
            super::brigade::BucketBrigade::from_raw(bb),
        )
    };
    let (Some(ctx), Some(f), Some(bb)) = handles else {
        return T::FAILED;
    };
    super::guard::or(T::FAILED, || T::run(ctx, f, bb))
}

/// Registers `T` for `<!--#name ... -->` (from post_config, after every
/// module's register_hooks); false when mod_include is not loaded.
pub fn register<T: Element>(_at: &super::hooks::PostConfig<'_>, name: &'static CStr) -> bool {
    let handler: ElementHandler = element_entry::<T>;
    // SAFETY: post_config (the PostConfig proof): every module has registered its optional functions.
    let (register, get) = unsafe {
        (
            optional_fn(c"ap_register_include_handler"),
            optional_fn(c"ap_ssi_get_tag_and_value"),
        )
    };
    if register.is_null() || get.is_null() {
        return false;
    }
    GET_TAG_AND_VALUE.store(get, Ordering::Release);
    // SAFETY: the pointer is mod_include's function of exactly this type (mod_include.h);
    // mod_include keeps the name pointer, a static string.
    unsafe {
        let register = std::mem::transmute::<*mut c_void, RegisterHandler>(register);
        register(name.as_ptr() as *mut c_char, Some(handler));
    }
    true
}

/// The context of one element mod_include is processing.
#[repr(transparent)]
pub struct Include(UnsafeCell<raw::include_ctx_t>);

impl Include {
    /// The handle of an element's context.
    ///
    /// # Safety
    /// `ctx` is NULL or the context mod_include passed to a running element
    /// handler registered with [`register`], valid for `'a` on this thread.
    pub unsafe fn from_raw<'a>(ctx: *mut raw::include_ctx_t) -> Option<&'a Include> {
        // SAFETY: repr(transparent) over the context; validity as the contract says.
        unsafe { (ctx as *const Include).as_ref() }
    }

    fn rec(&self) -> &raw::include_ctx_t {
        // SAFETY: live for the borrow (from_raw's contract).
        unsafe { &*self.0.get() }
    }

    /// How many attributes the element has.
    pub fn argc(&self) -> u32 {
        self.rec().argc
    }

    /// Whether output is on (false inside a false `<!--#if -->`).
    pub fn printing(&self) -> bool {
        self.rec().flags & raw::SSI_FLAG_PRINTING as c_int != 0
    }

    /// Whether executing is forbidden (IncludesNOEXEC).
    pub fn no_exec(&self) -> bool {
        self.rec().flags & raw::SSI_FLAG_NO_EXEC as c_int != 0
    }

    /// mod_include's error text ("[an error occurred while processing this directive]").
    pub fn error_text(&self) -> Option<&[u8]> {
        // SAFETY: NULL or a string of the request's configuration.
        unsafe { cstr(self.rec().error_str) }
    }

    /// Asks mod_include to pass what the page has so far on to the client.
    pub fn request_flush(&self) {
        // SAFETY: the live context, on the thread running its element.
        unsafe { (*self.0.get()).flush_now = 1 }
    }

    /// The element's attributes as (name, value) pairs, values entity-decoded.
    /// (Each call consumes them: mod_include hands each out once.)
    pub fn attributes(&self) -> Vec<(String, String)> {
        let f = GET_TAG_AND_VALUE.load(Ordering::Acquire);
        if f.is_null() {
            return Vec::new();
        }
        // SAFETY: stored from mod_include's ap_ssi_get_tag_and_value by `register`.
        let get: GetTagAndValue = unsafe { std::mem::transmute::<*mut c_void, GetTagAndValue>(f) };
        let mut out = Vec::new();
        loop {
            let (mut tag, mut val): (*mut c_char, *mut c_char) = (std::ptr::null_mut(), std::ptr::null_mut());
            // SAFETY: the live context; both strings live in its pools for the element.
            unsafe {
                get(self.0.get(), &mut tag, &mut val, raw::SSI_VALUE_DECODED as c_int);
                if tag.is_null() {
                    return out;
                }
                out.push((cstr_lossy(tag), cstr_lossy(val)));
            }
        }
    }
}
