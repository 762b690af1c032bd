//! The module catalog, table `wasm.module` (sql/catalog.sql), read and
//! written through SPI. Nothing here runs on the per-row call path: the
//! caches in `pg::cache` read it once per invalidation.

mod changed;
pub mod libraries;
mod scan;
pub mod settings;

pub use settings::Settings;

use crate::error::{PgWasmError, Result};
use crate::pg::body::{self, Body};
use crate::pg::search_path::pinned;
use pgrx::prelude::*;
use pgrx::JsonB;

/// A module's row without its bytes.
#[derive(Clone, Debug)]
pub struct ModuleMeta {
    pub name: String,
    pub owner: pg_sys::Oid,
    pub generation: i64,
    pub settings: Settings,
    /// Of the module's bytes: the key of its compiled artifact.
    pub sha256: [u8; 32],
}

/// A function of language wasm that calls into a module.
#[derive(Clone, Debug)]
pub struct FunctionRef {
    pub oid: pg_sys::Oid,
    /// `schema.name(argtypes)` as regprocedure prints it.
    pub signature: String,
    pub export: String,
}

// Every name below is schema-qualified and every statement runs under the
// pinned search_path (pg::search_path): these statements run as the
// catalog's owner on behalf of any caller.
const META_COLUMNS: &str = "m.name, m.owner::pg_catalog.oid, m.generation, m.limits, m.sha256";

fn meta_from_row(row: &pgrx::spi::SpiHeapTupleData<'_>) -> Result<ModuleMeta> {
    ModuleMeta::from_columns(
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    )
}

impl ModuleMeta {
    /// From the columns name, owner, generation, limits and sha256 (NULLs
    /// as `None`), however they were read.
    fn from_columns(
        name: Option<String>,
        owner: Option<pg_sys::Oid>,
        generation: Option<i64>,
        limits: Option<JsonB>,
        sha256: Option<Vec<u8>>,
    ) -> Result<ModuleMeta> {
        let limits = limits.unwrap_or(JsonB(serde_json::json!({})));
        Ok(ModuleMeta {
            name: name.unwrap_or_default(),
            owner: owner.unwrap_or(pg_sys::InvalidOid),
            generation: generation.unwrap_or(0),
            settings: Settings::from_json(&limits.0)?,
            sha256: sha_from(sha256.unwrap_or_default()),
        })
    }
}

fn sha_from(bytes: Vec<u8>) -> [u8; 32] {
    bytes.try_into().unwrap_or([0; 32])
}

/// The module's metadata, or `None` if there is no such module.
pub fn find(name: &str) -> Result<Option<ModuleMeta>> {
    read_meta(name, false)
}

/// [`find`] under the active snapshot without a statement (an index scan),
/// for the module cache, which pushes the snapshot it wants first.
pub fn find_active(name: &str) -> Result<Option<ModuleMeta>> {
    match scan::find(name)? {
        Some(found) => Ok(found),
        None => read_meta(name, false),
    }
}

/// Locks the module's row for the rest of the transaction, so concurrent
/// replaces, unloads and configures of one module run one after the other.
pub fn lock(name: &str) -> Result<ModuleMeta> {
    read_meta(name, true)?.ok_or_else(|| PgWasmError::UnknownModule(name.to_string()))
}

fn read_meta(name: &str, for_update: bool) -> Result<Option<ModuleMeta>> {
    let sql = format!(
        "SELECT {META_COLUMNS} FROM wasm.module m WHERE m.name OPERATOR(pg_catalog.=) $1{}",
        if for_update { " FOR UPDATE" } else { "" }
    );
    as_catalog_owner(|| {
        Spi::connect_mut(|client| {
            // Plain reads stay read-only: they run inside STABLE callers.
            let table = if for_update {
                client.update(&sql, Some(1), &[name.into()])?
            } else {
                client.select(&sql, Some(1), &[name.into()])?
            };
            table
                .into_iter()
                .next()
                .map(|row| meta_from_row(&row))
                .transpose()
        })
    })
}

/// The first 8 bytes of the module's code (its header: a core module's or
/// a component's), `None` when there is no such module. Read under the
/// active snapshot without a statement when there is one (only the first
/// chunk of the out-of-line code is read either way).
pub fn header(name: &str) -> Result<Option<Vec<u8>>> {
    match scan::code_prefix::<8>(name)? {
        Some(found) => Ok(found),
        None => header_by_statement(name),
    }
}

