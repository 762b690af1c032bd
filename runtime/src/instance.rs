use crate::error::{classify, Cancelled, RuntimeError, TimedOut};
use crate::guest_memory::{checked_range, ALLOC_EXPORT, FREE_EXPORT, MEMORY_EXPORT};
use crate::host::{self, Host};
use crate::limits::{Limits, StoreLimiter};
use crate::ticker::{self, TICK};
use crate::types::FuncSig;
use std::any::TypeId;
use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use wasmtime::{
    Engine, Extern, ExternType, Func, InstancePre, Linker, Memory, Module, ModuleExport, Store,
    TypedFunc, UpdateDeadline, ValRaw, ValType, WasmParams, WasmResults,
};

const TICK_NANOS: u64 = TICK.as_nanos() as u64;

/// A module with its imports resolved against the host API, once per module
/// per backend; each [`Instance::from_prepared`] then only creates a store
/// and instantiates, and finds its exports by index (looked up by name and
/// type-checked once here).
pub struct Prepared<H: Host> {
    pre: InstancePre<StoreState<H>>,
    /// The memory ABI's exports (SPEC §5), when present with their types.
    memory: Option<ModuleExport>,
    alloc: Option<ModuleExport>,
    free: Option<ModuleExport>,
    /// Exported functions called so far, with their signatures.
    funcs: RefCell<Vec<PreparedFunc>>,
    /// Names this module's finished instances kept for reuse
    /// ([`crate::recycle`]); unique in the process, never reused.
    id: u64,
    /// Whether its instances can be reset in place (until wasmtime says
    /// it cannot for this module).
    reuse: Arc<AtomicBool>,
    /// Which of pg_wasm's engines it is, if one (how it was linked).
    interpreter: Option<Interpreter>,
}

/// Numbers each [`Prepared`] for [`crate::recycle`].
static NEXT_PREPARED: AtomicU64 = AtomicU64::new(1);

impl<H: Host> Drop for Prepared<H> {
    /// Its kept instances go with it (a replaced module's are never taken).
    fn drop(&mut self) {
        crate::recycle::forget(self.id);
    }
}

/// An exported function's name, index and numeric signature.
type PreparedFunc = (Box<str>, ModuleExport, Arc<FuncSig>);

/// `name`'s index if the module exports it with a type `fits`.
fn export_where(
    module: &Module,
    name: &str,
    fits: impl FnOnce(&ExternType) -> bool,
) -> Option<ModuleExport> {
    module
        .get_export(name)
        .filter(|t| fits(t))
        .and_then(|_| module.get_export_index(name))
}

fn func_type_is(t: &ExternType, params: &[ValType], results: &[ValType]) -> bool {
    let same = |a: &mut dyn ExactSizeIterator<Item = ValType>, b: &[ValType]| {
        a.len() == b.len() && a.zip(b).all(|(x, y)| ValType::eq(&x, y))
    };
    matches!(t, ExternType::Func(f) if same(&mut f.params(), params) && same(&mut f.results(), results))
}

/// pg_wasm's own engines, which import more than a user's module may.
#[derive(Clone, Copy)]
enum Interpreter {
    JavaScript,
    Python,
}

impl Interpreter {
    /// Whether the engine's code never changes its funcref table
    /// (runtime/build.rs read the embedded module): then its instances keep
    /// the table between statements ([`Kept::reset_and_park`]). CPython
    /// calls through hundreds of its 4 058 function pointers a statement,
    /// and initializing an element again costs a search of the store's
    /// code each time.
    fn keeps_tables(&self) -> bool {
        match self {
            Interpreter::JavaScript => env!("PG_WASM_JS_ENGINE_WRITES_TABLES") == "0",
            Interpreter::Python => env!("PG_WASM_PY_ENGINE_WRITES_TABLES") == "0",
        }
    }
}

impl<H: Host> Prepared<H> {
    pub fn new(engine: &Engine, module: &Module) -> Result<Self, RuntimeError> {
        Self::linked(engine, module, None)
    }

