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

use crate::{error, return_bytes, ArgBuf, FromArg, IntoRet, ToJson};
use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use pg_wasm_json::{self as scan, Scanner};
use serde_json::{Map, Value};

/// One row: its columns in table order, each kept as the JSON text the
/// host sent and read only when asked for. A trigger usually looks at a few
/// columns of a row; reading the others into `Value`s would cost an
/// allocation per column per row.
#[derive(Clone, Debug, Default)]
pub struct Row<'a>(pub Vec<(Cow<'a, str>, &'a str)>);

impl<'a> Row<'a> {
    /// A column's JSON text (`"abc"`, `12.5`, `null`, `{...}`); `None` if
    /// the table has no such column.
    pub fn raw(&self, column: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| k == column).map(|(_, v)| *v)
    }

    /// A column's value; `None` if the table has no such column.
    pub fn get(&self, column: &str) -> Option<Value> {
        self.raw(column)
            .map(|t| serde_json::from_str(t).expect("the host sends valid JSON"))
    }

    /// A text column; `None` for NULL, a missing column or another JSON type.
    /// Borrowed from the event unless the string holds escapes.
    pub fn str(&self, column: &str) -> Option<Cow<'a, str>> {
        let t = self.raw(column)?;
        t.starts_with('"').then(|| scan::unquote(t))
    }

    /// A number column (integer, float or numeric) as f64; `None` for NULL,
    /// a missing column, or NaN/Infinity (which arrive as strings).
    pub fn f64(&self, column: &str) -> Option<f64> {
        self.raw(column)?.parse().ok()
    }

    /// An integer column; `None` for NULL, a missing column or a
    /// non-integer.
    pub fn i64(&self, column: &str) -> Option<i64> {
        self.raw(column)?.parse().ok()
    }

    /// A boolean column; `None` for NULL or a missing column.
    pub fn bool(&self, column: &str) -> Option<bool> {
        match self.raw(column)? {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// Whether the column is NULL (or missing).
    pub fn is_null(&self, column: &str) -> bool {
        self.raw(column).is_none_or(|t| t == "null")
    }

    /// The columns with their JSON text, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &'a str)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    /// The row as a JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
            .into_iter()
            .map(|(k, v)| {
                let v = serde_json::from_str(v).expect("the host sends valid JSON");
                (k.into_owned(), v)
            })
            .collect()
    }
}

impl<'a> Row<'a> {
    /// Reads a row object (the scanner is at its `{`).
    fn scan(sc: &mut Scanner<'a>) -> scan::Result<Self> {
        let mut cols = Vec::with_capacity(8);
        if sc.open(b'{', b'}')? {
            loop {
                let k = sc.key()?;
                cols.push((k, sc.raw_value()?));
                if !sc.more(b'}')? {
                    break;
                }
            }
        }
        Ok(Row(cols))
    }

    /// `null` or a row.
    fn scan_opt(sc: &mut Scanner<'a>) -> scan::Result<Option<Self>> {
        if sc.null() {
            Ok(None)
        } else {
            Row::scan(sc).map(Some)
        }
    }
}

/// A transition table: `null` or an array of rows.
fn scan_rows<'a>(sc: &mut Scanner<'a>) -> scan::Result<Option<Vec<Row<'a>>>> {
    if sc.null() {
        return Ok(None);
    }
    let mut rows = Vec::new();
    if sc.open(b'[', b']')? {
        loop {
            rows.push(Row::scan(sc)?);
            if !sc.more(b']')? {
                break;
            }
        }
    }
    Ok(Some(rows))
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

impl<'a> TriggerEvent<'a> {
    fn scan(bytes: &'a [u8]) -> scan::Result<Self> {
        let mut sc = Scanner::new(bytes)?;
        let mut ev = TriggerEvent::default();
        if sc.open(b'{', b'}')? {
            loop {
                let key = sc.key()?;
                match key.as_ref() {
                    "event" => ev.event = sc.string()?,
                    "when" => ev.when = sc.string()?,
                    "level" => ev.level = sc.string()?,
                    "schema" => ev.schema = sc.string()?,
                    "table" => ev.table = sc.string()?,
                    "name" => ev.name = sc.string()?,
                    "args" => {
                        if sc.open(b'[', b']')? {
                            loop {
                                ev.args.push(sc.string()?);
                                if !sc.more(b']')? {
                                    break;
                                }
                            }
                        }
                    }
                    "old" => ev.old = Row::scan_opt(&mut sc)?,
                    "new" => ev.new = Row::scan_opt(&mut sc)?,
                    "old_table" => ev.old_table = scan_rows(&mut sc)?,
                    "new_table" => ev.new_table = scan_rows(&mut sc)?,
                    _ => {
                        sc.raw_value()?;
                    }
                }
                if !sc.more(b'}')? {
                    break;
                }
            }
        }
        if !sc.at_end() {
            return Err("text after the event");
        }
        Ok(ev)
    }
}

