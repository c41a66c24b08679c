//! A record kept by a Python object that may outlive the hook that made it
//! (`req`, `req.connection`, a filter object): the pointer, whether the
//! record still lives, and the one thread allowed to touch it. Borrowing it
//! checks both, so code above `src/ffi` never dereferences the pointer.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Why a held record may not be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// Its life ended (the pool behind it was cleared).
    Ended,
    /// Another thread than the one serving it asked.
    OtherThread,
    /// There is none (a connection handler's objects have no request).
    Absent,
    /// A [`Tied`] record was asked for through another `Held` than the one
    /// it was tied to (whose life says nothing of it).
    Unrelated,
}

/// Gives each [`Held`] its own number, so a [`Tied`] knows which one it
/// belongs to (64 bits: never reused).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A record of type `T` (a handle type such as `Request`) held past its hook.
pub struct Held<T> {
    ptr: *mut T,
    /// Shared with a pool cleanup that ends the life (see `end_with`).
    alive: Arc<AtomicBool>,
    owner: libc::pthread_t,
    /// What a [`Tied`] to this record carries.
    id: u64,
}

// SAFETY: the pointer is only turned into a reference by `get`, on the
// owning thread and while alive; other threads see only the flag.
unsafe impl<T> Send for Held<T> {}
unsafe impl<T> Sync for Held<T> {}

impl<T> Held<T> {
    /// Holds `ptr` (NULL for none), owned by the calling thread.
    ///
    /// # Safety
    /// `ptr` is NULL or a live record, used only by this thread, that stays
    /// valid until `end` is called (callers register `end` in a cleanup of the
    /// pool the record lives in, or call it before the hook returns).
    pub unsafe fn new(ptr: *mut T) -> Self {
        Held {
            ptr,
            alive: Arc::new(AtomicBool::new(true)),
            // SAFETY: pthread_self has no preconditions.
            owner: unsafe { libc::pthread_self() },
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Whether the record may be used from here and now.
    #[inline]
    pub fn check(&self) -> Result<(), Unusable> {
        if !self.alive.load(Ordering::Acquire) {
            return Err(Unusable::Ended);
        }
        // SAFETY: pthread_equal/pthread_self have no preconditions.
        if unsafe { libc::pthread_equal(libc::pthread_self(), self.owner) } == 0 {
            return Err(Unusable::OtherThread);
        }
        Ok(())
    }

    /// The record, if it may be used from here and now.
    #[inline]
    pub fn get(&self) -> Result<&T, Unusable> {
        self.check()?;
        // SAFETY: alive (end not called) and on the owning thread: `new`'s contract.
        unsafe { self.ptr.as_ref() }.ok_or(Unusable::Absent)
    }

    /// Whether `end` was called.
    pub fn ended(&self) -> bool {
        !self.alive.load(Ordering::Acquire)
    }

    /// The record's life has ended: every later `get` fails.
    pub fn end(&self) {
        self.alive.store(false, Ordering::Release);
    }

    /// Ends the life when `pool` is cleared (ending it early is always safe).
    pub fn end_with(&self, pool: &super::pool::Pool) {
        let alive = self.alive.clone();
        pool.on_cleanup(move || alive.store(false, Ordering::Release));
    }
}

impl<T> Held<T> {
    /// Holds nothing: every `get` answers `Absent` (a connection handler's
    /// objects, which have no request).
    pub fn none() -> Self {
        // SAFETY: NULL is always allowed.
        unsafe { Held::new(std::ptr::null_mut()) }
    }
}

impl Held<super::request::Request> {
    /// Holds `r` past its hook, on this thread, until its pool is cleared.
    pub fn request(r: &super::request::Request) -> Self {
        // SAFETY: a request record lives until its pool is cleared, and the
        // life ends in that pool's cleanup (registered here); the caller's
        // thread is the one serving the request (`&Request` is !Send).
        let held = unsafe { Held::new(r.as_ptr() as *mut super::request::Request) };
        held.end_with(r.pool());
        held
    }

    /// A record reached from the request (its connection, a table), tied to
    /// this record's life; None when the request may not be used now.
    pub fn tie<U>(&self, pick: impl for<'a> FnOnce(&'a super::request::Request) -> &'a U) -> Result<Tied<U>, Unusable> {
        let u = pick(self.get()?) as *const U as *mut U;
        // SAFETY: what a request handle lends for the borrow of the request
        // (its tables, connection, pool) lives at least as long as the request.
        Ok(unsafe { Tied::new(u, self) })
    }
}

/// A record that lives at least as long as some [`Held`] record (a request's
/// connection, say): borrowed only under that record's checks.
pub struct Tied<T> {
    ptr: *mut T,
    /// The id of the `Held` it is borrowed through.
    held: u64,
}

// SAFETY: as for Held: dereferenced only by `get`, after the Held's checks.
unsafe impl<T> Send for Tied<T> {}
unsafe impl<T> Sync for Tied<T> {}

impl<T> Tied<T> {
    /// Ties `ptr` to `held`: it is borrowed only through that one.
    ///
    /// # Safety
    /// `ptr` is NULL or a record that stays valid while `held` is alive,
    /// used only by held's thread.
    pub unsafe fn new<H>(ptr: *mut T, held: &Held<H>) -> Self {
        Tied { ptr, held: held.id }
    }

