//! Creating SQL functions for a module's exports (`options.functions`).
//!
//! Functions are made with plain CREATE FUNCTION ... LANGUAGE wasm, so they
//! go through the validator and are ordinary pg_proc rows: DROP, GRANT,
//! ALTER and pg_dump work on them as on any function.

use super::options::FunctionsOption;
use crate::error::{PgWasmError, Result};
use crate::marshal::Scalar;
use crate::pg::search_path::pinned;
use pg_wasm_runtime::ModuleInfo;
use pgrx::prelude::*;
use serde_json::{Map, Value};

/// One function to create.
#[derive(Debug)]
pub(super) struct Spec {
    pub name: String,
    pub export: String,
    pub args: Vec<String>,
    /// OUT parameters (`f1 integer`): a component's tuple result.
    pub out: Vec<String>,
    pub returns: String,
    pub strict: bool,
    pub volatility: String,
    pub parallel: String,
}

/// Exports that are ABI plumbing rather than user functions.
fn is_internal_export(name: &str) -> bool {
    name.starts_with("pg_wasm_") || name == "_start" || name == "_initialize"
}

/// Whether an export can get an automatic function: a body must be able to
/// name it ('module.export', trimmed), and `<prefix><export>` must fit in a
/// PostgreSQL name without truncation, or two exports could collide. Wasm
/// allows any UTF-8 export name, including "" and "  "; such exports are
/// skipped, with a NOTICE.
fn nameable(prefix: &str, export: &str) -> bool {
    let ok = !export.is_empty()
        && export.trim() == export
        && !export.chars().any(char::is_control)
        && prefix.len() + export.len() < pg_sys::NAMEDATALEN as usize;
    if !ok {
        pgrx::notice!(
            "export {export:?} gets no automatic function: its name cannot be used in a function name or body"
        );
    }
    ok
}

/// An identifier quoted by PostgreSQL's own `quote_identifier`.
pub(super) fn quote_ident(s: &str) -> String {
    pgrx::spi::quote_identifier(s)
}

