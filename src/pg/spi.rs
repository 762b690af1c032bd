//! `pg.query`: SQL through SPI with JSON parameters, rows back as JSON.
//!
//! Parameters are typed from their JSON value: integers are `bigint`, other
//! numbers `double precision`, strings `text`, booleans `boolean`, objects
//! and arrays `jsonb`, null a NULL `text`; SQL casts them as needed
//! (`WHERE id = $1::int`). Parameters given with their types (a plan of
//! plv8.prepare or plpy.prepare: `{"types": [...], "values": [...]}`) are
//! converted to those types. Each result row becomes a JSON object as
//! `row_to_json` makes it.

use crate::marshal::codec::append_row_json;
use pgrx::pg_sys;
use pgrx::pg_sys::panic::{CaughtError, ErrorReportWithLevel};
use pgrx::PgSqlErrorCode;
use pgrx::{IntoDatum, JsonB};
use serde_json::Value;
use std::any::Any;
use std::ffi::{CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub struct Query {
    sql: CString,
    params: Vec<Value>,
    /// The parameters' declared SQL types (plv8.prepare's and
    /// plpy.prepare's), as SQL writes them; `None`: typed from their values.
    types: Option<Vec<CString>>,
}

impl Query {
    /// Checks what the guest passed, before any PostgreSQL call.
    pub fn parse(sql: &str, params: &str) -> Result<Self, String> {
        let sql = CString::new(sql)
            .map_err(|_| "pg.query: the SQL text contains a NUL byte".to_string())?;
        let (params, types) = if params.trim().is_empty() {
            (Vec::new(), None)
        } else {
            match serde_json::from_str(params) {
                Ok(Value::Array(a)) => (a, None),
                Ok(Value::Object(mut o)) if o.contains_key("types") => {
                    let (Some(Value::Array(types)), Some(Value::Array(values))) =
                        (o.remove("types"), o.remove("values"))
                    else {
                        return Err(
                            "pg.query: typed parameters are {\"types\": [...], \"values\": [...]}"
                                .into(),
                        );
                    };
                    if types.len() != values.len() {
                        return Err(format!(
                            "the plan has {} parameter type(s), but {} value(s) were given",
                            types.len(),
                            values.len()
                        ));
                    }
                    let types = types
                        .iter()
                        .map(|t| match t {
                            Value::String(t) => CString::new(t.as_str())
                                .map_err(|_| "a parameter type contains a NUL byte".to_string()),
                            other => Err(format!(
                                "a parameter type must be a type name, not {}",
                                kind(other)
                            )),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    (values, Some(types))
                }
                Ok(other) => {
                    return Err(format!(
                        "pg.query: parameters must be a JSON array, not {}",
                        kind(&other)
                    ))
                }
                Err(e) => return Err(format!("pg.query: parameters are not valid JSON: {e}")),
            }
        };
        Ok(Query { sql, params, types })
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
            let mut bound = self.bind();
            let rc = pg_sys::SPI_execute_with_args(
                self.sql.as_ptr(),
                self.params.len() as i32,
                bound.types.as_mut_ptr(),
                bound.values.as_mut_ptr(),
                bound.nulls.as_ptr(),
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
            let out = rows_json(table);
            pg_sys::SPI_finish();
            out
        }
    }

    /// Opens a cursor on the query (read-only in STABLE and IMMUTABLE
    /// functions) and returns its portal's name. The portal belongs to the
    /// transaction: it outlives this SPI connection, and PostgreSQL drops
    /// it when the transaction (or a subtransaction it was opened in) ends.
    ///
    /// # Safety
    /// As [`Query::run`].
    pub unsafe fn open_cursor(&self, read_only: bool) -> Vec<u8> {
        // SAFETY: per the function's contract, between SPI_connect and
        // SPI_finish; the portal's name is copied before SPI_finish.
        unsafe {
            pg_sys::SPI_connect();
            let mut bound = self.bind();
            let portal = pg_sys::SPI_cursor_open_with_args(
                std::ptr::null(),
                self.sql.as_ptr(),
                self.params.len() as i32,
                bound.types.as_mut_ptr(),
                bound.values.as_mut_ptr(),
                bound.nulls.as_ptr(),
                read_only,
                0,
            );
            if portal.is_null() {
                let code = CStr::from_ptr(pg_sys::SPI_result_code_string(pg_sys::SPI_result));
                pgrx::error!("could not open a cursor: {}", code.to_string_lossy());
            }
            let name = CStr::from_ptr((*portal).name).to_bytes().to_vec();
            pg_sys::SPI_finish();
            name
        }
    }

    /// The parameters as SPI takes them.
    ///
    /// # Safety
    /// As [`Query::run`] (a typed parameter may raise an ERROR).
    unsafe fn bind(&self) -> Bound {
        let mut bound = Bound {
            types: Vec::with_capacity(self.params.len()),
            values: Vec::with_capacity(self.params.len()),
            nulls: Vec::with_capacity(self.params.len()),
        };
        for (i, p) in self.params.iter().enumerate() {
            let (ty, datum) = match &self.types {
                // SAFETY: per the function's contract.
                Some(types) => unsafe { typed_param(p, &types[i], i + 1) },
                None => param(p),
            };
            bound.types.push(ty);
            bound.values.push(datum.unwrap_or(pg_sys::Datum::from(0)));
            bound
                .nulls
                .push(if datum.is_some() { b' ' } else { b'n' } as std::ffi::c_char);
        }
        bound
    }
}

struct Bound {
    types: Vec<pg_sys::Oid>,
    values: Vec<pg_sys::Datum>,
    nulls: Vec<std::ffi::c_char>,
}

/// SPI's result rows as a JSON array of objects.
///
/// # Safety
/// `table` is SPI's current tuple table (or null: no rows), inside the SPI
/// connection that made it.
/// Rows whose JSON would outgrow `pg_wasm.max_result_mb` are an ERROR
/// (54000): the host never builds more for a guest than that budget.
unsafe fn rows_json(table: *mut pg_sys::SPITupleTable) -> Vec<u8> {
    let budget = crate::marshal::budget::budget();
    let mut out = Vec::with_capacity(64);
    out.push(b'[');
    if !table.is_null() {
        // SAFETY: per the function's contract: SPI_processed rows in `table`.
        unsafe {
            let desc = pg_sys::BlessTupleDesc((*table).tupdesc);
            for i in 0..pg_sys::SPI_processed as usize {
                if i > 0 {
                    out.push(b',');
                }
                append_row_json(*(*table).vals.add(i), desc, &mut out);
                if out.len() > budget {
                    pgrx::pg_sys::panic::ErrorReport::new(
                        PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                        format!(
                            "the statement's rows take more than pg_wasm.max_result_mb ({} MB) as JSON",
                            budget >> 20
                        ),
                        "pg_wasm",
                    )
                    .set_hint("Read them with a cursor (plpy.cursor, plv8.prepare(...).cursor()), a part at a time.")
                    .report(pgrx::PgLogLevel::ERROR);
                }
            }
        }
    }
    out.push(b']');
    out
}

/// Up to `count` more rows of the cursor `name`, as a JSON array (empty
/// once it is exhausted); a cursor PostgreSQL has closed (its transaction
/// or subtransaction ended) is an ERROR.
///
/// # Safety
/// As [`Query::run`].
pub unsafe fn fetch_cursor(name: &CStr, count: i32) -> Vec<u8> {
    // SAFETY: per the function's contract, between SPI_connect and
    // SPI_finish; the rows are converted before the tuple table is freed.
    unsafe {
        pg_sys::SPI_connect();
        let portal = pg_sys::SPI_cursor_find(name.as_ptr());
        if portal.is_null() {
            pgrx::error!("the cursor is closed: its transaction or subtransaction ended");
        }
        pg_sys::SPI_cursor_fetch(portal, true, i64::from(count.max(0)) as _);
        let out = rows_json(pg_sys::SPI_tuptable);
        pg_sys::SPI_freetuptable(pg_sys::SPI_tuptable);
        pg_sys::SPI_finish();
        out
    }
}

/// Closes the cursor `name` if PostgreSQL has not already.
///
/// # Safety
/// As [`Query::run`].
pub unsafe fn close_cursor(name: &CStr) {
    // SAFETY: per the function's contract; a portal SPI_cursor_find found
    // is open.
    unsafe {
        let portal = pg_sys::SPI_cursor_find(name.as_ptr());
        if !portal.is_null() {
            pg_sys::SPI_cursor_close(portal);
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
        // SAFETY: per the contract.
        unsafe { caught(|| self.run(read_only, true)) }
    }
}

/// Runs `f` (SPI work answering bytes) in a subtransaction of its own, as
/// [`Query::run_caught`] describes: a SQL error is rolled back and answered
/// as `E` and its fields; anything else comes back as `Err`.
///
/// # Safety
/// As [`Query::run`].
pub unsafe fn caught(f: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>, Box<dyn Any + Send>> {
    // SAFETY: per the contract; the sequence is PL/Python's and
    // PL/pgSQL's for an exception block: begin, switch back to the
    // caller's memory context, and on error roll back and restore the
    // caller's memory context and resource owner.
    unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        let result = catch_unwind(AssertUnwindSafe(f));
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
        // An ERROR from PostgreSQL, or one raised on the Rust side here (a
        // typed parameter that does not fit its type).
        let report = match payload.downcast_ref::<CaughtError>() {
            Some(CaughtError::PostgresError(r)) | Some(CaughtError::ErrorReport(r)) => r,
            _ => match payload.downcast_ref::<ErrorReportWithLevel>() {
                Some(r) => r,
                None => return Err(payload),
            },
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

/// Parameter `n`'s value as its declared type (`regtypein`'s syntax:
/// `int`, `text[]`, `numeric(10,2)`): a scalar through the type's input
/// function, as PL/Python and plv8 bind it (its own error if it does not
/// fit); arrays, composites and JSON converted from the JSON value as a
/// result of that type is. An unknown type is an ERROR too.
///
/// # Safety
/// As [`Query::run`]: inside a transaction, where an ERROR may unwind.
unsafe fn typed_param(
    v: &Value,
    type_name: &CStr,
    n: usize,
) -> (pg_sys::Oid, Option<pg_sys::Datum>) {
    // SAFETY: regtypein reads the NUL-terminated name; an unknown type is
    // an ERROR, which unwinds as a panic per the contract.
    let ty = unsafe {
        pgrx::direct_function_call::<pg_sys::Oid>(
            pg_sys::regtypein,
            &[Some(pg_sys::Datum::from(type_name.as_ptr()))],
        )
    }
    .unwrap_or(pg_sys::InvalidOid);
    let text = match v {
        Value::Null => return (ty, None),
        Value::String(s) => Some(s.clone()),
        Value::Number(x) => Some(x.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(_) | Value::Object(_) => None,
    };
    // SAFETY: syscache lookups of a type regtypein found.
    let scalar = unsafe {
        ty != pg_sys::JSONOID
            && ty != pg_sys::JSONBOID
            && pg_sys::get_element_type(ty) == pg_sys::InvalidOid
            && !pg_sys::type_is_rowtype(ty)
    };
    if let (Some(text), true) = (text, scalar) {
        let Ok(text) = CString::new(text) else {
            pgrx::error!("parameter ${n} contains a NUL byte");
        };
        let (mut input, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
        // SAFETY: the type exists; its input function reads the
        // NUL-terminated text, and an invalid value is its own ERROR.
        let datum = unsafe {
            pg_sys::getTypeInputInfo(ty, &mut input, &mut ioparam);
            pg_sys::OidInputFunctionCall(input, text.as_ptr().cast_mut(), ioparam, -1)
        };
        return (ty, Some(datum));
    }
    let place = format!("parameter ${n}");
    match crate::marshal::json::to_datum(v, ty, -1, None, "the prepared statement", &place) {
        Ok(datum) => (ty, datum),
        Err(e) => e.raise(),
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
