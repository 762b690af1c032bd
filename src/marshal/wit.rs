//! SQL values ⇄ component values (SPEC §10's table). The SQL type of each
//! parameter and of the result is checked once, when a call site is
//! prepared or a function created; per row a value is converted once.

use super::wit_rows::{self, ArgPlan};
use crate::error::{PgWasmError, Result};
use pg_wasm_runtime::component::{snake, Val, WitType};
use pgrx::prelude::*;
use pgrx::FromDatum;

/// The SQL type `t` maps to, as a type OID, for the types calls support.
pub fn sql_type(t: &WitType) -> std::result::Result<pg_sys::Oid, String> {
    Ok(match t {
        WitType::Bool => pg_sys::BOOLOID,
        WitType::S8 | WitType::U8 | WitType::S16 => pg_sys::INT2OID,
        WitType::U16 | WitType::S32 => pg_sys::INT4OID,
        WitType::U32 | WitType::S64 => pg_sys::INT8OID,
        WitType::F32 => pg_sys::FLOAT4OID,
        WitType::F64 => pg_sys::FLOAT8OID,
        WitType::Char | WitType::String | WitType::Enum(_) => pg_sys::TEXTOID,
        WitType::List(inner) if **inner == WitType::U8 => pg_sys::BYTEAOID,
        WitType::Option(inner) => sql_type(inner)?,
        WitType::Result { ok: Some(inner), .. } => sql_type(inner)?,
        WitType::Result { ok: None, .. } => pg_sys::VOIDOID,
        other => {
            return Err(format!(
                "WIT type {} is not mapped to SQL yet (scalars, strings, list<u8>, option, result and enum are)",
                other.wit()
            ))
        }
    })
}

/// Whether SQL type `oid` is what SPEC §10 maps WIT type `t` to, or why
/// not. Scalars must be their one SQL type; a record fits any composite
/// type with the same fields (snake_case names, in order, each fitting); a
/// list fits an array whose element fits.
pub fn fits(t: &WitType, oid: pg_sys::Oid) -> std::result::Result<(), String> {
    let name = crate::marshal::type_name;
    let not = |want: &str| {
        Err(format!(
            "is {}, but WIT type {} maps to {want}",
            name(oid),
            t.wit()
        ))
    };
    match t {
        WitType::Option(inner)
        | WitType::Result {
            ok: Some(inner), ..
        } => fits(inner, oid),
        WitType::U64 if oid == pg_sys::NUMERICOID => Ok(()),
        WitType::U64 => not("numeric"),
        WitType::Flags(_) if oid == pg_sys::TEXTARRAYOID => Ok(()),
        WitType::Flags(_) => not("text[]"),
        WitType::Variant(_) if oid == pg_sys::JSONBOID => Ok(()),
        WitType::Variant(_) => not("jsonb"),
        WitType::List(inner) if **inner != WitType::U8 => {
            // SAFETY: syscache lookup with a type OID.
            let elem = unsafe { pg_sys::get_element_type(oid) };
            if elem == pg_sys::InvalidOid {
                return not("an array");
            }
            fits(inner, elem)
                .map_err(|why| format!("is {}, whose elements do not fit: each {why}", name(oid)))
        }
        WitType::Record { .. } | WitType::Tuple(_) => match composite_columns(oid) {
            Some(columns) => row_fits(t, &columns, &crate::marshal::type_name(oid)),
            // An argument of type record takes any row: its columns are
            // checked per call (see `tuple_val`).
            None if oid == pg_sys::RECORDOID && matches!(t, WitType::Tuple(_)) => Ok(()),
            None => Err(format!(
                "is {}, but WIT type {} needs a composite type",
                crate::marshal::type_name(oid),
                t.wit()
            )),
        },
        WitType::Other(_) => Err(format!(
            "has WIT type {}, which is not mapped to SQL yet",
            t.wit()
        )),
        scalar => {
            let want = sql_type(scalar)?;
            if want == oid {
                Ok(())
            } else {
                not(&name(want))
            }
        }
    }
}

