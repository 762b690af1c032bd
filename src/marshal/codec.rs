//! SQL values that cross the boundary as bytes in guest memory (SPEC §5):
//! text and bytea as they are, JSON types as JSON text, composites, records
//! and arrays as JSON, every other type as its text form.

use super::json;
use crate::error::{Label, PgWasmError, Result};
use pgrx::pg_sys;
use std::ffi::CStr;

/// How one SQL type becomes bytes and back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// text, varchar, bpchar, json: the varlena's bytes, UTF-8.
    Text { typid: pg_sys::Oid },
    /// bytea: raw bytes.
    Bytea,
    /// Composite types, records and arrays: JSON in, JSON out (jsonb is
    /// JSON text through its own I/O functions, see `Io`).
    Json { typid: pg_sys::Oid, typmod: i32 },
    /// Everything else (numeric, date, uuid, jsonb, …): the type's text form
    /// through its output and input functions.
    Io {
        typid: pg_sys::Oid,
        output: pg_sys::Oid,
    },
}

/// Pseudo-types a wasm function cannot take or return.
fn is_unsupported_pseudo(typid: pg_sys::Oid) -> bool {
    // SAFETY: syscache lookup with a valid OID.
    let typtype = unsafe { pg_sys::get_typtype(typid) } as u8;
    typtype == pg_sys::TYPTYPE_PSEUDO && typid != pg_sys::RECORDOID
}

impl Codec {
    /// The codec for `typid`, or why there is none.
    pub fn for_type(typid: pg_sys::Oid, typmod: i32) -> std::result::Result<Self, String> {
        if is_unsupported_pseudo(typid) {
            return Err(format!(
                "type {} cannot be passed to or from WebAssembly",
                super::type_name(typid)
            ));
        }
        Ok(match typid {
            pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID | pg_sys::JSONOID => {
                Codec::Text { typid }
            }
            pg_sys::BYTEAOID => Codec::Bytea,
            // SAFETY: syscache lookups with a valid OID.
            // (Domains over arrays too: they travel as their base array.)
            _ if unsafe { pg_sys::type_is_rowtype(typid) }
                || unsafe { pg_sys::get_element_type(pg_sys::getBaseType(typid)) }
                    != pg_sys::InvalidOid =>
            {
                Codec::Json { typid, typmod }
            }
            _ => {
                let mut output = pg_sys::InvalidOid;
                let mut varlena = false;
                // SAFETY: lookup with a valid type OID and out-pointers to
                // locals. (Input functions come from io_cache when needed.)
                unsafe { pg_sys::getTypeOutputInfo(typid, &mut output, &mut varlena) };
                Codec::Io { typid, output }
            }
        })
    }

    /// The bytes the guest gets for a (non-NULL) argument. Text and bytea
    /// are borrowed from the (detoasted) datum; the rest is converted.
    ///
    /// # Safety
    /// `d` must be a valid datum of this codec's type.
    pub unsafe fn arg_bytes<'a>(self, d: pg_sys::Datum) -> &'a [u8] {
        // SAFETY: per the contract, `d` is a varlena for Text/Bytea and a
        // value of `typid` otherwise; the palloc'd copies live in the
        // current (per-call) memory context.
        unsafe {
            match self {
                Codec::Text { .. } | Codec::Bytea => {
                    let v = pg_sys::pg_detoast_datum_packed(d.cast_mut_ptr());
                    pgrx::varlena::varlena_to_byte_slice(v)
                }
                Codec::Json { typid, .. } => {
                    if pg_sys::type_is_rowtype(typid) {
                        json_text(pg_sys::row_to_json, d)
                    } else {
                        json_text(pg_sys::array_to_json, d)
                    }
                }
                Codec::Io { output, .. } => {
                    let s = pg_sys::OidOutputFunctionCall(output, d);
                    CStr::from_ptr(s).to_bytes()
                }
            }
        }
    }

    /// The SQL value for bytes a guest returned. `function` names the wasm
    /// function in errors; `desc` is the call's row type for `record`.
    pub fn result_datum(
        self,
        bytes: &[u8],
        function: &str,
        desc: Option<pg_sys::TupleDesc>,
    ) -> Result<Option<pg_sys::Datum>> {
        match self {
            Codec::Text { typid } => {
                verify_text(bytes, function, typid)?;
                if typid == pg_sys::JSONOID {
                    // json keeps its text, but it must be JSON: json_in
                    // checks it as PostgreSQL does (nesting bounded by
                    // max_stack_depth, not by a parser's fixed limit).
                    return input_call(-1, bytes, function, "result", typid).map(Some);
                }
                // SAFETY: copies `bytes` into a palloc'd text in the current
                // memory context; validated as the server encoding above.
                Ok(Some(unsafe {
                    pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
                        bytes.as_ptr().cast(),
                        bytes.len() as i32,
                    ))
                }))
            }
            Codec::Bytea => Ok(Some(pg_sys::Datum::from(
                pgrx::varlena::rust_byte_slice_to_bytea(bytes).into_pg(),
            ))),
            Codec::Json { typid, typmod } => {
                // An array is read element by element, never as one tree.
                if let Some(elem) = json::streamed_array_elem(typid) {
                    return json::array_from_slice(bytes, elem, function, "result");
                }
                let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
                    invalid(function, &format!("the result is not valid JSON: {e}"))
                })?;
                json::to_datum(&value, typid, typmod, desc, function, "result")
            }
            Codec::Io { typid, .. } => {
                verify_text(bytes, function, typid)?;
                input_call(-1, bytes, function, "result", typid).map(Some)
            }
        }
    }
}

