//! The guest's decision (SPEC §6), read where it lies in guest memory.
//!
//! A well-formed decision is read with the same small reader the Rust SDK
//! uses for events (`pg_wasm_json`), without building a `serde_json::Value`:
//! strings are borrowed unless they hold escapes, other values are kept as
//! their JSON text (numbers and literals checked strictly, objects and
//! arrays by serde_json). Anything else (unknown keys, values of the wrong
//! JSON type, broken JSON) is read again as a `Value` to say exactly what
//! is wrong; that path runs only for decisions that end in an error.

use crate::error::Result;
use crate::marshal::codec::invalid;
use pg_wasm_json::{scalar_ok, unquote, Scanner};
use serde_json::Value;
use std::borrow::Cow;

/// One value of `"new"`.
pub enum Val<'a> {
    Null,
    Str(Cow<'a, str>),
    /// A number, boolean, object or array, as (valid) JSON text.
    Json(Cow<'a, str>),
}

pub struct Decision<'a> {
    /// The columns to replace, in the guest's order.
    pub new: Option<Vec<(Cow<'a, str>, Val<'a>)>>,
    /// Non-JSON-object `"new"` (only reported where "new" is allowed).
    pub new_not_object: Option<String>,
    pub skip: bool,
    pub error: Option<Cow<'a, str>>,
}

impl<'a> Decision<'a> {
    fn proceed() -> Self {
        Decision {
            new: None,
            new_not_object: None,
            skip: false,
            error: None,
        }
    }

    /// Reads the decision; `target` names the function in errors.
    pub fn parse(bytes: &'a [u8], target: &str) -> Result<Self> {
        if bytes.is_empty() {
            return Ok(Self::proceed());
        }
        // A decision's new row is converted like a composite result.
        crate::marshal::budget::check(bytes, Some(crate::marshal::budget::TREE), false, target)?;
        match fast(bytes) {
            Some(d) => Ok(d),
            None => slow(bytes, target),
        }
    }
}

/// The decision when it is well formed; `None` at any surprise.
fn fast(bytes: &[u8]) -> Option<Decision<'_>> {
    let mut sc = Scanner::new(bytes).ok()?;
    let mut d = Decision::proceed();
    if !sc.null() && sc.open(b'{', b'}').ok()? {
        loop {
            match sc.key().ok()?.as_ref() {
                "new" => {
                    d.new = if sc.null() {
                        None
                    } else {
                        Some(columns(&mut sc)?)
                    }
                }
                "skip" => match sc.raw_value().ok()? {
                    "true" => d.skip = true,
                    "false" | "null" => d.skip = false,
                    _ => return None,
                },
                "error" => {
                    d.error = if sc.null() {
                        None
                    } else {
                        Some(strict_string(sc.raw_value().ok()?)?)
                    }
                }
                _ => return None,
            }
            if !sc.more(b'}').ok()? {
                break;
            }
        }
    }
    sc.at_end().then_some(d)
}

/// `"new"`'s object: column names and values.
fn columns<'a>(sc: &mut Scanner<'a>) -> Option<Vec<(Cow<'a, str>, Val<'a>)>> {
    let mut cols = Vec::with_capacity(4);
    if sc.open(b'{', b'}').ok()? {
        loop {
            let name = sc.key().ok()?;
            let raw = sc.raw_value().ok()?;
            let val = match raw.as_bytes()[0] {
                b'"' => Val::Str(strict_string(raw)?),
                b'{' | b'[' => {
                    serde_json::from_str::<Value>(raw).ok()?;
                    Val::Json(Cow::Borrowed(raw))
                }
                _ if raw == "null" => Val::Null,
                _ if scalar_ok(raw) => Val::Json(Cow::Borrowed(raw)),
                _ => return None,
            };
            cols.push((name, val));
            if !sc.more(b'}').ok()? {
                break;
            }
        }
    }
    Some(cols)
}

/// A string literal's text, as strictly as serde_json reads it: no raw
/// control characters, only valid escapes.
fn strict_string(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.starts_with('"') || raw.bytes().any(|b| b < 0x20) {
        return None;
    }
    match unquote(raw) {
        Cow::Borrowed(s) => Some(Cow::Borrowed(s)),
        Cow::Owned(_) => serde_json::from_str::<String>(raw).ok().map(Cow::Owned),
    }
}

/// Reads a decision the fast path refused, to report what is wrong with it
/// (or, for shapes it does not know, to read it anyway).
#[cold]
fn slow<'a>(bytes: &[u8], target: &str) -> Result<Decision<'a>> {
    let decision = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => m,
        Ok(Value::Null) => return Ok(Decision::proceed()),
        Ok(other) => {
            return Err(invalid(
                target,
                &format!("a trigger must return a JSON object (or nothing), not {other}"),
            ))
        }
        Err(e) => {
            return Err(invalid(
                target,
                &format!("the trigger's decision is not valid JSON: {e}"),
            ))
        }
    };
    if let Some(k) = decision
        .keys()
        .find(|k| !["new", "skip", "error"].contains(&k.as_str()))
    {
        return Err(invalid(
            target,
            &format!("unknown key \"{k}\" in the trigger's decision (expected new, skip or error)"),
        ));
    }
    let mut d = Decision::proceed();
    match decision.get("error") {
        None | Some(Value::Null) => {}
        Some(Value::String(message)) => d.error = Some(Cow::Owned(message.clone())),
        Some(other) => {
            return Err(invalid(
                target,
                &format!("\"error\" must be a string, not {other}"),
            ))
        }
    }
    d.skip = match decision.get("skip") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(other) => {
            return Err(invalid(
                target,
                &format!("\"skip\" must be a boolean, not {other}"),
            ))
        }
    };
    match decision.get("new") {
        None | Some(Value::Null) => {}
        Some(Value::Object(cols)) => {
            d.new = Some(
                cols.iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::Null => Val::Null,
                            Value::String(s) => Val::Str(Cow::Owned(s.clone())),
                            other => Val::Json(Cow::Owned(other.to_string())),
                        };
                        (Cow::Owned(k.clone()), v)
                    })
                    .collect(),
            )
        }
        Some(other) => {
            d.new = Some(Vec::new());
            d.new_not_object = Some(other.to_string());
        }
    }
    Ok(d)
}
