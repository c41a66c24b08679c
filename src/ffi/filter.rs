//! ap_filter_t as a typed handle: one filter in a chain, valid while the
//! filter is being called (`'a`).
use super::brigade::BucketBrigade;
use super::connection::Connection;
use super::request::Request;
use super::{cstr, raw};
use std::cell::UnsafeCell;

#[repr(transparent)]
pub struct Filter(UnsafeCell<raw::ap_filter_t>);

impl Filter {
    /// The handle of a filter.
    ///
    /// # Safety
    /// `f` is NULL or a live filter of a chain that stays intact for `'a`,
    /// used only by the calling thread meanwhile.
    #[inline]
    pub unsafe fn from_raw<'a>(f: *mut raw::ap_filter_t) -> Option<&'a Filter> {
        // SAFETY: Filter is repr(transparent) over the struct; validity as the contract says.
        unsafe { (f as *const Filter).as_ref() }
    }

    #[inline]
    pub fn as_ptr(&self) -> *mut raw::ap_filter_t {
        self.0.get()
    }

    #[inline]
    fn rec(&self) -> &raw::ap_filter_t {
        // SAFETY: live for the borrow (from_raw's contract).
        unsafe { &*self.0.get() }
    }

    /// The request, for a request-level filter.
    pub fn request(&self) -> Option<&Request> {
        // SAFETY: a request filter's request outlives the call.
        unsafe { Request::from_raw(self.rec().r) }
    }

    pub fn connection(&self) -> &Connection {
        // SAFETY: every filter has a connection that outlives the call.
        unsafe { Connection::from_raw(self.rec().c) }.expect("filter without a connection")
    }

    /// The next filter down the chain.
    pub fn next(&self) -> Option<&Filter> {
        // SAFETY: chain members live in the request or connection pool.
        unsafe { Filter::from_raw(self.rec().next) }
    }

    /// The registered name of the filter (as given to ap_register_*_filter).
    pub fn name(&self) -> Option<&[u8]> {
        let frec = self.rec().frec;
        if frec.is_null() {
            return None;
        }
        // SAFETY: filter records are registered for the process's life.
        unsafe { cstr((*frec).name) }
    }

    /// The address of the filter's registration record (its identity), if any.
    pub fn record(&self) -> Option<usize> {
        let frec = self.rec().frec;
        (!frec.is_null()).then_some(frec as usize)
    }

    /// The filter's context pointer.
    fn raw_ctx(&self) -> *mut std::ffi::c_void {
        self.rec().ctx
    }

    fn set_raw_ctx(&self, ctx: *mut std::ffi::c_void) {
        // SAFETY: the live filter, on the thread calling it.
        unsafe { (*self.0.get()).ctx = ctx }
    }

    /// Passes `bb` to the next filter down (`ap_pass_brigade(f->next, bb)`).
    pub fn pass_next(&self, bb: &BucketBrigade) -> raw::apr_status_t {
        // SAFETY: the live filter; bb belongs to the same connection.
        unsafe { raw::ap_pass_brigade(self.rec().next, bb.as_ptr()) }
    }

    /// Reads from the next filter up (`ap_get_brigade(f->next, ...)`).
    pub fn get_next(
        &self,
        bb: &BucketBrigade,
        mode: raw::ap_input_mode_t,
        block: raw::apr_read_type_e,
        readbytes: raw::apr_off_t,
    ) -> raw::apr_status_t {
        // SAFETY: as for pass_next.
        unsafe { raw::ap_get_brigade(self.rec().next, bb.as_ptr(), mode, block, readbytes) }
    }
}

/// What mod_pyrite keeps in one of its own filters' `ctx` (in the filter's
/// pool): the brigades it writes to and holds back, made on first use, and
/// the caller's state `T`.
pub struct Ctx<T> {
    pool: *mut raw::apr_pool_t,
    alloc: *mut raw::apr_bucket_alloc_t,
    out: std::cell::Cell<Option<super::brigade::Brigade>>,
    held: std::cell::Cell<Option<super::brigade::Brigade>>,
    pub state: T,
}