/// The JSON text `f` (row_to_json or array_to_json) makes of `d`, borrowed
/// from a palloc'd value in the current memory context.
///
/// # Safety
/// `d` must be a valid row (for row_to_json) or array (for array_to_json).
pub unsafe fn json_text<'a>(
    f: unsafe fn(pg_sys::FunctionCallInfo) -> pg_sys::Datum,
    d: pg_sys::Datum,
) -> &'a [u8] {
    // SAFETY: per the contract; both functions return a non-NULL text.
    unsafe {
        let j = pgrx::direct_function_call_as_datum(f, &[Some(d)])
            .expect("row_to_json/array_to_json never return NULL");
        pgrx::varlena::varlena_to_byte_slice(pg_sys::pg_detoast_datum_packed(j.cast_mut_ptr()))
    }
}

/// A heap tuple of `desc` as a JSON object (as row_to_json makes it),
/// appended to `out`.
///
/// # Safety
/// `tuple` must be a valid tuple of `desc`; `desc` must be blessed if it is
/// a record type.
pub unsafe fn append_row_json(
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
    out: &mut Vec<u8>,
) {
    // SAFETY: per the contract.
    unsafe {
        let row = pg_sys::heap_copy_tuple_as_datum(tuple, desc);
        out.extend_from_slice(json_text(pg_sys::row_to_json, row));
    }
}

/// Text from a guest must be valid in the server encoding and free of NUL.
pub fn verify_text(bytes: &[u8], function: &str, typid: pg_sys::Oid) -> Result<()> {
    // SAFETY: pg_verifymbstr with noError=true only reads `bytes`.
    let ok = unsafe { pg_sys::pg_verifymbstr(bytes.as_ptr().cast(), bytes.len() as i32, true) };
    if ok {
        Ok(())
    } else {
        Err(PgWasmError::InvalidResult {
            sqlstate: pgrx::PgSqlErrorCode::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
            message: format!(
                "{} returned a {} that is not valid in the server encoding (or contains a NUL byte)",
                Label(function),
                super::type_name(typid)
            ),
        })
    }
}

#[cold]
pub fn invalid(function: &str, what: &str) -> PgWasmError {
    PgWasmError::InvalidResult {
        sqlstate: pgrx::PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        message: format!("{} returned an invalid value: {what}", Label(function)),
    }
}

/// Runs a type's input function on `text`; an error it raises becomes an
/// error naming the function, the place in the result and the type, with
/// the input function's own SQLSTATE and message.
pub fn input_call(
    typmod: i32,
    text: &[u8],
    function: &str,
    place: &str,
    typid: pg_sys::Oid,
) -> Result<pg_sys::Datum> {
    let (finfo, ioparam) = super::io_cache::input(typid);
    let mut buf = Vec::new();
    // SAFETY: the cache's input function of `typid`.
    unsafe {
        input_with(
            finfo,
            ioparam,
            typmod,
            text,
            &mut buf,
            function,
            || place.to_string(),
            typid,
        )
    }
}

/// Runs the input function `finfo` on `text` (copied NUL-terminated into
/// `buf`, which callers on a per-row path keep); errors as [`input_call`].
/// `place` is only called to word an error.
///
/// # Safety
/// `finfo` must be the input function of `typid`, with `ioparam`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn input_with(
    finfo: *const pg_sys::FmgrInfo,
    ioparam: pg_sys::Oid,
    typmod: i32,
    text: &[u8],
    buf: &mut Vec<u8>,
    function: &str,
    place: impl Fn() -> String,
    typid: pg_sys::Oid,
) -> Result<pg_sys::Datum> {
    if text.contains(&0) {
        return Err(contains_nul(function, &place()));
    }
    buf.clear();
    buf.extend_from_slice(text);
    buf.push(0);
    let cstr = buf.as_mut_ptr();
    let outcome = std::panic::catch_unwind(|| {
        // SAFETY: per the contract, with a NUL-terminated string; an ERROR
        // inside unwinds as a pgrx panic, caught here.
        unsafe { pg_sys::InputFunctionCall(finfo.cast_mut(), cstr.cast(), ioparam, typmod) }
    });
    outcome.map_err(|payload| input_error(payload, function, &place(), typid))
}

/// Text with a NUL byte, which no PostgreSQL string can hold.
#[cold]
pub fn contains_nul(function: &str, place: &str) -> PgWasmError {
    invalid(
        function,
        &format!("{place} contains a NUL byte, which PostgreSQL text cannot hold"),
    )
}

/// The error for an input function that raised: names the function, the
/// place in the result and the type, with the input function's own
/// SQLSTATE and message.
#[cold]
pub fn input_error(
    payload: Box<dyn std::any::Any + Send>,
    function: &str,
    place: &str,
    typid: pg_sys::Oid,
) -> PgWasmError {
    let (sqlstate, message) = match payload.downcast_ref::<pg_sys::panic::CaughtError>() {
        Some(
            pg_sys::panic::CaughtError::PostgresError(r)
            | pg_sys::panic::CaughtError::ErrorReport(r),
        ) => (r.sql_error_code(), r.message().to_string()),
        _ => (
            pgrx::PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
            "input function failed".to_string(),
        ),
    };
    PgWasmError::InvalidResult {
        sqlstate,
        message: format!(
            "{} returned a value for {place} that does not fit type {}: {message}",
            Label(function),
            super::type_name(typid)
        ),
    }
}
