//! A module's metadata, and the first bytes of its code, read straight
//! from `wasm.module`'s primary key index, without a statement: reads
//! every backend's first call makes, where parsing and planning a query
//! with cold caches cost more than the read itself. Same visibility as the
//! statement each replaces (the active snapshot, which the callers set);
//! no permission check, as for any catalog read the extension makes for
//! itself.

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
    let Some(rel) = table_with_snapshot()? else {
        return Ok(None);
    };
    let table = rel.0;
    let cols = Columns {
        name: attnum(table, c"name")?,
        owner: attnum(table, c"owner")?,
        generation: attnum(table, c"generation")?,
        limits: attnum(table, c"limits")?,
        sha256: attnum(table, c"sha256")?,
    };
    let meta = with_row(rel, name, |get| {
        // SAFETY: the datums are the row's, read while the scan is open.
        unsafe {
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
        }
    });
    meta.transpose().map(Some)
}

/// The first `N` bytes of module `name`'s code (fewer when it is shorter),
/// `Some(None)` when there is no such module; `None` when no snapshot is
/// active. The code is stored out of line and uncompressed, so only its
/// first chunk is read.
pub fn code_prefix<const N: usize>(name: &str) -> Result<Option<Option<Vec<u8>>>> {
    let Some(rel) = table_with_snapshot()? else {
        return Ok(None);
    };
    let bytes = attnum(rel.0, c"bytes")?;
    let prefix = with_row(rel, name, |get| {
        let (d, isnull) = get(bytes);
        if isnull {
            return Vec::new();
        }
        // SAFETY: a bytea datum of the row, read while the scan is open;
        // the slice is a new copy in the current memory context (a
        // palloc'd varlena, freed with it), read before it goes.
        unsafe {
            let slice = pg_sys::pg_detoast_datum_slice(d.cast_mut_ptr(), 0, N as i32);
            let len = pgrx::varlena::varsize_any_exhdr(slice).min(N);
            let data = pgrx::varlena::vardata_any(slice) as *const u8;
            std::slice::from_raw_parts(data, len).to_vec()
        }
    });
    Ok(Some(prefix))
}

/// The table and its primary key index, when a snapshot is active to
/// read them with (and the index is there).
fn table_with_snapshot() -> Result<Option<(pg_sys::Oid, pg_sys::Oid)>> {
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
    Ok((index != pg_sys::InvalidOid).then_some((table, index)))
}

/// Runs `read` on the row of module `name`, found through the primary
/// key index under the active snapshot; `None` when there is no such row.
/// `read` gets a column's datum and null flag by attribute number.
fn with_row<T>(
    (table, index): (pg_sys::Oid, pg_sys::Oid),
    name: &str,
    read: impl FnOnce(&dyn Fn(i16) -> (pg_sys::Datum, bool)) -> T,
) -> Option<T> {
    // SAFETY: the relation is opened with AccessShareLock and closed (or
    // released by PostgreSQL's resource owner if an ERROR unwinds); the
    // scan key compares the index's first column (name, text) with a text
    // datum that outlives the scan; the tuple is read while the scan is
    // open (the caller's snapshot is active: checked by the callers).
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
        let out = (!tuple.is_null()).then(|| read(&get));
        pg_sys::systable_endscan(scan);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as _);
        out
    }
}
