//! `wasm.load` and `wasm.replace` of a WebAssembly component (SPEC §10):
//! its WIT exports become SQL functions typed by the WIT-to-SQL table.

use super::functions::{self, Spec};
use super::options::{FunctionsOption, LoadOptions};
use super::record_types::RecordTypes;
use crate::catalog::{self, ModuleMeta, NewCode};
use crate::error::{PgWasmError, Result};
use crate::marshal::wit;
use crate::pg::component_site::check_signature;
use crate::pg::function::FunctionDef;
use crate::pg::{artifacts, cache, component};
use pg_wasm_runtime::component::{
    describe_component, name_records, Component, ComponentExport, ComponentInfo,
};
use pg_wasm_runtime::sha256;
use pgrx::prelude::*;
use serde_json::{json, Value};

/// Compiles a component and describes what will be stored.
fn prepare<'a>(
    name: &str,
    bytes: &'a [u8],
    types: &RecordTypes,
) -> Result<(Component, ComponentInfo, NewCode<'a>)> {
    let component = cache::compile_component(name, bytes)?;
    let mut info = describe_component(cache::engine()?, &component);
    name_records(&mut info, bytes);
    let mut exports = exports_json(&info, types);
    if let Value::Array(entries) = &mut exports {
        entries.extend(types.catalog_entries(&info)?);
    }
    let code = NewCode {
        bytes,
        sha256: sha256(bytes),
        exports,
        imports: Value::Array(
            info.imports
                .iter()
                .map(|i| json!({ "name": i, "kind": "instance" }))
                .collect(),
        ),
    };
    Ok((component, info, code))
}

/// Each export's WIT and SQL signature, for the catalog's `exports`.
fn exports_json(info: &ComponentInfo, types: &RecordTypes) -> Value {
    Value::Array(
        info.exports
            .iter()
            .map(|e| {
                let sql = |t: &pg_wasm_runtime::component::WitType| types.sql(t).ok();
                json!({
                    "name": e.name(),
                    "kind": "func",
                    "wit": e.wit(),
                    "sql_name": e.sql_name(),
                    "params": e.params.iter().map(|(n, t)| json!({"name": n, "wit": t.wit(), "sql": sql(t)})).collect::<Vec<_>>(),
                    "result": e.result.as_ref().map(|t| json!({"wit": t.wit(), "sql": sql(t)})),
                })
            })
            .collect(),
    )
}

