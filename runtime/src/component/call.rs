//! Calling a component's exports with dynamic values ([`Val`]): imports
//! resolved once per component ([`PreparedComponent`]), a fresh instance
//! per call site ([`ComponentInstance`]), fuel and deadline reset per call
//! exactly as for core modules.

use super::sandbox::{linker, ComponentState};
use super::wit::ComponentExport;
use crate::error::{classify, RuntimeError};
use crate::host::Host;
use crate::instance::epoch_check;
use crate::limits::{Limits, StoreLimiter};
use crate::ticker;
use std::mem::ManuallyDrop;
use wasmtime::component::{Component, ComponentExportIndex, Func, InstancePre, Val};
use wasmtime::{Engine, Store};

/// A component with its WASI imports resolved, once per component per
/// backend.
pub struct PreparedComponent<H: Host + Send + 'static> {
    pre: InstancePre<ComponentState<H>>,
    component: Component,
}

impl<H: Host + Send + 'static> PreparedComponent<H> {
    pub fn new(engine: &Engine, component: &Component) -> Result<Self, RuntimeError> {
        let linker = linker::<H>(engine)?;
        let pre = linker.instantiate_pre(component).map_err(classify)?;
        Ok(PreparedComponent {
            pre,
            component: component.clone(),
        })
    }

    /// Where `export` is in the component, resolved once per call site.
    pub fn export_index(
        &self,
        export: &ComponentExport,
    ) -> Result<ComponentExportIndex, RuntimeError> {
        let missing = || RuntimeError::MissingExport(export.name());
        let parent = match &export.interface {
            Some(i) => Some(
                self.component
                    .get_export_index(None, i)
                    .ok_or_else(missing)?,
            ),
            None => None,
        };
        self.component
            .get_export_index(parent.as_ref(), &export.func)
            .ok_or_else(missing)
    }

    /// A new store and an instance in it; on an error the host comes back
    /// when the store got that far.
    fn store_and_instance(
        &self,
        engine: &Engine,
        limits: Limits,
        host: H,
    ) -> crate::recycle::Made<(Store<ComponentState<H>>, wasmtime::component::Instance), H> {
        let mut store = Store::new(
            engine,
            ComponentState::new(StoreLimiter::component(limits), host, ticker::last_tick()),
        );
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(|ctx| {
            let state = ctx.data();
            epoch_check(
                state.host.cancel_requested(),
                state.limiter.limits.timeout_ms,
                state.started,
            )
        });
        store.set_epoch_deadline(1);
        if let Err(e) = store.set_fuel(limits.call_fuel()) {
            return Err((RuntimeError::Engine(e.to_string()), None));
        }
        match self.pre.instantiate(&mut store) {
            Ok(instance) => Ok((store, instance)),
            Err(e) => Err((classify(e), store.into_data().into_host())),
        }
    }

    /// A fresh instance under `limits`. Instantiation (a language
    /// runtime's start-up) runs under the call's fuel and deadline.
    pub fn instantiate(
        &self,
        engine: &Engine,
        limits: Limits,
        host: H,
    ) -> Result<ComponentInstance<H>, RuntimeError> {
        crate::reaper::wait_idle();
        let (store, instance) = crate::recycle::unless_pool_full(
            self.store_and_instance(engine, limits, host),
            |host| self.store_and_instance(engine, limits, host),
        )?;
        Ok(ComponentInstance {
            store: ManuallyDrop::new(store),
            instance,
            last_fuel: 0,
        })
    }
}

/// One instance of a component, called many times (one call site, one
/// statement: SPEC §7's isolation holds as for core modules).
pub struct ComponentInstance<H: Host + Send + 'static> {
    /// Taken out once, by `drop` (to the reaper or dropped in place).
    store: ManuallyDrop<Store<ComponentState<H>>>,
    instance: wasmtime::component::Instance,
    last_fuel: u64,
}

impl<H: Host + Send + 'static> ComponentInstance<H> {
    /// The export at `index` as a callable function.
    pub fn func(&mut self, index: &ComponentExportIndex) -> Result<Func, RuntimeError> {
        self.instance
            .get_func(&mut *self.store, index)
            .ok_or_else(|| RuntimeError::MissingExport("(component export)".into()))
    }

    /// Calls `func` with `args`; `results` must have room for its results
    /// (0 or 1). Returns the fuel used.
    pub fn call(
        &mut self,
        func: &Func,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<u64, RuntimeError> {
        let fuel = self.store.data().limiter.limits.call_fuel();
        let _ = self.store.set_fuel(fuel);
        self.store.data_mut().calls += 1;
        if self.store.data().limiter.limits.timeout_ms > 0 {
            self.store.data_mut().started = ticker::last_tick();
        }
        let result = func.call(&mut *self.store, args, results);
        let used = fuel - self.store.get_fuel().unwrap_or(0);
        self.last_fuel = used;
        result.map(|()| used).map_err(classify)
    }

    /// The most host memory, in bytes, one lift from this instance may
    /// build: a call's result, or the arguments of one of its host calls.
    /// wasmtime counts `size_of::<Val>()` per list element and record
    /// field plus the bytes of strings and names; over it, the call fails
    /// with [`TrapKind::ResultTooLarge`](crate::TrapKind) and what was
    /// built is freed.
    pub fn set_result_budget(&mut self, bytes: usize) {
        self.store.set_hostcall_fuel(bytes);
    }

    /// Fuel used by the last call, whether it succeeded or not.
    pub fn last_fuel(&self) -> u64 {
        self.last_fuel
    }

    /// What the guest wrote to stdout and stderr since the last time.
    pub fn take_output(&mut self) -> Vec<(&'static str, super::StreamOutput)> {
        self.store.data_mut().take_output()
    }

    /// How many calls this instance has begun (the number the host's
    /// `log` sees for the call in progress or just ended).
    pub fn calls(&self) -> u64 {
        self.store.data().calls
    }

    pub fn host_mut(&mut self) -> &mut H {
        &mut self.store.data_mut().host
    }
}

impl<H: Host + Send + 'static> Drop for ComponentInstance<H> {
    /// Drops the host here and hands the store (the reset of its core
    /// instances' slots, its teardown) to the reaper when it puts drops off.
    fn drop(&mut self) {
        // SAFETY: `store` is taken exactly once, here, and `self` is not
        // used after `drop`.
        let mut store = unsafe { ManuallyDrop::take(&mut self.store) };
        // A component always has a memory (a slot to reset).
        if crate::reaper::defers(true) {
            store.data_mut().drop_host();
            crate::reaper::retire(Box::new(store));
        }
    }
}
