//! A component's result → datums (SPEC §10), by a plan made once per call
//! site: what each part of the result is built as, row descriptors and
//! array element storage looked up then, so that a row costs conversions
//! only — no syscache or type-cache lookup per row. Domains (whose
//! constraints the JSON reader checks), variants (jsonb) and anything the
//! plan does not know go through the JSON form.

use super::codec::invalid;
use super::json::{self, form_array_of, ElemType};
use crate::error::{PgWasmError, Result};
use pg_wasm_runtime::component::Val;
use pgrx::prelude::*;
use pgrx::IntoDatum;

/// How a result of one SQL type is built.
pub enum ResultPlan {
    /// Scalars, strings, enums, bytea, numeric (u64), jsonb (variants).
    Value(pg_sys::Oid),
    /// A composite type, or `record` with the call's row type.
    Row(RowPlan),
    /// A one-dimensional array, element by element.
    Array {
        oid: pg_sys::Oid,
        elem: ElemType,
        each: Box<ResultPlan>,
    },
    /// Domains over rows or arrays, and `record` without known columns:
    /// the JSON reader (it checks constraints and says what is missing).
    Json {
        oid: pg_sys::Oid,
        desc: Option<pg_sys::TupleDesc>,
    },
}

/// A row type's descriptor and each live column's plan.
pub struct RowPlan {
    desc: pg_sys::TupleDesc,
    natts: usize,
    columns: Vec<(usize, ResultPlan)>,
}

impl ResultPlan {
    /// The plan for results of type `oid` (`desc`: the row type of a
    /// `record` result).
    ///
    /// # Safety
    /// `oid` must be a valid type; `desc`, if given, a valid descriptor
    /// that outlives the plan. Descriptors of composite types are copied
    /// into the current memory context, which must outlive the plan too.
    pub unsafe fn new(oid: pg_sys::Oid, desc: Option<pg_sys::TupleDesc>) -> Self {
        // SAFETY: syscache and type-cache lookups with a valid type OID;
        // the copied descriptor is the caller's to keep alive.
        unsafe {
            let typtype = pg_sys::get_typtype(oid) as u8;
            if typtype == pg_sys::TYPTYPE_DOMAIN {
                return ResultPlan::Json { oid, desc };
            }
            if oid == pg_sys::RECORDOID {
                return match desc {
                    Some(d) => ResultPlan::Row(RowPlan::of(d)),
                    None => ResultPlan::Json { oid, desc },
                };
            }
            if typtype == pg_sys::TYPTYPE_COMPOSITE {
                return ResultPlan::Row(RowPlan::of(pg_sys::lookup_rowtype_tupdesc_copy(oid, -1)));
            }
            if typtype == pg_sys::TYPTYPE_BASE {
                let elem = pg_sys::get_element_type(oid);
                if elem != pg_sys::InvalidOid {
                    return ResultPlan::Array {
                        oid,
                        elem: ElemType::lookup(elem),
                        each: Box::new(ResultPlan::new(elem, None)),
                    };
                }
            }
            ResultPlan::Value(oid)
        }
    }

    fn oid(&self) -> pg_sys::Oid {
        match self {
            ResultPlan::Value(oid)
            | ResultPlan::Array { oid, .. }
            | ResultPlan::Json { oid, .. } => *oid,
            // SAFETY: the plan's descriptor is valid while the plan lives.
            ResultPlan::Row(row) => unsafe { (*row.desc).tdtypeid },
        }
    }

    fn desc(&self) -> Option<pg_sys::TupleDesc> {
        match self {
            ResultPlan::Row(row) => Some(row.desc),
            ResultPlan::Json { desc, .. } => *desc,
            _ => None,
        }
    }
}