    /// The record, if `held` is the one it is tied to and may be used from here and now.
    #[inline]
    pub fn get<'a, U>(&self, held: &'a Held<U>) -> Result<&'a T, Unusable> {
        if held.id != self.held {
            return Err(Unusable::Unrelated);
        }
        held.check()?;
        // SAFETY: held is the one this is tied to (its id), alive and on its
        // thread: `new`'s contract.
        unsafe { self.ptr.as_ref() }.ok_or(Unusable::Absent)
    }

    /// A record reached from this one (a connection's notes), tied to the
    /// same `held`, if it may be used now.
    pub fn tie<U, V>(&self, held: &Held<V>, pick: impl for<'a> FnOnce(&'a T) -> &'a U) -> Result<Tied<U>, Unusable> {
        let u = pick(self.get(held)?) as *const U as *mut U;
        // SAFETY: what a handle lends for its borrow lives at least as long
        // as it, which lives while `held` (checked above to be its own) does.
        Ok(unsafe { Tied::new(u, held) })
    }
}

/// Lends `second` (and `first`, when there is one) to `f`, for the span of
/// the call, as a Held and a Tied to it: records of one call of httpd's (a
/// filter and its brigade, an SSI element's context and brigade, a
/// connection handler's connection) that a Python object may keep. The Held
/// refuses every use once `f` returns or unwinds, wherever it was moved.
pub fn lend_for_call<T, U, R>(first: Option<&T>, second: &U, f: impl FnOnce(Held<T>, Tied<U>) -> R) -> R {
    lend_two_for_call(first, second, &(), |held, tied, _| f(held, tied))
}