/// The columns (name, type) of composite type `oid`; `None` if it is not
/// one (or is the anonymous `record`).
pub fn composite_columns(oid: pg_sys::Oid) -> Option<Vec<(String, pg_sys::Oid)>> {
    // SAFETY: syscache lookups with a type OID.
    if oid == pg_sys::RECORDOID || !unsafe { pg_sys::type_is_rowtype(oid) } {
        return None;
    }
    // SAFETY: a composite type's descriptor, reference-counted; released
    // below before anything can raise.
    unsafe {
        let desc = pg_sys::lookup_rowtype_tupdesc(oid, -1);
        let columns = desc_columns(desc);
        pg_sys::DecrTupleDescRefCount(desc);
        Some(columns)
    }
}

/// The columns (name, type) of `desc`, dropped ones left out.
///
/// # Safety
/// `desc` must be a valid tuple descriptor.
pub unsafe fn desc_columns(desc: pg_sys::TupleDesc) -> Vec<(String, pg_sys::Oid)> {
    // SAFETY: per the contract; attribute names are NUL-terminated.
    unsafe {
        (0..(*desc).natts as usize)
            .map(|i| crate::pg::compat::tuple_desc_attr(desc, i))
            .filter(|a| !a.attisdropped)
            .map(|a| {
                let n = std::ffi::CStr::from_ptr(a.attname.data.as_ptr());
                (n.to_string_lossy().into_owned(), a.atttypid)
            })
            .collect()
    }
}

/// Whether a row of `columns` (a composite type, or OUT parameters named
/// `what`) fits `t`: a record's fields by name, in order; a tuple's
/// elements in order, whatever the columns are called.
pub fn row_fits(
    t: &WitType,
    columns: &[(String, pg_sys::Oid)],
    what: &str,
) -> std::result::Result<(), String> {
    let have: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let elements: Vec<(String, &WitType)> = match t {
        WitType::Record { fields, .. } => {
            let want: Vec<String> = fields.iter().map(|(n, _)| snake(n)).collect();
            if want != have {
                return Err(format!(
                    "is {what} with columns ({}), but WIT type {} has fields ({})",
                    have.join(", "),
                    t.wit(),
                    want.join(", ")
                ));
            }
            fields.iter().map(|(n, ft)| (snake(n), ft)).collect()
        }
        WitType::Tuple(ts) => {
            if ts.len() != columns.len() {
                return Err(format!(
                    "is {what} with {} columns ({}), but WIT type {} has {} elements",
                    columns.len(),
                    have.join(", "),
                    t.wit(),
                    ts.len()
                ));
            }
            columns.iter().map(|(n, _)| n.clone()).zip(ts).collect()
        }
        _ => return Err(format!("is {what}, but WIT type {} is not a row", t.wit())),
    };
    for ((n, ft), (_, col)) in elements.into_iter().zip(columns) {
        fits(ft, *col).map_err(|why| format!("has column {n} that {why}"))?;
    }
    Ok(())
}

/// Whether a parameter of type `t` may be NULL (an `option`).
pub fn nullable(t: &WitType) -> bool {
    matches!(t, WitType::Option(_))
}

