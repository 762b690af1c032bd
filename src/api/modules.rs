//! wasm.load, wasm.load_wat, wasm.replace, wasm.unload, wasm.configure.

use super::functions;
use super::options::{FunctionsOption, LoadOptions};
use crate::catalog::{self, ModuleMeta, NewCode, Settings};
use crate::error::{PgWasmError, Result, RuntimeContext};
use crate::marshal;
use crate::pg::body::check_module_name;
use crate::pg::citus::{self, Op};
use crate::pg::{artifacts, cache};
use pg_wasm_runtime::component::is_component;
use pg_wasm_runtime::{describe_with_section, sha256, ModuleInfo};
use pgrx::prelude::*;
use pgrx::JsonB;

pub(super) fn raise<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| e.raise())
}

/// Refuses a change to the modules in a read-only transaction — every
/// transaction of a hot standby — before any work, with PostgreSQL's
/// read-only error instead of a failure deep in the catalog write.
pub(super) fn writable(what: &'static str) -> Result<()> {
    // SAFETY: a plain global of the current transaction, read in the
    // backend's thread.
    if unsafe { pg_sys::XactReadOnly } {
        return Err(PgWasmError::ReadOnly(what));
    }
    Ok(())
}

/// Compiles `bytes` and describes what will be stored.
fn prepare<'a>(
    name: &str,
    bytes: &'a [u8],
) -> Result<(pg_wasm_runtime::Module, ModuleInfo, NewCode<'a>)> {
    let module = cache::compile_module(name, bytes)?;
    let info = describe_with_section(&module, bytes).in_module(name)?;
    let code = NewCode {
        bytes,
        sha256: sha256(bytes),
        exports: functions::exports_json(&info),
        imports: functions::imports_json(&info),
    };
    Ok((module, info, code))
}

pub(super) fn load_inner(
    name: &str,
    bytes: &[u8],
    options: &serde_json::Value,
) -> Result<Vec<pg_sys::Oid>> {
    writable("wasm.load()")?;
    check_module_name(name)?;
    let opts = LoadOptions::parse(options, FunctionsOption::Auto)?;
    if is_component(bytes) {
        let created = super::components::load(name, bytes, &opts)?;
        citus::record(Op::Load {
            name,
            bytes,
            options: &with_types_schema(Some(options), &opts),
        })?;
        return Ok(created);
    }
    let (module, info, code) = prepare(name, bytes)?;
    if catalog::find(name)?.is_some() {
        return Err(PgWasmError::DuplicateModule(name.to_string()));
    }
    let generation = catalog::insert(name, &code, &opts.settings)?;
    let meta = catalog::find(name)?
        .filter(|m| m.generation == generation)
        .ok_or_else(|| PgWasmError::Internal("inserted module not found".into()))?;
    let engine = cache::engine()?;
    artifacts::keep(engine, &meta, &module, true);
    artifacts::sweep_unused(engine)?;
    cache::prime(meta, module);
    let created = functions::create(
        name,
        &info,
        &opts.functions,
        opts.schema.as_deref(),
        opts.prefix.as_deref(),
        false,
    )?;
    citus::record(Op::Load {
        name,
        bytes,
        options,
    })?;
    Ok(created)
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.load(name text, module bytea, options jsonb DEFAULT '{}')
RETURNS SETOF regprocedure VOLATILE STRICT
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.load(text, bytea, jsonb) IS
  'Validate, compile and store a WebAssembly module; create SQL functions for its exports.';
"#)]
fn load(name: &str, module: &[u8], options: JsonB) -> SetOfIterator<'static, pg_sys::Oid> {
    SetOfIterator::new(raise(load_inner(name, module, &options.0)))
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.load_wat(name text, wat text, options jsonb DEFAULT '{}')
RETURNS SETOF regprocedure VOLATILE STRICT
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.load_wat(text, text, jsonb) IS
  'wasm.load for a module written in WebAssembly text.';
"#)]
fn load_wat(name: &str, wat: &str, options: JsonB) -> SetOfIterator<'static, pg_sys::Oid> {
    let bytes = raise(
        writable("wasm.load_wat()")
            .and_then(|()| check_module_name(name))
            .and_then(|()| cache::wat_to_bytes(name, wat)),
    );
    SetOfIterator::new(raise(load_inner(name, &bytes, &options.0)))
}

/// A component's load or replace options as the Citus op log carries them
/// to the other nodes: with the schema its record types went to here, which
/// a worker would not find in its own search_path (Citus's connections put
/// pg_catalog first). Settings merge key by key, so naming the schema in a
/// replace that had no options changes no setting.
fn with_types_schema(options: Option<&serde_json::Value>, opts: &LoadOptions) -> serde_json::Value {
    let mut logged = options
        .cloned()
        .filter(|o| o.is_object())
        .unwrap_or_else(|| serde_json::json!({}));
    let schema = opts
        .schema
        .clone()
        .or_else(super::functions::current_schema);
    if let (Some(obj), Some(schema)) = (logged.as_object_mut(), schema) {
        obj.entry("schema").or_insert(schema.into());
    }
    logged
}

