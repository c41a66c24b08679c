//! APR shared memory: an anonymous segment made before fork, shared by
//! every child forked after, read and written as typed atomics.
use super::pool::Pool;
use super::raw;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Types for which all-zero bytes are a valid value and that hold no
/// pointer (the same bytes mean the same in every process that maps them):
/// atomics, integers, arrays and structs of those.
///
/// # Safety
/// An implementation promises both: a zeroed segment is then a valid `Self`,
/// and sharing it between processes is sharing it between threads (`Sync`).
pub unsafe trait ZeroValid: Sync {}

macro_rules! zero_valid_prims {
    ($($t:ty),*) => {$(
        // SAFETY: an integer, or an atomic of one: every bit pattern is valid.
        unsafe impl ZeroValid for $t {}
    )*};
}
zero_valid_prims!(
    u8,
    u16,
    u32,
    u64,
    usize,
    i32,
    i64,
    std::sync::atomic::AtomicU8,
    std::sync::atomic::AtomicU16,
    std::sync::atomic::AtomicU32,
    std::sync::atomic::AtomicU64,
    std::sync::atomic::AtomicUsize,
    std::sync::atomic::AtomicI32,
    std::sync::atomic::AtomicI64
);

// SAFETY: an array of zero-valid elements is zero-valid.
unsafe impl<T: ZeroValid, const N: usize> ZeroValid for [T; N] {}

/// Declares a struct [`ZeroValid`] after checking that each of its fields
/// is: the pattern names every field (a missing one is a compile error).
///
/// ```ignore
/// zero_valid!(Header { magic, slots, _pad });
/// ```
macro_rules! zero_valid {
    ($t:ident { $($f:ident),* $(,)? }) => {
        const _: () = {
            fn is_zero_valid<T: $crate::ffi::shm::ZeroValid>(_: &T) {}
            #[allow(dead_code)]
            fn every_field(v: &$t) {
                let $t { $($f),* } = v;
                $(is_zero_valid($f);)*
            }
        };
        // SAFETY: every field is ZeroValid (checked above), so the struct is.
        unsafe impl $crate::ffi::shm::ZeroValid for $t {}
    };
}
pub(crate) use zero_valid;

/// An anonymous shared segment, from its first byte: this descriptor, then
/// `len` bytes of data, zeroed when made. It lives until the pool it was made
/// in is cleared; in a child forked after, for the child's whole life.
#[repr(C, align(64))]
pub struct Shm {
    len: usize,
}

impl Shm {
    /// A zeroed segment with `size` bytes of data, freed with `pool`; the
    /// APR status when it cannot be made. Lent as 'static: the users keep
    /// it in a [`Kept`] they clear in `pool`'s cleanup (httpd's parent), or
    /// are children forked with it, where it outlives them.
    pub fn anonymous(pool: &Pool, size: usize) -> Result<&'static Shm, raw::apr_status_t> {
        // APR's base address is only 8-aligned (its own size word comes
        // first): room to move up to the descriptor's alignment.
        let align = std::mem::align_of::<Shm>();
        let total = size.checked_add(std::mem::size_of::<Shm>() + align).ok_or(libc::ENOMEM)?;
        let mut shm: *mut raw::apr_shm_t = std::ptr::null_mut();
        // SAFETY: a live pool; a NULL file name asks for anonymous memory.
        let rv = unsafe { raw::apr_shm_create(&mut shm, total, std::ptr::null(), pool.as_ptr()) };
        if rv != 0 {
            return Err(rv);
        }
        // SAFETY: shm was just made; its base address is valid for `total` bytes.
        let base = unsafe { raw::apr_shm_baseaddr_get(shm) } as *mut u8;
        if base.is_null() {
            return Err(libc::ENOMEM);
        }
        let skip = base.align_offset(align);
        if skip >= align {
            return Err(libc::ENOMEM);
        }
        // SAFETY: the segment is `total` writable bytes, not yet shared with
        // anyone, living until the pool is cleared; the descriptor starts
        // `skip` (< align) bytes in, aligned, and it and `size` bytes of data
        // fit in what follows (total = size + descriptor + align).
        unsafe {
            std::ptr::write_bytes(base, 0, total);
            let d = base.add(skip) as *mut Shm;
            d.write(Shm { len: size });
            Ok(&*d)
        }
    }

    /// The `T` at `offset` bytes into the data; None when it would not fit
    /// or is misaligned.
    #[inline]
    pub fn get<T: ZeroValid>(&self, offset: usize) -> Option<&T> {
        self.slice::<T>(offset, 1).map(|s| &s[0])
    }

    /// `n` `T`s from `offset` bytes into the data; None when they would not
    /// fit or are misaligned.
    #[inline]
    pub fn slice<T: ZeroValid>(&self, offset: usize, n: usize) -> Option<&[T]> {
        let bytes = n.checked_mul(std::mem::size_of::<T>())?;
        if offset.checked_add(bytes)? > self.len {
            return None;
        }
        // SAFETY: the data follows this descriptor in the same segment.
        let p = unsafe { (self as *const Shm as *const u8).add(std::mem::size_of::<Shm>() + offset) };
        if !(p as *const T).is_aligned() {
            return None;
        }
        // SAFETY: in bounds and aligned (checked above); the bytes were
        // zeroed, a valid T (ZeroValid), and since then were only written
        // through shared references to T's atomics; they live as long as self.
        Some(unsafe { std::slice::from_raw_parts(p as *const T, n) })
    }
}

