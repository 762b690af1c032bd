//! Citus glue (docs/scale-out.md). With Citus in this database and this
//! node its coordinator, every change to the modules is also written to an
//! op log, `wasm.citus_op`, a Citus reference table: Citus writes the row
//! to every node in the same distributed transaction (two-phase commit),
//! and the log's trigger applies it on each node but the one it came from
//! (`api::citus`). A failure on any node aborts the whole transaction, so
//! all nodes change or none. Functions are ordinary DDL, which Citus
//! propagates itself. pg_wasm does not require Citus: without it, a change
//! costs one catalog lookup here and nothing else.

use crate::catalog;
use crate::error::{PgWasmError, Result};
use crate::pg::search_path::pinned;
use pgrx::prelude::*;
use pgrx::JsonB;
use std::cell::Cell;

thread_local! {
    /// Set while a node applies an op from the log: what it does then must
    /// not be logged again.
    static APPLYING: Cell<bool> = const { Cell::new(false) };
}

/// A change to the modules, as the log carries it.
pub enum Op<'a> {
    Load {
        name: &'a str,
        bytes: &'a [u8],
        options: &'a serde_json::Value,
    },
    Replace {
        name: &'a str,
        bytes: &'a [u8],
        options: Option<&'a serde_json::Value>,
    },
    Unload {
        name: &'a str,
        cascade: bool,
    },
    Configure {
        name: &'a str,
        options: &'a serde_json::Value,
    },
}

/// Runs `f` as the application of a logged op (nothing it does is logged).
pub fn applying<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            APPLYING.with(|a| a.set(self.0));
        }
    }
    let _reset = Reset(APPLYING.with(|a| a.replace(true)));
    f()
}

/// Logs `op` for the other nodes when this is a Citus coordinator.
pub fn record(op: Op<'_>) -> Result<()> {
    if APPLYING.with(|a| a.get()) || !coordinator()? {
        return Ok(());
    }
    // By name: role OIDs differ between nodes (Citus creates roles by name).
    let caller =
        pinned(|| Spi::get_one::<String>("SELECT CURRENT_USER::text"))?.unwrap_or_default();
    catalog::as_catalog_owner(|| {
        ensure_log()?;
        let (kind, name, bytes, options, cascade): (
            &str,
            &str,
            Option<&[u8]>,
            Option<JsonB>,
            bool,
        ) = match op {
            Op::Load {
                name,
                bytes,
                options,
            } => (
                "load",
                name,
                Some(bytes),
                Some(JsonB(options.clone())),
                false,
            ),
            Op::Replace {
                name,
                bytes,
                options,
            } => (
                "replace",
                name,
                Some(bytes),
                options.cloned().map(JsonB),
                false,
            ),
            Op::Unload { name, cascade } => ("unload", name, None, None, cascade),
            Op::Configure { name, options } => {
                ("configure", name, None, Some(JsonB(options.clone())), false)
            }
        };
        let origin = Spi::get_one::<i32>("SELECT groupid FROM pg_catalog.pg_dist_local_group")?;
        // INSERT ... VALUES: Citus sends it as is and relays a node's error
        // with its SQLSTATE (an INSERT ... SELECT goes through COPY, whose
        // errors all become XX000).
        Ok(Spi::run_with_args(
            "INSERT INTO wasm.citus_op (origin, caller, op, name, bytes, options, cascade_drop)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                origin.into(),
                caller.into(),
                kind.into(),
                name.into(),
                bytes.into(),
                options.into(),
                cascade.into(),
            ],
        )?)
    })
}

/// Citus installed in this database, and this node its coordinator.
fn coordinator() -> Result<bool> {
    Ok(role()? == Some(true))
}

/// `None` without Citus in this database; otherwise whether this node is
/// the coordinator.
fn role() -> Result<Option<bool>> {
    pinned(|| {
        let citus = Spi::get_one::<bool>(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus')",
        )?
        .unwrap_or(false);
        if !citus {
            return Ok(None);
        }
        Ok(Some(
            Spi::get_one::<bool>("SELECT pg_catalog.citus_is_coordinator()")?.unwrap_or(false),
        ))
    })
}

