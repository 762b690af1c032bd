//! The host memory one result may take (`pg_wasm.max_result_mb`).
//!
//! A guest's result is bytes in its own memory, bounded by its memory
//! limit; turning them into SQL values takes host memory, which for JSON
//! grows with the number of values far more than with the bytes (a parsed
//! node, a datum and an array slot per value; PostgreSQL's `jsonb_in` about
//! 270 bytes a value). Before a JSON-borne result is converted, its cost is
//! estimated from the bytes alone (`pg_wasm_runtime::json_cost`, one pass,
//! no allocation) with the weights of the path that will convert it, and a
//! result over the budget fails with 54000 before anything is built. Text
//! and bytea are copied once and need no estimate.

use crate::error::{Label, PgWasmError, Result};
use pg_wasm_runtime::json_cost::{self, Weights};
use pgrx::pg_sys;

/// JSON parsed into a tree and then into datums (arrays, composites,
/// records, the rows of a set): measured about 46 bytes a value for
/// `int[]` and 74 for `text[]` (docs/limits.md); bytes are copied into the
/// tree, into datums and into the final value.
pub const TREE: Weights = Weights {
    per_byte: 3,
    per_value: 96,
};

/// An array result read element by element (`json::array_from_slice`):
/// a datum and a null flag per value (in vectors that may double), the
/// element itself when it is not passed by value, and the array.
pub const ARRAY: Weights = Weights {
    per_byte: 3,
    per_value: 64,
};

/// What `jsonb_in` adds on top (measured 270–300 bytes a value for
/// `[0,…]`, `[[],…]` and `[{"a":0},…]`).
const JSONB_EXTRA: Weights = Weights {
    per_byte: 2,
    per_value: 320,
};

/// The weights of a result of type `typid` (a domain's base type, an
/// array's elements, a composite's columns, looked at a few levels deep):
/// `None` when the result is not converted from JSON or through an input
/// function (text, bytea, json keep their bytes). Worked out once per call
/// site.
pub fn weights_for(typid: pg_sys::Oid) -> Option<Weights> {
    match typid {
        pg_sys::TEXTOID
        | pg_sys::VARCHAROID
        | pg_sys::BPCHAROID
        | pg_sys::BYTEAOID
        | pg_sys::JSONOID
        | pg_sys::VOIDOID => None,
        pg_sys::JSONBOID => Some(add(TREE, JSONB_EXTRA)),
        _ => {
            let path = match super::json::streamed_array_elem(typid) {
                Some(_) => ARRAY,
                None => TREE,
            };
            if contains_jsonb(typid, 3) {
                Some(add(path, JSONB_EXTRA))
            } else {
                Some(path)
            }
        }
    }
}

fn add(a: Weights, b: Weights) -> Weights {
    Weights {
        per_byte: a.per_byte + b.per_byte,
        per_value: a.per_value + b.per_value,
    }
}

fn contains_jsonb(typid: pg_sys::Oid, depth: u32) -> bool {
    if depth == 0 {
        return true; // too deep to tell: assume the costly path
    }
    // SAFETY: syscache lookups with a valid type OID.
    let base = unsafe { pg_sys::getBaseType(typid) };
    if base == pg_sys::JSONBOID {
        return true;
    }
    // SAFETY: as above.
    let elem = unsafe { pg_sys::get_element_type(base) };
    if elem != pg_sys::InvalidOid {
        return contains_jsonb(elem, depth - 1);
    }
    // SAFETY: as above.
    if base == pg_sys::RECORDOID || !unsafe { pg_sys::type_is_rowtype(base) } {
        return false;
    }
    // SAFETY: a refcounted descriptor of an existing row type, released
    // below.
    unsafe {
        let desc = pg_sys::lookup_rowtype_tupdesc(base, -1);
        let natts = (*desc).natts as usize;
        let found = (0..natts).any(|i| {
            let att = crate::pg::compat::tuple_desc_attr(desc, i);
            !att.attisdropped && contains_jsonb(att.atttypid, depth - 1)
        });
        pg_sys::DecrTupleDescRefCount(desc);
        found
    }
}

/// The budget in bytes.
pub fn budget() -> usize {
    (crate::guc::MAX_RESULT_MB.get().max(1) as usize) << 20
}

/// Refuses a result whose conversion would take more than the budget.
/// `set`: the rows of a set-returning function, converted one at a time
/// (only the largest row counts).
pub fn check(bytes: &[u8], weights: Option<Weights>, set: bool, function: &str) -> Result<()> {
    let Some(w) = weights else {
        return Ok(());
    };
    let budget = budget();
    // Cheap first: a document has at most one value per byte, so a small
    // one cannot be over the budget and needs no scan.
    if bytes.len().saturating_mul(w.per_byte + w.per_value) <= budget {
        return Ok(());
    }
    let cost = json_cost::cost(bytes, w);
    let needed = if set {
        cost.largest_element
    } else {
        cost.whole
    };
    if needed <= budget {
        return Ok(());
    }
    let what = if set {
        "a row".to_string()
    } else {
        format!("{} bytes of JSON ({} values)", bytes.len(), cost.values)
    };
    Err(PgWasmError::ResultTooLarge(format!(
        "{} returned {what} that would take about {} MB of host memory to convert, more than pg_wasm.max_result_mb ({} MB)",
        Label(function),
        needed.div_ceil(1 << 20),
        budget >> 20
    )))
}

/// Refuses a component's result (`set`: one row of a set) whose
/// conversion, as [`conversion_cost`](super::wit_result::conversion_cost)
/// counts it, would take more than the budget.
pub fn check_cost(cost: usize, set: bool, function: &str) -> Result<()> {
    let budget = budget();
    if cost <= budget {
        return Ok(());
    }
    let what = if set { "a row" } else { "a result" };
    Err(PgWasmError::ResultTooLarge(format!(
        "{} returned {what} that would take more host memory to convert than pg_wasm.max_result_mb allows ({} MB)",
        Label(function),
        budget >> 20
    )))
}
