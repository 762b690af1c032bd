//! `{"new": {...}}`: the row to store, made from the unchanged row and the
//! guest's columns. What a column needs (its position, whether it is
//! generated, its input function) is looked up once per call site, so a
//! replaced column costs one input function call per row.

use super::decision::Val;
use crate::error::{PgWasmError, Result};
use crate::marshal::codec::{contains_nul, input_with, verify_text};
use crate::marshal::{io_cache, json};
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use std::ffi::CStr;

enum Input {
    /// text and varchar without a length: the string as it is.
    Text,
    /// A scalar type: its input function.
    Scalar {
        finfo: Box<pg_sys::FmgrInfo>,
        ioparam: pg_sys::Oid,
    },
    /// json, jsonb, composites and arrays: through `marshal::json`.
    Json,
}

struct Column {
    name: Vec<u8>,
    index: usize,
    typid: pg_sys::Oid,
    typmod: i32,
    generated: bool,
    input: Input,
}

pub struct NewRow {
    desc: pg_sys::TupleDesc,
    columns: Vec<Column>,
    values: Vec<pg_sys::Datum>,
    nulls: Vec<bool>,
    /// A NUL-terminated copy of a value for input functions.
    cstring: Vec<u8>,
    /// The server encoding is UTF-8, which every string of the decision
    /// already is (the JSON reader checks), so text needs no second check.
    utf8: bool,
}