impl<T> Ctx<T> {
    fn brigade(&self, slot: &std::cell::Cell<Option<super::brigade::Brigade>>) -> &BucketBrigade {
        let b = match slot.get() {
            Some(b) => b,
            None => {
                // SAFETY: pool and allocator of the filter this ctx was made for;
                // the ctx lives in that pool, so the brigade outlives the borrow.
                let b = unsafe { super::brigade::Brigade::new(self.pool, self.alloc) };
                slot.set(Some(b));
                b
            }
        };
        // SAFETY: as above.
        unsafe { BucketBrigade::from_raw(b.0) }.expect("apr_brigade_create returned NULL")
    }

    /// Output: written, not yet passed. Input: produced, not yet handed up.
    pub fn out(&self) -> &BucketBrigade {
        self.brigade(&self.out)
    }

    /// Output: unread buckets kept for the next call. Input: read from below, not yet consumed.
    pub fn held(&self) -> &BucketBrigade {
        self.brigade(&self.held)
    }

    /// The out brigade if it was made.
    pub fn out_if_made(&self) -> Option<&BucketBrigade> {
        self.out.get().map(|_| self.out())
    }

    /// The held brigade if it was made.
    pub fn held_if_made(&self) -> Option<&BucketBrigade> {
        self.held.get().map(|_| self.held())
    }
}

impl Filter {
    /// The pool the filter instance lives in: its request's, else its connection's.
    pub fn pool(&self) -> &super::pool::Pool {
        match self.request() {
            Some(r) => r.pool(),
            None => self.connection().pool(),
        }
    }

    /// mod_pyrite's context of this filter instance, made by `make` on the first call.
    ///
    /// # Safety
    /// The filter is one of mod_pyrite's (its callback is mod_pyrite's), so its
    /// ctx is NULL or was made by this function (or [`add_with_state`]) with the same `T`.
    pub unsafe fn ctx<T: 'static>(&self, make: impl FnOnce() -> T) -> &Ctx<T> {
        if self.raw_ctx().is_null() {
            let ctx = Self::new_ctx(self.pool(), self.connection(), make());
            self.set_raw_ctx(ctx);
        }
        // SAFETY: the contract: ctx was made by new_ctx with this T, in the filter's pool.
        unsafe { &*(self.raw_ctx() as *const Ctx<T>) }
    }

    /// A context for a filter about to be added (ap_add_*_filter_handle's ctx):
    /// allocated in `pool`, dropped when it is cleared.
    fn new_ctx<T: 'static>(pool: &super::pool::Pool, c: &Connection, state: T) -> *mut std::ffi::c_void {
        let ctx = Ctx {
            pool: pool.as_ptr(),
            alloc: c.bucket_alloc(),
            out: Default::default(),
            held: Default::default(),
            state,
        };
        // SAFETY: a live pool; the ctx is dropped when it is cleared, with the filter.
        unsafe { super::pool::adopt(pool.as_ptr(), ctx) as *mut std::ffi::c_void }
    }

    /// Sets this output filter's unread buckets aside in `to` until its next
    /// call (`ap_save_brigade`, which makes them outlive this call).
    pub fn save_brigade(&self, to: &BucketBrigade, from: &BucketBrigade) -> raw::apr_status_t {
        let (mut t, mut f) = (to.as_ptr(), from.as_ptr());
        // SAFETY: both brigades are live, of this filter's connection; the pool is the filter's.
        unsafe { raw::ap_save_brigade(self.as_ptr(), &mut t, &mut f, self.pool().as_ptr()) }
    }

    /// Ends the response with `status` from inside an output filter.
    pub fn abort(&self, status: i32) -> raw::apr_status_t {
        // SAFETY: the live filter, on the thread calling it.
        unsafe { raw::pyrite_shim_filter_abort(self.as_ptr(), status) }
    }

    /// Logs in the filter's request context, else its connection's.
    pub fn log(&self, level: u32, msg: &str) {
        match self.request() {
            Some(r) => r.log(level, msg),
            None => self.connection().log(level, msg),
        }
    }

    /// A `Send` view for work done with the GIL released on this same thread.
    pub fn on_this_thread(&self) -> super::OnThisThread<'_, Filter> {
        super::OnThisThread::lend(self)
    }
}

