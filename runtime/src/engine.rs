use crate::error::RuntimeError;
use std::num::NonZeroUsize;
use wasmtime::{Config, Engine, OptLevel};

/// Frames kept for the DETAIL of a trap; deep recursion would otherwise
/// produce a backtrace of thousands of lines.
const MAX_BACKTRACE_FRAMES: usize = 20;

/// Largest Wasm stack a guest may use. PostgreSQL's own stack check
/// (`max_stack_depth`, 2 MB by default) runs on the same thread, so the guest
/// gets a bounded slice and deep recursion traps instead of overflowing.
const MAX_WASM_STACK: usize = 512 * 1024;

/// Builds the engine a backend uses for every module.
///
/// Fuel metering is always compiled in so a per-call fuel limit can be set
/// without recompiling; compilation runs on the calling thread only, because
/// PostgreSQL backends must not grow threads that could touch backend state.
pub fn new_engine() -> Result<Engine, RuntimeError> {
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .cranelift_opt_level(OptLevel::Speed)
        .wasm_backtrace_max_frames(NonZeroUsize::new(MAX_BACKTRACE_FRAMES))
        .max_wasm_stack(MAX_WASM_STACK)
        .relaxed_simd_deterministic(true);
    Engine::new(&config).map_err(|e| RuntimeError::Engine(format!("{e:#}")))
}
