//! SQL values ⇄ Wasm values (SPEC §5).
//!
//! Numbers cross as Wasm numbers; everything else as bytes in guest memory
//! ([`codec`]), with JSON for composite, record, array and set results
//! ([`json`]). Components' values ([`wit`]) are built straight from datums
//! and back, rows column by column ([`wit_rows`] in, [`wit_result`] out),
//! JSON only where the SQL side is JSON or a domain ([`wit_json`]). The
//! signature check runs once, in
//! the validator and when a call site is prepared; per row, numbers are bit
//! copies and bytes one copy.

pub mod budget;
pub mod codec;
pub mod io_cache;
pub mod json;
mod md_array;
pub mod row_json;
pub mod wit;
pub mod wit_json;
pub mod wit_result;
pub mod wit_rows;

pub use codec::Codec;

use crate::error::{PgWasmError, Result};
use pg_wasm_runtime::{FuncSig, ValRaw, WasmType};
use pgrx::pg_sys;

/// A SQL type that crosses the boundary as one Wasm number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
}

impl Scalar {
    pub fn from_type_oid(oid: pg_sys::Oid) -> Option<Self> {
        Some(match oid {
            pg_sys::BOOLOID => Scalar::Bool,
            pg_sys::INT2OID => Scalar::Int2,
            pg_sys::INT4OID => Scalar::Int4,
            pg_sys::INT8OID => Scalar::Int8,
            pg_sys::FLOAT4OID => Scalar::Float4,
            pg_sys::FLOAT8OID => Scalar::Float8,
            _ => return None,
        })
    }

    pub fn wasm_type(self) -> WasmType {
        match self {
            Scalar::Bool | Scalar::Int2 | Scalar::Int4 => WasmType::I32,
            Scalar::Int8 => WasmType::I64,
            Scalar::Float4 => WasmType::F32,
            Scalar::Float8 => WasmType::F64,
        }
    }

    /// The SQL type's name, for messages.
    pub fn sql_name(self) -> &'static str {
        match self {
            Scalar::Bool => "boolean",
            Scalar::Int2 => "smallint",
            Scalar::Int4 => "integer",
            Scalar::Int8 => "bigint",
            Scalar::Float4 => "real",
            Scalar::Float8 => "double precision",
        }
    }

    /// The SQL type name `wasm.load` uses for an export's Wasm type.
    pub fn sql_name_for(t: WasmType) -> &'static str {
        match t {
            WasmType::I32 => "integer",
            WasmType::I64 => "bigint",
            WasmType::F32 => "real",
            WasmType::F64 => "double precision",
        }
    }

    /// A by-value Datum of this type as the Wasm argument.
    #[inline(always)]
    pub fn arg_to_wasm(self, d: pg_sys::Datum) -> ValRaw {
        let v = d.value();
        match self {
            Scalar::Bool => ValRaw::i32((v != 0) as i32),
            Scalar::Int2 => ValRaw::i32(v as i16 as i32),
            Scalar::Int4 => ValRaw::i32(v as i32),
            Scalar::Int8 => ValRaw::i64(v as i64),
            Scalar::Float4 => ValRaw::f32(v as u32),
            Scalar::Float8 => ValRaw::f64(v as u64),
        }
    }

    /// The Wasm result as a Datum of this type; a value the type cannot hold
    /// is an error naming the function.
    #[inline(always)]
    pub fn result_from_wasm(self, r: ValRaw, function: &str) -> Result<pg_sys::Datum> {
        Ok(match self {
            Scalar::Bool => match r.get_i32() {
                0 => pg_sys::Datum::from(false),
                1 => pg_sys::Datum::from(true),
                other => return Err(out_of_range(function, "boolean", &other.to_string())),
            },
            Scalar::Int2 => {
                let v = r.get_i32();
                let v = i16::try_from(v)
                    .map_err(|_| out_of_range(function, "smallint", &v.to_string()))?;
                pg_sys::Datum::from(v)
            }
            Scalar::Int4 => pg_sys::Datum::from(r.get_i32()),
            Scalar::Int8 => pg_sys::Datum::from(r.get_i64()),
            Scalar::Float4 => pg_sys::Datum::from(r.get_f32() as usize),
            Scalar::Float8 => pg_sys::Datum::from(r.get_f64() as usize),
        })
    }
}

#[cold]
fn out_of_range(function: &str, ty: &str, value: &str) -> PgWasmError {
    PgWasmError::OutOfRange(format!(
        "{} returned {value}, which is out of range for type {ty}",
        crate::error::Label(function)
    ))
}

/// How one SQL argument crosses: one Wasm number, or `(ptr, len)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    Scalar(Scalar),
    Bytes(Codec),
}

/// How the result comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    Void,
    Scalar(Scalar),
    /// `ptr << 32 | len` of bytes in guest memory; for a set-returning
    /// function, a JSON array of rows.
    Bytes(Codec),
}

