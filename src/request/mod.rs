//! The Python-visible objects of a request: one file per object, as in mod_python.
pub mod body;
pub mod configs;
pub mod connection;
pub mod convert;
pub mod filter;
pub mod filter_chain;
pub mod held_flush;
pub mod hlist;
pub mod life;
pub mod output;
pub mod pool;
#[allow(clippy::module_inception)]
pub mod request;
pub mod server;
pub mod server_return;
pub mod state;
pub mod table;
