//! The guest's decision (SPEC §6), read where it lies in guest memory.
//!
//! A well-formed decision is read without building a `serde_json::Value`:
//! strings are borrowed unless they hold escapes, other values are kept as
//! their JSON text. Anything else (unknown keys, values of the wrong JSON
//! type, broken JSON) is read again as a `Value` to say exactly what is
//! wrong; that path runs only for decisions that end in an error.

use crate::error::Result;
use crate::marshal::codec::invalid;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// One value of `"new"`.
pub enum Val<'a> {
    Null,
    Str(Cow<'a, str>),
    /// A number, boolean, object or array, as JSON text.
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
        match serde_json::from_slice::<Fast<'a>>(bytes) {
            Ok(Fast(d)) => Ok(d),
            Err(_) => slow(bytes, target),
        }
    }
}

/// A string borrowed from the input when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

fn val(raw: &RawValue) -> std::result::Result<Val<'_>, serde_json::Error> {
    let text = raw.get();
    Ok(match text.as_bytes()[0] {
        b'n' => Val::Null,
        b'"' => Val::Str(serde_json::from_str::<CowStr>(text)?.0),
        _ => Val::Json(Cow::Borrowed(text)),
    })
}

/// The decision when it is well formed; any surprise is an error (and
/// sends the caller to [`slow`]).
struct Fast<'a>(Decision<'a>);

impl<'de> Deserialize<'de> for Fast<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fast<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a trigger decision")
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
                Ok(Fast(Decision::proceed()))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut d = Decision::proceed();
                while let Some(key) = m.next_key::<CowStr<'de>>()? {
                    match key.0.as_ref() {
                        "new" => d.new = m.next_value::<Option<NewCols<'de>>>()?.map(|n| n.0),
                        "skip" => d.skip = m.next_value::<Option<bool>>()?.unwrap_or(false),
                        "error" => d.error = m.next_value::<Option<CowStr<'de>>>()?.map(|s| s.0),
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                            return Err(de::Error::custom("unknown key"));
                        }
                    }
                }
                Ok(Fast(d))
            }
        }
        d.deserialize_any(V)
    }
}

struct NewCols<'a>(Vec<(Cow<'a, str>, Val<'a>)>);

impl<'de> Deserialize<'de> for NewCols<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NewCols<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of columns")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut cols = Vec::with_capacity(m.size_hint().unwrap_or(4));
                while let Some((k, raw)) = m.next_entry::<CowStr<'de>, &'de RawValue>()? {
                    cols.push((k.0, val(raw).map_err(de::Error::custom)?));
                }
                Ok(NewCols(cols))
            }
        }
        d.deserialize_map(V)
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
