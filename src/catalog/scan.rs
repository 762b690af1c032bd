//! A module's metadata read straight from `wasm.module`'s primary key
//! index, without a statement: the read every backend's first call makes,
//! where parsing and planning a query with cold caches cost more than the
//! read itself. Same visibility as the statement it replaces (the active
//! snapshot); no permission check, as for any catalog read the extension
//! makes for itself.

use super::ModuleMeta;
use crate::error::{PgWasmError, Result};
use pgrx::prelude::*;
use pgrx::JsonB;
use std::ffi::CStr;

/// Column numbers of the table, looked up by name (they survive columns
/// added by upgrade scripts).
struct Columns {
    name: i16,
    owner: i16,
    generation: i16,
    limits: i16,
    sha256: i16,
}

fn attnum(table: pg_sys::Oid, column: &CStr) -> Result<i16> {
    // SAFETY: syscache lookup with a valid relation OID and C string.
    let n = unsafe { pg_sys::get_attnum(table, column.as_ptr()) };
    if n <= 0 {
        return Err(PgWasmError::Internal(format!(
            "wasm.module has no column {column:?}"
        )));
    }
    Ok(n)
}

/// `None` when no snapshot is active (the caller then uses a statement).
pub fn find(name: &str) -> Result<Option<Option<ModuleMeta>>> {
    // SAFETY: reads backend state.
    if !unsafe { pg_sys::ActiveSnapshotSet() } {
        return Ok(None);
    }
    let (table, _) = super::table()?;
    // SAFETY: cache lookups by name with valid C strings.
    let index = unsafe {
        let nsp = pg_sys::get_rel_namespace(table);
        pg_sys::get_relname_relid(c"module_pkey".as_ptr(), nsp)
    };
    if index == pg_sys::InvalidOid {
        return Ok(None);
    }
    let cols = Columns {
        name: attnum(table, c"name")?,
        owner: attnum(table, c"owner")?,
        generation: attnum(table, c"generation")?,
        limits: attnum(table, c"limits")?,
        sha256: attnum(table, c"sha256")?,
    };
    // SAFETY: the relation is opened with AccessShareLock and closed (or
    // released by PostgreSQL's resource owner if an ERROR unwinds); the
    // scan key compares the index's first column (name, text) with a text
    // datum that outlives the scan; tuples are read while the scan is open.
    unsafe {
        let rel = pg_sys::table_open(table, pg_sys::AccessShareLock as _);
        let key_datum = name.into_datum().expect("text datum");
        let mut key: pg_sys::ScanKeyData = std::mem::zeroed();
        pg_sys::ScanKeyInit(
            &mut key,
            1,
            pg_sys::BTEqualStrategyNumber as _,
            pg_sys::Oid::from(pg_sys::F_TEXTEQ),
            key_datum,
        );
        let scan =
            pg_sys::systable_beginscan(rel, index, true, pg_sys::GetActiveSnapshot(), 1, &mut key);
        let tuple = pg_sys::systable_getnext(scan);
        let desc = (*rel).rd_att;
        let get = |attno: i16| {
            let mut isnull = false;
            let d = pg_sys::heap_getattr(tuple, attno as _, desc, &mut isnull);
            (d, isnull)
        };
        let meta = (!tuple.is_null()).then(|| {
            let (d, n) = get(cols.name);
            let name = String::from_datum(d, n);
            let (d, n) = get(cols.owner);
            let owner = (!n).then(|| pg_sys::Oid::from(d.value() as u32));
            let (d, n) = get(cols.generation);
            let generation = i64::from_datum(d, n);
            let (d, n) = get(cols.limits);
            let limits = JsonB::from_datum(d, n);
            let (d, n) = get(cols.sha256);
            let sha256 = Vec::<u8>::from_datum(d, n);
            ModuleMeta::from_columns(name, owner, generation, limits, sha256)
        });
        pg_sys::systable_endscan(scan);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as _);
        meta.transpose().map(Some)
    }
}
