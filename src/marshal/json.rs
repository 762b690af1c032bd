//! JSON a guest returned → SQL values of any type (SPEC §5): objects become
//! composite values (by column name; missing keys are NULL, unknown keys
//! are ignored, like `jsonb_populate_record`), arrays become SQL arrays,
//! `json`/`jsonb` columns take any JSON, and scalars go through the
//! column type's input function (so "2024-01-31" fits a date and 12.50 a
//! numeric). Every error names the function and the place in the value.

use super::codec::{input_call, invalid};
use super::md_array::MdArray;
use crate::error::{PgWasmError, Result};
use pgrx::pg_sys;
use serde_json::Value;

/// The datum for `value` as type `typid`; `None` is SQL NULL. `desc` is
/// the row type to use when `typid` is `record`.
pub fn to_datum(
    value: &Value,
    typid: pg_sys::Oid,
    typmod: i32,
    desc: Option<pg_sys::TupleDesc>,
    function: &str,
    place: &str,
) -> Result<Option<pg_sys::Datum>> {
    // SAFETY: syscache lookup with a valid type OID.
    if unsafe { pg_sys::get_typtype(typid) } as u8 == pg_sys::TYPTYPE_DOMAIN {
        if let Some(out) = structured_domain(value, typid, typmod, desc, function, place) {
            return out;
        }
    }
    if value.is_null() {
        return Ok(None);
    }
    if typid == pg_sys::JSONOID || typid == pg_sys::JSONBOID {
        return scalar(&value.to_string(), typid, typmod, function, place).map(Some);
    }
    // SAFETY: syscache lookups with a valid type OID.
    if unsafe { pg_sys::type_is_rowtype(typid) } {
        return row(value, typid, typmod, desc, function, place).map(Some);
    }
    // SAFETY: as above.
    let elem = unsafe { pg_sys::get_element_type(typid) };
    if elem != pg_sys::InvalidOid {
        return array(value, elem, function, place).map(Some);
    }
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Object(_) | Value::Array(_) => {
            return Err(invalid(
                function,
                &format!(
                    "{place} is a JSON {}, but its type {} needs a scalar",
                    if value.is_object() { "object" } else { "array" },
                    super::type_name(typid)
                ),
            ))
        }
        Value::Null => unreachable!("handled above"),
    };
    scalar(&text, typid, typmod, function, place).map(Some)
}

/// A domain over a composite, an array or a JSON type: the value is built
/// as its base type, then the domain's constraints are checked (NOT NULL
/// included). `None` for domains over other types, whose input function
/// (`domain_in`) checks them.
fn structured_domain(
    value: &Value,
    typid: pg_sys::Oid,
    typmod: i32,
    desc: Option<pg_sys::TupleDesc>,
    function: &str,
    place: &str,
) -> Option<Result<Option<pg_sys::Datum>>> {
    let mut base_typmod = typmod;
    // SAFETY: syscache lookups with a valid type OID.
    let base = unsafe { pg_sys::getBaseTypeAndTypmod(typid, &mut base_typmod) };
    // SAFETY: as above.
    let structured = base == pg_sys::JSONOID
        || base == pg_sys::JSONBOID
        || unsafe { pg_sys::type_is_rowtype(base) }
        || unsafe { pg_sys::get_element_type(base) } != pg_sys::InvalidOid;
    if !structured {
        return None;
    }
    Some(
        to_datum(value, base, base_typmod, desc, function, place).and_then(|d| {
            let checked = std::panic::catch_unwind(|| {
                // SAFETY: `d` is a value of the domain's base type (or NULL);
                // no cached state is passed (extra = NULL), so nothing is shared
                // with another call.
                unsafe {
                    pg_sys::domain_check(
                        d.unwrap_or(pg_sys::Datum::from(0)),
                        d.is_none(),
                        typid,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    )
                }
            });
            checked
                .map(|()| d)
                .map_err(|payload| super::codec::input_error(payload, function, place, typid))
        }),
    )
}

fn scalar(
    text: &str,
    typid: pg_sys::Oid,
    typmod: i32,
    function: &str,
    place: &str,
) -> Result<pg_sys::Datum> {
    input_call(typmod, text.as_bytes(), function, place, typid)
}

/// The row type of `typid` (or `desc` for `record`), released on drop.
pub(super) struct RowType {
    pub(super) desc: pg_sys::TupleDesc,
    refcounted: bool,
}

