//! wasm.parse_body(text): how pg_wasm reads a wasm function's body, for the
//! `wasm.functions` view. The view, `wasm.unload`'s dependency check, the
//! validator and the call handler all use the one parser in
//! `pg::body`, so a body that runs is never missed by the others.

use crate::pg::body::{self, Body};
use pgrx::prelude::*;

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.parse_body(body text)
RETURNS TABLE(module text, export text, inline boolean)
IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.parse_body(text) IS
  'The module and export a wasm function body names (inline for WebAssembly text); no row if pg_wasm cannot read it.';
"#)]
fn parse_body(
    body: &str,
) -> TableIterator<
    'static,
    (
        name!(module, Option<String>),
        name!(export, Option<String>),
        name!(inline, bool),
    ),
> {
    TableIterator::new(match body::parse(body) {
        Ok(Body::Export { module, export }) => Some((Some(module), Some(export), false)),
        Ok(Body::InlineWat(_)) => Some((None, None, true)),
        // body::parse reads wasm bodies only.
        Ok(Body::JavaScript(_) | Body::Python(_)) => None,
        Err(_) => None,
    })
}
