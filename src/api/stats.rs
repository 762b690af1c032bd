//! wasm.stats: call statistics, the cluster's when the library is preloaded.

use crate::pg::stats;
use pgrx::prelude::*;

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.stats_entries()
RETURNS TABLE(fn_oid oid, calls bigint, total_time_ms double precision, fuel_used bigint,
              traps bigint, last_error text, scope text)
VOLATILE SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
"#)]
// pgrx reads the column names from the `name!`s in the signature itself, so
// the type cannot move into an alias.
#[allow(clippy::type_complexity)]
fn stats_entries() -> TableIterator<
    'static,
    (
        name!(fn_oid, pg_sys::Oid),
        name!(calls, i64),
        name!(total_time_ms, f64),
        name!(fuel_used, i64),
        name!(traps, i64),
        name!(last_error, Option<String>),
        name!(scope, &'static str),
    ),
> {
    TableIterator::new(stats::snapshot().into_iter().map(move |r| {
        // "backend": some figures are this backend's only (no room in the
        // cluster table for the function, or the library not preloaded),
        // so other sessions' calls are missing.
        let scope = if r.cluster { "cluster" } else { "backend" };
        let c = r.counters;
        (
            r.fn_oid,
            c.calls.min(i64::MAX as u64) as i64,
            c.nanos as f64 / 1e6,
            c.fuel.min(i64::MAX as u64) as i64,
            c.traps.min(i64::MAX as u64) as i64,
            r.last_error,
            scope,
        )
    }))
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.reset_stats() RETURNS void
VOLATILE SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.reset_stats() IS
  'Forget the wasm.stats counters of this database''s functions: every backend''s when pg_wasm is preloaded, else this backend''s.';
"#)]
fn reset_stats() {
    stats::reset()
}

/// The symbol behind 0.1.0's `wasm.backend_stats()`: the frozen 0.1.0
/// install script names it, so a database still at 0.1.0 (or one being
/// updated) keeps working with this library. The 0.2.0 update drops the
/// SQL function; no 0.2.0 SQL refers to it.
#[pg_extern(sql = false)]
fn backend_stats() -> TableIterator<
    'static,
    (
        name!(fn_oid, pg_sys::Oid),
        name!(calls, i64),
        name!(total_time_ms, f64),
        name!(fuel_used, i64),
        name!(traps, i64),
    ),
> {
    TableIterator::new(
        stats_entries().map(|(oid, calls, ms, fuel, traps, _, _)| (oid, calls, ms, fuel, traps)),
    )
}