impl<'a> TriggerEvent<'a> {
    /// Parses the event document the host sends.
    pub fn from_slice(bytes: &'a [u8]) -> Self {
        TriggerEvent::scan(bytes)
            .unwrap_or_else(|e| error(&alloc::format!("cannot read the trigger event: {e}")))
    }

    /// TG_ARGV[i].
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(|a| a.as_ref())
    }

    /// The new row (INSERT, UPDATE) or, for DELETE, the old one.
    pub fn row(&self) -> Option<&Row<'a>> {
        self.new.as_ref().or(self.old.as_ref())
    }

    /// A column of [`TriggerEvent::row`]; `None` if there is no such column
    /// (or no row, at statement level).
    pub fn get(&self, column: &str) -> Option<Value> {
        self.row()?.get(column)
    }

    /// A text column of the new row; `None` for NULL or another JSON type.
    pub fn new_str(&self, column: &str) -> Option<Cow<'a, str>> {
        self.new.as_ref()?.str(column)
    }
}

/// What the trigger decided.
#[derive(Clone, Debug)]
pub enum TriggerResult {
    /// Go on with the row (or statement) unchanged.
    Proceed,
    /// Store these columns instead (BEFORE/INSTEAD OF ROW); columns not
    /// set keep their values.
    Replace(Changes),
    /// Skip this row (BEFORE/INSTEAD OF ROW).
    Skip,
    /// Raise an ERROR (P0001) with this message.
    Error(String),
}

impl TriggerResult {
    /// Replace one column.
    pub fn set(column: &str, value: impl ToJson) -> Self {
        TriggerResult::Replace(Changes::new().set(column, value))
    }
}

/// The columns a trigger replaces, written straight into the decision's
/// JSON (`{"new":{...}}`) as they are set.
///
/// ```ignore
/// TriggerResult::Replace(Changes::new().set("slug", &slug).set("score", 3))
/// ```
#[derive(Clone, Debug)]
pub struct Changes {
    json: String,
    empty: bool,
}

impl Default for Changes {
    fn default() -> Self {
        Self::new()
    }
}

impl Changes {
    pub fn new() -> Self {
        let mut json = String::with_capacity(128);
        json.push_str("{\"new\":{");
        Changes { json, empty: true }
    }

    /// Sets `column` to `value` (text, numbers, booleans, `Option` for
    /// NULL, or a `serde_json::Value`).
    pub fn set(mut self, column: &str, value: impl ToJson) -> Self {
        self.insert(column, value);
        self
    }

    /// As [`Changes::set`], in place.
    pub fn insert(&mut self, column: &str, value: impl ToJson) {
        if !self.empty {
            self.json.push(',');
        }
        self.empty = false;
        column.write_json(&mut self.json);
        self.json.push(':');
        value.write_json(&mut self.json);
    }
}

impl From<Map<String, Value>> for Changes {
    fn from(m: Map<String, Value>) -> Self {
        let mut c = Changes::new();
        for (k, v) in m {
            c.insert(&k, v);
        }
        c
    }
}

impl<'a> FromArg<'a> for TriggerEvent<'a> {
    fn from_arg(buf: &'a ArgBuf) -> Self {
        let bytes = buf
            .bytes()
            .unwrap_or_else(|| error("the trigger event is NULL"));
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
            TriggerResult::Replace(mut c) => {
                c.json.push_str("}}");
                c.json
            }
            TriggerResult::Skip => "{\"skip\":true}".to_string(),
            TriggerResult::Error(message) => serde_json::json!({ "error": message }).to_string(),
        };
        return_bytes(decision.into_bytes())
    }
}
