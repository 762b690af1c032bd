//! Per-backend engine and compiled-module caches.
//!
//! A backend compiles a module once per generation. Writers of
//! `wasm.module` queue a relcache invalidation of that table
//! (`catalog::invalidate`); our callback bumps [`epoch`], and a cached
//! module whose check is older than the epoch re-reads its generation from
//! the catalog before use. Invalidations arrive at transaction start and at
//! lock acquisition, so every backend sees a committed replace from its next
//! statement on, and a rolled-back load or replace leaves nothing in use.

use crate::catalog::{self, ModuleMeta};
use crate::error::{PgWasmError, Result, RuntimeContext};
use crate::guc;
use crate::pg::artifacts;
use crate::pg::host::PgHost;
use once_cell::sync::OnceCell;
use pg_wasm_runtime::component::Component;
use pg_wasm_runtime::{
    compile_any_with, compile_with, parse_wat, sha256, Allocation, CompileLimits, Engine, Module,
    Prepared,
};
use pgrx::pg_sys;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The backend's engine and the allocator it ended up with.
static ENGINE: OnceCell<(Engine, Allocation)> = OnceCell::new();
static EPOCH: AtomicU64 = AtomicU64::new(1);
static RELATIONS: AtomicU64 = AtomicU64::new(1);
static TABLE_OID: AtomicU32 = AtomicU32::new(0);
static CALLBACK: OnceCell<()> = OnceCell::new();
static XACT: AtomicU64 = AtomicU64::new(1);
static XACT_CALLBACK: OnceCell<()> = OnceCell::new();

/// The backend's engine, created on first use (never in the postmaster),
/// with its epoch ticker running so calls can be cancelled and timed out.
pub fn engine() -> Result<&'static Engine> {
    let (engine, _) = ENGINE.get_or_try_init(|| {
        let made = pg_wasm_runtime::new_engine_with(guc::pool_settings()).in_module("(engine)")?;
        if let Allocation::OnDemand(Some(reason)) = &made.1 {
            pgrx::log!("pg_wasm: no instance pool in this backend, instances map their own memory: {reason}");
        }
        Ok::<_, PgWasmError>(made)
    })?;
    // Once per process; later calls only read a OnceLock.
    pg_wasm_runtime::start_ticker(engine).map_err(PgWasmError::Internal)?;
    XACT_CALLBACK.get_or_init(|| {
        // SAFETY: registers a 'static function once per backend; PostgreSQL
        // keeps the registration in TopMemoryContext.
        unsafe { pg_sys::RegisterXactCallback(Some(on_xact_end), std::ptr::null_mut()) }
    });
    Ok(engine)
}

/// The allocator the backend's engine has, once it has one.
pub fn allocation() -> Option<&'static Allocation> {
    ENGINE.get().map(|(_, allocation)| allocation)
}

/// Changes at every relcache invalidation of any relation (a composite
/// type's columns changed, say): what was resolved against a row type is
/// checked again (`fn_cache`).
#[inline]
pub fn relations_epoch() -> u64 {
    RELATIONS.load(Ordering::Relaxed)
}

/// Changes whenever `wasm.module` may have changed. Call sites compare it on
/// every call (one load and compare) to notice a replace mid-transaction.
#[inline(always)]
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::Relaxed)
}

/// Changes at the end of every transaction. A call site made in an earlier
/// transaction instantiates its module again, so no guest state (globals,
/// memory) carries over from one transaction to the next.
#[inline(always)]
pub fn xact() -> u64 {
    XACT.load(Ordering::Relaxed)
}

unsafe extern "C-unwind" fn on_xact_end(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::XactEvent::*;
    if matches!(
        event,
        XACT_EVENT_COMMIT
            | XACT_EVENT_ABORT
            | XACT_EVENT_PARALLEL_COMMIT
            | XACT_EVENT_PARALLEL_ABORT
            | XACT_EVENT_PREPARE
    ) {
        XACT.fetch_add(1, Ordering::Relaxed);
    }
    match event {
        XACT_EVENT_COMMIT => artifacts::at_xact_end(Some(true)),
        XACT_EVENT_ABORT => artifacts::at_xact_end(Some(false)),
        // A prepared load may still commit or roll back later: leave its
        // links to the next sweep.
        XACT_EVENT_PREPARE => artifacts::at_xact_end(None),
        _ => {}
    }
}