/// A filter httpd calls for brigades on their way out: mod_pyrite's side of
/// [`register_output`]. The C entry point httpd calls is made here, once.
pub trait OutputFilter {
    /// What each instance keeps between calls (in its [`Ctx`]).
    type State: Default + 'static;
    /// What a failed or panicking call returns to httpd.
    const FAILED: raw::apr_status_t;
    fn call(f: &Filter, ctx: &Ctx<Self::State>, bb: &BucketBrigade) -> raw::apr_status_t;
}

/// A filter httpd asks for input brigades: mod_pyrite's side of [`register_input`].
pub trait InputFilter {
    /// What each instance keeps between calls (in its [`Ctx`]).
    type State: Default + 'static;
    /// What a failed or panicking call returns to httpd.
    const FAILED: raw::apr_status_t;
    fn call(
        f: &Filter,
        ctx: &Ctx<Self::State>,
        bb: &BucketBrigade,
        mode: raw::ap_input_mode_t,
        block: raw::apr_read_type_e,
        readbytes: raw::apr_off_t,
    ) -> raw::apr_status_t;
}

unsafe extern "C" fn output_entry<T: OutputFilter>(f: *mut raw::ap_filter_t, bb: *mut raw::apr_bucket_brigade) -> raw::apr_status_t {
    // SAFETY: httpd's live filter and brigade for the span of this call, on this thread.
    let (Some(f), Some(bb)) = (unsafe { Filter::from_raw(f) }, unsafe { BucketBrigade::from_raw(bb) }) else {
        return T::FAILED;
    };
    super::guard::or(T::FAILED, || {
        // SAFETY: this callback is registered only by register_output::<T>, so
        // the filter's ctx is NULL or made with T::State (add_with_state takes
        // the FilterRec<T::State> that registration returned).
        let ctx = unsafe { f.ctx(T::State::default) };
        T::call(f, ctx, bb)
    })
}

unsafe extern "C" fn input_entry<T: InputFilter>(
    f: *mut raw::ap_filter_t,
    bb: *mut raw::apr_bucket_brigade,
    mode: raw::ap_input_mode_t,
    block: raw::apr_read_type_e,
    readbytes: raw::apr_off_t,
) -> raw::apr_status_t {
    // SAFETY: as for output_entry.
    let (Some(f), Some(bb)) = (unsafe { Filter::from_raw(f) }, unsafe { BucketBrigade::from_raw(bb) }) else {
        return T::FAILED;
    };
    super::guard::or(T::FAILED, || {
        // SAFETY: as for output_entry (register_input::<T>).
        let ctx = unsafe { f.ctx(T::State::default) };
        T::call(f, ctx, bb, mode, block, readbytes)
    })
}

/// httpd's record of a filter registered here, whose instances keep an `S`:
/// lives as long as the process.
pub struct FilterRec<S>(std::ptr::NonNull<raw::ap_filter_rec_t>, std::marker::PhantomData<fn() -> S>);
impl<S> Clone for FilterRec<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for FilterRec<S> {}
// SAFETY: a registration record is written once, at registration (while
// httpd is single-threaded), and only read afterwards.
unsafe impl<S> Send for FilterRec<S> {}
unsafe impl<S> Sync for FilterRec<S> {}

impl<S> FilterRec<S> {
    /// The record's address, the identity [`Filter::record`] reports.
    pub fn id(self) -> usize {
        self.0.as_ptr() as usize
    }
}

