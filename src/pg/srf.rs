//! Set-returning functions and record results: a core module's guest
//! returns a JSON array (one element per row: an object for row types, a
//! scalar otherwise), a component's a `list`; either becomes a tuplestore
//! in materialize mode.

use crate::error::{PgWasmError, Result};
use crate::marshal::wit_result::{self, ResultPlan, RowPlan};
use crate::marshal::{codec::invalid, json, Shape};
use pg_wasm_runtime::component::Val;
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
    ret_type: pg_sys::Oid,
) -> Option<pg_sys::TupleDesc> {
    if ret_type != pg_sys::RECORDOID {
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
    // SAFETY: forwarded.
    unsafe {
        materialize_with(
            fcinfo,
            shape.ret_type,
            function,
            json_rows(shape.ret_type, function),
            |put| {
                json::each_element(
                    bytes,
                    function,
                    "a set-returning function must return a JSON array (one element per row)",
                    put,
                )
                .map(|_| ())
            },
        )
    }
}

/// Puts `rows` (a component's values, one per row) into the call's result
/// set: each converted by a plan made once for the call's row type.
///
/// # Safety
/// `fcinfo` must be the current call's.
pub unsafe fn materialize_vals(
    fcinfo: pg_sys::FunctionCallInfo,
    ret_type: pg_sys::Oid,
    rows: Vec<Val>,
    function: &str,
) -> Result<()> {
    let convert = |desc: pg_sys::TupleDesc, composite: bool| {
        // SAFETY: `desc` is the result set's blessed descriptor (per-query
        // memory), and the plan is made in the current memory context,
        // both alive until the last row is converted.
        let plan = unsafe {
            if composite {
                ResultPlan::Row(RowPlan::of(desc))
            } else {
                ResultPlan::new(ret_type, None)
            }
        };
        move |v: Val, place: &str| match &plan {
            ResultPlan::Row(row) => wit_result::set_row_columns(v, row, function, place),
            plan => wit_result::from_val(v, plan, function).map(single),
        }
    };
    // SAFETY: forwarded.
    unsafe {
        materialize_with(fcinfo, ret_type, function, convert, |put| {
            rows.into_iter()
                .enumerate()
                .try_for_each(|(i, row)| put(i + 1, row))
        })
    }
}

/// A scalar row's one column.
fn single(d: Option<pg_sys::Datum>) -> (Vec<pg_sys::Datum>, Vec<bool>) {
    (vec![d.unwrap_or(pg_sys::Datum::from(0))], vec![d.is_none()])
}

/// Converts a JSON row for a result set of `desc` (`composite`: a row
/// type; otherwise one column of `ret_type`).
fn json_rows<'a>(
    ret_type: pg_sys::Oid,
    function: &'a str,
) -> impl FnOnce(pg_sys::TupleDesc, bool) -> JsonRow<'a> + 'a {
    move |desc, composite| {
        Box::new(move |row: serde_json::Value, place: &str| {
            if composite {
                json::columns(&row, desc, function, place)
            } else {
                json::to_datum(&row, ret_type, -1, None, function, place).map(single)
            }
        })
    }
}

type JsonRow<'a> =
    Box<dyn FnMut(serde_json::Value, &str) -> Result<(Vec<pg_sys::Datum>, Vec<bool>)> + 'a>;

/// The materialize protocol: `convert` makes, from the result set's
/// descriptor and whether it is a row type, what turns one row into its
/// columns; `feed` hands each row (1-based position, value) to the
/// function it is given.
///
/// # Safety
/// `fcinfo` must be the current call's.
unsafe fn materialize_with<R, C>(
    fcinfo: pg_sys::FunctionCallInfo,
    ret_type: pg_sys::Oid,
    function: &str,
    convert: impl FnOnce(pg_sys::TupleDesc, bool) -> C,
    feed: impl FnOnce(&mut dyn FnMut(usize, R) -> Result<()>) -> Result<()>,
) -> Result<()>
where
    C: FnMut(R, &str) -> Result<(Vec<pg_sys::Datum>, Vec<bool>)>,
{
    // SAFETY: resultinfo is null or a node; checked before use.
    let rsinfo = unsafe { (*fcinfo).resultinfo } as *mut pg_sys::ReturnSetInfo;
    let ok = !rsinfo.is_null()
        // SAFETY: non-null node pointer.
        && unsafe { (*rsinfo).type_ } == pg_sys::NodeTag::T_ReturnSetInfo
        && unsafe { (*rsinfo).allowedModes } & pg_sys::SetFunctionReturnMode::SFRM_Materialize as i32
            != 0;
    if !ok {
        return Err(PgWasmError::Unsupported(format!(
            "set-valued {} called in a context that cannot accept a set",
            crate::error::Label(function)
        )));
    }
    // SAFETY: the calls below follow the materialize protocol of
    // src/backend/utils/fmgr/README: the tuplestore and descriptor live in
    // the per-query context, rows are copied in by tuplestore_putvalues.
    unsafe {
        let composite = pg_sys::type_is_rowtype(ret_type);
        let desc = if composite {
            call_result_desc(fcinfo)
                .ok_or_else(|| invalid(function, "the rows' columns are not known here"))?
        } else {
            let d = pg_sys::CreateTemplateTupleDesc(1);
            pg_sys::TupleDescInitEntry(d, 1, c"value".as_ptr(), ret_type, -1, 0);
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
        // Each row's values are made in a context reset after the row is
        // in the tuplestore (which spills to disk past work_mem), so host
        // memory stays near one row plus the guest's bytes.
        let row_memory = pg_sys::AllocSetContextCreateInternal(
            pg_sys::CurrentMemoryContext,
            c"pg_wasm result row".as_ptr(),
            0,
            8 * 1024,
            8 * 1024 * 1024,
        );
        let mut convert = convert(desc, composite);
        let mut put = |i: usize, row: R| -> Result<()> {
            let place = format!("row {i}");
            let old = pg_sys::MemoryContextSwitchTo(row_memory);
            let converted = convert(row, &place);
            pg_sys::MemoryContextSwitchTo(old);
            let (mut values, mut nulls) = converted?;
            pg_sys::tuplestore_putvalues(store, desc, values.as_mut_ptr(), nulls.as_mut_ptr());
            pg_sys::MemoryContextReset(row_memory);
            Ok(())
        };
        let streamed = feed(&mut put);
        pg_sys::MemoryContextDelete(row_memory);
        streamed?;
        (*rsinfo).returnMode = pg_sys::SetFunctionReturnMode::SFRM_Materialize;
        (*rsinfo).setResult = store;
        (*rsinfo).setDesc = desc;
    }
    Ok(())
}