/// [`header`] through a statement, where no snapshot is active.
pub(crate) fn header_by_statement(name: &str) -> Result<Option<Vec<u8>>> {
    as_catalog_owner(|| {
        Ok(Spi::connect(|client| {
            let rows = client.select(
                "SELECT pg_catalog.substring(m.bytes, 1, 8) FROM wasm.module m
                  WHERE m.name OPERATOR(pg_catalog.=) $1",
                Some(1),
                &[name.into()],
            )?;
            match rows.into_iter().next() {
                Some(row) => row.get::<Vec<u8>>(1),
                None => Ok(None),
            }
        })?)
    })
}

/// The module's code and the generation it belongs to.
pub fn code(name: &str) -> Result<Option<(i64, Vec<u8>)>> {
    as_catalog_owner(|| {
        Spi::connect(|client| {
            let table = client.select(
                "SELECT m.generation, m.bytes FROM wasm.module m
                  WHERE m.name OPERATOR(pg_catalog.=) $1",
                Some(1),
                &[name.into()],
            )?;
            match table.into_iter().next() {
                Some(row) => Ok(Some((
                    row.get(1)?.unwrap_or(0),
                    row.get(2)?.unwrap_or_default(),
                ))),
                None => Ok(None),
            }
        })
    })
}

/// The sha256 of every module's code in this database.
pub fn sha256s() -> Result<std::collections::HashSet<[u8; 32]>> {
    as_catalog_owner(|| {
        Spi::connect(|client| {
            let table = client.select("SELECT m.sha256 FROM wasm.module m", None, &[])?;
            table
                .into_iter()
                .map(|row| Ok(sha_from(row.get::<Vec<u8>>(1)?.unwrap_or_default())))
                .collect()
        })
    })
}

/// Every module's generation, by name.
pub fn generations() -> Result<std::collections::HashMap<String, i64>> {
    as_catalog_owner(|| {
        Spi::connect(|client| {
            let table =
                client.select("SELECT m.name, m.generation FROM wasm.module m", None, &[])?;
            table
                .into_iter()
                .map(|row| Ok((row.get(1)?.unwrap_or_default(), row.get(2)?.unwrap_or(0))))
                .collect()
        })
    })
}

/// What gets stored about a module's code.
pub struct NewCode<'a> {
    pub bytes: &'a [u8],
    pub sha256: [u8; 32],
    pub exports: serde_json::Value,
    pub imports: serde_json::Value,
}

/// Stores a new module owned by the current user; returns its generation.
pub fn insert(name: &str, code: &NewCode<'_>, settings: &Settings) -> Result<i64> {
    // SAFETY: reads the current user id.
    let owner = unsafe { pg_sys::GetUserId() };
    let generation = as_catalog_owner(|| {
        Ok(Spi::connect_mut(|client| {
            client
                .update(
                    "INSERT INTO wasm.module (name, bytes, sha256, exports, imports, limits, owner)
                 VALUES ($1, $2, $3, $4, $5, $6, $7::pg_catalog.oid::pg_catalog.regrole)
                 RETURNING generation",
                    Some(1),
                    &[
                        name.into(),
                        code.bytes.to_vec().into(),
                        code.sha256.to_vec().into(),
                        JsonB(code.exports.clone()).into(),
                        JsonB(code.imports.clone()).into(),
                        JsonB(settings.to_json()).into(),
                        owner.into(),
                    ],
                )?
                .first()
                .get_one::<i64>()
        })?)
    })?;
    invalidate()?;
    generation.ok_or_else(|| PgWasmError::Internal("INSERT returned no generation".into()))
}

/// Replaces a module's code; returns the new generation.
pub fn update_code(name: &str, code: &NewCode<'_>) -> Result<i64> {
    let generation = as_catalog_owner(|| {
        Ok(Spi::connect_mut(|client| {
            client
                .update(
                    "UPDATE wasm.module SET bytes = $2, sha256 = $3, exports = $4, imports = $5,
                        generation = pg_catalog.nextval('wasm.module_generation'::pg_catalog.regclass),
                        replaced_at = pg_catalog.now()
                 WHERE name OPERATOR(pg_catalog.=) $1 RETURNING generation",
                    Some(1),
                    &[
                        name.into(),
                        code.bytes.to_vec().into(),
                        code.sha256.to_vec().into(),
                        JsonB(code.exports.clone()).into(),
                        JsonB(code.imports.clone()).into(),
                    ],
                )?
                .first()
                .get_one::<i64>()
        })?)
    })?;
    invalidate()?;
    generation.ok_or_else(|| PgWasmError::UnknownModule(name.to_string()))
}