/// The function an export gets: its SQL name, its argument and result
/// types from the WIT mapping, STRICT unless a parameter is an option.
fn spec(
    prefix: &str,
    e: &ComponentExport,
    name: Option<&str>,
    types: &RecordTypes,
    uses_host: bool,
) -> std::result::Result<Spec, String> {
    let unmapped =
        |what: String, why: String| format!("{what}: WIT type {why} is not mapped to SQL yet");
    let args = e
        .params
        .iter()
        .map(|(n, t)| {
            types
                .sql(t)
                .map_err(|why| unmapped(format!("parameter {n}"), why))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let returns = match &e.result {
        Some(t) => types.sql(t).map_err(|why| unmapped("result".into(), why))?,
        None => "void".into(),
    };
    // A tuple result: a record with OUT parameters f1, f2, ...
    let out = match e
        .result
        .as_ref()
        .and_then(|t| t.out_columns(&|n| types.name(n)))
    {
        Some(columns) => columns.map_err(|why| unmapped("result".into(), why))?,
        None => vec![],
    };
    Ok(Spec {
        name: name.map_or_else(|| format!("{prefix}{}", e.sql_name()), str::to_string),
        export: e.name(),
        args,
        out,
        returns,
        strict: !e.params.iter().any(|(_, t)| wit::nullable(t)),
        volatility: "volatile".into(),
        // As for core modules: a component that can run SQL
        // (pg:wasm/host) stays in the leader.
        parallel: if uses_host { "restricted" } else { "safe" }.into(),
    })
}

/// Whether the component imports pg_wasm's host interface.
fn uses_host(info: &ComponentInfo) -> bool {
    info.imports.iter().any(|i| i.starts_with("pg:wasm/host"))
}

fn specs(
    module: &str,
    prefix: &str,
    info: &ComponentInfo,
    functions: &FunctionsOption,
    types: &RecordTypes,
) -> Result<Vec<Spec>> {
    match functions {
        FunctionsOption::None => Ok(vec![]),
        FunctionsOption::Auto => Ok(info
            .exports
            .iter()
            .filter_map(|e| match spec(prefix, e, None, types, uses_host(info)) {
                Ok(s) => Some(s),
                Err(why) => {
                    pgrx::notice!(
                        "export \"{}\" of component \"{module}\" gets no automatic function: {why}",
                        e.name()
                    );
                    None
                }
            })
            .collect()),
        FunctionsOption::Explicit(map) => map
            .iter()
            .map(|(export, def)| {
                let e = info.export(export).ok_or_else(|| {
                    PgWasmError::InvalidParameter(format!(
                        "component \"{module}\" has no export \"{export}\""
                    ))
                })?;
                let name = def.get("name").and_then(Value::as_str);
                spec(prefix, e, name, types, uses_host(info)).map_err(|why| {
                    PgWasmError::InvalidParameter(format!(
                        "export \"{export}\" of component \"{module}\": {why}"
                    ))
                })
            })
            .collect(),
    }
}

fn prefix(name: &str, opts: &LoadOptions) -> String {
    opts.prefix.clone().unwrap_or_else(|| format!("{name}_"))
}

/// The record types, then the functions.
fn create(
    name: &str,
    info: &ComponentInfo,
    opts: &LoadOptions,
    skip_existing: bool,
    types: &RecordTypes,
) -> Result<Vec<pg_sys::Oid>> {
    types.create(name, info)?;
    let specs = specs(name, &prefix(name, opts), info, &opts.functions, types)?;
    functions::create_specs(name, specs, opts.schema.as_deref(), skip_existing)
}

pub(super) fn load(name: &str, bytes: &[u8], opts: &LoadOptions) -> Result<Vec<pg_sys::Oid>> {
    let types = RecordTypes::new(opts.schema.as_deref(), &prefix(name, opts))?;
    let (component, info, code) = prepare(name, bytes, &types)?;
    if catalog::find(name)?.is_some() {
        return Err(PgWasmError::DuplicateModule(name.to_string()));
    }
    let generation = catalog::insert(name, &code, &opts.settings)?;
    let meta = catalog::find(name)?
        .filter(|m| m.generation == generation)
        .ok_or_else(|| PgWasmError::Internal("inserted module not found".into()))?;
    keep(meta, &component)?;
    create(name, &info, opts, false, &types)
}

pub(super) fn replace(
    name: &str,
    bytes: &[u8],
    options: Option<&Value>,
    opts: &LoadOptions,
    meta: ModuleMeta,
) -> Result<Vec<pg_sys::Oid>> {
    let types = RecordTypes::new(opts.schema.as_deref(), &prefix(name, opts))?.replacing(name)?;
    let (component, info, code) = prepare(name, bytes, &types)?;
    for f in catalog::functions_using(name)? {
        let def = FunctionDef::load(f.oid)?;
        let fits = info
            .export(&f.export)
            .ok_or_else(|| {
                format!(
                    "uses export \"{}\", which the new component does not have",
                    f.export
                )
            })
            .and_then(|e| {
                check_signature(&def, e, &format!("{name}.{}", f.export)).map_err(|e| e.to_string())
            });
        if let Err(why) = fits {
            return Err(PgWasmError::invalid_function(
                format!(
                    "cannot replace wasm module \"{name}\": function {} {why}",
                    f.signature
                ),
                Some(
                    "Nothing was changed. Drop or change the function first, or keep the export."
                        .into(),
                ),
            ));
        }
    }
    let old_types = catalog::type_entries(name)?;
    let generation = catalog::update_code(name, &code)?;
    let mut settings = meta.settings;
    if let Some(o) = options {
        settings.apply(o)?;
        if settings != meta.settings {
            catalog::update_settings(name, &settings)?;
        }
    }
    keep(
        ModuleMeta {
            generation,
            settings,
            sha256: code.sha256,
            ..meta
        },
        &component,
    )?;
    let oids = create(name, &info, opts, true, &types)?;
    super::record_types::drop_stale_types(name, &old_types)?;
    Ok(oids)
}

/// Stores the compiled component for every backend and keeps it here.
fn keep(meta: ModuleMeta, component: &Component) -> Result<()> {
    let engine = cache::engine()?;
    artifacts::keep(engine, &meta, component, true);
    artifacts::sweep_unused(engine)?;
    component::prime(meta, component)?;
    Ok(())
}
