//! Rows of one table as JSON objects, byte for byte what `row_to_json`
//! makes, without its per-row costs.
//!
//! `row_to_json` looks up every column's type category and output function
//! (two catalog cache lookups and an `fmgr_info` per column) and copies the
//! row into a composite datum, for every row. A trigger sends one or two
//! rows of the same table per call, so [`RowEncoder`] decides each column's
//! encoding once per call site: integers and booleans are printed directly,
//! text is escaped straight from the varlena, other types go through an
//! output function looked up once. Columns whose JSON form `row_to_json`
//! builds by recursion or by a cast (arrays, composites, user-defined types)
//! make the encoder hand the whole row to `row_to_json`, so the document is
//! the same in every case.

use super::codec::append_row_json;
use pgrx::pg_sys;
use std::ffi::CStr;

/// How one column becomes JSON.
enum Enc {
    Bool,
    Int2,
    Int4,
    Int8,
    /// text, varchar, bpchar: the varlena's bytes as a JSON string.
    Text,
    /// float4, float8, numeric: the output function's text, bare when it
    /// is a JSON number (not NaN or ±Infinity).
    Number(Box<pg_sys::FmgrInfo>),
    /// json, jsonb: their text as it is.
    Json(Box<pg_sys::FmgrInfo>),
    /// date, timestamp, timestamptz: ISO 8601, as `row_to_json` writes them.
    DateTime(pg_sys::Oid),
    /// Every other built-in scalar: its text form as a JSON string.
    Other(Box<pg_sys::FmgrInfo>),
}

struct Column {
    index: usize,
    /// `"name":`, escaped as `row_to_json` escapes it.
    key: Vec<u8>,
    enc: Enc,
}

pub struct RowEncoder {
    desc: pg_sys::TupleDesc,
    /// `None` when some column needs `row_to_json` itself.
    columns: Option<Vec<Column>>,
    values: Vec<pg_sys::Datum>,
    nulls: Vec<bool>,
    /// The tuple `values`/`nulls` were last filled from.
    last: pg_sys::HeapTuple,
}

impl RowEncoder {
    /// The encoder for rows of `desc`. Output functions are looked up now
    /// and keep their state in `mcxt`, which must outlive the encoder.
    ///
    /// # Safety
    /// `desc` must stay valid (and unchanged) as long as the encoder is used.
    pub unsafe fn new(desc: pg_sys::TupleDesc, mcxt: pg_sys::MemoryContext) -> Self {
        // SAFETY: per the contract.
        let natts = unsafe { (*desc).natts } as usize;
        let mut columns = Some(Vec::with_capacity(natts));
        for index in 0..natts {
            // SAFETY: index < natts.
            let att = unsafe { crate::pg::compat::tuple_desc_attr(desc, index) };
            if att.attisdropped {
                continue;
            }
            // SAFETY: catalog lookups with a valid type OID.
            match unsafe { encoding_for(att.atttypid, mcxt) } {
                Some(enc) => {
                    if let Some(cols) = columns.as_mut() {
                        let mut key = Vec::with_capacity(att.attname.data.len() + 4);
                        // SAFETY: attname is NUL-terminated.
                        let name = unsafe { CStr::from_ptr(att.attname.data.as_ptr()) };
                        escape_json(name.to_bytes(), &mut key);
                        key.push(b':');
                        cols.push(Column { index, key, enc });
                    }
                }
                None => columns = None,
            }
        }
        RowEncoder {
            desc,
            columns,
            values: vec![pg_sys::Datum::from(0); natts],
            nulls: vec![false; natts],
            last: std::ptr::null_mut(),
        }
    }

    /// Forgets which row was encoded last (a plan kept for a later
    /// statement, whose rows may reuse an address).
    pub fn forget_last(&mut self) {
        self.last = std::ptr::null_mut();
    }

    /// The columns of `tuple` if it is the row appended last (so it need
    /// not be deformed again). Valid while that tuple is.
    pub fn deformed(&self, tuple: pg_sys::HeapTuple) -> Option<(&[pg_sys::Datum], &[bool])> {
        (!tuple.is_null() && self.last == tuple).then_some((&self.values[..], &self.nulls[..]))
    }

    /// Appends `tuple` (a row of the encoder's table) as a JSON object.
    ///
    /// # Safety
    /// `tuple` must be a valid tuple of the encoder's descriptor.
    pub unsafe fn append(&mut self, tuple: pg_sys::HeapTuple, out: &mut Vec<u8>) {
        self.last = std::ptr::null_mut();
        let Some(columns) = &self.columns else {
            // SAFETY: per the contract.
            return unsafe { append_row_json(tuple, self.desc, out) };
        };
        // SAFETY: the buffers hold one entry per attribute of desc.
        unsafe {
            pg_sys::heap_deform_tuple(
                tuple,
                self.desc,
                self.values.as_mut_ptr(),
                self.nulls.as_mut_ptr(),
            )
        };
        self.last = tuple;
        out.push(b'{');
        for (n, col) in columns.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&col.key);
            if self.nulls[col.index] {
                out.extend_from_slice(b"null");
                continue;
            }
            let d = self.values[col.index];
            // SAFETY: `d` is a non-NULL value of the column's type, which
            // the encoding was chosen for.
            unsafe { col.enc.append(d, out) };
        }
        out.push(b'}');
    }
}