impl RowPlan {
    /// # Safety
    /// `desc` must be a valid (blessed, for `record`) descriptor that
    /// outlives the plan.
    pub unsafe fn of(desc: pg_sys::TupleDesc) -> Self {
        // SAFETY: per the contract.
        let natts = unsafe { (*desc).natts } as usize;
        let columns = (0..natts)
            .filter_map(|i| {
                // SAFETY: i < natts.
                let a = unsafe { crate::pg::compat::tuple_desc_attr(desc, i) };
                // SAFETY: a column's type is valid.
                (!a.attisdropped).then(|| (i, unsafe { ResultPlan::new(a.atttypid, None) }))
            })
            .collect();
        RowPlan {
            desc,
            natts,
            columns,
        }
    }

    /// One value per live column, in order, as the row's datums and NULL
    /// flags (dropped columns NULL).
    pub fn values(
        &self,
        values: Vec<Val>,
        target: &str,
    ) -> Result<(Vec<pg_sys::Datum>, Vec<bool>)> {
        if values.len() != self.columns.len() {
            return Err(PgWasmError::InvalidParameter(format!(
                "{target} returned {} values for a row of {} columns",
                values.len(),
                self.columns.len()
            )));
        }
        let mut datums = vec![pg_sys::Datum::from(0); self.natts];
        let mut nulls = vec![true; self.natts];
        for (v, (i, plan)) in values.into_iter().zip(&self.columns) {
            if let Some(d) = from_val(v, plan, target)? {
                datums[*i] = d;
                nulls[*i] = false;
            }
        }
        Ok((datums, nulls))
    }

    fn form(&self, values: Vec<Val>, target: &str) -> Result<pg_sys::Datum> {
        let (mut datums, mut nulls) = self.values(values, target)?;
        // SAFETY: one value and one null flag per attribute of the
        // descriptor; heap_form_tuple stamps the row type and length into
        // the header, and HeapTupleHeaderGetDatum copies the tuple again
        // only to flatten a toasted column.
        unsafe {
            let tuple = pg_sys::heap_form_tuple(self.desc, datums.as_mut_ptr(), nulls.as_mut_ptr());
            Ok(pg_sys::HeapTupleHeaderGetDatum((*tuple).t_data))
        }
    }

    /// The values of a record's fields or a tuple's elements; any other
    /// value is handed back.
    pub fn row_values(v: Val) -> std::result::Result<Vec<Val>, Val> {
        match v {
            Val::Record(fields) => Ok(fields.into_iter().map(|(_, v)| v).collect()),
            Val::Tuple(items) => Ok(items),
            other => Err(other),
        }
    }
}

/// The error a result's `err` raises (P0001, with the error's text).
pub fn raised(e: Option<Box<Val>>, target: &str) -> PgWasmError {
    let message = match e.map(|e| *e) {
        Some(Val::String(s)) => s,
        Some(other) => format!("{other:?}"),
        None => "error".into(),
    };
    PgWasmError::Raised {
        message,
        detail: format!("returned as err by {target}"),
        hint: None,
    }
}