    /// For pg_wasm's own JavaScript engine ([`crate::javascript`]): the host
    /// API and the clock and file stubs wasi-libc needs. Never for a user's
    /// module (those may import nothing but the host API).
    pub fn javascript(engine: &Engine, module: &Module) -> Result<Self, RuntimeError> {
        Self::linked(engine, module, Some(Interpreter::JavaScript))
    }

    /// For pg_wasm's own Python engine ([`crate::python`]): the host API
    /// and every WASI function it imports, answered without reaching
    /// anything. Never for a user's module.
    pub fn python(engine: &Engine, module: &Module) -> Result<Self, RuntimeError> {
        Self::linked(engine, module, Some(Interpreter::Python))
    }

    fn linked(
        engine: &Engine,
        module: &Module,
        interpreter: Option<Interpreter>,
    ) -> Result<Self, RuntimeError> {
        let mut linker: Linker<StoreState<H>> = Linker::new(engine);
        host::link(&mut linker).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let wasi = match interpreter {
            None => Ok(()),
            Some(Interpreter::JavaScript) => crate::javascript::link_wasi_stubs(&mut linker),
            Some(Interpreter::Python) => crate::python::link_wasi_stubs(&mut linker, module),
        };
        if interpreter.is_some() {
            wasi.and_then(|()| host::link_javascript(&mut linker))
                .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        }
        let pre = linker.instantiate_pre(module).map_err(classify)?;
        Ok(Prepared {
            memory: export_where(module, MEMORY_EXPORT, |t| {
                matches!(t, ExternType::Memory(_))
            }),
            alloc: export_where(module, ALLOC_EXPORT, |t| {
                func_type_is(t, &[ValType::I32], &[ValType::I32])
            }),
            free: export_where(module, FREE_EXPORT, |t| {
                func_type_is(t, &[ValType::I32, ValType::I32], &[])
            }),
            funcs: RefCell::new(Vec::new()),
            id: NEXT_PREPARED.fetch_add(1, Ordering::Relaxed),
            reuse: Arc::new(AtomicBool::new(true)),
            interpreter,
            pre,
        })
    }

    /// The module it instantiates.
    pub fn module(&self) -> &Module {
        self.pre.module()
    }

    /// This module with `inst`'s memory as it is now for an image
    /// ([`crate::function_image`]): the pages `inst` has written since it
    /// was made (or reset) laid over the module's image, linked the same
    /// way. `inst` must be an instance of this module whose calls since
    /// then changed nothing but memory contents; `None` when its memory
    /// has grown, or the module has no copy-on-write image to lay pages
    /// over. Once made, neither `inst` nor this module's other instances
    /// are kept for later statements any more (the image's instances
    /// take over; kept ones would hold slots and resident pages).
    pub fn with_memory_of(
        &self,
        engine: &Engine,
        inst: &mut Instance<H>,
    ) -> Result<Option<Self>, RuntimeError> {
        let module = self.pre.module();
        let Some(memory) = inst.core.memory else {
            return Ok(None);
        };
        let ty = memory.ty(&inst.core.store);
        let data = memory.data(&inst.core.store);
        if Some(data.len() as u64) != ty.minimum().checked_mul(ty.page_size()) {
            return Ok(None);
        }
        let pages = crate::function_image::written_pages(data)?;
        let engine_err = |e: wasmtime::Error| RuntimeError::Engine(format!("{e:#}"));
        let Some(layered) = module.with_memory_pages(&pages).map_err(engine_err)? else {
            return Ok(None);
        };
        let layered = Self::linked(engine, &layered, self.interpreter)?;
        inst.keep = false;
        crate::recycle::forget(self.id);
        Ok(Some(layered))
    }

