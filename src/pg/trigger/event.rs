//! What fired a trigger, and the event document (SPEC §6) made of it:
//! the per-statement prefix once per call site, the rows per call.

use crate::marshal::row_json::{escape_json, RowEncoder};
use pgrx::pg_sys;
use std::ffi::CStr;

const ROW: u32 = pg_sys::TRIGGER_EVENT_ROW;

/// What fired the trigger, read once per call.
pub struct Event {
    pub td: *mut pg_sys::TriggerData,
    pub op: u32,
    pub timing: u32,
    pub row_level: bool,
}

impl Event {
    /// # Safety
    /// `fcinfo` must be a trigger call (context is a TriggerData).
    pub unsafe fn from_fcinfo(fcinfo: pg_sys::FunctionCallInfo) -> Self {
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

    pub fn op_name(&self) -> &'static str {
        match self.op {
            pg_sys::TRIGGER_EVENT_INSERT => "INSERT",
            pg_sys::TRIGGER_EVENT_DELETE => "DELETE",
            pg_sys::TRIGGER_EVENT_UPDATE => "UPDATE",
            _ => "TRUNCATE",
        }
    }

    pub fn level_name(&self) -> &'static str {
        if self.row_level {
            "ROW"
        } else {
            "STATEMENT"
        }
    }

    pub fn when_name(&self) -> &'static str {
        match self.timing {
            pg_sys::TRIGGER_EVENT_BEFORE => "BEFORE",
            pg_sys::TRIGGER_EVENT_INSTEAD => "INSTEAD OF",
            _ => "AFTER",
        }
    }

    /// BEFORE or INSTEAD OF, row level: the only triggers whose return
    /// value PostgreSQL uses.
    pub fn returns_row(&self) -> bool {
        self.row_level && self.timing != pg_sys::TRIGGER_EVENT_AFTER
    }

    pub fn rel(&self) -> pg_sys::Relation {
        // SAFETY: td is valid for the call.
        unsafe { (*self.td).tg_relation }
    }

    pub fn desc(&self) -> pg_sys::TupleDesc {
        // SAFETY: the relation is open for the call.
        unsafe { (*self.rel()).rd_att }
    }

    /// The row PostgreSQL goes on with when the guest changes nothing.
    pub fn unchanged(&self) -> *mut pg_sys::HeapTupleData {
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

pub fn cstr(p: *const std::ffi::c_char) -> String {
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
    // Qualified names under the pinned search_path (pg::search_path); the
    // transition table is an ephemeral named relation, found by name
    // before any schema is searched.
    let sql = format!(
        "SELECT COALESCE(pg_catalog.json_agg(t), '[]'::pg_catalog.json)::pg_catalog.text FROM {} t",
        pgrx::spi::quote_identifier(name)
    );
    // SAFETY: SPI inside a trigger call; the tuplestores are registered as
    // ephemeral named relations for this connection only.
    unsafe {
        pg_sys::SPI_connect();
        pg_sys::SPI_register_trigger_data(td);
        let csql = std::ffi::CString::new(sql).expect("no NUL in a quoted identifier");
        crate::pg::search_path::pinned(|| pg_sys::SPI_execute(csql.as_ptr(), true, 1));
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
pub unsafe fn prefix(ev: &Event) -> Vec<u8> {
    // SAFETY: all pointers come from the live TriggerData.
    unsafe {
        let trig = (*ev.td).tg_trigger;
        let rel = ev.rel();
        let mut s = Vec::with_capacity(256);
        let schema = pg_sys::get_namespace_name((*(*rel).rd_rel).relnamespace);
        let fields: [(&[u8], &[u8]); 6] = [
            (b"{\"event\":", ev.op_name().as_bytes()),
            (b",\"when\":", ev.when_name().as_bytes()),
            (b",\"level\":", ev.level_name().as_bytes()),
            (b",\"schema\":", CStr::from_ptr(schema).to_bytes()),
            (
                b",\"table\":",
                CStr::from_ptr((*(*rel).rd_rel).relname.data.as_ptr()).to_bytes(),
            ),
            (b",\"name\":", CStr::from_ptr((*trig).tgname).to_bytes()),
        ];
        for (key, value) in fields {
            s.extend_from_slice(key);
            escape_json(value, &mut s);
        }
        s.extend_from_slice(format!(",\"relid\":{}", (*rel).rd_id.to_u32()).as_bytes());
        s.extend_from_slice(b",\"args\":[");
        for i in 0..(*trig).tgnargs as usize {
            if i > 0 {
                s.push(b',');
            }
            escape_json(CStr::from_ptr(*(*trig).tgargs.add(i)).to_bytes(), &mut s);
        }
        s.push(b']');
        s
    }
}

/// The rest of the event: the rows, and the transition tables.
///
/// # Safety
/// `ev` must come from the current trigger call; `rows` must encode rows
/// of its relation.
pub unsafe fn append_rows(ev: &Event, rows: &mut RowEncoder, s: &mut Vec<u8>) {
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
                Some(t) if !t.is_null() => rows.append(t, s),
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
