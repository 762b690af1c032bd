//! Wasm triggers (SPEC §6): the trigger event goes in as one JSON
//! document, a decision comes back as another.
//!
//! in:  {"event", "when", "level", "schema", "table", "name", "args",
//!       "old", "new"[, "old_table", "new_table"]}
//! out: {} / empty / NULL → go on unchanged; {"new": {...}} → store this row
//!      instead (BEFORE/INSTEAD OF ROW; missing columns keep their values);
//!      {"skip": true} → skip the row; {"error": "..."} → ERROR P0001.

use super::call_site::CallSite;
use crate::error::{PgWasmError, Result};
use crate::marshal::codec::{append_row_json, invalid};
use crate::marshal::json;
use pgrx::pg_sys;
use serde_json::{Map, Value};
use std::ffi::CStr;

const ROW: u32 = pg_sys::TRIGGER_EVENT_ROW;

/// What fired the trigger, read once per call.
struct Event {
    td: *mut pg_sys::TriggerData,
    op: u32,
    timing: u32,
    row_level: bool,
}

impl Event {
    /// # Safety
    /// `fcinfo` must be a trigger call (context is a TriggerData).
    unsafe fn from_fcinfo(fcinfo: pg_sys::FunctionCallInfo) -> Self {
        // SAFETY: per the contract.
        unsafe {
            let td = (*fcinfo).context as *mut pg_sys::TriggerData;
            let ev = (*td).tg_event;
            Event {
                td,
                op: ev & pg_sys::TRIGGER_EVENT_OPMASK,
                timing: ev & pg_sys::TRIGGER_EVENT_TIMINGMASK,
                row_level: ev & ROW != 0,
            }
        }
    }

    fn op_name(&self) -> &'static str {
        match self.op {
            pg_sys::TRIGGER_EVENT_INSERT => "INSERT",
            pg_sys::TRIGGER_EVENT_DELETE => "DELETE",
            pg_sys::TRIGGER_EVENT_UPDATE => "UPDATE",
            _ => "TRUNCATE",
        }
    }

    fn level_name(&self) -> &'static str {
        if self.row_level {
            "ROW"
        } else {
            "STATEMENT"
        }
    }

    fn when_name(&self) -> &'static str {
        match self.timing {
            pg_sys::TRIGGER_EVENT_BEFORE => "BEFORE",
            pg_sys::TRIGGER_EVENT_INSTEAD => "INSTEAD OF",
            _ => "AFTER",
        }
    }

    /// BEFORE or INSTEAD OF, row level: the only triggers whose return
    /// value PostgreSQL uses.
    fn returns_row(&self) -> bool {
        self.row_level && self.timing != pg_sys::TRIGGER_EVENT_AFTER
    }

    fn rel(&self) -> pg_sys::Relation {
        // SAFETY: td is valid for the call.
        unsafe { (*self.td).tg_relation }
    }

    fn desc(&self) -> pg_sys::TupleDesc {
        // SAFETY: the relation is open for the call.
        unsafe { (*self.rel()).rd_att }
    }

    /// The row PostgreSQL goes on with when the guest changes nothing.
    fn unchanged(&self) -> *mut pg_sys::HeapTupleData {
        // SAFETY: td is valid; for UPDATE the new tuple is the one to store.
        unsafe {
            if self.op == pg_sys::TRIGGER_EVENT_UPDATE {
                (*self.td).tg_newtuple
            } else {
                (*self.td).tg_trigtuple
            }
        }
    }
}

