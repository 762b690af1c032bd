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
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One row: its columns in table order. A small vector rather than a map,
/// because rows are short and parsing one must be cheap (one per event).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row(pub Vec<(String, Value)>);

impl Row {
    /// A column's value; `None` if the table has no such column.
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == column).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0.into_iter().collect()
    }
}

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = Row;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a row as a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Row, A::Error> {
                let mut cols = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some((k, v)) = m.next_entry::<String, Value>()? {
                    cols.push((k, v));
                }
                Ok(Row(cols))
            }
        }
        d.deserialize_map(RowVisitor)
    }
}

/// A transition table: rows in order.
fn rows<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Row>>, D::Error> {
    struct RowsVisitor;
    impl<'de> Visitor<'de> for RowsVisitor {
        type Value = Option<Vec<Row>>;
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

/// What fired the trigger.
#[derive(Clone, Debug, Default)]
pub struct TriggerEvent {
    /// "INSERT", "UPDATE", "DELETE" or "TRUNCATE".
    pub event: String,
    /// "BEFORE", "AFTER" or "INSTEAD OF".
    pub when: String,
    /// "ROW" or "STATEMENT".
    pub level: String,
    pub schema: String,
    pub table: String,
    /// The trigger's name.
    pub name: String,
    /// The arguments of CREATE TRIGGER ... EXECUTE FUNCTION f('a', 'b').
    pub args: Vec<String>,
    /// The row before (UPDATE, DELETE) and after (INSERT, UPDATE).
    pub old: Option<Row>,
    pub new: Option<Row>,
    /// Transition tables (REFERENCING OLD/NEW TABLE), statement level.
    pub old_table: Option<Vec<Row>>,
    pub new_table: Option<Vec<Row>>,
}

impl<'de> Deserialize<'de> for TriggerEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EventVisitor;
        impl<'de> Visitor<'de> for EventVisitor {
            type Value = TriggerEvent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a pg_wasm trigger event")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<TriggerEvent, A::Error> {
                let mut ev = TriggerEvent::default();
                while let Some(key) = m.next_key::<&str>()? {
                    match key {
                        "event" => ev.event = m.next_value()?,
                        "when" => ev.when = m.next_value()?,
                        "level" => ev.level = m.next_value()?,
                        "schema" => ev.schema = m.next_value()?,
                        "table" => ev.table = m.next_value()?,
                        "name" => ev.name = m.next_value()?,
                        "args" => ev.args = m.next_value()?,
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
    type Value = Option<Vec<Row>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        rows(d)
    }
}

impl TriggerEvent {
    /// Parses the event document the host sends.
    pub fn from_slice(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|e| error(&alloc::format!("cannot read the trigger event: {e}")))
    }

    /// TG_ARGV[i].
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
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

impl FromArg<'_> for TriggerEvent {
    fn from_arg(buf: &ArgBuf) -> Self {
        let bytes = buf.bytes().unwrap_or_else(|| error("the trigger event is NULL"));
        TriggerEvent::from_slice(bytes)
    }
    fn from_owned(buf: ArgBuf) -> Self {
        Self::from_arg(&buf)
    }
}

impl IntoRet for TriggerResult {
    fn into_ret(self) -> i64 {
        let decision = match self {
            TriggerResult::Proceed => return 0,
            TriggerResult::Replace(m) => serde_json::json!({ "new": m }),
            TriggerResult::Skip => serde_json::json!({ "skip": true }),
            TriggerResult::Error(message) => serde_json::json!({ "error": message }),
        };
        return_bytes(decision.to_string().into_bytes())
    }
}
