//! PostgreSQL glue: the language handler and validator, the per-backend
//! engine and caches, and the per-call-site state kept in `fn_extra`.

pub mod artifacts;
pub mod body;
pub mod cache;
pub mod call_site;
pub mod citus;
pub mod compat;
pub mod component;
pub mod component_site;
pub mod fn_cache;
pub mod function;
pub mod guest_log;
pub mod handler;
pub mod host;
pub mod javascript;
mod js_site;
pub mod python;
mod reset;
pub mod search_path;
mod site;
mod spi;
mod srf;
pub mod stats;
mod trigger;
