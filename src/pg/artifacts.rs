//! Glue between the module cache and the cluster's compiled-artifact store
//! (`pg_wasm_runtime::artifacts`), kept in `$PGDATA/pg_wasm`.
//!
//! A backend that needs a module maps its stored artifact; only when there
//! is none that fits does it compile, and then stores what it compiled.
//! Links a transaction adds for its own loads are removed if it aborts;
//! links it finds unused (after a replace or unload) are removed when it
//! commits. Failing to read or write the store is never an error for the
//! caller: the module is compiled as if there were no store.

use crate::catalog::{self, ModuleMeta};
use crate::error::{PgWasmError, Result};
use crate::pg::search_path::pinned;
use once_cell::sync::OnceCell;
use pg_wasm_runtime::artifacts::{self, Artifact, Lookup, Store};
use pg_wasm_runtime::Engine;
use pgrx::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;

static STORE: OnceCell<Option<(Store, String)>> = OnceCell::new();

/// What this backend did, for `wasm.cache_stats()` and the tests that
/// prove a backend mapped instead of compiling.
#[derive(Clone, Copy, Default)]
pub struct Counters {
    pub compiled: u64,
    pub mapped: u64,
    pub stored: u64,
    pub rejected: u64,
}

thread_local! {
    static COUNTERS: Cell<Counters> = Cell::new(Counters::default());
    /// Links this transaction created (removed if it aborts) and links it
    /// found unused (removed if it commits).
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
}

#[derive(Default)]
struct Pending {
    created: Vec<String>,
    unused: Vec<String>,
}

fn count(f: impl FnOnce(&mut Counters)) {
    COUNTERS.with(|c| {
        let mut v = c.get();
        f(&mut v);
        c.set(v)
    })
}

pub fn counters() -> Counters {
    COUNTERS.with(|c| c.get())
}

/// The store and this engine's key, or `None` when the directory cannot be
/// made (logged once; the backend then compiles everything itself).
fn store(engine: &Engine) -> Option<&'static (Store, String)> {
    if !crate::guc::COMPILED_ARTIFACTS.get() {
        return None;
    }
    STORE
        .get_or_init(|| {
            // SAFETY: DataDir is set before any backend runs user code and
            // never changes.
            let data_dir = unsafe { std::ffi::CStr::from_ptr(pg_sys::DataDir) };
            let root = std::path::Path::new(&*data_dir.to_string_lossy()).join("pg_wasm");
            match Store::open(&root) {
                Ok(s) => Some((s, artifacts::engine_key(engine))),
                Err(e) => {
                    pgrx::log!(
                        "pg_wasm: compiled artifacts disabled, cannot use {}: {e}",
                        root.display()
                    );
                    None
                }
            }
        })
        .as_ref()
}

fn database() -> String {
    // SAFETY: reads a backend global set at connection start.
    unsafe { pg_sys::MyDatabaseId }.to_u32().to_string()
}

/// The compiled code of `meta`: its stored artifact, mapped, or else the
/// result of `compile`, which is then stored for every other backend.
pub fn module_for<T: Artifact>(
    engine: &Engine,
    meta: &ModuleMeta,
    compile: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let Some((store, engine_key)) = store(engine) else {
        count(|c| c.compiled += 1);
        return compile();
    };
    let key = artifacts::key(&meta.sha256, engine_key);
    match store.lookup(engine, &database(), &key) {
        Lookup::Mapped(m) => {
            count(|c| c.mapped += 1);
            return Ok(m);
        }
        Lookup::Rejected(why) => {
            count(|c| c.rejected += 1);
            pgrx::debug1!(
                "pg_wasm: ignored the compiled artifact of module \"{}\" ({key}) and compiles it again: {why}",
                meta.name
            );
        }
        Lookup::Missing => {}
    }
    let module = compile()?;
    count(|c| c.compiled += 1);
    keep(engine, meta, &module, false);
    Ok(module)
}

/// Where artifacts of what ships with the extension are linked (the
/// JavaScript engine's image), beside the databases' links.
const SHIPPED: &str = "shipped";

/// The compiled code of something that ships with the extension (`bytes`
/// and what `compile` makes of them, such as the JavaScript engine's
/// image): mapped from the store, or compiled once and stored for every
/// other backend of the cluster.
pub fn shipped<T: Artifact>(
    engine: &Engine,
    name: &str,
    bytes_sha256: &str,
    compile: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let Some((store, engine_key)) = store(engine) else {
        count(|c| c.compiled += 1);
        return compile();
    };
    // The image depends on the bytes (their SHA-256, computed when the
    // extension was built) and on how pg_wasm builds it.
    let tagged = format!("{bytes_sha256} pg_wasm {name} image 1");
    let key = artifacts::key(&pg_wasm_runtime::sha256(tagged.as_bytes()), engine_key);
    match store.lookup(engine, SHIPPED, &key) {
        Lookup::Mapped(m) => {
            count(|c| c.mapped += 1);
            return Ok(m);
        }
        Lookup::Rejected(why) => {
            count(|c| c.rejected += 1);
            pgrx::log!(
                "pg_wasm: ignored the compiled {name} engine ({key}) and compiles it again: {why}"
            );
        }
        Lookup::Missing => {}
    }
    let module = compile()?;
    count(|c| c.compiled += 1);
    match store.store(SHIPPED, &key, &module) {
        Ok(_) => count(|c| c.stored += 1),
        Err(e) => pgrx::log!("pg_wasm: could not store the compiled {name} engine: {e}"),
    }
    Ok(module)
}