pub(super) fn replace_inner(
    name: &str,
    bytes: &[u8],
    options: Option<&serde_json::Value>,
) -> Result<Vec<pg_sys::Oid>> {
    writable("wasm.replace()")?;
    check_module_name(name)?;
    let opts = LoadOptions::parse(
        options.unwrap_or(&serde_json::Value::Null),
        FunctionsOption::None,
    )?;
    let meta = catalog::lock(name)?;
    catalog::check_owner(&meta)?;
    if is_component(bytes) {
        let created = super::components::replace(name, bytes, options, &opts, meta)?;
        citus::record(Op::Replace {
            name,
            bytes,
            options: Some(&with_types_schema(options, &opts)),
        })?;
        return Ok(created);
    }
    let (module, info, code) = prepare(name, bytes)?;
    for f in catalog::functions_using(name)? {
        check_still_fits(name, &info, &f)?;
    }
    let generation = catalog::update_code(name, &code)?;
    let mut settings = meta.settings;
    if let Some(o) = options {
        settings.apply(o)?;
        if settings != meta.settings {
            catalog::update_settings(name, &settings)?;
        }
    }
    let meta = ModuleMeta {
        generation,
        settings,
        sha256: code.sha256,
        ..meta
    };
    let engine = cache::engine()?;
    artifacts::keep(engine, &meta, &module, true);
    // The old code's link goes when this transaction commits.
    artifacts::sweep_unused(engine)?;
    cache::prime(meta, module);
    let created = functions::create(
        name,
        &info,
        &opts.functions,
        opts.schema.as_deref(),
        opts.prefix.as_deref(),
        true,
    )?;
    citus::record(Op::Replace {
        name,
        bytes,
        options,
    })?;
    Ok(created)
}

/// A function keeps its OID across a replace, so its export must still be
/// there with the same signature.
fn check_still_fits(module: &str, info: &ModuleInfo, f: &catalog::FunctionRef) -> Result<()> {
    let refuse = |why: String| {
        PgWasmError::invalid_function(
            format!(
                "cannot replace wasm module \"{module}\": function {} {why}",
                f.signature
            ),
            Some(
                "Nothing was changed. Drop or change the function first, or keep the export."
                    .into(),
            ),
        )
    };
    let Some(export) = info.export_func(&f.export) else {
        return Err(refuse(format!(
            "uses export \"{}\", which the new module does not have",
            f.export
        )));
    };
    let proc = pgrx::pg_catalog::pg_proc::PgProc::new(f.oid)
        .ok_or_else(|| PgWasmError::Internal(format!("function {} vanished", f.signature)))?;
    let sig = export.sig.as_ref().ok_or_else(|| {
        refuse(format!(
            "uses export \"{}\", whose new signature pg_wasm cannot call",
            f.export
        ))
    })?;
    marshal::shape(
        &proc.proargtypes(),
        proc.prorettype(),
        proc.proretset(),
        sig,
    )
    .map(|_| ())
    .map_err(|detail| {
        refuse(format!(
            "uses export \"{}\", whose signature changed: {detail}",
            f.export
        ))
    })
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.replace(name text, module bytea, options jsonb DEFAULT NULL)
RETURNS SETOF regprocedure VOLATILE
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.replace(text, bytea, jsonb) IS
  'New code for a module; existing functions keep their OIDs. Returns functions created for new exports.';
"#)]
fn replace(
    name: Option<&str>,
    module: Option<&[u8]>,
    options: Option<JsonB>,
) -> SetOfIterator<'static, pg_sys::Oid> {
    let (Some(name), Some(module)) = (name, module) else {
        PgWasmError::InvalidParameter("wasm.replace needs a name and a module".into()).raise()
    };
    SetOfIterator::new(raise(replace_inner(
        name,
        module,
        options.as_ref().map(|o| &o.0),
    )))
}

pub(super) fn unload_inner(name: &str, cascade: bool) -> Result<()> {
    writable("wasm.unload()")?;
    let meta = catalog::lock(name)?;
    catalog::check_owner(&meta)?;
    let users = catalog::functions_using(name)?;
    if !users.is_empty() {
        if !cascade {
            return Err(PgWasmError::InUse {
                module: name.to_string(),
                functions: users.into_iter().map(|f| f.signature).collect(),
            });
        }
        for f in &users {
            // The signature is regprocedure's output under the pinned
            // search_path, so it names the same function here.
            functions::drop_cascade(&f.signature)?;
        }
    }
    super::record_types::drop_types(name, meta.owner, cascade)?;
    catalog::delete(name)?;
    cache::forget(name);
    crate::pg::component::forget(name);
    artifacts::sweep_unused(cache::engine()?)?;
    citus::record(Op::Unload { name, cascade })
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.unload(name text, "cascade" boolean DEFAULT false)
RETURNS void VOLATILE STRICT SET search_path = pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.unload(text, boolean) IS
  'Remove a module; with cascade, drop the functions (and what depends on them) too.';
"#)]
fn unload(name: &str, cascade: bool) {
    raise(unload_inner(name, cascade))
}

pub(super) fn configure_inner(
    name: &str,
    options: &serde_json::Value,
) -> Result<serde_json::Value> {
    writable("wasm.configure()")?;
    let obj = options.as_object().ok_or_else(|| {
        PgWasmError::InvalidParameter(format!("options must be a JSON object, not {options}"))
    })?;
    if let Some(k) = obj
        .keys()
        .find(|k| !catalog::settings::KEYS.contains(&k.as_str()))
    {
        return Err(PgWasmError::InvalidParameter(format!(
            "wasm.configure: unknown option \"{k}\" (expected one of: {})",
            catalog::settings::KEYS.join(", ")
        )));
    }
    let meta = catalog::lock(name)?;
    catalog::check_owner(&meta)?;
    let mut settings: Settings = meta.settings;
    settings.apply(options)?;
    catalog::update_settings(name, &settings)?;
    citus::record(Op::Configure { name, options })?;
    Ok(settings.to_json())
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.configure(name text, options jsonb)
RETURNS jsonb VOLATILE STRICT SET search_path = pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.configure(text, jsonb) IS
  'Change a module''s own limits; a key set to null returns it to the GUC default. Returns the settings now in force.';
"#)]
fn configure(name: &str, options: JsonB) -> JsonB {
    JsonB(raise(configure_inner(name, &options.0)))
}
