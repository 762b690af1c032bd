use crate::error::{classify, RuntimeError};
use crate::limits::{Limits, StoreLimiter};
use crate::types::FuncSig;
use wasmtime::{Engine, Func, Linker, Module, Store, ValRaw};

/// One instantiated module bound to one export, ready to be called many times.
///
/// The extension keeps one per call site (FmgrInfo) so that a warm call is a
/// fuel reset plus the Wasm call itself; nothing here allocates per call.
pub struct Instance {
    store: Store<StoreLimiter>,
    func: Func,
    sig: FuncSig,
    slots: usize,
    last_fuel: u64,
}

impl Instance {
    /// Instantiates `module` under `limits` and resolves `export`.
    ///
    /// Instantiation runs the module's start function with the call's fuel, so
    /// a start function that loops or grows memory is stopped like a call.
    pub fn new(
        engine: &Engine,
        module: &Module,
        export: &str,
        limits: Limits,
    ) -> Result<Self, RuntimeError> {
        let mut store = Store::new(engine, StoreLimiter { limits });
        store.limiter(|state| state);
        store
            .set_fuel(limits.call_fuel())
            .map_err(|e| RuntimeError::Engine(e.to_string()))?;
        let linker: Linker<StoreLimiter> = Linker::new(engine);
        let instance = linker.instantiate(&mut store, module).map_err(classify)?;
        let func = instance
            .get_func(&mut store, export)
            .ok_or_else(|| RuntimeError::MissingExport(export.to_string()))?;
        let sig = FuncSig::from_func_type(&func.ty(&store)).ok_or_else(|| {
            RuntimeError::InvalidModule(format!(
                "export \"{export}\" uses a type other than i32, i64, f32 or f64"
            ))
        })?;
        let slots = sig.params.len().max(sig.results.len());
        Ok(Instance {
            store,
            func,
            sig,
            slots,
            last_fuel: 0,
        })
    }

    pub fn sig(&self) -> &FuncSig {
        &self.sig
    }

    /// Number of [`ValRaw`] slots [`Instance::call`] needs: room for the
    /// parameters going in and the results coming out.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Calls the export. `buf` holds the parameters in order (as the types of
    /// [`Instance::sig`]) and receives the results. Returns the fuel used;
    /// [`Instance::last_fuel`] has it also when the call failed.
    #[inline]
    pub fn call(&mut self, buf: &mut [ValRaw]) -> Result<u64, RuntimeError> {
        assert!(buf.len() >= self.slots, "argument buffer too small");
        let fuel = self.store.data().limits.call_fuel();
        // Fuel is always enabled by `new_engine`, so this cannot fail.
        let _ = self.store.set_fuel(fuel);
        // SAFETY: `buf` is at least `slots` long (checked above), which covers
        // every parameter and result. The signature contains only numeric
        // types (FuncSig::from_func_type refuses references and v128), and any
        // bit pattern is a valid i32/i64/f32/f64, so whatever the caller wrote
        // is a well-typed argument. The store owns `func`.
        let result = unsafe {
            self.func
                .call_unchecked(&mut self.store, buf as *mut [ValRaw])
        };
        let used = fuel - self.store.get_fuel().unwrap_or(0);
        self.last_fuel = used;
        result.map(|()| used).map_err(classify)
    }

    /// Fuel used by the last call, whether it succeeded or not.
    pub fn last_fuel(&self) -> u64 {
        self.last_fuel
    }
}