/// The stored artifact of the code whose sha256 is `sha256`, if one fits:
/// `wasm.load`, `wasm.replace` and `wasm.inspect` of code this cluster has
/// compiled before (a reload, a replace by the same code, an inspect after
/// a load) map it instead of compiling again.
pub fn stored<T: Artifact>(engine: &Engine, sha256: &[u8; 32]) -> Option<T> {
    let (store, engine_key) = store(engine)?;
    let found = store.peek(engine, &database(), &artifacts::key(sha256, engine_key));
    if found.is_some() {
        count(|c| c.mapped += 1);
    }
    found
}

/// Stores `module` (just compiled for `meta`) in the store. `fresh` marks a
/// load or replace: a link it creates is removed if the transaction aborts.
pub fn keep<T: Artifact>(engine: &Engine, meta: &ModuleMeta, module: &T, fresh: bool) {
    let Some((store, engine_key)) = store(engine) else {
        return;
    };
    let key = artifacts::key(&meta.sha256, engine_key);
    match store.store(&database(), &key, module) {
        Ok(created) => {
            count(|c| c.stored += 1);
            if created && fresh {
                PENDING.with(|p| p.borrow_mut().created.push(key));
            }
        }
        Err(e) => pgrx::log!(
            "pg_wasm: could not store the compiled artifact of module \"{}\": {e}",
            meta.name
        ),
    }
}

/// Notes the links of this database that no module uses any more (after a
/// replace or unload of the calling transaction, a rolled-back load, …);
/// they are removed when the transaction commits. Removes the artifacts of
/// dropped databases and objects no database links. Skipped when another
/// transaction is changing `wasm.module` (its new links are not visible
/// yet); the next change looks again.
pub fn sweep_unused(engine: &Engine) -> Result<()> {
    let Some((store, engine_key)) = store(engine) else {
        return Ok(());
    };
    // SAFETY: plain reads of backend state.
    let recovery = unsafe { pg_sys::RecoveryInProgress() };
    let table = catalog::table_oid()?;
    if !recovery {
        // ShareLock conflicts with the RowExclusiveLock of every other
        // transaction writing wasm.module, not with our own.
        // SAFETY: conditional lock on a valid relation OID, released below.
        let got = unsafe { pg_sys::ConditionalLockRelationOid(table, pg_sys::ShareLock as _) };
        if !got {
            return Ok(());
        }
    }
    let result = (|| {
        let keep: HashSet<String> = catalog::sha256s()?
            .iter()
            .map(|s| artifacts::key(s, engine_key))
            .collect();
        let unused = store.unused_links(&database(), &keep).map_err(|e| {
            PgWasmError::Internal(format!("reading {}: {e}", store.root().display()))
        })?;
        PENDING.with(|p| p.borrow_mut().unused.extend(unused));
        let live = live_databases()?;
        if let Err(e) = store.cleanup(Some(&live)) {
            pgrx::log!("pg_wasm: cleaning {}: {e}", store.root().display());
        }
        Ok(())
    })();
    if !recovery {
        // SAFETY: releases the lock taken above; our RowExclusiveLock (if
        // any) stays until the end of the transaction.
        unsafe { pg_sys::UnlockRelationOid(table, pg_sys::ShareLock as _) };
    }
    result
}

fn live_databases() -> Result<HashSet<String>> {
    pinned(|| {
        Spi::connect(|client| {
            let table = client.select(
                "SELECT d.oid::pg_catalog.int8 FROM pg_catalog.pg_database d",
                None,
                &[],
            )?;
            table
                .into_iter()
                .map(|row| Ok(row.get::<i64>(1)?.unwrap_or(0).to_string()))
                .chain([Ok(SHIPPED.to_string())])
                .collect()
        })
    })
}

/// At the end of a transaction (from the transaction callback: file system
/// only, no PostgreSQL calls, errors ignored).
pub fn at_xact_end(committed: Option<bool>) {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if pending.created.is_empty() && pending.unused.is_empty() {
        return;
    }
    let Some(committed) = committed else {
        return;
    };
    let Some(Some((store, _))) = STORE.get() else {
        return;
    };
    let gone = if committed {
        pending.unused
    } else {
        pending.created
    };
    store.release(&database(), &gone);
}

/// Every stored artifact, for `wasm.cache`.
pub fn list(engine: &Engine) -> Result<Vec<artifacts::Entry>> {
    let Some((store, _)) = store(engine) else {
        return Ok(Vec::new());
    };
    let mut entries = store
        .list()
        .map_err(|e| PgWasmError::Internal(format!("reading {}: {e}", store.root().display())))?;
    // SAFETY: reads the current role's superuser flag.
    if !unsafe { pg_sys::superuser() } {
        // Other databases' artifacts are theirs: a hash is enough to tell
        // that a database runs a known module.
        let db = database();
        entries.retain(|e| store.link_path(&db, &e.key).exists());
    }
    Ok(entries)
}

/// Removes unused artifacts now, or with `all` every artifact of the
/// cluster (each backend maps or compiles again on its next first call).
pub fn clear(engine: &Engine, all: bool) -> Result<i64> {
    let Some((store, _)) = store(engine) else {
        return Ok(0);
    };
    let before = list(engine)?.len() as i64;
    if all {
        store.clear().map_err(|e| {
            PgWasmError::Internal(format!("clearing {}: {e}", store.root().display()))
        })?;
    } else {
        sweep_unused(engine)?;
        let unused = PENDING.with(|p| std::mem::take(&mut p.borrow_mut().unused));
        store.release(&database(), &unused);
    }
    Ok(before - list(engine)?.len() as i64)
}