    /// The exported function `name`: its index and numeric signature.
    fn func(&self, name: &str) -> Result<(ModuleExport, Arc<FuncSig>), RuntimeError> {
        if let Some((_, index, sig)) = self.funcs.borrow().iter().find(|(n, ..)| &**n == name) {
            return Ok((*index, sig.clone()));
        }
        let module = self.pre.module();
        let Some(ExternType::Func(ty)) = module.get_export(name) else {
            return Err(RuntimeError::MissingExport(name.to_string()));
        };
        let sig = FuncSig::from_func_type(&ty).ok_or_else(|| {
            RuntimeError::InvalidModule(format!(
                "export \"{name}\" uses a type other than i32, i64, f32 or f64"
            ))
        })?;
        let index = module
            .get_export_index(name)
            .ok_or_else(|| RuntimeError::MissingExport(name.to_string()))?;
        let sig = Arc::new(sig);
        self.funcs
            .borrow_mut()
            .push((name.into(), index, sig.clone()));
        Ok((index, sig))
    }
}

/// Everything a store carries: its limits, the embedding's host, and the
/// deadline of the call in progress.
pub struct StoreState<H> {
    pub(crate) limiter: StoreLimiter,
    /// Dropped by [`StoreState::drop_host`] when the store is retired to
    /// the reaper's thread, else with the state.
    pub(crate) host: ManuallyDrop<H>,
    host_dropped: bool,
    /// When the call in progress began, at most one [`crate::TICK`] early
    /// (see `ticker::last_tick`), while a timeout is set.
    started: u64,
    /// Counts SQL calls (one per [`Instance::call`] or first
    /// [`Instance::write_bytes`]): tells the host when a new call begins.
    pub(crate) calls: u64,
}

impl<H> StoreState<H> {
    pub(crate) fn new(limiter: StoreLimiter, host: H) -> Self {
        StoreState {
            limiter,
            host: ManuallyDrop::new(host),
            host_dropped: false,
            started: ticker::last_tick(),
            calls: 0,
        }
    }

    /// The host, handed back (a store whose instantiation failed).
    fn into_host(mut self) -> Option<H> {
        if std::mem::replace(&mut self.host_dropped, true) {
            return None;
        }
        // SAFETY: `host_dropped` was false, so the host is still there; set
        // now, it keeps `Drop` from dropping it again.
        Some(unsafe { ManuallyDrop::take(&mut self.host) })
    }

    /// Drops the host now, on this thread; the state is then inert.
    pub(crate) fn drop_host(&mut self) {
        if !std::mem::replace(&mut self.host_dropped, true) {
            // SAFETY: the flag, set just now, makes this the host's only
            // drop; nothing reads `host` after it (the store goes straight
            // to the reaper, which only drops it).
            unsafe { ManuallyDrop::drop(&mut self.host) }
        }
    }
}

impl<H> Drop for StoreState<H> {
    fn drop(&mut self) {
        self.drop_host();
    }
}

/// A store on its way to the reaper's thread, its host already dropped.
struct Retired<T: 'static>(#[allow(dead_code)] /* held to be dropped there */ Store<T>);

// SAFETY: wasmtime's `Store<T>` is `Send` when `T` is; what keeps a
// `StoreState<H>` from being `Send` is only its host `H` (PostgreSQL's holds
// pointers into the backend), which `StoreState::drop_host` dropped on the
// owning thread before the store is wrapped. The rest (limiter, counters)
// is plain data, and the reaper only drops the store.
unsafe impl<H: 'static> Send for Retired<StoreState<H>> {}

/// One instantiated module bound to one export, ready to be called many times.
///
/// The extension keeps one per call site (FmgrInfo) so that a warm call is a
/// fuel reset plus the Wasm call itself; nothing here allocates per call.
pub struct Instance<H: Host> {
    /// Taken out once, by `drop` (to the reaper or dropped in place).
    /// The store, the instance and what the memory ABI needs; taken out
    /// once, by `drop` (kept for reuse, to the reaper or dropped in place).
    core: ManuallyDrop<Kept<H>>,
    func: Func,
    sig: Arc<FuncSig>,
    slots: usize,
    last_fuel: u64,
    /// Whether a wall-clock limit applies (`timeout_ms` > 0).
    timeout: bool,
    /// A call into the guest failed (trap, limit, cancel, host error): the
    /// instance is dropped at the end, never kept.
    failed: bool,
    /// Kept for the next statement when it ends well (unless told not
    /// to: [`Prepared::with_memory_of`]).
    keep: bool,
}

