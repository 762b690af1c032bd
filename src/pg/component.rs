//! Components in a backend (SPEC §10): which modules are components, and
//! each one compiled (or mapped from its stored artifact) once per
//! generation, with its WASI imports resolved.

use super::artifacts;
use super::cache;
use super::host::PgHost;
use crate::catalog::{self, ModuleMeta};
use crate::error::{PgWasmError, Result, RuntimeContext};
use pg_wasm_runtime::component::{
    describe_component, is_component, name_records_from_wit, Component, ComponentInfo,
    PreparedComponent,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A component as this backend runs it.
pub struct LoadedComponent {
    pub meta: ModuleMeta,
    pub info: ComponentInfo,
    pub prepared: PreparedComponent<PgHost>,
}

thread_local! {
    static COMPONENTS: RefCell<HashMap<String, Rc<LoadedComponent>>> = RefCell::new(HashMap::new());
    /// Module name → (cache epoch when checked, generation, is a component).
    static KINDS: RefCell<HashMap<String, (u64, bool)>> = RefCell::new(HashMap::new());
}

/// Whether module `name` is a component, from the first bytes of its code
/// ([`catalog::header`]), remembered until a module changes. `false` for a
/// module that does not exist.
pub fn is_component_module(name: &str) -> Result<bool> {
    let epoch = cache::epoch();
    if let Some((at, kind)) = KINDS.with(|k| k.borrow().get(name).copied()) {
        if at == epoch && at != 0 {
            return Ok(kind);
        }
    }
    // The latest snapshot, as the module cache reads the row (`cache::module`):
    // a module loaded earlier in this statement's transaction is seen.
    // SAFETY: reads backend state.
    let parallel = unsafe { pgrx::pg_sys::IsInParallelMode() };
    let header = {
        let _snapshot = (!parallel).then(cache::LatestSnapshot::push);
        catalog::header(name)?
    };
    let kind = header.as_deref().is_some_and(is_component);
    KINDS.with(|k| k.borrow_mut().insert(name.to_string(), (epoch, kind)));
    Ok(kind)
}

/// The component `name`, compiled or mapped once per generation, and its
/// metadata as the catalog has it now (`wasm.configure` changes the
/// settings without a new generation).
pub fn loaded(name: &str) -> Result<(Rc<LoadedComponent>, ModuleMeta)> {
    let meta = catalog::find(name)?.ok_or_else(|| PgWasmError::UnknownModule(name.into()))?;
    if let Some(c) = COMPONENTS.with(|c| c.borrow().get(name).cloned()) {
        if c.meta.generation == meta.generation {
            return Ok((c, meta));
        }
    }
    let engine = cache::engine()?;
    let component = artifacts::module_for(engine, &meta, || {
        let (_, bytes) =
            catalog::code(name)?.ok_or_else(|| PgWasmError::UnknownModule(name.into()))?;
        cache::compile_component(name, &bytes)
    })?;
    Ok((prime(meta.clone(), &component)?, meta))
}

/// Keeps a component just compiled by `wasm.load` or `wasm.replace`.
pub fn prime(meta: ModuleMeta, component: &Component) -> Result<Rc<LoadedComponent>> {
    let engine = cache::engine()?;
    let mut info = describe_component(engine, component);
    // Records by their WIT names (as the load recorded them), so that
    // CREATE FUNCTION's errors name `tier`, not its fields.
    let records = catalog::record_wits(&meta.name)?;
    name_records_from_wit(&mut info, records.iter().map(String::as_str));
    let prepared = PreparedComponent::new(engine, component).in_module(&meta.name)?;
    let name = meta.name.clone();
    let loaded = Rc::new(LoadedComponent {
        meta,
        info,
        prepared,
    });
    COMPONENTS.with(|c| c.borrow_mut().insert(name, loaded.clone()));
    Ok(loaded)
}

/// Forgets what this backend keeps of `name` (after an unload).
pub fn forget(name: &str) {
    COMPONENTS.with(|c| c.borrow_mut().remove(name));
    KINDS.with(|k| k.borrow_mut().remove(name));
}
