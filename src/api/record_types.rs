//! The composite types a component's WIT records become (SPEC §10): made
//! by `wasm.load`/`wasm.replace` as `<schema>.<prefix><record-name>`
//! (kebab-case to snake_case), remembered in the module's `exports`
//! (entries of kind `type`), dropped by `wasm.unload`.

use super::functions::{current_schema, quote_ident, run_ddl};
use crate::catalog;
use crate::error::{PgWasmError, Result};
use crate::marshal::wit;
use pg_wasm_runtime::component::{snake, ComponentInfo, WitType};
use pgrx::prelude::*;
use serde_json::{json, Value};

/// Where the composite types of a component's records go.
pub struct RecordTypes {
    schema: String,
    prefix: String,
    /// The types this module made at an earlier load (a replace keeps
    /// them as its own).
    made_before: Vec<String>,
}

impl RecordTypes {
    pub fn new(schema: Option<&str>, prefix: &str) -> Result<Self> {
        let schema = match schema {
            Some(s) => s.to_string(),
            None => current_schema().ok_or_else(|| {
                PgWasmError::InvalidParameter(
                    "no schema has been selected to create types in (search_path is empty); \
                     set option \"schema\""
                        .into(),
                )
            })?,
        };
        Ok(RecordTypes {
            schema,
            prefix: prefix.to_string(),
            made_before: Vec::new(),
        })
    }

    /// For a replace: the types module `module` made before stay its own.
    pub fn replacing(mut self, module: &str) -> Result<Self> {
        self.made_before = catalog::type_entries(module)?;
        Ok(self)
    }

    /// Whether this load or replace makes (or made earlier) the type
    /// `qualified`, rather than reusing one that someone made before.
    fn makes(&self, qualified: &str) -> Result<bool> {
        Ok(self.made_before.iter().any(|t| t == qualified) || existing_type(qualified)?.is_none())
    }

    /// The qualified, quoted SQL name of record `name`'s type.
    pub fn name(&self, record: &str) -> String {
        format!(
            "{}.{}",
            quote_ident(&self.schema),
            quote_ident(&format!("{}{}", self.prefix, snake(record)))
        )
    }

    /// `t` as SQL, records named as this load names them.
    pub fn sql(&self, t: &WitType) -> std::result::Result<String, String> {
        t.sql_with(&|n| self.name(n))
    }

    /// The catalog entries (kind `type`) for the records of `info`, made
    /// before [`RecordTypes::create`] runs: `created` says whether the
    /// module makes the type (and so may drop it) or reuses one its owner
    /// made.
    pub fn catalog_entries(&self, info: &ComponentInfo) -> Result<Vec<Value>> {
        let mut entries = Vec::new();
        for r in info.records() {
            if let WitType::Record { name: Some(n), .. } = r {
                let sql = self.name(n);
                entries.push(json!({
                    "name": n, "kind": "type", "wit": record_wit(r),
                    "created": self.makes(&sql)?, "sql": sql,
                }));
            }
        }
        Ok(entries)
    }

    /// Creates the composite type of every record of `info` that has no
    /// type yet; a type of that name that does not fit the record is an
    /// error (nothing is created).
    pub fn create(&self, module: &str, info: &ComponentInfo) -> Result<()> {
        for r in info.records() {
            let WitType::Record {
                name: Some(n),
                fields,
            } = r
            else {
                continue;
            };
            let qualified = self.name(n);
            if let Some(oid) = existing_type(&qualified)? {
                if !self.made_before.contains(&qualified) {
                    check_type_owner(module, &qualified, oid)?;
                }
                wit::fits(r, oid).map_err(|why| {
                    PgWasmError::InvalidParameter(format!(
                        "component \"{module}\": type {qualified} exists but does not fit WIT record {n}: {why}"
                    ))
                })?;
                continue;
            }
            let columns = fields
                .iter()
                .map(|(f, t)| {
                    // A tuple field would be a column of pseudo-type record.
                    self.sql(t)
                        .and_then(|sql| match sql.as_str() {
                            "record" => Err(t.wit()),
                            _ => Ok(sql),
                        })
                        .map(|sql| format!("{} {sql}", quote_ident(&snake(f))))
                        .map_err(|why| {
                            PgWasmError::Unsupported(format!(
                                "component \"{module}\": field {f} of WIT record {n}: type {why} is not mapped to SQL yet"
                            ))
                        })
                })
                .collect::<Result<Vec<_>>>()?;
            run_ddl(&format!(
                "CREATE TYPE {qualified} AS ({})",
                columns.join(", ")
            ))?;
        }
        Ok(())
    }
}

