use crate::error::RuntimeError;
use std::num::NonZeroUsize;
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
    ProfilingStrategy,
};

/// Frames kept for the DETAIL of a trap; deep recursion would otherwise
/// produce a backtrace of thousands of lines.
const MAX_BACKTRACE_FRAMES: usize = 20;

/// Largest Wasm stack a guest may use. PostgreSQL's own stack check
/// (`max_stack_depth`, 2 MB by default) runs on the same thread, so the guest
/// gets a bounded slice and deep recursion traps instead of overflowing.
/// 1 MiB: the JavaScript engine's own recursion check (its C stack,
/// engines/javascript/build.sh) must fire well before this one does.
const MAX_WASM_STACK: usize = 1024 * 1024;

/// The largest linear memory a pooled slot holds: every 32-bit memory fits
/// (a 64-bit one may not grow past it). Slots are address space reserved
/// once per engine, not memory.
const POOL_MAX_MEMORY: usize = 4 << 30;

/// Table slots hold this many elements; a module whose table starts larger
/// cannot be pooled (it is refused when compiled). `Limits::table_elements`
/// keeps every instance below it anyway.
pub const POOL_TABLE_ELEMENTS: usize = 100_000;

/// How a backend's instances get their memories and tables.
///
/// With `slots > 0` the engine keeps a pool (wasmtime's pooling allocator):
/// a slot's memory is reset to the module's initial image when its instance
/// is dropped (copy-on-write, pages found dirty by `pagemap_scan` restored in
/// place up to `keep_resident` bytes, the rest given back to the system), so
/// a new instance costs microseconds and never sees an earlier one's data.
/// `slots = 0` maps and unmaps every instance's memory (wasmtime's on-demand
/// allocator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// Linear memories that may be live at once (one per core instance
    /// with a memory; a component may use several).
    pub slots: u32,
    /// Bytes at the start of each memory slot kept resident after use and
    /// reset in place; the rest is decommitted.
    pub keep_resident: usize,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            slots: 256,
            keep_resident: 4 << 20,
        }
    }
}

impl PoolSettings {
    /// No pool: every instance maps its own memory.
    pub const OFF: PoolSettings = PoolSettings {
        slots: 0,
        keep_resident: 0,
    };

    fn config(&self) -> PoolingAllocationConfig {
        let slots = self.slots;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_memories(slots)
            // Core instances without a memory (and a component's several
            // core instances) take no memory slot: allow more of them.
            .total_core_instances(slots.saturating_mul(4))
            .total_component_instances(slots)
            .total_tables(slots.saturating_mul(2))
            // Calls are synchronous: no fiber stacks (a pool of them costs
            // a millisecond to reserve at every backend's start).
            .total_stacks(0)
            // As many as a component's store allows (`StoreLimiter`).
            .max_core_instances_per_component(100)
            .max_memories_per_component(16)
            .max_tables_per_component(64)
            .max_memories_per_module(1)
            .max_tables_per_module(4)
            .table_elements(POOL_TABLE_ELEMENTS)
            .max_memory_size(POOL_MAX_MEMORY)
            // Instance metadata is allocated per instance; these only bound
            // it (a module with very many functions or globals).
            .max_core_instance_size(64 << 20)
            .max_component_instance_size(64 << 20)
            .linear_memory_keep_resident(self.keep_resident)
            .table_keep_resident(256 << 10)
            // Slots a module used before are preferred (its image is still
            // mapped there); at most this many idle slots are kept warm for
            // other modules, which bounds what stays resident.
            .max_unused_warm_slots(slots.min(16))
            .pagemap_scan(Enabled::Auto);
        pool
    }
}

/// Which allocator an engine ended up with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allocation {
    Pooled(PoolSettings),
    /// No pool: asked for (`slots = 0`) or, with the reason, because the
    /// pool's address space could not be reserved.
    OnDemand(Option<String>),
}