/// An instance with its store, apart from the export it is bound to: what
/// an [`Instance`] is made of, and what [`crate::recycle`] keeps of a
/// finished one (its host dropped, reset in place).
struct Kept<H: 'static> {
    store: Store<StoreState<H>>,
    /// For exports other than the bound one ([`Instance::call_export`]).
    instance: wasmtime::Instance,
    /// ABI version 1 (SPEC §5): present when the guest exports them.
    memory: Option<Memory>,
    /// `pg_wasm_alloc` and `pg_wasm_free`, their types checked once in
    /// [`Prepared::new`] and called with [`Func::call_unchecked`]: a
    /// `TypedFunc` would look the type up again in every new instance
    /// (a lock and reference counts in the engine's type registry, about
    /// half a microsecond a statement).
    alloc: Option<Func>,
    free: Option<Func>,
    /// Exported functions looked up in this instance so far: a kept
    /// instance's next statement finds them here. A lookup in wasmtime
    /// finds the name, initializes the function's reference in the
    /// instance (a search of the store's code registry) and, typed,
    /// checks its type (0.5–1 µs a statement for the bound export and
    /// as much for each set-up call of the JavaScript engine). Resetting
    /// in place leaves the instance's function references as they are,
    /// so a `Func` found once stays valid for every later statement.
    exports: Vec<Exported>,
    /// Whether its tables are left as they are when it is reset in place
    /// ([`Interpreter::keeps_tables`]).
    keep_tables: bool,
    /// Its module's [`Prepared`] id and reuse flag ([`crate::recycle`]).
    module_id: u64,
    reuse: Arc<AtomicBool>,
    /// The memory and table limits it was made under: a kept instance is
    /// taken only under the same ones (instantiation checks the initial
    /// sizes against them).
    limits: Limits,
}

/// An export of a [`Kept`] instance found by name, and the Rust types
/// ([`TypeId`] of `(P, R)`) it was checked against by
/// [`Instance::call_export`], once.
struct Exported {
    name: Box<str>,
    func: Func,
    typed_as: Option<TypeId>,
}

impl<H: 'static> Kept<H> {
    /// The export `name` as a function, found once per instance.
    fn func(&mut self, name: &str, index: Option<&ModuleExport>) -> Option<(Func, usize)> {
        if let Some(at) = self.exports.iter().position(|e| &*e.name == name) {
            return Some((self.exports[at].func, at));
        }
        let found = match index {
            Some(index) => self.instance.get_module_export(&mut self.store, index),
            None => self.instance.get_export(&mut self.store, name),
        };
        let func = found.and_then(Extern::into_func)?;
        self.exports.push(Exported {
            name: name.into(),
            func,
            typed_as: None,
        });
        Some((func, self.exports.len() - 1))
    }

    /// Resets the instance in place and keeps it; drops it when wasmtime
    /// cannot (then no instance of the module is kept again) or fails
    /// (the slot is then reset by the drop).
    fn reset_and_park(mut self) {
        let reset = if self.keep_tables {
            self.instance.reset_in_place_keeping_tables(&mut self.store)
        } else {
            self.instance.reset_in_place(&mut self.store)
        };
        match reset {
            Ok(true) => {
                let memory = self.memory.is_some();
                crate::recycle::park(self.module_id, memory, Box::new(self))
            }
            Ok(false) => self.reuse.store(false, Ordering::Relaxed),
            Err(_) => {}
        }
    }
}

/// The reset of a [`Kept`] instance put off like a store's drop
/// ([`crate::reaper`], `Mode::Deferred`): dropping the job does it.
struct ResetLater<H: 'static>(Option<Kept<H>>);

