//! `pg.query`: SQL through SPI with JSON parameters, rows back as JSON.
//!
//! Parameters are typed from their JSON value: integers are `bigint`, other
//! numbers `double precision`, strings `text`, booleans `boolean`, objects
//! and arrays `jsonb`, null a NULL `text`; SQL casts them as needed
//! (`WHERE id = $1::int`). Each result row becomes a JSON object as
//! `row_to_json` makes it.

use crate::marshal::codec::append_row_json;
use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::PgSqlErrorCode;
use pgrx::{IntoDatum, JsonB};
use serde_json::Value;
use std::any::Any;
use std::ffi::{CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub struct Query {
    sql: CString,
    params: Vec<Value>,
}

impl Query {
    /// Checks what the guest passed, before any PostgreSQL call.
    pub fn parse(sql: &str, params: &str) -> Result<Self, String> {
        let sql = CString::new(sql)
            .map_err(|_| "pg.query: the SQL text contains a NUL byte".to_string())?;
        let params = if params.trim().is_empty() {
            Vec::new()
        } else {
            match serde_json::from_str(params) {
                Ok(Value::Array(a)) => a,
                Ok(other) => {
                    return Err(format!(
                        "pg.query: parameters must be a JSON array, not {}",
                        kind(&other)
                    ))
                }
                Err(e) => return Err(format!("pg.query: parameters are not valid JSON: {e}")),
            }
        };
        Ok(Query { sql, params })
    }

    /// Runs the query and returns the rows as a JSON array.
    ///
    /// # Safety
    /// Must run on the backend's main thread inside a transaction. A
    /// PostgreSQL ERROR unwinds out of here as a pgrx panic; SPI's own
    /// end-of-(sub)transaction cleanup then closes the connection.
    /// `counted`: a statement that returns no rows answers the number of
    /// rows it processed instead (`pg.execute`).
    pub unsafe fn run(&self, read_only: bool, counted: bool) -> Vec<u8> {
        // SAFETY: per the function's contract; each call below is used as
        // SPI documents it, between SPI_connect and SPI_finish.
        unsafe {
            pg_sys::SPI_connect();
            let mut types = Vec::with_capacity(self.params.len());
            let mut values = Vec::with_capacity(self.params.len());
            let mut nulls = Vec::with_capacity(self.params.len());
            for p in &self.params {
                let (ty, datum) = param(p);
                types.push(ty);
                values.push(datum.unwrap_or(pg_sys::Datum::from(0)));
                nulls.push(if datum.is_some() { b' ' } else { b'n' } as std::ffi::c_char);
            }
            let rc = pg_sys::SPI_execute_with_args(
                self.sql.as_ptr(),
                self.params.len() as i32,
                types.as_mut_ptr(),
                values.as_mut_ptr(),
                nulls.as_ptr(),
                read_only,
                0,
            );
            if rc < 0 {
                let code = CStr::from_ptr(pg_sys::SPI_result_code_string(rc));
                pgrx::error!("pg.query: SPI_execute failed: {}", code.to_string_lossy());
            }
            let table = pg_sys::SPI_tuptable;
            if counted && table.is_null() {
                let processed = pg_sys::SPI_processed;
                pg_sys::SPI_finish();
                return processed.to_string().into_bytes();
            }
            let mut out = Vec::with_capacity(64);
            out.push(b'[');
            if !table.is_null() {
                let desc = pg_sys::BlessTupleDesc((*table).tupdesc);
                for i in 0..pg_sys::SPI_processed as usize {
                    if i > 0 {
                        out.push(b',');
                    }
                    append_row_json(*(*table).vals.add(i), desc, &mut out);
                }
            }
            out.push(b']');
            pg_sys::SPI_finish();
            out
        }
    }
}

impl Query {
    /// Runs the query in a subtransaction of its own (plv8's `execute`): a
    /// SQL error rolls back only this statement and comes back as `E` and
    /// a JSON object (message, sqlstate, detail, hint) for the script to
    /// throw and, if it likes, catch. A cancel, a timeout or anything that
    /// is not an ERROR from PostgreSQL is not the script's to catch: its
    /// payload comes back as `Err`, to be raised again.
    ///
    /// # Safety
    /// As [`Query::run`].
    pub unsafe fn run_caught(&self, read_only: bool) -> Result<Vec<u8>, Box<dyn Any + Send>> {
        // SAFETY: per the contract; the sequence is PL/Python's and
        // PL/pgSQL's for an exception block: begin, switch back to the
        // caller's memory context, and on error roll back and restore the
        // caller's memory context and resource owner.
        unsafe {
            let context = pg_sys::CurrentMemoryContext;
            let owner = pg_sys::CurrentResourceOwner;
            pg_sys::BeginInternalSubTransaction(std::ptr::null());
            pg_sys::MemoryContextSwitchTo(context);
            let result = catch_unwind(AssertUnwindSafe(|| self.run(read_only, true)));
            let payload = match result {
                Ok(rows) => {
                    pg_sys::ReleaseCurrentSubTransaction();
                    pg_sys::MemoryContextSwitchTo(context);
                    pg_sys::CurrentResourceOwner = owner;
                    return Ok(rows);
                }
                Err(payload) => payload,
            };
            pg_sys::MemoryContextSwitchTo(context);
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
            pg_sys::MemoryContextSwitchTo(context);
            pg_sys::CurrentResourceOwner = owner;
            let report = match payload.downcast_ref::<CaughtError>() {
                Some(CaughtError::PostgresError(r)) | Some(CaughtError::ErrorReport(r)) => r,
                _ => return Err(payload),
            };
            let code = report.sql_error_code();
            if matches!(
                code,
                PgSqlErrorCode::ERRCODE_QUERY_CANCELED | PgSqlErrorCode::ERRCODE_ADMIN_SHUTDOWN
            ) {
                return Err(payload);
            }
            let answer = serde_json::json!({
                "message": report.message(),
                "sqlstate": crate::error::sqlstate_text(code),
                "detail": report.detail(),
                "hint": report.hint(),
            });
            let mut out = b"E".to_vec();
            out.extend_from_slice(answer.to_string().as_bytes());
            Ok(out)
        }
    }
}

/// The SQL type and value of one JSON parameter; `None` is NULL.
fn param(v: &Value) -> (pg_sys::Oid, Option<pg_sys::Datum>) {
    match v {
        Value::Null => (pg_sys::TEXTOID, None),
        Value::Bool(b) => (pg_sys::BOOLOID, b.into_datum()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => (pg_sys::INT8OID, i.into_datum()),
            None => (
                pg_sys::FLOAT8OID,
                n.as_f64().unwrap_or(f64::NAN).into_datum(),
            ),
        },
        Value::String(s) => (pg_sys::TEXTOID, s.as_str().into_datum()),
        Value::Array(_) | Value::Object(_) => (pg_sys::JSONBOID, JsonB(v.clone()).into_datum()),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
