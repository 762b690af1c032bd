//! JavaScript libraries, table `wasm.javascript_library` (sql/catalog.sql):
//! source text that functions of LANGUAGE javascript load with
//! `require(name)`. Read and written as the catalog's owner, like modules.

use super::as_catalog_owner;
use crate::error::{PgWasmError, Result};
use pgrx::prelude::*;

/// A library as `require` needs it.
pub struct Library {
    pub owner: pg_sys::Oid,
    pub source: String,
}

/// `name`'s owner and source, or `None`.
pub fn find(name: &str) -> Result<Option<Library>> {
    as_catalog_owner(|| {
        Spi::connect(|client| {
            let table = client.select(
                "SELECT l.owner::pg_catalog.oid, l.source FROM wasm.javascript_library l
                  WHERE l.name OPERATOR(pg_catalog.=) $1",
                Some(1),
                &[name.into()],
            )?;
            match table.into_iter().next() {
                Some(row) => Ok(Some(Library {
                    owner: row.get(1)?.unwrap_or(pg_sys::InvalidOid),
                    source: row.get(2)?.unwrap_or_default(),
                })),
                None => Ok(None),
            }
        })
    })
}

/// The owner of library `name` (locked for the rest of the transaction),
/// or `None`.
fn lock_owner(name: &str) -> Result<Option<pg_sys::Oid>> {
    as_catalog_owner(|| {
        Spi::connect_mut(|client| {
            let table = client.update(
                "SELECT l.owner::pg_catalog.oid FROM wasm.javascript_library l
                  WHERE l.name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
                Some(1),
                &[name.into()],
            )?;
            match table.into_iter().next() {
                Some(row) => Ok(row.get(1)?),
                None => Ok(None),
            }
        })
    })
}

fn check_owner(name: &str, owner: pg_sys::Oid) -> Result<()> {
    // SAFETY: plain lookups of the current role's memberships.
    if unsafe { pg_sys::has_privs_of_role(pg_sys::GetUserId(), owner) } {
        Ok(())
    } else {
        Err(PgWasmError::InsufficientPrivilege(format!(
            "must be the owner of JavaScript library \"{name}\" to replace or unload it"
        )))
    }
}

/// Stores `source` as library `name`: a new one owned by the current user,
/// or new source for one the current user owns. Returns whether it
/// replaced one.
pub fn store(name: &str, source: &str, sha256: [u8; 32]) -> Result<bool> {
    let existing = lock_owner(name)?;
    if let Some(owner) = existing {
        check_owner(name, owner)?;
    }
    // SAFETY: reads the current user id.
    let user = unsafe { pg_sys::GetUserId() };
    as_catalog_owner(|| {
        Ok(Spi::run_with_args(
            "INSERT INTO wasm.javascript_library (name, owner, source, sha256)
             VALUES ($1, $2::pg_catalog.oid::pg_catalog.regrole, $3, $4)
             ON CONFLICT (name) DO UPDATE
               SET source = EXCLUDED.source, sha256 = EXCLUDED.sha256, loaded_at = pg_catalog.now()",
            &[name.into(), user.into(), source.into(), sha256.to_vec().into()],
        )?)
    })?;
    invalidate()?;
    Ok(existing.is_some())
}

/// Removes library `name` (its owner only).
pub fn remove(name: &str) -> Result<()> {
    let owner = lock_owner(name)?.ok_or_else(|| {
        PgWasmError::InvalidParameter(format!("JavaScript library \"{name}\" does not exist"))
    })?;
    check_owner(name, owner)?;
    as_catalog_owner(|| {
        Ok(Spi::run_with_args(
            "DELETE FROM wasm.javascript_library WHERE name OPERATOR(pg_catalog.=) $1",
            &[name.into()],
        )?)
    })?;
    invalidate()
}

/// Every backend forgets the libraries it read (a relcache invalidation of
/// the table bumps their relations epoch at commit).
fn invalidate() -> Result<()> {
    // SAFETY: cache lookups by name with valid C strings.
    let oid = unsafe {
        let nsp = pg_sys::get_namespace_oid(c"wasm".as_ptr(), false);
        pg_sys::get_relname_relid(c"javascript_library".as_ptr(), nsp)
    };
    if oid == pg_sys::InvalidOid {
        return Err(PgWasmError::Internal(
            "table wasm.javascript_library is missing".into(),
        ));
    }
    // SAFETY: plain catalog call with a valid relation OID.
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(oid) };
    Ok(())
}
