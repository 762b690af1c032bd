//! Component values ⇄ SQL values through JSON, where the SQL side is JSON
//! or nests: variants (jsonb), arrays of more than one dimension, domains
//! over composites and arrays (whose constraints the JSON reader checks),
//! and the rows of set-returning functions. An argument is read with
//! `row_to_json`/`array_to_json`, a result written by the JSON reader that
//! core modules' composite and array results use ([`super::json`]).
//! Records, tuples, one-dimensional lists, flags and u64 cross column by
//! column and element by element ([`super::wit_rows`], [`super::wit`]).

use super::codec::{invalid, json_text};
use crate::error::{PgWasmError, Result};
use pg_wasm_runtime::component::{json as value_json, Val, ValueError, WitType};
use pgrx::pg_sys;
use serde_json::Value;

/// The JSON form of a non-NULL datum of type `oid`: an object for a row,
/// an array for an array, the value for jsonb, a number for numeric, a
/// string otherwise.
///
/// # Safety
/// `datum` must be a valid, non-NULL datum of type `oid`.
pub unsafe fn datum_json(datum: pg_sys::Datum, oid: pg_sys::Oid) -> Result<Value> {
    // SAFETY: per the contract; the functions called take any row / array.
    let bytes: Vec<u8> = unsafe {
        if pg_sys::type_is_rowtype(oid) {
            json_text(pg_sys::row_to_json, datum).to_vec()
        } else if pg_sys::get_element_type(oid) != pg_sys::InvalidOid {
            json_text(pg_sys::array_to_json, datum).to_vec()
        } else {
            let mut out_fn = pg_sys::InvalidOid;
            let mut varlena = false;
            pg_sys::getTypeOutputInfo(oid, &mut out_fn, &mut varlena);
            let text = pg_sys::OidOutputFunctionCall(out_fn, datum);
            let s = std::ffi::CStr::from_ptr(text)
                .to_string_lossy()
                .into_owned();
            return Ok(
                if oid == pg_sys::JSONBOID || oid == pg_sys::JSONOID || oid == pg_sys::NUMERICOID {
                    serde_json::from_str(&s).unwrap_or(Value::String(s))
                } else {
                    Value::String(s)
                },
            );
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        PgWasmError::Internal(format!("row_to_json/array_to_json gave invalid JSON: {e}"))
    })
}

/// `v` (the JSON form of a SQL value) as a component value of type `t`;
/// `what` names the argument in errors.
pub fn json_to_val(v: &Value, t: &WitType, what: &str) -> Result<Val> {
    value_json::json_to_val(v, t, what).map_err(|e| value_error(e, what))
}

/// A component value as JSON for [`super::json::to_datum`] (see
/// [`value_json::val_json`]); an `err` anywhere raises P0001 with its text.
pub fn val_json(v: Val, target: &str) -> Result<Value> {
    value_json::val_json(v, target).map_err(|e| value_error(e, target))
}

fn value_error(e: ValueError, function: &str) -> PgWasmError {
    match e {
        ValueError::InvalidParameter(m) => PgWasmError::InvalidParameter(m),
        ValueError::OutOfRange(m) => PgWasmError::OutOfRange(m),
        ValueError::Unsupported(m) => PgWasmError::Unsupported(m),
        ValueError::Raised { message, detail } => PgWasmError::Raised {
            message,
            detail,
            hint: None,
        },
        ValueError::NoJsonForm(what) => invalid(function, &what),
    }
}
