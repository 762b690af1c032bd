//! `pg-wasm run FILE EXPORT [ARGS...]`: one export called locally, in the
//! sandbox the server uses (same runtime crate, limits and errors), with
//! arguments from the command line or one JSON array per line on stdin.
//! Prints each result on a line of stdout, and fuel and time on stderr.

use crate::error::{failed, CliError, Result};
use crate::sandbox::{engine, javascript_image, CliHost};
use crate::source::{self, Source};
use crate::sqltype::{bytea_input, bytea_output, crossing, Crossing};
use pg_wasm_runtime::component::{json as wit_json, PreparedComponent, Val};
use pg_wasm_runtime::javascript::{self as js, ArgRecord, ResultKind, Returned};
use pg_wasm_runtime::{Instance, Limits, Prepared, RuntimeError, ValRaw};
use serde_json::Value;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A module or component (.wasm), WebAssembly text (.wat) or JavaScript (.js)
    pub file: PathBuf,
    /// The export to call (for a .js file, a function its @sql comments declare)
    pub export: String,
    /// Arguments in their SQL text form (JSON for json, arrays, records);
    /// without any, one JSON array of arguments per line of stdin
    pub args: Vec<String>,
    /// Fuel per call (0: unlimited) [default: the server's, 1000000000]
    #[arg(long)]
    pub fuel: Option<u64>,
    /// Largest linear memory, in MB [default: the server's, 64]
    #[arg(long = "memory-mb")]
    pub memory_mb: Option<usize>,
    /// Wall-clock limit per call, in milliseconds (0: none)
    #[arg(long = "timeout-ms", default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// The name `require` knows a .js file by [default: from the file name]
    #[arg(long)]
    pub name: Option<String>,
    /// Call each input this many times and report the median time
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
}

pub fn run(a: &RunArgs) -> Result<()> {
    let loaded = source::read(&a.file)?;
    let mut limits = Limits::default();
    if let Some(f) = a.fuel {
        limits.fuel = f;
    }
    if let Some(m) = a.memory_mb {
        limits.memory_bytes = m << 20;
    }
    limits.timeout_ms = a.timeout_ms;
    let calls = inputs(&a.args)?;
    let shown = loaded.shown();
    let default_name = loaded.default_name();
    let mut caller: Caller = match loaded.source {
        Source::Module(bytes) => core_caller(&bytes, &a.export, limits, &shown)?,
        Source::Component(bytes) => component_caller(&bytes, &a.export, limits, &shown)?,
        Source::JavaScript { text, functions } => {
            let f = functions
                    .iter()
                    .find(|f| f.name == a.export)
                    .ok_or_else(|| {
                        failed(format!(
                            "{shown}: no function {} (its \"// @sql {}(...) RETURNS ...\" comment is missing); declared: {}",
                            a.export,
                            a.export,
                            names(functions.iter().map(|f| f.name.clone()))
                        ))
                    })?
                    .clone();
            let name = a.name.clone().unwrap_or(default_name);
            js_caller(text, name, f, limits, &shown)?
        }
    };
    for args in calls {
        let mut times = Vec::with_capacity(a.repeat as usize);
        let mut last = (None, 0);
        for _ in 0..a.repeat {
            let started = Instant::now();
            last = caller(&args)?;
            times.push(started.elapsed());
        }
        times.sort();
        let (out, fuel) = last;
        println!("{}", out.as_deref().unwrap_or("NULL"));
        let median = times[times.len() / 2].as_secs_f64() * 1000.0;
        if a.repeat > 1 {
            eprintln!(
                "-- fuel {fuel}, median {median:.4} ms of {} calls",
                a.repeat
            );
        } else {
            eprintln!("-- fuel {fuel}, {median:.3} ms");
        }
    }
    Ok(())
}