impl NewRow {
    /// # Safety
    /// `desc` must stay valid (and unchanged) as long as this is used;
    /// `mcxt` must outlive it (input functions keep state there).
    pub unsafe fn new(desc: pg_sys::TupleDesc, mcxt: pg_sys::MemoryContext) -> Self {
        // SAFETY: per the contract.
        let natts = unsafe { (*desc).natts } as usize;
        let mut columns = Vec::with_capacity(natts);
        for index in 0..natts {
            // SAFETY: index < natts.
            let att = unsafe { crate::pg::compat::tuple_desc_attr(desc, index) };
            if att.attisdropped {
                continue;
            }
            let typid = att.atttypid;
            // SAFETY: catalog lookups with a valid type OID; the FmgrInfo
            // keeps its state in `mcxt`.
            let input = unsafe {
                if typid == pg_sys::TEXTOID || (typid == pg_sys::VARCHAROID && att.atttypmod < 0) {
                    Input::Text
                } else if typid == pg_sys::JSONOID
                    || typid == pg_sys::JSONBOID
                    || pg_sys::type_is_rowtype(typid)
                    || pg_sys::get_element_type(typid) != pg_sys::InvalidOid
                {
                    Input::Json
                } else {
                    let (mut func, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
                    pg_sys::getTypeInputInfo(typid, &mut func, &mut ioparam);
                    Input::Scalar {
                        finfo: io_cache::boxed_fmgr(func, mcxt),
                        ioparam,
                    }
                }
            };
            columns.push(Column {
                // SAFETY: attname is NUL-terminated.
                name: unsafe { CStr::from_ptr(att.attname.data.as_ptr()) }
                    .to_bytes()
                    .to_vec(),
                index,
                typid,
                typmod: att.atttypmod,
                generated: att.attgenerated != 0,
                input,
            });
        }
        NewRow {
            desc,
            columns,
            values: vec![pg_sys::Datum::from(0); natts],
            nulls: vec![false; natts],
            cstring: Vec::with_capacity(64),
            // SAFETY: reads a backend global.
            utf8: unsafe { pg_sys::GetDatabaseEncoding() } == pg_sys::pg_enc::PG_UTF8 as i32,
        }
    }

    /// `unchanged` with the guest's columns replaced. An unknown or
    /// generated column, or a value its type does not take, is an error
    /// that names the column.
    ///
    /// `deformed` are `unchanged`'s columns when they are at hand already.
    ///
    /// # Safety
    /// `unchanged` must be a valid tuple of the descriptor.
    pub unsafe fn build(
        &mut self,
        unchanged: pg_sys::HeapTuple,
        deformed: Option<(&[pg_sys::Datum], &[bool])>,
        cols: &[(std::borrow::Cow<str>, Val)],
        target: &str,
    ) -> Result<pg_sys::HeapTuple> {
        match deformed {
            Some((values, nulls)) => {
                self.values.copy_from_slice(values);
                self.nulls.copy_from_slice(nulls);
            }
            // SAFETY: the buffers hold one entry per attribute of desc.
            None => unsafe {
                pg_sys::heap_deform_tuple(
                    unchanged,
                    self.desc,
                    self.values.as_mut_ptr(),
                    self.nulls.as_mut_ptr(),
                )
            },
        }
        for (name, value) in cols {
            let Some(col) = self.columns.iter().find(|c| c.name == name.as_bytes()) else {
                return Err(PgWasmError::InvalidResult {
                    sqlstate: PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                    message: format!(
                        "wasm trigger function \"{target}\" set column \"{name}\", which the table does not have"
                    ),
                });
            };
            if col.generated {
                return Err(PgWasmError::InvalidResult {
                    sqlstate: PgSqlErrorCode::ERRCODE_GENERATED_ALWAYS,
                    message: format!(
                        "wasm trigger function \"{target}\" set generated column \"{name}\", which PostgreSQL computes itself"
                    ),
                });
            }
            let d = datum(col, value, &mut self.cstring, self.utf8, target)?;
            self.values[col.index] = d.unwrap_or(pg_sys::Datum::from(0));
            self.nulls[col.index] = d.is_none();
        }
        // SAFETY: one value per attribute; the executor copies the tuple.
        Ok(unsafe {
            pg_sys::heap_form_tuple(self.desc, self.values.as_mut_ptr(), self.nulls.as_mut_ptr())
        })
    }
}

fn place(col: &Column) -> String {
    format!("new column \"{}\"", String::from_utf8_lossy(&col.name))
}

/// The datum for one replaced column; `None` is NULL.
fn datum(
    col: &Column,
    value: &Val,
    cstring: &mut Vec<u8>,
    utf8: bool,
    target: &str,
) -> Result<Option<pg_sys::Datum>> {
    let scalar_column = !matches!(col.input, Input::Json);
    let text: &str = match value {
        Val::Null => return Ok(None),
        Val::Str(s) if scalar_column => s,
        Val::Json(t) if scalar_column && !t.starts_with(['{', '[']) => t,
        // json, jsonb, composite and array columns, and objects or arrays
        // for any column: the general JSON path, which says what does not fit.
        _ => {
            let v = match value {
                Val::Str(s) => serde_json::Value::String(s.to_string()),
                Val::Json(t) => serde_json::from_str(t).expect("JSON text the reader checked"),
                Val::Null => unreachable!("handled above"),
            };
            return json::to_datum(&v, col.typid, col.typmod, None, target, &place(col));
        }
    };
    match &col.input {
        Input::Text => {
            if text.as_bytes().contains(&0) {
                return Err(contains_nul(target, &place(col)));
            }
            if !utf8 {
                verify_text(text.as_bytes(), target, col.typid)?;
            }
            // SAFETY: copies the checked bytes into a new text value.
            Ok(Some(pg_sys::Datum::from(unsafe {
                pg_sys::cstring_to_text_with_len(text.as_ptr().cast(), text.len() as i32)
            })))
        }
        // SAFETY: the column type's input function, looked up in `new`.
        Input::Scalar { finfo, ioparam } => unsafe {
            input_with(
                finfo.as_ref(),
                *ioparam,
                col.typmod,
                text.as_bytes(),
                cstring,
                target,
                || place(col),
                col.typid,
            )
        }
        .map(Some),
        Input::Json => unreachable!("handled above"),
    }
}
