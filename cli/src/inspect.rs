//! `pg-wasm inspect FILE`: what `wasm.inspect` shows, computed locally,
//! and the SQL functions a load would create (names as `wasm.load` gives
//! them: `<module>_<export>`, or `<prefix><export>`).

use crate::error::{failed, Result};
use crate::sandbox::engine;
use crate::source::{self, Source};
use pg_wasm_runtime::component::WitType;
use serde_json::Value;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// A module or component (.wasm), WebAssembly text (.wat) or JavaScript (.js)
    pub file: PathBuf,
    /// The module name to show function names with [default: from the file name]
    #[arg(long)]
    pub name: Option<String>,
    /// The prefix of function names [default: "<name>_"; JavaScript: none]
    #[arg(long)]
    pub prefix: Option<String>,
}

pub fn run(a: &InspectArgs) -> Result<()> {
    let loaded = source::read(&a.file)?;
    let shown = loaded.shown();
    let name = a.name.clone().unwrap_or_else(|| loaded.default_name());
    let prefix = a.prefix.clone().unwrap_or_else(|| format!("{name}_"));
    for line in describe(&loaded.source, &prefix, &shown)? {
        println!("{line}");
    }
    Ok(())
}

/// The report's lines.
pub fn describe(source: &Source, prefix: &str, shown: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    match source {
        Source::Module(bytes) => {
            let engine = engine()?;
            // Like wasm.inspect: any import is fine here, showing it is the point.
            let module = pg_wasm_runtime::Module::new(engine, bytes)
                .map_err(|e| failed(format!("{shown}: not a valid module: {e:#}")))?;
            let info = pg_wasm_runtime::describe_with_section(&module, bytes)
                .map_err(|e| failed(format!("{shown}: {e}")))?;
            out.push(format!(
                "{shown}: core module, {} bytes, sha256 {}",
                bytes.len(),
                hex(&pg_wasm_runtime::sha256(bytes))
            ));
            out.push("imports:".into());
            for i in &info.imports {
                let ok = i.module.as_deref() == Some("pg");
                out.push(format!(
                    "  {}.{} {}{}",
                    i.module.as_deref().unwrap_or(""),
                    i.name,
                    sig_text(i),
                    if ok {
                        ""
                    } else {
                        "   (not pg_wasm's host API: wasm.load refuses it)"
                    }
                ));
            }
            out.push("exports:".into());
            for e in &info.exports {
                out.push(format!("  {} {}", e.name, sig_text(e)));
            }
            let described = match &info.section {
                Some(s) => {
                    let m = pg_wasm_runtime::section_functions(s).map_err(|why| {
                        failed(format!("{shown}: the pg_wasm custom section {why}"))
                    })?;
                    out.push(format!(
                        "pg_wasm section: {}",
                        serde_json::to_string(&serde_json::json!({ "functions": m }))
                            .unwrap_or_default()
                    ));
                    Some(Value::Object(m))
                }
                None => None,
            };
            out.push("functions a load creates:".into());
            let described = described.as_ref();
            for e in info.exports.iter().filter(|e| e.kind == "func") {
                if e.name.starts_with("pg_wasm_") || e.name == "_start" || e.name == "_initialize" {
                    continue;
                }
                let line = match described.and_then(|d| d.get(&e.name)) {
                    Some(def) => {
                        let args: Vec<&str> = def
                            .get("args")
                            .and_then(Value::as_array)
                            .map(|a| a.iter().filter_map(Value::as_str).collect())
                            .unwrap_or_default();
                        let returns = def.get("returns").and_then(Value::as_str).unwrap_or("void");
                        let vol = def
                            .get("volatility")
                            .and_then(Value::as_str)
                            .unwrap_or("volatile");
                        format!(
                            "  {prefix}{}({}) RETURNS {returns} {}",
                            e.name,
                            args.join(", "),
                            vol.to_uppercase()
                        )
                    }
                    None => match &e.sig {
                        Some(sig) if sig.results.len() <= 1 => format!(
                            "  {prefix}{}({}) RETURNS {}",
                            e.name,
                            sig.params
                                .iter()
                                .map(|t| sql_of(*t))
                                .collect::<Vec<_>>()
                                .join(", "),
                            sig.results.first().map_or("void", |t| sql_of(*t))
                        ),
                        _ => format!(
                            "  (none for {}: not numbers only, and the pg_wasm section does not describe it)",
                            e.name
                        ),
                    },
                };
                out.push(line);
            }
        }
        Source::Component(bytes) => {
            let (_, info) = crate::sandbox::component(bytes, shown)?;
            out.push(format!(
                "{shown}: component, {} bytes, sha256 {}",
                bytes.len(),
                hex(&pg_wasm_runtime::sha256(bytes))
            ));
            out.push("imports:".into());
            for i in &info.imports {
                out.push(format!("  {i}"));
            }
            out.push("exports:".into());
            for e in &info.exports {
                out.push(format!("  {}: {}", e.name(), e.wit()));
            }
            let records = info.records();
            if !records.is_empty() {
                out.push("types a load creates:".into());
                for r in records {
                    if let WitType::Record {
                        name: Some(n),
                        fields,
                    } = r
                    {
                        let cols: Vec<String> = fields
                            .iter()
                            .map(|(f, t)| {
                                format!(
                                    "{} {}",
                                    pg_wasm_runtime::component::snake(f),
                                    t.sql().unwrap_or_else(|e| e)
                                )
                            })
                            .collect();
                        out.push(format!(
                            "  {prefix}{}({})",
                            pg_wasm_runtime::component::snake(n),
                            cols.join(", ")
                        ));
                    }
                }
            }
            out.push("functions a load creates:".into());
            for e in &info.exports {
                let params: std::result::Result<Vec<String>, String> =
                    e.params.iter().map(|(_, t)| t.sql()).collect();
                let result = e
                    .result
                    .as_ref()
                    .map_or(Ok("void".to_string()), |t| t.sql());
                out.push(match (params, result) {
                    (Ok(p), Ok(r)) => {
                        format!("  {prefix}{}({}) RETURNS {r}", e.sql_name(), p.join(", "))
                    }
                    (Err(why), _) | (_, Err(why)) => {
                        format!("  (none for {}: {why})", e.name())
                    }
                });
            }
        }
        Source::JavaScript { text, functions } => {
            out.push(format!(
                "{shown}: JavaScript library, {} bytes, sha256 {}",
                text.len(),
                hex(&pg_wasm_runtime::sha256(text.as_bytes()))
            ));
            out.push("functions a deploy creates (LANGUAGE javascript):".into());
            if functions.is_empty() {
                out.push(
                    "  (none: no \"// @sql name(arg type, ...) RETURNS type\" comments)".into(),
                );
            }
            for f in functions {
                out.push(format!("  {}({}) {}", f.name, f.args, f.tail));
            }
        }
    }
    Ok(out)
}

fn sig_text(e: &pg_wasm_runtime::ExternInfo) -> String {
    if e.kind != "func" {
        return format!("({})", e.kind);
    }
    let p = e.params.join(", ");
    if e.results.is_empty() {
        format!("({p})")
    } else {
        format!("({p}) -> {}", e.results.join(", "))
    }
}

pub fn sql_of(t: pg_wasm_runtime::WasmType) -> &'static str {
    match t {
        pg_wasm_runtime::WasmType::I32 => "integer",
        pg_wasm_runtime::WasmType::I64 => "bigint",
        pg_wasm_runtime::WasmType::F32 => "real",
        pg_wasm_runtime::WasmType::F64 => "double precision",
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
