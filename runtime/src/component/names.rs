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
