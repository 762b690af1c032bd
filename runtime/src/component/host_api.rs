//! pg_wasm's host API for components: the `pg:wasm/host` interface of
//! `sdk/wit/host.wit` (log, raise-error, query), answered by the same
//! [`Host`] the `pg` imports of core modules use, so `allow_spi`, the
//! caller's rights and read-only rules are the embedding's, in one place.
//! Functions are defined with dynamic values; their signatures are checked
//! at load by [`check_import`], so a call never sees other types.

use super::sandbox::ComponentState;
use super::wit::{ComponentExport, WitType};
use crate::host::{Host, HostError, LogLevel};
use wasmtime::component::types::{ComponentExtern, ComponentFunc, ComponentItem};
use wasmtime::component::{Linker, Val};
use wasmtime::{Engine, StoreContextMut};

/// The interface's name without its version.
pub const INTERFACE: &str = "pg:wasm/host";
/// The version the linker provides (0.1.x imports match it).
const VERSIONED: &str = "pg:wasm/host@0.1.0";

const LEVELS: [&str; 5] = ["debug", "log", "info", "notice", "warning"];

/// Each function of the interface and its WIT signature.
fn signature(func: &str) -> Option<String> {
    let level = format!("enum {{ {} }}", LEVELS.join(", "));
    Some(match func {
        "log" => format!("func(level: {level}, message: string)"),
        "raise-error" => "func(message: string)".into(),
        "query" => "func(sql: string, params: string) -> string".into(),
        _ => return None,
    })
}

/// `None` if `name` is not the host interface; else whether the import
/// asks only for its functions, with their signatures.
pub fn check_import(
    engine: &Engine,
    name: &str,
    item: &ComponentExtern<'_>,
) -> Option<Result<(), String>> {
    let unversioned = name.split('@').next().unwrap_or(name);
    if unversioned != INTERFACE {
        return None;
    }
    if !name.ends_with("@0.1.0") && name.contains('@') && !name.contains("@0.1.") {
        return Some(Err("pg_wasm provides version 0.1.0".into()));
    }
    let ComponentItem::ComponentInstance(instance) = &item.ty else {
        return Some(Err("not an interface".into()));
    };
    for (func, item) in instance.exports(engine) {
        let ComponentItem::ComponentFunc(f) = item.ty else {
            // the level enum is exported as a type; nothing to check
            continue;
        };
        let have = wit_of(func, &f);
        match signature(func) {
            Some(want) if want == have => {}
            Some(want) => {
                return Some(Err(format!(
                    "{func} is {have}, sdk/wit/host.wit says {want}"
                )))
            }
            None => return Some(Err(format!("it has no function {func}"))),
        }
    }
    Some(Ok(()))
}

fn wit_of(name: &str, f: &ComponentFunc) -> String {
    ComponentExport {
        interface: None,
        func: name.into(),
        params: f
            .params()
            .map(|(n, t)| (n.to_string(), WitType::from_type(&t)))
            .collect(),
        result: f.results().next().map(|t| WitType::from_type(&t)),
    }
    .wit()
}

fn string(v: Option<&Val>) -> Result<&str, HostError> {
    match v {
        Some(Val::String(s)) => Ok(s),
        _ => Err(HostError::Invalid("expected a string".into())),
    }
}

/// Adds the interface to `linker`.
pub(crate) fn add_to_linker<H: Host + Send + 'static>(
    linker: &mut Linker<ComponentState<H>>,
) -> wasmtime::Result<()> {
    let mut host = linker.instance(VERSIONED)?;
    host.func_new(
        "log",
        |mut store: StoreContextMut<'_, ComponentState<H>>, _, params: &[Val], _: &mut [Val]| {
            let level = match params.first() {
                Some(Val::Enum(l)) => LEVELS.iter().position(|x| x == l),
                _ => None,
            }
            .and_then(|i| LogLevel::from_i32(i as i32))
            .ok_or_else(|| HostError::Invalid("pg:wasm/host.log: bad level".into()))?;
            let message = string(params.get(1))?;
            if message.contains('\0') {
                return Err(HostError::Invalid(
                    "pg:wasm/host.log: the message contains a NUL character".into(),
                )
                .into());
            }
            let state = store.data_mut();
            state.host.log(level, message, state.calls)?;
            Ok(())
        },
    )?;
    host.func_new(
        "raise-error",
        |_: StoreContextMut<'_, ComponentState<H>>, _, params: &[Val], _: &mut [Val]| {
            let message = string(params.first())?;
            if message.contains('\0') {
                return Err(HostError::Invalid(
                    "pg:wasm/host.raise-error: the message contains a NUL character".into(),
                )
                .into());
            }
            Err(HostError::Raised(message.to_string()).into())
        },
    )?;
    host.func_new(
        "query",
        |mut store: StoreContextMut<'_, ComponentState<H>>,
         _,
         params: &[Val],
         results: &mut [Val]| {
            let sql = string(params.first())?;
            let args = string(params.get(1))?;
            let rows = store.data_mut().host.query(sql, args)?;
            let rows = String::from_utf8(rows)
                .map_err(|_| HostError::Invalid("pg:wasm/host.query: rows are not UTF-8".into()))?;
            results[0] = Val::String(rows);
            Ok(())
        },
    )?;
    Ok(())
}