/// A `&'static T` kept in a static and swapped atomically (a mapping's
/// header, a child's own slot).
pub struct Kept<T: Sync + 'static>(AtomicPtr<T>);

impl<T: Sync + 'static> Kept<T> {
    pub const fn none() -> Self {
        Kept(AtomicPtr::new(std::ptr::null_mut()))
    }

    #[inline]
    pub fn set(&self, v: Option<&'static T>) {
        self.0
            .store(v.map_or(std::ptr::null_mut(), |v| v as *const T as *mut T), Ordering::Release);
    }

    #[inline]
    pub fn get(&self) -> Option<&'static T> {
        let p = self.0.load(Ordering::Acquire);
        // SAFETY: NULL or a &'static T stored by `set` or `clear_if`.
        unsafe { p.as_ref() }
    }

    /// Empties it if it still holds `v`.
    pub fn clear_if(&self, v: &'static T) {
        let _ = self
            .0
            .compare_exchange(v as *const T as *mut T, std::ptr::null_mut(), Ordering::AcqRel, Ordering::Relaxed);
    }
}

/// A zeroed `T` on the heap, never freed (for tests and benchmarks that
/// need a slot outside shared memory).
pub fn leak_zeroed<T: ZeroValid>() -> &'static T {
    let layout = std::alloc::Layout::new::<T>();
    if layout.size() == 0 {
        // SAFETY: a zero-sized T needs no memory; a dangling aligned pointer is valid.
        return unsafe { &*std::ptr::NonNull::<T>::dangling().as_ptr() };
    }
    // SAFETY: a non-zero size (checked); the zeroed bytes are a valid T (ZeroValid).
    let p = unsafe { std::alloc::alloc_zeroed(layout) } as *const T;
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: non-NULL, aligned and initialized above; leaked, so 'static.
    unsafe { &*p }
}

/// A zeroed `T` in a shared anonymous mapping that is never unmapped:
/// processes forked after this call share it with the caller (httpd's
/// parent maps it before forking children and daemons). None when mmap fails.
pub fn shared_zeroed<T: ZeroValid>() -> Option<&'static T> {
    let size = std::mem::size_of::<T>().max(1);
    // SAFETY: a new anonymous mapping, zero-filled by the kernel, page-aligned
    // (enough for any T), never unmapped, so 'static.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    // SAFETY: the mapping holds size_of::<T>() zeroed bytes, a valid T (ZeroValid),
    // aligned to a page; only shared references are made to it.
    Some(unsafe { &*(p as *const T) })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

    struct Two {
        a: AtomicU64,
        b: [AtomicU32; 2],
    }
    super::zero_valid!(Two { a, b });

    #[test]
    fn a_zero_valid_struct_starts_empty() {
        let t: &'static Two = super::leak_zeroed();
        assert_eq!(t.a.load(Relaxed), 0);
        t.b[1].store(5, Relaxed);
        assert_eq!((t.b[0].load(Relaxed), t.b[1].load(Relaxed)), (0, 5));
    }
}
