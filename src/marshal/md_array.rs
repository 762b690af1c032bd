//! An array result built from JSON, nested JSON arrays as its dimensions:
//! `[[1, 2], [3, 4]]` for an `int[]` is `'{{1,2},{3,4}}'`, as PL/Python and
//! plv8 return multidimensional arrays. Rectangular, as PostgreSQL's arrays
//! are, and at most `MAXDIM` (6) deep. Elements of `json`, `jsonb` or a row
//! type take a nested array as a value of their own, so their arrays stay
//! one-dimensional.

use super::codec::invalid;
use super::json::{form_array_of, to_datum, ElemType};
use crate::error::Result;
use pgrx::pg_sys;
use serde_json::Value;

pub(super) struct MdArray<'a> {
    elem: ElemType,
    /// Whether a nested JSON array is a dimension (not an element's value):
    /// looked up at the first nested array, so a one-dimensional result
    /// costs no more than it did.
    nests: Option<bool>,
    /// Each dimension's length, the first counted as elements arrive.
    dims: Vec<i32>,
    /// The level elements sit at, once one has been seen.
    depth: Option<usize>,
    values: Vec<pg_sys::Datum>,
    nulls: Vec<bool>,
    function: &'a str,
    place: &'a str,
}

impl<'a> MdArray<'a> {
    pub(super) fn new(elem: pg_sys::Oid, function: &'a str, place: &'a str) -> Self {
        MdArray {
            elem: ElemType::lookup(elem),
            nests: None,
            dims: vec![0],
            depth: None,
            values: Vec::new(),
            nulls: Vec::new(),
            function,
            place,
        }
    }

    /// The next element of the outermost dimension.
    pub(super) fn push(&mut self, v: &Value) -> Result<()> {
        self.dims[0] += 1;
        let at = format!("{}[{}]", self.place, self.dims[0]);
        self.put(v, 1, at)
    }

    fn nests(&mut self) -> bool {
        let elem = self.elem.oid;
        *self.nests.get_or_insert_with(|| {
            let mut typmod = -1;
            // SAFETY: syscache lookups with a valid type OID.
            let base = unsafe { pg_sys::getBaseTypeAndTypmod(elem, &mut typmod) };
            // SAFETY: as above.
            base != pg_sys::JSONOID
                && base != pg_sys::JSONBOID
                && !unsafe { pg_sys::type_is_rowtype(base) }
        })
    }

    fn put(&mut self, v: &Value, level: usize, at: String) -> Result<()> {
        match v {
            Value::Array(sub) if self.nests() => {
                if self.depth.is_some_and(|d| level >= d) {
                    return Err(self.ragged(&at));
                }
                if level >= pg_sys::MAXDIM as usize {
                    return Err(invalid(
                        self.function,
                        &format!("{at}: an array has at most {} dimensions", pg_sys::MAXDIM),
                    ));
                }
                let len = i32::try_from(sub.len()).map_err(|_| self.ragged(&at))?;
                if self.dims.len() == level {
                    self.dims.push(len);
                } else if self.dims[level] != len {
                    return Err(self.ragged(&at));
                }
                for (i, x) in sub.iter().enumerate() {
                    self.put(x, level + 1, format!("{at}[{}]", i + 1))?;
                }
                Ok(())
            }
            element => {
                match self.depth {
                    None if self.dims.len() > level => return Err(self.ragged(&at)),
                    None => self.depth = Some(level),
                    Some(d) if d != level => return Err(self.ragged(&at)),
                    Some(_) => {}
                }
                let d = to_datum(element, self.elem.oid, -1, None, self.function, &at)?;
                self.values.push(d.unwrap_or(pg_sys::Datum::from(0)));
                self.nulls.push(d.is_none());
                Ok(())
            }
        }
    }

    fn ragged(&self, at: &str) -> crate::error::PgWasmError {
        invalid(
            self.function,
            &format!("{at}: multidimensional arrays must have sub-arrays of matching dimensions"),
        )
    }

    /// The array, in a new palloc'd value.
    pub(super) fn finish(mut self) -> pg_sys::Datum {
        if self.dims.len() == 1 || self.values.is_empty() {
            return form_array_of(self.values, self.nulls, &self.elem);
        }
        let mut lbs = vec![1i32; self.dims.len()];
        // SAFETY: construct_md_array copies the values (as many as the
        // product of `dims`: every sub-array was checked to have its
        // dimension's length, and every element sits at the same depth)
        // into a new palloc'd array of the element type `elem` describes.
        unsafe {
            pg_sys::Datum::from(pg_sys::construct_md_array(
                self.values.as_mut_ptr(),
                self.nulls.as_mut_ptr(),
                self.dims.len() as i32,
                self.dims.as_mut_ptr(),
                lbs.as_mut_ptr(),
                self.elem.oid,
                self.elem.len as i32,
                self.elem.byval,
                self.elem.align,
            ))
        }
    }
}
