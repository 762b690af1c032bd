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
    // Functions come through Citus's own DDL propagation.
    let without_functions = |o: Option<&serde_json::Value>| {
        let mut o = o.cloned().unwrap_or_else(|| serde_json::json!({}));
        if let Some(obj) = o.as_object_mut() {
            obj.insert("functions".into(), "none".into());
        }
        o
    };
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

/// Runs `f` as `role` (by name: OIDs differ between nodes), as SECURITY
/// DEFINER functions switch roles.
fn as_role<T>(role: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    struct Restore(pg_sys::Oid, i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: restores the values read by GetUserIdAndSecContext.
            unsafe { pg_sys::SetUserIdAndSecContext(self.0, self.1) }
        }
    }
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
    let mut user = pg_sys::InvalidOid;
    let mut context = 0i32;
    // SAFETY: out-parameters are valid locals; switching the user with
    // SECURITY_LOCAL_USERID_CHANGE is what SECURITY DEFINER functions do.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(oid, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32);
    }
    let _restore = Restore(user, context);
    f()
}
