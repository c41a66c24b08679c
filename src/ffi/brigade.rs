//! Bucket brigades, for Python filters and connection handlers: taking data
//! out of the front of a brigade, and appending data and end markers.
//! APR's bucket API is mostly macros; the shim (shim.c) wraps them.
use super::raw;

/// A brigade pointer. It does not own the brigade: httpd's pools do.
#[derive(Clone, Copy)]
pub struct Brigade(pub *mut raw::apr_bucket_brigade);

/// What the first bucket of a brigade is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    Empty,
    Data,
    Eos,
    Flush,
    /// Other metadata (an error bucket, say).
    Meta,
}

impl Brigade {
    /// A new empty brigade in `pool`.
    ///
    /// # Safety
    /// `pool` and `alloc` are live and belong to the same connection.
    pub unsafe fn new(pool: *mut raw::apr_pool_t, alloc: *mut raw::apr_bucket_alloc_t) -> Brigade {
        // SAFETY: the contract: a live pool and its connection's allocator.
        Brigade(unsafe { raw::apr_brigade_create(pool, alloc) })
    }

    /// # Safety
    /// The brigade is live and used by this thread only (as for every method here).
    pub unsafe fn front(self) -> Front {
        // SAFETY: the contract: a live brigade.
        match unsafe { raw::pyrite_shim_first_kind(self.0) } {
            -1 => Front::Empty,
            0 => Front::Data,
            1 => Front::Eos,
            2 => Front::Flush,
            _ => Front::Meta,
        }
    }

    /// # Safety
    /// As for [`Brigade::front`].
    pub unsafe fn first_is_eos(self) -> bool {
        // SAFETY: the contract: a live brigade.
        (unsafe { self.front() }) == Front::Eos
    }

    /// # Safety
    /// As for [`Brigade::front`].
    pub unsafe fn is_empty(self) -> bool {
        // SAFETY: the contract: a live brigade.
        unsafe { raw::pyrite_shim_brigade_empty(self.0) != 0 }
    }

