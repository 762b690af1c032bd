//! Values between the host and the engine (engines/javascript/pg_js.c):
//! the argument record the host writes, the result kinds it asks for, and
//! what comes back.

/// A result length meaning SQL NULL (SPEC §5).
pub const LEN_NULL: u32 = u32::MAX;
/// A result length meaning "the function threw": the bytes are an
/// [`Exception`] record.
pub const LEN_EXCEPTION: u32 = u32::MAX - 1;

/// What the SQL result type wants from the function's return value
/// (`pgjs_call`'s third argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ResultKind {
    Void = 0,
    Bool = 1,
    Integer = 2,
    Float = 3,
    /// `String(value)`; a Date as ISO 8601, an object as its JSON.
    Text = 4,
    /// `JSON.stringify(value)`.
    Json = 5,
    /// A Uint8Array or ArrayBuffer's bytes (a string's UTF-8 otherwise).
    Bytes = 6,
}

/// Added to a [`ResultKind`]: the function returns a set (its rows come
/// back as one JSON array).
pub const SET: i32 = 16;
/// The call is a trigger's: the one argument is the event JSON (SPEC §6),
/// the result the decision JSON.
pub const TRIGGER: i32 = 32;

/// The arguments of one call, encoded for `pgjs_call`.
#[derive(Default, Debug)]
pub struct ArgRecord {
    bytes: Vec<u8>,
}

impl ArgRecord {
    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn sized(&mut self, tag: u8, value: &[u8]) {
        self.bytes.push(tag);
        self.bytes
            .extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(value);
    }

    pub fn null(&mut self) {
        self.bytes.push(0);
    }

    pub fn bool(&mut self, b: bool) {
        self.bytes.extend_from_slice(&[1, b as u8]);
    }

    pub fn int32(&mut self, v: i32) {
        self.bytes.push(2);
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub fn float64(&mut self, v: f64) {
        self.bytes.push(3);
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// A JavaScript string (UTF-8 in).
    pub fn string(&mut self, v: &[u8]) {
        self.sized(4, v);
    }

    /// JSON text, parsed into objects and arrays.
    pub fn json(&mut self, v: &[u8]) {
        self.sized(5, v);
    }

    /// A `Date`, in milliseconds since 1970-01-01 UTC.
    pub fn date(&mut self, epoch_ms: f64) {
        self.bytes.push(6);
        self.bytes.extend_from_slice(&epoch_ms.to_le_bytes());
    }

    /// A Uint8Array.
    pub fn bytes(&mut self, v: &[u8]) {
        self.sized(7, v);
    }

    /// A Number from its decimal text (numeric).
    pub fn number_text(&mut self, v: &[u8]) {
        self.sized(8, v);
    }

    /// A Number from an int8 (exact up to 2^53, as in plv8).
    pub fn int64(&mut self, v: i64) {
        self.bytes.push(9);
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
}

/// A scalar result (kinds Bool, Integer, Float).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Number(f64),
    /// A BigInt returned where an integer was wanted.
    BigInt(i64),
}

impl Scalar {
    /// Reads the engine's 9-byte scalar record.
    pub fn decode(bytes: &[u8]) -> Option<Scalar> {
        let (&tag, rest) = bytes.split_first()?;
        let raw: [u8; 8] = rest.get(..8)?.try_into().ok()?;
        Some(match tag {
            0 => Scalar::Null,
            1 => Scalar::Bool(f64::from_le_bytes(raw) != 0.0),
            3 => Scalar::Number(f64::from_le_bytes(raw)),
            9 => Scalar::BigInt(i64::from_le_bytes(raw)),
            _ => return None,
        })
    }
}

/// A JavaScript exception: its text (`String(e)`, e.g. "TypeError: x is
/// not a function") and its stack, one frame a line; for an error
/// `plv8.execute` made from a SQL error, the server's message and its
/// SQLSTATE (five characters, else empty), with the server's DETAIL and
/// HINT (a Python exception: what `plpy.error(detail=, hint=)` gave, or
/// the SQL error's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exception {
    pub message: String,
    pub stack: String,
    pub sqlstate: String,
    pub detail: String,
    pub hint: String,
}

impl Exception {
    /// Reads the engine's exception record (`u32 len, message, u32 len,
    /// stack, u32 len, sqlstate, u32 len, detail, u32 len, hint`, the last
    /// ones optional); a damaged record reads as what it holds.
    pub fn decode(bytes: &[u8]) -> Exception {
        let mut at = 0;
        let mut next = || {
            let len = bytes
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize)
                .unwrap_or(0);
            let text = bytes
                .get(at + 4..at + 4 + len)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            at += 4 + len;
            text
        };
        let message = next();
        let stack = next();
        let sqlstate = next();
        let detail = next();
        let hint = next();
        let valid = sqlstate.len() == 5
            && sqlstate
                .bytes()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
        Exception {
            sqlstate: if valid { sqlstate } else { String::new() },
            message: if message.is_empty() {
                "an exception that could not be converted to a string (out of memory?)".into()
            } else {
                message
            },
            stack: stack.trim_end().to_string(),
            detail,
            hint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_record() {
        let mut b = Vec::new();
        b.extend_from_slice(&5u32.to_le_bytes());
        b.extend_from_slice(b"Error");
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(b"  at f:1\n");
        let e = Exception::decode(&b);
        assert_eq!(e.message, "Error");
        assert_eq!(e.stack, "  at f:1");
        assert_eq!(e.sqlstate, "");
        let mut c = b.clone();
        c.extend_from_slice(&5u32.to_le_bytes());
        c.extend_from_slice(b"23505");
        assert_eq!(Exception::decode(&c).sqlstate, "23505");
        let mut full = c.clone();
        for field in [&b"Key (id)=(1) already exists."[..], b"Try another id."] {
            full.extend_from_slice(&(field.len() as u32).to_le_bytes());
            full.extend_from_slice(field);
        }
        let e = Exception::decode(&full);
        assert_eq!(
            (e.detail.as_str(), e.hint.as_str()),
            ("Key (id)=(1) already exists.", "Try another id.")
        );
        assert_eq!(Exception::decode(&c).detail, "", "an older record");
        let mut d = b.clone();
        d.extend_from_slice(&5u32.to_le_bytes());
        d.extend_from_slice(b"2350;");
        assert_eq!(Exception::decode(&d).sqlstate, "", "not a SQLSTATE");
        assert!(Exception::decode(&b[..3])
            .message
            .contains("could not be converted"));
    }

    #[test]
    fn scalar_record() {
        let mut b = vec![3];
        b.extend_from_slice(&2.5f64.to_le_bytes());
        assert_eq!(Scalar::decode(&b), Some(Scalar::Number(2.5)));
        assert_eq!(Scalar::decode(&b[..5]), None);
    }
}