fn base_config() -> Config {
    let mut config = Config::new();
    config
        .parallel_compilation(crate::threads::compile_threads() > 1)
        .consume_fuel(true)
        .epoch_interruption(true)
        .cranelift_nan_canonicalization(true)
        .cranelift_opt_level(OptLevel::Speed)
        .wasm_backtrace_max_frames(NonZeroUsize::new(MAX_BACKTRACE_FRAMES))
        .max_wasm_stack(MAX_WASM_STACK)
        .relaxed_simd_deterministic(true);
    // For `perf`: with PG_WASM_PERFMAP set in the server's environment,
    // compiled guest functions are listed in /tmp/perf-<pid>.map.
    if std::env::var_os("PG_WASM_PERFMAP").is_some() {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    config
}

/// Builds the engine a backend uses for every module, with the default
/// pool (see [`new_engine_with`]).
pub fn new_engine() -> Result<Engine, RuntimeError> {
    new_engine_with(PoolSettings::default()).map(|(engine, _)| engine)
}

/// Works out, once per process, what every new engine asks the system:
/// how many threads a compile may use (`available_parallelism` reads the
/// cgroup's CPU quota files) and which features the CPU has (Cranelift's
/// native flags). An embedding that forks its workers calls it before
/// forking, so that each worker's first engine finds both known: pg_wasm
/// does in the postmaster when it is preloaded. It also registers one
/// thread-local destructor, which makes the C library resolve the symbol
/// that registration needs (a lazily bound call inside glibc, a walk of
/// every loaded library's symbols) before the fork instead of in each
/// worker's first call. Starts no thread.
pub fn prewarm() {
    let _ = crate::threads::compile_threads();
    // A feature outside the x86-64 baseline: the baseline ones are known at
    // compile time and never reach the detection cache.
    #[cfg(target_arch = "x86_64")]
    let _ = std::arch::is_x86_feature_detected!("avx2");
    thread_local! {
        static REGISTERED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    REGISTERED.with(|r| r.borrow_mut().clear());
}

/// Builds the engine a backend uses for every module.
///
/// Fuel metering and epoch checks are always compiled in, so per-call fuel
/// and time limits can change without recompiling. NaN results are
/// canonicalised and relaxed SIMD is deterministic, so an IMMUTABLE function
/// gives the same bits on every machine. A compile spreads its functions
/// over a small pool of threads with every signal blocked (see
/// `threads::in_compile_pool`); the backend's other extra thread is the
/// epoch ticker, which touches nothing but the engine's epoch counter.
///
/// The pool does not change compiled code (the memory reservation is
/// wasmtime's default either way), so artifacts fit both allocators. If the
/// pool's address space cannot be reserved (say, under `ulimit -v`), the
/// engine falls back to the on-demand allocator and says why.
pub fn new_engine_with(pool: PoolSettings) -> Result<(Engine, Allocation), RuntimeError> {
    let on_demand = |reason| {
        Engine::new(&base_config())
            .map(|e| (e, Allocation::OnDemand(reason)))
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))
    };
    if pool.slots == 0 {
        return on_demand(None);
    }
    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool.config()));
    match Engine::new(&config) {
        Ok(engine) => Ok((engine, Allocation::Pooled(pool))),
        Err(e) => on_demand(Some(format!("{e:#}"))),
    }
}

/// What a pooled engine's slots hold now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolUse {
    pub core_instances: u64,
    pub component_instances: u64,
    pub memories: usize,
    pub tables: usize,
    /// Memory slots no instance uses that still hold an image (warm).
    pub warm_memories: u32,
    /// Bytes those idle memory and table slots keep resident.
    pub idle_resident: usize,
}

/// The pool's use, or `None` for an engine without a pool.
pub fn pool_use(engine: &Engine) -> Option<PoolUse> {
    engine.pooling_allocator_metrics().map(|m| PoolUse {
        core_instances: m.core_instances(),
        component_instances: m.component_instances(),
        memories: m.memories(),
        tables: m.tables(),
        warm_memories: m.unused_warm_memories(),
        idle_resident: m.unused_memory_bytes_resident() + m.unused_table_bytes_resident(),
    })
}
