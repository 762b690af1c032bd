//! The `options` argument of `wasm.load` / `wasm.replace`.

use crate::catalog::Settings;
use crate::error::{PgWasmError, Result};
use serde_json::{Map, Value};

/// Which SQL functions to create for a module's exports.
#[derive(Clone, Debug, PartialEq)]
pub enum FunctionsOption {
    /// One function per export with a numeric signature.
    Auto,
    None,
    /// Only these exports, with these definitions.
    Explicit(Map<String, Value>),
}

#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub functions: FunctionsOption,
    pub schema: Option<String>,
    pub prefix: Option<String>,
    pub settings: Settings,
}

const KEYS: &[&str] = &[
    "functions",
    "schema",
    "prefix",
    "fuel",
    "memory_mb",
    "timeout_ms",
    "allow_spi",
];

fn string_option(obj: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(PgWasmError::InvalidParameter(format!(
            "option \"{key}\" must be a string, not {v}"
        ))),
    }
}

impl LoadOptions {
    /// `default_functions` applies when the key is absent: `Auto` for
    /// `wasm.load`, `None` for `wasm.replace` (which keeps what exists).
    pub fn parse(options: &Value, default_functions: FunctionsOption) -> Result<Self> {
        let empty = Map::new();
        let obj = match options {
            Value::Object(o) => o,
            Value::Null => &empty,
            other => {
                return Err(PgWasmError::InvalidParameter(format!(
                    "options must be a JSON object, not {other}"
                )))
            }
        };
        if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(PgWasmError::InvalidParameter(format!(
                "unknown option \"{k}\" (expected one of: {})",
                KEYS.join(", ")
            )));
        }
        let functions = match obj.get("functions") {
            None | Some(Value::Null) => default_functions,
            Some(Value::String(s)) if s == "auto" => FunctionsOption::Auto,
            Some(Value::String(s)) if s == "none" => FunctionsOption::None,
            Some(Value::Object(m)) => FunctionsOption::Explicit(m.clone()),
            Some(v) => {
                return Err(PgWasmError::InvalidParameter(format!(
                    "option \"functions\" must be \"auto\", \"none\" or an object, not {v}"
                )))
            }
        };
        Ok(LoadOptions {
            functions,
            schema: string_option(obj, "schema")?,
            prefix: string_option(obj, "prefix")?,
            settings: Settings::from_json(options)?,
        })
    }
}
