//! apr_table_t: the ordered, case-insensitive, multi-valued string table that
//! holds httpd's headers, notes and environment.
use super::raw;
use std::ffi::c_char;

/// Raised through PyO3 when a key or value holds a NUL byte, which httpd cannot store.
pub struct NulError;

/// The pool a table allocates from (its entries must live at least as long).
///
/// # Safety
/// `t` is a live table.
unsafe fn table_pool(t: *mut raw::apr_table_t) -> *mut raw::apr_pool_t {
    // SAFETY: the contract: a live table, whose elts header names its pool.
    unsafe { (*raw::apr_table_elts(t)).pool }
}

fn c_copy(t: *mut raw::apr_table_t, b: &[u8]) -> Result<*mut c_char, NulError> {
    if b.contains(&0) {
        return Err(NulError);
    }
    // SAFETY: callers of this module pass live tables (see each fn's contract).
    Ok(unsafe { super::pool::strdup(table_pool(t), b) })
}

/// The entries of a table in order, as raw (key, value) pointers.
///
/// # Safety
/// `t` is a live table and is not modified while the slice is used.
pub unsafe fn entries<'a>(t: *mut raw::apr_table_t) -> &'a [raw::apr_table_entry_t] {
    // SAFETY: the contract: a live table, unchanged while the slice is used.
    unsafe {
        let arr = raw::apr_table_elts(t);
        if arr.is_null() || (*arr).nelts <= 0 {
            return &[];
        }
        std::slice::from_raw_parts((*arr).elts as *const raw::apr_table_entry_t, (*arr).nelts as usize)
    }
}

/// Number of entries (a repeated key counts each time).
///
/// # Safety
/// `t` is a live table.
pub unsafe fn len(t: *mut raw::apr_table_t) -> usize {
    // SAFETY: the contract: a live table.
    unsafe { entries(t).len() }
}

/// Case-insensitive key comparison, as APR does it.
pub fn key_eq(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// All values stored under `key`, in order.
///
/// # Safety
/// `t` is a live table.
pub unsafe fn get_all<'a>(t: *mut raw::apr_table_t, key: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    // SAFETY: the contract: a live table.
    for e in unsafe { entries(t) } {
        // SAFETY: table entries hold NUL-terminated strings of the table's pool (key never NULL).
        let k = unsafe { super::cstr(e.key) }.unwrap_or_default();
        if key_eq(k, key) {
            out.push(unsafe { super::cstr(e.val) }.unwrap_or_default());
        }
    }
    out
}

/// Replaces every value of `key` with `val`.
///
/// # Safety
/// `t` is a live table.
pub unsafe fn set(t: *mut raw::apr_table_t, key: &[u8], val: &[u8]) -> Result<(), NulError> {
    let (k, v) = (c_copy(t, key)?, c_copy(t, val)?);
    // SAFETY: the contract: a live table; k and v are copies in its pool.
    unsafe { raw::apr_table_setn(t, k, v) };
    Ok(())
}

/// Appends a value for `key`, keeping the ones already there.
///
/// # Safety
/// `t` is a live table.
pub unsafe fn add(t: *mut raw::apr_table_t, key: &[u8], val: &[u8]) -> Result<(), NulError> {
    let (k, v) = (c_copy(t, key)?, c_copy(t, val)?);
    // SAFETY: the contract: a live table; k and v are copies in its pool.
    unsafe { raw::apr_table_addn(t, k, v) };
    Ok(())
}

/// Removes every value of `key`.
///
/// # Safety
/// `t` is a live table.
pub unsafe fn unset(t: *mut raw::apr_table_t, key: &[u8]) -> Result<(), NulError> {
    if key.contains(&0) {
        return Err(NulError);
    }
    let k = std::ffi::CString::new(key).map_err(|_| NulError)?;
    // SAFETY: the contract: a live table; k is NUL-terminated.
    unsafe { raw::apr_table_unset(t, k.as_ptr()) };
    Ok(())
}

/// Removes every entry.
///
/// # Safety
/// `t` is a live table.
pub unsafe fn clear(t: *mut raw::apr_table_t) {
    // SAFETY: the contract: a live table.
    unsafe { raw::apr_table_clear(t) }
}

/// A new table in `pool`.
///
/// # Safety
/// `pool` is a live pool; the table lives as long as it.
pub unsafe fn make(pool: *mut raw::apr_pool_t, nelts: i32) -> *mut raw::apr_table_t {
    // SAFETY: the contract: a live pool.
    unsafe { raw::apr_table_make(pool, nelts) }
}

/// One (key, value) entry of a table, None for a NULL field.
pub type Entry<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// An apr_table_t as a typed handle: `&'a Table` borrowed from a request
/// cannot outlive the request's borrow.
#[repr(transparent)]
pub struct Table(std::cell::UnsafeCell<raw::apr_table_t>);

impl Table {
    /// The handle of a table.
    ///
    /// # Safety
    /// `t` is NULL or a live table whose pool stays uncleared for `'a`,
    /// used only by the calling thread meanwhile.
    #[inline]
    pub unsafe fn from_raw<'a>(t: *mut raw::apr_table_t) -> Option<&'a Table> {
        // SAFETY: repr(transparent) over the table; validity as the contract says.
        unsafe { (t as *const Table).as_ref() }
    }

    #[inline]
    pub fn as_ptr(&self) -> *mut raw::apr_table_t {
        self.0.get()
    }

    /// A new empty table in `pool`.
    pub fn new(pool: &super::pool::Pool, nelts: i32) -> &Table {
        // SAFETY: a live pool; the table lives as long as it.
        unsafe { Table::from_raw(make(pool.as_ptr(), nelts)) }.expect("apr_table_make returned NULL")
    }