/// What a call site needs to move values across.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    pub args: Vec<Arg>,
    pub result: Ret,
    /// RETURNS SETOF / TABLE: the result is a JSON array, one element per row.
    pub set: bool,
    /// The declared result type (`record` for OUT parameters and TABLE).
    pub ret_type: pg_sys::Oid,
    /// How the host memory for a byte-borne result is estimated before it
    /// is converted ([`budget`]); `None`: copied as it is.
    pub result_weights: Option<pg_wasm_runtime::json_cost::Weights>,
}

impl Shape {
    pub fn uses_memory(&self) -> bool {
        matches!(self.result, Ret::Bytes(_)) || self.args.iter().any(|a| matches!(a, Arg::Bytes(_)))
    }
}

fn arg_kind(oid: pg_sys::Oid) -> std::result::Result<Arg, String> {
    match Scalar::from_type_oid(oid) {
        Some(s) => Ok(Arg::Scalar(s)),
        None => Codec::for_type(oid, -1).map(Arg::Bytes),
    }
}

/// How a SQL signature's values cross, whatever runs the function: the
/// JavaScript engine takes this as it is; a wasm export must also fit it
/// ([`shape`]).
pub fn sql_shape(
    arg_types: &[pg_sys::Oid],
    ret_type: pg_sys::Oid,
    retset: bool,
) -> std::result::Result<Shape, String> {
    let args = arg_types
        .iter()
        .enumerate()
        .map(|(i, &oid)| arg_kind(oid).map_err(|e| format!("argument {}: {e}", i + 1)))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let result = if ret_type == pg_sys::VOIDOID && !retset {
        Ret::Void
    } else {
        match Scalar::from_type_oid(ret_type) {
            Some(s) if !retset => Ret::Scalar(s),
            _ => Ret::Bytes(Codec::for_type(ret_type, -1).map_err(|e| format!("result: {e}"))?),
        }
    };
    let result_weights = match result {
        Ret::Bytes(_) => budget::weights_for(ret_type),
        _ => None,
    };
    Ok(Shape {
        args,
        result,
        set: retset,
        ret_type,
        result_weights,
    })
}

/// Checks that the SQL signature fits the Wasm one. The error says which
/// argument or result does not fit, in both type systems.
pub fn shape(
    arg_types: &[pg_sys::Oid],
    ret_type: pg_sys::Oid,
    retset: bool,
    wasm: &FuncSig,
) -> std::result::Result<Shape, String> {
    let sql = sql_shape(arg_types, ret_type, retset)?;
    let (args, result) = (&sql.args, sql.result);
    let mut params = Vec::new();
    for a in args {
        match a {
            Arg::Scalar(s) => params.push(s.wasm_type()),
            Arg::Bytes(_) => params.extend([WasmType::I32, WasmType::I32]),
        }
    }
    let results = match result {
        Ret::Void => vec![],
        Ret::Scalar(s) => vec![s.wasm_type()],
        Ret::Bytes(_) => vec![WasmType::I64],
    };
    let expected = FuncSig { params, results };
    if &expected != wasm {
        let bytes =
            matches!(result, Ret::Bytes(_)) || args.iter().any(|a| matches!(a, Arg::Bytes(_)));
        return Err(format!(
            "the SQL signature needs a Wasm function {expected}, but the export is {wasm}{}",
            if bytes {
                " (text, bytea, JSON and other non-numeric values are (ptr i32, len i32) \
                 arguments and an i64 ptr << 32 | len result)"
            } else {
                ""
            }
        ));
    }
    Ok(sql)
}

/// A trigger function's values: the event as JSON in, the decision as
/// JSON out (SPEC §6).
pub fn trigger_sql_shape() -> Shape {
    let json = Codec::Text {
        typid: pg_sys::JSONOID,
    };
    Shape {
        args: vec![Arg::Bytes(json)],
        result: Ret::Bytes(json),
        set: false,
        ret_type: pg_sys::TRIGGEROID,
        // A decision holds at most one row: its values are converted like
        // a composite's.
        result_weights: Some(budget::TREE),
    }
}

/// A trigger function's export must take the event and return the decision.
pub fn trigger_shape(wasm: &FuncSig) -> std::result::Result<Shape, String> {
    let expected = FuncSig {
        params: vec![WasmType::I32, WasmType::I32],
        results: vec![WasmType::I64],
    };
    if &expected != wasm {
        return Err(format!(
            "a trigger function needs a Wasm function {expected} (the event as JSON in, \
             the decision as JSON out), but the export is {wasm}"
        ));
    }
    Ok(trigger_sql_shape())
}

/// `format_type_be` for messages.
pub fn type_name(oid: pg_sys::Oid) -> String {
    // SAFETY: format_type_be accepts any OID (unknown ones print as "???")
    // and returns a palloc'd C string in the current memory context.
    unsafe {
        let p = pg_sys::format_type_be(oid);
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}
