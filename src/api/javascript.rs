//! `wasm.load_javascript` and `wasm.unload_javascript`: the libraries
//! functions of LANGUAGE javascript load with `require(name)`
//! (docs/javascript.md, "Libraries").

use super::modules::{raise, writable};
use crate::catalog::libraries;
use crate::error::Result;
use crate::pg::javascript;

/// What `require` can name: npm-style names (`dayjs`, `@scope/pkg`,
/// `lodash@4`), at most 200 bytes (the table checks it too).
fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '@')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_@/.+-".contains(c))
        && name.len() <= 200;
    if ok {
        Ok(())
    } else {
        Err(crate::error::PgWasmError::InvalidParameter(format!(
            "invalid JavaScript library name \"{name}\": use letters, digits and _ @ / . + - (at most 200 bytes), starting with a letter, a digit, _ or @"
        )))
    }
}

fn load_javascript_inner(name: &str, source: &str) -> Result<bool> {
    writable("wasm.load_javascript()")?;
    check_name(name)?;
    javascript::check_library(name, source)?;
    libraries::store(name, source, pg_wasm_runtime::sha256(source.as_bytes()))
}

#[pgrx::pg_extern(sql = r#"
CREATE FUNCTION wasm.load_javascript(name text, source text) RETURNS boolean VOLATILE STRICT
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.load_javascript(text, text) IS
  'Store a JavaScript library (a CommonJS module, e.g. an npm package bundled into one file) for require(name); true if it replaced one. Yours only, and only your functions may require it.';
"#)]
fn load_javascript(name: &str, source: &str) -> bool {
    raise(load_javascript_inner(name, source))
}

fn unload_javascript_inner(name: &str) -> Result<()> {
    writable("wasm.unload_javascript()")?;
    libraries::remove(name)
}

#[pgrx::pg_extern(sql = r#"
CREATE FUNCTION wasm.unload_javascript(name text) RETURNS void VOLATILE STRICT
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.unload_javascript(text) IS
  'Remove a JavaScript library (its owner only); functions that require it fail from their next statement.';
"#)]
fn unload_javascript(name: &str) {
    raise(unload_javascript_inner(name))
}