unsafe extern "C-unwind" fn on_relcache_invalidation(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    // No PostgreSQL calls here: this runs inside invalidation processing.
    RELATIONS.fetch_add(1, Ordering::Relaxed);
    let ours = TABLE_OID.load(Ordering::Relaxed);
    if relid == pg_sys::InvalidOid || relid.to_u32() == ours {
        EPOCH.fetch_add(1, Ordering::Relaxed);
    }
}

/// Makes sure this backend hears about changes to `wasm.module` (the
/// callback is registered by the first module lookup; a backend that only
/// runs components registers it here).
pub fn watch() -> Result<()> {
    if CALLBACK.get().is_none() {
        watch_catalog()?;
    }
    Ok(())
}

fn watch_catalog() -> Result<()> {
    TABLE_OID.store(catalog::table_oid()?.to_u32(), Ordering::Relaxed);
    CALLBACK.get_or_init(|| {
        // SAFETY: registering a callback with a 'static function; PostgreSQL
        // keeps it for the life of the backend. Done once per backend.
        unsafe {
            pg_sys::CacheRegisterRelcacheCallback(
                Some(on_relcache_invalidation),
                pg_sys::Datum::from(0),
            )
        }
    });
    Ok(())
}

/// A compiled module with the catalog row it was checked against.
pub struct CachedModule {
    pub meta: ModuleMeta,
    pub module: Rc<Compiled>,
}

/// Compiled code, and its imports resolved against the host API on first
/// instantiation (then kept: each new call site only instantiates).
pub struct Compiled {
    pub module: Module,
    prepared: once_cell::unsync::OnceCell<Prepared<PgHost>>,
    /// pg_wasm's own engines, linked with the WASI stubs they need.
    interpreter: Interpreter,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Interpreter {
    None,
    JavaScript,
    Python,
}

impl Compiled {
    pub fn new(module: Module) -> Rc<Self> {
        Rc::new(Compiled {
            module,
            prepared: Default::default(),
            interpreter: Interpreter::None,
        })
    }

    pub fn prepared(&self, target: &str) -> Result<&Prepared<PgHost>> {
        self.prepared.get_or_try_init(|| {
            let engine = engine()?;
            match self.interpreter {
                Interpreter::JavaScript => Prepared::javascript(engine, &self.module),
                Interpreter::Python => Prepared::python(engine, &self.module),
                Interpreter::None => Prepared::new(engine, &self.module),
            }
            .in_module(target)
        })
    }