impl RowType {
    pub(super) fn lookup(
        typid: pg_sys::Oid,
        typmod: i32,
        desc: Option<pg_sys::TupleDesc>,
        function: &str,
    ) -> Result<Self> {
        if typid == pg_sys::RECORDOID && typmod < 0 {
            return match desc {
                Some(desc) => Ok(RowType {
                    desc,
                    refcounted: false,
                }),
                None => Err(invalid(
                    function,
                    "a record whose columns are not known here (declare OUT parameters, RETURNS TABLE or a composite type)",
                )),
            };
        }
        // SAFETY: returns a refcounted descriptor from the typcache (or
        // raises for an unknown type); released in Drop.
        let desc = unsafe { pg_sys::lookup_rowtype_tupdesc(typid, typmod) };
        Ok(RowType {
            desc,
            refcounted: true,
        })
    }
}

impl Drop for RowType {
    fn drop(&mut self) {
        if self.refcounted {
            // SAFETY: releases the reference taken in `lookup`.
            unsafe { pg_sys::DecrTupleDescRefCount(self.desc) }
        }
    }
}

/// One row (an object keyed by column name) as a heap tuple datum.
pub fn row(
    value: &Value,
    typid: pg_sys::Oid,
    typmod: i32,
    desc: Option<pg_sys::TupleDesc>,
    function: &str,
    place: &str,
) -> Result<pg_sys::Datum> {
    let rt = RowType::lookup(typid, typmod, desc, function)?;
    let (values, nulls) = columns(value, rt.desc, function, place)?;
    // SAFETY: `values`/`nulls` have one entry per attribute of `desc`;
    // heap_copy_tuple_as_datum stamps the row type into the tuple header.
    unsafe {
        let tuple = pg_sys::heap_form_tuple(
            rt.desc,
            values.as_ptr().cast_mut(),
            nulls.as_ptr().cast_mut(),
        );
        Ok(pg_sys::heap_copy_tuple_as_datum(tuple, rt.desc))
    }
}

/// The column values of one row for `desc`, from a JSON object (one key
/// per column) or a JSON array (one element per column, in order: a
/// component's tuple).
pub fn columns(
    value: &Value,
    desc: pg_sys::TupleDesc,
    function: &str,
    place: &str,
) -> Result<(Vec<pg_sys::Datum>, Vec<bool>)> {
    // SAFETY: `desc` is a valid tuple descriptor for the whole call.
    let natts = unsafe { (*desc).natts } as usize;
    let live = || {
        (0..natts)
            // SAFETY: i < natts.
            .filter(|&i| !unsafe { crate::pg::compat::tuple_desc_attr(desc, i) }.attisdropped)
    };
    let positional;
    let obj = match value {
        Value::Object(obj) => obj,
        Value::Array(items) if items.len() == live().count() => {
            positional = live()
                .zip(items)
                .map(|(i, v)| {
                    // SAFETY: i < natts; attname is a NUL-terminated NameData.
                    let att = unsafe { crate::pg::compat::tuple_desc_attr(desc, i) };
                    let name = unsafe { std::ffi::CStr::from_ptr(att.attname.data.as_ptr()) };
                    (name.to_string_lossy().into_owned(), v.clone())
                })
                .collect();
            &positional
        }
        _ => {
            return Err(invalid(
                function,
                &format!(
                    "{place} must be a JSON object with one key per column, or an array with one element per column, not {value}"
                ),
            ))
        }
    };
    let mut values = Vec::with_capacity(natts);
    let mut nulls = Vec::with_capacity(natts);
    for i in 0..natts {
        // SAFETY: i < natts.
        let att = unsafe { crate::pg::compat::tuple_desc_attr(desc, i) };
        if att.attisdropped {
            values.push(pg_sys::Datum::from(0));
            nulls.push(true);
            continue;
        }
        // SAFETY: attname is a NUL-terminated NameData.
        let name = unsafe { std::ffi::CStr::from_ptr(att.attname.data.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        let d = match obj.get(&name) {
            None => None,
            Some(v) => to_datum(
                v,
                att.atttypid,
                att.atttypmod,
                None,
                function,
                &format!("{place} column \"{name}\""),
            )?,
        };
        values.push(d.unwrap_or(pg_sys::Datum::from(0)));
        nulls.push(d.is_none());
    }
    Ok((values, nulls))
}

/// Reads `bytes` as a JSON array one element at a time, handing each to
/// `put` with its 1-based position, without ever holding the whole array
/// as a tree. `Ok(false)`: the document is `null`. A document that is
/// neither is an error saying `not_array`.
pub fn each_element(
    bytes: &[u8],
    function: &str,
    not_array: &str,
    put: impl FnMut(usize, Value) -> Result<()>,
) -> Result<bool> {
    use serde::de::{Deserializer as _, Error as _, SeqAccess, Visitor};

    struct Elements<'a, F> {
        put: F,
        failed: &'a mut Option<PgWasmError>,
    }

    impl<'de, F: FnMut(usize, Value) -> Result<()>> Visitor<'de> for Elements<'_, F> {
        type Value = bool;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON array")
        }

        fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<bool, E> {
            Ok(false)
        }

        fn visit_seq<A: SeqAccess<'de>>(
            mut self,
            mut seq: A,
        ) -> std::result::Result<bool, A::Error> {
            let mut i = 0;
            while let Some(v) = seq.next_element::<Value>()? {
                i += 1;
                if let Err(e) = (self.put)(i, v) {
                    *self.failed = Some(e);
                    return Err(A::Error::custom("element rejected"));
                }
            }
            Ok(true)
        }
    }

    let mut failed = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let outcome = de
        .deserialize_any(Elements {
            put,
            failed: &mut failed,
        })
        .and_then(|was_array| de.end().map(|()| was_array));
    if let Some(e) = failed {
        return Err(e);
    }
    outcome.map_err(|e| {
        if e.is_data() {
            invalid(function, not_array)
        } else {
            invalid(function, &format!("the result is not valid JSON: {e}"))
        }
    })
}

