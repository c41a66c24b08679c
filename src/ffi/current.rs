//! The request this thread is serving in Python (for the global locks a
//! handler forgets, `apache.interpreter`, held writes): set for the span of
//! a call by [`serving`], read by [`with_current`], whose borrow cannot
//! leave the closure. Scoped by a closure, not a guard a caller could
//! forget, so the pointer kept here never outlives the borrow it came from.
use super::request::Request;
use std::cell::Cell;

thread_local! {
    static CURRENT: Cell<*const Request> = const { Cell::new(std::ptr::null()) };
}

/// Puts back the request that was current before (also when `f` panics).
struct Restore(*const Request);

impl Drop for Restore {
    #[inline]
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Calls `f` with `r` as this thread's current request; the one before
/// (a page's request around an SSI element's, or none) is current again after.
#[inline]
pub fn serving<R>(r: &Request, f: impl FnOnce() -> R) -> R {
    let _restore = Restore(CURRENT.with(|c| c.replace(r)));
    f()
}

/// Calls `f` with no current request (a request's cleanup, which may run
/// after its handlers); the one before is current again after.
#[inline]
pub fn outside<R>(f: impl FnOnce() -> R) -> R {
    let _restore = Restore(CURRENT.with(|c| c.replace(std::ptr::null())));
    f()
}

/// Calls `f` with the request this thread serves, if any.
#[inline]
pub fn with_current<R>(f: impl for<'a> FnOnce(Option<&'a Request>) -> R) -> R {
    let r = CURRENT.with(|c| c.get());
    // SAFETY: CURRENT is NULL or was set by `serving` on this thread from a
    // borrow that lasts the whole `serving` call, which is still running
    // (it restores the value before returning or unwinding); `f`'s borrow
    // cannot outlive this call (it is for any 'a, so R cannot hold it).
    f(unsafe { r.as_ref() })
}

/// The current request's address, 0 when none: an identity, not a handle.
#[inline]
pub fn id() -> usize {
    CURRENT.with(|c| c.get()) as usize
}

/// Whether `r` is this thread's current request.
#[inline]
pub fn is(r: &Request) -> bool {
    std::ptr::eq(CURRENT.with(|c| c.get()), r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_request_outside_a_call() {
        assert_eq!(super::id(), 0);
        assert!(super::with_current(|r| r.is_none()));
        assert!(super::outside(|| super::id() == 0));
    }
}