    /// Moves up to `max` bytes of data from the front into `out`, stopping at
    /// the first metadata bucket and, with `line`, after a newline.
    ///
    /// # Safety
    /// As for [`Brigade::front`].
    pub unsafe fn take_data(self, max: usize, line: bool, out: &mut Vec<u8>) -> Result<(), i32> {
        let mut taken = 0usize;
        // SAFETY: the contract: a live brigade.
        while taken < max && unsafe { self.front() } == Front::Data {
            let mut data: *const std::ffi::c_char = std::ptr::null();
            let mut len: raw::apr_size_t = 0;
            // SAFETY: the front bucket is data (checked just above); the shim reads it blocking.
            let rv = unsafe { raw::pyrite_shim_first_read(self.0, &mut data, &mut len, 1) };
            if rv != raw::APR_SUCCESS as i32 {
                return Err(rv);
            }
            if len == 0 {
                // SAFETY: the front bucket of a live brigade, deleted once.
                unsafe { raw::pyrite_shim_first_delete(self.0) };
                continue;
            }
            // SAFETY: apr_bucket_read made `len` bytes at `data` readable until the bucket goes.
            let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, len) };
            let mut n = bytes.len().min(max - taken);
            let mut ends_line = false;
            if line {
                if let Some(i) = bytes[..n].iter().position(|&b| b == b'\n') {
                    n = i + 1;
                    ends_line = true;
                }
            }
            out.extend_from_slice(&bytes[..n]);
            taken += n;
            if n < bytes.len() {
                // SAFETY: n is less than the front bucket's length (checked above).
                unsafe { raw::pyrite_shim_first_split(self.0, n) };
            }
            // SAFETY: the front bucket of a live brigade, deleted once.
            unsafe { raw::pyrite_shim_first_delete(self.0) };
            if ends_line {
                break;
            }
        }
        Ok(())
    }

    /// Deletes the first bucket.
    ///
    /// # Safety
    /// As for [`Brigade::front`]; the brigade is not empty.
    pub unsafe fn drop_first(self) {
        // SAFETY: the contract: a live brigade, not empty.
        unsafe { raw::pyrite_shim_first_delete(self.0) }
    }

    /// Moves every bucket to the end of `to`.
    ///
    /// # Safety
    /// As for [`Brigade::front`]; both use the same bucket allocator.
    pub unsafe fn move_all_to(self, to: Brigade) {
        // SAFETY: the contract: both brigades live, of the same allocator.
        unsafe { raw::pyrite_shim_brigade_concat(to.0, self.0) }
    }

    /// Moves the first bucket to the end of `to`.
    ///
    /// # Safety
    /// As for [`Brigade::move_all_to`]; the brigade is not empty.
    pub unsafe fn move_first_to(self, to: Brigade) {
        // SAFETY: the contract: both brigades live, `self` not empty.
        unsafe { raw::pyrite_shim_first_move(self.0, to.0) }
    }

    /// Appends a copy of `data`.
    ///
    /// # Safety
    /// As for [`Brigade::front`].
    pub unsafe fn append(self, data: &[u8]) {
        if !data.is_empty() {
            // SAFETY: the contract: a live brigade; data is readable for its length (copied).
            unsafe { raw::pyrite_shim_append_copy(self.0, data.as_ptr() as *const std::ffi::c_char, data.len()) }
        }
    }

    /// # Safety
    /// As for [`Brigade::front`].
    pub unsafe fn append_eos(self) {
        // SAFETY: the contract: a live brigade.
        unsafe { raw::pyrite_shim_append_eos(self.0) }
    }

    /// An error bucket for `status`, allocated in `pool`.
    ///
    /// # Safety
    /// As for [`Brigade::front`]; `pool` outlives the brigade's buckets.
    pub unsafe fn append_error(self, status: i32, pool: *mut raw::apr_pool_t) {
        // SAFETY: the contract: a live brigade and pool.
        unsafe { raw::pyrite_shim_append_error(self.0, status, pool) }
    }

    /// # Safety
    /// As for [`Brigade::front`].
    pub unsafe fn append_flush(self) {
        // SAFETY: the contract: a live brigade.
        unsafe { raw::pyrite_shim_append_flush(self.0) }
    }

    /// Whether an EOS bucket is anywhere in the brigade.
    ///
    /// # Safety
    /// As for [`Brigade::front`].
    pub unsafe fn contains_eos(self) -> bool {
        // SAFETY: the contract: a live brigade.
        unsafe { raw::pyrite_shim_brigade_has_eos(self.0) != 0 }
    }

    /// Deletes every bucket (the brigade stays usable).
    ///
    /// # Safety
    /// As for [`Brigade::front`].
    pub unsafe fn cleanup(self) {
        // SAFETY: the contract: a live brigade.
        unsafe { raw::apr_brigade_cleanup(self.0 as *mut std::ffi::c_void) };
    }
}

/// A brigade as a typed handle: `&'a BucketBrigade` is valid for `'a` (at
/// most its pool's life) on the thread that made or was given it.
#[repr(transparent)]
pub struct BucketBrigade(std::cell::UnsafeCell<raw::apr_bucket_brigade>);

impl BucketBrigade {
    /// The handle of a brigade.
    ///
    /// # Safety
    /// `bb` is NULL or a live brigade whose pool stays uncleared for `'a`,
    /// used only by the calling thread meanwhile.
    #[inline]
    pub unsafe fn from_raw<'a>(bb: *mut raw::apr_bucket_brigade) -> Option<&'a BucketBrigade> {
        // SAFETY: repr(transparent) over the brigade; validity as the contract says.
        unsafe { (bb as *const BucketBrigade).as_ref() }
    }

    /// A new empty brigade in the connection's pool, with its allocator.
    pub fn new(c: &super::connection::Connection) -> &BucketBrigade {
        // SAFETY: pool and allocator belong to the same live connection; the brigade lives in its pool.
        unsafe { Self::from_raw(Brigade::new(c.pool().as_ptr(), c.bucket_alloc()).0) }.expect("apr_brigade_create returned NULL")
    }