/// A type that exists before a load is reused only if the loading role
/// owns it (or is a member of its owner): a tenant cannot adopt another
/// tenant's type, and with it that tenant's columns.
fn check_type_owner(module: &str, qualified: &str, oid: pg_sys::Oid) -> Result<()> {
    // SAFETY: syscache lookups of an existing type and of role memberships.
    let owns = unsafe {
        let owner = type_owner(oid);
        owner.is_some_and(|o| pg_sys::has_privs_of_role(pg_sys::GetUserId(), o))
    };
    if owns {
        Ok(())
    } else {
        Err(PgWasmError::InsufficientPrivilege(format!(
            "component \"{module}\": type {qualified} exists and belongs to another role; \
             a load reuses only types its role owns (choose another \"schema\" or \"prefix\")"
        )))
    }
}

/// The owner of type `oid` (`pg_type.typowner`).
fn type_owner(oid: pg_sys::Oid) -> Option<pg_sys::Oid> {
    Spi::get_one_with_args::<pg_sys::Oid>(
        "SELECT typowner FROM pg_catalog.pg_type WHERE oid OPERATOR(pg_catalog.=) $1",
        &[oid.into()],
    )
    .ok()
    .flatten()
}

/// `record { a: s32 }` with the record's own name before it.
fn record_wit(r: &WitType) -> String {
    match r {
        WitType::Record { name, fields } => format!(
            "record {} {{ {} }}",
            name.as_deref().unwrap_or(""),
            fields
                .iter()
                .map(|(n, t)| format!("{n}: {}", t.wit()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.wit(),
    }
}

fn existing_type(qualified: &str) -> Result<Option<pg_sys::Oid>> {
    // SAFETY: to_regtype takes a text and returns NULL for unknown types.
    let oid = unsafe {
        pgrx::direct_function_call::<pg_sys::Oid>(pg_sys::to_regtype, &[qualified.into_datum()])
    };
    Ok(oid.filter(|o| *o != pg_sys::InvalidOid))
}

/// Drops the composite types module `name` made (CASCADE with `cascade`:
/// columns and functions using them go too). The catalog lists them in
/// the order they were made, a record after the records its fields use;
/// they are dropped the other way round, so a record's type never blocks
/// the drop of one it uses.
///
/// Only types the module created are dropped, and only while the module's
/// owner still owns them: even a superuser's cascading unload never takes
/// another role's type (and its columns) with it.
pub fn drop_types(name: &str, module_owner: pg_sys::Oid, cascade: bool) -> Result<()> {
    for t in catalog::type_entries(name)?.into_iter().rev() {
        let Some(oid) = existing_type(&t)? else {
            continue;
        };
        // SAFETY: a plain lookup of role memberships.
        let ours = type_owner(oid)
            .is_some_and(|o| unsafe { pg_sys::is_member_of_role_nosuper(module_owner, o) });
        if !ours {
            pgrx::notice!(
                "type {t} is kept: it belongs to another role than wasm module \"{name}\"'s owner"
            );
            continue;
        }
        run_ddl(&format!(
            "DROP TYPE IF EXISTS {t}{}",
            if cascade { " CASCADE" } else { "" }
        ))?;
    }
    Ok(())
}

/// After a replace: drops the types module `name` made before (`old`) that
/// the new code no longer has, unless something still uses them (a table
/// column, a function the user made, a view): those are kept, with a
/// NOTICE naming them, and can be dropped by hand.
pub fn drop_stale_types(name: &str, old: &[String]) -> Result<()> {
    let now = catalog::type_entries(name)?;
    // Users last (see drop_types): a record used only by another stale
    // record is free once that one is gone.
    for t in old.iter().rev().filter(|t| !now.contains(t)) {
        if let Some(oid) = existing_type(t)? {
            if used(oid)? {
                pgrx::notice!(
                    "type {t} is no longer made by wasm module \"{name}\", but is kept: other objects use it"
                );
            } else {
                run_ddl(&format!("DROP TYPE {t}"))?;
            }
        }
    }
    Ok(())
}

/// Whether anything but the type's own array type and relation depends on
/// composite type `oid` or on its array type.
fn used(oid: pg_sys::Oid) -> Result<bool> {
    Ok(Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_depend d, pg_catalog.pg_type t
                         WHERE t.oid OPERATOR(pg_catalog.=) $1
                           AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
                           AND d.refobjid OPERATOR(pg_catalog.=) ANY (ARRAY[t.oid, t.typarray])
                           AND d.deptype OPERATOR(pg_catalog.=) 'n')",
        &[oid.into()],
    )?
    .unwrap_or(true))
}
