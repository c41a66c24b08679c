//! Live metrics: per-child counters in shared memory (one page sees every
//! child), recorded lock-free on the request path, served by
//! `SetHandler pyrite-status` and `pyrite.metrics()`.
//!
//! `layout` the shared structs; `shm` the mapping and slot claiming; `record`
//! the request-path writes; `snapshot` the reads; `series` consolidation and
//! percentiles; `json`, `prometheus`, `html` and `svg` the renderers; `page`
//! the handler; `python` the `pyrite` module; `groups` the daemon groups'
//! mapping (their daemons record into it like children).
pub mod groups;
pub mod html;
pub mod json;
pub mod layout;
pub mod page;
pub mod prometheus;
pub mod python;
pub mod record;
pub mod series;
pub mod shm;
pub mod snapshot;
pub mod svg;

pub use record::{begin, end};
