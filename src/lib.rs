//! pg_wasm: WebAssembly functions next to your data.
//!
//! This file only wires the parts together; see docs/architecture.md.
//! - `api`: the SQL functions of schema `wasm`
//! - `catalog`: the module table
//! - `pg`: language handler, validator, caches, call sites
//! - `marshal`: SQL values ⇄ Wasm values
//! - `error`: one error type, mapped to SQLSTATEs
//! - the `pg_wasm_runtime` crate (runtime/): the sandbox, without pgrx

use pgrx::prelude::*;

mod api;
mod catalog;
mod error;
mod guc;
mod marshal;
mod pg;

::pgrx::pg_module_magic!(name, version);

pgrx::extension_sql_file!("../sql/catalog.sql", name = "catalog", bootstrap);
pgrx::extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    guc::register();
    pg::stats::init();
    pg::guest_log::install_hook();
    // Preloaded: what every backend's first engine would look up is looked
    // up once here, in the postmaster, and inherited by each fork.
    // SAFETY: reads a flag PostgreSQL sets while loading preload libraries.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        pg_wasm_runtime::prewarm();
    }
}

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
