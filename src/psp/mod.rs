//! PSP (Python Server Pages, mod_python's templates): the translator lives in
//! the `pyrite-text` crate (where the fuzz targets reach it); `python`
//! exposes it to mod_python.psp through `_apache`.
pub mod python;

pub use pyrite_text::psp::*;
