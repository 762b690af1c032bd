//! `wasm.citus_apply()`: the trigger of the Citus op log (`pg::citus`).
//! It fires on every node's copy of a logged change, inside the
//! coordinator's distributed transaction, and applies the change to this
//! node's modules as the role that made it — with that role's privileges
//! checked here as they were on the coordinator. Functions are not created
//! here: Citus propagates the coordinator's CREATE FUNCTION itself.

use super::modules;
use crate::error::{PgWasmError, Result};
use crate::pg::citus;
use crate::pg::search_path::pinned;
use pgrx::prelude::*;
use pgrx::JsonB;

#[pg_trigger(sql = r#"
CREATE FUNCTION wasm.citus_apply() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'citus_apply_wrapper';
COMMENT ON FUNCTION wasm.citus_apply() IS
  'Trigger of the Citus op log wasm.citus_op: applies a module change made on the coordinator to this node.';
"#)]
fn citus_apply<'a>(
    trigger: &'a PgTrigger<'a>,
) -> std::result::Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgHeapTupleError> {
    let Some(row) = trigger.new() else {
        return Ok(None);
    };
    if let Err(e) = apply(&row) {
        e.raise()
    }
    Ok(None)
}

/// A column of the log's new row (the error names it).
macro_rules! column {
    ($row:expr, $name:literal, $t:ty) => {
        $row.get_by_name::<$t>($name)
            .map_err(|e| PgWasmError::Internal(format!("wasm.citus_op.{}: {e}", $name)))?
    };
}

fn apply(row: &PgHeapTuple<'_, AllocatedByPostgres>) -> Result<()> {
    let origin = column!(row, "origin", i32).unwrap_or(-1);
    let local =
        pinned(|| Spi::get_one::<i32>("SELECT groupid FROM pg_catalog.pg_dist_local_group"))?
            .unwrap_or(-2);
    if origin == local {
        // The node that made the change has it already.
        return Ok(());
    }
    let op = column!(row, "op", String).unwrap_or_default();
    let name = column!(row, "name", String).unwrap_or_default();
    let caller = column!(row, "caller", String).unwrap_or_default();
    let bytes = column!(row, "bytes", &[u8]);
    let options = column!(row, "options", JsonB);
    let cascade = column!(row, "cascade_drop", bool).unwrap_or(false);
    as_role(&caller, || {
        citus::applying(|| match op.as_str() {
            "load" => modules::load_inner(
                &name,
                bytes.unwrap_or_default(),
                &without_functions(options.as_ref().map(|j| &j.0)),
            )
            .map(|_| ()),
            "replace" => modules::replace_inner(
                &name,
                bytes.unwrap_or_default(),
                options
                    .as_ref()
                    .map(|j| without_functions(Some(&j.0)))
                    .as_ref(),
            )
            .map(|_| ()),
            "unload" => modules::unload_inner(&name, cascade),
            "configure" => modules::configure_inner(
                &name,
                &options
                    .map(|j| j.0)
                    .unwrap_or_else(|| serde_json::json!({})),
            )
            .map(|_| ()),
            other => Err(PgWasmError::Internal(format!(
                "wasm.citus_op: unknown op \"{other}\""
            ))),
        })
    })
}

/// Runs `f` as `role`, found by name: role OIDs differ between nodes.
fn as_role<T>(role: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let oid = pinned(|| {
        Spi::get_one_with_args::<pg_sys::Oid>(
            "SELECT oid FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) $1",
            &[role.into()],
        )
    })?
    .ok_or_else(|| {
        PgWasmError::Internal(format!(
            "wasm.citus_op: role \"{role}\" does not exist on this node"
        ))
    })?;
    crate::catalog::as_user(oid, 0, f)
}

/// A logged load's or replace's options for another node: functions come
/// through Citus's own DDL propagation, so none are created there.
fn without_functions(options: Option<&serde_json::Value>) -> serde_json::Value {
    let mut o = options.cloned().unwrap_or_else(|| serde_json::json!({}));
    if let Some(obj) = o.as_object_mut() {
        obj.insert("functions".into(), "none".into());
    }
    o
}

/// The advisory lock key of `catch_up` ("wasmcatc").
const CATCH_UP_LOCK: i64 = 0x7761_736d_6361_7463;

/// One logged op, as catch-up reads it back.
struct Logged {
    id: i64,
    op: String,
    caller: String,
    bytes: Option<Vec<u8>>,
    options: Option<serde_json::Value>,
}

fn logged(name: &str) -> Result<Vec<Logged>> {
    pinned(|| {
        Spi::connect(|client| {
            let rows = client.select(
                "SELECT id, op, caller, bytes, options FROM wasm.citus_op
                  WHERE name OPERATOR(pg_catalog.=) $1 ORDER BY id",
                None,
                &[name.into()],
            )?;
            let mut out = Vec::new();
            for r in rows {
                out.push(Logged {
                    id: r.get::<i64>(1)?.unwrap_or_default(),
                    op: r.get::<String>(2)?.unwrap_or_default(),
                    caller: r.get::<String>(3)?.unwrap_or_default(),
                    bytes: r.get::<Vec<u8>>(4)?,
                    options: r.get::<JsonB>(5)?.map(|j| j.0),
                });
            }
            Ok::<_, pgrx::spi::Error>(out)
        })
    })
    .map_err(Into::into)
}

