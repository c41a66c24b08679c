//! The panic guard every C entry point goes through; it lives in the bindings
//! (`ffi::guard`), which need it too. Kept under this name for its callers.
pub use crate::ffi::guard::{or, quiet_panics};
