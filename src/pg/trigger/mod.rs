//! Wasm triggers (SPEC §6): the trigger event goes in as one JSON
//! document, a decision comes back as another.
//!
//! in:  {"event", "when", "level", "schema", "table", "name", "args",
//!       "old", "new"[, "old_table", "new_table"]}
//! out: {} / empty / NULL → go on unchanged; {"new": {...}} → store this row
//!      instead (BEFORE/INSTEAD OF ROW; missing columns keep their values);
//!      {"skip": true} → skip the row; {"error": "..."} → ERROR P0001.
//!
//! Everything that is the same for every row of a statement (the event's
//! prefix, how each column becomes JSON and back) is worked out once in a
//! [`Plan`], kept by the backend across statements until a relation
//! changes ([`plans`]); a row costs its encoding, one guest call and, for
//! replaced columns, their input functions.

mod decision;
mod event;
mod new_row;
pub mod plans;

use crate::error::{PgWasmError, Result};
use crate::marshal::codec::invalid;
use crate::marshal::row_json::RowEncoder;
use decision::Decision;
use event::Event;
use new_row::NewRow;
use pgrx::pg_sys;

/// What is known about one trigger of one function on one relation: made
/// once, kept by the backend across statements ([`plans`]).
pub struct Plan {
    key: plans::Key,
    /// `cache::relations_epoch()` when made: the plan is good while it is
    /// unchanged.
    epoch: u64,
    /// The plan's own memory: the copy of the relation's descriptor and
    /// the state of the input and output functions it looked up.
    context: pg_sys::MemoryContext,
    prefix: Vec<u8>,
    rows: RowEncoder,
    new_row: NewRow,
    /// The event document being built; kept for its capacity.
    input: Vec<u8>,
}

impl Plan {
    /// # Safety
    /// `ev` must be the current trigger call's event.
    unsafe fn new(ev: &Event, key: plans::Key) -> Self {
        // SAFETY: per the contract. The context is a child of
        // TopMemoryContext deleted only by Drop; the descriptor copied into
        // it (with defaults, generated columns and missing values, which
        // deforming and forming rows need) outlives the encoders using it.
        unsafe {
            let context = pg_sys::AllocSetContextCreateInternal(
                pg_sys::TopMemoryContext,
                c"pg_wasm trigger plan".as_ptr(),
                0,
                1024,
                8 * 1024,
            );
            let old = pg_sys::MemoryContextSwitchTo(context);
            let desc = pg_sys::CreateTupleDescCopyConstr(ev.desc());
            pg_sys::MemoryContextSwitchTo(old);
            let prefix = event::prefix(ev);
            Plan {
                key,
                epoch: crate::pg::cache::relations_epoch(),
                context,
                input: Vec::with_capacity(prefix.len() + 256),
                prefix,
                rows: RowEncoder::new(desc, context),
                new_row: NewRow::new(desc, context),
            }
        }
    }
}

impl Drop for Plan {
    fn drop(&mut self) {
        // SAFETY: the plan's own context, deleted only here; nothing of the
        // plan points into it after this (the encoders go with the plan).
        unsafe { pg_sys::MemoryContextDelete(self.context) };
    }
}

/// A call site that can run a trigger: a core module's export taking the
/// event's bytes, or a component's taking it as a `string` (SPEC §10).
pub trait TriggerSite {
    fn take_trigger_plan(&mut self) -> Option<Box<Plan>>;
    fn put_trigger_plan(&mut self, plan: Box<Plan>);
    /// One call with the event document; `f` reads the decision in place,
    /// with the function's name for messages; `None` is a NULL decision.
    fn call_bytes<T>(
        &mut self,
        input: &[u8],
        f: impl FnOnce(&[u8], &str) -> Result<T>,
    ) -> Result<Option<T>>;
}

