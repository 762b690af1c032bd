//! wasm.stats: per-backend call statistics.

use crate::pg::stats;
use pgrx::prelude::*;

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.backend_stats()
RETURNS TABLE(fn_oid oid, calls bigint, total_time_ms double precision, fuel_used bigint, traps bigint)
VOLATILE SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
"#)]
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
    TableIterator::new(stats::snapshot().into_iter().map(|(oid, c)| {
        (
            oid,
            c.calls as i64,
            c.nanos as f64 / 1e6,
            c.fuel.min(i64::MAX as u64) as i64,
            c.traps as i64,
        )
    }))
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.reset_stats() RETURNS void
VOLATILE SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.reset_stats() IS 'Forget this backend''s wasm.stats counters.';
"#)]
fn reset_stats() {
    stats::reset()
}