/// The argument `datum` (of SQL type `oid`, which fits `t`) as a value
/// of `t`, taken apart as `plan` (made for `oid`) says; `what` names the
/// argument in errors.
///
/// # Safety
/// `datum` must be a valid datum of type `oid` unless `is_null`, and any
/// descriptor in `plan` valid.
pub unsafe fn to_val(
    datum: pg_sys::Datum,
    is_null: bool,
    oid: pg_sys::Oid,
    t: &WitType,
    plan: &ArgPlan,
    what: &dyn Fn() -> String,
) -> Result<Val> {
    if let WitType::Option(inner) = t {
        if is_null {
            return Ok(Val::Option(None));
        }
        // SAFETY: forwarded.
        return Ok(Val::Option(Some(Box::new(unsafe {
            to_val(datum, false, oid, inner, plan, what)?
        }))));
    }
    if is_null {
        return Err(PgWasmError::InvalidParameter(format!(
            "{} is NULL, but its WIT type {} is not an option",
            what(),
            t.wit()
        )));
    }
    let range = |v: i64| {
        PgWasmError::OutOfRange(format!("{}: {v} does not fit WIT type {}", what(), t.wit()))
    };
    // SAFETY (every from_datum below): the caller guarantees the datum's
    // SQL type, which sql_type(t) fixed when the call site was prepared.
    unsafe {
        Ok(match t {
            WitType::Bool => Val::Bool(bool::from_datum(datum, false).unwrap_or_default()),
            WitType::S8 => {
                let v = i16::from_datum(datum, false).unwrap_or_default();
                Val::S8(i8::try_from(v).map_err(|_| range(v.into()))?)
            }
            WitType::U8 => {
                let v = i16::from_datum(datum, false).unwrap_or_default();
                Val::U8(u8::try_from(v).map_err(|_| range(v.into()))?)
            }
            WitType::S16 => Val::S16(i16::from_datum(datum, false).unwrap_or_default()),
            WitType::U16 => {
                let v = i32::from_datum(datum, false).unwrap_or_default();
                Val::U16(u16::try_from(v).map_err(|_| range(v.into()))?)
            }
            WitType::S32 => Val::S32(i32::from_datum(datum, false).unwrap_or_default()),
            WitType::U32 => {
                let v = i64::from_datum(datum, false).unwrap_or_default();
                Val::U32(u32::try_from(v).map_err(|_| range(v))?)
            }
            WitType::S64 => Val::S64(i64::from_datum(datum, false).unwrap_or_default()),
            WitType::F32 => Val::Float32(f32::from_datum(datum, false).unwrap_or_default()),
            WitType::F64 => Val::Float64(f64::from_datum(datum, false).unwrap_or_default()),
            WitType::String => Val::String(String::from_datum(datum, false).unwrap_or_default()),
            WitType::Char => {
                let s = String::from_datum(datum, false).unwrap_or_default();
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Val::Char(c),
                    _ => {
                        return Err(PgWasmError::InvalidParameter(format!(
                            "{}: WIT type char takes exactly one character, not {s:?}",
                            what()
                        )))
                    }
                }
            }
            WitType::Enum(names) => {
                let s = String::from_datum(datum, false).unwrap_or_default();
                if !names.contains(&s) {
                    return Err(PgWasmError::InvalidParameter(format!(
                        "{}: {s:?} is not a case of {}",
                        what(),
                        t.wit()
                    )));
                }
                Val::Enum(s)
            }
            WitType::List(inner) if **inner == WitType::U8 => Val::List(
                Vec::<u8>::from_datum(datum, false)
                    .unwrap_or_default()
                    .into_iter()
                    .map(Val::U8)
                    .collect(),
            ),
            // A tuple's or a record's SQL type is a row type (checked by
            // fits): column by column.
            WitType::Tuple(ts) => {
                let elements = ts.iter().map(|et| (None, et)).collect();
                row_arg(datum, oid, plan, elements, t, what)?
            }
            WitType::Record { fields, .. } => {
                let fields = fields.iter().map(|(n, ft)| (Some(n), ft)).collect();
                row_arg(datum, oid, plan, fields, t, what)?
            }
            WitType::U64 => {
                let n = pgrx::AnyNumeric::from_datum(datum, false).unwrap_or_default();
                let text = n.to_string();
                Val::U64(text.parse().map_err(|_| {
                    PgWasmError::OutOfRange(format!(
                        "{}: {text} does not fit WIT type u64 (a whole number from 0 to 18446744073709551615)",
                        what()
                    ))
                })?)
            }
            WitType::Flags(names) => match match plan {
                ArgPlan::Array { elem, .. } => wit_rows::array_elements_of(datum, elem),
                _ => wit_rows::array_elements(datum).map(|(items, _)| items),
            } {
                Some(items) => {
                    let mut set = Vec::with_capacity(items.len());
                    for (d, null) in items {
                        let name = (!null)
                            .then(|| String::from_datum(d, false))
                            .flatten()
                            .filter(|n| names.contains(n))
                            .ok_or_else(|| {
                                PgWasmError::InvalidParameter(format!(
                                    "{}: each element must be one of the flags of {}",
                                    what(),
                                    t.wit()
                                ))
                            })?;
                        set.push(name);
                    }
                    Val::Flags(set)
                }
                None => json_val(datum, oid, t, what)?,
            },
            // A one-dimensional array element by element (checked by fits:
            // its elements fit); more dimensions nest in the JSON form.
            WitType::List(inner) => match match plan {
                ArgPlan::Array { elem, each } => {
                    wit_rows::array_elements_of(datum, elem).map(|items| (items, elem.oid, &**each))
                }
                _ => wit_rows::array_elements(datum).map(|(items, elem)| (items, elem, plan)),
            } {
                Some((items, elem, each)) => Val::List(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, (d, null))| {
                            let element = || format!("{}, element {}", what(), i + 1);
                            to_val(d, null, elem, inner, each, &element)
                        })
                        .collect::<Result<_>>()?,
                ),
                None => json_val(datum, oid, t, what)?,
            },
            // Variants (jsonb): through their JSON form.
            structured => json_val(datum, oid, structured, what)?,
        })
    }
}

