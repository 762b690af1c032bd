//! The `AS '...'` of a wasm function: `'module.export'` or inline WAT.

use crate::error::{PgWasmError, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `'module.export'`: an export of a module in `wasm.module`.
    Export { module: String, export: String },
    /// A body starting with `(`: a WebAssembly text module of its own.
    InlineWat(String),
    /// A function of `LANGUAGE javascript`: its source.
    JavaScript(String),
    /// A function of `LANGUAGE python`: its source.
    Python(String),
}

/// `[a-z_][a-z0-9_]*`, at most 63 bytes (PostgreSQL's NAMEDATALEN).
pub fn is_module_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
        && name.len() <= 63
}

pub fn check_module_name(name: &str) -> Result<()> {
    if is_module_name(name) {
        Ok(())
    } else {
        Err(PgWasmError::InvalidParameter(format!(
            "invalid wasm module name \"{name}\": use lower-case letters, digits and _, \
             starting with a letter or _, at most 63 characters"
        )))
    }
}

pub fn parse(prosrc: &str) -> Result<Body> {
    let src = prosrc.trim();
    if src.starts_with('(') {
        return Ok(Body::InlineWat(src.to_string()));
    }
    match src.split_once('.') {
        Some((module, export)) if is_module_name(module) && !export.is_empty() => {
            Ok(Body::Export {
                module: module.to_string(),
                export: export.to_string(),
            })
        }
        _ => Err(PgWasmError::invalid_function(
            format!("invalid wasm function body \"{src}\""),
            Some(
                "The body is either 'module.export' or a WebAssembly text module starting with \"(\"."
                    .into(),
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bodies() {
        assert_eq!(
            parse(" math.add ").unwrap(),
            Body::Export {
                module: "math".into(),
                export: "add".into()
            }
        );
        assert_eq!(
            parse("m.a.b").unwrap(),
            Body::Export {
                module: "m".into(),
                export: "a.b".into()
            }
        );
        assert!(matches!(parse("(module)").unwrap(), Body::InlineWat(_)));
        assert!(parse("Math.add").is_err());
        assert!(parse("math.").is_err());
        assert!(parse("math").is_err());
    }

    #[test]
    fn module_names() {
        assert!(is_module_name("_a9"));
        assert!(!is_module_name("9a"));
        assert!(!is_module_name(""));
        assert!(!is_module_name("a-b"));
        assert!(!is_module_name(&"a".repeat(64)));
    }
}
