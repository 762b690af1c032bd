//! `LANGUAGE python` (SPEC §16), the glue: which functions are Python, how
//! one is resolved (the engine, the source its body becomes, how its
//! values cross as PL/Python converts them), the validator's compile, DO
//! blocks, and Python exceptions as errors. The engine's host side is
//! `pg_wasm_runtime::python`; a Python function's call site is the
//! JavaScript one ([`super::js_site::JsSite`]) on the Python engine's ABI:
//! both engines take the same argument record and give the same results.

use super::cache;
use super::function::FunctionDef;
use super::host::PgHost;
use super::javascript::{self, JsArg, JsResolved};
use crate::error::{PgWasmError, Result};
use crate::marshal::codec::Codec;
use crate::marshal::{Arg, Scalar};
use pg_wasm_runtime::javascript::Exception;
use pg_wasm_runtime::python as py;
use pgrx::pg_sys;

/// Whether `prolang` is `python` (the language may not exist).
pub fn is_python(prolang: pg_sys::Oid) -> bool {
    // SAFETY: a syscache lookup by name; missing_ok.
    let oid = unsafe { pg_sys::get_language_oid(c"python".as_ptr(), true) };
    oid != pg_sys::InvalidOid && oid == prolang
}

/// How one argument becomes a Python value, as PL/Python converts it:
/// bool, int, float; `Decimal` for numeric; bytes for bytea; dicts and
/// lists for composites and arrays; str for everything else (json, jsonb,
/// dates and times included, in their text form).
fn py_arg(arg: Arg, typid: pg_sys::Oid) -> JsArg {
    match arg {
        Arg::Scalar(s) => match s {
            Scalar::Bool => JsArg::Bool,
            Scalar::Int2 => JsArg::Int2,
            Scalar::Int4 => JsArg::Int4,
            Scalar::Int8 => JsArg::Int8,
            Scalar::Float4 => JsArg::Float4,
            Scalar::Float8 => JsArg::Float8,
        },
        Arg::Bytes(codec) => match codec {
            Codec::Bytea => JsArg::Bytea,
            Codec::Json { .. } => JsArg::Json(codec),
            Codec::Text { .. } => JsArg::Text(codec),
            Codec::Io { .. } if typid == pg_sys::NUMERICOID => JsArg::Number(codec),
            Codec::Io { .. } => JsArg::Text(codec),
        },
    }
}

/// `LANGUAGE python`.
const PYTHON: javascript::Language = javascript::Language {
    name: "python",
    arg: py_arg,
    engine: cache::python_engine,
    abi: &py::ABI,
    // PL/Python's arguments are globals, not parameters: a trigger's too
    // (`TD`), so it gets no names.
    source: |name, params, trigger, body| {
        let params = if trigger { &[][..] } else { params };
        (py::function_source(body), py::spec(name, params))
    },
};

/// Resolves a Python function: its types, its source, the engine.
pub fn resolve(def: &FunctionDef, body: &str) -> Result<JsResolved> {
    javascript::resolve_in(&PYTHON, def, body)
}

/// A Python exception as an error: P0001 (or the SQLSTATE `plpy.error`
/// was given, or the one of a SQL error `plpy.execute` raised and nobody
/// caught) with PL/Python's message (`ZeroDivisionError: division by
/// zero`); DETAIL holds what `plpy.error(detail=...)` gave (or the SQL
/// error's), then the traceback, as PL/Python's CONTEXT shows it; HINT is
/// `plpy.error(hint=...)`'s (or the SQL error's).
pub fn exception_error(target: &str, e: Exception) -> PgWasmError {
    let function = target.trim_end_matches(" (python)");
    let mut detail = e.detail;
    if !detail.is_empty() {
        detail.push('\n');
    }
    if e.stack.is_empty() {
        detail.push_str(&format!("PL/Python function \"{function}\""));
    } else {
        detail.push_str(&e.stack);
    }
    let hint = Some(e.hint).filter(|h| !h.is_empty());
    if let Some(sqlstate) = crate::error::sqlstate_code(&e.sqlstate) {
        return PgWasmError::SqlError {
            sqlstate,
            message: e.message,
            detail,
            hint,
        };
    }
    PgWasmError::Raised {
        message: e.message,
        detail,
        hint,
    }
}

/// The validator's check (CREATE FUNCTION): the types can cross and the
/// body compiles (a SyntaxError is 42P13 with its line).
pub fn validate(fn_oid: pg_sys::Oid, check_bodies: bool) -> Result<()> {
    let def = FunctionDef::load(fn_oid)?;
    let super::body::Body::Python(body) = &def.body else {
        return Err(PgWasmError::Internal(format!(
            "function {} is not Python",
            def.signature()
        )));
    };
    if !check_bodies {
        return Ok(());
    }
    let r = resolve(&def, body)?;
    let host = PgHost::new(r.resolved.target.clone(), false, true);
    javascript::instantiate(&r.resolved, r.abi, &r.source, &r.script, host, true).map(|_| ())
}

/// `DO $$ ... $$ LANGUAGE python`: the block runs once, as a function
/// without arguments, with the session's limits and SQL access.
pub fn run_inline(source_text: &str) -> Result<()> {
    let resolved = javascript::no_arguments(
        "DO block (python)".to_string(),
        cache::python_engine()?,
        &py::ABI,
    )?;
    let source = py::function_source(source_text);
    javascript::run_block(&resolved, &py::ABI, &source, "DO block")
}
