//! SQL types as the core ABI (SPEC §5) passes them, for local calls.

/// How a value of a SQL type crosses into a core module or the JavaScript
/// engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crossing {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// Raw bytes (`bytea`).
    Bytes,
    /// JSON text (json, jsonb, composites, arrays, sets).
    Json,
    /// The value's text form (text, varchar, numeric, date, ...).
    Text,
    Void,
}

/// `sql` as written in a signature (`integer`, `SETOF text`, `int[]`).
pub fn crossing(sql: &str) -> Crossing {
    let t = sql.trim().to_lowercase();
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.starts_with("setof ") || t.starts_with("table") || t.ends_with("[]") {
        return Crossing::Json;
    }
    match t.as_str() {
        "bool" | "boolean" => Crossing::Bool,
        "int2" | "smallint" => Crossing::Int16,
        "int" | "int4" | "integer" => Crossing::Int32,
        "int8" | "bigint" => Crossing::Int64,
        "float4" | "real" => Crossing::Float32,
        "float8" | "double precision" => Crossing::Float64,
        "bytea" => Crossing::Bytes,
        "json" | "jsonb" | "record" => Crossing::Json,
        "void" => Crossing::Void,
        _ => Crossing::Text,
    }
}

/// `\x0102` (bytea's hex form) as bytes; other text as its UTF-8 bytes.
pub fn bytea_input(s: &str) -> Result<Vec<u8>, String> {
    let Some(hex) = s.strip_prefix("\\x") else {
        return Ok(s.as_bytes().to_vec());
    };
    if hex.len() % 2 != 0 {
        return Err(format!(
            "\"{s}\" is not bytea hex (an odd number of digits)"
        ));
    }
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("\"{s}\" is not bytea hex"))
}

pub fn bytea_output(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * bytes.len());
    s.push_str("\\x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings() {
        assert_eq!(crossing("Double  Precision"), Crossing::Float64);
        assert_eq!(crossing("SETOF integer"), Crossing::Json);
        assert_eq!(crossing("int[]"), Crossing::Json);
        assert_eq!(crossing("numeric"), Crossing::Text);
        assert_eq!(bytea_input("\\x00ff").unwrap(), [0, 255]);
        assert!(bytea_input("\\x0").is_err());
        assert_eq!(bytea_output(&[1, 171]), "\\x01ab");
    }
}