fn cstr(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: a NUL-terminated string from PostgreSQL.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A transition table (REFERENCING ... TABLE AS name) as a JSON array,
/// read through SPI like PL/pgSQL does.
///
/// # Safety
/// `td` must be the current trigger call's data.
unsafe fn transition_table(td: *mut pg_sys::TriggerData, name: &str) -> String {
    let sql = format!(
        "SELECT coalesce(json_agg(t), '[]')::text FROM {} t",
        pgrx::spi::quote_identifier(name)
    );
    // SAFETY: SPI inside a trigger call; the tuplestores are registered as
    // ephemeral named relations for this connection only.
    unsafe {
        pg_sys::SPI_connect();
        pg_sys::SPI_register_trigger_data(td);
        let csql = std::ffi::CString::new(sql).expect("no NUL in a quoted identifier");
        pg_sys::SPI_execute(csql.as_ptr(), true, 1);
        let table = pg_sys::SPI_tuptable;
        let mut out = String::from("[]");
        if !table.is_null() && pg_sys::SPI_processed == 1 {
            let v = pg_sys::SPI_getvalue(*(*table).vals, (*table).tupdesc, 1);
            out = cstr(v);
        }
        pg_sys::SPI_finish();
        out
    }
}

/// The part of the event document (SPEC §6) that is the same for every row
/// of a statement: everything up to and including "args".
///
/// # Safety
/// `ev` must come from the current trigger call.
unsafe fn event_prefix(ev: &Event) -> String {
    // SAFETY: all pointers come from the live TriggerData.
    unsafe {
        let trig = (*ev.td).tg_trigger;
        let rel = ev.rel();
        let args: Vec<Value> = (0..(*trig).tgnargs as usize)
            .map(|i| Value::String(cstr(*(*trig).tgargs.add(i))))
            .collect();
        let text = |v: &str| Value::String(v.to_string()).to_string();
        format!(
            "{{\"event\":{},\"when\":{},\"level\":{},\"schema\":{},\"table\":{},\"name\":{},\"args\":{}",
            text(ev.op_name()),
            text(ev.when_name()),
            text(ev.level_name()),
            text(&cstr(pg_sys::get_namespace_name((*(*rel).rd_rel).relnamespace))),
            text(&cstr((*(*rel).rd_rel).relname.data.as_ptr())),
            text(&cstr((*trig).tgname)),
            Value::Array(args)
        )
    }
}

/// The rest of the event: the rows, and the transition tables.
///
/// # Safety
/// `ev` must come from the current trigger call.
unsafe fn event_rows(ev: &Event, s: &mut Vec<u8>) {
    // SAFETY: all pointers come from the live TriggerData.
    unsafe {
        let td = ev.td;
        let trig = (*td).tg_trigger;
        let (old, new) = if !ev.row_level {
            (None, None)
        } else {
            match ev.op {
                pg_sys::TRIGGER_EVENT_INSERT => (None, Some((*td).tg_trigtuple)),
                pg_sys::TRIGGER_EVENT_DELETE => (Some((*td).tg_trigtuple), None),
                _ => (Some((*td).tg_trigtuple), Some((*td).tg_newtuple)),
            }
        };
        for (key, tuple) in [(&b",\"old\":"[..], old), (&b",\"new\":"[..], new)] {
            s.extend_from_slice(key);
            match tuple {
                Some(t) if !t.is_null() => append_row_json(t, ev.desc(), s),
                _ => s.extend_from_slice(b"null"),
            }
        }
        if !ev.row_level {
            for (key, name) in [
                ("old_table", (*trig).tgoldtable),
                ("new_table", (*trig).tgnewtable),
            ] {
                if !name.is_null() {
                    s.extend_from_slice(format!(",\"{key}\":").as_bytes());
                    s.extend_from_slice(transition_table(td, &cstr(name)).as_bytes());
                }
            }
        }
        s.push(b'}');
    }
}

/// The guest's decision: an object, or nothing (empty, `null`, `{}`).
fn parse_decision(bytes: &[u8], target: &str) -> Result<Map<String, Value>> {
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(other) => Err(invalid(
            target,
            &format!("a trigger must return a JSON object (or nothing), not {other}"),
        )),
        Err(e) => Err(invalid(
            target,
            &format!("the trigger's decision is not valid JSON: {e}"),
        )),
    }
}