/// A literal quoted by PostgreSQL's own `quote_literal_cstr`, which writes
/// `E'...'` with doubled backslashes when the text has any, so it means the
/// same whatever `standard_conforming_strings` says.
fn quote_literal(s: &str) -> Result<String> {
    let c = std::ffi::CString::new(s)
        .map_err(|_| PgWasmError::InvalidParameter(format!("{s:?} contains a NUL byte")))?;
    // SAFETY: a NUL-terminated string in, a palloc'd one out.
    Ok(
        unsafe { std::ffi::CStr::from_ptr(pg_sys::quote_literal_cstr(c.as_ptr())) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// A SQL type name from the user, resolved under the caller's search_path
/// (as CREATE FUNCTION would resolve it, and without running a statement)
/// and printed back schema-qualified, so only real types reach the DDL and
/// they mean the same under the pinned search_path it runs with.
fn resolve_type(name: &str, export: &str) -> Result<String> {
    // SAFETY: to_regtype takes a text and returns NULL for unknown types;
    // its syntax errors are ERRORs as for any SQL.
    let oid = unsafe {
        pgrx::direct_function_call::<pg_sys::Oid>(pg_sys::to_regtype, &[name.into_datum()])
    };
    match oid {
        Some(oid) if oid != pg_sys::InvalidOid => Ok(qualified_type_name(oid)),
        _ => Err(PgWasmError::InvalidParameter(format!(
            "functions.{export}: type \"{name}\" does not exist"
        ))),
    }
}

/// `oid` as a type name that resolves to the same type under any
/// search_path.
fn qualified_type_name(oid: pg_sys::Oid) -> String {
    // SAFETY: format_type_extended accepts any OID and returns a palloc'd
    // C string.
    unsafe {
        let p = pg_sys::format_type_extended(
            oid,
            -1,
            pg_sys::FORMAT_TYPE_FORCE_QUALIFY as pg_sys::bits16,
        );
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// The caller's current schema (the first existing schema of their
/// search_path), read without running a statement.
pub(super) fn current_schema() -> Option<String> {
    // SAFETY: fetch_search_path returns a palloc'd list of namespace OIDs;
    // get_namespace_name a palloc'd name or NULL.
    unsafe {
        let list = pgrx::PgList::<std::ffi::c_void>::from_pg(pg_sys::fetch_search_path(false));
        let first = list.get_oid(0)?;
        let p = pg_sys::get_namespace_name(first);
        (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

/// Runs one DDL statement that pg_wasm built, under the pinned search_path.
/// Guest-supplied names reach it only through `quote_ident` and
/// `quote_literal`; parsing it first proves it is one statement.
pub(super) fn run_ddl(sql: &str) -> Result<()> {
    let c = std::ffi::CString::new(sql)
        .map_err(|_| PgWasmError::InvalidParameter("a name contains a NUL byte".into()))?;
    // SAFETY: raw_parser only parses; its list lives in the current context.
    let statements = unsafe {
        pgrx::PgList::<pg_sys::Node>::from_pg(pg_sys::raw_parser(
            c.as_ptr(),
            pg_sys::RawParseMode::RAW_PARSE_DEFAULT,
        ))
        .len()
    };
    if statements != 1 {
        return Err(PgWasmError::Internal(format!(
            "refusing to run generated SQL that is not one statement: {sql}"
        )));
    }
    pinned(|| Spi::run(sql))?;
    Ok(())
}

fn regprocedure(signature: &str) -> Result<Option<pg_sys::Oid>> {
    Ok(pinned(|| {
        Spi::get_one_with_args::<pg_sys::Oid>(
            "SELECT pg_catalog.to_regprocedure($1)::pg_catalog.oid",
            &[signature.into()],
        )
    })?)
}

/// A result type: a type name, `setof <type>`, or `table(<col> <type>, ...)`.
fn resolve_returns(text: &str, export: &str) -> Result<String> {
    let t = text.trim();
    let lower = t.to_lowercase();
    if let Some(rest) = lower.strip_prefix("setof ") {
        return Ok(format!("SETOF {}", resolve_type(rest.trim(), export)?));
    }
    if lower.starts_with("table") && t.ends_with(')') {
        let inner = t[5..].trim_start();
        let Some(inner) = inner.strip_prefix('(') else {
            return Err(PgWasmError::InvalidParameter(format!(
                "functions.{export}.returns: cannot parse \"{text}\""
            )));
        };
        let inner = &inner[..inner.len() - 1];
        let mut cols = Vec::new();
        for col in split_top_level(inner) {
            let col = col.trim();
            let (name, ty) = col.split_once(char::is_whitespace).ok_or_else(|| {
                PgWasmError::InvalidParameter(format!(
                    "functions.{export}.returns: column \"{col}\" needs a name and a type"
                ))
            })?;
            cols.push(format!(
                "{} {}",
                quote_ident(name),
                resolve_type(ty.trim(), export)?
            ));
        }
        return Ok(format!("TABLE({})", cols.join(", ")));
    }
    resolve_type(t, export)
}

/// Splits on commas outside parentheses (`numeric(10,2)` stays whole).
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn auto_spec(prefix: &str, info: &ModuleInfo, export: &str) -> Option<Spec> {
    let sig = info.export_func(export)?.sig.as_ref()?;
    if sig.results.len() > 1 {
        return None;
    }
    Some(Spec {
        name: format!("{prefix}{export}"),
        export: export.to_string(),
        args: sig
            .params
            .iter()
            .map(|t| Scalar::sql_name_for(*t).to_string())
            .collect(),
        out: vec![],
        returns: sig
            .results
            .first()
            .map_or("void", |t| Scalar::sql_name_for(*t))
            .to_string(),
        strict: true,
        volatility: "volatile".into(),
        // SQL from a parallel worker cannot write; keep such modules in the
        // leader unless the user says otherwise.
        parallel: if runs_sql(info) { "restricted" } else { "safe" }.into(),
    })
}

fn runs_sql(info: &ModuleInfo) -> bool {
    info.imports
        .iter()
        .any(|i| i.module.as_deref() == Some("pg") && i.name == "query")
}

fn one_of(
    export: &str,
    key: &str,
    v: Option<&Value>,
    allowed: &[&str],
    default: &str,
) -> Result<String> {
    match v {
        None | Some(Value::Null) => Ok(default.to_string()),
        Some(Value::String(s)) if allowed.contains(&s.to_lowercase().as_str()) => {
            Ok(s.to_lowercase())
        }
        Some(v) => Err(PgWasmError::InvalidParameter(format!(
            "functions.{export}.{key} must be one of {}, not {v}",
            allowed.join(", ")
        ))),
    }
}

fn explicit_spec(
    module: &str,
    prefix: &str,
    info: &ModuleInfo,
    export: &str,
    def: &Value,
) -> Result<Spec> {
    let Some(def) = def.as_object() else {
        return Err(PgWasmError::InvalidParameter(format!(
            "functions.{export} must be an object"
        )));
    };
    const KEYS: &[&str] = &[
        "name",
        "args",
        "returns",
        "strict",
        "volatility",
        "parallel",
        "kind",
    ];
    if let Some(k) = def.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(PgWasmError::InvalidParameter(format!(
            "functions.{export}: unknown key \"{k}\" (expected one of: {})",
            KEYS.join(", ")
        )));
    }
    if info.export_func(export).is_none() {
        return Err(PgWasmError::InvalidParameter(format!(
            "functions.{export}: wasm module \"{module}\" has no exported function \"{export}\""
        )));
    }
    let auto = auto_spec(prefix, info, export);
    let name = match def.get("name") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => format!("{prefix}{export}"),
        Some(v) => {
            return Err(PgWasmError::InvalidParameter(format!(
                "functions.{export}.name must be a string, not {v}"
            )))
        }
    };
    let args = match def.get("args") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| match t {
                Value::String(s) => resolve_type(s, export),
                v => Err(PgWasmError::InvalidParameter(format!(
                    "functions.{export}.args must hold type names, not {v}"
                ))),
            })
            .collect::<Result<Vec<_>>>()?,
        None | Some(Value::Null) => auto.as_ref().map(|a| a.args.clone()).ok_or_else(|| {
            PgWasmError::InvalidParameter(format!("functions.{export} needs \"args\""))
        })?,
        Some(v) => {
            return Err(PgWasmError::InvalidParameter(format!(
                "functions.{export}.args must be an array, not {v}"
            )))
        }
    };
    let returns = match def.get("returns") {
        Some(Value::String(s)) => resolve_returns(s, export)?,
        None | Some(Value::Null) => auto.as_ref().map(|a| a.returns.clone()).ok_or_else(|| {
            PgWasmError::InvalidParameter(format!("functions.{export} needs \"returns\""))
        })?,
        Some(v) => {
            return Err(PgWasmError::InvalidParameter(format!(
                "functions.{export}.returns must be a type name, not {v}"
            )))
        }
    };
    let strict = match def.get("strict") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            return Err(PgWasmError::InvalidParameter(format!(
                "functions.{export}.strict must be true or false, not {v}"
            )))
        }
    };
    Ok(Spec {
        name,
        export: export.to_string(),
        args,
        out: vec![],
        returns,
        strict,
        volatility: one_of(
            export,
            "volatility",
            def.get("volatility"),
            &["immutable", "stable", "volatile"],
            "volatile",
        )?,
        parallel: one_of(
            export,
            "parallel",
            def.get("parallel"),
            &["safe", "restricted", "unsafe"],
            "safe",
        )?,
    })
}

fn specs(
    module: &str,
    prefix: &str,
    info: &ModuleInfo,
    functions: &FunctionsOption,
) -> Result<Vec<Spec>> {
    match functions {
        FunctionsOption::None => Ok(vec![]),
        FunctionsOption::Auto => {
            let described = section_functions(info)?;
            let mut out = Vec::new();
            for e in &info.exports {
                if e.kind != "func" || is_internal_export(&e.name) || !nameable(prefix, &e.name) {
                    continue;
                }
                match described.get(&e.name) {
                    Some(def) => out.push(explicit_spec(module, prefix, info, &e.name, def)?),
                    None => out.extend(auto_spec(prefix, info, &e.name)),
                }
            }
            Ok(out)
        }
        FunctionsOption::Explicit(map) => map
            .iter()
            .map(|(export, def)| explicit_spec(module, prefix, info, export, def))
            .collect(),
    }
}

/// The `functions` object of the module's `pg_wasm` custom section (SPEC
/// §4): per export, the same keys as `options.functions`.
fn section_functions(info: &ModuleInfo) -> Result<Map<String, Value>> {
    let Some(text) = &info.section else {
        return Ok(Map::new());
    };
    let bad = |why: String| {
        PgWasmError::InvalidParameter(format!("the module's pg_wasm custom section {why}"))
    };
    pg_wasm_runtime::section_functions(text).map_err(bad)
}

/// Creates the functions `functions` asks for; returns their OIDs.
/// `skip_existing` (for `wasm.replace`) leaves alone names already taken
/// with the same argument types.
pub fn create(
    module: &str,
    info: &ModuleInfo,
    functions: &FunctionsOption,
    schema: Option<&str>,
    prefix: Option<&str>,
    skip_existing: bool,
) -> Result<Vec<pg_sys::Oid>> {
    let default_prefix = format!("{module}_");
    let prefix = prefix.unwrap_or(&default_prefix);
    let specs = specs(module, prefix, info, functions)?;
    create_specs(module, specs, schema, skip_existing)
}

/// Creates the functions `specs` describe in `schema` (the current one by
/// default); see [`create`].
pub(super) fn create_specs(
    module: &str,
    specs: Vec<Spec>,
    schema: Option<&str>,
    skip_existing: bool,
) -> Result<Vec<pg_sys::Oid>> {
    if specs.is_empty() {
        return Ok(vec![]);
    }
    let schema = match schema {
        Some(s) => s.to_string(),
        None => current_schema().ok_or_else(|| {
            PgWasmError::InvalidParameter(
                "no schema has been selected to create functions in (search_path is empty); \
                 set option \"schema\""
                    .into(),
            )
        })?,
    };
    let mut oids = Vec::with_capacity(specs.len());
    for spec in specs {
        let signature = format!(
            "{}.{}({})",
            quote_ident(&schema),
            quote_ident(&spec.name),
            spec.args.join(", ")
        );
        let existing = regprocedure(&signature)?;
        if skip_existing && existing.is_some() {
            continue;
        }
        let declared = spec
            .args
            .iter()
            .cloned()
            .chain(spec.out.iter().map(|c| format!("OUT {c}")))
            .collect::<Vec<_>>()
            .join(", ");
        let ddl = format!(
            "CREATE FUNCTION {schema}.{name}({declared}) RETURNS {returns} LANGUAGE wasm \
             {volatility} {strict} PARALLEL {parallel} AS {body}",
            schema = quote_ident(&schema),
            name = quote_ident(&spec.name),
            returns = spec.returns,
            volatility = spec.volatility.to_uppercase(),
            strict = if spec.strict {
                "STRICT"
            } else {
                "CALLED ON NULL INPUT"
            },
            parallel = spec.parallel.to_uppercase(),
            body = quote_literal(&format!("{module}.{}", spec.export))?,
        );
        run_ddl(&ddl)?;
        let oid = regprocedure(&signature)?
            .ok_or_else(|| PgWasmError::Internal(format!("function {signature} vanished")))?;
        oids.push(oid);
    }
    Ok(oids)
}

/// `DROP FUNCTION <signature> CASCADE` as the caller (who must own the
/// function), for `wasm.unload(..., cascade => true)`.
pub fn drop_cascade(signature: &str) -> Result<()> {
    run_ddl(&format!("DROP FUNCTION {signature} CASCADE"))
}

/// The export name and SQL types of the functions of a module, for the
/// catalog's `exports` column.
pub fn exports_json(info: &ModuleInfo) -> Value {
    Value::Array(
        info.exports
            .iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("name".into(), e.name.clone().into());
                m.insert("kind".into(), e.kind.into());
                if e.kind == "func" {
                    m.insert("params".into(), e.params.clone().into());
                    m.insert("results".into(), e.results.clone().into());
                }
                Value::Object(m)
            })
            .collect(),
    )
}

pub fn imports_json(info: &ModuleInfo) -> Value {
    Value::Array(
        info.imports
            .iter()
            .map(|e| {
                serde_json::json!({
                    "module": e.module, "name": e.name, "kind": e.kind,
                    "params": e.params, "results": e.results,
                })
            })
            .collect(),
    )
}
