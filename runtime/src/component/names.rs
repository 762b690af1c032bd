//! The WIT names of a component's records. wasmtime's component types are
//! structural (a record is its fields), but SQL needs a name for the
//! composite type a record becomes (SPEC §10: `<prefix><record-name>`).
//! The names are in the component's own type section; wit-parser decodes
//! them into a `Resolve`.

use super::wit::ComponentInfo;
use std::collections::HashMap;
use wit_parser::decoding::{decode, DecodedWasm};
use wit_parser::TypeDefKind;

/// Fills in the names of the records in `info`'s exports from the
/// component `bytes`. A record is matched by its field names; records
/// whose names cannot be read stay unnamed (and are not mapped to SQL).
pub fn name_records(info: &mut ComponentInfo, bytes: &[u8]) {
    let Ok(DecodedWasm::Component(resolve, _)) = decode(bytes) else {
        return;
    };
    let mut by_fields: HashMap<Vec<String>, String> = HashMap::new();
    for (_, def) in resolve.types.iter() {
        if let (TypeDefKind::Record(r), Some(name)) = (&def.kind, &def.name) {
            by_fields
                .entry(r.fields.iter().map(|f| f.name.clone()).collect())
                .or_insert_with(|| name.clone());
        }
    }
    apply(info, &by_fields);
}

/// Fills in the names of the records in `info`'s exports from what a load
/// recorded of them: each record's WIT as `record <name> { <field>: <type>,
/// ... }` (the catalog's entries of kind `type`), so a backend that maps a
/// stored artifact names them without decoding the component again.
pub fn name_records_from_wit<'a>(
    info: &mut ComponentInfo,
    records: impl IntoIterator<Item = &'a str>,
) {
    let mut by_fields: HashMap<Vec<String>, String> = HashMap::new();
    for wit in records {
        if let Some((name, fields)) = parse_record_wit(wit) {
            by_fields.entry(fields).or_insert(name);
        }
    }
    apply(info, &by_fields);
}

fn apply(info: &mut ComponentInfo, by_fields: &HashMap<Vec<String>, String>) {
    let names = |fields: &[&str]| {
        let key: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        by_fields.get(&key).cloned()
    };
    for e in &mut info.exports {
        for (_, t) in &mut e.params {
            t.name_records(&names);
        }
        if let Some(t) = &mut e.result {
            t.name_records(&names);
        }
    }
}

/// The name and field names of `record <name> { <field>: <type>, ... }`;
/// a field's type may itself hold commas (`tuple<a, b>`), so fields are
/// split at the commas outside any brackets.
fn parse_record_wit(wit: &str) -> Option<(String, Vec<String>)> {
    let rest = wit.strip_prefix("record ")?;
    let open = rest.find('{')?;
    let name = rest[..open].trim();
    let body = rest[open + 1..].trim_end().strip_suffix('}')?;
    let (mut depth, mut start, mut fields) = (0i32, 0, Vec::new());
    for (i, c) in body.char_indices().chain([(body.len(), ',')]) {
        match c {
            '<' | '(' | '{' => depth += 1,
            '>' | ')' | '}' => depth -= 1,
            ',' if depth == 0 => {
                let field = body[start..i].split(':').next()?.trim();
                if !field.is_empty() {
                    fields.push(field.to_string());
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    (!name.is_empty() && !fields.is_empty()).then(|| (name.to_string(), fields))
}

#[cfg(test)]
mod tests {
    use super::parse_record_wit;

    #[test]
    fn reads_names_and_fields_of_a_record() {
        assert_eq!(
            parse_record_wit("record tier { min-units: s32, rate: f64, unit-price: f64 }"),
            Some((
                "tier".into(),
                vec!["min-units".into(), "rate".into(), "unit-price".into()]
            ))
        );
        assert_eq!(
            parse_record_wit("record pair { a: tuple<s32, string>, b: list<option<u8>> }"),
            Some(("pair".into(), vec!["a".into(), "b".into()]))
        );
        assert_eq!(parse_record_wit("record  { a: s32 }"), None);
        assert_eq!(parse_record_wit("func(a: s32)"), None);
    }
}