/// As [`lend_for_call`], with a third record of the call (a filter's context).
pub fn lend_two_for_call<T, U, V, R>(first: Option<&T>, second: &U, third: &V, f: impl FnOnce(Held<T>, Tied<U>, Tied<V>) -> R) -> R {
    struct EndOnDrop(Arc<AtomicBool>);
    impl Drop for EndOnDrop {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }
    let ptr = first.map_or(std::ptr::null_mut(), |t| t as *const T as *mut T);
    // SAFETY: NULL, or borrowed for this whole call on this thread; the life
    // ends (EndOnDrop) before the borrow does.
    let held = unsafe { Held::new(ptr) };
    // SAFETY: borrowed for this whole call, like `first`, and tied to `held`.
    let (second, third) = unsafe {
        (
            Tied::new(second as *const U as *mut U, &held),
            Tied::new(third as *const V as *mut V, &held),
        )
    };
    let _end = EndOnDrop(held.alive.clone());
    f(held, second, third)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_record_is_refused_after_its_life_ends() {
        let mut v = 7;
        // SAFETY: v outlives the Held and is used on this thread only.
        let h = unsafe { Held::new(&mut v as *mut i32) };
        assert_eq!(h.get().copied(), Ok(7));
        h.end();
        assert!(h.ended());
        assert_eq!(h.get().err(), Some(Unusable::Ended));
    }

    #[test]
    fn held_record_is_refused_on_another_thread() {
        let mut v = 7;
        // SAFETY: as above; the other thread only asks, and is refused.
        let h = unsafe { Held::new(&mut v as *mut i32) };
        let other = std::thread::scope(|s| s.spawn(|| h.get().err()).join().unwrap());
        assert_eq!(other, Some(Unusable::OtherThread));
        assert_eq!(h.get().copied(), Ok(7));
    }

    #[test]
    fn absent_record_and_tied_record_follow_the_held_checks() {
        // SAFETY: NULL is allowed.
        let none: Held<i32> = unsafe { Held::new(std::ptr::null_mut()) };
        assert_eq!(none.get().err(), Some(Unusable::Absent));
        let mut c = 3u8;
        // SAFETY: c outlives `none`, on this thread.
        let tied = unsafe { Tied::new(&mut c as *mut u8, &none) };
        assert_eq!(tied.get(&none).copied(), Ok(3));
        none.end();
        assert_eq!(tied.get(&none).err(), Some(Unusable::Ended));
    }

    #[test]
    fn a_tied_record_is_refused_through_another_held() {
        let (mut a, mut b) = (1u8, 2u8);
        // SAFETY: a and b outlive both Helds, on this thread.
        let (ha, hb) = unsafe { (Held::new(&mut a as *mut u8), Held::new(&mut b as *mut u8)) };
        let c = 3u16;
        // SAFETY: c outlives ha, on this thread.
        let tied = unsafe { Tied::new(&c as *const u16 as *mut u16, &ha) };
        assert_eq!(tied.get(&ha).copied(), Ok(3));
        // hb is alive and on this thread, but says nothing of c's life.
        assert_eq!(tied.get(&hb).err(), Some(Unusable::Unrelated));
        assert_eq!(tied.tie(&hb, |c| c).err(), Some(Unusable::Unrelated));
        // Lent for a call: the Tied only answers through its own Held.
        let kept = lend_for_call(Some(&a), &b, |held, tb| {
            assert_eq!(tb.get(&hb).err(), Some(Unusable::Unrelated));
            assert_eq!(tb.get(&held).copied(), Ok(2));
            tb
        });
        assert_eq!(kept.get(&ha).err(), Some(Unusable::Unrelated));
    }

    #[test]
    fn a_lent_handle_refuses_to_work_on_another_thread() {
        let v = 5;
        let lent = crate::ffi::OnThisThread::lend(&v);
        assert_eq!(*lent, 5);
        let refused = std::thread::scope(|s| s.spawn(move || *lent).join().is_err());
        assert!(refused);
    }
}

#[cfg(test)]
mod lend_tests {
    use super::*;

    #[test]
    fn records_lent_for_a_call_are_refused_after_it() {
        let (a, b, c) = (1u8, 2u16, 3u32);
        let kept = lend_two_for_call(Some(&a), &b, &c, |held, tb, tc| {
            assert_eq!(held.get().copied(), Ok(1));
            assert_eq!((tb.get(&held).copied(), tc.get(&held).copied()), (Ok(2), Ok(3)));
            (held, tb)
        });
        assert_eq!(kept.0.get().err(), Some(Unusable::Ended));
        assert_eq!(kept.1.get(&kept.0).err(), Some(Unusable::Ended));
        // Also when the call unwinds.
        let mut escaped = None;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lend_for_call(None::<&u8>, &b, |held, _| {
                escaped = Some(held);
                panic!("the call fails");
            })
        }));
        assert_eq!(escaped.unwrap().check().err(), Some(Unusable::Ended));
    }
}
