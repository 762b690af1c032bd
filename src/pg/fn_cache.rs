//! What a backend keeps of each wasm function it has called, so that a
//! statement's first call of it resolves nothing again: the pg_proc row
//! parsed, the module found and its export checked against the SQL
//! signature (or a component's WIT signature), ready to instantiate.
//!
//! An entry is used while three things hold, checked once per call site:
//! - the function's pg_proc row is the same version (its xmin and TID, as
//!   PL/pgSQL checks; read from the syscache, no catalog scan), so CREATE OR
//!   REPLACE, ALTER FUNCTION ... OWNER TO or a drop and re-create is seen;
//! - no module changed since ([`cache::epoch`], bumped by the invalidation
//!   every writer of `wasm.module` sends: load, replace, unload, configure),
//!   and no relation either ([`cache::relations_epoch`]: a component's
//!   signature check reads composite types' columns, and ALTER TYPE sends
//!   no pg_proc change);
//! - the function's owner may still use the module (role memberships can
//!   change without either: checked again each time, a cached lookup).
//!
//! The call site's own state (instance, fuel, plans) is never shared: each
//! statement still gets a fresh instance.

use super::body::Body;
use super::cache;
use super::component;
use super::component_site::{self, Bound};
use super::function::{FunctionDef, Resolved};
use super::javascript::{self, JsResolved};
use crate::error::{PgWasmError, Result};
use pgrx::pg_sys;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Functions remembered per backend; past it the table starts over (an
/// entry is small, but it keeps its module's code alive).
const MAX_ENTRIES: usize = 1024;

/// A wasm function resolved against its module.
pub struct Entry {
    /// The pg_proc row version this was made from.
    xmin: pg_sys::TransactionId,
    tid: (u32, u16),
    /// [`cache::epoch`] when it was made.
    pub epoch: u64,
    pub def: FunctionDef,
    pub target: Target,
}

/// What the function runs.
pub enum Target {
    /// An export of a core module (or an inline body).
    Core(Resolved),
    /// An export of a component.
    Component(Bound),
    /// A function of `LANGUAGE javascript`.
    JavaScript(JsResolved),
}

/// The entries, all made under one module epoch and one relations epoch:
/// when a module changes they all go (so none keeps replaced code alive).
#[derive(Default)]
struct Functions {
    epochs: (u64, u64),
    entries: HashMap<pg_sys::Oid, Rc<Entry>>,
}

thread_local! {
    static FUNCTIONS: RefCell<Functions> = RefCell::new(Functions::default());
}

/// The version of a function's pg_proc row: its raw xmin and its TID.
fn row_version(fn_oid: pg_sys::Oid) -> Result<(pg_sys::TransactionId, (u32, u16))> {
    // SAFETY: a syscache lookup by OID; the tuple is released before
    // returning and only its header is read.
    unsafe {
        let tuple = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::PROCOID as _,
            pg_sys::Datum::from(fn_oid),
        );
        if tuple.is_null() {
            return Err(PgWasmError::Internal(format!(
                "function {fn_oid:?} not found"
            )));
        }
        let xmin = (*(*tuple).t_data).t_choice.t_heap.t_xmin;
        let t = (*tuple).t_self;
        let block = (u32::from(t.ip_blkid.bi_hi) << 16) | u32::from(t.ip_blkid.bi_lo);
        let version = (xmin, (block, t.ip_posid));
        pg_sys::ReleaseSysCache(tuple);
        Ok(version)
    }
}

/// The function `fn_oid`, resolved now or earlier in this backend.
pub fn lookup(fn_oid: pg_sys::Oid) -> Result<Rc<Entry>> {
    // Inside a transaction block PostgreSQL reads the invalidation queue
    // only when it takes a lock: a replace committed meanwhile, or a new
    // version of the function, must be seen by this statement.
    // SAFETY: plain call, safe at any point inside a transaction.
    unsafe { pg_sys::AcceptInvalidationMessages() };
    cache::watch()?;
    let epoch = cache::epoch();
    let epochs = (epoch, cache::relations_epoch());
    let (xmin, tid) = row_version(fn_oid)?;
    let known = FUNCTIONS.with(|f| {
        let mut f = f.borrow_mut();
        if f.epochs != epochs {
            f.entries.clear();
            f.epochs = epochs;
        }
        f.entries.get(&fn_oid).cloned()
    });
    if let Some(entry) = known {
        if entry.xmin == xmin && entry.tid == tid {
            entry.check_owner()?;
            return Ok(entry);
        }
    }
    let def = FunctionDef::load(fn_oid)?;
    let target = match (&def.body, component_export(&def)?) {
        (Body::JavaScript(body), _) => Target::JavaScript(javascript::resolve(&def, body)?),
        (Body::Python(body), _) => Target::JavaScript(super::python::resolve(&def, body)?),
        (_, Some((module, export))) => {
            Target::Component(component_site::bind(&def, module, export)?)
        }
        (_, None) => Target::Core(def.resolve(false)?),
    };
    let entry = Rc::new(Entry {
        xmin,
        tid,
        epoch,
        def,
        target,
    });
    // In parallel mode the module cache cannot check the catalog with a
    // new snapshot (see cache::module): such a resolution is used once.
    // SAFETY: reads backend state.
    if !unsafe { pg_sys::IsInParallelMode() } {
        FUNCTIONS.with(|f| {
            let mut f = f.borrow_mut();
            // Resolving may have processed invalidations: only an entry
            // made under the table's epochs goes in.
            if f.epochs != epochs || (cache::epoch(), cache::relations_epoch()) != epochs {
                return;
            }
            if f.entries.len() >= MAX_ENTRIES {
                f.entries.clear();
            }
            f.entries.insert(fn_oid, entry.clone());
        });
    }
    Ok(entry)
}

/// Forgets every function (the module cache dropped code they may hold).
pub fn clear() {
    FUNCTIONS.with(|f| f.borrow_mut().entries.clear());
}

impl Entry {
    fn check_owner(&self) -> Result<()> {
        let meta = match &self.target {
            Target::Core(r) => r.module_meta.as_ref(),
            Target::Component(b) => Some(&b.meta),
            Target::JavaScript(_) => None,
        };
        match meta {
            Some(meta) => self.def.check_module_owner(meta),
            None => Ok(()),
        }
    }
}

/// The module and export of `def` when the module is a component.
pub fn component_export(def: &FunctionDef) -> Result<Option<(&str, &str)>> {
    match &def.body {
        Body::Export { module, export } if component::is_component_module(module)? => {
            Ok(Some((module.as_str(), export.as_str())))
        }
        _ => Ok(None),
    }
}