impl<H: 'static> Drop for ResetLater<H> {
    fn drop(&mut self) {
        if let Some(kept) = self.0.take() {
            kept.reset_and_park();
        }
    }
}

// SAFETY: as for `Retired`: the host, the only part of a `StoreState<H>`
// that is not `Send`, was dropped on the owning thread before the job was
// made; and `Mode::Deferred` runs the job on that same thread anyway.
unsafe impl<H: 'static> Send for ResetLater<H> {}

/// Runs on the guest's thread each time the epoch ticker passes the store's
/// deadline (every [`crate::TICK`] while Wasm runs).
fn on_epoch<H: Host>(
    ctx: wasmtime::StoreContextMut<'_, StoreState<H>>,
) -> wasmtime::Result<UpdateDeadline> {
    let state = ctx.data();
    epoch_check(
        state.host.cancel_requested(),
        state.limiter.limits.timeout_ms,
        state.started,
    )
}

/// What a store does at each epoch tick: stop on a cancel, or once the
/// call's timeout passed.
pub(crate) fn epoch_check(
    cancel: bool,
    timeout: u64,
    started: u64,
) -> wasmtime::Result<UpdateDeadline> {
    if cancel {
        return Err(wasmtime::Error::new(Cancelled));
    }
    if timeout > 0 {
        // `started` may be up to one tick before the real start: the call
        // ends no earlier than its timeout, and at most two ticks after.
        let limit = started + TICK_NANOS + timeout * 1_000_000;
        if ticker::now() >= limit {
            return Err(wasmtime::Error::new(TimedOut { ms: timeout }));
        }
    }
    Ok(UpdateDeadline::Continue(1))
}

impl<H: Host> Instance<H> {
    /// Instantiates `module` under `limits` and resolves `export` (links
    /// the host API first: [`Instance::from_prepared`] reuses that work).
    pub fn new(
        engine: &Engine,
        module: &Module,
        export: &str,
        limits: Limits,
        host: H,
    ) -> Result<Self, RuntimeError> {
        Self::from_prepared(
            engine,
            &Prepared::new(engine, module)?,
            export,
            limits,
            host,
        )
    }

    /// An instance of a prepared module under `limits`, bound to `export`:
    /// one kept from an earlier use (reset in place, [`crate::recycle`])
    /// when there is one made under the same memory and table limits, else
    /// a new one.
    ///
    /// Instantiation runs the module's start function with the call's fuel
    /// and deadline, so a start function that loops or grows memory is
    /// stopped like a call (a module with a start function is never kept:
    /// wasmtime does not reset it in place).
    pub fn from_prepared(
        engine: &Engine,
        prepared: &Prepared<H>,
        export: &str,
        limits: Limits,
        host: H,
    ) -> Result<Self, RuntimeError> {
        crate::reaper::wait_idle();
        if prepared.reuse.load(Ordering::Relaxed) {
            if let Some(kept) = crate::recycle::take(prepared.id) {
                if let Ok(kept) = kept.downcast::<Kept<H>>() {
                    if kept.limits.memory_bytes == limits.memory_bytes
                        && kept.limits.table_elements == limits.table_elements
                    {
                        return Self::from_kept(*kept, prepared, export, limits, host);
                    }
                }
            }
        }
        let (index, sig) = prepared.func(export)?;
        let (mut store, instance) = crate::recycle::unless_pool_full(
            Self::instantiate(engine, prepared, limits, host),
            |host| Self::instantiate(engine, prepared, limits, host),
        )?;
        let mut get = |index: &ModuleExport| instance.get_module_export(&mut store, index);
        let memory = prepared
            .memory
            .as_ref()
            .and_then(&mut get)
            .and_then(Extern::into_memory);
        let alloc = prepared
            .alloc
            .as_ref()
            .and_then(&mut get)
            .and_then(Extern::into_func);
        let free = prepared
            .free
            .as_ref()
            .and_then(&mut get)
            .and_then(Extern::into_func);
        let made = Kept {
            store,
            instance,
            memory,
            alloc,
            free,
            exports: Vec::new(),
            keep_tables: prepared
                .interpreter
                .as_ref()
                .is_some_and(Interpreter::keeps_tables),
            module_id: prepared.id,
            reuse: prepared.reuse.clone(),
            limits,
        };
        Self::bind(made, export, index, sig)
    }