/// Runs a wasm trigger function and returns what PostgreSQL expects.
///
/// # Safety
/// `fcinfo` must be a trigger call and `site` prepared for this function.
pub unsafe fn call(site: &mut CallSite, fcinfo: pg_sys::FunctionCallInfo) -> Result<pg_sys::Datum> {
    // SAFETY: per the contract.
    let ev = unsafe { Event::from_fcinfo(fcinfo) };
    // SAFETY: as above (and below).
    let prefix = site.trigger_prefix(unsafe { (*ev.td).tg_event }, || unsafe {
        event_prefix(&ev)
    });
    let mut input = Vec::with_capacity(prefix.len() + 256);
    input.extend_from_slice(prefix.as_bytes());
    // SAFETY: as above.
    unsafe { event_rows(&ev, &mut input) };
    let target = site.target().to_string();
    let decision = site
        .call_bytes(&input, |bytes| parse_decision(bytes, &target))?
        .unwrap_or_default();
    if let Some(k) = decision
        .keys()
        .find(|k| !["new", "skip", "error"].contains(&k.as_str()))
    {
        return Err(invalid(
            &target,
            &format!("unknown key \"{k}\" in the trigger's decision (expected new, skip or error)"),
        ));
    }
    let kind = format!("{} {} {}", ev.when_name(), ev.level_name(), ev.op_name());
    match decision.get("error") {
        None | Some(Value::Null) => {}
        Some(Value::String(message)) => {
            return Err(PgWasmError::Raised {
                message: message.clone(),
                detail: format!("raised by wasm trigger function \"{target}\" ({kind})"),
            })
        }
        Some(other) => {
            return Err(invalid(
                &target,
                &format!("\"error\" must be a string, not {other}"),
            ))
        }
    }
    let skip = match decision.get("skip") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(other) => {
            return Err(invalid(
                &target,
                &format!("\"skip\" must be a boolean, not {other}"),
            ))
        }
    };
    let new = decision.get("new").filter(|v| !v.is_null());
    if (skip || new.is_some()) && !ev.returns_row() {
        return Err(invalid(
            &target,
            &format!(
                "\"{}\" is only valid in BEFORE or INSTEAD OF row triggers (this is a {kind} trigger)",
                if skip { "skip" } else { "new" }
            ),
        ));
    }
    if !ev.returns_row() {
        return Ok(pg_sys::Datum::from(0));
    }
    if skip {
        return Ok(pg_sys::Datum::from(0));
    }
    let Some(new) = new else {
        return Ok(pg_sys::Datum::from(ev.unchanged()));
    };
    if ev.op == pg_sys::TRIGGER_EVENT_DELETE {
        return Err(invalid(
            &target,
            &format!("\"new\" is not valid when deleting (this is a {kind} trigger)"),
        ));
    }
    // SAFETY: builds a new tuple of the relation's row type from the
    // unchanged one and the guest's values.
    unsafe { replace_row(&ev, new, &target).map(pg_sys::Datum::from) }
}

/// The row to store: the unchanged row with the guest's columns replaced.
/// Each value goes through the column type's input function; an unknown
/// or generated column is an error that names it.
///
/// # Safety
/// `ev` must be the current BEFORE/INSTEAD OF INSERT or UPDATE row event.
unsafe fn replace_row(ev: &Event, new: &Value, target: &str) -> Result<pg_sys::HeapTuple> {
    let Value::Object(cols) = new else {
        return Err(invalid(
            target,
            &format!("\"new\" must be a JSON object, not {new}"),
        ));
    };
    let desc = ev.desc();
    // SAFETY: desc is the relation's descriptor, valid for the call.
    let natts = unsafe { (*desc).natts } as usize;
    let mut values = vec![pg_sys::Datum::from(0); natts];
    let mut nulls = vec![false; natts];
    // SAFETY: the unchanged tuple belongs to this relation.
    unsafe {
        pg_sys::heap_deform_tuple(
            ev.unchanged(),
            desc,
            values.as_mut_ptr(),
            nulls.as_mut_ptr(),
        )
    };
    for (name, value) in cols {
        let found = (0..natts).find(|&i| {
            // SAFETY: i < natts.
            let att = unsafe { &*(*desc).attrs.as_ptr().add(i) };
            !att.attisdropped && cstr(att.attname.data.as_ptr()) == *name
        });
        let Some(i) = found else {
            return Err(PgWasmError::InvalidResult {
                sqlstate: pgrx::PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                message: format!(
                    "wasm trigger function \"{target}\" set column \"{name}\", which the table does not have"
                ),
            });
        };
        // SAFETY: i < natts.
        let att = unsafe { &*(*desc).attrs.as_ptr().add(i) };
        if att.attgenerated != 0 {
            return Err(PgWasmError::InvalidResult {
                sqlstate: pgrx::PgSqlErrorCode::ERRCODE_GENERATED_ALWAYS,
                message: format!(
                    "wasm trigger function \"{target}\" set generated column \"{name}\", which PostgreSQL computes itself"
                ),
            });
        }
        let d = json::to_datum(
            value,
            att.atttypid,
            att.atttypmod,
            None,
            target,
            &format!("new column \"{name}\""),
        )?;
        values[i] = d.unwrap_or(pg_sys::Datum::from(0));
        nulls[i] = d.is_none();
    }
    // SAFETY: one value per attribute; the executor copies the tuple.
    Ok(unsafe { pg_sys::heap_form_tuple(desc, values.as_mut_ptr(), nulls.as_mut_ptr()) })
}
