//! How much host memory turning a guest's JSON into SQL values will take,
//! worked out from the bytes alone (one pass, no allocation), so that a
//! result too large for its budget is refused before anything is built.
//!
//! The host's cost grows with the number of JSON values much more than
//! with the bytes: `[0,0,0,…]` is two bytes a value, but each value becomes
//! a parsed node, a datum and an array element (PostgreSQL's `jsonb_in`
//! makes a node of about 270 bytes per value). So the estimate is
//! `bytes × per_byte + values × per_value`, with the weights of the path
//! that will convert it (measured, see docs/limits.md).

/// Weights of one conversion path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weights {
    pub per_byte: usize,
    pub per_value: usize,
}

/// The estimate for a whole result and for the largest element of a
/// top-level array (a set-returning function converts one row at a time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    pub whole: usize,
    pub largest_element: usize,
    /// JSON values counted (objects, arrays, keys, strings, numbers,
    /// literals).
    pub values: usize,
}

/// Scans `json` (which need not be valid: a malformed document is refused
/// later by the parser, and the estimate only has to bound what that
/// parser would build before it fails).
pub fn cost(json: &[u8], w: Weights) -> Cost {
    let price = |bytes: usize, values: usize| {
        bytes
            .saturating_mul(w.per_byte)
            .saturating_add(values.saturating_mul(w.per_value))
    };
    let mut values = 0usize;
    let mut depth = 0usize;
    // Start (byte offset, values so far) of the current top-level element.
    let mut element = (0usize, 0usize);
    let mut largest = 0usize;
    // Whether the next significant character starts a value.
    let mut expect_value = true;
    let mut i = 0;
    let n = json.len();
    while i < n {
        let c = json[i];
        match c {
            b'"' => {
                values += 1;
                let start = i;
                i += 1;
                while i < n && json[i] != b'"' {
                    i += if json[i] == b'\\' { 2 } else { 1 };
                }
                if depth == 1 {
                    largest = largest.max(price(i.min(n - 1) + 1 - start, 1));
                }
                expect_value = false;
            }
            b'[' | b'{' => {
                values += 1;
                depth += 1;
                if depth == 2 {
                    element = (i, values - 1);
                }
                expect_value = true;
            }
            b']' | b'}' => {
                if depth == 2 {
                    largest = largest.max(price(i + 1 - element.0, values - element.1));
                }
                depth = depth.saturating_sub(1);
                expect_value = false;
            }
            b',' | b':' => {
                if c == b',' && depth == 1 {
                    element = (i + 1, values);
                }
                expect_value = true;
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => {
                if expect_value {
                    values += 1;
                    if depth == 1 {
                        element = (i, values - 1);
                    }
                    expect_value = false;
                }
                // A scalar at depth 1 ends at the next separator; its price
                // is settled here (its bytes are few).
                if depth == 1 {
                    largest = largest.max(price(i + 1 - element.0, values - element.1));
                }
            }
        }
        i += 1;
    }
    Cost {
        whole: price(n, values),
        largest_element: largest,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Weights = Weights {
        per_byte: 1,
        per_value: 100,
    };

    #[test]
    fn counts_every_value() {
        assert_eq!(cost(b"[0,0,0]", W).values, 4);
        assert_eq!(cost(br#"{"a":0,"b":[true,null]}"#, W).values, 7);
        assert_eq!(cost(br#"["a,b", "c\"]"]"#, W).values, 3);
        assert_eq!(cost(b"12.5e3", W).values, 1);
        assert_eq!(cost(b"[[],{},[[]]]", W).values, 5);
    }

    #[test]
    fn weighs_bytes_and_values() {
        let c = cost(b"[0,0,0]", W);
        assert_eq!(c.whole, 7 + 400);
    }

    #[test]
    fn finds_the_largest_row() {
        let c = cost(br#"[1, [1,2,3,4], {"a":"xxxxxxxx"}, 2]"#, W);
        // [1,2,3,4]: 9 bytes, 5 values
        assert_eq!(c.largest_element, 9 + 500);
        let c = cost(br#"["short", "a much longer string than that"]"#, W);
        assert_eq!(c.largest_element, 32 + 100);
        let c = cost(b"[0,0]", W);
        assert_eq!(c.largest_element, 1 + 100);
    }

    #[test]
    fn zeros_cost_what_their_values_cost() {
        let json: Vec<u8> = std::iter::once(b'[')
            .chain((0..1000).flat_map(|_| [b'0', b',']))
            .chain(std::iter::once(b']'))
            .collect();
        let c = cost(&json, W);
        assert_eq!(c.values, 1001);
        assert!(c.whole > 1001 * 100);
    }
}
