//! Row and array arguments for components, column by column and element
//! by element: records, tuples, lists and flags cross without a JSON text
//! in between (SPEC §10). Each column or element is converted by
//! [`super::wit`] as the scalar it is; results are built by
//! [`super::wit_result`].

use super::json::ElemType;
use pgrx::pg_sys;

/// How an argument of one SQL type is taken apart, decided by a call
/// site's first call so that rows after it make no type lookups.
pub enum ArgPlan {
    /// Scalars, strings, bytea, numeric, jsonb; and rows and arrays whose
    /// types are only known per call (`record`, domains).
    Value,
    /// A composite type: its descriptor (a copy) and each live column's
    /// index, type and plan.
    Row {
        desc: pg_sys::TupleDesc,
        columns: Vec<(usize, pg_sys::Oid, ArgPlan)>,
    },
    /// A one-dimensional array: the element type's storage and plan.
    Array { elem: ElemType, each: Box<ArgPlan> },
}

impl ArgPlan {
    /// The plan for arguments of type `oid`.
    ///
    /// # Safety
    /// `oid` must be a valid type. A composite type's descriptor is copied
    /// into the current memory context, which must outlive the plan.
    pub unsafe fn new(oid: pg_sys::Oid) -> Self {
        // SAFETY: syscache and type-cache lookups with a valid type OID.
        unsafe {
            let typtype = pg_sys::get_typtype(oid) as u8;
            if typtype == pg_sys::TYPTYPE_COMPOSITE {
                let desc = pg_sys::lookup_rowtype_tupdesc_copy(oid, -1);
                let columns = (0..(*desc).natts as usize)
                    .filter_map(|i| {
                        let a = crate::pg::compat::tuple_desc_attr(desc, i);
                        (!a.attisdropped).then(|| (i, a.atttypid, ArgPlan::new(a.atttypid)))
                    })
                    .collect();
                return ArgPlan::Row { desc, columns };
            }
            if typtype == pg_sys::TYPTYPE_BASE {
                let elem = pg_sys::get_element_type(oid);
                if elem != pg_sys::InvalidOid {
                    return ArgPlan::Array {
                        elem: ElemType::lookup(elem),
                        each: Box::new(ArgPlan::new(elem)),
                    };
                }
            }
            ArgPlan::Value
        }
    }
}

/// The values of a non-NULL row of the composite type `desc` describes,
/// one per attribute (dropped ones too), as (value, is NULL).
///
/// # Safety
/// `datum` must be a valid, non-NULL row of that type, and `desc` valid.
pub(super) unsafe fn deform(
    datum: pg_sys::Datum,
    desc: pg_sys::TupleDesc,
) -> Vec<(pg_sys::Datum, bool)> {
    // SAFETY: per the contract; the deformed datums point into the
    // detoasted tuple.
    unsafe {
        let header = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as pg_sys::HeapTupleHeader;
        let natts = (*desc).natts as usize;
        let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
        tuple.t_len = pgrx::heap_tuple_header_get_datum_length(header) as u32;
        tuple.t_data = header;
        let mut values = vec![pg_sys::Datum::from(0); natts];
        let mut nulls = vec![false; natts];
        pg_sys::heap_deform_tuple(&mut tuple, desc, values.as_mut_ptr(), nulls.as_mut_ptr());
        values.into_iter().zip(nulls).collect()
    }
}

/// The live (not dropped) columns of a non-NULL composite datum, as
/// (value, is NULL, type). A literal in `ROW('abc', 1)` is of type
/// `unknown` (a C string); it comes back as the text it is.
///
/// # Safety
/// `datum` must be a valid, non-NULL composite datum.
pub(super) unsafe fn row_columns(datum: pg_sys::Datum) -> Vec<(pg_sys::Datum, bool, pg_sys::Oid)> {
    // SAFETY: per the contract; the descriptor's reference is released
    // before anything below can fail, and the deformed datums point into
    // the detoasted tuple, not into the descriptor.
    unsafe {
        let header = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as pg_sys::HeapTupleHeader;
        let desc = pg_sys::lookup_rowtype_tupdesc(
            pgrx::heap_tuple_header_get_type_id(header),
            pgrx::heap_tuple_header_get_typmod(header),
        );
        let values = deform(pg_sys::Datum::from(header), desc);
        let columns = values
            .into_iter()
            .enumerate()
            .filter_map(|(i, (value, null))| {
                let a = crate::pg::compat::tuple_desc_attr(desc, i);
                (!a.attisdropped).then_some((value, null, a.atttypid))
            })
            .collect::<Vec<_>>();
        pg_sys::DecrTupleDescRefCount(desc);
        columns
            .into_iter()
            .map(|(value, null, oid)| {
                if oid == pg_sys::UNKNOWNOID && !null {
                    // SAFETY: an unknown datum is a NUL-terminated C string.
                    let text = pg_sys::cstring_to_text(value.cast_mut_ptr());
                    (pg_sys::Datum::from(text), false, pg_sys::TEXTOID)
                } else {
                    (value, null, oid)
                }
            })
            .collect()
    }
}

/// The elements of a non-NULL one-dimensional (or empty) array datum, as
/// (value, is NULL), with the element type; `None` for an array of more
/// dimensions (which the JSON form nests).
///
/// # Safety
/// `datum` must be a valid, non-NULL array datum.
pub(super) unsafe fn array_elements(
    datum: pg_sys::Datum,
) -> Option<(Vec<(pg_sys::Datum, bool)>, pg_sys::Oid)> {
    // SAFETY: per the contract.
    unsafe {
        let array = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
        let elem = ElemType::lookup((*array).elemtype);
        elements_of(array, &elem).map(|items| (items, elem.oid))
    }
}

/// [`array_elements`] with the element type's storage known (`None` also
/// when the array's element type is another).
///
/// # Safety
/// `datum` must be a valid, non-NULL array datum.
pub(super) unsafe fn array_elements_of(
    datum: pg_sys::Datum,
    elem: &ElemType,
) -> Option<Vec<(pg_sys::Datum, bool)>> {
    // SAFETY: per the contract.
    unsafe {
        let array = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
        if (*array).elemtype != elem.oid {
            return None;
        }
        elements_of(array, elem)
    }
}

/// # Safety
/// `array` must be a valid, detoasted array of `elem`.
unsafe fn elements_of(
    array: *mut pg_sys::ArrayType,
    elem: &ElemType,
) -> Option<Vec<(pg_sys::Datum, bool)>> {
    // SAFETY: per the contract; deconstruct_array palloc's the two arrays
    // it returns (n entries each), which are read here and left to the
    // per-call memory context.
    unsafe {
        if (*array).ndim > 1 {
            return None;
        }
        let mut values: *mut pg_sys::Datum = std::ptr::null_mut();
        let mut nulls: *mut bool = std::ptr::null_mut();
        let mut n = 0;
        pg_sys::deconstruct_array(
            array,
            elem.oid,
            elem.len.into(),
            elem.byval,
            elem.align,
            &mut values,
            &mut nulls,
            &mut n,
        );
        let n = n as usize;
        Some(
            (0..n)
                .map(|i| (*values.add(i), !nulls.is_null() && *nulls.add(i)))
                .collect(),
        )
    }
}
