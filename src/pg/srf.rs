//! Set-returning functions and record results: the guest returns a JSON
//! array (one element per row: an object for row types, a scalar
//! otherwise), which becomes a tuplestore in materialize mode.

use crate::error::{PgWasmError, Result};
use crate::marshal::{codec::invalid, json, Shape};
use pgrx::pg_sys;

/// The row type this call returns, as the executor resolved it (declared
/// composite type, OUT parameters, RETURNS TABLE or a column definition
/// list); `None` if the result is not a row.
///
/// # Safety
/// `fcinfo` must be the current call's.
unsafe fn call_result_desc(fcinfo: pg_sys::FunctionCallInfo) -> Option<pg_sys::TupleDesc> {
    let mut desc: pg_sys::TupleDesc = std::ptr::null_mut();
    // SAFETY: fcinfo is valid; get_call_result_type fills `desc` (allocated
    // in the current memory context) for composite results.
    let kind = unsafe { pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut desc) };
    (kind == pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE && !desc.is_null()).then_some(desc)
}

/// The row type of this call's result when it is `record` (OUT parameters,
/// RETURNS TABLE, or a column definition list), blessed so tuples can be
/// built for it.
///
/// # Safety
/// `fcinfo` must be the current call's.
pub unsafe fn record_desc(
    fcinfo: pg_sys::FunctionCallInfo,
    shape: &Shape,
) -> Option<pg_sys::TupleDesc> {
    if shape.ret_type != pg_sys::RECORDOID {
        return None;
    }
    // SAFETY: per the contract; BlessTupleDesc registers a record type.
    unsafe { call_result_desc(fcinfo).map(|d| pg_sys::BlessTupleDesc(d)) }
}

/// Puts the rows of `bytes` (a JSON array) into the call's result set.
///
/// # Safety
/// `fcinfo` must be the current call's.
pub unsafe fn materialize(
    fcinfo: pg_sys::FunctionCallInfo,
    shape: &Shape,
    bytes: &[u8],
    function: &str,
) -> Result<()> {
    // SAFETY: resultinfo is null or a node; checked before use.
    let rsinfo = unsafe { (*fcinfo).resultinfo } as *mut pg_sys::ReturnSetInfo;
    let ok = !rsinfo.is_null()
        // SAFETY: non-null node pointer.
        && unsafe { (*rsinfo).type_ } == pg_sys::NodeTag::T_ReturnSetInfo
        && unsafe { (*rsinfo).allowedModes } & pg_sys::SetFunctionReturnMode::SFRM_Materialize as i32
            != 0;
    if !ok {
        return Err(PgWasmError::Unsupported(format!(
            "set-valued wasm function \"{function}\" called in a context that cannot accept a set"
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(function, &format!("the result is not valid JSON: {e}")))?;
    let rows = match value {
        // JSON null, like a NULL result, is no rows.
        serde_json::Value::Null => serde_json::Value::Array(Vec::new()),
        other => other,
    };
    let serde_json::Value::Array(rows) = rows else {
        return Err(invalid(
            function,
            "a set-returning function must return a JSON array (one element per row)",
        ));
    };
    // SAFETY: the calls below follow the materialize protocol of
    // src/backend/utils/fmgr/README: the tuplestore and descriptor live in
    // the per-query context, rows are copied in by tuplestore_putvalues.
    unsafe {
        let composite = pg_sys::type_is_rowtype(shape.ret_type);
        let desc = if composite {
            call_result_desc(fcinfo)
                .ok_or_else(|| invalid(function, "the rows' columns are not known here"))?
        } else {
            let d = pg_sys::CreateTemplateTupleDesc(1);
            pg_sys::TupleDescInitEntry(d, 1, c"value".as_ptr(), shape.ret_type, -1, 0);
            d
        };
        let per_query = (*(*rsinfo).econtext).ecxt_per_query_memory;
        let old = pg_sys::MemoryContextSwitchTo(per_query);
        let desc = pg_sys::BlessTupleDesc(pg_sys::CreateTupleDescCopy(desc));
        let random = (*rsinfo).allowedModes
            & pg_sys::SetFunctionReturnMode::SFRM_Materialize_Random as i32
            != 0;
        let store = pg_sys::tuplestore_begin_heap(random, false, pg_sys::work_mem);
        pg_sys::MemoryContextSwitchTo(old);
        for (i, row) in rows.iter().enumerate() {
            let place = format!("row {}", i + 1);
            let (mut values, mut nulls) = if composite {
                json::columns(row, desc, function, &place)?
            } else {
                let d = json::to_datum(row, shape.ret_type, -1, None, function, &place)?;
                (vec![d.unwrap_or(pg_sys::Datum::from(0))], vec![d.is_none()])
            };
            pg_sys::tuplestore_putvalues(store, desc, values.as_mut_ptr(), nulls.as_mut_ptr());
        }
        (*rsinfo).returnMode = pg_sys::SetFunctionReturnMode::SFRM_Materialize;
        (*rsinfo).setResult = store;
        (*rsinfo).setDesc = desc;
    }
    Ok(())
}