/// A result value as a datum by `plan` (`None`: SQL NULL). An `err` of a
/// `result` raises P0001 with the error's text.
pub fn from_val(val: Val, plan: &ResultPlan, target: &str) -> Result<Option<pg_sys::Datum>> {
    Ok(match val {
        Val::Option(None) | Val::Result(Ok(None)) => None,
        Val::Option(Some(v)) | Val::Result(Ok(Some(v))) => from_val(*v, plan, target)?,
        Val::Result(Err(e)) => return Err(raised(e, target)),
        Val::Bool(b) => b.into_datum(),
        Val::S8(v) => i16::from(v).into_datum(),
        Val::U8(v) => i16::from(v).into_datum(),
        Val::S16(v) => v.into_datum(),
        Val::U16(v) => i32::from(v).into_datum(),
        Val::S32(v) => v.into_datum(),
        Val::U32(v) => i64::from(v).into_datum(),
        Val::S64(v) => v.into_datum(),
        Val::Float32(v) => v.into_datum(),
        Val::Float64(v) => v.into_datum(),
        Val::Char(c) => c.to_string().into_datum(),
        Val::String(s) | Val::Enum(s) => s.into_datum(),
        Val::U64(n) => pgrx::AnyNumeric::from(n).into_datum(),
        Val::Flags(names) => {
            let nulls = vec![false; names.len()];
            let values = names
                .into_iter()
                .map(|s| s.into_datum().unwrap_or(pg_sys::Datum::from(0)))
                .collect();
            Some(form_array_of(values, nulls, &ElemType::TEXT))
        }
        Val::List(items) => match plan {
            ResultPlan::Value(pg_sys::BYTEAOID) => {
                let bytes: Option<Vec<u8>> = items
                    .into_iter()
                    .map(|v| match v {
                        Val::U8(b) => Some(b),
                        _ => None,
                    })
                    .collect();
                match bytes {
                    Some(b) => b.into_datum(),
                    None => return Err(invalid(target, "a bytea result must be a list<u8>")),
                }
            }
            ResultPlan::Array { elem, each, .. } => {
                let mut values = Vec::with_capacity(items.len());
                let mut nulls = Vec::with_capacity(items.len());
                for v in items {
                    let d = from_val(v, each, target)?;
                    values.push(d.unwrap_or(pg_sys::Datum::from(0)));
                    nulls.push(d.is_none());
                }
                Some(form_array_of(values, nulls, elem))
            }
            _ => json_result(Val::List(items), plan, target)?,
        },
        Val::Record(fields) => match plan {
            ResultPlan::Row(row) => {
                Some(row.form(fields.into_iter().map(|(_, v)| v).collect(), target)?)
            }
            _ => json_result(Val::Record(fields), plan, target)?,
        },
        Val::Tuple(items) => match plan {
            ResultPlan::Row(row) => Some(row.form(items, target)?),
            _ => json_result(Val::Tuple(items), plan, target)?,
        },
        // Variants (jsonb), and whatever the plan does not build.
        structured => json_result(structured, plan, target)?,
    })
}

/// A result value through its JSON form and the JSON reader.
fn json_result(v: Val, plan: &ResultPlan, target: &str) -> Result<Option<pg_sys::Datum>> {
    let value = super::wit_json::val_json(v, target)?;
    json::to_datum(&value, plan.oid(), -1, plan.desc(), target, "the result")
}

/// The rows of a set-returning export's result (a `list`, possibly in an
/// `option` or `ok`); `none` is no rows.
pub fn set_rows(val: Val, target: &str) -> Result<Vec<Val>> {
    match val {
        Val::Option(None) | Val::Result(Ok(None)) => Ok(vec![]),
        Val::Option(Some(v)) | Val::Result(Ok(Some(v))) => set_rows(*v, target),
        Val::List(items) => Ok(items),
        Val::Result(Err(e)) => Err(raised(e, target)),
        _ => Err(invalid(
            target,
            "a set-returning function must return a list",
        )),
    }
}

/// One row of a set-returning export's result as the columns of `row`
/// (records and tuples column by column, `none` as a row of NULLs,
/// anything else through its JSON form, whose reader says what does not
/// fit).
pub fn set_row_columns(
    v: Val,
    row: &RowPlan,
    target: &str,
    place: &str,
) -> Result<(Vec<pg_sys::Datum>, Vec<bool>)> {
    let v = match v {
        Val::Option(Some(v)) | Val::Result(Ok(Some(v))) => *v,
        // A NULL row: every column NULL, as PostgreSQL stores one.
        Val::Option(None) | Val::Result(Ok(None)) => {
            return Ok((
                vec![pg_sys::Datum::from(0); row.natts],
                vec![true; row.natts],
            ))
        }
        Val::Result(Err(e)) => return Err(raised(e, target)),
        v => v,
    };
    match RowPlan::row_values(v) {
        Ok(values) => row.values(values, target),
        Err(other) => {
            let value = super::wit_json::val_json(other, target)?;
            json::columns(&value, row.desc, target, place)
        }
    }
}