/// A non-NULL datum of type `oid` as a value of `t`, through its JSON form.
///
/// # Safety
/// `datum` must be a valid datum of type `oid`.
unsafe fn json_val(
    datum: pg_sys::Datum,
    oid: pg_sys::Oid,
    t: &WitType,
    what: &dyn Fn() -> String,
) -> Result<Val> {
    // SAFETY: forwarded.
    let json = unsafe { super::wit_json::datum_json(datum, oid)? };
    super::wit_json::json_to_val(&json, t, &what())
}

/// A row argument as a tuple or a record: a composite type's columns by
/// the plan made for it, any other row's (`record`) looked up now.
///
/// # Safety
/// `datum` must be a valid, non-NULL row of type `oid`, and any descriptor
/// in `plan` valid.
unsafe fn row_arg(
    datum: pg_sys::Datum,
    oid: pg_sys::Oid,
    plan: &ArgPlan,
    elements: Vec<(Option<&String>, &WitType)>,
    t: &WitType,
    what: &dyn Fn() -> String,
) -> Result<Val> {
    let dynamic = ArgPlan::Value;
    // SAFETY: per the contract.
    let columns = unsafe {
        match plan {
            ArgPlan::Row { desc, columns } => {
                let values = wit_rows::deform(datum, *desc);
                columns
                    .iter()
                    .map(|(i, oid, plan)| (values[*i].0, values[*i].1, *oid, plan))
                    .collect()
            }
            _ => wit_rows::row_columns(datum)
                .into_iter()
                .map(|(value, null, oid)| (value, null, oid, &dynamic))
                .collect(),
        }
    };
    row_val(columns, elements, oid == pg_sys::RECORDOID, t, what)
}

/// A row's columns (value, is NULL, type, plan) as a tuple (elements
/// without names) or a record (fields named, matched to the columns in
/// order when the call site was prepared). The columns of an anonymous
/// `record` (`anonymous`) are only known now, so their types are checked
/// here; a composite type's were checked when the site was prepared.
fn row_val(
    columns: Vec<(pg_sys::Datum, bool, pg_sys::Oid, &ArgPlan)>,
    elements: Vec<(Option<&String>, &WitType)>,
    anonymous: bool,
    t: &WitType,
    what: &dyn Fn() -> String,
) -> Result<Val> {
    if columns.len() != elements.len() {
        return Err(PgWasmError::InvalidParameter(format!(
            "{} is a row of {} columns, but WIT type {} has {} {}",
            what(),
            columns.len(),
            t.wit(),
            elements.len(),
            if matches!(t, WitType::Record { .. }) {
                "fields"
            } else {
                "elements"
            }
        )));
    }
    let record = matches!(t, WitType::Record { .. });
    let mut tuple = Vec::with_capacity(elements.len());
    let mut fields = Vec::with_capacity(elements.len());
    for (i, ((value, null, oid, plan), (name, et))) in columns.into_iter().zip(elements).enumerate()
    {
        let element = || match name {
            Some(n) => format!("{}, field {}", what(), snake(n)),
            None => format!("{}, column {}", what(), i + 1),
        };
        if anonymous {
            fits(et, oid)
                .map_err(|why| PgWasmError::InvalidParameter(format!("{} {why}", element())))?;
        }
        // SAFETY: the column's datum, of the type checked (now or when the
        // site was prepared), and the plan made for it.
        let v = unsafe { to_val(value, null, oid, et, plan, &element)? };
        match name {
            Some(n) => fields.push((n.clone(), v)),
            None => tuple.push(v),
        }
    }
    Ok(if record {
        Val::Record(fields)
    } else {
        Val::Tuple(tuple)
    })
}
