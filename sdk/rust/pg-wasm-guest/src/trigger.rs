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
use serde_json::{Map, Value};

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
    pub old: Option<Map<String, Value>>,
    pub new: Option<Map<String, Value>>,
    /// Transition tables (REFERENCING OLD/NEW TABLE), statement level.
    pub old_table: Option<Vec<Value>>,
    pub new_table: Option<Vec<Value>>,
}

impl TriggerEvent {
    pub fn from_json(v: Value) -> Self {
        let Value::Object(mut m) = v else {
            error("trigger event is not a JSON object")
        };
        let mut text = |k: &str| match m.remove(k) {
            Some(Value::String(s)) => s,
            _ => String::new(),
        };
        let (event, when, level, schema, table, name) = (
            text("event"),
            text("when"),
            text("level"),
            text("schema"),
            text("table"),
            text("name"),
        );
        let row = |v: Option<Value>| match v {
            Some(Value::Object(o)) => Some(o),
            _ => None,
        };
        let rows = |v: Option<Value>| match v {
            Some(Value::Array(a)) => Some(a),
            _ => None,
        };
        TriggerEvent {
            event,
            when,
            level,
            schema,
            table,
            name,
            args: match m.remove("args") {
                Some(Value::Array(a)) => a
                    .into_iter()
                    .map(|v| v.as_str().map(str::to_string).unwrap_or_default())
                    .collect(),
                _ => Vec::new(),
            },
            old: row(m.remove("old")),
            new: row(m.remove("new")),
            old_table: rows(m.remove("old_table")),
            new_table: rows(m.remove("new_table")),
        }
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
        TriggerEvent::from_json(Value::from_arg(buf))
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
