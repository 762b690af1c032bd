//! Typed triggers: the event document of SPEC §6 as a struct, the decision
//! as an enum.
//!
//! ```ignore
//! #[export(trigger)]
//! fn require_email(ev: TriggerEvent) -> TriggerResult {
//!     match ev.new_str("email") {
//!         Some(e) if e.contains('@') => TriggerResult::Proceed,
//!         _ => TriggerResult::Error("a valid email is required".into()),
//!     }
//! }
//! ```

use crate::{error, return_bytes, ArgBuf, FromArg, IntoRet};
use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A string borrowed from the event's bytes when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// One row: its columns in table order. A small vector rather than a map,
/// and column names borrowed from the event, because rows are short and
/// parsing one must be cheap (one per event).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row<'a>(pub Vec<(Cow<'a, str>, Value)>);

impl<'a> Row<'a> {
    /// A column's value; `None` if the table has no such column.
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == column).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0.into_iter().map(|(k, v)| (k.into_owned(), v)).collect()
    }
}

impl<'de> Deserialize<'de> for Row<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = Row<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a row as a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Row<'de>, A::Error> {
                let mut cols = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some((k, v)) = m.next_entry::<CowStr<'de>, Value>()? {
                    cols.push((k.0, v));
                }
                Ok(Row(cols))
            }
        }
        d.deserialize_map(RowVisitor)
    }
}

/// A transition table: rows in order.
fn rows<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Row<'de>>>, D::Error> {
    struct RowsVisitor;
    impl<'de> Visitor<'de> for RowsVisitor {
        type Value = Option<Vec<Row<'de>>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of rows or null")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(r) = s.next_element::<Row>()? {
                out.push(r);
            }
            Ok(Some(out))
        }
    }
    d.deserialize_any(RowsVisitor)
}

/// What fired the trigger. Strings are borrowed from the event's bytes
/// where possible, so reading an event allocates little.
#[derive(Clone, Debug, Default)]
pub struct TriggerEvent<'a> {
    /// "INSERT", "UPDATE", "DELETE" or "TRUNCATE".
    pub event: Cow<'a, str>,
    /// "BEFORE", "AFTER" or "INSTEAD OF".
    pub when: Cow<'a, str>,
    /// "ROW" or "STATEMENT".
    pub level: Cow<'a, str>,
    pub schema: Cow<'a, str>,
    pub table: Cow<'a, str>,
    /// The trigger's name.
    pub name: Cow<'a, str>,
    /// The arguments of CREATE TRIGGER ... EXECUTE FUNCTION f('a', 'b').
    pub args: Vec<Cow<'a, str>>,
    /// The row before (UPDATE, DELETE) and after (INSERT, UPDATE).
    pub old: Option<Row<'a>>,
    pub new: Option<Row<'a>>,
    /// Transition tables (REFERENCING OLD/NEW TABLE), statement level.
    pub old_table: Option<Vec<Row<'a>>>,
    pub new_table: Option<Vec<Row<'a>>>,
}

impl<'de> Deserialize<'de> for TriggerEvent<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EventVisitor;
        impl<'de> Visitor<'de> for EventVisitor {
            type Value = TriggerEvent<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a pg_wasm trigger event")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<TriggerEvent<'de>, A::Error> {
                let mut ev = TriggerEvent::default();
                let text = |m: &mut A| m.next_value::<CowStr<'de>>().map(|c| c.0);
                while let Some(key) = m.next_key::<CowStr<'de>>()? {
                    match key.0.as_ref() {
                        "event" => ev.event = text(&mut m)?,
                        "when" => ev.when = text(&mut m)?,
                        "level" => ev.level = text(&mut m)?,
                        "schema" => ev.schema = text(&mut m)?,
                        "table" => ev.table = text(&mut m)?,
                        "name" => ev.name = text(&mut m)?,
                        "args" => {
                            ev.args = m
                                .next_value::<Vec<CowStr<'de>>>()?
                                .into_iter()
                                .map(|c| c.0)
                                .collect()
                        }
                        "old" => ev.old = m.next_value()?,
                        "new" => ev.new = m.next_value()?,
                        "old_table" => ev.old_table = m.next_value_seed(RowsSeed)?,
                        "new_table" => ev.new_table = m.next_value_seed(RowsSeed)?,
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(ev)
            }
        }
        d.deserialize_map(EventVisitor)
    }
}

struct RowsSeed;

impl<'de> de::DeserializeSeed<'de> for RowsSeed {
    type Value = Option<Vec<Row<'de>>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        rows(d)
    }
}

impl<'a> TriggerEvent<'a> {
    /// Parses the event document the host sends.
    pub fn from_slice(bytes: &'a [u8]) -> Self {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|e| error(&alloc::format!("cannot read the trigger event: {e}")))
    }

    /// TG_ARGV[i].
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(|a| a.as_ref())
    }

    /// A column of the new row (or, for DELETE, the old one).
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.new.as_ref().or(self.old.as_ref())?.get(column)
    }

    /// A text column of the new row; None for NULL or another JSON type.
    pub fn new_str(&self, column: &str) -> Option<&str> {
        self.new.as_ref()?.get(column)?.as_str()
    }
}

/// What the trigger decided.
#[derive(Clone, Debug)]
pub enum TriggerResult {
    /// Go on with the row (or statement) unchanged.
    Proceed,
    /// Store these columns instead (BEFORE/INSTEAD OF ROW); columns not in
    /// the map keep their values.
    Replace(Map<String, Value>),
    /// Skip this row (BEFORE/INSTEAD OF ROW).
    Skip,
    /// Raise an ERROR (P0001) with this message.
    Error(String),
}

impl TriggerResult {
    /// Replace one column.
    pub fn set(column: &str, value: impl Into<Value>) -> Self {
        let mut m = Map::new();
        m.insert(column.to_string(), value.into());
        TriggerResult::Replace(m)
    }
}

impl<'a> FromArg<'a> for TriggerEvent<'a> {
    fn from_arg(buf: &'a ArgBuf) -> Self {
        let bytes = buf.bytes().unwrap_or_else(|| error("the trigger event is NULL"));
        TriggerEvent::from_slice(bytes)
    }
    fn from_owned(_: ArgBuf) -> Self {
        unreachable!("trigger events borrow their argument; the glue uses from_arg")
    }
}

impl IntoRet for TriggerResult {
    fn into_ret(self) -> i64 {
        let decision = match self {
            TriggerResult::Proceed => return 0,
            TriggerResult::Replace(m) => {
                let mut out = String::with_capacity(64);
                out.push_str("{\"new\":");
                out.push_str(&Value::Object(m).to_string());
                out.push('}');
                out
            }
            TriggerResult::Skip => "{\"skip\":true}".to_string(),
            TriggerResult::Error(message) => {
                serde_json::json!({ "error": message }).to_string()
            }
        };
        return_bytes(decision.into_bytes())
    }
}