    /// A new store and an instance in it; on an error the host comes back
    /// when the store got that far.
    fn instantiate(
        engine: &Engine,
        prepared: &Prepared<H>,
        limits: Limits,
        host: H,
    ) -> crate::recycle::Made<(Store<StoreState<H>>, wasmtime::Instance), H> {
        let mut store = Store::new(engine, StoreState::new(StoreLimiter::module(limits), host));
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(on_epoch::<H>);
        store.set_epoch_deadline(1);
        if let Err(e) = store.set_fuel(limits.call_fuel()) {
            return Err((RuntimeError::Engine(e.to_string()), None));
        }
        match prepared.pre.instantiate(&mut store) {
            Ok(instance) => Ok((store, instance)),
            Err(e) => Err((classify(e), store.into_data().into_host())),
        }
    }

    /// An instance kept from an earlier statement ([`crate::recycle`]),
    /// already reset in place: new store data (limits, host, counters),
    /// fuel and deadline, and `export` looked up.
    fn from_kept(
        mut kept: Kept<H>,
        prepared: &Prepared<H>,
        export: &str,
        limits: Limits,
        host: H,
    ) -> Result<Self, RuntimeError> {
        let store = &mut kept.store;
        *store.data_mut() = StoreState::new(StoreLimiter::module(limits), host);
        store.set_epoch_deadline(1);
        store
            .set_fuel(limits.call_fuel())
            .map_err(|e| RuntimeError::Engine(e.to_string()))?;
        kept.limits = limits;
        let (index, sig) = prepared.func(export)?;
        Self::bind(kept, export, index, sig)
    }

    /// The instance bound to `export` (its index and signature).
    fn bind(
        kept: Kept<H>,
        export: &str,
        index: ModuleExport,
        sig: Arc<FuncSig>,
    ) -> Result<Self, RuntimeError> {
        let mut kept = kept;
        let (func, _) = kept
            .func(export, Some(&index))
            .ok_or_else(|| RuntimeError::MissingExport(export.to_string()))?;
        Ok(Instance {
            timeout: kept.limits.timeout_ms > 0,
            core: ManuallyDrop::new(kept),
            func,
            slots: sig.params.len().max(sig.results.len()),
            sig,
            last_fuel: 0,
            failed: false,
            keep: true,
        })
    }

    pub fn sig(&self) -> &FuncSig {
        &self.sig
    }

    /// The embedding's host value, for example to collect an error it kept
    /// during the call.
    pub fn host_mut(&mut self) -> &mut H {
        &mut self.core.store.data_mut().host
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
        // The epoch deadline is not reset here: it is always at most one
        // tick ahead (set at instantiation, renewed by `on_epoch`), so a
        // call that starts after the ticker moved on runs the callback once
        // at its first check, which is what a cancel arriving between calls
        // needs anyway. Resetting it would cost an atomic read per call.
        let fuel = self.refuel();
        self.call_inner(buf, fuel)
    }

    #[inline]
    fn call_inner(&mut self, buf: &mut [ValRaw], fuel: u64) -> Result<u64, RuntimeError> {
        assert!(buf.len() >= self.slots, "argument buffer too small");
        // SAFETY: `buf` is at least `slots` long (checked above), which covers
        // every parameter and result. The signature contains only numeric
        // types (FuncSig::from_func_type refuses references and v128), and any
        // bit pattern is a valid i32/i64/f32/f64, so whatever the caller wrote
        // is a well-typed argument. The store owns `func`.
        let result = unsafe {
            self.func
                .call_unchecked(&mut self.core.store, buf as *mut [ValRaw])
        };
        let used = fuel - self.core.store.get_fuel().unwrap_or(0);
        self.last_fuel = used;
        self.failed |= result.is_err();
        result.map(|()| used).map_err(classify)
    }