    pub fn len(&self) -> usize {
        // SAFETY: live for the borrow.
        unsafe { len(self.as_ptr()) }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.get_all(key).into_iter().next()
    }

    /// Every value of `key`, in order (valid until the table changes).
    pub fn get_all(&self, key: &[u8]) -> Vec<&[u8]> {
        // SAFETY: live for the borrow.
        unsafe { get_all(self.as_ptr(), key) }
    }

    /// The (key, value) pairs in order (entries with no key are skipped).
    pub fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        // SAFETY: live for the borrow; entries hold NUL-terminated strings of the table's pool, or NULL.
        unsafe {
            entries(self.as_ptr())
                .iter()
                .filter_map(|e| Some((super::cstr(e.key)?, super::cstr(e.val).unwrap_or_default())))
                .collect()
        }
    }

    /// Every entry in order, NULL fields as None (valid until the table changes).
    pub fn entries(&self) -> Vec<Entry<'_>> {
        // SAFETY: live for the borrow; entries hold NUL-terminated strings of the table's pool, or NULL.
        unsafe {
            entries(self.as_ptr())
                .iter()
                .map(|e| (super::cstr(e.key), super::cstr(e.val)))
                .collect()
        }
    }

    pub fn set(&self, key: &[u8], val: &[u8]) -> Result<(), NulError> {
        // SAFETY: live for the borrow.
        unsafe { set(self.as_ptr(), key, val) }
    }

    pub fn add(&self, key: &[u8], val: &[u8]) -> Result<(), NulError> {
        // SAFETY: live for the borrow.
        unsafe { add(self.as_ptr(), key, val) }
    }

    /// Adds `val` to the value of `key`, joined with ", " (`apr_table_merge`).
    pub fn merge(&self, key: &[u8], val: &[u8]) -> Result<(), NulError> {
        // SAFETY: the live table; k and v are copies in its pool.
        unsafe {
            let (k, v) = (c_copy(self.as_ptr(), key)?, c_copy(self.as_ptr(), val)?);
            raw::apr_table_mergen(self.as_ptr(), k, v);
        }
        Ok(())
    }

    pub fn unset(&self, key: &[u8]) -> Result<(), NulError> {
        // SAFETY: live for the borrow.
        unsafe { unset(self.as_ptr(), key) }
    }

    pub fn clear(&self) {
        // SAFETY: live for the borrow.
        unsafe { clear(self.as_ptr()) }
    }
}

/// A table in a pool of its own, owned by Rust (`apache.table()` made from
/// Python): the pool is destroyed when this is dropped.
pub struct OwnedTable {
    pool: *mut raw::apr_pool_t,
    t: *mut raw::apr_table_t,
}

// SAFETY: the table is reached only through `get`, by the Python object that
// owns it, which is used under the GIL; nothing else refers to the pool.
unsafe impl Send for OwnedTable {}
unsafe impl Sync for OwnedTable {}

impl OwnedTable {
    /// A new empty table in a new top-level pool (None if APR cannot make the pool).
    pub fn new() -> Option<OwnedTable> {
        let mut pool: *mut raw::apr_pool_t = std::ptr::null_mut();
        // SAFETY: a new top-level pool; APR is initialised by httpd.
        let rv = unsafe { raw::apr_pool_create_ex(&mut pool, std::ptr::null_mut(), None, std::ptr::null_mut()) };
        if rv != 0 || pool.is_null() {
            return None;
        }
        // SAFETY: pool is live and owned by the new value.
        let t = unsafe { make(pool, 8) };
        Some(OwnedTable { pool, t })
    }

    pub fn get(&self) -> &Table {
        // SAFETY: the table lives in self's pool, destroyed only on drop.
        unsafe { Table::from_raw(self.t) }.expect("apr_table_make returned NULL")
    }
}

impl Drop for OwnedTable {
    fn drop(&mut self) {
        // SAFETY: the pool was created for this table alone and nothing else refers to it.
        unsafe { raw::apr_pool_destroy(self.pool) };
    }
}

/// The entries of a table in order, read one at a time from the table's
/// array (see [`Table::iter`]).
pub struct Iter<'a> {
    at: *const raw::apr_table_entry_t,
    end: *const raw::apr_table_entry_t,
    _table: std::marker::PhantomData<&'a Table>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.at == self.end {
            return None;
        }
        // SAFETY: at is inside the entry array the table had when the
        // iterator was made; APR never frees an array it outgrows or
        // shrinks (the memory is its pool's), so the entry stays readable
        // (read by value, no reference kept) even if the table changes. Its
        // strings are NULL or NUL-terminated strings of the table's pool,
        // which outlives 'a and which APR does not change in place.
        unsafe {
            let e = self.at.read();
            self.at = self.at.add(1);
            Some((super::cstr(e.key).unwrap_or_default(), super::cstr(e.val).unwrap_or_default()))
        }
    }
}

impl Table {
    /// Every (key, value) in order, a NULL field as b"", without copying:
    /// what the WSGI environ reads for each request.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        // SAFETY: live for the borrow; the array header names nelts entries at elts.
        unsafe {
            let arr = raw::apr_table_elts(self.as_ptr());
            let (at, n) = if arr.is_null() || (*arr).nelts <= 0 {
                (std::ptr::null(), 0)
            } else {
                ((*arr).elts as *const raw::apr_table_entry_t, (*arr).nelts as usize)
            };
            Iter {
                at,
                end: at.wrapping_add(n),
                _table: std::marker::PhantomData,
            }
        }
    }
}
