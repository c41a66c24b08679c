//! The parts of mod_pyrite that turn text and bytes into values and back
//! without httpd or APR, kept apart so unit tests and fuzz targets can link
//! them (the module itself only links inside httpd):
//!
//! - `validate`: PEP 3333's status line and header rules, httpd's field bytes;
//! - `convert`: request bytes -> Python `str`, Python values -> header and body bytes;
//! - `cgi_key`: request header name -> `HTTP_*` environ key;
//! - `digits`: numbers -> decimal or hexadecimal bytes without core::fmt;
//! - `alias`: WSGIScriptAlias matching and the SCRIPT_NAME/PATH_INFO split;
//! - `directive`: the words and handler specs of `Python*` directives;
//! - `proxy`: WSGITrustedProxyHeaders rules (which forwarded headers to believe);
//! - `dirpath`: directory names and extensions as mod_python's handler lists use them;
//! - `require_lines`: `Require` lines as `req.requires()` reports them;
//! - `psp`: PSP templates -> Python source.
pub mod alias;
pub mod cgi_key;
pub mod convert;
pub mod digits;
pub mod directive;
pub mod dirpath;
pub mod proxy;
pub mod psp;
pub mod require_lines;
pub mod validate;