    /// Whether the guest can receive bytes: it exports `memory` and
    /// `pg_wasm_alloc(i32) -> i32`.
    pub fn has_memory_abi(&self) -> bool {
        self.core.memory.is_some() && self.core.alloc.is_some()
    }

    /// Resets fuel and the deadline before a sequence of guest calls that
    /// make up one SQL call (allocations, the call itself, the free).
    #[inline]
    fn refuel(&mut self) -> u64 {
        let fuel = self.core.store.data().limiter.limits.call_fuel();
        let _ = self.core.store.set_fuel(fuel);
        self.core.store.data_mut().calls += 1;
        if self.timeout {
            // No clock read per call: the ticker's last tick (an atomic load).
            self.core.store.data_mut().started = ticker::last_tick();
        }
        fuel
    }

    /// Copies `bytes` into guest memory through `pg_wasm_alloc` and returns
    /// the pointer. The allocation runs under the coming call's fuel.
    pub fn write_bytes(&mut self, bytes: &[u8], first: bool) -> Result<i32, RuntimeError> {
        if first {
            self.refuel();
        }
        let (Some(memory), Some(alloc)) = (self.core.memory, self.core.alloc) else {
            return Err(RuntimeError::InvalidModule(format!(
                "the module must export \"{MEMORY_EXPORT}\" and \"{ALLOC_EXPORT}\" (func (param i32) (result i32)) to take text, bytea or JSON"
            )));
        };
        let len = i32::try_from(bytes.len()).map_err(|_| {
            abi_error(format!(
                "a value of {} bytes does not fit in 32-bit guest memory",
                bytes.len()
            ))
        })?;
        let mut slots = [ValRaw::i32(len)];
        // SAFETY: `Prepared::new` kept `alloc` only when its type is
        // `(func (param i32) (result i32))`: one slot holds the parameter,
        // then the result, both plain i32s. The store owns `alloc`.
        let called =
            unsafe { alloc.call_unchecked(&mut self.core.store, &mut slots as *mut [ValRaw]) };
        self.failed |= called.is_err();
        called.map_err(classify)?;
        let ptr = slots[0].get_i32();
        let data = memory.data_mut(&mut self.core.store);
        let range = checked_range(ptr, len, data.len()).ok_or_else(|| {
            abi_error(format!(
                "{ALLOC_EXPORT}({len}) returned {ptr}, outside guest memory ({} bytes)",
                data.len()
            ))
        })?;
        data[range].copy_from_slice(bytes);
        Ok(ptr)
    }

    /// Copies `bytes` to `ptr` in guest memory (a buffer the guest handed
    /// out for the purpose), bounds-checked.
    #[inline]
    pub fn write_at(&mut self, ptr: i32, bytes: &[u8]) -> Result<(), RuntimeError> {
        let Some(memory) = self.core.memory else {
            return Err(RuntimeError::InvalidModule(format!(
                "the module must export \"{MEMORY_EXPORT}\""
            )));
        };
        let data = memory.data_mut(&mut self.core.store);
        let len = data.len();
        let range = i32::try_from(bytes.len())
            .ok()
            .and_then(|n| checked_range(ptr, n, len))
            .ok_or_else(|| {
                abi_error(format!(
                    "{} bytes at {ptr} lie outside guest memory ({len} bytes)",
                    bytes.len()
                ))
            })?;
        data[range].copy_from_slice(bytes);
        Ok(())
    }

    /// The `len` bytes at `ptr` in guest memory, bounds-checked.
    pub fn read_bytes(&self, ptr: i32, len: i32) -> Result<&[u8], RuntimeError> {
        let Some(memory) = self.core.memory else {
            return Err(RuntimeError::InvalidModule(format!(
                "the module must export \"{MEMORY_EXPORT}\" to return text, bytea or JSON"
            )));
        };
        let data = memory.data(&self.core.store);
        let range = checked_range(ptr, len, data.len()).ok_or_else(|| {
            abi_error(format!(
                "the result ({len} bytes at {ptr}) lies outside guest memory ({} bytes)",
                data.len()
            ))
        })?;
        Ok(&data[range])
    }

