use crate::error::RuntimeError;
use std::num::NonZeroUsize;
use wasmtime::{Config, Engine, OptLevel, ProfilingStrategy};

/// Frames kept for the DETAIL of a trap; deep recursion would otherwise
/// produce a backtrace of thousands of lines.
const MAX_BACKTRACE_FRAMES: usize = 20;

/// Largest Wasm stack a guest may use. PostgreSQL's own stack check
/// (`max_stack_depth`, 2 MB by default) runs on the same thread, so the guest
/// gets a bounded slice and deep recursion traps instead of overflowing.
const MAX_WASM_STACK: usize = 512 * 1024;

/// Builds the engine a backend uses for every module.
///
/// Fuel metering and epoch checks are always compiled in, so per-call fuel
/// and time limits can change without recompiling. NaN results are
/// canonicalised and relaxed SIMD is deterministic, so an IMMUTABLE function
/// gives the same bits on every machine. A compile spreads its functions
/// over a small pool of threads with every signal blocked (see
/// `threads::in_compile_pool`); the backend's other extra thread is the
/// epoch ticker, which touches nothing but the engine's epoch counter.
pub fn new_engine() -> Result<Engine, RuntimeError> {
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
    Engine::new(&config).map_err(|e| RuntimeError::Engine(format!("{e:#}")))
}