/// Runs a wasm trigger function and returns what PostgreSQL expects.
///
/// # Safety
/// `fcinfo` must be a trigger call and `site` prepared for this function.
pub unsafe fn call<S: TriggerSite>(
    site: &mut S,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Result<pg_sys::Datum> {
    // SAFETY: per the contract.
    let ev = unsafe { Event::from_fcinfo(fcinfo) };
    // SAFETY: the TriggerData, its relation and trigger and the call's
    // FmgrInfo are live.
    let key = unsafe {
        (
            (*(*fcinfo).flinfo).fn_oid,
            (*ev.td).tg_event,
            (*ev.rel()).rd_id,
            (*(*ev.td).tg_trigger).tgoid,
        )
    };
    let mut plan = match site.take_trigger_plan() {
        Some(p) if p.key == key => p,
        other => {
            if let Some(p) = other {
                plans::put(p);
            }
            match plans::take(&key) {
                Some(mut p) => {
                    // A new statement's rows: nothing deformed is reused.
                    p.rows.forget_last();
                    p
                }
                // SAFETY: ev is this call's event.
                None => Box::new(unsafe { Plan::new(&ev, key) }),
            }
        }
    };
    let out = run(site, &mut plan, &ev);
    site.put_trigger_plan(plan);
    out
}

fn run<S: TriggerSite>(site: &mut S, plan: &mut Plan, ev: &Event) -> Result<pg_sys::Datum> {
    let Plan {
        prefix,
        rows,
        new_row,
        input,
        ..
    } = plan;
    input.clear();
    input.extend_from_slice(prefix);
    // SAFETY: the encoder was made for this relation.
    unsafe { event::append_rows(ev, rows, input) };
    // The row to change (NEW) was the last one encoded: reuse its columns.
    let deformed = rows.deformed(ev.unchanged());
    site.call_bytes(input, |bytes, target| {
        let decision = Decision::parse(bytes, target)?;
        // SAFETY: `ev` is the current call's event; `new_row` was made for
        // its relation, `deformed` from its unchanged row.
        unsafe { decide(ev, decision, new_row, deformed, target) }
    })
    .map(|d| d.unwrap_or_else(|| no_decision(ev)))
}

/// A NULL result: go on as with `{}`.
fn no_decision(ev: &Event) -> pg_sys::Datum {
    if ev.returns_row() {
        pg_sys::Datum::from(ev.unchanged())
    } else {
        pg_sys::Datum::from(0)
    }
}

/// What PostgreSQL gets for the guest's decision.
///
/// # Safety
/// As [`run`].
unsafe fn decide(
    ev: &Event,
    d: Decision,
    new_row: &mut NewRow,
    deformed: Option<(&[pg_sys::Datum], &[bool])>,
    target: &str,
) -> Result<pg_sys::Datum> {
    let kind = || format!("{} {} {}", ev.when_name(), ev.level_name(), ev.op_name());
    if let Some(message) = d.error {
        return Err(PgWasmError::Raised {
            message: message.into_owned(),
            detail: format!("raised by wasm trigger function \"{target}\" ({})", kind()),
            hint: None,
        });
    }
    if (d.skip || d.new.is_some()) && !ev.returns_row() {
        return Err(invalid(
            target,
            &format!(
                "\"{}\" is only valid in BEFORE or INSTEAD OF row triggers (this is a {} trigger)",
                if d.skip { "skip" } else { "new" },
                kind()
            ),
        ));
    }
    if !ev.returns_row() || d.skip {
        return Ok(pg_sys::Datum::from(0));
    }
    let Some(cols) = d.new else {
        return Ok(pg_sys::Datum::from(ev.unchanged()));
    };
    if ev.op == pg_sys::TRIGGER_EVENT_DELETE {
        return Err(invalid(
            target,
            &format!(
                "\"new\" is not valid when deleting (this is a {} trigger)",
                kind()
            ),
        ));
    }
    if let Some(other) = d.new_not_object {
        return Err(invalid(
            target,
            &format!("\"new\" must be a JSON object, not {other}"),
        ));
    }
    // SAFETY: the unchanged row belongs to the relation new_row was made for.
    unsafe { new_row.build(ev.unchanged(), deformed, &cols, target) }.map(pg_sys::Datum::from)
}