/// Called when a function names a module this node does not have. On a
/// Citus worker added after the module was loaded that is expected:
/// `citus_add_node` gives it the functions but not the modules. Catches
/// this node up from the op log and says whether the caller should look
/// again. The catch-up runs in a transaction of its own,
/// on a loopback connection Citus opens (`master_run_on_worker`): the
/// task backends of one distributed query each miss at once and must not
/// wait for each other's uncommitted rows (they would wait for the
/// coordinator, which waits for them); `wasm.citus_catch_up()` takes a
/// lock, so concurrent catch-ups run one after the other.
pub fn catch_up_on_miss(module: &str) -> Result<bool> {
    // A parallel worker can neither connect nor see what the catch-up
    // wrote; its leader, which resolves the function first, does it.
    // SAFETY: reads backend state.
    if unsafe { pg_sys::IsInParallelMode() } || APPLYING.with(|a| a.get()) {
        return Ok(false);
    }
    if role()? != Some(false) {
        return Ok(false);
    }
    catalog::as_catalog_owner(|| {
        let log =
            Spi::get_one::<bool>("SELECT pg_catalog.to_regclass('wasm.citus_op') IS NOT NULL")?
                .unwrap_or(false);
        if !log {
            return Ok(false);
        }
        // As the catalog owner: the loopback connection logs in as the
        // current user, and only the owner may catch up.
        let (success, result) = Spi::connect(|client| {
            let row = client
                .select(
                    "SELECT r.success, r.result
                       FROM pg_catalog.pg_dist_node n,
                            LATERAL pg_catalog.master_run_on_worker(
                              ARRAY[n.nodename], ARRAY[n.nodeport],
                              ARRAY['SELECT wasm.citus_catch_up()'], false) r
                      WHERE n.groupid OPERATOR(pg_catalog.=)
                              (SELECT groupid FROM pg_catalog.pg_dist_local_group)
                        AND n.noderole OPERATOR(pg_catalog.=) 'primary'
                      LIMIT 1",
                    None,
                    &[],
                )?
                .next();
            Ok::<_, pgrx::spi::Error>(match row {
                Some(r) => (
                    r.get::<bool>(1)?.unwrap_or(false),
                    r.get::<String>(2)?.unwrap_or_default(),
                ),
                None => (false, "this node is not in pg_dist_node".into()),
            })
        })?;
        if !success {
            return Err(PgWasmError::Internal(format!(
                "wasm module \"{module}\" does not exist on this Citus worker, and catching up from the op log wasm.citus_op failed: {result}"
            )));
        }
        // Look again even when this catch-up changed nothing: a concurrent
        // one (another task backend's) may have added the module first.
        Ok(true)
    })
}

/// Creates the op log the first time a coordinator needs it: a reference
/// table (on every node) with the trigger that applies its rows.
fn ensure_log() -> Result<()> {
    let exists =
        Spi::get_one::<bool>("SELECT pg_catalog.to_regclass('wasm.citus_op') IS NOT NULL")?
            .unwrap_or(false);
    if exists {
        return Ok(());
    }
    Spi::run(
        "CREATE TABLE wasm.citus_op (
           id bigserial PRIMARY KEY,
           origin integer NOT NULL,
           caller text NOT NULL,
           op text NOT NULL CHECK (op IN ('load', 'replace', 'unload', 'configure')),
           name text NOT NULL,
           bytes bytea,
           options jsonb,
           cascade_drop boolean NOT NULL DEFAULT false,
           at timestamptz NOT NULL DEFAULT pg_catalog.now())",
    )?;
    Spi::run("REVOKE ALL ON wasm.citus_op FROM PUBLIC")?;
    Spi::run("SELECT pg_catalog.create_reference_table('wasm.citus_op')")?;
    // Citus asks for this to put a trigger on a distributed table; the
    // trigger only calls pg_wasm on the node it fires on.
    Spi::run("SELECT pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true)")?;
    Spi::run(
        "CREATE TRIGGER apply AFTER INSERT ON wasm.citus_op
           FOR EACH ROW EXECUTE FUNCTION wasm.citus_apply()",
    )?;
    Ok(())
}
