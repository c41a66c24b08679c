//! A lock that a panic elsewhere cannot poison for good: a panic inside a
//! locked section is already turned into an error for that one request, and
//! the data behind these locks stays consistent, so later users go on.
pub trait LockExt<T> {
    fn locked(&self) -> std::sync::MutexGuard<'_, T>;
}

impl<T> LockExt<T> for std::sync::Mutex<T> {
    #[inline]
    fn locked(&self) -> std::sync::MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
