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
    pub fn ctx(&self) -> *mut std::ffi::c_void {
        self.rec().ctx
    }

    pub fn set_ctx(&self, ctx: *mut std::ffi::c_void) {
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
