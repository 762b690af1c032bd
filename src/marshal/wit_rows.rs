//! Row and array arguments for components, column by column and element
//! by element: records, tuples, lists and flags cross without a JSON text
//! in between (SPEC §10). Each column or element is converted by
//! [`super::wit`] as the scalar it is; results are built by
//! [`super::wit_result`].

use pgrx::pg_sys;

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
        let natts = (*desc).natts as usize;
        let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
        tuple.t_len = pgrx::heap_tuple_header_get_datum_length(header) as u32;
        tuple.t_data = header;
        let mut values = vec![pg_sys::Datum::from(0); natts];
        let mut nulls = vec![false; natts];
        pg_sys::heap_deform_tuple(&mut tuple, desc, values.as_mut_ptr(), nulls.as_mut_ptr());
        let columns = (0..natts)
            .filter_map(|i| {
                let a = crate::pg::compat::tuple_desc_attr(desc, i);
                (!a.attisdropped).then_some((values[i], nulls[i], a.atttypid))
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
    // SAFETY: per the contract; deconstruct_array palloc's the two arrays
    // it returns (n entries each), which are read here and left to the
    // per-call memory context.
    unsafe {
        let array = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
        let elem = (*array).elemtype;
        if (*array).ndim > 1 {
            return None;
        }
        let (mut len, mut byval, mut align) = (0i16, false, 0 as std::ffi::c_char);
        pg_sys::get_typlenbyvalalign(elem, &mut len, &mut byval, &mut align);
        let mut values: *mut pg_sys::Datum = std::ptr::null_mut();
        let mut nulls: *mut bool = std::ptr::null_mut();
        let mut n = 0;
        pg_sys::deconstruct_array(
            array,
            elem,
            len.into(),
            byval,
            align,
            &mut values,
            &mut nulls,
            &mut n,
        );
        let n = n as usize;
        let items = (0..n)
            .map(|i| (*values.add(i), !nulls.is_null() && *nulls.add(i)))
            .collect();
        Some((items, elem))
    }
}