    /// A new empty brigade in `pool` (the request's, say), with the connection's allocator.
    pub fn new_in<'a>(pool: &'a super::pool::Pool, c: &super::connection::Connection) -> &'a BucketBrigade {
        // SAFETY: the pool lives for 'a and belongs to the connection or one of its requests.
        unsafe { Self::from_raw(Brigade::new(pool.as_ptr(), c.bucket_alloc()).0) }.expect("apr_brigade_create returned NULL")
    }

    #[inline]
    pub fn as_ptr(&self) -> *mut raw::apr_bucket_brigade {
        self.0.get()
    }

    /// A `Send` view for work done with the GIL released on this same thread.
    pub fn on_this_thread(&self) -> super::OnThisThread<'_, BucketBrigade> {
        super::OnThisThread::lend(self)
    }

    /// The unowned pointer form, for state kept between filter calls.
    #[inline]
    pub fn ptr(&self) -> Brigade {
        Brigade(self.as_ptr())
    }

    pub fn front(&self) -> Front {
        // SAFETY: live on this thread for the borrow (as for every method here).
        unsafe { self.ptr().front() }
    }

    pub fn is_empty(&self) -> bool {
        // SAFETY: as for front.
        unsafe { self.ptr().is_empty() }
    }

    /// As [`Brigade::take_data`].
    pub fn take_data(&self, max: usize, line: bool, out: &mut Vec<u8>) -> Result<(), i32> {
        // SAFETY: as for front.
        unsafe { self.ptr().take_data(max, line, out) }
    }

    /// Deletes the first bucket, if any.
    pub fn drop_first(&self) {
        if !self.is_empty() {
            // SAFETY: as for front; not empty.
            unsafe { self.ptr().drop_first() }
        }
    }

    /// Moves every bucket to the end of `to` (same connection's allocator).
    pub fn move_all_to(&self, to: &BucketBrigade) {
        // SAFETY: as for front; both brigades of this thread's connection.
        unsafe { self.ptr().move_all_to(to.ptr()) }
    }

    /// Moves the first bucket, if any, to the end of `to`.
    pub fn move_first_to(&self, to: &BucketBrigade) {
        if !self.is_empty() {
            // SAFETY: as for move_all_to; not empty.
            unsafe { self.ptr().move_first_to(to.ptr()) }
        }
    }

    pub fn append(&self, data: &[u8]) {
        // SAFETY: as for front.
        unsafe { self.ptr().append(data) }
    }

    /// Appends a copy of `data` the way apr_brigade_write does without a
    /// flush function (into heap buckets, joining the last one when it can).
    pub fn write(&self, data: &[u8]) {
        // SAFETY: as for front; data is readable for its length.
        unsafe {
            raw::apr_brigade_write(
                self.as_ptr(),
                None,
                std::ptr::null_mut(),
                data.as_ptr() as *const std::ffi::c_char,
                data.len(),
            )
        };
    }

    pub fn append_eos(&self) {
        // SAFETY: as for front.
        unsafe { self.ptr().append_eos() }
    }

    pub fn append_flush(&self) {
        // SAFETY: as for front.
        unsafe { self.ptr().append_flush() }
    }

    /// An error bucket for `status`, allocated in `pool` (which outlives the buckets).
    pub fn append_error(&self, status: i32, pool: &super::pool::Pool) {
        // SAFETY: as for front; pool is live for the borrow.
        unsafe { self.ptr().append_error(status, pool.as_ptr()) }
    }

    pub fn contains_eos(&self) -> bool {
        // SAFETY: as for front.
        unsafe { self.ptr().contains_eos() }
    }

    /// Deletes every bucket (the brigade stays usable).
    pub fn cleanup(&self) {
        // SAFETY: as for front.
        unsafe { self.ptr().cleanup() }
    }
}
