//! Component values ⇄ JSON: how a SQL value in its JSON form (and a
//! command-line argument, for `pg-wasm run`) becomes a WIT value, and how a
//! WIT result is written back. Records are objects keyed by snake_case field
//! names, `list<u8>` is bytea's hex text (`\\x0102`), flags arrays of names,
//! variants `{"case": value}`. Shared by the extension and the CLI, so both
//! accept and print the same forms.

use super::{snake, Val, WitType};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Why a value could not cross.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueError {
    /// The JSON value is not of the WIT type's form.
    InvalidParameter(String),
    /// A number outside the WIT type's range.
    OutOfRange(String),
    /// A WIT type with no SQL form yet (tuples, resources, ...).
    Unsupported(String),
    /// The guest returned `err`: its message, and which function did.
    Raised { message: String, detail: String },
    /// A result value with no JSON form (what it is).
    NoJsonForm(String),
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::InvalidParameter(m)
            | ValueError::OutOfRange(m)
            | ValueError::Unsupported(m)
            | ValueError::Raised { message: m, .. } => f.write_str(m),
            ValueError::NoJsonForm(what) => write!(f, "invalid value: {what}"),
        }
    }
}

impl std::error::Error for ValueError {}

type Result<T> = std::result::Result<T, ValueError>;

/// `v` (the JSON form of a SQL value) as a component value of type `t`;
/// `what` names the argument in errors.
pub fn json_to_val(v: &Value, t: &WitType, what: &str) -> Result<Val> {
    let wrong = |want: &str| {
        ValueError::InvalidParameter(format!(
            "{what}: {} is not {want} (WIT type {})",
            short(v),
            t.wit()
        ))
    };
    let int = |lo: i64, hi: i64| -> Result<i64> {
        let n = v.as_i64().ok_or_else(|| wrong("an integer"))?;
        if n < lo || n > hi {
            return Err(ValueError::OutOfRange(format!(
                "{what}: {n} does not fit WIT type {}",
                t.wit()
            )));
        }
        Ok(n)
    };
    if v.is_null() {
        return match t {
            WitType::Option(_) => Ok(Val::Option(None)),
            _ => Err(ValueError::InvalidParameter(format!(
                "{what} is NULL, but its WIT type {} is not an option",
                t.wit()
            ))),
        };
    }
    Ok(match t {
        WitType::Option(inner) => Val::Option(Some(Box::new(json_to_val(v, inner, what)?))),
        WitType::Result { ok: Some(inner), .. } => {
            Val::Result(Ok(Some(Box::new(json_to_val(v, inner, what)?))))
        }
        WitType::Result { ok: None, .. } => Val::Result(Ok(None)),
        WitType::Bool => Val::Bool(v.as_bool().ok_or_else(|| wrong("a boolean"))?),
        WitType::S8 => Val::S8(int(i8::MIN.into(), i8::MAX.into())? as i8),
        WitType::U8 => Val::U8(int(0, u8::MAX.into())? as u8),
        WitType::S16 => Val::S16(int(i16::MIN.into(), i16::MAX.into())? as i16),
        WitType::U16 => Val::U16(int(0, u16::MAX.into())? as u16),
        WitType::S32 => Val::S32(int(i32::MIN.into(), i32::MAX.into())? as i32),
        WitType::U32 => Val::U32(int(0, u32::MAX.into())? as u32),
        WitType::S64 => Val::S64(int(i64::MIN, i64::MAX)?),
        WitType::U64 => Val::U64(match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            ValueError::OutOfRange(format!(
                "{what}: {} does not fit WIT type u64 (a whole number from 0 to 18446744073709551615)",
                short(v)
            ))
        })?),
        WitType::F32 => Val::Float32(float(v).ok_or_else(|| wrong("a number"))? as f32),
        WitType::F64 => Val::Float64(float(v).ok_or_else(|| wrong("a number"))?),
        WitType::String => Val::String(v.as_str().ok_or_else(|| wrong("a string"))?.into()),
        WitType::Char => {
            let s = v.as_str().ok_or_else(|| wrong("a string"))?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Val::Char(c),
                _ => return Err(wrong("one character")),
            }
        }
        WitType::Enum(cases) => {
            let s = v.as_str().ok_or_else(|| wrong("a string"))?;
            if !cases.iter().any(|c| c == s) {
                return Err(wrong("one of its cases"));
            }
            Val::Enum(s.into())
        }
        WitType::Flags(names) => {
            let items = v.as_array().ok_or_else(|| wrong("an array"))?;
            let mut set = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(s) if names.iter().any(|n| n == s) => set.push(s.to_string()),
                    _ => return Err(wrong("an array of its flag names")),
                }
            }
            Val::Flags(set)
        }
        WitType::List(inner) if **inner == WitType::U8 => {
            // bytea in JSON (row_to_json) is its hex text form, \x0102...
            let s = v.as_str().ok_or_else(|| wrong("bytea"))?;
            let hex = s.strip_prefix("\\x").ok_or_else(|| wrong("bytea in hex form"))?;
            let bytes = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map(Val::U8))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| wrong("bytea in hex form"))?;
            Val::List(bytes)
        }
        WitType::List(inner) => {
            let items = v.as_array().ok_or_else(|| wrong("an array"))?;
            Val::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| json_to_val(item, inner, &format!("{what}, element {}", i + 1)))
                    .collect::<Result<_>>()?,
            )
        }
        WitType::Record { fields, .. } => {
            let object = v.as_object().ok_or_else(|| wrong("a row"))?;
            Val::Record(
                fields
                    .iter()
                    .map(|(name, ft)| {
                        let field = object.get(&snake(name)).unwrap_or(&Value::Null);
                        json_to_val(field, ft, &format!("{what}, field {}", snake(name)))
                            .map(|val| (name.clone(), val))
                    })
                    .collect::<Result<_>>()?,
            )
        }
        WitType::Variant(cases) => {
            // {"case": payload}, or "case" for a case without one
            let (case, payload) = match v {
                Value::String(s) => (s.as_str(), None),
                Value::Object(o) if o.len() == 1 => {
                    let (k, p) = o.iter().next().expect("one key");
                    (k.as_str(), Some(p))
                }
                _ => return Err(wrong("{\"case\": value}")),
            };
            let (name, ty) = cases
                .iter()
                .find(|(n, _)| n == case || snake(n) == case)
                .ok_or_else(|| wrong("one of its cases"))?;
            let payload = match (ty, payload) {
                (Some(ty), Some(p)) => {
                    Some(Box::new(json_to_val(p, ty, &format!("{what}, case {case}"))?))
                }
                (Some(_), None) => return Err(wrong("a case with its value")),
                (None, _) => None,
            };
            Val::Variant(name.clone(), payload)
        }
        WitType::Tuple(_) | WitType::Other(_) => {
            return Err(ValueError::Unsupported(format!(
                "{what}: WIT type {} is not mapped to SQL yet",
                t.wit()
            )))
        }
    })
}

fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        // row_to_json writes NaN and infinities as strings
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}…", &s[..s.floor_char_boundary(60)])
    } else {
        s
    }
}

/// A component value as JSON (what the extension's JSON reader turns into
/// a datum, and what `pg-wasm run` prints): records as
/// objects keyed by snake_case field names, lists as arrays (`list<u8>` as
/// bytea's hex text), flags as arrays of names, variants as
/// `{"case": value}`. An `err` anywhere raises P0001 with its text.
pub fn val_json(v: Val, target: &str) -> Result<Value> {
    Ok(match v {
        Val::Bool(b) => Value::Bool(b),
        Val::S8(n) => n.into(),
        Val::U8(n) => n.into(),
        Val::S16(n) => n.into(),
        Val::U16(n) => n.into(),
        Val::S32(n) => n.into(),
        Val::U32(n) => n.into(),
        Val::S64(n) => n.into(),
        Val::U64(n) => n.into(),
        Val::Float32(f) => number(f.into()),
        Val::Float64(f) => number(f),
        Val::Char(c) => Value::String(c.to_string()),
        Val::String(s) | Val::Enum(s) => Value::String(s),
        Val::List(items) if !items.is_empty() && items.iter().all(|i| matches!(i, Val::U8(_))) => {
            let mut hex = String::with_capacity(2 + 2 * items.len());
            hex.push_str("\\x");
            for i in items {
                if let Val::U8(b) = i {
                    hex.push_str(&format!("{b:02x}"));
                }
            }
            Value::String(hex)
        }
        Val::List(items) | Val::Tuple(items) => Value::Array(
            items
                .into_iter()
                .map(|i| val_json(i, target))
                .collect::<Result<_>>()?,
        ),
        Val::Record(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(n, v)| Ok((snake(&n), val_json(v, target)?)))
                .collect::<Result<Map<_, _>>>()?,
        ),
        Val::Flags(names) => Value::Array(names.into_iter().map(Value::String).collect()),
        Val::Variant(case, payload) => {
            let mut m = Map::new();
            m.insert(
                case,
                match payload {
                    Some(p) => val_json(*p, target)?,
                    None => Value::Null,
                },
            );
            Value::Object(m)
        }
        Val::Option(None) | Val::Result(Ok(None)) => Value::Null,
        Val::Option(Some(v)) | Val::Result(Ok(Some(v))) => val_json(*v, target)?,
        Val::Result(Err(e)) => {
            return Err(ValueError::Raised {
                message: match e.map(|e| *e) {
                    Some(Val::String(s)) => s,
                    Some(other) => val_json(other, target)?.to_string(),
                    None => "error".into(),
                },
                detail: format!("returned as err by {target}"),
            })
        }
        other => return Err(ValueError::NoJsonForm(format!("{other:?} has no SQL form"))),
    })
}

fn number(f: f64) -> Value {
    Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
}