pub fn update_settings(name: &str, settings: &Settings) -> Result<()> {
    as_catalog_owner(|| {
        Ok(Spi::run_with_args(
            "UPDATE wasm.module SET limits = $2 WHERE name OPERATOR(pg_catalog.=) $1",
            &[name.into(), JsonB(settings.to_json()).into()],
        )?)
    })?;
    invalidate()
}

pub fn delete(name: &str) -> Result<()> {
    as_catalog_owner(|| {
        Ok(Spi::run_with_args(
            "DELETE FROM wasm.module WHERE name OPERATOR(pg_catalog.=) $1",
            &[name.into()],
        )?)
    })?;
    invalidate()
}

/// Functions whose body is `'<module>.<export>'`, as [`body::parse`] reads
/// bodies: the one parser the call handler, the validator, this and the
/// `wasm.functions` view (through `wasm.parse_body`) share.
pub fn functions_using(module: &str) -> Result<Vec<FunctionRef>> {
    pinned(|| {
        Spi::connect(|client| {
            let table = client.select(
                "SELECT p.oid, p.oid::pg_catalog.regprocedure::pg_catalog.text, p.prosrc
                   FROM pg_catalog.pg_proc p
                   JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang
                  WHERE l.lanname OPERATOR(pg_catalog.=) 'wasm'
                  ORDER BY p.oid",
                None,
                &[],
            )?;
            let mut out = Vec::new();
            for row in table {
                let src: String = row.get(3)?.unwrap_or_default();
                if let Ok(Body::Export { module: m, export }) = body::parse(&src) {
                    if m == module {
                        out.push(FunctionRef {
                            oid: row.get(1)?.unwrap_or(pg_sys::InvalidOid),
                            signature: row.get(2)?.unwrap_or_default(),
                            export,
                        });
                    }
                }
            }
            Ok(out)
        })
    })
}

/// OID of `wasm.module`, whose relcache invalidations tell every backend
/// that some module changed.
pub fn table_oid() -> Result<pg_sys::Oid> {
    Ok(table()?.0)
}

/// `wasm.module`'s OID and owner, from the system caches (no statement:
/// this runs before every catalog read).
fn table() -> Result<(pg_sys::Oid, pg_sys::Oid)> {
    let missing = || PgWasmError::Internal("table wasm.module is missing".into());
    // SAFETY: cache lookups by name with valid C strings; the relation is
    // opened through the relcache only to read its owner and closed again.
    unsafe {
        let nsp = pg_sys::get_namespace_oid(c"wasm".as_ptr(), true);
        if nsp == pg_sys::InvalidOid {
            return Err(missing());
        }
        let oid = pg_sys::get_relname_relid(c"module".as_ptr(), nsp);
        if oid == pg_sys::InvalidOid {
            return Err(missing());
        }
        let rel = pg_sys::RelationIdGetRelation(oid);
        if rel.is_null() {
            return Err(missing());
        }
        let owner = (*(*rel).rd_rel).relowner;
        pg_sys::RelationClose(rel);
        Ok((oid, owner))
    }
}

/// Runs catalog reads and writes as the owner of `wasm.module`. Nobody else
/// has privileges on the table: callers act on it only through pg_wasm's
/// functions, which check module ownership themselves. The previous user is
/// restored on return and on unwinding (and PostgreSQL restores it on
/// (sub)transaction abort as well).
///
/// Like a SECURITY DEFINER function with `SET search_path`, the statements
/// run under the pinned search_path (so nothing the caller created can be
/// found before pg_catalog) and as a security-restricted operation (as
/// PostgreSQL's own maintenance commands run other roles' code).
pub(crate) fn as_catalog_owner<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let (_, owner) = table()?;
    as_user(owner, pg_sys::SECURITY_RESTRICTED_OPERATION as i32, || {
        pinned(f)
    })
}