    /// Tells the guest the host is done with a result (`pg_wasm_free`, if
    /// exported); `(0, 0)` when there was no result to free.
    pub fn free(&mut self, ptr: i32, len: i32) -> Result<(), RuntimeError> {
        match self.core.free {
            Some(f) => {
                let mut slots = [ValRaw::i32(ptr), ValRaw::i32(len)];
                // SAFETY: `Prepared::new` kept `free` only when its type is
                // `(func (param i32 i32))`: two plain i32 parameters, no
                // result. The store owns `f`.
                let called =
                    unsafe { f.call_unchecked(&mut self.core.store, &mut slots as *mut [ValRaw]) };
                self.failed |= called.is_err();
                called.map_err(classify)
            }
            None => Ok(()),
        }
    }

    /// Like [`Instance::call`], but after [`Instance::write_bytes`] has
    /// already reset fuel for this SQL call.
    #[inline]
    pub fn call_after_writes(&mut self, buf: &mut [ValRaw]) -> Result<u64, RuntimeError> {
        let fuel = self.core.store.data().limiter.limits.call_fuel();
        self.call_inner(buf, fuel)
    }

    /// Calls another export than the bound one, by name, with the fuel and
    /// deadline of a call of its own (the JavaScript and Python engines'
    /// set-up calls). The export is found and type-checked once per
    /// instance (then a short search by name).
    pub fn call_export<P: WasmParams + 'static, R: WasmResults + 'static>(
        &mut self,
        name: &str,
        params: P,
    ) -> Result<R, RuntimeError> {
        let missing = || RuntimeError::MissingExport(name.to_string());
        let (func, at) = self.core.func(name, None).ok_or_else(missing)?;
        let types = TypeId::of::<(P, R)>();
        let func = if self.core.exports[at].typed_as == Some(types) {
            // SAFETY: `func` was checked against `(P, R)` by `Func::typed`
            // below in this same store (`typed_as` records it), and a
            // function's type never changes.
            unsafe { TypedFunc::<P, R>::new_unchecked(&self.core.store, func) }
        } else {
            let typed = func
                .typed::<P, R>(&self.core.store)
                .map_err(|_| missing())?;
            self.core.exports[at].typed_as = Some(types);
            typed
        };
        let fuel = self.refuel();
        let result = func.call(&mut self.core.store, params);
        self.last_fuel = fuel - self.core.store.get_fuel().unwrap_or(0);
        self.failed |= result.is_err();
        result.map_err(classify)
    }

    /// Fuel used by the last call, whether it succeeded or not.
    pub fn last_fuel(&self) -> u64 {
        self.last_fuel
    }
}

fn abi_error(message: String) -> RuntimeError {
    RuntimeError::Trap {
        kind: crate::TrapKind::Trap,
        message,
        backtrace: None,
    }
}

impl<H: Host> Drop for Instance<H> {
    /// Drops the host here and hands the store (its slot reset, its
    /// teardown) to the reaper when it puts drops off ([`crate::reaper`]).
    fn drop(&mut self) {
        // SAFETY: `core` is taken exactly once, here, and `self` is not
        // used after `drop`.
        let mut kept = unsafe { ManuallyDrop::take(&mut self.core) };
        if self.keep
            && !self.failed
            && kept.reuse.load(Ordering::Relaxed)
            && crate::reaper::recycles()
        {
            kept.store.data_mut().drop_host();
            crate::reaper::retire(Box::new(ResetLater(Some(kept))));
            return;
        }
        if !crate::reaper::defers(kept.memory.is_some()) {
            return;
        }
        let mut store = kept.store;
        store.data_mut().drop_host();
        crate::reaper::retire(Box::new(Retired(store)));
    }
}