/// Brings this node's modules to what the op log says: for each module,
/// the code of its last load or replace (or none after an unload), with
/// the settings of every configure since its load. Idempotent; returns how
/// many modules changed. A node added with `citus_add_node` gets the
/// functions but not the modules: it runs this the first time one of its
/// functions misses its module (`pg::citus::catch_up_on_miss`), and
/// `wasm.citus_sync()` runs it on every worker at once.
fn catch_up() -> Result<i64> {
    // One catch-up at a time on this node (a worker's task backends may
    // start several at once, see `pg::citus::catch_up_on_miss`); each
    // then reads what the one before it committed.
    pinned(|| {
        Spi::run(&format!(
            "SELECT pg_catalog.pg_advisory_xact_lock({CATCH_UP_LOCK})"
        ))
    })?;
    let _snapshot = crate::pg::cache::LatestSnapshot::push();
    let names: Vec<String> = pinned(|| {
        Spi::connect(|client| {
            client
                .select(
                    "SELECT DISTINCT name FROM wasm.citus_op ORDER BY 1",
                    None,
                    &[],
                )?
                .map(|r| r.get::<String>(1).map(|n| n.unwrap_or_default()))
                .collect::<std::result::Result<Vec<_>, _>>()
        })
    })?;
    let mut changed = 0;
    for name in names {
        let log = logged(&name)?;
        let Some(code) = log
            .iter()
            .rfind(|l| matches!(l.op.as_str(), "load" | "replace" | "unload"))
        else {
            continue;
        };
        let local = crate::catalog::find(&name)?;
        let did = citus::applying(|| -> Result<bool> {
            if code.op == "unload" {
                if local.is_none() {
                    return Ok(false);
                }
                as_role(&code.caller, || modules::unload_inner(&name, false))?;
                return Ok(true);
            }
            let bytes = code.bytes.as_deref().unwrap_or_default();
            let load = log
                .iter()
                .rfind(|l| l.op == "load" && l.id <= code.id)
                .unwrap_or(code);
            let mut did = false;
            match &local {
                None => {
                    let mut options = load
                        .options
                        .clone()
                        .unwrap_or_else(|| serde_json::json!({}));
                    if let Some(o) = options.as_object_mut() {
                        o.insert("functions".into(), "none".into());
                    }
                    as_role(&code.caller, || modules::load_inner(&name, bytes, &options))?;
                    did = true;
                }
                Some(meta) if meta.sha256 != pg_wasm_runtime::sha256(bytes) => {
                    as_role(&code.caller, || modules::replace_inner(&name, bytes, None))?;
                    did = true;
                }
                Some(_) => {}
            }
            for c in log.iter().filter(|l| l.op == "configure" && l.id > load.id) {
                let options = c.options.clone().unwrap_or_else(|| serde_json::json!({}));
                as_role(&c.caller, || modules::configure_inner(&name, &options))?;
            }
            Ok(did)
        })?;
        changed += i64::from(did);
    }
    Ok(changed)
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.citus_catch_up() RETURNS bigint VOLATILE
SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.citus_catch_up() IS
  'Citus: bring this node''s modules to what the op log wasm.citus_op says; returns how many changed.';
REVOKE EXECUTE ON FUNCTION wasm.citus_catch_up() FROM PUBLIC;
"#)]
fn citus_catch_up() -> i64 {
    catch_up().unwrap_or_else(|e| e.raise())
}

#[pg_extern(sql = r#"
CREATE FUNCTION wasm.citus_sync() RETURNS bigint VOLATILE
SET search_path = pg_catalog, pg_temp LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION wasm.citus_sync() IS
  'Citus, on the coordinator after citus_add_node: give every worker the modules of the op log. Returns how many modules changed on the workers.';
REVOKE EXECUTE ON FUNCTION wasm.citus_sync() FROM PUBLIC;
"#)]
fn citus_sync() -> i64 {
    sync().unwrap_or_else(|e| e.raise())
}

fn sync() -> Result<i64> {
    let results: Vec<(String, i32, bool, String)> = pinned(|| {
        Spi::connect(|client| {
            client
                .select(
                    "SELECT nodename::text, nodeport, success, result
                       FROM pg_catalog.run_command_on_workers('SELECT wasm.citus_catch_up()')",
                    None,
                    &[],
                )?
                .map(|r| {
                    Ok((
                        r.get::<String>(1)?.unwrap_or_default(),
                        r.get::<i32>(2)?.unwrap_or_default(),
                        r.get::<bool>(3)?.unwrap_or(false),
                        r.get::<String>(4)?.unwrap_or_default(),
                    ))
                })
                .collect::<std::result::Result<Vec<_>, pgrx::spi::Error>>()
        })
    })?;
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.2)
        .map(|(host, port, _, msg)| format!("{host}:{port}: {msg}"))
        .collect();
    if !failed.is_empty() {
        return Err(PgWasmError::Internal(format!(
            "wasm.citus_sync: catching up failed on {}",
            failed.join("; ")
        )));
    }
    Ok(results
        .iter()
        .map(|r| r.3.parse::<i64>().unwrap_or(0))
        .sum())
}