    /// This engine with `inst`'s memory laid over its image (a function
    /// loaded, [`pg_wasm_runtime::function_image`]); `None` when that
    /// cannot be made (memory grew, no copy-on-write image).
    pub fn with_memory_of(
        &self,
        target: &str,
        inst: &mut pg_wasm_runtime::Instance<PgHost>,
    ) -> Result<Option<Rc<Compiled>>> {
        let prepared = self.prepared(target)?;
        let Some(layered) = prepared.with_memory_of(engine()?, inst).in_module(target)? else {
            return Ok(None);
        };
        Ok(Some(Rc::new(Compiled {
            module: layered.module().clone(),
            prepared: once_cell::unsync::OnceCell::with_value(layered),
            interpreter: self.interpreter,
        })))
    }
}

thread_local! {
    static JAVASCRIPT: once_cell::unsync::OnceCell<Rc<Compiled>> = const { once_cell::unsync::OnceCell::new() };
}

/// The JavaScript engine's pre-initialized image, compiled once per
/// cluster (its stored artifact mapped by every other backend) and kept
/// for the backend's life.
pub fn javascript_engine() -> Result<Rc<Compiled>> {
    if let Some(c) = JAVASCRIPT.with(|j| j.get().cloned()) {
        return Ok(c);
    }
    let engine = engine()?;
    let module = artifacts::shipped(
        engine,
        "JavaScript",
        pg_wasm_runtime::javascript::ENGINE_SHA256,
        || {
            let image =
                pg_wasm_runtime::javascript::image(engine).in_module("the JavaScript engine")?;
            // Our own module: it imports the clock (no user module may).
            watched("the JavaScript engine", &image, 0, compile_any_with)
                .map(pg_wasm_runtime::javascript::CompiledImage)
        },
    )?
    .0;
    let compiled = Rc::new(Compiled {
        module,
        prepared: Default::default(),
        interpreter: Interpreter::JavaScript,
    });
    JAVASCRIPT.with(|j| {
        let _ = j.set(compiled.clone());
    });
    Ok(compiled)
}

thread_local! {
    static PYTHON: once_cell::unsync::OnceCell<Rc<Compiled>> = const { once_cell::unsync::OnceCell::new() };
}

/// The Python engine (pre-initialized when it was built), compiled once
/// per cluster (its stored artifact mapped by every other backend) and
/// kept for the backend's life.
pub fn python_engine() -> Result<Rc<Compiled>> {
    if let Some(c) = PYTHON.with(|p| p.get().cloned()) {
        return Ok(c);
    }
    let engine = engine()?;
    let module = artifacts::shipped(
        engine,
        "Python",
        pg_wasm_runtime::python::ENGINE_SHA256,
        || {
            // Our own module: it imports WASI (no user module may).
            watched(
                "the Python engine",
                pg_wasm_runtime::python::ENGINE_WASM,
                0,
                compile_any_with,
            )
            .map(pg_wasm_runtime::python::CompiledImage)
        },
    )?
    .0;
    let compiled = Rc::new(Compiled {
        module,
        prepared: Default::default(),
        interpreter: Interpreter::Python,
    });
    PYTHON.with(|p| {
        let _ = p.set(compiled.clone());
    });
    Ok(compiled)
}

struct Entry {
    checked_at: u64,
    module: Rc<CachedModule>,
    /// Compiled code size, for the byte bound.
    bytes: usize,
    /// When it was last handed out (a counter), for eviction.
    used: u64,
}

/// Compiled code kept per backend, in bytes, for named modules and for
/// inline bodies. Least recently used entries go first; call sites keep the
/// code they run alive on their own.
const MODULE_CACHE_BYTES: usize = 256 << 20;
const INLINE_CACHE_BYTES: usize = 64 << 20;

#[derive(Default)]
struct Modules {
    entries: HashMap<String, Entry>,
    bytes: usize,
    clock: u64,
    /// The epoch of the last sweep of entries no longer in the catalog.
    swept_at: u64,
}

#[derive(Default)]
struct Inline {
    entries: HashMap<[u8; 32], (Rc<Compiled>, usize)>,
    bytes: usize,
}

thread_local! {
    static MODULES: RefCell<Modules> = RefCell::new(Modules::default());
    static INLINE: RefCell<Inline> = RefCell::new(Inline::default());
}

/// The size of a module's compiled code.
fn code_size(module: &Module) -> usize {
    let range = module.image_range();
    (range.end as usize).saturating_sub(range.start as usize)
}

impl Modules {
    fn get(&mut self, name: &str) -> Option<(u64, Rc<CachedModule>)> {
        self.clock += 1;
        let now = self.clock;
        self.entries.get_mut(name).map(|e| {
            e.used = now;
            (e.checked_at, e.module.clone())
        })
    }

    fn remove(&mut self, name: &str) {
        if let Some(e) = self.entries.remove(name) {
            self.bytes -= e.bytes;
            // Resolved functions may hold this code: let it go with them.
            super::fn_cache::clear();
        }
    }

    fn insert(&mut self, name: &str, checked_at: u64, module: Rc<CachedModule>) {
        self.remove(name);
        let bytes = code_size(&module.module.module);
        while self.bytes + bytes > MODULE_CACHE_BYTES && !self.entries.is_empty() {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            self.remove(&oldest);
        }
        self.clock += 1;
        self.bytes += bytes;
        self.entries.insert(
            name.to_string(),
            Entry {
                checked_at,
                module,
                bytes,
                used: self.clock,
            },
        );
    }
}

/// Drops this backend's compiled code of `name` (after an unload).
pub fn forget(name: &str) {
    MODULES.with(|m| m.borrow_mut().remove(name));
}

/// After an invalidation, drops the entries of modules that are gone or
/// were replaced, so unloaded modules do not stay compiled in every backend
/// that ever used them. One catalog read per invalidation at most.
fn sweep(epoch: u64) -> Result<()> {
    // Nothing cached (a new backend): nothing to sweep, no catalog read.
    let idle = MODULES.with(|m| {
        let mut m = m.borrow_mut();
        if m.entries.is_empty() {
            m.swept_at = epoch;
        }
        m.swept_at == epoch
    });
    if idle {
        return Ok(());
    }
    let current = catalog::generations()?;
    MODULES.with(|m| {
        let mut m = m.borrow_mut();
        let stale: Vec<String> = m
            .entries
            .iter()
            .filter(|(name, e)| current.get(*name) != Some(&e.module.meta.generation))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            m.remove(&name);
        }
        m.swept_at = epoch;
    });
    Ok(())
}