/// Whether httpd is registering hooks or reading its configuration: the
/// single-threaded times in which its global filter tables may change (not
/// once its MPM runs, with worker threads looking names up).
fn configuring() -> bool {
    // SAFETY: a plain query of httpd's state.
    let state = unsafe { raw::ap_state_query(raw::AP_SQ_MAIN_STATE as std::ffi::c_int) } as u32;
    matches!(
        state,
        raw::AP_SQ_MS_INITIAL_STARTUP | raw::AP_SQ_MS_CREATE_PRE_CONFIG | raw::AP_SQ_MS_DESTROY_CONFIG | raw::AP_SQ_MS_CREATE_CONFIG
    )
}

/// Registers `T` as the resource-level output filter `name`; None when httpd
/// refuses, or runs its MPM already (registration changes httpd's global
/// filter tables, which only single-threaded start-up may do).
pub fn register_output<T: OutputFilter>(name: &'static std::ffi::CStr) -> Option<FilterRec<T::State>> {
    if !configuring() {
        return None;
    }
    // SAFETY: single-threaded start-up (checked above); `name` lives forever,
    // as httpd keeps the pointer.
    let rec =
        unsafe { raw::ap_register_output_filter(name.as_ptr(), Some(output_entry::<T>), None, raw::ap_filter_type_AP_FTYPE_RESOURCE) };
    std::ptr::NonNull::new(rec).map(|p| FilterRec(p, std::marker::PhantomData))
}

/// Registers `T` as the resource-level input filter `name` (as [`register_output`]).
pub fn register_input<T: InputFilter>(name: &'static std::ffi::CStr) -> Option<FilterRec<T::State>> {
    if !configuring() {
        return None;
    }
    // SAFETY: as for register_output.
    let rec = unsafe { raw::ap_register_input_filter(name.as_ptr(), Some(input_entry::<T>), None, raw::ap_filter_type_AP_FTYPE_RESOURCE) };
    std::ptr::NonNull::new(rec).map(|p| FilterRec(p, std::marker::PhantomData))
}

/// Adds the filter httpd knows as `name` to the request's output (or, with
/// `input`, input) chain; false when httpd knows no such filter.
pub fn add_by_name(r: &Request, name: &std::ffi::CStr, input: bool) -> bool {
    let c = r.connection().as_ptr();
    // SAFETY: the live request and its connection, on its own thread; httpd
    // copies what it needs of the name. A filter added this way starts with a
    // NULL ctx, which every filter's callback expects.
    let added = unsafe {
        if input {
            raw::ap_add_input_filter(name.as_ptr(), std::ptr::null_mut(), r.as_ptr(), c)
        } else {
            raw::ap_add_output_filter(name.as_ptr(), std::ptr::null_mut(), r.as_ptr(), c)
        }
    };
    !added.is_null()
}

/// Adds a filter registered here (`rec`) to the request's chain, its context
/// holding `state`; false when httpd refused.
pub fn add_with_state<S: 'static>(r: &Request, rec: FilterRec<S>, state: S, input: bool) -> bool {
    let c = r.connection();
    let ctx = Filter::new_ctx(r.pool(), c, state);
    // SAFETY: the live request and its connection, on its own thread; the
    // context (of the type rec's callback expects) lives in the request's
    // pool, as long as the filter.
    let added = unsafe {
        if input {
            raw::ap_add_input_filter_handle(rec.0.as_ptr(), ctx, r.as_ptr(), c.as_ptr())
        } else {
            raw::ap_add_output_filter_handle(rec.0.as_ptr(), ctx, r.as_ptr(), c.as_ptr())
        }
    };
    !added.is_null()
}

// What WSGIMapHEADToGET asks of a request's filter chain.
impl Filter {
    /// Whether the filter works on the response's content: a resource or
    /// content-set filter (mod_deflate, mod_cache's save, ...), which runs
    /// before httpd's protocol filters.
    pub fn works_on_content(&self) -> bool {
        let frec = self.rec().frec;
        // SAFETY: filter records are registered for the process's life.
        !frec.is_null() && unsafe { (*frec).ftype } < raw::ap_filter_type_AP_FTYPE_PROTOCOL
    }
}
