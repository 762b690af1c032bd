//! wasm.inspect(bytea): a module's imports and exports, without storing it.

use crate::error::RuntimeContext;
use crate::pg::cache;
use pg_wasm_runtime::component::{describe_component, is_component, WitType};
use pg_wasm_runtime::{describe_with_section, SECTION_NAME};
use pgrx::prelude::*;

type Row = (String, String, Option<Vec<String>>, Option<Vec<String>>);

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.inspect(module bytea)
RETURNS TABLE(kind text, name text, params text[], results text[]) STABLE STRICT
SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.inspect(bytea) IS
  'Imports and exports of a module, without loading it. kind is "import func", "export func", "export memory", ..., and "custom section" for the pg_wasm section (its JSON in results).';
"#)]
// pgrx needs the column names spelled inline with name!, so no type alias.
#[allow(clippy::type_complexity)]
fn inspect(
    module_bytes: &[u8],
) -> TableIterator<
    'static,
    (
        name!(kind, String),
        name!(name, String),
        name!(params, Option<Vec<String>>),
        name!(results, Option<Vec<String>>),
    ),
> {
    if is_component(module_bytes) {
        return TableIterator::new(component_rows(module_bytes).unwrap_or_else(|e| e.raise()));
    }
    // Unlike wasm.load, any import is fine here: showing it is the point.
    let module = cache::compile_for_inspect(module_bytes).unwrap_or_else(|e| e.raise());
    let info = describe_with_section(&module, module_bytes)
        .in_module("")
        .unwrap_or_else(|e| e.raise());
    let row = |dir: &str, e: &pg_wasm_runtime::ExternInfo| -> Row {
        let name = match &e.module {
            Some(m) => format!("{m}.{}", e.name),
            None => e.name.clone(),
        };
        let is_func = e.kind == "func";
        (
            format!("{dir} {}", e.kind),
            name,
            is_func.then(|| e.params.clone()),
            (is_func || e.kind == "global").then(|| e.results.clone()),
        )
    };
    let mut rows: Vec<Row> = info
        .imports
        .iter()
        .map(|e| row("import", e))
        .chain(info.exports.iter().map(|e| row("export", e)))
        .collect();
    if let Some(text) = &info.section {
        rows.push((
            "custom section".into(),
            SECTION_NAME.into(),
            None,
            Some(vec![text.clone()]),
        ));
    }
    TableIterator::new(rows)
}

/// A component's rows: its imports ("import interface"), each exported
/// function with its WIT parameters and result ("export func"), and the
/// SQL signature it gets ("export sql", or why it gets none yet).
fn component_rows(bytes: &[u8]) -> crate::error::Result<Vec<Row>> {
    let component = cache::compile_component_for_inspect(bytes)?;
    let mut info = describe_component(cache::engine()?, &component);
    pg_wasm_runtime::component::name_records(&mut info, bytes);
    let mut rows: Vec<Row> = info
        .imports
        .iter()
        .map(|i| ("import interface".into(), i.clone(), None, None))
        .collect();
    // Records: the composite types a load makes (named <prefix><record>).
    for r in info.records() {
        if let WitType::Record {
            name: Some(n),
            fields,
        } = r
        {
            rows.push((
                "export type".into(),
                n.clone(),
                Some(
                    fields
                        .iter()
                        .map(|(f, t)| format!("{f}: {}", t.wit()))
                        .collect(),
                ),
                Some(vec![format!("record {n}")]),
            ));
        }
    }
    for e in &info.exports {
        rows.push((
            "export func".into(),
            e.name(),
            Some(
                e.params
                    .iter()
                    .map(|(n, t)| format!("{n}: {}", t.wit()))
                    .collect(),
            ),
            Some(e.result.iter().map(|t| t.wit()).collect()),
        ));
        let sql = |t: &WitType| t.sql();
        let params: Result<Vec<String>, String> = e.params.iter().map(|(_, t)| sql(t)).collect();
        let result = e.result.as_ref().map_or(Ok("void".to_string()), sql);
        rows.push(match (params, result) {
            (Ok(p), Ok(r)) => ("export sql".into(), e.sql_name(), Some(p), Some(vec![r])),
            (Err(why), _) | (_, Err(why)) => (
                "export sql".into(),
                e.sql_name(),
                None,
                Some(vec![format!("not mapped: {why}")]),
            ),
        });
    }
    Ok(rows)
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.wat_to_wasm(wat text) RETURNS bytea IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.wat_to_wasm(text) IS
  'WebAssembly text to binary, e.g. for wasm.replace or wasm.inspect.';
"#)]
fn wat_to_wasm(wat: &str) -> Vec<u8> {
    cache::wat_to_bytes("", wat).unwrap_or_else(|e| e.raise())
}
