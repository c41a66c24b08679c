//! The bindgen-generated declarations of httpd, APR and the C shim. Nothing
//! outside `src/ffi/` should need these directly where a wrapper exists.
#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case, dead_code, clippy::all)]
include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