/// Validates and compiles new module bytes for the current role (wasm.load,
/// wasm.replace, inline bodies): within the size limit and, for roles that
/// are not superusers, the function limit.
pub fn compile_module(target: &str, bytes: &[u8]) -> Result<Module> {
    watched(target, bytes, guc::max_module_functions(), compile_with)
}

/// Compiles bytes already in the catalog (accepted when they were loaded).
fn compile_stored(target: &str, bytes: &[u8]) -> Result<Module> {
    watched(target, bytes, 0, compile_with)
}

/// `wasm.inspect`'s compile: any imports, same limits as [`compile_module`].
pub fn compile_for_inspect(bytes: &[u8]) -> Result<Module> {
    watched("", bytes, guc::max_module_functions(), compile_any_with)
}

type Compiler<T> = fn(
    &Engine,
    &[u8],
    &CompileLimits,
    &mut dyn FnMut() -> bool,
) -> std::result::Result<T, pg_wasm_runtime::RuntimeError>;

/// Runs `compile` (on a thread of its own) within the size limit and
/// `max_functions`, answering cancel, statement_timeout and terminate
/// within `COMPILE_POLL` while it waits (an abandoned compile finishes in
/// the background and is dropped), and trims the heap after large inputs.
fn watched<T>(target: &str, bytes: &[u8], max_functions: usize, compile: Compiler<T>) -> Result<T> {
    let limits = CompileLimits {
        max_size: guc::max_module_size(),
        max_functions,
    };
    let module = compile(engine()?, bytes, &limits, &mut interrupted).in_module(target);
    trim_heap(bytes.len());
    module
}

/// Validates and compiles a component (SPEC §10) for `wasm.load`,
/// `wasm.replace` and `wasm.inspect`, or when no stored artifact fits.
pub fn compile_component(target: &str, bytes: &[u8]) -> Result<Component> {
    let engine = engine()?;
    let stored = (bytes.len() <= guc::max_module_size())
        .then(|| artifacts::stored::<Component>(engine, &pg_wasm_runtime::sha256(bytes)))
        .flatten();
    if let Some(c) = stored {
        pg_wasm_runtime::component::check_component_imports(engine, &c).in_module(target)?;
        return Ok(c);
    }
    watched(
        target,
        bytes,
        0,
        pg_wasm_runtime::component::compile_component,
    )
}

/// `wasm.inspect`'s compile of a component: any imports.
pub fn compile_component_for_inspect(bytes: &[u8]) -> Result<Component> {
    if bytes.len() <= guc::max_module_size() {
        if let Some(c) = artifacts::stored::<Component>(engine()?, &pg_wasm_runtime::sha256(bytes))
        {
            return Ok(c);
        }
    }
    watched(
        "",
        bytes,
        0,
        pg_wasm_runtime::component::compile_component_any,
    )
}

/// Lets PostgreSQL act on a pending cancel, timeout or terminate: its ERROR
/// unwinds out of the wait (no Wasm frames are on this thread).
fn interrupted() -> bool {
    pgrx::check_for_interrupts!();
    false
}

/// WebAssembly text to bytes, within `pg_wasm.max_wat_kb`.
pub fn wat_to_bytes(target: &str, wat: &str) -> Result<Vec<u8>> {
    let limit = guc::max_wat_bytes();
    if wat.len() > limit {
        return Err(PgWasmError::InvalidParameter(format!(
            "WebAssembly text of {} bytes is larger than pg_wasm.max_wat_kb allows ({limit} bytes)",
            wat.len()
        )));
    }
    let bytes = parse_wat(wat).in_module(target);
    trim_heap(wat.len());
    bytes
}

/// Compiling and parsing text take many times their input in short-lived
/// allocations; give large ones back to the system instead of leaving the
/// backend's resident size at its peak.
fn trim_heap(input: usize) {
    if input >= 256 << 10 {
        // SAFETY: malloc_trim only returns free heap memory to the system.
        unsafe { libc::malloc_trim(0) };
    }
}