/// About how much host memory turning `v` into datums by `plan` takes
/// (`None`: no plan, the generic weights of a row), counted without
/// allocating and given up once past `limit` (the budget): measured per
/// value (docs/limits.md), a row 200 bytes (its tuple, copied again into
/// an array), an array element 24, a string its bytes plus 40, a
/// `list<u8>` made `bytea` 2 a byte, and anything that goes through the
/// JSON reader (variants, domains, jsonb) 400 a value.
pub fn conversion_cost(v: &Val, plan: Option<&ResultPlan>, limit: usize) -> usize {
    let mut cost = 0usize;
    add_cost(v, plan, limit, &mut cost);
    cost
}

const ROW: usize = 200;
const ELEMENT: usize = 24;
const STRING: usize = 40;
const JSON_VALUE: usize = 400;

fn add_cost(v: &Val, plan: Option<&ResultPlan>, limit: usize, cost: &mut usize) {
    if *cost > limit {
        return;
    }
    if let Some(ResultPlan::Json { .. }) = plan {
        return add_json_cost(v, limit, cost);
    }
    match v {
        Val::String(s) | Val::Enum(s) => *cost += s.len() + STRING,
        Val::Char(_) | Val::U64(_) => *cost += STRING,
        Val::Flags(names) => {
            *cost += ELEMENT + names.iter().map(|n| n.len() + STRING).sum::<usize>()
        }
        Val::Option(Some(v)) | Val::Result(Ok(Some(v))) => add_cost(v, plan, limit, cost),
        Val::Result(Err(Some(v))) => add_cost(v, None, limit, cost),
        Val::List(items) => {
            if let Some(ResultPlan::Value(pg_sys::BYTEAOID)) = plan {
                *cost += 2 * items.len();
                return;
            }
            let each = match plan {
                Some(ResultPlan::Array { each, .. }) => Some(&**each),
                _ => None,
            };
            *cost += ELEMENT;
            for item in items {
                *cost += ELEMENT;
                add_cost(item, each, limit, cost);
            }
        }
        Val::Record(fields) => {
            *cost += ROW;
            let columns = match plan {
                Some(ResultPlan::Row(row)) => Some(&row.columns),
                _ => None,
            };
            for (i, (_, v)) in fields.iter().enumerate() {
                let each = columns.and_then(|c| c.get(i)).map(|(_, p)| p);
                *cost += ELEMENT;
                add_cost(v, each, limit, cost);
            }
        }
        Val::Tuple(items) => {
            *cost += ROW;
            for v in items {
                *cost += ELEMENT;
                add_cost(v, None, limit, cost);
            }
        }
        Val::Variant(..) | Val::Map(_) | Val::FixedLengthList(_) => add_json_cost(v, limit, cost),
        _ => *cost += ELEMENT,
    }
}

/// A value through its JSON form: a tree node, text and jsonb per value.
fn add_json_cost(v: &Val, limit: usize, cost: &mut usize) {
    if *cost > limit {
        return;
    }
    *cost += JSON_VALUE;
    match v {
        Val::String(s) | Val::Enum(s) => *cost += 3 * s.len(),
        Val::Variant(name, inner) => {
            *cost += 3 * name.len();
            if let Some(v) = inner {
                add_json_cost(v, limit, cost);
            }
        }
        Val::Option(Some(v)) | Val::Result(Ok(Some(v))) | Val::Result(Err(Some(v))) => {
            add_json_cost(v, limit, cost)
        }
        Val::List(items) | Val::Tuple(items) | Val::FixedLengthList(items) => {
            items.iter().for_each(|v| add_json_cost(v, limit, cost))
        }
        Val::Record(fields) => fields.iter().for_each(|(name, v)| {
            *cost += 3 * name.len();
            add_json_cost(v, limit, cost)
        }),
        Val::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            add_json_cost(k, limit, cost);
            add_json_cost(v, limit, cost)
        }),
        Val::Flags(names) => {
            *cost += names
                .iter()
                .map(|n| 3 * n.len() + JSON_VALUE)
                .sum::<usize>()
        }
        _ => {}
    }
}