/// Runs `f` as `role`, as SECURITY DEFINER functions switch roles
/// (SECURITY_LOCAL_USERID_CHANGE plus `extra` context flags); the previous
/// user is restored on return and on unwinding.
pub(crate) fn as_user<T>(role: pg_sys::Oid, extra: i32, f: impl FnOnce() -> T) -> T {
    struct Restore(pg_sys::Oid, i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: restores the values read by GetUserIdAndSecContext.
            unsafe { pg_sys::SetUserIdAndSecContext(self.0, self.1) }
        }
    }
    let mut user = pg_sys::InvalidOid;
    let mut context = 0i32;
    // SAFETY: out-parameters are valid locals; switching the user with
    // SECURITY_LOCAL_USERID_CHANGE is what SECURITY DEFINER functions do.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(
            role,
            context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32 | extra,
        );
    }
    let _restore = Restore(user, context);
    f()
}

/// Queues a relcache invalidation of `wasm.module`. PostgreSQL delivers it
/// to every backend when this transaction commits (and to this backend at
/// the next command, or at abort), which is how module caches learn that
/// they must re-read the catalog.
fn invalidate() -> Result<()> {
    let oid = table_oid()?;
    // SAFETY: plain catalog call with a valid relation OID; any ERROR it
    // raises is turned into a Rust panic by pgrx's FFI guard.
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(oid) };
    Ok(())
}

/// A function owned by `fn_owner` may call module `meta` only if that role
/// is the module's owner or a member of it. Being a superuser is not
/// enough: a superuser's function created before its module exists (a
/// restore, a migration) must not bind to whatever module a tenant later
/// loads under that name and run it with the superuser's rights. A
/// superuser binds a function to another role's module on purpose by
/// making the function that role's (`ALTER FUNCTION ... OWNER TO`), or by
/// granting that role to the function's owner.
pub fn check_function_owner(
    meta: &ModuleMeta,
    fn_owner: pg_sys::Oid,
    function: impl FnOnce() -> String,
) -> Result<()> {
    // SAFETY: a plain lookup of role memberships (without the superuser
    // shortcut of has_privs_of_role).
    if unsafe { pg_sys::is_member_of_role_nosuper(fn_owner, meta.owner) } {
        Ok(())
    } else {
        Err(PgWasmError::ForeignModule {
            module: meta.name.clone(),
            function: function(),
        })
    }
}

/// Only the module's owner (a member of that role, or a superuser) may
/// change it or build functions on it.
pub fn check_owner(meta: &ModuleMeta) -> Result<()> {
    // SAFETY: both are plain lookups of the current role's memberships.
    let ok = unsafe { pg_sys::has_privs_of_role(pg_sys::GetUserId(), meta.owner) };
    if ok {
        Ok(())
    } else {
        Err(PgWasmError::NotOwner {
            module: meta.name.clone(),
        })
    }
}

/// The composite types a component module made for its WIT records (the
/// `sql` of its `exports` entries of kind `type`), qualified and quoted.
/// Types that existed before the module was loaded and that it only
/// reuses (`"created": false`) are left out: they are not the module's to
/// drop.
pub fn type_entries(name: &str) -> Result<Vec<String>> {
    type_entry_field(name, "sql", true)
}

/// The WIT of each record the component `name` was loaded with
/// (`record <name> { <field>: <type>, ... }`).
pub fn record_wits(name: &str) -> Result<Vec<String>> {
    type_entry_field(name, "wit", false)
}

/// One field of each catalog entry of kind `type` of module `name` (with
/// `made_only`, of the types the module created).
fn type_entry_field(name: &str, field: &str, made_only: bool) -> Result<Vec<String>> {
    as_catalog_owner(|| {
        Ok(Spi::connect(|client| {
            let rows = client.select(
                "SELECT e OPERATOR(pg_catalog.->>) $2
                   FROM wasm.module m,
                        pg_catalog.jsonb_array_elements(m.exports) WITH ORDINALITY AS x(e, n)
                  WHERE m.name OPERATOR(pg_catalog.=) $1
                    AND e OPERATOR(pg_catalog.->>) 'kind' OPERATOR(pg_catalog.=) 'type'
                    AND (NOT $3 OR COALESCE(e OPERATOR(pg_catalog.->>) 'created', 'true')
                                   OPERATOR(pg_catalog.=) 'true')
                  ORDER BY n",
                None,
                &[name.into(), field.into(), made_only.into()],
            )?;
            rows.into_iter()
                .filter_map(|r| r.get::<String>(1).transpose())
                .collect::<std::result::Result<Vec<_>, _>>()
        })?)
    })
}