/// The current compiled code of module `name`.
pub fn module(name: &str) -> Result<Rc<CachedModule>> {
    // Inside a transaction block PostgreSQL reads the invalidation queue
    // only when it takes a lock; a statement that calls a wasm function
    // without touching a table would otherwise keep running old code.
    // SAFETY: plain call, safe at any point inside a transaction.
    unsafe { pg_sys::AcceptInvalidationMessages() };
    let epoch_before = epoch();
    let cached = MODULES.with(|m| m.borrow_mut().get(name));
    if let Some((checked_at, module)) = &cached {
        if *checked_at == epoch_before && *checked_at != 0 {
            return Ok(module.clone());
        }
    }
    watch_catalog()?;
    let epoch_before = epoch();
    // Read the catalog with the latest snapshot, not the statement's: an
    // invalidation can arrive after the statement took its snapshot, and an
    // entry marked current under the new epoch must hold the committed code.
    // Parallel mode forbids new snapshots; such an entry is not marked
    // current, so the next statement outside parallel mode checks again.
    // SAFETY: reads backend state.
    let parallel = unsafe { pg_sys::IsInParallelMode() };
    let _snapshot = (!parallel).then(LatestSnapshot::push);
    if !parallel {
        sweep(epoch_before)?;
    }
    let Some(meta) = catalog::find_active(name)? else {
        MODULES.with(|m| m.borrow_mut().remove(name));
        return Err(PgWasmError::UnknownModule(name.to_string()));
    };
    let module = match cached {
        Some((_, c)) if c.meta.generation == meta.generation => c.module.clone(),
        // Mapped from the cluster's stored artifact when there is one;
        // compiled (and stored) only when there is not.
        _ => Compiled::new(artifacts::module_for(engine()?, &meta, || {
            let (generation, bytes) =
                catalog::code(name)?.ok_or_else(|| PgWasmError::UnknownModule(name.into()))?;
            if generation != meta.generation {
                return Err(PgWasmError::Internal(format!(
                    "module \"{name}\" changed while it was being read"
                )));
            }
            compile_stored(name, &bytes)
        })?),
    };
    let entry = Rc::new(CachedModule { meta, module });
    MODULES.with(|m| {
        m.borrow_mut()
            .insert(name, if parallel { 0 } else { epoch_before }, entry.clone())
    });
    Ok(entry)
}

/// The latest snapshot as the active one for as long as the guard lives, so
/// read-only SPI sees everything committed so far (and this transaction's
/// own earlier commands), like PostgreSQL's catalog snapshots.
pub(crate) struct LatestSnapshot;

impl LatestSnapshot {
    pub(crate) fn push() -> Self {
        // SAFETY: GetLatestSnapshot returns a valid snapshot; PushActiveSnapshot
        // copies it as needed. Popped in Drop (and by PostgreSQL on abort).
        unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetLatestSnapshot()) };
        LatestSnapshot
    }
}

impl Drop for LatestSnapshot {
    fn drop(&mut self) {
        // SAFETY: pops the snapshot pushed in `push`; nothing pushed since is
        // left on the stack (SPI pops its own).
        unsafe { pg_sys::PopActiveSnapshot() }
    }
}

/// Remembers code that `wasm.load` or `wasm.replace` just compiled, so the
/// first call does not compile it again. The entry is re-checked against
/// the catalog before use, so a rollback still wins.
pub fn prime(meta: ModuleMeta, module: Module) {
    let name = meta.name.clone();
    MODULES.with(|m| {
        m.borrow_mut().insert(
            &name,
            0,
            Rc::new(CachedModule {
                meta,
                module: Compiled::new(module),
            }),
        )
    });
}

/// Compiled inline WAT bodies, keyed by the text's hash.
pub fn inline_module(target: &str, wat: &str) -> Result<Rc<Compiled>> {
    let key = sha256(wat.as_bytes());
    if let Some((m, _)) = INLINE.with(|c| c.borrow().entries.get(&key).cloned()) {
        return Ok(m);
    }
    let bytes = wat_to_bytes(target, wat)?;
    let module = Compiled::new(compile_module(target, &bytes)?);
    let size = code_size(&module.module);
    INLINE.with(|c| {
        let mut c = c.borrow_mut();
        if c.entries.len() >= 256 || c.bytes + size > INLINE_CACHE_BYTES {
            c.entries.clear();
            c.bytes = 0;
        }
        if size <= INLINE_CACHE_BYTES {
            c.bytes += size;
            c.entries.insert(key, (module.clone(), size));
        }
    });
    Ok(module)
}