/// The element type of `typid` when a result of that type is read element
/// by element ([`array_from_slice`]): an array, not a domain over one
/// (whose constraints need the whole value).
pub fn streamed_array_elem(typid: pg_sys::Oid) -> Option<pg_sys::Oid> {
    // SAFETY: syscache lookups with a valid type OID.
    unsafe {
        let elem = pg_sys::get_element_type(typid);
        (elem != pg_sys::InvalidOid && pg_sys::get_typtype(typid) as u8 != pg_sys::TYPTYPE_DOMAIN)
            .then_some(elem)
    }
}

/// An array of `elem` straight from JSON text (`null` is SQL NULL; nested
/// arrays are dimensions, [`MdArray`]), one element at a time: each element's small tree is dropped once it is a
/// datum, so host memory is the datums and the array, not a tree of the
/// whole document (see `budget::ARRAY`).
pub fn array_from_slice(
    bytes: &[u8],
    elem: pg_sys::Oid,
    function: &str,
    place: &str,
) -> Result<Option<pg_sys::Datum>> {
    let mut array = MdArray::new(elem, function, place);
    let was_array = each_element(
        bytes,
        function,
        &format!("{place} must be a JSON array"),
        |_, v| array.push(&v),
    )?;
    Ok(was_array.then(|| array.finish()))
}

fn array(value: &Value, elem: pg_sys::Oid, function: &str, place: &str) -> Result<pg_sys::Datum> {
    let Value::Array(items) = value else {
        return Err(invalid(
            function,
            &format!("{place} must be a JSON array, not {value}"),
        ));
    };
    let mut array = MdArray::new(elem, function, place);
    for v in items {
        array.push(v)?;
    }
    Ok(array.finish())
}

/// An array element type's storage, looked up once.
#[derive(Clone, Copy)]
pub struct ElemType {
    pub(super) oid: pg_sys::Oid,
    pub(super) len: i16,
    pub(super) byval: bool,
    pub(super) align: std::ffi::c_char,
}

impl ElemType {
    /// `text`, the element type of flags (text[]).
    pub(super) const TEXT: ElemType = ElemType {
        oid: pg_sys::TEXTOID,
        len: -1,
        byval: false,
        align: pg_sys::TYPALIGN_INT as std::ffi::c_char,
    };

    pub(super) fn lookup(oid: pg_sys::Oid) -> Self {
        let (mut len, mut byval, mut align) = (0i16, false, 0 as std::ffi::c_char);
        // SAFETY: syscache lookup with a valid type OID.
        unsafe { pg_sys::get_typlenbyvalalign(oid, &mut len, &mut byval, &mut align) };
        ElemType {
            oid,
            len,
            byval,
            align,
        }
    }
}

/// A one-dimensional array (empty: no dimensions, as PostgreSQL writes
/// `'{}'`) from its values, in a new palloc'd array.
pub(super) fn form_array_of(
    mut values: Vec<pg_sys::Datum>,
    mut nulls: Vec<bool>,
    elem: &ElemType,
) -> pg_sys::Datum {
    if values.is_empty() {
        // SAFETY: builds an empty array of a valid element type.
        return pg_sys::Datum::from(unsafe { pg_sys::construct_empty_array(elem.oid) });
    }
    let mut dims = [values.len() as i32];
    let mut lbs = [1i32];
    // SAFETY: construct_md_array copies the values (one per entry of
    // `nulls`, of the element type described by `elem`) into a new
    // palloc'd array.
    unsafe {
        let a = pg_sys::construct_md_array(
            values.as_mut_ptr(),
            nulls.as_mut_ptr(),
            1,
            dims.as_mut_ptr(),
            lbs.as_mut_ptr(),
            elem.oid,
            elem.len as i32,
            elem.byval,
            elem.align,
        );
        pg_sys::Datum::from(a)
    }
}