fn names(it: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = it.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The calls to make: the command line's arguments (strings), or one JSON
/// array per line of stdin.
fn inputs(args: &[String]) -> Result<Vec<Vec<Value>>> {
    if !args.is_empty() || std::io::stdin().is_terminal() {
        return Ok(vec![args.iter().cloned().map(Value::String).collect()]);
    }
    let mut calls = Vec::new();
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.map_err(|e| failed(format!("stdin: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(Value::Array(v)) => calls.push(v),
            _ => {
                return Err(CliError::Usage(format!(
                    "stdin line {}: expected a JSON array of arguments, like [1, \"text\"]",
                    i + 1
                )))
            }
        }
    }
    if calls.is_empty() {
        calls.push(vec![]);
    }
    Ok(calls)
}

/// The SQL types of a core module's export: from its `pg_wasm` section,
/// else from its Wasm signature (numbers only), as `wasm.load` types them.
fn core_signature(
    bytes: &[u8],
    info: &pg_wasm_runtime::ModuleInfo,
    export: &str,
) -> Option<(Vec<String>, String)> {
    let described = pg_wasm_runtime::pg_wasm_section(bytes)
        .ok()
        .flatten()
        .and_then(|s| pg_wasm_runtime::section_functions(&s).ok())
        .and_then(|m| m.get(export).cloned());
    if let Some(def) = described {
        let args = def
            .get("args")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let returns = def
            .get("returns")
            .and_then(Value::as_str)
            .unwrap_or("void")
            .to_string();
        return Some((args, returns));
    }
    let sig = info.export_func(export)?.sig.as_ref()?;
    let sql = |t: &pg_wasm_runtime::WasmType| crate::inspect::sql_of(*t).to_string();
    Some((
        sig.params.iter().map(sql).collect(),
        sig.results.first().map_or("void".into(), sql),
    ))
}

type Caller = Box<dyn FnMut(&[Value]) -> Result<(Option<String>, u64)>>;

fn core_caller(bytes: &[u8], export: &str, limits: Limits, shown: &str) -> Result<Caller> {
    let engine = engine()?;
    let err = {
        let (shown, export) = (shown.to_string(), export.to_string());
        move |e: RuntimeError| failed(format!("{shown}: {export}: {e}"))
    };
    let module = pg_wasm_runtime::compile(engine, bytes, usize::MAX)
        .map_err(|e| failed(format!("{shown}: {e}")))?;
    let info = pg_wasm_runtime::describe(&module);
    let Some((arg_types, returns)) = core_signature(bytes, &info, export) else {
        let funcs = info
            .exports
            .iter()
            .filter(|e| e.kind == "func")
            .map(|e| e.name.clone());
        return Err(failed(format!(
            "{shown}: no export {export} that pg_wasm can call (exports: {})",
            names(funcs)
        )));
    };
    let prepared = Prepared::<CliHost>::new(engine, &module).map_err(err.clone())?;
    let mut inst = Instance::from_prepared(engine, &prepared, export, limits, CliHost::default())
        .map_err(err.clone())?;
    let kinds: Vec<Crossing> = arg_types.iter().map(|t| crossing(t)).collect();
    let result = crossing(&returns);
    let shown = shown.to_string();
    let export = export.to_string();
    Ok(Box::new(move |args: &[Value]| {
        if args.len() != kinds.len() {
            return Err(CliError::Usage(format!(
                "{export} takes {} argument(s) ({}), not {}",
                kinds.len(),
                arg_types.join(", "),
                args.len()
            )));
        }
        let mut buf = vec![ValRaw::i64(0); inst.slots().max(2 * kinds.len()) + 1];
        let mut n = 0;
        let mut wrote = false;
        for (i, (v, k)) in args.iter().zip(&kinds).enumerate() {
            let what = || format!("{export}: argument {} ({})", i + 1, arg_types[i]);
            match k {
                Crossing::Bool | Crossing::Int16 | Crossing::Int32 => {
                    buf[n] = ValRaw::i32(integer(v, &what)? as i32);
                    n += 1;
                }
                Crossing::Int64 => {
                    buf[n] = ValRaw::i64(integer(v, &what)?);
                    n += 1;
                }
                Crossing::Float32 => {
                    buf[n] = ValRaw::f32((float(v, &what)? as f32).to_bits());
                    n += 1;
                }
                Crossing::Float64 => {
                    buf[n] = ValRaw::f64(float(v, &what)?.to_bits());
                    n += 1;
                }
                _ => {
                    let (ptr, len) = if v.is_null() {
                        (0, -1)
                    } else {
                        let b = bytes_of(v, *k).map_err(|m| failed(format!("{}: {m}", what())))?;
                        let p = inst.write_bytes(&b, !wrote).map_err(err.clone())?;
                        wrote = true;
                        (p, b.len() as i32)
                    };
                    buf[n] = ValRaw::i32(ptr);
                    buf[n + 1] = ValRaw::i32(len);
                    n += 2;
                }
            }
        }
        let fuel = if wrote {
            inst.call_after_writes(&mut buf)
        } else {
            inst.call(&mut buf)
        }
        .map_err(|e| failed(format!("{shown}: {export}: {e}")))?;
        let out = match result {
            Crossing::Void => Some(String::new()),
            Crossing::Bool => Some((buf[0].get_i32() != 0).to_string()),
            Crossing::Int16 | Crossing::Int32 => Some(buf[0].get_i32().to_string()),
            Crossing::Int64 => Some(buf[0].get_i64().to_string()),
            Crossing::Float32 => Some(f32::from_bits(buf[0].get_f32()).to_string()),
            Crossing::Float64 => Some(f64::from_bits(buf[0].get_f64()).to_string()),
            k => {
                let packed = buf[0].get_i64() as u64;
                let (ptr, len) = ((packed >> 32) as i32, packed as u32);
                if len == u32::MAX {
                    None
                } else {
                    let b = inst
                        .read_bytes(ptr, len as i32)
                        .map_err(|e| failed(format!("{shown}: {export}: {e}")))?;
                    Some(if k == Crossing::Bytes {
                        bytea_output(b)
                    } else {
                        String::from_utf8_lossy(b).into_owned()
                    })
                }
            }
        };
        Ok((out, fuel))
    }))
}

fn integer(v: &Value, what: &dyn Fn() -> String) -> Result<i64> {
    match v {
        Value::Number(n) if n.is_i64() => Ok(n.as_i64().unwrap()),
        Value::Bool(b) => Ok(*b as i64),
        Value::String(s) => match s.as_str() {
            "true" | "t" => Ok(1),
            "false" | "f" => Ok(0),
            s => s
                .trim()
                .parse()
                .map_err(|_| CliError::Usage(format!("{}: \"{s}\" is not an integer", what()))),
        },
        v => Err(CliError::Usage(format!(
            "{}: {v} is not an integer",
            what()
        ))),
    }
}

fn float(v: &Value, what: &dyn Fn() -> String) -> Result<f64> {
    match v {
        Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| CliError::Usage(format!("{}: \"{s}\" is not a number", what()))),
        v => Err(CliError::Usage(format!("{}: {v} is not a number", what()))),
    }
}

/// A non-numeric argument's bytes: a string as it is (bytea's `\x` hex
/// decoded), any other JSON value as JSON text.
fn bytes_of(v: &Value, k: Crossing) -> std::result::Result<Vec<u8>, String> {
    match (v, k) {
        (Value::String(s), Crossing::Bytes) => bytea_input(s),
        (Value::String(s), _) => Ok(s.as_bytes().to_vec()),
        (v, _) => Ok(v.to_string().into_bytes()),
    }
}

fn component_caller(bytes: &[u8], export: &str, limits: Limits, shown: &str) -> Result<Caller> {
    let engine = engine()?;
    let (component, info) = crate::sandbox::component(bytes, shown)?;
    let Some(ex) = info.exports.iter().find(|e| e.is_named(export)).cloned() else {
        return Err(failed(format!(
            "{shown}: no export {export} (exports: {})",
            names(info.exports.iter().map(|e| e.name()))
        )));
    };
    let err = {
        let (shown, export) = (shown.to_string(), export.to_string());
        move |e: RuntimeError| failed(format!("{shown}: {export}: {e}"))
    };
    let prepared = PreparedComponent::<CliHost>::new(engine, &component).map_err(err.clone())?;
    let index = prepared.export_index(&ex).map_err(err.clone())?;
    let mut inst = prepared
        .instantiate(engine, limits, CliHost::default())
        .map_err(err.clone())?;
    let func = inst.func(&index).map_err(err.clone())?;
    let shown = shown.to_string();
    Ok(Box::new(move |args: &[Value]| {
        if args.len() != ex.params.len() {
            return Err(CliError::Usage(format!(
                "{} takes {} argument(s) ({}), not {}",
                ex.name(),
                ex.params.len(),
                ex.wit(),
                args.len()
            )));
        }
        let mut vals = Vec::with_capacity(args.len());
        for (v, (pname, t)) in args.iter().zip(&ex.params) {
            // Command-line strings are JSON, except for string-like WIT types.
            let v = match (v, t) {
                (Value::String(s), t) if !is_stringy(t) => {
                    serde_json::from_str(s).unwrap_or_else(|_| v.clone())
                }
                _ => v.clone(),
            };
            vals.push(
                wit_json::json_to_val(&v, t, &format!("argument {pname}"))
                    .map_err(|e| CliError::Usage(format!("{}: {e}", ex.name())))?,
            );
        }
        let mut results = vec![Val::Bool(false); ex.result.is_some() as usize];
        let called = inst.call(&func, &vals, &mut results);
        for (stream, out) in inst.take_output() {
            eprint!("{stream}: {}", out.text);
        }
        let fuel = called.map_err(|e| failed(format!("{shown}: {}: {e}", ex.name())))?;
        let out = match results.pop() {
            None => Some(String::new()),
            Some(v) => match wit_json::val_json(v, &ex.name())
                .map_err(|e| failed(format!("{shown}: {}: {e}", ex.name())))?
            {
                Value::Null => None,
                Value::String(s) => Some(s),
                j => Some(j.to_string()),
            },
        };
        Ok((out, fuel))
    }))
}

fn is_stringy(t: &pg_wasm_runtime::component::WitType) -> bool {
    use pg_wasm_runtime::component::WitType;
    match t {
        WitType::String | WitType::Char | WitType::Enum(_) => true,
        WitType::Option(inner) => is_stringy(inner),
        _ => false,
    }
}

/// A .js file's function, called as a deployed one is: the file is the
/// library `name`, the function's body `return require(name).f(args)`.
fn js_caller(
    text: String,
    name: String,
    f: crate::jsfile::JsFunction,
    limits: Limits,
    shown: &str,
) -> Result<Caller> {
    let engine = engine()?;
    let image = javascript_image()?;
    let at = {
        let (shown, fname) = (shown.to_string(), f.name.clone());
        move |e: String| failed(format!("{shown}: {fname}: {e}"))
    };
    let rt = |e: RuntimeError| at(e.to_string());
    let prepared = Prepared::<CliHost>::javascript(engine, &image).map_err(rt)?;
    let host = CliHost {
        library: Some((name.clone(), text)),
    };
    let mut inst =
        Instance::from_prepared(engine, &prepared, js::CALL_EXPORT, limits, host).map_err(rt)?;
    let params: Vec<Option<String>> = f.arg_names.iter().cloned().map(Some).collect();
    let body = crate::jsfile::call_body(&name, &f);
    let source = js::function_source(&f.name, &params, false, &body);
    let bytecode = match js::ABI.compile(&mut inst, &source, &f.name).map_err(rt)? {
        Ok(b) => b,
        Err(e) => return Err(at(js_error(e))),
    };
    if let Some(e) = js::ABI.load(&mut inst, &bytecode, seed()).map_err(rt)? {
        return Err(at(js_error(e)));
    }
    let kinds: Vec<Crossing> = f.arg_types.iter().map(|t| crossing(t)).collect();
    let result = crossing(&f.returns);
    let kind = match result {
        Crossing::Void => ResultKind::Void,
        Crossing::Bool => ResultKind::Bool,
        Crossing::Int16 | Crossing::Int32 | Crossing::Int64 => ResultKind::Integer,
        Crossing::Float32 | Crossing::Float64 => ResultKind::Float,
        Crossing::Bytes => ResultKind::Bytes,
        Crossing::Json => ResultKind::Json,
        Crossing::Text => ResultKind::Text,
    } as i32;
    let mut guest = js::GuestArgs::default();
    let mut record = ArgRecord::default();
    Ok(Box::new(move |args: &[Value]| {
        if args.len() != kinds.len() {
            return Err(CliError::Usage(format!(
                "{} takes {} argument(s) ({}), not {}",
                f.name,
                kinds.len(),
                f.args,
                args.len()
            )));
        }
        record.clear();
        for (i, (v, k)) in args.iter().zip(&kinds).enumerate() {
            let what = || {
                format!(
                    "{}: argument {} ({})",
                    f.name, f.arg_names[i], f.arg_types[i]
                )
            };
            match (v, k) {
                (Value::Null, _) => record.null(),
                (_, Crossing::Bool) => record.bool(integer(v, &what)? != 0),
                (_, Crossing::Int16 | Crossing::Int32) => record.int32(integer(v, &what)? as i32),
                (_, Crossing::Int64) => record.int64(integer(v, &what)?),
                (_, Crossing::Float32 | Crossing::Float64) => record.float64(float(v, &what)?),
                (_, Crossing::Bytes) => record.bytes(
                    &bytes_of(v, Crossing::Bytes)
                        .map_err(|m| CliError::Usage(format!("{}: {m}", what())))?,
                ),
                (Value::String(s), Crossing::Json) => record.json(s.as_bytes()),
                (v, Crossing::Json) => record.json(v.to_string().as_bytes()),
                (v, _) => record.string(&bytes_of(v, Crossing::Text).unwrap_or_default()),
            }
        }
        let mut buf = [ValRaw::i64(0); 3];
        let e = |e: RuntimeError| at(e.to_string());
        let fuel = js::ABI
            .call(&mut inst, &mut guest, &record, kind, &mut buf)
            .map_err(e)?;
        let out = match Returned::from_packed(&inst, buf[0].get_i64()).map_err(e)? {
            Returned::Null => None,
            Returned::Threw(ex) => return Err(at(js_error(ex))),
            Returned::Bytes { ptr, len } => {
                let bytes = inst.read_bytes(ptr, len).map_err(e)?.to_vec();
                inst.free(ptr, len).map_err(e)?;
                Some(match result {
                    Crossing::Bool
                    | Crossing::Int16
                    | Crossing::Int32
                    | Crossing::Int64
                    | Crossing::Float32
                    | Crossing::Float64 => match js::Scalar::decode(&bytes) {
                        Some(js::Scalar::Null) | None => return Ok((None, fuel)),
                        Some(js::Scalar::Bool(b)) => b.to_string(),
                        Some(js::Scalar::Number(n)) => n.to_string(),
                        Some(js::Scalar::BigInt(n)) => n.to_string(),
                    },
                    Crossing::Bytes => bytea_output(&bytes),
                    _ => String::from_utf8_lossy(&bytes).into_owned(),
                })
            }
        };
        Ok((out, fuel))
    }))
}

/// A JavaScript exception as the server shows it: the message, then the
/// stack.
fn js_error(e: js::Exception) -> String {
    if e.stack.is_empty() {
        e.message
    } else {
        format!("{}\n{}", e.message, e.stack.trim_end())
    }
}

fn seed() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(1)
}
