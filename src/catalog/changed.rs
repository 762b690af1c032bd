//! The trigger on `wasm.module` that tells every backend's module cache
//! about a change made without pg_wasm's own functions — above all, rows
//! applied by logical replication's apply worker, which queues no
//! invalidation itself (pg_wasm's writers queue one, see `invalidate`).

use pgrx::prelude::*;

#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo_wasm_module_changed() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// `AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW`, enabled ALWAYS
/// (sql/finalize.sql) so it fires under `session_replication_role =
/// replica` too: queues a relcache invalidation of the table, delivered to
/// every backend when the change commits.
///
/// # Safety
/// Called by fmgr with a valid `fcinfo`.
#[pg_guard]
#[no_mangle]
pub unsafe extern "C-unwind" fn wasm_module_changed(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: fmgr passes a valid fcinfo; `context` is a TriggerData when
    // the trigger manager calls us, which `is_a` checks before the cast.
    unsafe {
        let context = (*fcinfo).context;
        if context.is_null() || !pgrx::is_a(context, pg_sys::NodeTag::T_TriggerData) {
            error!("wasm.module_changed() must be called as a trigger");
        }
        let data = context.cast::<pg_sys::TriggerData>();
        pg_sys::CacheInvalidateRelcacheByRelid((*(*data).tg_relation).rd_id);
    }
    // An AFTER trigger's result is ignored.
    pg_sys::Datum::from(0)
}
