//! Functions a PostgreSQL user might want next to their data, written with
//! the pg_wasm Rust SDK: each `#[export]` becomes a typed SQL function when
//! the module is loaded (`SELECT wasm.load('jsonkit', bytes)`).
#![no_std]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use pg_wasm_guest::export;
use serde_json::Value;

/// Keys whose values never leave the database unmasked.
const SECRET_KEYS: &[&str] = &["password", "token", "secret", "ssn", "card_number"];

fn redact_value(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if SECRET_KEYS.contains(&k.to_lowercase().as_str()) {
                    *val = Value::String("***".into());
                } else {
                    redact_value(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        _ => {}
    }
}

/// jsonb -> jsonb: masks secret fields at any depth.
#[export(immutable)]
fn redact(mut doc: Value) -> Value {
    redact_value(&mut doc);
    doc
}

/// jsonb -> SETOF text: the top-level keys of an object.
#[export(immutable)]
fn keys(doc: Value) -> Vec<String> {
    match doc {
        Value::Object(map) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// text -> text: "  ada   LOVELACE " -> "Ada Lovelace".
#[export(immutable)]
fn normalize_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    out
}

/// text -> text: "Crème Brûlée!" -> "creme-brulee": lower case, Latin
/// diacritics folded, other runs of characters one dash (the rule of
/// benches/components.sh, here as a core module).
#[export(immutable)]
fn slugify(s: &str) -> String {
    const FROM: &str = "àáâãäåāçćčèéêëēėìíîïīñńòóôõöøōśšùúûüūýÿźżž";
    const TO: &[u8] = b"aaaaaaaccceeeeeeiiiiinnooooooossuuuuuyyzzz";
    // ASCII needs no folding (as the JavaScript slugify of the benchmarks
    // skips it too); only other characters are looked up.
    let fold = |c: char| {
        if c.is_ascii() {
            return c;
        }
        FROM.chars().position(|f| f == c).map_or(c, |i| TO[i] as char)
    };
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase).map(fold) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// text -> SETOF text: character trigrams, for fuzzy matching.
#[export(immutable)]
fn trigrams(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.to_lowercase().chars().collect();
    chars.windows(3).map(|w| w.iter().collect()).collect()
}

/// bytea -> bigint: CRC-32 (IEEE), the checksum zlib and PNG use.
#[export(immutable)]
fn crc32(data: &[u8]) -> i64 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    (!crc) as i64
}

/// A non-strict function: NULL arrives as None.
#[export(immutable)]
fn greeting(name: Option<&str>) -> String {
    match name {
        Some(n) if !n.is_empty() => alloc::format!("Hello, {n}!"),
        _ => "Hello, whoever you are!".to_string(),
    }
}

/// jsonb -> a composite type (declared in SQL), built as a JSON object.
#[export(immutable, returns = "jsonkit_summary")]
fn summarize(doc: Value) -> Value {
    let kind = match &doc {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
    };
    let size = match &doc {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 1,
    };
    serde_json::json!({"kind": kind, "size": size, "text": doc.to_string()})
}

/// text -> jsonb or NULL: Option results.
#[export(immutable)]
fn parse_json(s: &str) -> Option<Value> {
    serde_json::from_str(s).ok()
}

/// Aggregate transition with jsonb state: word frequencies, `{"word": n}`.
/// Not strict, so the first (NULL) state arrives as None.
#[export(immutable)]
fn word_freq_add(state: Option<Value>, doc: Option<&str>) -> Value {
    let mut map = match state {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    for word in doc.unwrap_or("").split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let n = map.get(&word.to_lowercase()).and_then(Value::as_i64).unwrap_or(0);
        map.insert(word.to_lowercase(), Value::from(n + 1));
    }
    Value::Object(map)
}

/// Aggregate final function: the most frequent word (ties: alphabetical).
#[export(immutable)]
fn most_common(state: Value) -> Option<String> {
    let Value::Object(map) = state else { return None };
    map.iter()
        .filter_map(|(k, v)| v.as_i64().map(|n| (n, k)))
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)))
        .map(|(_, k)| k.clone())
}

/// Numbers of every width cross as Wasm numbers: smallint, real, boolean,
/// bigint and double precision in, double precision out.
#[export(immutable)]
fn weighted(score: f32, weight: i16, round: bool, bonus: i64, factor: f64) -> f64 {
    let v = (score as f64 * weight as f64 + bonus as f64) * factor;
    if round {
        (v * 100.0 + 0.5) as i64 as f64 / 100.0
    } else {
        v
    }
}

/// boolean out.
#[export(immutable)]
fn is_even(n: i32) -> bool {
    n % 2 == 0
}

/// smallint in and out.
#[export(immutable)]
fn halve(n: i16) -> i16 {
    n / 2
}

/// real out.
#[export(immutable)]
fn ratio(a: i64, b: i64) -> f32 {
    if b == 0 {
        f32::NAN
    } else {
        a as f32 / b as f32
    }
}
