//! wasm.cache, wasm.clear_cache, wasm.cache_stats: the cluster's compiled
//! artifacts (SPEC §11).

use crate::error::Result;
use crate::pg::{artifacts, cache};
use pgrx::prelude::*;

fn raise<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| e.raise())
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.cache_entries()
RETURNS TABLE(key text, sha256 bytea, size bigint, databases bigint, created timestamptz)
VOLATILE SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
"#)]
fn cache_entries() -> TableIterator<
    'static,
    (
        name!(key, String),
        name!(sha256, Vec<u8>),
        name!(size, i64),
        name!(databases, i64),
        name!(created, TimestampWithTimeZone),
    ),
> {
    let entries = raise(cache::engine().and_then(artifacts::list));
    TableIterator::new(entries.into_iter().map(|e| {
        let secs = e
            .created
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let created = pgrx::datum::to_timestamp(secs);
        (
            e.key,
            e.sha256.to_vec(),
            e.size as i64,
            e.databases as i64,
            created,
        )
    }))
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.clear_cache(all_artifacts boolean DEFAULT false)
RETURNS bigint VOLATILE STRICT SET search_path = pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.clear_cache(boolean) IS
  'Remove compiled artifacts no module uses (with true: every artifact of the cluster; backends compile again on next use). Returns how many went.';
"#)]
fn clear_cache(all_artifacts: bool) -> i64 {
    raise(cache::engine().and_then(|e| artifacts::clear(e, all_artifacts)))
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.cache_stats()
RETURNS TABLE(compiled bigint, mapped bigint, stored bigint, rejected bigint)
VOLATILE SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.cache_stats() IS
  'This backend: modules compiled, artifacts mapped instead, artifacts stored, damaged or unfit artifacts ignored.';
"#)]
fn cache_stats() -> TableIterator<
    'static,
    (
        name!(compiled, i64),
        name!(mapped, i64),
        name!(stored, i64),
        name!(rejected, i64),
    ),
> {
    let c = artifacts::counters();
    TableIterator::once((
        c.compiled as i64,
        c.mapped as i64,
        c.stored as i64,
        c.rejected as i64,
    ))
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.instance_pool()
RETURNS TABLE(pooled boolean, slots integer, keep_resident_kb integer,
    core_instances bigint, component_instances bigint,
    memories bigint, warm_memories bigint, idle_resident_kb bigint, note text)
VOLATILE SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.instance_pool() IS
  'This backend''s instance pool: its size, the instances and memories alive now, and what idle slots keep resident (docs/limits.md).';
"#)]
#[allow(clippy::type_complexity)]
fn instance_pool() -> TableIterator<
    'static,
    (
        name!(pooled, bool),
        name!(slots, i32),
        name!(keep_resident_kb, i32),
        name!(core_instances, i64),
        name!(component_instances, i64),
        name!(memories, i64),
        name!(warm_memories, i64),
        name!(idle_resident_kb, i64),
        name!(note, Option<String>),
    ),
> {
    let engine = raise(cache::engine());
    let (settings, note) = match cache::allocation() {
        Some(pg_wasm_runtime::Allocation::Pooled(p)) => (*p, None),
        Some(pg_wasm_runtime::Allocation::OnDemand(reason)) => (
            pg_wasm_runtime::PoolSettings::OFF,
            Some(
                reason
                    .clone()
                    .unwrap_or_else(|| "pg_wasm.instance_slots = 0".into()),
            ),
        ),
        None => (pg_wasm_runtime::PoolSettings::OFF, None),
    };
    // Slots still being reset on the helper thread count as in use until
    // it is done (pg_wasm.reset_slots): report the settled pool.
    pg_wasm_runtime::reaper::wait_idle();
    let used = pg_wasm_runtime::pool_use(engine).unwrap_or_default();
    // Instances kept for the next statement, reset (pg_wasm_runtime::
    // recycle), are idle: not counted as alive.
    let (kept, kept_memories) = pg_wasm_runtime::recycle::kept();
    TableIterator::once((
        settings.slots > 0,
        settings.slots as i32,
        (settings.keep_resident >> 10) as i32,
        used.core_instances.saturating_sub(kept as u64) as i64,
        used.component_instances as i64,
        used.memories.saturating_sub(kept_memories) as i64,
        i64::from(used.warm_memories),
        (used.idle_resident >> 10) as i64,
        note,
    ))
}
