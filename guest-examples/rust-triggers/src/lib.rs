//! Triggers written with the pg_wasm Rust SDK (`#[export(trigger)]`).
//! Tested by tests/pg_regress/sql/11_triggers.sql, timed by
//! benches/trigger.sh; docs/triggers.md walks through them.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use pg_wasm_guest::{export, query, Changes, TriggerEvent, TriggerResult};
use serde_json::{json, Value};

/// Input validation: the column named by TG_ARGV[0] (default "email") must
/// look like an email address.
#[export(trigger)]
fn require_email(ev: TriggerEvent) -> TriggerResult {
    let column = ev.arg(0).unwrap_or("email");
    match ev.get(column) {
        Some(Value::String(e)) if plausible_email(&e) => TriggerResult::Proceed,
        Some(Value::Null) | None => TriggerResult::Error(format!("{column} is required")),
        Some(other) => TriggerResult::Error(format!("invalid email address: {}", display(&other))),
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn plausible_email(e: &str) -> bool {
    let Some((local, domain)) = e.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(char::is_whitespace)
}

/// Derived columns: full_name from first/last, slug from full_name. Only
/// the derived columns are returned; the others keep their values.
#[export(trigger)]
fn derive_names(ev: TriggerEvent) -> TriggerResult {
    let first = ev.new_str("first_name").unwrap_or_default();
    let last = ev.new_str("last_name").unwrap_or_default();
    let (first, last) = (first.trim(), last.trim());
    let mut full = String::with_capacity(first.len() + last.len() + 1);
    full.push_str(first);
    if !first.is_empty() && !last.is_empty() {
        full.push(' ');
    }
    full.push_str(last);
    let mut slug = String::with_capacity(full.len());
    for c in full.chars() {
        if c.is_alphanumeric() {
            slug.extend(c.to_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    TriggerResult::Replace(Changes::new().set("full_name", &full).set("slug", slug))
}

/// A policy from TG_ARGV: rows whose "amount" exceeds TG_ARGV[0] are
/// skipped, or rejected when TG_ARGV[1] is 'reject'.
#[export(trigger)]
fn amount_limit(ev: TriggerEvent) -> TriggerResult {
    let limit: f64 = ev
        .arg(0)
        .and_then(|a| a.parse().ok())
        .unwrap_or(f64::INFINITY);
    let amount = match ev.get("amount") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    };
    if amount <= limit {
        TriggerResult::Proceed
    } else if ev.arg(1) == Some("reject") {
        TriggerResult::Error(format!("amount {amount} is above the limit of {limit}"))
    } else {
        TriggerResult::Skip
    }
}

/// Change capture (AFTER ROW): one row in audit_log per change, written
/// through pg.query as the calling role. Needs the module's allow_spi.
#[export(trigger)]
fn audit(ev: TriggerEvent) -> TriggerResult {
    let params = json!([
        format!("{}.{}", ev.schema, ev.table),
        ev.event,
        ev.old.map(|r| Value::Object(r.into_map())),
        ev.new.map(|r| Value::Object(r.into_map())),
    ]);
    query(
        "INSERT INTO audit_log (table_name, op, old_row, new_row) VALUES ($1, $2, $3::jsonb, $4::jsonb)",
        &params.to_string(),
    );
    TriggerResult::Proceed
}

/// Whatever decision TG_ARGV[0] holds, verbatim: for testing the protocol.
#[export(trigger)]
fn decide(ev: TriggerEvent) -> TriggerResult {
    match ev.arg(0).map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(mut m))) => {
            if let Some(Value::String(e)) = m.remove("error") {
                TriggerResult::Error(e)
            } else if m.remove("skip") == Some(Value::Bool(true)) {
                TriggerResult::Skip
            } else if let Some(Value::Object(new)) = m.remove("new") {
                TriggerResult::Replace(new.into())
            } else {
                TriggerResult::Proceed
            }
        }
        _ => TriggerResult::Proceed,
    }
}

/// The event as the guest sees it, logged as a NOTICE: for tests and docs.
#[export(trigger)]
fn show_event(ev: TriggerEvent) -> TriggerResult {
    let doc = json!({
        "event": ev.event, "when": ev.when, "level": ev.level,
        "table": format!("{}.{}", ev.schema, ev.table), "args": ev.args,
        "old": ev.old.map(|r| Value::Object(r.into_map())),
        "new": ev.new.map(|r| Value::Object(r.into_map())),
        "old_table": ev.old_table.map(|t| t.into_iter().map(|r| Value::Object(r.into_map())).collect::<alloc::vec::Vec<_>>()),
        "new_table": ev.new_table.map(|t| t.into_iter().map(|r| Value::Object(r.into_map())).collect::<alloc::vec::Vec<_>>()),
    });
    pg_wasm_guest::log(pg_wasm_guest::Level::Notice, &doc.to_string());
    TriggerResult::Proceed
}