/// The encoding of a column of type `typid` (domains by their base type),
/// or `None` when `row_to_json` must do it.
///
/// # Safety
/// `typid` must be a valid type OID; `mcxt` a live memory context.
unsafe fn encoding_for(typid: pg_sys::Oid, mcxt: pg_sys::MemoryContext) -> Option<Enc> {
    // SAFETY: per the contract.
    unsafe {
        let base = pg_sys::getBaseType(typid);
        let output = || {
            let (mut func, mut varlena) = (pg_sys::InvalidOid, false);
            pg_sys::getTypeOutputInfo(base, &mut func, &mut varlena);
            super::io_cache::boxed_fmgr(func, mcxt)
        };
        Some(match base {
            pg_sys::BOOLOID => Enc::Bool,
            pg_sys::INT2OID => Enc::Int2,
            pg_sys::INT4OID => Enc::Int4,
            pg_sys::INT8OID => Enc::Int8,
            pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID => Enc::Text,
            pg_sys::FLOAT4OID | pg_sys::FLOAT8OID | pg_sys::NUMERICOID => Enc::Number(output()),
            pg_sys::JSONOID | pg_sys::JSONBOID => Enc::Json(output()),
            pg_sys::DATEOID | pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID => Enc::DateTime(base),
            // row_to_json recurses into arrays and composites and uses casts
            // to json for user-defined types: leave those to it.
            _ if u32::from(base) >= pg_sys::FirstNormalObjectId
                || pg_sys::get_element_type(base) != pg_sys::InvalidOid
                || pg_sys::type_is_rowtype(base)
                || pg_sys::get_typtype(base) as u8 == pg_sys::TYPTYPE_PSEUDO =>
            {
                return None
            }
            _ => Enc::Other(output()),
        })
    }
}

impl Enc {
    /// # Safety
    /// `d` must be a non-NULL value of the type the encoding was made for.
    unsafe fn append(&self, d: pg_sys::Datum, out: &mut Vec<u8>) {
        // SAFETY: per the contract; output functions return palloc'd C
        // strings in the current (per-call) memory context.
        unsafe {
            match self {
                Enc::Bool => out.extend_from_slice(if d.value() != 0 { b"true" } else { b"false" }),
                Enc::Int2 => append_int(d.value() as i16 as i64, out),
                Enc::Int4 => append_int(d.value() as i32 as i64, out),
                Enc::Int8 => append_int(d.value() as i64, out),
                Enc::Text => escape_json(text_bytes(d), out),
                Enc::Number(f) => {
                    let s = output_call(f, d);
                    // NaN and ±Infinity are not JSON numbers.
                    if s.last().is_some_and(u8::is_ascii_digit) {
                        out.extend_from_slice(s);
                    } else {
                        escape_json(s, out);
                    }
                }
                Enc::Json(f) => out.extend_from_slice(output_call(f, d)),
                Enc::DateTime(typid) => {
                    let s = pg_sys::JsonEncodeDateTime(
                        std::ptr::null_mut(),
                        d,
                        *typid,
                        std::ptr::null(),
                    );
                    out.push(b'"');
                    out.extend_from_slice(CStr::from_ptr(s).to_bytes());
                    out.push(b'"');
                }
                Enc::Other(f) => escape_json(output_call(f, d), out),
            }
        }
    }
}

/// The bytes of a text-like datum. Values stored inline and uncompressed
/// (nearly every short one) are read where they are, without a call into
/// PostgreSQL.
///
/// # Safety
/// `d` must be a non-NULL varlena datum.
pub unsafe fn text_bytes<'a>(d: pg_sys::Datum) -> &'a [u8] {
    use pgrx::varlena::{varatt_is_1b_e, varatt_is_4b_c, varlena_to_byte_slice};
    // SAFETY: per the contract; external or compressed values are
    // detoasted into the current memory context first.
    unsafe {
        let mut v = d.cast_mut_ptr::<pg_sys::varlena>();
        if varatt_is_1b_e(v) || varatt_is_4b_c(v) {
            v = pg_sys::pg_detoast_datum_packed(v);
        }
        varlena_to_byte_slice(v)
    }
}

/// # Safety
/// `f` must be the output function of `d`'s type.
unsafe fn output_call<'a>(f: &pg_sys::FmgrInfo, d: pg_sys::Datum) -> &'a [u8] {
    // SAFETY: per the contract; OutputFunctionCall takes a mutable pointer
    // but only its fn_extra may change, which the FmgrInfo owns.
    unsafe {
        let s = pg_sys::OutputFunctionCall(f as *const _ as *mut _, d);
        CStr::from_ptr(s).to_bytes()
    }
}

fn append_int(v: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// A JSON string, escaped exactly as PostgreSQL's `escape_json` does.
pub fn escape_json(s: &[u8], out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::{append_int, escape_json};

    #[test]
    fn escapes_like_postgres() {
        let mut out = Vec::new();
        escape_json("a\"b\\c\nd\te\u{1}f\u{7f}é".as_bytes(), &mut out);
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\te\\u0001f\u{7f}é\"".as_bytes());
    }

    #[test]
    fn prints_integers() {
        for v in [0, 7, -7, 1234567890, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            append_int(v, &mut out);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }
}
